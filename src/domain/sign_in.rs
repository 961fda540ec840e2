//! Signing in by e-mail: a link and a six-digit code mailed together for one request, either of
//! which signs in once. Only their hashes are stored.

use chrono::{DateTime, Utc};

use super::{EmailAddress, Locale, UserId};

/// Wrong codes a request takes before it is dead (its link too).
pub const SIGN_IN_CODE_ATTEMPTS: u32 = 5;

/// A sign-in (or, with `SIGN_UP_BY_LINK`, a sign-up) waiting for its link or code. One per
/// address: a new request replaces the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRequestRecord {
    /// The address it was mailed to, as typed; a sign-up's account gets it.
    pub email: EmailAddress,
    /// [`EmailAddress::key`]: the request's key, and what `signInWithCode` finds it by.
    pub email_norm: String,
    /// The account it signs in to; `None` for a sign-up (no account had the address).
    pub user_id: Option<UserId>,
    /// SHA-256 (hex) of the link's token: what the link finds it by.
    pub token_hash: String,
    /// A keyed hash of the code (six digits are too few to store under a plain hash).
    pub code_hash: String,
    /// Where the link's page goes once signed in: an address on `PUBLIC_URL`'s origin.
    pub return_to: Option<String>,
    /// The language of the request, for the account a sign-up makes.
    pub locale: Locale,
    /// Code attempts left, right or wrong; at zero neither the code nor the link works.
    pub codes_left: u32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
