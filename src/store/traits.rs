//! The store contract: one trait per family of records, gathered by [`Store`], which both
//! back ends implement and the contract tests run against.

use super::*;

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn find_user(&self, id: &UserId) -> StoreResult<Option<UserRecord>>;
    async fn find_user_by_username(&self, username_norm: &str) -> StoreResult<Option<UserRecord>>;
    async fn find_user_by_email(&self, email_norm: &str) -> StoreResult<Option<UserRecord>>;
    /// Flips an inactive user to active (a guest that signed up stops being one); `false` when
    /// there was no inactive user to flip.
    async fn activate_user(&self, id: &UserId) -> StoreResult<bool>;
    /// `setLocale`; `false` when the user is gone.
    /// Disables or enables the account; `false` when there is no such user.
    async fn set_user_disabled(&self, id: &UserId, disabled: bool) -> StoreResult<bool>;
    async fn set_user_locale(
        &self,
        id: &UserId,
        locale: crate::domain::Locale,
    ) -> StoreResult<bool>;
    /// Inserts a new user (unverified, or a guest) after deleting every never-verified account
    /// that holds its username or e-mail (an account nobody confirmed holds neither, and one
    /// that was a guest goes with its data); returns how many went. Fails with `Conflict`,
    /// deleting nothing, when a verified account holds either. Of two racing calls for one
    /// address, exactly one account is left.
    async fn insert_user_replacing_pending(&self, user: &UserRecord) -> StoreResult<u64>;
    /// Gives the guest `user.id` the name, credentials, `is_active` and `created_at` of `user`
    /// (a sign-up), replacing never-verified holders of its username or e-mail as
    /// [`insert_user_replacing_pending`](UserStore::insert_user_replacing_pending) does, with
    /// the same `Conflict`s. Its data stays, and until its address is confirmed
    /// ([`activate_user`](UserStore::activate_user)) it is still swept as a guest, not purged as
    /// a pending account. `false`, changing nothing, when it is no longer a guest.
    async fn upgrade_guest(&self, user: &UserRecord) -> StoreResult<bool>;
    /// Deletes the never-verified accounts created before `cutoff` (not guests that signed
    /// up: their data makes them the guest sweep's); returns how many.
    async fn delete_pending_users(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
    /// Deletes the guests (and guests that signed up but never confirmed) idle since `cutoff`
    /// — made before it, and no session made or refreshed since — with everything they own:
    /// sessions, quizzes, results, generation jobs, events. Returns their ids.
    async fn delete_idle_guests(&self, cutoff: DateTime<Utc>) -> StoreResult<Vec<UserId>>;
    /// Erases the account and everything that is its own, on every table or collection:
    /// sessions, factors, social links, quizzes, results, jobs, events, study materials,
    /// review cards, logs and settings, pending sign-ins and challenges, and mail waiting to go
    /// to its address. The account can no longer log in once this returns, even if it fails
    /// partway (what is left then is finished by
    /// [`finish_account_erasures`](UserStore::finish_account_erasures)). `false` when there was
    /// no such account.
    async fn delete_user(&self, id: &UserId) -> StoreResult<bool>;
    /// Completes erasures a crash cut short; returns how many. A store that erases in one
    /// transaction has none.
    async fn finish_account_erasures(&self) -> StoreResult<u64> {
        Ok(0)
    }
    /// Has the database itself delete never-verified accounts `ttl` after sign-up, where it
    /// can (MongoDB: a partial TTL index; SQLite cannot, and does nothing), so they go even
    /// while no server runs. Repeatable; a new `ttl` replaces the old one.
    async fn expire_pending_users_after(&self, ttl: std::time::Duration) -> StoreResult<()>;

    /// Adds a session, dropping the oldest beyond [`MAX_SESSIONS_PER_USER`]; `false` when the
    /// user does not exist.
    async fn add_session(&self, user: &UserId, session: &SessionRecord) -> StoreResult<bool>;
    async fn find_session(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> StoreResult<Option<SessionRecord>>;
    /// The sessions that have not expired at `now`, newest first.
    async fn list_sessions(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionRecord>>;
    /// Applies `rotation` only if the refresh token still is `expected` (compare-and-swap), so
    /// two concurrent refreshes can never both win; `false` when it was not.
    async fn rotate_refresh_token(
        &self,
        user: &UserId,
        session: &SessionId,
        expected: &RefreshToken,
        rotation: &SessionRotation,
    ) -> StoreResult<bool>;
    /// Records that the session proved who it is at `at`; `false` when there is no such session.
    async fn set_session_authenticated(
        &self,
        user: &UserId,
        session: &SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// `false` when there was no such session.
    async fn remove_session(&self, user: &UserId, session: &SessionId) -> StoreResult<bool>;
    /// Removes every session of the user but `keep`; returns how many went.
    async fn remove_sessions(&self, user: &UserId, keep: Option<&SessionId>) -> StoreResult<u64>;
    /// Replaces the password hash only if it still is `expected`; `false` when it was not.
    async fn set_password_hash(
        &self,
        user: &UserId,
        expected: &PasswordHash,
        replacement: &PasswordHash,
    ) -> StoreResult<bool>;
}

/// Quizzes and results, always scoped to their owner: a wrong owner reads as "absent".
#[async_trait]
pub trait QuizStore: Send + Sync {
    async fn insert_quiz(&self, quiz: &QuizRecord) -> StoreResult<()>;
    async fn find_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<Option<QuizRecord>>;
    /// Newest first, `limit` at most, strictly after `after`, with the owner's count of
    /// quizzes: where each quiz sits, not the quiz, so that a page's quizzes can come from
    /// memory (a stored quiz never changes).
    async fn list_quiz_keys(
        &self,
        owner: &UserId,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<QuizKeyPage>;
    /// The owner's quizzes among `ids`, in no particular order; an id that is gone or not
    /// theirs is left out.
    async fn find_quizzes(&self, owner: &UserId, ids: &[QuizId]) -> StoreResult<Vec<QuizRecord>>;
    /// `false` when there was no such quiz of this owner. Results are kept.
    async fn delete_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<bool>;

    async fn insert_result(&self, result: &QuizResultRecord) -> StoreResult<()>;
    async fn find_result(
        &self,
        owner: &UserId,
        id: &ResultId,
    ) -> StoreResult<Option<QuizResultRecord>>;
    /// Newest first; only results of `quiz` when given.
    async fn list_results(
        &self,
        owner: &UserId,
        quiz: Option<&QuizId>,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<Vec<QuizResultRecord>>;
    async fn count_results(&self, owner: &UserId, quiz: Option<&QuizId>) -> StoreResult<u64>;
    /// Stores feedback once; `false` when the result already had some (or does not exist).
    async fn set_feedback(
        &self,
        owner: &UserId,
        id: &ResultId,
        feedback: &FeedbackRecord,
    ) -> StoreResult<bool>;
}

/// The persistent outbox behind outgoing e-mail.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    async fn enqueue_mail(&self, mail: &OutboxRecord) -> StoreResult<()>;
    /// Mails whose next attempt is due, oldest first; never dead letters.
    async fn due_mail(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<OutboxRecord>>;
    /// Takes a mail for one delivery attempt: moves its next attempt from `expected` to `until`
    /// only if nobody else did (compare-and-swap), so two workers never send the same mail at
    /// once. `false` when another worker has it, or it is gone.
    async fn claim_mail(
        &self,
        id: &MailId,
        expected: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records a failed attempt and when to try again.
    async fn reschedule_mail(
        &self,
        id: &MailId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()>;
    /// Records the last failed attempt and makes the mail a dead letter (since `at`): kept, but
    /// no longer due until [`requeue_dead_mail`](OutboxStore::requeue_dead_mail).
    async fn mark_mail_dead(
        &self,
        id: &MailId,
        attempts: u32,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Makes every dead letter due at `now` with its attempts reset (its last error is kept);
    /// returns how many there were.
    async fn requeue_dead_mail(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Delivered: gone from the outbox.
    async fn remove_mail(&self, id: &MailId) -> StoreResult<()>;
    async fn count_dead_mail(&self) -> StoreResult<u64>;
    /// Mail still to be delivered (dead letters excluded), for the `mail_outbox_pending` gauge.
    async fn count_pending_mail(&self) -> StoreResult<u64>;
}

/// Second factors. Every change is one atomic update that carries what it expects in its
/// filter, so two servers racing on one user cannot both win.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The user's MFA state; the default (nothing enabled) when there is none.
    async fn find_mfa(&self, user: &UserId) -> StoreResult<MfaRecord>;
    /// Keeps `secret` as the pending enrollment, replacing an earlier one.
    async fn set_pending_totp(&self, user: &UserId, secret: &SealedSecret) -> StoreResult<()>;
    /// Turns TOTP on with the pending secret, if it still is `pending` and TOTP is off, with
    /// `step` as the last step used and these recovery code hashes; `false` otherwise.
    async fn enable_totp(
        &self,
        user: &UserId,
        pending: &SealedSecret,
        step: i64,
        recovery_codes: &[String],
    ) -> StoreResult<bool>;
    /// Records a TOTP code of time step `step` as used, only if no code of this or a later
    /// step was; `false` for a replay.
    async fn use_totp_step(&self, user: &UserId, step: i64) -> StoreResult<bool>;
    /// Spends one recovery code (by hash); `false` when it is not (or no longer) there.
    async fn use_recovery_code(&self, user: &UserId, code_hash: &str) -> StoreResult<bool>;
    /// Replaces the recovery codes while TOTP is on; `false` when it is off.
    async fn set_recovery_codes(&self, user: &UserId, code_hashes: &[String]) -> StoreResult<bool>;
    /// Turns TOTP off and forgets its secret, codes and pending login; `false` when it was off.
    async fn disable_totp(&self, user: &UserId) -> StoreResult<bool>;
    /// Remembers the login waiting for its second step, replacing an earlier one.
    async fn set_mfa_challenge(&self, user: &UserId, challenge: &MfaChallenge) -> StoreResult<()>;
    /// Ends the waiting login if its token hash is `token_hash` and it has not lapsed at `now`;
    /// `false` otherwise (unknown, lapsed, or already taken by another request).
    async fn take_mfa_challenge(
        &self,
        user: &UserId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

/// Passkeys and the WebAuthn ceremonies waiting for an answer. Challenges are stored (not kept
/// in memory) so that any server process can finish what another started.
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    async fn insert_passkey_challenge(&self, challenge: &PasskeyChallengeRecord)
    -> StoreResult<()>;
    /// Deletes the challenge and returns it, if it exists and has not lapsed at `now`: atomic,
    /// so of two requests finishing one challenge only one gets it.
    async fn take_passkey_challenge(
        &self,
        id: &PasskeyChallengeId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<PasskeyChallengeRecord>>;
    /// Deletes the challenges that lapsed before `now`; returns how many.
    async fn purge_passkey_challenges(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// `false`, storing nothing, when the credential id is registered already (to anyone).
    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<bool>;
    /// The user's passkeys, oldest first.
    async fn list_passkeys(&self, user: &UserId) -> StoreResult<Vec<PasskeyRecord>>;
    async fn find_passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>>;
    /// Records a login: the updated credential, its new counter and when, only if the counter
    /// still is `expected_count` (compare-and-swap); `false` when it was not, or the passkey
    /// is gone.
    async fn record_passkey_use(
        &self,
        id: &PasskeyId,
        expected_count: u32,
        credential: &str,
        sign_count: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// `false` when the user has no such passkey.
    async fn delete_passkey(&self, user: &UserId, id: &PasskeyId) -> StoreResult<bool>;
    /// Deletes every passkey of the user; returns how many went.
    async fn delete_passkeys(&self, user: &UserId) -> StoreResult<u64>;
}

/// Deployment-wide rate-limit counters: hits per key in fixed windows, which the limiter reads
/// as a sliding window. Each call is one atomic statement or update, so every server process
/// sharing the store counts against the same budget.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Counts one hit of `key` in window number `window` and returns that window's hits (this
    /// one included) and the previous window's. The counters may be dropped after `expires_at`.
    async fn hit_rate_limit(
        &self,
        key: &str,
        window: i64,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<WindowHits>;
    /// Takes back a hit that was refused, so refused attempts do not lengthen the wait.
    async fn unhit_rate_limit(&self, key: &str, window: i64) -> StoreResult<()>;
    /// Deletes the counters that expired before `now`; returns how many.
    async fn purge_rate_limits(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Leases on open streams (sockets and multipart responses), one per stream, so that a cap on a
/// user's streams holds for every server process sharing the store. A lease lapses unless its
/// process renews it: one that died holds nothing for longer than a lease.
#[async_trait]
pub trait StreamLeaseStore: Send + Sync {
    /// Takes the lease `lease` for `user` until `until`, unless `user` already holds `max`
    /// leases that have not lapsed at `now`; `false`, storing nothing, then. Racing takers
    /// never leave more than `max` live leases.
    async fn take_stream_lease(
        &self,
        user: &UserId,
        lease: &str,
        max: u32,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Moves the expiry of these leases (of any users) to `until`; returns how many there were.
    async fn renew_stream_leases(
        &self,
        leases: &[String],
        until: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Gives a lease back; nothing happens when it is gone already.
    async fn release_stream_lease(&self, user: &UserId, lease: &str) -> StoreResult<()>;
    /// Deletes the leases that lapsed before `now`; returns how many.
    async fn purge_stream_leases(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// What one refresh writes to its session.
#[derive(Debug, Clone)]
pub struct SessionRotation {
    pub refresh_token: RefreshToken,
    pub generation: i64,
    pub at: DateTime<Utc>,
    pub refreshes: WindowCount,
}

/// Hits of a key in the current and the previous window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowHits {
    pub current: u64,
    pub previous: u64,
}

/// Quiz generation jobs, shared by every server process: each job is run by one worker at a
/// time, which holds a lease on it and renews it while it works.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Inserts a queued job unless its owner already has `max_active` jobs queued or running;
    /// `false` (and nothing stored) then. Racing inserts never leave more than `max_active`.
    async fn insert_job(&self, job: &GenerationJobRecord, max_active: u32) -> StoreResult<bool>;
    async fn find_job(
        &self,
        owner: &UserId,
        id: &JobId,
    ) -> StoreResult<Option<GenerationJobRecord>>;
    /// Takes the oldest job that is queued, or running under a lease that ran out before `now`
    /// after fewer than `max_attempts` claims: it becomes `worker`'s until `lease_until`, with
    /// one more attempt. Atomic: two workers never get the same job.
    async fn claim_job(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        max_attempts: u32,
    ) -> StoreResult<Option<GenerationJobRecord>>;
    /// Extends the lease of a job `worker` runs; `false` when it no longer runs it (the job was
    /// cancelled, or taken over after the lease ran out). Not a change clients see.
    async fn renew_job_lease(
        &self,
        id: &JobId,
        worker: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records the progress of a job `worker` runs, never lowering it; the job afterwards, or
    /// `None` when the worker no longer runs it.
    async fn record_job_progress(
        &self,
        id: &JobId,
        worker: &str,
        questions_ready: u32,
        progress: f64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<GenerationJobRecord>>;
    /// Ends a job `worker` runs. On success the quiz is stored with it: both or neither. `None`,
    /// with nothing stored, when the worker no longer runs the job.
    async fn finish_job(
        &self,
        id: &JobId,
        worker: &str,
        outcome: JobOutcome<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<GenerationJobRecord>>;
    /// Gives a job `worker` runs back to the queue (its process is stopping); that attempt does
    /// not count. `false` when the worker no longer ran it.
    async fn release_job(&self, id: &JobId, worker: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Cancels a queued or running job of `owner`. Returns the job as it is afterwards
    /// (unchanged when it had already ended); `None` when there is no such job.
    async fn cancel_job(
        &self,
        owner: &UserId,
        id: &JobId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<GenerationJobRecord>>;
    /// Running jobs whose lease ran out after `max_attempts` claims fail with `error`; returns
    /// them, so no job stays running forever.
    async fn fail_abandoned_jobs(
        &self,
        now: DateTime<Utc>,
        max_attempts: u32,
        error: &JobErrorRecord,
    ) -> StoreResult<Vec<GenerationJobRecord>>;
    /// Jobs changed at or after `since`, in the order they changed, `limit` at most.
    async fn jobs_changed_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<GenerationJobRecord>>;
    /// Deletes jobs that ended before `cutoff`; returns how many.
    async fn delete_finished_jobs(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

/// Quiz activity (created, deleted, result submitted), kept for a while so that live
/// subscribers on every server process hear of it.
#[async_trait]
pub trait EventStore: Send + Sync {
    async fn insert_event(&self, event: &QuizEventRecord) -> StoreResult<()>;
    /// Events at or after `since`, oldest first, `limit` at most.
    async fn events_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<QuizEventRecord>>;
    /// Deletes events older than `cutoff`; returns how many.
    async fn delete_events_before(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

/// Everything the application needs from a database. `Any`, so that tests can reach the
/// concrete store's [`StoreFixtures`].
#[async_trait]
pub trait Store:
    UserStore
    + QuizStore
    + OutboxStore
    + MfaStore
    + PasskeyStore
    + RateLimitStore
    + JobStore
    + EventStore
    + StreamLeaseStore
    + super::StudyMaterialStore
    + super::ReviewStore
    + super::SocialStore
    + super::SignInRequestStore
    + super::EmailChangeStore
    + Any
{
    /// Answers while the database does; used by `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    /// A short name for logs: `sqlite` or `mongodb`.
    fn kind(&self) -> &'static str;
}

#[cfg(feature = "test-support")]
/// What tests and the examples' seeding need from a store and the application does not:
/// writing a user as given (the application signs up through `insert_user_replacing_pending`)
/// and counting the outbox. Kept off [`Store`]; bring this trait into scope to use it on a
/// `dyn Store`. Only with the `test-support` feature (the tests and examples turn it on), so the
/// release binary carries neither these writes nor the downcasts that reach them.
#[async_trait]
pub trait StoreFixtures: Send + Sync {
    /// Fails with `Conflict` when the normalized username or e-mail is taken.
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()>;
    /// Every mail in the outbox, dead letters included.
    async fn count_mail(&self) -> StoreResult<u64>;
}

#[cfg(feature = "test-support")]
impl dyn Store {
    fn fixtures(&self) -> &dyn StoreFixtures {
        let any: &dyn Any = self;
        if let Some(store) = any.downcast_ref::<sqlite::SqliteStore>() {
            store
        } else if let Some(store) = any.downcast_ref::<mongo::MongoStore>() {
            store
        } else {
            unreachable!("every store is SQLite or MongoDB")
        }
    }
}

#[cfg(feature = "test-support")]
#[async_trait]
impl StoreFixtures for dyn Store {
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.fixtures().insert_user(user).await
    }

    async fn count_mail(&self) -> StoreResult<u64> {
        self.fixtures().count_mail().await
    }
}
