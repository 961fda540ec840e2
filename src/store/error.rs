//! What a store call can fail with, and how that reaches the domain.

/// Which unique field a write collided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum UniqueField {
    Username,
    Email,
}

impl UniqueField {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The driver's error (or a description, where there is none) behind a [`StoreError`].
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong, with the driver's error kept as the source: logs print the whole chain
/// (`{:#}` of the `anyhow::Error` it becomes), GraphQL errors only ever say `INTERNAL`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("duplicate {}", .0.as_str())]
    Conflict(UniqueField),
    #[error("database unavailable")]
    Unavailable(#[source] Cause),
    /// A stored row or document that does not decode into a record: an error, never a record
    /// with made-up values.
    #[error("stored data does not decode")]
    Corrupt(#[source] Cause),
    #[error("database error")]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// The error and its causes (`database unavailable: database is locked`) for a log line,
    /// where `Display` alone names only the first.
    pub fn chain(&self) -> impl std::fmt::Display + '_ {
        Chain(self)
    }
}

struct Chain<'a>(&'a StoreError);

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = std::error::Error::source(self.0);
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

impl From<StoreError> for crate::domain::AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(field) => crate::domain::AppError::Conflict {
                field: field.as_str(),
            },
            other => crate::domain::AppError::Internal(other.into()),
        }
    }
}
