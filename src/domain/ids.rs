//! Record ids. Each is a UUID in its own type, so a session id can never be passed where a
//! user id is wanted; ids that come from clients are parsed once, at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

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
