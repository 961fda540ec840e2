//! Subscription transports and their safety: graphql-transport-ws and the legacy graphql-ws on
//! `/graphql`, multipart responses over HTTP; credentials from the cookie or `connection_init`,
//! the origin check, sockets closed with 4401 when their session ends, and the limits.

use crate::common;

use std::time::{Duration, Instant};

use common::{
    APOLLO_11, Backend, PASSWORD, TestApp,
    ws::{self, Closed, LEGACY_WS, Multipart, Upgrade},
};
use serde_json::{Value, json};

use crate::live::{JOB_FIELDS, socket, start, token_of};

const EVENTS: &str = "subscription { quizEvents { kind quizId resultId at } }";

fn quiz_input() -> Value {
    json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 2, "choiceCount": 3 })
}

/// Lets a subscription that was just sent take effect on the server.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Waits for the socket to close, and checks it did within 5 s with 4401.
async fn closed_within_5s(s: &mut ws::Socket, since: Instant, reason: &str) {
    let closed = s.closed().await;
    assert_eq!(closed.code, 4401, "{closed:?}");
    assert_eq!(closed.reason, reason);
    assert!(
        since.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        since.elapsed()
    );
}

on_both_stores!(
    quiz_events_over_graphql_transport_ws,
    legacy_protocol_with_a_bearer_in_connection_init,
    multipart_subscriptions_over_http,
    sockets_need_credentials,
    cross_site_upgrades_are_refused,
    a_socket_closes_on_logout,
    a_socket_closes_when_another_device_ends_its_session,
    a_socket_closes_when_its_session_runs_out,
    limits_apply_to_subscriptions,
);

async fn quiz_events_over_graphql_transport_ws(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("eventful").await;
    let (stranger, _) = app.new_user("stranger").await;
    let token = token_of(&c, "eventful").await;
    let mut s = socket(&app, &token).await;
    s.subscribe("e", EVENTS, json!({})).await;
    settle().await;
    // Someone else's activity is not ours to hear.
    stranger.generate_quiz(quiz_input()).await.ok();
    let quiz = c.generate_quiz(quiz_input()).await.ok();
    let quiz_id = quiz.data()["generateQuiz"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let result = c.submit(&quiz_id, &[(1, 1)]).await.ok();
    let result_id = result.data()["submitQuizAnswers"]["id"].as_str().unwrap();
    c.gql(
        "mutation($id: ID!) { deleteQuiz(id: $id) }",
        json!({ "id": quiz_id }),
    )
    .await
    .ok();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let event = s.next_payload("e").await.unwrap();
        seen.push(event["data"]["quizEvents"].clone());
    }
    let kinds: Vec<&str> = seen.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["QUIZ_CREATED", "RESULT_SUBMITTED", "QUIZ_DELETED"]);
    assert!(seen.iter().all(|e| e["quizId"] == quiz_id.as_str()));
    assert_eq!(seen[1]["resultId"], result_id);
    assert!(seen[0]["at"].as_str().unwrap().contains('T'));
    // Completing the subscription is answered.
    s.send(json!({ "id": "e", "type": "complete" })).await;
    c.generate_quiz(quiz_input()).await.ok();
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.subscribe("q", "subscription { quizEvents { kind } }", json!({}))
        .await;
    settle().await;
    c.generate_quiz(quiz_input()).await.ok();
    let mut next = s.next().await.unwrap();
    if next["type"] == "complete" {
        // The server may confirm the completion.
        assert_eq!(next["id"], "e");
        next = s.next().await.unwrap();
    }
    assert_eq!(
        (next["type"].as_str(), next["id"].as_str()),
        (Some("next"), Some("q")),
        "nothing more for the completed one: {next}"
    );
}

