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
    mail_goes_out_in_the_recipients_language,
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

async fn mail_goes_out_in_the_recipients_language(backend: Backend) {
    let Some(app) = app(backend).await else {
        return;
    };
    let c = app.client().speaking("ko-KR");
    c.sign_up("sejong", "sejong@example.com", common::PASSWORD)
        .await
        .ok();
    let sent = app.mailbox.to("sejong@example.com");
    let mail = sent.last().expect("a verification e-mail");
    assert!(!mail.mime.contains("Subject: Confirm"), "{}", mail.mime);
    assert!(
        mail.text
            .contains("\"sejong\"(이)라는 사용자 이름으로 가입했습니다"),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("/verify-email?uid="), "{}", mail.text);

    // The recipient's language, not the language of whoever asks for the mail.
    app.client()
        .speaking("en")
        .gql(
            "mutation($e: String!) { resendVerificationEmail(email: $e) }",
            json!({ "e": "sejong@example.com" }),
        )
        .await
        .ok();
    let mails = app.wait_for_emails("sejong@example.com", 2).await;
    assert_eq!(mails.len(), 2);
    assert!(mails[1].contains("3일 뒤에 만료됩니다"), "{}", mails[1]);

    app.client()
        .sign_up("ada", "ada@example.com", common::PASSWORD)
        .await
        .ok();
    let mail = app.mailbox.to("ada@example.com").pop().unwrap();
    assert!(
        mail.mime
            .contains("Subject: Confirm your e-mail address for Quiz LLM"),
        "{}",
        mail.mime
    );
}

#[tokio::test]
async fn link_pages_speak_the_browsers_language() {
    let Some(app) = app(Backend::Sqlite).await else {
        return;
    };
    let page = |path: &'static str, languages: Option<&'static str>| {
        let c = app.client();
        let c = match languages {
            Some(l) => c.speaking(l),
            None => c,
        };
        async move { c.get(path).await.text().await.unwrap() }
    };
    let korean = page("/verify-email?uid=u&token=t", Some("ko-KR,ko;q=0.9")).await;
    assert!(korean.contains(r#"<html lang="ko">"#), "{korean}");
    assert!(korean.contains("확인 버튼을 누르면"), "{korean}");
    assert!(
        korean.contains(r#"data-incomplete="링크가 잘렸습니다."#),
        "{korean}"
    );
    let english = page("/verify-email?uid=u&token=t", None).await;
    assert!(english.contains(r#"<html lang="en">"#), "{english}");
    assert!(
        english.contains("Press Confirm to activate your account"),
        "{english}"
    );
    let reset = page("/reset-password?uid=u&token=t", Some("ko")).await;
    assert!(reset.contains("새 비밀번호로 바꾸기"), "{reset}");
    let reset = page("/reset-password?uid=u&token=t", Some("de, en;q=0.1")).await;
    assert!(reset.contains("Set new password"), "{reset}");
}
