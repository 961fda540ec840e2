//! `DATABASE_URL` and how to talk to the database it names.

use super::*;

/// Which store to open (`DATABASE_URL`) and how to talk to it.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreSettings {
    /// `mongodb://…` or `mongodb+srv://…` selects MongoDB (the database from the URL's path,
    /// default `quiz_llm`); `sqlite://PATH` or `sqlite::memory:` the embedded store.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/quiz-llm.db",
        hide_env_values = true
    )]
    pub database_url: DatabaseUrl,
    #[command(flatten)]
    pub options: StoreOptions,
}

/// How a store connects: `DATABASE_TIMEOUT` and `DATABASE_POOL_SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct StoreOptions {
    /// How long one operation may wait for the database (a lock, an absent server) before it
    /// fails with `INTERNAL`, instead of hanging while the database is away.
    #[arg(long = "database-timeout", env = "DATABASE_TIMEOUT", value_name = "DATABASE_TIMEOUT", default_value = "5s", value_parser = crate::config::parse::parse_duration)]
    pub timeout: std::time::Duration,
    /// Connections kept open: SQLite file connections, or MongoDB's maximum pool size (unless
    /// the URL sets `maxPoolSize`).
    #[arg(long = "database-pool-size", env = "DATABASE_POOL_SIZE", value_name = "DATABASE_POOL_SIZE", default_value = "4", value_parser = parse_pool_size)]
    pub pool_size: usize,
    /// MongoDB only: `majority`, or how many replica-set members (at least 1) must have a write
    /// before it counts as done (unless the URL sets `w`); writes wait for it at most
    /// DATABASE_TIMEOUT. `majority` keeps acknowledged writes (a login, a rotated refresh
    /// token) through a failover.
    #[arg(
        long = "mongodb-write-concern",
        env = "MONGODB_WRITE_CONCERN",
        value_name = "MONGODB_WRITE_CONCERN",
        default_value = "majority"
    )]
    pub write_concern: WriteConcern,
}

/// `MONGODB_WRITE_CONCERN`: `majority`, or a number of replica-set members (at least 1, since
/// auth state is never written unacknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteConcern {
    Majority,
    Members(u32),
}

impl std::str::FromStr for WriteConcern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "majority" => Ok(WriteConcern::Majority),
            n => match n.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(WriteConcern::Members(n)),
                _ => Err(format!(
                    "expected `majority` or a number of members of at least 1, got {s:?}"
                )),
            },
        }
    }
}

fn parse_pool_size(s: &str) -> Result<usize, String> {
    crate::config::parse::parse_count(s, 1..=256)
}

impl Default for StoreOptions {
    fn default() -> Self {
        crate::config::parse::defaults()
    }
}
