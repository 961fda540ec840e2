//! Strings that must never reach a log: `Debug` prints only the type's name.
//!
//! Configuration secrets are `secrecy::SecretString`. The two stored here are not: the stores
//! serialize them and the records holding them derive `PartialEq`, while `secrecy` deliberately
//! gives strings neither `Serialize` nor `PartialEq`: wrapping them would take more hand-written
//! code than these newtypes.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! redacted_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: String) -> Self {
                $name(value)
            }
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(***)", stringify!($name))
            }
        }
    };
}

redacted_string!(
    /// An argon2id PHC string.
    PasswordHash
);
redacted_string!(
    /// A session's refresh token; it never leaves the server.
    RefreshToken
);

impl PasswordHash {
    /// A hash no password matches, for an account made without one (a social sign-in). Marked
    /// as such (`!`, as a locked password in `/etc/shadow`), and different for each account, so
    /// the links that depend on the hash (a password reset) still tell accounts apart.
    pub fn unusable() -> Self {
        PasswordHash(format!("!{}", uuid::Uuid::new_v4().simple()))
    }

    /// Whether some password can match it.
    pub fn is_usable(&self) -> bool {
        !self.0.starts_with('!')
    }
}

/// SHA-256 of `data` in lower-case hex: how keys, tokens and codes are named or stored
/// without being revealed.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
