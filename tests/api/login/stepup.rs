//! Stolen access tokens: changing how an account signs in needs a recent authentication of the
//! session (`reauthenticate`), every such change is e-mailed to the owner, and a password reset
//! by e-mail removes every passkey while TOTP stays on.

use crate::common;

use std::time::Duration;

use common::{Backend, Client, Gql, PASSWORD, TestApp};
use serde_json::{Value, json};

use crate::{
    mfa::{code_now, mfa_token, turn_totp_on},
    passkeys::{START_REGISTRATION, log_in, my_passkeys, register},
};

pub(crate) const REAUTH: &str =
    "mutation($p: String, $c: String) { reauthenticate(password: $p, code: $c) }";
const START_TOTP: &str = "mutation { startTotpEnrollment { secret } }";
const DISABLE: &str = "mutation($c: String!) { disableTotp(code: $c) }";
const REGENERATE: &str = "mutation($c: String!) { regenerateRecoveryCodes(code: $c) }";
const DELETE_PASSKEY: &str = "mutation($id: ID!) { deletePasskey(id: $id) }";
const VERIFY: &str =
    "mutation($t: String!, $c: String!) { verifyMfa(mfaToken: $t, code: $c) { accessToken } }";
const REAUTH_WINDOW: Duration = Duration::from_secs(5 * 60);

async fn reauth(c: &Client, password: Option<&str>, code: Option<&str>) -> Gql {
    c.gql(REAUTH, json!({ "p": password, "c": code })).await
}

on_every_store!(
    a_stolen_token_cannot_change_sign_in_factors,
    a_reset_removes_passkeys_and_keeps_totp,
);

async fn a_stolen_token_cannot_change_sign_in_factors(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (owner, _) = app.new_user("victim").await;
    let r = app.client().login("victim", PASSWORD).await.ok();
    let stolen = r.data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    // Later, the token still good (15 minutes), its login no longer recent.
    app.clock.advance(REAUTH_WINDOW + Duration::from_secs(1));
    let thief = app.client().with_bearer(&stolen);
    for (what, query) in [("passkey", START_REGISTRATION), ("totp", START_TOTP)] {
        let r = thief.gql(query, json!({})).await;
        assert_eq!(r.code(), "REAUTHENTICATION_REQUIRED", "{what}: {}", r.body);
    }
    // Without the password the thief cannot prove the session again.
    let r = reauth(&thief, Some("a guess"), None).await;
    assert_eq!(r.code(), "INVALID_CREDENTIALS", "{}", r.body);
    let r = reauth(&thief, None, None).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("password")));
    assert_eq!(
        thief.gql(START_TOTP, json!({})).await.code(),
        "REAUTHENTICATION_REQUIRED"
    );
    assert_eq!(
        app.client()
            .gql(REAUTH, json!({ "p": PASSWORD }))
            .await
            .code(),
        "UNAUTHENTICATED"
    );

    // The owner's own session, logged in as long ago, proves itself and may change factors;
    // that counts for this session only.
    assert_eq!(
        owner.gql(START_REGISTRATION, json!({})).await.code(),
        "REAUTHENTICATION_REQUIRED"
    );
    let r = reauth(&owner, Some(PASSWORD), None).await.ok();
    assert_eq!(r.data()["reauthenticate"], true);
    assert_eq!(
        thief.gql(START_REGISTRATION, json!({})).await.code(),
        "REAUTHENTICATION_REQUIRED"
    );
    let (_, passkey_id) = register(&owner, "Laptop").await;
    let (secret, codes) = turn_totp_on(&app, &owner).await;

    // Removing factors needs it as much as adding them.
    app.clock.advance(REAUTH_WINDOW + Duration::from_secs(1));
    let refused = [
        owner.gql(DELETE_PASSKEY, json!({ "id": passkey_id })).await,
        owner.gql(DISABLE, json!({ "c": codes[0] })).await,
        owner.gql(REGENERATE, json!({ "c": codes[0] })).await,
    ];
    for r in refused {
        assert_eq!(r.code(), "REAUTHENTICATION_REQUIRED", "{}", r.body);
    }
    // With TOTP on, proving the session asks what a login asks: the password and a code.
    let r = reauth(&owner, Some(PASSWORD), None).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("code")));
    let r = reauth(&owner, Some(PASSWORD), Some("000000")).await;
    assert_eq!(r.code(), "INVALID_MFA_CODE", "{}", r.body);
    let r = reauth(&owner, Some("a guess"), Some(&code_now(&app, &secret))).await;
    assert_eq!(r.code(), "INVALID_CREDENTIALS", "{}", r.body);
    reauth(&owner, Some(PASSWORD), Some(&code_now(&app, &secret)))
        .await
        .ok();
    owner
        .gql(DELETE_PASSKEY, json!({ "id": passkey_id }))
        .await
        .ok();
    owner.gql(REGENERATE, json!({ "c": codes[1] })).await.ok();

    // A fresh login counts as a recent authentication, for REAUTH_WINDOW.
    let laptop = app.client();
    let token = mfa_token(&laptop.login("victim", PASSWORD).await);
    app.clock.advance(Duration::from_secs(30));
    laptop
        .gql(VERIFY, json!({ "t": token, "c": code_now(&app, &secret) }))
        .await
        .ok();
    laptop.gql(START_REGISTRATION, json!({})).await.ok();
    app.clock.advance(REAUTH_WINDOW + Duration::from_secs(1));
    assert_eq!(
        laptop.gql(START_REGISTRATION, json!({})).await.code(),
        "REAUTHENTICATION_REQUIRED"
    );
}