async fn legacy_protocol_with_a_bearer_in_connection_init(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("legacy").await;
    let token = token_of(&c, "legacy").await;
    let mut s = ws::connect(
        &app.base_url,
        Upgrade {
            protocol: LEGACY_WS,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ack = s
        .init(json!({ "authorization": format!("Bearer {token}") }))
        .await
        .unwrap();
    assert_eq!(ack["type"], "connection_ack");
    let r = start(&c, quiz_input()).await.ok();
    let id = r.data()["startQuizGeneration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.subscribe(
        "1",
        &format!("subscription($id: ID!) {{ quizGeneration(jobId: $id) {{ {JOB_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await;
    let mut last = Value::Null;
    while let Some(payload) = s.next_payload("1").await {
        last = payload["data"]["quizGeneration"].clone();
    }
    assert_eq!(last["status"], "SUCCEEDED");
    assert_eq!(last["quiz"]["questionCount"], 2);
}

async fn multipart_subscriptions_over_http(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("multipart").await;
    let r = start(&c, quiz_input()).await.ok();
    let id = r.data()["startQuizGeneration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |query: String, variables: Value| {
        c.http
            .post(format!("{}/graphql", app.base_url))
            .header(
                "accept",
                "multipart/mixed;subscriptionSpec=\"1.0\", application/json",
            )
            .json(&json!({ "query": query, "variables": variables }))
            .send()
    };
    let resp = post(
        format!("subscription($id: ID!) {{ quizGeneration(jobId: $id) {{ {JOB_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("multipart/mixed"),
        "{content_type}"
    );
    assert!(
        content_type.contains("boundary=\"graphql\""),
        "{content_type}"
    );
    let mut parts = Multipart::new(resp);
    let mut states = Vec::new();
    while let Some(part) = parts.next().await {
        states.push(part["payload"]["data"]["quizGeneration"].clone());
    }
    assert_eq!(states.last().unwrap()["status"], "SUCCEEDED", "{states:?}");

    // A watched session that ends ends the response, with the reason.
    let events = post(EVENTS.to_owned(), json!({})).await.unwrap();
    let mut events = Multipart::new(events);
    settle().await;
    c.logout().await.ok();
    let since = Instant::now();
    let last = events.next().await.unwrap();
    // The transport ends it: an error outside the payload.
    assert!(last["payload"].is_null(), "{last}");
    assert_eq!(
        last["errors"][0]["extensions"]["code"], "SESSION_EXPIRED",
        "{last}"
    );
    assert!(since.elapsed() < Duration::from_secs(5));
    assert_eq!(events.next().await, None);
}

async fn sockets_need_credentials(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let closes = async |upgrade: Upgrade<'_>, payload: Value| -> Closed {
        let mut s = ws::connect(&app.base_url, upgrade).await.unwrap();
        s.init(payload).await.unwrap_err()
    };
    let anonymous = closes(Upgrade::default(), json!({})).await;
    assert_eq!(
        (anonymous.code, anonymous.reason.as_str()),
        (4401, "UNAUTHENTICATED")
    );
    let forged = closes(
        Upgrade::default(),
        json!({ "authorization": "Bearer eyJhbGciOiJub25lIn0.e30." }),
    )
    .await;
    assert_eq!(forged.code, 4401);
    let legacy = closes(
        Upgrade {
            protocol: LEGACY_WS,
            access_cookie: Some("not-a-token"),
            ..Default::default()
        },
        json!({}),
    )
    .await;
    assert_eq!(legacy.code, 4401);
    // Subscribing before the handshake is not allowed either.
    let mut s = ws::connect(&app.base_url, Upgrade::default())
        .await
        .unwrap();
    s.subscribe("1", EVENTS, json!({})).await;
    assert_eq!(s.closed().await.code, 4401);
    // An upgrade without a GraphQL subprotocol is refused.
    let r = reqwest::Client::new()
        .get(format!("{}/graphql", app.base_url))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

async fn cross_site_upgrades_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.server.cors_origins = "https://app.example.com".parse().unwrap();
    })
    .await
    else {
        return;
    };
    let (c, _) = app.new_user("origin_check").await;
    let token = token_of(&c, "origin_check").await;
    let from = async |origin: &str| {
        ws::connect(
            &app.base_url,
            Upgrade {
                access_cookie: Some(&token),
                origin: Some(origin),
                ..Default::default()
            },
        )
        .await
    };
    let evil = from("https://evil.example").await.err().expect("refused");
    assert_eq!(ws::refused_status(&evil), Some(403));
    let lookalike = from("https://app.example.com.evil.example")
        .await
        .err()
        .expect("refused");
    assert_eq!(ws::refused_status(&lookalike), Some(403));
    for allowed in ["http://quiz.test", "https://app.example.com"] {
        let mut s = from(allowed).await.expect(allowed);
        assert_eq!(s.init(json!({})).await.unwrap()["type"], "connection_ack");
    }
}

async fn a_socket_closes_on_logout(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("leaver").await;
    let token = token_of(&c, "leaver").await;
    let mut s = socket(&app, &token).await;
    s.subscribe("e", EVENTS, json!({})).await;
    settle().await;
    c.logout().await.ok();
    closed_within_5s(&mut s, Instant::now(), "SESSION_EXPIRED").await;
}

async fn a_socket_closes_when_another_device_ends_its_session(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (laptop, _) = app.new_user("two_screens").await;
    let phone = app.client();
    phone.login("two_screens", PASSWORD).await.ok();
    // The socket rides on the laptop's session; the phone revokes it.
    let laptop_token = token_of(&laptop, "two_screens").await;
    let mut s = socket(&app, &laptop_token).await;
    s.subscribe("e", EVENTS, json!({})).await;
    settle().await;
    let sessions = phone.sessions().await.ok();
    let laptop_session = sessions.data()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["current"] == false && {
                let sid = common::claims_of(&laptop_token)["sid"].clone();
                s["id"] == sid
            }
        })
        .expect("the laptop's session")["id"]
        .clone();
    phone
        .gql(
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": laptop_session }),
        )
        .await
        .ok();
    closed_within_5s(&mut s, Instant::now(), "SESSION_EXPIRED").await;

    // A password change ends the other sessions' sockets too.
    let laptop_token = token_of(&laptop, "two_screens").await;
    let mut s = socket(&app, &laptop_token).await;
    settle().await;
    let changed = phone
        .gql(
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": PASSWORD, "n": "a completely different passphrase 42" }),
        )
        .await
        .ok();
    assert_eq!(changed.data()["changePassword"], true);
    closed_within_5s(&mut s, Instant::now(), "SESSION_EXPIRED").await;
}

