//! Configuration: [`AuthConfig`], the `auth:` section of `application.yaml`
//! (or `[auth]` of a TOML file), with `${VAR}` substitution, `LEX_AUTH__`
//! overrides and per-environment validation.
//!
//! ```
//! use lexigram_auth::config::{ConfigLoader, Variables};
//!
//! let yaml = r#"
//! auth:
//!   secret_key: ${AUTH_SECRET_KEY}
//!   token:
//!     required_audience: articles-api
//!     access_ttl: 15m
//!   roles:
//!     admin: { permissions: ["*"] }
//!     editor: { inherits: [viewer], permissions: [articles.write] }
//!     viewer: { permissions: [articles.read] }
//!   max_sessions_per_user: 5
//! "#;
//! // Tests pass their variables; an application uses `ConfigLoader::new()`
//! // (or `AuthConfig::from_file`), which reads the process environment.
//! let loader = ConfigLoader::with_variables(Variables::from_iter([
//!     ("AUTH_SECRET_KEY", "Zm9vYmFyYmF6cXV4LXJhbmRvbS1ieXRlcy0yMDI2LTAx"),
//!     ("LEX_ENV", "production"),
//! ]));
//! let checked = loader.yaml_str(yaml)?.check(loader.environment()?)?;
//!
//! let tokens = checked.config.token_manager()?;
//! let authz = checked.config.authorization_service()?;
//! # let _ = (tokens, authz);
//! # Ok::<(), lexigram_auth::error::ConfigError>(())
//! ```
//!
//! Every key, its default and what reads it are in the
//! [key table](crate::docs::config). Every key is read: by a conversion
//! into the runtime's types ([`AuthConfig::token_manager`],
//! [`AuthConfig::password_policy`], [`AuthConfig::session_config`], ...) or,
//! for the few keys whose feature arrives later, by
//! [`AuthConfig::validate`].

mod convert;
mod duration;
mod load;
mod schema;
mod secret;
mod validate;

pub use convert::DEFAULT_KID;
pub use duration::{format_duration, parse_duration};
pub(crate) use load::without_marks;
pub use load::{CheckedConfig, ConfigLoader, OVERRIDE_PREFIX, Variables};
pub use schema::{
    Argon2Section, AuthConfig, CookieSection, KeySource, LockoutSection, LoginAnswer, MfaSection,
    OAuth2Provider, PasswordSection, QuotaSpec, RateLimitSection, RbacSection, RemoteJwksSection,
    SessionSection, StoreBackend, StoreUrl, StoresSection, TokenSection,
};
pub use secret::Secret;
pub use validate::ConfigWarning;

pub use crate::error::{ConfigError, ConfigErrors, ConfigIssue};

#[cfg(test)]
mod tests;
