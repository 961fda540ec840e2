//! Passkeys: registration, listing on `me`, login by username or with a discoverable
//! credential (complete on its own, TOTP or not), sign counters, single-use and short-lived
//! challenges, deletion, and the login limits. A software authenticator (`common::passkey`)
//! answers the options the server hands out, as a browser's authenticator would.

use crate::common;

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use common::{Backend, Client, Gql, PASSWORD, TestApp, passkey::SoftPasskey};
use quiz_llm::domain::Clock;
use serde_json::{Value, json};

pub(crate) const START_REGISTRATION: &str =
    "mutation { startPasskeyRegistration { challengeId options } }";
const FINISH_REGISTRATION: &str = "mutation($c: ID!, $cred: JSON!, $n: String) { finishPasskeyRegistration(challengeId: $c, credential: $cred, name: $n) { id name createdAt lastUsedAt } }";
const DELETE: &str = "mutation($id: ID!) { deletePasskey(id: $id) }";
pub(crate) const START_LOGIN: &str =
    "mutation($u: String) { startPasskeyLogin(username: $u) { challengeId options } }";
const FINISH_LOGIN: &str = "mutation($c: ID!, $cred: JSON!) { finishPasskeyLogin(challengeId: $c, credential: $cred) { user { username mfaEnabled } accessToken message } }";
const MY_PASSKEYS: &str = "{ me { passkeys { id name createdAt lastUsedAt } } }";
/// The pages' origin: the tests' `PUBLIC_URL`, from which the relying party follows.
pub(crate) const ORIGIN: &str = "http://quiz.test";

/// `challengeId` and `options` of a started ceremony.
fn started(r: Gql, field: &str) -> (String, Value) {
    let r = r.ok();
    let c = &r.data()[field];
    (
        c["challengeId"].as_str().unwrap().to_owned(),
        c["options"].clone(),
    )
}

pub(crate) async fn start_registration(c: &Client) -> (String, Value) {
    started(
        c.gql(START_REGISTRATION, json!({})).await,
        "startPasskeyRegistration",
    )
}

async fn finish_registration(c: &Client, id: &str, credential: Value, name: Option<&str>) -> Gql {
    c.gql(
        FINISH_REGISTRATION,
        json!({ "c": id, "cred": credential, "n": name }),
    )
    .await
}

/// Registers a new passkey for the logged-in `c`; returns its authenticator and its id.
pub(crate) async fn register(c: &Client, name: &str) -> (SoftPasskey, String) {
    let (id, options) = start_registration(c).await;
    let (key, credential) = SoftPasskey::register(&options, ORIGIN);
    let r = finish_registration(c, &id, credential, Some(name))
        .await
        .ok();
    let passkey_id = r.data()["finishPasskeyRegistration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (key, passkey_id)
}

pub(crate) async fn start_login(c: &Client, username: Option<&str>) -> (String, Value) {
    started(
        c.gql(START_LOGIN, json!({ "u": username })).await,
        "startPasskeyLogin",
    )
}

pub(crate) async fn finish_login(c: &Client, id: &str, credential: Value) -> Gql {
    c.gql(FINISH_LOGIN, json!({ "c": id, "cred": credential }))
        .await
}

/// A whole login with `key` on a new browser, by username or not.
pub(crate) async fn log_in(app: &TestApp, key: &mut SoftPasskey, username: Option<&str>) -> Gql {
    let browser = app.client();
    let (id, options) = start_login(&browser, username).await;
    finish_login(&browser, &id, key.login(&options)).await
}

pub(crate) async fn my_passkeys(c: &Client) -> Vec<Value> {
    c.gql(MY_PASSKEYS, json!({})).await.ok().data()["me"]["passkeys"]
        .as_array()
        .unwrap()
        .clone()
}

on_every_store!(
    registration_listing_and_login,
    sign_counters_only_move_forward,
    login_challenges_are_single_use_and_short_lived,
    registration_challenges_are_single_use_and_checked,
    a_passkey_logs_in_only_its_owner,
    deleted_passkeys_are_gone,
    passkey_logins_count_against_login_limits,
    login_options_do_not_tell_accounts_apart,
);

/// A JSON value with every string replaced by its length and every number by 0: what two
/// answers must share to be told apart by nothing but their random bytes.
fn shape(v: &Value) -> Value {
    match v {
        Value::String(s) => json!(s.len()),
        Value::Number(_) => json!(0),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        other => other.clone(),
    }
}

async fn login_options_do_not_tell_accounts_apart(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (holder, _) = app.new_user("holder").await;
    let (mut key, _) = register(&holder, "Key").await;
    register(&holder, "Spare").await;
    app.new_user("keyless").await;
    let mut shapes = Vec::new();
    for name in ["holder", "keyless", "nobody-by-this-name"] {
        let (_, options) = start_login(&app.client(), Some(name)).await;
        assert!(
            options["publicKey"]["allowCredentials"]
                .as_array()
                .is_none_or(Vec::is_empty),
            "{name}: {options}"
        );
        shapes.push((name, shape(&options)));
    }
    for (name, s) in &shapes[1..] {
        assert_eq!(s, &shapes[0].1, "{name} vs holder");
    }
    // The holder's passkey still logs in by name.
    log_in(&app, &mut key, Some("holder")).await.ok();
}

#[tokio::test]
async fn passkey_registration_is_limited_per_user() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.passkey_registration_per_user = "3/1h".parse().unwrap();
    })
    .await
    .unwrap();
    let (busy, _) = app.new_user("busy").await;
    let (calm, _) = app.new_user("calm").await;
    for _ in 0..3 {
        start_registration(&busy).await;
    }
    let r = busy.gql(START_REGISTRATION, json!({})).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    assert!(
        r.errors().unwrap()[0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );
    // Per user: another account starts its own.
    register(&calm, "Key").await;
}

