//! `SIGN_UP_BY_LINK=true`: an address no account has gets a link that makes a verified account
//! (its username made from the address, in the request's language); an unverified account gets
//! one that confirms it, and the password someone chose at that sign-up stops working.

use serde_json::json;

use super::{request_mail, with_code, with_link};
use crate::common::{Backend, PASSWORD, TestApp};

on_every_store!(
    a_sign_up_link_makes_a_verified_account,
    a_sign_up_link_confirms_an_unverified_account,
);

async fn a_sign_up_link_makes_a_verified_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| c.auth.sign_up_by_link = true).await else {
        return;
    };
    let browser = app.client().speaking("ko-KR,ko;q=0.9");
    let address = "grace.hopper@example.com";
    let mail = request_mail(&app, &browser, address).await;
    assert!(
        mail.text
            .contains("Subject: Quiz LLM 가입을 마무리해 주세요"),
        "{}",
        mail.text
    );
    let r = with_link(&browser, &mail.token).await.ok();
    let user = &r.data()["signInWithLink"]["user"];
    assert_eq!(user["username"], "grace.hopper");
    assert_eq!(user["isActive"], true);
    assert_eq!(user["locale"], "ko");
    assert_eq!(
        browser.me().await.ok().data()["me"]["email"],
        address,
        "the account has the address"
    );
    // Used, the link makes nothing more.
    assert_eq!(
        with_link(&app.client(), &mail.token).await.code(),
        "INVALID_TOKEN"
    );
    // From now on the address signs in to that account.
    let again = request_mail(&app, &app.client(), address).await;
    assert!(
        again.text.contains("Subject: Quiz LLM 로그인 링크"),
        "{}",
        again.text
    );
    let r = with_code(&app.client(), address, &again.code).await.ok();
    assert_eq!(
        r.data()["signInWithCode"]["user"]["username"],
        "grace.hopper"
    );

    // The same name from another address (a look-alike spelling too) is taken: digits follow.
    let other = "Grace.Hopper@example.org";
    let mail = request_mail(&app, &app.client(), other).await;
    assert!(mail.text.contains("no account yet"), "{}", mail.text);
    let r = with_code(&app.client(), other, &mail.code).await.ok();
    let name = r.data()["signInWithCode"]["user"]["username"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(name.starts_with("Grace.Hopper"), "{name}");
    assert_eq!(name.len(), "Grace.Hopper".len() + 4, "{name}");
    assert_eq!(r.data()["signInWithCode"]["user"]["locale"], "en");
}

async fn a_sign_up_link_confirms_an_unverified_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| c.auth.sign_up_by_link = true).await else {
        return;
    };
    // Someone signed up with the address and never confirmed it.
    let address = "owner@example.com";
    app.client()
        .sign_up("claimed", address, PASSWORD)
        .await
        .ok();
    let confirmation = app.verification_link(address);
    let owner = app.client();
    let r = owner
        .gql(super::REQUEST, json!({ "e": address }))
        .await
        .ok();
    assert_eq!(r.data()["requestSignInLink"], true);
    let mail = super::sign_in_mails(&app, address).await.pop().unwrap();
    assert!(mail.text.contains("named \"claimed\""), "{}", mail.text);
    assert!(mail.text.contains("Forgot password"), "{}", mail.text);
    let r = with_code(&owner, address, &mail.code).await.ok();
    assert_eq!(r.data()["signInWithCode"]["user"]["username"], "claimed");
    assert_eq!(r.data()["signInWithCode"]["user"]["isActive"], true);
    // Whoever chose the password at sign-up cannot use it now, nor its confirmation link.
    assert_eq!(
        app.client().login("claimed", PASSWORD).await.code(),
        "INVALID_CREDENTIALS"
    );
    assert_eq!(
        app.client()
            .verify_email(&confirmation.uid, &confirmation.token)
            .await
            .code(),
        "INVALID_TOKEN"
    );
    assert_eq!(owner.me().await.ok().data()["me"]["isActive"], true);
}
