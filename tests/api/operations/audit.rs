//! Every security event docs/security.md lists is logged as a structured record with the user
//! and client address, and no secret ever reaches the log. (The only test that installs the global log
//! subscriber; other tests log to it too, so it looks only at its own user's events.)

use crate::common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{Backend, PASSWORD, TestApp, claims_of, token_of};
use quiz_llm::config::ExposeSecret;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The events the "Audit log" paragraph of docs/security.md promises, in its order.
fn documented_events() -> Vec<String> {
    let page = include_str!("../../../docs/security.md");
    let from = page
        .find("**Audit log.**")
        .expect("docs/security.md has an Audit log paragraph");
    let list = page[from..]
        .split_once("`client_ip`:")
        .expect("the paragraph lists the events after the fields")
        .1;
    let list = &list[..list.find('.').expect("the list ends with a full stop")];
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_are_logged_without_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        // Everything the server logs at debug level; the test's own HTTP client (which logs the
        // cookies it stores) is not the server and is left out.
        .with_env_filter("debug,reqwest=off,cookie_store=off,hyper_util::client=off")
        .with_writer(move || writer.clone())
        .init();

    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.refresh_reuse_interval = Duration::from_millis(1);
        c.auth.rate_limits.login_per_account = "12/1h".parse().unwrap();
    })
    .await
    .unwrap();
    let (laptop, email) = app.new_user("audited").await;
    let verify_link = app.verification_link(&email);
    let user_id = app
        .store
        .find_user_by_email(&email)
        .await
        .unwrap()
        .unwrap()
        .id;
    let (wrong, new_password, reset_password) = (
        "a wrong password",
        "violet otter cements the harbor",
        "a third passphrase nobody guesses",
    );
    let mut secrets = vec![
        PASSWORD.to_owned(),
        wrong.to_owned(),
        new_password.to_owned(),
        reset_password.to_owned(),
        app.config
            .auth
            .jwt_secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned(),
        verify_link.token.clone(),
    ];
    let change = |current: &str, new: &str| {
        laptop.gql(
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": current, "n": new }),
        )
    };

    assert_eq!(
        laptop.login("audited", wrong).await.code(),
        "INVALID_CREDENTIALS"
    );
    // A copy of an access token comes back after its session moved on.
    let stolen = token_of(&app.client().login("audited", PASSWORD).await.ok(), "login");
    let fresh = token_of(
        &app.client().with_bearer(&stolen).refresh().await.ok(),
        "refreshToken",
    );
    secrets.extend(
        app.store
            .list_sessions(&user_id, common::now())
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.refresh_token.expose().to_owned()),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        app.client().with_bearer(&stolen).refresh().await.code(),
        "SESSION_EXPIRED"
    );
    // Another device, logged out from the laptop.
    let phone = token_of(&app.client().login("audited", PASSWORD).await.ok(), "login");
    laptop
        .gql(
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": claims_of(&phone)["sid"] }),
        )
        .await
        .ok();
    // Proving the session again, wrongly and rightly; a passkey, and a login with it.
    let reauth =
        |password: &str| laptop.gql(crate::login::stepup::REAUTH, json!({ "p": password }));
    assert_eq!(reauth(wrong).await.code(), "INVALID_CREDENTIALS");
    reauth(PASSWORD).await.ok();
    let (mut key, _) = crate::passkeys::register(&laptop, "Audited key").await;
    crate::passkeys::log_in(&app, &mut key, None).await.ok();
    assert_eq!(
        change(wrong, new_password).await.code(),
        "INVALID_CREDENTIALS"
    );
    change(PASSWORD, new_password).await.ok();
    let anon = app.client();
    // Signing in by e-mail: the request is audited (after the answer), then the login.
    let mail = crate::sign_in_link::request_mail(&app, &anon, &email).await;
    secrets.push(mail.token.clone());
    crate::sign_in_link::with_code(&app.client(), &email, &mail.code)
        .await
        .ok();
    anon.gql(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": email }),
    )
    .await
    .ok();
    // The reset e-mail (and its audit event) come from a background task.
    let reset_link = app.reset_link(&email).await;
    secrets.push(reset_link.token.clone());
    anon.gql(
        "mutation($u: String!, $t: String!, $p: String!) { resetPassword(uid: $u, token: $t, newPassword: $p) }",
        json!({ "u": reset_link.uid, "t": reset_link.token, "p": reset_password }),
    )
    .await
    .ok();
    let browser = app.client();
    let last = token_of(
        &browser.login("audited", reset_password).await.ok(),
        "login",
    );
    browser.logout().await.ok();
    browser.login("audited", reset_password).await.ok();
    browser
        .gql("mutation { logoutAll { message } }", json!({}))
        .await
        .ok();
    // Guessing until the account's limit answers.
    let mut limited = false;
    for i in 0..20 {
        let r = app.client().login("audited", &format!("guess {i}")).await;
        if r.code() == "RATE_LIMITED" {
            limited = true;
            break;
        }
    }
    assert!(limited, "the login limit never answered");
    secrets.extend([stolen, fresh, phone, last]);

    // A guest, signed up in place: its events carry its own id.
    let guest = app.client();
    let started = guest
        .gql("mutation { startGuestSession { user { id } } }", json!({}))
        .await
        .ok();
    let guest_id = started.data()["startGuestSession"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let guest_password = "a guest stays for good this time";
    guest
        .gql(
            "mutation($i: SignUpInput!) { upgradeGuest(input: $i) { user { id } } }",
            json!({ "i": { "username": "was-a-guest", "email": "guest@example.com", "password": guest_password } }),
        )
        .await
        .ok();
    secrets.push(guest_password.to_owned());
    // An account leaves: the record of that keeps its id and nothing else of it.
    let (leaver, _) = app.new_user("audited-leaver").await;
    let me = leaver.gql("{ me { id } }", json!({})).await.ok();
    let leaver_id = me.data()["me"]["id"].as_str().unwrap().to_owned();
    leaver
        .gql(
            crate::account::deletion::DELETE,
            json!({ "c": "audited-leaver" }),
        )
        .await
        .ok();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["target"] == "audit")
        // Tests running alongside log their own users' events to the same subscriber.
        .filter(|e| e["user_id"] == user_id.to_string())
        .collect();
    for (wanted, id) in [
        ("guest_started", &guest_id),
        ("guest_upgraded", &guest_id),
        ("account_deleted", &leaver_id),
    ] {
        let event = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["target"] == "audit" && e["event"] == wanted && e["user_id"] == *id)
            .unwrap_or_else(|| panic!("no {wanted} event for {id} in:\n{text}"));
        assert_eq!(event["client_ip"], "127.0.0.1", "{wanted}: {event}");
        if wanted == "account_deleted" {
            let event = event.to_string();
            assert!(
                !event.contains("audited-leaver@") && !event.contains("\"audited-leaver\""),
                "the erased account's name or address is in {event}"
            );
        }
    }
    let documented = documented_events();
    assert!(documented.len() >= 14, "{documented:?}");
    for wanted in &documented {
        let event = events
            .iter()
            .find(|e| e["event"] == wanted.as_str())
            .unwrap_or_else(|| panic!("no {wanted} event in:\n{text}"));
        assert_eq!(event["user_id"], user_id.to_string(), "{wanted}: {event}");
        assert_eq!(event["client_ip"], "127.0.0.1", "{wanted}: {event}");
    }
    // And nothing is logged as an audit event that docs/security.md does not list.
    for event in &events {
        let name = event["event"].as_str().unwrap_or_default();
        assert!(
            documented.iter().any(|d| d == name),
            "undocumented audit event: {event}"
        );
    }
    // Each login says how it proved who it is.
    for method in ["password", "passkey", "email_link"] {
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "login_succeeded" && e["method"] == method),
            "no login_succeeded with method {method} in:\n{text}"
        );
    }
    for warning in ["refresh_token_reuse_detected", "rate_limited"] {
        let event = events.iter().find(|e| e["event"] == warning).unwrap();
        assert_eq!(event["level"], "WARN", "{event}");
    }

    for secret in secrets {
        if let Some(at) = text.find(&secret) {
            panic!(
                "a secret reached the log after: {}",
                &text[at.saturating_sub(300)..at]
            );
        }
    }
}
