//! Quiz generation as stored jobs: `startQuizGeneration` queues one and answers at once; a
//! bounded pool of workers on every server process claims queued jobs from the store, holds a
//! lease on each while it works (renewed by a heartbeat), and stores the quiz together with the
//! job's outcome. A job whose process died is taken over once its lease runs out, or fails after
//! `MAX_ATTEMPTS` takeovers, so none stays running forever; a process that stops gives its jobs
//! back to the queue. Progress is stored as questions complete and never goes back.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::{Draft, GenerateInput, QuizService, QuizSpec, live::Change};
use crate::{
    domain::ClientInfo,
    domain::{AppError, AppResult, ErrorCode},
    domain::{
        GenerationJobRecord, JobErrorRecord, JobId, JobInput, JobOutcome, JobStatus, QuizEventKind,
        QuizId, QuizRecord, UserId,
    },
    ratelimit::Bucket,
};

/// A job is taken up at most this often; after that a lease running out fails it.
pub const MAX_ATTEMPTS: u32 = 3;
/// How long ended jobs stay readable (`quizGenerationJob`), and events for late pollers.
const JOB_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
const EVENT_RETENTION: Duration = Duration::from_secs(3600);
const PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// A full quiz is only 90 % of the way: checking and storing it is the rest.
const GENERATED_SHARE: f64 = 0.9;
/// How long a refused `startQuizGeneration` should wait before trying again.
const RETRY_AFTER_SECS: u64 = 5;

/// `GENERATION_*`, `LIVE_POLL_INTERVAL`, `QUIZ_CACHE_MIB` and `LLM_OFFLINE_FALLBACK`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerationSettings {
    /// Quiz generation workers on this process (default: the number of CPU cores).
    #[arg(long, env = "GENERATION_CONCURRENCY", value_parser = parse_concurrency)]
    pub generation_concurrency: Option<usize>,
    /// Queued or running generation jobs one user may have; more get RATE_LIMITED.
    #[arg(long, env = "GENERATION_MAX_ACTIVE_PER_USER", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub generation_max_active_per_user: u32,
    /// How long a worker holds a job without renewing its lease; a job whose process died is
    /// taken over this long after its last renewal (renewed every third of it).
    #[arg(long, env = "GENERATION_LEASE", default_value = "30s", value_parser = crate::config::parse::parse_duration)]
    pub generation_lease: Duration,
    /// How often each process looks in the store for queued jobs and for changes made by other
    /// processes (what subscribers hear from them comes this late at most).
    #[arg(long, env = "LIVE_POLL_INTERVAL", default_value = "500ms", value_parser = crate::config::parse::parse_duration)]
    pub live_poll_interval: Duration,
    /// Memory, in MiB, for quizzes kept decoded for the pages that list them again (0 keeps
    /// none). A stored quiz never changes, so nothing kept goes stale.
    #[arg(long, env = "QUIZ_CACHE_MIB", default_value_t = 16, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub quiz_cache_mib: u64,
    /// When the LLM gives nothing usable for a quiz asked from study text, build it with the
    /// offline generator from the same text (`Quiz.source: OFFLINE`) instead of failing with
    /// LLM_UNAVAILABLE. Off: a configured model's failure is the caller's to see.
    #[arg(long, env = "LLM_OFFLINE_FALLBACK", default_value_t = false, action = clap::ArgAction::Set)]
    pub llm_offline_fallback: bool,
}

fn parse_concurrency(s: &str) -> Result<usize, String> {
    crate::config::parse::parse_count(s, 1..=256)
}

impl GenerationSettings {
    pub fn concurrency(&self) -> usize {
        self.generation_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        })
    }
}

impl Default for GenerationSettings {
    fn default() -> Self {
        crate::config::parse::defaults()
    }
}

