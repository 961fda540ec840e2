//! Accounts and their login sessions.

use super::*;

const USER_COLUMNS: &str = "id, username, username_norm, email, email_norm, password_hash, is_active, created_at, locale, disabled";

/// A guest's row has an empty address (no real one is): it reads back without credentials.
fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    let email: String = row.get(3)?;
    let credentials = if email.is_empty() {
        None
    } else {
        Some(Credentials {
            email: EmailAddress::from_stored(email),
            email_norm: row.get(4)?,
            password_hash: PasswordHash::new(row.get(5)?),
        })
    };
    Ok(UserRecord {
        id: id_at(row, 0)?,
        username: Username::from_stored(row.get(1)?),
        username_norm: row.get(2)?,
        credentials,
        is_active: row.get(6)?,
        created_at: time_at(row, 7)?,
        // Unknown tags (none are written) read as the default rather than failing the login.
        locale: Locale::from_tag(&row.get::<_, String>(8)?).unwrap_or_default(),
        disabled: row.get(9)?,
    })
}

/// The address, e-mail key and password hash columns of a user: empty ones and the placeholder
/// key for a guest.
fn credential_columns(u: &UserRecord) -> (String, String, String) {
    match &u.credentials {
        Some(c) => (
            c.email.as_str().to_owned(),
            c.email_norm.clone(),
            c.password_hash.expose().to_owned(),
        ),
        None => (String::new(), guest_email_key(&u.id), String::new()),
    }
}

const SESSION_COLUMNS: &str = "id, refresh_token, created_at, expires_at, last_refreshed_at, \
     user_agent, generation, sign_in_method, refresh_window, refreshes, refreshes_before, \
     authenticated_at";

fn session_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
    let method: String = row.get(7)?;
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
        method: SignInMethod::parse(&method).ok_or_else(|| {
            let err = format!("unknown sign-in method {method:?}");
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, err.into())
        })?,
        refreshes: WindowCount {
            window: row.get(8)?,
            current: row.get(9)?,
            previous: row.get(10)?,
        },
        authenticated_at: time_at(row, 11)?,
    })
}

pub(super) fn insert_user_row(c: &Connection, u: &UserRecord) -> rusqlite::Result<()> {
    let (email, email_norm, password_hash) = credential_columns(u);
    c.prepare_cached(&format!(
        "INSERT INTO users ({USER_COLUMNS}, is_guest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        u.id.as_str(),
        u.username.as_str(),
        u.username_norm,
        email,
        email_norm,
        password_hash,
        u.is_active,
        millis(u.created_at),
        u.locale.as_str(),
        u.disabled,
        u.is_guest()
    ])?;
    Ok(())
}

