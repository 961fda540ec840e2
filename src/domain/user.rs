//! Accounts and their login sessions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Locale, PasswordHash, RefreshToken, SessionId, UserId,
    identity::{EmailAddress, Username},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    /// A guest's is made up by [`Username::guest`].
    pub username: Username,
    /// [`Username::key`]; uniqueness is enforced on this.
    pub username_norm: String,
    /// `None` for a guest: no address and no password, so no login can ever match it.
    pub credentials: Option<Credentials>,
    /// The address is confirmed (always, for a guest: it has none to confirm).
    pub is_active: bool,
    /// When the account was made; for a guest that signed up, when it signed up.
    pub created_at: DateTime<Utc>,
    /// The language e-mails and messages use; set at sign-up from `Accept-Language`.
    pub locale: Locale,
    /// An operator turned the account off (`quiz-llm admin user disable`): no login or
    /// refresh until it is turned on again.
    pub disabled: bool,
}

/// What a signed-up account logs in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub email: EmailAddress,
    /// [`EmailAddress::key`]; uniqueness is enforced on this.
    pub email_norm: String,
    pub password_hash: PasswordHash,
}

impl UserRecord {
    /// Whether `typed` is this account's username as a person would type it again to confirm
    /// something that cannot be undone: surrounding spaces and letter case aside.
    pub fn is_named(&self, typed: &str) -> bool {
        typed.trim().to_lowercase() == self.username.as_str().to_lowercase()
    }

    /// A new guest (`startGuestSession`): a made-up name, nothing to log in with.
    pub fn new_guest(now: DateTime<Utc>) -> Self {
        let username = Username::guest();
        UserRecord {
            id: UserId::new_random(),
            username_norm: username.key(),
            username,
            credentials: None,
            is_active: true,
            created_at: now,
            locale: Locale::default(),
            disabled: false,
        }
    }

    pub fn is_guest(&self) -> bool {
        self.credentials.is_none()
    }

    /// The address, or `None` for a guest.
    pub fn email(&self) -> Option<&EmailAddress> {
        self.credentials.as_ref().map(|c| &c.email)
    }

    /// The hash of a password the account can log in with: `None` for a guest, and for an
    /// account made by a social sign-in until a password is set.
    pub fn password_hash(&self) -> Option<&PasswordHash> {
        self.credentials
            .as_ref()
            .map(|c| &c.password_hash)
            .filter(|h| h.is_usable())
    }
}

/// How a session was signed in, as `sessions` shows it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum SignInMethod {
    /// A password (or the e-mail confirmation link that follows a sign-up). Sessions stored
    /// before the method was recorded read as this.
    #[default]
    Password,
    Passkey,
    /// A password and then a TOTP or recovery code (`verifyMfa`).
    Mfa,
    /// `startGuestSession`.
    Guest,
    /// An OpenID Connect provider (`startSocialLogin`).
    Social,
    /// A link or code mailed by `requestSignInLink`.
    EmailLink,
}

impl SignInMethod {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
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
    /// Kept through refreshes.
    pub method: SignInMethod,
    /// The session's last proof of who it is: its login, or a later `reauthenticate`. Changes
    /// to sign-in factors need it recent, so a stolen access token alone cannot make them.
    pub authenticated_at: DateTime<Utc>,
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
