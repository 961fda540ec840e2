//! Record ids. Each is a UUID in its own type, so a session id can never be passed where a
//! user id is wanted; ids that come from clients are parsed once, at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A stored or signed id that is not a UUID: corrupt data, never replaced by a made-up id.
#[derive(Debug, thiserror::Error)]
#[error("{kind} is not a UUID: {value:?}")]
pub struct InvalidId {
    kind: &'static str,
    value: String,
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        /// Kept as stored, but only if it is a UUID.
        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, InvalidId> {
                match uuid::Uuid::try_parse(&value) {
                    Ok(_) => Ok($name(value)),
                    Err(_) => Err(InvalidId { kind: stringify!($name), value }),
                }
            }
        }

        impl $name {
            pub fn new_random() -> Self {
                $name(uuid::Uuid::new_v4().to_string())
            }
            /// Ids arrive from clients; anything that is not a UUID cannot name a record.
            pub fn parse(raw: &str) -> Option<Self> {
                uuid::Uuid::parse_str(raw.trim()).ok().map(|u| $name(u.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A user's id (a UUID).
    UserId
);
string_id!(
    /// A login session's id (a random UUID, carried in access tokens as `sid`).
    SessionId
);

string_id!(
    /// A quiz's id.
    QuizId
);
string_id!(
    /// A graded submission's id.
    ResultId
);

string_id!(
    /// An outgoing e-mail waiting in the outbox.
    MailId
);
string_id!(
    /// A quiz generation job.
    JobId
);
string_id!(
    /// A quiz activity event.
    EventId
);
string_id!(
    /// A registered passkey (not its WebAuthn credential id, which the authenticator chose).
    PasskeyId
);
string_id!(
    /// A piece of uploaded study material.
    MaterialId
);
string_id!(
    /// A review card: one question of one user, on its FSRS schedule.
    ReviewCardId
);
string_id!(
    /// One review of a review card.
    ReviewLogId
);
string_id!(
    /// A passkey registration or login waiting for the authenticator's answer.
    PasskeyChallengeId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_uuid_deserializes_into_an_id() {
        let id = UserId::new_random();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<UserId>(&json).unwrap(), id);
        let err = serde_json::from_str::<UserId>("\"not-a-uuid\"").unwrap_err();
        assert!(err.to_string().contains("UserId is not a UUID"), "{err}");
    }
}
