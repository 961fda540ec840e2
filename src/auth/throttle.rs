//! In-process rate limits against brute force and mail bombing (GCRA, from `governor`). Each
//! bucket is keyed (an account, an address, a client, a session) and allows a burst of `count`
//! that refills evenly over `per`.

use std::{
    fmt,
    num::NonZeroU32,
    str::FromStr,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use super::ClientInfo;
use crate::{
    domain::{AppError, AppResult},
    store::UserId,
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
}

const BUCKETS: usize = 9;

impl Bucket {
    fn index(self) -> usize {
        self as usize
    }
}

/// `RATE_LIMIT_*`: each `COUNT/PERIOD`, a burst of COUNT refilled evenly over PERIOD.
#[derive(Debug, Clone, clap::Args)]
pub struct RateLimits {
    /// Login attempts per account.
    #[arg(
        long = "rate-limit-login-per-account",
        env = "RATE_LIMIT_LOGIN_PER_ACCOUNT",
        value_name = "RATE_LIMIT_LOGIN_PER_ACCOUNT",
        default_value = "10/5m"
    )]
    pub login_per_account: Rate,
    /// Login attempts on one account from all clients together, so a stranger's guesses
    /// cannot lock the owner out while the owner's own budget stays per client.
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
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        crate::settings::defaults()
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
        }
    }
}

pub struct Throttle {
    limiters: [DefaultKeyedRateLimiter<String>; BUCKETS],
    clock: DefaultClock,
    checks: AtomicU64,
}

fn quota(rate: Rate) -> Quota {
    let count = NonZeroU32::new(rate.count).unwrap_or(NonZeroU32::MIN);
    let interval = (rate.per / count.get()).max(Duration::from_nanos(1));
    Quota::with_period(interval)
        .expect("a non-zero interval")
        .allow_burst(count)
}

impl Throttle {
    pub fn new(limits: &RateLimits) -> Self {
        let all = [
            Bucket::LoginAccount,
            Bucket::LoginAccountGlobal,
            Bucket::LoginClient,
            Bucket::SignUpClient,
            Bucket::MailAddress,
            Bucket::MailClient,
            Bucket::RefreshSession,
            Bucket::GenerateUser,
            Bucket::SubmitUser,
        ];
        Throttle {
            limiters: all.map(|b| RateLimiter::keyed(quota(limits.rate(b)))),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one attempt; `RATE_LIMITED` with the wait when the bucket is empty. `user` (the
    /// account concerned, when known) and `client` only go to the audit log.
    pub fn check(
        &self,
        bucket: Bucket,
        key: &str,
        user: Option<&UserId>,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let limiter = &self.limiters[bucket.index()];
        // Forget idle keys now and then, so memory follows recent traffic only.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.limiters.iter().for_each(|l| l.retain_recent());
        }
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            tracing::warn!(
                target: "audit",
                event = "rate_limited",
                bucket = ?bucket,
                user_id = user.map(UserId::as_str).unwrap_or_default(),
                client_ip = %client.key(),
                "rate limit hit"
            );
            AppError::RateLimited {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
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

    #[test]
    fn bursts_then_refuses_with_a_wait() {
        let rate: Rate = "3/1h".parse().unwrap();
        let t = Throttle::new(&RateLimits::uniform(rate));
        let client = ClientInfo::default();
        for _ in 0..3 {
            t.check(Bucket::LoginAccount, "ada", None, &client).unwrap();
        }
        match t.check(Bucket::LoginAccount, "ada", None, &client) {
            Err(AppError::RateLimited { retry_after_secs }) => {
                assert!((1..=1200).contains(&retry_after_secs))
            }
            other => panic!("{other:?}"),
        }
        // Other keys and buckets are untouched.
        t.check(Bucket::LoginAccount, "bob", None, &client).unwrap();
        t.check(Bucket::LoginClient, "ada", None, &client).unwrap();
    }
}
