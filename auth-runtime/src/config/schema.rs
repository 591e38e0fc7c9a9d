//! The configuration's shape: [`AuthConfig`] and its sections, with the
//! library's defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::duration::{duration, nullable_duration, option_duration, parse_duration};
use super::secret::{Secret, option_text, text};
use crate::authn::{AccountConfig, DEFAULT_PASSWORD_HISTORY, LockoutConfig};
use crate::authz::RoleDefinition;
use crate::password::{Argon2Params, PasswordConfig};
use crate::session::{CookieConfig, DevicePolicy, LimitPolicy, SameSite, SessionConfig};
use crate::token::{Algorithm, DEFAULT_ACCESS_TTL, DEFAULT_LEEWAY, DEFAULT_REFRESH_TTL};

/// The `auth` section of `application.yaml` (or `[auth]` of a TOML file).
///
/// Every key is optional and defaults to the library's default; a key that
/// is not listed here is an error naming it. The [key table](crate::docs::config)
/// lists each key, its default and what reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The application secret: the HMAC signing key when `token.keys` is
    /// empty, and the root of the session cookie key when
    /// `session.cookie.key` is unset.
    pub secret_key: Option<Secret>,
    /// Bearer tokens.
    pub token: TokenSection,
    /// Role definitions: name to grants, parents and description.
    pub roles: BTreeMap<String, RoleDefinition>,
    /// The declared permission catalog; when not empty, every exact grant of
    /// a role must be in it.
    pub permissions: Vec<String>,
    /// Role-based access control.
    pub rbac: RbacSection,
    /// Password rules and hashing cost.
    pub password: PasswordSection,
    /// Account lockout after failed logins.
    pub lockout: LockoutSection,
    /// Rate limiting per client.
    pub rate_limit: RateLimitSection,
    /// Server-side sessions and their cookies.
    pub session: SessionSection,
    /// The most live sessions per user (the seed's top-level key); `None`
    /// for no limit.
    pub max_sessions_per_user: Option<u32>,
    /// Where each kind of data is kept.
    pub stores: StoresSection,
    /// OAuth2 providers by name.
    pub oauth2_providers: BTreeMap<String, OAuth2Provider>,
    /// Multi-factor authentication.
    pub mfa: MfaSection,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            secret_key: None,
            token: TokenSection::default(),
            roles: BTreeMap::new(),
            permissions: Vec::new(),
            rbac: RbacSection::default(),
            password: PasswordSection::default(),
            lockout: LockoutSection::default(),
            rate_limit: RateLimitSection::default(),
            session: SessionSection::default(),
            max_sessions_per_user: SessionConfig::default().max_sessions_per_user,
            stores: StoresSection::default(),
            oauth2_providers: BTreeMap::new(),
            mfa: MfaSection::default(),
        }
    }
}

