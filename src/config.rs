//! Typed configuration. Every variable from the design has a `serve --flag` twin; values are
//! validated once, at start-up, so a typo stops the process with a clear message instead of
//! surfacing later as a strange runtime error.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use anyhow::{Context, bail};
use clap::Args;

use crate::{
    auth::throttle::{Rate, RateLimits},
    http::client::TrustedProxies,
};

/// A value that must never be printed: `Debug` and `Display` redact it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Which store `DATABASE_URL` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`; `None` is `sqlite::memory:`.
    Sqlite(Option<PathBuf>),
    /// `mongodb://…` or `mongodb+srv://…`; the database name comes from the URL path
    /// (default `quiz_llm`).
    Mongo(Secret),
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "sqlite::memory:" || s == "sqlite://:memory:" {
            return Ok(DatabaseUrl::Sqlite(None));
        }
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://data/quiz-llm.db".into());
            }
            return Ok(DatabaseUrl::Sqlite(Some(PathBuf::from(path))));
        }
        if s.starts_with("mongodb://") || s.starts_with("mongodb+srv://") {
            return Ok(DatabaseUrl::Mongo(Secret::new(s)));
        }
        Err("expected mongodb://…, mongodb+srv://…, sqlite://PATH or sqlite::memory:".into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8000";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/quiz-llm.db";
pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:8000";
pub const DEFAULT_MAIL_DIR: &str = "data/mail";
pub const DEFAULT_MAIL_FROM: &str = "Quiz LLM <no-reply@localhost>";
pub const DEFAULT_LLM_MODEL: &str = "gpt-4o-mini";
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// The longest another process may go on accepting a token whose session has ended.
pub const MAX_SESSION_CACHE_TTL: Duration = Duration::from_secs(5);

/// The `serve` flags; each reads its environment variable when the flag is absent.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where to listen; port 0 picks a free one.
    #[arg(long, env = "LISTEN_ADDR", default_value = DEFAULT_LISTEN_ADDR)]
    pub listen_addr: SocketAddr,
    /// mongodb://…, sqlite://PATH or sqlite::memory:
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: DatabaseUrl,
    /// How long one database operation may wait (a lock, an absent server) before it fails.
    #[arg(long, env = "DATABASE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub database_timeout: Duration,
    /// SQLite file connections, or MongoDB's maximum pool size (unless the URL sets maxPoolSize).
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 4)]
    pub database_pool_size: usize,
    /// HS256 key, at least 32 bytes; random per start when unset.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Comma-separated earlier JWT_SECRETs: they still verify tokens (never sign), so a key can
    /// be rotated without logging everyone out.
    #[arg(long, env = "JWT_PREVIOUS_SECRETS", hide_env_values = true)]
    pub jwt_previous_secrets: Option<String>,
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "1d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,
    #[arg(long, env = "SESSION_IDLE_TIMEOUT", default_value = "30m", value_parser = parse_duration)]
    pub session_idle_timeout: Duration,
    /// A refresh with an access token exactly one generation old still succeeds this soon after
    /// the session was refreshed (two tabs at once); later, or from an older generation, it is
    /// treated as a stolen token.
    #[arg(long, env = "REFRESH_REUSE_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub refresh_reuse_interval: Duration,
    /// How long a server process trusts its last look at whether a session still exists, so a
    /// logout on another process bites within this long (at most 5s).
    #[arg(long, env = "SESSION_CACHE_TTL", default_value = "1s", value_parser = parse_duration)]
    pub session_cache_ttl: Duration,
    /// Login attempts on one account from one client address.
    #[arg(long, env = "RATE_LIMIT_LOGIN_PER_ACCOUNT", default_value = "10/5m")]
    pub rate_limit_login_per_account: Rate,
    /// Login attempts on one account from all clients together: the ceiling against guessing
    /// from many addresses, above what one client may sustain so that one cannot reach it.
    #[arg(
        long,
        env = "RATE_LIMIT_LOGIN_PER_ACCOUNT_GLOBAL",
        default_value = "200/1h"
    )]
    pub rate_limit_login_per_account_global: Rate,
    #[arg(long, env = "RATE_LIMIT_LOGIN_PER_CLIENT", default_value = "30/5m")]
    pub rate_limit_login_per_client: Rate,
    #[arg(long, env = "RATE_LIMIT_SIGNUP_PER_CLIENT", default_value = "10/1h")]
    pub rate_limit_signup_per_client: Rate,
    /// Verification, resend and password-reset e-mails to one address.
    #[arg(long, env = "RATE_LIMIT_MAIL_PER_ADDRESS", default_value = "5/1h")]
    pub rate_limit_mail_per_address: Rate,
    /// Requests that send e-mail (sign-up, resend, reset) from one client address.
    #[arg(long, env = "RATE_LIMIT_MAIL_PER_CLIENT", default_value = "20/1h")]
    pub rate_limit_mail_per_client: Rate,
    #[arg(long, env = "RATE_LIMIT_REFRESH_PER_SESSION", default_value = "30/1m")]
    pub rate_limit_refresh_per_session: Rate,
    /// Comma-separated proxy addresses or CIDR ranges whose X-Forwarded-For is believed.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,
    /// Keep the `access` cookie away from scripts.
    #[arg(long, env = "COOKIE_HTTP_ONLY", default_value_t = true, action = clap::ArgAction::Set)]
    pub cookie_http_only: bool,
    #[arg(long, env = "PUBLIC_URL", default_value = DEFAULT_PUBLIC_URL)]
    pub public_url: String,
    /// e.g. smtp://localhost:1025; unset writes .eml files to MAIL_DIR.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    #[arg(long, env = "MAIL_DIR", default_value = DEFAULT_MAIL_DIR)]
    pub mail_dir: PathBuf,
    #[arg(long, env = "MAIL_FROM", default_value = DEFAULT_MAIL_FROM)]
    pub mail_from: String,
    /// Wait before the first retry of an e-mail that could not be delivered; it doubles with
    /// each further attempt (up to 15 minutes).
    #[arg(long, env = "MAIL_RETRY_BASE", default_value = "10s", value_parser = parse_duration)]
    pub mail_retry_base: Duration,
    #[arg(long, env = "LLM_BASE_URL")]
    pub llm_base_url: Option<String>,
    #[arg(long, env = "LLM_API_KEY", hide_env_values = true)]
    pub llm_api_key: Option<String>,
    #[arg(long, env = "LLM_MODEL", default_value = DEFAULT_LLM_MODEL)]
    pub llm_model: String,
    /// How long one LLM request may take.
    #[arg(long, env = "LLM_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub llm_timeout: Duration,
    /// Extra attempts after a 429, a 5xx or a connection failure.
    #[arg(long, env = "LLM_MAX_RETRIES", default_value_t = 2)]
    pub llm_max_retries: u32,
    /// Deepest selection nesting a query may have.
    #[arg(long, env = "GRAPHQL_MAX_DEPTH", default_value_t = 15)]
    pub graphql_max_depth: usize,
    /// Most fields (each counts 1) a query may select in all.
    #[arg(long, env = "GRAPHQL_MAX_COMPLEXITY", default_value_t = 500)]
    pub graphql_max_complexity: usize,
    #[arg(long, env = "GRAPHQL_MAX_ALIASES", default_value_t = 30)]
    pub graphql_max_aliases: usize,
    #[arg(long, env = "GRAPHQL_MAX_ROOT_FIELDS", default_value_t = 20)]
    pub graphql_max_root_fields: usize,
    /// Largest request body; bigger ones get HTTP 413.
    #[arg(long, env = "GRAPHQL_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub graphql_max_body_bytes: usize,
    /// Schema introspection (and field suggestions in errors); turn off in production if the
    /// schema should not be explorable.
    #[arg(long, env = "GRAPHQL_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphql_introspection: bool,
    /// Comma-separated origins allowed to call with credentials.
    #[arg(long, env = "CORS_ORIGINS")]
    pub cors_origins: Option<String>,
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e}; expected a duration such as 90s, 15m, 1h or 1d"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen_addr: SocketAddr,
    pub database_url: DatabaseUrl,
    pub database_timeout: Duration,
    pub database_pool_size: usize,
    pub jwt_secret: Secret,
    /// True when no secret was configured and a random one was drawn: tokens die with the process.
    pub jwt_secret_generated: bool,
    pub jwt_previous_secrets: Vec<Secret>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub session_idle_timeout: Duration,
    pub refresh_reuse_interval: Duration,
    pub session_cache_ttl: Duration,
    pub rate_limits: RateLimits,
    pub trusted_proxies: TrustedProxies,
    pub cookie_secure: bool,
    pub cookie_http_only: bool,
    /// Without a trailing slash.
    pub public_url: String,
    pub smtp_url: Option<Secret>,
    pub mail_dir: PathBuf,
    pub mail_from: String,
    pub mail_retry_base: Duration,
    pub llm_base_url: Option<String>,
    pub llm_api_key: Option<Secret>,
    pub llm_model: String,
    pub llm_timeout: Duration,
    pub llm_max_retries: u32,
    pub graphql_max_depth: usize,
    pub graphql_max_complexity: usize,
    pub graphql_max_aliases: usize,
    pub graphql_max_root_fields: usize,
    pub graphql_max_body_bytes: usize,
    pub graphql_introspection: bool,
    pub cors_origins: Vec<String>,
    pub log_format: LogFormat,
}

