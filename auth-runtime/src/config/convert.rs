//! From configuration to the runtime's types: every key is read here (or by
//! [`validate`](super::AuthConfig::validate)).

use std::collections::BTreeSet;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::schema::{AuthConfig, KeySource, QuotaSpec};
use crate::authn::{AccountConfig, LockoutConfig};
use crate::authz::{AuthorizationService, RoleGraph};
use crate::environment::Environment;
use crate::error::{ConfigError, ConfigIssue};
use crate::password::{
    Argon2Params, CommonPasswords, PasswordConfig, PasswordHasher, PasswordPolicy,
};
use crate::ratelimit::{Quota, TrustedProxies};
use crate::session::{CookieConfig, SessionConfig, SessionCookies};
use crate::token::{Algorithm, JwtTokenManager, JwtTokenManagerBuilder, Key};

/// The key id under which `secret_key` signs when `token.keys` is empty.
pub const DEFAULT_KID: &str = "default";

/// Domain separation for the cookie key derived from `secret_key`, so that a
/// cookie MAC is never a valid token signature.
const COOKIE_KEY_LABEL: &[u8] = b"lexigram-auth/session-cookie-key/v1";

pub(super) fn key_path(kid: &str) -> String {
    format!("auth.token.keys.{kid}")
}

impl AuthConfig {
    /// The signing and verifying keys, in key-id order, each with the key
    /// path it came from; every key that cannot be made is an issue.
    pub(super) fn load_keys(&self) -> (Vec<(String, Key)>, Vec<ConfigIssue>) {
        let mut keys = Vec::new();
        let mut issues = Vec::new();
        let default_alg = self.token.algorithm;
        if self.token.keys.is_empty() {
            if let Some(secret) = &self.secret_key {
                let kid = self
                    .token
                    .current_key
                    .clone()
                    .unwrap_or_else(|| DEFAULT_KID.to_owned());
                match hmac_key(default_alg, secret.expose().as_bytes()) {
                    Ok(key) => keys.push((kid, key)),
                    Err(problem) => {
                        issues.push(weak_secret_issue("auth.secret_key", default_alg, &problem))
                    }
                }
            }
            return (keys, issues);
        }
        for (kid, source) in &self.token.keys {
            let path = key_path(kid);
            let made = match source {
                KeySource::Secret { secret, algorithm } => {
                    let alg = algorithm.unwrap_or(default_alg);
                    hmac_key(alg, secret.expose().as_bytes())
                        .map_err(|p| weak_secret_issue(&path, alg, &p))
                }
                KeySource::Pem { pem, algorithm } => {
                    Key::from_pem(algorithm.unwrap_or(default_alg), pem.expose()).map_err(|e| {
                        ConfigIssue::new(
                            format!("{path}.pem"),
                            format!("is not a usable key: {e}"),
                            "give a PEM private key (signs) or public key (verifies) of `token.algorithm`, or set `algorithm` on the key",
                        )
                    })
                }
                KeySource::PemFile { path: file, algorithm } => match std::fs::read(file) {
                    Ok(pem) => {
                        let pem = Zeroizing::new(pem);
                        Key::from_pem(algorithm.unwrap_or(default_alg), pem.as_slice()).map_err(
                            |e| {
                                ConfigIssue::new(
                                    format!("{path}.pem_file"),
                                    format!("`{}` is not a usable key: {e}", file.display()),
                                    "point it at a PEM private or public key of `token.algorithm`, or set `algorithm` on the key",
                                )
                            },
                        )
                    }
                    Err(e) => Err(ConfigIssue::new(
                        format!("{path}.pem_file"),
                        format!("`{}` cannot be read: {e}", file.display()),
                        "check the path and the file's permissions",
                    )),
                },
                KeySource::Jwk(json) => Key::from_jwk(json.expose()).map_err(|e| {
                    ConfigIssue::new(
                        format!("{path}.jwk"),
                        format!("is not a usable JWK: {e}"),
                        "give a JWK with `kty`, `alg` and the key parameters",
                    )
                }),
            };
            match made {
                Ok(key) => keys.push((kid.clone(), key)),
                Err(issue) => issues.push(issue),
            }
        }
        (keys, issues)
    }

