//! Two-factor login with TOTP: enrollment, the second login step, replay, expiry, recovery
//! codes, and the login limits. Codes are computed here from the secret the server hands out,
//! at the app's injected time.

use crate::common;

use std::time::Duration;

use common::{Backend, Client, Gql, PASSWORD, TestApp};
use quiz_llm::domain::Clock;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Builder, Secret};

const START: &str = "mutation { startTotpEnrollment { secret otpauthUri } }";
const CONFIRM: &str = "mutation($c: String!) { confirmTotpEnrollment(code: $c) }";
const DISABLE: &str = "mutation($c: String!) { disableTotp(code: $c) }";
const REGENERATE: &str = "mutation($c: String!) { regenerateRecoveryCodes(code: $c) }";
const VERIFY: &str = "mutation($t: String!, $c: String!) { verifyMfa(mfaToken: $t, code: $c) { user { username mfaEnabled } accessToken } }";
const MFA_ENABLED: &str = "{ me { mfaEnabled } }";

/// The code an authenticator app with `secret` shows at the app's current time.
pub(crate) fn code_now(app: &TestApp, secret: &str) -> String {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .with_account_name("test")
        .build()
        .unwrap();
    totp.generate(app.clock.now().timestamp() as u64)
        .to_string()
}

pub(crate) fn mfa_token(r: &Gql) -> String {
    assert_eq!(r.code(), "MFA_REQUIRED", "{}", r.body);
    r.errors().unwrap()[0]["extensions"]["mfaToken"]
        .as_str()
        .expect("extensions.mfaToken")
        .to_owned()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// Turns TOTP on for a new user; returns their client, the secret and the recovery codes.
async fn user_with_totp(app: &TestApp, name: &str) -> (Client, String, Vec<String>) {
    let (c, _) = app.new_user(name).await;
    let (secret, codes) = turn_totp_on(app, &c).await;
    (c, secret, codes)
}

/// Turns TOTP on for the logged-in `c`; returns the secret and the recovery codes.
pub(crate) async fn turn_totp_on(app: &TestApp, c: &Client) -> (String, Vec<String>) {
    let r = c.gql(START, json!({})).await.ok();
    let secret = r.data()["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .gql(CONFIRM, json!({ "c": code_now(app, &secret) }))
        .await
        .ok();
    (secret, strings(&r.data()["confirmTotpEnrollment"]))
}

on_every_store!(
    totp_enrollment_and_login,
    mfa_tokens_are_single_use_and_short_lived,
    recovery_codes_work_once_and_can_be_replaced,
);

async fn totp_enrollment_and_login(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("guarded").await;
    assert_eq!(
        c.gql(MFA_ENABLED, json!({})).await.ok().data()["me"]["mfaEnabled"],
        false
    );
    // Enrollment needs a login.
    assert_eq!(
        app.client().gql(START, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    let r = c.gql(START, json!({})).await.ok();
    let secret = r.data()["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = r.data()["startTotpEnrollment"]["otpauthUri"]
        .as_str()
        .unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(uri.contains("issuer=Quiz%20LLM"), "{uri}");
    // Not on until a code confirms it: a wrong one does not.
    assert_eq!(
        c.gql(CONFIRM, json!({ "c": "000000" })).await.code(),
        "INVALID_MFA_CODE"
    );
    assert_eq!(
        c.gql(MFA_ENABLED, json!({})).await.ok().data()["me"]["mfaEnabled"],
        false
    );
    let confirmed_with = code_now(&app, &secret);
    let r = c.gql(CONFIRM, json!({ "c": confirmed_with })).await.ok();
    let codes = strings(&r.data()["confirmTotpEnrollment"]);
    assert_eq!(codes.len(), 10);
    assert_eq!(
        c.gql(MFA_ENABLED, json!({})).await.ok().data()["me"]["mfaEnabled"],
        true
    );
    // A second enrollment waits until this one is off.
    assert_eq!(c.gql(START, json!({})).await.code(), "BAD_USER_INPUT");

    // The password alone no longer logs in, and sets no cookie.
    let phone = app.client();
    let r = phone.login("guarded", PASSWORD).await;
    let token = mfa_token(&r);
    assert!(r.set_cookie("access").is_none(), "{:?}", r.set_cookies());
    // The code that confirmed enrollment was used up (same step): a replay.
    let r = phone
        .gql(VERIFY, json!({ "t": token, "c": confirmed_with }))
        .await;
    assert_eq!(r.code(), "INVALID_MFA_CODE", "{}", r.body);

    // Next step, next login: a fresh code finishes it, with cookies.
    app.clock.advance(Duration::from_secs(30));
    let token = mfa_token(&phone.login("guarded", PASSWORD).await);
    let r = phone
        .gql(VERIFY, json!({ "t": token, "c": code_now(&app, &secret) }))
        .await
        .ok();
    assert_eq!(r.data()["verifyMfa"]["user"]["username"], "guarded");
    assert_eq!(r.data()["verifyMfa"]["user"]["mfaEnabled"], true);
    assert!(r.set_cookie("access").is_some());
    assert_eq!(phone.me().await.ok().data()["me"]["username"], "guarded");

    // Off with a current code (next step); the password alone logs in again.
    app.clock.advance(Duration::from_secs(30));
    let r = c
        .gql(DISABLE, json!({ "c": code_now(&app, &secret) }))
        .await
        .ok();
    assert_eq!(r.data()["disableTotp"], true);
    app.client().login("guarded", PASSWORD).await.ok();
    // The old recovery codes died with it.
    assert_eq!(
        c.gql(DISABLE, json!({ "c": codes[0] })).await.code(),
        "INVALID_MFA_CODE"
    );
}

async fn mfa_tokens_are_single_use_and_short_lived(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (_, secret, _) = user_with_totp(&app, "careful").await;
    let c = app.client();

    // Used once (right code): never again, even with another right code.
    app.clock.advance(Duration::from_secs(30));
    let token = mfa_token(&c.login("careful", PASSWORD).await);
    c.gql(VERIFY, json!({ "t": token, "c": code_now(&app, &secret) }))
        .await
        .ok();
    app.clock.advance(Duration::from_secs(30));
    let r = c
        .gql(VERIFY, json!({ "t": token, "c": code_now(&app, &secret) }))
        .await;
    assert_eq!(r.code(), "INVALID_TOKEN", "{}", r.body);

    // A wrong code uses the token up too: guessing needs the password each time.
    let token = mfa_token(&c.login("careful", PASSWORD).await);
    let r = c.gql(VERIFY, json!({ "t": token, "c": "123456" })).await;
    assert_eq!(r.code(), "INVALID_MFA_CODE", "{}", r.body);
    let r = c
        .gql(VERIFY, json!({ "t": token, "c": code_now(&app, &secret) }))
        .await;
    assert_eq!(r.code(), "INVALID_TOKEN", "{}", r.body);

    // Five minutes, then gone.
    let token = mfa_token(&c.login("careful", PASSWORD).await);
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    let r = c
        .gql(VERIFY, json!({ "t": token, "c": code_now(&app, &secret) }))
        .await;
    assert_eq!(r.code(), "INVALID_TOKEN", "{}", r.body);

    // Bound to its login: a newer login replaces it; a forged one names nobody.
    let first = mfa_token(&c.login("careful", PASSWORD).await);
    let second = mfa_token(&c.login("careful", PASSWORD).await);
    let r = c
        .gql(VERIFY, json!({ "t": first, "c": code_now(&app, &secret) }))
        .await;
    assert_eq!(r.code(), "INVALID_TOKEN", "{}", r.body);
    let r = c
        .gql(VERIFY, json!({ "t": "not-a-token", "c": "123456" }))
        .await;
    assert_eq!(r.code(), "INVALID_TOKEN", "{}", r.body);
    c.gql(VERIFY, json!({ "t": second, "c": code_now(&app, &secret) }))
        .await
        .ok();
}

async fn recovery_codes_work_once_and_can_be_replaced(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (owner, _, codes) = user_with_totp(&app, "forgetful").await;
    let c = app.client();
    // A recovery code finishes a login, however it is typed; once.
    let token = mfa_token(&c.login("forgetful", PASSWORD).await);
    let typed = codes[0].to_uppercase().replace('-', " ");
    c.gql(VERIFY, json!({ "t": token, "c": typed })).await.ok();
    let token = mfa_token(&c.login("forgetful", PASSWORD).await);
    let r = c.gql(VERIFY, json!({ "t": token, "c": codes[0] })).await;
    assert_eq!(r.code(), "INVALID_MFA_CODE", "{}", r.body);

    // New codes (given an old one): the old ones stop working, the new ones work.
    let r = owner.gql(REGENERATE, json!({ "c": codes[1] })).await.ok();
    let fresh = strings(&r.data()["regenerateRecoveryCodes"]);
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|f| !codes.contains(f)));
    let token = mfa_token(&c.login("forgetful", PASSWORD).await);
    let r = c.gql(VERIFY, json!({ "t": token, "c": codes[2] })).await;
    assert_eq!(r.code(), "INVALID_MFA_CODE", "{}", r.body);
    let token = mfa_token(&c.login("forgetful", PASSWORD).await);
    c.gql(VERIFY, json!({ "t": token, "c": fresh[0] }))
        .await
        .ok();
}

#[tokio::test]
async fn wrong_codes_count_against_the_login_limit() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.login_per_account = "6/1h".parse().unwrap();
    })
    .await
    .unwrap();
    let (owner, _, _) = user_with_totp(&app, "targeted").await;
    // Enrollment's confirmation was the first of six attempts; each login and each code is one
    // more, so the third wrong code is the seventh: refused, while its login got through.
    let c = app.client();
    for round in 1..=3 {
        let token = mfa_token(&c.login("targeted", PASSWORD).await);
        let r = c.gql(VERIFY, json!({ "t": token, "c": "000000" })).await;
        let expected = if round < 3 {
            "INVALID_MFA_CODE"
        } else {
            "RATE_LIMITED"
        };
        assert_eq!(r.code(), expected, "round {round}: {}", r.body);
    }
    // The logged-in owner's code checks count on the same budget.
    assert_eq!(
        owner.gql(DISABLE, json!({ "c": "000000" })).await.code(),
        "RATE_LIMITED"
    );
}

