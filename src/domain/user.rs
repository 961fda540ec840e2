//! Accounts and their login sessions.

use chrono::{DateTime, Utc};

use super::{
    PasswordHash, RefreshToken, SessionId, UserId,
    identity::{EmailAddress, Username},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub username: Username,
    /// [`Username::key`]; uniqueness is enforced on this.
    pub username_norm: String,
    pub email: EmailAddress,
    /// [`EmailAddress::key`]; uniqueness is enforced on this.
    pub email_norm: String,
    pub password_hash: PasswordHash,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

/// One logged-in device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub refresh_token: RefreshToken,
    pub created_at: DateTime<Utc>,
    /// Absolute end: login time plus `REFRESH_TOKEN_TTL`.
    pub expires_at: DateTime<Utc>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    /// Advanced by every refresh and carried in access tokens as `gen`, so a token replayed
    /// from an older generation can be told from a fresh one.
    pub generation: i64,
    /// The refresh limit's count, kept here so that the refresh counted is the refresh
    /// written: one compare-and-swap, exact across server processes.
    pub refreshes: WindowCount,
}

/// Hits counted in fixed windows of a limit's period: `current` in window number `window`,
/// `previous` in the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowCount {
    pub window: i64,
    pub current: u32,
    pub previous: u32,
}

/// A user keeps at most this many sessions; a new login drops the oldest.
pub const MAX_SESSIONS_PER_USER: usize = 10;
