//! Quiz generation jobs and the quiz activity events that live subscriptions report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AnswerType, Difficulty, EventId, JobId, QuizId, ResultId, TextOrigin, UserId};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    /// Ended: nothing about the job changes any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// What the job was asked to make: the validated `GenerateQuizInput`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInput {
    pub topic: String,
    pub source_text: Option<String>,
    pub question_count: u32,
    pub choice_count: u32,
    pub difficulty: Difficulty,
    pub language: String,
    /// Absent in jobs queued before passages were kept.
    #[serde(default)]
    pub origin: TextOrigin,
    /// The one kind of question asked for; absent for the generator's mix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_type: Option<AnswerType>,
}

/// Why a job failed, as clients read it: a documented error code and a public message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobErrorRecord {
    pub code: String,
    pub message: String,
}

/// A quiz being generated in the background. A worker holds a lease on a running job and
/// renews it while it works; a job whose lease ran out (its process died) is taken over.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationJobRecord {
    pub id: JobId,
    pub owner: UserId,
    pub input: JobInput,
    pub status: JobStatus,
    /// 0..=1, never lower than before.
    pub progress: f64,
    pub questions_ready: u32,
    /// Set once the job succeeded.
    pub quiz_id: Option<QuizId>,
    pub error: Option<JobErrorRecord>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Grows with every change a client can see, so watchers tell news from repeats.
    pub version: i64,
    /// The worker running the job, and until when, while it is running.
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// How often a worker took the job up.
    pub attempts: u32,
}

impl GenerationJobRecord {
    /// A job as `startQuizGeneration` queues it.
    pub fn queued(owner: UserId, input: JobInput, now: DateTime<Utc>) -> Self {
        GenerationJobRecord {
            id: JobId::new_random(),
            owner,
            input,
            status: JobStatus::Queued,
            progress: 0.0,
            questions_ready: 0,
            quiz_id: None,
            error: None,
            created_at: now,
            updated_at: now,
            version: 0,
            lease_owner: None,
            lease_until: None,
            attempts: 0,
        }
    }
}

/// How a worker ends a job it runs.
#[derive(Debug, Clone, Copy)]
pub enum JobOutcome<'a> {
    /// The quiz is stored together with the job's new state, or neither is.
    Succeeded(&'a super::QuizRecord),
    Failed(&'a JobErrorRecord),
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum QuizEventKind {
    QuizCreated,
    QuizDeleted,
    ResultSubmitted,
}

impl QuizEventKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// Something that happened to a user's quizzes, kept for a while so that subscribers on every
/// server process hear of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuizEventRecord {
    pub id: EventId,
    pub owner: UserId,
    pub kind: QuizEventKind,
    pub quiz_id: QuizId,
    pub result_id: Option<ResultId>,
    pub at: DateTime<Utc>,
}

impl QuizEventRecord {
    pub fn new(
        owner: UserId,
        kind: QuizEventKind,
        quiz_id: QuizId,
        result_id: Option<ResultId>,
        at: DateTime<Utc>,
    ) -> Self {
        QuizEventRecord {
            id: EventId::new_random(),
            owner,
            kind,
            quiz_id,
            result_id,
            at,
        }
    }
}