fn at(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

impl From<&QuizSpec> for JobInput {
    fn from(spec: &QuizSpec) -> Self {
        JobInput {
            topic: spec.topic.clone(),
            source_text: spec.source_text.clone(),
            question_count: spec.question_count as u32,
            choice_count: spec.choice_count as u32,
            difficulty: spec.difficulty,
            language: spec.language.clone(),
            origin: spec.origin.clone(),
            answer_type: spec.answer_type,
        }
    }
}

impl From<&JobInput> for QuizSpec {
    fn from(input: &JobInput) -> Self {
        QuizSpec {
            topic: input.topic.clone(),
            source_text: input.source_text.clone(),
            question_count: input.question_count as usize,
            choice_count: input.choice_count as usize,
            difficulty: input.difficulty,
            language: input.language.clone(),
            origin: input.origin.clone(),
            answer_type: input.answer_type,
        }
    }
}

/// How a worker stopped working on a job.
enum Ended {
    Generated(AppResult<Draft>),
    /// Cancelled, or taken over by another worker: the job is no longer this worker's.
    NotOurs,
    /// This process is stopping.
    Stopping,
}

pub(super) fn progress_of(ready: usize, total: usize) -> f64 {
    if total == 0 {
        return 0.0;
    }
    (ready.min(total) as f64 / total as f64) * GENERATED_SHARE
}

impl QuizService {
    /// Queues a generation job for `owner`; checks the input and the limits first, so a bad
    /// request fails here instead of in the job.
    pub async fn start_generation(
        &self,
        owner: &UserId,
        input: GenerateInput,
        client: &ClientInfo,
    ) -> AppResult<GenerationJobRecord> {
        let spec = input.validate()?;
        if self.llm.is_none() {
            super::offline_text(&spec)?;
        }
        self.throttle
            .check(Bucket::GenerateUser, owner.as_str(), Some(owner), client)
            .await?;
        let job = GenerationJobRecord::queued(owner.clone(), (&spec).into(), self.clock.now());
        let max_active = self.generation.generation_max_active_per_user;
        if !self.store.insert_job(&job, max_active).await? {
            tracing::info!(target: "audit", event = "rate_limited", bucket = "generation_jobs", user_id = %owner, client_ip = %client.key());
            return Err(AppError::RateLimited {
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        tracing::info!(user_id = %owner, job_id = %job.id, "quiz generation queued");
        self.feed.publish_job(job.clone());
        self.wake_workers.notify_one();
        Ok(job)
    }

    /// Cancels a queued or running job (an ended one is returned as it is). A worker running
    /// it stops at once on this process, and within `LIVE_POLL_INTERVAL` on another.
    pub async fn cancel_generation(
        &self,
        owner: &UserId,
        id: &str,
    ) -> AppResult<GenerationJobRecord> {
        let id = JobId::parse(id).ok_or(AppError::NotFound)?;
        let job = self
            .store
            .cancel_job(owner, &id, self.clock.now())
            .await?
            .ok_or(AppError::NotFound)?;
        if let Some(running) = self.running().get(&id) {
            running.cancel();
        }
        self.feed.publish_job(job.clone());
        Ok(job)
    }

    /// One of `owner`'s jobs; `None` when absent or another user's.
    pub async fn generation_job(
        &self,
        owner: &UserId,
        id: &str,
    ) -> AppResult<Option<GenerationJobRecord>> {
        let Some(id) = JobId::parse(id) else {
            return Ok(None);
        };
        Ok(self.store.find_job(owner, &id).await?)
    }

    /// The job as it is, then each change, ending after it ended. `NOT_FOUND` for a job that
    /// is absent or another user's.
    pub async fn watch_generation(
        &self,
        owner: &UserId,
        id: &str,
    ) -> AppResult<impl Stream<Item = GenerationJobRecord> + Send + use<>> {
        let id = JobId::parse(id).ok_or(AppError::NotFound)?;
        // Listening starts before the read, so no change can fall between the two.
        let changes = self.feed.subscribe();
        let job = self
            .store
            .find_job(owner, &id)
            .await?
            .ok_or(AppError::NotFound)?;
        struct Watch {
            store: Arc<dyn crate::store::Store>,
            changes: broadcast::Receiver<Change>,
            first: Option<GenerationJobRecord>,
            last: GenerationJobRecord,
        }
        let watch = Watch {
            store: self.store.clone(),
            changes,
            first: Some(job.clone()),
            last: job,
        };
        Ok(futures_util::stream::unfold(watch, |mut w| async move {
            if let Some(first) = w.first.take() {
                return Some((first, w));
            }
            if w.last.status.is_terminal() {
                return None;
            }
            loop {
                let newer = match w.changes.recv().await {
                    Ok(Change::Job(job)) if job.id == w.last.id => (*job).clone(),
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        match w.store.find_job(&w.last.owner, &w.last.id).await {
                            Ok(Some(job)) => job,
                            Ok(None) => return None,
                            Err(err) => {
                                tracing::warn!(error = %err.chain(), "could not re-read a watched job");
                                continue;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                // Changes can arrive twice or out of order (here and by polling): only newer
                // states count, so progress never goes back.
                if newer.version > w.last.version {
                    w.last = newer.clone();
                    return Some((newer, w));
                }
            }
        }))
    }

    /// `owner`'s quiz activity from now on, from any device or server process.
    pub fn quiz_events(
        &self,
        owner: &UserId,
    ) -> impl Stream<Item = crate::domain::QuizEventRecord> + Send + use<> {
        let changes = self.feed.subscribe();
        let owner = owner.clone();
        futures_util::stream::unfold((changes, owner), |(mut changes, owner)| async move {
            loop {
                match changes.recv().await {
                    Ok(Change::Event(event)) if event.owner == owner => {
                        return Some(((*event).clone(), (changes, owner)));
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a quizEvents subscriber fell behind");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }

    /// Stores an activity event and passes it on; a failure only costs live subscribers the
    /// news, so it is logged, not returned.
    pub(super) async fn record_event(
        &self,
        owner: &UserId,
        kind: QuizEventKind,
        quiz_id: &QuizId,
        result_id: Option<&crate::domain::ResultId>,
    ) {
        let event = crate::domain::QuizEventRecord::new(
            owner.clone(),
            kind,
            quiz_id.clone(),
            result_id.cloned(),
            self.clock.now(),
        );
        match self.store.insert_event(&event).await {
            Ok(()) => self.feed.publish_event(event),
            Err(err) => {
                tracing::warn!(error = %err.chain(), kind = kind.as_str(), "could not store a quiz event")
            }
        }
    }

    fn running(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<JobId, CancellationToken>> {
        self.running_jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live feed's poller and the worker pool, until `stop`; returns once every job this
    /// process was running has been finished or given back.
    pub async fn run_background(self: Arc<Self>, stop: CancellationToken) {
        let feed = tokio::spawn(self.feed.clone().run(stop.clone()));
        self.run_workers(stop).await;
        if let Err(err) = feed.await {
            tracing::error!(error = %err, "the live feed failed");
        }
    }

    async fn run_workers(self: &Arc<Self>, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.generation.concurrency()));
        let mut workers = tokio::task::JoinSet::new();
        let (mut last_check, mut last_purge) = (None::<DateTime<Utc>>, None::<DateTime<Utc>>);
        loop {
            while workers.try_join_next().is_some() {}
            self.housekeeping(&mut last_check, &mut last_purge).await;
            let Some(Ok(slot)) = stop
                .run_until_cancelled(slots.clone().acquire_owned())
                .await
            else {
                break;
            };
            let now = self.clock.now();
            let lease = at(now, self.generation.generation_lease);
            match self
                .store
                .claim_job(&self.worker_id, now, lease, MAX_ATTEMPTS)
                .await
            {
                Ok(Some(job)) => {
                    tracing::info!(job_id = %job.id, attempt = job.attempts, "quiz generation started");
                    self.feed.publish_job(job.clone());
                    workers.spawn(self.clone().run_job(job, slot, stop.clone()));
                    continue;
                }
                Ok(None) => drop(slot),
                Err(err) => {
                    drop(slot);
                    tracing::warn!(error = %err.chain(), "could not look for queued quiz generations");
                }
            }
            let pause = async {
                tokio::select! {
                    _ = self.wake_workers.notified() => {}
                    _ = tokio::time::sleep(self.generation.live_poll_interval) => {}
                }
            };
            if stop.run_until_cancelled(pause).await.is_none() {
                break;
            }
        }
        // Workers see `stop` too: each gives its job back to the queue.
        while workers.join_next().await.is_some() {}
    }

    /// Fails jobs whose process died too often (a lease runs out no sooner than a third of it
    /// after the last check), and now and then deletes old jobs and events.
    async fn housekeeping(
        &self,
        last_check: &mut Option<DateTime<Utc>>,
        last_purge: &mut Option<DateTime<Utc>>,
    ) {
        let now = self.clock.now();
        if last_check.is_some_and(|t| now < at(t, self.generation.generation_lease / 3)) {
            return;
        }
        *last_check = Some(now);
        let error = JobErrorRecord {
            code: ErrorCode::Internal.as_str().into(),
            message: "The quiz generation was interrupted too often; start it again.".into(),
        };
        match self
            .store
            .fail_abandoned_jobs(now, MAX_ATTEMPTS, &error)
            .await
        {
            Ok(failed) => {
                for job in failed {
                    tracing::warn!(job_id = %job.id, "quiz generation failed: its workers kept stopping");
                    self.feed.publish_job(job);
                }
            }
            Err(err) => tracing::warn!(error = %err.chain(), "could not check for abandoned jobs"),
        }
        if last_purge.is_some_and(|t| now < at(t, PURGE_INTERVAL)) {
            return;
        }
        *last_purge = Some(now);
        let ago = |d: Duration| now - chrono::Duration::from_std(d).unwrap_or_default();
        if let Err(err) = self.store.delete_finished_jobs(ago(JOB_RETENTION)).await {
            tracing::warn!(error = %err.chain(), "could not delete old generation jobs");
        }
        if let Err(err) = self.store.delete_events_before(ago(EVENT_RETENTION)).await {
            tracing::warn!(error = %err, "could not delete old quiz events");
        }
    }

    async fn run_job(
        self: Arc<Self>,
        job: GenerationJobRecord,
        _slot: OwnedSemaphorePermit,
        stop: CancellationToken,
    ) {
        let cancel = CancellationToken::new();
        self.running().insert(job.id.clone(), cancel.clone());
        let ended = self.work_on(&job, &cancel, &stop).await;
        self.running().remove(&job.id);
        let now = self.clock.now();
        let outcome = match ended {
            Ended::Generated(Ok(draft)) => {
                let quiz = self.quiz_from(&job, draft);
                let finished = self
                    .store
                    .finish_job(&job.id, &self.worker_id, JobOutcome::Succeeded(&quiz), now)
                    .await;
                if let Ok(Some(_)) = &finished {
                    tracing::info!(user_id = %job.owner, job_id = %job.id, quiz_id = %quiz.id, "quiz generated");
                    self.record_event(&job.owner, QuizEventKind::QuizCreated, &quiz.id, None)
                        .await;
                }
                finished
            }
            Ended::Generated(Err(err)) => {
                let code = err.code();
                if let AppError::Internal(cause) = &err {
                    // The job keeps only the public message; the cause goes to the log.
                    tracing::error!(job_id = %job.id, error = %format!("{cause:#}"), "internal error in a generation job");
                }
                // Stored once for whoever reads the job: in the language the quiz was asked in.
                let locale =
                    crate::domain::Locale::from_tag(&job.input.language).unwrap_or_default();
                let error = JobErrorRecord {
                    code: code.as_str().into(),
                    message: crate::i18n::render(locale, &err.message()),
                };
                tracing::info!(job_id = %job.id, code = code.as_str(), "quiz generation failed");
                self.store
                    .finish_job(&job.id, &self.worker_id, JobOutcome::Failed(&error), now)
                    .await
            }
            Ended::NotOurs => Ok(None),
            Ended::Stopping => {
                match self.store.release_job(&job.id, &self.worker_id, now).await {
                    Ok(true) => {
                        tracing::info!(job_id = %job.id, "quiz generation given back to the queue")
                    }
                    Ok(false) => {}
                    // The lease runs out and another process takes the job over.
                    Err(err) => {
                        tracing::warn!(job_id = %job.id, error = %err, "could not give a job back")
                    }
                }
                Ok(self
                    .store
                    .find_job(&job.owner, &job.id)
                    .await
                    .ok()
                    .flatten())
            }
        };
        match outcome {
            Ok(Some(job)) => self.feed.publish_job(job),
            Ok(None) => {}
            // The lease runs out and the job is tried again (or fails).
            Err(err) => {
                tracing::error!(job_id = %job.id, error = %err, "could not store a job's outcome")
            }
        }
    }

    /// Generates the job's quiz while renewing its lease and recording progress; stops as soon
    /// as the job is cancelled, taken over, or the process stops. Dropping the generation
    /// future closes the LLM request.
    async fn work_on(
        &self,
        job: &GenerationJobRecord,
        cancel: &CancellationToken,
        stop: &CancellationToken,
    ) -> Ended {
        let spec = QuizSpec::from(&job.input);
        let (ready_tx, mut ready) = watch::channel(0usize);
        let mut changes = self.feed.subscribe();
        let work = self.draft_for_job(&spec, ready_tx);
        tokio::pin!(work);
        let renew_every = self.generation.generation_lease / 3;
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + renew_every, renew_every);
        let mut reported = job.questions_ready as usize;
        loop {
            tokio::select! {
                draft = &mut work => return Ended::Generated(draft),
                () = cancel.cancelled() => return Ended::NotOurs,
                () = stop.cancelled() => return Ended::Stopping,
                Ok(()) = ready.changed() => {
                    let now_ready = *ready.borrow_and_update();
                    if now_ready <= reported {
                        continue;
                    }
                    reported = now_ready;
                    let progress = progress_of(now_ready, spec.question_count);
                    match self
                        .store
                        .record_job_progress(&job.id, &self.worker_id, now_ready as u32, progress, self.clock.now())
                        .await
                    {
                        Ok(Some(updated)) => self.feed.publish_job(updated),
                        Ok(None) => return Ended::NotOurs,
                        Err(err) => tracing::warn!(job_id = %job.id, error = %err, "could not record progress"),
                    }
                }
                _ = heartbeat.tick() => {
                    let until = at(self.clock.now(), self.generation.generation_lease);
                    match self.store.renew_job_lease(&job.id, &self.worker_id, until).await {
                        Ok(true) => {}
                        Ok(false) => return Ended::NotOurs,
                        Err(err) => tracing::warn!(job_id = %job.id, error = %err, "could not renew a lease"),
                    }
                }
                change = changes.recv() => {
                    // Cancelled on another process: its poller's news arrives here.
                    if let Ok(Change::Job(changed)) = change
                        && changed.id == job.id
                        && changed.status == JobStatus::Cancelled
                    {
                        return Ended::NotOurs;
                    }
                }
            }
        }
    }

    fn quiz_from(&self, job: &GenerationJobRecord, draft: Draft) -> QuizRecord {
        QuizRecord {
            id: QuizId::new_random(),
            owner: job.owner.clone(),
            title: draft.title,
            description: draft.description,
            topic: job.input.topic.clone(),
            difficulty: job.input.difficulty,
            source: draft.source,
            language: job.input.language.clone(),
            questions: draft.questions,
            created_at: self.clock.now(),
        }
    }
}
