//! Changing the e-mail address (`changeEmail`): it changes only once the new address confirms
//! it, and the old address gets a link that, for a week, cancels the change or puts the old
//! address back and ends every session. Here: the whole flow with the mail the test holds, the
//! step-up and the identity rules, each link used once and bound to its own change, expiry by
//! the app's clock, and the links' pages.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{self, Backend, Client, Gql, PASSWORD, TestApp};
use crate::sign_in_link::REQUEST as REQUEST_SIGN_IN_LINK;

const CHANGE: &str = "mutation($e: String!) { changeEmail(newEmail: $e) }";
const CONFIRM: &str = "mutation($t: String!) { confirmEmailChange(token: $t) }";
const UNDO: &str = "mutation($t: String!) { undoEmailChange(token: $t) }";
const ME: &str = "{ me { email isActive } }";
const RESET: &str = "mutation($u: String!, $t: String!, $p: String!) { resetPassword(uid: $u, token: $t, newPassword: $p) }";
const SIGN_IN_WITH_LINK: &str =
    "mutation($t: String!) { signInWithLink(token: $t) { accessToken } }";
/// Where the test app says its pages are (`PUBLIC_URL`).
const SITE: &str = "http://quiz.test";

/// The two links one request mailed, and the notice to the old address.
struct Mailed {
    confirm: String,
    undo: String,
    notice: String,
}

/// The token of the newest link to `page` in the mail to `to`.
fn token_in(app: &TestApp, to: &str, page: &str) -> Option<String> {
    let prefix = format!("{SITE}/{page}?token=");
    app.emails_to(to).iter().rev().find_map(|mail| {
        mail.split_whitespace()
            .find_map(|w| w.strip_prefix(&prefix))
            .map(str::to_owned)
    })
}

/// Asks `c`'s account to move from `old` to `new`, and reads the two mails it sent.
async fn change(app: &TestApp, c: &Client, old: &str, new: &str) -> Mailed {
    let r = c.gql(CHANGE, json!({ "e": new })).await.ok();
    assert_eq!(r.data()["changeEmail"], true);
    app.mail_delivered().await;
    let new = new.to_lowercase();
    Mailed {
        confirm: token_in(app, &new, "confirm-email-change").expect("a confirmation mail"),
        undo: token_in(app, old, "undo-email-change").expect("a notice with an undo link"),
        notice: app.emails_to(old).pop().unwrap(),
    }
}

async fn confirm(c: &Client, token: &str) -> Gql {
    c.gql(CONFIRM, json!({ "t": token })).await
}

async fn undo(c: &Client, token: &str) -> Gql {
    c.gql(UNDO, json!({ "t": token })).await
}

async fn email_of(c: &Client) -> String {
    let me = c.gql(ME, json!({})).await.ok();
    assert_eq!(me.data()["me"]["isActive"], true);
    me.data()["me"]["email"].as_str().unwrap().to_owned()
}

on_every_store!(
    the_address_changes_once_the_new_one_confirms_it,
    an_undo_after_the_change_puts_the_old_address_back_and_ends_every_session,
    an_undo_before_the_change_cancels_it,
    only_a_recent_login_of_an_account_may_ask,
    the_new_address_follows_the_sign_up_rules,
    each_link_belongs_to_its_own_change,
    the_links_lapse_on_the_apps_clock,
    a_confirmation_loses_to_a_verified_sign_up_meanwhile,
    the_new_address_counts_against_the_mail_limits,
    the_links_pages_act_only_on_their_button,
);

