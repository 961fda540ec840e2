//! Passkeys (WebAuthn credentials) as stored, and the registrations and logins waiting for an
//! authenticator's answer. The WebAuthn data itself is opaque JSON here: only the auth service
//! reads it, so neither the domain nor the stores depend on the WebAuthn library.

use chrono::{DateTime, Utc};

use super::{PasskeyChallengeId, PasskeyId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub id: PasskeyId,
    pub user_id: UserId,
    /// The authenticator's credential id, base64url: unique across all users.
    pub credential_id: String,
    pub name: String,
    /// The verified public key and its state, as the WebAuthn library serialises it.
    pub credential: String,
    /// The authenticator's signature counter as last seen; a login must show a higher one
    /// (unless the authenticator keeps none: always 0).
    pub sign_count: u32,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Which ceremony a challenge belongs to, so one can never finish the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum PasskeyCeremony {
    Registration,
    Login,
}

impl PasskeyCeremony {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// A started registration or login: single use, and good until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyChallengeRecord {
    pub id: PasskeyChallengeId,
    pub ceremony: PasskeyCeremony,
    /// Who registers, or whose passkeys a login by username allows; `None` for a login with
    /// discoverable credentials, where the authenticator names the user.
    pub user_id: Option<UserId>,
    /// The WebAuthn library's ceremony state (holds the challenge), as JSON.
    pub state: String,
    pub expires_at: DateTime<Utc>,
}
