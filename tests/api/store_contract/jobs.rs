//! Generation jobs (claimed under a lease, never run by two workers, never stuck running) and
//! quiz events, on every store.

use chrono::{DateTime, Duration, Utc};
use quiz_llm::domain::{
    AnswerType, Difficulty, GenerationJobRecord, JobErrorRecord, JobInput, JobOutcome, JobStatus,
    QuizEventKind, QuizEventRecord, QuizId, ResultId, TextOrigin, UserId,
};

use super::{Backend, open, quiz};

fn input() -> JobInput {
    JobInput {
        topic: "Apollo".into(),
        source_text: Some("Apollo 11 landed in 1969.".into()),
        question_count: 4,
        choice_count: 3,
        difficulty: Difficulty::Easy,
        language: "en".into(),
        origin: TextOrigin {
            skipped: 2,
            page_starts: vec![0, 40],
        },
        answer_type: Some(AnswerType::ShortAnswer),
    }
}

fn job(owner: &UserId, offset_ms: i64) -> GenerationJobRecord {
    GenerationJobRecord::queued(
        owner.clone(),
        input(),
        crate::common::now() + Duration::milliseconds(offset_ms),
    )
}

fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

fn failure() -> JobErrorRecord {
    JobErrorRecord {
        code: "LLM_UNAVAILABLE".into(),
        message: "unavailable".into(),
    }
}

on_every_store!(
    jobs_round_trip_and_are_owned,
    active_jobs_are_limited_per_owner,
    jobs_are_claimed_oldest_first_under_a_lease,
    racing_workers_never_share_a_job,
    progress_never_goes_back,
    a_lost_lease_changes_nothing,
    success_stores_the_quiz_with_the_job,
    cancelled_jobs_stay_cancelled,
    released_jobs_are_queued_again,
    abandoned_jobs_fail_after_their_attempts,
    changes_and_events_are_read_in_order,
);

async fn jobs_round_trip_and_are_owned(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let (owner, other) = (UserId::new_random(), UserId::new_random());
    let j = job(&owner, 0);
    assert!(s.insert_job(&j, 3).await.unwrap());
    assert_eq!(s.find_job(&owner, &j.id).await.unwrap(), Some(j.clone()));
    assert_eq!(s.find_job(&other, &j.id).await.unwrap(), None);
    assert_eq!(
        s.cancel_job(&other, &j.id, crate::common::now())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.find_job(&owner, &j.id).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
}

async fn active_jobs_are_limited_per_owner(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = f.store.clone();
    let (owner, other) = (UserId::new_random(), UserId::new_random());
    // Racing inserts: never more than the limit.
    let tries: Vec<_> = (0..6)
        .map(|i| {
            let (s, j) = (s.clone(), job(&owner, i));
            tokio::spawn(async move { s.insert_job(&j, 3).await.unwrap() })
        })
        .collect();
    let mut admitted = 0;
    for t in tries {
        admitted += usize::from(t.await.unwrap());
    }
    assert!((1..=3).contains(&admitted), "{admitted} admitted");
    let now = crate::common::now();
    while admitted < 3 {
        assert!(s.insert_job(&job(&owner, 10), 3).await.unwrap());
        admitted += 1;
    }
    assert!(!s.insert_job(&job(&owner, 20), 3).await.unwrap());
    assert!(s.insert_job(&job(&other, 0), 3).await.unwrap(), "per owner");
    // An ended job no longer counts.
    let claimed = s.claim_job("w", now, now + secs(30), 3).await.unwrap();
    let claimed = claimed.expect("a queued job");
    let mine = claimed.owner == owner;
    s.finish_job(&claimed.id, "w", JobOutcome::Failed(&failure()), now)
        .await
        .unwrap()
        .unwrap();
    let freed = if mine { &owner } else { &other };
    assert!(s.insert_job(&job(freed, 30), 3).await.unwrap());
}

async fn jobs_are_claimed_oldest_first_under_a_lease(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let owner = UserId::new_random();
    let (first, second) = (job(&owner, -2000), job(&owner, -1000));
    s.insert_job(&second, 3).await.unwrap();
    s.insert_job(&first, 3).await.unwrap();
    let now = crate::common::now();
    let a = s
        .claim_job("a", now, now + secs(30), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.id, first.id);
    assert_eq!(a.status, JobStatus::Running);
    assert_eq!(a.lease_owner.as_deref(), Some("a"));
    assert_eq!(a.attempts, 1);
    assert!(a.version > first.version);
    let b = s
        .claim_job("b", now, now + secs(30), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.id, second.id);
    assert_eq!(
        s.claim_job("c", now, now + secs(30), 3).await.unwrap(),
        None
    );
    assert!(s.renew_job_lease(&a.id, "a", now + secs(60)).await.unwrap());
    assert!(!s.renew_job_lease(&a.id, "b", now + secs(60)).await.unwrap());
    // b's lease runs out: c takes the job over, and b can no longer touch it.
    let later = now + secs(31);
    let c = s
        .claim_job("c", later, later + secs(30), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.id.clone(), c.attempts), (second.id.clone(), 2));
    assert!(!s.renew_job_lease(&c.id, "b", later).await.unwrap());
    assert_eq!(
        s.claim_job("d", later, later + secs(30), 3).await.unwrap(),
        None
    );
}

