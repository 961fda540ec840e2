//! What the stores keep. Both back ends persist exactly these records, so the domain can swap
//! MongoDB for SQLite without noticing.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// Both stores keep milliseconds; rounding here keeps values equal after a round trip.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new_random() -> Self {
                $name(uuid::Uuid::new_v4().to_string())
            }
            /// Ids arrive from clients; anything that is not a UUID cannot name a record.
            pub fn parse(raw: &str) -> Option<Self> {
                uuid::Uuid::parse_str(raw.trim()).ok().map(|u| $name(u.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A user's id (a UUID).
    UserId
);
string_id!(
    /// A login session's id (a random UUID, carried in access tokens as `sid`).
    SessionId
);

macro_rules! redacted_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: String) -> Self {
                $name(value)
            }
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(***)", stringify!($name))
            }
        }
    };
}

redacted_string!(
    /// An argon2id PHC string.
    PasswordHash
);
redacted_string!(
    /// A session's refresh token; it never leaves the server.
    RefreshToken
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub username: String,
    /// Lower-cased; uniqueness is enforced on this.
    pub username_norm: String,
    pub email: String,
    /// Lower-cased; uniqueness is enforced on this.
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
}

/// A user keeps at most this many sessions; a new login drops the oldest.
pub const MAX_SESSIONS_PER_USER: usize = 10;
