//! Sign-in requests in `sign_in_requests`, one row per address (its primary key).

use super::*;
use crate::domain::SignInRequestRecord;

const COLUMNS: &str = "email_norm, email, user_id, token_hash, code_hash, return_to, locale, \
                       codes_left, created_at, expires_at";

fn request_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<SignInRequestRecord> {
    Ok(SignInRequestRecord {
        email_norm: r.get(0)?,
        email: EmailAddress::from_stored(r.get(1)?),
        user_id: optional_id_at(r, 2)?,
        token_hash: r.get(3)?,
        code_hash: r.get(4)?,
        return_to: r.get(5)?,
        locale: Locale::from_tag(&r.get::<_, String>(6)?).unwrap_or_default(),
        codes_left: r.get(7)?,
        created_at: time_at(r, 8)?,
        expires_at: time_at(r, 9)?,
    })
}

#[async_trait]
impl SignInRequestStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store put_sign_in_request", db.system.name = SYSTEM, db.operation.name = "put_sign_in_request"))]
    async fn put_sign_in_request(&self, request: &SignInRequestRecord) -> StoreResult<()> {
        let r = request.clone();
        self.run(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO sign_in_requests ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (email_norm) DO UPDATE SET email = excluded.email, \
                 user_id = excluded.user_id, token_hash = excluded.token_hash, \
                 code_hash = excluded.code_hash, return_to = excluded.return_to, \
                 locale = excluded.locale, codes_left = excluded.codes_left, \
                 created_at = excluded.created_at, expires_at = excluded.expires_at"
            ))?
            .execute(params![
                r.email_norm,
                r.email.as_str(),
                r.user_id.as_ref().map(UserId::as_str),
                r.token_hash,
                r.code_hash,
                r.return_to,
                r.locale.as_str(),
                r.codes_left,
                millis(r.created_at),
                millis(r.expires_at)
            ])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_sign_in_request", db.system.name = SYSTEM, db.operation.name = "take_sign_in_request"))]
    async fn take_sign_in_request(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignInRequestRecord>> {
        let token_hash = token_hash.to_owned();
        self.run(move |c| {
            c.prepare_cached(&format!(
                "DELETE FROM sign_in_requests \
                 WHERE token_hash = ?1 AND expires_at > ?2 AND codes_left > 0 \
                 RETURNING {COLUMNS}"
            ))?
            .query_row(params![token_hash, millis(now)], request_from)
            .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store spend_sign_in_code", db.system.name = SYSTEM, db.operation.name = "spend_sign_in_code"))]
    async fn spend_sign_in_code(
        &self,
        email_norm: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignInRequestRecord>> {
        let email_norm = email_norm.to_owned();
        self.run(move |c| {
            c.prepare_cached(&format!(
                "UPDATE sign_in_requests SET codes_left = codes_left - 1 \
                 WHERE email_norm = ?1 AND expires_at > ?2 AND codes_left > 0 \
                 RETURNING {COLUMNS}"
            ))?
            .query_row(params![email_norm, millis(now)], request_from)
            .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store remove_sign_in_request", db.system.name = SYSTEM, db.operation.name = "remove_sign_in_request"))]
    async fn remove_sign_in_request(
        &self,
        email_norm: &str,
        token_hash: &str,
    ) -> StoreResult<bool> {
        let (email_norm, token_hash) = (email_norm.to_owned(), token_hash.to_owned());
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "DELETE FROM sign_in_requests WHERE email_norm = ?1 AND token_hash = ?2",
                )?
                .execute([&email_norm, &token_hash])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store drop_sign_in_request", db.system.name = SYSTEM, db.operation.name = "drop_sign_in_request"))]
    async fn drop_sign_in_request(&self, email_norm: &str) -> StoreResult<bool> {
        let email_norm = email_norm.to_owned();
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM sign_in_requests WHERE email_norm = ?1")?
                .execute([&email_norm])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_sign_in_requests", db.system.name = SYSTEM, db.operation.name = "purge_sign_in_requests"))]
    async fn purge_sign_in_requests(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM sign_in_requests WHERE expires_at <= ?1")?
                .execute([millis(now)])?;
            Ok(n as u64)
        })
        .await
    }
}
