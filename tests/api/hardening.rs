//! Brute force, mail bombing, refresh-token theft, and password reset and change, attacked over
//! HTTP.

use crate::common;

use std::time::Duration;

use common::{Backend, Client, Gql, Link, PASSWORD, TestApp};
use serde_json::{Value, json};

on_both_stores!(
    refresh_reuse_is_tolerated_briefly_then_treated_as_theft,
    password_reset_revokes_every_session,
    password_change_revokes_other_sessions,
    logout_all_ends_every_session,
);

const NEW_PASSWORD: &str = "violet otter cements the harbor";

fn token_of(r: &Gql, field: &str) -> String {
    r.data()[field]["accessToken"].as_str().unwrap().to_owned()
}

fn retry_after(r: &Gql) -> u64 {
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    r.errors().unwrap()[0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter in seconds")
}

#[tokio::test]
async fn forty_wrong_passwords_are_cut_off() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.login_per_account = "10/5m".parse().unwrap();
    })
    .await
    .unwrap();
    app.new_user("fortress").await;
    let attacker = app.client();
    let mut limited = 0;
    for i in 0..40 {
        let r = attacker
            .login("fortress", &format!("guess number {i}"))
            .await;
        match r.code() {
            "INVALID_CREDENTIALS" => assert!(i < 10, "attempt {i} was not limited"),
            "RATE_LIMITED" => {
                assert!(retry_after(&r) >= 1);
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(limited, 30);
    // Even the right password waits now, and e-mail spelling does not dodge the account limit.
    assert_eq!(
        attacker.login("FORTRESS", PASSWORD).await.code(),
        "RATE_LIMITED"
    );
    // Other accounts are unaffected.
    app.new_user("neighbour").await;
    attacker.login("neighbour", PASSWORD).await.ok();
}

#[tokio::test]
async fn logins_per_client_count_the_forwarded_address_only_behind_trusted_proxies() {
    let spawn = |trusted: &'static str| {
        TestApp::spawn(Backend::Sqlite, move |c| {
            c.auth.rate_limits.login_per_client = "3/5m".parse().unwrap();
            c.server.trusted_proxies = trusted.parse().unwrap();
        })
    };
    let attempt = |app: &TestApp, forwarded: &str| {
        let http = app.client().http.clone();
        let url = format!("{}/graphql", app.base_url);
        let forwarded = forwarded.to_owned();
        async move {
            let resp = http
                .post(url)
                .header("x-forwarded-for", forwarded)
                .json(&json!({ "query": "mutation { login(username: \"x-user\", password: \"whatever it is\") { message } }" }))
                .send()
                .await
                .unwrap();
            let body: Value = resp.json().await.unwrap();
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    // Not trusted: the header is ignored, so every request is the same client.
    let app = spawn("").await.unwrap();
    let codes: Vec<String> =
        futures_util::future::join_all((0..5).map(|i| attempt(&app, &format!("198.51.100.{i}"))))
            .await;
    assert_eq!(
        codes.iter().filter(|c| *c == "RATE_LIMITED").count(),
        2,
        "{codes:?}"
    );

    // Behind a trusted proxy, each forwarded client has its own allowance.
    let app = spawn("127.0.0.1").await.unwrap();
    for i in 0..5 {
        assert_eq!(
            attempt(&app, &format!("198.51.100.{i}")).await,
            "INVALID_CREDENTIALS"
        );
    }
    for _ in 0..3 {
        attempt(&app, "203.0.113.7").await;
    }
    assert_eq!(attempt(&app, "203.0.113.7").await, "RATE_LIMITED");
}

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

async fn refresh_reuse_is_tolerated_briefly_then_treated_as_theft(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (browser, _) = app.new_user("tabs").await;
    let t0 = token_of(&browser.login("tabs", PASSWORD).await.ok(), "login");
    let tab = |t: &str| app.client().with_bearer(t);

    let t1 = token_of(&tab(&t0).refresh().await.ok(), "refreshToken");
    // A second tab refreshing with the same old token at the same moment is fine.
    let t1b = token_of(&tab(&t0).refresh().await.ok(), "refreshToken");
    assert_eq!(tab(&t1b).me().await.ok().data()["me"]["username"], "tabs");

    app.clock
        .advance(app.config.auth.refresh_reuse_interval + Duration::from_secs(1));
    // Later, the old token coming back means someone kept a copy: the session is revoked.
    assert_eq!(tab(&t0).refresh().await.code(), "SESSION_EXPIRED");
    assert_eq!(tab(&t1).refresh().await.code(), "SESSION_EXPIRED");
    let sessions = browser.sessions().await.ok();
    assert_eq!(
        sessions.data()["sessions"].as_array().unwrap().len(),
        1,
        "only the verify session is left"
    );
}

/// The link of the newest reset e-mail to `email`, once it has been sent.
async fn reset_link(app: &TestApp, email: &str) -> Link {
    let mut mail = None;
    for _ in 0..250 {
        mail = app
            .emails_to(email)
            .into_iter()
            .rev()
            .find(|m| m.contains("/reset-password?"));
        if mail.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mail = mail.expect("a reset e-mail");
    let url = mail
        .split_whitespace()
        .find(|w| w.contains("/reset-password?"))
        .unwrap()
        .to_owned();
    Link::find_in(&url.replace("/reset-password?", "/verify-email?")).unwrap()
}

async fn reset(c: &Client, link: &Link, password: &str) -> Gql {
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
    let link = reset_link(&app, &email).await;

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
    assert!(page.text().await.unwrap().contains("resetPassword"));
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

async fn logout_all_ends_every_session(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (laptop, _) = app.new_user("leaver").await;
    let phone = app.client();
    phone.login("leaver", PASSWORD).await.ok();
    let r = laptop
        .gql("mutation { logoutAll { message } }", json!({}))
        .await
        .ok();
    assert_eq!(
        r.data()["logoutAll"]["message"],
        "Logged out of 2 session(s)."
    );
    assert!(r.set_cookie("access").unwrap().contains("Max-Age=0"));
    assert_eq!(laptop.me().await.ok().data()["me"], Value::Null);
    assert_eq!(phone.refresh().await.code(), "SESSION_EXPIRED");
    assert_eq!(
        app.client()
            .gql("mutation { logoutAll { message } }", json!({}))
            .await
            .code(),
        "UNAUTHENTICATED"
    );
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
