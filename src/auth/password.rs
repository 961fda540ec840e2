//! argon2id hashing. It is deliberately slow, so it runs on a few dedicated threads that leave a
//! core free and run at a lower CPU priority: a login storm queues there and slows logins, not
//! every other request.

use std::{
    fmt,
    sync::{Arc, LazyLock, Mutex, mpsc},
};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash as Phc},
};

use crate::{
    error::{AppError, AppResult},
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

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads' queue: one thread per core but one, so a core is always left to the
/// request workers.
static HASHERS: LazyLock<mpsc::Sender<Job>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for i in 0..cores.saturating_sub(1).max(1) {
        let queue = queue.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                lower_priority();
                loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        if let Err(err) = spawned {
            tracing::error!(error = %err, "cannot start a password-hashing thread");
        }
    }
    jobs
});

/// Nice 10 for the calling thread (on Linux, priorities are per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only changes the scheduling priority of the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
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

async fn on_hashing_pool<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> AppResult<T> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // A panic drops `reply`, which the caller sees as a failure; the thread lives on.
        if let Ok(value) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let _ = reply.send(value);
        }
    });
    HASHERS
        .send(job)
        .map_err(|_| AppError::internal(anyhow::anyhow!("no password-hashing thread")))?;
    answer
        .await
        .map_err(|_| AppError::internal(anyhow::anyhow!("password hashing failed")))
}

pub async fn hash(password: Password) -> AppResult<PasswordHash> {
    on_hashing_pool(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|h| PasswordHash::new(h.to_string()))
            .map_err(|e| AppError::internal(anyhow::anyhow!("argon2 failed: {e}")))
    })
    .await?
}

/// `hash: None` means the account does not exist: a dummy hash is checked and `false` returned.
pub async fn verify(password: Password, hash: Option<PasswordHash>) -> AppResult<bool> {
    on_hashing_pool(move || {
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
