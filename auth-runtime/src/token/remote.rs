//! [`RemoteJwks`]: verifying tokens of an external issuer against its
//! published JWKS (feature `remote-jwks`); the rules are on [`RemoteJwks`].

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

#[path = "dev.rs"]
mod dev;

use super::{
    Algorithm, DEFAULT_LEEWAY, JwtTokenManager, Key, MAX_TOKEN_BYTES, VerifiedToken, VerifyingKey,
    claims, parse_header,
};
use crate::clock::{Clock, SystemClock};
use crate::environment::{Environment, UnknownEnvironment};
use crate::error::TokenError;
use dev::UnverifiedDev;

/// Default [`RemoteJwksBuilder::min_refetch_interval`]: 60 seconds.
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Default [`RemoteJwksBuilder::refresh_interval`]: 15 minutes.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Default [`RemoteJwksBuilder::fetch_timeout`]: 10 seconds.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`RemoteJwksBuilder::max_staleness`]: 24 hours.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(24 * 60 * 60);
/// Default [`RemoteJwksBuilder::max_response_bytes`]: 256 KiB.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// At most this many keys of a JWKS are read; the rest are ignored.
pub const MAX_JWKS_KEYS: usize = 64;

/// Why a JWKS fetch failed. The cached keys are kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The fetch took longer than the configured timeout.
    #[error("the JWKS request timed out")]
    Timeout,
    /// The issuer could not be reached or the connection failed.
    #[error("the JWKS could not be fetched: {0}")]
    Transport(String),
    /// The issuer answered with a status other than 2xx (redirects included).
    #[error("the JWKS endpoint answered HTTP {0}")]
    Status(u16),
    /// The response is larger than the cap.
    #[error("the JWKS response is larger than {max} bytes")]
    TooLarge {
        /// The cap, in bytes.
        max: usize,
    },
    /// The response is not a JSON object with a `keys` array.
    #[error("the JWKS response is not a JWK Set")]
    Invalid,
    /// The JWK Set holds no key this verifier can use.
    #[error("the JWKS holds no usable key")]
    NoUsableKeys,
}

/// Why a [`RemoteJwks`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteJwksError {
    /// The JWKS URL does not parse.
    #[error("the JWKS URL is not a valid URL")]
    InvalidUrl,
    /// The JWKS URL is neither `https` nor `http` to a loopback host.
    #[error("the JWKS URL must use https (plain http is allowed for loopback hosts only)")]
    InsecureUrl,
    /// The issuer or the audience is empty.
    #[error("the {0} of a remote JWKS verifier cannot be empty")]
    Empty(&'static str),
    /// No algorithm is allowed.
    #[error("no algorithm is allowed")]
    NoAlgorithms,
    /// An HMAC algorithm was allowed: a shared secret cannot be published.
    #[error("{0} is symmetric and cannot come from a JWKS")]
    SymmetricAlgorithm(Algorithm),
    /// An interval, timeout or cap is zero.
    #[error("`{0}` cannot be zero")]
    Zero(&'static str),
    /// `build` was called outside a Tokio runtime (the background refresh
    /// needs one).
    #[error("a remote JWKS verifier must be built inside a Tokio runtime")]
    NoRuntime,
    /// The HTTP client could not be set up.
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
    /// `allow_unverified_dev` was asked for outside development.
    #[error(
        "allow_unverified_dev is refused: LEX_ENV is `{0}`, and it is honoured only in development"
    )]
    UnverifiedDevRefused(Environment),
    /// `allow_unverified_dev` was asked for and `LEX_ENV` is not understood.
    #[error("allow_unverified_dev is refused: {0}")]
    Environment(#[from] UnknownEnvironment),
    /// The development-mode claim checker could not be set up.
    #[error("allow_unverified_dev could not be set up: {0}")]
    Dev(TokenError),
}

/// A [`Clock`] shared by reference, for the keyrings built from each JWKS.
#[derive(Debug, Clone)]
pub(super) struct SharedClock(pub(super) Arc<dyn Clock>);

impl Clock for SharedClock {
    fn now(&self) -> SystemTime {
        self.0.now()
    }
}

