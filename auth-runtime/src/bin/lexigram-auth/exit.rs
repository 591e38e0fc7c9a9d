//! Exit codes, and the error every command returns.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the command ran and the answer is negative, or the request was refused |
//! | 2 | usage error (clap) |
//! | 3 | the configuration could not be loaded, parsed or checked |
//! | 4 | a store is unavailable or failed |
//! | 5 | an operating-system failure (standard input, files, random bytes) |

use lexigram_auth::error::ConfigError;
use lexigram_auth::store::StoreError;

/// Success.
pub(crate) const SUCCESS: u8 = 0;
/// The command ran and the answer is negative.
pub(crate) const NEGATIVE: u8 = 1;

/// How a command that ran to its end came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the answer is negative (the report is already printed).
    Negative,
}

/// Why a command stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Exit 1: refused (unknown role or user, taken e-mail address, ...).
    Refused,
    /// Exit 3.
    Config,
    /// Exit 4.
    Store,
    /// Exit 5.
    System,
}

impl Kind {
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::Refused => NEGATIVE,
            Self::Config => 3,
            Self::Store => 4,
            Self::System => 5,
        }
    }
}

/// A failure, printed as `error: <message>` on standard error.
#[derive(Debug, Clone)]
pub(crate) struct CliError {
    pub(crate) kind: Kind,
    pub(crate) message: String,
}

impl CliError {
    pub(crate) fn refused(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Refused,
            message: message.into(),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Config,
            message: message.into(),
        }
    }

    pub(crate) fn system(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::System,
            message: message.into(),
        }
    }

    /// A store failure: a malformed store URL is a configuration problem,
    /// an invalid identifier a refusal, anything else the store's.
    pub(crate) fn store(what: &str, error: &StoreError) -> Self {
        let message = match std::error::Error::source(error) {
            Some(cause) => format!("{what}: {error} ({cause})"),
            None => format!("{what}: {error}"),
        };
        let kind = match error {
            StoreError::Config { .. } => Kind::Config,
            StoreError::InvalidId { .. } | StoreError::InvalidName(_) => Kind::Refused,
            _ => Kind::Store,
        };
        Self { kind, message }
    }
}

impl From<ConfigError> for CliError {
    fn from(error: ConfigError) -> Self {
        let mut message = error.to_string();
        if !error.issues().is_empty() {
            message.push_str("\n(`lexigram-auth doctor` explains every problem)");
        }
        Self::config(message)
    }
}
