//! MongoDB: users live in the `users` collection and carry their login sessions in a `sessions`
//! array, as the design asks. Writes that could race are single atomic updates that carry the
//! old value in their filter.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
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
    created_at: bson::DateTime,
    #[serde(default)]
    sessions: Vec<SessionDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionDoc {
    id: SessionId,
    refresh_token: RefreshToken,
    created_at: bson::DateTime,
    expires_at: bson::DateTime,
    last_refreshed_at: Option<bson::DateTime>,
    user_agent: Option<String>,
}

fn to_bson(t: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(t.timestamp_millis())
}

fn from_bson(t: bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or_default()
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
            created_at: from_bson(d.created_at),
        }
    }
}

impl From<&SessionRecord> for SessionDoc {
    fn from(s: &SessionRecord) -> Self {
        SessionDoc {
            id: s.id.clone(),
            refresh_token: s.refresh_token.clone(),
            created_at: to_bson(s.created_at),
            expires_at: to_bson(s.expires_at),
            last_refreshed_at: s.last_refreshed_at.map(to_bson),
            user_agent: s.user_agent.clone(),
        }
    }
}

impl From<SessionDoc> for SessionRecord {
    fn from(d: SessionDoc) -> Self {
        SessionRecord {
            id: d.id,
            refresh_token: d.refresh_token,
            created_at: from_bson(d.created_at),
            expires_at: from_bson(d.expires_at),
            last_refreshed_at: d.last_refreshed_at.map(from_bson),
            user_agent: d.user_agent,
        }
    }
}

#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    users: Collection<UserDoc>,
}

impl MongoStore {
    /// Connects, checks the server answers, and creates the indexes.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let mut options = ClientOptions::parse(url)
            .await
            .context("DATABASE_URL is not a valid MongoDB connection string")?;
        options.app_name.get_or_insert_with(|| "quiz-llm".into());
        options
            .server_selection_timeout
            .get_or_insert(Duration::from_secs(5));
        options
            .connect_timeout
            .get_or_insert(Duration::from_secs(5));
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
            db,
        };
        store.create_indexes().await?;
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
        self.users
            .create_indexes([
                unique(doc! { "username_norm": 1 }, USERNAME_INDEX),
                unique(doc! { "email_norm": 1 }, EMAIL_INDEX),
            ])
            .await
            .context("creating MongoDB indexes on users")?;
        Ok(())
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
        let sessions = self
            .db
            .collection::<Document>("users")
            .find_one(doc! { "_id": user.as_str() })
            .projection(doc! { "sessions": 1, "_id": 0 })
            .await
            .map_err(map_err)?
            .and_then(|d| d.get_array("sessions").ok().cloned())
            .unwrap_or_default();
        sessions
            .into_iter()
            .map(|s| {
                bson::from_bson::<SessionDoc>(s)
                    .map(SessionRecord::from)
                    .map_err(|e| StoreError::Other(e.into()))
            })
            .collect()
    }
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
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. } => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Other(err.into()),
    }
}

#[async_trait]
impl UserStore for MongoStore {
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        let doc = UserDoc {
            id: user.id.clone(),
            username: user.username.clone(),
            username_norm: user.username_norm.clone(),
            email: user.email.clone(),
            email_norm: user.email_norm.clone(),
            password_hash: user.password_hash.clone(),
            is_active: user.is_active,
            created_at: to_bson(user.created_at),
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
