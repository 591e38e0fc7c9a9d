//! Rate limiting per client and route (RATE-1, RATE-2): the GCRA over a
//! [`RateLimiter`] (in memory, or in Redis for instances that must share one
//! limit), as a tower layer that answers 429 with `Retry-After`.
//!
//! Rate limiting is per *client* (its address, read through a list of
//! trusted proxies) and per route; account lockout, per account, is
//! [`Lockout`](crate::authn::Lockout).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use axum::{Router, routing::post};
//! use lexigram_auth::ratelimit::{MemoryRateLimiter, Quota, RateLimitLayer};
//!
//! let login_limit = RateLimitLayer::new(
//!     Arc::new(MemoryRateLimiter::new()),
//!     Quota::new(5, Duration::from_secs(60))?,
//! );
//! let app: Router = Router::new()
//!     .route("/auth/login", post(|| async { "token" }))
//!     .route_layer(login_limit);
//! # let _ = app;
//! # Ok::<(), lexigram_auth::ratelimit::QuotaError>(())
//! ```
//!
//! Serve the router with `into_make_service_with_connect_info::<SocketAddr>()`
//! so that the layer sees client addresses; without them every request counts
//! against one shared bucket (and a warning is logged once).

#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use ::axum::extract::{ConnectInfo, MatchedPath};
use ::axum::response::{IntoResponse, Response};
use hashbrown::HashTable;
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use tower_layer::Layer;
use tower_service::Service;

#[cfg(feature = "redis")]
pub use self::redis::RedisRateLimiter;
use crate::store::{StoreError, StoreFuture};

/// A quota that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuotaError {
    /// The limit is zero.
    #[error("a rate limit must allow at least one request")]
    ZeroLimit,
    /// The period is zero or shorter than the limit in microseconds.
    #[error("a rate-limit period must be at least one microsecond per request")]
    PeriodTooShort,
}

/// `limit` requests per `period`, all of which may come at once (the burst
/// is the limit); then one every `period / limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    limit: u32,
    period: Duration,
    /// `period / limit` in microseconds, computed once.
    interval_us: u64,
    /// `period` in microseconds.
    period_us: u64,
}

impl Quota {
    /// `limit` requests per `period`.
    ///
    /// # Errors
    /// [`QuotaError`] for a zero limit or a period under one microsecond
    /// per request.
    pub fn new(limit: u32, period: Duration) -> Result<Self, QuotaError> {
        if limit == 0 {
            return Err(QuotaError::ZeroLimit);
        }
        if period.as_micros() < u128::from(limit) {
            return Err(QuotaError::PeriodTooShort);
        }
        let period_us = u64::try_from(period.as_micros()).unwrap_or(u64::MAX);
        Ok(Self {
            limit,
            period,
            interval_us: period_us / u64::from(limit),
            period_us,
        })
    }

    /// The number of requests per period.
    #[must_use]
    pub fn limit(self) -> u32 {
        self.limit
    }

    /// The period.
    #[must_use]
    pub fn period(self) -> Duration {
        self.period
    }

    /// The emission interval `period / limit`, in microseconds.
    fn interval_us(self) -> u64 {
        self.interval_us
    }

    fn period_us(self) -> u64 {
        self.period_us
    }
}

/// The answer of a [`RateLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed; `remaining` more requests would be allowed right now.
    Allow {
        /// Requests left in the burst.
        remaining: u32,
    },
    /// Refused; the next request may come after `retry_after`.
    Deny {
        /// How long to wait.
        retry_after: Duration,
    },
}

