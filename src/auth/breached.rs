//! Passwords known from data breaches, looked up with the k-anonymity range API of Pwned
//! Passwords: only the first five hex characters of the password's SHA-1 leave the server, and
//! the answer lists every suffix in that range (padded, so its size says nothing either).

use std::time::Duration;

use sha1::{Digest, Sha1};

use crate::domain::{AppError, AppResult, MessageKey};

/// The range API gets this long before the configured failure mode applies.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// `PWNED_PASSWORDS_URL`: the API's base URL, or `off`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreachSource {
    Off,
    RangeApi(String),
}

impl std::str::FromStr for BreachSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "off" => Ok(BreachSource::Off),
            url => crate::config::parse::parse_http_url(url)
                .map(BreachSource::RangeApi)
                .map_err(|e| format!("{e}, or off")),
        }
    }
}

impl std::fmt::Display for BreachSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BreachSource::Off => f.write_str("off"),
            BreachSource::RangeApi(url) => f.write_str(url),
        }
    }
}

/// `PWNED_PASSWORDS_FAIL`: what a password gets when the API cannot answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailMode {
    /// Accepted (the other password rules still hold); a warning is logged.
    Open,
    /// Refused with `BAD_USER_INPUT`, asking to try again.
    Closed,
}

/// Checks passwords against the breach corpus.
#[derive(Debug, Clone)]
pub struct BreachCheck {
    source: BreachSource,
    fail: FailMode,
    http: reqwest::Client,
}

enum Lookup {
    Breached,
    Clean,
}

impl BreachCheck {
    /// Needs the process's rustls crypto provider installed (`install_crypto_provider`).
    pub fn new(source: BreachSource, fail: FailMode) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(LOOKUP_TIMEOUT)
            .connect_timeout(LOOKUP_TIMEOUT)
            .build()?;
        Ok(BreachCheck { source, fail, http })
    }

    /// `BAD_USER_INPUT` on `field` for a breached password (or, failing closed, an unanswered
    /// lookup).
    pub async fn check(&self, field: &'static str, password: &str) -> AppResult<()> {
        let BreachSource::RangeApi(base) = &self.source else {
            return Ok(());
        };
        let digest = Sha1::digest(password.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
        let (prefix, suffix) = hex.split_at(5);
        match self.lookup(base, prefix, suffix).await {
            Ok(Lookup::Clean) => Ok(()),
            Ok(Lookup::Breached) => Err(AppError::bad_input(field, MessageKey::PasswordBreached)),
            Err(err) => {
                tracing::warn!(error = %err, fail = ?self.fail, "the breached-password lookup did not answer");
                match self.fail {
                    FailMode::Open => Ok(()),
                    FailMode::Closed => Err(AppError::bad_input(
                        field,
                        MessageKey::BreachCheckUnavailable,
                    )),
                }
            }
        }
    }

    async fn lookup(&self, base: &str, prefix: &str, suffix: &str) -> anyhow::Result<Lookup> {
        let body = self
            .http
            .get(format!("{base}/range/{prefix}"))
            .header("Add-Padding", "true")
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        // Lines of `SUFFIX:COUNT`; padding entries have a count of 0.
        let breached = body.lines().any(|line| {
            line.split_once(':').is_some_and(|(s, count)| {
                s.trim().eq_ignore_ascii_case(suffix)
                    && count.trim().parse::<u64>().is_ok_and(|n| n > 0)
            })
        });
        Ok(if breached {
            Lookup::Breached
        } else {
            Lookup::Clean
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!("off".parse::<BreachSource>().unwrap(), BreachSource::Off);
        assert_eq!(
            "https://api.pwnedpasswords.com/"
                .parse::<BreachSource>()
                .unwrap(),
            BreachSource::RangeApi("https://api.pwnedpasswords.com".into())
        );
        assert!("ftp://x".parse::<BreachSource>().is_err());
    }

    #[tokio::test]
    async fn off_checks_nothing() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let check = BreachCheck::new(BreachSource::Off, FailMode::Closed).unwrap();
        assert!(check.check("password", "password").await.is_ok());
    }
}
