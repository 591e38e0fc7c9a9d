//! API keys for machine clients (KEY-1..3): created with the secret shown
//! once, listed, revoked, expiring; scopes that act as permissions.
//!
//! A key reads `lxk_<id>_<secret>`: `id` is 16 hex digits, public, and the
//! primary key of the stored record, so checking a key is **one** look-up by
//! id whatever the number of keys; `secret` is 32 random bytes (base64url)
//! of which only the SHA-256 digest is stored, compared in constant time.
//! (A slow password hash adds nothing for 256 random bits and would make
//! every API call pay for it.)
//!
//! ```
//! use std::sync::Arc;
//! use lexigram_auth::apikey::{ApiKeys, MemoryApiKeyStore, NewApiKey};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = ApiKeys::new(Arc::new(MemoryApiKeyStore::new()));
//! let created = keys
//!     .create(NewApiKey::new("user-1", "CI deploys").with_scopes(["articles.write"]))
//!     .await?;
//! // `created.secret` is shown to the user once and never stored.
//! let key = keys.verify(&created.secret, None).await?;
//! assert_eq!(key.scopes, ["articles.write"]);
//! assert_eq!(key.principal().permissions(), ["articles.write"]);
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

#[cfg(feature = "postgres")]
pub use postgres::PostgresApiKeyStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteApiKeyStore;

use crate::authz::grammar::check_permission;
use crate::clock::{Clock, SystemClock};
use crate::principal::{AuthMethod, Principal};
use crate::store::{StoreError, StoreFuture, check_id};

/// The header an API key may come in (besides `Authorization: Bearer`).
pub const API_KEY_HEADER: &str = "x-api-key";

/// The prefix of every key.
pub const KEY_PREFIX: &str = "lxk_";

/// Last-use times are written at most this often per key (seconds), so that
/// a busy client does not turn every request into a database write.
pub const TOUCH_INTERVAL_SECS: u64 = 60;

/// A stored API key: everything but the secret, whose digest alone is kept.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// The public id (16 hex digits).
    pub id: String,
    /// The owner's user id.
    pub user_id: String,
    /// A label chosen by the owner.
    pub name: String,
    /// Permissions the key grants (and nothing else: keys carry no roles).
    pub scopes: Vec<String>,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// Expiry, Unix seconds; `None` for a key that does not expire.
    pub expires_at: Option<u64>,
    /// Revocation time, Unix seconds.
    pub revoked_at: Option<u64>,
    /// Last successful use, Unix seconds (written at most once a minute).
    pub last_used_at: Option<u64>,
    /// The client address of that use.
    pub last_used_ip: Option<String>,
    /// SHA-256 of the secret, hex.
    #[serde(skip)]
    pub(crate) secret_hash: String,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// The principal a request made with this key acts as: the owner, with
    /// the key's scopes as its only permissions.
    #[must_use]
    pub fn principal(&self) -> Principal {
        Principal::new(self.user_id.clone())
            .with_permissions(self.scopes.iter().cloned())
            .with_authentication(AuthMethod::ApiKey, None)
    }

    /// Whether the key is usable at `now`.
    #[must_use]
    pub fn is_active(&self, now: u64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// A key to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The owner.
    pub user_id: String,
    /// A label.
    pub name: String,
    /// Permissions granted (each a valid permission name).
    pub scopes: Vec<String>,
    /// Lifetime in seconds from creation; `None` never expires.
    pub ttl_seconds: Option<u64>,
}

impl NewApiKey {
    /// A key without scopes or expiry.
    #[must_use]
    pub fn new(user_id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            name: name.into(),
            scopes: Vec::new(),
            ttl_seconds: None,
        }
    }

    /// Sets the scopes.
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Makes the key expire `seconds` after creation.
    #[must_use]
    pub fn expires_after(mut self, seconds: u64) -> Self {
        self.ttl_seconds = Some(seconds);
        self
    }
}

/// A freshly created key: the only time the secret exists outside the
/// client.
#[derive(Clone)]
pub struct CreatedApiKey {
    /// The full key to give to the client (`lxk_<id>_<secret>`).
    pub secret: String,
    /// The stored record.
    pub key: ApiKey,
}

impl fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("secret", &"<redacted>")
            .field("key", &self.key)
            .finish()
    }
}

