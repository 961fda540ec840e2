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
    options::{ClientOptions, IndexOptions, ReturnDocument},
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

// How the records look in MongoDB: serde's remote derives name each field as stored (`_id`,
// `owner_id`, BSON dates) without copying the records into mirror structs, so the records' own
// serde format stays the JSON that SQLite keeps. A field added to a record fails to compile
// here until it is given a place.

#[derive(Serialize, Deserialize)]
#[serde(remote = "UserRecord")]
struct UserDef {
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
}

/// One element of a user's `sessions` array.
#[derive(Serialize, Deserialize)]
#[serde(remote = "SessionRecord")]
struct SessionDef {
    id: SessionId,
    refresh_token: RefreshToken,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    #[serde(with = "bson_time")]
    expires_at: DateTime<Utc>,
    #[serde(default, with = "bson_time::optional")]
    last_refreshed_at: Option<DateTime<Utc>>,
    user_agent: Option<String>,
    /// Absent in sessions written before refresh-reuse detection.
    #[serde(default)]
    generation: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "QuizRecord")]
struct QuizDef {
    #[serde(rename = "_id")]
    id: QuizId,
    #[serde(rename = "owner_id")]
    owner: UserId,
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

#[derive(Serialize, Deserialize)]
#[serde(remote = "QuizResultRecord")]
struct ResultDef {
    #[serde(rename = "_id")]
    id: ResultId,
    #[serde(rename = "owner_id")]
    owner: UserId,
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

/// A dead letter also has `dead_at`, which only filters and so stays out of the record.
#[derive(Serialize, Deserialize)]
#[serde(remote = "OutboxRecord")]
struct MailDef {
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
}

/// The documents the collections hold: each record in its MongoDB shape.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct UserDoc(#[serde(with = "UserDef")] UserRecord);
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct SessionDoc(#[serde(with = "SessionDef")] SessionRecord);
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct QuizDoc(#[serde(with = "QuizDef")] QuizRecord);
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct ResultDoc(#[serde(with = "ResultDef")] QuizResultRecord);
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct MailDoc(#[serde(with = "MailDef")] OutboxRecord);

/// A user's `sessions` field alone: absent is none, anything but an array of sessions fails.
#[derive(Deserialize)]
struct Sessions {
    #[serde(default)]
    sessions: Vec<SessionDoc>,
}

impl Sessions {
    fn records(self) -> Vec<SessionRecord> {
        self.sessions.into_iter().map(|SessionDoc(s)| s).collect()
    }
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

/// A new user: the record, with no sessions yet.
fn new_user_document(user: &UserRecord) -> StoreResult<Document> {
    let mut doc = to_document(&UserDoc(user.clone()))?;
    doc.insert("sessions", bson::Array::new());
    Ok(doc)
}

fn session_document(session: &SessionRecord) -> StoreResult<Document> {
    to_document(&SessionDoc(session.clone()))
}

fn to_document<T: Serialize>(value: &T) -> StoreResult<Document> {
    bson::to_document(value).map_err(|e| StoreError::Other(e.into()))
}

fn to_doc<T: Serialize>(value: &T) -> StoreResult<bson::Bson> {
    bson::to_bson(value).map_err(|e| StoreError::Other(e.into()))
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
        /// A user's keys alone.
        #[derive(Deserialize)]
        struct Keys {
            #[serde(rename = "_id")]
            id: UserId,
            username: String,
            email: String,
            username_norm: String,
            email_norm: String,
        }
        let users: Vec<Keys> = self
            .users
            .clone_with_type()
            .find(doc! {})
            .projection(doc! { "username": 1, "email": 1, "username_norm": 1, "email_norm": 1 })
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
            .map(|UserDoc(u)| u))
    }

    async fn insert_new_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.users
            .clone_with_type::<Document>()
            .insert_one(new_user_document(user)?)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn sessions_of(&self, user: &UserId) -> StoreResult<Vec<SessionRecord>> {
        Ok(self
            .users
            .clone_with_type::<Sessions>()
            .find_one(doc! { "_id": user.as_str() })
            .projection(doc! { "sessions": 1, "_id": 0 })
            .await
            .map_err(map_err)?
            .map_or_else(Vec::new, Sessions::records))
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
            match self.insert_new_user(user).await {
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
        let session = session_document(session)?;
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

    async fn list_sessions(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionRecord>> {
        let mut sessions = self.sessions_of(user).await?;
        // At most MAX_SESSIONS_PER_USER, so filtering here costs nothing.
        sessions.retain(|s| s.expires_at > now);
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
        let update = match keep {
            Some(keep) => doc! { "$pull": { "sessions": { "id": { "$ne": keep.as_str() } } } },
            None => doc! { "$set": { "sessions": [] } },
        };
        // One atomic update; the sessions it saw tell how many went.
        let before = self
            .users
            .clone_with_type::<Sessions>()
            .find_one_and_update(doc! { "_id": user.as_str() }, update)
            .projection(doc! { "sessions": 1, "_id": 0 })
            .return_document(ReturnDocument::Before)
            .await
            .map_err(map_err)?
            .map_or_else(Vec::new, Sessions::records);
        Ok(before.iter().filter(|s| Some(&s.id) != keep).count() as u64)
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
            .insert_one(QuizDoc(quiz.clone()))
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
            .map(|QuizDoc(q)| q))
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
        Ok(docs.into_iter().map(|QuizDoc(q)| q).collect())
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
            .insert_one(ResultDoc(result.clone()))
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
            .map(|ResultDoc(r)| r))
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
        Ok(docs.into_iter().map(|ResultDoc(r)| r).collect())
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
            .insert_one(MailDoc(mail.clone()))
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
        Ok(docs.into_iter().map(|MailDoc(m)| m).collect())
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

    async fn mark_mail_dead(
        &self,
        id: &MailId,
        attempts: u32,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.outbox
            .update_one(
                doc! { "_id": id.as_str() },
                doc! { "$set": {
                    "attempts": i64::from(attempts),
                    "last_error": error,
                    "dead_at": to_bson(at),
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

    async fn count_dead_mail(&self) -> StoreResult<u64> {
        self.outbox
            .count_documents(doc! { "dead_at": { "$ne": null } })
            .await
            .map_err(map_err)
    }
}

#[async_trait]
impl StoreFixtures for MongoStore {
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.insert_new_user(user).await
    }

    async fn count_mail(&self) -> StoreResult<u64> {
        self.outbox.count_documents(doc! {}).await.map_err(map_err)
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

#[cfg(test)]
mod tests {
    //! What the documents look like on disk: earlier builds wrote exactly these, so a change
    //! here is a change to every stored database.

    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn id<T: TryFrom<String, Error = crate::domain::InvalidId>>(n: u8) -> T {
        T::try_from(format!("00000000-0000-4000-8000-0000000000{n:02}")).unwrap()
    }

    fn same(actual: Document, expected: Document) {
        // Display shows the order and the BSON type of every value.
        assert_eq!(actual.to_string(), expected.to_string());
    }

    fn session() -> SessionRecord {
        SessionRecord {
            id: id(2),
            refresh_token: RefreshToken::new("rt".into()),
            created_at: at(1_000),
            expires_at: at(2_000),
            last_refreshed_at: Some(at(1_500)),
            user_agent: None,
            generation: 3,
        }
    }

    fn quiz() -> QuizRecord {
        QuizRecord {
            id: id(3),
            owner: id(1),
            title: "t".into(),
            description: "d".into(),
            topic: "p".into(),
            difficulty: Difficulty::Easy,
            source: QuizSource::Offline,
            language: "en".into(),
            questions: vec![QuestionRecord {
                number: 1,
                content: "q".into(),
                answer_type: AnswerType::TrueFalse,
                choices: vec![ChoiceRecord {
                    number: 1,
                    content: "True".into(),
                    correct: true,
                }],
                explanation: None,
            }],
            created_at: at(3_000),
        }
    }

    fn result() -> QuizResultRecord {
        QuizResultRecord {
            id: id(4),
            owner: id(1),
            quiz_id: id(3),
            quiz_title: "t".into(),
            language: "en".into(),
            answers: vec![AnswerRecord {
                question_number: 1,
                question: "q".into(),
                selected_choice: Some(1),
                selected_content: Some("True".into()),
                correct_choice: 1,
                correct_content: "True".into(),
                is_correct: true,
                explanation: None,
            }],
            correct_count: 1,
            total_questions: 1,
            score: 100.0,
            submitted_at: at(4_000),
            feedback: Some(FeedbackRecord {
                summary: "s".into(),
                items: vec![QuestionFeedbackRecord {
                    question_number: 1,
                    feedback: "f".into(),
                }],
            }),
        }
    }

    fn mail() -> OutboxRecord {
        OutboxRecord {
            id: id(5),
            to: "a <a@example.com>".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            attempts: 2,
            next_attempt_at: at(5_000),
            created_at: at(4_500),
            last_error: Some("e".into()),
        }
    }

    fn bson_at(ms: i64) -> bson::DateTime {
        bson::DateTime::from_millis(ms)
    }

    #[test]
    fn documents_keep_their_stored_shape() {
        let user = UserRecord {
            id: id(1),
            username: "Ada".into(),
            username_norm: "ada".into(),
            email: "Ada@example.com".into(),
            email_norm: "ada@example.com".into(),
            password_hash: PasswordHash::new("$argon2id$x".into()),
            is_active: true,
            created_at: at(500),
        };
        let session_doc = doc! {
            "id": id::<SessionId>(2).as_str(), "refresh_token": "rt", "created_at": bson_at(1_000),
            "expires_at": bson_at(2_000), "last_refreshed_at": bson_at(1_500),
            "user_agent": null, "generation": 3_i64,
        };
        same(
            new_user_document(&user).unwrap(),
            doc! {
                "_id": id::<UserId>(1).as_str(), "username": "Ada", "username_norm": "ada",
                "email": "Ada@example.com", "email_norm": "ada@example.com",
                "password_hash": "$argon2id$x", "is_active": true, "created_at": bson_at(500),
                "sessions": [],
            },
        );
        same(session_document(&session()).unwrap(), session_doc.clone());
        same(
            bson::to_document(&QuizDoc(quiz())).unwrap(),
            doc! {
                "_id": id::<QuizId>(3).as_str(), "owner_id": id::<UserId>(1).as_str(),
                "created_at": bson_at(3_000), "title": "t", "description": "d", "topic": "p",
                "difficulty": "EASY", "source": "OFFLINE", "language": "en",
                "questions": [{
                    "number": 1_i64, "content": "q", "answer_type": "TRUE_FALSE",
                    "choices": [{ "number": 1_i64, "content": "True", "correct": true }],
                    "explanation": null,
                }],
            },
        );
        same(
            bson::to_document(&ResultDoc(result())).unwrap(),
            doc! {
                "_id": id::<ResultId>(4).as_str(), "owner_id": id::<UserId>(1).as_str(),
                "quiz_id": id::<QuizId>(3).as_str(), "submitted_at": bson_at(4_000),
                "quiz_title": "t", "language": "en",
                "answers": [{
                    "question_number": 1_i64, "question": "q", "selected_choice": 1_i64,
                    "selected_content": "True", "correct_choice": 1_i64,
                    "correct_content": "True", "is_correct": true, "explanation": null,
                }],
                "correct_count": 1_i64, "total_questions": 1_i64, "score": 100.0,
                "feedback": { "summary": "s", "items": [{ "question_number": 1_i64, "feedback": "f" }] },
            },
        );
        same(
            bson::to_document(&MailDoc(mail())).unwrap(),
            doc! {
                "_id": id::<MailId>(5).as_str(), "to": "a <a@example.com>", "subject": "s",
                "text": "t", "html": "h", "attempts": 2_i64, "next_attempt_at": bson_at(5_000),
                "created_at": bson_at(4_500), "last_error": "e",
            },
        );
    }

    #[test]
    fn documents_read_back_as_the_records() {
        let user_doc = doc! {
            "_id": id::<UserId>(1).as_str(), "username": "Ada", "username_norm": "ada",
            "email": "a@example.com", "email_norm": "a@example.com", "password_hash": "h",
            "is_active": false, "created_at": bson_at(500), "sessions": [],
        };
        let UserDoc(user) = bson::from_document(user_doc).unwrap();
        assert_eq!((user.id, user.created_at), (id(1), at(500)));
        let s = session_document(&session()).unwrap();
        let SessionDoc(read) = bson::from_document(s).unwrap();
        assert_eq!(read, session());
        let QuizDoc(read) = bson::from_document(to_document(&QuizDoc(quiz())).unwrap()).unwrap();
        assert_eq!(read, quiz());
        let r = to_document(&ResultDoc(result())).unwrap();
        let ResultDoc(read) = bson::from_document(r).unwrap();
        assert_eq!(read, result());
        let mut m = to_document(&MailDoc(mail())).unwrap();
        m.insert("dead_at", bson_at(6_000));
        let MailDoc(read) = bson::from_document(m).unwrap();
        assert_eq!(read, mail());
    }
}
