//! Password rules: length, character classes, banned patterns, common
//! passwords, and the user's own identifiers.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::PasswordError;

/// The built-in list: the 10 000 most common passwords, lower-case, one a
/// line (provenance and licence in `password/README.md`).
const BUILTIN_COMMON: &str = include_str!("common-passwords.txt");

fn builtin_common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| BUILTIN_COMMON.lines().filter(|l| !l.is_empty()).collect())
}

/// Context values shorter than this many characters are not checked: a
/// one-letter user id would otherwise ban every password containing it.
const MIN_CONTEXT_CHARS: usize = 3;

/// The password rules, as configured (`auth.password` in `application.yaml`).
///
/// Field names and defaults are the seed's `PasswordConfig`: at least 12 and
/// at most 128 characters, an upper-case letter and a digit required, the
/// built-in common-password list on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordConfig {
    /// The least number of characters (Unicode code points).
    pub min_length: usize,
    /// The most number of characters (Unicode code points).
    pub max_length: usize,
    /// At least one upper-case letter (any script).
    pub require_uppercase: bool,
    /// At least one lower-case letter (any script).
    pub require_lowercase: bool,
    /// At least one digit (any script).
    pub require_digits: bool,
    /// At least one character that is not a letter or digit (space counts).
    pub require_special: bool,
    /// Substrings a password must not contain, compared case-insensitively.
    pub banned_patterns: Vec<String>,
    /// Which lists of common passwords to refuse.
    pub common_passwords: CommonPasswords,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            min_length: 12,
            max_length: 128,
            require_uppercase: true,
            require_lowercase: false,
            require_digits: true,
            require_special: false,
            banned_patterns: Vec::new(),
            common_passwords: CommonPasswords::default(),
        }
    }
}

/// Lists of common passwords that [`PasswordPolicy`] refuses, compared with
/// the whole password, case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommonPasswords {
    /// The built-in list of the 10 000 most common passwords (on by default).
    pub builtin: bool,
    /// An extra list, one password a line; a file that cannot be read is an
    /// error when the policy is built.
    pub file: Option<PathBuf>,
}

impl Default for CommonPasswords {
    fn default() -> Self {
        Self {
            builtin: true,
            file: None,
        }
    }
}

/// Who the password is for: values the password must not contain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PasswordContext<'a> {
    user_id: Option<&'a str>,
    email: Option<&'a str>,
}

impl<'a> PasswordContext<'a> {
    /// No context.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            user_id: None,
            email: None,
        }
    }

    /// The user id or login name: the password must not contain it.
    #[must_use]
    pub const fn user_id(mut self, user_id: &'a str) -> Self {
        self.user_id = Some(user_id);
        self
    }

    /// The e-mail address: the password must not contain its local part.
    #[must_use]
    pub const fn email(mut self, email: &'a str) -> Self {
        self.email = Some(email);
        self
    }

    fn values(&self) -> impl Iterator<Item = (&'static str, &'a str)> {
        let email_local = self
            .email
            .map(|e| e.rsplit_once('@').map_or(e, |(local, _)| local));
        [("user_id", self.user_id), ("email", email_local)]
            .into_iter()
            .filter_map(|(what, v)| v.map(|v| (what, v)))
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// Fewer characters than `min_length`.
    TooShort {
        /// The configured minimum.
        min: usize,
        /// The password's length in characters.
        actual: usize,
    },
    /// More characters than `max_length`.
    TooLong {
        /// The configured maximum.
        max: usize,
        /// The password's length in characters.
        actual: usize,
    },
    /// No upper-case letter.
    MissingUppercase,
    /// No lower-case letter.
    MissingLowercase,
    /// No digit.
    MissingDigit,
    /// No character other than letters and digits.
    MissingSpecial,
    /// The password contains a banned pattern.
    BannedPattern {
        /// The pattern, as configured.
        pattern: String,
    },
    /// The password is on a common-password list.
    CommonPassword,
    /// The password contains the user's id or e-mail local part.
    ContainsUserData {
        /// `user_id` or `email`.
        field: &'static str,
    },
}

