//! Server-side sessions (SESS-1 to SESS-7): [`SessionManager`] over a
//! [`SessionStore`], and the cookie backend with CSRF protection
//! ([`SessionCookies`]).
//!
//! ```
//! use std::sync::Arc;
//! use lexigram_auth::Principal;
//! use lexigram_auth::session::{ClientInfo, MemorySessionStore, SessionConfig, SessionManager};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lexigram_auth::error::SessionError> {
//! let sessions = SessionManager::new(
//!     Arc::new(MemorySessionStore::new()),
//!     SessionConfig { max_sessions_per_user: Some(5), ..SessionConfig::default() },
//! )?;
//! let client = ClientInfo::default();
//!
//! // Log in: a fresh id, whatever the client sent before.
//! let login = sessions.create(&Principal::new("alice").with_roles(["editor"]), &client).await?;
//! let session = sessions.validate(login.token.expose(), &client).await?;
//! assert_eq!(session.principal().roles(), ["editor"]);
//!
//! // Privilege change: a new id, the old one dead at once.
//! let promoted = Principal::new("alice").with_roles(["admin"]);
//! let rotated = sessions.rotate(login.token.expose(), Some(&promoted)).await?;
//! assert!(sessions.validate(login.token.expose(), &client).await.is_err());
//! assert_eq!(sessions.validate(rotated.token.expose(), &client).await?.principal().roles(), ["admin"]);
//!
//! // Log out everywhere.
//! assert_eq!(sessions.revoke_all("alice").await?, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # What a session is
//!
//! A session token is `<user>.<secret>`: the user id (base64url) and 32
//! random bytes (256 bits) from the operating system. Stores keep only the
//! SHA-256 of the secret part (the user part must match the stored record);
//! the token itself exists in the client's
//! cookie and, for a moment, in the response that set it. A token the
//! server did not issue is never adopted: a session is only ever created by
//! [`SessionManager::create`], with a fresh secret.
//!
//! A session ends at whichever comes first of its **idle timeout** (no
//! activity for [`SessionConfig::idle_timeout`]) and its **absolute
//! timeout** ([`SessionConfig::absolute_timeout`] after login, never
//! extended), both checked by the store on every read. Activity is written
//! at most once per [`SessionConfig::touch_interval`], so a session may
//! end up to that much *before* its idle timeout, never after.
//!
//! # Backends
//!
//! | type | feature | for |
//! |---|---|---|
//! | [`MemorySessionStore`] | always | tests, a single instance |
//! | `SqliteSessionStore` | `sqlite` | a single instance that survives restarts |
//! | `PostgresSessionStore` | `postgres` | several instances sharing PostgreSQL |
//! | `RedisSessionStore` | `redis` | several instances sharing Redis (or Redis Cluster) |

mod auth;
mod cookie;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

pub use self::auth::{SessionAuth, SessionRejection};
pub use self::cookie::{
    CSRF_HEADER, CookieConfig, CsrfPolicy, MIN_COOKIE_KEY_LEN, SameSite, SessionCookies,
};
pub use self::memory::MemorySessionStore;
#[cfg(feature = "postgres")]
pub use self::postgres::PostgresSessionStore;
#[cfg(feature = "redis")]
pub use self::redis::RedisSessionStore;
#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteSessionStore;
pub use self::store::{
    Inserted, LimitPolicy, SessionData, SessionLimit, SessionRecord, SessionStore, StoreError,
    StoreFuture,
};
use crate::clock::{Clock, SystemClock};
pub use crate::error::SessionError;
use crate::principal::{AuthMethod, Principal};

/// The idle timeout unless configured: 30 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The absolute timeout unless configured: 12 hours.
pub const DEFAULT_ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);
/// How often activity is written unless configured: once a minute.
pub const DEFAULT_TOUCH_INTERVAL: Duration = Duration::from_secs(60);
/// The longest session token accepted: a user id of at most 256 bytes and
/// the secret, encoded.
pub const MAX_TOKEN_LEN: usize = 400;
/// How many bytes of a `User-Agent` a record keeps.
pub const MAX_USER_AGENT_LEN: usize = 512;

