//! Account lockout: too many failed logins for one account lock it for a
//! while, whatever client they come from (AUTHN-5).
//!
//! Lockout is per *account* (the [normalised](super::normalize_email) login
//! identifier), unlike rate limiting, which is per client. It is checked
//! **before** any password hash is computed, so a locked account costs the
//! server nothing, and cleared by a successful login. Unknown identifiers are
//! counted exactly like known ones, so the lock does not reveal which
//! accounts exist. Store keys are SHA-256 digests of the identifier: a
//! shared Redis never holds e-mail addresses.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::normalize_email;
use crate::clock::{Clock, SystemClock};
use crate::store::{StoreError, StoreFuture};

/// When accounts lock.
///
/// ```
/// use lexigram_auth::authn::LockoutConfig;
///
/// let config = LockoutConfig::default();
/// assert_eq!((config.max_failures, config.window_seconds), (5, 300));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutConfig {
    /// Failed logins that lock the account (default 5).
    pub max_failures: u32,
    /// How long failures are counted, from the first one (default 300 s).
    pub window_seconds: u64,
    /// How long the account stays locked once locked (default 300 s).
    pub lockout_seconds: u64,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_seconds: 300,
            lockout_seconds: 300,
        }
    }
}

/// The failures recorded for one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Failures in the current window (0 when none is live).
    pub count: u32,
    /// Seconds until the record expires (0 when none is live).
    pub expires_in: u64,
}

/// Whether an account may try to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// Not locked; `failures` so far in the window.
    Open {
        /// Failures recorded in the current window.
        failures: u32,
    },
    /// Locked: no password is checked until `retry_after` seconds have passed.
    Locked {
        /// Seconds until the lock ends (at least 1).
        retry_after: u64,
    },
}

impl LockState {
    /// Whether the account is locked.
    #[must_use]
    pub fn is_locked(self) -> bool {
        matches!(self, Self::Locked { .. })
    }
}

/// Where failure counts live: [`MemoryLockoutStore`] for one process,
/// `RedisLockoutStore` (feature `redis`) for instances that must lock
/// together. Keys are opaque digests chosen by [`Lockout`].
pub trait LockoutStore: fmt::Debug + Send + Sync {
    /// The live failures under `key` at `now` (Unix seconds).
    fn failures<'a>(&'a self, key: &'a str, now: u64) -> StoreFuture<'a, Failures>;

    /// Atomically adds one failure under `key`: the first failure of a window
    /// makes the record live for `config.window_seconds`; the failure that
    /// reaches `config.max_failures` makes it live for
    /// `config.lockout_seconds` from now. Returns the failures after it.
    fn add_failure<'a>(
        &'a self,
        key: &'a str,
        config: LockoutConfig,
        now: u64,
    ) -> StoreFuture<'a, Failures>;

    /// Forgets the failures under `key`.
    fn clear<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;
}