/// Why a key was refused or could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// Not of the `lxk_<id>_<secret>` form.
    #[error("not an API key")]
    Malformed,
    /// No key has this id, or the secret does not match.
    #[error("unknown API key")]
    Unknown,
    /// The key was revoked.
    #[error("the API key is revoked")]
    Revoked,
    /// The key has expired.
    #[error("the API key has expired")]
    Expired,
    /// A scope is not a valid permission name.
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    /// The operating system gave no random bytes.
    #[error("no randomness available")]
    Random,
    /// The key store failed: the request must be refused (fail closed).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiKeyError {
    /// A stable code for logs and problem bodies.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed | Self::Unknown | Self::Revoked | Self::Expired => "api_key_invalid",
            Self::InvalidScope(_) => "api_key_scope",
            Self::Random => "api_key_random",
            Self::Store(_) => "api_key_unavailable",
        }
    }
}

/// Where API keys live: [`MemoryApiKeyStore`], `SqliteApiKeyStore` (feature
/// `sqlite`) and `PostgresApiKeyStore` (feature `postgres`), one conformance
/// suite for all.
pub trait ApiKeyStore: fmt::Debug + Send + Sync {
    /// Stores a new key (ids are fresh random values).
    fn insert<'a>(&'a self, key: &'a ApiKey) -> StoreFuture<'a, ()>;
    /// The key with this id: one indexed look-up.
    fn get<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<ApiKey>>;
    /// A user's keys (revoked and expired ones included), oldest first.
    fn list_for_user<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Vec<ApiKey>>;
    /// Revokes a key at `at`; `false` if there is none or it was revoked.
    fn revoke<'a>(&'a self, id: &'a str, at: u64) -> StoreFuture<'a, bool>;
    /// Records a use at `at` from `ip`.
    fn touch<'a>(&'a self, id: &'a str, at: u64, ip: Option<&'a str>) -> StoreFuture<'a, bool>;
}

/// Creates, checks, lists and revokes keys over an [`ApiKeyStore`].
#[derive(Clone)]
pub struct ApiKeys {
    store: Arc<dyn ApiKeyStore>,
    clock: Arc<dyn Clock>,
    sources: KeySources,
}

/// Where [`AuthModule`](crate::AuthModule) looks for API keys (both by
/// default).
///
/// ```
/// use std::sync::Arc;
/// use lexigram_auth::apikey::{ApiKeys, KeySources, MemoryApiKeyStore};
///
/// // Keys only in `X-API-Key`; `Authorization: Bearer` is then for JWTs alone.
/// let keys = ApiKeys::new(Arc::new(MemoryApiKeyStore::new()))
///     .accept(KeySources { x_api_key: true, bearer: false });
/// assert!(!keys.sources().bearer);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySources {
    /// The `X-API-Key` header.
    pub x_api_key: bool,
    /// `Authorization: Bearer lxk_...`.
    pub bearer: bool,
}

impl Default for KeySources {
    fn default() -> Self {
        Self {
            x_api_key: true,
            bearer: true,
        }
    }
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality of two equally long strings.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Splits `lxk_<16 hex>_<43 base64url>` into id and secret.
fn parse(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let secret_ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

/// Whether a bearer credential looks like one of our API keys rather than a
/// JWT.
#[must_use]
pub fn looks_like_api_key(credential: &str) -> bool {
    credential.starts_with(KEY_PREFIX)
}

impl ApiKeys {
    /// Keys in `store`, on the system clock.
    #[must_use]
    pub fn new(store: Arc<dyn ApiKeyStore>) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            sources: KeySources::default(),
        }
    }

    /// Where keys are accepted from (both sources by default).
    #[must_use]
    pub fn accept(mut self, sources: KeySources) -> Self {
        self.sources = sources;
        self
    }

    /// Where keys are accepted from.
    #[must_use]
    pub fn sources(&self) -> KeySources {
        self.sources
    }

    /// Uses `clock` for creation, expiry and last-use times.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Creates a key; the returned secret is never stored.
    ///
    /// # Errors
    /// [`ApiKeyError::InvalidScope`], [`ApiKeyError::Random`] or a store error.
    pub async fn create(&self, new: NewApiKey) -> Result<CreatedApiKey, ApiKeyError> {
        check_id("user id", &new.user_id)?;
        for scope in &new.scopes {
            check_permission(scope).map_err(|_| ApiKeyError::InvalidScope(scope.clone()))?;
        }
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        getrandom::fill(&mut id).map_err(|_| ApiKeyError::Random)?;
        getrandom::fill(&mut secret).map_err(|_| ApiKeyError::Random)?;
        let id = hex(&id);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let now = self.clock.unix_seconds();
        let key = ApiKey {
            id: id.clone(),
            user_id: new.user_id,
            name: new.name,
            scopes: new.scopes,
            created_at: now,
            expires_at: new.ttl_seconds.map(|ttl| now.saturating_add(ttl)),
            revoked_at: None,
            last_used_at: None,
            last_used_ip: None,
            secret_hash: digest(&secret),
        };
        self.store.insert(&key).await?;
        Ok(CreatedApiKey {
            secret: format!("{KEY_PREFIX}{id}_{secret}"),
            key,
        })
    }

