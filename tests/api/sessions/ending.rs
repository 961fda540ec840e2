//! Ended sessions, attacked over HTTP: refresh-token theft, logout everywhere, a stale token
//! refused at once and by every process, the idle window, and refresh generations.

use crate::common;

use std::time::Duration;

use common::{Backend, PASSWORD, TestApp, claims_of, token_of, two_processes};
use serde_json::{Value, json};

use crate::login::passwords::{NEW_PASSWORD, reset};

on_every_store!(
    refresh_reuse_is_tolerated_briefly_then_treated_as_theft,
    logout_all_ends_every_session,
    ended_sessions_are_refused_at_once,
    ended_sessions_are_refused_by_every_process_within_the_cache_ttl,
    tokens_older_than_the_idle_window_cannot_log_out,
    only_the_previous_generation_may_refresh_again,
);

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
