//! What the stores keep: the domain's records. Both back ends persist exactly these, so the
//! domain can swap MongoDB for SQLite without noticing.

pub use crate::domain::{
    AnswerRecord, AnswerType, ChoiceRecord, Credentials, Difficulty, EmailAddress, EventId,
    FeedbackRecord, GenerationJobRecord, JobErrorRecord, JobId, JobInput, JobOutcome, JobStatus,
    MAX_SESSIONS_PER_USER, MailId, MfaChallenge, MfaRecord, OutboxRecord, PageAfter,
    PasskeyCeremony, PasskeyChallengeId, PasskeyChallengeRecord, PasskeyId, PasskeyRecord,
    PasswordHash, QuestionFeedbackRecord, QuestionRecord, QuizEventKind, QuizEventRecord, QuizId,
    QuizKey, QuizKeyPage, QuizRecord, QuizResultRecord, QuizSource, RefreshToken, ResultId,
    SealedSecret, SessionId, SessionRecord, SignInMethod, UserId, UserRecord, Username,
    WindowCount,
};