const SECRET_LEN: usize = 32;
/// `SECRET_LEN` bytes in unpadded base64url.
const SECRET_B64_LEN: usize = 43;
const MAX_USER_ID_LEN: usize = 256;

/// Whether the device id recorded at login must match later requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DevicePolicy {
    /// Record the device id with the session; never compare it (the
    /// default: browsers change their `User-Agent` with every update).
    #[default]
    Record,
    /// A request whose device id differs from the recorded one ends the
    /// session ([`SessionError::DeviceMismatch`]).
    Enforce,
}

/// How sessions behave.
///
/// The field names follow the seed's `AuthConfig` where it has them
/// (`max_sessions_per_user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// A session unused for this long ends (default 30 minutes).
    pub idle_timeout: Duration,
    /// A session ends this long after login, however active (default 12
    /// hours).
    pub absolute_timeout: Duration,
    /// The most live sessions per user; `None` for no limit (the default).
    pub max_sessions_per_user: Option<u32>,
    /// What a login does at the limit (default: evict the least recently
    /// active session).
    pub limit_policy: LimitPolicy,
    /// Activity is written at most this often per session (default 60 s).
    pub touch_interval: Duration,
    /// Whether the device id is enforced (default: recorded only).
    pub device_policy: DevicePolicy,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            absolute_timeout: DEFAULT_ABSOLUTE_TIMEOUT,
            max_sessions_per_user: None,
            limit_policy: LimitPolicy::EvictLeastRecentlyActive,
            touch_interval: DEFAULT_TOUCH_INTERVAL,
            device_policy: DevicePolicy::Record,
        }
    }
}

impl SessionConfig {
    fn validate(&self) -> Result<(), SessionError> {
        if self.idle_timeout.as_secs() == 0 {
            return Err(SessionError::Config(
                "the idle timeout must be at least 1 s",
            ));
        }
        if self.absolute_timeout.as_secs() == 0 {
            return Err(SessionError::Config(
                "the absolute timeout must be at least 1 s",
            ));
        }
        if self.max_sessions_per_user == Some(0) {
            return Err(SessionError::Config(
                "max_sessions_per_user must be at least 1 (or None for no limit)",
            ));
        }
        if self.touch_interval >= self.idle_timeout {
            return Err(SessionError::Config(
                "the touch interval must be shorter than the idle timeout",
            ));
        }
        Ok(())
    }
}

/// What the server knows of the client making a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client address.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The attributes the device id is computed from (see [`device_id`]).
    pub fingerprint: BTreeMap<String, String>,
}

impl ClientInfo {
    /// The client as its request headers describe it: the fingerprint is
    /// `user_agent` (`User-Agent`), `language` (`Accept-Language`) and
    /// `platform` (`Sec-CH-UA-Platform`), each when present.
    #[must_use]
    pub fn from_headers(headers: &HeaderMap, ip: Option<IpAddr>) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let user_agent = text("user-agent");
        let mut fingerprint = BTreeMap::new();
        for (key, header) in [
            ("user_agent", "user-agent"),
            ("language", "accept-language"),
            ("platform", "sec-ch-ua-platform"),
        ] {
            if let Some(value) = text(header) {
                fingerprint.insert(key.to_owned(), value);
            }
        }
        Self {
            ip,
            user_agent,
            fingerprint,
        }
    }
}

/// The device id of a fingerprint: the SHA-256 (hex) of its compact JSON
/// with keys sorted, as the Python lexigram-auth computes it.
///
/// ```
/// use std::collections::BTreeMap;
/// use lexigram_auth::session::device_id;
///
/// assert_eq!(
///     device_id(&BTreeMap::new()),
///     "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
/// );
/// ```
#[must_use]
pub fn device_id(fingerprint: &BTreeMap<String, String>) -> String {
    // A map of strings always serialises; fall back to "{}" all the same.
    let json = serde_json::to_string(fingerprint).unwrap_or_else(|_| "{}".to_owned());
    hex(&Sha256::digest(json.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let text: Vec<u8> = bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]])
        .collect();
    // Only ASCII digits and letters were written.
    String::from_utf8(text).unwrap_or_default()
}

/// A session token: the secret the client holds. `Debug` and `Display`
/// never show it; [`expose`](Self::expose) does.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(Zeroizing<String>);

