//! Guests: a session without an account, quizzes made and answered as a guest, signing up in
//! place (same id, quizzes and results kept, the usual confirmation e-mail), what a guest may
//! not do, the per-client limit, deletion after `GUEST_TTL` idle (the clock moved, the clean-up
//! run on demand), and how each session signed in.

use crate::common;

use std::time::Duration;

use common::{APOLLO_11, Backend, Client, Gql, PASSWORD, TestApp};
use quiz_llm::domain::UserId;
use serde_json::{Value, json};

use crate::mfa::{code_now, mfa_token};

const START_GUEST: &str = "mutation { startGuestSession { user { id username email isActive isGuest } accessToken message } }";
pub(crate) const UPGRADE: &str = "mutation($i: SignUpInput!) { upgradeGuest(input: $i) { user { id username email isActive isGuest } message } }";
const ME: &str = "{ me { id username email isGuest } }";
const COUNTS: &str = "{ quizzes { totalCount } quizResults { totalCount } }";
const METHODS: &str = "{ sessions { signInMethod current } }";

pub(crate) fn sign_up_input(username: &str, email: &str, password: &str) -> Value {
    json!({ "i": { "username": username, "email": email, "password": password } })
}

/// A browser logged in as a new guest; the guest's id.
pub(crate) async fn guest(app: &TestApp) -> (Client, String) {
    let c = app.client();
    let r = c.gql(START_GUEST, json!({})).await.ok();
    let id = r.data()["startGuestSession"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (c, id)
}

/// Makes a quiz offline from study text and answers it; the quiz's id.
async fn play(c: &Client) -> String {
    let r = c
        .generate_quiz(json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 3 }))
        .await
        .ok();
    let quiz = &r.data()["generateQuiz"];
    assert_eq!(quiz["source"], "OFFLINE");
    let id = quiz["id"].as_str().unwrap().to_owned();
    c.submit(&id, &[(1, 1), (2, 1), (3, 2)]).await.ok();
    id
}

fn methods(r: &Gql) -> Vec<(String, bool)> {
    r.data()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["signInMethod"].as_str().unwrap().to_owned(),
                s["current"].as_bool().unwrap(),
            )
        })
        .collect()
}

on_every_store!(
    a_guest_plays_then_signs_up_in_place,
    signing_up_a_guest_checks_what_sign_up_checks,
    guests_cannot_touch_passwords_or_second_factors,
    guest_sessions_are_limited_per_client,
    idle_guests_are_deleted_with_their_data,
    sessions_show_how_they_signed_in,
);

