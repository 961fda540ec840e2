//! `DATABASE_URL`: which store to open.

use std::{path::PathBuf, str::FromStr};

use secrecy::SecretString;

/// Which store `DATABASE_URL` selects.
#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`; `None` is `sqlite::memory:`.
    Sqlite(Option<PathBuf>),
    /// `mongodb://…` or `mongodb+srv://…`; the database name comes from the URL path
    /// (default `quiz_llm`).
    Mongo(SecretString),
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "sqlite::memory:" || s == "sqlite://:memory:" {
            return Ok(DatabaseUrl::Sqlite(None));
        }
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://data/quiz-llm.db".into());
            }
            return Ok(DatabaseUrl::Sqlite(Some(PathBuf::from(path))));
        }
        if s.starts_with("mongodb://") || s.starts_with("mongodb+srv://") {
            return Ok(DatabaseUrl::Mongo(SecretString::from(s)));
        }
        Err("expected mongodb://…, mongodb+srv://…, sqlite://PATH or sqlite::memory:".into())
    }
}
