//! A user's second factor: a TOTP secret (sealed with the server's key, never stored in the
//! clear), one-time recovery codes (hashed), and the login waiting for its second step.

use chrono::{DateTime, Utc};

/// A secret encrypted with a key derived from the server secret, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(pub String);

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedSecret(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MfaRecord {
    /// The active TOTP secret; `None` while TOTP is off.
    pub totp: Option<SealedSecret>,
    /// A secret handed out by an enrollment that was not confirmed yet.
    pub pending: Option<SealedSecret>,
    /// The last TOTP time step a code was accepted for: each code works once.
    pub last_step: i64,
    /// SHA-256 (hex) of each unused recovery code.
    pub recovery_codes: Vec<String>,
}

impl MfaRecord {
    pub fn enabled(&self) -> bool {
        self.totp.is_some()
    }
}

/// A login that passed its password and waits for its second factor: the hash of the token
/// handed out with `MFA_REQUIRED`, and when it lapses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}