impl Decision {
    /// Whether the request is allowed.
    #[must_use]
    pub fn is_allowed(self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

/// One GCRA step at `now` (microseconds) on the stored theoretical arrival
/// time `tat`: the decision and the new `tat` to store (`None` when denied).
pub(crate) fn gcra(tat: Option<u64>, now: u64, quota: Quota) -> (Decision, Option<u64>) {
    let interval = quota.interval_us();
    let period = quota.period_us();
    let tat = tat.map_or(now, |t| t.max(now));
    let new_tat = tat.saturating_add(interval);
    let allow_at = new_tat.saturating_sub(period);
    if allow_at > now {
        let wait = allow_at - now;
        return (
            Decision::Deny {
                retry_after: Duration::from_micros(wait),
            },
            None,
        );
    }
    let spare = period - (new_tat - now);
    let remaining = u32::try_from(spare / interval.max(1)).unwrap_or(u32::MAX);
    (Decision::Allow { remaining }, Some(new_tat))
}

/// Where the limits live: [`MemoryRateLimiter`] for one process,
/// `RedisRateLimiter` (feature `redis`) for instances sharing a limit.
pub trait RateLimiter: fmt::Debug + Send + Sync {
    /// Counts one request under `key` against `quota`, atomically.
    fn check<'a>(&'a self, key: &'a str, quota: Quota) -> StoreFuture<'a, Decision>;
}

/// The number of independently locked shards of [`MemoryRateLimiter`].
const SHARDS: usize = 16;
/// The shard is chosen by hash bits 52..56: hashbrown probes with the low
/// bits and filters with the top seven, so those stay independent of it.
const SHARD_SHIFT: u32 = 52;

/// A shard's table grows without being swept while it has room for fewer
/// keys than this: hashbrown's capacities near it are 448 and 896 keys
/// (512 and 1 024 buckets), so up to 16 x 896 = 14 336 keys, about 512 KiB
/// of buckets in all, are kept without sweeping; past that a table is swept
/// of idle keys before it grows. Sweeping smaller tables would make a
/// working set of a few thousand keys whose buckets are full again (every
/// quota lets such a key through) be forgotten and inserted again all the
/// time, each time a full table is read.
const SWEEP_FROM: usize = 800;

/// Keys up to this many bytes are stored in their bucket, which is then 32
/// bytes (two to a cache line): the layer's `rl:<IPv4 address>` keys and
/// short routes with an IPv4 address. Longer keys (IPv6 addresses, long
/// routes) are copied to the heap once, when the key is new.
const INLINE: usize = 22;

/// A bucket's key, in place when short.
#[derive(Debug)]
enum Key {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Key {
    fn new(key: &[u8]) -> Self {
        let mut bytes = [0; INLINE];
        match (bytes.get_mut(..key.len()), u8::try_from(key.len())) {
            (Some(slot), Ok(len)) => {
                slot.copy_from_slice(key);
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(key.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Self::Heap(bytes) => bytes,
        }
    }
}

/// One key's state: its theoretical arrival time, in microseconds since the
/// limiter's epoch.
#[derive(Debug)]
#[repr(align(32))]
struct Bucket {
    tat: u64,
    key: Key,
}

const _: () = assert!(std::mem::size_of::<Bucket>() == 32);

#[derive(Debug, Default)]
struct Shard {
    buckets: HashTable<Bucket>,
}

/// A shard's lock: one atomic compare-and-swap to take it and a plain
/// release store to give it back (a futex mutex needs a second atomic
/// read-modify-write there, to learn whether to wake a sleeper), and a
/// thread that finds it taken yields to the scheduler between tries, so
/// that a holder that was preempted gets the core back. What it guards is
/// a table look-up and a `u64` update (a sweep or a growth now and then):
/// measured against `std::sync::Mutex`, about 5 ns less per uncontended
/// check, and less wall time per check with 2 and with 8 threads on one key
/// (`cargo bench -p lexigram-auth --bench ratelimit -- contended`).
type ShardLock = spin::mutex::SpinMutex<Shard, spin::relax::Yield>;

/// A [`RateLimiter`] in process memory: the GCRA in 16 locked shards, one
/// 32-byte bucket per key. A shard's lock takes one atomic compare-and-swap
/// and gives back with a plain store; a thread that finds it taken yields
/// to the scheduler between tries. Before a shard's table would grow past 896 keys,
/// the keys whose bucket is full again (forgetting them changes no
/// decision) are swept out, so memory follows the number of clients active
/// at once (once past about 14 000 keys, 512 KiB), not the number ever
/// seen. A table still grows when a sweep frees less than a quarter of it,
/// so a sweep (which reads the whole table) comes at most once per quarter
/// table of new keys, however many clients stay active.
///
/// A check reads the clock once, hashes the key once (foldhash with a
/// per-limiter random seed, so that clients cannot precompute colliding
/// addresses offline), uses that hash both to pick the shard and to probe
/// it, compares keys byte for byte, and copies the key only when it is new
/// (in place up to 22 bytes, with no allocation).
pub struct MemoryRateLimiter {
    shards: [ShardLock; SHARDS],
    hasher: foldhash::fast::RandomState,
    /// A calibrated TSC clock where the CPU has an invariant one (the OS
    /// monotonic clock otherwise): a check reads the raw counter once and
    /// scales its distance from `epoch` (no intermediate `Duration`).
    clock: quanta::Clock,
    epoch: u64,
    /// The capacity from which a shard's table is swept before it grows
    /// ([`SWEEP_FROM`]; smaller in tests).
    sweep_from: usize,
    #[cfg(test)]
    sweeps: std::sync::atomic::AtomicUsize,
}

impl fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRateLimiter").finish_non_exhaustive()
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRateLimiter {
    /// An empty limiter.
    #[must_use]
    pub fn new() -> Self {
        Self::with_clock(quanta::Clock::new())
    }

    fn with_clock(clock: quanta::Clock) -> Self {
        Self::with_clock_and_sweep(clock, SWEEP_FROM)
    }

    fn with_clock_and_sweep(clock: quanta::Clock, sweep_from: usize) -> Self {
        let epoch = clock.raw();
        Self {
            shards: std::array::from_fn(|_| ShardLock::new(Shard::default())),
            hasher: foldhash::fast::RandomState::default(),
            clock,
            epoch,
            sweep_from,
            #[cfg(test)]
            sweeps: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Microseconds since the limiter's epoch.
    fn now_us(&self) -> u64 {
        self.clock.delta_as_nanos(self.epoch, self.clock.raw()) / 1_000
    }

    /// The same check, synchronous (no I/O happens in memory).
    #[must_use]
    pub fn check_now(&self, key: &str, quota: Quota) -> Decision {
        let now = self.now_us();
        let key = key.as_bytes();
        let hash = self.hash(key);
        let index = usize::try_from((hash >> SHARD_SHIFT) % SHARDS as u64).unwrap_or(0);
        let Some(shard) = self.shards.get(index) else {
            return Decision::Deny {
                retry_after: quota.period,
            };
        };
        let mut shard = shard.lock();
        let shard = &mut *shard;
        if let Some(bucket) = shard.buckets.find_mut(hash, |b| b.key.as_bytes() == key) {
            let (decision, new_tat) = gcra(Some(bucket.tat), now, quota);
            if let Some(tat) = new_tat {
                bucket.tat = tat;
            }
            return decision;
        }
        let (decision, new_tat) = gcra(None, now, quota);
        if let Some(tat) = new_tat {
            if shard.buckets.len() == shard.buckets.capacity()
                && shard.buckets.capacity() >= self.sweep_from
            {
                // Reclaim idle keys rather than grow, unless fewer than a
                // quarter of the keys are idle: the table then grows anyway,
                // so that a sweep (which reads every bucket) comes at most
                // once per capacity / 4 new keys.
                #[cfg(test)]
                self.sweeps
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                shard.buckets.retain(|bucket| bucket.tat > now);
                let capacity = shard.buckets.capacity();
                if shard.buckets.len() > capacity / 4 * 3 {
                    shard
                        .buckets
                        .reserve(capacity, |b| self.hash(b.key.as_bytes()));
                }
            }
            shard.buckets.insert_unique(
                hash,
                Bucket {
                    tat,
                    key: Key::new(key),
                },
                |b| self.hash(b.key.as_bytes()),
            );
        }
        decision
    }
}

impl RateLimiter for MemoryRateLimiter {
    fn check<'a>(&'a self, key: &'a str, quota: Quota) -> StoreFuture<'a, Decision> {
        let decision = self.check_now(key, quota);
        Box::pin(async move { Ok(decision) })
    }
}

/// A network (an address and a prefix length): a trusted proxy's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

/// A malformed [`Network`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an IP address or network (`10.0.0.0/8`, `::1`): {0:?}")]
pub struct NetworkError(String);

impl FromStr for Network {
    type Err = NetworkError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || NetworkError(text.chars().take(64).collect());
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { address, prefix })
    }
}

impl Network {
    /// Whether `ip` is in the network.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let shift = 32 - u32::from(self.prefix);
                let mask = u32::MAX.checked_shl(shift).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let shift = 128 - u32::from(self.prefix);
                let mask = u128::MAX.checked_shl(shift).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) read as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Which peers are proxies whose `X-Forwarded-For` is believed.
///
/// The client is the connection's peer, unless that peer is trusted: then
/// `X-Forwarded-For` is read from the right, skipping trusted addresses,
/// and the first untrusted one is the client. Entries a client could have
/// written itself (left of the last untrusted hop) are never used, and a
/// malformed entry stops the walk at the last trusted hop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<Network>,
}

impl TrustedProxies {
    /// Trusts no proxy: the peer address is the client.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts these networks.
    ///
    /// # Errors
    /// [`NetworkError`] for an entry that is not an address or network.
    pub fn new<I, S>(networks: I) -> Result<Self, NetworkError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Self {
            networks: networks
                .into_iter()
                .map(|n| n.as_ref().parse())
                .collect::<Result<_, _>>()?,
        })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// The client address of a request from `peer` with `headers`.
    #[must_use]
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// How a request's bucket is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyBy {
    /// The client and the route (the matched path, else the URI path): the
    /// default.
    ClientAndRoute,
    /// The client only: one limit across every route of the layer.
    Client,
}

/// The tower layer: counts each request against its client's (and route's)
/// bucket; over the quota, a 429 problem response with `Retry-After`; when
/// the limiter's store fails, a 503 (never a silent allow).
#[derive(Clone)]
pub struct RateLimitLayer {
    config: Arc<LayerConfig>,
}

struct LayerConfig {
    limiter: Arc<dyn RateLimiter>,
    quota: Quota,
    proxies: TrustedProxies,
    key_by: KeyBy,
    prefix: String,
    warned: AtomicBool,
}

impl fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("quota", &self.config.quota)
            .field("key_by", &self.config.key_by)
            .finish_non_exhaustive()
    }
}

impl RateLimitLayer {
    /// `quota` per client and route, counted by `limiter`, trusting no proxy.
    #[must_use]
    pub fn new(limiter: Arc<dyn RateLimiter>, quota: Quota) -> Self {
        Self {
            config: Arc::new(LayerConfig {
                limiter,
                quota,
                proxies: TrustedProxies::none(),
                key_by: KeyBy::ClientAndRoute,
                prefix: "rl".to_owned(),
                warned: AtomicBool::new(false),
            }),
        }
    }

