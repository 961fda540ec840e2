//! argon2id hashing. It is deliberately slow, so it runs on the low-priority CPU threads
//! ([`crate::cpu`]): a login storm queues there and slows logins, not every other request.

use std::{fmt, sync::Arc};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash as Phc},
};

use crate::{
    cpu,
    domain::PasswordHash,
    domain::{AppError, AppResult},
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

/// `PASSWORD_HASH_*`: argon2id's cost. The defaults are OWASP's (19 MiB, 2 passes); stored
/// hashes carry their own cost, so changing it affects new hashes only.
#[derive(Debug, Clone, clap::Args)]
pub struct HashCost {
    /// argon2id memory per password hash, in KiB (OWASP's recommendation with 2 iterations).
    /// Stored hashes keep their own cost, so a change affects new hashes only; below the
    /// default, a warning is logged at start-up.
    #[arg(long, env = "PASSWORD_HASH_MEMORY_KIB", default_value_t = 19_456)]
    pub password_hash_memory_kib: u32,
    /// argon2id passes over that memory.
    #[arg(long, env = "PASSWORD_HASH_ITERATIONS", default_value_t = 2)]
    pub password_hash_iterations: u32,
}

impl HashCost {
    /// The cheapest cost argon2 allows, for test suites that hash thousands of passwords.
    pub fn minimal() -> Self {
        HashCost {
            password_hash_memory_kib: argon2::Params::MIN_M_COST,
            password_hash_iterations: argon2::Params::MIN_T_COST,
        }
    }

    fn params(&self) -> anyhow::Result<argon2::Params> {
        argon2::Params::new(
            self.password_hash_memory_kib,
            self.password_hash_iterations,
            1,
            None,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "PASSWORD_HASH_MEMORY_KIB={} / PASSWORD_HASH_ITERATIONS={}: {e}",
                self.password_hash_memory_kib,
                self.password_hash_iterations
            )
        })
    }

    /// Below OWASP's recommendation: allowed (tests), but said at start-up.
    pub fn is_weak(&self) -> bool {
        let owasp = argon2::Params::default();
        self.password_hash_memory_kib < owasp.m_cost()
            || self.password_hash_iterations < owasp.t_cost()
    }
}

/// Hashes and checks passwords at the configured cost.
#[derive(Clone)]
pub struct Hasher {
    argon2: Argon2<'static>,
    /// Verified against when the user does not exist, so that "no such user" takes as long as
    /// "wrong password" and timing reveals nothing: the hash of a random password nobody kept,
    /// made at start-up at the configured cost, so it can never be empty or cheaper.
    dummy: Arc<str>,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher").finish_non_exhaustive()
    }
}

impl Hasher {
    pub fn new(cost: &HashCost) -> anyhow::Result<Self> {
        let argon2 = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            cost.params()?,
        );
        let nobodys: [u8; 32] = rand::random();
        let dummy = argon2
            .hash_password(&nobodys)
            .map_err(|e| anyhow::anyhow!("argon2 failed: {e}"))?
            .to_string();
        Ok(Hasher {
            argon2,
            dummy: dummy.into(),
        })
    }

    pub async fn hash(&self, password: Password) -> AppResult<PasswordHash> {
        let argon2 = self.argon2.clone();
        cpu::run(move || {
            argon2
                .hash_password(password.expose().as_bytes())
                .map(|h| PasswordHash::new(h.to_string()))
                .map_err(|e| AppError::internal(anyhow::anyhow!("argon2 failed: {e}")))
        })
        .await?
    }

    /// `hash: None` means the account does not exist: the dummy hash is checked and `false`
    /// returned. A stored hash that is not a PHC string is corrupt data, an error rather than a
    /// wrong password.
    pub async fn verify(&self, password: Password, hash: Option<PasswordHash>) -> AppResult<bool> {
        let (argon2, dummy) = (self.argon2.clone(), self.dummy.clone());
        cpu::run(move || {
            let phc = hash.as_ref().map_or(&*dummy, PasswordHash::expose);
            let parsed = Phc::new(phc).map_err(|e| {
                AppError::internal(anyhow::anyhow!("stored password hash does not parse: {e}"))
            })?;
            let matches = argon2
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok();
            Ok(hash.is_some() && matches)
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_cost() -> HashCost {
        crate::config::parse::defaults::<crate::Settings>()
            .auth
            .hash_cost
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hasher = Hasher::new(&HashCost::minimal()).unwrap();
        let h = hasher
            .hash(Password::new("correct horse battery"))
            .await
            .unwrap();
        assert!(h.expose().starts_with("$argon2id$"));
        assert!(
            hasher
                .verify(Password::new("correct horse battery"), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Password::new("wrong horse battery"), Some(h))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Password::new("anything"), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn the_default_cost_is_owasps_and_the_dummy_hash_costs_what_a_real_one_does() {
        let cost = default_cost();
        assert!(!cost.is_weak());
        assert!(HashCost::minimal().is_weak());
        let hasher = Hasher::new(&cost).unwrap();
        let dummy = Phc::new(&hasher.dummy).expect("the dummy hash is a PHC string");
        assert_eq!(dummy.algorithm, argon2::Algorithm::Argon2id.ident());
        let params = argon2::Params::try_from(&dummy).expect("argon2 parameters");
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19_456, 2, 1)
        );
    }

    #[test]
    fn a_cost_argon2_cannot_do_is_refused() {
        let cost = HashCost {
            password_hash_memory_kib: 1,
            password_hash_iterations: 2,
        };
        let err = Hasher::new(&cost).unwrap_err().to_string();
        assert!(err.contains("PASSWORD_HASH_MEMORY_KIB=1"), "{err}");
    }

    #[tokio::test]
    async fn a_stored_hash_that_does_not_parse_is_an_error() {
        let hasher = Hasher::new(&HashCost::minimal()).unwrap();
        let corrupt = PasswordHash::new(String::new());
        assert!(
            hasher
                .verify(Password::new("anything"), Some(corrupt))
                .await
                .is_err()
        );
    }
}