    /// Checks a presented key: one look-up by id, the secret's digest
    /// compared in constant time, then revocation and expiry. A successful
    /// use is recorded (at most once a minute per key).
    ///
    /// # Errors
    /// [`ApiKeyError::Malformed`], [`ApiKeyError::Unknown`],
    /// [`ApiKeyError::Revoked`], [`ApiKeyError::Expired`], or a store error.
    pub async fn verify(&self, presented: &str, ip: Option<IpAddr>) -> Result<ApiKey, ApiKeyError> {
        let (id, secret) = parse(presented).ok_or(ApiKeyError::Malformed)?;
        let key = self.store.get(id).await?.ok_or(ApiKeyError::Unknown)?;
        if !same(&digest(secret), &key.secret_hash) {
            return Err(ApiKeyError::Unknown);
        }
        let now = self.clock.unix_seconds();
        if key.revoked_at.is_some() {
            return Err(ApiKeyError::Revoked);
        }
        if key.expires_at.is_some_and(|at| at <= now) {
            return Err(ApiKeyError::Expired);
        }
        let stale = key
            .last_used_at
            .is_none_or(|at| now.saturating_sub(at) >= TOUCH_INTERVAL_SECS);
        if stale {
            let ip = ip.map(|ip| ip.to_string());
            if let Err(error) = self.store.touch(&key.id, now, ip.as_deref()).await {
                // The key is valid; failing to note its use must not refuse it.
                tracing::warn!(%error, key_id = %key.id, "could not record an API key's use");
            }
        }
        Ok(key)
    }

    /// A user's keys, revoked and expired ones included, oldest first.
    ///
    /// # Errors
    /// A store error.
    pub async fn list(&self, user_id: &str) -> Result<Vec<ApiKey>, ApiKeyError> {
        Ok(self.store.list_for_user(user_id).await?)
    }

    /// Revokes a key; `false` if there was none (or it was revoked already).
    ///
    /// # Errors
    /// A store error.
    pub async fn revoke(&self, id: &str) -> Result<bool, ApiKeyError> {
        Ok(self.store.revoke(id, self.clock.unix_seconds()).await?)
    }
}

/// An [`ApiKeyStore`] in process memory, for tests and examples.
#[derive(Debug, Default)]
pub struct MemoryApiKeyStore {
    keys: RwLock<HashMap<String, ApiKey>>,
}

impl MemoryApiKeyStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl ApiKeyStore for MemoryApiKeyStore {
    fn insert<'a>(&'a self, key: &'a ApiKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            check_id("API key id", &key.id)?;
            self.keys
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.id.clone(), key.clone());
            Ok(())
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<ApiKey>> {
        Box::pin(async move {
            check_id("API key id", id)?;
            Ok(self
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(id)
                .cloned())
        })
    }

    fn list_for_user<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Vec<ApiKey>> {
        Box::pin(async move {
            let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
            let mut list: Vec<ApiKey> = keys
                .values()
                .filter(|k| k.user_id == user_id)
                .cloned()
                .collect();
            list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(list)
        })
    }

    fn revoke<'a>(&'a self, id: &'a str, at: u64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            check_id("API key id", id)?;
            let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
            Ok(match keys.get_mut(id) {
                Some(key) if key.revoked_at.is_none() => {
                    key.revoked_at = Some(at);
                    true
                }
                _ => false,
            })
        })
    }

    fn touch<'a>(&'a self, id: &'a str, at: u64, ip: Option<&'a str>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            check_id("API key id", id)?;
            let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
            Ok(match keys.get_mut(id) {
                Some(key) => {
                    key.last_used_at = Some(at);
                    key.last_used_ip = ip.map(str::to_owned);
                    true
                }
                None => false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_strictly() {
        let good = format!("lxk_0123456789abcdef_{}", "A".repeat(43));
        assert!(parse(&good).is_some());
        for bad in [
            String::new(),
            "lxk_".into(),
            format!("lxk_0123456789abcde_{}", "A".repeat(43)),
            format!("lxk_0123456789abcdeg_{}", "A".repeat(43)),
            format!("lxk_0123456789abcdef_{}", "A".repeat(42)),
            format!("lxk_0123456789abcdef_{}=", "A".repeat(42)),
            format!("lxk_0123456789abcdef{}", "A".repeat(44)),
            format!("xxx_0123456789abcdef_{}", "A".repeat(43)),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn constant_time_equality() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
