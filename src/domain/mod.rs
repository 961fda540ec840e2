//! The core of the service: ids, records, secrets, the domain error and the [`Clock`]. It
//! depends on nothing else in the crate; stores, services, GraphQL and HTTP all depend on it.

mod client;
mod clock;
mod email_change;
pub mod error;
pub mod identity;
mod ids;
mod job;
mod locale;
mod mail;
mod material;
mod message;
mod mfa;
mod passkey;
mod quiz;
mod review;
mod secret;
mod sign_in;
mod social;
mod user;

pub use client::{ClientInfo, ClientKind};
pub use clock::{Clock, ManualClock, OffsetClock, SharedClock, SystemClock};
pub use email_change::{EMAIL_CHANGE_CONFIRM_TTL, EMAIL_CHANGE_UNDO_TTL, EmailChangeRecord};
pub use error::{AppError, AppResult, ErrorCode, FieldError, GUESTS_CANNOT};
pub use identity::{EmailAddress, Username};
pub use ids::{
    EventId, InvalidId, JobId, MailId, MaterialId, PasskeyChallengeId, PasskeyId, QuizId, ResultId,
    ReviewCardId, ReviewLogId, SessionId, UserId,
};
pub use job::{
    GenerationJobRecord, JobErrorRecord, JobInput, JobOutcome, JobStatus, QuizEventKind,
    QuizEventRecord,
};
pub use locale::Locale;
pub use mail::{OutboxRecord, mailbox_is_for};
pub use material::{
    MaterialPage, MaterialQuota, MaterialSummary, MaterialUsage, MediaType, StudyMaterialRecord,
};
pub use message::{Message, MessageArg, MessageKey};
pub use mfa::{MfaChallenge, MfaRecord, SealedSecret};
pub use passkey::{PasskeyCeremony, PasskeyChallengeRecord, PasskeyRecord};
pub use quiz::{
    AnswerRecord, AnswerType, ChoiceRecord, Difficulty, FeedbackRecord, PageAfter,
    QuestionFeedbackRecord, QuestionRecord, QuizKey, QuizKeyPage, QuizRecord, QuizResultRecord,
    QuizSource, SourcePassageRecord, TextOrigin,
};
pub use review::{DesiredRetention, MemoryState, Rating, ReviewCardRecord, ReviewLogRecord};
pub use secret::{PasswordHash, RefreshToken, sha256_hex};
pub use sign_in::{SIGN_IN_CODE_ATTEMPTS, SignInRequestRecord};
pub use social::{SocialLinkRecord, SocialLoginRecord};
pub use user::{
    Credentials, MAX_SESSIONS_PER_USER, SessionRecord, SignInMethod, UserRecord, WindowCount,
};

/// The names below are stored (both stores) and public (error codes): a renamed variant must not
/// change them.
#[cfg(test)]
mod stored_names {
    use super::*;

    #[test]
    fn enum_names_are_the_stored_and_public_ones() {
        let codes = [
            (ErrorCode::Unauthenticated, "UNAUTHENTICATED"),
            (ErrorCode::TokenExpired, "TOKEN_EXPIRED"),
            (ErrorCode::SessionExpired, "SESSION_EXPIRED"),
            (ErrorCode::InvalidCredentials, "INVALID_CREDENTIALS"),
            (ErrorCode::EmailNotVerified, "EMAIL_NOT_VERIFIED"),
            (ErrorCode::AccountDisabled, "ACCOUNT_DISABLED"),
            (ErrorCode::InvalidToken, "INVALID_TOKEN"),
            (ErrorCode::BadUserInput, "BAD_USER_INPUT"),
            (ErrorCode::Conflict, "CONFLICT"),
            (ErrorCode::NotFound, "NOT_FOUND"),
            (ErrorCode::RateLimited, "RATE_LIMITED"),
            (ErrorCode::LlmUnavailable, "LLM_UNAVAILABLE"),
            (ErrorCode::MfaRequired, "MFA_REQUIRED"),
            (ErrorCode::InvalidMfaCode, "INVALID_MFA_CODE"),
            (
                ErrorCode::ReauthenticationRequired,
                "REAUTHENTICATION_REQUIRED",
            ),
            (ErrorCode::OperationNotTrusted, "OPERATION_NOT_TRUSTED"),
            (
                ErrorCode::PersistedQueryNotFound,
                "PERSISTED_QUERY_NOT_FOUND",
            ),
            (ErrorCode::Internal, "INTERNAL"),
        ];
        for (code, name) in codes {
            assert_eq!(code.as_str(), name);
        }
        for (method, name) in [
            (SignInMethod::Password, "PASSWORD"),
            (SignInMethod::Passkey, "PASSKEY"),
            (SignInMethod::Mfa, "MFA"),
            (SignInMethod::Guest, "GUEST"),
            (SignInMethod::Social, "SOCIAL"),
            (SignInMethod::EmailLink, "EMAIL_LINK"),
        ] {
            assert_eq!(method.as_str(), name);
            assert_eq!(SignInMethod::parse(name), Some(method));
        }
        for (status, name) in [
            (JobStatus::Queued, "QUEUED"),
            (JobStatus::Running, "RUNNING"),
            (JobStatus::Succeeded, "SUCCEEDED"),
            (JobStatus::Failed, "FAILED"),
            (JobStatus::Cancelled, "CANCELLED"),
        ] {
            assert_eq!(status.as_str(), name);
            assert_eq!(JobStatus::parse(name), Some(status));
        }
        for (kind, name) in [
            (QuizEventKind::QuizCreated, "QUIZ_CREATED"),
            (QuizEventKind::QuizDeleted, "QUIZ_DELETED"),
            (QuizEventKind::ResultSubmitted, "RESULT_SUBMITTED"),
        ] {
            assert_eq!(kind.as_str(), name);
            assert_eq!(QuizEventKind::parse(name), Some(kind));
        }
        for (ceremony, name) in [
            (PasskeyCeremony::Registration, "registration"),
            (PasskeyCeremony::Login, "login"),
        ] {
            assert_eq!(ceremony.as_str(), name);
            assert_eq!(PasskeyCeremony::parse(name), Some(ceremony));
        }
        assert_eq!(SignInMethod::parse("password"), None, "names are exact");
        assert_eq!(JobStatus::parse("DONE"), None);
    }
}
