//! What a request can learn about other people's accounts, or make another person's browser do:
//! "reveals nothing" mutations that must not reveal by their timing, the e-mail link page that
//! must not log a browser into someone else's account, and caches that must not keep user data.

use crate::common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use common::{Backend, Client, PASSWORD, TestApp};
use quiz_llm::{
    config::SecretString,
    domain::{Credentials, PasswordHash, UserId, UserRecord},
    domain::{EmailAddress, Username},
    store::StoreFixtures,
};
use serde_json::{Value, json};

/// An SMTP server that accepts connections and never says a word, so delivering to it hangs
/// (until the mailer's own timeout). Returns its port and how many connections it took.
async fn silent_smtp_server() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            open.push(stream);
        }
    });
    (port, accepted)
}

/// An account put straight into the store (signing up would itself e-mail the silent server).
async fn insert_user(app: &TestApp, name: &str, active: bool) -> String {
    let email = format!("{name}@example.com");
    let user = UserRecord {
        id: UserId::new_random(),
        username: Username::parse(name).unwrap(),
        username_norm: name.into(),
        credentials: Some(Credentials {
            email: EmailAddress::parse(&email).unwrap(),
            email_norm: email.clone(),
            password_hash: PasswordHash::new("not a real hash".into()),
        }),
        is_active: active,
        created_at: common::now(),
        locale: Default::default(),
        disabled: false,
    };
    app.store.insert_user(&user).await.unwrap();
    email
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn reveals_nothing_mutations_answer_before_any_lookup_or_delivery(backend: Backend) {
    let (port, connections) = silent_smtp_server().await;
    let Some(app) = TestApp::spawn(backend, |c| {
        c.mail.smtp_url = Some(SecretString::from(format!("smtp://127.0.0.1:{port}")));
    })
    .await
    else {
        return;
    };
    let pending = insert_user(&app, "pending", false).await;
    let active = insert_user(&app, "active", true).await;
    let c = app.client();
    // Delivering inline would wait for the silent server (the mailer gives up after 10 s).
    let ask = |mutation: &'static str, email: String| {
        let c = c.clone();
        async move {
            let query = format!("mutation($e: String!) {{ {mutation}(email: $e) }}");
            tokio::time::timeout(Duration::from_secs(2), c.gql(&query, json!({ "e": email })))
                .await
                .unwrap_or_else(|_| panic!("{mutation} for {email} took longer than 2 s"))
        }
    };
    for (mutation, known) in [
        ("resendVerificationEmail", pending),
        ("requestPasswordReset", active.clone()),
        ("requestSignInLink", active),
    ] {
        let for_known = ask(mutation, known).await;
        let for_unknown = ask(mutation, "stranger@example.com".into()).await;
        assert_eq!(for_known.status, for_unknown.status, "{mutation}");
        assert_eq!(for_known.body, for_unknown.body, "{mutation}");
        assert_eq!(for_known.body, json!({ "data": { mutation: true } }));
    }
    // The three e-mails were still queued and their delivery started, in the background.
    wait_until("the three e-mails are in the outbox", async || {
        app.store.count_mail().await.unwrap() == 3
    })
    .await;
    wait_until("delivery was attempted", async || {
        connections.load(Ordering::SeqCst) > 0
    })
    .await;
    // Unknown addresses got nothing queued: every link mail but the three still talking to the
    // silent server is done.
    app.mail_queued_but(3).await;
    assert_eq!(app.store.count_mail().await.unwrap(), 3);
}

/// The path and query of an e-mailed link, on the test server.
fn page_path(link: &common::Link) -> String {
    format!("/verify-email?uid={}&token={}", link.uid, link.token)
}

async fn page(browser: &Client, path: &str) -> String {
    let resp = browser.get(path).await;
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

async fn the_verification_page_waits_for_confirmation(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let owner = app.client();
    owner
        .sign_up("linkowner", "linkowner@example.com", PASSWORD)
        .await
        .ok();
    let link = app.verification_link("linkowner@example.com");
    let path = page_path(&link);
    let still_unverified = || async {
        assert_eq!(
            app.client().login("linkowner", PASSWORD).await.code(),
            "EMAIL_NOT_VERIFIED"
        );
    };

    // Opening the link (a person, or a mail scanner) changes nothing and asks for a click.
    let anonymous = page(&app.client(), &path).await;
    assert!(
        anonymous.contains(r#"<button id="confirm" type="button">Confirm</button>"#),
        "{anonymous}"
    );
    assert!(!anonymous.contains(r#"id="warning""#), "{anonymous}");
    // The script calls verifyEmail only from the button's click handler.
    let script = anonymous
        .split("<script>")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .unwrap();
    let handler = script
        .find("button.addEventListener('click'")
        .expect("a click handler");
    assert!(script.find("fetch(").unwrap() > handler, "{script}");
    assert!(script.find("verifyEmail").unwrap() > handler, "{script}");
    still_unverified().await;

    // Someone else's browser is warned whose session it would lose, and learns nothing about
    // the link's account.
    let (bystander, _) = app.new_user("bystander").await;
    let warned = page(&bystander, &path).await;
    assert!(warned.contains(r#"id="warning""#), "{warned}");
    assert!(
        warned.contains("You are logged in as <strong>bystander</strong>."),
        "{warned}"
    );
    assert!(!warned.to_lowercase().contains("linkowner"), "{warned}");
    assert!(warned.contains(r#"<button id="confirm""#));
    assert_eq!(
        bystander.me().await.ok().data()["me"]["username"],
        "bystander"
    );
    still_unverified().await;

    // The cookie of a session that has ended, or a forged one, gets no warning.
    let token = bystander.login("bystander", PASSWORD).await.ok().data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    bystander.logout().await.ok();
    for cookie in [format!("access={token}"), "access=forged.token.here".into()] {
        let html = app
            .client()
            .http
            .get(format!("{}{path}", app.base_url))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains(r#"<button id="confirm""#), "{html}");
        assert!(!html.contains(r#"id="warning""#), "{html}");
    }

    // Pressing Confirm runs the mutation, which verifies and logs in.
    let presser = app.client();
    presser.verify_email(&link.uid, &link.token).await.ok();
    assert_eq!(
        presser.me().await.ok().data()["me"]["username"],
        "linkowner"
    );
    app.client().login("linkowner", PASSWORD).await.ok();
}

async fn graphql_answers_are_never_stored_by_caches(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (browser, _) = app.new_user("private").await;
    let posted = browser.me().await.ok();
    assert_eq!(posted.data()["me"]["username"], "private");
    assert_eq!(posted.headers["cache-control"], "no-store");

    let got = browser.get("/graphql?query=%7Bme%7Busername%7D%7D").await;
    assert_eq!(got.headers()["cache-control"], "no-store");
    let body: Value = got.json().await.unwrap();
    assert_eq!(body["data"]["me"]["username"], "private");
}

on_every_store!(
    reveals_nothing_mutations_answer_before_any_lookup_or_delivery,
    the_verification_page_waits_for_confirmation,
    graphql_answers_are_never_stored_by_caches,
);