    fn with(self, edit: impl FnOnce(&mut LayerConfig)) -> Self {
        let config = Arc::try_unwrap(self.config).unwrap_or_else(|shared| LayerConfig {
            limiter: Arc::clone(&shared.limiter),
            quota: shared.quota,
            proxies: shared.proxies.clone(),
            key_by: shared.key_by,
            prefix: shared.prefix.clone(),
            warned: AtomicBool::new(false),
        });
        let mut config = config;
        edit(&mut config);
        Self {
            config: Arc::new(config),
        }
    }

    /// Believes `X-Forwarded-For` from these proxies.
    #[must_use]
    pub fn trusted_proxies(self, proxies: TrustedProxies) -> Self {
        self.with(|c| c.proxies = proxies)
    }

    /// How buckets are named (default [`KeyBy::ClientAndRoute`]).
    #[must_use]
    pub fn key_by(self, key_by: KeyBy) -> Self {
        self.with(|c| c.key_by = key_by)
    }

    /// A name for this layer's buckets, so that two layers with different
    /// quotas never share one (default `rl`).
    #[must_use]
    pub fn name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.with(|c| c.prefix = name)
    }
}

impl LayerConfig {
    fn key<B>(&self, request: &Request<B>) -> String {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let client = match peer {
            Some(peer) => self.proxies.client(peer, request.headers()).to_string(),
            None => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "rate limiting without client addresses: serve the router with \
                         into_make_service_with_connect_info::<SocketAddr>(); all requests \
                         share one bucket"
                    );
                }
                "unknown".to_owned()
            }
        };
        match self.key_by {
            KeyBy::Client => format!("{}:{client}", self.prefix),
            KeyBy::ClientAndRoute => {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or_else(|| request.uri().path(), MatchedPath::as_str);
                format!("{}:{route}:{client}", self.prefix)
            }
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service made by [`RateLimitLayer`].
#[derive(Clone)]
pub struct RateLimitService<S> {
    inner: S,
    config: Arc<LayerConfig>,
}

impl<S> fmt::Debug for RateLimitService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitService").finish_non_exhaustive()
    }
}

