//! What every subsystem's settings share: the duration syntax, the rule that an empty variable
//! counts as unset, and defaults read from the clap definitions themselves, so that each default
//! is written once, next to its variable.

use std::time::Duration;

use clap::{Args, Command, FromArgMatches};
use secrecy::SecretString;

/// `90s`, `15m`, `1h`, `1d`; never zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e}; expected a duration such as 90s, 15m, 1h or 1d"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

/// Like [`parse_duration`], but `0` (or `0s`) turns the thing off.
pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e}; expected a duration such as 0, 5s or 1m"))
}

/// A whole number within `range`, for counts such as pool sizes and connection caps.
pub fn parse_count(s: &str, range: std::ops::RangeInclusive<usize>) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ if *range.end() == usize::MAX => Err(format!(
            "must be a number of at least {}, got {s:?}",
            range.start()
        )),
        _ => Err(format!(
            "must be a number from {} to {}, got {s:?}",
            range.start(),
            range.end()
        )),
    }
}

/// `http://…` or `https://…`, without a trailing slash.
pub fn parse_http_url(s: &str) -> Result<String, String> {
    let url = s.trim().trim_end_matches('/');
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.to_owned())
    } else {
        Err(format!("must start with http:// or https://, got {url:?}"))
    }
}

/// Secrets are taken as they come and checked later by their owner (clap's own errors would
/// print the value).
pub fn parse_secret(s: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(s.trim()))
}

/// Variables that are set but empty are treated as unset (`FOO=` in a `.env` or a compose file
/// means "use the default"), so clap never sees them.
pub fn ignore_empty_env(cmd: Command) -> Command {
    cmd.mut_args(|arg| {
        let empty = arg
            .get_env()
            .and_then(std::env::var_os)
            .is_some_and(|v| v.is_empty());
        if empty { arg.env(None) } else { arg }
    })
}

/// The documented defaults of a settings struct: its clap definition parsed with no flags and
/// no environment, so tests start from exactly what a bare `quiz-llm serve` would use.
pub fn defaults<T: Args + FromArgMatches>() -> T {
    let cmd = T::augment_args(Command::new("defaults")).mut_args(|arg| arg.env(None));
    let matches = cmd
        .try_get_matches_from(["defaults"])
        .expect("every setting has a valid default");
    T::from_arg_matches(&matches).expect("defaults match their own definition")
}
