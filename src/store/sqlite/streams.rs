//! Stream leases: counted and taken in one write transaction, so racing processes on the file
//! never hold more than the cap.

use super::*;

#[async_trait]
impl StreamLeaseStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_stream_lease", db.system.name = SYSTEM, db.operation.name = "take_stream_lease"))]
    async fn take_stream_lease(
        &self,
        user: &UserId,
        lease: &str,
        max: u32,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (user, lease) = (user.as_str().to_owned(), lease.to_owned());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // The user's lapsed leases go first: they would only be counted out again.
            tx.prepare_cached("DELETE FROM stream_leases WHERE user_id = ?1 AND expires_at <= ?2")?
                .execute(params![user, millis(now)])?;
            let held: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM stream_leases WHERE user_id = ?1")?
                .query_row([&user], |r| r.get(0))?;
            if held >= i64::from(max) {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO stream_leases (lease, user_id, expires_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![lease, user, millis(until)])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store renew_stream_leases", db.system.name = SYSTEM, db.operation.name = "renew_stream_leases"))]
    async fn renew_stream_leases(
        &self,
        leases: &[String],
        until: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if leases.is_empty() {
            return Ok(0);
        }
        let leases = leases.to_vec();
        self.run(move |c| {
            let tx = c.transaction()?;
            let mut renewed = 0;
            {
                let mut update =
                    tx.prepare_cached("UPDATE stream_leases SET expires_at = ?2 WHERE lease = ?1")?;
                for lease in &leases {
                    renewed += update.execute(params![lease, millis(until)])? as u64;
                }
            }
            tx.commit()?;
            Ok(renewed)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store release_stream_lease", db.system.name = SYSTEM, db.operation.name = "release_stream_lease"))]
    async fn release_stream_lease(&self, user: &UserId, lease: &str) -> StoreResult<()> {
        let (user, lease) = (user.as_str().to_owned(), lease.to_owned());
        self.run(move |c| {
            c.prepare_cached("DELETE FROM stream_leases WHERE lease = ?1 AND user_id = ?2")?
                .execute(params![lease, user])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_stream_leases", db.system.name = SYSTEM, db.operation.name = "purge_stream_leases"))]
    async fn purge_stream_leases(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM stream_leases WHERE expires_at < ?1")?
                .execute([millis(now)])?;
            Ok(n as u64)
        })
        .await
    }
}
