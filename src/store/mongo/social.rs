//! Linked identities in `social_links` (unique on the identity and on user and provider),
//! waiting logins in `social_logins` (keyed by the state's hash; a TTL index drops the lapsed).

use serde::Serialize;

use crate::domain::{SocialLinkRecord, SocialLoginRecord};
use crate::store::SocialStore;

use super::*;

#[derive(Serialize, Deserialize)]
struct LinkDoc {
    user_id: UserId,
    provider: String,
    issuer: String,
    subject: String,
    email: Option<String>,
    #[serde(with = "bson_time")]
    linked_at: DateTime<Utc>,
}

impl From<LinkDoc> for SocialLinkRecord {
    fn from(d: LinkDoc) -> Self {
        SocialLinkRecord {
            user_id: d.user_id,
            provider: d.provider,
            issuer: d.issuer,
            subject: d.subject,
            email: d.email,
            linked_at: d.linked_at,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct LoginDoc {
    #[serde(rename = "_id")]
    state_hash: String,
    provider: String,
    nonce: String,
    pkce_verifier: String,
    return_to: String,
    link_to: Option<UserId>,
    #[serde(with = "bson_time")]
    expires_at: DateTime<Utc>,
}

impl MongoStore {
    fn social_links(&self) -> Collection<LinkDoc> {
        self.db.collection("social_links")
    }

    pub(super) fn social_logins(&self) -> Collection<LoginDoc> {
        self.db.collection("social_logins")
    }

    pub(super) async fn create_social_indexes(&self) -> anyhow::Result<()> {
        let unique = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .name(name.to_owned())
                        .unique(true)
                        .build(),
                )
                .build()
        };
        self.social_links()
            .create_indexes([
                unique(doc! { "issuer": 1, "subject": 1 }, "social_links_identity"),
                unique(doc! { "user_id": 1, "provider": 1 }, "social_links_by_user"),
            ])
            .await
            .context("creating MongoDB indexes on social_links")?;
        self.social_logins()
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "expires_at": 1 })
                    .options(
                        IndexOptions::builder()
                            .name("social_logins_ttl".to_owned())
                            .expire_after(std::time::Duration::ZERO)
                            .build(),
                    )
                    .build(),
            )
            .await
            .context("creating MongoDB indexes on social_logins")?;
        Ok(())
    }

    /// What the users take with them from here.
    pub(super) async fn delete_owned_social_links(&self, ids: &[UserId]) -> StoreResult<()> {
        self.social_links()
            .delete_many(
                doc! { "user_id": { "$in": ids.iter().map(UserId::as_str).collect::<Vec<_>>() } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl SocialStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_social_login", db.system.name = SYSTEM, db.operation.name = "insert_social_login"))]
    async fn insert_social_login(&self, login: &SocialLoginRecord) -> StoreResult<()> {
        let l = login.clone();
        self.social_logins()
            .insert_one(LoginDoc {
                state_hash: l.state_hash,
                provider: l.provider,
                nonce: l.nonce,
                pkce_verifier: l.pkce_verifier,
                return_to: l.return_to,
                link_to: l.link_to,
                expires_at: l.expires_at,
            })
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_social_login", db.system.name = SYSTEM, db.operation.name = "take_social_login"))]
    async fn take_social_login(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SocialLoginRecord>> {
        Ok(self
            .social_logins()
            .find_one_and_delete(doc! { "_id": state_hash, "expires_at": { "$gt": to_bson(now) } })
            .await
            .map_err(map_err)?
            .map(|d| SocialLoginRecord {
                state_hash: d.state_hash,
                provider: d.provider,
                nonce: d.nonce,
                pkce_verifier: d.pkce_verifier,
                return_to: d.return_to,
                link_to: d.link_to,
                expires_at: d.expires_at,
            }))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_social_logins", db.system.name = SYSTEM, db.operation.name = "purge_social_logins"))]
    async fn purge_social_logins(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        Ok(self
            .social_logins()
            .delete_many(doc! { "expires_at": { "$lte": to_bson(now) } })
            .await
            .map_err(map_err)?
            .deleted_count)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_social_link", db.system.name = SYSTEM, db.operation.name = "find_social_link"))]
    async fn find_social_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<SocialLinkRecord>> {
        Ok(self
            .social_links()
            .find_one(doc! { "issuer": issuer, "subject": subject })
            .await
            .map_err(map_err)?
            .map(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_social_link", db.system.name = SYSTEM, db.operation.name = "insert_social_link"))]
    async fn insert_social_link(&self, link: &SocialLinkRecord) -> StoreResult<bool> {
        let l = link.clone();
        let doc = LinkDoc {
            user_id: l.user_id,
            provider: l.provider,
            issuer: l.issuer,
            subject: l.subject,
            email: l.email,
            linked_at: l.linked_at,
        };
        match self.social_links().insert_one(doc).await {
            Ok(_) => Ok(true),
            Err(err) if is_duplicate_key(&err) => Ok(false),
            Err(err) => Err(map_err(err)),
        }
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_social_links", db.system.name = SYSTEM, db.operation.name = "list_social_links"))]
    async fn list_social_links(&self, user: &UserId) -> StoreResult<Vec<SocialLinkRecord>> {
        let docs: Vec<LinkDoc> = self
            .social_links()
            .find(doc! { "user_id": user.as_str() })
            .sort(doc! { "linked_at": 1, "provider": 1 })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        Ok(docs.into_iter().map(Into::into).collect())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_social_link", db.system.name = SYSTEM, db.operation.name = "delete_social_link"))]
    async fn delete_social_link(&self, user: &UserId, provider: &str) -> StoreResult<bool> {
        Ok(self
            .social_links()
            .delete_one(doc! { "user_id": user.as_str(), "provider": provider })
            .await
            .map_err(map_err)?
            .deleted_count
            == 1)
    }
}
