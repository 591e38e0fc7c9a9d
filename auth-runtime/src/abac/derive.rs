//! Support for the code `#[derive(Policy)]` generates (reached through
//! `__private`, not public API).

use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};

use super::load::{REGEX_DFA_SIZE_LIMIT, REGEX_SIZE_LIMIT};

/// An integer field as an attribute: `None` when it does not fit an `i64`
/// (a `u64` above `i64::MAX`), which makes the comparison not applicable.
pub fn abac_integer<T: TryInto<i64>>(value: T) -> Option<i64> {
    value.try_into().ok()
}

/// A float field as an attribute.
pub fn abac_float<T: Into<f64>>(value: T) -> f64 {
    value.into()
}

/// Two floats ordered, `None` when either is NaN (the comparison is then
/// not applicable, as in loaded policies).
#[must_use]
pub fn abac_float_order(a: f64, b: f64) -> Option<std::cmp::Ordering> {
    a.partial_cmp(&b)
}

/// A `matches("..")` pattern of a derived rule, compiled on first use with
/// the same size limits as loaded policies. The derive parses the pattern at
/// compile time; one that still fails to compile here (too large) makes the
/// rule not applicable.
#[derive(Debug)]
pub struct AbacPattern {
    pattern: &'static str,
    compiled: OnceLock<Option<Regex>>,
}

impl AbacPattern {
    /// A pattern, not compiled yet.
    #[must_use]
    pub const fn new(pattern: &'static str) -> Self {
        Self {
            pattern,
            compiled: OnceLock::new(),
        }
    }

    /// Whether `text` matches (unanchored); `None` when the pattern could not
    /// be compiled.
    pub fn is_match(&self, text: &str) -> Option<bool> {
        self.compiled
            .get_or_init(|| {
                RegexBuilder::new(self.pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
                    .build()
                    .ok()
            })
            .as_ref()
            .map(|re| re.is_match(text))
    }
}