async fn racing_workers_never_share_a_job(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = f.store.clone();
    for i in 0..3 {
        s.insert_job(&job(&UserId::new_random(), i), 3)
            .await
            .unwrap();
    }
    let now = crate::common::now();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let s = s.clone();
            tokio::spawn(async move {
                s.claim_job(&format!("w{w}"), now, now + secs(30), 3)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for w in workers {
        claimed.extend(w.await.unwrap().map(|j| j.id));
    }
    claimed.sort();
    claimed.dedup();
    assert_eq!(claimed.len(), 3, "each job once: {claimed:?}");
}

async fn progress_never_goes_back(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let j = job(&UserId::new_random(), 0);
    s.insert_job(&j, 3).await.unwrap();
    let now = crate::common::now();
    let claimed = s
        .claim_job("w", now, now + secs(30), 3)
        .await
        .unwrap()
        .unwrap();
    let p = s
        .record_job_progress(&j.id, "w", 2, 0.45, now + secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.questions_ready, p.progress), (2, 0.45));
    assert!(p.version > claimed.version);
    assert_eq!(p.updated_at, now + secs(1));
    let back = s
        .record_job_progress(&j.id, "w", 1, 0.2, now + secs(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((back.questions_ready, back.progress), (2, 0.45));
    assert_eq!(
        s.record_job_progress(&j.id, "other", 4, 0.9, now)
            .await
            .unwrap(),
        None
    );
}

async fn a_lost_lease_changes_nothing(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let owner = UserId::new_random();
    let j = job(&owner, 0);
    s.insert_job(&j, 3).await.unwrap();
    let now = crate::common::now();
    s.claim_job("old", now, now + secs(30), 3)
        .await
        .unwrap()
        .unwrap();
    let later = now + secs(31);
    s.claim_job("new", later, later + secs(30), 3)
        .await
        .unwrap()
        .unwrap();
    let q = quiz(&owner, 0);
    let outcome = s
        .finish_job(&j.id, "old", JobOutcome::Succeeded(&q), later)
        .await
        .unwrap();
    assert_eq!(outcome, None);
    assert_eq!(s.find_quiz(&owner, &q.id).await.unwrap(), None, "no quiz");
    assert!(!s.release_job(&j.id, "old", later).await.unwrap());
    let still = s.find_job(&owner, &j.id).await.unwrap().unwrap();
    assert_eq!(
        (still.status, still.lease_owner.as_deref()),
        (JobStatus::Running, Some("new"))
    );
}

async fn success_stores_the_quiz_with_the_job(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let owner = UserId::new_random();
    let j = job(&owner, 0);
    s.insert_job(&j, 3).await.unwrap();
    let now = crate::common::now();
    s.claim_job("w", now, now + secs(30), 3)
        .await
        .unwrap()
        .unwrap();
    let q = quiz(&owner, 0);
    let done = s
        .finish_job(&j.id, "w", JobOutcome::Succeeded(&q), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.progress, 1.0);
    assert_eq!(
        done.questions_ready,
        q.questions.len() as u32,
        "all questions are ready"
    );
    assert_eq!(done.quiz_id.as_ref(), Some(&q.id));
    assert_eq!((done.lease_owner, done.lease_until), (None, None));
    assert_eq!(s.find_quiz(&owner, &q.id).await.unwrap(), Some(q));
    // Ended: no second outcome, no cancel.
    let again = s
        .finish_job(&j.id, "w", JobOutcome::Failed(&failure()), now)
        .await
        .unwrap();
    assert_eq!(again, None);
    let cancelled = s.cancel_job(&owner, &j.id, now).await.unwrap().unwrap();
    assert_eq!(cancelled.status, JobStatus::Succeeded);
}

async fn cancelled_jobs_stay_cancelled(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let owner = UserId::new_random();
    let (queued, running) = (job(&owner, -1000), job(&owner, 0));
    s.insert_job(&queued, 3).await.unwrap();
    s.insert_job(&running, 3).await.unwrap();
    let now = crate::common::now();
    let c = s
        .cancel_job(&owner, &queued.id, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.status, JobStatus::Cancelled);
    let r = s
        .claim_job("w", now, now + secs(30), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.id, running.id, "a cancelled job is never claimed");
    let c = s
        .cancel_job(&owner, &running.id, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.status, c.lease_owner), (JobStatus::Cancelled, None));
    assert!(
        !s.renew_job_lease(&running.id, "w", now + secs(60))
            .await
            .unwrap()
    );
    let q = quiz(&owner, 0);
    let done = s
        .finish_job(&running.id, "w", JobOutcome::Succeeded(&q), now)
        .await
        .unwrap();
    assert_eq!(done, None);
    assert_eq!(s.find_quiz(&owner, &q.id).await.unwrap(), None);
    let later = now + secs(60);
    assert_eq!(
        s.claim_job("v", later, later + secs(30), 3).await.unwrap(),
        None
    );
}

async fn released_jobs_are_queued_again(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let owner = UserId::new_random();
    let j = job(&owner, 0);
    s.insert_job(&j, 3).await.unwrap();
    let now = crate::common::now();
    s.claim_job("w", now, now + secs(30), 3)
        .await
        .unwrap()
        .unwrap();
    assert!(s.release_job(&j.id, "w", now).await.unwrap());
    let released = s.find_job(&owner, &j.id).await.unwrap().unwrap();
    assert_eq!(
        (released.status, released.attempts, released.lease_owner),
        (JobStatus::Queued, 0, None)
    );
    let again = s
        .claim_job("v", now, now + secs(30), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (j.id, 1));
}

async fn abandoned_jobs_fail_after_their_attempts(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let owner = UserId::new_random();
    let j = job(&owner, 0);
    s.insert_job(&j, 3).await.unwrap();
    let mut now: DateTime<Utc> = crate::common::now();
    for attempt in 1..=2 {
        let c = s
            .claim_job("w", now, now + secs(30), 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.attempts, attempt);
        now += secs(31);
    }
    assert_eq!(
        s.claim_job("w", now, now + secs(30), 2).await.unwrap(),
        None,
        "no third attempt"
    );
    let failed = s.fail_abandoned_jobs(now, 2, &failure()).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].status, JobStatus::Failed);
    assert_eq!(failed[0].error, Some(failure()));
    assert!(
        s.fail_abandoned_jobs(now, 2, &failure())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn changes_and_events_are_read_in_order(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let owner = UserId::new_random();
    let now = crate::common::now();
    let (old, new) = (job(&owner, -10_000), job(&owner, 0));
    s.insert_job(&old, 3).await.unwrap();
    s.insert_job(&new, 3).await.unwrap();
    let since = s.jobs_changed_since(now - secs(5), 10).await.unwrap();
    assert_eq!(since.iter().map(|j| &j.id).collect::<Vec<_>>(), [&new.id]);
    s.cancel_job(&owner, &old.id, now + secs(1)).await.unwrap();
    let since = s.jobs_changed_since(now - secs(5), 10).await.unwrap();
    assert_eq!(
        since.iter().map(|j| &j.id).collect::<Vec<_>>(),
        [&new.id, &old.id]
    );
    assert_eq!(
        s.jobs_changed_since(now - secs(5), 1).await.unwrap().len(),
        1
    );
    // Only ended jobs are purged.
    assert_eq!(s.delete_finished_jobs(now + secs(2)).await.unwrap(), 1);
    assert!(s.find_job(&owner, &old.id).await.unwrap().is_none());
    assert!(s.find_job(&owner, &new.id).await.unwrap().is_some());

    let quiz_id = QuizId::new_random();
    let events = [
        QuizEventRecord::new(
            owner.clone(),
            QuizEventKind::QuizCreated,
            quiz_id.clone(),
            None,
            now - secs(60),
        ),
        QuizEventRecord::new(
            owner.clone(),
            QuizEventKind::ResultSubmitted,
            quiz_id.clone(),
            Some(ResultId::new_random()),
            now,
        ),
        QuizEventRecord::new(
            owner.clone(),
            QuizEventKind::QuizDeleted,
            quiz_id,
            None,
            now + secs(1),
        ),
    ];
    for e in events.iter().rev() {
        s.insert_event(e).await.unwrap();
    }
    assert_eq!(s.events_since(now, 10).await.unwrap(), events[1..]);
    assert_eq!(s.events_since(now, 1).await.unwrap(), events[1..2]);
    assert_eq!(s.delete_events_before(now).await.unwrap(), 1);
    assert_eq!(
        s.events_since(now - secs(120), 10).await.unwrap(),
        events[1..]
    );
}
