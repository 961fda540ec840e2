//! The e-mail outbox.

use super::*;

#[async_trait]
impl OutboxStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store enqueue_mail", db.system.name = SYSTEM, db.operation.name = "enqueue_mail"))]
    async fn enqueue_mail(&self, mail: &OutboxRecord) -> StoreResult<()> {
        self.outbox
            .insert_one(MailDoc(mail.clone()))
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store due_mail", db.system.name = SYSTEM, db.operation.name = "due_mail"))]
    async fn due_mail(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<OutboxRecord>> {
        let cursor = self
            .outbox
            .find(doc! { "next_attempt_at": { "$lte": to_bson(now) }, "dead_at": null })
            .sort(doc! { "next_attempt_at": 1, "created_at": 1 })
            .limit(limit as i64)
            .await
            .map_err(map_err)?;
        let docs: Vec<MailDoc> = cursor.try_collect().await.map_err(map_err)?;
        Ok(docs.into_iter().map(|MailDoc(m)| m).collect())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store claim_mail", db.system.name = SYSTEM, db.operation.name = "claim_mail"))]
    async fn claim_mail(
        &self,
        id: &MailId,
        expected: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = self
            .outbox
            .update_one(
                doc! { "_id": id.as_str(), "next_attempt_at": to_bson(expected) },
                doc! { "$set": { "next_attempt_at": to_bson(until) } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store reschedule_mail", db.system.name = SYSTEM, db.operation.name = "reschedule_mail"))]
    async fn reschedule_mail(
        &self,
        id: &MailId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        self.outbox
            .update_one(
                doc! { "_id": id.as_str() },
                doc! { "$set": {
                    "attempts": i64::from(attempts),
                    "next_attempt_at": to_bson(next_attempt_at),
                    "last_error": error,
                } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store mark_mail_dead", db.system.name = SYSTEM, db.operation.name = "mark_mail_dead"))]
    async fn mark_mail_dead(
        &self,
        id: &MailId,
        attempts: u32,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.outbox
            .update_one(
                doc! { "_id": id.as_str() },
                doc! { "$set": {
                    "attempts": i64::from(attempts),
                    "last_error": error,
                    "dead_at": to_bson(at),
                } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store requeue_dead_mail", db.system.name = SYSTEM, db.operation.name = "requeue_dead_mail"))]
    async fn requeue_dead_mail(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let result = self
            .outbox
            .update_many(
                doc! { "dead_at": { "$ne": null } },
                doc! {
                    "$set": { "attempts": 0_i64, "next_attempt_at": to_bson(now) },
                    "$unset": { "dead_at": "" },
                },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store remove_mail", db.system.name = SYSTEM, db.operation.name = "remove_mail"))]
    async fn remove_mail(&self, id: &MailId) -> StoreResult<()> {
        self.outbox
            .delete_one(doc! { "_id": id.as_str() })
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store count_dead_mail", db.system.name = SYSTEM, db.operation.name = "count_dead_mail"))]
    async fn count_dead_mail(&self) -> StoreResult<u64> {
        self.outbox
            .count_documents(doc! { "dead_at": { "$ne": null } })
            .await
            .map_err(map_err)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store count_pending_mail", db.system.name = SYSTEM, db.operation.name = "count_pending_mail"))]
    async fn count_pending_mail(&self) -> StoreResult<u64> {
        self.outbox
            .count_documents(doc! { "dead_at": null })
            .await
            .map_err(map_err)
    }
}
