//! Changes of e-mail address waiting for their confirmation link, then for their undo link to
//! lapse: one per account. Each link works once; the address itself changes here too, so that
//! the uniqueness of addresses decides a race between a change and a sign-up.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{EmailAddress, EmailChangeRecord, UserId};

#[async_trait]
pub trait EmailChangeStore: Send + Sync {
    /// Keeps the change, replacing the account's earlier one (whose links die).
    async fn put_email_change(&self, change: &EmailChangeRecord) -> StoreResult<()>;
    /// The account's change, if it has one (lapsed or not).
    async fn find_email_change(&self, user: &UserId) -> StoreResult<Option<EmailChangeRecord>>;
    /// Uses up the confirmation link whose token hash this is, if it has not lapsed at `now`:
    /// returns the change as it was (the link no longer finds it). Atomic, so of racing
    /// confirmations only one gets it.
    async fn use_email_change_confirmation(
        &self,
        confirm_token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailChangeRecord>>;
    /// Records that the user's change with this undo hash was confirmed at `at`; `false` when
    /// that change is gone (undone or replaced meanwhile) or was already confirmed.
    async fn mark_email_change_confirmed(
        &self,
        user: &UserId,
        undo_token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Deletes and returns the change whose undo hash this is, if it has not lapsed at `now`:
    /// atomic, so of racing undos only one gets it.
    async fn take_email_change_undo(
        &self,
        undo_token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailChangeRecord>>;
    /// Gives the account the address `email` (key `email_norm`) if its address key still is
    /// `expected`; `false`, changing nothing, when it is not (or the account is gone). Fails
    /// with `Conflict(Email)`, changing nothing, when a verified account holds the key; a
    /// never-verified one that holds it is deleted with its data, as a sign-up would.
    async fn change_user_email(
        &self,
        user: &UserId,
        expected: &str,
        email: &EmailAddress,
        email_norm: &str,
    ) -> StoreResult<bool>;
    /// Deletes the changes whose undo link lapsed at or before `now`; returns how many.
    async fn purge_email_changes(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}
