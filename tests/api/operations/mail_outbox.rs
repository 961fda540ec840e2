//! E-mail survives a mail server that is down, a restart, and a mail server that stays down
//! for good: a real SMTP conversation with a small SMTP sink the test starts and stops on
//! 127.0.0.1.

use crate::common;

use std::time::{Duration, Instant};

use common::{Backend, PASSWORD, TestApp, smtp::SmtpSink};
use quiz_llm::{
    Settings,
    config::SecretString,
    domain::{MailId, OutboxRecord},
    mail::outbox::{self, MAX_ATTEMPTS},
    store::{self, DatabaseUrl, StoreFixtures},
};

/// Sends through the SMTP server on `port` (down until the test starts its sink), from
/// `from`, retrying failed mail every 200 ms at first.
fn smtp_on(c: &mut Settings, port: u16, from: &str) {
    c.mail.smtp_url = Some(SecretString::from(format!("smtp://127.0.0.1:{port}")));
    c.mail.mail_from = from.parse().unwrap();
    c.mail.mail_retry_base = Duration::from_millis(200);
}

async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the store until `count` says `want`.
async fn wait_for_count<F, Fut>(what: &str, want: u64, count: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = store::StoreResult<u64>>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = count().await.unwrap();
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {got}, not {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_every_store!(
    mail_waits_for_the_smtp_server_to_come_back,
    a_restart_before_delivery_loses_no_email,
    mail_that_keeps_failing_is_kept_as_a_dead_letter,
    retries_wait_twice_as_long_each_time_up_to_15_minutes,
);

async fn mail_waits_for_the_smtp_server_to_come_back(backend: Backend) {
    let sink = SmtpSink::down().await;
    let port = sink.port();
    let Some(app) = TestApp::spawn(backend, |c| smtp_on(c, port, "Quiz <quiz@quiz.test>")).await
    else {
        return;
    };
    // The mail server is down.
    let c = app.client();
    let r = c
        .sign_up("patient", "patient@example.com", PASSWORD)
        .await
        .ok();
    assert_eq!(r.data()["signUp"]["user"]["username"], "patient");
    assert_eq!(
        app.store.count_mail().await.unwrap(),
        1,
        "the e-mail waits in the outbox"
    );

    tokio::time::sleep(Duration::from_millis(600)).await;
    sink.up();
    let message = wait_for("the e-mail to arrive", || sink.messages().pop()).await;
    assert!(message.contains("patient@example.com"));
    assert!(message.contains("verify-email?uid="));
    let store = app.store.clone();
    wait_for_count("mail left in the outbox", 0, || store.count_mail()).await;
    // Delivered once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1);
    sink.stop();
}

async fn a_restart_before_delivery_loses_no_email(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::down().await;
    let port = sink.port();
    let Some(mut first) = TestApp::spawn(backend, |c| {
        // An in-memory database dies with its process; a restart needs one that stays.
        if matches!(c.store.database_url, DatabaseUrl::Sqlite(None)) {
            c.store.database_url = DatabaseUrl::Sqlite(Some(dir.path().join("outbox.db")));
        }
        smtp_on(c, port, "First <first@quiz.test>");
    })
    .await
    else {
        return;
    };
    first
        .client()
        .sign_up("survivor", "survivor@example.com", PASSWORD)
        .await
        .ok();
    assert_eq!(first.store.count_mail().await.unwrap(), 1);

    // The instance goes away with the mail undelivered: its server and its outbox worker stop.
    first.shutdown().await;
    let refused = reqwest::Client::new()
        .get(format!("{}/healthz", first.base_url))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(refused.is_err(), "the first instance still serves");
    // The mail server is back, and the failed mail's retries (200 ms, doubling) fall due, yet
    // nothing is sent while no instance runs (a running worker would send within 200 ms).
    sink.up();
    first.clock.advance(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        sink.messages().is_empty(),
        "a stopped instance delivered mail:\n{:?}",
        sink.messages()
    );
    assert_eq!(first.store.count_mail().await.unwrap(), 1);

    // The next instance on the same database delivers it, with no help.
    let db = first.config.store.database_url.clone();
    let second = TestApp::spawn(backend, move |c| {
        c.store.database_url = db;
        smtp_on(c, port, "Second <second@quiz.test>");
    })
    .await
    .unwrap();
    let message = wait_for("the e-mail to arrive", || sink.messages().pop()).await;
    assert!(message.contains("survivor@example.com"), "{message}");
    assert!(
        message.contains("From: Second <second@quiz.test>"),
        "sent by the second instance:\n{message}"
    );
    let store = second.store.clone();
    wait_for_count("mail left in the outbox", 0, || store.count_mail()).await;
    assert_eq!(sink.messages().len(), 1);
    sink.stop();
}

async fn mail_that_keeps_failing_is_kept_as_a_dead_letter(backend: Backend) {
    let sink = SmtpSink::down().await;
    let port = sink.port();
    let Some(app) = TestApp::spawn(backend, |c| smtp_on(c, port, "Quiz <quiz@quiz.test>")).await
    else {
        return;
    };
    // A mail with one attempt left, as after hours of failures; the mail server is down.
    let now = common::now();
    let mail = OutboxRecord {
        id: MailId::new_random(),
        to: "Late <late@example.com>".into(),
        subject: "Confirm your e-mail".into(),
        text: "hello".into(),
        html: "<p>hello</p>".into(),
        attempts: MAX_ATTEMPTS - 1,
        next_attempt_at: now,
        created_at: now,
        last_error: Some("connection refused".into()),
    };
    app.store.enqueue_mail(&mail).await.unwrap();
    let store = app.store.clone();
    wait_for_count("dead letters", 1, || store.count_dead_mail()).await;
    assert_eq!(
        app.store.count_mail().await.unwrap(),
        1,
        "kept, not deleted"
    );

    // Not retried by itself, even once the mail server is back and any backoff has passed...
    sink.up();
    app.clock.advance(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.messages().is_empty(), "a dead letter was sent");
    assert_eq!(app.store.count_dead_mail().await.unwrap(), 1);

    // ...but on demand (what `quiz-llm outbox retry-dead` runs), by the running worker.
    assert_eq!(
        outbox::retry_dead(&*app.store, &app.clock).await.unwrap(),
        1
    );
    let message = wait_for("the e-mail to arrive", || sink.messages().pop()).await;
    assert!(message.contains("late@example.com"), "{message}");
    wait_for_count("mail left in the outbox", 0, || store.count_mail()).await;
    assert_eq!(app.store.count_dead_mail().await.unwrap(), 0);
    sink.stop();
}

/// The outbox's one mail, whatever its due time.
async fn the_queued_mail(app: &TestApp) -> OutboxRecord {
    use quiz_llm::domain::Clock;

    let far = app.clock.now() + chrono::Duration::days(365);
    let mut due = app.store.due_mail(far, 10).await.unwrap();
    assert_eq!(due.len(), 1, "one mail in the outbox");
    due.remove(0)
}

async fn retries_wait_twice_as_long_each_time_up_to_15_minutes(backend: Backend) {
    use quiz_llm::domain::Clock;

    let sink = SmtpSink::down().await;
    let port = sink.port();
    let Some(app) = TestApp::spawn(backend, |c| smtp_on(c, port, "Quiz <quiz@quiz.test>")).await
    else {
        return;
    };
    let base = app.config.mail.mail_retry_base;
    let now = app.clock.now();
    app.store
        .enqueue_mail(&OutboxRecord {
            id: MailId::new_random(),
            to: "Ada <ada@example.com>".into(),
            subject: "Confirm your e-mail".into(),
            text: "hello".into(),
            html: "<p>hello</p>".into(),
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
            last_error: None,
        })
        .await
        .unwrap();

    // Each failed attempt n is rescheduled min(base * 2^(n-1), 15 min) after the moment it
    // failed. The app's clock runs on, so that moment is known only to lie between the attempt's
    // due time and the clock's time when the test saw the outcome: a few hundred milliseconds,
    // far less than the waits from the third attempt on.
    let mut due = now;
    for attempt in 1..MAX_ATTEMPTS {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mail = loop {
            let mail = the_queued_mail(&app).await;
            if mail.attempts == attempt {
                break mail;
            }
            assert!(
                Instant::now() < deadline,
                "attempt {attempt} not made: {mail:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let seen = app.clock.now();
        let expected = base
            .saturating_mul(1 << (attempt - 1))
            .min(Duration::from_secs(15 * 60));
        let expected = chrono::Duration::from_std(expected).unwrap();
        let (at_least, at_most) = (mail.next_attempt_at - seen, mail.next_attempt_at - due);
        assert!(
            at_least <= expected && expected <= at_most,
            "attempt {attempt} waits between {at_least} and {at_most}, not {expected}"
        );
        // On to the next attempt's due time, without waiting for it.
        due = mail.next_attempt_at;
        if let Ok(ahead) = (due - app.clock.now()).to_std() {
            app.clock.advance(ahead);
        }
    }
    assert!(sink.messages().is_empty());
    sink.stop();
}
