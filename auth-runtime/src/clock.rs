//! Injectable time: [`SystemClock`] in production, [`ManualClock`] in tests.
//!
//! Everything that compares instants (token expiry, key grace periods) reads
//! the time through a [`Clock`], so tests can move time forward instead of
//! sleeping.
//!
//! ```
//! use std::time::Duration;
//! use lexigram_auth::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::at_unix(1_000);
//! let shared = clock.clone(); // clones share one time
//! clock.advance(Duration::from_secs(60));
//! assert_eq!(shared.unix_seconds(), 1_060);
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Whole seconds since the Unix epoch (0 for an instant before it).
    fn unix_seconds(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// The operating system's wall clock.
///
/// On Linux, [`unix_seconds`](Clock::unix_seconds) reads the kernel's
/// coarse real-time clock (`CLOCK_REALTIME_COARSE`, the time of the last
/// scheduler tick, 1 to 4 ms behind) instead of the precise one: at whole
/// seconds the two differ only in the first tick after each second, and
/// token verification, which reads the time once per token, gets cheaper.
/// [`now`](Clock::now) stays precise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn unix_seconds(&self) -> u64 {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
        u64::try_from(now.tv_sec).unwrap_or(0)
    }
}

/// A clock that moves only when told to, for tests. Clones share one time.
///
/// Millisecond resolution; instants before the Unix epoch read as the epoch.
#[derive(Clone)]
pub struct ManualClock {
    millis: Arc<AtomicU64>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("unix_millis", &self.millis.load(Ordering::Relaxed))
            .finish()
    }
}

fn to_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl ManualClock {
    /// A clock showing `start`.
    #[must_use]
    pub fn new(start: SystemTime) -> Self {
        Self {
            millis: Arc::new(AtomicU64::new(to_millis(start))),
        }
    }

    /// A clock showing `seconds` after the Unix epoch.
    #[must_use]
    pub fn at_unix(seconds: u64) -> Self {
        Self::new(UNIX_EPOCH + Duration::from_secs(seconds))
    }

    /// A clock showing the current system time.
    #[must_use]
    pub fn starting_now() -> Self {
        Self::new(SystemTime::now())
    }

    /// Sets the time.
    pub fn set(&self, now: SystemTime) {
        self.millis.store(to_millis(now), Ordering::SeqCst);
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let step = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(step))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        let since_epoch = Duration::from_millis(self.millis.load(Ordering::SeqCst));
        UNIX_EPOCH.checked_add(since_epoch).unwrap_or(UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn coarse_seconds_agree_with_the_precise_clock() {
        for _ in 0..1_000 {
            let before = super::SystemClock.now();
            let coarse = super::SystemClock.unix_seconds();
            let after = super::SystemClock.now();
            let secs = |t: std::time::SystemTime| {
                t.duration_since(super::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            };
            // The coarse clock lags by at most one tick (well under a second).
            assert!(
                coarse + 1 >= secs(before) && coarse <= secs(after),
                "{coarse}"
            );
        }
    }

    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at_unix(100);
        assert_eq!(clock.unix_seconds(), 100);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.unix_seconds(), 101);
        let other = clock.clone();
        other.set(UNIX_EPOCH + Duration::from_secs(5));
        assert_eq!(clock.unix_seconds(), 5);
        clock.advance(Duration::MAX);
        assert_eq!(clock.unix_seconds(), u64::MAX / 1000);
    }

    #[test]
    fn before_epoch_reads_as_epoch() {
        let clock = ManualClock::new(UNIX_EPOCH - Duration::from_secs(10));
        assert_eq!(clock.unix_seconds(), 0);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.unix_seconds() > 1_577_836_800);
    }
}
