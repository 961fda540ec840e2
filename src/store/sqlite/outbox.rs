//! The e-mail outbox; the column `next_attempt_at` is the truth for scheduling.

use super::*;

#[async_trait]
impl OutboxStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store enqueue_mail", db.system.name = SYSTEM, db.operation.name = "enqueue_mail"))]
    async fn enqueue_mail(&self, mail: &OutboxRecord) -> StoreResult<()> {
        let m = mail.clone();
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO outbox (id, next_attempt_at, created_at, body) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                m.id.as_str(),
                millis(m.next_attempt_at),
                millis(m.created_at),
                to_json(&m)?
            ])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store due_mail", db.system.name = SYSTEM, db.operation.name = "due_mail"))]
    async fn due_mail(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<OutboxRecord>> {
        let limit = limit_clause(limit);
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT body, next_attempt_at FROM outbox \
                 WHERE next_attempt_at <= ?1 AND dead_at IS NULL \
                 ORDER BY next_attempt_at, created_at{limit}"
            ))?
            .query_map(params![millis(now)], |row| {
                // The column is the truth for scheduling; the JSON copy may lag behind it.
                let mut mail: OutboxRecord = from_json(row)?;
                mail.next_attempt_at = time_at(row, 1)?;
                Ok(mail)
            })?
            .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store claim_mail", db.system.name = SYSTEM, db.operation.name = "claim_mail"))]
    async fn claim_mail(
        &self,
        id: &MailId,
        expected: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let id = id.to_string();
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE outbox SET next_attempt_at = ?1 WHERE id = ?2 AND next_attempt_at = ?3",
                )?
                .execute(params![millis(until), id, millis(expected)])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store reschedule_mail", db.system.name = SYSTEM, db.operation.name = "reschedule_mail"))]
    async fn reschedule_mail(
        &self,
        id: &MailId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        let (id, error) = (id.to_string(), error.to_owned());
        self.run(move |c| {
            c.prepare_cached(
                "UPDATE outbox SET next_attempt_at = ?1, \
                 body = json_set(body, '$.attempts', ?2, '$.last_error', ?3) WHERE id = ?4",
            )?
            .execute(params![millis(next_attempt_at), attempts, error, id])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store mark_mail_dead", db.system.name = SYSTEM, db.operation.name = "mark_mail_dead"))]
    async fn mark_mail_dead(
        &self,
        id: &MailId,
        attempts: u32,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (id, error) = (id.to_string(), error.to_owned());
        self.run(move |c| {
            c.prepare_cached(
                "UPDATE outbox SET dead_at = ?1, \
                 body = json_set(body, '$.attempts', ?2, '$.last_error', ?3) WHERE id = ?4",
            )?
            .execute(params![millis(at), attempts, error, id])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store requeue_dead_mail", db.system.name = SYSTEM, db.operation.name = "requeue_dead_mail"))]
    async fn requeue_dead_mail(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE outbox SET dead_at = NULL, next_attempt_at = ?1, \
                     body = json_set(body, '$.attempts', 0) WHERE dead_at IS NOT NULL",
                )?
                .execute([millis(now)])?;
            Ok(n as u64)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store remove_mail", db.system.name = SYSTEM, db.operation.name = "remove_mail"))]
    async fn remove_mail(&self, id: &MailId) -> StoreResult<()> {
        let id = id.to_string();
        self.run(move |c| {
            c.prepare_cached("DELETE FROM outbox WHERE id = ?1")?
                .execute([id])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store count_dead_mail", db.system.name = SYSTEM, db.operation.name = "count_dead_mail"))]
    async fn count_dead_mail(&self) -> StoreResult<u64> {
        self.read(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL")?
                .query_row([], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store count_pending_mail", db.system.name = SYSTEM, db.operation.name = "count_pending_mail"))]
    async fn count_pending_mail(&self) -> StoreResult<u64> {
        self.read(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM outbox WHERE dead_at IS NULL")?
                .query_row([], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
        .await
    }
}
