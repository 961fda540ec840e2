//! The embedded store: SQLite in WAL mode behind a `deadpool` connection pool. Writes run on the
//! blocking pool so the async workers never wait on disk; reads run on the calling task.

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

/// Schema versions, applied in order, each in its own transaction: its SQL, then the Rust step
/// for what SQL cannot express. `PRAGMA user_version` records how many ran.
///
/// Hand-written (twenty lines): `rusqlite_migration`, the maintained runner with these
/// semantics, supports rusqlite up to 0.40 (its 2.6.0), and this build links rusqlite 0.43.
const MIGRATIONS: &[(&str, Option<RustStep>)] = &[
    (
        include_str!("sqlite/migrations/01_users_and_sessions.sql"),
        None,
    ),
    (
        include_str!("sqlite/migrations/02_quizzes_and_results.sql"),
        None,
    ),
    (
        include_str!("sqlite/migrations/03_session_generation.sql"),
        None,
    ),
    (include_str!("sqlite/migrations/04_outbox.sql"), None),
    (include_str!("sqlite/migrations/05_dead_letters.sql"), None),
    (
        include_str!("sqlite/migrations/06_user_keys.sql"),
        Some(renormalize_users),
    ),
];
type RustStep = fn(&Connection) -> rusqlite::Result<()>;

/// Gives every user the keys the current rules compute (see [`renormalized`]).
fn renormalize_users(conn: &Connection) -> rusqlite::Result<()> {
    let users = conn
        .prepare(
            "SELECT id, username, email, username_norm, email_norm FROM users \
             ORDER BY created_at, id",
        )?
        .query_map([], |r| {
            Ok(UserKeys {
                id: r.get(0)?,
                username: r.get(1)?,
                email: r.get(2)?,
                username_norm: r.get(3)?,
                email_norm: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let changed = renormalized(users);
    // Park the changing keys on values no row can hold first, so that no update meets a key
    // another row is about to give up.
    for u in &changed {
        conn.execute(
            "UPDATE users SET username_norm = '#' || id, email_norm = '#' || id WHERE id = ?1",
            [&u.id],
        )?;
    }
    for u in &changed {
        conn.execute(
            "UPDATE users SET username_norm = ?1, email_norm = ?2 WHERE id = ?3",
            [&u.username_norm, &u.email_norm, &u.id],
        )?;
    }
    if !changed.is_empty() {
        tracing::info!(users = changed.len(), "recomputed username and e-mail keys");
    }
    Ok(())
}

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
        let conn = store.connection().await.with_context(described)?;
        let is_file = path.is_some();
        // No time limit here: a migration takes as long as it takes.
        tokio::task::spawn_blocking(move || prepare(&conn, is_file))
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
            other => StoreError::Other(anyhow::anyhow!("SQLite pool: {other}")),
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
            .map_err(|e| StoreError::Other(anyhow::anyhow!("SQLite task failed: {e}")))?
            .map_err(map_err)
    }
}

/// Once per open: WAL mode for a file (readers never wait for the writer), then the schema.
fn prepare(conn: &Connection, file: bool) -> anyhow::Result<()> {
    if file {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "SQLite did not switch to WAL mode");
        }
    }
    migrate(conn)
}

fn migrate(conn: &Connection) -> anyhow::Result<()> {
    let applied: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len();
    let applied = usize::try_from(applied)
        .ok()
        .filter(|&n| n <= known)
        .with_context(|| {
            format!(
                "the SQLite database has schema version {applied}, which this build does not \
                 know (it knows 0 to {known})"
            )
        })?;
    for (i, (sql, step)) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = i + 1;
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)
            .with_context(|| format!("SQLite migration {version} failed"))?;
        if let Some(step) = step {
            step(&tx).with_context(|| format!("SQLite migration {version} failed"))?;
        }
        tx.pragma_update(None, "user_version", version as i64)?;
        tx.commit()?;
    }
    Ok(())
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
        | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::Corrupt(err.to_string()),
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
            StoreError::Unavailable(err.to_string())
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

const USER_COLUMNS: &str =
    "id, username, username_norm, email, email_norm, password_hash, is_active, created_at";

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: id_at(row, 0)?,
        username: row.get(1)?,
        username_norm: row.get(2)?,
        email: row.get(3)?,
        email_norm: row.get(4)?,
        password_hash: PasswordHash::new(row.get(5)?),
        is_active: row.get(6)?,
        created_at: time_at(row, 7)?,
    })
}

