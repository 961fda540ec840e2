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
    errors_speak_the_browsers_language_until_the_user_chooses,
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

async fn errors_speak_the_browsers_language_until_the_user_chooses(backend: Backend) {
    let Some(app) = app(backend).await else {
        return;
    };
    let login = |c: common::Client| async move { c.login("nobody", "wrong password 123").await };

    let english = login(app.client()).await;
    assert_eq!(english.code(), "INVALID_CREDENTIALS");
    assert_eq!(english.message(), "Invalid username or password.");
    let korean = login(app.client().speaking("ko-KR,ko;q=0.9,en;q=0.8")).await;
    assert_eq!(korean.code(), "INVALID_CREDENTIALS", "codes never change");
    assert_eq!(
        korean.message(),
        "사용자 이름 또는 비밀번호가 올바르지 않습니다."
    );

    // Arguments are rendered into the Korean text; `field` stays as it is.
    let bad = app
        .client()
        .speaking("ko")
        .sign_up("x", "x@example.com", common::PASSWORD)
        .await;
    assert_eq!(bad.code(), "BAD_USER_INPUT");
    assert_eq!(bad.field(), Some("username"));
    assert!(
        bad.message().starts_with("사용자 이름은 "),
        "{}",
        bad.message()
    );
    assert!(bad.message().contains("~"), "{}", bad.message());

    // A user's own language (English, from a sign-up without the header) wins over what the
    // browser asks for.
    let (c, _) = app.new_user("sejong").await;
    let page = "{ quizzes(first: 0) { totalCount } }";
    let r = c.speaking("ko").gql(page, json!({})).await;
    assert_eq!(r.field(), Some("first"));
    assert_eq!(r.message(), "`first` must be between 1 and 100.");
    c.gql(LOCALE, json!({ "l": "ko" })).await.ok();
    let r = c.speaking("en").gql(page, json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(r.message().contains("1 이상"), "{}", r.message());
    c.gql(LOCALE, json!({ "l": "en" })).await.ok();
    let r = c.speaking("ko").gql(page, json!({})).await;
    assert!(
        r.message().starts_with("`first` must be between 1 and"),
        "{}",
        r.message()
    );
}