/// The second login step from a page of the site sets the cookie and puts no token in the
/// body, where a script could read it.
#[tokio::test]
async fn the_second_step_from_a_page_sends_no_token() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let (_, secret, _) = user_with_totp(&app, "paged").await;
    let page = app.client().in_page("http://quiz.test");
    app.clock.advance(Duration::from_secs(30));
    let token = mfa_token(&page.login("paged", PASSWORD).await);
    let r = page
        .gql(VERIFY, json!({ "t": token, "c": code_now(&app, &secret) }))
        .await
        .ok();
    assert_eq!(
        r.data()["verifyMfa"]["accessToken"],
        Value::Null,
        "{}",
        r.body
    );
    assert!(r.set_cookie("access").is_some());
    assert_eq!(page.me().await.ok().data()["me"]["username"], "paged");
}

/// Second steps with made-up tokens (each naming some account id) stop at the client's limit.
#[tokio::test]
async fn forged_second_steps_are_limited_per_client() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.mfa_per_client = "5/1h".parse().unwrap();
    })
    .await
    .unwrap();
    let c = app.client();
    let forged = || json!({ "t": format!("{}.forged", uuid::Uuid::new_v4()), "c": "123456" });
    for _ in 0..5 {
        let r = c.gql(VERIFY, forged()).await;
        assert_eq!(r.code(), "INVALID_TOKEN", "{}", r.body);
    }
    let r = c.gql(VERIFY, forged()).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    assert!(
        r.errors().unwrap()[0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );
}
