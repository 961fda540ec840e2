//! What live subscriptions hear: changes to generation jobs and quiz activity events. A change
//! made by this process is passed on at once; changes made by other processes sharing the store
//! are found by polling it (one query per table and `LIVE_POLL_INTERVAL`, however many
//! subscribers there are), so every process tells its subscribers about every change.

use std::{collections::HashMap, sync::Arc, sync::Mutex, time::Duration};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{
    domain::SharedClock,
    domain::{EventId, GenerationJobRecord, JobId, QuizEventRecord},
    store::Store,
};

/// Polls re-read this far back, so a change stored with a slightly earlier time by a process
/// whose clock runs behind is not missed; what was already passed on is recognised.
const OVERLAP: Duration = Duration::from_secs(5);
/// Most rows one poll reads from each table; a poll that reads this many continues from there.
const POLL_LIMIT: usize = 500;
/// Changes waiting for slow subscribers; one further behind re-reads what it missed.
const BUFFER: usize = 1024;

#[derive(Debug, Clone)]
pub enum Change {
    Job(Arc<GenerationJobRecord>),
    Event(Arc<QuizEventRecord>),
}

/// What was passed on already, by id, with the time it was stored (to forget it later).
#[derive(Default)]
struct Seen {
    jobs: HashMap<JobId, (i64, DateTime<Utc>)>,
    events: HashMap<EventId, DateTime<Utc>>,
}

impl Seen {
    /// True when the job's state is news.
    fn job(&mut self, job: &GenerationJobRecord) -> bool {
        match self.jobs.get(&job.id) {
            Some((version, _)) if *version >= job.version => false,
            _ => {
                self.jobs
                    .insert(job.id.clone(), (job.version, job.updated_at));
                true
            }
        }
    }

    fn event(&mut self, event: &QuizEventRecord) -> bool {
        self.events.insert(event.id.clone(), event.at).is_none()
    }

    fn forget_before(&mut self, cutoff: DateTime<Utc>) {
        self.jobs.retain(|_, (_, at)| *at >= cutoff);
        self.events.retain(|_, at| *at >= cutoff);
    }
}

pub struct LiveFeed {
    store: Arc<dyn Store>,
    clock: SharedClock,
    changes: broadcast::Sender<Change>,
    seen: Mutex<Seen>,
    poll_interval: Duration,
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl LiveFeed {
    pub fn new(store: Arc<dyn Store>, clock: SharedClock, poll_interval: Duration) -> Self {
        LiveFeed {
            store,
            clock,
            changes: broadcast::channel(BUFFER).0,
            seen: Mutex::new(Seen::default()),
            poll_interval,
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Passes on a job's new state (stored already).
    pub fn publish_job(&self, job: GenerationJobRecord) {
        if self.seen().job(&job) {
            let _ = self.changes.send(Change::Job(Arc::new(job)));
        }
    }

    /// Passes on an event (stored already).
    pub fn publish_event(&self, event: QuizEventRecord) {
        if self.seen().event(&event) {
            let _ = self.changes.send(Change::Event(Arc::new(event)));
        }
    }

    /// Every change from now on. Subscribe before reading the current state, so that nothing
    /// falls between the two.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// How many are listening on this process (the benchmark reports it).
    pub fn subscribers(&self) -> usize {
        self.changes.receiver_count()
    }

    /// Polls the store for other processes' changes until `stop`; idle while nobody listens.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut since = self.clock.now() - chrono(OVERLAP);
        while stop
            .run_until_cancelled(tokio::time::sleep(self.poll_interval))
            .await
            .is_some()
        {
            let now = self.clock.now();
            if self.changes.receiver_count() == 0 {
                since = now - chrono(OVERLAP);
                continue;
            }
            match self.poll(since).await {
                Ok(Some(resume)) => since = resume,
                Ok(None) => since = now - chrono(OVERLAP),
                Err(err) => tracing::warn!(error = %err, "could not poll the store for changes"),
            }
            self.seen().forget_before(since - chrono(OVERLAP));
        }
    }

    /// One poll; `Some(time)` to continue from when it read a full batch.
    async fn poll(&self, since: DateTime<Utc>) -> crate::store::StoreResult<Option<DateTime<Utc>>> {
        let (jobs, events) = tokio::try_join!(
            self.store.jobs_changed_since(since, POLL_LIMIT),
            self.store.events_since(since, POLL_LIMIT),
        )?;
        let mut resume = None::<DateTime<Utc>>;
        if jobs.len() == POLL_LIMIT {
            resume = jobs.last().map(|j| j.updated_at);
        }
        if events.len() == POLL_LIMIT {
            let at = events.last().map(|e| e.at);
            resume = resume.min(at).or(at);
        }
        for job in jobs {
            self.publish_job(job);
        }
        for event in events {
            self.publish_event(event);
        }
        Ok(resume)
    }
}
