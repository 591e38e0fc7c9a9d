//! The deployment environment, read from the `LEX_ENV` variable.
//!
//! `LEX_ENV` names one of `development`, `test`, `staging` or `production`
//! (ASCII case-insensitive, surrounding whitespace ignored). **An unset or
//! empty `LEX_ENV` means [`Environment::Production`]**: whatever is relaxed
//! for development must be asked for explicitly, so a forgotten variable
//! fails safe. Any other value is an [`UnknownEnvironment`] error rather than
//! a guess.
//!
//! ```
//! use lexigram_auth::environment::Environment;
//!
//! assert_eq!(Environment::parse("development")?, Environment::Development);
//! assert_eq!(Environment::parse(" Staging ")?, Environment::Staging);
//! assert_eq!(Environment::from_value(None)?, Environment::Production);
//! assert!(Environment::parse("dev").is_err());
//! # Ok::<(), lexigram_auth::environment::UnknownEnvironment>(())
//! ```

use std::fmt;
use std::str::FromStr;

/// The variable the environment is read from.
pub const ENV_VAR: &str = "LEX_ENV";

/// Where the application runs; see the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// A developer's machine: the only environment in which development-only
    /// relaxations (such as `allow_unverified_dev`) are honoured.
    Development,
    /// Automated tests.
    Test,
    /// A pre-production deployment; as strict as production.
    Staging,
    /// Production, and the environment assumed when `LEX_ENV` is unset.
    Production,
}

/// `LEX_ENV` holds a value that names no [`Environment`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`LEX_ENV` is `{0}`, which is not one of development, test, staging or production")]
pub struct UnknownEnvironment(pub String);

impl Environment {
    /// The environment named by `LEX_ENV`; [`Production`](Self::Production)
    /// when the variable is unset or empty.
    ///
    /// # Errors
    /// [`UnknownEnvironment`] when the variable names no environment or is
    /// not valid Unicode.
    pub fn from_env() -> Result<Self, UnknownEnvironment> {
        match std::env::var(ENV_VAR) {
            Ok(value) => Self::from_value(Some(&value)),
            Err(std::env::VarError::NotPresent) => Self::from_value(None),
            Err(std::env::VarError::NotUnicode(raw)) => {
                Err(UnknownEnvironment(raw.to_string_lossy().into_owned()))
            }
        }
    }

    /// The environment for a value of `LEX_ENV`, `None` meaning unset:
    /// unset or blank is [`Production`](Self::Production), anything else is
    /// [`parse`](Self::parse)d.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_value(value: Option<&str>) -> Result<Self, UnknownEnvironment> {
        match value {
            None => Ok(Self::Production),
            Some(v) if v.trim().is_empty() => Ok(Self::Production),
            Some(v) => Self::parse(v),
        }
    }

    /// Parses one of the four names (ASCII case-insensitive, trimmed).
    ///
    /// # Errors
    /// [`UnknownEnvironment`] for any other text, the empty string included.
    pub fn parse(value: &str) -> Result<Self, UnknownEnvironment> {
        let v = value.trim();
        [
            Self::Development,
            Self::Test,
            Self::Staging,
            Self::Production,
        ]
        .into_iter()
        .find(|e| e.as_str().eq_ignore_ascii_case(v))
        .ok_or_else(|| UnknownEnvironment(value.to_owned()))
    }

    /// The name, as `LEX_ENV` spells it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }

    /// Whether this is [`Development`](Self::Development).
    #[must_use]
    pub const fn is_development(self) -> bool {
        matches!(self, Self::Development)
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = UnknownEnvironment;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in [
            Environment::Development,
            Environment::Test,
            Environment::Staging,
            Environment::Production,
        ] {
            assert_eq!(Environment::parse(e.as_str()), Ok(e));
            assert_eq!(e.to_string().parse::<Environment>(), Ok(e));
            assert_eq!(e.is_development(), e == Environment::Development);
        }
        assert_eq!(
            Environment::parse("PRODUCTION"),
            Ok(Environment::Production)
        );
    }

    #[test]
    fn unset_is_production_and_unknown_is_an_error() {
        assert_eq!(Environment::from_value(None), Ok(Environment::Production));
        assert_eq!(
            Environment::from_value(Some("  ")),
            Ok(Environment::Production)
        );
        assert_eq!(
            Environment::from_value(Some("dev")),
            Err(UnknownEnvironment("dev".into()))
        );
        assert!(Environment::parse("").is_err());
        assert!(Environment::parse("development-ish").is_err());
    }
}