async fn registration_listing_and_login(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("keyholder").await;
    assert_eq!(my_passkeys(&c).await, Vec::<Value>::new());
    // Registration needs a login.
    assert_eq!(
        app.client().gql(START_REGISTRATION, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    let (id, options) = start_registration(&c).await;
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], "quiz.test", "{options}");
    assert_eq!(public_key["user"]["name"], "keyholder");
    let selection = &public_key["authenticatorSelection"];
    // Discoverable only: a login lists no credentials, so only a resident one can answer.
    assert_eq!(selection["residentKey"], "required", "{options}");
    assert_eq!(selection["requireResidentKey"], true, "{options}");
    assert_eq!(selection["userVerification"], "required", "{options}");
    let (mut key, credential) = SoftPasskey::register(&options, ORIGIN);
    let r = finish_registration(&c, &id, credential, Some(" Laptop "))
        .await
        .ok();
    let created = r.data()["finishPasskeyRegistration"].clone();
    assert_eq!(created["name"], "Laptop");
    assert_eq!(created["lastUsedAt"], Value::Null);
    assert_eq!(my_passkeys(&c).await, vec![created.clone()]);
    // A second registration leaves the first authenticator out.
    let (_, options) = start_registration(&c).await;
    assert_eq!(
        options["publicKey"]["excludeCredentials"][0]["id"],
        B64.encode(&key.credential_id),
        "{options}"
    );

    // With TOTP on, the password alone asks for a code; a passkey is a whole login by itself.
    let r = c
        .gql("mutation { startTotpEnrollment { secret } }", json!({}))
        .await
        .ok();
    let secret = r.data()["startTotpEnrollment"]["secret"].as_str().unwrap();
    c.gql(
        "mutation($c: String!) { confirmTotpEnrollment(code: $c) }",
        json!({ "c": crate::mfa::code_now(&app, secret) }),
    )
    .await
    .ok();
    assert_eq!(
        app.client().login("keyholder", PASSWORD).await.code(),
        "MFA_REQUIRED"
    );

    // Without a username: the authenticator picks a discoverable credential.
    app.clock.advance(Duration::from_secs(60));
    let phone = app.client();
    let (id, options) = start_login(&phone, None).await;
    let before = app.clock.now();
    assert!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{options}"
    );
    assert_eq!(options["mediation"], Value::Null, "{options}");
    let r = finish_login(&phone, &id, key.login(&options)).await.ok();
    let after = app.clock.now();
    assert_eq!(
        r.data()["finishPasskeyLogin"]["user"]["username"],
        "keyholder"
    );
    assert_eq!(r.data()["finishPasskeyLogin"]["user"]["mfaEnabled"], true);
    assert!(r.set_cookie("access").is_some(), "{:?}", r.set_cookies());
    assert!(r.set_cookie("username").is_some(), "{:?}", r.set_cookies());
    assert_eq!(phone.me().await.ok().data()["me"]["username"], "keyholder");
    // The session remembers how it signed in.
    let sessions = phone
        .gql("{ sessions { current signInMethod } }", json!({}))
        .await
        .ok();
    assert_eq!(
        sessions.data()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == true)
            .map(|s| &s["signInMethod"]),
        Some(&json!("PASSKEY")),
        "{}",
        sessions.body
    );
    let used = my_passkeys(&c).await;
    assert_eq!(used[0]["id"], created["id"]);
    let last_used: chrono::DateTime<chrono::Utc> =
        used[0]["lastUsedAt"].as_str().unwrap().parse().unwrap();
    assert!(before <= last_used && last_used <= after, "{last_used}");

    // By username (or e-mail address): the options name no passkey, the account's answers.
    for name in ["keyholder", "keyholder@example.com"] {
        let laptop = app.client();
        let (id, options) = start_login(&laptop, Some(name)).await;
        assert!(
            options["publicKey"]["allowCredentials"]
                .as_array()
                .is_none_or(Vec::is_empty),
            "{options}"
        );
        let r = finish_login(&laptop, &id, key.login(&options)).await.ok();
        assert_eq!(
            r.data()["finishPasskeyLogin"]["user"]["username"],
            "keyholder"
        );
        assert_eq!(laptop.me().await.ok().data()["me"]["username"], "keyholder");
    }
}

