//! MongoDB: users live in the `users` collection and carry their login sessions in a `sessions`
//! array, as the design asks. Writes that could race are single atomic updates that carry the
//! old value in their filter.

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::{
    Client, Collection, Database, IndexModel,
    bson::{Document, doc},
    error::{ErrorKind, WriteFailure},
    options::{Acknowledgment, ClientOptions, IndexOptions, ReturnDocument},
};
use serde::Deserialize;

use super::*;
use docs::*;

mod docs;
mod email_changes;
mod jobs;
mod limits;
mod materials;
mod mfa;
mod outbox;
mod passkeys;
mod quizzes;
mod reviews;
mod sign_in;
mod social;
mod streams;
mod users;

const DEFAULT_DATABASE: &str = "quiz_llm";
const DUPLICATE_KEY: i32 = 11000;
const USERNAME_INDEX: &str = "users_username_norm_unique";
const EMAIL_INDEX: &str = "users_email_norm_unique";
/// The TTL index that lets MongoDB delete unverified accounts by itself.
const PENDING_EXPIRY_INDEX: &str = "users_pending_expiry";
const INDEX_NOT_FOUND: i32 = 27;
/// Marks, in the `migrations` collection, that user keys follow the current look-alike
/// (confusables skeleton) and canonical address rules; a new rule gets a new mark.
const USER_KEYS_MIGRATION: &str = "user-keys-v3";
/// Racing sign-ups for one address each retry this often; each round one of them wins.
const REPLACE_ATTEMPTS: usize = 16;

/// `db.system.name` of every store span (each store call is one, at debug level: free while
/// nothing records it, so no wrapper is needed to switch spans off).
const SYSTEM: &str = "mongodb";

#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    users: Collection<UserDoc>,
    quizzes: Collection<QuizDoc>,
    results: Collection<ResultDoc>,
    outbox: Collection<MailDoc>,
    rate_limits: Collection<limits::CounterDoc>,
    jobs: Collection<JobDoc>,
    events: Collection<EventDoc>,
    passkeys: Collection<passkeys::PasskeyDoc>,
    passkey_challenges: Collection<passkeys::ChallengeDoc>,
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
        // Auth state must survive a failover: writes wait for MONGODB_WRITE_CONCERN (by default
        // a majority of the replica set), for at most `timeout`, unless the URL says otherwise.
        let concern = options.write_concern.get_or_insert_with(Default::default);
        concern.w.get_or_insert(match store_options.write_concern {
            super::WriteConcern::Majority => Acknowledgment::Majority,
            super::WriteConcern::Members(n) => Acknowledgment::Nodes(n),
        });
        concern.w_timeout.get_or_insert(timeout);
        // A write cut off by a failover or a dropped connection is retried once on the new
        // primary, without being applied twice (replica sets and sharded clusters only).
        options.retry_writes.get_or_insert(true);
        options.retry_reads.get_or_insert(true);
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
            rate_limits: db.collection("rate_limits"),
            jobs: db.collection("generation_jobs"),
            events: db.collection("quiz_events"),
            passkeys: db.collection("passkeys"),
            passkey_challenges: db.collection("passkey_challenges"),
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
        self.rate_limits
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "expires_at": 1 })
                    .options(
                        IndexOptions::builder()
                            .name("rate_limits_ttl".to_owned())
                            .expire_after(std::time::Duration::ZERO)
                            .build(),
                    )
                    .build(),
            )
            .await
            .context("creating MongoDB indexes on rate_limits")?;
        self.jobs
            .create_indexes([
                index(
                    doc! { "status": 1, "created_at": 1, "_id": 1 },
                    "jobs_claimable",
                ),
                index(doc! { "owner_id": 1, "status": 1 }, "jobs_by_owner"),
                index(doc! { "updated_at": 1 }, "jobs_by_change"),
            ])
            .await
            .context("creating MongoDB indexes on generation_jobs")?;
        self.events
            .create_index(index(doc! { "at": 1 }, "events_by_time"))
            .await
            .context("creating MongoDB indexes on quiz_events")?;
        self.create_passkey_indexes().await?;
        self.create_stream_lease_indexes().await?;
        self.create_material_indexes().await?;
        self.create_review_indexes().await?;
        self.create_social_indexes().await?;
        self.create_sign_in_request_indexes().await?;
        self.create_email_change_indexes().await?;
        Ok(())
    }
}

fn is_index_not_found(err: &mongodb::error::Error) -> bool {
    matches!(err.kind.as_ref(), ErrorKind::Command(e) if e.code == INDEX_NOT_FOUND)
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
        ErrorKind::BsonDeserialization(_) => StoreError::Corrupt(err.into()),
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. } => StoreError::Unavailable(err.into()),
        _ => StoreError::Other(err.into()),
    }
}

#[cfg(feature = "test-support")]
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
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store ping", db.system.name = SYSTEM, db.operation.name = "ping"))]
    async fn ping(&self) -> StoreResult<()> {
        self.db
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(map_err)?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        SYSTEM
    }
}