impl Default for Config {
    /// The documented defaults, with a fresh random JWT secret.
    fn default() -> Self {
        Config {
            listen_addr: DEFAULT_LISTEN_ADDR.parse().expect("valid default address"),
            database_url: DEFAULT_DATABASE_URL.parse().expect("valid default url"),
            database_timeout: Duration::from_secs(5),
            database_pool_size: 4,
            jwt_secret: random_secret(),
            jwt_secret_generated: true,
            jwt_previous_secrets: Vec::new(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(24 * 3600),
            session_idle_timeout: Duration::from_secs(30 * 60),
            refresh_reuse_interval: Duration::from_secs(10),
            session_cache_ttl: Duration::from_secs(1),
            rate_limits: RateLimits {
                login_per_account: rate("10/5m"),
                login_per_account_global: rate("200/1h"),
                login_per_client: rate("30/5m"),
                signup_per_client: rate("10/1h"),
                mail_per_address: rate("5/1h"),
                mail_per_client: rate("20/1h"),
                refresh_per_session: rate("30/1m"),
            },
            trusted_proxies: TrustedProxies::default(),
            cookie_secure: false,
            cookie_http_only: true,
            public_url: DEFAULT_PUBLIC_URL.into(),
            smtp_url: None,
            mail_dir: DEFAULT_MAIL_DIR.into(),
            mail_from: DEFAULT_MAIL_FROM.into(),
            mail_retry_base: Duration::from_secs(10),
            llm_base_url: None,
            llm_api_key: None,
            llm_model: DEFAULT_LLM_MODEL.into(),
            llm_timeout: Duration::from_secs(60),
            llm_max_retries: 2,
            graphql_max_depth: 15,
            graphql_max_complexity: 500,
            graphql_max_aliases: 30,
            graphql_max_root_fields: 20,
            graphql_max_body_bytes: 1_048_576,
            graphql_introspection: true,
            cors_origins: Vec::new(),
            log_format: LogFormat::Pretty,
        }
    }
}

fn rate(s: &str) -> Rate {
    s.parse().expect("valid default rate")
}

fn random_secret() -> Secret {
    use base64::Engine;
    let bytes: [u8; 48] = rand::random();
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl TryFrom<ServeArgs> for Config {
    type Error = anyhow::Error;

    fn try_from(args: ServeArgs) -> anyhow::Result<Self> {
        let (jwt_secret, jwt_secret_generated) = match non_empty(args.jwt_secret) {
            Some(secret) if secret.len() < MIN_JWT_SECRET_BYTES => bail!(
                "JWT_SECRET is {} bytes long; it must be at least {MIN_JWT_SECRET_BYTES} bytes \
                 (e.g. `openssl rand -base64 48`)",
                secret.len()
            ),
            Some(secret) => (Secret::new(secret), false),
            None => (random_secret(), true),
        };
        if args.session_cache_ttl > MAX_SESSION_CACHE_TTL {
            bail!(
                "SESSION_CACHE_TTL must be at most 5s: a logout must bite everywhere within 5 seconds"
            );
        }
        if !(1..=256).contains(&args.database_pool_size) {
            bail!("DATABASE_POOL_SIZE must be between 1 and 256");
        }
        let mut jwt_previous_secrets = Vec::new();
        for (i, secret) in non_empty(args.jwt_previous_secrets)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            if secret.len() < MIN_JWT_SECRET_BYTES {
                bail!(
                    "JWT_PREVIOUS_SECRETS entry {} is {} bytes long; each must be at least \
                     {MIN_JWT_SECRET_BYTES} bytes",
                    i + 1,
                    secret.len()
                );
            }
            jwt_previous_secrets.push(Secret::new(secret));
        }
        let public_url = args.public_url.trim().trim_end_matches('/').to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("PUBLIC_URL must start with http:// or https://, got {public_url:?}");
        }
        let smtp_url = non_empty(args.smtp_url);
        if let Some(url) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            bail!("SMTP_URL must start with smtp:// or smtps://");
        }
        let llm_base_url = non_empty(args.llm_base_url).map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &llm_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("LLM_BASE_URL must start with http:// or https://, got {url:?}");
        }
        let cors_origins = args
            .cors_origins
            .unwrap_or_default()
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect::<Vec<_>>();
        for origin in &cors_origins {
            if origin == "*" {
                bail!("CORS_ORIGINS cannot be `*`: credentials are only allowed for named origins");
            }
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                bail!(
                    "CORS_ORIGINS entries must look like https://app.example.com, got {origin:?}"
                );
            }
        }
        let mail_from = args.mail_from.trim().to_owned();
        mail_from
            .parse::<lettre::message::Mailbox>()
            .with_context(|| format!("MAIL_FROM is not a valid mailbox: {mail_from:?}"))?;
        Ok(Config {
            listen_addr: args.listen_addr,
            database_url: args.database_url,
            database_timeout: args.database_timeout,
            database_pool_size: args.database_pool_size,
            jwt_secret,
            jwt_secret_generated,
            jwt_previous_secrets,
            access_token_ttl: args.access_token_ttl,
            refresh_token_ttl: args.refresh_token_ttl,
            session_idle_timeout: args.session_idle_timeout,
            refresh_reuse_interval: args.refresh_reuse_interval,
            session_cache_ttl: args.session_cache_ttl,
            rate_limits: RateLimits {
                login_per_account: args.rate_limit_login_per_account,
                login_per_account_global: args.rate_limit_login_per_account_global,
                login_per_client: args.rate_limit_login_per_client,
                signup_per_client: args.rate_limit_signup_per_client,
                mail_per_address: args.rate_limit_mail_per_address,
                mail_per_client: args.rate_limit_mail_per_client,
                refresh_per_session: args.rate_limit_refresh_per_session,
            },
            trusted_proxies: args.trusted_proxies,
            cookie_secure: args.cookie_secure,
            cookie_http_only: args.cookie_http_only,
            public_url,
            smtp_url: smtp_url.map(Secret::new),
            mail_dir: args.mail_dir,
            mail_from,
            mail_retry_base: args.mail_retry_base,
            llm_base_url,
            llm_api_key: non_empty(args.llm_api_key).map(Secret::new),
            llm_model: args.llm_model.trim().to_owned(),
            llm_timeout: args.llm_timeout,
            llm_max_retries: args.llm_max_retries,
            graphql_max_depth: args.graphql_max_depth,
            graphql_max_complexity: args.graphql_max_complexity,
            graphql_max_aliases: args.graphql_max_aliases,
            graphql_max_root_fields: args.graphql_max_root_fields,
            graphql_max_body_bytes: args.graphql_max_body_bytes,
            graphql_introspection: args.graphql_introspection,
            cors_origins,
            log_format: args.log_format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            "sqlite::memory:".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite(None)
        );
        assert_eq!(
            "sqlite://data/x.db".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite(Some("data/x.db".into()))
        );
        assert!(matches!(
            "mongodb://localhost:27017".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Mongo(_)
        ));
        assert!("postgres://x".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert!(parse_duration("15 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2-hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
    }
}
