//! Users' unique keys as the back ends store them (guests' e-mail key, keys recomputed when
//! the normalisation rules change).

use super::*;

/// The e-mail key stored for a guest, which has no address but must fill the unique key: upper
/// case, which no lookup key ([`crate::domain::identity::email_key`]) ever is.
pub(super) fn guest_email_key(id: &UserId) -> String {
    format!("GUEST:{id}")
}

/// A user's unique keys as stored, for recomputing them when the rules change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UserKeys {
    pub(super) id: String,
    pub(super) username: String,
    pub(super) email: String,
    pub(super) username_norm: String,
    pub(super) email_norm: String,
}

/// The users whose stored keys differ from what the rules now give (the look-alike skeleton,
/// the canonical address), with their new keys. `users` come oldest first: when two now share a
/// key, the older keeps it and the younger gets `key#id`, which no lookup produces, and is named
/// in a warning (they log in with their other key).
pub(super) fn renormalized(users: Vec<UserKeys>) -> Vec<UserKeys> {
    use crate::domain::identity::{canonical_email, username_skeleton};
    let (mut names, mut emails) = (HashSet::new(), HashSet::new());
    let mut changed = Vec::new();
    for user in users {
        let claim = |taken: &mut HashSet<String>, key: String, what: &str| {
            if taken.insert(key.clone()) {
                key
            } else {
                tracing::warn!(user_id = %user.id, "an older account has the same {what}; this one can no longer log in with it");
                format!("{key}#{}", user.id)
            }
        };
        let username_norm = claim(&mut names, username_skeleton(&user.username), "username");
        let email_norm = claim(&mut emails, canonical_email(&user.email), "e-mail address");
        if (&username_norm, &email_norm) != (&user.username_norm, &user.email_norm) {
            changed.push(UserKeys {
                username_norm,
                email_norm,
                ..user
            });
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(id: &str, username: &str, email: &str) -> UserKeys {
        UserKeys {
            id: id.into(),
            username: username.into(),
            email: email.into(),
            username_norm: username.to_lowercase(),
            email_norm: email.to_lowercase(),
        }
    }

    #[test]
    fn the_older_account_keeps_a_shared_key() {
        let changed = renormalized(vec![
            keys("1", "alice", "alice@example.com"),
            keys("2", "bob", "bob@example.com"),
            keys("3", "aIice", "a3@example.com"),
            keys("4", "Carol", "carol@Bücher.de"),
        ]);
        assert_eq!(
            changed
                .iter()
                .map(|u| (
                    u.id.as_str(),
                    u.username_norm.as_str(),
                    u.email_norm.as_str()
                ))
                .collect::<Vec<_>>(),
            [
                ("1", "allce", "alice@example.com"),
                ("3", "allce#3", "a3@example.com"),
                ("4", "carol", "carol@xn--bcher-kva.de"),
            ]
        );
    }
}
