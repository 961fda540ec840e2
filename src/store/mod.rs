//! Persistence behind traits, so the domain never names a database. `DATABASE_URL` picks the
//! implementation at start-up.

mod email_changes;
mod error;
mod keys;
mod materials;
pub mod mongo;
mod reviews;
mod settings;
mod sign_in;
mod social;
pub mod sqlite;
mod traits;
mod url;

use std::{any::Any, collections::HashSet, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

/// The domain's records, which both back ends persist; imported (not re-exported) so that
/// callers name them from `domain` and the back ends get them through `use super::*`.
use crate::domain::{
    AnswerRecord, Credentials, Difficulty, EmailAddress, EventId, FeedbackRecord,
    GenerationJobRecord, JobErrorRecord, JobId, JobInput, JobOutcome, JobStatus, Locale,
    MAX_SESSIONS_PER_USER, MailId, MfaChallenge, MfaRecord, OutboxRecord, PageAfter,
    PasskeyCeremony, PasskeyChallengeId, PasskeyChallengeRecord, PasskeyId, PasskeyRecord,
    PasswordHash, QuestionRecord, QuizEventKind, QuizEventRecord, QuizId, QuizKey, QuizKeyPage,
    QuizRecord, QuizResultRecord, QuizSource, RefreshToken, ResultId, SealedSecret, SessionId,
    SessionRecord, SignInMethod, UserId, UserRecord, Username, WindowCount,
};

pub use email_changes::EmailChangeStore;
pub use error::{Cause, StoreError, StoreResult, UniqueField};
pub use materials::StudyMaterialStore;
pub use reviews::{ReviewStore, day_number};
pub use settings::{StoreOptions, StoreSettings, WriteConcern};
pub use sign_in::SignInRequestStore;
pub use social::SocialStore;
#[cfg(feature = "test-support")]
pub use traits::StoreFixtures;
pub use traits::{
    EventStore, JobStore, MfaStore, OutboxStore, PasskeyStore, QuizStore, RateLimitStore,
    SessionRotation, Store, StreamLeaseStore, UserStore, WindowHits,
};
pub use url::DatabaseUrl;

use keys::{UserKeys, guest_email_key, renormalized};

/// Connects with the default [`StoreOptions`].
pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<Arc<dyn Store>> {
    connect_with(url, StoreOptions::default()).await
}

/// Connects, prepares the schema or indexes, and fails with a clear message when it cannot.
pub async fn connect_with(
    url: &DatabaseUrl,
    options: StoreOptions,
) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match url {
        DatabaseUrl::Sqlite(path) => {
            Arc::new(sqlite::SqliteStore::open_with(path.as_deref(), options).await?)
        }
        DatabaseUrl::Mongo(url) => {
            Arc::new(mongo::MongoStore::connect(url.expose_secret(), options).await?)
        }
    })
}
