//! Second factors, in the `mfa` table (one row per user, deleted with the user).

use super::*;

/// Creates the user's row if it has none, inside the caller's transaction.
fn ensure_row(c: &Connection, user: &str) -> rusqlite::Result<()> {
    c.prepare_cached("INSERT OR IGNORE INTO mfa (user_id) VALUES (?1)")?
        .execute([user])?;
    Ok(())
}

fn codes_from(json: String) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(&json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

#[async_trait]
impl MfaStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_mfa", db.system.name = SYSTEM, db.operation.name = "find_mfa"))]
    async fn find_mfa(&self, user: &UserId) -> StoreResult<MfaRecord> {
        let user = user.to_string();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT totp, pending, last_step, recovery_codes FROM mfa WHERE user_id = ?1",
            )?
            .query_row([&user], |r| {
                Ok(MfaRecord {
                    totp: r.get::<_, Option<String>>(0)?.map(SealedSecret),
                    pending: r.get::<_, Option<String>>(1)?.map(SealedSecret),
                    last_step: r.get(2)?,
                    recovery_codes: codes_from(r.get(3)?)?,
                })
            })
            .optional()
            .map(Option::unwrap_or_default)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_pending_totp", db.system.name = SYSTEM, db.operation.name = "set_pending_totp"))]
    async fn set_pending_totp(&self, user: &UserId, secret: &SealedSecret) -> StoreResult<()> {
        let (user, secret) = (user.to_string(), secret.0.clone());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_row(&tx, &user)?;
            tx.prepare_cached("UPDATE mfa SET pending = ?2 WHERE user_id = ?1")?
                .execute([&user, &secret])?;
            tx.commit()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store enable_totp", db.system.name = SYSTEM, db.operation.name = "enable_totp"))]
    async fn enable_totp(
        &self,
        user: &UserId,
        pending: &SealedSecret,
        step: i64,
        recovery_codes: &[String],
    ) -> StoreResult<bool> {
        let (user, pending) = (user.to_string(), pending.0.clone());
        let codes = serde_json::to_string(recovery_codes).map_err(anyhow::Error::from)?;
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE mfa SET totp = pending, pending = NULL, last_step = ?3, \
                     recovery_codes = ?4 WHERE user_id = ?1 AND pending = ?2 AND totp IS NULL",
                )?
                .execute(params![user, pending, step, codes])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store use_totp_step", db.system.name = SYSTEM, db.operation.name = "use_totp_step"))]
    async fn use_totp_step(&self, user: &UserId, step: i64) -> StoreResult<bool> {
        let user = user.to_string();
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE mfa SET last_step = ?2 \
                     WHERE user_id = ?1 AND totp IS NOT NULL AND last_step < ?2",
                )?
                .execute(params![user, step])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store use_recovery_code", db.system.name = SYSTEM, db.operation.name = "use_recovery_code"))]
    async fn use_recovery_code(&self, user: &UserId, code_hash: &str) -> StoreResult<bool> {
        let (user, code_hash) = (user.to_string(), code_hash.to_owned());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let codes: Option<String> = tx
                .prepare_cached(
                    "SELECT recovery_codes FROM mfa WHERE user_id = ?1 AND totp IS NOT NULL",
                )?
                .query_row([&user], |r| r.get(0))
                .optional()?;
            let Some(codes) = codes else { return Ok(false) };
            let mut codes = codes_from(codes)?;
            let before = codes.len();
            codes.retain(|c| c != &code_hash);
            if codes.len() == before {
                return Ok(false);
            }
            let json = serde_json::to_string(&codes)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
            tx.prepare_cached("UPDATE mfa SET recovery_codes = ?2 WHERE user_id = ?1")?
                .execute([&user, &json])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_recovery_codes", db.system.name = SYSTEM, db.operation.name = "set_recovery_codes"))]
    async fn set_recovery_codes(&self, user: &UserId, code_hashes: &[String]) -> StoreResult<bool> {
        let user = user.to_string();
        let codes = serde_json::to_string(code_hashes).map_err(anyhow::Error::from)?;
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE mfa SET recovery_codes = ?2 WHERE user_id = ?1 AND totp IS NOT NULL",
                )?
                .execute([&user, &codes])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store disable_totp", db.system.name = SYSTEM, db.operation.name = "disable_totp"))]
    async fn disable_totp(&self, user: &UserId) -> StoreResult<bool> {
        let user = user.to_string();
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE mfa SET totp = NULL, pending = NULL, recovery_codes = '[]', \
                     challenge_hash = NULL, challenge_expires_at = NULL \
                     WHERE user_id = ?1 AND totp IS NOT NULL",
                )?
                .execute([&user])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_mfa_challenge", db.system.name = SYSTEM, db.operation.name = "set_mfa_challenge"))]
    async fn set_mfa_challenge(&self, user: &UserId, challenge: &MfaChallenge) -> StoreResult<()> {
        let (user, challenge) = (user.to_string(), challenge.clone());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_row(&tx, &user)?;
            tx.prepare_cached(
                "UPDATE mfa SET challenge_hash = ?2, challenge_expires_at = ?3 WHERE user_id = ?1",
            )?
            .execute(params![
                user,
                challenge.token_hash,
                millis(challenge.expires_at)
            ])?;
            tx.commit()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_mfa_challenge", db.system.name = SYSTEM, db.operation.name = "take_mfa_challenge"))]
    async fn take_mfa_challenge(
        &self,
        user: &UserId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (user, token_hash) = (user.to_string(), token_hash.to_owned());
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE mfa SET challenge_hash = NULL, challenge_expires_at = NULL \
                     WHERE user_id = ?1 AND challenge_hash = ?2 AND challenge_expires_at > ?3",
                )?
                .execute(params![user, token_hash, millis(now)])?;
            Ok(n == 1)
        })
        .await
    }
}
