//! Security events are logged as structured records with the user and client address, and no
//! secret ever reaches the log. (One test per binary: it installs the global log subscriber.)

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{Backend, PASSWORD, TestApp};
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
    })
    .await
    .unwrap();
    let (browser, email) = app.new_user("audited").await;
    let verify_link = app.verification_link(&email);
    assert_eq!(
        browser.login("audited", "a wrong password").await.code(),
        "INVALID_CREDENTIALS"
    );
    let login = browser.login("audited", PASSWORD).await.ok();
    let token = login.data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let fresh = app.client().with_bearer(&token).refresh().await.ok();
    let fresh = fresh.data()["refreshToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let user_id = app
        .store
        .find_user_by_email(&email)
        .await
        .unwrap()
        .unwrap()
        .id;
    let refresh_tokens: Vec<String> = app
        .store
        .list_sessions(&user_id, quiz_llm::store::now())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.refresh_token.expose().to_owned())
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        app.client().with_bearer(&token).refresh().await.code(),
        "SESSION_EXPIRED"
    );
    let new_password = "violet otter cements the harbor";
    browser
        .gql(
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": PASSWORD, "n": new_password }),
        )
        .await
        .ok();
    browser
        .gql(
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": email }),
        )
        .await
        .ok();
    browser.logout().await.ok();
    // The reset e-mail (and its audit event) come from a background task.
    let reset_mail = app.wait_for_emails(&email, 2).await.pop().unwrap();
    assert!(reset_mail.contains("/reset-password?"), "{reset_mail}");

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["target"] == "audit")
        .collect();
    for wanted in [
        "signed_up",
        "email_verified",
        "login_failed",
        "login_succeeded",
        "refreshed",
        "refresh_token_reuse_detected",
        "password_changed",
        "password_reset_requested",
        "logged_out",
    ] {
        let event = events
            .iter()
            .find(|e| e["event"] == wanted)
            .unwrap_or_else(|| panic!("no {wanted} event in:\n{text}"));
        assert_eq!(event["user_id"], user_id.to_string(), "{wanted}: {event}");
        assert_eq!(event["client_ip"], "127.0.0.1", "{wanted}: {event}");
    }
    let reuse = events
        .iter()
        .find(|e| e["event"] == "refresh_token_reuse_detected")
        .unwrap();
    assert_eq!(reuse["level"], "WARN");

    let mut secrets = vec![
        PASSWORD.to_owned(),
        new_password.to_owned(),
        "a wrong password".to_owned(),
        token.clone(),
        fresh.clone(),
        app.config
            .auth
            .jwt_secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned(),
    ];
    secrets.extend(refresh_tokens);
    secrets.push(verify_link.token.clone());
    let reset_token = reset_mail
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    secrets.push(reset_token.to_owned());
    for secret in secrets {
        if let Some(at) = text.find(&secret) {
            panic!(
                "a secret reached the log after: {}",
                &text[at.saturating_sub(300)..at]
            );
        }
    }
}
