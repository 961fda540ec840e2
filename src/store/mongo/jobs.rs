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
    /// MongoDB without a replica set has no multi-document transactions, so the job is inserted
    /// first and then ranked among its owner's active jobs (oldest first): one ranked beyond
    /// the limit takes itself back. Of racing inserts, the later ones lose.
    async fn insert_job(&self, job: &GenerationJobRecord, max_active: u32) -> StoreResult<bool> {
        let owner = job.owner.as_str();
        let active_now = self
            .jobs
            .count_documents(doc! { "owner_id": owner, "status": active() })
            .await
            .map_err(map_err)?;
        if active_now >= u64::from(max_active) {
            return Ok(false);
        }
        self.jobs
            .insert_one(JobDoc(job.clone()))
            .await
            .map_err(map_err)?;
        let created = to_bson(job.created_at);
        let rank = self
            .jobs
            .count_documents(doc! {
                "owner_id": owner,
                "status": active(),
                "$or": [
                    { "created_at": { "$lt": created } },
                    { "created_at": created, "_id": { "$lte": job.id.as_str() } },
                ],
            })
            .await
            .map_err(map_err)?;
        if rank <= u64::from(max_active) {
            return Ok(true);
        }
        let taken_back = self
            .jobs
            .delete_one(doc! { "_id": job.id.as_str(), "status": JobStatus::Queued.as_str() })
            .await
            .map_err(map_err)?;
        // A worker that claimed it in between runs it: then it was admitted after all.
        Ok(taken_back.deleted_count == 0)
    }

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
    async fn insert_event(&self, event: &QuizEventRecord) -> StoreResult<()> {
        self.events
            .insert_one(EventDoc(event.clone()))
            .await
            .map_err(map_err)?;
        Ok(())
    }

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

    async fn delete_events_before(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let result = self
            .events
            .delete_many(doc! { "at": { "$lt": to_bson(cutoff) } })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count)
    }
}