/// `auth.token`: the [`JwtTokenManager`](crate::token::JwtTokenManager).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSection {
    /// The algorithm of HMAC secrets and PEM keys that do not name their
    /// own (default `HS256`). Tokens are verified with each key's algorithm,
    /// never the header's.
    pub algorithm: Algorithm,
    /// The key id that signs new tokens. Optional when only one key can
    /// sign; `default` names `secret_key` when `keys` is empty.
    #[serde(deserialize_with = "option_text")]
    pub current_key: Option<String>,
    /// Keys by key id (`kid`): an HMAC secret as text, or a table with one
    /// of `secret`, `pem`, `pem_file`, `jwk` (and optionally `algorithm`).
    pub keys: BTreeMap<String, KeySource>,
    /// Access-token lifetime (default 15 minutes).
    #[serde(deserialize_with = "duration")]
    pub access_ttl: Duration,
    /// Refresh-token lifetime (default 7 days).
    #[serde(deserialize_with = "duration")]
    pub refresh_ttl: Duration,
    /// The issuer written as `iss` and required on verification.
    #[serde(deserialize_with = "option_text")]
    pub issuer: Option<String>,
    /// The audience written as `aud` and required on verification;
    /// required in staging and production.
    #[serde(deserialize_with = "option_text")]
    pub required_audience: Option<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat` (default 30 s).
    #[serde(deserialize_with = "duration")]
    pub leeway: Duration,
    /// How long a retired key keeps verifying after a rotation (default:
    /// the longer token lifetime plus the leeway).
    #[serde(deserialize_with = "option_duration")]
    pub rotation_grace: Option<Duration>,
    /// **Development only**: accept remote-issuer tokens whose key is not in
    /// the JWKS, unverified (see `remote_jwks`). Refused in any other
    /// environment.
    pub allow_unverified_dev: bool,
    /// Verify an external issuer's tokens against its JWKS URL (feature
    /// `remote-jwks`).
    pub remote_jwks: Option<RemoteJwksSection>,
}

impl Default for TokenSection {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::HS256,
            current_key: None,
            keys: BTreeMap::new(),
            access_ttl: DEFAULT_ACCESS_TTL,
            refresh_ttl: DEFAULT_REFRESH_TTL,
            issuer: None,
            required_audience: None,
            leeway: DEFAULT_LEEWAY,
            rotation_grace: None,
            allow_unverified_dev: false,
            remote_jwks: None,
        }
    }
}

/// `auth.token.remote_jwks`: an external issuer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteJwksSection {
    /// The JWKS URL (`https`, or `http` to a loopback host).
    #[serde(deserialize_with = "text")]
    pub url: String,
    /// The issuer's `iss`.
    #[serde(deserialize_with = "text")]
    pub issuer: String,
    /// The audience required in its tokens (default:
    /// `token.required_audience`).
    #[serde(default, deserialize_with = "option_text")]
    pub audience: Option<String>,
}

/// One key of `auth.token.keys`.
///
/// ```yaml
/// keys:
///   k1: "${JWT_SECRET}"                    # an HMAC secret for token.algorithm
///   k2: { secret: "...", algorithm: HS512 }
///   k3: { pem_file: /etc/app/k3.pem, algorithm: ES256 }
///   k4: { pem: "-----BEGIN PRIVATE KEY-----\n..." }
///   k5: { jwk: { kty: OKP, crv: Ed25519, x: "...", alg: EdDSA } }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// An HMAC secret.
    Secret {
        /// The secret.
        secret: Secret,
        /// Its algorithm (default `token.algorithm`).
        algorithm: Option<Algorithm>,
    },
    /// A PEM document, inline: a private key signs, a public key verifies.
    Pem {
        /// The PEM text.
        pem: Secret,
        /// Its algorithm (default `token.algorithm`).
        algorithm: Option<Algorithm>,
    },
    /// A PEM document in a file, read when the manager is built.
    PemFile {
        /// The file.
        path: PathBuf,
        /// Its algorithm (default `token.algorithm`).
        algorithm: Option<Algorithm>,
    },
    /// A JWK (its `alg` is its algorithm): `oct` signs, others verify.
    Jwk(Secret),
}

impl<'de> Deserialize<'de> for KeySource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            #[serde(default)]
            secret: Option<Secret>,
            #[serde(default)]
            pem: Option<Secret>,
            #[serde(default)]
            pem_file: Option<PathBuf>,
            #[serde(default)]
            jwk: Option<serde_json::Value>,
            #[serde(default)]
            algorithm: Option<Algorithm>,
        }

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeySource;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an HMAC secret, or a table with one of `secret`, `pem`, `pem_file`, `jwk`",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeySource, E> {
                Ok(KeySource::Secret {
                    secret: Secret::new(v),
                    algorithm: None,
                })
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeySource, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeySource, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<KeySource, A::Error> {
                let t = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let given = [
                    t.secret.is_some(),
                    t.pem.is_some(),
                    t.pem_file.is_some(),
                    t.jwk.is_some(),
                ]
                .into_iter()
                .filter(|&g| g)
                .count();
                if given != 1 {
                    return Err(de::Error::custom(
                        "a key needs exactly one of `secret`, `pem`, `pem_file` or `jwk`",
                    ));
                }
                let algorithm = t.algorithm;
                if let Some(secret) = t.secret {
                    return Ok(KeySource::Secret { secret, algorithm });
                }
                if let Some(pem) = t.pem {
                    return Ok(KeySource::Pem { pem, algorithm });
                }
                if let Some(path) = t.pem_file {
                    return Ok(KeySource::PemFile { path, algorithm });
                }
                if algorithm.is_some() {
                    return Err(de::Error::custom(
                        "a JWK names its own algorithm (`alg`); remove `algorithm`",
                    ));
                }
                match t.jwk {
                    Some(serde_json::Value::String(json)) => Ok(KeySource::Jwk(Secret::new(json))),
                    Some(value @ serde_json::Value::Object(_)) => {
                        Ok(KeySource::Jwk(Secret::new(value.to_string())))
                    }
                    _ => Err(de::Error::custom(
                        "`jwk` must be a JWK object or its JSON text",
                    )),
                }
            }
        }

        deserializer.deserialize_any(KeyVisitor)
    }
}

