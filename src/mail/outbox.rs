//! At-least-once e-mail: every message is written to the store's outbox before the first
//! delivery attempt and removed only after the mail server accepted it. A failed attempt is
//! retried by a background worker with exponential backoff, so a mail server that is down at
//! sign-up, or a crash right after the sign-up committed, loses no e-mail. A mail that keeps
//! failing is not deleted either: it becomes a dead letter, kept in the outbox and logged, until
//! `quiz-llm outbox retry-dead` ([`retry_dead`]) queues it again.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Email, Mailer};
use crate::{
    domain::{Clock, SharedClock},
    domain::{MailId, OutboxRecord},
    store::Store,
};

/// After this many failed attempts a mail becomes a dead letter: kept, logged as an error, and
/// no longer tried until someone asks for it ([`retry_dead`]).
pub const MAX_ATTEMPTS: u32 = 16;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// How long a claimed mail is reserved for the worker that claimed it.
const CLAIM_LEASE: Duration = Duration::from_secs(60);
const BATCH: usize = 20;

pub struct Outbox {
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    retry_base: Duration,
    wake: Notify,
    clock: SharedClock,
}

fn at(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

impl Outbox {
    pub fn new(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        retry_base: Duration,
        clock: SharedClock,
    ) -> Self {
        Outbox {
            store,
            mailer,
            retry_base,
            wake: Notify::new(),
            clock,
        }
    }

    /// `retry_base`, doubled per failed attempt, capped.
    fn backoff(&self, attempts: u32) -> Duration {
        self.retry_base
            .saturating_mul(1 << attempts.saturating_sub(1).min(20))
            .min(MAX_BACKOFF)
    }

    /// Stores the mail, then tries to deliver it at once; when that fails the worker retries.
    /// Only a failure to store it is an error: then nothing was promised.
    pub async fn send(&self, email: Email) -> anyhow::Result<()> {
        let now = self.clock.now();
        let mail = OutboxRecord {
            id: MailId::new_random(),
            to: email.to.to_string(),
            subject: email.subject,
            text: email.text,
            html: email.html,
            attempts: 0,
            // Reserved for this first attempt, so the worker leaves it alone meanwhile.
            next_attempt_at: at(now, CLAIM_LEASE),
            created_at: now,
            last_error: None,
        };
        self.store.enqueue_mail(&mail).await?;
        self.attempt(mail).await;
        Ok(())
    }

    /// One delivery attempt of a claimed mail; the outcome is written back to the store.
    async fn attempt(&self, mail: OutboxRecord) {
        let result = async {
            let email = Email {
                to: mail.to.parse()?,
                subject: mail.subject.clone(),
                text: mail.text.clone(),
                html: mail.html.clone(),
            };
            self.mailer.send(email).await
        }
        .await;
        let outcome = match result {
            Ok(()) => self.store.remove_mail(&mail.id).await,
            Err(err) => {
                let attempts = mail.attempts + 1;
                let error = format!("{err:#}");
                if attempts >= MAX_ATTEMPTS {
                    tracing::error!(
                        mail_id = %mail.id,
                        attempts,
                        error,
                        "e-mail delivery keeps failing; kept as a dead letter until \
                         `quiz-llm outbox retry-dead`"
                    );
                    self.store
                        .mark_mail_dead(&mail.id, attempts, &error, self.clock.now())
                        .await
                } else {
                    let wait = self.backoff(attempts);
                    tracing::warn!(mail_id = %mail.id, attempts, ?wait, error, "e-mail delivery failed; will retry");
                    self.wake.notify_one();
                    self.store
                        .reschedule_mail(&mail.id, attempts, at(self.clock.now(), wait), &error)
                        .await
                }
            }
        };
        if let Err(err) = outcome {
            // The mail stays in the outbox and is tried again when its lease runs out.
            tracing::error!(mail_id = %mail.id, error = %err.chain(), "could not update the outbox");
        }
    }

    /// Delivers due mail; returns when nothing is due, or after the current attempt once `stop`
    /// is cancelled. Several workers (processes) may run: each mail is claimed before it is sent.
    async fn deliver_due(&self, stop: &CancellationToken) -> anyhow::Result<usize> {
        let mut delivered = 0;
        loop {
            let now = self.clock.now();
            let due = self.store.due_mail(now, BATCH).await?;
            if due.is_empty() {
                return Ok(delivered);
            }
            for mut mail in due {
                if stop.is_cancelled() {
                    return Ok(delivered);
                }
                if self
                    .store
                    .claim_mail(&mail.id, mail.next_attempt_at, at(now, CLAIM_LEASE))
                    .await?
                {
                    mail.next_attempt_at = at(now, CLAIM_LEASE);
                    self.attempt(mail).await;
                    delivered += 1;
                }
            }
        }
    }

    /// The background worker: wakes on failures and otherwise polls every `retry_base`, until
    /// `stop` is cancelled. A mail being sent then is finished first, so none is left claimed.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        match self.store.count_dead_mail().await {
            Ok(0) => {}
            Ok(dead) => tracing::warn!(
                dead,
                "the outbox holds e-mails that could not be delivered; \
                 `quiz-llm outbox retry-dead` sends them again"
            ),
            Err(err) => tracing::warn!(error = %err.chain(), "could not count dead letters"),
        }
        while !stop.is_cancelled() {
            if let Err(err) = self.deliver_due(&stop).await {
                tracing::warn!(error = %format!("{err:#}"), "outbox worker could not read the outbox");
            }
            let pause = async {
                tokio::select! {
                    _ = self.wake.notified() => {
                        // Give the failed attempt's backoff a chance to pass.
                        tokio::time::sleep(self.retry_base.min(Duration::from_secs(1))).await;
                    }
                    _ = tokio::time::sleep(self.retry_base) => {}
                }
            };
            stop.run_until_cancelled(pause).await;
        }
    }
}

/// Queues every dead letter for delivery again, with a fresh series of attempts (a running
/// server's worker picks them up at its next poll); returns how many there were.
pub async fn retry_dead(store: &dyn Store, clock: &dyn Clock) -> anyhow::Result<u64> {
    let requeued = store.requeue_dead_mail(clock.now()).await?;
    tracing::info!(requeued, "dead e-mails queued for delivery again");
    Ok(requeued)
}
