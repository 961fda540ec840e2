//! Passwordless sign-in by e-mail: `requestSignInLink` mails a link and a code, and either signs
//! in once, within ten minutes of the app's clock, as `login` would. Here: the link and the
//! code, single use, expiry, the wrong-code budget, what unknown and unverified addresses get,
//! the login limits, TOTP, and `returnTo`; the sign-up by link and the link's page have files of
//! their own.

use crate::common;

use std::time::Duration;

use common::{Backend, Client, Gql, PASSWORD, TestApp};
use serde_json::{Value, json};

mod page;
mod sign_up;

pub const REQUEST: &str =
    "mutation($e: String!, $r: String) { requestSignInLink(email: $e, returnTo: $r) }";
const WITH_LINK: &str = "mutation($t: String!) { signInWithLink(token: $t) { user { username isActive locale } accessToken message } }";
const WITH_CODE: &str = "mutation($e: String!, $c: String!) { signInWithCode(email: $e, code: $c) { user { username isActive locale } accessToken message } }";

/// What a sign-in e-mail carries.
#[derive(Debug, Clone)]
pub struct SignInMail {
    /// `To:`, `Subject:` and the plain-text part.
    pub text: String,
    /// The link as mailed: `{PUBLIC_URL}/sign-in-link?token=…`.
    pub url: String,
    pub token: String,
    pub code: String,
}

impl SignInMail {
    fn find_in(text: &str) -> Option<SignInMail> {
        let url = text
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains("/sign-in-link?token="))?
            .to_owned();
        let token = url.split_once("?token=")?.1.to_owned();
        let code = text
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_ascii_digit()))
            .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))?
            .to_owned();
        Some(SignInMail {
            text: text.to_owned(),
            url,
            token,
            code,
        })
    }

    /// The path and query of the link on the test server.
    pub fn path(&self) -> String {
        format!("/sign-in-link?token={}", self.token)
    }

    /// A code that is not this mail's.
    pub fn wrong_code(&self) -> String {
        let n: u32 = self.code.parse().unwrap();
        format!("{:06}", (n + 1) % 1_000_000)
    }
}

/// The sign-in e-mails to `to`, oldest first, once every mail the app answered for is queued.
/// Mail goes to the address's canonical spelling (lower case).
pub async fn sign_in_mails(app: &TestApp, to: &str) -> Vec<SignInMail> {
    app.mail_queued().await;
    app.mail_delivered().await;
    app.emails_to(&to.to_lowercase())
        .iter()
        .filter_map(|m| SignInMail::find_in(m))
        .collect()
}

/// Asks for a link to `email` (answered `true`) and returns the newest sign-in e-mail to it.
pub async fn request_mail(app: &TestApp, c: &Client, email: &str) -> SignInMail {
    let r = c.gql(REQUEST, json!({ "e": email })).await.ok();
    assert_eq!(r.data()["requestSignInLink"], true);
    sign_in_mails(app, email)
        .await
        .pop()
        .unwrap_or_else(|| panic!("no sign-in e-mail to {email}"))
}

pub async fn with_link(c: &Client, token: &str) -> Gql {
    c.gql(WITH_LINK, json!({ "t": token })).await
}

pub async fn with_code(c: &Client, email: &str, code: &str) -> Gql {
    c.gql(WITH_CODE, json!({ "e": email, "c": code })).await
}

/// How the caller's current session signed in.
async fn current_method(c: &Client) -> Value {
    let r = c
        .gql("{ sessions { current signInMethod } }", json!({}))
        .await
        .ok();
    r.data()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .expect("the current session is listed")["signInMethod"]
        .clone()
}

on_every_store!(
    a_link_signs_in_once_like_login,
    a_code_signs_in_once_and_uses_up_the_link,
    links_and_codes_expire_after_ten_minutes,
    five_wrong_codes_end_the_request,
    unknown_and_unverified_addresses_get_the_same_answer_and_no_mail,
    accounts_with_totp_are_asked_for_their_code,
);

