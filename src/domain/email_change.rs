//! Changing an account's e-mail address: a link mailed to the new address confirms it, and a
//! notice to the old one carries a link that undoes the change for a week. Only the links'
//! hashes are stored.

use chrono::{DateTime, Duration, Utc};

use super::{EmailAddress, UserId};

/// How long the link mailed to the new address confirms it.
pub const EMAIL_CHANGE_CONFIRM_TTL: Duration = Duration::hours(24);
/// How long the link mailed to the old address undoes the change (before or after it is
/// confirmed): the owner of a hijacked account has a week to notice.
pub const EMAIL_CHANGE_UNDO_TTL: Duration = Duration::days(7);

/// One account's change of address, from the request until its undo link lapses. One per
/// account: a new request replaces the one before (and its links die).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChangeRecord {
    pub user_id: UserId,
    /// The address the account had when the change was asked for; an undo puts it back.
    pub old_email: EmailAddress,
    /// [`EmailAddress::key`] of `old_email`.
    pub old_email_norm: String,
    pub new_email: EmailAddress,
    /// [`EmailAddress::key`] of `new_email`.
    pub new_email_norm: String,
    /// SHA-256 (hex) of the confirmation link's token; `None` once the link was used.
    pub confirm_token_hash: Option<String>,
    /// SHA-256 (hex) of the undo link's token.
    pub undo_token_hash: String,
    pub created_at: DateTime<Utc>,
    /// When the confirmation link lapses.
    pub confirm_expires_at: DateTime<Utc>,
    /// When the undo link lapses, and the record with it.
    pub expires_at: DateTime<Utc>,
    /// When the new address was confirmed (the account has it since); `None` before.
    pub confirmed_at: Option<DateTime<Utc>>,
}
