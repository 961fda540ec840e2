//! The schema: one SQL file per version (in `migrations/`), applied in order at start-up.

use rusqlite::{Connection, Transaction};
use rusqlite_migration::{HookResult, M, Migrations};

use crate::store::{UserKeys, renormalized};

/// Schema versions, applied in order by `rusqlite_migration`, each in its own transaction: its
/// SQL, then a Rust hook for what SQL cannot express. `PRAGMA user_version` records how many ran.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("migrations/01_users_and_sessions.sql")),
        M::up(include_str!("migrations/02_quizzes_and_results.sql")),
        M::up(include_str!("migrations/03_session_generation.sql")),
        M::up(include_str!("migrations/04_outbox.sql")),
        M::up(include_str!("migrations/05_dead_letters.sql")),
        M::up_with_hook(
            include_str!("migrations/06_user_keys.sql"),
            |tx: &Transaction| -> HookResult { Ok(renormalize_users(tx)?) },
        ),
        M::up(include_str!("migrations/07_rate_limits.sql")),
        M::up(include_str!("migrations/08_mfa.sql")),
        M::up(include_str!("migrations/09_generation_jobs.sql")),
        M::up(include_str!("migrations/10_session_refreshes.sql")),
        M::up(include_str!("migrations/11_guests.sql")),
        M::up(include_str!("migrations/12_passkeys.sql")),
        M::up(include_str!("migrations/13_stream_leases.sql")),
        M::up(include_str!("migrations/14_session_authenticated_at.sql")),
        M::up_with_hook(
            include_str!("migrations/15_username_skeleton.sql"),
            |tx: &Transaction| -> HookResult { Ok(renormalize_users(tx)?) },
        ),
        M::up(include_str!("migrations/16_study_materials.sql")),
        M::up_with_hook(
            include_str!("migrations/17_user_locale.sql"),
            |tx: &Transaction| -> HookResult { Ok(add_user_locale(tx)?) },
        ),
        M::up(include_str!("migrations/18_review_cards.sql")),
        M::up(include_str!("migrations/19_sign_in_requests.sql")),
        M::up(include_str!("migrations/20_social_sign_in.sql")),
        M::up_with_hook(
            include_str!("migrations/21_account_disabled.sql"),
            |tx: &Transaction| -> HookResult { Ok(add_user_disabled(tx)?) },
        ),
        M::up(include_str!("migrations/22_email_changes.sql")),
    ])
}

/// `users.locale`, added only where it is missing: SQLite has no `ADD COLUMN IF NOT EXISTS`,
/// and a database wound back to an earlier version runs this again.
fn add_user_locale(conn: &Connection) -> rusqlite::Result<()> {
    let present: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('users') WHERE name = 'locale')",
        [],
        |r| r.get(0),
    )?;
    if !present {
        conn.execute(
            "ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT 'en'",
            [],
        )?;
    }
    Ok(())
}

/// `users.disabled`, added only where it is missing, like `locale` (see [`add_user_locale`]).
fn add_user_disabled(conn: &Connection) -> rusqlite::Result<()> {
    let present: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('users') WHERE name = 'disabled')",
        [],
        |r| r.get(0),
    )?;
    if !present {
        conn.execute(
            "ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0",
            [],
        )?;
    }
    Ok(())
}

/// Gives every user the keys the current rules compute (see [`renormalized`]). Guests (no
/// address) keep theirs: no rule recomputes a guest's placeholder address key.
fn renormalize_users(conn: &Connection) -> rusqlite::Result<()> {
    let users = conn
        .prepare(
            "SELECT id, username, email, username_norm, email_norm FROM users \
             WHERE email <> '' ORDER BY created_at, id",
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

/// Once per open: WAL mode for a file (readers never wait for the writer), then the schema.
pub(super) fn prepare(conn: &mut Connection, file: bool) -> anyhow::Result<()> {
    // Processes started together on one file take turns: switching to WAL needs the file to
    // themselves, which SQLite reports as busy rather than waiting for.
    let mut attempts = 0;
    loop {
        match prepare_once(conn, file) {
            Err(err) if attempts < 200 && is_busy(&err) => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            done => return done,
        }
    }
}

fn is_busy(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    })
}

fn prepare_once(conn: &mut Connection, file: bool) -> anyhow::Result<()> {
    if file {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "SQLite did not switch to WAL mode");
        }
    }
    migrate(conn)
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let migrations = migrations();
    let version = |conn: &Connection| -> i64 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap_or(-1)
    };
    loop {
        let before = version(conn);
        let Err(err) = migrations.to_latest(conn) else {
            return Ok(());
        };
        // Server processes started together on a new file all read the same old version, and
        // all but the first fail on what it has just created: one that failed while the version
        // moved on tries again from there. The version only grows, so this ends.
        let found = version(conn);
        if found > before {
            continue;
        }
        return Err(anyhow::Error::new(err).context(format!(
            "cannot bring the SQLite schema from version {found} up to date (this build knows \
             versions 0 to {KNOWN_VERSIONS})"
        )));
    }
}

/// How many versions [`migrations`] holds.
const KNOWN_VERSIONS: usize = 22;

#[cfg(test)]
mod tests {
    use super::*;

    fn version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn every_version_applies_once_and_a_newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), KNOWN_VERSIONS as i64);
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), KNOWN_VERSIONS as i64);

        conn.pragma_update(None, "user_version", 99).unwrap();
        let err = format!("{:#}", migrate(&mut conn).unwrap_err());
        assert!(err.contains("from version 99"), "{err}");
        conn.pragma_update(None, "user_version", -1).unwrap();
        assert!(migrate(&mut conn).is_err());
    }

    /// A database wound back before 21 (whose column stays) runs it again without failing.
    #[test]
    fn the_disabled_column_is_added_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.pragma_update(None, "user_version", 20).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), KNOWN_VERSIONS as i64);
        let columns: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'disabled'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(columns, 1);
    }

    /// A database wound back before 22 (whose table and rows stay) runs it again unharmed.
    #[test]
    fn the_email_changes_table_survives_a_second_run() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO email_changes (owner_id, old_email, old_email_norm, new_email, \
             new_email_norm, undo_token_hash, created_at, confirm_expires_at, expires_at) \
             VALUES ('u', 'a@example.com', 'a@example.com', 'b@example.com', 'b@example.com', \
             'h', 0, 1, 2)",
            [],
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 21).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), KNOWN_VERSIONS as i64);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM email_changes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
    }

    #[test]
    fn the_migration_list_is_valid_and_counted() {
        assert!(migrations().validate().is_ok());
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(
            migrations().current_version(&conn).unwrap(),
            rusqlite_migration::SchemaVersion::Inside(
                std::num::NonZeroUsize::new(KNOWN_VERSIONS).unwrap()
            )
        );
    }
}
