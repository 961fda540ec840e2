//! CPU-heavy work (argon2, zxcvbn, the offline quiz generator) runs here, on a small rayon pool
//! whose threads leave a core free and run at a lower CPU priority: a storm of expensive requests
//! queues here and slows those requests, not every other one (`/healthz`, queries, refreshes).

use std::sync::LazyLock;

use crate::domain::{AppError, AppResult};

/// One thread per core but one, so a core is always left to the request workers. `None` when
/// the threads cannot start, which every job then reports as an internal error.
static WORKERS: LazyLock<Option<rayon::ThreadPool>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    rayon::ThreadPoolBuilder::new()
        .num_threads(cores.saturating_sub(1).max(1))
        .thread_name(|i| format!("cpu-{i}"))
        .start_handler(|_| lower_priority())
        .build()
        .inspect_err(|err| tracing::error!(error = %err, "cannot start the CPU worker threads"))
        .ok()
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
    let workers = WORKERS
        .as_ref()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no CPU worker thread")))?;
    let (reply, answer) = tokio::sync::oneshot::channel();
    workers.spawn(move || {
        // A panic drops `reply`, which the caller sees as a failure; the pool lives on.
        if let Ok(value) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let _ = reply.send(value);
        }
    });
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
