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

use crate::live::{JOB_FIELDS, socket, started, token_of};

const EVENTS: &str = "subscription { quizEvents { kind quizId resultId at } }";

fn quiz_input() -> Value {
    json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 2, "choiceCount": 3 })
}

/// The root field of [`EVENTS`], as the subscription gauge names it.
const QUIZ_EVENTS: &str = "quizEvents";

/// Between attempts at something the server frees asynchronously (a connection's place, a
/// lease): each attempt asks the server again, so this is no guess at how long it takes.
const RETRY: Duration = Duration::from_millis(20);

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

on_every_store!(
    quiz_events_over_graphql_transport_ws,
    legacy_protocol_with_a_bearer_in_connection_init,
    multipart_subscriptions_over_http,
    sockets_need_credentials,
    cross_site_upgrades_are_refused,
    a_socket_closes_on_logout,
    a_socket_closes_when_another_device_ends_its_session,
    a_socket_closes_when_its_session_runs_out,
    limits_apply_to_subscriptions,
    one_account_cannot_hold_every_connection,
    one_address_cannot_hold_every_connection,
    streams_per_user_hold_across_processes,
    silent_sockets_are_closed_on_both_protocols,
    new_operations_on_a_socket_need_an_unexpired_token,
    a_subscription_selects_one_root_field,
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
    app.wait_for_subscriptions(QUIZ_EVENTS, 1).await;
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
    // Completing the subscription is answered: once the server stopped it, the next quiz
    // is not sent to it, and the next subscription's event is what comes next.
    s.send(json!({ "id": "e", "type": "complete" })).await;
    app.wait_for_subscriptions(QUIZ_EVENTS, 0).await;
    c.generate_quiz(quiz_input()).await.ok();
    s.subscribe("q", "subscription { quizEvents { kind } }", json!({}))
        .await;
    app.wait_for_subscriptions(QUIZ_EVENTS, 1).await;
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
    let id = started(&c, quiz_input()).await;
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
    let id = started(&c, quiz_input()).await;
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
    app.wait_for_subscriptions(QUIZ_EVENTS, 1).await;
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
    app.wait_for_subscriptions(QUIZ_EVENTS, 1).await;
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
    app.wait_for_subscriptions(QUIZ_EVENTS, 1).await;
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

    // A password change ends the other sessions' sockets too (one acknowledged is watched).
    let laptop_token = token_of(&laptop, "two_screens").await;
    let mut s = socket(&app, &laptop_token).await;
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
    // Started while the token was good.
    app.wait_for_subscriptions(QUIZ_EVENTS, 1).await;
    // Within the idle window the socket stays, though its access token expired long ago.
    let auth = &app.config.auth;
    app.clock
        .advance(auth.access_token_ttl + auth.session_idle_timeout / 2);
    // A few of the socket's session checks go by. They run on a real-time interval (the clock
    // only decides what they conclude), so real time is what this waits for.
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
    app.wait_for_subscriptions(QUIZ_EVENTS, 3).await;
    // Ending one frees its slot.
    s.send(json!({ "id": "a", "type": "complete" })).await;
    app.wait_for_subscriptions(QUIZ_EVENTS, 2).await;
    second.subscribe("f", EVENTS, json!({})).await;
    app.wait_for_subscriptions(QUIZ_EVENTS, 3).await;
    c.generate_quiz(quiz_input()).await.ok();
    let mut next = second.next().await.unwrap();
    while next["type"] == "complete" && next["id"] == "e" {
        next = second.next().await.unwrap();
    }
    assert_eq!(next["type"], "next", "{next}");
    assert!(["d", "f"].contains(&next["id"].as_str().unwrap()), "{next}");

    // The query limits apply to subscription documents.
    let id = started(&c, quiz_input()).await;
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
    app.wait_for_subscriptions(QUIZ_EVENTS, 1).await;
    // Idle for over twice the HTTP idle timeout: that timeout runs on real time, which is
    // what is under test here.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    c.generate_quiz(quiz_input()).await.ok();
    let event = s.next_payload("e").await.unwrap();
    assert_eq!(event["data"]["quizEvents"]["kind"], "QUIZ_CREATED");
}

const MULTIPART: &str = "multipart/mixed;subscriptionSpec=\"1.0\", application/json";