const SESSION_COLUMNS: &str =
    "id, refresh_token, created_at, expires_at, last_refreshed_at, user_agent, generation";

fn session_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: id_at(row, 0)?,
        refresh_token: RefreshToken::new(row.get(1)?),
        created_at: time_at(row, 2)?,
        expires_at: time_at(row, 3)?,
        last_refreshed_at: row
            .get::<_, Option<i64>>(4)?
            .map(|ms| from_millis(4, ms))
            .transpose()?,
        user_agent: row.get(5)?,
        generation: row.get(6)?,
    })
}

fn insert_user_row(c: &Connection, u: &UserRecord) -> rusqlite::Result<()> {
    c.prepare_cached(&format!(
        "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))?
    .execute(params![
        u.id.as_str(),
        u.username,
        u.username_norm,
        u.email,
        u.email_norm,
        u.password_hash.expose(),
        u.is_active,
        millis(u.created_at)
    ])?;
    Ok(())
}

impl SqliteStore {
    async fn find_user_where(
        &self,
        column: &'static str,
        value: String,
    ) -> StoreResult<Option<UserRecord>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE {column} = ?1"
            ))?
            .query_row([value], user_from_row)
            .optional()
        })
        .await
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn find_user(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.find_user_where("id", id.to_string()).await
    }

    async fn find_user_by_username(&self, username_norm: &str) -> StoreResult<Option<UserRecord>> {
        self.find_user_where("username_norm", username_norm.to_owned())
            .await
    }

    async fn find_user_by_email(&self, email_norm: &str) -> StoreResult<Option<UserRecord>> {
        self.find_user_where("email_norm", email_norm.to_owned())
            .await
    }

    async fn activate_user(&self, id: &UserId) -> StoreResult<bool> {
        let id = id.to_string();
        self.run(move |c| {
            let n = c
                .prepare_cached("UPDATE users SET is_active = 1 WHERE id = ?1 AND is_active = 0")?
                .execute([id])?;
            Ok(n == 1)
        })
        .await
    }

    async fn insert_user_replacing_pending(&self, user: &UserRecord) -> StoreResult<u64> {
        let u = user.clone();
        self.run(move |c| {
            // One write transaction: a failed insert (a verified holder) rolls the delete back,
            // and racing sign-ups take turns.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let replaced = tx
                .prepare_cached(
                    "DELETE FROM users WHERE is_active = 0 AND (username_norm = ?1 OR email_norm = ?2)",
                )?
                .execute([&u.username_norm, &u.email_norm])?;
            insert_user_row(&tx, &u)?;
            tx.commit()?;
            Ok(replaced as u64)
        })
        .await
    }

    async fn delete_pending_users(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM users WHERE is_active = 0 AND created_at < ?1")?
                .execute([millis(cutoff)])?;
            Ok(n as u64)
        })
        .await
    }

    async fn add_session(&self, user: &UserId, session: &SessionRecord) -> StoreResult<bool> {
        let user = user.to_string();
        let s = session.clone();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists = tx
                .prepare_cached("SELECT 1 FROM users WHERE id = ?1")?
                .exists([&user])?;
            if !exists {
                return Ok(false);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO sessions (user_id, {SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?
            .execute(params![
                user,
                s.id.as_str(),
                s.refresh_token.expose(),
                millis(s.created_at),
                millis(s.expires_at),
                s.last_refreshed_at.map(millis),
                s.user_agent,
                s.generation
            ])?;
            tx.prepare_cached(
                "DELETE FROM sessions WHERE user_id = ?1 AND id NOT IN \
                 (SELECT id FROM sessions WHERE user_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2)",
            )?
            .execute(params![user, MAX_SESSIONS_PER_USER as i64])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn find_session(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> StoreResult<Option<SessionRecord>> {
        let (user, session) = (user.to_string(), session.to_string());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ?1 AND id = ?2"
            ))?
            .query_row([user, session], session_from_row)
            .optional()
        })
        .await
    }

    async fn list_sessions(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionRecord>> {
        let user = user.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ?1 AND expires_at > ?2 \
                 ORDER BY created_at DESC, rowid DESC"
            ))?
            .query_map(params![user, millis(now)], session_from_row)?
            .collect()
        })
        .await
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
        let (user, session) = (user.to_string(), session.to_string());
        let (expected, replacement) = (expected.clone(), replacement.clone());
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE sessions SET refresh_token = ?1, last_refreshed_at = ?2, generation = ?3 \
                     WHERE user_id = ?4 AND id = ?5 AND refresh_token = ?6",
                )?
                .execute(params![
                    replacement.expose(),
                    millis(at),
                    generation,
                    user,
                    session,
                    expected.expose()
                ])?;
            Ok(n == 1)
        })
        .await
    }

    async fn remove_session(&self, user: &UserId, session: &SessionId) -> StoreResult<bool> {
        let (user, session) = (user.to_string(), session.to_string());
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM sessions WHERE user_id = ?1 AND id = ?2")?
                .execute([user, session])?;
            Ok(n == 1)
        })
        .await
    }

    async fn remove_sessions(&self, user: &UserId, keep: Option<&SessionId>) -> StoreResult<u64> {
        let (user, keep) = (user.to_string(), keep.map(ToString::to_string));
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "DELETE FROM sessions WHERE user_id = ?1 AND (?2 IS NULL OR id <> ?2)",
                )?
                .execute(params![user, keep])?;
            Ok(n as u64)
        })
        .await
    }

    async fn set_password_hash(
        &self,
        user: &UserId,
        expected: &PasswordHash,
        replacement: &PasswordHash,
    ) -> StoreResult<bool> {
        let user = user.to_string();
        let (expected, replacement) = (expected.clone(), replacement.clone());
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE users SET password_hash = ?1 WHERE id = ?2 AND password_hash = ?3",
                )?
                .execute(params![replacement.expose(), user, expected.expose()])?;
            Ok(n == 1)
        })
        .await
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

