//! Sign-up, e-mail verification, login, refresh, logout, sessions and the guard, over HTTP.

use crate::common;

use std::time::Duration;

use common::{Backend, Client, PASSWORD, TestApp};
use quiz_llm::domain::{SessionId, UserId};
use serde_json::json;

on_every_store!(
    sign_up_verify_and_me,
    sign_up_validation,
    sign_up_conflicts,
    verification_links,
    resend_verification,
    login_errors,
    guard_codes,
    refresh_after_expiry,
    idle_and_absolute_expiry,
    logout_with_expired_token,
    two_devices_and_revocation,
    concurrent_refreshes,
    session_cap,
    bearer_header_wins,
    me_is_named_by_the_token,
);

fn seconds(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The claims of a JWT, read without checking it.
fn claims_of(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

async fn sign_up_verify_and_me(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let browser = app.client();
    assert_eq!(browser.me().await.ok().data()["me"], json!(null));

    let r = browser
        .sign_up("Ada.Lovelace", "ada@example.com", PASSWORD)
        .await
        .ok();
    let user = &r.data()["signUp"]["user"];
    assert_eq!(user["username"], "Ada.Lovelace");
    assert_eq!(user["isActive"], false);
    assert!(
        r.data()["signUp"]["message"]
            .as_str()
            .unwrap()
            .contains("ada@example.com")
    );

    // The e-mail carries one link of the documented shape.
    let link = app.verification_link("ada@example.com");
    assert_eq!(link.uid, user["id"].as_str().unwrap());
    assert!(
        link.url.starts_with("http://quiz.test/verify-email?uid="),
        "{}",
        link.url
    );
    let eml = app
        .mailbox
        .to("ada@example.com")
        .pop()
        .expect("an e-mail")
        .mime;
    assert!(
        eml.contains("text/plain") && eml.contains("text/html"),
        "{eml}"
    );

    // Not active yet: login says so, but only with the right password.
    assert_eq!(
        browser.login("ada.lovelace", PASSWORD).await.code(),
        "EMAIL_NOT_VERIFIED"
    );

    let r = browser.verify_email(&link.uid, &link.token).await.ok();
    assert_eq!(r.data()["verifyEmail"]["user"]["isActive"], true);
    let access = r.set_cookie("access").expect("access cookie");
    let max_age =
        (app.config.auth.access_token_ttl + app.config.auth.session_idle_timeout).as_secs();
    for attr in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        &format!("Max-Age={max_age}"),
    ] {
        assert!(access.contains(attr), "{attr} missing in {access}");
    }
    assert!(!access.contains("Secure"));
    let username = r.set_cookie("username").expect("username cookie");
    assert!(username.starts_with("username=Ada.Lovelace;"), "{username}");
    assert!(!username.contains("HttpOnly"));
    let token = r.data()["verifyEmail"]["accessToken"].as_str().unwrap();
    assert!(access.starts_with(&format!("access={token};")));

    // The cookie alone now authenticates the browser.
    let me = browser.me().await.ok();
    assert_eq!(me.data()["me"]["username"], "Ada.Lovelace");
    assert_eq!(me.data()["me"]["email"], "ada@example.com");

    // The refresh token never leaves the server.
    let uid = UserId::parse(&link.uid).unwrap();
    let sessions = app.store.list_sessions(&uid, common::now()).await.unwrap();
    assert_eq!(sessions.len(), 1);
    let refresh = sessions[0].refresh_token.expose().to_owned();
    let login = browser.login("ADA.LOVELACE", PASSWORD).await.ok();
    for body in [
        r.body.to_string(),
        login.body.to_string(),
        browser.refresh().await.ok().body.to_string(),
    ] {
        assert!(!body.contains(&refresh));
        assert!(!body.to_lowercase().contains("refresh_token"));
    }
    assert_eq!(login.data()["login"]["message"], "Logged in.");
}

async fn sign_up_validation(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let c = app.client();
    let cases = [
        ("ab", "a@example.com", PASSWORD, "username"),
        (
            "a".repeat(31).as_str(),
            "a@example.com",
            PASSWORD,
            "username",
        ),
        ("ada lovelace", "a@example.com", PASSWORD, "username"),
        ("ada<script>", "a@example.com", PASSWORD, "username"),
        ("ada", "not-an-email", PASSWORD, "email"),
        ("ada", "ada@", PASSWORD, "email"),
        ("ada", "", PASSWORD, "email"),
        ("ada", "a@example.com", "short", "password"),
        ("ada", "a@example.com", &"x".repeat(129), "password"),
        (
            "adalovelace",
            "a@example.com",
            "my name is AdaLovelace!",
            "password",
        ),
    ]
    .map(|(u, e, p, f)| (u.to_owned(), e.to_owned(), p.to_owned(), f));
    for (username, email, password, field) in cases {
        let r = c.sign_up(&username, &email, &password).await;
        assert_eq!(
            r.code(),
            "BAD_USER_INPUT",
            "{username}/{email}: {:?}",
            r.body
        );
        assert_eq!(r.field(), Some(field), "{:?}", r.body);
        assert!(!r.message().is_empty());
    }
    // Nothing was created: the name is still free.
    c.sign_up("ada", "a@example.com", PASSWORD).await.ok();
    // A missing argument is a GraphQL validation error, still with a code.
    let r = c
        .gql(
            "mutation { signUp(input: {username: \"x\"}) { message } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
}

async fn sign_up_conflicts(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let c = app.client();
    // A verified account holds its name and address (a pending one holds neither: see
    // sign_up/attacks.rs).
    app.new_user("grace").await;
    let r = c.sign_up("GRACE", "other@example.com", PASSWORD).await;
    assert_eq!((r.code(), r.field()), ("CONFLICT", Some("username")));
    let r = c.sign_up("grace2", "Grace@Example.com", PASSWORD).await;
    assert_eq!((r.code(), r.field()), ("CONFLICT", Some("email")));
}

async fn verification_links(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let c = app.client();
    c.sign_up("linus", "linus@example.com", PASSWORD).await.ok();
    let link = app.verification_link("linus@example.com");
    for (uid, token) in [
        (link.uid.as_str(), "0-AAAA"),
        (link.uid.as_str(), ""),
        ("not-a-uuid", link.token.as_str()),
        ("00000000-0000-4000-8000-000000000000", link.token.as_str()),
    ] {
        let r = c.verify_email(uid, token).await;
        assert_eq!(r.code(), "INVALID_TOKEN", "{uid} {token}");
        assert!(r.set_cookie("access").is_none());
    }
    let mut tampered = link.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        c.verify_email(&link.uid, &tampered).await.code(),
        "INVALID_TOKEN"
    );

    c.verify_email(&link.uid, &link.token).await.ok();
    // Single use: the second click fails.
    assert_eq!(
        app.client()
            .verify_email(&link.uid, &link.token)
            .await
            .code(),
        "INVALID_TOKEN"
    );

    // The landing page is served and runs the mutation itself.
    let page = c
        .get(&format!(
            "/verify-email?uid={}&token={}",
            link.uid, link.token
        ))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("verifyEmail") && !html.contains(&link.token));
}

