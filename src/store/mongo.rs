//! MongoDB: users live in the `users` collection and carry their login sessions in a `sessions`
//! array, as the design asks. Writes that could race are single atomic updates that carry the
//! old value in their filter.

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::{
    Client, Collection, Database, IndexModel,
    bson::{self, Document, doc},
    error::{ErrorKind, WriteFailure},
    options::{ClientOptions, IndexOptions},
};
use serde::{Deserialize, Serialize};

use super::*;

const DEFAULT_DATABASE: &str = "quiz_llm";
const DUPLICATE_KEY: i32 = 11000;
const USERNAME_INDEX: &str = "users_username_norm_unique";
const EMAIL_INDEX: &str = "users_email_norm_unique";
/// Marks, in the `migrations` collection, that user keys follow the look-alike and canonical
/// address rules.
const USER_KEYS_MIGRATION: &str = "user-keys-v2";
/// Racing sign-ups for one address each retry this often; each round one of them wins.
const REPLACE_ATTEMPTS: usize = 16;

#[derive(Debug, Serialize, Deserialize)]
struct UserDoc {
    #[serde(rename = "_id")]
    id: UserId,
    username: String,
    username_norm: String,
    email: String,
    email_norm: String,
    password_hash: PasswordHash,
    is_active: bool,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    #[serde(default)]
    sessions: Vec<SessionDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionDoc {
    id: SessionId,
    refresh_token: RefreshToken,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    #[serde(with = "bson_time")]
    expires_at: DateTime<Utc>,
    #[serde(default, with = "bson_time::optional")]
    last_refreshed_at: Option<DateTime<Utc>>,
    user_agent: Option<String>,
    #[serde(default)]
    generation: i64,
}

fn to_bson(t: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(t.timestamp_millis())
}

/// Times as BSON dates. A stored date that chrono cannot hold fails to decode: bson's own chrono
/// helper would clamp it to the first or last representable instant instead.
mod bson_time {
    use chrono::{DateTime, Utc};
    use mongodb::bson;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        super::to_bson(*t).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        from_bson(bson::DateTime::deserialize(d)?)
    }

    fn from_bson<E: Error>(t: bson::DateTime) -> Result<DateTime<Utc>, E> {
        DateTime::from_timestamp_millis(t.timestamp_millis())
            .ok_or_else(|| E::custom(format!("date {} ms is out of range", t.timestamp_millis())))
    }

    pub mod optional {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            t.map(super::super::to_bson).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<bson::DateTime>::deserialize(d)?
                .map(from_bson)
                .transpose()
        }
    }
}

impl From<UserDoc> for UserRecord {
    fn from(d: UserDoc) -> Self {
        UserRecord {
            id: d.id,
            username: d.username,
            username_norm: d.username_norm,
            email: d.email,
            email_norm: d.email_norm,
            password_hash: d.password_hash,
            is_active: d.is_active,
            created_at: d.created_at,
        }
    }
}

impl From<&SessionRecord> for SessionDoc {
    fn from(s: &SessionRecord) -> Self {
        SessionDoc {
            id: s.id.clone(),
            refresh_token: s.refresh_token.clone(),
            created_at: s.created_at,
            expires_at: s.expires_at,
            last_refreshed_at: s.last_refreshed_at,
            user_agent: s.user_agent.clone(),
            generation: s.generation,
        }
    }
}