/// Lockout per account over a [`LockoutStore`].
///
/// ```
/// use std::sync::Arc;
/// use lexigram_auth::authn::{Lockout, LockoutConfig, MemoryLockoutStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lexigram_auth::store::StoreError> {
/// let lockout = Lockout::new(Arc::new(MemoryLockoutStore::new()), LockoutConfig::default());
/// for _ in 0..5 {
///     lockout.record_failure("Alice@Example.com").await?;
/// }
/// // Any spelling of the identifier is the same account.
/// assert!(lockout.check(" alice@example.COM").await?.is_locked());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Lockout {
    store: Arc<dyn LockoutStore>,
    config: LockoutConfig,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Lockout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lockout")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Lockout {
    /// Lockout with `config` over `store`, on the system clock.
    #[must_use]
    pub fn new(store: Arc<dyn LockoutStore>, config: LockoutConfig) -> Self {
        Self {
            store,
            config,
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` for the windows of stores that take the time from the
    /// caller (the memory store; Redis keeps its own time).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> LockoutConfig {
        self.config
    }

    /// Whether `identifier`'s account is locked now.
    ///
    /// # Errors
    /// A [`StoreError`]: the caller must then refuse the login (fail closed).
    pub async fn check(&self, identifier: &str) -> Result<LockState, StoreError> {
        let failures = self
            .store
            .failures(&key(identifier), self.clock.unix_seconds())
            .await?;
        Ok(self.state(failures))
    }

    /// Records a failed login for `identifier` and says whether the account
    /// is now locked.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub async fn record_failure(&self, identifier: &str) -> Result<LockState, StoreError> {
        let failures = self
            .store
            .add_failure(&key(identifier), self.config, self.clock.unix_seconds())
            .await?;
        Ok(self.state(failures))
    }

    /// Clears `identifier`'s failures (after a successful login).
    ///
    /// # Errors
    /// A [`StoreError`].
    pub async fn clear(&self, identifier: &str) -> Result<(), StoreError> {
        self.store.clear(&key(identifier)).await
    }

    fn state(&self, failures: Failures) -> LockState {
        if self.config.max_failures > 0 && failures.count >= self.config.max_failures {
            LockState::Locked {
                retry_after: failures.expires_in.max(1),
            }
        } else {
            LockState::Open {
                failures: failures.count,
            }
        }
    }
}

/// The store key of an identifier: the hex SHA-256 of its normal form.
fn key(identifier: &str) -> String {
    Sha256::digest(normalize_email(identifier).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes between two sweeps of expired records in [`MemoryLockoutStore`].
const SWEEP_EVERY: u64 = 1024;

#[derive(Debug, Default)]
struct Counts {
    records: HashMap<String, (u32, u64)>,
    writes: u64,
}

/// A [`LockoutStore`] in process memory. Expired records are swept every
/// 1024 failures, so a flood of made-up identifiers cannot grow it beyond
/// what one window holds.
#[derive(Debug, Default)]
pub struct MemoryLockoutStore {
    counts: Mutex<Counts>,
}

impl MemoryLockoutStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records are held (live or not yet swept).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no record is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn live((count, expires_at): (u32, u64), now: u64) -> Failures {
    if expires_at > now {
        Failures {
            count,
            expires_in: expires_at - now,
        }
    } else {
        Failures {
            count: 0,
            expires_in: 0,
        }
    }
}

impl LockoutStore for MemoryLockoutStore {
    fn failures<'a>(&'a self, key: &'a str, now: u64) -> StoreFuture<'a, Failures> {
        Box::pin(async move {
            let counts = self.lock();
            Ok(counts
                .records
                .get(key)
                .map_or(live((0, 0), now), |record| live(*record, now)))
        })
    }

    fn add_failure<'a>(
        &'a self,
        key: &'a str,
        config: LockoutConfig,
        now: u64,
    ) -> StoreFuture<'a, Failures> {
        Box::pin(async move {
            let mut counts = self.lock();
            counts.writes = counts.writes.wrapping_add(1);
            if counts.writes.is_multiple_of(SWEEP_EVERY) {
                counts
                    .records
                    .retain(|_, (_, expires_at)| *expires_at > now);
            }
            let current = counts.records.get(key).map(|r| live(*r, now));
            let (count, mut expires_at) = match current {
                Some(f) if f.count > 0 => (f.count.saturating_add(1), now + f.expires_in),
                _ => (1, now.saturating_add(config.window_seconds)),
            };
            if count == config.max_failures {
                expires_at = now.saturating_add(config.lockout_seconds);
            }
            counts.records.insert(key.to_owned(), (count, expires_at));
            Ok(live((count, expires_at), now))
        })
    }

    fn clear<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.lock().records.remove(key);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    fn lockout(
        clock: &Arc<ManualClock>,
        config: LockoutConfig,
    ) -> (Lockout, Arc<MemoryLockoutStore>) {
        let store = Arc::new(MemoryLockoutStore::new());
        let lockout = Lockout::new(store.clone(), config).with_clock(clock.clone());
        (lockout, store)
    }

    #[tokio::test]
    async fn five_failures_lock_for_the_lockout_time_and_success_clears() {
        let clock = Arc::new(ManualClock::at_unix(1_000));
        let (lockout, _) = lockout(&clock, LockoutConfig::default());
        for n in 1..5 {
            assert_eq!(
                lockout.record_failure("a@b.c").await.unwrap(),
                LockState::Open { failures: n }
            );
        }
        assert_eq!(
            lockout.record_failure("A@B.C").await.unwrap(),
            LockState::Locked { retry_after: 300 }
        );
        clock.advance(Duration::from_secs(299));
        assert_eq!(
            lockout.check("a@b.c").await.unwrap(),
            LockState::Locked { retry_after: 1 }
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            lockout.check("a@b.c").await.unwrap(),
            LockState::Open { failures: 0 }
        );
        // Cleared by a success.
        lockout.record_failure("a@b.c").await.unwrap();
        lockout.clear(" a@B.c").await.unwrap();
        assert_eq!(
            lockout.check("a@b.c").await.unwrap(),
            LockState::Open { failures: 0 }
        );
    }

    #[tokio::test]
    async fn failures_outside_the_window_do_not_add_up() {
        let clock = Arc::new(ManualClock::at_unix(1_000));
        let (lockout, _) = lockout(&clock, LockoutConfig::default());
        for _ in 0..4 {
            lockout.record_failure("a@b.c").await.unwrap();
        }
        clock.advance(Duration::from_secs(300));
        assert_eq!(
            lockout.record_failure("a@b.c").await.unwrap(),
            LockState::Open { failures: 1 }
        );
        // Other accounts are not affected.
        assert_eq!(
            lockout.check("other@b.c").await.unwrap(),
            LockState::Open { failures: 0 }
        );
    }

    #[tokio::test]
    async fn expired_records_are_swept() {
        let clock = Arc::new(ManualClock::at_unix(1_000));
        let (lockout, store) = lockout(&clock, LockoutConfig::default());
        for i in 0..1_000 {
            lockout.record_failure(&format!("u{i}@x.y")).await.unwrap();
        }
        assert_eq!(store.len(), 1_000);
        clock.advance(Duration::from_secs(301));
        for i in 0..100 {
            lockout.record_failure(&format!("v{i}@x.y")).await.unwrap();
        }
        assert!(store.len() <= 100, "{}", store.len());
    }

    #[test]
    fn keys_are_digests_of_the_normal_form() {
        assert_eq!(key(" Alice@Example.COM"), key("alice@example.com"));
        assert_eq!(key("a").len(), 64);
        assert!(!key("alice@example.com").contains("alice"));
    }
}
