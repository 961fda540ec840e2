//! Accounts and their login sessions.

use super::*;

const USER_COLUMNS: &str =
    "id, username, username_norm, email, email_norm, password_hash, is_active, created_at";

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: id_at(row, 0)?,
        username: Username::from_stored(row.get(1)?),
        username_norm: row.get(2)?,
        email: EmailAddress::from_stored(row.get(3)?),
        email_norm: row.get(4)?,
        password_hash: PasswordHash::new(row.get(5)?),
        is_active: row.get(6)?,
        created_at: time_at(row, 7)?,
    })
}

const SESSION_COLUMNS: &str = "id, refresh_token, created_at, expires_at, last_refreshed_at, \
     user_agent, generation, refresh_window, refreshes, refreshes_before";

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
        refreshes: WindowCount {
            window: row.get(7)?,
            current: row.get(8)?,
            previous: row.get(9)?,
        },
    })
}

pub(super) fn insert_user_row(c: &Connection, u: &UserRecord) -> rusqlite::Result<()> {
    c.prepare_cached(&format!(
        "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))?
    .execute(params![
        u.id.as_str(),
        u.username.as_str(),
        u.username_norm,
        u.email.as_str(),
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

    /// SQLite has no expiry of its own: the periodic purge is all there is.
    async fn expire_pending_users_after(&self, _ttl: std::time::Duration) -> StoreResult<()> {
        Ok(())
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
                "INSERT INTO sessions (user_id, {SESSION_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))?
            .execute(params![
                user,
                s.id.as_str(),
                s.refresh_token.expose(),
                millis(s.created_at),
                millis(s.expires_at),
                s.last_refreshed_at.map(millis),
                s.user_agent,
                s.generation,
                s.refreshes.window,
                s.refreshes.current,
                s.refreshes.previous
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
        rotation: &SessionRotation,
    ) -> StoreResult<bool> {
        let (user, session) = (user.to_string(), session.to_string());
        let (expected, r) = (expected.clone(), rotation.clone());
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE sessions SET refresh_token = ?1, last_refreshed_at = ?2, generation = ?3, \
                     refresh_window = ?4, refreshes = ?5, refreshes_before = ?6 \
                     WHERE user_id = ?7 AND id = ?8 AND refresh_token = ?9",
                )?
                .execute(params![
                    r.refresh_token.expose(),
                    millis(r.at),
                    r.generation,
                    r.refreshes.window,
                    r.refreshes.current,
                    r.refreshes.previous,
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