async fn resend_verification(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let c = app.client();
    let resend = |email: &'static str| {
        let c = c.clone();
        async move {
            c.gql(
                "mutation($e: String!) { resendVerificationEmail(email: $e) }",
                json!({ "e": email }),
            )
            .await
            .ok()
        }
    };
    assert_eq!(
        resend("nobody@example.com").await.data()["resendVerificationEmail"],
        true
    );
    assert!(app.emails_to("nobody@example.com").is_empty());

    c.sign_up("tim", "tim@example.com", PASSWORD).await.ok();
    assert_eq!(
        resend("TIM@example.com").await.data()["resendVerificationEmail"],
        true
    );
    assert_eq!(app.wait_for_emails("tim@example.com", 2).await.len(), 2);
    let link = app.verification_link("tim@example.com");
    c.verify_email(&link.uid, &link.token).await.ok();

    // Active accounts get nothing more, and the answer is the same.
    assert_eq!(
        resend("tim@example.com").await.data()["resendVerificationEmail"],
        true
    );
    // The e-mail would be queued after the answer, then delivered: wait for both.
    app.mail_queued().await;
    app.mail_delivered().await;
    assert_eq!(app.emails_to("tim@example.com").len(), 2);
    assert!(app.emails_to("nobody@example.com").is_empty());
}