impl From<SessionDoc> for SessionRecord {
    fn from(d: SessionDoc) -> Self {
        SessionRecord {
            id: d.id,
            refresh_token: d.refresh_token,
            created_at: d.created_at,
            expires_at: d.expires_at,
            last_refreshed_at: d.last_refreshed_at,
            user_agent: d.user_agent,
            generation: d.generation,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct QuizDoc {
    #[serde(rename = "_id")]
    id: QuizId,
    owner_id: UserId,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    title: String,
    description: String,
    topic: String,
    difficulty: Difficulty,
    source: QuizSource,
    language: String,
    questions: Vec<QuestionRecord>,
}

impl From<&QuizRecord> for QuizDoc {
    fn from(q: &QuizRecord) -> Self {
        QuizDoc {
            id: q.id.clone(),
            owner_id: q.owner.clone(),
            created_at: q.created_at,
            title: q.title.clone(),
            description: q.description.clone(),
            topic: q.topic.clone(),
            difficulty: q.difficulty,
            source: q.source,
            language: q.language.clone(),
            questions: q.questions.clone(),
        }
    }
}

impl From<QuizDoc> for QuizRecord {
    fn from(d: QuizDoc) -> Self {
        QuizRecord {
            id: d.id,
            owner: d.owner_id,
            created_at: d.created_at,
            title: d.title,
            description: d.description,
            topic: d.topic,
            difficulty: d.difficulty,
            source: d.source,
            language: d.language,
            questions: d.questions,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ResultDoc {
    #[serde(rename = "_id")]
    id: ResultId,
    owner_id: UserId,
    quiz_id: QuizId,
    #[serde(with = "bson_time")]
    submitted_at: DateTime<Utc>,
    quiz_title: String,
    language: String,
    answers: Vec<AnswerRecord>,
    correct_count: u32,
    total_questions: u32,
    score: f64,
    feedback: Option<FeedbackRecord>,
}

impl From<&QuizResultRecord> for ResultDoc {
    fn from(r: &QuizResultRecord) -> Self {
        ResultDoc {
            id: r.id.clone(),
            owner_id: r.owner.clone(),
            quiz_id: r.quiz_id.clone(),
            submitted_at: r.submitted_at,
            quiz_title: r.quiz_title.clone(),
            language: r.language.clone(),
            answers: r.answers.clone(),
            correct_count: r.correct_count,
            total_questions: r.total_questions,
            score: r.score,
            feedback: r.feedback.clone(),
        }
    }
}

impl From<ResultDoc> for QuizResultRecord {
    fn from(d: ResultDoc) -> Self {
        QuizResultRecord {
            id: d.id,
            owner: d.owner_id,
            quiz_id: d.quiz_id,
            submitted_at: d.submitted_at,
            quiz_title: d.quiz_title,
            language: d.language,
            answers: d.answers,
            correct_count: d.correct_count,
            total_questions: d.total_questions,
            score: d.score,
            feedback: d.feedback,
        }
    }
}

/// Newest-first keyset page: strictly before `after` in (time, _id) order.
fn page_filter(mut filter: Document, time_field: &str, after: Option<&PageAfter>) -> Document {
    if let Some(a) = after {
        let at = to_bson(a.at);
        filter.insert(
            "$or",
            vec![
                doc! { time_field: { "$lt": at } },
                doc! { time_field: at, "_id": { "$lt": a.id.as_str() } },
            ],
        );
    }
    filter
}

fn to_doc<T: Serialize>(value: &T) -> StoreResult<bson::Bson> {
    bson::to_bson(value).map_err(|e| StoreError::Other(e.into()))
}

#[derive(Debug, Serialize, Deserialize)]
struct MailDoc {
    #[serde(rename = "_id")]
    id: MailId,
    to: String,
    subject: String,
    text: String,
    html: String,
    attempts: u32,
    #[serde(with = "bson_time")]
    next_attempt_at: DateTime<Utc>,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    last_error: Option<String>,
    /// Set while the mail is a dead letter.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "bson_time::optional"
    )]
    dead_at: Option<DateTime<Utc>>,
}

impl From<&OutboxRecord> for MailDoc {
    fn from(m: &OutboxRecord) -> Self {
        MailDoc {
            id: m.id.clone(),
            to: m.to.clone(),
            subject: m.subject.clone(),
            text: m.text.clone(),
            html: m.html.clone(),
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            created_at: m.created_at,
            last_error: m.last_error.clone(),
            dead_at: None,
        }
    }
}

impl From<MailDoc> for OutboxRecord {
    fn from(d: MailDoc) -> Self {
        OutboxRecord {
            id: d.id,
            to: d.to,
            subject: d.subject,
            text: d.text,
            html: d.html,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            last_error: d.last_error,
        }
    }
}

#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    users: Collection<UserDoc>,
    quizzes: Collection<QuizDoc>,
    results: Collection<ResultDoc>,
    outbox: Collection<MailDoc>,
}

impl MongoStore {
    /// Connects, checks the server answers, and creates the indexes.
    pub async fn connect(url: &str, store_options: StoreOptions) -> anyhow::Result<Self> {
        let timeout = store_options.timeout;
        let mut options = ClientOptions::parse(url)
            .await
            .context("DATABASE_URL is not a valid MongoDB connection string")?;
        options.app_name.get_or_insert_with(|| "quiz-llm".into());
        // While the server is away, operations fail after `timeout` instead of queueing.
        options.server_selection_timeout.get_or_insert(timeout);
        options.connect_timeout.get_or_insert(timeout);
        let pool_size = u32::try_from(store_options.pool_size).unwrap_or(u32::MAX);
        options.max_pool_size.get_or_insert(pool_size.max(1));
        let hosts = options
            .hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let db_name = options
            .default_database
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE.into());
        let client = Client::with_options(options)?;
        let db = client.database(&db_name);
        db.run_command(doc! { "ping": 1 })
            .await
            .with_context(|| format!("cannot reach MongoDB at {hosts}"))?;
        let store = MongoStore {
            users: db.collection("users"),
            quizzes: db.collection("quizzes"),
            results: db.collection("quiz_results"),
            outbox: db.collection("outbox"),
            db,
        };
        store.create_indexes().await?;
        store.migrate_user_keys().await?;
        Ok(store)
    }

    /// The database this store writes to (tests drop it afterwards).
    pub fn database(&self) -> &Database {
        &self.db
    }

    async fn create_indexes(&self) -> anyhow::Result<()> {
        let unique = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .unique(true)
                        .name(name.to_owned())
                        .build(),
                )
                .build()
        };
        let index = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_owned()).build())
                .build()
        };
        self.users
            .create_indexes([
                unique(doc! { "username_norm": 1 }, USERNAME_INDEX),
                unique(doc! { "email_norm": 1 }, EMAIL_INDEX),
                index(doc! { "is_active": 1, "created_at": 1 }, "users_pending"),
            ])
            .await
            .context("creating MongoDB indexes on users")?;
        self.quizzes
            .create_index(index(
                doc! { "owner_id": 1, "created_at": -1, "_id": -1 },
                "quizzes_by_owner",
            ))
            .await
            .context("creating MongoDB indexes on quizzes")?;
        self.results
            .create_indexes([
                index(
                    doc! { "owner_id": 1, "submitted_at": -1, "_id": -1 },
                    "results_by_owner",
                ),
                index(
                    doc! { "owner_id": 1, "quiz_id": 1, "submitted_at": -1, "_id": -1 },
                    "results_by_owner_quiz",
                ),
            ])
            .await
            .context("creating MongoDB indexes on quiz_results")?;
        self.outbox
            .create_index(index(
                doc! { "next_attempt_at": 1, "created_at": 1 },
                "outbox_due",
            ))
            .await
            .context("creating MongoDB indexes on outbox")?;
        Ok(())
    }

    /// Once per database: gives every user the keys the current rules compute (see
    /// [`renormalized`]). Safe to rerun after an interruption: keys are computed from the
    /// username and address, never from the stored keys.
    async fn migrate_user_keys(&self) -> anyhow::Result<()> {
        let migrations = self.db.collection::<Document>("migrations");
        let done = doc! { "_id": USER_KEYS_MIGRATION };
        if migrations.find_one(done.clone()).await?.is_some() {
            return Ok(());
        }
        let users: Vec<UserDoc> = self
            .users
            .find(doc! {})
            .projection(doc! { "sessions": 0 })
            .sort(doc! { "created_at": 1, "_id": 1 })
            .await?
            .try_collect()
            .await?;
        let changed = renormalized(
            users
                .into_iter()
                .map(|u| UserKeys {
                    id: u.id.to_string(),
                    username: u.username,
                    email: u.email,
                    username_norm: u.username_norm,
                    email_norm: u.email_norm,
                })
                .collect(),
        );
        // Park the changing keys on values no user can hold first, so that no update meets a
        // key another user is about to give up.
        for u in &changed {
            let parked = format!("#{}", u.id);
            self.users
                .update_one(
                    doc! { "_id": &u.id },
                    doc! { "$set": { "username_norm": &parked, "email_norm": &parked } },
                )
                .await?;
        }
        for u in &changed {
            self.users
                .update_one(
                    doc! { "_id": &u.id },
                    doc! { "$set": { "username_norm": &u.username_norm, "email_norm": &u.email_norm } },
                )
                .await?;
        }
        if !changed.is_empty() {
            tracing::info!(users = changed.len(), "recomputed username and e-mail keys");
        }
        // Another process may have finished first; either way it is done.
        match migrations.insert_one(done).await {
            Err(err) if !is_duplicate_key(&err) => Err(err.into()),
            _ => Ok(()),
        }
    }

    async fn find_user_by(&self, filter: Document) -> StoreResult<Option<UserRecord>> {
        Ok(self
            .users
            .find_one(filter)
            .projection(doc! { "sessions": 0 })
            .await
            .map_err(map_err)?
            .map(UserRecord::from))
    }

    async fn sessions_of(&self, user: &UserId) -> StoreResult<Vec<SessionRecord>> {
        /// The `sessions` field alone: absent is none, anything but an array of sessions fails.
        #[derive(Deserialize)]
        struct Sessions {
            #[serde(default)]
            sessions: Vec<SessionDoc>,
        }
        Ok(self
            .users
            .clone_with_type::<Sessions>()
            .find_one(doc! { "_id": user.as_str() })
            .projection(doc! { "sessions": 1, "_id": 0 })
            .await
            .map_err(map_err)?
            .map_or_else(Vec::new, |d| d.sessions)
            .into_iter()
            .map(SessionRecord::from)
            .collect())
    }
}

fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    matches!(err.kind.as_ref(), ErrorKind::Write(WriteFailure::WriteError(we)) if we.code == DUPLICATE_KEY)
}

fn map_err(err: mongodb::error::Error) -> StoreError {
    if let ErrorKind::Write(WriteFailure::WriteError(we)) = err.kind.as_ref()
        && we.code == DUPLICATE_KEY
    {
        if we.message.contains(USERNAME_INDEX) || we.message.contains("username_norm") {
            return StoreError::Conflict(UniqueField::Username);
        }
        if we.message.contains(EMAIL_INDEX) || we.message.contains("email_norm") {
            return StoreError::Conflict(UniqueField::Email);
        }
    }
    match err.kind.as_ref() {
        ErrorKind::BsonDeserialization(_) => StoreError::Corrupt(err.to_string()),
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. } => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Other(err.into()),
    }
}

#[async_trait]
impl UserStore for MongoStore {
    async fn insert_user_replacing_pending(&self, user: &UserRecord) -> StoreResult<u64> {
        // No transactions here: check, delete and insert, and start over when another sign-up
        // took a key in between (the unique indexes tell); each round, one racer wins.
        let holders = |active: bool| {
            doc! {
                "is_active": active,
                "$or": [
                    { "username_norm": user.username_norm.as_str() },
                    { "email_norm": user.email_norm.as_str() },
                ],
            }
        };
        let mut replaced = 0;
        let mut last = StoreError::Conflict(UniqueField::Email);
        for _ in 0..REPLACE_ATTEMPTS {
            // Checked first, so that a sign-up a verified account blocks deletes nothing.
            if let Some(holder) = self.find_user_by(holders(true)).await? {
                let field = if holder.username_norm == user.username_norm {
                    UniqueField::Username
                } else {
                    UniqueField::Email
                };
                return Err(StoreError::Conflict(field));
            }
            replaced += self
                .users
                .delete_many(holders(false))
                .await
                .map_err(map_err)?
                .deleted_count;
            match self.insert_user(user).await {
                Ok(()) => return Ok(replaced),
                Err(err @ StoreError::Conflict(_)) => last = err,
                Err(err) => return Err(err),
            }
            tokio::task::yield_now().await;
        }
        Err(last)
    }

