//! Quiz generation jobs and quiz activity events. Every change to a job is one atomic update
//! whose filter carries the lease, so a worker that lost its job can change nothing about it.

use mongodb::bson::Bson;

use super::*;

fn active() -> Document {
    doc! { "$in": [JobStatus::Queued.as_str(), JobStatus::Running.as_str()] }
}

/// The job is the worker's, to change: running under its lease.
fn held_by(id: &JobId, worker: &str) -> Document {
    doc! { "_id": id.as_str(), "status": JobStatus::Running.as_str(), "lease_owner": worker }
}

impl MongoStore {
    /// One atomic update of a job, returning it as it is afterwards.
    async fn update_job(
        &self,
        filter: Document,
        update: Document,
    ) -> StoreResult<Option<GenerationJobRecord>> {
        Ok(self
            .jobs
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .map(|JobDoc(j)| j))
    }
}

#[async_trait]
impl JobStore for MongoStore {
    /// MongoDB without a replica set has no multi-document transactions, so the limit is held
    /// by slot documents (`job_slots`, `_id` = owner and slot number): a job is admitted only
    /// if it inserts one of its owner's `max_active` slots, and a unique `_id` lets exactly one
    /// of racing inserts have each. A slot whose job has finished (or is gone) is freed by the
    /// next insert that finds every slot taken, so nothing has to release slots and a crash
    /// leaks none for long.
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_job", db.system.name = SYSTEM, db.operation.name = "insert_job"))]
    async fn insert_job(&self, job: &GenerationJobRecord, max_active: u32) -> StoreResult<bool> {
        let owner = job.owner.as_str();
        let slots = self.db.collection::<Document>("job_slots");
        let slot_id = |n: u32| format!("{owner}#{n}");
        let take = |n: u32| {
            let slots = slots.clone();
            let id = slot_id(n);
            async move {
                match slots
                    .insert_one(doc! {
                        "_id": id,
                        "job_id": job.id.as_str(),
                        "at": to_bson(job.created_at),
                    })
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(err) if is_duplicate_key(&err) => Ok(false),
                    Err(err) => Err(map_err(err)),
                }
            }
        };
        let mut taken = None;
        for n in 0..max_active {
            if take(n).await? {
                taken = Some(n);
                break;
            }
        }
        if taken.is_none() {
            // Every slot is held: free those whose job is no longer active, then try them.
            for n in 0..max_active {
                let Some(slot) = slots
                    .find_one(doc! { "_id": slot_id(n) })
                    .await
                    .map_err(map_err)?
                else {
                    continue;
                };
                let holder = slot.get_str("job_id").unwrap_or_default().to_owned();
                let held = self
                    .jobs
                    .find_one(doc! { "_id": &holder })
                    .await
                    .map_err(map_err)?;
                let stale = match held {
                    Some(JobDoc(held)) => {
                        !matches!(held.status, JobStatus::Queued | JobStatus::Running)
                    }
                    // Its job is inserted just after the slot: only a slot long without one
                    // (a crash in between, or a finished job deleted since) is stale.
                    None => slot.get_datetime("at").is_ok_and(|at| {
                        job.created_at.timestamp_millis() - at.timestamp_millis() > 60_000
                    }),
                };
                if !stale {
                    continue;
                }
                slots
                    .delete_one(doc! { "_id": slot_id(n), "job_id": &holder })
                    .await
                    .map_err(map_err)?;
                if take(n).await? {
                    taken = Some(n);
                    break;
                }
            }
        }
        if taken.is_none() {
            return Ok(false);
        }
        self.jobs
            .insert_one(JobDoc(job.clone()))
            .await
            .map_err(map_err)?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_job", db.system.name = SYSTEM, db.operation.name = "find_job"))]
    async fn find_job(
        &self,
        owner: &UserId,
        id: &JobId,
    ) -> StoreResult<Option<GenerationJobRecord>> {
        Ok(self
            .jobs
            .find_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await
            .map_err(map_err)?
            .map(|JobDoc(j)| j))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store claim_job", db.system.name = SYSTEM, db.operation.name = "claim_job"))]
    async fn claim_job(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        max_attempts: u32,
    ) -> StoreResult<Option<GenerationJobRecord>> {
        Ok(self
            .jobs
            .find_one_and_update(
                doc! { "$or": [
                    { "status": JobStatus::Queued.as_str() },
                    {
                        "status": JobStatus::Running.as_str(),
                        "lease_until": { "$lt": to_bson(now) },
                        "attempts": { "$lt": i64::from(max_attempts) },
                    },
                ] },
                doc! {
                    "$set": {
                        "status": JobStatus::Running.as_str(),
                        "lease_owner": worker,
                        "lease_until": to_bson(lease_until),
                        "updated_at": to_bson(now),
                    },
                    "$inc": { "attempts": 1_i64, "version": 1_i64 },
                },
            )
            .sort(doc! { "created_at": 1, "_id": 1 })
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .map(|JobDoc(j)| j))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store renew_job_lease", db.system.name = SYSTEM, db.operation.name = "renew_job_lease"))]
    async fn renew_job_lease(
        &self,
        id: &JobId,
        worker: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = self
            .jobs
            .update_one(
                held_by(id, worker),
                doc! { "$set": { "lease_until": to_bson(until) } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store record_job_progress", db.system.name = SYSTEM, db.operation.name = "record_job_progress"))]
    async fn record_job_progress(
        &self,
        id: &JobId,
        worker: &str,
        questions_ready: u32,
        progress: f64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<GenerationJobRecord>> {
        self.update_job(
            held_by(id, worker),
            doc! {
                "$max": { "progress": progress, "questions_ready": i64::from(questions_ready) },
                "$set": { "updated_at": to_bson(now) },
                "$inc": { "version": 1_i64 },
            },
        )
        .await
    }

    /// Without transactions: the quiz is inserted first and removed again when the job turns
    /// out to be no longer this worker's, so a quiz exists only for a job that succeeded.
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store finish_job", db.system.name = SYSTEM, db.operation.name = "finish_job"))]
    async fn finish_job(
        &self,
        id: &JobId,
        worker: &str,
        outcome: JobOutcome<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<GenerationJobRecord>> {
        let mut set = doc! {
            "updated_at": to_bson(now),
            "lease_owner": Bson::Null,
            "lease_until": Bson::Null,
        };
        match outcome {
            JobOutcome::Succeeded(quiz) => {
                self.quizzes
                    .insert_one(QuizDoc(quiz.clone()))
                    .await
                    .map_err(map_err)?;
                set.insert("status", JobStatus::Succeeded.as_str());
                set.insert("progress", 1.0);
                set.insert("questions_ready", quiz.questions.len() as i64);
                set.insert("quiz_id", quiz.id.as_str());
            }
            JobOutcome::Failed(error) => {
                set.insert("status", JobStatus::Failed.as_str());
                set.insert("error", to_doc(error)?);
            }
        }
        let finished = self
            .update_job(
                held_by(id, worker),
                doc! { "$set": set, "$inc": { "version": 1_i64 } },
            )
            .await;
        if let (JobOutcome::Succeeded(quiz), Ok(None) | Err(_)) = (outcome, &finished) {
            self.quizzes
                .delete_one(doc! { "_id": quiz.id.as_str() })
                .await
                .map_err(map_err)?;
        }
        finished
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store release_job", db.system.name = SYSTEM, db.operation.name = "release_job"))]
    async fn release_job(&self, id: &JobId, worker: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let released = self
            .update_job(
                held_by(id, worker),
                doc! {
                    "$set": {
                        "status": JobStatus::Queued.as_str(),
                        "lease_owner": Bson::Null,
                        "lease_until": Bson::Null,
                        "updated_at": to_bson(now),
                    },
                    "$inc": { "attempts": -1_i64, "version": 1_i64 },
                },
            )
            .await?;
        Ok(released.is_some())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store cancel_job", db.system.name = SYSTEM, db.operation.name = "cancel_job"))]
    async fn cancel_job(
        &self,
        owner: &UserId,
        id: &JobId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<GenerationJobRecord>> {
        let cancelled = self
            .update_job(
                doc! { "_id": id.as_str(), "owner_id": owner.as_str(), "status": active() },
                doc! {
                    "$set": {
                        "status": JobStatus::Cancelled.as_str(),
                        "lease_owner": Bson::Null,
                        "lease_until": Bson::Null,
                        "updated_at": to_bson(now),
                    },
                    "$inc": { "version": 1_i64 },
                },
            )
            .await?;
        match cancelled {
            Some(job) => Ok(Some(job)),
            None => self.find_job(owner, id).await,
        }
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store fail_abandoned_jobs", db.system.name = SYSTEM, db.operation.name = "fail_abandoned_jobs"))]
    async fn fail_abandoned_jobs(
        &self,
        now: DateTime<Utc>,
        max_attempts: u32,
        error: &JobErrorRecord,
    ) -> StoreResult<Vec<GenerationJobRecord>> {
        let mut failed = Vec::new();
        // One job at a time, each atomically, so each is reported once.
        while let Some(job) = self
            .update_job(
                doc! {
                    "status": JobStatus::Running.as_str(),
                    "lease_until": { "$lt": to_bson(now) },
                    "attempts": { "$gte": i64::from(max_attempts) },
                },
                doc! {
                    "$set": {
                        "status": JobStatus::Failed.as_str(),
                        "error": to_doc(error)?,
                        "lease_owner": Bson::Null,
                        "lease_until": Bson::Null,
                        "updated_at": to_bson(now),
                    },
                    "$inc": { "version": 1_i64 },
                },
            )
            .await?
        {
            failed.push(job);
        }
        Ok(failed)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store jobs_changed_since", db.system.name = SYSTEM, db.operation.name = "jobs_changed_since"))]
    async fn jobs_changed_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<GenerationJobRecord>> {
        let cursor = self
            .jobs
            .find(doc! { "updated_at": { "$gte": to_bson(since) } })
            .sort(doc! { "updated_at": 1, "_id": 1 })
            .limit(limit as i64)
            .await
            .map_err(map_err)?;
        let docs: Vec<JobDoc> = cursor.try_collect().await.map_err(map_err)?;
        Ok(docs.into_iter().map(|JobDoc(j)| j).collect())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_finished_jobs", db.system.name = SYSTEM, db.operation.name = "delete_finished_jobs"))]
    async fn delete_finished_jobs(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let result = self
            .jobs
            .delete_many(doc! {
                "status": { "$nin": [JobStatus::Queued.as_str(), JobStatus::Running.as_str()] },
                "updated_at": { "$lt": to_bson(cutoff) },
            })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count)
    }
}

#[async_trait]
impl EventStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_event", db.system.name = SYSTEM, db.operation.name = "insert_event"))]
    async fn insert_event(&self, event: &QuizEventRecord) -> StoreResult<()> {
        self.events
            .insert_one(EventDoc(event.clone()))
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store events_since", db.system.name = SYSTEM, db.operation.name = "events_since"))]
    async fn events_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<QuizEventRecord>> {
        let cursor = self
            .events
            .find(doc! { "at": { "$gte": to_bson(since) } })
            .sort(doc! { "at": 1, "_id": 1 })
            .limit(limit as i64)
            .await
            .map_err(map_err)?;
        let docs: Vec<EventDoc> = cursor.try_collect().await.map_err(map_err)?;
        Ok(docs.into_iter().map(|EventDoc(e)| e).collect())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_events_before", db.system.name = SYSTEM, db.operation.name = "delete_events_before"))]
    async fn delete_events_before(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let result = self
            .events
            .delete_many(doc! { "at": { "$lt": to_bson(cutoff) } })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count)
    }
}