async fn login_errors(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (_, _) = app.new_user("barbara").await;
    let c = app.client();
    let unknown = c.login("nobody-here", PASSWORD).await;
    let wrong = c.login("barbara", "wrong password here").await;
    assert_eq!(unknown.code(), "INVALID_CREDENTIALS");
    assert_eq!(wrong.code(), "INVALID_CREDENTIALS");
    assert_eq!(unknown.message(), wrong.message());
    assert!(wrong.set_cookie("access").is_none());
    // By e-mail address too.
    let r = c.login("Barbara@example.com", PASSWORD).await.ok();
    assert_eq!(r.data()["login"]["user"]["username"], "barbara");
}

async fn guard_codes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (browser, _) = app.new_user("edsger").await;
    let anon = app.client();
    assert_eq!(anon.sessions().await.code(), "UNAUTHENTICATED");
    assert_eq!(
        anon.gql("mutation { revokeSession(id: \"x\") }", json!({}))
            .await
            .code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        anon.with_bearer("garbage").me().await.code(),
        "UNAUTHENTICATED"
    );

    // A token signed with another key is refused as forged.
    let other = TestApp::spawn(backend, |c| {
        c.auth.jwt_secret = Some(quiz_llm::config::SecretString::from(
            "another-secret-another-secret-xxxx",
        ))
    })
    .await
    .unwrap();
    let (foreign, _) = other.new_user("edsger").await;
    let foreign_token = foreign.login("edsger", PASSWORD).await.ok().data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        anon.with_bearer(&foreign_token).me().await.code(),
        "UNAUTHENTICATED"
    );

    let token = browser.login("edsger", PASSWORD).await.ok().data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        anon.with_bearer(&token).me().await.ok().data()["me"]["username"],
        "edsger"
    );
    // A tampered payload breaks the signature.
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{}x.{}", parts[0], parts[1], parts[2]);
    assert_eq!(
        anon.with_bearer(&forged).sessions().await.code(),
        "UNAUTHENTICATED"
    );

    assert_eq!(
        anon.with_bearer(&token).me().await.ok().data()["me"]["username"],
        "edsger"
    );
    app.clock
        .advance(app.config.auth.access_token_ttl + seconds(1));
    let r = anon.with_bearer(&token).me().await;
    assert_eq!(r.code(), "TOKEN_EXPIRED");
    assert_eq!(
        anon.with_bearer(&token).sessions().await.code(),
        "TOKEN_EXPIRED"
    );
}

async fn refresh_after_expiry(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (browser, _) = app.new_user("alan").await;
    app.clock
        .advance(app.config.auth.access_token_ttl + seconds(1));
    assert_eq!(browser.me().await.code(), "TOKEN_EXPIRED");

    // The frontend pattern: TOKEN_EXPIRED -> refreshToken -> retry.
    let r = browser.refresh().await.ok();
    let token = r.data()["refreshToken"]["accessToken"].as_str().unwrap();
    let cookie = r.set_cookie("access").unwrap();
    assert!(cookie.starts_with(&format!("access={token};")));
    assert!(
        r.set_cookie("username")
            .unwrap()
            .starts_with("username=alan;")
    );
    assert_eq!(browser.me().await.ok().data()["me"]["username"], "alan");

    let sessions = browser.sessions().await.ok();
    assert!(sessions.data()["sessions"][0]["lastRefreshedAt"].is_string());

    // No token, or a forged one, cannot refresh.
    assert_eq!(app.client().refresh().await.code(), "UNAUTHENTICATED");
    assert_eq!(
        app.client().with_bearer("a.b.c").refresh().await.code(),
        "UNAUTHENTICATED"
    );
}