async fn a_link_signs_in_once_like_login(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (owner, email) = app.new_user("linked").await;
    // The mail speaks the account's language, whoever asks.
    owner
        .gql(
            r#"mutation { setLocale(locale: "ko") { locale } }"#,
            json!({}),
        )
        .await
        .ok();
    let browser = app.client().speaking("en");
    let mail = request_mail(&app, &browser, &email).await;
    assert!(
        mail.text.contains("Subject: Quiz LLM 로그인 링크"),
        "{}",
        mail.text
    );
    assert!(mail.url.starts_with("http://quiz.test/sign-in-link?token="));
    assert!(mail.text.contains("10분"), "{}", mail.text);

    let r = with_link(&browser, &mail.token).await.ok();
    assert_eq!(r.data()["signInWithLink"]["user"]["username"], "linked");
    assert!(r.set_cookie("access").is_some(), "{:?}", r.set_cookies());
    // A native client (no Origin) gets the token in the body too, as from `login`.
    assert!(r.data()["signInWithLink"]["accessToken"].is_string());
    assert_eq!(
        browser.me().await.ok().data()["me"]["username"],
        "linked",
        "the cookie logs the browser in"
    );
    assert_eq!(current_method(&browser).await, "EMAIL_LINK");

    // Used once: the link again, and its code, are refused.
    let again = app.client();
    assert_eq!(with_link(&again, &mail.token).await.code(), "INVALID_TOKEN");
    let r = with_code(&again, &email, &mail.code).await;
    assert_eq!(r.code(), "INVALID_TOKEN");
    assert!(r.set_cookie("access").is_none());
    assert!(again.me().await.ok().data()["me"].is_null());
    // A made-up token too.
    assert_eq!(
        with_link(&again, "not-a-token").await.code(),
        "INVALID_TOKEN"
    );
}

async fn a_code_signs_in_once_and_uses_up_the_link(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (_, email) = app.new_user("coded").await;
    let phone = app.client();
    let mail = request_mail(&app, &phone, &email).await;
    assert!(
        mail.text.contains("Subject: Sign in to Quiz LLM"),
        "{}",
        mail.text
    );
    // The address as typed again, in another case, with the code spaced out.
    let spaced = format!("{} {}", &mail.code[..3], &mail.code[3..]);
    let r = with_code(&phone, &email.to_uppercase(), &spaced).await.ok();
    assert_eq!(r.data()["signInWithCode"]["user"]["username"], "coded");
    assert_eq!(r.data()["signInWithCode"]["message"], "Logged in.");
    assert!(r.set_cookie("access").is_some());
    assert_eq!(current_method(&phone).await, "EMAIL_LINK");

    let other = app.client();
    assert_eq!(
        with_code(&other, &email, &mail.code).await.code(),
        "INVALID_TOKEN"
    );
    assert_eq!(with_link(&other, &mail.token).await.code(), "INVALID_TOKEN");

    // A newer request replaces an older one: only the newest mail's link and code work.
    let first = request_mail(&app, &other, &email).await;
    let second = request_mail(&app, &other, &email).await;
    assert_ne!(first.token, second.token);
    assert_eq!(
        with_link(&other, &first.token).await.code(),
        "INVALID_TOKEN"
    );
    with_link(&other, &second.token).await.ok();
}

async fn links_and_codes_expire_after_ten_minutes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (_, early) = app.new_user("early").await;
    let (_, late) = app.new_user("late").await;
    let c = app.client();
    let early_mail = request_mail(&app, &c, &early).await;
    let late_mail = request_mail(&app, &c, &late).await;
    app.clock.advance(Duration::from_secs(9 * 60 + 50));
    with_code(&c, &early, &early_mail.code).await.ok();
    app.clock.advance(Duration::from_secs(11));
    assert_eq!(
        with_code(&c, &late, &late_mail.code).await.code(),
        "INVALID_TOKEN"
    );
    assert_eq!(
        with_link(&c, &late_mail.token).await.code(),
        "INVALID_TOKEN"
    );
    // The clean-up drops it; a new request works again.
    app.housekeeping.run_now().await;
    let fresh = request_mail(&app, &c, &late).await;
    with_link(&c, &fresh.token).await.ok();
}

async fn five_wrong_codes_end_the_request(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (_, email) = app.new_user("guessed").await;
    let c = app.client();
    // Four wrong codes leave the right one working...
    let mail = request_mail(&app, &c, &email).await;
    for _ in 0..4 {
        assert_eq!(
            with_code(&c, &email, &mail.wrong_code()).await.code(),
            "INVALID_TOKEN"
        );
    }
    with_code(&c, &email, &mail.code).await.ok();
    // ...five end the request: neither the right code nor the link works after them.
    let mail = request_mail(&app, &c, &email).await;
    for wrong in [
        mail.wrong_code(),
        "12345".into(),
        "abcdef".into(),
        mail.wrong_code(),
        mail.wrong_code(),
    ] {
        let r = with_code(&c, &email, &wrong).await;
        assert_eq!(r.code(), "INVALID_TOKEN", "{wrong}");
    }
    let r = with_code(&c, &email, &mail.code).await;
    assert_eq!(r.code(), "INVALID_TOKEN");
    assert!(r.set_cookie("access").is_none());
    assert_eq!(with_link(&c, &mail.token).await.code(), "INVALID_TOKEN");
}

