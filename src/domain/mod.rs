//! The core of the service: ids, records, secrets, the domain error and the [`Clock`]. It
//! depends on nothing else in the crate; stores, services, GraphQL and HTTP all depend on it.

mod client;
mod clock;
pub mod error;
pub mod identity;
mod ids;
mod job;
mod mail;
mod mfa;
mod passkey;
mod quiz;
mod secret;
mod user;

pub use client::{ClientInfo, ClientKind};
pub use clock::{Clock, ManualClock, OffsetClock, SharedClock, SystemClock};
pub use error::{AppError, AppResult, ErrorCode, FieldError, GUESTS_CANNOT};
pub use identity::{EmailAddress, Username};
pub use ids::{
    EventId, InvalidId, JobId, MailId, PasskeyChallengeId, PasskeyId, QuizId, ResultId, SessionId,
    UserId,
};
pub use job::{
    GenerationJobRecord, JobErrorRecord, JobInput, JobOutcome, JobStatus, QuizEventKind,
    QuizEventRecord,
};
pub use mail::OutboxRecord;
pub use mfa::{MfaChallenge, MfaRecord, SealedSecret};
pub use passkey::{PasskeyCeremony, PasskeyChallengeRecord, PasskeyRecord};
pub use quiz::{
    AnswerRecord, AnswerType, ChoiceRecord, Difficulty, FeedbackRecord, PageAfter,
    QuestionFeedbackRecord, QuestionRecord, QuizKey, QuizKeyPage, QuizRecord, QuizResultRecord,
    QuizSource,
};
pub use secret::{PasswordHash, RefreshToken, sha256_hex};
pub use user::{
    Credentials, MAX_SESSIONS_PER_USER, SessionRecord, SignInMethod, UserRecord, WindowCount,
};