async fn idle_and_absolute_expiry(backend: Backend) {
    // Idle: no refresh within the idle timeout after the access token expired.
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (browser, _) = app.new_user("idle").await;
    let token = browser.login("idle", PASSWORD).await.ok().data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth = &app.config.auth;
    app.clock
        .advance(auth.access_token_ttl + auth.session_idle_timeout + seconds(1));
    // A browser would have dropped the cookie by now (Max-Age = TTL + idle timeout, checked in
    // `cookies_and_login`); a client that kept the token anyway is told to log in again, and
    // its cookies are cleared.
    let r = browser.with_bearer(&token).refresh().await;
    assert_eq!(r.code(), "SESSION_EXPIRED");
    assert!(r.set_cookie("access").unwrap().contains("Max-Age=0"));
    assert_eq!(browser.me().await.ok().data()["me"], json!(null));

    // Absolute: the refresh token's own lifetime ends the session, however active. Refreshing
    // every 20 minutes stays inside the idle window (15m token + 30m idle) all along.
    let Some(app) = TestApp::spawn(backend, |c| c.auth.refresh_token_ttl = seconds(3600)).await
    else {
        return;
    };
    let (browser, _) = app.new_user("absolute").await;
    for _ in 0..2 {
        app.clock.advance(seconds(20 * 60));
        browser.refresh().await.ok();
    }
    app.clock.advance(seconds(25 * 60));
    assert_eq!(browser.refresh().await.code(), "SESSION_EXPIRED");
}

async fn logout_with_expired_token(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (browser, _) = app.new_user("ken").await;
    let token = browser.login("ken", PASSWORD).await.ok().data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock
        .advance(app.config.auth.access_token_ttl + seconds(1));
    let r = browser.logout().await.ok();
    assert_eq!(r.data()["logout"]["message"], "Logged out.");
    for name in ["access", "username"] {
        let c = r.set_cookie(name).unwrap();
        assert!(
            c.contains("Max-Age=0") && c.contains("Expires=Thu, 01 Jan 1970"),
            "{c}"
        );
    }
    assert_eq!(browser.me().await.ok().data()["me"], json!(null));
    // The session is gone from the store: its token cannot refresh any more.
    assert_eq!(
        app.client().with_bearer(&token).refresh().await.code(),
        "SESSION_EXPIRED"
    );

    assert_eq!(app.client().logout().await.code(), "UNAUTHENTICATED");
    assert_eq!(
        app.client().with_bearer("x.y.z").logout().await.code(),
        "UNAUTHENTICATED"
    );
}

async fn two_devices_and_revocation(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    // Signed up first: password hashing would eat into the laptop's short-lived token later.
    let (other, _) = app.new_user("intruder").await;
    let (laptop, _) = app.new_user("margaret").await;
    let phone = app.client();
    phone.login("margaret", PASSWORD).await.ok();

    let listed = laptop.sessions().await.ok();
    let sessions = listed.data()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(sessions[0]["userAgent"], "quiz-llm-tests/1.0");
    let phone_session = phone.sessions().await.ok().data()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = laptop
        .gql(
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": phone_session }),
        )
        .await
        .ok();
    assert_eq!(r.data()["revokeSession"], true);
    let again = laptop
        .gql(
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": phone_session }),
        )
        .await;
    assert_eq!(again.code(), "NOT_FOUND");

    app.clock
        .advance(app.config.auth.access_token_ttl + seconds(1));
    assert_eq!(phone.refresh().await.code(), "SESSION_EXPIRED");
    laptop.refresh().await.ok();
    assert_eq!(laptop.me().await.ok().data()["me"]["username"], "margaret");

    // One user cannot revoke another's session.
    other.refresh().await.ok();
    let laptop_session = laptop.sessions().await.ok().data()["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = other
        .gql(
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": laptop_session }),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
    laptop.refresh().await.ok();
}

async fn concurrent_refreshes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (browser, _) = app.new_user("tabs").await;
    let token = browser.login("tabs", PASSWORD).await.ok().data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let tab = app.client().with_bearer(&token);
    let results = futures_util::future::join_all((0..20).map(|_| {
        let tab = tab.clone();
        async move { tab.refresh().await }
    }))
    .await;
    for r in &results {
        assert!(
            r.errors().is_none(),
            "a concurrent refresh failed: {}",
            r.body
        );
    }
    // Twenty refreshes with one token rotated the session exactly once, and every one of them
    // answered with an access token of that single new generation.
    let user_id = app
        .store
        .find_user_by_username("tabs")
        .await
        .unwrap()
        .unwrap()
        .id;
    let sid = claims_of(&token)["sid"].as_str().unwrap().to_owned();
    let sid = SessionId::parse(&sid).unwrap();
    let session = app
        .store
        .find_session(&user_id, &sid)
        .await
        .unwrap()
        .unwrap();
    assert!(session.last_refreshed_at.is_some());
    assert_eq!(session.generation, 1, "one rotation for one token");
    for r in &results {
        let issued = claims_of(r.data()["refreshToken"]["accessToken"].as_str().unwrap());
        assert_eq!(issued["sid"], sid.as_str());
        assert_eq!(
            issued["gen"], session.generation,
            "a concurrent refresh answered with an old generation"
        );
    }
    // Refreshing with the new generation rotates again.
    let newest = results[0].data()["refreshToken"]["accessToken"]
        .as_str()
        .unwrap();
    app.client().with_bearer(newest).refresh().await.ok();
    let after = app
        .store
        .find_session(&user_id, &sid)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        after.refresh_token, session.refresh_token,
        "rotation replaces the token"
    );
    assert_eq!(after.generation, 2);
}

