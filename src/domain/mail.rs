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

/// Whether the mailbox `to` (`name <address>` or a bare address) delivers to `address`, which
/// is compared without regard to case: how mail waiting for someone is found when they leave.
pub fn mailbox_is_for(to: &str, address: &str) -> bool {
    let to = to.trim();
    let inner = match (to.rfind('<'), to.ends_with('>')) {
        (Some(open), true) => &to[open + 1..to.len() - 1],
        _ => to,
    };
    inner.trim().eq_ignore_ascii_case(address.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_is_matched_by_its_address_only() {
        assert!(mailbox_is_for("ada <ada@example.com>", "ada@example.com"));
        assert!(mailbox_is_for(
            "\"a <b>\" <Ada@Example.com>",
            "ada@example.com"
        ));
        assert!(mailbox_is_for("ada@example.com", "ADA@example.com"));
        assert!(!mailbox_is_for(
            "ada <ada@example.com.evil>",
            "ada@example.com"
        ));
        assert!(!mailbox_is_for("ada <xada@example.com>", "ada@example.com"));
        assert!(!mailbox_is_for(
            "ada@example.com <bob@example.com>",
            "ada@example.com"
        ));
    }
}