    /// A [`JwtTokenManagerBuilder`] with the configured keys, current key,
    /// issuer, audience, lifetimes, leeway and rotation grace; add a
    /// revocation store or a clock, then build.
    ///
    /// Without `token.keys`, `secret_key` is the one HMAC key, under the key
    /// id `token.current_key` or `default`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] listing every key that cannot be made, or
    /// naming `auth.secret_key` when there is no key at all.
    pub fn token_manager_builder(&self) -> Result<JwtTokenManagerBuilder, ConfigError> {
        let (keys, issues) = self.load_keys();
        if let Some(errors) = crate::error::ConfigErrors::new(issues) {
            return Err(ConfigError::Invalid(errors));
        }
        if keys.is_empty() {
            return Err(ConfigIssue::new(
                "auth.secret_key",
                "is not set and `auth.token.keys` is empty, so nothing can sign tokens",
                "set `secret_key` (at least 32 random bytes for HS256) or add keys under `token.keys`",
            )
            .into());
        }
        let t = &self.token;
        let current = match &t.current_key {
            Some(kid) => Some(kid.clone()),
            None if t.keys.is_empty() => Some(DEFAULT_KID.to_owned()),
            None => {
                let mut signers = keys.iter().filter(|(_, k)| k.can_sign());
                match (signers.next(), signers.next()) {
                    (Some((kid, _)), None) => Some(kid.clone()),
                    _ => None,
                }
            }
        };
        let mut builder = JwtTokenManager::builder()
            .access_ttl(t.access_ttl)
            .refresh_ttl(t.refresh_ttl)
            .leeway(t.leeway);
        for (kid, key) in keys {
            builder = builder.key(kid, key);
        }
        if let Some(kid) = current {
            builder = builder.current_key(kid);
        }
        if let Some(issuer) = &t.issuer {
            builder = builder.issuer(issuer.clone());
        }
        if let Some(audience) = &t.required_audience {
            builder = builder.required_audience(audience.clone());
        }
        if let Some(grace) = t.rotation_grace {
            builder = builder.rotation_grace(grace);
        }
        Ok(builder)
    }

    /// The token manager (in-memory revocation, system clock); see
    /// [`token_manager_builder`](Self::token_manager_builder).
    ///
    /// # Errors
    /// As [`token_manager_builder`](Self::token_manager_builder), or the
    /// manager's own [`ConfigError::Token`] (no current key among several
    /// signing keys, an unknown current key, ...).
    pub fn token_manager(&self) -> Result<JwtTokenManager, ConfigError> {
        Ok(self.token_manager_builder()?.build()?)
    }

    /// The verifier for `token.remote_jwks`, with `allow_unverified_dev`
    /// (which its `build` honours only when `LEX_ENV=development`) and the
    /// leeway; `None` when the section is absent.
    #[cfg(feature = "remote-jwks")]
    #[must_use]
    pub fn remote_jwks(&self) -> Option<crate::token::RemoteJwksBuilder> {
        let remote = self.token.remote_jwks.as_ref()?;
        let audience = remote
            .audience
            .clone()
            .or_else(|| self.token.required_audience.clone())
            .unwrap_or_default();
        Some(
            crate::token::RemoteJwks::builder(&remote.url, &remote.issuer, audience)
                .leeway(self.token.leeway)
                .allow_unverified_dev(self.token.allow_unverified_dev),
        )
    }

    /// The role graph of `roles`, as an [`AuthorizationService`].
    ///
    /// # Errors
    /// [`ConfigError::Roles`] for a malformed name, an unknown parent or a
    /// cycle.
    pub fn authorization_service(&self) -> Result<AuthorizationService, ConfigError> {
        Ok(AuthorizationService::with_graph(RoleGraph::compile(
            &self.roles,
        )?))
    }

    /// The declared permissions.
    #[must_use]
    pub fn permission_catalog(&self) -> BTreeSet<&str> {
        self.permissions.iter().map(String::as_str).collect()
    }

    /// The account flows' settings: `rbac.default_role` for new users.
    #[must_use]
    pub fn account_config(&self) -> AccountConfig {
        AccountConfig {
            default_roles: vec![self.rbac.default_role.clone()],
            ..AccountConfig::default()
        }
    }