async fn session_cap(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (first, _) = app.new_user("many").await;
    let mut last = None;
    for _ in 0..10 {
        let c = app.client();
        c.login("many", PASSWORD).await.ok();
        last = Some(c);
    }
    let sessions = last.unwrap().sessions().await.ok();
    assert_eq!(sessions.data()["sessions"].as_array().unwrap().len(), 10);
    // The oldest (the verification login) was dropped, and its token with it.
    assert_eq!(first.sessions().await.code(), "SESSION_EXPIRED");
}

async fn bearer_header_wins(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (alice, _) = app.new_user("alice").await;
    let (bob, _) = app.new_user("bob").await;
    let bob_token = bob.login("bob", PASSWORD).await.ok().data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(alice.me().await.ok().data()["me"]["username"], "alice");
    let r = alice.with_bearer(&bob_token).me().await.ok();
    assert_eq!(r.data()["me"]["username"], "bob");
}

#[tokio::test]
async fn the_client_type_is_usable() {
    // Guards the harness itself: a fresh client has no cookies and no bearer.
    let c = Client::new("http://127.0.0.1:9");
    assert!(c.bearer.is_none());
}

/// `me { id username }` is answered from the access token, which names its user; any other
/// field reads the user (fragments included). A guest's token names it until it signs up,
/// which ends its session, so the old token names nobody after.
async fn me_is_named_by_the_token(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("namer").await;
    let token = c.login("namer", PASSWORD).await.ok().data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims_of(&token)["username"], "namer");
    let full = c.me().await.ok().data()["me"].clone();
    let named = c
        .gql("{ me { __typename username id } }", json!({}))
        .await
        .ok();
    assert_eq!(
        named.data()["me"],
        json!({ "__typename": "User", "username": "namer", "id": full["id"] })
    );
    let r = c
        .gql(
            "{ me { id ...More } } fragment More on User { username email isGuest }",
            json!({}),
        )
        .await
        .ok();
    assert_eq!(r.data()["me"]["email"], "namer@example.com");
    assert_eq!(r.data()["me"]["isGuest"], false);

    let guest = app.client();
    let r = guest
        .gql(
            "mutation { startGuestSession { accessToken user { username } } }",
            json!({}),
        )
        .await
        .ok();
    let guest_token = r.data()["startGuestSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let name = r.data()["startGuestSession"]["user"]["username"].clone();
    let me = guest.gql("{ me { username } }", json!({})).await.ok();
    assert_eq!(me.data()["me"]["username"], name);
    guest
        .gql(
            "mutation($i: SignUpInput!) { upgradeGuest(input: $i) { user { id } } }",
            json!({ "i": { "username": "grace", "email": "grace@example.com", "password": PASSWORD } }),
        )
        .await
        .ok();
    let old = app
        .client()
        .with_bearer(&guest_token)
        .gql("{ me { id username } }", json!({}))
        .await;
    assert_eq!(old.code(), "SESSION_EXPIRED", "{}", old.body);
}

/// The origin of the tests' own pages (`PUBLIC_URL`).
const PAGE: &str = "http://quiz.test";