/// `auth.rbac`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RbacSection {
    /// The role given to users who register (default `viewer`).
    #[serde(deserialize_with = "text")]
    pub default_role: String,
}

impl Default for RbacSection {
    fn default() -> Self {
        Self {
            default_role: AccountConfig::default()
                .default_roles
                .into_iter()
                .next()
                .unwrap_or_default(),
        }
    }
}

/// `auth.password`: the seed's `PasswordConfig` keys, the history and the
/// Argon2id cost.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSection {
    /// The least number of characters (default 12).
    pub min_length: usize,
    /// The most number of characters (default 128).
    pub max_length: usize,
    /// At least one upper-case letter (default `true`).
    pub require_uppercase: bool,
    /// At least one lower-case letter (default `false`).
    pub require_lowercase: bool,
    /// At least one digit (default `true`).
    pub require_digits: bool,
    /// At least one character other than letters and digits (default `false`).
    pub require_special: bool,
    /// Substrings refused, case-insensitively.
    pub banned_patterns: Vec<String>,
    /// An extra list of common passwords, one a line (the built-in list of
    /// 10 000 is always on).
    pub common_passwords_file: Option<PathBuf>,
    /// How many earlier hashes a new password may not match (default 5).
    pub history: usize,
    /// The Argon2id cost of new hashes.
    pub argon2: Argon2Section,
}

impl Default for PasswordSection {
    fn default() -> Self {
        let p = PasswordConfig::default();
        Self {
            min_length: p.min_length,
            max_length: p.max_length,
            require_uppercase: p.require_uppercase,
            require_lowercase: p.require_lowercase,
            require_digits: p.require_digits,
            require_special: p.require_special,
            banned_patterns: p.banned_patterns,
            common_passwords_file: p.common_passwords.file,
            history: DEFAULT_PASSWORD_HISTORY,
            argon2: Argon2Section::default(),
        }
    }
}

/// `auth.password.argon2`: the cost of new hashes (default m=19456 KiB,
/// t=2, p=1, OWASP's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Section {
    /// Memory in KiB (`m`).
    pub memory_kib: u32,
    /// Passes (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

impl Default for Argon2Section {
    fn default() -> Self {
        let a = Argon2Params::default();
        Self {
            memory_kib: a.memory_kib,
            iterations: a.iterations,
            parallelism: a.parallelism,
        }
    }
}

/// `auth.lockout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutSection {
    /// Failed logins that lock the account (default 5).
    pub max_failures: u32,
    /// How long failures are counted (default 5 minutes).
    #[serde(deserialize_with = "duration")]
    pub window: Duration,
    /// How long the account stays locked (default 5 minutes).
    #[serde(deserialize_with = "duration")]
    pub lockout: Duration,
}

impl Default for LockoutSection {
    fn default() -> Self {
        let l = LockoutConfig::default();
        Self {
            max_failures: l.max_failures,
            window: Duration::from_secs(l.window_seconds),
            lockout: Duration::from_secs(l.lockout_seconds),
        }
    }
}

