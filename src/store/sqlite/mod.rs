//! The embedded store: SQLite in WAL mode behind a `deadpool` connection pool. Writes run on the
//! blocking pool so the async workers never wait on disk; reads run on the calling task.

mod email_changes;
mod jobs;
mod limits;
mod materials;
mod mfa;
mod migrations;
mod outbox;
mod passkeys;
mod quizzes;
mod reviews;
mod sign_in;
mod social;
mod streams;
mod users;

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool::{
    Runtime,
    managed::{Manager, Metrics, Object, Pool, PoolError, RecycleResult},
};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::*;

/// Opens the pool's connections: to the file, or (once only) the in-memory database.
struct Connector {
    path: Option<PathBuf>,
    timeout: Duration,
    memory_opened: AtomicBool,
}

impl Manager for Connector {
    type Type = Connection;
    type Error = rusqlite::Error;

    /// Opening takes well under a millisecond and happens at most once per pool slot, so it
    /// runs where the first caller waits.
    async fn create(&self) -> rusqlite::Result<Connection> {
        match &self.path {
            Some(path) => open_connection(path, self.timeout),
            // A second in-memory connection would be a second, empty database.
            None if self.memory_opened.swap(true, Ordering::SeqCst) => Err(
                rusqlite::Error::InvalidPath("in-memory database was lost".into()),
            ),
            None => {
                let conn = Connection::open_in_memory()?;
                configure(&conn, self.timeout)?;
                Ok(conn)
            }
        }
    }

    /// A connection goes back as it came: statements and transactions end inside the closures.
    async fn recycle(&self, _: &mut Connection, _: &Metrics) -> RecycleResult<rusqlite::Error> {
        Ok(())
    }
}

fn open_connection(path: &Path, timeout: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn, timeout)?;
    Ok(conn)
}

/// `timeout` bounds how long a statement waits for another connection's lock.
fn configure(conn: &Connection, timeout: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(timeout)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// `db.system.name` of every store span (each store call is one, at debug level: free while
/// nothing records it, so no wrapper is needed to switch spans off).
const SYSTEM: &str = "sqlite";

#[derive(Clone)]
pub struct SqliteStore {
    pool: Pool<Connector>,
    timeout: Duration,
}

impl SqliteStore {
    /// `None` opens a private in-memory database (one connection, so every call sees it).
    pub async fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        Self::open_with(path, StoreOptions::default()).await
    }

    /// Opens the pool (`DATABASE_POOL_SIZE` file connections, waited for at most
    /// `DATABASE_TIMEOUT`), switches the file to WAL mode and migrates it.
    pub async fn open_with(path: Option<&Path>, options: StoreOptions) -> anyhow::Result<Self> {
        if let Some(parent) = path
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("cannot create the folder {} for SQLite", parent.display())
            })?;
        }
        let size = if path.is_some() {
            options.pool_size.max(1)
        } else {
            1
        };
        let pool = Pool::builder(Connector {
            path: path.map(Path::to_path_buf),
            timeout: options.timeout,
            memory_opened: AtomicBool::new(false),
        })
        .max_size(size)
        .wait_timeout(Some(options.timeout))
        .create_timeout(Some(options.timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .context("building the SQLite pool")?;
        let store = SqliteStore {
            pool,
            timeout: options.timeout,
        };
        let described = || match path {
            Some(path) => format!("cannot open SQLite database {}", path.display()),
            None => "cannot open the in-memory SQLite database".into(),
        };
        let mut conn = store.connection().await.with_context(described)?;
        let is_file = path.is_some();
        // No time limit here: a migration takes as long as it takes.
        tokio::task::spawn_blocking(move || migrations::prepare(&mut conn, is_file))
            .await?
            .with_context(described)?;
        Ok(store)
    }

    /// A connection from the pool, waited for at most the configured timeout.
    async fn connection(&self) -> StoreResult<Object<Connector>> {
        self.pool.get().await.map_err(|err| match err {
            PoolError::Backend(e) => map_err(e),
            PoolError::Timeout(_) => {
                StoreError::Unavailable("no SQLite connection became free in time".into())
            }
            PoolError::Closed => StoreError::Unavailable("SQLite pool closed".into()),
            other => StoreError::Other(anyhow::Error::new(other).context("SQLite pool")),
        })
    }

    /// Runs a read on the calling task. In WAL mode readers never wait for a lock, and a read
    /// of a few indexed rows takes microseconds, less than handing it to another thread would.
    async fn read<R, F>(&self, f: F) -> StoreResult<R>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<R>,
    {
        let mut conn = self.connection().await?;
        f(&mut conn).map_err(map_err)
    }

    /// Runs `f` with a pooled connection on the blocking pool; gives up after the configured
    /// timeout (the statement itself is bounded by SQLite's busy timeout).
    async fn run<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let mut conn = self.connection().await?;
        let work = tokio::task::spawn_blocking(move || f(&mut conn));
        // The busy timeout bounds lock waits; this bounds everything else (a stalled disk).
        tokio::time::timeout(self.timeout + Duration::from_secs(1), work)
            .await
            .map_err(|_| StoreError::Unavailable("SQLite did not answer in time".into()))?
            .map_err(|e| StoreError::Other(anyhow::Error::new(e).context("SQLite task failed")))?
            .map_err(map_err)
    }
}
fn map_err(err: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(e, Some(msg)) = &err
        && e.code == ErrorCode::ConstraintViolation
    {
        if msg.contains("users.username_norm") {
            return StoreError::Conflict(UniqueField::Username);
        }
        if msg.contains("users.email_norm") {
            return StoreError::Conflict(UniqueField::Email);
        }
    }
    match &err {
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::Corrupt(err.into()),
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(
                e.code,
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::CannotOpen
                    | ErrorCode::ReadOnly
                    | ErrorCode::DiskFull
                    | ErrorCode::SystemIoFailure
            ) =>
        {
            StoreError::Unavailable(err.into())
        }
        _ => StoreError::Other(err.into()),
    }
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Column `idx` as a time; a value out of range is a corrupt row, never 1970.
fn time_at(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    from_millis(idx, row.get(idx)?)
}

fn from_millis(idx: usize, ms: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| {
        let err = format!("timestamp {ms} ms is out of range");
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Integer, err.into())
    })
}

