//! Time as a dependency: services ask a [`Clock`] instead of the system, so tests move time
//! forward instead of sleeping until something expires.

use std::{
    fmt,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, SubsecRound, Utc};

pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds at most: both stores keep milliseconds, so values stay equal after a round
    /// trip.
    fn now(&self) -> DateTime<Utc>;
}

/// A clock shared by every service of one application.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(3)
    }
}

/// A clock that moves only when told, starting at the wall-clock time it was made.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new() -> Self {
        Self::starting_at(SystemClock.now())
    }

    pub fn starting_at(at: DateTime<Utc>) -> Self {
        ManualClock(Arc::new(Mutex::new(at.trunc_subsecs(3))))
    }

    pub fn advance(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).expect("a duration a clock can move by");
        *self.lock() += by;
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.lock() = at.trunc_subsecs(3);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A panic while holding this lock cannot leave a half-written time behind.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

/// The wall clock plus an offset that only grows: time passes as usual, and a test can jump
/// ahead past an expiry instead of sleeping until it.
#[derive(Debug, Clone, Default)]
pub struct OffsetClock(Arc<Mutex<chrono::Duration>>);

impl OffsetClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn advance(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).expect("a duration a clock can move by");
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::new();
        let start = clock.now();
        assert_eq!(clock.now(), start);
        clock.advance(std::time::Duration::from_secs(90));
        assert_eq!(clock.now() - start, chrono::Duration::seconds(90));
        assert_eq!(start.timestamp_subsec_nanos() % 1_000_000, 0);
    }

    #[test]
    fn an_offset_clock_runs_ahead_of_the_wall_clock() {
        let clock = OffsetClock::new();
        clock.advance(std::time::Duration::from_secs(3600));
        let ahead = clock.now() - SystemClock.now();
        assert!(ahead >= chrono::Duration::seconds(3599), "{ahead}");
    }
}