#[derive(Debug, Clone)]
struct Config {
    url: reqwest::Url,
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    min_refetch: Duration,
    refresh: Duration,
    fetch_timeout: Duration,
    max_bytes: usize,
    max_staleness: Duration,
    leeway: Duration,
    clock: Arc<dyn Clock>,
}

/// The cached keys and the fetch history.
#[derive(Default)]
struct State {
    /// A verify-only keyring of the usable keys of the last good JWKS.
    keyring: Option<Arc<JwtTokenManager>>,
    kids: Vec<String>,
    /// When the last successful fetch ended.
    fetched_at: Option<Instant>,
    /// When the last fetch attempt started, whatever its outcome.
    attempted_at: Option<Instant>,
    /// Why the last attempt failed; `None` when it succeeded.
    last_error: Option<FetchError>,
    /// Bumped by every fetch attempt.
    attempts: u64,
}

struct Inner {
    config: Config,
    client: reqwest::Client,
    state: RwLock<State>,
    /// Serializes fetches: concurrent callers wait for one fetch.
    gate: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
    dev: Option<UnverifiedDev>,
}

/// Verifies tokens of an external issuer with keys from its JWKS URL, cached
/// by `kid` (feature `remote-jwks`).
///
/// ```no_run
/// use std::time::Duration;
/// use lexigram_auth::token::{Algorithm, RemoteJwks};
///
/// # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = RemoteJwks::builder(
///     "https://issuer.example.com/.well-known/jwks.json",
///     "https://issuer.example.com",
///     "articles-api",
/// )
/// .algorithms([Algorithm::RS256, Algorithm::ES256])
/// .refresh_interval(Duration::from_secs(10 * 60))
/// .build()?;
/// verifier.refresh().await?; // warm the cache at start-up (optional)
/// let verified = verifier.verify(token).await?;
/// println!("{}", verified.user_id);
/// # Ok(())
/// # }
/// ```
///
/// # Rules
///
/// A token is checked as [`JwtTokenManager::verify_access`] checks our own
/// access tokens (size cap, framing, header, `crit`, the algorithm bound to
/// the key, `sub`, `exp` and `iat` required, `nbf`, `iss` equal to the
/// configured issuer, `aud` containing the configured audience), against a
/// keyring built from the issuer's JWKS, with two rules relaxed for access
/// tokens of other issuers (RFC 9068; Auth0, Keycloak, Okta, Entra ID):
///
/// - `jti` is optional ([`VerifiedToken::jti`] is then empty);
/// - a `typ` claim is optional, and when present must be `access`, `Bearer`
///   (Keycloak) or `at+jwt`: an issuer's ID token (`"typ": "ID"`) or refresh
///   token (`"typ": "Refresh"`) is refused with [`TokenError::WrongType`].
///
/// Roles, permissions and scopes are read from the top-level `roles`,
/// `permissions` (Auth0 RBAC) and `scope` claims; nested role claims such as
/// Keycloak's `realm_access.roles` are not read. Revocation is the issuer's
/// business: the local revocation store is not consulted.
///
/// # Keys
///
/// Only keys that carry `kid` and `alg`, whose `alg` is one of the allowed
/// [`algorithms`](RemoteJwksBuilder::algorithms) and whose key material
/// passes [`VerifyingKey::from_jwk`] (strength included: no RSA under 2048
/// bits) are used; each is bound to its `alg`. Keys without `alg`, symmetric
/// keys, private keys, keys with `use` other than `sig`, and every key of a
/// `kid` given twice are ignored (and logged). At most [`MAX_JWKS_KEYS`] keys
/// are read.
///
/// # Fetching
///
/// - A token whose `kid` is not cached triggers a refetch, **at most once per
///   [`min_refetch_interval`](RemoteJwksBuilder::min_refetch_interval)**
///   ([`DEFAULT_MIN_REFETCH_INTERVAL`], 60 s) whatever the number of such
///   tokens: concurrent callers wait for one fetch, and a flood of random
///   `kid`s cannot hammer the issuer.
/// - A background task refetches every
///   [`refresh_interval`](RemoteJwksBuilder::refresh_interval)
///   ([`DEFAULT_REFRESH_INTERVAL`], 15 minutes). It holds only a weak
///   reference and is aborted when the [`RemoteJwks`] is dropped.
/// - Responses over [`max_response_bytes`](RemoteJwksBuilder::max_response_bytes)
///   ([`MAX_JWKS_BYTES`], 256 KiB) are refused, redirects are not followed,
///   and a fetch is bounded by
///   [`fetch_timeout`](RemoteJwksBuilder::fetch_timeout)
///   ([`DEFAULT_FETCH_TIMEOUT`], 10 s) from connecting to the last byte.
/// - The URL must be `https`; plain `http` is accepted for loopback hosts
///   only (`localhost`, `127.0.0.0/8`, `::1`).
///
/// # Failures and staleness
///
/// A failed fetch (network, timeout, HTTP status, oversized or invalid
/// document, no usable key) never panics and **keeps the cached keys**. The
/// staleness is bounded: keys last fetched successfully more than
/// [`max_staleness`](RemoteJwksBuilder::max_staleness) ago
/// ([`DEFAULT_MAX_STALENESS`], 24 hours) are no longer trusted, and tokens
/// then fail with [`TokenError::Unavailable`] until a fetch succeeds. A
/// token with an unknown `kid` fails with [`TokenError::Unavailable`] when the
/// latest fetch attempt failed (the issuer could not be asked: a 503, not a
/// 401) and with [`TokenError::UnknownKey`] otherwise.
///
/// # `allow_unverified_dev`
///
/// See [`RemoteJwksBuilder::allow_unverified_dev`].
///
/// # Lifetime
///
/// Dropping it stops its background refresh. It is not `Clone`: share it in
/// an [`Arc`].
pub struct RemoteJwks {
    inner: Arc<Inner>,
    task: tokio::task::AbortHandle,
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &self.inner.config.url.as_str())
            .field("issuer", &self.inner.config.issuer)
            .field("audience", &self.inner.config.audience)
            .field("algorithms", &self.inner.config.algorithms)
            .field("kids", &self.key_ids())
            .field("unverified_dev", &self.inner.dev.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for RemoteJwks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RemoteJwks {
    /// A builder for the JWKS at `jwks_url`, accepting tokens whose `iss` is
    /// `issuer` and whose `aud` contains `audience`.
    #[must_use]
    pub fn builder(
        jwks_url: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            url: jwks_url.into(),
            issuer: issuer.into(),
            audience: audience.into(),
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::ES512,
                Algorithm::EdDSA,
            ],
            min_refetch: DEFAULT_MIN_REFETCH_INTERVAL,
            refresh: DEFAULT_REFRESH_INTERVAL,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_bytes: MAX_JWKS_BYTES,
            max_staleness: DEFAULT_MAX_STALENESS,
            leeway: DEFAULT_LEEWAY,
            clock: None,
            allow_unverified_dev: false,
        }
    }

    /// Verifies an access token of the issuer, refetching the JWKS (at most
    /// once per minimum interval) when its `kid` is not cached.
    ///
    /// # Errors
    /// Every [`TokenError`] of [`JwtTokenManager::verify_access`];
    /// [`TokenError::UnknownKey`] for a `kid` the JWKS does not hold (or a
    /// missing `kid`); [`TokenError::Unavailable`] when the keys could not be
    /// fetched (see ["Failures and staleness"](RemoteJwks#failures-and-staleness)).
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let (kid, alg) = peek_header(token)?;
        let seen = match self.cached(&kid) {
            Lookup::Found(keyring) => return keyring.verify_access(token),
            Lookup::Missing { attempts } => attempts,
        };
        self.inner.refetch_after(seen).await;
        match self.cached(&kid) {
            Lookup::Found(keyring) => keyring.verify_access(token),
            Lookup::Missing { .. } => {
                if let Some(dev) = &self.inner.dev {
                    if !self
                        .inner
                        .config
                        .algorithms
                        .iter()
                        .any(|a| a.as_str() == alg)
                    {
                        return Err(TokenError::BadSignature);
                    }
                    return dev.check(token, &kid);
                }
                let state = self.inner.read();
                if state.last_error.is_some() || !self.inner.is_fresh(&state) {
                    Err(TokenError::Unavailable)
                } else {
                    Err(TokenError::UnknownKey)
                }
            }
        }
    }

    /// Fetches the JWKS now (waiting for a fetch in progress, and not limited
    /// by the minimum interval) and returns the number of usable keys.
    ///
    /// # Errors
    /// A [`FetchError`]; the cached keys are then kept.
    pub async fn refresh(&self) -> Result<usize, FetchError> {
        self.inner.refresh().await
    }

    /// The `kid`s of the cached, usable keys.
    #[must_use]
    pub fn key_ids(&self) -> Vec<String> {
        self.inner.read().kids.clone()
    }

    /// How many fetches were attempted since the verifier was built.
    #[must_use]
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Why the latest fetch failed; `None` if it succeeded or none was made.
    #[must_use]
    pub fn last_fetch_error(&self) -> Option<FetchError> {
        self.inner.read().last_error.clone()
    }

    /// Whether development mode (`allow_unverified_dev`) is on.
    #[must_use]
    pub fn is_unverified_dev(&self) -> bool {
        self.inner.dev.is_some()
    }

    fn cached(&self, kid: &str) -> Lookup {
        let state = self.inner.read();
        match &state.keyring {
            Some(keyring) if self.inner.is_fresh(&state) && state.kids.iter().any(|k| k == kid) => {
                Lookup::Found(Arc::clone(keyring))
            }
            _ => Lookup::Missing {
                attempts: state.attempts,
            },
        }
    }
}

