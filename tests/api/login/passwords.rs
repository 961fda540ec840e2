//! Password reset and change: mail bombing the reset, and the sessions each of them ends.

use crate::common;

use common::{Backend, Client, Gql, Link, PASSWORD, TestApp, retry_after, token_of};
use serde_json::json;

on_every_store!(
    password_reset_revokes_every_session,
    password_change_revokes_other_sessions,
);

pub const NEW_PASSWORD: &str = "violet otter cements the harbor";

#[tokio::test]
async fn twenty_reset_requests_send_a_handful_of_emails() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.mail_per_address = "3/1h".parse().unwrap();
    })
    .await
    .unwrap();
    app.new_user("inbox").await;
    let before = app.emails_to("inbox@example.com").len();
    let c = app.client();
    let mut limited = 0;
    for _ in 0..20 {
        let r = c
            .gql(
                "mutation($e: String!) { requestPasswordReset(email: $e) }",
                json!({ "e": "inbox@example.com" }),
            )
            .await;
        if r.errors().is_some() {
            assert!(retry_after(&r) > 0);
            limited += 1;
        } else {
            assert_eq!(r.data()["requestPasswordReset"], true);
        }
    }
    // The verification e-mail at sign-up used one of the three.
    assert_eq!(limited, 18);
    assert_eq!(
        app.wait_for_emails("inbox@example.com", before + 2)
            .await
            .len()
            - before,
        2
    );
    // Unknown addresses answer the same and get nothing.
    let r = c
        .gql(
            "mutation { requestPasswordReset(email: \"ghost@example.com\") }",
            json!({}),
        )
        .await
        .ok();
    assert_eq!(r.data()["requestPasswordReset"], true);
    assert!(app.emails_to("ghost@example.com").is_empty());
}

pub async fn reset(c: &Client, link: &Link, password: &str) -> Gql {
    c.gql(
        "mutation($u: String!, $t: String!, $p: String!) { resetPassword(uid: $u, token: $t, newPassword: $p) }",
        json!({ "u": link.uid, "t": link.token, "p": password }),
    )
    .await
}

async fn password_reset_revokes_every_session(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (laptop, email) = app.new_user("forgetful").await;
    let phone = app.client();
    let phone_token = token_of(&phone.login("forgetful", PASSWORD).await.ok(), "login");
    let anon = app.client();
    anon.gql(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": email }),
    )
    .await
    .ok();
    let link = app.reset_link(&email).await;

    let weak = reset(&anon, &link, "password1234").await;
    assert_eq!(
        (weak.code(), weak.field()),
        ("BAD_USER_INPUT", Some("newPassword"))
    );
    assert!(weak.message().contains("too easy"), "{}", weak.message());
    assert_eq!(
        reset(&anon, &link, NEW_PASSWORD).await.ok().data()["resetPassword"],
        true
    );
    // The link worked once.
    assert_eq!(
        reset(&anon, &link, "another fine long passphrase")
            .await
            .code(),
        "INVALID_TOKEN"
    );

    assert_eq!(laptop.refresh().await.code(), "SESSION_EXPIRED");
    assert_eq!(
        app.client()
            .with_bearer(&phone_token)
            .refresh()
            .await
            .code(),
        "SESSION_EXPIRED"
    );
    assert_eq!(
        anon.login("forgetful", PASSWORD).await.code(),
        "INVALID_CREDENTIALS"
    );
    anon.login("forgetful", NEW_PASSWORD).await.ok();

    // The reset page is served with its own script hash in the CSP.
    let page = anon
        .get(&format!(
            "/reset-password?uid={}&token={}",
            link.uid, link.token
        ))
        .await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("'sha256-")
    );
    // Its script names the server's own `resetPassword` document.
    let id = quiz_llm::graphql::trusted::ServerDocument::ResetPassword.id();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains(&format!("data-document-id=\"{id}\""))
    );
}

async fn password_change_revokes_other_sessions(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (laptop, _) = app.new_user("changer").await;
    let phone = app.client();
    phone.login("changer", PASSWORD).await.ok();
    let change = |current: &str, new: &str| {
        laptop.gql(
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": current, "n": new }),
        )
    };
    assert_eq!(
        change("not my password", NEW_PASSWORD).await.code(),
        "INVALID_CREDENTIALS"
    );
    let weak = change(PASSWORD, "changer-2024").await;
    assert_eq!(
        (weak.code(), weak.field()),
        ("BAD_USER_INPUT", Some("newPassword"))
    );
    assert_eq!(
        change(PASSWORD, NEW_PASSWORD).await.ok().data()["changePassword"],
        true
    );

    assert_eq!(phone.refresh().await.code(), "SESSION_EXPIRED");
    laptop.refresh().await.ok();
    assert_eq!(
        laptop.sessions().await.ok().data()["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.client().login("changer", PASSWORD).await.code(),
        "INVALID_CREDENTIALS"
    );
    app.client().login("changer", NEW_PASSWORD).await.ok();
    assert_eq!(
        app.client()
            .gql(
                "mutation { changePassword(currentPassword: \"x\", newPassword: \"y\") }",
                json!({})
            )
            .await
            .code(),
        "UNAUTHENTICATED"
    );
}
