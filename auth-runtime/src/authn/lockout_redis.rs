//! The Redis lockout store (feature `redis`).

use std::time::Duration;

use redis::Script;
use redis::aio::{ConnectionLike, ConnectionManager};

use super::lockout::{Failures, LockoutConfig, LockoutStore};
use crate::store::redis::{BACKEND, redis_error};
use crate::store::{DEFAULT_TIMEOUT, StoreError, StoreFuture, bounded};

/// Adds a failure: `ARGV[1]` window, `ARGV[2]` max failures, `ARGV[3]`
/// lockout, all in seconds. Returns the count and the seconds to live.
const ADD_FAILURE: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// The count and the seconds to live of `KEYS[1]`, `{0, 0}` when absent.
const FAILURES: &str = r"
local n = redis.call('GET', KEYS[1])
if not n then return {0, 0} end
return {tonumber(n), redis.call('TTL', KEYS[1])}
";

/// A [`LockoutStore`] in Redis: application instances sharing it lock an
/// account together. Each failure is one atomic script (`INCR` and its
/// expiry), so concurrent failures on several instances are all counted;
/// records expire on their own (Redis TTL).
///
/// ```no_run
/// use std::sync::Arc;
/// use lexigram_auth::authn::{Lockout, LockoutConfig, RedisLockoutStore};
///
/// # async fn demo() -> Result<(), lexigram_auth::store::StoreError> {
/// let store = RedisLockoutStore::connect("redis://127.0.0.1:6379/").await?;
/// let lockout = Lockout::new(Arc::new(store), LockoutConfig::default());
/// assert!(!lockout.check("alice@example.com").await?.is_locked());
/// # Ok(())
/// # }
/// ```
pub struct RedisLockoutStore<C = ConnectionManager> {
    connection: C,
    timeout: Duration,
    prefix: String,
    add_failure: Script,
    failures: Script,
}

crate::store::redis::redis_store_common!(
    RedisLockoutStore,
    prefix_doc = "keys `<prefix>:lockout:<digest>`"
);

impl<C> RedisLockoutStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// A store on an existing connection (keys under the prefix `lexigram`).
    #[must_use]
    pub fn from_connection(connection: C) -> Self {
        Self {
            connection,
            timeout: DEFAULT_TIMEOUT,
            prefix: "lexigram".to_owned(),
            add_failure: Script::new(ADD_FAILURE),
            failures: Script::new(FAILURES),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:lockout:{key}", self.prefix)
    }
}

fn failures((count, ttl): (i64, i64)) -> Result<Failures, StoreError> {
    let count = u32::try_from(count).map_err(|_| StoreError::Corrupt {
        backend: BACKEND,
        detail: "a failure count out of range",
    })?;
    Ok(Failures {
        count,
        expires_in: u64::try_from(ttl).unwrap_or(0),
    })
}

impl<C> LockoutStore for RedisLockoutStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    fn failures<'a>(&'a self, key: &'a str, _now: u64) -> StoreFuture<'a, Failures> {
        Box::pin(bounded(BACKEND, self.timeout, async move {
            let mut connection = self.connection.clone();
            let reply: (i64, i64) = self
                .failures
                .key(self.key(key))
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            failures(reply)
        }))
    }

    fn add_failure<'a>(
        &'a self,
        key: &'a str,
        config: LockoutConfig,
        _now: u64,
    ) -> StoreFuture<'a, Failures> {
        Box::pin(bounded(BACKEND, self.timeout, async move {
            let mut connection = self.connection.clone();
            let reply: (i64, i64) = self
                .add_failure
                .key(self.key(key))
                .arg(config.window_seconds.max(1))
                .arg(config.max_failures)
                .arg(config.lockout_seconds.max(1))
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            failures(reply)
        }))
    }

    fn clear<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(bounded(BACKEND, self.timeout, async move {
            let mut connection = self.connection.clone();
            redis::cmd("DEL")
                .arg(self.key(key))
                .query_async::<i64>(&mut connection)
                .await
                .map_err(redis_error)?;
            Ok(())
        }))
    }
}