    /// The password rules of `password`.
    #[must_use]
    pub fn password_config(&self) -> PasswordConfig {
        let p = &self.password;
        PasswordConfig {
            min_length: p.min_length,
            max_length: p.max_length,
            require_uppercase: p.require_uppercase,
            require_lowercase: p.require_lowercase,
            require_digits: p.require_digits,
            require_special: p.require_special,
            banned_patterns: p.banned_patterns.clone(),
            common_passwords: CommonPasswords {
                file: p.common_passwords_file.clone(),
                ..CommonPasswords::default()
            },
        }
    }

    /// The [`PasswordPolicy`] (reads `common_passwords_file`).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] at `auth.password` for inconsistent lengths
    /// or an unreadable file.
    pub fn password_policy(&self) -> Result<PasswordPolicy, ConfigError> {
        PasswordPolicy::new(self.password_config()).map_err(|e| {
            let path = if self.password.common_passwords_file.is_some()
                && matches!(
                    e,
                    crate::password::PasswordError::CommonPasswordsFile { .. }
                ) {
                "auth.password.common_passwords_file"
            } else {
                "auth.password"
            };
            ConfigIssue::new(path, e.to_string(), "fix the password rules").into()
        })
    }

    /// The Argon2id parameters of `password.argon2`.
    #[must_use]
    pub fn argon2_params(&self) -> Argon2Params {
        let a = self.password.argon2;
        Argon2Params {
            memory_kib: a.memory_kib,
            iterations: a.iterations,
            parallelism: a.parallelism,
        }
    }

    /// The [`PasswordHasher`] for `password.argon2`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] at `auth.password.argon2` for a cost below
    /// OWASP's minimums or above the verification caps.
    pub fn password_hasher(&self) -> Result<PasswordHasher, ConfigError> {
        PasswordHasher::new(self.argon2_params()).map_err(|e| {
            ConfigIssue::new(
                "auth.password.argon2",
                e.to_string(),
                "use at least m=19456 KiB with t=2 (or another OWASP pair such as m=47104,t=1), p from 1 to 64",
            )
            .into()
        })
    }

    /// How many earlier hashes a new password may not match
    /// (`password.history`), for
    /// [`AuthenticationService::password_history`](crate::authn::AuthenticationService::password_history).
    #[must_use]
    pub fn password_history(&self) -> usize {
        self.password.history
    }

    /// The lockout settings of `lockout`.
    #[must_use]
    pub fn lockout_config(&self) -> LockoutConfig {
        LockoutConfig {
            max_failures: self.lockout.max_failures,
            window_seconds: self.lockout.window.as_secs(),
            lockout_seconds: self.lockout.lockout.as_secs(),
        }
    }

    /// The login routes' [`Quota`] (`rate_limit.login`).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] at `auth.rate_limit.login` for a zero limit
    /// or period.
    pub fn login_quota(&self) -> Result<Quota, ConfigError> {
        quota(&self.rate_limit.login, "auth.rate_limit.login")
    }

    /// The [`TrustedProxies`] of `rate_limit.trusted_proxies`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming each entry that is not an address
    /// or network.
    pub fn trusted_proxies(&self) -> Result<TrustedProxies, ConfigError> {
        let mut issues = Vec::new();
        for (i, entry) in self.rate_limit.trusted_proxies.iter().enumerate() {
            if let Err(e) = TrustedProxies::new([entry]) {
                issues.push(ConfigIssue::new(
                    format!("auth.rate_limit.trusted_proxies[{i}]"),
                    e.to_string(),
                    "write an address (`10.0.0.1`, `::1`) or a network (`10.0.0.0/8`)",
                ));
            }
        }
        if let Some(errors) = crate::error::ConfigErrors::new(issues) {
            return Err(errors.into());
        }
        TrustedProxies::new(&self.rate_limit.trusted_proxies).map_err(|e| {
            ConfigIssue::new(
                "auth.rate_limit.trusted_proxies",
                e.to_string(),
                "fix the entry",
            )
            .into()
        })
    }

    /// The [`SessionConfig`] of `session` and `max_sessions_per_user`.
    #[must_use]
    pub fn session_config(&self) -> SessionConfig {
        let s = &self.session;
        SessionConfig {
            idle_timeout: s.idle_timeout,
            absolute_timeout: s.absolute_timeout,
            max_sessions_per_user: self.max_sessions_per_user,
            limit_policy: s.limit_policy,
            touch_interval: s.touch_interval,
            device_policy: s.device_policy,
        }
    }

