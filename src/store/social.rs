//! Sign-in through OpenID Connect providers: the identities linked to accounts, and the logins
//! waiting for the provider's answer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{SocialLinkRecord, SocialLoginRecord, UserId};

#[async_trait]
pub trait SocialStore: Send + Sync {
    async fn insert_social_login(&self, login: &SocialLoginRecord) -> StoreResult<()>;
    /// Deletes the login and returns it, if it exists and has not lapsed at `now`: atomic, so
    /// a replayed callback finds nothing.
    async fn take_social_login(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SocialLoginRecord>>;
    /// Deletes the logins that lapsed before `now`; returns how many.
    async fn purge_social_logins(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// The account an identity is linked to.
    async fn find_social_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<SocialLinkRecord>>;
    /// `false`, storing nothing, when the identity is linked already (to anyone) or the user
    /// has a link to this provider.
    async fn insert_social_link(&self, link: &SocialLinkRecord) -> StoreResult<bool>;
    /// The user's links, oldest first.
    async fn list_social_links(&self, user: &UserId) -> StoreResult<Vec<SocialLinkRecord>>;
    /// `false` when the user had no link to `provider`.
    async fn delete_social_link(&self, user: &UserId, provider: &str) -> StoreResult<bool>;
}
