//! Rate-limit counters: one document per hashed key, `{ _id, hits: { "<window>": n }, expires_at }`,
//! counted with one atomic `findOneAndUpdate` (upsert) that also returns the previous window's
//! hits. A TTL index on `expires_at` removes idle keys.

use super::*;

/// What a counter document says; windows are field names under `hits`.
#[derive(Deserialize)]
pub(super) struct CounterDoc {
    #[serde(default)]
    hits: std::collections::HashMap<String, i64>,
}

#[async_trait]
impl RateLimitStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store hit_rate_limit", db.system.name = SYSTEM, db.operation.name = "hit_rate_limit"))]
    async fn hit_rate_limit(
        &self,
        key: &str,
        window: i64,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<WindowHits> {
        let counter: CounterDoc = self
            .rate_limits
            .find_one_and_update(
                doc! { "_id": key },
                doc! {
                    "$inc": { format!("hits.{window}"): 1 },
                    // Two windows back is never read again.
                    "$unset": { format!("hits.{}", window - 2): "" },
                    "$max": { "expires_at": to_bson(expires_at) },
                },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("upsert returned no document")))?;
        let count = |w: i64| {
            counter
                .hits
                .get(&w.to_string())
                .copied()
                .unwrap_or(0)
                .max(0) as u64
        };
        Ok(WindowHits {
            current: count(window),
            previous: count(window - 1),
        })
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store unhit_rate_limit", db.system.name = SYSTEM, db.operation.name = "unhit_rate_limit"))]
    async fn unhit_rate_limit(&self, key: &str, window: i64) -> StoreResult<()> {
        let field = format!("hits.{window}");
        self.rate_limits
            .update_one(
                doc! { "_id": key, &field: { "$gt": 0 } },
                doc! { "$inc": { &field: -1 } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_rate_limits", db.system.name = SYSTEM, db.operation.name = "purge_rate_limits"))]
    async fn purge_rate_limits(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        // The TTL index does this on a real server, within a minute; this is for the rest.
        let result = self
            .rate_limits
            .delete_many(doc! { "expires_at": { "$lt": to_bson(now) } })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count)
    }
}
