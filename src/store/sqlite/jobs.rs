//! Quiz generation jobs and quiz activity events. A job's claim, renewal and outcome are single
//! statements (or one write transaction) whose `WHERE` carries the lease, so a worker that lost
//! its job can change nothing about it.

use super::*;

const JOB_COLUMNS: &str = "id, owner_id, status, input, progress, questions_ready, quiz_id, \
    error_code, error_message, created_at, updated_at, version, lease_owner, lease_until, attempts";

/// Queued or running: what counts against a user's limit.
const ACTIVE: &str = "status IN ('QUEUED', 'RUNNING')";
/// The row is the worker's, to change: running under its lease (the worker is parameter `n`).
fn held_by(n: usize) -> String {
    format!("status = 'RUNNING' AND lease_owner = ?{n}")
}

fn corrupt(idx: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, what.into())
}

fn job_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<GenerationJobRecord> {
    let status: String = row.get(2)?;
    let input: String = row.get(3)?;
    let error = match (
        row.get::<_, Option<String>>(7)?,
        row.get::<_, Option<String>>(8)?,
    ) {
        (Some(code), Some(message)) => Some(JobErrorRecord { code, message }),
        _ => None,
    };
    Ok(GenerationJobRecord {
        id: id_at(row, 0)?,
        owner: id_at(row, 1)?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| corrupt(2, format!("unknown job status {status:?}")))?,
        input: serde_json::from_str(&input).map_err(|e| corrupt(3, e.to_string()))?,
        progress: row.get(4)?,
        questions_ready: row.get(5)?,
        quiz_id: row
            .get::<_, Option<String>>(6)?
            .map(QuizId::try_from)
            .transpose()
            .map_err(|e| corrupt(6, e.to_string()))?,
        error,
        created_at: time_at(row, 9)?,
        updated_at: time_at(row, 10)?,
        version: row.get(11)?,
        lease_owner: row.get(12)?,
        lease_until: row
            .get::<_, Option<i64>>(13)?
            .map(|ms| from_millis(13, ms))
            .transpose()?,
        attempts: row.get(14)?,
    })
}

fn event_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<QuizEventRecord> {
    let kind: String = row.get(2)?;
    Ok(QuizEventRecord {
        id: id_at(row, 0)?,
        owner: id_at(row, 1)?,
        kind: QuizEventKind::parse(&kind)
            .ok_or_else(|| corrupt(2, format!("unknown event kind {kind:?}")))?,
        quiz_id: id_at(row, 3)?,
        result_id: row
            .get::<_, Option<String>>(4)?
            .map(ResultId::try_from)
            .transpose()
            .map_err(|e| corrupt(4, e.to_string()))?,
        at: time_at(row, 5)?,
    })
}

/// One row by id, as it is now.
fn job_row(c: &Connection, id: &str) -> rusqlite::Result<Option<GenerationJobRecord>> {
    c.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM generation_jobs WHERE id = ?1"
    ))?
    .query_row([id], job_from_row)
    .optional()
}

