//! `quiz-llm admin user …`: the real binary, run against the database an in-process server
//! uses (a SQLite file or MongoDB), and what the server's clients see afterwards.

use std::{
    process::{Command, Output},
    time::Duration,
};

use quiz_llm::{config::ExposeSecret, domain::identity::login_key, store::DatabaseUrl};
use serde_json::Value;

use crate::common::{Backend, Client, PASSWORD, TestApp, free_port};

crate::on_every_store!(
    show_prints_the_account_and_no_secret,
    disabling_ends_sessions_and_refuses_login_until_enabled,
    ending_sessions_makes_refresh_fail,
    resending_verification_queues_a_working_link,
    an_unknown_user_exits_3,
    a_disabled_account_cannot_sign_in_by_mailed_link_or_code,
    disabling_closes_the_account_s_open_sockets,
    deleting_erases_the_account_once_its_name_is_confirmed,
);

/// The server's settings the commands need: its database, its signing key and its address.
fn command_for(app: &TestApp, args: &[&str]) -> Command {
    let database = match &app.config.store.database_url {
        DatabaseUrl::Sqlite(Some(path)) => format!("sqlite://{}", path.display()),
        DatabaseUrl::Mongo(url) => url.expose_secret().to_owned(),
        DatabaseUrl::Sqlite(None) => unreachable!("spawn_shareable uses a file"),
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quiz-llm"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database)
        .env("JWT_SECRET", "test-secret-test-secret-test-secret!")
        .env("PUBLIC_URL", "http://quiz.test")
        // Nothing listens there: a mail stays in the outbox for the server to deliver.
        .env("SMTP_URL", format!("smtp://127.0.0.1:{}", free_port()))
        .env("MAIL_RETRY_BASE", "10ms");
    cmd
}

async fn run(app: &TestApp, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::from(command_for(app, args));
    cmd.kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("quiz-llm {args:?} still ran after 60 s"))
        .expect("run quiz-llm")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `admin user <action> <who> --actor ops-alice …` and expects exit status 0.
async fn admin(app: &TestApp, action: &str, who: &str, extra: &[&str]) -> String {
    let mut args = vec!["admin", "user", action, who, "--actor", "ops-alice"];
    args.extend_from_slice(extra);
    let out = run(app, &args).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

async fn shareable(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_shareable(backend, |c| {
        // The outbox looks for due mail this often (the CLI's mail included).
        c.mail.mail_retry_base = Duration::from_millis(100);
    })
    .await
}

async fn show_json(app: &TestApp, who: &str) -> Value {
    let out = admin(app, "show", who, &["--json"]).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

async fn show_prints_the_account_and_no_secret(backend: Backend) {
    let Some(a) = shareable(backend).await else {
        return;
    };
    let (client, email) = a.new_user("ada").await;
    client.refresh().await.ok();
    let user = a
        .store
        .find_user_by_username(&login_key("ada"))
        .await
        .unwrap()
        .unwrap();
    let hash = user.password_hash().unwrap().expose().to_owned();
    let sessions = a
        .store
        .list_sessions(&user.id, crate::common::now())
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    let refresh_token = sessions[0].refresh_token.expose().to_owned();

    let table = admin(&a, "show", "ada", &[]).await;
    for expected in [
        user.id.as_str(),
        "ada",
        email.as_str(),
        sessions[0].id.as_str(),
        "password",
    ] {
        assert!(table.contains(expected), "{expected:?} missing:\n{table}");
    }
    assert!(table.contains("disabled   no"), "{table}");
    assert!(table.contains("verified   yes"), "{table}");

    // By e-mail address and by id too; the same account.
    for who in [email.as_str(), user.id.as_str()] {
        let json = show_json(&a, who).await;
        assert_eq!(json["id"], user.id.as_str(), "{json}");
        assert_eq!(json["username"], "ada");
        assert_eq!(json["email"], email.as_str());
        assert_eq!(json["verified"], true);
        assert_eq!(json["disabled"], false);
        assert_eq!(json["locale"], "en");
        assert_eq!(json["sessions"].as_array().unwrap().len(), 1);
        assert_eq!(json["sessions"][0]["id"], sessions[0].id.as_str());
        assert_eq!(json["sessions"][0]["sign_in_method"], "password");
        assert!(
            json["sessions"][0]["last_refreshed_at"].is_string(),
            "{json}"
        );
        assert_eq!(json["factors"]["totp"], false);
        assert_eq!(json["factors"]["passkeys"], serde_json::json!([]));
        assert_eq!(json["counts"]["quizzes"], 0);
        assert_eq!(json["counts"]["results"], 0);
        let all = json.to_string();
        assert!(!all.contains(&hash), "password hash shown: {all}");
        assert!(!all.contains(&refresh_token), "refresh token shown: {all}");
    }
    assert!(!table.contains(&hash), "password hash shown:\n{table}");
    assert!(!table.contains("argon2"), "password hash shown:\n{table}");
    assert!(
        !table.contains(&refresh_token),
        "refresh token shown:\n{table}"
    );
}

async fn disabling_ends_sessions_and_refuses_login_until_enabled(backend: Backend) {
    let Some(a) = shareable(backend).await else {
        return;
    };
    let (client, _) = a.new_user("bob").await;
    assert!(client.me().await.errors().is_none());

    let out = admin(&a, "disable", "bob", &[]).await;
    assert!(out.contains("disabled; 1 session(s) ended"), "{out}");
    // Another process ended it: this one sees it once its session cache entry is stale.
    a.clock
        .advance(a.config.auth.session_cache_ttl + Duration::from_secs(1));
    assert_eq!(client.me().await.code(), "SESSION_EXPIRED");
    assert_eq!(client.refresh().await.code(), "ACCOUNT_DISABLED");
    let fresh = a.client();
    assert_eq!(
        fresh.login("bob", PASSWORD).await.code(),
        "ACCOUNT_DISABLED"
    );
    // A wrong password still says nothing about the account.
    assert_eq!(
        fresh.login("bob", "not the password at all").await.code(),
        "INVALID_CREDENTIALS"
    );
    assert_eq!(show_json(&a, "bob").await["disabled"], true);

    let out = admin(&a, "enable", "bob", &[]).await;
    assert!(out.contains("enabled"), "{out}");
    let r = fresh.login("bob", PASSWORD).await;
    assert!(r.errors().is_none(), "{r:?}");
    assert!(fresh.me().await.errors().is_none());
    assert_eq!(show_json(&a, "bob").await["disabled"], false);
}

async fn ending_sessions_makes_refresh_fail(backend: Backend) {
    let Some(a) = shareable(backend).await else {
        return;
    };
    let (client, _) = a.new_user("cyd").await;
    let second = a.client();
    assert!(second.login("cyd", PASSWORD).await.errors().is_none());

    let out = admin(&a, "end-sessions", "cyd", &[]).await;
    assert!(out.contains("2 session(s) ended"), "{out}");
    assert_eq!(client.refresh().await.code(), "SESSION_EXPIRED");
    assert_eq!(second.refresh().await.code(), "SESSION_EXPIRED");
    assert_eq!(
        show_json(&a, "cyd").await["sessions"],
        serde_json::json!([])
    );
    // Not disabled: logging in again works.
    assert!(client.login("cyd", PASSWORD).await.errors().is_none());
}

async fn resending_verification_queues_a_working_link(backend: Backend) {
    let Some(a) = shareable(backend).await else {
        return;
    };
    let client: Client = a.client();
    let email = "dee@example.com";
    assert!(
        client
            .sign_up("dee", email, PASSWORD)
            .await
            .errors()
            .is_none()
    );
    assert_eq!(a.emails_to(email).len(), 1);

    let out = admin(&a, "resend-verification", email, &[]).await;
    assert!(out.contains("verification link mailed"), "{out}");
    // The command could not reach a mail server: the running server delivers the queued mail.
    let mails = a.wait_for_emails(email, 2).await;
    let link = crate::common::Link::find_in(&mails[1]).expect("a verification link");
    let r = a.client().verify_email(&link.uid, &link.token).await;
    assert!(r.errors().is_none(), "{r:?}");

    // Verified now: nothing more to send, and the command says so.
    let out = run(
        &a,
        &[
            "admin",
            "user",
            "resend-verification",
            "dee",
            "--actor",
            "ops-alice",
        ],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("already verified"), "{stderr}");
}

async fn a_disabled_account_cannot_sign_in_by_mailed_link_or_code(backend: Backend) {
    use crate::sign_in_link::{request_mail, with_code, with_link};
    let Some(a) = shareable(backend).await else {
        return;
    };
    let (_, email) = a.new_user("eve").await;
    admin(&a, "disable", "eve", &[]).await;
    let c = a.client();
    let mail = request_mail(&a, &c, &email).await;
    assert_eq!(with_link(&c, &mail.token).await.code(), "ACCOUNT_DISABLED");
    let mail = request_mail(&a, &c, &email).await;
    assert_eq!(
        with_code(&c, &email, &mail.code).await.code(),
        "ACCOUNT_DISABLED"
    );
    assert!(c.me().await.data()["me"].is_null(), "no session was made");

    admin(&a, "enable", "eve", &[]).await;
    let mail = request_mail(&a, &c, &email).await;
    let r = with_link(&c, &mail.token).await;
    assert!(r.errors().is_none(), "{r:?}");
}

async fn disabling_closes_the_account_s_open_sockets(backend: Backend) {
    use crate::live::{socket, token_of};
    let Some(a) = shareable(backend).await else {
        return;
    };
    let (client, _) = a.new_user("fay").await;
    let token = token_of(&client, "fay").await;
    let mut s = socket(&a, &token).await;
    s.subscribe(
        "e",
        "subscription { quizEvents { kind quizId } }",
        serde_json::json!({}),
    )
    .await;
    a.wait_for_subscriptions("quizEvents", 1).await;

    admin(&a, "disable", "fay", &[]).await;
    // Sockets check their session every 100 ms here; this process's cached answer goes stale.
    a.clock
        .advance(a.config.auth.session_cache_ttl + Duration::from_secs(1));
    let closed = tokio::time::timeout(Duration::from_secs(10), s.closed())
        .await
        .expect("the socket closes once the account is disabled");
    assert_eq!(closed.code, 4401, "{closed:?}");
    assert_eq!(closed.reason, "SESSION_EXPIRED");
}

async fn deleting_erases_the_account_once_its_name_is_confirmed(backend: Backend) {
    let Some(a) = shareable(backend).await else {
        return;
    };
    let (client, email) = a.new_user("gus").await;
    client
        .generate_quiz(serde_json::json!({ "topic": "Apollo 11", "sourceText": crate::common::APOLLO_11, "questionCount": 3 }))
        .await
        .ok();
    let id = show_json(&a, "gus").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A name that is not the account's erases nothing.
    let out = run(
        &a,
        &[
            "admin",
            "user",
            "delete",
            &email,
            "--actor",
            "ops-alice",
            "--confirm",
            "guss",
        ],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("nothing deleted"), "{stderr}");
    assert!(client.me().await.errors().is_none());
    let missing = run(
        &a,
        &["admin", "user", "delete", "gus", "--actor", "ops-alice"],
    )
    .await;
    assert_eq!(missing.status.code(), Some(2), "--confirm is required");

    let out = admin(&a, "delete", &id, &["--confirm", "gus"]).await;
    assert!(out.contains("gus") && out.contains("deleted"), "{out}");
    // Another process erased it: this one sees it once its session cache entry is stale.
    a.clock
        .advance(a.config.auth.session_cache_ttl + Duration::from_secs(1));
    assert_eq!(client.me().await.code(), "SESSION_EXPIRED");
    assert_eq!(client.refresh().await.code(), "SESSION_EXPIRED");
    assert_eq!(
        a.client().login("gus", PASSWORD).await.code(),
        "INVALID_CREDENTIALS"
    );
    let gone = run(
        &a,
        &["admin", "user", "show", "gus", "--actor", "ops-alice"],
    )
    .await;
    assert_eq!(gone.status.code(), Some(3));
    let id = quiz_llm::domain::UserId::parse(&id).unwrap();
    let quizzes = a.store.list_quiz_keys(&id, None, 10).await.unwrap();
    assert!(quizzes.keys.is_empty(), "its quizzes went with it");
}

async fn an_unknown_user_exits_3(backend: Backend) {
    let Some(a) = shareable(backend).await else {
        return;
    };
    for action in ["show", "disable", "enable", "end-sessions", "delete"] {
        let mut args = vec!["admin", "user", action, "nobody", "--actor", "ops-alice"];
        if action == "delete" {
            args.extend(["--confirm", "nobody"]);
        }
        let out = run(&a, &args).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(3), "{action}: {stdout}{stderr}");
        assert!(stderr.contains("no user \"nobody\""), "{stderr}");
    }
}

#[tokio::test]
async fn a_missing_actor_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_quiz-llm"))
        .args(["admin", "user", "disable", "ada"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", "sqlite::memory:")
        .output()
        .expect("run quiz-llm");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("--actor"), "{stderr}");
}

#[tokio::test]
async fn an_unreachable_store_exits_1() {
    let out = Command::new(env!("CARGO_BIN_EXE_quiz-llm"))
        .args(["admin", "user", "show", "ada", "--actor", "ops-alice"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            "mongodb://127.0.0.1:9/quiz?serverSelectionTimeoutMS=1000",
        )
        .output()
        .expect("run quiz-llm");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("cannot reach MongoDB"), "{stderr}");
}
