//! What the docs promise and no other test file checks: the remaining rate limits, and e-mail
//! links dying with a rotated key. Black-box, over HTTP.

use crate::common;

use std::time::Duration;

use common::{Backend, Client, Gql, Link, PASSWORD, TestApp};
use quiz_llm::{
    config::{ExposeSecret, SecretString},
    store::DatabaseUrl,
};
use serde_json::json;

/// `RATE_LIMITED`'s wait, in seconds; fails unless the answer is `RATE_LIMITED`.
fn retry_after(r: &Gql) -> u64 {
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    r.errors().unwrap()[0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter in seconds")
}

/// With `COUNT/1h` used up at once, the next attempt is allowed once the burst weighs one less
/// than COUNT: one COUNT-th into the next hour-long window, so at least an hour's COUNT-th
/// and at most an hour and a COUNT-th from now. Returns the wait.
fn assert_waits_for_a_slot(r: &Gql, count: u64) -> u64 {
    let wait = retry_after(r);
    let slot = 3600 / count;
    assert!(
        (slot..=3600 + slot + 1).contains(&wait),
        "retryAfter {wait}, expected between {slot} and {} s",
        3600 + slot
    );
    wait
}

async fn resend(c: &Client, email: &str) -> Gql {
    c.gql(
        "mutation($e: String!) { resendVerificationEmail(email: $e) }",
        json!({ "e": email }),
    )
    .await
}

async fn request_reset(c: &Client, email: &str) -> Gql {
    c.gql(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": email }),
    )
    .await
}

async fn reset_password(c: &Client, link: &Link, password: &str) -> Gql {
    c.gql(
        "mutation($u: String!, $t: String!, $p: String!) { resetPassword(uid: $u, token: $t, newPassword: $p) }",
        json!({ "u": link.uid, "t": link.token, "p": password }),
    )
    .await
}

#[tokio::test]
async fn sign_ups_per_client_are_limited() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.signup_per_client = "3/1h".parse().unwrap();
    })
    .await
    .unwrap();
    let c = app.client();
    for i in 0..3 {
        c.sign_up(
            &format!("joiner{i}"),
            &format!("joiner{i}@example.com"),
            PASSWORD,
        )
        .await
        .ok();
    }
    let r = c.sign_up("joiner3", "joiner3@example.com", PASSWORD).await;
    let wait = assert_waits_for_a_slot(&r, 3);
    // Refused before anything was written or sent.
    assert!(
        app.store
            .find_user_by_username("joiner3")
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.emails_to("joiner3@example.com").is_empty());

    // A second before the wait is over, still refused; once it is, one more gets through.
    app.clock.advance(Duration::from_secs(wait - 1));
    let r = c.sign_up("joiner3", "joiner3@example.com", PASSWORD).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    app.clock.advance(Duration::from_secs(1));
    c.sign_up("joiner3", "joiner3@example.com", PASSWORD)
        .await
        .ok();
    let r = c.sign_up("joiner4", "joiner4@example.com", PASSWORD).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
}

#[tokio::test]
async fn mail_sending_requests_per_client_are_limited() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.mail_per_client = "4/1h".parse().unwrap();
    })
    .await
    .unwrap();
    let c = app.client();
    // Each request names another address, so only the per-client limit can bite. Sign-up sends
    // the verification e-mail, so it counts too.
    c.sign_up("mailer", "mailer@example.com", PASSWORD)
        .await
        .ok();
    resend(&c, "mailer@example.com").await.ok();
    resend(&c, "nobody@example.com").await.ok();
    request_reset(&c, "someone@example.com").await.ok();
    assert_waits_for_a_slot(&request_reset(&c, "another@example.com").await, 4);
    assert_waits_for_a_slot(&resend(&c, "mailer@example.com").await, 4);
    assert_waits_for_a_slot(
        &c.sign_up("mailer2", "mailer2@example.com", PASSWORD).await,
        4,
    );
    // The resent link is mailed in the background, after the answer.
    assert_eq!(app.wait_for_emails("mailer@example.com", 2).await.len(), 2);
    assert!(app.emails_to("mailer2@example.com").is_empty());
}

