//! Stream leases: a user's leases sit in numbered slots, one document each with the `_id`
//! `<user>#<n>` for `n` below the cap, so the unique `_id` is what keeps racing processes from
//! holding more than the cap (the test server runs no transactions). A lapsed slot is taken
//! over by a compare-and-swap on its old lease.

use std::collections::HashMap;

use super::*;

impl MongoStore {
    pub(super) fn stream_leases(&self) -> Collection<Document> {
        self.db.collection("stream_leases")
    }

    pub(super) async fn create_stream_lease_indexes(&self) -> anyhow::Result<()> {
        let index = |keys: Document, name: &str, ttl: bool| {
            let options = IndexOptions::builder().name(name.to_owned());
            let options = if ttl {
                options.expire_after(std::time::Duration::ZERO).build()
            } else {
                options.build()
            };
            IndexModel::builder().keys(keys).options(options).build()
        };
        self.stream_leases()
            .create_indexes([
                index(doc! { "user_id": 1 }, "stream_leases_by_user", false),
                index(doc! { "lease": 1 }, "stream_leases_by_lease", false),
                index(doc! { "expires_at": 1 }, "stream_leases_ttl", true),
            ])
            .await
            .context("creating MongoDB indexes on stream_leases")?;
        Ok(())
    }
}

#[async_trait]
impl StreamLeaseStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_stream_lease", db.system.name = SYSTEM, db.operation.name = "take_stream_lease"))]
    async fn take_stream_lease(
        &self,
        user: &UserId,
        lease: &str,
        max: u32,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let leases = self.stream_leases();
        let held: Vec<Document> = leases
            .find(doc! { "user_id": user.as_str() })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        let held: HashMap<String, &Document> = held
            .iter()
            .filter_map(|d| Some((d.get_str("_id").ok()?.to_owned(), d)))
            .collect();
        let now_ms = now.timestamp_millis();
        for n in 0..max {
            let id = format!("{}#{n}", user.as_str());
            let taken = match held.get(&id) {
                None => match leases
                    .insert_one(doc! {
                        "_id": &id,
                        "user_id": user.as_str(),
                        "lease": lease,
                        "expires_at": to_bson(until),
                    })
                    .await
                {
                    Ok(_) => true,
                    Err(err) if is_duplicate_key(&err) => false,
                    Err(err) => return Err(map_err(err)),
                },
                Some(slot) => {
                    let lapsed = slot
                        .get_datetime("expires_at")
                        .is_ok_and(|at| at.timestamp_millis() <= now_ms);
                    if !lapsed {
                        continue;
                    }
                    let old = slot.get_str("lease").unwrap_or_default();
                    leases
                        .update_one(
                            doc! { "_id": &id, "lease": old, "expires_at": { "$lte": to_bson(now) } },
                            doc! { "$set": { "lease": lease, "expires_at": to_bson(until) } },
                        )
                        .await
                        .map_err(map_err)?
                        .matched_count
                        == 1
                }
            };
            if taken {
                return Ok(true);
            }
        }
        Ok(false)
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
        let result = self
            .stream_leases()
            .update_many(
                doc! { "lease": { "$in": leases } },
                doc! { "$set": { "expires_at": to_bson(until) } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.matched_count)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store release_stream_lease", db.system.name = SYSTEM, db.operation.name = "release_stream_lease"))]
    async fn release_stream_lease(&self, user: &UserId, lease: &str) -> StoreResult<()> {
        self.stream_leases()
            .delete_one(doc! { "user_id": user.as_str(), "lease": lease })
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_stream_leases", db.system.name = SYSTEM, db.operation.name = "purge_stream_leases"))]
    async fn purge_stream_leases(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        // The TTL index does this on a real server, within a minute; this is for the rest.
        let result = self
            .stream_leases()
            .delete_many(doc! { "expires_at": { "$lt": to_bson(now) } })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count)
    }
}
