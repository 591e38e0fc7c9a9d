//! The Redis rate limiter (feature `redis`).

use std::time::Duration;

use redis::Script;
use redis::aio::{ConnectionLike, ConnectionManager};

use super::{Decision, Quota, RateLimiter};
use crate::store::redis::{BACKEND, redis_error};
use crate::store::{DEFAULT_TIMEOUT, StoreFuture, bounded};

/// The GCRA in one script, on Redis's own clock (`TIME`), so that every
/// instance measures time alike: `ARGV[1]` the emission interval and
/// `ARGV[2]` the period, in microseconds. Returns `{1, remaining}` or
/// `{0, microseconds to wait}`.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if not tat or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((period - (new_tat - now)) / interval)}
";

/// A [`RateLimiter`] in Redis: instances sharing it share every limit
/// exactly. Each check is one script (read, decide, write) on Redis's clock,
/// so concurrent requests on any number of instances are counted once each;
/// buckets expire on their own.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use lexigram_auth::ratelimit::{Quota, RateLimitLayer, RedisRateLimiter};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let limiter = RedisRateLimiter::connect("redis://127.0.0.1:6379/").await?;
/// let layer = RateLimitLayer::new(Arc::new(limiter), Quota::new(10, Duration::from_secs(60))?);
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
pub struct RedisRateLimiter<C = ConnectionManager> {
    connection: C,
    timeout: Duration,
    prefix: String,
    script: Script,
}

crate::store::redis::redis_store_common!(
    RedisRateLimiter,
    prefix_doc = "keys `<prefix>:rate:<bucket>`"
);

impl<C> RedisRateLimiter<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// A limiter on an existing connection (keys under the prefix `lexigram`).
    #[must_use]
    pub fn from_connection(connection: C) -> Self {
        Self {
            connection,
            timeout: DEFAULT_TIMEOUT,
            prefix: "lexigram".to_owned(),
            script: Script::new(GCRA),
        }
    }
}

impl<C> RateLimiter for RedisRateLimiter<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    fn check<'a>(&'a self, key: &'a str, quota: Quota) -> StoreFuture<'a, Decision> {
        Box::pin(bounded(BACKEND, self.timeout, async move {
            let mut connection = self.connection.clone();
            let (allowed, value): (i64, i64) = self
                .script
                .key(format!("{}:rate:{key}", self.prefix))
                .arg(quota.interval_us())
                .arg(quota.period_us())
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            let value = u64::try_from(value).unwrap_or(0);
            Ok(if allowed == 1 {
                Decision::Allow {
                    remaining: u32::try_from(value).unwrap_or(u32::MAX),
                }
            } else {
                Decision::Deny {
                    retry_after: Duration::from_micros(value),
                }
            })
        }))
    }
}