impl SessionToken {
    /// The token text, to put in a cookie.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// A live session, as [`SessionManager::validate`] and
/// [`SessionManager::list`] return it.
#[derive(Debug, Clone)]
pub struct Session {
    record: SessionRecord,
    principal: Principal,
}

impl Session {
    /// The session's public id (the SHA-256 of its secret): safe to show in
    /// a list of devices and to pass to [`SessionManager::revoke_id`].
    #[must_use]
    pub fn id(&self) -> &str {
        &self.record.key
    }

    /// The user.
    #[must_use]
    pub fn user_id(&self) -> &str {
        &self.record.user_id
    }

    /// The signed-in principal: the roles and permissions stored at login
    /// or at the last rotation, [`AuthMethod::Session`], the
    /// authentication time and the session id.
    #[must_use]
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The stored record.
    #[must_use]
    pub fn record(&self) -> &SessionRecord {
        &self.record
    }

    /// Takes the principal.
    #[must_use]
    pub fn into_principal(self) -> Principal {
        self.principal
    }
}

/// A session just created or rotated: the token to hand to the client
/// (once) and the session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The token for the client's cookie.
    pub token: SessionToken,
    /// The session.
    pub session: Session,
    /// Sessions of the user ended to make room (their public ids).
    pub evicted: Vec<String>,
}

/// Creates, checks, rotates and ends sessions.
///
/// Cheap to clone; clones share the store.
#[derive(Debug, Clone)]
pub struct SessionManager {
    store: Arc<dyn SessionStore>,
    config: SessionConfig,
    clock: Arc<dyn Clock>,
}

/// The parts of a presented token.
struct Parsed {
    user_id: String,
    key: String,
}

impl SessionManager {
    /// A manager over `store`.
    ///
    /// # Errors
    /// [`SessionError::Config`] for a zero timeout or limit, or a touch
    /// interval not shorter than the idle timeout.
    pub fn new(store: Arc<dyn SessionStore>, config: SessionConfig) -> Result<Self, SessionError> {
        config.validate()?;
        Ok(Self {
            store,
            config,
            clock: Arc::new(SystemClock),
        })
    }