impl PolicyViolation {
    /// The stable code of this violation.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "password_too_short",
            Self::TooLong { .. } => "password_too_long",
            Self::MissingUppercase => "password_missing_uppercase",
            Self::MissingLowercase => "password_missing_lowercase",
            Self::MissingDigit => "password_missing_digit",
            Self::MissingSpecial => "password_missing_special",
            Self::BannedPattern { .. } => "password_banned_pattern",
            Self::CommonPassword => "password_common",
            Self::ContainsUserData { .. } => "password_contains_user_data",
        }
    }
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min, .. } => {
                write!(f, "the password must have at least {min} characters")
            }
            Self::TooLong { max, .. } => {
                write!(f, "the password must have at most {max} characters")
            }
            Self::MissingUppercase => f.write_str("the password must contain an upper-case letter"),
            Self::MissingLowercase => f.write_str("the password must contain a lower-case letter"),
            Self::MissingDigit => f.write_str("the password must contain a digit"),
            Self::MissingSpecial => {
                f.write_str("the password must contain a character that is not a letter or digit")
            }
            Self::BannedPattern { pattern } => {
                write!(f, "the password must not contain `{pattern}`")
            }
            Self::CommonPassword => f.write_str("the password is too common"),
            Self::ContainsUserData { field } => {
                write!(f, "the password must not contain the account's {field}")
            }
        }
    }
}

/// Every rule a password breaks, in rule order; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyViolations(Vec<PolicyViolation>);

impl PolicyViolations {
    /// The broken rules.
    #[must_use]
    pub fn violations(&self) -> &[PolicyViolation] {
        &self.0
    }

    /// The stable code (`password_policy`); each violation has its own.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        "password_policy"
    }

    /// The violations' codes, in order.
    pub fn codes(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(PolicyViolation::code)
    }
}

impl fmt::Display for PolicyViolations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl IntoIterator for PolicyViolations {
    type Item = PolicyViolation;
    type IntoIter = std::vec::IntoIter<PolicyViolation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Checks passwords against a [`PasswordConfig`], reporting every broken
/// rule at once.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    config: PasswordConfig,
    banned_lower: Vec<(String, String)>,
    extra_common: HashSet<String>,
}

impl PasswordPolicy {
    /// Builds the policy, reading the extra common-password file if one is
    /// configured.
    ///
    /// # Errors
    ///
    /// [`PasswordError::InvalidPolicy`] when `min_length` exceeds
    /// `max_length` or `max_length` is zero;
    /// [`PasswordError::CommonPasswordsFile`] when the file cannot be read.
    pub fn new(config: PasswordConfig) -> Result<Self, PasswordError> {
        if config.max_length == 0 {
            return Err(PasswordError::InvalidPolicy("`max_length` is zero"));
        }
        if config.min_length > config.max_length {
            return Err(PasswordError::InvalidPolicy(
                "`min_length` is greater than `max_length`",
            ));
        }
        let extra_common = match &config.common_passwords.file {
            None => HashSet::new(),
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| PasswordError::CommonPasswordsFile {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?
                .lines()
                .map(|l| l.trim().to_lowercase())
                .filter(|l| !l.is_empty())
                .collect(),
        };
        let banned_lower = config
            .banned_patterns
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| (p.clone(), p.to_lowercase()))
            .collect();
        Ok(Self {
            config,
            banned_lower,
            extra_common,
        })
    }

    /// The configuration the policy was built from.
    #[must_use]
    pub fn config(&self) -> &PasswordConfig {
        &self.config
    }

    /// Checks `password`; `context` names values it must not contain.
    ///
    /// # Errors
    ///
    /// [`PolicyViolations`] listing every broken rule.
    pub fn validate(
        &self,
        password: &str,
        context: &PasswordContext<'_>,
    ) -> Result<(), PolicyViolations> {
        let c = &self.config;
        let mut found = Vec::new();
        let length = password.chars().count();
        if length < c.min_length {
            found.push(PolicyViolation::TooShort {
                min: c.min_length,
                actual: length,
            });
        }
        if length > c.max_length {
            found.push(PolicyViolation::TooLong {
                max: c.max_length,
                actual: length,
            });
        }
        let has = |f: fn(char) -> bool| password.chars().any(f);
        if c.require_uppercase && !has(char::is_uppercase) {
            found.push(PolicyViolation::MissingUppercase);
        }
        if c.require_lowercase && !has(char::is_lowercase) {
            found.push(PolicyViolation::MissingLowercase);
        }
        if c.require_digits && !has(char::is_numeric) {
            found.push(PolicyViolation::MissingDigit);
        }
        if c.require_special && !has(|ch| !ch.is_alphanumeric()) {
            found.push(PolicyViolation::MissingSpecial);
        }
        let lower = password.to_lowercase();
        for (pattern, pattern_lower) in &self.banned_lower {
            if lower.contains(pattern_lower.as_str()) {
                found.push(PolicyViolation::BannedPattern {
                    pattern: pattern.clone(),
                });
            }
        }
        let builtin = c.common_passwords.builtin && builtin_common().contains(lower.as_str());
        if builtin || self.extra_common.contains(&lower) {
            found.push(PolicyViolation::CommonPassword);
        }
        for (field, value) in context.values() {
            let value = value.trim().to_lowercase();
            if value.chars().count() >= MIN_CONTEXT_CHARS && lower.contains(&value) {
                found.push(PolicyViolation::ContainsUserData { field });
            }
        }
        if found.is_empty() {
            Ok(())
        } else {
            Err(PolicyViolations(found))
        }
    }

