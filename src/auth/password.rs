//! argon2id hashing. It is deliberately slow, so it runs on the low-priority CPU threads
//! ([`crate::cpu`]): a login storm queues there and slows logins, not every other request.

use std::fmt;

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash as Phc},
};

use crate::{
    cpu,
    domain::{AppError, AppResult},
    store::PasswordHash,
};

/// A plaintext password on its way to the hasher; never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(value: impl Into<String>) -> Self {
        Password(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Verified against when the user does not exist, so that "no such user" takes as long as
/// "wrong password" and timing reveals nothing. A constant, so it can never come out empty: the
/// hash of a random password nobody kept, with the cost `Argon2::default()` hashes with (a unit
/// test checks both).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Q4Sc84qXwXu/xFc3wOY3+Q$kdAEaiYXdDKsm8AkSWHEnWOTe4B+cgNiQ77A8h8aYyA";

pub async fn hash(password: Password) -> AppResult<PasswordHash> {
    cpu::run(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|h| PasswordHash::new(h.to_string()))
            .map_err(|e| AppError::internal(anyhow::anyhow!("argon2 failed: {e}")))
    })
    .await?
}

/// `hash: None` means the account does not exist: a dummy hash is checked and `false` returned.
/// A stored hash that is not a PHC string is corrupt data, an error rather than a wrong password.
pub async fn verify(password: Password, hash: Option<PasswordHash>) -> AppResult<bool> {
    cpu::run(move || {
        let phc = hash.as_ref().map_or(DUMMY_HASH, PasswordHash::expose);
        let parsed = Phc::new(phc).map_err(|e| {
            AppError::internal(anyhow::anyhow!("stored password hash does not parse: {e}"))
        })?;
        let matches = Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok();
        Ok(hash.is_some() && matches)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = hash(Password::new("correct horse battery")).await.unwrap();
        assert!(h.expose().starts_with("$argon2id$"));
        assert!(
            verify(Password::new("correct horse battery"), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(Password::new("wrong horse battery"), Some(h))
                .await
                .unwrap()
        );
        assert!(!verify(Password::new("anything"), None).await.unwrap());
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let dummy = Phc::new(DUMMY_HASH).expect("the dummy hash is a PHC string");
        assert_eq!(dummy.algorithm, argon2::Algorithm::Argon2id.ident());
        let params = argon2::Params::try_from(&dummy).expect("argon2 parameters");
        let default = argon2::Params::default();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (default.m_cost(), default.t_cost(), default.p_cost())
        );
    }

    #[tokio::test]
    async fn a_stored_hash_that_does_not_parse_is_an_error() {
        let corrupt = PasswordHash::new(String::new());
        assert!(
            verify(Password::new("anything"), Some(corrupt))
                .await
                .is_err()
        );
    }
}