    /// Uses `clock` instead of the system clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    fn now(&self) -> u64 {
        self.clock.unix_seconds()
    }

    fn limit(&self) -> Option<SessionLimit> {
        self.config.max_sessions_per_user.map(|max| SessionLimit {
            max,
            policy: self.config.limit_policy,
        })
    }

    /// Starts a session for `principal` (a login): a fresh token, whatever
    /// the client presented before, within the user's session limit.
    ///
    /// # Errors
    /// [`SessionError::LimitReached`] at the limit with
    /// [`LimitPolicy::DenyNew`]; [`SessionError::Config`] for a subject
    /// longer than 256 bytes; [`SessionError::Unavailable`] when the store
    /// fails or no random secret can be drawn.
    pub async fn create(
        &self,
        principal: &Principal,
        client: &ClientInfo,
    ) -> Result<NewSession, SessionError> {
        let now = self.now();
        let (token, key) = new_token(principal.subject())?;
        let auth_time = principal
            .auth_time()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(now, |d| d.as_secs());
        let record = SessionRecord {
            key,
            user_id: principal.subject().to_owned(),
            created_at: now,
            last_active_at: now,
            idle_expires_at: now.saturating_add(self.config.idle_timeout.as_secs()),
            expires_at: now.saturating_add(self.config.absolute_timeout.as_secs()),
            auth_time,
            device_id: Some(device_id(&client.fingerprint)),
            ip: client.ip,
            user_agent: client.user_agent.as_deref().map(truncate_user_agent),
            data: SessionData::of(principal),
        };
        match self.store.insert(&record, self.limit(), now).await? {
            Inserted::Inserted { evicted } => {
                tracing::debug!(user = %record.user_id, evicted = evicted.len(), "session created");
                let session = session_of(record);
                Ok(NewSession {
                    token,
                    session,
                    evicted,
                })
            }
            Inserted::Denied => Err(SessionError::LimitReached),
        }
    }

    /// The live session of `token`, with activity recorded (at most once
    /// per touch interval).
    ///
    /// # Errors
    /// [`SessionError::Malformed`], [`SessionError::Invalid`] (unknown,
    /// revoked, rotated or expired), [`SessionError::DeviceMismatch`] (with
    /// [`DevicePolicy::Enforce`]; the session is then ended), or
    /// [`SessionError::Unavailable`].
    pub async fn validate(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<Session, SessionError> {
        let record = self.live_record(token, client).await?;
        Ok(session_of(record))
    }

    /// [`validate`](Self::validate), returning only the principal (what
    /// the guards need; no [`Session`] is assembled).
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub async fn validate_principal(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<Principal, SessionError> {
        let record = self.live_record(token, client).await?;
        Ok(principal_of(&record))
    }

    /// The live record of `token`, device checked and activity recorded.
    async fn live_record(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<SessionRecord, SessionError> {
        let parsed = parse_token(token)?;
        let now = self.now();
        let Some(mut record) = self.store.get(&parsed.user_id, &parsed.key, now).await? else {
            return Err(SessionError::Invalid);
        };
        if self.config.device_policy == DevicePolicy::Enforce
            && record.device_id.as_deref() != Some(device_id(&client.fingerprint).as_str())
        {
            self.store.remove(&parsed.user_id, &parsed.key).await?;
            tracing::info!(user = %parsed.user_id, "session ended: used from another device");
            return Err(SessionError::DeviceMismatch);
        }
        let touch = self.config.touch_interval.as_secs();
        if now.saturating_sub(record.last_active_at) >= touch.max(1) {
            let idle = now.saturating_add(self.config.idle_timeout.as_secs());
            if !self
                .store
                .touch(&parsed.user_id, &parsed.key, now, idle, now)
                .await?
            {
                return Err(SessionError::Invalid);
            }
            record.last_active_at = now;
            record.idle_expires_at = idle;
        }
        Ok(record)
    }

    /// Rotation: a new token for the live session of `token`, which dies at
    /// once. Call it on a privilege change (pass the new `principal`: its
    /// roles, permissions and tenant replace the stored ones) and on
    /// re-authentication (pass a principal whose
    /// [`auth_time`](Principal::auth_time) is the new authentication). The
    /// absolute deadline and the login time are kept.
    ///
    /// Of two concurrent rotations of one token, one succeeds.
    ///
    /// # Errors
    /// As [`validate`](Self::validate); [`SessionError::Invalid`] when the
    /// token is no longer live, or when `principal` is another user.
    pub async fn rotate(
        &self,
        token: &str,
        principal: Option<&Principal>,
    ) -> Result<NewSession, SessionError> {
        let parsed = parse_token(token)?;
        let now = self.now();
        let Some(old) = self.store.get(&parsed.user_id, &parsed.key, now).await? else {
            return Err(SessionError::Invalid);
        };
        if principal.is_some_and(|p| p.subject() != old.user_id) {
            return Err(SessionError::Invalid);
        }
        let (token, key) = new_token(&old.user_id)?;
        let auth_time = principal
            .and_then(Principal::auth_time)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(old.auth_time, |d| d.as_secs());
        let record = SessionRecord {
            key,
            last_active_at: now,
            idle_expires_at: now.saturating_add(self.config.idle_timeout.as_secs()),
            auth_time,
            data: principal.map_or_else(|| old.data.clone(), SessionData::of),
            ..old.clone()
        };
        if !self.store.replace(&old.key, &record, now).await? {
            return Err(SessionError::Invalid);
        }
        Ok(NewSession {
            token,
            session: session_of(record),
            evicted: Vec::new(),
        })
    }

    /// Ends the session of `token` (logout); `false` if it was not live.
    ///
    /// # Errors
    /// [`SessionError::Malformed`] or [`SessionError::Unavailable`].
    pub async fn revoke(&self, token: &str) -> Result<bool, SessionError> {
        let parsed = parse_token(token)?;
        Ok(self.store.remove(&parsed.user_id, &parsed.key).await?)
    }

    /// Ends the session of `user_id` whose public id is `id` (a device in
    /// a list of sessions); `false` if there was none.
    ///
    /// # Errors
    /// [`SessionError::Unavailable`].
    pub async fn revoke_id(&self, user_id: &str, id: &str) -> Result<bool, SessionError> {
        Ok(self.store.remove(user_id, id).await?)
    }

    /// Ends every session of `user_id` ("log out everywhere"); returns how
    /// many live ones ended.
    ///
    /// # Errors
    /// [`SessionError::Unavailable`].
    pub async fn revoke_all(&self, user_id: &str) -> Result<u64, SessionError> {
        Ok(self.store.remove_user(user_id, None, self.now()).await?)
    }

    /// Ends every other session of the user of `token` (after a password
    /// change made in this session); returns how many ended.
    ///
    /// # Errors
    /// [`SessionError::Malformed`] or [`SessionError::Unavailable`].
    pub async fn revoke_others(&self, token: &str) -> Result<u64, SessionError> {
        let parsed = parse_token(token)?;
        Ok(self
            .store
            .remove_user(&parsed.user_id, Some(&parsed.key), self.now())
            .await?)
    }

    /// The user's live sessions, most recently active first.
    ///
    /// # Errors
    /// [`SessionError::Unavailable`].
    pub async fn list(&self, user_id: &str) -> Result<Vec<Session>, SessionError> {
        let records = self.store.list_user(user_id, self.now()).await?;
        Ok(records.into_iter().map(session_of).collect())
    }
}

/// The [`Session`] of a live record.
fn session_of(record: SessionRecord) -> Session {
    Session {
        principal: principal_of(&record),
        record,
    }
}

/// The principal a session record stands for.
fn principal_of(record: &SessionRecord) -> Principal {
    let data = &record.data;
    let mut principal = Principal::new(record.user_id.clone())
        .with_roles(data.roles.iter().map(String::as_str))
        .with_permissions(data.permissions.iter().map(String::as_str))
        .with_amr(data.amr.iter().map(String::as_str))
        .with_authentication(
            AuthMethod::Session,
            Some(UNIX_EPOCH + Duration::from_secs(record.auth_time)),
        )
        .with_session_id(record.key.clone());
    if let Some(tenant) = &data.tenant {
        principal = principal.with_tenant(tenant.as_str());
    }
    principal
}

fn truncate_user_agent(agent: &str) -> String {
    let mut end = agent.len().min(MAX_USER_AGENT_LEN);
    while !agent.is_char_boundary(end) {
        end -= 1;
    }
    agent[..end].to_owned()
}

/// The store key of a token: SHA-256 (hex) of its secret part (the user
/// part is checked against the stored record, so it needs no hashing).
fn secret_key(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn new_token(user_id: &str) -> Result<(SessionToken, String), SessionError> {
    if user_id.is_empty() || user_id.len() > MAX_USER_ID_LEN {
        return Err(SessionError::Config(
            "a session's user id must be 1 to 256 bytes",
        ));
    }
    let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
    getrandom::fill(secret.as_mut()).map_err(|_| {
        SessionError::Unavailable(StoreError::Corrupt {
            backend: "session",
            detail: "no random session secret could be drawn",
        })
    })?;
    let secret = Zeroizing::new(URL_SAFE_NO_PAD.encode(secret.as_ref()));
    let token = Zeroizing::new(format!("{}.{}", URL_SAFE_NO_PAD.encode(user_id), *secret));
    let key = secret_key(&secret);
    Ok((SessionToken(token), key))
}

/// Whether `secret` is the canonical unpadded base64url of 32 bytes: 43
/// characters of the alphabet, the last one carrying 4 bits (its 2 low
/// bits zero). Checked without decoding.
fn is_canonical_secret(secret: &str) -> bool {
    const LAST: &[u8] = b"AEIMQUYcgkosw048";
    let bytes = secret.as_bytes();
    bytes.len() == SECRET_B64_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        && bytes.last().is_some_and(|b| LAST.contains(b))
}

fn parse_token(token: &str) -> Result<Parsed, SessionError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(SessionError::Malformed);
    }
    let (user, secret) = token.split_once('.').ok_or(SessionError::Malformed)?;
    if !is_canonical_secret(secret) {
        return Err(SessionError::Malformed);
    }
    let user_id = URL_SAFE_NO_PAD
        .decode(user)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|u| !u.is_empty() && u.len() <= MAX_USER_ID_LEN)
        .ok_or(SessionError::Malformed)?;
    Ok(Parsed {
        user_id,
        key: secret_key(secret),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn manager(config: SessionConfig) -> (SessionManager, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::at_unix(1_000_000));
        let m = SessionManager::new(Arc::new(MemorySessionStore::new()), config)
            .unwrap()
            .with_clock(clock.clone());
        (m, clock)
    }

    #[test]
    fn device_ids_match_the_python_vectors() {
        let fp: BTreeMap<String, String> = [
            ("user_agent", "Mozilla/5.0"),
            ("timezone", "UTC"),
            ("language", "en-US"),
            ("platform", "Linux"),
            ("screen_resolution", "1920x1080"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            device_id(&fp),
            "50da2b3f9c1430b2d19365c64846344c69dbcffdbc030854bca3ec5e71288622"
        );
        assert_eq!(
            device_id(&BTreeMap::new()),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn the_secret_check_agrees_with_a_strict_decoder() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.";
        for round in 0..20_000 {
            let len = if round % 3 == 0 {
                43
            } else {
                (next() % 46) as usize
            };
            let text: String = (0..len)
                .map(|_| char::from(alphabet[(next() % alphabet.len() as u64) as usize]))
                .collect();
            let strict = URL_SAFE_NO_PAD
                .decode(&text)
                .is_ok_and(|bytes| bytes.len() == SECRET_LEN);
            assert_eq!(is_canonical_secret(&text), strict, "{text}");
        }
        // Every real secret passes.
        for _ in 0..1_000 {
            let bytes: Vec<u8> = (0..32).map(|_| next() as u8).collect();
            assert!(is_canonical_secret(&URL_SAFE_NO_PAD.encode(bytes)));
        }
    }

    #[tokio::test]
    async fn tokens_are_random_long_and_stored_only_as_a_hash() {
        let (m, _) = manager(SessionConfig::default());
        let a = m
            .create(&Principal::new("alice"), &ClientInfo::default())
            .await
            .unwrap();
        let b = m
            .create(&Principal::new("alice"), &ClientInfo::default())
            .await
            .unwrap();
        assert_ne!(a.token, b.token);
        let (_, secret) = a.token.expose().split_once('.').unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(secret).unwrap().len(), 32);
        let records = m.store().list_user("alice", 1_000_000).await.unwrap();
        for record in &records {
            assert_eq!(record.key.len(), 64);
            assert!(!format!("{record:?}").contains(secret));
        }
        assert_eq!(format!("{:?}", a.token), "SessionToken(<redacted>)");
    }

    #[tokio::test]
    async fn idle_and_absolute_timeouts_are_enforced() {
        let config = SessionConfig {
            idle_timeout: Duration::from_secs(600),
            absolute_timeout: Duration::from_secs(3_600),
            touch_interval: Duration::from_secs(60),
            ..SessionConfig::default()
        };
        let (m, clock) = manager(config);
        let client = ClientInfo::default();
        let s = m.create(&Principal::new("u"), &client).await.unwrap();
        // Idle: 599 s later still live; activity moves the idle deadline.
        clock.advance(Duration::from_secs(599));
        m.validate(s.token.expose(), &client).await.unwrap();
        clock.advance(Duration::from_secs(599));
        m.validate(s.token.expose(), &client).await.unwrap();
        // ... but never the absolute one.
        for _ in 0..4 {
            clock.advance(Duration::from_secs(500));
            let r = m.validate(s.token.expose(), &client).await;
            let elapsed = 599 * 2 + 500 * 4; // at most 3 198 s so far
            let _ = elapsed;
            r.unwrap();
        }
        clock.advance(Duration::from_secs(500)); // 3 698 s after login
        assert!(matches!(
            m.validate(s.token.expose(), &client).await,
            Err(SessionError::Invalid)
        ));
        // Idle expiry on its own.
        let t = m.create(&Principal::new("u"), &client).await.unwrap();
        clock.advance(Duration::from_secs(600));
        assert!(matches!(
            m.validate(t.token.expose(), &client).await,
            Err(SessionError::Invalid)
        ));
    }

    #[tokio::test]
    async fn limit_evicts_the_least_recently_active_or_denies() {
        let config = SessionConfig {
            max_sessions_per_user: Some(2),
            ..SessionConfig::default()
        };
        let (m, clock) = manager(config.clone());
        let c = ClientInfo::default();
        let first = m.create(&Principal::new("u"), &c).await.unwrap();
        clock.advance(Duration::from_secs(100));
        let second = m.create(&Principal::new("u"), &c).await.unwrap();
        clock.advance(Duration::from_secs(100));
        // The first is used now: the second becomes least recently active.
        m.validate(first.token.expose(), &c).await.unwrap();
        let third = m.create(&Principal::new("u"), &c).await.unwrap();
        assert_eq!(third.evicted, [second.session.id().to_owned()]);
        assert!(m.validate(second.token.expose(), &c).await.is_err());
        assert!(m.validate(first.token.expose(), &c).await.is_ok());
        assert_eq!(m.list("u").await.unwrap().len(), 2);

        let deny = SessionConfig {
            limit_policy: LimitPolicy::DenyNew,
            ..config
        };
        let (m, _) = manager(deny);
        m.create(&Principal::new("u"), &c).await.unwrap();
        m.create(&Principal::new("u"), &c).await.unwrap();
        assert!(matches!(
            m.create(&Principal::new("u"), &c).await,
            Err(SessionError::LimitReached)
        ));
        // Other users are not affected.
        m.create(&Principal::new("v"), &c).await.unwrap();
    }

    #[tokio::test]
    async fn rotation_kills_the_old_token_and_keeps_the_absolute_deadline() {
        let (m, clock) = manager(SessionConfig::default());
        let c = ClientInfo::default();
        let s = m
            .create(&Principal::new("u").with_roles(["viewer"]), &c)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(10));
        let r = m.rotate(s.token.expose(), None).await.unwrap();
        assert_ne!(r.session.id(), s.session.id());
        assert_eq!(r.session.record().expires_at, s.session.record().expires_at);
        assert_eq!(r.session.principal().roles(), ["viewer"]);
        assert!(matches!(
            m.validate(s.token.expose(), &c).await,
            Err(SessionError::Invalid)
        ));
        // A second rotation of the dead token fails; another user's
        // principal is refused.
        assert!(m.rotate(s.token.expose(), None).await.is_err());
        assert!(
            m.rotate(r.token.expose(), Some(&Principal::new("mallory")))
                .await
                .is_err()
        );
        assert!(m.validate(r.token.expose(), &c).await.is_ok());
    }

    #[tokio::test]
    async fn an_enforced_device_id_ends_the_session_on_mismatch() {
        let (m, _) = manager(SessionConfig {
            device_policy: DevicePolicy::Enforce,
            ..SessionConfig::default()
        });
        let mut laptop = ClientInfo::default();
        laptop
            .fingerprint
            .insert("user_agent".to_owned(), "Firefox".to_owned());
        let mut other = ClientInfo::default();
        other
            .fingerprint
            .insert("user_agent".to_owned(), "curl".to_owned());
        let s = m.create(&Principal::new("u"), &laptop).await.unwrap();
        m.validate(s.token.expose(), &laptop).await.unwrap();
        assert!(matches!(
            m.validate(s.token.expose(), &other).await,
            Err(SessionError::DeviceMismatch)
        ));
        // Ended, even for the right device now.
        assert!(m.validate(s.token.expose(), &laptop).await.is_err());
    }

    #[tokio::test]
    async fn forged_and_malformed_tokens_are_refused_without_panics() {
        let (m, _) = manager(SessionConfig::default());
        let c = ClientInfo::default();
        let s = m.create(&Principal::new("u"), &c).await.unwrap();
        let (user, secret) = s.token.expose().split_once('.').unwrap();
        let other_user = format!("{}.{secret}", URL_SAFE_NO_PAD.encode("v"));
        let mut flipped = secret.to_owned().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = format!("{user}.{}", String::from_utf8(flipped).unwrap());
        for bad in [
            "",
            ".",
            "x",
            &other_user,
            &flipped,
            &format!("{user}.{secret}="),
            &format!("{user}.{secret}.extra"),
            &"a".repeat(5_000),
            "\u{0}.\u{0}",
        ] {
            assert!(m.validate(bad, &c).await.is_err(), "{bad}");
        }
    }
}