    /// Whether `password` breaks no rule.
    #[must_use]
    pub fn is_valid(&self, password: &str, context: &PasswordContext<'_>) -> bool {
        self.validate(password, context).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(config: PasswordConfig) -> PasswordPolicy {
        PasswordPolicy::new(config).unwrap()
    }

    fn codes(policy: &PasswordPolicy, password: &str) -> Vec<&'static str> {
        match policy.validate(password, &PasswordContext::new()) {
            Ok(()) => Vec::new(),
            Err(v) => v.codes().collect(),
        }
    }

    #[test]
    fn defaults_are_the_seed_password_config() {
        let c = PasswordConfig::default();
        assert_eq!((c.min_length, c.max_length), (12, 128));
        assert!(
            c.require_uppercase && !c.require_lowercase && c.require_digits && !c.require_special
        );
        assert!(c.banned_patterns.is_empty());
        assert!(c.common_passwords.builtin && c.common_passwords.file.is_none());
        // Missing keys take the defaults.
        let parsed: PasswordConfig = serde_json::from_str(r#"{"min_length": 8}"#).unwrap();
        assert_eq!(
            parsed,
            PasswordConfig {
                min_length: 8,
                ..PasswordConfig::default()
            }
        );
        let round: PasswordConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(round, c);
    }

    #[test]
    fn each_rule_alone() {
        let all = policy(PasswordConfig {
            min_length: 4,
            require_lowercase: true,
            require_special: true,
            ..PasswordConfig::default()
        });
        assert_eq!(codes(&all, "Zk9!x"), Vec::<&str>::new());
        assert_eq!(
            codes(&all, "Zk!"),
            ["password_too_short", "password_missing_digit"]
        );
        assert_eq!(codes(&all, "zk9!x"), ["password_missing_uppercase"]);
        assert_eq!(codes(&all, "ZK9!X"), ["password_missing_lowercase"]);
        assert_eq!(codes(&all, "Zk!xx"), ["password_missing_digit"]);
        assert_eq!(codes(&all, "Zk9xx"), ["password_missing_special"]);
        assert_eq!(
            codes(&all, "Zk9 x"),
            Vec::<&str>::new(),
            "a space is special"
        );
        let short_max = policy(PasswordConfig {
            min_length: 1,
            max_length: 5,
            ..PasswordConfig::default()
        });
        assert_eq!(codes(&short_max, "Zk9xxx"), ["password_too_long"]);
    }

    #[test]
    fn all_violations_are_reported_together() {
        let p = policy(PasswordConfig {
            require_lowercase: true,
            require_special: true,
            banned_patterns: vec!["pass".into()],
            ..PasswordConfig::default()
        });
        let err = p.validate("password", &PasswordContext::new()).unwrap_err();
        assert_eq!(
            err.codes().collect::<Vec<_>>(),
            [
                "password_too_short",
                "password_missing_uppercase",
                "password_missing_digit",
                "password_missing_special",
                "password_banned_pattern",
                "password_common",
            ]
        );
        assert_eq!(err.code(), "password_policy");
        assert_eq!(
            err.to_string(),
            "the password must have at least 12 characters; \
             the password must contain an upper-case letter; \
             the password must contain a digit; \
             the password must contain a character that is not a letter or digit; \
             the password must not contain `pass`; \
             the password is too common"
        );
        assert_eq!(
            err.violations()[0],
            PolicyViolation::TooShort { min: 12, actual: 8 }
        );
    }

    #[test]
    fn length_is_in_code_points() {
        let p = policy(PasswordConfig {
            min_length: 4,
            max_length: 4,
            require_uppercase: false,
            require_digits: false,
            ..PasswordConfig::default()
        });
        // 4 code points, 8 UTF-8 bytes; 4 code points, 16 bytes (emoji).
        assert_eq!(codes(&p, "éééé"), Vec::<&str>::new());
        assert_eq!(codes(&p, "🔑🔑🔑🔑"), Vec::<&str>::new());
        assert_eq!(codes(&p, "ééééé"), ["password_too_long"]);
        assert_eq!(codes(&p, "ééé"), ["password_too_short"]);
        // Unicode classes: Cyrillic capital, Arabic-Indic digit.
        let classes = policy(PasswordConfig {
            min_length: 1,
            ..PasswordConfig::default()
        });
        assert_eq!(codes(&classes, "Жж٣"), Vec::<&str>::new());
    }

    #[test]
    fn banned_patterns_and_common_list_ignore_case() {
        let p = policy(PasswordConfig {
            min_length: 1,
            require_uppercase: false,
            require_digits: false,
            banned_patterns: vec!["Acme".into(), String::new()],
            ..PasswordConfig::default()
        });
        assert_eq!(codes(&p, "my-ACME-secret"), ["password_banned_pattern"]);
        assert_eq!(codes(&p, "QWERTY"), ["password_common"]);
        assert_eq!(codes(&p, "DrAgOn"), ["password_common"]);
        assert_eq!(
            codes(&p, "correct horse battery staple"),
            Vec::<&str>::new()
        );
        // The built-in list can be switched off.
        let off = policy(PasswordConfig {
            min_length: 1,
            require_uppercase: false,
            require_digits: false,
            common_passwords: CommonPasswords {
                builtin: false,
                file: None,
            },
            ..PasswordConfig::default()
        });
        assert_eq!(codes(&off, "qwerty"), Vec::<&str>::new());
    }

    #[test]
    fn builtin_list_is_the_top_ten_thousand() {
        let set = builtin_common();
        assert_eq!(set.len(), 10_000);
        assert!(set.contains("123456") && set.contains("password") && set.contains("iloveyou"));
        assert!(set.iter().all(|p| *p == p.to_lowercase()));
    }

    #[test]
    fn extra_file_is_read_and_a_missing_one_is_an_error() {
        let dir = std::env::temp_dir().join(format!("lexigram-common-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("common.txt");
        std::fs::write(&file, "Tr0ub4dor&3\n\n  Hunter2Hunter2  \n").unwrap();
        let config = |file| PasswordConfig {
            min_length: 1,
            common_passwords: CommonPasswords {
                builtin: true,
                file: Some(file),
            },
            ..PasswordConfig::default()
        };
        let p = policy(config(file.clone()));
        assert_eq!(
            codes(&p, "tr0ub4dor&3"),
            ["password_missing_uppercase", "password_common"]
        );
        assert_eq!(codes(&p, "HUNTER2HUNTER2"), ["password_common"]);
        let missing = PasswordPolicy::new(config(dir.join("absent.txt"))).unwrap_err();
        assert!(
            matches!(missing, PasswordError::CommonPasswordsFile { .. }),
            "{missing}"
        );
        assert_eq!(missing.code(), "password_policy_config");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn user_data_must_not_be_contained() {
        let p = policy(PasswordConfig::default());
        let ctx = PasswordContext::new()
            .user_id("Alice")
            .email("bob.smith@example.com");
        let err = p.validate("xxALICExx-Bob.Smith-9Q", &ctx).unwrap_err();
        assert_eq!(
            err.violations(),
            [
                PolicyViolation::ContainsUserData { field: "user_id" },
                PolicyViolation::ContainsUserData { field: "email" },
            ]
        );
        assert!(p.is_valid("Unrelated-Words-42", &ctx));
        // The domain is not checked; very short values are ignored.
        assert!(p.is_valid("Example.com-Words-42", &ctx));
        assert!(p.is_valid("Quite-Long-Words-42", &PasswordContext::new().user_id("q")));
    }

    #[test]
    fn inconsistent_configs_are_refused() {
        let bad = PasswordConfig {
            min_length: 20,
            max_length: 10,
            ..PasswordConfig::default()
        };
        assert!(matches!(
            PasswordPolicy::new(bad),
            Err(PasswordError::InvalidPolicy(_))
        ));
    }
}
