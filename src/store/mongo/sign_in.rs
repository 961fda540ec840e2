//! Sign-in requests in `sign_in_requests`, one document per address (`_id` is its key), with a
//! unique index on the token hash and a TTL index on `expires_at` that drops the lapsed ones.

use serde::Serialize;

use super::*;
use crate::domain::SignInRequestRecord;

#[derive(Serialize, Deserialize)]
pub(super) struct RequestDoc {
    #[serde(rename = "_id")]
    email_norm: String,
    email: EmailAddress,
    user_id: Option<UserId>,
    token_hash: String,
    code_hash: String,
    return_to: Option<String>,
    locale: String,
    codes_left: i64,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    #[serde(with = "bson_time")]
    expires_at: DateTime<Utc>,
}

impl From<&SignInRequestRecord> for RequestDoc {
    fn from(r: &SignInRequestRecord) -> Self {
        RequestDoc {
            email_norm: r.email_norm.clone(),
            email: r.email.clone(),
            user_id: r.user_id.clone(),
            token_hash: r.token_hash.clone(),
            code_hash: r.code_hash.clone(),
            return_to: r.return_to.clone(),
            locale: r.locale.as_str().to_owned(),
            codes_left: i64::from(r.codes_left),
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

impl TryFrom<RequestDoc> for SignInRequestRecord {
    type Error = StoreError;

    fn try_from(d: RequestDoc) -> StoreResult<Self> {
        Ok(SignInRequestRecord {
            codes_left: u32::try_from(d.codes_left).map_err(|_| {
                StoreError::Corrupt(
                    format!("sign-in code attempts {} out of range", d.codes_left).into(),
                )
            })?,
            email_norm: d.email_norm,
            email: d.email,
            user_id: d.user_id,
            token_hash: d.token_hash,
            code_hash: d.code_hash,
            return_to: d.return_to,
            locale: Locale::from_tag(&d.locale).unwrap_or_default(),
            created_at: d.created_at,
            expires_at: d.expires_at,
        })
    }
}

impl MongoStore {
    pub(super) fn sign_in_requests(&self) -> Collection<RequestDoc> {
        self.db.collection("sign_in_requests")
    }

    pub(super) async fn create_sign_in_request_indexes(&self) -> anyhow::Result<()> {
        self.sign_in_requests()
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! { "token_hash": 1 })
                    .options(
                        IndexOptions::builder()
                            .unique(true)
                            .name("sign_in_requests_token_unique".to_owned())
                            .build(),
                    )
                    .build(),
                IndexModel::builder()
                    .keys(doc! { "expires_at": 1 })
                    .options(
                        IndexOptions::builder()
                            .name("sign_in_requests_ttl".to_owned())
                            .expire_after(std::time::Duration::ZERO)
                            .build(),
                    )
                    .build(),
            ])
            .await
            .context("creating MongoDB indexes on sign_in_requests")?;
        Ok(())
    }
}

#[async_trait]
impl SignInRequestStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store put_sign_in_request", db.system.name = SYSTEM, db.operation.name = "put_sign_in_request"))]
    async fn put_sign_in_request(&self, request: &SignInRequestRecord) -> StoreResult<()> {
        self.sign_in_requests()
            .replace_one(
                doc! { "_id": &request.email_norm },
                RequestDoc::from(request),
            )
            .upsert(true)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_sign_in_request", db.system.name = SYSTEM, db.operation.name = "take_sign_in_request"))]
    async fn take_sign_in_request(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignInRequestRecord>> {
        self.sign_in_requests()
            .find_one_and_delete(doc! {
                "token_hash": token_hash,
                "expires_at": { "$gt": to_bson(now) },
                "codes_left": { "$gt": 0 },
            })
            .await
            .map_err(map_err)?
            .map(TryInto::try_into)
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store spend_sign_in_code", db.system.name = SYSTEM, db.operation.name = "spend_sign_in_code"))]
    async fn spend_sign_in_code(
        &self,
        email_norm: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignInRequestRecord>> {
        self.sign_in_requests()
            .find_one_and_update(
                doc! {
                    "_id": email_norm,
                    "expires_at": { "$gt": to_bson(now) },
                    "codes_left": { "$gt": 0 },
                },
                doc! { "$inc": { "codes_left": -1 } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .map(TryInto::try_into)
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store remove_sign_in_request", db.system.name = SYSTEM, db.operation.name = "remove_sign_in_request"))]
    async fn remove_sign_in_request(
        &self,
        email_norm: &str,
        token_hash: &str,
    ) -> StoreResult<bool> {
        let result = self
            .sign_in_requests()
            .delete_one(doc! { "_id": email_norm, "token_hash": token_hash })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store drop_sign_in_request", db.system.name = SYSTEM, db.operation.name = "drop_sign_in_request"))]
    async fn drop_sign_in_request(&self, email_norm: &str) -> StoreResult<bool> {
        let result = self
            .sign_in_requests()
            .delete_one(doc! { "_id": email_norm })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_sign_in_requests", db.system.name = SYSTEM, db.operation.name = "purge_sign_in_requests"))]
    async fn purge_sign_in_requests(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        // The TTL index does this on a real server, within a minute; this is for the rest.
        let result = self
            .sign_in_requests()
            .delete_many(doc! { "expires_at": { "$lte": to_bson(now) } })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count)
    }
}