/// An authenticator whose counter does not move past the last one seen could be a clone.
async fn sign_counters_only_move_forward(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("counted").await;
    let (mut key, _) = register(&c, "Key").await;
    key.counter = 4;
    log_in(&app, &mut key, None).await.ok();
    for stale in [5, 3, 0] {
        let browser = app.client();
        let (id, options) = start_login(&browser, Some("counted")).await;
        let r = finish_login(&browser, &id, key.assert(&options, stale)).await;
        assert_eq!(r.code(), "UNAUTHENTICATED", "counter {stale}: {}", r.body);
        assert!(r.set_cookie("access").is_none());
    }
    // The refused attempts moved nothing: the next count still works.
    log_in(&app, &mut key, None).await.ok();
}

async fn login_challenges_are_single_use_and_short_lived(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("onetime").await;
    let (mut key, _) = register(&c, "Key").await;

    // Used once: the same answer, or a fresh one, for a finished challenge is refused.
    let browser = app.client();
    let (id, options) = start_login(&browser, None).await;
    let answer = key.login(&options);
    finish_login(&browser, &id, answer.clone()).await.ok();
    for again in [answer, key.login(&options)] {
        let r = finish_login(&app.client(), &id, again).await;
        assert_eq!(r.code(), "UNAUTHENTICATED", "{}", r.body);
    }
    let r = finish_login(&app.client(), "not-an-id", key.login(&options)).await;
    assert_eq!(r.code(), "UNAUTHENTICATED");

    // Racing finishes of one challenge (as from two server processes): one winner.
    let (id, options) = start_login(&browser, None).await;
    let answer = key.login(&options);
    let finishes = futures_util::future::join_all((0..6).map(|_| {
        let (client, id, answer) = (app.client(), id.clone(), answer.clone());
        tokio::spawn(async move { finish_login(&client, &id, answer).await })
    }))
    .await;
    let won = finishes
        .into_iter()
        .map(|r| r.unwrap())
        .filter(|r| {
            if r.errors().is_some() {
                assert_eq!(r.code(), "UNAUTHENTICATED", "{}", r.body);
            }
            r.errors().is_none()
        })
        .count();
    assert_eq!(won, 1);

    // Five minutes to answer: just inside works, just past does not.
    let (id, options) = start_login(&browser, None).await;
    app.clock.advance(Duration::from_secs(5 * 60 - 1));
    finish_login(&browser, &id, key.login(&options)).await.ok();
    let (id, options) = start_login(&browser, Some("onetime")).await;
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    let r = finish_login(&browser, &id, key.login(&options)).await;
    assert_eq!(r.code(), "UNAUTHENTICATED", "{}", r.body);
}

async fn registration_challenges_are_single_use_and_checked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("careful").await;
    let (other, _) = app.new_user("intruder").await;
    let (id, options) = start_registration(&c).await;
    let (_, credential) = SoftPasskey::register(&options, ORIGIN);

    // Bad input is refused without using the challenge up.
    let r = finish_registration(&c, &id, json!({ "not": "a credential" }), None).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("credential"))
    );
    let r = finish_registration(&c, &id, credential.clone(), Some(&"x".repeat(65))).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("name")));
    // Another user cannot finish it (and uses it up trying).
    let r = finish_registration(&other, &id, credential.clone(), None).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("challengeId"))
    );
    assert_eq!(
        my_passkeys(&other).await,
        Vec::<Value>::new(),
        "nothing registered for the intruder"
    );
    let r = finish_registration(&c, &id, credential, None).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("challengeId"))
    );

    // An answer made for another origin does not verify, and the challenge is gone after it.
    let (id, options) = start_registration(&c).await;
    let (_, phished) = SoftPasskey::register(&options, "http://evil.test");
    let r = finish_registration(&c, &id, phished, None).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("credential"))
    );
    let (_, credential) = SoftPasskey::register(&options, ORIGIN);
    let r = finish_registration(&c, &id, credential, None).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("challengeId"))
    );

    // A login challenge does not finish a registration.
    let (login_id, _) = start_login(&app.client(), None).await;
    let (_, credential) = SoftPasskey::register(&options, ORIGIN);
    let r = finish_registration(&c, &login_id, credential, None).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("challengeId"))
    );

    // Expired after five minutes (the session proves itself again meanwhile).
    let (id, options) = start_registration(&c).await;
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    c.gql(crate::login::stepup::REAUTH, json!({ "p": PASSWORD }))
        .await
        .ok();
    let (_, credential) = SoftPasskey::register(&options, ORIGIN);
    let r = finish_registration(&c, &id, credential, None).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("challengeId"))
    );

    // Used once; the credential may come as a JSON string too, and the name has a default.
    let (id, options) = start_registration(&c).await;
    let (_, credential) = SoftPasskey::register(&options, ORIGIN);
    let r = finish_registration(&c, &id, Value::String(credential.to_string()), None)
        .await
        .ok();
    assert_eq!(r.data()["finishPasskeyRegistration"]["name"], "Passkey");
    let r = finish_registration(&c, &id, credential, None).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("challengeId"))
    );
    assert_eq!(my_passkeys(&c).await.len(), 1);
}

