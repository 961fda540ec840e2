//! CPU-heavy work (argon2, zxcvbn, the offline quiz generator) runs here, on a few dedicated
//! threads that leave a core free and run at a lower CPU priority: a storm of expensive requests
//! queues here and slows those requests, not every other one (`/healthz`, queries, refreshes).

use std::sync::{Arc, LazyLock, Mutex, mpsc};

use crate::domain::{AppError, AppResult};

type Job = Box<dyn FnOnce() + Send>;

/// The threads' queue: one thread per core but one, so a core is always left to the request
/// workers.
static WORKERS: LazyLock<mpsc::Sender<Job>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for i in 0..cores.saturating_sub(1).max(1) {
        let queue = queue.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("cpu-{i}"))
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
            tracing::error!(error = %err, "cannot start a CPU worker thread");
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

/// Runs `f` on the low-priority threads and waits for it without blocking an async worker.
pub async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // A panic drops `reply`, which the caller sees as a failure; the thread lives on.
        if let Ok(value) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let _ = reply.send(value);
        }
    });
    WORKERS
        .send(job)
        .map_err(|_| AppError::internal(anyhow::anyhow!("no CPU worker thread")))?;
    answer
        .await
        .map_err(|_| AppError::internal(anyhow::anyhow!("CPU-heavy job failed")))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn runs_off_the_calling_thread_and_survives_panics() {
        let caller = std::thread::current().id();
        let worker = super::run(|| std::thread::current().id()).await.unwrap();
        assert_ne!(worker, caller);
        assert!(super::run(|| panic!("boom")).await.is_err());
        assert_eq!(super::run(|| 2 + 2).await.unwrap(), 4);
    }
}