/// `auth.rate_limit`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSection {
    /// The login routes' limit per client: `"5/minute"` or
    /// `{ limit: 5, period: 1m }` (default the seed's `5/minute`).
    pub login: QuotaSpec,
    /// Proxies whose `X-Forwarded-For` is believed (`10.0.0.0/8`, `::1`).
    pub trusted_proxies: Vec<String>,
}

impl Default for RateLimitSection {
    fn default() -> Self {
        Self {
            login: QuotaSpec {
                limit: 5,
                period: Duration::from_secs(60),
            },
            trusted_proxies: Vec::new(),
        }
    }
}

/// A rate: `limit` requests per `period`. Written `"10/minute"`,
/// `"100/hour"`, `"5/30s"`, or as a table `{ limit: 10, period: 1m }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSpec {
    /// Requests per period.
    pub limit: u32,
    /// The period.
    pub period: Duration,
}

impl std::str::FromStr for QuotaSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{}` is not a rate (write `10/minute`, `100/hour`, `5/30s`)",
                s.chars().take(40).collect::<String>()
            )
        };
        let (limit, per) = s.split_once('/').ok_or_else(bad)?;
        let limit: u32 = limit.trim().parse().map_err(|_| bad())?;
        let per = per.trim();
        let period = match per {
            "second" | "sec" | "s" => Duration::from_secs(1),
            "minute" | "min" | "m" => Duration::from_secs(60),
            "hour" | "h" => Duration::from_secs(3600),
            "day" | "d" => Duration::from_secs(86_400),
            other => parse_duration(other).map_err(|_| bad())?,
        };
        Ok(Self { limit, period })
    }
}

impl<'de> Deserialize<'de> for QuotaSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct QuotaVisitor;

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            limit: u32,
            #[serde(deserialize_with = "duration")]
            period: Duration,
        }

        impl<'de> Visitor<'de> for QuotaVisitor {
            type Value = QuotaSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rate such as `10/minute`, or `{ limit, period }`")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<QuotaSpec, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<QuotaSpec, A::Error> {
                let t = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(QuotaSpec {
                    limit: t.limit,
                    period: t.period,
                })
            }
        }

        deserializer.deserialize_any(QuotaVisitor)
    }
}

/// `auth.session`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSection {
    /// A session unused this long ends (default 30 minutes).
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// A session ends this long after login (default 12 hours).
    #[serde(deserialize_with = "duration")]
    pub absolute_timeout: Duration,
    /// Activity is written at most this often (default 60 s).
    #[serde(deserialize_with = "duration")]
    pub touch_interval: Duration,
    /// At `max_sessions_per_user`: `evict_least_recently_active` (default)
    /// or `deny_new`.
    #[serde(deserialize_with = "limit_policy")]
    pub limit_policy: LimitPolicy,
    /// `record` (default) or `enforce` the device id.
    #[serde(deserialize_with = "device_policy")]
    pub device_policy: DevicePolicy,
    /// The session cookies.
    pub cookie: CookieSection,
    /// What `POST /login` of the configured routes answers with: `tokens`
    /// (a JSON token pair, the default) or `cookies` (a session cookie).
    pub login: LoginAnswer,
}

/// What the configured login route answers with (`session.login`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginAnswer {
    /// A JSON access and refresh token pair.
    #[default]
    Tokens,
    /// A session cookie and a CSRF cookie.
    Cookies,
}

impl Default for SessionSection {
    fn default() -> Self {
        let s = SessionConfig::default();
        Self {
            idle_timeout: s.idle_timeout,
            absolute_timeout: s.absolute_timeout,
            touch_interval: s.touch_interval,
            limit_policy: s.limit_policy,
            device_policy: s.device_policy,
            cookie: CookieSection::default(),
            login: LoginAnswer::Tokens,
        }
    }
}

/// `auth.session.cookie`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieSection {
    /// The session cookie's name (default `__Host-lexigram-session`, or
    /// `lexigram-session` when `secure` is `false`).
    #[serde(deserialize_with = "option_text")]
    pub name: Option<String>,
    /// The CSRF cookie's name (default `__Host-lexigram-csrf`, or
    /// `lexigram-csrf` when `secure` is `false`).
    #[serde(deserialize_with = "option_text")]
    pub csrf_name: Option<String>,
    /// The `Secure` attribute (default `true`); `false` only in development.
    pub secure: bool,
    /// `lax` (default) or `strict`.
    #[serde(deserialize_with = "same_site")]
    pub same_site: SameSite,
    /// `Max-Age`: absent follows `session.absolute_timeout`; `null` makes a
    /// browser-session cookie; a duration sets it.
    #[serde(deserialize_with = "nullable_duration")]
    pub max_age: Option<Option<Duration>>,
    /// Origins besides the request's own allowed to make unsafe requests.
    pub allowed_origins: Vec<String>,
    /// The cookie signing key (at least 32 bytes); default derived from
    /// `secret_key`.
    pub key: Option<Secret>,
}

impl Default for CookieSection {
    fn default() -> Self {
        let c = CookieConfig::default();
        Self {
            name: None,
            csrf_name: None,
            secure: c.secure,
            same_site: c.same_site,
            max_age: None,
            allowed_origins: c.allowed_origins,
            key: None,
        }
    }
}

fn named<'de, D, T: Copy>(
    deserializer: D,
    what: &'static str,
    names: &'static [(&'static str, T)],
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let value = text(deserializer)?;
    names
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(value.trim()))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let list: Vec<String> = names.iter().map(|(n, _)| format!("`{n}`")).collect();
            de::Error::custom(format!(
                "unknown {what} `{}`, expected one of {}",
                value.chars().take(40).collect::<String>(),
                list.join(", ")
            ))
        })
}

fn limit_policy<'de, D: Deserializer<'de>>(d: D) -> Result<LimitPolicy, D::Error> {
    named(
        d,
        "limit policy",
        &[
            (
                "evict_least_recently_active",
                LimitPolicy::EvictLeastRecentlyActive,
            ),
            ("deny_new", LimitPolicy::DenyNew),
        ],
    )
}

fn device_policy<'de, D: Deserializer<'de>>(d: D) -> Result<DevicePolicy, D::Error> {
    named(
        d,
        "device policy",
        &[
            ("record", DevicePolicy::Record),
            ("enforce", DevicePolicy::Enforce),
        ],
    )
}

fn same_site<'de, D: Deserializer<'de>>(d: D) -> Result<SameSite, D::Error> {
    named(
        d,
        "SameSite value",
        &[("lax", SameSite::Lax), ("strict", SameSite::Strict)],
    )
}

/// `auth.stores`: where each kind of data is kept. Each is a [`StoreUrl`];
/// all default to `memory`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoresSection {
    /// Users (memory, SQLite, PostgreSQL).
    pub users: StoreUrl,
    /// Sessions (memory, SQLite, PostgreSQL, Redis).
    pub sessions: StoreUrl,
    /// Token revocations and used refresh tokens (memory, SQLite,
    /// PostgreSQL, Redis).
    pub revocation: StoreUrl,
    /// API keys (memory, SQLite, PostgreSQL).
    pub api_keys: StoreUrl,
    /// Lockout counters (memory, Redis).
    pub lockout: StoreUrl,
    /// Rate-limit buckets (memory, Redis).
    pub rate_limit: StoreUrl,
}

impl StoresSection {
    /// Each store with its key name and the backends it supports.
    #[must_use]
    pub fn entries(&self) -> [(&'static str, &StoreUrl, &'static [StoreBackend]); 6] {
        use StoreBackend::{Memory, Postgres, Redis, Sqlite};
        [
            ("users", &self.users, &[Memory, Sqlite, Postgres]),
            (
                "sessions",
                &self.sessions,
                &[Memory, Sqlite, Postgres, Redis],
            ),
            (
                "revocation",
                &self.revocation,
                &[Memory, Sqlite, Postgres, Redis],
            ),
            ("api_keys", &self.api_keys, &[Memory, Sqlite, Postgres]),
            ("lockout", &self.lockout, &[Memory, Redis]),
            ("rate_limit", &self.rate_limit, &[Memory, Redis]),
        ]
    }
}

/// A storage backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreBackend {
    /// In process memory: lost on restart, not shared between instances.
    Memory,
    /// SQLite (feature `sqlite`).
    Sqlite,
    /// PostgreSQL (feature `postgres`).
    Postgres,
    /// Redis (feature `redis`).
    Redis,
}

impl StoreBackend {
    /// The name: `memory`, `sqlite`, `postgres` or `redis`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Redis => "redis",
        }
    }

    /// Whether the crate feature this backend needs is enabled.
    #[must_use]
    pub const fn is_enabled(self) -> bool {
        match self {
            Self::Memory => true,
            Self::Sqlite => cfg!(feature = "sqlite"),
            Self::Postgres => cfg!(feature = "postgres"),
            Self::Redis => cfg!(feature = "redis"),
        }
    }
}

/// A store location: `memory`, `sqlite://path.db` (or `sqlite::memory:`),
/// `postgres://...` (or `postgresql://`), `redis://...` (or `rediss://`).
///
/// `Debug` hides the password of the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl {
    backend: StoreBackend,
    url: Secret,
}

