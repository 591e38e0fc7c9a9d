//! Per-environment validation: every problem at once, each with its key path
//! and the fix.

use std::collections::BTreeSet;
use std::fmt;

use super::convert::key_path;
use super::schema::{AuthConfig, KeySource, StoreBackend};
use super::secret::Secret;
use crate::authz::grammar::{check_grant, check_permission, check_role};
use crate::environment::Environment;
use crate::error::{ConfigErrors, ConfigIssue, RoleGraphError, TokenError};

/// A configuration that works but deserves attention (a generated secret, a
/// placeholder secret in development, a key with no effect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The key path.
    pub path: String,
    /// What deserves attention, in words.
    pub message: String,
}

impl ConfigWarning {
    pub(super) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.path, self.message)
    }
}

/// Secrets that appear in documentation, tutorials and templates, compared
/// case-insensitively with the whole secret.
const WELL_KNOWN: &[&str] = &[
    "change-me",
    "changeme",
    "change_me",
    "change-me-in-production",
    "your-secret-key",
    "your_secret_key",
    "your-secret",
    "secret",
    "secret-key",
    "secret_key",
    "secretkey",
    "mysecret",
    "my-secret",
    "supersecret",
    "super-secret",
    "jwt-secret",
    "jwt_secret",
    "password",
    "passw0rd",
    "default",
    "development",
    "test",
    "test-secret",
    "test-secret-key",
    "test-secret-key-for-testing-only",
    "123456",
    "12345678",
    "1234567890",
    "a-secret-of-at-least-thirty-two-bytes!",
];

/// Fragments that mark a placeholder whatever surrounds them.
const PLACEHOLDER_MARKERS: &[&str] = &[
    "change-me",
    "changeme",
    "change_me",
    "your-secret",
    "your_secret",
    "replace-me",
    "replace_me",
    "replaceme",
    "for-testing-only",
    "for_testing_only",
    "placeholder",
    "insecure",
    "do-not-use",
    "not-a-secret",
    "not-for-production",
];

/// Why `secret` is a well-known or guessable value, if it is one.
#[must_use]
pub(super) fn well_known(secret: &str) -> Option<&'static str> {
    let lower = secret.trim().to_ascii_lowercase();
    if WELL_KNOWN.contains(&lower.as_str()) {
        return Some("is a well-known example value");
    }
    if PLACEHOLDER_MARKERS.iter().any(|m| lower.contains(m)) {
        return Some("looks like a placeholder");
    }
    let distinct: BTreeSet<u8> = secret.bytes().collect();
    if !secret.is_empty() && distinct.len() < 8 {
        return Some("has fewer than 8 distinct characters");
    }
    None
}

const SECRET_FIX: &str = "generate a random one (`openssl rand -base64 48`) and pass it through a variable, such as `${AUTH_SECRET_KEY}`";

/// The checks, collecting issues and warnings.
struct Check<'a> {
    config: &'a AuthConfig,
    env: Environment,
    issues: Vec<ConfigIssue>,
    warnings: Vec<ConfigWarning>,
}

