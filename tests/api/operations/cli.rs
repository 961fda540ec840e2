//! Start-up validation: bad configuration stops the server with a message that says what is wrong.

use std::{
    process::{Command, Output},
    time::Duration,
};

use crate::common;

/// Runs the binary to its exit, killed and failed after a deadline: a server that starts when
/// it should have refused to would otherwise hang the suite instead of failing this test.
async fn run_to_exit(cmd: Command) -> Output {
    const DEADLINE: Duration = Duration::from_secs(30);
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    tokio::time::timeout(DEADLINE, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("quiz-llm still ran after {DEADLINE:?}: {cmd:?}"))
        .expect("run quiz-llm")
}

async fn serve_with(env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quiz-llm"));
    cmd.current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LISTEN_ADDR", "127.0.0.1:0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_to_exit(cmd).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn bad_durations_are_named() {
    let (ok, out) = serve_with(&[("ACCESS_TOKEN_TTL", "15 parsecs")]).await;
    assert!(!ok);
    assert!(
        out.contains("access-token-ttl") || out.contains("ACCESS_TOKEN_TTL"),
        "{out}"
    );
    assert!(out.contains("15 parsecs"), "{out}");
}

#[tokio::test]
async fn short_jwt_secrets_are_refused() {
    let (ok, out) = serve_with(&[("JWT_SECRET", "too-short")]).await;
    assert!(!ok);
    assert!(out.contains("JWT_SECRET") && out.contains("32"), "{out}");
    assert!(
        !out.contains("too-short"),
        "the secret itself is never printed: {out}"
    );
}

#[tokio::test]
async fn short_previous_secrets_are_refused() {
    let (ok, out) = serve_with(&[
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        (
            "JWT_PREVIOUS_SECRETS",
            "fedcba9876543210fedcba9876543210, short-one",
        ),
    ])
    .await;
    assert!(!ok);
    assert!(out.contains("JWT_PREVIOUS_SECRETS entry 2"), "{out}");
    assert!(!out.contains("short-one"), "{out}");
}

#[tokio::test]
async fn pool_sizes_are_bounded() {
    let (ok, out) = serve_with(&[("DATABASE_POOL_SIZE", "0")]).await;
    assert!(!ok);
    assert!(out.contains("DATABASE_POOL_SIZE"), "{out}");
}

#[tokio::test]
async fn unknown_database_schemes_are_refused() {
    let (ok, out) = serve_with(&[("DATABASE_URL", "postgres://localhost/db")]).await;
    assert!(!ok);
    assert!(out.contains("mongodb://"), "{out}");
}

#[tokio::test]
async fn unreachable_mongodb_stops_start_up() {
    let (ok, out) = serve_with(&[(
        "DATABASE_URL",
        "mongodb://127.0.0.1:9/quiz?serverSelectionTimeoutMS=1000",
    )])
    .await;
    assert!(!ok);
    assert!(out.contains("cannot reach MongoDB at 127.0.0.1:9"), "{out}");
}

/// `quiz-llm outbox retry-dead` queues every dead letter again, in the database the server uses.
#[tokio::test]
async fn outbox_retry_dead_queues_dead_letters_again() {
    use quiz_llm::{
        domain::{MailId, OutboxRecord},
        store::{self},
    };

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiz.db");
    let db = store::connect(&quiz_llm::store::DatabaseUrl::Sqlite(Some(path.clone())))
        .await
        .unwrap();
    let now = common::now();
    let mail = OutboxRecord {
        id: MailId::new_random(),
        to: "ada <ada@example.com>".into(),
        subject: "s".into(),
        text: "t".into(),
        html: "<p>h</p>".into(),
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        last_error: None,
    };
    db.enqueue_mail(&mail).await.unwrap();
    db.mark_mail_dead(&mail.id, 16, "550 mailbox unavailable", now)
        .await
        .unwrap();

    let retry_dead = async || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_quiz-llm"));
        cmd.args(["outbox", "retry-dead"])
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", format!("sqlite://{}", path.display()));
        let out = run_to_exit(cmd).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let out = retry_dead().await;
    assert!(out.contains("1 dead e-mail(s) queued"), "{out}");
    assert_eq!(db.count_dead_mail().await.unwrap(), 0);
    let due = db.due_mail(common::now(), 10).await.unwrap();
    assert_eq!(due.len(), 1, "due again");
    assert_eq!(due[0].id, mail.id);
    let out = retry_dead().await;
    assert!(out.contains("0 dead e-mail(s) queued"), "{out}");
}
