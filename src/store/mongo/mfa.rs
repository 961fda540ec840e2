//! Second factors, in an `mfa` sub-document of the user's document, so each change is one
//! atomic update of that document.

use super::*;

/// The `mfa` sub-document as stored.
#[derive(Deserialize, Default)]
struct MfaDoc {
    totp: Option<String>,
    pending: Option<String>,
    #[serde(default)]
    last_step: i64,
    #[serde(default)]
    recovery_codes: Vec<String>,
}

#[derive(Deserialize)]
struct WithMfa {
    #[serde(default)]
    mfa: Option<MfaDoc>,
}

impl MongoStore {
    /// One conditional update of the user's document; `true` when it matched.
    async fn update_mfa(&self, filter: Document, update: Document) -> StoreResult<bool> {
        let result = self
            .users
            .update_one(filter, update)
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }
}

#[async_trait]
impl MfaStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_mfa", db.system.name = SYSTEM, db.operation.name = "find_mfa"))]
    async fn find_mfa(&self, user: &UserId) -> StoreResult<MfaRecord> {
        let found = self
            .users
            .clone_with_type::<WithMfa>()
            .find_one(doc! { "_id": user.as_str() })
            .projection(doc! { "mfa": 1, "_id": 0 })
            .await
            .map_err(map_err)?;
        let mfa = found.and_then(|f| f.mfa).unwrap_or_default();
        Ok(MfaRecord {
            totp: mfa.totp.map(SealedSecret),
            pending: mfa.pending.map(SealedSecret),
            last_step: mfa.last_step,
            recovery_codes: mfa.recovery_codes,
        })
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_pending_totp", db.system.name = SYSTEM, db.operation.name = "set_pending_totp"))]
    async fn set_pending_totp(&self, user: &UserId, secret: &SealedSecret) -> StoreResult<()> {
        self.update_mfa(
            doc! { "_id": user.as_str() },
            doc! { "$set": { "mfa.pending": &secret.0 } },
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store enable_totp", db.system.name = SYSTEM, db.operation.name = "enable_totp"))]
    async fn enable_totp(
        &self,
        user: &UserId,
        pending: &SealedSecret,
        step: i64,
        recovery_codes: &[String],
    ) -> StoreResult<bool> {
        self.update_mfa(
            doc! { "_id": user.as_str(), "mfa.pending": &pending.0, "mfa.totp": null },
            doc! {
                "$set": {
                    "mfa.totp": &pending.0,
                    "mfa.last_step": step,
                    "mfa.recovery_codes": recovery_codes,
                },
                "$unset": { "mfa.pending": "" },
            },
        )
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store use_totp_step", db.system.name = SYSTEM, db.operation.name = "use_totp_step"))]
    async fn use_totp_step(&self, user: &UserId, step: i64) -> StoreResult<bool> {
        self.update_mfa(
            doc! {
                "_id": user.as_str(),
                "mfa.totp": { "$type": "string" },
                "mfa.last_step": { "$lt": step },
            },
            doc! { "$set": { "mfa.last_step": step } },
        )
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store use_recovery_code", db.system.name = SYSTEM, db.operation.name = "use_recovery_code"))]
    async fn use_recovery_code(&self, user: &UserId, code_hash: &str) -> StoreResult<bool> {
        self.update_mfa(
            doc! {
                "_id": user.as_str(),
                "mfa.totp": { "$type": "string" },
                "mfa.recovery_codes": code_hash,
            },
            doc! { "$pull": { "mfa.recovery_codes": code_hash } },
        )
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_recovery_codes", db.system.name = SYSTEM, db.operation.name = "set_recovery_codes"))]
    async fn set_recovery_codes(&self, user: &UserId, code_hashes: &[String]) -> StoreResult<bool> {
        self.update_mfa(
            doc! { "_id": user.as_str(), "mfa.totp": { "$type": "string" } },
            doc! { "$set": { "mfa.recovery_codes": code_hashes } },
        )
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store disable_totp", db.system.name = SYSTEM, db.operation.name = "disable_totp"))]
    async fn disable_totp(&self, user: &UserId) -> StoreResult<bool> {
        self.update_mfa(
            doc! { "_id": user.as_str(), "mfa.totp": { "$type": "string" } },
            doc! { "$unset": { "mfa": "" } },
        )
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_mfa_challenge", db.system.name = SYSTEM, db.operation.name = "set_mfa_challenge"))]
    async fn set_mfa_challenge(&self, user: &UserId, challenge: &MfaChallenge) -> StoreResult<()> {
        self.update_mfa(
            doc! { "_id": user.as_str() },
            doc! { "$set": {
                "mfa.challenge_hash": &challenge.token_hash,
                "mfa.challenge_expires_at": to_bson(challenge.expires_at),
            } },
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_mfa_challenge", db.system.name = SYSTEM, db.operation.name = "take_mfa_challenge"))]
    async fn take_mfa_challenge(
        &self,
        user: &UserId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.update_mfa(
            doc! {
                "_id": user.as_str(),
                "mfa.challenge_hash": token_hash,
                "mfa.challenge_expires_at": { "$gt": to_bson(now) },
            },
            doc! { "$unset": { "mfa.challenge_hash": "", "mfa.challenge_expires_at": "" } },
        )
        .await
    }
}