async fn a_passkey_logs_in_only_its_owner(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (alice, _) = app.new_user("alice").await;
    let (bob, _) = app.new_user("bob").await;
    let (mut alices_key, _) = register(&alice, "Alice's").await;
    register(&bob, "Bob's").await;
    // Options for Bob's account (or an unknown one) do not take Alice's passkey.
    for name in ["bob", "nobody"] {
        let r = log_in(&app, &mut alices_key, Some(name)).await;
        assert_eq!(r.code(), "UNAUTHENTICATED", "{name}: {}", r.body);
    }
    let r = log_in(&app, &mut alices_key, Some("alice")).await.ok();
    assert_eq!(r.data()["finishPasskeyLogin"]["user"]["username"], "alice");
    // `passkeys` is only ever the caller's own.
    let r = alice
        .gql("{ me { username passkeys { name } } }", json!({}))
        .await
        .ok();
    assert_eq!(r.data()["me"]["passkeys"], json!([{ "name": "Alice's" }]));
    let r = app
        .client()
        .gql(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { user { passkeys { name } } } }",
            json!({ "u": "bob", "p": PASSWORD }),
        )
        .await;
    assert_eq!(r.code(), "UNAUTHENTICATED", "{}", r.body);
}

async fn deleted_passkeys_are_gone(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (owner, _) = app.new_user("owner").await;
    let (stranger, _) = app.new_user("stranger").await;
    let (mut key, id) = register(&owner, "Key").await;

    // Not anybody else's to delete.
    for (client, target) in [(&stranger, id.as_str()), (&owner, "not-an-id")] {
        let r = client.gql(DELETE, json!({ "id": target })).await;
        assert_eq!(r.code(), "NOT_FOUND", "{}", r.body);
    }
    assert_eq!(
        app.client().gql(DELETE, json!({ "id": id })).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(my_passkeys(&owner).await.len(), 1);
    log_in(&app, &mut key, None).await.ok();

    let r = owner.gql(DELETE, json!({ "id": id })).await.ok();
    assert_eq!(r.data()["deletePasskey"], true);
    assert_eq!(my_passkeys(&owner).await, Vec::<Value>::new());
    assert_eq!(
        owner.gql(DELETE, json!({ "id": id })).await.code(),
        "NOT_FOUND"
    );
    // It logs nobody in any more.
    for username in [None, Some("owner")] {
        let r = log_in(&app, &mut key, username).await;
        assert_eq!(r.code(), "UNAUTHENTICATED", "{}", r.body);
    }
}

async fn passkey_logins_count_against_login_limits(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.auth.rate_limits.login_per_client = "5/1h".parse().unwrap();
    })
    .await
    else {
        return;
    };
    let (c, _) = app.new_user("limited").await;
    let (mut key, _) = register(&c, "Key").await;
    // Each start and each finish is an attempt: two logins, then the fifth attempt is the last.
    log_in(&app, &mut key, None).await.ok();
    log_in(&app, &mut key, Some("limited")).await.ok();
    let browser = app.client();
    let (id, options) = start_login(&browser, None).await;
    let r = finish_login(&browser, &id, key.login(&options)).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    assert!(
        r.errors().unwrap()[0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );
    let r = browser.gql(START_LOGIN, json!({})).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
}

/// A passkey login from a page of the site sets the cookie and puts no token in the body,
/// where a script could read it.
#[tokio::test]
async fn a_passkey_login_from_a_page_sends_no_token() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let (c, _) = app.new_user("pagekey").await;
    let (mut key, _) = register(&c, "laptop").await;
    let page = app.client().in_page(ORIGIN);
    let (id, options) = start_login(&page, Some("pagekey")).await;
    let r = finish_login(&page, &id, key.login(&options)).await.ok();
    assert_eq!(
        r.data()["finishPasskeyLogin"]["accessToken"],
        Value::Null,
        "{}",
        r.body
    );
    assert!(r.set_cookie("access").is_some());
    assert_eq!(page.me().await.ok().data()["me"]["username"], "pagekey");
}
