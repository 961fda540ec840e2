//! Brute force, mail bombing, refresh-token theft, ended sessions, and password reset and
//! change, attacked over HTTP.

use crate::common;

use std::time::Duration;

use common::{Backend, Client, Gql, Link, PASSWORD, TestApp, claims_of};
use quiz_llm::config::{DatabaseUrl, Settings};
use serde_json::{Value, json};

on_every_store!(
    refresh_reuse_is_tolerated_briefly_then_treated_as_theft,
    password_reset_revokes_every_session,
    password_change_revokes_other_sessions,
    logout_all_ends_every_session,
    ended_sessions_are_refused_at_once,
    ended_sessions_are_refused_by_every_process_within_the_cache_ttl,
    tokens_older_than_the_idle_window_cannot_log_out,
    only_the_previous_generation_may_refresh_again,
    limits_hold_across_processes,
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
        // Refilling one attempt per 6 minutes: slow logins on a busy machine never see a refill.
        c.auth.rate_limits.login_per_account = "10/1h".parse().unwrap();
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
    let t0 = login_token(&app, "tabs", PASSWORD).await;
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

const REVOKE_SESSION: &str = "mutation($id: ID!) { revokeSession(id: $id) }";
const CHANGE_PASSWORD: &str =
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
const LOGOUT_ALL: &str = "mutation { logoutAll { message } }";

/// The session an access token belongs to.
fn session_of(token: &str) -> String {
    claims_of(token)["sid"].as_str().unwrap().to_owned()
}

async fn login_token(app: &TestApp, username: &str, password: &str) -> String {
    token_of(&app.client().login(username, password).await.ok(), "login")
}

/// A thief holding `stale`, the unexpired access token of an ended session, can do nothing that
/// needs a login, while the owner's live session and password stay as they are. Operations
/// that need no login still work with it.
async fn assert_refused(app: &TestApp, stale: &str, username: &str, password: &str, how: &str) {
    let owner = app.client();
    let live = token_of(&owner.login(username, password).await.ok(), "login");
    let thief = app.client().with_bearer(stale);
    let attempts = [
        ("me", thief.me().await),
        ("sessions", thief.sessions().await),
        (
            "revokeSession",
            thief
                .gql(REVOKE_SESSION, json!({ "id": session_of(&live) }))
                .await,
        ),
        (
            "changePassword",
            thief
                .gql(
                    CHANGE_PASSWORD,
                    json!({ "c": password, "n": "the thief picked this passphrase" }),
                )
                .await,
        ),
        (
            "quizzes",
            thief
                .gql("{ quizzes(first: 1) { totalCount } }", json!({}))
                .await,
        ),
        ("logoutAll", thief.gql(LOGOUT_ALL, json!({})).await),
        ("logout", thief.logout().await),
    ];
    for (operation, r) in attempts {
        assert_eq!(
            r.code(),
            "SESSION_EXPIRED",
            "{operation} after {how}: {}",
            r.body
        );
    }
    assert_eq!(
        owner.me().await.ok().data()["me"]["username"],
        username,
        "after {how}"
    );
    thief.gql("{ __typename }", json!({})).await.ok();
    thief.login(username, password).await.ok();
}

/// Every way a session ends stops its access token at once, although the token is far from
/// expired and this process had just seen it in use.
async fn ended_sessions_are_refused_at_once(backend: Backend) {
    // The longest cache allowed: only ending the session on this process can explain a refusal.
    let Some(app) = TestApp::spawn(backend, |c| {
        c.auth.session_cache_ttl = Duration::from_secs(5);
    })
    .await
    else {
        return;
    };
    let (laptop, email) = app.new_user("ended").await;
    let in_use = |token: &str| {
        let c = app.client().with_bearer(token);
        async move { c.me().await.ok() }
    };

    let phone = app.client();
    let token = token_of(&phone.login("ended", PASSWORD).await.ok(), "login");
    in_use(&token).await;
    phone.logout().await.ok();
    assert_refused(&app, &token, "ended", PASSWORD, "logout").await;

    let token = login_token(&app, "ended", PASSWORD).await;
    in_use(&token).await;
    laptop
        .gql(REVOKE_SESSION, json!({ "id": session_of(&token) }))
        .await
        .ok();
    assert_refused(&app, &token, "ended", PASSWORD, "revokeSession").await;

    let token = login_token(&app, "ended", PASSWORD).await;
    in_use(&token).await;
    laptop
        .gql(CHANGE_PASSWORD, json!({ "c": PASSWORD, "n": NEW_PASSWORD }))
        .await
        .ok();
    assert_refused(&app, &token, "ended", NEW_PASSWORD, "changePassword").await;

    let token = login_token(&app, "ended", NEW_PASSWORD).await;
    in_use(&token).await;
    laptop.gql(LOGOUT_ALL, json!({})).await.ok();
    assert_refused(&app, &token, "ended", NEW_PASSWORD, "logoutAll").await;

    let token = login_token(&app, "ended", NEW_PASSWORD).await;
    in_use(&token).await;
    let anon = app.client();
    anon.gql(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": email }),
    )
    .await
    .ok();
    let newest = "a third passphrase nobody guesses";
    reset(&anon, &app.reset_link(&email).await, newest)
        .await
        .ok();
    assert_refused(&app, &token, "ended", newest, "resetPassword").await;
}

/// Two server processes sharing one store: a SQLite file, or one MongoDB database.
async fn two_processes(backend: Backend) -> Option<(TestApp, TestApp, tempfile::TempDir)> {
    two_processes_with(backend, |_| {}).await
}

/// [`two_processes`], both configured by `tweak`.
async fn two_processes_with(
    backend: Backend,
    tweak: impl Fn(&mut Settings),
) -> Option<(TestApp, TestApp, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let file = DatabaseUrl::Sqlite(Some(dir.path().join("shared.db")));
    let first = TestApp::spawn(backend, |c| {
        if backend == Backend::Sqlite {
            c.store.database_url = file;
        }
        tweak(c);
    })
    .await?;
    let shared = first.config.store.database_url.clone();
    let second = TestApp::spawn(backend, |c| {
        c.store.database_url = shared;
        tweak(c);
    })
    .await?;
    Some((first, second, dir))
}

/// Limits hold for the deployment, not per process: password guesses and sign-ups spread
/// over two processes sharing the store are cut off at the configured counts.
async fn limits_hold_across_processes(backend: Backend) {
    let Some((a, b, _dir)) = two_processes_with(backend, |c| {
        c.auth.rate_limits.login_per_account = "10/1h".parse().unwrap();
        c.auth.rate_limits.signup_per_client = "4/1h".parse().unwrap();
    })
    .await
    else {
        return;
    };
    a.new_user("shared").await;
    let (on_a, on_b) = (a.client(), b.client());
    let mut wrong = 0;
    for i in 0..30 {
        let node = if i % 2 == 0 { &on_a } else { &on_b };
        match node
            .login("shared", &format!("guess number {i}"))
            .await
            .code()
        {
            "INVALID_CREDENTIALS" => wrong += 1,
            "RATE_LIMITED" => assert!(i >= 10, "attempt {i} was limited early"),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(wrong, 10, "guesses checked against the password");

    // new_user signed one up from this client already (on a): three more fit, on either node.
    let mut joined = 0;
    for i in 0..8 {
        let node = if i % 2 == 0 { &on_b } else { &on_a };
        let r = node
            .sign_up(
                &format!("joiner{i}"),
                &format!("joiner{i}@example.com"),
                PASSWORD,
            )
            .await;
        if r.errors().is_none() {
            joined += 1;
        } else {
            assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
        }
    }
    assert_eq!(joined, 3);
}

/// Polls until `token` is refused with `SESSION_EXPIRED` on `app`; panics after five seconds.
/// Once `SESSION_CACHE_TTL` has passed on its clock, `app` refuses `token`: what it remembered
/// of the session is stale and read again.
async fn refused_once_the_cache_is_stale(app: &TestApp, token: &str, how: &str) {
    app.clock.advance(app.config.auth.session_cache_ttl);
    let r = app.client().with_bearer(token).sessions().await;
    assert_eq!(r.code(), "SESSION_EXPIRED", "after {how}: {}", r.body);
}

/// A logout or a password change on one process stops the ended session's token on the other
/// process sharing the store within `SESSION_CACHE_TTL` (1 s by default, at most 5 s).
async fn ended_sessions_are_refused_by_every_process_within_the_cache_ttl(backend: Backend) {
    let Some((here, there, _dir)) = two_processes(backend).await else {
        return;
    };
    here.new_user("everywhere").await;
    let laptop = here.client();
    let laptop_token = token_of(&laptop.login("everywhere", PASSWORD).await.ok(), "login");

    let phone = here.client();
    let token = token_of(&phone.login("everywhere", PASSWORD).await.ok(), "login");
    // The other process has just seen the session alive.
    there.client().with_bearer(&token).sessions().await.ok();
    phone.logout().await.ok();
    refused_once_the_cache_is_stale(&there, &token, "logout").await;
    assert_eq!(
        here.client().with_bearer(&token).me().await.code(),
        "SESSION_EXPIRED"
    );

    let token = login_token(&here, "everywhere", PASSWORD).await;
    there.client().with_bearer(&token).sessions().await.ok();
    laptop
        .gql(CHANGE_PASSWORD, json!({ "c": PASSWORD, "n": NEW_PASSWORD }))
        .await
        .ok();
    refused_once_the_cache_is_stale(&there, &token, "changePassword").await;
    // The session that changed the password lives on, on both.
    laptop.me().await.ok();
    there.client().with_bearer(&laptop_token).me().await.ok();
}

/// `logout` and `logoutAll` take an expired token only within the idle window `refreshToken`
/// honours: a token leaked long ago cannot end anyone's sessions.
async fn tokens_older_than_the_idle_window_cannot_log_out(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.auth.access_token_ttl = Duration::from_secs(1);
        c.auth.session_idle_timeout = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    app.new_user("leaky").await;
    let leaked = login_token(&app, "leaky", PASSWORD).await;
    // Past its expiry plus the idle timeout; its session is still stored.
    app.clock.advance(Duration::from_millis(2500));
    let phone = app.client();
    phone.login("leaky", PASSWORD).await.ok();

    let thief = app.client().with_bearer(&leaked);
    assert_eq!(
        thief.gql(LOGOUT_ALL, json!({})).await.code(),
        "SESSION_EXPIRED"
    );
    assert_eq!(thief.logout().await.code(), "SESSION_EXPIRED");
    // Nothing ended: the phone refreshes, and all three sessions are still there.
    phone.refresh().await.ok();
    let sessions = phone.sessions().await.ok();
    assert_eq!(sessions.data()["sessions"].as_array().unwrap().len(), 3);
}

/// Within the reuse interval only the generation just before the session's may refresh again
/// (two tabs); an older one is a stolen copy, and the session is revoked.
async fn only_the_previous_generation_may_refresh_again(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.auth.refresh_reuse_interval = Duration::from_secs(60);
    })
    .await
    else {
        return;
    };
    app.new_user("generations").await;
    let tab = |t: &str| app.client().with_bearer(t);
    let t0 = login_token(&app, "generations", PASSWORD).await;
    let t1 = token_of(&tab(&t0).refresh().await.ok(), "refreshToken");
    let t2 = token_of(&tab(&t1).refresh().await.ok(), "refreshToken");
    let t3 = token_of(&tab(&t2).refresh().await.ok(), "refreshToken");
    assert_eq!(claims_of(&t3)["gen"], 3);

    let again = token_of(&tab(&t2).refresh().await.ok(), "refreshToken");
    assert_eq!(claims_of(&again)["gen"], 3);

    assert_eq!(tab(&t0).refresh().await.code(), "SESSION_EXPIRED");
    assert_eq!(tab(&t3).refresh().await.code(), "SESSION_EXPIRED");
    assert_eq!(tab(&t3).me().await.code(), "SESSION_EXPIRED");
}

/// Logs in from `ip` (through the trusted proxy); the error code, or `OK`.
async fn login_from(app: &TestApp, ip: &str, username: &str, password: &str) -> String {
    let body: Value = app
        .client()
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("x-forwarded-for", ip)
        .json(&json!({
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { message } }",
            "variables": { "u": username, "p": password },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("OK")
        .to_owned()
}

#[tokio::test]
async fn the_login_limit_counts_the_account_however_it_is_named() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.login_per_account = "10/1h".parse().unwrap();
    })
    .await
    .unwrap();
    app.new_user("twofaced").await;
    let attacker = app.client();
    for i in 0..10 {
        let name = if i % 2 == 0 {
            "twofaced"
        } else {
            "twofaced@example.com"
        };
        let r = attacker.login(name, &format!("guess number {i}")).await;
        assert_eq!(r.code(), "INVALID_CREDENTIALS", "attempt {i}");
    }
    for name in ["twofaced", "TwoFaced@Example.com"] {
        let r = attacker.login(name, "guess number 11").await;
        assert!(retry_after(&r) >= 1, "{name}");
    }
}

