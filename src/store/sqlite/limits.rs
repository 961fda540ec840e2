//! Rate-limit counters: one upsert per hit that also reads the previous window, so processes
//! sharing the file count together.

use super::*;

#[async_trait]
impl RateLimitStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store hit_rate_limit", db.system.name = SYSTEM, db.operation.name = "hit_rate_limit"))]
    async fn hit_rate_limit(
        &self,
        key: &str,
        window: i64,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<WindowHits> {
        let key = key.to_owned();
        // One statement: the upsert and the read of the previous window commit together.
        self.run(move |c| {
            let (current, previous): (i64, i64) = c
                .prepare_cached(
                    "INSERT INTO rate_limits (key, slot, hits, expires_at) VALUES (?1, ?2, 1, ?3) \
                     ON CONFLICT (key, slot) DO UPDATE SET hits = hits + 1 \
                     RETURNING hits, (SELECT hits FROM rate_limits WHERE key = ?1 AND slot = ?2 - 1)",
                )?
                .query_row(params![key, window, millis(expires_at)], |r| {
                    Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(0)))
                })?;
            Ok(WindowHits {
                current: current.max(0) as u64,
                previous: previous.max(0) as u64,
            })
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store unhit_rate_limit", db.system.name = SYSTEM, db.operation.name = "unhit_rate_limit"))]
    async fn unhit_rate_limit(&self, key: &str, window: i64) -> StoreResult<()> {
        let key = key.to_owned();
        self.run(move |c| {
            c.prepare_cached(
                "UPDATE rate_limits SET hits = hits - 1 WHERE key = ?1 AND slot = ?2 AND hits > 0",
            )?
            .execute(params![key, window])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_rate_limits", db.system.name = SYSTEM, db.operation.name = "purge_rate_limits"))]
    async fn purge_rate_limits(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM rate_limits WHERE expires_at < ?1")?
                .execute([millis(now)])?;
            Ok(n as u64)
        })
        .await
    }
}