enum Lookup {
    Found(Arc<JwtTokenManager>),
    Missing { attempts: u64 },
}

/// The header's `kid` and `alg`, after the size, framing and header checks.
fn peek_header(token: &str) -> Result<(String, String), TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge {
            max: MAX_TOKEN_BYTES,
        });
    }
    let parts = claims::split(token)?;
    let mut buf = claims::SegmentBuf::<{ claims::INLINE_HEADER }>::new();
    let header = parse_header(buf.decode(parts.header)?)?;
    let alg = header.alg.as_ref().ok_or(TokenError::Malformed)?;
    let kid = header.kid.as_ref().ok_or(TokenError::UnknownKey)?;
    Ok((kid.as_str().to_owned(), alg.as_str().to_owned()))
}

impl Inner {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_fresh(&self, state: &State) -> bool {
        state
            .fetched_at
            .is_some_and(|at| at.elapsed() <= self.config.max_staleness)
    }

    /// The unknown-`kid` path: fetches unless another fetch was attempted
    /// since `seen` attempts or within the minimum interval.
    async fn refetch_after(&self, seen: u64) {
        let _gate = self.gate.lock().await;
        {
            let state = self.read();
            if state.attempts != seen {
                return;
            }
            if state
                .attempted_at
                .is_some_and(|at| at.elapsed() < self.config.min_refetch)
            {
                tracing::debug!("unknown kid: JWKS refetch skipped (minimum interval)");
                return;
            }
        }
        let _ = self.fetch_and_store().await;
    }

