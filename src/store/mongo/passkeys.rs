//! Passkeys in the `passkeys` collection (a unique index on `credential_id`), waiting ceremonies
//! in `passkey_challenges` (a TTL index on `expires_at` drops the lapsed ones).

use super::*;
use serde::Serialize;

#[derive(Serialize, Deserialize)]
pub(super) struct PasskeyDoc {
    #[serde(rename = "_id")]
    id: PasskeyId,
    user_id: UserId,
    credential_id: String,
    name: String,
    credential: String,
    sign_count: i64,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    #[serde(default, with = "bson_time::optional")]
    last_used_at: Option<DateTime<Utc>>,
}

impl From<&PasskeyRecord> for PasskeyDoc {
    fn from(p: &PasskeyRecord) -> Self {
        PasskeyDoc {
            id: p.id.clone(),
            user_id: p.user_id.clone(),
            credential_id: p.credential_id.clone(),
            name: p.name.clone(),
            credential: p.credential.clone(),
            sign_count: i64::from(p.sign_count),
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

impl TryFrom<PasskeyDoc> for PasskeyRecord {
    type Error = StoreError;

    fn try_from(d: PasskeyDoc) -> StoreResult<Self> {
        Ok(PasskeyRecord {
            sign_count: u32::try_from(d.sign_count).map_err(|_| {
                StoreError::Corrupt(
                    format!("passkey sign count {} is out of range", d.sign_count).into(),
                )
            })?,
            id: d.id,
            user_id: d.user_id,
            credential_id: d.credential_id,
            name: d.name,
            credential: d.credential,
            created_at: d.created_at,
            last_used_at: d.last_used_at,
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct ChallengeDoc {
    #[serde(rename = "_id")]
    id: PasskeyChallengeId,
    ceremony: String,
    user_id: Option<UserId>,
    state: String,
    #[serde(with = "bson_time")]
    expires_at: DateTime<Utc>,
}

impl TryFrom<ChallengeDoc> for PasskeyChallengeRecord {
    type Error = StoreError;

    fn try_from(d: ChallengeDoc) -> StoreResult<Self> {
        Ok(PasskeyChallengeRecord {
            ceremony: PasskeyCeremony::parse(&d.ceremony).ok_or_else(|| {
                StoreError::Corrupt(format!("unknown passkey ceremony {:?}", d.ceremony).into())
            })?,
            id: d.id,
            user_id: d.user_id,
            state: d.state,
            expires_at: d.expires_at,
        })
    }
}

impl MongoStore {
    pub(super) async fn create_passkey_indexes(&self) -> anyhow::Result<()> {
        self.passkeys
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! { "credential_id": 1 })
                    .options(
                        IndexOptions::builder()
                            .unique(true)
                            .name("passkeys_credential_unique".to_owned())
                            .build(),
                    )
                    .build(),
                IndexModel::builder()
                    .keys(doc! { "user_id": 1, "created_at": 1 })
                    .options(
                        IndexOptions::builder()
                            .name("passkeys_by_user".to_owned())
                            .build(),
                    )
                    .build(),
            ])
            .await
            .context("creating MongoDB indexes on passkeys")?;
        self.passkey_challenges
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "expires_at": 1 })
                    .options(
                        IndexOptions::builder()
                            .name("passkey_challenges_ttl".to_owned())
                            .expire_after(std::time::Duration::ZERO)
                            .build(),
                    )
                    .build(),
            )
            .await
            .context("creating MongoDB indexes on passkey_challenges")?;
        Ok(())
    }
}

#[async_trait]
impl PasskeyStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_passkey_challenge", db.system.name = SYSTEM, db.operation.name = "insert_passkey_challenge"))]
    async fn insert_passkey_challenge(
        &self,
        challenge: &PasskeyChallengeRecord,
    ) -> StoreResult<()> {
        let c = challenge.clone();
        self.passkey_challenges
            .insert_one(ChallengeDoc {
                id: c.id,
                ceremony: c.ceremony.as_str().to_owned(),
                user_id: c.user_id,
                state: c.state,
                expires_at: c.expires_at,
            })
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_passkey_challenge", db.system.name = SYSTEM, db.operation.name = "take_passkey_challenge"))]
    async fn take_passkey_challenge(
        &self,
        id: &PasskeyChallengeId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<PasskeyChallengeRecord>> {
        self.passkey_challenges
            .find_one_and_delete(doc! { "_id": id.as_str(), "expires_at": { "$gt": to_bson(now) } })
            .await
            .map_err(map_err)?
            .map(TryInto::try_into)
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_passkey_challenges", db.system.name = SYSTEM, db.operation.name = "purge_passkey_challenges"))]
    async fn purge_passkey_challenges(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        // The TTL index does this on a real server, within a minute; this is for the rest.
        let result = self
            .passkey_challenges
            .delete_many(doc! { "expires_at": { "$lte": to_bson(now) } })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_passkey", db.system.name = SYSTEM, db.operation.name = "insert_passkey"))]
    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<bool> {
        match self.passkeys.insert_one(PasskeyDoc::from(passkey)).await {
            Ok(_) => Ok(true),
            Err(err) if is_duplicate_key(&err) => Ok(false),
            Err(err) => Err(map_err(err)),
        }
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_passkeys", db.system.name = SYSTEM, db.operation.name = "list_passkeys"))]
    async fn list_passkeys(&self, user: &UserId) -> StoreResult<Vec<PasskeyRecord>> {
        let docs: Vec<PasskeyDoc> = self
            .passkeys
            .find(doc! { "user_id": user.as_str() })
            .sort(doc! { "created_at": 1, "_id": 1 })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.into_iter().map(TryInto::try_into).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_passkey_by_credential", db.system.name = SYSTEM, db.operation.name = "find_passkey_by_credential"))]
    async fn find_passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>> {
        self.passkeys
            .find_one(doc! { "credential_id": credential_id })
            .await
            .map_err(map_err)?
            .map(TryInto::try_into)
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store record_passkey_use", db.system.name = SYSTEM, db.operation.name = "record_passkey_use"))]
    async fn record_passkey_use(
        &self,
        id: &PasskeyId,
        expected_count: u32,
        credential: &str,
        sign_count: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = self
            .passkeys
            .update_one(
                doc! { "_id": id.as_str(), "sign_count": i64::from(expected_count) },
                doc! { "$set": {
                    "credential": credential,
                    "sign_count": i64::from(sign_count),
                    "last_used_at": to_bson(at),
                } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_passkey", db.system.name = SYSTEM, db.operation.name = "delete_passkey"))]
    async fn delete_passkey(&self, user: &UserId, id: &PasskeyId) -> StoreResult<bool> {
        let result = self
            .passkeys
            .delete_one(doc! { "_id": id.as_str(), "user_id": user.as_str() })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_passkeys", db.system.name = SYSTEM, db.operation.name = "delete_passkeys"))]
    async fn delete_passkeys(&self, user: &UserId) -> StoreResult<u64> {
        let result = self
            .passkeys
            .delete_many(doc! { "user_id": user.as_str() })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count)
    }
}