impl Default for StoreUrl {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Memory,
            url: Secret::new("memory"),
        }
    }
}

impl StoreUrl {
    /// Parses a store location.
    ///
    /// # Errors
    /// A message naming the scheme (never the rest of the URL) when it is
    /// none of the above.
    pub fn parse(url: &str) -> Result<Self, String> {
        let u = url.trim();
        let scheme = u.split_once(':').map_or(u, |(s, _)| s).to_ascii_lowercase();
        let backend = match scheme.as_str() {
            "memory" if u.eq_ignore_ascii_case("memory") => StoreBackend::Memory,
            "sqlite" => StoreBackend::Sqlite,
            "postgres" | "postgresql" => StoreBackend::Postgres,
            "redis" | "rediss" => StoreBackend::Redis,
            _ => {
                return Err(format!(
                    "`{}` is not a store scheme: write `memory`, `sqlite://...`, `postgres://...` or `redis://...`",
                    scheme.chars().take(20).collect::<String>()
                ));
            }
        };
        Ok(Self {
            backend,
            url: Secret::new(u),
        })
    }

    /// The backend.
    #[must_use]
    pub fn backend(&self) -> StoreBackend {
        self.backend
    }

    /// The URL as configured, credentials included: pass it to the store's
    /// `connect`, do not log it.
    #[must_use]
    pub fn url(&self) -> &str {
        self.url.expose()
    }

    /// The URL with any password replaced by `***`, for logs.
    #[must_use]
    pub fn redacted(&self) -> String {
        let u = self.url.expose();
        let Some((scheme, rest)) = u.split_once("://") else {
            return u.to_owned();
        };
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                let hidden = if userinfo.contains(':') || user.is_empty() {
                    format!("{user}:***")
                } else {
                    user.to_owned()
                };
                format!("{scheme}://{hidden}@{host}{path}")
            }
            None => u.to_owned(),
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({})", self.redacted())
    }
}

impl<'de> Deserialize<'de> for StoreUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = text(deserializer)?;
        Self::parse(&url).map_err(de::Error::custom)
    }
}

/// One entry of `auth.oauth2_providers` (the seed's keys).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Provider {
    /// The client id issued by the provider.
    #[serde(deserialize_with = "text")]
    pub client_id: String,
    /// The client secret issued by the provider.
    pub client_secret: Secret,
}

/// `auth.mfa`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaSection {
    /// The issuer label shown by authenticator apps (default `lexigram`,
    /// the seed's).
    #[serde(deserialize_with = "text")]
    pub issuer: String,
}

impl Default for MfaSection {
    fn default() -> Self {
        Self {
            issuer: "lexigram".to_owned(),
        }
    }
}