    async fn refresh(&self) -> Result<usize, FetchError> {
        let _gate = self.gate.lock().await;
        self.fetch_and_store().await
    }

    /// One fetch; the caller holds the gate.
    async fn fetch_and_store(&self) -> Result<usize, FetchError> {
        {
            let mut state = self.write();
            state.attempted_at = Some(Instant::now());
            state.attempts = state.attempts.wrapping_add(1);
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let outcome = match tokio::time::timeout(self.config.fetch_timeout, self.fetch()).await {
            Ok(Ok(body)) => self.keyring_from(&body),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(FetchError::Timeout),
        };
        let mut state = self.write();
        match outcome {
            Ok((keyring, kids)) => {
                let n = kids.len();
                tracing::debug!(url = %self.config.url, keys = n, "JWKS fetched");
                state.keyring = Some(Arc::new(keyring));
                state.kids = kids;
                state.fetched_at = Some(Instant::now());
                state.last_error = None;
                Ok(n)
            }
            Err(error) => {
                tracing::warn!(
                    url = %self.config.url,
                    %error,
                    cached_keys = state.kids.len(),
                    "JWKS fetch failed; keeping the cached keys"
                );
                state.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<u8>, FetchError> {
        let max = self.config.max_bytes;
        let mut response = self
            .client
            .get(self.config.url.clone())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|len| usize::try_from(len).map_or(true, |len| len > max))
        {
            return Err(FetchError::TooLarge { max });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len().saturating_add(chunk.len()) > max {
                return Err(FetchError::TooLarge { max });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// A verify-only keyring of the usable keys of a JWKS document.
    fn keyring_from(&self, body: &[u8]) -> Result<(JwtTokenManager, Vec<String>), FetchError> {
        let doc: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| FetchError::Invalid)?;
        let keys = doc
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .ok_or(FetchError::Invalid)?;
        if keys.len() > MAX_JWKS_KEYS {
            tracing::warn!(
                keys = keys.len(),
                max = MAX_JWKS_KEYS,
                "the JWKS has too many keys; the rest are ignored"
            );
        }
        let mut usable: Vec<(String, Key)> = Vec::new();
        let mut duplicated: Vec<String> = Vec::new();
        for jwk in keys.iter().take(MAX_JWKS_KEYS) {
            let Some((kid, key)) = self.usable_key(jwk) else {
                continue;
            };
            if usable.iter().any(|(k, _)| *k == kid) {
                duplicated.push(kid);
            } else {
                usable.push((kid, key));
            }
        }
        if !duplicated.is_empty() {
            tracing::warn!(?duplicated, "JWKS key ids given twice are ignored");
            usable.retain(|(kid, _)| !duplicated.contains(kid));
        }
        if usable.is_empty() {
            return Err(FetchError::NoUsableKeys);
        }
        let kids: Vec<String> = usable.iter().map(|(kid, _)| kid.clone()).collect();
        let mut builder = JwtTokenManager::builder()
            .external_profile()
            .issuer(self.config.issuer.clone())
            .required_audience(self.config.audience.clone())
            .leeway(self.config.leeway)
            .clock(SharedClock(Arc::clone(&self.config.clock)));
        for (kid, key) in usable {
            builder = builder.key(kid, key);
        }
        let keyring = builder.build().map_err(|error| {
            tracing::warn!(%error, "the JWKS keys could not be loaded");
            FetchError::NoUsableKeys
        })?;
        Ok((keyring, kids))
    }

    /// One JWK, if it is usable: `kid` and `alg` present, `alg` allowed, the
    /// key valid and strong enough.
    fn usable_key(&self, jwk: &serde_json::Value) -> Option<(String, Key)> {
        let kid = jwk.get("kid").and_then(serde_json::Value::as_str)?;
        if kid.is_empty() {
            return None;
        }
        let Some(alg) = jwk.get("alg").and_then(serde_json::Value::as_str) else {
            tracing::debug!(kid, "JWKS key without `alg` ignored");
            return None;
        };
        if !self.config.algorithms.iter().any(|a| a.as_str() == alg) {
            tracing::debug!(kid, alg, "JWKS key of an algorithm not allowed ignored");
            return None;
        }
        let key = VerifyingKey::from_jwk(&jwk.to_string())
            .map(Key::from)
            .and_then(|key| key.check_strength(kid).map(|()| key));
        match key {
            Ok(key) => Some((kid.to_owned(), key)),
            Err(error) => {
                tracing::warn!(kid, %error, "JWKS key ignored");
                None
            }
        }
    }
}

fn transport(error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout
    } else {
        FetchError::Transport(error.to_string())
    }
}

/// The background refresh: ends when the verifier is gone.
async fn refresh_loop(inner: Weak<Inner>, period: Duration) {
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = inner.upgrade() else {
            break;
        };
        let _ = inner.refresh().await;
    }
}

/// Builds a [`RemoteJwks`]; from [`RemoteJwks::builder`].
#[derive(Debug)]
pub struct RemoteJwksBuilder {
    url: String,
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    min_refetch: Duration,
    refresh: Duration,
    fetch_timeout: Duration,
    max_bytes: usize,
    max_staleness: Duration,
    leeway: Duration,
    clock: Option<Arc<dyn Clock>>,
    allow_unverified_dev: bool,
}

impl RemoteJwksBuilder {
    /// The algorithms accepted; each key is bound to its JWK `alg`, which must
    /// be one of these. By default RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384,
    /// ES512 and EdDSA; HMAC algorithms are refused by [`build`](Self::build).
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The shortest time between two fetches caused by unknown `kid`s
    /// ([`DEFAULT_MIN_REFETCH_INTERVAL`], 60 s, by default).
    #[must_use]
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch = interval;
        self
    }

    /// The period of the background refresh ([`DEFAULT_REFRESH_INTERVAL`],
    /// 15 minutes, by default). The first background fetch happens one period
    /// after [`build`](Self::build); until then the first token with an
    /// unknown `kid` (or [`RemoteJwks::refresh`]) fetches.
    #[must_use]
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh = interval;
        self
    }

    /// The bound on one fetch, from connecting to the last byte
    /// ([`DEFAULT_FETCH_TIMEOUT`], 10 s, by default).
    #[must_use]
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// The largest JWKS response accepted ([`MAX_JWKS_BYTES`], 256 KiB, by
    /// default).
    #[must_use]
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_bytes = max;
        self
    }

