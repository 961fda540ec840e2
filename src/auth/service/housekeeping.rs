//! The periodic clean-up: unverified accounts, idle guests, stale rate-limit counters, lapsed
//! passkey challenges, sign-in requests and e-mail changes, on a schedule read from the
//! injected clock.

use std::{sync::Arc, time::Duration};

use super::AuthService;
use crate::{auth::tokens::chrono_duration, domain::AppResult};

/// Pending accounts and idle guests are purged at least this often (and as often as their
/// TTL when shorter).
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// How often the clean-up looks at the clock to see whether a round is due.
const PURGE_CHECK: Duration = Duration::from_secs(60);

/// Wakes the periodic clean-up ([`AuthService::purge_periodically`]) early, and lets the caller
/// wait for the round it asked for.
#[derive(Debug, Default)]
pub struct Housekeeping {
    wake: tokio::sync::Notify,
    asked: std::sync::atomic::AtomicU64,
    done: tokio::sync::watch::Sender<u64>,
}

impl Housekeeping {
    /// Runs a clean-up round now and returns once it has finished (tests move the clock past a
    /// TTL, then call this instead of waiting an hour).
    pub async fn run_now(&self) {
        let asked = self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let mut done = self.done.subscribe();
        self.wake.notify_one();
        // The round loop never ends while the process runs, so this cannot wait forever.
        let _ = done.wait_for(|&round| round >= asked).await;
    }
}

impl AuthService {
    /// Deletes the accounts never verified within `UNVERIFIED_ACCOUNT_TTL`.
    pub async fn purge_unverified(&self) -> AppResult<u64> {
        let cutoff = self.clock.now() - chrono_duration(self.settings.unverified_account_ttl);
        let purged = self.store.delete_pending_users(cutoff).await?;
        if purged > 0 {
            tracing::info!(target: "audit", event = "unverified_accounts_purged", count = purged);
        }
        Ok(purged)
    }

    /// Runs a clean-up round ([`Self::purge_unverified`], [`Self::sweep_idle_guests`], stale
    /// rate-limit counters) whenever the clock says one is due (every hour, or every TTL when
    /// shorter) or [`Housekeeping::run_now`] asks, for as long as the process runs.
    pub async fn purge_periodically(self: Arc<Self>) {
        let ttl = self.settings.unverified_account_ttl;
        if let Err(err) = self.store.expire_pending_users_after(ttl).await {
            tracing::warn!(error = %err.chain(), "the database cannot expire unverified accounts by itself; the periodic purge still does");
        }
        let every = chrono_duration(PURGE_INTERVAL.min(ttl).min(self.settings.guest_ttl));
        let mut ticks =
            tokio::time::interval(PURGE_CHECK.min(every.to_std().unwrap_or(PURGE_CHECK)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let housekeeping = self.housekeeping.clone();
        let (mut due, mut done) = (self.clock.now(), 0);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = housekeeping.wake.notified() => {}
            }
            // Taken before the round starts: a round asked for is one that starts after asking.
            let asked = housekeeping.asked.load(std::sync::atomic::Ordering::SeqCst);
            let now = self.clock.now();
            if asked == done && now < due {
                continue;
            }
            due = now + every;
            self.purge_once().await;
            done = asked;
            housekeeping.done.send_replace(asked);
        }
    }

    async fn purge_once(&self) {
        if let Err(err) = self.purge_unverified().await {
            tracing::warn!(error = ?err, "purging unverified accounts failed; will retry");
        }
        if let Err(err) = self.sweep_idle_guests().await {
            tracing::warn!(error = ?err, "deleting idle guests failed; will retry");
        }
        if let Err(err) = self.throttle.purge_expired().await {
            tracing::warn!(error = ?err, "purging rate-limit counters failed; will retry");
        }
        if let Err(err) = self.purge_passkey_challenges().await {
            tracing::warn!(error = ?err, "purging passkey challenges failed; will retry");
        }
        if let Err(err) = self.store.purge_social_logins(self.clock.now()).await {
            tracing::warn!(error = %err.chain(), "purging social sign-ins failed; will retry");
        }
        if let Err(err) = self.store.purge_sign_in_requests(self.clock.now()).await {
            tracing::warn!(error = %err.chain(), "purging sign-in requests failed; will retry");
        }
        if let Err(err) = self.store.purge_email_changes(self.clock.now()).await {
            tracing::warn!(error = %err.chain(), "purging e-mail changes failed; will retry");
        }
        if let Err(err) = self.finish_account_erasures().await {
            tracing::warn!(error = ?err, "finishing account erasures failed; will retry");
        }
    }
}
