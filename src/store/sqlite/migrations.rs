//! The schema: one SQL file per version (in `migrations/`), applied in order at start-up.

use anyhow::Context;
use rusqlite::Connection;

use crate::store::{UserKeys, renormalized};

/// Schema versions, applied in order, each in its own transaction: its SQL, then the Rust step
/// for what SQL cannot express. `PRAGMA user_version` records how many ran.
///
/// Hand-written (twenty lines): `rusqlite_migration`, the maintained runner with these
/// semantics, supports rusqlite up to 0.40 (its 2.6.0), and this build links rusqlite 0.43.
const MIGRATIONS: &[(&str, Option<RustStep>)] = &[
    (include_str!("migrations/01_users_and_sessions.sql"), None),
    (include_str!("migrations/02_quizzes_and_results.sql"), None),
    (include_str!("migrations/03_session_generation.sql"), None),
    (include_str!("migrations/04_outbox.sql"), None),
    (include_str!("migrations/05_dead_letters.sql"), None),
    (
        include_str!("migrations/06_user_keys.sql"),
        Some(renormalize_users),
    ),
    (include_str!("migrations/07_generation_jobs.sql"), None),
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

/// Once per open: WAL mode for a file (readers never wait for the writer), then the schema.
pub(super) fn prepare(conn: &Connection, file: bool) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn every_version_applies_once_and_a_newer_database_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        assert_eq!(version(&conn), MIGRATIONS.len() as i64);
        migrate(&conn).unwrap();
        assert_eq!(version(&conn), MIGRATIONS.len() as i64);

        conn.pragma_update(None, "user_version", 99).unwrap();
        let err = migrate(&conn).unwrap_err().to_string();
        assert!(err.contains("schema version 99"), "{err}");
        conn.pragma_update(None, "user_version", -1).unwrap();
        assert!(migrate(&conn).is_err());
    }
}