async fn unknown_and_unverified_addresses_get_the_same_answer_and_no_mail(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (_, verified) = app.new_user("known").await;
    let unverified = "waiting@example.com";
    app.client()
        .sign_up("waiting", unverified, PASSWORD)
        .await
        .ok();
    let unknown = "nobody@example.com";
    let c = app.client();
    let ask = |email: &str| c.gql(REQUEST, json!({ "e": email, "r": "/quizzes" }));
    let (a, b, d) = (
        ask(&verified).await,
        ask(unverified).await,
        ask(unknown).await,
    );
    for other in [&b, &d] {
        assert_eq!(a.status, other.status);
        assert_eq!(a.body, other.body);
    }
    assert_eq!(a.body, json!({ "data": { "requestSignInLink": true } }));
    assert_eq!(sign_in_mails(&app, &verified).await.len(), 1);
    // The unverified account has its confirmation mail only; the unknown address nothing.
    assert!(sign_in_mails(&app, unverified).await.is_empty());
    assert_eq!(app.emails_to(unverified).len(), 1);
    assert!(app.emails_to(unknown).is_empty());
    // Its code is no way in either: nothing to use, like a wrong code.
    assert_eq!(
        with_code(&c, unverified, "000000").await.code(),
        "INVALID_TOKEN"
    );
    assert_eq!(
        with_code(&c, unknown, "000000").await.code(),
        "INVALID_TOKEN"
    );
}

async fn accounts_with_totp_are_asked_for_their_code(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (owner, email) = app.new_user("twofactor").await;
    let (secret, _) = crate::mfa::turn_totp_on(&app, &owner).await;
    // A step later, so the code that confirmed enrollment is not the one sent now.
    app.clock.advance(Duration::from_secs(30));
    let c = app.client();
    let mail = request_mail(&app, &c, &email).await;
    let r = with_link(&c, &mail.token).await;
    let token = crate::mfa::mfa_token(&r);
    assert!(r.set_cookie("access").is_none(), "{:?}", r.set_cookies());
    assert!(c.me().await.ok().data()["me"].is_null());
    // The link is used up; the second step finishes as after a password.
    assert_eq!(with_link(&c, &mail.token).await.code(), "INVALID_TOKEN");
    let r = c
        .gql(
            "mutation($t: String!, $c: String!) { verifyMfa(mfaToken: $t, code: $c) { user { username } } }",
            json!({ "t": token, "c": crate::mfa::code_now(&app, &secret) }),
        )
        .await
        .ok();
    assert_eq!(r.data()["verifyMfa"]["user"]["username"], "twofactor");
    assert_eq!(current_method(&c).await, "MFA");
    // The code path asks too.
    let mail = request_mail(&app, &c, &email).await;
    crate::mfa::mfa_token(&with_code(&app.client(), &email, &mail.code).await);
}

#[tokio::test]
async fn return_to_must_stay_on_this_site() {
    let Some(app) = TestApp::spawn(Backend::Sqlite, |_| {}).await else {
        return;
    };
    let (_, email) = app.new_user("stayer").await;
    let c = app.client();
    for elsewhere in [
        "https://evil.example/",
        "//evil.example/quizzes",
        "/\\evil.example",
        "https://quiz.test.evil.example/",
        "https://quiz.test/",
        "javascript:alert(1)",
    ] {
        let r = c.gql(REQUEST, json!({ "e": email, "r": elsewhere })).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{elsewhere}: {}", r.body);
        assert_eq!(r.field(), Some("returnTo"), "{elsewhere}");
    }
    assert!(
        sign_in_mails(&app, &email).await.is_empty(),
        "nothing mailed"
    );
    for here in ["/quizzes?tab=2", "http://quiz.test/review"] {
        let r = c.gql(REQUEST, json!({ "e": email, "r": here })).await.ok();
        assert_eq!(r.data()["requestSignInLink"], true);
    }
    assert_eq!(sign_in_mails(&app, &email).await.len(), 2);
}

#[tokio::test]
async fn codes_count_against_the_login_limits() {
    let Some(app) = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.login_per_account = "3/1m".parse().unwrap();
    })
    .await
    else {
        return;
    };
    let (_, email) = app.new_user("limited").await;
    let c = app.client();
    let mail = request_mail(&app, &c, &email).await;
    // Password guesses and codes share the account's budget.
    for _ in 0..3 {
        assert_eq!(
            c.login("limited", "wrong password, wrong").await.code(),
            "INVALID_CREDENTIALS"
        );
    }
    let r = with_code(&c, &email, &mail.code).await;
    common::retry_after(&r);
    // The refused try spent none of the request's attempts: once the limit's window has
    // passed, the code still works.
    app.clock.advance(Duration::from_secs(2 * 60 + 1));
    with_code(&c, &email, &mail.code).await.ok();
}