    async fn delete_pending_users(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        Ok(self
            .users
            .delete_many(doc! { "is_active": false, "created_at": { "$lt": to_bson(cutoff) } })
            .await
            .map_err(map_err)?
            .deleted_count)
    }

    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        let doc = UserDoc {
            id: user.id.clone(),
            username: user.username.clone(),
            username_norm: user.username_norm.clone(),
            email: user.email.clone(),
            email_norm: user.email_norm.clone(),
            password_hash: user.password_hash.clone(),
            is_active: user.is_active,
            created_at: user.created_at,
            sessions: Vec::new(),
        };
        self.users.insert_one(doc).await.map_err(map_err)?;
        Ok(())
    }

    async fn find_user(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.find_user_by(doc! { "_id": id.as_str() }).await
    }

    async fn find_user_by_username(&self, username_norm: &str) -> StoreResult<Option<UserRecord>> {
        self.find_user_by(doc! { "username_norm": username_norm })
            .await
    }

    async fn find_user_by_email(&self, email_norm: &str) -> StoreResult<Option<UserRecord>> {
        self.find_user_by(doc! { "email_norm": email_norm }).await
    }

    async fn activate_user(&self, id: &UserId) -> StoreResult<bool> {
        let result = self
            .users
            .update_one(
                doc! { "_id": id.as_str(), "is_active": false },
                doc! { "$set": { "is_active": true } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }

    async fn add_session(&self, user: &UserId, session: &SessionRecord) -> StoreResult<bool> {
        let session =
            bson::to_bson(&SessionDoc::from(session)).map_err(|e| StoreError::Other(e.into()))?;
        let result = self
            .users
            .update_one(
                doc! { "_id": user.as_str() },
                doc! { "$push": { "sessions": {
                    "$each": [session],
                    "$slice": -(MAX_SESSIONS_PER_USER as i64),
                } } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }

    async fn find_session(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> StoreResult<Option<SessionRecord>> {
        Ok(self
            .sessions_of(user)
            .await?
            .into_iter()
            .find(|s| &s.id == session))
    }

    async fn list_sessions(&self, user: &UserId) -> StoreResult<Vec<SessionRecord>> {
        let mut sessions = self.sessions_of(user).await?;
        // The array is in insertion order; newest first is what clients show.
        sessions.reverse();
        Ok(sessions)
    }

    async fn rotate_refresh_token(
        &self,
        user: &UserId,
        session: &SessionId,
        expected: &RefreshToken,
        replacement: &RefreshToken,
        generation: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = self
            .users
            .update_one(
                doc! {
                    "_id": user.as_str(),
                    "sessions": { "$elemMatch": {
                        "id": session.as_str(),
                        "refresh_token": expected.expose(),
                    } },
                },
                // arrayFilters rather than the positional `$`: the element to change is named
                // by id alone, while the filter above still carries the old token.
                doc! { "$set": {
                    "sessions.$[s].refresh_token": replacement.expose(),
                    "sessions.$[s].last_refreshed_at": to_bson(at),
                    "sessions.$[s].generation": generation,
                } },
            )
            .array_filters(vec![doc! { "s.id": session.as_str() }])
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }

    async fn remove_session(&self, user: &UserId, session: &SessionId) -> StoreResult<bool> {
        let result = self
            .users
            .update_one(
                doc! { "_id": user.as_str(), "sessions.id": session.as_str() },
                doc! { "$pull": { "sessions": { "id": session.as_str() } } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }

    async fn remove_sessions(&self, user: &UserId, keep: Option<&SessionId>) -> StoreResult<u64> {
        let before = self.sessions_of(user).await?.len() as u64;
        let update = match keep {
            Some(keep) => doc! { "$pull": { "sessions": { "id": { "$ne": keep.as_str() } } } },
            None => doc! { "$set": { "sessions": [] } },
        };
        self.users
            .update_one(doc! { "_id": user.as_str() }, update)
            .await
            .map_err(map_err)?;
        let after = self.sessions_of(user).await?.len() as u64;
        Ok(before.saturating_sub(after))
    }

    async fn set_password_hash(
        &self,
        user: &UserId,
        expected: &PasswordHash,
        replacement: &PasswordHash,
    ) -> StoreResult<bool> {
        let result = self
            .users
            .update_one(
                doc! { "_id": user.as_str(), "password_hash": expected.expose() },
                doc! { "$set": { "password_hash": replacement.expose() } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }
}

#[async_trait]
impl QuizStore for MongoStore {
    async fn insert_quiz(&self, quiz: &QuizRecord) -> StoreResult<()> {
        self.quizzes
            .insert_one(QuizDoc::from(quiz))
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn find_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<Option<QuizRecord>> {
        Ok(self
            .quizzes
            .find_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await
            .map_err(map_err)?
            .map(Into::into))
    }

    async fn list_quizzes(
        &self,
        owner: &UserId,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<Vec<QuizRecord>> {
        let filter = page_filter(doc! { "owner_id": owner.as_str() }, "created_at", after);
        let cursor = self
            .quizzes
            .find(filter)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .limit(limit as i64)
            .await
            .map_err(map_err)?;
        let docs: Vec<QuizDoc> = cursor.try_collect().await.map_err(map_err)?;
        Ok(docs.into_iter().map(Into::into).collect())
    }

    async fn count_quizzes(&self, owner: &UserId) -> StoreResult<u64> {
        self.quizzes
            .count_documents(doc! { "owner_id": owner.as_str() })
            .await
            .map_err(map_err)
    }

    async fn delete_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<bool> {
        let result = self
            .quizzes
            .delete_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count == 1)
    }

    async fn insert_result(&self, result: &QuizResultRecord) -> StoreResult<()> {
        self.results
            .insert_one(ResultDoc::from(result))
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn find_result(
        &self,
        owner: &UserId,
        id: &ResultId,
    ) -> StoreResult<Option<QuizResultRecord>> {
        Ok(self
            .results
            .find_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await
            .map_err(map_err)?
            .map(Into::into))
    }

    async fn list_results(
        &self,
        owner: &UserId,
        quiz: Option<&QuizId>,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<Vec<QuizResultRecord>> {
        let mut filter = doc! { "owner_id": owner.as_str() };
        if let Some(quiz) = quiz {
            filter.insert("quiz_id", quiz.as_str());
        }
        let cursor = self
            .results
            .find(page_filter(filter, "submitted_at", after))
            .sort(doc! { "submitted_at": -1, "_id": -1 })
            .limit(limit as i64)
            .await
            .map_err(map_err)?;
        let docs: Vec<ResultDoc> = cursor.try_collect().await.map_err(map_err)?;
        Ok(docs.into_iter().map(Into::into).collect())
    }

    async fn count_results(&self, owner: &UserId, quiz: Option<&QuizId>) -> StoreResult<u64> {
        let mut filter = doc! { "owner_id": owner.as_str() };
        if let Some(quiz) = quiz {
            filter.insert("quiz_id", quiz.as_str());
        }
        self.results.count_documents(filter).await.map_err(map_err)
    }

    async fn set_feedback(
        &self,
        owner: &UserId,
        id: &ResultId,
        feedback: &FeedbackRecord,
    ) -> StoreResult<bool> {
        let result = self
            .results
            .update_one(
                doc! { "_id": id.as_str(), "owner_id": owner.as_str(), "feedback": null },
                doc! { "$set": { "feedback": to_doc(feedback)? } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }
}

#[async_trait]
impl OutboxStore for MongoStore {
    async fn enqueue_mail(&self, mail: &OutboxRecord) -> StoreResult<()> {
        self.outbox
            .insert_one(MailDoc::from(mail))
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn due_mail(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<OutboxRecord>> {
        let cursor = self
            .outbox
            .find(doc! { "next_attempt_at": { "$lte": to_bson(now) }, "dead_at": null })
            .sort(doc! { "next_attempt_at": 1, "created_at": 1 })
            .limit(limit as i64)
            .await
            .map_err(map_err)?;
        let docs: Vec<MailDoc> = cursor.try_collect().await.map_err(map_err)?;
        Ok(docs.into_iter().map(Into::into).collect())
    }

    async fn claim_mail(
        &self,
        id: &MailId,
        expected: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = self
            .outbox
            .update_one(
                doc! { "_id": id.as_str(), "next_attempt_at": to_bson(expected) },
                doc! { "$set": { "next_attempt_at": to_bson(until) } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }

    async fn reschedule_mail(
        &self,
        id: &MailId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        self.outbox
            .update_one(
                doc! { "_id": id.as_str() },
                doc! { "$set": {
                    "attempts": i64::from(attempts),
                    "next_attempt_at": to_bson(next_attempt_at),
                    "last_error": error,
                } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn mark_mail_dead(&self, id: &MailId, attempts: u32, error: &str) -> StoreResult<()> {
        self.outbox
            .update_one(
                doc! { "_id": id.as_str() },
                doc! { "$set": {
                    "attempts": i64::from(attempts),
                    "last_error": error,
                    "dead_at": to_bson(now()),
                } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn requeue_dead_mail(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let result = self
            .outbox
            .update_many(
                doc! { "dead_at": { "$ne": null } },
                doc! {
                    "$set": { "attempts": 0_i64, "next_attempt_at": to_bson(now) },
                    "$unset": { "dead_at": "" },
                },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count)
    }

    async fn remove_mail(&self, id: &MailId) -> StoreResult<()> {
        self.outbox
            .delete_one(doc! { "_id": id.as_str() })
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn count_mail(&self) -> StoreResult<u64> {
        self.outbox.count_documents(doc! {}).await.map_err(map_err)
    }

    async fn count_dead_mail(&self) -> StoreResult<u64> {
        self.outbox
            .count_documents(doc! { "dead_at": { "$ne": null } })
            .await
            .map_err(map_err)
    }
}

#[async_trait]
impl Store for MongoStore {
    async fn ping(&self) -> StoreResult<()> {
        self.db
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(map_err)?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "mongodb"
    }
}
