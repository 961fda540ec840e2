//! A store that gives every call a span (`store <operation>`, with the database system), for
//! traces. Put in front of the real store only when traces are exported, so it costs nothing
//! otherwise. Arguments and results never become span fields.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::Instrument;

use super::*;
use crate::domain::{ReviewCardId, ReviewCardRecord, ReviewLogRecord};

pub struct TracedStore {
    pub(super) inner: Arc<dyn Store>,
}

/// Wraps `store` so each of its calls is a span.
pub fn traced(store: Arc<dyn Store>) -> Arc<dyn Store> {
    Arc::new(TracedStore { inner: store })
}

fn span(operation: &'static str, system: &'static str) -> tracing::Span {
    tracing::debug_span!(
        "store",
        otel.name = %format_args!("store {operation}"),
        db.system.name = system,
        db.operation.name = operation,
    )
}

/// Implements a store trait by delegating each method, inside its span.
macro_rules! delegate {
    ($trait:ident { $(async fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)* }) => {
        #[async_trait]
        impl $trait for TracedStore {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.inner
                        .$name($($arg),*)
                        .instrument(span(stringify!($name), self.inner.kind()))
                        .await
                }
            )*
        }
    };
}

delegate!(UserStore {
    async fn find_user(&self, id: &UserId) -> StoreResult<Option<UserRecord>>;
    async fn find_user_by_username(&self, username_norm: &str) -> StoreResult<Option<UserRecord>>;
    async fn find_user_by_email(&self, email_norm: &str) -> StoreResult<Option<UserRecord>>;
    async fn activate_user(&self, id: &UserId) -> StoreResult<bool>;
    async fn insert_user_replacing_pending(&self, user: &UserRecord) -> StoreResult<u64>;
    async fn upgrade_guest(&self, user: &UserRecord) -> StoreResult<bool>;
    async fn delete_pending_users(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
    async fn delete_idle_guests(&self, cutoff: DateTime<Utc>) -> StoreResult<Vec<UserId>>;
    async fn expire_pending_users_after(&self, ttl: std::time::Duration) -> StoreResult<()>;
    async fn add_session(&self, user: &UserId, session: &SessionRecord) -> StoreResult<bool>;
    async fn find_session(&self, user: &UserId, session: &SessionId) -> StoreResult<Option<SessionRecord>>;
    async fn list_sessions(&self, user: &UserId, now: DateTime<Utc>) -> StoreResult<Vec<SessionRecord>>;
    async fn rotate_refresh_token(
        &self,
        user: &UserId,
        session: &SessionId,
        expected: &RefreshToken,
        rotation: &SessionRotation
    ) -> StoreResult<bool>;
    async fn set_session_authenticated(&self, user: &UserId, session: &SessionId, at: DateTime<Utc>) -> StoreResult<bool>;
    async fn remove_session(&self, user: &UserId, session: &SessionId) -> StoreResult<bool>;
    async fn remove_sessions(&self, user: &UserId, keep: Option<&SessionId>) -> StoreResult<u64>;
    async fn set_password_hash(
        &self,
        user: &UserId,
        expected: &PasswordHash,
        replacement: &PasswordHash
    ) -> StoreResult<bool>;
});

delegate!(QuizStore {
    async fn insert_quiz(&self, quiz: &QuizRecord) -> StoreResult<()>;
    async fn find_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<Option<QuizRecord>>;
    async fn list_quiz_keys(&self, owner: &UserId, after: Option<&PageAfter>, limit: usize) -> StoreResult<QuizKeyPage>;
    async fn find_quizzes(&self, owner: &UserId, ids: &[QuizId]) -> StoreResult<Vec<QuizRecord>>;
    async fn delete_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<bool>;
    async fn insert_result(&self, result: &QuizResultRecord) -> StoreResult<()>;
    async fn find_result(&self, owner: &UserId, id: &ResultId) -> StoreResult<Option<QuizResultRecord>>;
    async fn list_results(
        &self,
        owner: &UserId,
        quiz: Option<&QuizId>,
        after: Option<&PageAfter>,
        limit: usize
    ) -> StoreResult<Vec<QuizResultRecord>>;
    async fn count_results(&self, owner: &UserId, quiz: Option<&QuizId>) -> StoreResult<u64>;
    async fn set_feedback(&self, owner: &UserId, id: &ResultId, feedback: &FeedbackRecord) -> StoreResult<bool>;
});

delegate!(OutboxStore {
    async fn enqueue_mail(&self, mail: &OutboxRecord) -> StoreResult<()>;
    async fn due_mail(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<OutboxRecord>>;
    async fn claim_mail(&self, id: &MailId, expected: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<bool>;
    async fn reschedule_mail(
        &self,
        id: &MailId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str
    ) -> StoreResult<()>;
    async fn mark_mail_dead(&self, id: &MailId, attempts: u32, error: &str, at: DateTime<Utc>) -> StoreResult<()>;
    async fn requeue_dead_mail(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    async fn remove_mail(&self, id: &MailId) -> StoreResult<()>;
    async fn count_dead_mail(&self) -> StoreResult<u64>;
    async fn count_pending_mail(&self) -> StoreResult<u64>;
});

delegate!(MfaStore {
    async fn find_mfa(&self, user: &UserId) -> StoreResult<MfaRecord>;
    async fn set_pending_totp(&self, user: &UserId, secret: &SealedSecret) -> StoreResult<()>;
    async fn enable_totp(
        &self,
        user: &UserId,
        pending: &SealedSecret,
        step: i64,
        recovery_codes: &[String]
    ) -> StoreResult<bool>;
    async fn use_totp_step(&self, user: &UserId, step: i64) -> StoreResult<bool>;
    async fn use_recovery_code(&self, user: &UserId, code_hash: &str) -> StoreResult<bool>;
    async fn set_recovery_codes(&self, user: &UserId, code_hashes: &[String]) -> StoreResult<bool>;
    async fn disable_totp(&self, user: &UserId) -> StoreResult<bool>;
    async fn set_mfa_challenge(&self, user: &UserId, challenge: &MfaChallenge) -> StoreResult<()>;
    async fn take_mfa_challenge(&self, user: &UserId, token_hash: &str, now: DateTime<Utc>) -> StoreResult<bool>;
});

delegate!(PasskeyStore {
    async fn insert_passkey_challenge(&self, challenge: &PasskeyChallengeRecord) -> StoreResult<()>;
    async fn take_passkey_challenge(&self, id: &PasskeyChallengeId, now: DateTime<Utc>) -> StoreResult<Option<PasskeyChallengeRecord>>;
    async fn purge_passkey_challenges(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<bool>;
    async fn list_passkeys(&self, user: &UserId) -> StoreResult<Vec<PasskeyRecord>>;
    async fn find_passkey_by_credential(&self, credential_id: &str) -> StoreResult<Option<PasskeyRecord>>;
    async fn record_passkey_use(
        &self,
        id: &PasskeyId,
        expected_count: u32,
        credential: &str,
        sign_count: u32,
        at: DateTime<Utc>
    ) -> StoreResult<bool>;
    async fn delete_passkey(&self, user: &UserId, id: &PasskeyId) -> StoreResult<bool>;
    async fn delete_passkeys(&self, user: &UserId) -> StoreResult<u64>;
});

delegate!(RateLimitStore {
    async fn hit_rate_limit(&self, key: &str, window: i64, expires_at: DateTime<Utc>) -> StoreResult<WindowHits>;
    async fn unhit_rate_limit(&self, key: &str, window: i64) -> StoreResult<()>;
    async fn purge_rate_limits(&self, now: DateTime<Utc>) -> StoreResult<u64>;
});

delegate!(JobStore {
    async fn insert_job(&self, job: &GenerationJobRecord, max_active: u32) -> StoreResult<bool>;
    async fn find_job(&self, owner: &UserId, id: &JobId) -> StoreResult<Option<GenerationJobRecord>>;
    async fn claim_job(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        max_attempts: u32
    ) -> StoreResult<Option<GenerationJobRecord>>;
    async fn renew_job_lease(&self, id: &JobId, worker: &str, until: DateTime<Utc>) -> StoreResult<bool>;
    async fn record_job_progress(
        &self,
        id: &JobId,
        worker: &str,
        questions_ready: u32,
        progress: f64,
        now: DateTime<Utc>
    ) -> StoreResult<Option<GenerationJobRecord>>;
    async fn finish_job(
        &self,
        id: &JobId,
        worker: &str,
        outcome: JobOutcome<'_>,
        now: DateTime<Utc>
    ) -> StoreResult<Option<GenerationJobRecord>>;
    async fn release_job(&self, id: &JobId, worker: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    async fn cancel_job(&self, owner: &UserId, id: &JobId, now: DateTime<Utc>) -> StoreResult<Option<GenerationJobRecord>>;
    async fn fail_abandoned_jobs(
        &self,
        now: DateTime<Utc>,
        max_attempts: u32,
        error: &JobErrorRecord
    ) -> StoreResult<Vec<GenerationJobRecord>>;
    async fn jobs_changed_since(&self, since: DateTime<Utc>, limit: usize) -> StoreResult<Vec<GenerationJobRecord>>;
    async fn delete_finished_jobs(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
});

delegate!(EventStore {
    async fn insert_event(&self, event: &QuizEventRecord) -> StoreResult<()>;
    async fn events_since(&self, since: DateTime<Utc>, limit: usize) -> StoreResult<Vec<QuizEventRecord>>;
    async fn delete_events_before(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
});

delegate!(StreamLeaseStore {
    async fn take_stream_lease(
        &self,
        user: &UserId,
        lease: &str,
        max: u32,
        now: DateTime<Utc>,
        until: DateTime<Utc>
    ) -> StoreResult<bool>;
    async fn renew_stream_leases(&self, leases: &[String], until: DateTime<Utc>) -> StoreResult<u64>;
    async fn release_stream_lease(&self, user: &UserId, lease: &str) -> StoreResult<()>;
    async fn purge_stream_leases(&self, now: DateTime<Utc>) -> StoreResult<u64>;
});

delegate!(ReviewStore {
    async fn find_review_card(&self, owner: &UserId, id: &ReviewCardId) -> StoreResult<Option<ReviewCardRecord>>;
    async fn find_review_cards_of_quiz(&self, owner: &UserId, quiz: &QuizId) -> StoreResult<Vec<ReviewCardRecord>>;
    async fn save_review(&self, card: &ReviewCardRecord, log: &ReviewLogRecord) -> StoreResult<()>;
    async fn due_review_cards(&self, owner: &UserId, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<ReviewCardRecord>>;
    async fn count_due_review_cards(&self, owner: &UserId, at: DateTime<Utc>) -> StoreResult<u64>;
    async fn delete_review_card(&self, owner: &UserId, id: &ReviewCardId) -> StoreResult<bool>;
    async fn review_logs_since(&self, owner: &UserId, since: DateTime<Utc>) -> StoreResult<Vec<ReviewLogRecord>>;
    async fn review_days(&self, owner: &UserId, since_day: i64) -> StoreResult<Vec<i64>>;
    async fn desired_retention(&self, owner: &UserId) -> StoreResult<Option<f64>>;
    async fn set_desired_retention(&self, owner: &UserId, value: f64) -> StoreResult<()>;
});

#[async_trait]
impl Store for TracedStore {
    async fn ping(&self) -> StoreResult<()> {
        self.inner
            .ping()
            .instrument(span("ping", self.inner.kind()))
            .await
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}