impl Check<'_> {
    /// Staging and production: the strict environments.
    fn strict(&self) -> bool {
        matches!(self.env, Environment::Staging | Environment::Production)
    }

    fn issue(
        &mut self,
        path: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.issues.push(ConfigIssue::new(path, problem, fix));
    }

    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(ConfigWarning::new(path, message));
    }

    /// A secret that is well known: an error in staging and production, a
    /// warning elsewhere.
    fn secret_quality(&mut self, path: &str, secret: &Secret) {
        if secret.is_empty() {
            self.issue(path, "is empty", SECRET_FIX);
            return;
        }
        if let Some(why) = well_known(secret.expose()) {
            if self.strict() {
                self.issue(path, format!("{why}, refused in {}", self.env), SECRET_FIX);
            } else {
                self.warn(
                    path,
                    format!("{why}; it would be refused in staging and production"),
                );
            }
        }
    }

    fn secrets(&mut self) {
        let c = self.config;
        let has_signing_material = c.secret_key.is_some() || !c.token.keys.is_empty();
        if !has_signing_material && !c.token.algorithm.is_hmac() {
            self.issue(
                "auth.token.keys",
                format!(
                    "is empty, and `token.algorithm` is {}, which needs a PEM or JWK key",
                    c.token.algorithm
                ),
                "add the key under `token.keys` (`pem_file`, `pem` or `jwk`)",
            );
        } else if !has_signing_material {
            if self.strict() {
                self.issue(
                    "auth.secret_key",
                    format!(
                        "is not set and `auth.token.keys` is empty; {} requires a configured secret",
                        self.env
                    ),
                    SECRET_FIX,
                );
            } else {
                self.warn(
                    "auth.secret_key",
                    format!(
                        "is not set: a random secret is used ({}), so tokens and session cookies do not survive a restart",
                        self.env
                    ),
                );
            }
        }
        if let Some(secret) = &c.secret_key {
            self.secret_quality("auth.secret_key", secret);
            // When it is not the token key, it still derives the cookie key.
            if !c.token.keys.is_empty() && !secret.is_empty() && secret.len() < 32 {
                self.issue(
                    "auth.secret_key",
                    format!("is {} bytes long; at least 32 are needed", secret.len()),
                    SECRET_FIX,
                );
            }
        }
        for (kid, source) in &c.token.keys {
            if let KeySource::Secret { secret, .. } = source {
                self.secret_quality(&key_path(kid), secret);
            }
        }
        if let Some(key) = &c.session.cookie.key {
            self.secret_quality("auth.session.cookie.key", key);
        }
    }

    fn token(&mut self) {
        let c = self.config;
        let t = &c.token;
        let (keys, key_issues) = c.load_keys();
        let keys_ok = key_issues.is_empty();
        self.issues.extend(key_issues);
        if keys_ok
            && !keys.is_empty()
            && let Err(e) = c.token_manager()
        {
            let path = match &e {
                crate::error::ConfigError::Token(
                    TokenError::UnknownCurrentKey(_)
                    | TokenError::MissingCurrentKey
                    | TokenError::KeyCannotSign(_),
                ) => "auth.token.current_key",
                _ => "auth.token.keys",
            };
            let fix = match &e {
                crate::error::ConfigError::Token(TokenError::MissingCurrentKey) => {
                    "name the signing key with `current_key`"
                }
                crate::error::ConfigError::Token(TokenError::UnknownCurrentKey(_)) => {
                    "name one of the keys under `token.keys`"
                }
                crate::error::ConfigError::Token(TokenError::KeyCannotSign(_)) => {
                    "name a secret or private key; public keys only verify"
                }
                _ => "fix the key",
            };
            self.issue(path, e.to_string(), fix);
        }
        if t.keys.is_empty()
            && let Some(kid) = &t.current_key
            && c.secret_key.is_none()
        {
            self.issue(
                "auth.token.current_key",
                format!("names `{kid}`, but there are no keys"),
                "add the key under `token.keys`, or set `secret_key`",
            );
        }
        if t.access_ttl.is_zero() {
            self.issue(
                "auth.token.access_ttl",
                "is zero",
                "use a lifetime such as `15m`",
            );
        }
        if t.refresh_ttl.is_zero() {
            self.issue(
                "auth.token.refresh_ttl",
                "is zero",
                "use a lifetime such as `7d`",
            );
        }
        if t.access_ttl > t.refresh_ttl && !t.refresh_ttl.is_zero() {
            self.warn(
                "auth.token.access_ttl",
                "is longer than `refresh_ttl`: refreshing gains nothing",
            );
        }
        for (path, value) in [
            ("auth.token.issuer", &t.issuer),
            ("auth.token.required_audience", &t.required_audience),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                self.issue(path, "is empty", "remove it or give a non-empty value");
            }
        }
        if t.required_audience.is_none() && self.strict() {
            self.issue(
                "auth.token.required_audience",
                format!("is not set, and {} requires it", self.env),
                "set it to the audience this service accepts, such as `articles-api`",
            );
        }
        if t.allow_unverified_dev {
            if self.env.is_development() {
                if t.remote_jwks.is_none() {
                    self.warn(
                        "auth.token.allow_unverified_dev",
                        "has no effect without `token.remote_jwks`",
                    );
                } else {
                    self.warn(
                        "auth.token.allow_unverified_dev",
                        "is on: remote tokens whose key is not in the JWKS are accepted WITHOUT signature verification",
                    );
                }
            } else {
                self.issue(
                    "auth.token.allow_unverified_dev",
                    format!(
                        "is refused in {}: it accepts unverified tokens and is honoured only in development",
                        self.env
                    ),
                    "remove it (or set it to false); use it only with LEX_ENV=development",
                );
            }
        }
        if let Some(remote) = &t.remote_jwks {
            if !cfg!(feature = "remote-jwks") {
                self.issue(
                    "auth.token.remote_jwks",
                    "needs the crate feature `remote-jwks`, which is not enabled",
                    "enable the `remote-jwks` feature of lexigram-auth, or remove the section",
                );
            }
            if !jwks_url_ok(&remote.url) {
                self.issue(
                    "auth.token.remote_jwks.url",
                    "is not an https URL (plain http is allowed for loopback hosts only)",
                    "use the issuer's https JWKS URL",
                );
            }
            if remote.issuer.trim().is_empty() {
                self.issue(
                    "auth.token.remote_jwks.issuer",
                    "is empty",
                    "set the issuer's `iss` value",
                );
            }
            let audience = remote.audience.as_ref().or(t.required_audience.as_ref());
            if audience.is_none_or(|a| a.trim().is_empty()) {
                self.issue(
                    "auth.token.remote_jwks.audience",
                    "is not set, nor is `token.required_audience`",
                    "set the audience the issuer's tokens must name",
                );
            }
        }
    }

    fn authz(&mut self) {
        let c = self.config;
        for (name, role) in &c.roles {
            if let Some(d) = &role.description
                && (d.chars().count() > 500 || d.chars().any(char::is_control))
            {
                self.issue(
                    format!("auth.roles.{name}.description"),
                    "is longer than 500 characters or holds control characters (it is shown in tools and logs)",
                    "shorten it to one line of text",
                );
            }
        }
        if let Err(e) = crate::authz::RoleGraph::compile(&c.roles) {
            let (path, fix) = match &e {
                RoleGraphError::InvalidName { role, .. } => (
                    format!("auth.roles.{role}"),
                    "role names are `[a-z][a-z0-9_-]*`; permissions are dot-separated lower-case segments, `*` only as a whole segment",
                ),
                RoleGraphError::UnknownParent { role, .. } => (
                    format!("auth.roles.{role}.inherits"),
                    "define the parent role, or remove it from `inherits`",
                ),
                _ => (
                    "auth.roles".to_owned(),
                    "remove one `inherits` link of the cycle",
                ),
            };
            self.issue(path, e.to_string(), fix);
        }
        let mut declared = BTreeSet::new();
        for (i, p) in c.permissions.iter().enumerate() {
            if let Err(e) = check_permission(p) {
                self.issue(
                    format!("auth.permissions[{i}]"),
                    e.to_string(),
                    "write dot-separated lower-case segments, such as `articles.write`",
                );
            } else if !declared.insert(p.as_str()) {
                self.issue(
                    format!("auth.permissions[{i}]"),
                    format!("declares `{p}` twice"),
                    "remove the duplicate",
                );
            }
        }
        if !declared.is_empty() {
            for (name, role) in &c.roles {
                for grant in &role.permissions {
                    let exact = !grant.split('.').any(|s| s == "*");
                    if exact && check_grant(grant).is_ok() && !declared.contains(grant.as_str()) {
                        self.issue(
                            format!("auth.roles.{name}.permissions"),
                            format!("grants `{grant}`, which `auth.permissions` does not declare"),
                            "declare it under `permissions`, or correct its spelling",
                        );
                    }
                }
            }
        }
        let default_role = &c.rbac.default_role;
        if let Err(e) = check_role(default_role) {
            self.issue(
                "auth.rbac.default_role",
                e.to_string(),
                "name a role, such as `viewer`",
            );
        } else if !c.roles.is_empty() && !c.roles.contains_key(default_role) {
            self.issue(
                "auth.rbac.default_role",
                format!("names `{default_role}`, which `auth.roles` does not define"),
                "define the role, or name one that exists",
            );
        }
    }

    fn password(&mut self) {
        let c = self.config;
        if let Err(e) = c.password_policy() {
            self.issues.extend(e.issues().iter().cloned());
        }
        if let Err(e) = c.password_hasher() {
            self.issues.extend(e.issues().iter().cloned());
        }
    }

    fn limits(&mut self) {
        let c = self.config;
        let l = &c.lockout;
        if l.max_failures == 0 {
            self.issue(
                "auth.lockout.max_failures",
                "is zero, which would lock every account at once",
                "use at least 1 (5 is the default)",
            );
        }
        for (path, d) in [
            ("auth.lockout.window", l.window),
            ("auth.lockout.lockout", l.lockout),
        ] {
            if d.as_secs() == 0 {
                self.issue(
                    path,
                    "is shorter than one second",
                    "use a duration such as `5m`",
                );
            }
        }
        if let Err(e) = c.login_quota() {
            self.issues.extend(e.issues().iter().cloned());
        }
        if let Err(e) = c.trusted_proxies() {
            self.issues.extend(e.issues().iter().cloned());
        }
    }

    fn sessions(&mut self) {
        let c = self.config;
        if let Some(issue) = c.session_issue() {
            let issue = if c.max_sessions_per_user == Some(0) {
                ConfigIssue::new(
                    "auth.max_sessions_per_user",
                    "is zero",
                    "use at least 1, or remove it for no limit",
                )
            } else {
                issue
            };
            self.issues.push(issue);
        }
        let cookie = &c.session.cookie;
        if !cookie.secure && !self.env.is_development() {
            self.issue(
                "auth.session.cookie.secure",
                format!(
                    "is false, refused in {}: cookies without Secure travel over plain HTTP",
                    self.env
                ),
                "remove it (Secure is the default) and serve the site over https",
            );
            return;
        }
        if let Some(key) = &cookie.key
            && key.len() < crate::session::MIN_COOKIE_KEY_LEN
        {
            self.issue(
                "auth.session.cookie.key",
                format!("is {} bytes long; at least 32 are needed", key.len()),
                SECRET_FIX,
            );
            return;
        }
        if c.cookie_key().is_none() {
            if self.config.token.keys.is_empty() {
                // Reported with the missing secret.
                return;
            }
            self.warn(
                "auth.session.cookie.key",
                "is not set and there is no `secret_key`: session cookies cannot be used",
            );
            return;
        }
        if let Err(e) = c.session_cookies(self.env) {
            self.issues.extend(e.issues().iter().cloned());
        }
    }

    fn stores(&mut self) {
        let stores = self.config.stores.entries();
        for (name, url, supported) in stores {
            let path = format!("auth.stores.{name}");
            let backend = url.backend();
            if !supported.contains(&backend) {
                let list: Vec<&str> = supported.iter().map(|b| b.as_str()).collect();
                self.issue(
                    &path,
                    format!("uses {}, which cannot hold {name}", backend.as_str()),
                    format!("use one of: {}", list.join(", ")),
                );
            } else if !backend.is_enabled() {
                self.issue(
                    &path,
                    format!(
                        "uses {0}, but the crate feature `{0}` is not enabled",
                        backend.as_str()
                    ),
                    format!("enable the `{}` feature of lexigram-auth", backend.as_str()),
                );
            } else if backend == StoreBackend::Memory
                && self.strict()
                && matches!(name, "users" | "api_keys" | "sessions")
            {
                self.warn(
                    path,
                    "is `memory`: its data is lost on restart and not shared between instances",
                );
            }
        }
    }

    fn federation(&mut self) {
        let c = self.config;
        for (name, provider) in &c.oauth2_providers {
            let path = format!("auth.oauth2_providers.{name}");
            if check_role(name).is_err() {
                self.issue(
                    &path,
                    "is not a valid provider name",
                    "use lower-case letters, digits, `-` and `_`, starting with a letter",
                );
            }
            if provider.client_id.trim().is_empty() {
                self.issue(
                    format!("{path}.client_id"),
                    "is empty",
                    "set the client id the provider issued",
                );
            }
            self.secret_quality(&format!("{path}.client_secret"), &provider.client_secret);
            self.warn(
                path,
                "is validated but not used yet: OAuth2 login arrives with a later version",
            );
        }
        let issuer = &c.mfa.issuer;
        if issuer.trim().is_empty() || issuer.contains(':') || issuer.chars().count() > 64 {
            self.issue(
                "auth.mfa.issuer",
                "must be 1 to 64 characters without `:` (it is the label authenticator apps show)",
                "use your application's name, such as `Articles`",
            );
        }
    }
}