#[tokio::test]
async fn refreshes_per_session_are_limited() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.refresh_per_session = "3/1h".parse().unwrap();
    })
    .await
    .unwrap();
    let (tab, _) = app.new_user("refresher").await;
    for _ in 0..3 {
        tab.refresh().await.ok();
    }
    assert_waits_for_a_slot(&tab.refresh().await, 3);
    // The limit is the session's: another device of the same account still refreshes.
    let laptop = app.client();
    laptop.login("refresher", PASSWORD).await.ok();
    laptop.refresh().await.ok();
}

crate::on_every_store!(refresh_limit_is_shared_by_processes);

/// The refresh count lives on the session, so refreshes through two server processes add up
/// to one limit, and the next window gives the budget back.
async fn refresh_limit_is_shared_by_processes(backend: Backend) {
    let Some(a) = TestApp::spawn_shareable(backend, |c| {
        c.auth.rate_limits.refresh_per_session = "4/10m".parse().unwrap();
    })
    .await
    else {
        return;
    };
    let b = a.spawn_sharing(|_| {}).await;
    let (on_a, _) = a.new_user("two-nodes").await;
    let on_b = on_a.on(&b);
    for tab in [&on_a, &on_b, &on_a, &on_b] {
        tab.refresh().await.ok();
    }
    let wait = retry_after(&on_a.refresh().await);
    assert!((1..=750).contains(&wait), "retryAfter {wait}");
    retry_after(&on_b.refresh().await);

    for app in [&a, &b] {
        app.clock.advance(Duration::from_secs(wait));
    }
    on_b.refresh().await.ok();
    on_a.me().await.ok();
}

#[tokio::test]
async fn e_mail_links_die_when_the_key_is_rotated() {
    const OLD_SECRET: &str = "test-secret-test-secret-test-secret!";
    let dir = tempfile::tempdir().unwrap();
    let db = DatabaseUrl::Sqlite(Some(dir.path().join("shared.db")));
    let spawn = |previous: Option<&str>| {
        let db = db.clone();
        let previous = previous.map(str::to_owned);
        TestApp::spawn(Backend::Sqlite, move |c| {
            c.store.database_url = db;
            if let Some(old) = previous {
                c.auth.jwt_secret =
                    Some(SecretString::from("a-brand-new-secret-a-brand-new-secret"));
                c.auth.jwt_previous_secrets = vec![SecretString::from(old)];
            }
        })
    };
    let old = spawn(None).await.unwrap();
    assert_eq!(
        old.config.auth.jwt_secret.as_ref().unwrap().expose_secret(),
        OLD_SECRET
    );
    // Links made with the old key: one to verify an address, one to reset a password.
    old.client()
        .sign_up("waiting", "waiting@example.com", PASSWORD)
        .await
        .ok();
    let verify = old.verification_link("waiting@example.com");
    let (browser, email) = old.new_user("forgetful").await;
    request_reset(&browser, &email).await.ok();
    let reset = old.reset_link(&email).await;
    let session_token =
        browser.login("forgetful", PASSWORD).await.ok().data()["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();

    let rotated = spawn(Some(OLD_SECRET)).await.unwrap();
    let c = rotated.client();
    // The old key still verifies access tokens (nobody is logged out)...
    assert_eq!(
        c.with_bearer(&session_token).me().await.ok().data()["me"]["username"],
        "forgetful"
    );
    // ...but no longer e-mail links.
    assert_eq!(
        c.verify_email(&verify.uid, &verify.token).await.code(),
        "INVALID_TOKEN"
    );
    let new_password = "violet otter cements the harbor";
    assert_eq!(
        reset_password(&c, &reset, new_password).await.code(),
        "INVALID_TOKEN"
    );
    // The links themselves were good: the server with the old key still takes them.
    old.client()
        .verify_email(&verify.uid, &verify.token)
        .await
        .ok();
    reset_password(&old.client(), &reset, new_password)
        .await
        .ok();
    // And links made after the rotation work on the rotated server.
    request_reset(&c, &email).await.ok();
    reset_password(&c, &rotated.reset_link(&email).await, PASSWORD)
        .await
        .ok();
}