/// A guest's access token, from a browser that is gone at once (it holds no connection).
async fn guest_token(app: &TestApp) -> String {
    let r = app
        .client()
        .gql("mutation { startGuestSession { accessToken } }", json!({}))
        .await
        .ok();
    r.data()["startGuestSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// What became of a socket opened with a token and `connection_init`.
enum Opened {
    Held(Box<ws::Socket>),
    /// The upgrade was refused with this status.
    Refused(u16),
    /// `connection_init` was answered by closing.
    Closed(Closed),
}

async fn open(app: &TestApp, protocol: &'static str, token: &str) -> Opened {
    let socket = ws::connect(
        &app.base_url,
        Upgrade {
            protocol,
            ..Default::default()
        },
    )
    .await;
    let mut socket = match socket {
        Ok(socket) => socket,
        Err(err) => return Opened::Refused(ws::refused_status(&err).expect("an HTTP refusal")),
    };
    match socket
        .init(json!({ "authorization": format!("Bearer {token}") }))
        .await
    {
        Ok(ack) => {
            assert_eq!(ack["type"], "connection_ack", "{ack}");
            Opened::Held(Box::new(socket))
        }
        Err(closed) => Opened::Closed(closed),
    }
}

/// A multipart subscription on a connection of its own.
async fn multipart_post(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(token)
        .header("accept", MULTIPART)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
}

/// `/healthz` and a login, each on a new connection, answer within seconds.
async fn plain_requests_answer(app: &TestApp, username: &str) {
    let quick = Duration::from_secs(3);
    let health = tokio::time::timeout(quick, app.client().get("/healthz"))
        .await
        .expect("/healthz did not answer in time");
    assert_eq!(health.status(), 200);
    let login = tokio::time::timeout(quick, app.client().login(username, PASSWORD))
        .await
        .expect("login did not answer in time");
    assert!(
        login.data()["login"]["accessToken"].is_string(),
        "{:?}",
        login.body
    );
}

async fn one_account_cannot_hold_every_connection(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.server.connections.max_connections = 20;
        c.subscriptions.streams_connection_share = 0.5;
        c.subscriptions.streams_per_user = 4;
        c.subscriptions.streams_per_address = 100;
    })
    .await
    else {
        return;
    };
    app.new_user("bystander").await;
    // A guest opens legacy sockets and sends nothing after connection_init.
    let guest = guest_token(&app).await;
    let mut held = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..8 {
        match open(&app, LEGACY_WS, &guest).await {
            Opened::Held(s) => held.push(s),
            Opened::Closed(closed) => refused.push(closed),
            Opened::Refused(status) => panic!("upgrade refused with {status}"),
        }
    }
    assert_eq!(held.len(), 4);
    assert!(
        refused
            .iter()
            .all(|c| (c.code, c.reason.as_str()) == (4429, "RATE_LIMITED")),
        "{refused:?}"
    );
    // Multipart responses count against the same cap.
    let r = multipart_post(&app, &guest, EVENTS).await;
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert_eq!(body["errors"][0]["extensions"]["limit"], "streamsPerUser");
    assert!(body["errors"][0]["extensions"]["retryAfter"].is_number());
    plain_requests_answer(&app, "bystander").await;

    // More guests from many accounts together take at most half of the connections.
    let mut unavailable = 0;
    for _ in 0..3 {
        let guest = guest_token(&app).await;
        for _ in 0..4 {
            match open(&app, LEGACY_WS, &guest).await {
                Opened::Held(s) => held.push(s),
                Opened::Refused(status) => {
                    assert_eq!(status, 503);
                    unavailable += 1;
                }
                Opened::Closed(closed) => panic!("closed: {closed:?}"),
            }
        }
    }
    assert_eq!(held.len(), 10);
    assert_eq!(unavailable, 6);
    let guest = guest_token(&app).await;
    assert_eq!(multipart_post(&app, &guest, EVENTS).await.status(), 503);
    plain_requests_answer(&app, "bystander").await;
    // Those held still work.
    let (c, _) = app.new_user("holder").await;
    let token = token_of(&c, "holder").await;
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut s = loop {
        match open(&app, ws::TRANSPORT_WS, &token).await {
            Opened::Held(s) => break s,
            Opened::Refused(503) if Instant::now() < deadline => tokio::time::sleep(RETRY).await,
            _ => panic!("the freed connection was not given out"),
        }
    };
    s.subscribe("e", EVENTS, json!({})).await;
    app.wait_for_subscriptions(QUIZ_EVENTS, 1).await;
    c.generate_quiz(quiz_input()).await.ok();
    let event = s.next_payload("e").await.unwrap();
    assert_eq!(event["data"]["quizEvents"]["kind"], "QUIZ_CREATED");
}