/// Column `idx` as an id; a value that is not a UUID is a corrupt row, never a random id.
fn id_at<T>(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: TryFrom<String, Error = crate::domain::InvalidId>,
{
    T::try_from(row.get::<_, String>(idx)?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, e.into())
    })
}
/// Column `idx` as an optional id (NULL is `None`); corrupt like [`id_at`] otherwise.
fn optional_id_at<T>(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<T>>
where
    T: TryFrom<String, Error = crate::domain::InvalidId>,
{
    match row.get::<_, Option<String>>(idx)? {
        Some(_) => id_at(row, idx).map(Some),
        None => Ok(None),
    }
}

/// Quizzes and results are stored whole as JSON beside the columns that are filtered and sorted on.
fn to_json<T: serde::Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

fn from_json<T: serde::de::DeserializeOwned>(row: &rusqlite::Row<'_>) -> rusqlite::Result<T> {
    let body: String = row.get(0)?;
    serde_json::from_str(&body).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

/// ` LIMIT n`, written into the statement's text rather than bound: SQLite re-prepares a
/// statement on every run when its LIMIT is a parameter (the planner reads the value), which
/// cost a `quizzes` page about 7 % of its CPU. A number, so no request text reaches the SQL.
fn limit_clause(n: usize) -> String {
    format!(" LIMIT {n}")
}

/// `AND (time, id) < (after.at, after.id)` for newest-first keyset pages.
fn page_clause(column: &str, after: Option<&PageAfter>) -> (String, Vec<rusqlite::types::Value>) {
    match after {
        Some(a) => (
            format!(" AND ({column} < ? OR ({column} = ? AND id < ?))"),
            vec![
                millis(a.at).into(),
                millis(a.at).into(),
                a.id.clone().into(),
            ],
        ),
        None => (String::new(), Vec::new()),
    }
}
#[cfg(feature = "test-support")]
#[async_trait]
impl StoreFixtures for SqliteStore {
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        let u = user.clone();
        self.run(move |c| users::insert_user_row(c, &u)).await
    }

    async fn count_mail(&self) -> StoreResult<u64> {
        self.read(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM outbox")?
                .query_row([], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    /// Ready means writable: takes (and at once releases) the write lock, so a database that
    /// is locked or read-only reads as down.
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store ping", db.system.name = SYSTEM, db.operation.name = "ping"))]
    async fn ping(&self) -> StoreResult<()> {
        self.run(|c| {
            c.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
            Ok(())
        })
        .await
    }

    fn kind(&self) -> &'static str {
        SYSTEM
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;

    /// A page statement runs again from its cached plan; with `LIMIT ?` SQLite re-prepares it on
    /// every run.
    #[test]
    fn page_statements_are_prepared_once() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (owner TEXT, at INTEGER);
             CREATE INDEX t_owner_at ON t (owner, at DESC);
             INSERT INTO t VALUES ('a', 1), ('a', 2), ('b', 3);",
        )
        .unwrap();
        let sql = format!(
            "SELECT at FROM t WHERE owner = ?1 ORDER BY at DESC{}",
            limit_clause(2)
        );
        for owner in ["a", "b", "a", "b"] {
            let mut stmt = conn.prepare_cached(&sql).unwrap();
            let rows: Vec<i64> = stmt
                .query_map([owner], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(!rows.is_empty());
        }
        let stmt = conn.prepare_cached(&sql).unwrap();
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
    }
}
