//! Deployment-wide rate limits against brute force and mail bombing. Each bucket is keyed (an
//! account, an address, a client, a session) and allows `count` hits in any `per`: counters live
//! in the store (one atomic update per check, shared by every server process) as fixed windows
//! read as a sliding window, the current window's hits plus the previous window's weighted by
//! how much of it still lies within `per`. A session's refreshes are counted on the session
//! itself (see [`Throttle::count_on_record`]), so a refresh stays one write.
//!
//! A room of its own, below the services and above the store: sign-in (auth) and quiz
//! generation (quiz) both count against these limits, and neither may depend on the other.
//! The per-request [`RequestBudget`] lives here too: the HTTP edge grants one to each request,
//! GraphQL hands it on, and the quiz service spends it.

use std::{
    fmt,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};

use crate::{
    domain::{AppError, AppResult, SharedClock, WindowCount},
    domain::{ClientInfo, UserId},
    store::{RateLimitStore, WindowHits},
};

/// `count/period`, e.g. `10/5m`: at most `count` at once, refilling over `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("expected COUNT/PERIOD such as 10/5m, got {s:?}");
        let (count, per) = s.trim().split_once('/').ok_or_else(err)?;
        let count: u32 = count.trim().parse().map_err(|_| err())?;
        let per = humantime::parse_duration(per.trim()).map_err(|_| err())?;
        if count == 0 || per.is_zero() {
            return Err(format!(
                "{s:?}: both the count and the period must be above zero"
            ));
        }
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, humantime::format_duration(self.per))
    }
}

/// What is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Login attempts on one account from one client, so a stranger guessing cannot lock the
    /// owner out of their own address.
    LoginAccount,
    /// Login attempts on one account from every client together.
    LoginAccountGlobal,
    /// Login attempts from one client address.
    LoginClient,
    /// Sign-ups from one client address.
    SignUpClient,
    /// E-mails (verification, resend, reset) to one address.
    MailAddress,
    /// E-mail-sending requests from one client address.
    MailClient,
    /// Refreshes of one session.
    RefreshSession,
    /// Quiz generations by one user.
    GenerateUser,
    /// Answer submissions by one user.
    SubmitUser,
    /// Guest sessions started from one client address.
    GuestClient,
    /// Second login steps (`verifyMfa`) from one client address.
    MfaClient,
    /// Passkey registrations started by one user.
    PasskeyRegistrationUser,
}

impl Bucket {
    /// Part of the stored key; never change one, or counters restart.
    fn name(self) -> &'static str {
        match self {
            Bucket::LoginAccount => "login-account",
            Bucket::LoginAccountGlobal => "login-account-global",
            Bucket::LoginClient => "login-client",
            Bucket::SignUpClient => "signup-client",
            Bucket::MailAddress => "mail-address",
            Bucket::MailClient => "mail-client",
            Bucket::RefreshSession => "refresh-session",
            Bucket::GenerateUser => "generate-user",
            Bucket::SubmitUser => "submit-user",
            Bucket::GuestClient => "guest-client",
            Bucket::MfaClient => "mfa-client",
            Bucket::PasskeyRegistrationUser => "passkey-registration-user",
        }
    }
}

