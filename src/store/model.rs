//! What the stores keep. Both back ends persist exactly these records, so the domain can swap
//! MongoDB for SQLite without noticing.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// Both stores keep milliseconds; rounding here keeps values equal after a round trip.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new_random() -> Self {
                $name(uuid::Uuid::new_v4().to_string())
            }
            /// Ids arrive from clients; anything that is not a UUID cannot name a record.
            pub fn parse(raw: &str) -> Option<Self> {
                uuid::Uuid::parse_str(raw.trim()).ok().map(|u| $name(u.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A user's id (a UUID).
    UserId
);
string_id!(
    /// A login session's id (a random UUID, carried in access tokens as `sid`).
    SessionId
);

macro_rules! redacted_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: String) -> Self {
                $name(value)
            }
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(***)", stringify!($name))
            }
        }
    };
}

redacted_string!(
    /// An argon2id PHC string.
    PasswordHash
);
redacted_string!(
    /// A session's refresh token; it never leaves the server.
    RefreshToken
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub username: String,
    /// Lower-cased; uniqueness is enforced on this.
    pub username_norm: String,
    pub email: String,
    /// Lower-cased; uniqueness is enforced on this.
    pub email_norm: String,
    pub password_hash: PasswordHash,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

/// One logged-in device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub refresh_token: RefreshToken,
    pub created_at: DateTime<Utc>,
    /// Absolute end: login time plus `REFRESH_TOKEN_TTL`.
    pub expires_at: DateTime<Utc>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    /// Advanced by every refresh and carried in access tokens as `gen`, so a token replayed
    /// from an older generation can be told from a fresh one.
    pub generation: i64,
}

/// A user keeps at most this many sessions; a new login drops the oldest.
pub const MAX_SESSIONS_PER_USER: usize = 10;

string_id!(
    /// A quiz's id.
    QuizId
);
string_id!(
    /// A graded submission's id.
    ResultId
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnswerType {
    MultipleChoice,
    TrueFalse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QuizSource {
    Llm,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceRecord {
    pub number: u32,
    pub content: String,
    pub correct: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionRecord {
    pub number: u32,
    pub content: String,
    pub answer_type: AnswerType,
    pub choices: Vec<ChoiceRecord>,
    pub explanation: Option<String>,
}

impl QuestionRecord {
    pub fn correct_choice(&self) -> Option<&ChoiceRecord> {
        self.choices.iter().find(|c| c.correct)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuizRecord {
    pub id: QuizId,
    pub owner: UserId,
    pub title: String,
    pub description: String,
    pub topic: String,
    pub difficulty: Difficulty,
    pub source: QuizSource,
    /// The language questions were written in; feedback uses it too.
    pub language: String,
    pub questions: Vec<QuestionRecord>,
    pub created_at: DateTime<Utc>,
}

/// One graded question, kept as a snapshot: deleting the quiz changes nothing here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRecord {
    pub question_number: u32,
    pub question: String,
    pub selected_choice: Option<u32>,
    pub selected_content: Option<String>,
    pub correct_choice: u32,
    pub correct_content: String,
    pub is_correct: bool,
    pub explanation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionFeedbackRecord {
    pub question_number: u32,
    pub feedback: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRecord {
    pub summary: String,
    pub items: Vec<QuestionFeedbackRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuizResultRecord {
    pub id: ResultId,
    pub owner: UserId,
    pub quiz_id: QuizId,
    pub quiz_title: String,
    pub language: String,
    pub answers: Vec<AnswerRecord>,
    pub correct_count: u32,
    pub total_questions: u32,
    /// Percentage, 0..=100.
    pub score: f64,
    pub submitted_at: DateTime<Utc>,
    /// Filled in on first request and kept.
    pub feedback: Option<FeedbackRecord>,
}

/// Where a newest-first page starts: strictly after this (time, id) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAfter {
    pub at: DateTime<Utc>,
    pub id: String,
}

string_id!(
    /// An outgoing e-mail waiting in the outbox.
    MailId
);

/// An e-mail that must not be lost: written before the first delivery attempt and removed only
/// once the mail server accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub id: MailId,
    /// A mailbox, e.g. `ada <ada@example.com>`.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_error: Option<String>,
}
