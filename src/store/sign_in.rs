//! Sign-in requests waiting for their e-mailed link or code: one per address, each used at most
//! once, and never after it lapsed or spent its code attempts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::SignInRequestRecord;

#[async_trait]
pub trait SignInRequestStore: Send + Sync {
    /// Keeps the request, replacing the address's earlier one (whose link and code die).
    async fn put_sign_in_request(&self, request: &SignInRequestRecord) -> StoreResult<()>;
    /// Deletes and returns the request whose token hash this is, if it has not lapsed at `now`
    /// and has code attempts left: atomic, so of racing takes only one gets it.
    async fn take_sign_in_request(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignInRequestRecord>>;
    /// Spends one code attempt of the address's request, if it has not lapsed at `now` and has
    /// one left, and returns the request as it is afterwards; `None` otherwise. Atomic: racing
    /// attempts never spend more than there were.
    async fn spend_sign_in_code(
        &self,
        email_norm: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignInRequestRecord>>;
    /// Deletes the address's request if it still is the one with this token hash; `false` when
    /// it was gone (taken by its link, replaced, or purged).
    async fn remove_sign_in_request(&self, email_norm: &str, token_hash: &str)
    -> StoreResult<bool>;
    /// Deletes the address's request, whichever it is (the address left its account); `false`
    /// when it had none.
    async fn drop_sign_in_request(&self, email_norm: &str) -> StoreResult<bool>;
    /// Deletes the requests that lapsed at or before `now`; returns how many.
    async fn purge_sign_in_requests(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}
