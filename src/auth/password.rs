//! argon2id hashing. It is deliberately slow, so it runs on the low-priority CPU threads
//! ([`crate::cpu`]): a login storm queues there and slows logins, not every other request.

use std::{fmt, sync::LazyLock};

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
/// "wrong password" and timing reveals nothing.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random: [u8; 16] = rand::random();
    Argon2::default()
        .hash_password(&random)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

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
pub async fn verify(password: Password, hash: Option<PasswordHash>) -> AppResult<bool> {
    cpu::run(move || {
        let known = hash.is_some();
        let phc = hash.map_or_else(|| DUMMY_HASH.clone(), |h| h.expose().to_owned());
        let matches = Phc::new(&phc)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.expose().as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && matches
    })
    .await
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
}