async fn a_socket_closes_when_its_session_runs_out(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("idler").await;
    let token = token_of(&c, "idler").await;
    let mut s = socket(&app, &token).await;
    s.subscribe("e", EVENTS, json!({})).await;
    // Within the idle window the socket stays, though its access token expired long ago.
    let auth = &app.config.auth;
    app.clock
        .advance(auth.access_token_ttl + auth.session_idle_timeout / 2);
    // A few of the socket's session checks go by.
    tokio::time::sleep(app.config.subscriptions.session_check_interval * 4).await;
    c.generate_quiz(quiz_input()).await;
    let refreshed = c.refresh().await.ok();
    assert!(refreshed.data()["refreshToken"]["accessToken"].is_string());
    c.generate_quiz(quiz_input()).await.ok();
    let event = s.next_payload("e").await.unwrap();
    assert_eq!(event["data"]["quizEvents"]["kind"], "QUIZ_CREATED");
    // Idle past the window (no refresh): the session is over, and so is the socket.
    app.clock
        .advance(auth.access_token_ttl + auth.session_idle_timeout + Duration::from_secs(1));
    closed_within_5s(&mut s, Instant::now(), "SESSION_EXPIRED").await;
}

async fn limits_apply_to_subscriptions(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.subscriptions.subscriptions_per_connection = 2;
        c.subscriptions.subscriptions_per_user = 3;
        c.subscriptions.ws_connection_init_timeout = Duration::from_millis(300);
        c.subscriptions.ws_keepalive_interval = Duration::from_millis(300);
        c.graphql.max_depth = 4;
    })
    .await
    else {
        return;
    };
    let (c, _) = app.new_user("limited").await;
    let token = token_of(&c, "limited").await;

    // No connection_init within the timeout.
    let mut silent = ws::connect(&app.base_url, Upgrade::default())
        .await
        .unwrap();
    let closed = silent.closed().await;
    assert_eq!(closed.code, 4408, "{closed:?}");

    let mut s = socket(&app, &token).await;
    for id in ["a", "b", "c"] {
        s.subscribe(id, EVENTS, json!({})).await;
    }
    let refused = s.next_payload("c").await.unwrap();
    assert_eq!(
        refused["errors"][0]["extensions"]["limit"],
        "subscriptionsPerConnection"
    );
    let mut second = socket(&app, &token).await;
    second.subscribe("d", EVENTS, json!({})).await;
    second.subscribe("e", EVENTS, json!({})).await;
    let refused = second.next_payload("e").await.unwrap();
    assert_eq!(
        refused["errors"][0]["extensions"]["limit"],
        "subscriptionsPerUser"
    );
    // Ending one frees its slot.
    s.send(json!({ "id": "a", "type": "complete" })).await;
    settle().await;
    second.subscribe("f", EVENTS, json!({})).await;
    settle().await;
    c.generate_quiz(quiz_input()).await.ok();
    let mut next = second.next().await.unwrap();
    while next["type"] == "complete" && next["id"] == "e" {
        next = second.next().await.unwrap();
    }
    assert_eq!(next["type"], "next", "{next}");
    assert!(["d", "f"].contains(&next["id"].as_str().unwrap()), "{next}");

    // The query limits apply to subscription documents.
    let r = start(&c, quiz_input()).await.ok();
    let id = r.data()["startQuizGeneration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut third = socket(&app, &token).await;
    third
        .subscribe(
            "deep",
            "subscription($id: ID!) { quizGeneration(jobId: $id) { quiz { questions { choices { number } } } } }",
            json!({ "id": id }),
        )
        .await;
    // Checked before anything else, the per-user limit included.
    let refused = third.next_payload("deep").await.unwrap();
    assert_eq!(
        refused["errors"][0]["extensions"]["limit"], "depth",
        "{refused}"
    );
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    // Keep-alive pings arrive on an idle socket.
    let mut idle = ws::connect(
        &app.base_url,
        Upgrade {
            access_cookie: Some(&token),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    idle.init(json!({})).await.unwrap();
    assert!(idle.pings_within(Duration::from_millis(1000)).await >= 2);
}

#[tokio::test]
async fn sockets_outlive_the_http_idle_timeout() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.server.connections.idle_timeout = Duration::from_millis(400);
        c.subscriptions.ws_keepalive_interval = Duration::from_secs(30);
    })
    .await
    .unwrap();
    let (c, _) = app.new_user("long_lived").await;
    let token = token_of(&c, "long_lived").await;
    let mut s = socket(&app, &token).await;
    s.subscribe("e", EVENTS, json!({})).await;
    // Idle for over twice the HTTP idle timeout.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    c.generate_quiz(quiz_input()).await.ok();
    let event = s.next_payload("e").await.unwrap();
    assert_eq!(event["data"]["quizEvents"]["kind"], "QUIZ_CREATED");
}