/// `RATE_LIMIT_*`: each `COUNT/PERIOD`, at most COUNT in any PERIOD, across all server processes.
#[derive(Debug, Clone, clap::Args)]
pub struct RateLimits {
    /// Login (and `changePassword`, `reauthenticate`, TOTP code) attempts on one account from
    /// one client address.
    #[arg(
        long = "rate-limit-login-per-account",
        env = "RATE_LIMIT_LOGIN_PER_ACCOUNT",
        value_name = "RATE_LIMIT_LOGIN_PER_ACCOUNT",
        default_value = "10/5m"
    )]
    pub login_per_account: Rate,
    /// Login attempts on one account from all clients together, so a stranger's guesses
    /// cannot lock the owner out while the owner's own budget stays per client. Keep its rate
    /// above RATE_LIMIT_LOGIN_PER_ACCOUNT's, so no single client can use it up.
    #[arg(
        long = "rate-limit-login-per-account-global",
        env = "RATE_LIMIT_LOGIN_PER_ACCOUNT_GLOBAL",
        value_name = "RATE_LIMIT_LOGIN_PER_ACCOUNT_GLOBAL",
        default_value = "200/1h"
    )]
    pub login_per_account_global: Rate,
    /// Login attempts per client address.
    #[arg(
        long = "rate-limit-login-per-client",
        env = "RATE_LIMIT_LOGIN_PER_CLIENT",
        value_name = "RATE_LIMIT_LOGIN_PER_CLIENT",
        default_value = "30/5m"
    )]
    pub login_per_client: Rate,
    /// Sign-ups per client address.
    #[arg(
        long = "rate-limit-signup-per-client",
        env = "RATE_LIMIT_SIGNUP_PER_CLIENT",
        value_name = "RATE_LIMIT_SIGNUP_PER_CLIENT",
        default_value = "10/1h"
    )]
    pub signup_per_client: Rate,
    /// Verification, resend and password-reset e-mails to one address.
    #[arg(
        long = "rate-limit-mail-per-address",
        env = "RATE_LIMIT_MAIL_PER_ADDRESS",
        value_name = "RATE_LIMIT_MAIL_PER_ADDRESS",
        default_value = "5/1h"
    )]
    pub mail_per_address: Rate,
    /// Requests that send e-mail (sign-up, resend, reset) from one client address.
    #[arg(
        long = "rate-limit-mail-per-client",
        env = "RATE_LIMIT_MAIL_PER_CLIENT",
        value_name = "RATE_LIMIT_MAIL_PER_CLIENT",
        default_value = "20/1h"
    )]
    pub mail_per_client: Rate,
    /// Refreshes of one session.
    #[arg(
        long = "rate-limit-refresh-per-session",
        env = "RATE_LIMIT_REFRESH_PER_SESSION",
        value_name = "RATE_LIMIT_REFRESH_PER_SESSION",
        default_value = "30/1m"
    )]
    pub refresh_per_session: Rate,
    /// Quiz generations per user (each may be an LLM call).
    #[arg(
        long = "rate-limit-generate-per-user",
        env = "RATE_LIMIT_GENERATE_PER_USER",
        value_name = "RATE_LIMIT_GENERATE_PER_USER",
        default_value = "30/1h"
    )]
    pub generate_per_user: Rate,
    /// Answer submissions per user (each result may get LLM feedback).
    #[arg(
        long = "rate-limit-submit-per-user",
        env = "RATE_LIMIT_SUBMIT_PER_USER",
        value_name = "RATE_LIMIT_SUBMIT_PER_USER",
        default_value = "120/1h"
    )]
    pub submit_per_user: Rate,
    /// Guest accounts started from one client address.
    #[arg(
        long = "rate-limit-guest-per-client",
        env = "RATE_LIMIT_GUEST_PER_CLIENT",
        value_name = "RATE_LIMIT_GUEST_PER_CLIENT",
        default_value = "10/1h"
    )]
    pub guest_per_client: Rate,
    /// Second login steps (`verifyMfa`) per client address, counted before the `mfaToken` is
    /// read, so forged tokens cannot make the store count for accounts that are not there.
    #[arg(
        long = "rate-limit-mfa-per-client",
        env = "RATE_LIMIT_MFA_PER_CLIENT",
        value_name = "RATE_LIMIT_MFA_PER_CLIENT",
        default_value = "30/5m"
    )]
    pub mfa_per_client: Rate,
    /// Passkey registrations a user may start (each stores a challenge).
    #[arg(
        long = "rate-limit-passkey-registration-per-user",
        env = "RATE_LIMIT_PASSKEY_REGISTRATION_PER_USER",
        value_name = "RATE_LIMIT_PASSKEY_REGISTRATION_PER_USER",
        default_value = "20/1h"
    )]
    pub passkey_registration_per_user: Rate,
}