async fn one_address_cannot_hold_every_connection(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.subscriptions.streams_per_address = 3;
    })
    .await
    else {
        return;
    };
    let mut held = Vec::new();
    for _ in 0..3 {
        let guest = guest_token(&app).await;
        match open(&app, ws::TRANSPORT_WS, &guest).await {
            Opened::Held(s) => held.push(s),
            _ => panic!("refused below the cap"),
        }
    }
    let guest = guest_token(&app).await;
    assert!(matches!(
        open(&app, ws::TRANSPORT_WS, &guest).await,
        Opened::Refused(429)
    ));
    let r = multipart_post(&app, &guest, EVENTS).await;
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert_eq!(
        body["errors"][0]["extensions"]["limit"],
        "streamsPerAddress"
    );
    // A closed socket frees its place.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match open(&app, ws::TRANSPORT_WS, &guest).await {
            Opened::Held(_) => break,
            Opened::Refused(429) if Instant::now() < deadline => tokio::time::sleep(RETRY).await,
            _ => panic!("the freed place was not given out"),
        }
    }
}

async fn streams_per_user_hold_across_processes(backend: Backend) {
    let Some(first) = TestApp::spawn_shareable(backend, |c| {
        c.subscriptions.streams_per_user = 2;
    })
    .await
    else {
        return;
    };
    let second = first.spawn_sharing(|_| {}).await;
    let (c, _) = first.new_user("everywhere").await;
    let token = token_of(&c, "everywhere").await;
    let Opened::Held(on_first) = open(&first, ws::TRANSPORT_WS, &token).await else {
        panic!("refused below the cap");
    };
    let parts = multipart_post(&second, &token, EVENTS).await;
    assert_eq!(parts.status(), 200);
    let mut parts = Multipart::new(parts);
    // The cap counts both processes' streams.
    for app in [&first, &second] {
        match open(app, ws::TRANSPORT_WS, &token).await {
            Opened::Closed(closed) => assert_eq!(
                (closed.code, closed.reason.as_str()),
                (4429, "RATE_LIMITED")
            ),
            _ => panic!("a third stream was let in"),
        }
    }
    assert_eq!(multipart_post(&first, &token, EVENTS).await.status(), 429);
    // Closing one gives its lease back, on the other process too.
    drop(on_first);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut s = loop {
        match open(&second, ws::TRANSPORT_WS, &token).await {
            Opened::Held(s) => break s,
            Opened::Closed(_) if Instant::now() < deadline => tokio::time::sleep(RETRY).await,
            _ => panic!("the lease was not given back"),
        }
    };
    s.subscribe("e", EVENTS, json!({})).await;
    // The socket's and the multipart response's, both on the second process.
    second.wait_for_subscriptions(QUIZ_EVENTS, 2).await;
    c.generate_quiz(quiz_input()).await.ok();
    assert_eq!(
        s.next_payload("e").await.unwrap()["data"]["quizEvents"]["kind"],
        "QUIZ_CREATED"
    );
    let part = parts.next().await.unwrap();
    assert_eq!(
        part["payload"]["data"]["quizEvents"]["kind"],
        "QUIZ_CREATED"
    );
}

