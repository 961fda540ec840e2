//! Persistence behind traits, so the domain never names a database. `DATABASE_URL` picks the
//! implementation at start-up.

mod model;
pub mod mongo;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use model::*;

use crate::config::DatabaseUrl;

/// Which unique field a write collided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Username,
    Email,
}

impl UniqueField {
    pub fn as_str(self) -> &'static str {
        match self {
            UniqueField::Username => "username",
            UniqueField::Email => "email",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("duplicate {}", .0.as_str())]
    Conflict(UniqueField),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with `Conflict` when the normalized username or e-mail is taken.
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()>;
    async fn find_user(&self, id: &UserId) -> StoreResult<Option<UserRecord>>;
    async fn find_user_by_username(&self, username_norm: &str) -> StoreResult<Option<UserRecord>>;
    async fn find_user_by_email(&self, email_norm: &str) -> StoreResult<Option<UserRecord>>;
    /// Flips an inactive user to active; `false` when there was no inactive user to flip.
    async fn activate_user(&self, id: &UserId) -> StoreResult<bool>;

    /// Adds a session, dropping the oldest beyond [`MAX_SESSIONS_PER_USER`]; `false` when the
    /// user does not exist.
    async fn add_session(&self, user: &UserId, session: &SessionRecord) -> StoreResult<bool>;
    async fn find_session(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> StoreResult<Option<SessionRecord>>;
    /// Newest first.
    async fn list_sessions(&self, user: &UserId) -> StoreResult<Vec<SessionRecord>>;
    /// Replaces the refresh token only if it still is `expected` (compare-and-swap), so two
    /// concurrent refreshes can never both win; `false` when it was not.
    async fn rotate_refresh_token(
        &self,
        user: &UserId,
        session: &SessionId,
        expected: &RefreshToken,
        replacement: &RefreshToken,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// `false` when there was no such session.
    async fn remove_session(&self, user: &UserId, session: &SessionId) -> StoreResult<bool>;
}

/// Everything the application needs from a database.
#[async_trait]
pub trait Store: UserStore {
    /// Answers while the database does; used by `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    /// A short name for logs: `sqlite` or `mongodb`.
    fn kind(&self) -> &'static str;
}

/// Connects, prepares the schema or indexes, and fails with a clear message when it cannot.
pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match url {
        DatabaseUrl::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path.as_deref()).await?),
        DatabaseUrl::Mongo(url) => Arc::new(mongo::MongoStore::connect(url.expose()).await?),
    })
}
