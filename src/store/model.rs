//! What the stores keep: the domain's records. Both back ends persist exactly these, so the
//! domain can swap MongoDB for SQLite without noticing.

use chrono::{DateTime, Utc};

pub use crate::domain::{
    AnswerRecord, AnswerType, ChoiceRecord, Difficulty, EventId, FeedbackRecord,
    GenerationJobRecord, JobErrorRecord, JobId, JobInput, JobOutcome, JobStatus,
    MAX_SESSIONS_PER_USER, MailId, OutboxRecord, PageAfter, PasswordHash, QuestionFeedbackRecord,
    QuestionRecord, QuizEventKind, QuizEventRecord, QuizId, QuizRecord, QuizResultRecord,
    QuizSource, RefreshToken, ResultId, SessionId, SessionRecord, UserId, UserRecord,
};
use crate::domain::{Clock, SystemClock};

/// The wall clock, for code that has no injected [`Clock`] yet.
pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}