impl RateLimits {
    /// The same rate for every limit (tests and benchmarks that want limits out of the way).
    pub fn uniform(rate: Rate) -> Self {
        RateLimits {
            login_per_account: rate,
            login_per_account_global: rate,
            login_per_client: rate,
            signup_per_client: rate,
            mail_per_address: rate,
            mail_per_client: rate,
            refresh_per_session: rate,
            generate_per_user: rate,
            submit_per_user: rate,
            guest_per_client: rate,
            mfa_per_client: rate,
            passkey_registration_per_user: rate,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        crate::config::parse::defaults()
    }
}

impl RateLimits {
    fn rate(&self, bucket: Bucket) -> Rate {
        match bucket {
            Bucket::LoginAccount => self.login_per_account,
            Bucket::LoginAccountGlobal => self.login_per_account_global,
            Bucket::LoginClient => self.login_per_client,
            Bucket::SignUpClient => self.signup_per_client,
            Bucket::MailAddress => self.mail_per_address,
            Bucket::MailClient => self.mail_per_client,
            Bucket::RefreshSession => self.refresh_per_session,
            Bucket::GenerateUser => self.generate_per_user,
            Bucket::SubmitUser => self.submit_per_user,
            Bucket::GuestClient => self.guest_per_client,
            Bucket::MfaClient => self.mfa_per_client,
            Bucket::PasskeyRegistrationUser => self.passkey_registration_per_user,
        }
    }
}

pub struct Throttle {
    limits: RateLimits,
    store: Arc<dyn RateLimitStore>,
    clock: SharedClock,
    /// Keys the store refused, until the time it gave: refused again here without a round
    /// trip. Only ever refuses what the store refused, and no longer, so it cannot loosen a limit.
    blocked: moka::sync::Cache<String, DateTime<Utc>>,
}

/// Refused keys remembered at most; beyond, the store answers for the rest.
const BLOCKED_KEYS: u64 = 100_000;

impl Throttle {
    pub fn new(limits: RateLimits, store: Arc<dyn RateLimitStore>, clock: SharedClock) -> Self {
        Throttle {
            limits,
            store,
            clock,
            blocked: moka::sync::Cache::new(BLOCKED_KEYS),
        }
    }

    /// Counts one attempt; `RATE_LIMITED` with the wait when the bucket is full. `user` (the
    /// account concerned, when known) and `client` only go to the audit log.
    pub async fn check(
        &self,
        bucket: Bucket,
        key: &str,
        user: Option<&UserId>,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let rate = self.limits.rate(bucket);
        let id = stored_key(bucket, key);
        let now = self.clock.now();
        if let Some(until) = self.blocked.get(&id) {
            if until > now {
                return Err(refused(bucket, user, client, until - now));
            }
            self.blocked.invalidate(&id);
        }
        let window = Window::at(now, rate.per);
        let hits = self
            .store
            .hit_rate_limit(&id, window.number, now + window.len * 2)
            .await?;
        let Some(wait) = window.wait(rate.count, hits) else {
            return Ok(());
        };
        if let Err(err) = self.store.unhit_rate_limit(&id, window.number).await {
            // The refusal stands; the counter merely stays one higher.
            tracing::warn!(error = %err.chain(), "could not take back a refused rate-limit hit");
        }
        self.blocked.insert(id, now + wait);
        Err(refused(bucket, user, client, wait))
    }

    /// Counts one attempt against a count kept on the record it limits (a session's
    /// refreshes), returning the count to write with the change itself: the caller's
    /// compare-and-swap makes it exact across processes, at no extra round trip. Nothing is
    /// written for a refusal.
    pub fn count_on_record(
        &self,
        bucket: Bucket,
        counted: WindowCount,
        user: Option<&UserId>,
        client: &ClientInfo,
    ) -> AppResult<WindowCount> {
        let rate = self.limits.rate(bucket);
        let now = self.clock.now();
        let window = Window::at(now, rate.per);
        let (previous, current) = match window.number - counted.window {
            0 => (counted.previous, counted.current),
            1 => (counted.current, 0),
            _ => (0, 0),
        };
        let hits = WindowHits {
            current: u64::from(current) + 1,
            previous: u64::from(previous),
        };
        if let Some(wait) = window.wait(rate.count, hits) {
            return Err(refused(bucket, user, client, wait));
        }
        Ok(WindowCount {
            window: window.number,
            current: current.saturating_add(1),
            previous,
        })
    }

