//! Token lifetimes, keys and rate limits: `JWT_*`, `*_TTL`, `SESSION_IDLE_TIMEOUT`,
//! `REFRESH_REUSE_INTERVAL`, `REAUTH_WINDOW`, `GUEST_TTL`, `SIGN_UP_BY_LINK`, `PUBLIC_URL`,
//! `WEBAUTHN_*` and `RATE_LIMIT_*`.

use std::time::Duration;

use anyhow::bail;
use secrecy::{ExposeSecret, SecretString};

use super::{
    breached::{BreachSource, FailMode},
    password::HashCost,
};
use crate::config::parse::{parse_duration, parse_http_url};
use crate::ratelimit::RateLimits;

/// A logout must bite on every process within 5 seconds.
pub const MAX_SESSION_CACHE_TTL: Duration = Duration::from_secs(5);

/// HS256 keys shorter than this are refused at start-up.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, clap::Args)]
pub struct AuthSettings {
    /// HS256 key, at least 32 bytes; when unset, a random key per start (with a warning), so
    /// each restart logs everyone out.
    // Secrets are checked in `validate`, not by clap, whose errors would print the value.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, value_parser = crate::config::parse::parse_secret)]
    pub jwt_secret: Option<SecretString>,
    /// Comma-separated earlier JWT_SECRETs: they still verify tokens (never sign), so a key can
    /// be rotated without logging everyone out.
    #[arg(long, env = "JWT_PREVIOUS_SECRETS", hide_env_values = true, value_delimiter = ',', value_parser = crate::config::parse::parse_secret)]
    pub jwt_previous_secrets: Vec<SecretString>,
    /// Access token lifetime.
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,
    /// Refresh token lifetime, absolute: a session ends this long after login.
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "1d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,
    /// No refresh within this window after the access token expired: log in again.
    #[arg(long, env = "SESSION_IDLE_TIMEOUT", default_value = "30m", value_parser = parse_duration)]
    pub session_idle_timeout: Duration,
    /// A refresh with an access token exactly one generation old still succeeds this soon after
    /// the session was refreshed (two tabs at once); later, or from an older generation, it is
    /// treated as a stolen token.
    #[arg(long, env = "REFRESH_REUSE_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub refresh_reuse_interval: Duration,
    /// How long a process trusts what it last read about a session being alive; a logout or
    /// revocation on another process bites within this (at most 5s).
    #[arg(long, env = "SESSION_CACHE_TTL", default_value = "1s", value_parser = parse_duration)]
    pub session_cache_ttl: Duration,
    /// How long a login or `reauthenticate` lets the session add or remove sign-in factors
    /// (passkeys, TOTP, recovery codes); older sessions get `REAUTHENTICATION_REQUIRED`.
    #[arg(long, env = "REAUTH_WINDOW", default_value = "5m", value_parser = parse_duration)]
    pub reauth_window: Duration,
    /// Accounts whose e-mail address was never confirmed are deleted this long after sign-up
    /// (checked hourly, or every TTL when shorter).
    #[arg(long, env = "UNVERIFIED_ACCOUNT_TTL", default_value = "3d", value_parser = parse_duration)]
    pub unverified_account_ttl: Duration,
    /// Guests (`startGuestSession`) idle this long — no login or refresh — are deleted with
    /// their sessions, quizzes, results and jobs (checked hourly, or every TTL when shorter).
    #[arg(long, env = "GUEST_TTL", default_value = "7d", value_parser = parse_duration)]
    pub guest_ttl: Duration,
    /// What `requestSignInLink` does for an address no verified account has: `true` mails a
    /// link and code that create the account (its username made from the address), or confirm
    /// the unverified one, and sign in; `false` mails nothing, so only verified accounts sign
    /// in by e-mail.
    #[arg(long, env = "SIGN_UP_BY_LINK", default_value_t = false, action = clap::ArgAction::Set)]
    pub sign_up_by_link: bool,
    /// Base of the links in e-mails. Its origin is also the one WebSocket upgrades are accepted
    /// from (besides CORS_ORIGINS) and passkeys' default origin.
    #[arg(long, env = "PUBLIC_URL", default_value = "http://localhost:8000", value_parser = parse_http_url)]
    pub public_url: String,
    /// Passkeys' relying party id: the domain passkeys are bound to (unset: the host of
    /// WEBAUTHN_RP_ORIGIN): one that the origin's host is or ends with. Changing it orphans
    /// every registered passkey. An IP address cannot be one: with a PUBLIC_URL such as
    /// http://127.0.0.1:8000 and neither WEBAUTHN_* variable set, passkeys are off (a warning
    /// at start-up, `INTERNAL` from the passkey mutations); a value set explicitly that does
    /// not fit stops start-up.
    #[arg(long, env = "WEBAUTHN_RP_ID")]
    pub webauthn_rp_id: Option<String>,
    /// The origin (`scheme://host[:port]`) of the pages that use passkeys (unset: PUBLIC_URL's);
    /// browsers put it in every answer, and others are refused.
    #[arg(long, env = "WEBAUTHN_RP_ORIGIN", value_parser = parse_http_url)]
    pub webauthn_rp_origin: Option<String>,
    /// Pwned Passwords' k-anonymity range API, asked whether a new password (sign-up, reset,
    /// change) is known from breaches; only the first 5 hex characters of its SHA-1 are sent.
    /// `off` skips the check.
    #[arg(
        long,
        env = "PWNED_PASSWORDS_URL",
        default_value = "https://api.pwnedpasswords.com"
    )]
    pub pwned_passwords_url: BreachSource,
    /// What a new password gets when the range API does not answer within 2 s.
    #[arg(long, env = "PWNED_PASSWORDS_FAIL", value_enum, default_value = "open")]
    pub pwned_passwords_fail: FailMode,
    #[command(flatten)]
    pub hash_cost: HashCost,
    #[command(flatten)]
    pub oidc: super::social::OidcSettings,
    #[command(flatten, next_help_heading = "Rate limits")]
    pub rate_limits: RateLimits,
}

impl AuthSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.session_cache_ttl > MAX_SESSION_CACHE_TTL {
            bail!(
                "SESSION_CACHE_TTL must be at most 5s: a logout must bite everywhere within 5 seconds"
            );
        }
        if let Some(secret) = &self.jwt_secret
            && secret.expose_secret().len() < MIN_JWT_SECRET_BYTES
        {
            bail!(
                "JWT_SECRET is {} bytes long; it must be at least {MIN_JWT_SECRET_BYTES} bytes \
                 (e.g. `openssl rand -base64 48`)",
                secret.expose_secret().len()
            );
        }
        for (i, secret) in self.jwt_previous_secrets.iter().enumerate() {
            if secret.expose_secret().len() < MIN_JWT_SECRET_BYTES {
                bail!(
                    "JWT_PREVIOUS_SECRETS entry {} is {} bytes long; each must be at least \
                     {MIN_JWT_SECRET_BYTES} bytes",
                    i + 1,
                    secret.expose_secret().len()
                );
            }
        }
        Ok(())
    }

    /// The signing key: the configured one, or a random one that dies with the process.
    pub fn signing_secret(&self) -> SecretString {
        self.jwt_secret.clone().unwrap_or_else(|| {
            use base64::Engine;
            let bytes: [u8; 48] = rand::random();
            SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
        })
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        crate::config::parse::defaults()
    }
}