/// The response future of [`RateLimitService`].
pub type RateLimitFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    })
    .to_string();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// The 429 answer: `Retry-After` in whole seconds, rounded up.
fn too_many(retry_after: Duration) -> Response {
    let seconds = retry_after
        .as_secs()
        .saturating_add(u64::from(retry_after.subsec_nanos() > 0))
        .max(1);
    let mut response = problem(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many requests; retry later",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

impl<S, B> Service<Request<B>> for RateLimitService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RateLimitFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        Box::pin(async move {
            let key = config.key(&request);
            match config.limiter.check(&key, config.quota).await {
                Ok(Decision::Allow { .. }) => inner.call(request).await,
                Ok(Decision::Deny { retry_after }) => Ok(too_many(retry_after)),
                Err(error) => {
                    log_unavailable(&error);
                    Ok(problem(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "rate_limit_unavailable",
                        "the service is temporarily unavailable",
                    ))
                }
            }
        })
    }
}

fn log_unavailable(error: &StoreError) {
    tracing::error!(%error, "the rate limiter's store failed; refusing the request");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(limit: u32, secs: u64) -> Quota {
        Quota::new(limit, Duration::from_secs(secs)).unwrap()
    }

    #[test]
    fn gcra_allows_the_burst_then_one_per_interval() {
        let q = quota(10, 60); // one every 6 s
        let mut tat = None;
        for i in 0..10 {
            let (d, t) = gcra(tat, 0, q);
            assert_eq!(d, Decision::Allow { remaining: 9 - i });
            tat = t;
        }
        let (d, t) = gcra(tat, 0, q);
        assert_eq!(
            d,
            Decision::Deny {
                retry_after: Duration::from_secs(6)
            }
        );
        assert_eq!(t, None);
        let (d, _) = gcra(tat, 6_000_000 - 1, q);
        assert!(!d.is_allowed());
        let (d, _) = gcra(tat, 6_000_000, q);
        assert_eq!(d, Decision::Allow { remaining: 0 });
        // After a full period the whole burst is back.
        let (d, _) = gcra(tat, 60_000_000, q);
        assert_eq!(d, Decision::Allow { remaining: 9 });
    }

    #[test]
    fn quotas_are_checked() {
        assert_eq!(
            Quota::new(0, Duration::from_secs(1)),
            Err(QuotaError::ZeroLimit)
        );
        assert_eq!(
            Quota::new(10, Duration::from_micros(9)),
            Err(QuotaError::PeriodTooShort)
        );
    }

    #[test]
    fn memory_limiter_counts_per_key() {
        let limiter = MemoryRateLimiter::new();
        let q = quota(3, 3600);
        for _ in 0..3 {
            assert!(limiter.check_now("a", q).is_allowed());
        }
        assert!(!limiter.check_now("a", q).is_allowed());
        assert!(limiter.check_now("b", q).is_allowed());
    }

    fn shard_len(limiter: &MemoryRateLimiter) -> usize {
        limiter.shards.iter().map(|s| s.lock().buckets.len()).sum()
    }

    #[test]
    fn memory_limiter_follows_the_clock_and_sweeps_idle_keys() {
        let (clock, mock) = quanta::Clock::mock();
        let limiter = MemoryRateLimiter::with_clock_and_sweep(clock, 0);
        let q = quota(2, 2); // one a second
        assert_eq!(limiter.check_now("a", q), Decision::Allow { remaining: 1 });
        assert_eq!(limiter.check_now("a", q), Decision::Allow { remaining: 0 });
        mock.increment(Duration::from_millis(400));
        assert_eq!(
            limiter.check_now("a", q),
            Decision::Deny {
                retry_after: Duration::from_millis(600)
            }
        );
        mock.increment(Duration::from_millis(600));
        assert_eq!(limiter.check_now("a", q), Decision::Allow { remaining: 0 });
        // 1000 more keys; once every bucket is full again, new keys take
        // their place instead of growing the tables.
        let keys: Vec<String> = (0..1000).map(|i| format!("k{i}")).collect();
        for key in &keys {
            assert!(limiter.check_now(key, q).is_allowed());
        }
        assert_eq!(shard_len(&limiter), 1001);
        let capacity = shard_capacity(&limiter);
        for round in 0..5 {
            // Every bucket is full again: all keys are idle but "a", which
            // uses its two requests now.
            mock.increment(Duration::from_secs(3));
            assert!(limiter.check_now("a", q).is_allowed());
            assert!(limiter.check_now("a", q).is_allowed());
            // Fewer new keys than idle ones: they take the idle keys'
            // places (few enough per shard that the table never needs to
            // be more than half full of live keys, when hashbrown grows).
            for i in 0..150 {
                assert!(
                    limiter
                        .check_now(&format!("new{round}-{i}"), q)
                        .is_allowed()
                );
            }
            // "a" was never swept: its window is still closed.
            assert!(!limiter.check_now("a", q).is_allowed());
        }
        assert_eq!(
            shard_capacity(&limiter),
            capacity,
            "the tables did not grow"
        );
        assert!(shard_len(&limiter) < 1001 + 5 * 150);
    }

    /// Below `SWEEP_FROM`, a working set of keys whose buckets are full
    /// again stays in the tables (no sweep, nothing inserted again).
    #[test]
    fn memory_limiter_keeps_a_small_working_set() {
        let (clock, mock) = quanta::Clock::mock();
        let limiter = MemoryRateLimiter::with_clock(clock);
        let q = quota(2, 2);
        let keys: Vec<String> = (0..5000).map(|i| format!("rl:10.0.{i}")).collect();
        for round in 0..3 {
            for key in &keys {
                assert!(limiter.check_now(key, q).is_allowed());
            }
            assert_eq!(shard_len(&limiter), keys.len(), "round {round}");
            // Every bucket is full again.
            mock.increment(Duration::from_secs(5));
        }
        assert_eq!(limiter.sweeps.load(std::sync::atomic::Ordering::Relaxed), 0);
    }

    /// A sweep that frees little is followed by growth: with most keys of a
    /// table still active when it fills (one new key every 100 µs, each
    /// active for a second, so about 10 000 active at once), sweeps stay
    /// rare (176 here, against 300 or more when a table grows only once a
    /// sweep frees nothing), and the tables hold the active keys and at
    /// most as many idle ones.
    #[test]
    fn memory_limiter_sweeps_stay_rare_when_most_keys_are_active() {
        let (clock, mock) = quanta::Clock::mock();
        let limiter = MemoryRateLimiter::with_clock_and_sweep(clock, 0);
        let q = quota(1, 1);
        for i in 0..40_000 {
            mock.increment(Duration::from_micros(100));
            assert!(limiter.check_now(&format!("k{i}"), q).is_allowed());
        }
        let sweeps = limiter.sweeps.load(std::sync::atomic::Ordering::Relaxed);
        assert!(sweeps < 240, "{sweeps} sweeps for 40 000 new keys");
        let len = shard_len(&limiter);
        assert!((10_000..20_000).contains(&len), "{len}");
    }

    fn shard_capacity(limiter: &MemoryRateLimiter) -> usize {
        limiter
            .shards
            .iter()
            .map(|s| s.lock().buckets.allocation_size())
            .sum()
    }

    #[test]
    fn memory_limiter_tells_many_and_long_keys_apart() {
        let limiter = MemoryRateLimiter::new();
        let q = quota(1, 3600);
        let mut keys: Vec<String> = (0..5000).map(|i| format!("rl:/login:10.0.{i}")).collect();
        // Around the in-place limit, and keys that are prefixes of others.
        for len in [0, 1, INLINE - 1, INLINE, INLINE + 1, 300] {
            keys.push("x".repeat(len));
            keys.push(format!("{}\0", "x".repeat(len)));
        }
        for key in &keys {
            assert!(limiter.check_now(key, q).is_allowed(), "{key:?}");
        }
        // The tables grew (and rehashed) many times: every key is still found.
        for key in &keys {
            assert!(!limiter.check_now(key, q).is_allowed(), "{key:?}");
        }
        assert_eq!(shard_len(&limiter), keys.len());
    }

    #[test]
    fn memory_limiter_allows_exactly_the_limit_under_contention() {
        let limiter = Arc::new(MemoryRateLimiter::new());
        let q = quota(1000, 3600);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let limiter = Arc::clone(&limiter);
                std::thread::spawn(move || {
                    let mut allowed = 0;
                    for i in 0..500 {
                        allowed += usize::from(limiter.check_now("hot", q).is_allowed());
                        // Other keys of every shard in between.
                        let _ = limiter.check_now(&format!("{t}:{i}"), q);
                    }
                    allowed
                })
            })
            .collect();
        let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(allowed, 1000);
    }

    #[test]
    fn networks_parse_and_match() {
        let net: Network = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let one: Network = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "::/129", "host", "1.2.3.4/x"] {
            assert!(bad.parse::<Network>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_read_only_through_trusted_proxies() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", HeaderValue::from_str(v).unwrap());
            h
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // An untrusted peer's header is ignored.
        assert_eq!(
            proxies.client(ip("203.0.113.9"), &headers("1.1.1.1")),
            ip("203.0.113.9")
        );
        // Through a trusted proxy: the rightmost untrusted hop; spoofed
        // entries to its left are ignored.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), &headers("6.6.6.6, 198.51.100.7, 10.0.0.5")),
            ip("198.51.100.7")
        );
        // A malformed hop stops the walk at the last trusted one.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), &headers("garbage")),
            ip("10.0.0.2")
        );
        // No proxies trusted: always the peer.
        assert_eq!(
            TrustedProxies::none().client(ip("10.0.0.2"), &headers("1.1.1.1")),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let r = too_many(Duration::from_millis(1_200));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert_eq!(
            too_many(Duration::from_micros(1)).headers()[header::RETRY_AFTER],
            "1"
        );
    }
}