#[async_trait]
impl JobStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_job", db.system.name = SYSTEM, db.operation.name = "insert_job"))]
    async fn insert_job(&self, job: &GenerationJobRecord, max_active: u32) -> StoreResult<bool> {
        let j = job.clone();
        self.run(move |c| {
            // One write transaction: the count and the insert cannot interleave with another's.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let active: i64 = tx
                .prepare_cached(&format!(
                    "SELECT COUNT(*) FROM generation_jobs WHERE owner_id = ?1 AND {ACTIVE}"
                ))?
                .query_row([j.owner.as_str()], |r| r.get(0))?;
            if active >= i64::from(max_active) {
                return Ok(false);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO generation_jobs ({JOB_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
            ))?
            .execute(params![
                j.id.as_str(),
                j.owner.as_str(),
                j.status.as_str(),
                to_json(&j.input)?,
                j.progress,
                j.questions_ready,
                j.quiz_id.as_ref().map(QuizId::as_str),
                j.error.as_ref().map(|e| e.code.as_str()),
                j.error.as_ref().map(|e| e.message.as_str()),
                millis(j.created_at),
                millis(j.updated_at),
                j.version,
                j.lease_owner,
                j.lease_until.map(millis),
                j.attempts,
            ])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_job", db.system.name = SYSTEM, db.operation.name = "find_job"))]
    async fn find_job(
        &self,
        owner: &UserId,
        id: &JobId,
    ) -> StoreResult<Option<GenerationJobRecord>> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM generation_jobs WHERE id = ?1 AND owner_id = ?2"
            ))?
            .query_row([id, owner], job_from_row)
            .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store claim_job", db.system.name = SYSTEM, db.operation.name = "claim_job"))]
    async fn claim_job(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        max_attempts: u32,
    ) -> StoreResult<Option<GenerationJobRecord>> {
        let worker = worker.to_owned();
        self.run(move |c| {
            // One statement: SQLite runs it under the write lock, so the pick and the update
            // are atomic.
            c.prepare_cached(&format!(
                "UPDATE generation_jobs SET status = 'RUNNING', lease_owner = ?1, \
                 lease_until = ?2, attempts = attempts + 1, version = version + 1, updated_at = ?3 \
                 WHERE id = (SELECT id FROM generation_jobs WHERE status = 'QUEUED' \
                    OR (status = 'RUNNING' AND lease_until < ?3 AND attempts < ?4) \
                    ORDER BY created_at, id LIMIT 1) \
                 RETURNING {JOB_COLUMNS}"
            ))?
            .query_row(
                params![worker, millis(lease_until), millis(now), max_attempts],
                job_from_row,
            )
            .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store renew_job_lease", db.system.name = SYSTEM, db.operation.name = "renew_job_lease"))]
    async fn renew_job_lease(
        &self,
        id: &JobId,
        worker: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (id, worker) = (id.to_string(), worker.to_owned());
        self.run(move |c| {
            let n = c
                .prepare_cached(&format!(
                    "UPDATE generation_jobs SET lease_until = ?1 WHERE id = ?2 AND {}",
                    held_by(3)
                ))?
                .execute(params![millis(until), id, worker])?;
            Ok(n == 1)
        })
        .await
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
        let (id, worker) = (id.to_string(), worker.to_owned());
        self.run(move |c| {
            c.prepare_cached(&format!(
                "UPDATE generation_jobs SET progress = MAX(progress, ?1), \
                 questions_ready = MAX(questions_ready, ?2), version = version + 1, \
                 updated_at = ?3 WHERE id = ?4 AND {} RETURNING {JOB_COLUMNS}",
                held_by(5)
            ))?
            .query_row(
                params![progress, questions_ready, millis(now), id, worker],
                job_from_row,
            )
            .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store finish_job", db.system.name = SYSTEM, db.operation.name = "finish_job"))]
    async fn finish_job(
        &self,
        id: &JobId,
        worker: &str,
        outcome: JobOutcome<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<GenerationJobRecord>> {
        let (id, worker) = (id.to_string(), worker.to_owned());
        let (quiz, error) = match outcome {
            JobOutcome::Succeeded(quiz) => (Some(quiz.clone()), None),
            JobOutcome::Failed(error) => (None, Some(error.clone())),
        };
        self.run(move |c| {
            // The quiz and the job's new state commit together or not at all.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let finished = tx
                .prepare_cached(&format!(
                    "UPDATE generation_jobs SET status = ?1, progress = \
                     CASE WHEN ?1 = 'SUCCEEDED' THEN 1.0 ELSE progress END, \
                     questions_ready = MAX(questions_ready, ?8), quiz_id = ?2, \
                     error_code = ?3, error_message = ?4, version = version + 1, updated_at = ?5, \
                     lease_owner = NULL, lease_until = NULL \
                     WHERE id = ?6 AND {} RETURNING {JOB_COLUMNS}",
                    held_by(7)
                ))?
                .query_row(
                    params![
                        if quiz.is_some() {
                            JobStatus::Succeeded
                        } else {
                            JobStatus::Failed
                        }
                        .as_str(),
                        quiz.as_ref().map(|q| q.id.as_str()),
                        error.as_ref().map(|e| e.code.as_str()),
                        error.as_ref().map(|e| e.message.as_str()),
                        millis(now),
                        id,
                        worker,
                        quiz.as_ref().map_or(0, |q| q.questions.len() as i64),
                    ],
                    job_from_row,
                )
                .optional()?;
            if finished.is_some() {
                if let Some(quiz) = &quiz {
                    super::quizzes::insert_quiz_row(&tx, quiz)?;
                }
                tx.commit()?;
            }
            Ok(finished)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store release_job", db.system.name = SYSTEM, db.operation.name = "release_job"))]
    async fn release_job(&self, id: &JobId, worker: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let (id, worker) = (id.to_string(), worker.to_owned());
        self.run(move |c| {
            let n = c
                .prepare_cached(&format!(
                    "UPDATE generation_jobs SET status = 'QUEUED', lease_owner = NULL, \
                     lease_until = NULL, attempts = MAX(attempts - 1, 0), version = version + 1, \
                     updated_at = ?1 WHERE id = ?2 AND {}",
                    held_by(3)
                ))?
                .execute(params![millis(now), id, worker])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store cancel_job", db.system.name = SYSTEM, db.operation.name = "cancel_job"))]
    async fn cancel_job(
        &self,
        owner: &UserId,
        id: &JobId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<GenerationJobRecord>> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.run(move |c| {
            c.prepare_cached(&format!(
                "UPDATE generation_jobs SET status = 'CANCELLED', lease_owner = NULL, \
                 lease_until = NULL, version = version + 1, updated_at = ?1 \
                 WHERE id = ?2 AND owner_id = ?3 AND {ACTIVE}"
            ))?
            .execute(params![millis(now), id, owner])?;
            Ok(job_row(c, &id)?.filter(|j| j.owner.as_str() == owner))
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store fail_abandoned_jobs", db.system.name = SYSTEM, db.operation.name = "fail_abandoned_jobs"))]
    async fn fail_abandoned_jobs(
        &self,
        now: DateTime<Utc>,
        max_attempts: u32,
        error: &JobErrorRecord,
    ) -> StoreResult<Vec<GenerationJobRecord>> {
        let error = error.clone();
        self.run(move |c| {
            c.prepare_cached(&format!(
                "UPDATE generation_jobs SET status = 'FAILED', error_code = ?1, error_message = ?2, \
                 lease_owner = NULL, lease_until = NULL, version = version + 1, updated_at = ?3 \
                 WHERE status = 'RUNNING' AND lease_until < ?3 AND attempts >= ?4 \
                 RETURNING {JOB_COLUMNS}"
            ))?
            .query_map(
                params![error.code, error.message, millis(now), max_attempts],
                job_from_row,
            )?
            .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store jobs_changed_since", db.system.name = SYSTEM, db.operation.name = "jobs_changed_since"))]
    async fn jobs_changed_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<GenerationJobRecord>> {
        let limit = limit_clause(limit);
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM generation_jobs WHERE updated_at >= ?1 \
                 ORDER BY updated_at, id{limit}"
            ))?
            .query_map(params![millis(since)], job_from_row)?
            .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_finished_jobs", db.system.name = SYSTEM, db.operation.name = "delete_finished_jobs"))]
    async fn delete_finished_jobs(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached(&format!(
                    "DELETE FROM generation_jobs WHERE NOT ({ACTIVE}) AND updated_at < ?1"
                ))?
                .execute([millis(cutoff)])?;
            Ok(n as u64)
        })
        .await
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_event", db.system.name = SYSTEM, db.operation.name = "insert_event"))]
    async fn insert_event(&self, event: &QuizEventRecord) -> StoreResult<()> {
        let e = event.clone();
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO quiz_events (id, owner_id, kind, quiz_id, result_id, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                e.id.as_str(),
                e.owner.as_str(),
                e.kind.as_str(),
                e.quiz_id.as_str(),
                e.result_id.as_ref().map(ResultId::as_str),
                millis(e.at),
            ])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store events_since", db.system.name = SYSTEM, db.operation.name = "events_since"))]
    async fn events_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<QuizEventRecord>> {
        let limit = limit_clause(limit);
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT id, owner_id, kind, quiz_id, result_id, at FROM quiz_events \
                 WHERE at >= ?1 ORDER BY at, id{limit}"
            ))?
            .query_map(params![millis(since)], event_from_row)?
            .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_events_before", db.system.name = SYSTEM, db.operation.name = "delete_events_before"))]
    async fn delete_events_before(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM quiz_events WHERE at < ?1")?
                .execute([millis(cutoff)])?;
            Ok(n as u64)
        })
        .await
    }
}