async fn the_address_changes_once_the_new_one_confirms_it(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, old) = app.new_user("ada").await;
    let mailed = change(&app, &c, &old, "Ada.New@Example.com").await;
    // The notice names the new address masked, never whole.
    assert!(
        mailed.notice.contains("A***@Example.com"),
        "{}",
        mailed.notice
    );
    assert!(
        !mailed.notice.to_lowercase().contains("ada.new@"),
        "{}",
        mailed.notice
    );
    // Nothing changes before the confirmation; the export shows what is pending, no token.
    assert_eq!(email_of(&c).await, old);
    let export = c.gql("{ exportMyData }", json!({})).await.ok();
    let pending = &export.data()["exportMyData"]["emailChange"];
    assert_eq!(
        (
            &pending["oldEmail"],
            &pending["newEmail"],
            &pending["confirmedAt"]
        ),
        (&json!(old), &json!("Ada.New@Example.com"), &json!(null))
    );
    assert!(!pending.to_string().contains("token"), "{pending}");
    let login = app.client().login("ada.new@example.com", PASSWORD).await;
    assert_eq!(login.code(), "INVALID_CREDENTIALS");
    // Links mailed to the old address before the change: a password reset and a sign-in.
    let anyone = app.client();
    anyone
        .gql(
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": old }),
        )
        .await
        .ok();
    let reset = app.reset_link(&old).await;
    let use_reset = |password: &'static str| {
        let (anyone, reset) = (anyone.clone(), reset.clone());
        async move {
            anyone
                .gql(
                    RESET,
                    json!({ "u": reset.uid, "t": reset.token, "p": password }),
                )
                .await
        }
    };
    // The link is good until the change (a password too short is all that is wrong).
    let r = use_reset("short").await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("newPassword")),
        "{}",
        r.body
    );
    anyone
        .gql(REQUEST_SIGN_IN_LINK, json!({ "e": old, "r": null }))
        .await
        .ok();
    app.mail_queued().await;
    app.mail_delivered().await;
    let sign_in = token_in(&app, &old, "sign-in-link").expect("a sign-in link");

    assert_eq!(
        confirm(&anyone, "not-a-token").await.code(),
        "INVALID_TOKEN"
    );
    let r = confirm(&anyone, &mailed.confirm).await.ok();
    assert_eq!(r.data()["confirmEmailChange"], true);
    // The account has the new address (as typed), still verified, and the session goes on.
    assert_eq!(email_of(&c).await, "Ada.New@Example.com");
    assert_eq!(
        confirm(&anyone, &mailed.confirm).await.code(),
        "INVALID_TOKEN",
        "a confirmation link works once"
    );
    // What was mailed to the old address no longer works.
    let r = use_reset("short").await;
    assert_eq!(r.code(), "INVALID_TOKEN", "{}", r.body);
    let r = anyone.gql(SIGN_IN_WITH_LINK, json!({ "t": sign_in })).await;
    assert_eq!(r.code(), "INVALID_TOKEN", "{}", r.body);
    // The new address logs in; the old one no longer does.
    app.client()
        .login("ada.new@example.com", PASSWORD)
        .await
        .ok();
    let login = app.client().login(&old, PASSWORD).await;
    assert_eq!(login.code(), "INVALID_CREDENTIALS");
}

async fn an_undo_after_the_change_puts_the_old_address_back_and_ends_every_session(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, old) = app.new_user("ada").await;
    let other_device = app.client();
    other_device.login("ada", PASSWORD).await.ok();
    let mailed = change(&app, &c, &old, "thief@example.com").await;
    confirm(&app.client(), &mailed.confirm).await.ok();
    assert_eq!(email_of(&other_device).await, "thief@example.com");
    // While it can be undone, no further change can replace it (and kill the undo link).
    let r = c.gql(CHANGE, json!({ "e": "thief2@example.com" })).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    assert!(common::retry_after(&r) > 6 * 24 * 3600, "{}", r.body);

    let r = undo(&app.client(), &mailed.undo).await.ok();
    assert_eq!(r.data()["undoEmailChange"], true);
    // Every session ended at once: their cookies are refused as the API documents.
    for browser in [&c, &other_device] {
        assert_eq!(browser.gql(ME, json!({})).await.code(), "SESSION_EXPIRED");
        assert_eq!(browser.refresh().await.code(), "SESSION_EXPIRED");
    }
    // The old address is back; the new one is no way in.
    let owner = app.client();
    owner.login(&old, PASSWORD).await.ok();
    assert_eq!(email_of(&owner).await, old);
    let r = app.client().login("thief@example.com", PASSWORD).await;
    assert_eq!(r.code(), "INVALID_CREDENTIALS");
    assert_eq!(
        undo(&app.client(), &mailed.undo).await.code(),
        "INVALID_TOKEN",
        "an undo link works once"
    );
    assert_eq!(
        confirm(&app.client(), &mailed.confirm).await.code(),
        "INVALID_TOKEN"
    );
}

async fn an_undo_before_the_change_cancels_it(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, old) = app.new_user("ada").await;
    let mailed = change(&app, &c, &old, "new@example.com").await;
    undo(&app.client(), &mailed.undo).await.ok();
    assert_eq!(c.gql(ME, json!({})).await.code(), "SESSION_EXPIRED");
    // The confirmation link died with the change.
    assert_eq!(
        confirm(&app.client(), &mailed.confirm).await.code(),
        "INVALID_TOKEN"
    );
    let owner = app.client();
    owner.login("ada", PASSWORD).await.ok();
    assert_eq!(email_of(&owner).await, old);
}