#[async_trait]
impl QuizStore for SqliteStore {
    async fn insert_quiz(&self, quiz: &QuizRecord) -> StoreResult<()> {
        let q = quiz.clone();
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO quizzes (id, owner_id, created_at, body) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                q.id.as_str(),
                q.owner.as_str(),
                millis(q.created_at),
                to_json(&q)?
            ])?;
            Ok(())
        })
        .await
    }

    async fn find_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<Option<QuizRecord>> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.read(move |c| {
            c.prepare_cached("SELECT body FROM quizzes WHERE id = ?1 AND owner_id = ?2")?
                .query_row([id, owner], from_json)
                .optional()
        })
        .await
    }

    async fn list_quizzes(
        &self,
        owner: &UserId,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<Vec<QuizRecord>> {
        let (clause, mut args) = page_clause("created_at", after);
        args.insert(0, owner.to_string().into());
        args.push((limit as i64).into());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT body FROM quizzes WHERE owner_id = ?{clause} \
                 ORDER BY created_at DESC, id DESC LIMIT ?"
            ))?
            .query_map(rusqlite::params_from_iter(args), from_json)?
            .collect()
        })
        .await
    }

    async fn count_quizzes(&self, owner: &UserId) -> StoreResult<u64> {
        let owner = owner.to_string();
        self.read(move |c| {
            c.prepare_cached("SELECT COUNT(*) FROM quizzes WHERE owner_id = ?1")?
                .query_row([owner], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
        .await
    }

    async fn delete_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<bool> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM quizzes WHERE id = ?1 AND owner_id = ?2")?
                .execute([id, owner])?;
            Ok(n == 1)
        })
        .await
    }

    async fn insert_result(&self, result: &QuizResultRecord) -> StoreResult<()> {
        let r = result.clone();
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO quiz_results (id, owner_id, quiz_id, submitted_at, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                r.id.as_str(),
                r.owner.as_str(),
                r.quiz_id.as_str(),
                millis(r.submitted_at),
                to_json(&r)?
            ])?;
            Ok(())
        })
        .await
    }

    async fn find_result(
        &self,
        owner: &UserId,
        id: &ResultId,
    ) -> StoreResult<Option<QuizResultRecord>> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.read(move |c| {
            c.prepare_cached("SELECT body FROM quiz_results WHERE id = ?1 AND owner_id = ?2")?
                .query_row([id, owner], from_json)
                .optional()
        })
        .await
    }

    async fn list_results(
        &self,
        owner: &UserId,
        quiz: Option<&QuizId>,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<Vec<QuizResultRecord>> {
        let (mut clause, page_args) = page_clause("submitted_at", after);
        let mut args: Vec<rusqlite::types::Value> = vec![owner.to_string().into()];
        if let Some(quiz) = quiz {
            clause.insert_str(0, " AND quiz_id = ?");
            args.push(quiz.to_string().into());
        }
        args.extend(page_args);
        args.push((limit as i64).into());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT body FROM quiz_results WHERE owner_id = ?{clause} \
                 ORDER BY submitted_at DESC, id DESC LIMIT ?"
            ))?
            .query_map(rusqlite::params_from_iter(args), from_json)?
            .collect()
        })
        .await
    }

    async fn count_results(&self, owner: &UserId, quiz: Option<&QuizId>) -> StoreResult<u64> {
        let (owner, quiz) = (owner.to_string(), quiz.map(ToString::to_string));
        self.read(move |c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM quiz_results WHERE owner_id = ?1 \
                 AND (?2 IS NULL OR quiz_id = ?2)",
            )?
            .query_row(params![owner, quiz], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
        })
        .await
    }

    async fn set_feedback(
        &self,
        owner: &UserId,
        id: &ResultId,
        feedback: &FeedbackRecord,
    ) -> StoreResult<bool> {
        let (owner, id, feedback) = (owner.to_string(), id.to_string(), feedback.clone());
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE quiz_results SET body = json_set(body, '$.feedback', json(?1)) \
                     WHERE id = ?2 AND owner_id = ?3 AND json_extract(body, '$.feedback') IS NULL",
                )?
                .execute(params![to_json(&feedback)?, id, owner])?;
            Ok(n == 1)
        })
        .await
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue_mail(&self, mail: &OutboxRecord) -> StoreResult<()> {
        let m = mail.clone();
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO outbox (id, next_attempt_at, created_at, body) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                m.id.as_str(),
                millis(m.next_attempt_at),
                millis(m.created_at),
                to_json(&m)?
            ])?;
            Ok(())
        })
        .await
    }

    async fn due_mail(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<OutboxRecord>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT body, next_attempt_at FROM outbox \
                 WHERE next_attempt_at <= ?1 AND dead_at IS NULL \
                 ORDER BY next_attempt_at, created_at LIMIT ?2",
            )?
            .query_map(params![millis(now), limit as i64], |row| {
                // The column is the truth for scheduling; the JSON copy may lag behind it.
                let mut mail: OutboxRecord = from_json(row)?;
                mail.next_attempt_at = time_at(row, 1)?;
                Ok(mail)
            })?
            .collect()
        })
        .await
    }

    async fn claim_mail(
        &self,
        id: &MailId,
        expected: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let id = id.to_string();
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE outbox SET next_attempt_at = ?1 WHERE id = ?2 AND next_attempt_at = ?3",
                )?
                .execute(params![millis(until), id, millis(expected)])?;
            Ok(n == 1)
        })
        .await
    }

    async fn reschedule_mail(
        &self,
        id: &MailId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        let (id, error) = (id.to_string(), error.to_owned());
        self.run(move |c| {
            c.prepare_cached(
                "UPDATE outbox SET next_attempt_at = ?1, \
                 body = json_set(body, '$.attempts', ?2, '$.last_error', ?3) WHERE id = ?4",
            )?
            .execute(params![millis(next_attempt_at), attempts, error, id])?;
            Ok(())
        })
        .await
    }

    async fn mark_mail_dead(
        &self,
        id: &MailId,
        attempts: u32,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (id, error) = (id.to_string(), error.to_owned());
        self.run(move |c| {
            c.prepare_cached(
                "UPDATE outbox SET dead_at = ?1, \
                 body = json_set(body, '$.attempts', ?2, '$.last_error', ?3) WHERE id = ?4",
            )?
            .execute(params![millis(at), attempts, error, id])?;
            Ok(())
        })
        .await
    }

    async fn requeue_dead_mail(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE outbox SET dead_at = NULL, next_attempt_at = ?1, \
                     body = json_set(body, '$.attempts', 0) WHERE dead_at IS NOT NULL",
                )?
                .execute([millis(now)])?;
            Ok(n as u64)
        })
        .await
    }

    async fn remove_mail(&self, id: &MailId) -> StoreResult<()> {
        let id = id.to_string();
        self.run(move |c| {
            c.prepare_cached("DELETE FROM outbox WHERE id = ?1")?
                .execute([id])?;
            Ok(())
        })
        .await
    }

    async fn count_dead_mail(&self) -> StoreResult<u64> {
        self.read(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL")?
                .query_row([], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
        .await
    }
}

#[async_trait]
impl StoreFixtures for SqliteStore {
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        let u = user.clone();
        self.run(move |c| insert_user_row(c, &u)).await
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
    async fn ping(&self) -> StoreResult<()> {
        self.run(|c| {
            c.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
            Ok(())
        })
        .await
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }
}
