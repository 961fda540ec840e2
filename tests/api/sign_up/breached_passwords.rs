//! Passwords known from breaches are refused at sign-up, reset and change, asked of a local
//! range API that records what it was sent: five hex characters of the SHA-1, nothing more.
//! Weak passwords are refused at sign-up too, with advice.

use crate::common;

use std::sync::{Arc, Mutex};

use common::{Backend, PASSWORD, TestApp};
use poem::{
    EndpointExt, Route, get, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::{Data, Path},
};
use quiz_llm::auth::breached::{BreachSource, FailMode};
use serde_json::json;
use sha1::{Digest, Sha1};

/// Passwords as the breach corpus knows them.
const BREACHED: &str = "correct horse battery staple 2";
const NEW_PASSWORD: &str = "violet otter cements the harbor";

fn sha1_hex(password: &str) -> String {
    Sha1::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// A Pwned Passwords range API that knows [`BREACHED`], or answers 503 when `down`.
struct RangeApi {
    requests: Mutex<Vec<(String, Option<String>)>>,
    down: bool,
}

#[handler]
fn range(
    Path(prefix): Path<String>,
    req: &poem::Request,
    api: Data<&Arc<RangeApi>>,
) -> poem::Response {
    let padding = req.header("add-padding").map(str::to_owned);
    api.requests.lock().unwrap().push((prefix.clone(), padding));
    if api.down {
        return StatusCode::SERVICE_UNAVAILABLE.into();
    }
    let known = sha1_hex(BREACHED);
    // A padding entry (count 0) for the prefix of every request, and the breached one.
    let mut body = format!("{}:0\r\n", "0".repeat(35));
    if known.starts_with(&prefix) {
        body.push_str(&format!("{}:52\r\n", &known[5..]));
    }
    poem::Response::builder().body(body)
}

async fn start_range_api(down: bool) -> (Arc<RangeApi>, String) {
    let api = Arc::new(RangeApi {
        requests: Mutex::default(),
        down,
    });
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    let app = Route::new()
        .at("/range/:prefix", get(range))
        .data(api.clone());
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    (api, format!("http://{addr}"))
}

async fn app_with_range_api(backend: Backend, url: &str, fail: FailMode) -> Option<TestApp> {
    let url = url.to_owned();
    TestApp::spawn(backend, move |c| {
        c.auth.pwned_passwords_url = BreachSource::RangeApi(url);
        c.auth.pwned_passwords_fail = fail;
    })
    .await
}

on_every_store!(breached_passwords_are_refused_everywhere_a_password_is_set);

async fn breached_passwords_are_refused_everywhere_a_password_is_set(backend: Backend) {
    let (api, url) = start_range_api(false).await;
    let Some(app) = app_with_range_api(backend, &url, FailMode::Open).await else {
        return;
    };
    let c = app.client();

    // Sign-up: refused on `password`, and nothing was created.
    let r = c.sign_up("leaked", "leaked@example.com", BREACHED).await;
    assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
    assert_eq!(r.field(), Some("password"));
    assert!(r.message().contains("breaches"), "{}", r.message());
    assert!(
        app.store
            .find_user_by_username("leaked")
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.emails_to("leaked@example.com").is_empty());

    // Only the first five characters of the hash left the server, with padding asked for.
    let hash = sha1_hex(BREACHED);
    {
        let requests = api.requests.lock().unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].0, hash[..5]);
        assert_eq!(requests[0].1.as_deref(), Some("true"));
    }

    // A clean password goes through (the same user, created now).
    let (c, email) = app.new_user("careful").await;

    // Change: refused on `newPassword`; the old password still works.
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let r = c.gql(change, json!({ "c": PASSWORD, "n": BREACHED })).await;
    assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
    assert_eq!(r.field(), Some("newPassword"));
    c.login("careful", PASSWORD).await.ok();

    // Reset: refused on `newPassword` too; a clean one is taken.
    c.gql(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": email }),
    )
    .await
    .ok();
    let link = app.reset_link(&email).await;
    let reset = "mutation($u: String!, $t: String!, $p: String!) { resetPassword(uid: $u, token: $t, newPassword: $p) }";
    let r = c
        .gql(
            reset,
            json!({ "u": link.uid, "t": link.token, "p": BREACHED }),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
    assert_eq!(r.field(), Some("newPassword"));
    c.gql(
        reset,
        json!({ "u": link.uid, "t": link.token, "p": NEW_PASSWORD }),
    )
    .await
    .ok();
    c.login("careful", NEW_PASSWORD).await.ok();
}

#[tokio::test]
async fn an_unanswered_lookup_fails_open_or_closed_as_configured() {
    let (api, url) = start_range_api(true).await;
    let open = app_with_range_api(Backend::Sqlite, &url, FailMode::Open)
        .await
        .unwrap();
    // Open: the password is taken (the other rules still apply).
    open.client()
        .sign_up("optimist", "optimist@example.com", PASSWORD)
        .await
        .ok();
    assert_eq!(api.requests.lock().unwrap().len(), 1);

    // Closed: refused for now, with a reason to try again.
    let closed = app_with_range_api(Backend::Sqlite, &url, FailMode::Closed)
        .await
        .unwrap();
    let r = closed
        .client()
        .sign_up("cautious", "cautious@example.com", PASSWORD)
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
    assert_eq!(r.field(), Some("password"));
    assert!(r.message().contains("try again"), "{}", r.message());

    // Nothing listening at all counts as unanswered too.
    let nowhere = format!("http://127.0.0.1:{}", common::free_port());
    let closed = app_with_range_api(Backend::Sqlite, &nowhere, FailMode::Closed)
        .await
        .unwrap();
    let r = closed
        .client()
        .sign_up("cautious", "cautious@example.com", PASSWORD)
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
}

#[tokio::test]
async fn weak_passwords_are_refused_at_sign_up_with_advice() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let r = app
        .client()
        .sign_up("weakling", "weak@example.com", "password1234")
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("password")));
    assert!(
        r.message().starts_with("Password is too easy to guess."),
        "{}",
        r.message()
    );
    assert!(app.emails_to("weak@example.com").is_empty());
}