/// Deletes the never-verified holders of a username or e-mail key (but `except`) with
/// everything they own; returns how many went.
fn delete_pending_holders(
    c: &Connection,
    username_norm: &str,
    email_norm: &str,
    except: &UserId,
) -> rusqlite::Result<u64> {
    let ids = c
        .prepare_cached(
            "DELETE FROM users WHERE is_active = 0 AND id <> ?3 \
             AND (username_norm = ?1 OR email_norm = ?2) RETURNING id",
        )?
        .query_map(params![username_norm, email_norm, except.as_str()], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    delete_owned_data(c, &ids)?;
    Ok(ids.len() as u64)
}

/// Deletes what the users own outside their rows (sessions, MFA, passkeys and social links go
/// with the row, by their foreign keys).
pub(super) fn delete_owned_data(c: &Connection, ids: &[String]) -> rusqlite::Result<()> {
    for (table, column) in [
        ("quizzes", "owner_id"),
        ("quiz_results", "owner_id"),
        ("generation_jobs", "owner_id"),
        ("quiz_events", "owner_id"),
        ("study_materials", "owner_id"),
        ("review_cards", "owner_id"),
        ("review_logs", "owner_id"),
        ("review_settings", "owner_id"),
        ("passkey_challenges", "user_id"),
        ("stream_leases", "user_id"),
        ("sign_in_requests", "user_id"),
        ("social_logins", "link_to"),
        ("email_changes", "owner_id"),
    ] {
        let mut delete = c.prepare_cached(&format!("DELETE FROM {table} WHERE {column} = ?1"))?;
        for id in ids {
            delete.execute([id])?;
        }
    }
    Ok(())
}

/// Deletes the mail waiting to go to `email_norm`.
fn delete_mail_to(c: &Connection, email_norm: &str) -> rusqlite::Result<()> {
    let mail: Vec<String> = c
        .prepare_cached("SELECT id, json_extract(body, '$.to') FROM outbox")?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .filter_map(|row| match row {
            Ok((id, to)) if crate::domain::mailbox_is_for(&to, email_norm) => Some(Ok(id)),
            Ok(_) => None,
            Err(err) => Some(Err(err)),
        })
        .collect::<rusqlite::Result<_>>()?;
    let mut delete = c.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
    for id in mail {
        delete.execute([id])?;
    }
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
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_user", db.system.name = SYSTEM, db.operation.name = "find_user"))]
    async fn find_user(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.find_user_where("id", id.to_string()).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_user_by_username", db.system.name = SYSTEM, db.operation.name = "find_user_by_username"))]
    async fn find_user_by_username(&self, username_norm: &str) -> StoreResult<Option<UserRecord>> {
        self.find_user_where("username_norm", username_norm.to_owned())
            .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_user_by_email", db.system.name = SYSTEM, db.operation.name = "find_user_by_email"))]
    async fn find_user_by_email(&self, email_norm: &str) -> StoreResult<Option<UserRecord>> {
        self.find_user_where("email_norm", email_norm.to_owned())
            .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store activate_user", db.system.name = SYSTEM, db.operation.name = "activate_user"))]
    async fn activate_user(&self, id: &UserId) -> StoreResult<bool> {
        let id = id.to_string();
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE users SET is_active = 1, is_guest = 0 WHERE id = ?1 AND is_active = 0",
                )?
                .execute([id])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_user_disabled", db.system.name = SYSTEM, db.operation.name = "set_user_disabled"))]
    async fn set_user_disabled(&self, id: &UserId, disabled: bool) -> StoreResult<bool> {
        let id = id.to_string();
        self.run(move |c| {
            let n = c
                .prepare_cached("UPDATE users SET disabled = ?1 WHERE id = ?2")?
                .execute(params![disabled, id])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_user_locale", db.system.name = SYSTEM, db.operation.name = "set_user_locale"))]
    async fn set_user_locale(&self, id: &UserId, locale: Locale) -> StoreResult<bool> {
        let id = id.to_string();
        self.run(move |c| {
            let n = c
                .prepare_cached("UPDATE users SET locale = ?1 WHERE id = ?2")?
                .execute([locale.as_str(), &id])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_user_replacing_pending", db.system.name = SYSTEM, db.operation.name = "insert_user_replacing_pending"))]
    async fn insert_user_replacing_pending(&self, user: &UserRecord) -> StoreResult<u64> {
        let u = user.clone();
        self.run(move |c| {
            // One write transaction: a failed insert (a verified holder) rolls the delete back,
            // and racing sign-ups take turns.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (_, email_norm, _) = credential_columns(&u);
            let replaced = delete_pending_holders(&tx, &u.username_norm, &email_norm, &u.id)?;
            insert_user_row(&tx, &u)?;
            tx.commit()?;
            Ok(replaced)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store upgrade_guest", db.system.name = SYSTEM, db.operation.name = "upgrade_guest"))]
    async fn upgrade_guest(&self, user: &UserRecord) -> StoreResult<bool> {
        let u = user.clone();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (email, email_norm, password_hash) = credential_columns(&u);
            delete_pending_holders(&tx, &u.username_norm, &email_norm, &u.id)?;
            let n = tx
                .prepare_cached(
                    "UPDATE users SET username = ?1, username_norm = ?2, email = ?3, \
                     email_norm = ?4, password_hash = ?5, is_active = ?6, created_at = ?7 \
                     WHERE id = ?8 AND is_guest = 1 AND email = ''",
                )?
                .execute(params![
                    u.username.as_str(),
                    u.username_norm,
                    email,
                    email_norm,
                    password_hash,
                    u.is_active,
                    millis(u.created_at),
                    u.id.as_str()
                ])?;
            if n == 0 {
                // Dropping the transaction rolls the deletes back.
                return Ok(false);
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_pending_users", db.system.name = SYSTEM, db.operation.name = "delete_pending_users"))]
    async fn delete_pending_users(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "DELETE FROM users WHERE is_active = 0 AND is_guest = 0 AND created_at < ?1",
                )?
                .execute([millis(cutoff)])?;
            Ok(n as u64)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_user", db.system.name = SYSTEM, db.operation.name = "delete_user"))]
    async fn delete_user(&self, id: &UserId) -> StoreResult<bool> {
        let id = id.to_string();
        self.run(move |c| {
            // One transaction: all of it goes, or none.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // The confirmation of an address change was mailed for this account too.
            let pending: Option<String> = tx
                .prepare_cached("SELECT new_email_norm FROM email_changes WHERE owner_id = ?1")?
                .query_row([&id], |r| r.get(0))
                .optional()?;
            let Some(email_norm) = tx
                .prepare_cached("DELETE FROM users WHERE id = ?1 RETURNING email_norm")?
                .query_row([&id], |r| r.get::<_, String>(0))
                .optional()?
            else {
                return Ok(false);
            };
            delete_owned_data(&tx, std::slice::from_ref(&id))?;
            tx.prepare_cached("DELETE FROM sign_in_requests WHERE email_norm = ?1")?
                .execute([&email_norm])?;
            for address in std::iter::once(&email_norm).chain(&pending) {
                delete_mail_to(&tx, address)?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_idle_guests", db.system.name = SYSTEM, db.operation.name = "delete_idle_guests"))]
    async fn delete_idle_guests(&self, cutoff: DateTime<Utc>) -> StoreResult<Vec<UserId>> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let ids = tx
                .prepare_cached(
                    "DELETE FROM users WHERE is_guest = 1 AND created_at < ?1 AND NOT EXISTS \
                     (SELECT 1 FROM sessions s WHERE s.user_id = users.id \
                      AND COALESCE(s.last_refreshed_at, s.created_at) >= ?1) RETURNING id",
                )?
                .query_map([millis(cutoff)], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            delete_owned_data(&tx, &ids)?;
            tx.commit()?;
            ids.into_iter()
                .map(|id| {
                    UserId::try_from(id).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            0,
                            rusqlite::types::Type::Text,
                            e.into(),
                        )
                    })
                })
                .collect()
        })
        .await
    }

    /// SQLite has no expiry of its own: the periodic purge is all there is.
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store expire_pending_users_after", db.system.name = SYSTEM, db.operation.name = "expire_pending_users_after"))]
    async fn expire_pending_users_after(&self, _ttl: std::time::Duration) -> StoreResult<()> {
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store add_session", db.system.name = SYSTEM, db.operation.name = "add_session"))]
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
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
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
                s.method.as_str(),
                s.refreshes.window,
                s.refreshes.current,
                s.refreshes.previous,
                millis(s.authenticated_at)
            ])?;
            tx.prepare_cached(&format!(
                "DELETE FROM sessions WHERE user_id = ?1 AND id NOT IN \
                 (SELECT id FROM sessions WHERE user_id = ?1 \
                 ORDER BY created_at DESC, rowid DESC{})",
                limit_clause(MAX_SESSIONS_PER_USER)
            ))?
            .execute(params![user])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_session", db.system.name = SYSTEM, db.operation.name = "find_session"))]
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

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_sessions", db.system.name = SYSTEM, db.operation.name = "list_sessions"))]
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

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store rotate_refresh_token", db.system.name = SYSTEM, db.operation.name = "rotate_refresh_token"))]
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

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_session_authenticated", db.system.name = SYSTEM, db.operation.name = "set_session_authenticated"))]
    async fn set_session_authenticated(
        &self,
        user: &UserId,
        session: &SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (user, session) = (user.to_string(), session.to_string());
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE sessions SET authenticated_at = ?1 WHERE user_id = ?2 AND id = ?3",
                )?
                .execute(params![millis(at), user, session])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store remove_session", db.system.name = SYSTEM, db.operation.name = "remove_session"))]
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

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store remove_sessions", db.system.name = SYSTEM, db.operation.name = "remove_sessions"))]
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

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_password_hash", db.system.name = SYSTEM, db.operation.name = "set_password_hash"))]
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