async fn a_guest_plays_then_signs_up_in_place(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let c = app.client();
    let r = c.gql(START_GUEST, json!({})).await.ok();
    assert!(r.set_cookie("access").is_some(), "{:?}", r.set_cookies());
    let user = &r.data()["startGuestSession"]["user"];
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (user["isGuest"].as_bool(), user["isActive"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(user["email"], "");
    let name = user["username"].as_str().unwrap().to_owned();
    assert!(name.starts_with("guest#"), "{name}");
    let me = c.gql(ME, json!({})).await.ok();
    assert_eq!(me.data()["me"]["id"], id.as_str());
    assert_eq!(me.data()["me"]["isGuest"], true);
    // Nobody can log in as a guest: it has no password (and its made-up name is no login).
    assert_eq!(
        app.client().login(&name, PASSWORD).await.code(),
        "INVALID_CREDENTIALS"
    );

    let quiz_id = play(&c).await;
    let r = c
        .gql(UPGRADE, sign_up_input("ada", "ada@example.com", PASSWORD))
        .await
        .ok();
    let user = &r.data()["upgradeGuest"]["user"];
    assert_eq!(user["id"], id.as_str());
    assert_eq!(user["username"], "ada");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(
        (user["isGuest"].as_bool(), user["isActive"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(
        r.set_cookie("access")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "the guest's session ends: {:?}",
        r.set_cookies()
    );
    // An unverified sign-up now: no session, no login until the link is opened.
    assert_eq!(c.me().await.ok().data()["me"], Value::Null);
    assert_eq!(
        app.client().login("ada", PASSWORD).await.code(),
        "EMAIL_NOT_VERIFIED"
    );
    let link = app.verification_link("ada@example.com");
    assert_eq!(link.uid, id);
    c.verify_email(&link.uid, &link.token).await.ok();

    let me = c.gql(ME, json!({})).await.ok();
    assert_eq!(me.data()["me"]["id"], id.as_str());
    assert_eq!(me.data()["me"]["isGuest"], false);
    let counts = c.gql(COUNTS, json!({})).await.ok();
    assert_eq!(counts.data()["quizzes"]["totalCount"], 1);
    assert_eq!(counts.data()["quizResults"]["totalCount"], 1);
    let quiz = c
        .gql(
            "query($id: ID!) { quiz(id: $id) { id } }",
            json!({ "id": quiz_id }),
        )
        .await
        .ok();
    assert_eq!(quiz.data()["quiz"]["id"], quiz_id.as_str());
    let laptop = app.client();
    let r = laptop.login("ada", PASSWORD).await.ok();
    assert_eq!(r.data()["login"]["user"]["id"], id.as_str());
}

async fn signing_up_a_guest_checks_what_sign_up_checks(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (member, _) = app.new_user("taken").await;
    let (c, id) = guest(&app).await;
    for (input, code, field) in [
        (
            sign_up_input("taken", "new@example.com", PASSWORD),
            "CONFLICT",
            "username",
        ),
        (
            sign_up_input("TAKEN.", "new@example.com", PASSWORD),
            "CONFLICT",
            "username",
        ),
        (
            sign_up_input("newname", "Taken@example.com", PASSWORD),
            "CONFLICT",
            "email",
        ),
        (
            sign_up_input("x", "new@example.com", PASSWORD),
            "BAD_USER_INPUT",
            "username",
        ),
        (
            sign_up_input("newname", "not-an-address", PASSWORD),
            "BAD_USER_INPUT",
            "email",
        ),
        (
            sign_up_input("newname", "new@example.com", "short"),
            "BAD_USER_INPUT",
            "password",
        ),
    ] {
        let r = c.gql(UPGRADE, input.clone()).await;
        assert_eq!(
            (r.code(), r.field()),
            (code, Some(field)),
            "{input}: {}",
            r.body
        );
    }
    // None of it changed the guest, and no e-mail went out.
    assert_eq!(
        c.gql(ME, json!({})).await.ok().data()["me"]["isGuest"],
        true
    );
    assert!(app.emails_to("new@example.com").is_empty());
    // Someone's unconfirmed sign-up holds nothing: the guest takes the name over.
    let squatter = app.client();
    squatter
        .sign_up("pending", "pending@example.com", PASSWORD)
        .await
        .ok();
    let r = c
        .gql(
            UPGRADE,
            sign_up_input("pending", "mine@example.com", PASSWORD),
        )
        .await
        .ok();
    assert_eq!(r.data()["upgradeGuest"]["user"]["id"], id.as_str());
    assert_eq!(app.emails_to("mine@example.com").len(), 1);

    // Only a guest signs up in place, and only when logged in.
    let r = member
        .gql(
            UPGRADE,
            sign_up_input("again", "again@example.com", PASSWORD),
        )
        .await;
    assert_eq!(r.code(), "UNAUTHENTICATED", "{}", r.body);
    assert!(r.message().contains("signed up already"), "{}", r.message());
    let r = app
        .client()
        .gql(UPGRADE, sign_up_input("anon", "anon@example.com", PASSWORD))
        .await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
}

async fn guests_cannot_touch_passwords_or_second_factors(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = guest(&app).await;
    for (mutation, variables) in [
        (
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": "", "n": "violet otter cements the harbor" }),
        ),
        ("mutation { startTotpEnrollment { secret } }", json!({})),
        (
            "mutation($c: String!) { confirmTotpEnrollment(code: $c) }",
            json!({ "c": "123456" }),
        ),
        (
            "mutation($c: String!) { disableTotp(code: $c) }",
            json!({ "c": "123456" }),
        ),
        (
            "mutation($c: String!) { regenerateRecoveryCodes(code: $c) }",
            json!({ "c": "123456" }),
        ),
    ] {
        let r = c.gql(mutation, variables).await;
        assert_eq!(r.code(), "UNAUTHENTICATED", "{mutation}: {}", r.body);
        assert!(r.message().contains("upgradeGuest"), "{}", r.message());
    }
    // Still logged in, still a guest, free to play.
    assert_eq!(
        c.gql(ME, json!({})).await.ok().data()["me"]["isGuest"],
        true
    );
    play(&c).await;
}

async fn guest_sessions_are_limited_per_client(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.auth.rate_limits.guest_per_client = "2/1h".parse().unwrap();
    })
    .await
    else {
        return;
    };
    guest(&app).await;
    guest(&app).await;
    let r = app.client().gql(START_GUEST, json!({})).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    let retry = r.errors().unwrap()[0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    // Two at once weigh 2 until the hour's window ends, then less as the next one goes by:
    // the third fits within an hour and a half.
    assert!((1..=3600 + 1800).contains(&retry), "{retry}");
    // Logins and sign-ups have budgets of their own.
    app.new_user("unaffected").await;
    app.clock.advance(Duration::from_secs(2 * 3600));
    guest(&app).await;
}

async fn idle_guests_are_deleted_with_their_data(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.auth.guest_ttl = Duration::from_secs(2 * 3600);
        // Long enough that the active guest can still refresh after the clock jumps.
        c.auth.session_idle_timeout = Duration::from_secs(24 * 3600);
    })
    .await
    else {
        return;
    };
    let (idle, idle_id) = guest(&app).await;
    play(&idle).await;
    let (active, active_id) = guest(&app).await;
    play(&active).await;
    let (member, _) = app.new_user("member").await;
    let idle_id = UserId::parse(&idle_id).unwrap();
    let active_id = UserId::parse(&active_id).unwrap();

    // Within the TTL, nobody goes.
    app.clock.advance(Duration::from_secs(90 * 60));
    app.housekeeping.run_now().await;
    assert!(app.store.find_user(&idle_id).await.unwrap().is_some());
    active.refresh().await.ok();
    // 150 minutes idle against 60 since the last refresh.
    app.clock.advance(Duration::from_secs(60 * 60));
    app.housekeeping.run_now().await;

    assert_eq!(app.store.find_user(&idle_id).await.unwrap(), None);
    assert_eq!(
        crate::store_contract::quiz_count(&*app.store, &idle_id).await,
        0
    );
    assert_eq!(app.store.count_results(&idle_id, None).await.unwrap(), 0);
    assert_eq!(idle.refresh().await.code(), "SESSION_EXPIRED");

    assert!(app.store.find_user(&active_id).await.unwrap().is_some());
    active.refresh().await.ok();
    let counts = active.gql(COUNTS, json!({})).await.ok();
    assert_eq!(counts.data()["quizzes"]["totalCount"], 1);
    assert_eq!(counts.data()["quizResults"]["totalCount"], 1);
    // Accounts are never swept, however idle.
    member.refresh().await.ok();
    assert_eq!(
        member.gql(ME, json!({})).await.ok().data()["me"]["isGuest"],
        false
    );
}

async fn sessions_show_how_they_signed_in(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    // The confirmation link and a login: both by password.
    let (c, _) = app.new_user("methods").await;
    let laptop = app.client();
    laptop.login("methods", PASSWORD).await.ok();
    let r = laptop.gql(METHODS, json!({})).await.ok();
    assert_eq!(
        methods(&r),
        [
            ("PASSWORD".to_owned(), true),
            ("PASSWORD".to_owned(), false)
        ]
    );

    // With TOTP on, a login finished by verifyMfa is MFA, and refreshing keeps it.
    let secret = c
        .gql("mutation { startTotpEnrollment { secret } }", json!({}))
        .await
        .ok()
        .data()["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    c.gql(
        "mutation($c: String!) { confirmTotpEnrollment(code: $c) }",
        json!({ "c": code_now(&app, &secret) }),
    )
    .await
    .ok();
    // The next code: the one just used is spent.
    app.clock.advance(Duration::from_secs(30));
    let phone = app.client();
    let token = mfa_token(&phone.login("methods", PASSWORD).await);
    phone
        .gql(
            "mutation($t: String!, $c: String!) { verifyMfa(mfaToken: $t, code: $c) { accessToken } }",
            json!({ "t": token, "c": code_now(&app, &secret) }),
        )
        .await
        .ok();
    phone.refresh().await.ok();
    let r = phone.gql(METHODS, json!({})).await.ok();
    assert_eq!(methods(&r)[0], ("MFA".to_owned(), true));
    assert_eq!(methods(&r).len(), 3);

    let (g, _) = guest(&app).await;
    let r = g.gql(METHODS, json!({})).await.ok();
    assert_eq!(methods(&r), [("GUEST".to_owned(), true)]);
}