async fn a_reset_removes_passkeys_and_keeps_totp(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (owner, email) = app.new_user("forgetful").await;
    let (mut key, _) = register(&owner, "Planted?").await;
    let (secret, _) = turn_totp_on(&app, &owner).await;
    log_in(&app, &mut key, None).await.ok();

    app.client()
        .gql(
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": email }),
        )
        .await
        .ok();
    let link = app.reset_link(&email).await;
    let new_password = "a fresh passphrase for a fresh start";
    app.client()
        .gql(
            "mutation($u: String!, $t: String!, $p: String!) { resetPassword(uid: $u, token: $t, newPassword: $p) }",
            json!({ "u": link.uid, "t": link.token, "p": new_password }),
        )
        .await
        .ok();

    // The mailbox alone logs in with neither the passkey nor past TOTP.
    let r = log_in(&app, &mut key, None).await;
    assert_eq!(r.code(), "UNAUTHENTICATED", "{}", r.body);
    let r = log_in(&app, &mut key, Some("forgetful")).await;
    assert_eq!(r.code(), "UNAUTHENTICATED", "{}", r.body);
    let browser = app.client();
    let token = mfa_token(&browser.login("forgetful", new_password).await);
    app.clock.advance(Duration::from_secs(30));
    browser
        .gql(VERIFY, json!({ "t": token, "c": code_now(&app, &secret) }))
        .await
        .ok();
    assert_eq!(my_passkeys(&browser).await, Vec::<Value>::new());

    // The confirmation says what the reset did.
    let mail = app.emails_to(&email).pop().unwrap();
    assert!(
        mail.contains("Subject: Your Quiz LLM password was reset"),
        "{mail}"
    );
    assert!(mail.contains("1 passkey was removed"), "{mail}");
    assert!(mail.contains("Two-factor login is still on"), "{mail}");
}

/// Every change to how an account signs in is e-mailed to its owner, as it happens.
#[tokio::test]
async fn sign_in_changes_are_emailed_to_the_owner() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let (owner, email) = app.new_user("notified").await;
    let newest = || app.emails_to(&email).pop().unwrap();
    let told = |mail: String, subject: &str, says: &str| {
        assert!(mail.contains(&format!("Subject: {subject}")), "{mail}");
        assert!(mail.contains(says), "{mail}");
        assert!(mail.contains("If this was not you"), "{mail}");
    };

    register(&owner, "Work laptop").await;
    told(
        newest(),
        "A passkey was added to your Quiz LLM account",
        "\"Work laptop\"",
    );
    let (secret, codes) = turn_totp_on(&app, &owner).await;
    told(
        newest(),
        "Two-factor login was turned on for Quiz LLM",
        "asks for a code",
    );
    owner.gql(REGENERATE, json!({ "c": codes[0] })).await.ok();
    told(
        newest(),
        "New Quiz LLM recovery codes were made",
        "the old ones no longer work",
    );
    app.clock.advance(Duration::from_secs(30));
    owner
        .gql(DISABLE, json!({ "c": code_now(&app, &secret) }))
        .await
        .ok();
    told(
        newest(),
        "Two-factor login was turned off for Quiz LLM",
        "password alone",
    );
    owner
        .gql(
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": PASSWORD, "n": "another long passphrase to remember" }),
        )
        .await
        .ok();
    told(
        newest(),
        "Your Quiz LLM password was changed",
        "other sessions were logged out",
    );
    // The sign-up's link and the five notices; nothing else.
    assert_eq!(app.emails_to(&email).len(), 6);
}

/// Wrong passwords given to `reauthenticate` count against the account's login limit.
#[tokio::test]
async fn reauthentication_counts_against_the_login_limits() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.login_per_account = "3/1h".parse().unwrap();
    })
    .await
    .unwrap();
    let (owner, _) = app.new_user("guessed").await;
    for _ in 0..3 {
        let r = reauth(&owner, Some("a guess"), None).await;
        assert_eq!(r.code(), "INVALID_CREDENTIALS", "{}", r.body);
    }
    let r = reauth(&owner, Some(PASSWORD), None).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    assert!(
        r.errors().unwrap()[0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(
        app.client().login("guessed", PASSWORD).await.code(),
        "RATE_LIMITED"
    );
}

/// `REAUTH_WINDOW` sets how long a login or `reauthenticate` counts.
#[tokio::test]
async fn the_window_is_a_setting() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.reauth_window = Duration::from_secs(60);
    })
    .await
    .unwrap();
    let (owner, _) = app.new_user("hurried").await;
    app.clock.advance(Duration::from_secs(59));
    owner.gql(START_TOTP, json!({})).await.ok();
    app.clock.advance(Duration::from_secs(2));
    assert_eq!(
        owner.gql(START_TOTP, json!({})).await.code(),
        "REAUTHENTICATION_REQUIRED"
    );
}
