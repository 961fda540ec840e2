//! Changes of e-mail address in `email_changes`, one document per account (`_id` is its id),
//! with a unique index on the undo link's hash, an index on the confirmation link's, and a TTL
//! index on `expires_at` that drops the lapsed ones.

use serde::Serialize;

use super::*;
use crate::domain::EmailChangeRecord;

#[derive(Serialize, Deserialize)]
struct ChangeDoc {
    #[serde(rename = "_id")]
    user_id: UserId,
    old_email: EmailAddress,
    old_email_norm: String,
    new_email: EmailAddress,
    new_email_norm: String,
    confirm_token_hash: Option<String>,
    undo_token_hash: String,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    #[serde(with = "bson_time")]
    confirm_expires_at: DateTime<Utc>,
    #[serde(with = "bson_time")]
    expires_at: DateTime<Utc>,
    #[serde(with = "bson_time::optional")]
    confirmed_at: Option<DateTime<Utc>>,
}

impl From<&EmailChangeRecord> for ChangeDoc {
    fn from(r: &EmailChangeRecord) -> Self {
        ChangeDoc {
            user_id: r.user_id.clone(),
            old_email: r.old_email.clone(),
            old_email_norm: r.old_email_norm.clone(),
            new_email: r.new_email.clone(),
            new_email_norm: r.new_email_norm.clone(),
            confirm_token_hash: r.confirm_token_hash.clone(),
            undo_token_hash: r.undo_token_hash.clone(),
            created_at: r.created_at,
            confirm_expires_at: r.confirm_expires_at,
            expires_at: r.expires_at,
            confirmed_at: r.confirmed_at,
        }
    }
}

impl From<ChangeDoc> for EmailChangeRecord {
    fn from(d: ChangeDoc) -> Self {
        EmailChangeRecord {
            user_id: d.user_id,
            old_email: d.old_email,
            old_email_norm: d.old_email_norm,
            new_email: d.new_email,
            new_email_norm: d.new_email_norm,
            confirm_token_hash: d.confirm_token_hash,
            undo_token_hash: d.undo_token_hash,
            created_at: d.created_at,
            confirm_expires_at: d.confirm_expires_at,
            expires_at: d.expires_at,
            confirmed_at: d.confirmed_at,
        }
    }
}

impl MongoStore {
    fn email_changes(&self) -> Collection<ChangeDoc> {
        self.db.collection("email_changes")
    }

    pub(super) async fn create_email_change_indexes(&self) -> anyhow::Result<()> {
        let index = |keys: Document, options: IndexOptions| {
            IndexModel::builder().keys(keys).options(options).build()
        };
        self.email_changes()
            .create_indexes([
                index(
                    doc! { "undo_token_hash": 1 },
                    IndexOptions::builder()
                        .unique(true)
                        .name("email_changes_undo_unique".to_owned())
                        .build(),
                ),
                index(
                    doc! { "confirm_token_hash": 1 },
                    IndexOptions::builder()
                        .name("email_changes_by_confirmation".to_owned())
                        .build(),
                ),
                index(
                    doc! { "expires_at": 1 },
                    IndexOptions::builder()
                        .name("email_changes_ttl".to_owned())
                        .expire_after(std::time::Duration::ZERO)
                        .build(),
                ),
            ])
            .await
            .context("creating MongoDB indexes on email_changes")?;
        Ok(())
    }

    /// For the deletion of the users' data: their pending changes go too.
    pub(super) async fn delete_owned_email_changes(&self, ids: &[UserId]) -> StoreResult<()> {
        self.email_changes()
            .delete_many(
                doc! { "_id": { "$in": ids.iter().map(UserId::as_str).collect::<Vec<_>>() } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl EmailChangeStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store put_email_change", db.system.name = SYSTEM, db.operation.name = "put_email_change"))]
    async fn put_email_change(&self, change: &EmailChangeRecord) -> StoreResult<()> {
        self.email_changes()
            .replace_one(
                doc! { "_id": change.user_id.as_str() },
                ChangeDoc::from(change),
            )
            .upsert(true)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_email_change", db.system.name = SYSTEM, db.operation.name = "find_email_change"))]
    async fn find_email_change(&self, user: &UserId) -> StoreResult<Option<EmailChangeRecord>> {
        Ok(self
            .email_changes()
            .find_one(doc! { "_id": user.as_str() })
            .await
            .map_err(map_err)?
            .map(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store use_email_change_confirmation", db.system.name = SYSTEM, db.operation.name = "use_email_change_confirmation"))]
    async fn use_email_change_confirmation(
        &self,
        confirm_token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailChangeRecord>> {
        Ok(self
            .email_changes()
            .find_one_and_update(
                doc! {
                    "confirm_token_hash": confirm_token_hash,
                    "confirm_expires_at": { "$gt": to_bson(now) },
                },
                doc! { "$set": { "confirm_token_hash": null } },
            )
            .return_document(ReturnDocument::Before)
            .await
            .map_err(map_err)?
            .map(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store mark_email_change_confirmed", db.system.name = SYSTEM, db.operation.name = "mark_email_change_confirmed"))]
    async fn mark_email_change_confirmed(
        &self,
        user: &UserId,
        undo_token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = self
            .email_changes()
            .update_one(
                doc! {
                    "_id": user.as_str(),
                    "undo_token_hash": undo_token_hash,
                    "confirmed_at": null,
                },
                doc! { "$set": { "confirmed_at": to_bson(at) } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_email_change_undo", db.system.name = SYSTEM, db.operation.name = "take_email_change_undo"))]
    async fn take_email_change_undo(
        &self,
        undo_token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailChangeRecord>> {
        Ok(self
            .email_changes()
            .find_one_and_delete(doc! {
                "undo_token_hash": undo_token_hash,
                "expires_at": { "$gt": to_bson(now) },
            })
            .await
            .map_err(map_err)?
            .map(Into::into))
    }

    /// No transactions here, as for sign-ups: check for a verified holder, delete the pending
    /// ones, write; and start over when a sign-up took the key in between (the unique index
    /// tells).
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store change_user_email", db.system.name = SYSTEM, db.operation.name = "change_user_email"))]
    async fn change_user_email(
        &self,
        user: &UserId,
        expected: &str,
        email: &EmailAddress,
        email_norm: &str,
    ) -> StoreResult<bool> {
        let users = self.users.clone_with_type::<Document>();
        let holders = |active: bool| {
            doc! { "email_norm": email_norm, "is_active": active, "_id": { "$ne": user.as_str() } }
        };
        for _ in 0..REPLACE_ATTEMPTS {
            if users
                .find_one(holders(true))
                .projection(doc! { "_id": 1 })
                .await
                .map_err(map_err)?
                .is_some()
            {
                return Err(StoreError::Conflict(UniqueField::Email));
            }
            self.delete_pending_holders(holders(false)).await?;
            let written = users
                .update_one(
                    doc! {
                        "_id": user.as_str(),
                        "email_norm": expected,
                        "email": { "$exists": true },
                    },
                    doc! { "$set": { "email": email.as_str(), "email_norm": email_norm } },
                )
                .await
                .map_err(map_err);
            match written {
                Ok(result) => return Ok(result.matched_count == 1),
                Err(StoreError::Conflict(_)) => tokio::task::yield_now().await,
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::Conflict(UniqueField::Email))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_email_changes", db.system.name = SYSTEM, db.operation.name = "purge_email_changes"))]
    async fn purge_email_changes(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        // The TTL index does this on a real server, within a minute; this is for the rest.
        let result = self
            .email_changes()
            .delete_many(doc! { "expires_at": { "$lte": to_bson(now) } })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count)
    }
}