#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.server.trusted_proxies = "127.0.0.1".parse().unwrap();
        c.auth.rate_limits.login_per_account = "10/1h".parse().unwrap();
        c.auth.rate_limits.login_per_account_global = "15/1d".parse().unwrap();
    })
    .await
    .unwrap();
    app.new_user("owner").await;
    let (attacker, owner, accomplice, third) =
        ("203.0.113.66", "198.51.100.7", "203.0.113.67", "192.0.2.9");
    for i in 0..10 {
        assert_eq!(
            login_from(&app, attacker, "owner", &format!("guess {i}")).await,
            "INVALID_CREDENTIALS"
        );
    }
    // The attacker's own allowance for this account is spent, even for the right password…
    assert_eq!(
        login_from(&app, attacker, "owner@example.com", PASSWORD).await,
        "RATE_LIMITED"
    );
    // …but the owner, from their own address, gets in.
    assert_eq!(login_from(&app, owner, "owner", PASSWORD).await, "OK");
    // Guessing from many addresses meets the account's ceiling (15: 10 + 1 + 4).
    for i in 0..4 {
        assert_eq!(
            login_from(&app, accomplice, "owner", &format!("more {i}")).await,
            "INVALID_CREDENTIALS"
        );
    }
    assert_eq!(
        login_from(&app, third, "owner", "one more guess").await,
        "RATE_LIMITED"
    );
}