fn jwks_url_ok(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        return lower.len() > "https://".len();
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(host),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl AuthConfig {
    /// Checks the configuration for `environment`, reporting **every**
    /// problem at once, each with its key path and the fix.
    ///
    /// | rule | development | test | staging, production |
    /// |---|---|---|---|
    /// | no `secret_key` and no `token.keys` | warning (random secret) | warning (random secret) | error |
    /// | well-known or placeholder secret | warning | warning | error |
    /// | HMAC secret shorter than 32/48/64 bytes (HS256/384/512) | error | error | error |
    /// | no `token.required_audience` | allowed | allowed | error |
    /// | Argon2 cost below OWASP's minimums | error | error | error |
    /// | `token.allow_unverified_dev: true` | warning | error | error |
    /// | `session.cookie.secure: false` | allowed | error | error |
    /// | `memory` store for users, API keys, sessions | allowed | allowed | warning |
    ///
    /// Short secrets and weak Argon2 costs are errors everywhere because the
    /// token manager and the hasher refuse them in every environment.
    ///
    /// ```
    /// use lexigram_auth::config::AuthConfig;
    /// use lexigram_auth::environment::Environment;
    ///
    /// let config = AuthConfig::from_yaml_str("auth:\n  secret_key: change-me\n")?;
    /// let errors = config.validate(Environment::Production).unwrap_err();
    /// assert!(errors.has("auth.secret_key"));
    /// assert!(errors.has("auth.token.required_audience"));
    /// # Ok::<(), lexigram_auth::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigErrors`] listing every problem.
    pub fn validate(&self, environment: Environment) -> Result<Vec<ConfigWarning>, ConfigErrors> {
        let (issues, warnings) = self.diagnose(environment);
        match ConfigErrors::new(issues) {
            Some(errors) => Err(errors),
            None => Ok(warnings),
        }
    }

    /// The rules of [`validate`](Self::validate), with the warnings kept
    /// when there are errors too: every problem and every warning, for a
    /// report such as `lexigram-auth doctor`.
    ///
    /// ```
    /// use lexigram_auth::config::AuthConfig;
    /// use lexigram_auth::environment::Environment;
    ///
    /// let config = AuthConfig::from_yaml_str("auth:\n  secret_key: change-me\n")?;
    /// let (errors, warnings) = config.diagnose(Environment::Production);
    /// assert!(errors.iter().any(|e| e.path == "auth.secret_key"));
    /// assert!(warnings.iter().any(|w| w.path.starts_with("auth.stores")));
    /// # Ok::<(), lexigram_auth::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn diagnose(&self, environment: Environment) -> (Vec<ConfigIssue>, Vec<ConfigWarning>) {
        let mut check = Check {
            config: self,
            env: environment,
            issues: Vec::new(),
            warnings: Vec::new(),
        };
        check.secrets();
        check.token();
        check.authz();
        check.password();
        check.limits();
        check.sessions();
        check.stores();
        check.federation();
        // One problem can be found by two rules (a short secret is both
        // weak and unusable as a key): report it once.
        let mut seen = BTreeSet::new();
        let issues: Vec<ConfigIssue> = check
            .issues
            .into_iter()
            .filter(|i| seen.insert((i.path.clone(), i.problem.clone())))
            .collect();
        (issues, check.warnings)
    }
}