async fn only_a_recent_login_of_an_account_may_ask(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, old) = app.new_user("ada").await;
    let ask = |c: Client| async move { c.gql(CHANGE, json!({ "e": "new@example.com" })).await };
    assert_eq!(ask(app.client()).await.code(), "UNAUTHENTICATED");
    // A guest has no address to change.
    let guest = app.client();
    guest
        .gql("mutation { startGuestSession { message } }", json!({}))
        .await
        .ok();
    assert_eq!(ask(guest).await.code(), "UNAUTHENTICATED");
    // A login (or reauthentication) more than REAUTH_WINDOW ago is not enough.
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    assert_eq!(ask(c.clone()).await.code(), "REAUTHENTICATION_REQUIRED");
    app.mail_delivered().await;
    assert_eq!(app.emails_to("new@example.com").len(), 0, "nothing mailed");
    c.gql(crate::login::stepup::REAUTH, json!({ "p": PASSWORD }))
        .await
        .ok();
    let mailed = change(&app, &c, &old, "new@example.com").await;
    assert!(!mailed.confirm.is_empty());
}

async fn the_new_address_follows_the_sign_up_rules(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, old) = app.new_user("ada").await;
    app.new_user("grace").await;
    // A never-verified sign-up holds no address.
    app.client()
        .sign_up("pending", "pending@example.com", PASSWORD)
        .await
        .ok();
    let ask = |e: &str| c.gql(CHANGE, json!({ "e": e }));
    for bad in [
        "not an address",
        "ada@localhost",
        "\"quoted\"@example.com",
        "",
    ] {
        let r = ask(bad).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("newEmail")),
            "{bad}"
        );
    }
    // Its own address, however spelled, is no change.
    let r = ask("ADA@Example.COM").await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("newEmail")));
    // A verified account's address, or a look-alike of it (case, IDNA), is taken.
    for taken in ["grace@example.com", "Grace@EXAMPLE.com"] {
        let r = ask(taken).await;
        assert_eq!(
            (r.code(), r.field()),
            ("CONFLICT", Some("newEmail")),
            "{taken}"
        );
    }
    let carol = app.client();
    carol
        .sign_up("carol", "carol@xn--bcher-kva.de", PASSWORD)
        .await
        .ok();
    let link = app.verification_link("carol@xn--bcher-kva.de");
    carol.verify_email(&link.uid, &link.token).await.ok();
    let r = ask("carol@bücher.de").await;
    assert_eq!((r.code(), r.field()), ("CONFLICT", Some("newEmail")));
    // Nothing was asked for so far: nothing mailed.
    app.mail_delivered().await;
    assert!(
        !app.emails_to(&old)
            .iter()
            .any(|m| m.contains("undo-email-change"))
    );
    let mailed = change(&app, &c, &old, "pending@example.com").await;
    confirm(&app.client(), &mailed.confirm).await.ok();
    assert_eq!(email_of(&c).await, "pending@example.com");
}

async fn each_link_belongs_to_its_own_change(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (ada, ada_old) = app.new_user("ada").await;
    let (grace, grace_old) = app.new_user("grace").await;
    let replaced = change(&app, &ada, &ada_old, "first@example.com").await;
    let adas = change(&app, &ada, &ada_old, "second@example.com").await;
    let graces = change(&app, &grace, &grace_old, "grace.new@example.com").await;
    // A newer request replaces the earlier one: both its links die.
    let anyone = app.client();
    assert_eq!(
        confirm(&anyone, &replaced.confirm).await.code(),
        "INVALID_TOKEN"
    );
    assert_eq!(undo(&anyone, &replaced.undo).await.code(), "INVALID_TOKEN");
    // Ada's confirmation changes Ada's address only, whoever opens it.
    confirm(&grace, &adas.confirm).await.ok();
    assert_eq!(email_of(&ada).await, "second@example.com");
    assert_eq!(email_of(&grace).await, grace_old);
    // Grace's undo ends Grace's sessions only; her confirmation link dies with it.
    undo(&ada, &graces.undo).await.ok();
    assert_eq!(grace.gql(ME, json!({})).await.code(), "SESSION_EXPIRED");
    assert_eq!(email_of(&ada).await, "second@example.com");
    assert_eq!(confirm(&ada, &graces.confirm).await.code(), "INVALID_TOKEN");
    // A confirmation token is no undo token, nor the other way round.
    assert_eq!(undo(&anyone, &adas.confirm).await.code(), "INVALID_TOKEN");
    assert_eq!(confirm(&anyone, &adas.undo).await.code(), "INVALID_TOKEN");
}