    /// How long cached keys are trusted without a successful fetch
    /// ([`DEFAULT_MAX_STALENESS`], 24 hours, by default).
    #[must_use]
    pub fn max_staleness(mut self, max: Duration) -> Self {
        self.max_staleness = max;
        self
    }

    /// Clock skew allowed on `exp`, `nbf` and `iat` ([`DEFAULT_LEEWAY`],
    /// 30 seconds, by default).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The clock for the claim checks ([`SystemClock`] by default). Fetch
    /// intervals use Tokio's monotonic time.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// **Development only.** Accepts tokens whose signature cannot be
    /// checked because their `kid` is not in the JWKS (after the usual
    /// refetch) or the JWKS cannot be fetched: every other rule still holds
    /// (size, framing, header, `alg` among the allowed
    /// [`algorithms`](Self::algorithms) so `none` and HMAC stay refused, and
    /// every claim rule: issuer, audience, `exp`, `nbf`, `iat`, `typ`, ...),
    /// and each such token is logged with a loud `WARN`. A token whose `kid`
    /// **is** in the JWKS is verified normally, so a bad signature on a known
    /// key is still refused.
    ///
    /// [`build`](Self::build) reads the environment from `LEX_ENV` (see
    /// [`Environment`]) and honours the option only when it is
    /// `development`; in `test`, `staging` or `production`, when `LEX_ENV` is
    /// unset (taken as production) or unrecognised, `build` fails with
    /// [`RemoteJwksError::UnverifiedDevRefused`] or
    /// [`RemoteJwksError::Environment`]. There is no way to override the
    /// environment in code. Without this option `LEX_ENV` is not read.
    #[must_use]
    pub fn allow_unverified_dev(mut self, allow: bool) -> Self {
        self.allow_unverified_dev = allow;
        self
    }

