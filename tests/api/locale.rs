//! Korean and English: the user's language (`User.locale`, `setLocale`), chosen at sign-up from
//! `Accept-Language`, and what a person reads in it.

use serde_json::json;

use crate::common::{self, Backend, TestApp};

const LOCALE: &str = "mutation($l: String!) { setLocale(locale: $l) { username locale } }";

async fn app(backend: Backend) -> Option<TestApp> {
    TestApp::spawn(backend, |_| {}).await
}

on_every_store!(
    sign_up_takes_the_language_of_the_browser,
    guests_take_the_language_of_the_browser,
    set_locale_changes_the_language_and_refuses_others,
);

async fn sign_up_takes_the_language_of_the_browser(backend: Backend) {
    let Some(app) = app(backend).await else {
        return;
    };
    let korean = app.client().speaking("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7");
    let r = korean
        .gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { user { locale } } }",
            json!({ "i": { "username": "sejong", "email": "sejong@example.com", "password": common::PASSWORD } }),
        )
        .await
        .ok();
    assert_eq!(r.data()["signUp"]["user"]["locale"], "ko");

    let english = app.client().speaking("fr-FR, en;q=0.5, ko;q=0");
    let r = english
        .gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { user { locale } } }",
            json!({ "i": { "username": "ada", "email": "ada@example.com", "password": common::PASSWORD } }),
        )
        .await
        .ok();
    assert_eq!(r.data()["signUp"]["user"]["locale"], "en");

    // No header at all: English.
    let (plain, _) = app.new_user("grace").await;
    let r = plain.gql("{ me { locale } }", json!({})).await.ok();
    assert_eq!(r.data()["me"]["locale"], "en");
}

async fn guests_take_the_language_of_the_browser(backend: Backend) {
    let Some(app) = app(backend).await else {
        return;
    };
    let c = app.client().speaking("ko");
    c.gql("mutation { startGuestSession { user { id } } }", json!({}))
        .await
        .ok();
    let r = c.gql("{ me { isGuest locale } }", json!({})).await.ok();
    assert_eq!(r.data()["me"], json!({ "isGuest": true, "locale": "ko" }));
}

async fn set_locale_changes_the_language_and_refuses_others(backend: Backend) {
    let Some(app) = app(backend).await else {
        return;
    };
    let (c, _) = app.new_user("hangul").await;
    let r = c.gql(LOCALE, json!({ "l": "ko-KR" })).await.ok();
    assert_eq!(
        r.data()["setLocale"],
        json!({ "username": "hangul", "locale": "ko" })
    );
    let r = c.gql("{ me { locale } }", json!({})).await.ok();
    assert_eq!(r.data()["me"]["locale"], "ko");

    let refused = c.gql(LOCALE, json!({ "l": "fr" })).await;
    assert_eq!(refused.code(), "BAD_USER_INPUT");
    assert_eq!(refused.field(), Some("locale"));
    let r = c.gql("{ me { locale } }", json!({})).await.ok();
    assert_eq!(
        r.data()["me"]["locale"],
        "ko",
        "a refused change changes nothing"
    );

    let anonymous = app.client().gql(LOCALE, json!({ "l": "en" })).await;
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
}
