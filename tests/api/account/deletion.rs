//! Leaving: `deleteAccount` erases the account with everything in it and ends every session
//! and open socket of it at once; it needs the username typed again and a recent proof.

use std::time::Duration;

use serde_json::json;

use crate::common::{APOLLO_11, Backend, PASSWORD, TestApp};

pub(crate) const DELETE: &str = "mutation($c: String!) { deleteAccount(confirm: $c) }";

on_every_store!(
    deleting_an_account_erases_it_and_ends_every_session,
    deleting_needs_the_username_and_a_recent_proof,
);

async fn deleting_an_account_erases_it_and_ends_every_session(backend: Backend) {
    use crate::live::{socket, token_of};
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (laptop, email) = app.new_user("leaver").await;
    let quiz = laptop
        .generate_quiz(json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 3 }))
        .await
        .ok();
    let quiz_id = quiz.data()["generateQuiz"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    laptop
        .submit(&quiz_id, &[(1, 1), (2, 1), (3, 1)])
        .await
        .ok();
    let phone = app.client();
    let phone_token = token_of(&phone, "leaver").await;
    let mut s = socket(&app, &phone_token).await;
    s.subscribe(
        "e",
        "subscription { quizEvents { kind quizId } }",
        json!({}),
    )
    .await;
    app.wait_for_subscriptions("quizEvents", 1).await;
    let (stayer, _) = app.new_user("stayer").await;
    stayer
        .generate_quiz(json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 3 }))
        .await
        .ok();
    let id = app
        .store
        .find_user_by_email(&email)
        .await
        .unwrap()
        .unwrap()
        .id;

    // Typed as a person might: other letter case, a stray space.
    let r = laptop.gql(DELETE, json!({ "c": " Leaver" })).await.ok();
    assert_eq!(r.data()["deleteAccount"], true);
    assert!(
        r.set_cookie("access").unwrap().contains("Max-Age=0"),
        "{:?}",
        r.set_cookies()
    );
    assert_eq!(laptop.me().await.ok().data()["me"], json!(null));
    // The other device's token and session end at once, and so does its socket.
    let phone_me = app.client().with_bearer(&phone_token).me().await;
    assert_eq!(phone_me.code(), "SESSION_EXPIRED", "{}", phone_me.body);
    assert_eq!(phone.refresh().await.code(), "SESSION_EXPIRED");
    let closed = tokio::time::timeout(Duration::from_secs(10), s.closed())
        .await
        .expect("the socket closes once the account is deleted");
    assert_eq!(
        (closed.code, closed.reason.as_str()),
        (4401, "SESSION_EXPIRED")
    );
    // Gone: no login, and the name and the address are free again.
    assert_eq!(
        app.client().login("leaver", PASSWORD).await.code(),
        "INVALID_CREDENTIALS"
    );
    assert_eq!(app.store.find_user(&id).await.unwrap(), None);
    app.client().sign_up("leaver", &email, PASSWORD).await.ok();
    // Nobody else lost anything.
    let theirs = stayer
        .gql("{ quizzes { totalCount } }", json!({}))
        .await
        .ok();
    assert_eq!(theirs.data()["quizzes"]["totalCount"], 1);
}

async fn deleting_needs_the_username_and_a_recent_proof(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("careful").await;
    app.new_user("neighbour").await;
    for wrong in ["", "carefu", "neighbour", "careful!"] {
        let r = c.gql(DELETE, json!({ "c": wrong })).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{wrong:?}: {}", r.body);
        assert_eq!(r.field(), Some("confirm"));
    }
    // A stolen access token alone is not enough once the login is old.
    app.clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(
        c.gql(DELETE, json!({ "c": "careful" })).await.code(),
        "REAUTHENTICATION_REQUIRED"
    );
    assert_eq!(
        app.client()
            .gql(DELETE, json!({ "c": "careful" }))
            .await
            .code(),
        "UNAUTHENTICATED"
    );
    let guest = app.client();
    let started = guest
        .gql(
            "mutation { startGuestSession { user { username } } }",
            json!({}),
        )
        .await
        .ok();
    let name = started.data()["startGuestSession"]["user"]["username"]
        .as_str()
        .unwrap()
        .to_owned();
    // A guest has no account to delete (it goes once idle for GUEST_TTL).
    assert_eq!(
        guest.gql(DELETE, json!({ "c": name })).await.code(),
        "UNAUTHENTICATED"
    );
    // Nothing was deleted by any of it; proving it again lets the owner go.
    assert!(c.me().await.errors().is_none());
    c.gql(crate::login::stepup::REAUTH, json!({ "p": PASSWORD }))
        .await
        .ok();
    c.gql(DELETE, json!({ "c": "careful" })).await.ok();
    assert_eq!(
        app.client().login("careful", PASSWORD).await.code(),
        "INVALID_CREDENTIALS"
    );
}
