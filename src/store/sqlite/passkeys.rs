//! Passkeys in the `passkeys` table, waiting ceremonies in `passkey_challenges` (both deleted
//! with their user).

use super::*;

const PASSKEY_COLUMNS: &str =
    "id, user_id, credential_id, name, credential, sign_count, created_at, last_used_at";

fn passkey_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<PasskeyRecord> {
    Ok(PasskeyRecord {
        id: id_at(r, 0)?,
        user_id: id_at(r, 1)?,
        credential_id: r.get(2)?,
        name: r.get(3)?,
        credential: r.get(4)?,
        sign_count: r.get(5)?,
        created_at: time_at(r, 6)?,
        last_used_at: r
            .get::<_, Option<i64>>(7)?
            .map(|ms| from_millis(7, ms))
            .transpose()?,
    })
}

fn challenge_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<PasskeyChallengeRecord> {
    let ceremony: String = r.get(1)?;
    Ok(PasskeyChallengeRecord {
        id: id_at(r, 0)?,
        ceremony: PasskeyCeremony::parse(&ceremony).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Text,
                format!("unknown passkey ceremony {ceremony:?}").into(),
            )
        })?,
        user_id: optional_id_at(r, 2)?,
        state: r.get(3)?,
        expires_at: time_at(r, 4)?,
    })
}

#[async_trait]
impl PasskeyStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_passkey_challenge", db.system.name = SYSTEM, db.operation.name = "insert_passkey_challenge"))]
    async fn insert_passkey_challenge(
        &self,
        challenge: &PasskeyChallengeRecord,
    ) -> StoreResult<()> {
        let c = challenge.clone();
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO passkey_challenges (id, ceremony, user_id, state, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                c.id.as_str(),
                c.ceremony.as_str(),
                c.user_id.as_ref().map(UserId::as_str),
                c.state,
                millis(c.expires_at)
            ])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_passkey_challenge", db.system.name = SYSTEM, db.operation.name = "take_passkey_challenge"))]
    async fn take_passkey_challenge(
        &self,
        id: &PasskeyChallengeId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<PasskeyChallengeRecord>> {
        let id = id.to_string();
        self.run(move |c| {
            c.prepare_cached(
                "DELETE FROM passkey_challenges WHERE id = ?1 AND expires_at > ?2 \
                 RETURNING id, ceremony, user_id, state, expires_at",
            )?
            .query_row(params![id, millis(now)], challenge_from)
            .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_passkey_challenges", db.system.name = SYSTEM, db.operation.name = "purge_passkey_challenges"))]
    async fn purge_passkey_challenges(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM passkey_challenges WHERE expires_at <= ?1")?
                .execute([millis(now)])?;
            Ok(n as u64)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_passkey", db.system.name = SYSTEM, db.operation.name = "insert_passkey"))]
    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<bool> {
        let p = passkey.clone();
        self.run(move |c| {
            let n = c
                .prepare_cached(&format!(
                    "INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (credential_id) DO NOTHING"
                ))?
                .execute(params![
                    p.id.as_str(),
                    p.user_id.as_str(),
                    p.credential_id,
                    p.name,
                    p.credential,
                    p.sign_count,
                    millis(p.created_at),
                    p.last_used_at.map(millis)
                ])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_passkeys", db.system.name = SYSTEM, db.operation.name = "list_passkeys"))]
    async fn list_passkeys(&self, user: &UserId) -> StoreResult<Vec<PasskeyRecord>> {
        let user = user.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id"
            ))?
            .query_map([&user], passkey_from)?
            .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_passkey_by_credential", db.system.name = SYSTEM, db.operation.name = "find_passkey_by_credential"))]
    async fn find_passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>> {
        let credential_id = credential_id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = ?1"
            ))?
            .query_row([&credential_id], passkey_from)
            .optional()
        })
        .await
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
        let (id, credential) = (id.to_string(), credential.to_owned());
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE passkeys SET credential = ?3, sign_count = ?4, last_used_at = ?5 \
                     WHERE id = ?1 AND sign_count = ?2",
                )?
                .execute(params![
                    id,
                    expected_count,
                    credential,
                    sign_count,
                    millis(at)
                ])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_passkey", db.system.name = SYSTEM, db.operation.name = "delete_passkey"))]
    async fn delete_passkey(&self, user: &UserId, id: &PasskeyId) -> StoreResult<bool> {
        let (user, id) = (user.to_string(), id.to_string());
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM passkeys WHERE id = ?1 AND user_id = ?2")?
                .execute([&id, &user])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_passkeys", db.system.name = SYSTEM, db.operation.name = "delete_passkeys"))]
    async fn delete_passkeys(&self, user: &UserId) -> StoreResult<u64> {
        let user = user.to_string();
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM passkeys WHERE user_id = ?1")?
                .execute([&user])?;
            Ok(n as u64)
        })
        .await
    }
}