async fn silent_sockets_are_closed_on_both_protocols(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.subscriptions.ws_idle_timeout = Duration::from_millis(500);
        c.subscriptions.ws_keepalive_interval = Duration::from_millis(200);
    })
    .await
    else {
        return;
    };
    let (c, _) = app.new_user("quiet").await;
    let token = token_of(&c, "quiet").await;
    for protocol in [ws::TRANSPORT_WS, LEGACY_WS] {
        // Answering pings is not activity: with nothing running the socket is closed.
        let Opened::Held(mut silent) = open(&app, protocol, &token).await else {
            panic!("refused");
        };
        let since = Instant::now();
        let closed = silent.closed().await;
        assert_eq!(
            (closed.code, closed.reason.as_str()),
            (1000, "Idle"),
            "{protocol}"
        );
        assert!(
            since.elapsed() < Duration::from_secs(3),
            "{protocol}: {:?}",
            since.elapsed()
        );

        // A running subscription keeps it open, however quiet; once it ends, the clock runs.
        let Opened::Held(mut busy) = open(&app, protocol, &token).await else {
            panic!("refused");
        };
        busy.subscribe("e", EVENTS, json!({})).await;
        let pings = busy.pings_within(Duration::from_millis(1400)).await;
        assert!(pings >= 5, "{protocol}: closed early ({pings} pings)");
        let stop = if protocol == LEGACY_WS {
            "stop"
        } else {
            "complete"
        };
        busy.send(json!({ "id": "e", "type": stop })).await;
        let closed = loop {
            match busy.next().await {
                Ok(message) if message["type"] == "complete" || message["type"] == "ka" => {}
                Ok(message) => panic!("unexpected {message}"),
                Err(closed) => break closed,
            }
        };
        assert_eq!(
            (closed.code, closed.reason.as_str()),
            (1000, "Idle"),
            "{protocol}"
        );
    }
}

async fn new_operations_on_a_socket_need_an_unexpired_token(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("stale").await;
    for protocol in [ws::TRANSPORT_WS, LEGACY_WS] {
        let token = token_of(&c, "stale").await;
        let Opened::Held(mut s) = open(&app, protocol, &token).await else {
            panic!("refused");
        };
        s.subscribe("e", EVENTS, json!({})).await;
        s.subscribe("me", "{ me { username } }", json!({})).await;
        let me = s.next_payload("me").await.unwrap();
        assert_eq!(me["data"]["me"]["username"], "stale", "{me}");
        assert_eq!(s.next_payload("me").await, None);
        // The token expires; the session goes on.
        app.clock
            .advance(app.config.auth.access_token_ttl + Duration::from_secs(1));
        for (id, query) in [
            ("q", "{ me { username } }"),
            ("m", "mutation { startTotpEnrollment { secret } }"),
            ("s", "subscription { quizEvents { kind } }"),
        ] {
            s.subscribe(id, query, json!({})).await;
            let refused = s.next_payload(id).await.unwrap();
            assert_eq!(
                refused["errors"][0]["extensions"]["code"], "TOKEN_EXPIRED",
                "{protocol} {id}: {refused}"
            );
            assert!(refused["data"].is_null(), "{refused}");
            assert_eq!(s.next_payload(id).await, None);
        }
        // The subscription that was running lives on with the session.
        c.refresh().await.ok();
        c.generate_quiz(quiz_input()).await.ok();
        let event = s.next_payload("e").await.unwrap();
        assert_eq!(event["data"]["quizEvents"]["kind"], "QUIZ_CREATED");
    }
}

async fn a_subscription_selects_one_root_field(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("greedy").await;
    let token = token_of(&c, "greedy").await;
    let twenty: String = (0..20)
        .map(|i| format!("e{i}: quizEvents {{ kind }} "))
        .collect();
    let many = format!("subscription {{ {twenty} }}");
    let spread = "subscription { quizEvents { kind } ...More } \
                  fragment More on SubscriptionRoot { other: quizEvents { at } }";
    for protocol in [ws::TRANSPORT_WS, LEGACY_WS] {
        let Opened::Held(mut s) = open(&app, protocol, &token).await else {
            panic!("refused");
        };
        for (id, document) in [("many", many.as_str()), ("spread", spread)] {
            s.subscribe(id, document, json!({})).await;
            let refused = s.next_payload(id).await.unwrap();
            assert_eq!(
                refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{protocol} {id}: {refused}"
            );
            assert!(
                refused["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("exactly one root field"),
                "{refused}"
            );
            assert_eq!(s.next_payload(id).await, None);
            // Refused, not started: nothing of it listens.
            assert_eq!(
                app.subscriptions_active(QUIZ_EVENTS).await,
                0,
                "{protocol} {id}"
            );
        }
    }
    // Over HTTP too, multipart or not.
    let r = multipart_post(&app, &token, &many).await;
    let body: Value = r.json().await.expect("a JSON refusal, not a stream");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let r = c.gql(&many, json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(
        r.message().contains("exactly one root field"),
        "{:?}",
        r.body
    );
}