/// A script on a page of the site (an injected one, too) reads no bearer token from any
/// response: browsers (requests with `Origin`) get the `HttpOnly` cookie and
/// `accessToken: null` from every mutation that logs in or refreshes. The cookie does the
/// work: `me` and `refreshToken` keep working on it.
#[tokio::test]
async fn a_browser_gets_the_access_token_in_the_cookie_alone() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let page = app.client().in_page(PAGE);
    page.sign_up("paige", "paige@example.com", PASSWORD)
        .await
        .ok();
    let link = app.verification_link("paige@example.com");
    let r = page.verify_email(&link.uid, &link.token).await.ok();
    assert_eq!(
        r.data()["verifyEmail"]["accessToken"],
        json!(null),
        "{}",
        r.body
    );
    assert!(r.data()["verifyEmail"]["accessTokenExpiresAt"].is_string());
    assert!(r.set_cookie("access").unwrap().contains("HttpOnly"));
    assert_eq!(page.me().await.ok().data()["me"]["username"], "paige");

    let r = page.login("paige", PASSWORD).await.ok();
    assert_eq!(r.data()["login"]["accessToken"], json!(null), "{}", r.body);
    assert!(r.set_cookie("access").is_some());

    app.clock
        .advance(app.config.auth.access_token_ttl + seconds(1));
    let r = page.refresh().await.ok();
    assert_eq!(
        r.data()["refreshToken"]["accessToken"],
        json!(null),
        "{}",
        r.body
    );
    assert!(r.set_cookie("access").is_some());
    assert_eq!(page.me().await.ok().data()["me"]["username"], "paige");

    let guest = app.client().in_page(PAGE);
    let r = guest
        .gql("mutation { startGuestSession { accessToken } }", json!({}))
        .await
        .ok();
    assert_eq!(r.data()["startGuestSession"]["accessToken"], json!(null));
    assert!(r.set_cookie("access").is_some());

    // Any `Origin` at all is a browser's: a sandboxed frame sends `null`.
    let sandboxed = app.client().in_page("null");
    let r = sandboxed.login("paige", PASSWORD).await.ok();
    assert_eq!(r.data()["login"]["accessToken"], json!(null));
    // So is a request with the `Sec-Fetch-Site` every browser sends.
    let r = app
        .client()
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("sec-fetch-site", "same-origin")
        .json(&json!({
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
            "variables": { "u": "paige", "p": PASSWORD },
        }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"]["login"]["accessToken"], json!(null), "{body}");
}

/// A native client (no `Origin`) still gets the token in the body, to send as a bearer
/// token, and the cookies as before.
#[tokio::test]
async fn a_native_client_gets_the_access_token_in_the_body() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    app.new_user("nate").await;
    let native = app.client();
    let r = native.login("nate", PASSWORD).await.ok();
    let token = r.data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(r.set_cookie("access").is_some());
    let bearer_only = Client::new(&app.base_url).with_bearer(&token);
    assert_eq!(bearer_only.me().await.ok().data()["me"]["username"], "nate");
    let r = native.refresh().await.ok();
    assert!(
        r.data()["refreshToken"]["accessToken"].is_string(),
        "{}",
        r.body
    );
}

/// Over a WebSocket the upgrade decides: a browser's (with `Origin`) gets no token from
/// `refreshToken`, a native client's does.
#[tokio::test]
async fn a_browsers_socket_gets_no_access_token() {
    use common::ws::{self, Upgrade};
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let (c, _) = app.new_user("sockets").await;
    for (origin, token_sent) in [(Some(PAGE), false), (None, true)] {
        let token = c.login("sockets", PASSWORD).await.ok().data()["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut s = ws::connect(
            &app.base_url,
            Upgrade {
                access_cookie: Some(&token),
                origin,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(s.init(json!({})).await.unwrap()["type"], "connection_ack");
        s.subscribe("r", "mutation { refreshToken { accessToken } }", json!({}))
            .await;
        let payload = s.next_payload("r").await.unwrap();
        let sent = &payload["data"]["refreshToken"]["accessToken"];
        assert_eq!(sent.is_string(), token_sent, "{origin:?}: {payload}");
    }
}