    /// Builds the verifier and starts its background refresh. Nothing is
    /// fetched yet: call [`RemoteJwks::refresh`] to warm the cache.
    ///
    /// # Errors
    /// A [`RemoteJwksError`]; [`RemoteJwksError::NoRuntime`] outside a Tokio
    /// runtime.
    pub fn build(self) -> Result<RemoteJwks, RemoteJwksError> {
        let url = reqwest::Url::parse(&self.url).map_err(|_| RemoteJwksError::InvalidUrl)?;
        check_url(&url)?;
        if self.issuer.is_empty() {
            return Err(RemoteJwksError::Empty("issuer"));
        }
        if self.audience.is_empty() {
            return Err(RemoteJwksError::Empty("audience"));
        }
        if self.algorithms.is_empty() {
            return Err(RemoteJwksError::NoAlgorithms);
        }
        if let Some(hmac) = self.algorithms.iter().find(|a| a.is_hmac()) {
            return Err(RemoteJwksError::SymmetricAlgorithm(*hmac));
        }
        for (value, name) in [
            (self.min_refetch, "min_refetch_interval"),
            (self.refresh, "refresh_interval"),
            (self.fetch_timeout, "fetch_timeout"),
            (self.max_staleness, "max_staleness"),
        ] {
            if value.is_zero() {
                return Err(RemoteJwksError::Zero(name));
            }
        }
        if self.max_bytes == 0 {
            return Err(RemoteJwksError::Zero("max_response_bytes"));
        }
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let dev = if self.allow_unverified_dev {
            let environment = Environment::from_env()?;
            if !environment.is_development() {
                return Err(RemoteJwksError::UnverifiedDevRefused(environment));
            }
            tracing::warn!(
                "allow_unverified_dev is ON (LEX_ENV=development): tokens signed by keys \
                 outside the JWKS will be accepted WITHOUT signature verification"
            );
            Some(
                UnverifiedDev::new(
                    &self.issuer,
                    &self.audience,
                    self.leeway,
                    Arc::clone(&clock),
                )
                .map_err(RemoteJwksError::Dev)?,
            )
        } else {
            None
        };
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| RemoteJwksError::NoRuntime)?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.fetch_timeout)
            .timeout(self.fetch_timeout)
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| RemoteJwksError::Client(e.to_string()))?;
        let inner = Arc::new(Inner {
            config: Config {
                url,
                issuer: self.issuer,
                audience: self.audience,
                algorithms: self.algorithms,
                min_refetch: self.min_refetch,
                refresh: self.refresh,
                fetch_timeout: self.fetch_timeout,
                max_bytes: self.max_bytes,
                max_staleness: self.max_staleness,
                leeway: self.leeway,
                clock,
            },
            client,
            state: RwLock::new(State::default()),
            gate: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
            dev,
        });
        let task = runtime
            .spawn(refresh_loop(Arc::downgrade(&inner), inner.config.refresh))
            .abort_handle();
        Ok(RemoteJwks { inner, task })
    }
}