    /// Drops counters no check reads any more (MongoDB's TTL index does it there, too).
    pub async fn purge_expired(&self) -> AppResult<u64> {
        Ok(self.store.purge_rate_limits(self.clock.now()).await?)
    }
}

/// The bucket and key, hashed: the store holds no addresses or account names in the clear.
fn stored_key(bucket: Bucket, key: &str) -> String {
    let hex = crate::domain::sha256_hex(format!("{}\0{key}", bucket.name()).as_bytes());
    format!("{}:{}", bucket.name(), &hex[..32])
}

fn refused(
    bucket: Bucket,
    user: Option<&UserId>,
    client: &ClientInfo,
    wait: chrono::Duration,
) -> AppError {
    tracing::warn!(
        target: "audit",
        event = "rate_limited",
        bucket = ?bucket,
        user_id = user.map(UserId::as_str).unwrap_or_default(),
        client_ip = %client.key(),
        "rate limit hit"
    );
    let ms = wait.num_milliseconds().max(1) as u64;
    AppError::RateLimited {
        retry_after_secs: ms.div_ceil(1000),
    }
}

/// The fixed window `now` falls in, for a period of `len`.
#[derive(Debug, Clone, Copy)]
struct Window {
    number: i64,
    len: chrono::Duration,
    /// How far into the window `now` is.
    elapsed: chrono::Duration,
}

impl Window {
    fn at(now: DateTime<Utc>, per: Duration) -> Self {
        let len_ms = i64::try_from(per.as_millis()).unwrap_or(i64::MAX).max(1);
        let now_ms = now.timestamp_millis();
        let number = now_ms.div_euclid(len_ms);
        Window {
            number,
            len: chrono::Duration::milliseconds(len_ms),
            elapsed: chrono::Duration::milliseconds(now_ms - number * len_ms),
        }
    }

    /// `None` when `hits` (this attempt included) fit in `count`; else how long until one
    /// more would, if nobody else tried meanwhile.
    fn wait(&self, count: u32, hits: WindowHits) -> Option<chrono::Duration> {
        let (len, elapsed) = (
            self.len.num_milliseconds() as u128,
            self.elapsed.num_milliseconds() as u128,
        );
        let count = u128::from(count);
        let (previous, current) = (u128::from(hits.previous), u128::from(hits.current));
        // previous · (len − elapsed) / len + current ≤ count, in integers.
        if previous * (len - elapsed) + current * len <= count * len {
            return None;
        }
        // Without this attempt, the earliest point at which one more fits.
        let current = current.saturating_sub(1);
        let later_in_this_window = (current < count && previous > 0)
            .then(|| len - ((count - current - 1) * len / previous).min(len))
            .filter(|&at| at < len)
            .map(|at| at.max(elapsed) - elapsed);
        let wait = later_in_this_window.unwrap_or_else(|| {
            // In the next window, this one's hits are the weighted ones.
            let into_next = if current < count {
                0
            } else {
                len - ((count - 1) * len / current).min(len)
            };
            len - elapsed + into_next
        });
        Some(chrono::Duration::milliseconds(wait.max(1) as i64))
    }
}

/// What one request may spend on expensive work: one quiz generation, one LLM feedback call
/// and one LLM call grading typed answers. Aliases and long lists would otherwise let a single request fan out into dozens of LLM
/// calls; a client that wants more sends more requests, which the per-user quotas count.
#[derive(Debug, Default)]
pub struct RequestBudget {
    generation_spent: AtomicBool,
    llm_feedback_spent: AtomicBool,
    llm_grading_spent: AtomicBool,
}

impl RequestBudget {
    /// A budget with nothing left, for work that arrives without one.
    pub const fn spent() -> Self {
        RequestBudget {
            generation_spent: AtomicBool::new(true),
            llm_feedback_spent: AtomicBool::new(true),
            llm_grading_spent: AtomicBool::new(true),
        }
    }

    /// True for the first caller only.
    fn take(flag: &AtomicBool) -> bool {
        !flag.swap(true, Ordering::Relaxed)
    }

    /// True the first time a quiz generation asks.
    pub fn take_generation(&self) -> bool {
        Self::take(&self.generation_spent)
    }