    /// The [`CookieConfig`] of `session.cookie`.
    #[must_use]
    pub fn cookie_config(&self) -> CookieConfig {
        let c = &self.session.cookie;
        let defaults = if c.secure {
            CookieConfig::default()
        } else {
            CookieConfig::plain_http_development()
        };
        CookieConfig {
            name: c.name.clone().unwrap_or(defaults.name),
            csrf_name: c.csrf_name.clone().unwrap_or(defaults.csrf_name),
            secure: c.secure,
            same_site: c.same_site,
            max_age: match c.max_age {
                None => Some(self.session.absolute_timeout.as_secs()),
                Some(None) => None,
                Some(Some(d)) => Some(d.as_secs()),
            },
            allowed_origins: c.allowed_origins.clone(),
        }
    }

    /// The cookie signing key: `session.cookie.key`, else HMAC-SHA256 of a
    /// fixed label under `secret_key` (so the cookie key differs from the
    /// token key); `None` when neither is set.
    #[must_use]
    pub fn cookie_key(&self) -> Option<Zeroizing<Vec<u8>>> {
        if let Some(key) = &self.session.cookie.key {
            return Some(Zeroizing::new(key.expose().as_bytes().to_vec()));
        }
        let secret = self.secret_key.as_ref()?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes()).ok()?;
        mac.update(COOKIE_KEY_LABEL);
        Some(Zeroizing::new(mac.finalize().into_bytes().to_vec()))
    }

    /// The [`SessionCookies`] of `session.cookie`, for `environment`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] at `auth.session.cookie` when no key is
    /// configured or the cookie settings are refused (a short key,
    /// `secure: false` outside development, ...).
    pub fn session_cookies(&self, environment: Environment) -> Result<SessionCookies, ConfigError> {
        let key = self.cookie_key().ok_or_else(|| {
            ConfigError::from(ConfigIssue::new(
                "auth.session.cookie.key",
                "is not set and there is no `auth.secret_key` to derive it from",
                "set `session.cookie.key` (at least 32 random bytes) or `secret_key`",
            ))
        })?;
        SessionCookies::new_in(key.as_slice(), self.cookie_config(), environment).map_err(|e| {
            ConfigIssue::new(
                "auth.session.cookie",
                e.to_string(),
                "fix the cookie settings",
            )
            .into()
        })
    }

    /// Checks the session settings the way
    /// [`SessionManager::new`](crate::session::SessionManager::new) does.
    pub(super) fn session_issue(&self) -> Option<ConfigIssue> {
        let store = Arc::new(crate::session::MemorySessionStore::new());
        crate::session::SessionManager::new(store, self.session_config())
            .err()
            .map(|e| {
                ConfigIssue::new(
                    "auth.session",
                    e.to_string(),
                    "use non-zero timeouts, a touch interval shorter than the idle timeout, and a `max_sessions_per_user` of at least 1",
                )
            })
    }
}

pub(super) fn quota(spec: &QuotaSpec, path: &str) -> Result<Quota, ConfigError> {
    Quota::new(spec.limit, spec.period).map_err(|e| {
        ConfigIssue::new(
            path,
            e.to_string(),
            "allow at least one request in a non-zero period, such as `5/minute`",
        )
        .into()
    })
}

/// An HMAC key of at least the algorithm's minimum length.
fn hmac_key(algorithm: Algorithm, secret: &[u8]) -> Result<Key, String> {
    let Some(min) = algorithm.min_hmac_bytes() else {
        return Err(format!(
            "is a secret, but `{algorithm}` needs a PEM or JWK key"
        ));
    };
    if secret.len() < min {
        return Err(format!(
            "is {} bytes long; {algorithm} needs at least {min}",
            secret.len()
        ));
    }
    Key::hmac(algorithm, secret).map_err(|e| e.to_string())
}

fn weak_secret_issue(path: &str, algorithm: Algorithm, problem: &str) -> ConfigIssue {
    let fix = match algorithm.min_hmac_bytes() {
        Some(min) => format!(
            "use at least {min} random bytes, such as the output of `openssl rand -base64 {}`",
            min.max(48)
        ),
        None => "give the key as `pem`, `pem_file` or `jwk`, or use an HMAC `algorithm`".to_owned(),
    };
    ConfigIssue::new(path, problem, fix)
}