fn check_url(url: &reqwest::Url) -> Result<(), RemoteJwksError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = url.host_str().unwrap_or_default();
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(RemoteJwksError::InsecureUrl)
            }
        }
        _ => Err(RemoteJwksError::InsecureUrl),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_or_loopback() {
        let ok = |u: &str| check_url(&reqwest::Url::parse(u).unwrap());
        assert_eq!(ok("https://issuer.example/jwks"), Ok(()));
        assert_eq!(ok("http://127.0.0.1:8080/jwks"), Ok(()));
        assert_eq!(ok("http://localhost/jwks"), Ok(()));
        assert_eq!(ok("http://[::1]/jwks"), Ok(()));
        assert_eq!(
            ok("http://issuer.example/jwks"),
            Err(RemoteJwksError::InsecureUrl)
        );
        assert_eq!(ok("file:///etc/passwd"), Err(RemoteJwksError::InsecureUrl));
    }

    #[test]
    fn build_refuses_bad_settings_without_a_runtime_or_with_one() {
        let b = || RemoteJwks::builder("https://issuer.example/jwks", "iss", "aud");
        assert_eq!(
            b().algorithms([Algorithm::HS256]).build().unwrap_err(),
            RemoteJwksError::SymmetricAlgorithm(Algorithm::HS256)
        );
        assert_eq!(
            b().algorithms([]).build().unwrap_err(),
            RemoteJwksError::NoAlgorithms
        );
        assert_eq!(
            b().refresh_interval(Duration::ZERO).build().unwrap_err(),
            RemoteJwksError::Zero("refresh_interval")
        );
        assert_eq!(
            RemoteJwks::builder("not a url", "iss", "aud")
                .build()
                .unwrap_err(),
            RemoteJwksError::InvalidUrl
        );
        assert_eq!(
            RemoteJwks::builder("https://i.example/", "", "aud")
                .build()
                .unwrap_err(),
            RemoteJwksError::Empty("issuer")
        );
        assert_eq!(b().build().unwrap_err(), RemoteJwksError::NoRuntime);
    }
}