    /// True the first time an LLM feedback call asks.
    pub fn take_llm_feedback(&self) -> bool {
        Self::take(&self.llm_feedback_spent)
    }

    /// True the first time an LLM call grading typed answers asks.
    pub fn take_llm_grading(&self) -> bool {
        Self::take(&self.llm_grading_spent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            "10/5m".parse::<Rate>().unwrap(),
            Rate {
                count: 10,
                per: Duration::from_secs(300)
            }
        );
        assert!("10".parse::<Rate>().is_err());
        assert!("0/1m".parse::<Rate>().is_err());
        assert!("x/1m".parse::<Rate>().is_err());
    }

    fn window(elapsed_ms: i64, len_ms: i64) -> Window {
        Window {
            number: 0,
            len: chrono::Duration::milliseconds(len_ms),
            elapsed: chrono::Duration::milliseconds(elapsed_ms),
        }
    }

    fn hits(previous: u64, current: u64) -> WindowHits {
        WindowHits { current, previous }
    }

    #[test]
    fn counts_up_to_the_limit_in_a_window() {
        let w = window(100, 1000);
        assert_eq!(w.wait(3, hits(0, 3)), None);
        let wait = w.wait(3, hits(0, 4)).unwrap();
        // Full now: one more fits a third into the next window, when these three weigh two.
        assert_eq!(wait.num_milliseconds(), 900 + 334);
    }

    #[test]
    fn the_previous_window_weighs_by_what_remains_of_it() {
        // 10 last window; a quarter in, three quarters of them still count: 7.5 + 2 ≤ 10.
        let w = window(250, 1000);
        assert_eq!(w.wait(10, hits(10, 2)), None);
        // 7.5 + 3 > 10: one more fits once 10 · (1 − e) + 2 ≤ 9, at e = 0.3.
        let wait = w.wait(10, hits(10, 3)).unwrap();
        assert_eq!(wait.num_milliseconds(), 50);
    }

    #[test]
    fn a_window_full_on_its_own_waits_into_the_next() {
        // 10 of 10 now: next window these 10 weigh, and one more fits at 1 − 9/10 of it.
        let w = window(400, 1000);
        let wait = w.wait(10, hits(0, 11)).unwrap();
        assert_eq!(wait.num_milliseconds(), 600 + 100);
    }

    #[test]
    fn stored_keys_name_the_bucket_but_hide_the_key() {
        let k = stored_key(Bucket::MailAddress, "ada@example.com");
        assert!(k.starts_with("mail-address:"), "{k}");
        assert!(!k.contains("ada"));
        assert_ne!(k, stored_key(Bucket::MailClient, "ada@example.com"));
        assert_eq!(k, stored_key(Bucket::MailAddress, "ada@example.com"));
    }

    #[tokio::test]
    async fn bursts_then_refuses_with_a_wait_then_refills() {
        let store: Arc<dyn RateLimitStore> =
            Arc::new(crate::store::sqlite::SqliteStore::open(None).await.unwrap());
        let clock = crate::domain::ManualClock::new();
        let t = Throttle::new(
            RateLimits::uniform("3/1h".parse().unwrap()),
            store,
            Arc::new(clock.clone()),
        );
        let client = ClientInfo::default();
        for _ in 0..3 {
            t.check(Bucket::LoginAccount, "ada", None, &client)
                .await
                .unwrap();
        }
        let wait = match t.check(Bucket::LoginAccount, "ada", None, &client).await {
            Err(AppError::RateLimited { retry_after_secs }) => retry_after_secs,
            other => panic!("{other:?}"),
        };
        assert!((1..=7200).contains(&wait), "{wait}");
        // Other keys and buckets are untouched.
        t.check(Bucket::LoginAccount, "bob", None, &client)
            .await
            .unwrap();
        t.check(Bucket::LoginClient, "ada", None, &client)
            .await
            .unwrap();
        // Once the wait is over, one more fits.
        clock.advance(Duration::from_secs(wait));
        t.check(Bucket::LoginAccount, "ada", None, &client)
            .await
            .unwrap();
        assert!(
            t.check(Bucket::LoginAccount, "ada", None, &client)
                .await
                .is_err()
        );
    }
}