async fn the_links_lapse_on_the_apps_clock(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, old) = app.new_user("ada").await;
    let late = change(&app, &c, &old, "late@example.com").await;
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    assert_eq!(
        confirm(&app.client(), &late.confirm).await.code(),
        "INVALID_TOKEN",
        "a confirmation link lasts 24 hours"
    );
    // The undo link still works for the rest of the week.
    undo(&app.client(), &late.undo).await.ok();

    let c = app.client();
    c.login("ada", PASSWORD).await.ok();
    let mailed = change(&app, &c, &old, "new@example.com").await;
    confirm(&app.client(), &mailed.confirm).await.ok();
    app.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
    app.housekeeping.run_now().await;
    assert_eq!(
        undo(&app.client(), &mailed.undo).await.code(),
        "INVALID_TOKEN",
        "an undo link lasts 7 days"
    );
    let owner = app.client();
    owner.login("new@example.com", PASSWORD).await.ok();
    assert_eq!(email_of(&owner).await, "new@example.com");
}

async fn a_confirmation_loses_to_a_verified_sign_up_meanwhile(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, old) = app.new_user("ada").await;
    let mailed = change(&app, &c, &old, "shared@example.com").await;
    // Someone else signs up with the address and confirms it first.
    let other = app.client();
    other
        .sign_up("grace", "shared@example.com", PASSWORD)
        .await
        .ok();
    let link = app.verification_link("shared@example.com");
    other.verify_email(&link.uid, &link.token).await.ok();
    let r = confirm(&app.client(), &mailed.confirm).await;
    assert_eq!(r.code(), "CONFLICT", "{}", r.body);
    assert_eq!(email_of(&c).await, old);
    assert_eq!(email_of(&other).await, "shared@example.com");
}

async fn the_links_pages_act_only_on_their_button(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, old) = app.new_user("ada").await;
    let mailed = change(&app, &c, &old, "new@example.com").await;
    let http = reqwest::Client::new();
    let page = |path: String| {
        let http = http.clone();
        let url = format!("{}{path}", app.base_url);
        async move {
            let resp = http
                .get(url)
                .header("accept-language", "ko")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            resp.text().await.unwrap()
        }
    };
    let press = |path: String, origin: &'static str| {
        let http = http.clone();
        let url = format!("{}{path}", app.base_url);
        async move {
            let resp = http
                .post(url)
                .header("origin", origin)
                .send()
                .await
                .unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    };
    let confirm_path = format!("/confirm-email-change?token={}", mailed.confirm);
    // Opening the page (as a mail scanner would) changes nothing; it speaks the browser's
    // language and offers a button.
    let html = page(confirm_path.clone()).await;
    assert!(html.contains(r#"<form method="post">"#), "{html}");
    assert!(html.contains("이메일 주소 변경"), "{html}");
    assert_eq!(email_of(&c).await, old);
    // Another site's POST is refused and uses nothing.
    let (status, _) = press(confirm_path.clone(), "https://evil.test").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, html) = press(confirm_path.clone(), SITE).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(r#"class="ok""#), "{html}");
    assert_eq!(email_of(&c).await, "new@example.com");
    let (status, _) = press(confirm_path, SITE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "used once");

    let undo_path = format!("/undo-email-change?token={}", mailed.undo);
    assert!(page(undo_path.clone()).await.contains("되돌리기"));
    let (status, html) = press(undo_path, SITE).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(c.gql(ME, json!({})).await.code(), "SESSION_EXPIRED");
    let html = page("/undo-email-change".into()).await;
    assert!(html.contains(r#"class="error""#), "{html}");
    let owner = app.client();
    owner.login(&old, PASSWORD).await.ok();
    assert_eq!(email_of(&owner).await, old);
}

async fn the_new_address_counts_against_the_mail_limits(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.auth.rate_limits.mail_per_address = "2/1h".parse().unwrap();
    })
    .await
    else {
        return;
    };
    let (c, old) = app.new_user("ada").await;
    for _ in 0..2 {
        change(&app, &c, &old, "new@example.com").await;
    }
    // However it is spelled: the limit is the address's.
    let r = c.gql(CHANGE, json!({ "e": "NEW@example.com" })).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    app.mail_delivered().await;
    assert_eq!(
        app.emails_to("new@example.com").len(),
        2,
        "nothing more mailed"
    );
    // Another address has a budget of its own.
    change(&app, &c, &old, "other@example.com").await;
}
