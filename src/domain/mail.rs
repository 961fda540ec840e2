//! Outgoing e-mail waiting for delivery.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::MailId;

/// An e-mail that must not be lost: written before the first delivery attempt and removed only
/// once the mail server accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub id: MailId,
    /// A mailbox, e.g. `ada <ada@example.com>`.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_error: Option<String>,
}
