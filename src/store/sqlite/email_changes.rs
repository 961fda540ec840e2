//! Changes of e-mail address in `email_changes`, one row per account (its primary key).

use super::*;
use crate::domain::EmailChangeRecord;

const COLUMNS: &str = "owner_id, old_email, old_email_norm, new_email, new_email_norm, \
                       confirm_token_hash, undo_token_hash, created_at, confirm_expires_at, \
                       expires_at, confirmed_at";

fn change_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<EmailChangeRecord> {
    Ok(EmailChangeRecord {
        user_id: id_at(r, 0)?,
        old_email: EmailAddress::from_stored(r.get(1)?),
        old_email_norm: r.get(2)?,
        new_email: EmailAddress::from_stored(r.get(3)?),
        new_email_norm: r.get(4)?,
        confirm_token_hash: r.get(5)?,
        undo_token_hash: r.get(6)?,
        created_at: time_at(r, 7)?,
        confirm_expires_at: time_at(r, 8)?,
        expires_at: time_at(r, 9)?,
        confirmed_at: r
            .get::<_, Option<i64>>(10)?
            .map(|ms| from_millis(10, ms))
            .transpose()?,
    })
}

#[async_trait]
impl EmailChangeStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store put_email_change", db.system.name = SYSTEM, db.operation.name = "put_email_change"))]
    async fn put_email_change(&self, change: &EmailChangeRecord) -> StoreResult<()> {
        let r = change.clone();
        self.run(move |c| {
            c.prepare_cached(&format!(
                "INSERT OR REPLACE INTO email_changes ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))?
            .execute(params![
                r.user_id.as_str(),
                r.old_email.as_str(),
                r.old_email_norm,
                r.new_email.as_str(),
                r.new_email_norm,
                r.confirm_token_hash,
                r.undo_token_hash,
                millis(r.created_at),
                millis(r.confirm_expires_at),
                millis(r.expires_at),
                r.confirmed_at.map(millis)
            ])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_email_change", db.system.name = SYSTEM, db.operation.name = "find_email_change"))]
    async fn find_email_change(&self, user: &UserId) -> StoreResult<Option<EmailChangeRecord>> {
        let user = user.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM email_changes WHERE owner_id = ?1"
            ))?
            .query_row([user], change_from)
            .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store use_email_change_confirmation", db.system.name = SYSTEM, db.operation.name = "use_email_change_confirmation"))]
    async fn use_email_change_confirmation(
        &self,
        confirm_token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailChangeRecord>> {
        let hash = confirm_token_hash.to_owned();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM email_changes \
                     WHERE confirm_token_hash = ?1 AND confirm_expires_at > ?2"
                ))?
                .query_row(params![hash, millis(now)], change_from)
                .optional()?;
            if found.is_some() {
                tx.prepare_cached(
                    "UPDATE email_changes SET confirm_token_hash = NULL \
                     WHERE confirm_token_hash = ?1",
                )?
                .execute([&hash])?;
            }
            tx.commit()?;
            Ok(found)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store mark_email_change_confirmed", db.system.name = SYSTEM, db.operation.name = "mark_email_change_confirmed"))]
    async fn mark_email_change_confirmed(
        &self,
        user: &UserId,
        undo_token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (user, hash) = (user.to_string(), undo_token_hash.to_owned());
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE email_changes SET confirmed_at = ?1 \
                     WHERE owner_id = ?2 AND undo_token_hash = ?3 AND confirmed_at IS NULL",
                )?
                .execute(params![millis(at), user, hash])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_email_change_undo", db.system.name = SYSTEM, db.operation.name = "take_email_change_undo"))]
    async fn take_email_change_undo(
        &self,
        undo_token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailChangeRecord>> {
        let hash = undo_token_hash.to_owned();
        self.run(move |c| {
            c.prepare_cached(&format!(
                "DELETE FROM email_changes WHERE undo_token_hash = ?1 AND expires_at > ?2 \
                 RETURNING {COLUMNS}"
            ))?
            .query_row(params![hash, millis(now)], change_from)
            .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store change_user_email", db.system.name = SYSTEM, db.operation.name = "change_user_email"))]
    async fn change_user_email(
        &self,
        user: &UserId,
        expected: &str,
        email: &EmailAddress,
        email_norm: &str,
    ) -> StoreResult<bool> {
        let (user, expected) = (user.to_string(), expected.to_owned());
        let (email, email_norm) = (email.as_str().to_owned(), email_norm.to_owned());
        self.run(move |c| {
            // One write transaction: a verified holder fails the update (the unique key) and
            // rolls the deletion of pending holders back.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let pending = tx
                .prepare_cached(
                    "DELETE FROM users WHERE is_active = 0 AND email_norm = ?1 AND id <> ?2 \
                     RETURNING id",
                )?
                .query_map([&email_norm, &user], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            users::delete_owned_data(&tx, &pending)?;
            let n = tx
                .prepare_cached(
                    "UPDATE users SET email = ?1, email_norm = ?2 \
                     WHERE id = ?3 AND email_norm = ?4 AND email <> ''",
                )?
                .execute([&email, &email_norm, &user, &expected])?;
            if n == 0 {
                return Ok(false);
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_email_changes", db.system.name = SYSTEM, db.operation.name = "purge_email_changes"))]
    async fn purge_email_changes(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM email_changes WHERE expires_at <= ?1")?
                .execute([millis(now)])?;
            Ok(n as u64)
        })
        .await
    }
}
