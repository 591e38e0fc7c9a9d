//! The grammar of permission and role names.
//!
//! A permission is one to eight lower-case segments of `[a-z0-9_-]` joined by
//! `.`, at most 128 bytes (`articles.read`). A *grant* (what a role holds) may
//! also use `*` as a whole segment: `*` matches exactly one segment, or one or
//! more segments when it is the last one; `*` alone grants everything. A
//! *requirement* never contains a wildcard. A role is `[a-z][a-z0-9_-]*`, at
//! most 64 bytes. A tenant id is one to 64 bytes of `[a-z0-9_-]`.
//!
//! The guard macros check the same grammar at compile time; both are tested
//! against one table (`tests/data/names.tsv`) so they cannot drift.

use std::fmt;
use std::str::FromStr;

use crate::error::NameError;

/// Longest permission, in bytes.
pub const MAX_PERMISSION_LEN: usize = 128;
/// Most segments in a permission.
pub const MAX_PERMISSION_SEGMENTS: usize = 8;
/// Longest role name, in bytes.
pub const MAX_ROLE_LEN: usize = 64;
/// Longest tenant id, in bytes.
pub const MAX_TENANT_LEN: usize = 64;

const WILDCARD: &str = "*";

fn is_segment_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
}

/// One pass over a wildcard-free name: the common case of a valid permission.
fn is_plain_permission(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_PERMISSION_LEN {
        return false;
    }
    let mut segments = 1usize;
    let mut previous = b'.';
    for &b in bytes {
        if b == b'.' {
            if previous == b'.' {
                return false;
            }
            segments += 1;
        } else if !is_segment_byte(b) {
            return false;
        }
        previous = b;
    }
    previous != b'.' && segments <= MAX_PERMISSION_SEGMENTS
}

/// Checks a dotted name; `allow_wildcard` admits `*` as a whole segment.
fn check_dotted(name: &str, allow_wildcard: bool) -> Result<(), NameError> {
    if is_plain_permission(name) {
        return Ok(());
    }
    // The slow path names the rule that fails.
    let invalid = |reason| NameError::InvalidPermission {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("is empty"));
    }
    if name.len() > MAX_PERMISSION_LEN {
        return Err(invalid("is longer than 128 bytes"));
    }
    let mut segments = 0usize;
    for segment in name.split('.') {
        segments += 1;
        if segment.is_empty() {
            return Err(invalid("has an empty segment"));
        }
        if segment == WILDCARD {
            if !allow_wildcard {
                return Err(invalid("has a wildcard, which only grants may use"));
            }
            continue;
        }
        if segment.contains('*') {
            return Err(invalid(
                "has a wildcard inside a segment; `*` must be a whole segment",
            ));
        }
        if segment.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid("has upper-case letters"));
        }
        if !segment.bytes().all(is_segment_byte) {
            return Err(invalid("has characters outside `a-z`, `0-9`, `_` and `-`"));
        }
    }
    if segments > MAX_PERMISSION_SEGMENTS {
        return Err(invalid("has more than 8 segments"));
    }
    Ok(())
}

/// Checks a permission used as a requirement (no wildcard).
///
/// # Errors
/// [`NameError::InvalidPermission`] naming the rule that failed.
pub fn check_permission(name: &str) -> Result<(), NameError> {
    check_dotted(name, false)
}

/// Checks a permission used as a grant (wildcards allowed).
///
/// # Errors
/// [`NameError::InvalidPermission`] naming the rule that failed.
pub fn check_grant(name: &str) -> Result<(), NameError> {
    check_dotted(name, true)
}

/// Checks a role name.
///
/// # Errors
/// [`NameError::InvalidRole`] naming the rule that failed.
pub fn check_role(name: &str) -> Result<(), NameError> {
    let invalid = |reason| NameError::InvalidRole {
        name: name.to_owned(),
        reason,
    };
    let Some(first) = name.bytes().next() else {
        return Err(invalid("is empty"));
    };
    if name.len() > MAX_ROLE_LEN {
        return Err(invalid("is longer than 64 bytes"));
    }
    if !first.is_ascii_lowercase() {
        return Err(invalid("must start with a lower-case letter"));
    }
    if !name.bytes().all(is_segment_byte) {
        return Err(invalid("has characters outside `a-z`, `0-9`, `_` and `-`"));
    }
    Ok(())
}

/// Checks a tenant id: one to [`MAX_TENANT_LEN`] bytes of `[a-z0-9_-]`
/// (`acme`, `globex-eu`, `42`). The grammar keeps tenant ids safe in URL
/// paths, log lines and store keys without escaping.
///
/// ```
/// use lexigram_auth::authz::grammar::check_tenant;
///
/// assert!(check_tenant("acme-eu_2").is_ok());
/// assert!(check_tenant("Acme").is_err());
/// assert!(check_tenant("acme/eu").is_err());
/// assert!(check_tenant("").is_err());
/// ```
///
/// # Errors
/// [`NameError::InvalidTenant`] naming the rule that failed.
pub fn check_tenant(name: &str) -> Result<(), NameError> {
    let invalid = |reason| NameError::InvalidTenant {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("is empty"));
    }
    if name.len() > MAX_TENANT_LEN {
        return Err(invalid("is longer than 64 bytes"));
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid("has upper-case letters"));
    }
    if !name.bytes().all(is_segment_byte) {
        return Err(invalid("has characters outside `a-z`, `0-9`, `_` and `-`"));
    }
    Ok(())
}

/// A validated permission requirement such as `articles.read`.
///
/// ```
/// use lexigram_auth::authz::Permission;
///
/// let p: Permission = "articles.read".parse()?;
/// assert_eq!(p.as_str(), "articles.read");
/// assert!("articles.*".parse::<Permission>().is_err()); // wildcards only in grants
/// # Ok::<(), lexigram_auth::error::NameError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission(String);

impl Permission {
    /// The permission as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Permission {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_permission(s)?;
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated grant: a permission that may contain `*` segments.
///
/// ```
/// use lexigram_auth::authz::Grant;
///
/// let g: Grant = "articles.*".parse()?;
/// assert!(g.matches("articles.read"));
/// assert!(g.matches("articles.comments.delete"));
/// assert!(!g.matches("articles"));
/// assert!(!g.matches("articlesx.read"));
/// # Ok::<(), lexigram_auth::error::NameError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Grant(String);

impl Grant {
    /// The grant as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the grant has a wildcard segment.
    #[must_use]
    pub fn is_pattern(&self) -> bool {
        self.0.split('.').any(|s| s == WILDCARD)
    }

    /// Whether this grant covers the permission `permission`.
    #[must_use]
    pub fn matches(&self, permission: &str) -> bool {
        grant_matches(&self.0, permission)
    }
}

impl FromStr for Grant {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_grant(s)?;
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Segment-wise match of a (valid) grant against a permission.
pub(crate) fn grant_matches(grant: &str, permission: &str) -> bool {
    let mut wanted = permission.split('.');
    let mut granted = grant.split('.').peekable();
    while let Some(g) = granted.next() {
        let last = granted.peek().is_none();
        if last && g == WILDCARD {
            // A trailing `*` takes one or more segments.
            return wanted.next().is_some();
        }
        match wanted.next() {
            Some(w) if g == WILDCARD || g == w => {}
            _ => return false,
        }
    }
    wanted.next().is_none()
}

/// Whether the (valid) grant `held` covers the (valid) grant `asked`: every
/// permission `asked` matches, `held` matches too. For a wildcard-free
/// `asked` this is [`grant_matches`].
pub(crate) fn grant_covers(held: &str, asked: &str) -> bool {
    let held: Vec<&str> = held.split('.').collect();
    let asked: Vec<&str> = asked.split('.').collect();
    for (i, h) in held.iter().enumerate() {
        let held_last = i + 1 == held.len();
        if held_last && *h == WILDCARD {
            // One or more segments: `asked` needs at least as many.
            return asked.len() > i;
        }
        let Some(a) = asked.get(i) else {
            return false;
        };
        let asked_last = i + 1 == asked.len();
        if asked_last && *a == WILDCARD {
            // `asked` takes one or more segments here; only a trailing `*`
            // (handled above) takes them all.
            return false;
        }
        if *h != WILDCARD && h != a {
            return false;
        }
    }
    held.len() == asked.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of `tests/data/names.tsv`, shared with the macro crate.
    fn table() -> Vec<(String, bool, String)> {
        include_str!("../../../tests/data/names.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|line| {
                let cols: Vec<&str> = line.split('\t').collect();
                let name = expand(cols[2]);
                (cols[0].to_owned(), cols[1] == "valid", name)
            })
            .collect()
    }

    fn expand(raw: &str) -> String {
        if raw == "<EMPTY>" {
            return String::new();
        }
        if let Some(rest) = raw
            .strip_prefix("<REPEAT:")
            .and_then(|r| r.strip_suffix('>'))
        {
            let (c, n) = rest.split_once(':').unwrap();
            return c.repeat(n.parse().unwrap());
        }
        raw.to_owned()
    }

    #[test]
    fn shared_name_table() {
        let rows = table();
        assert!(rows.len() > 30, "the table was not read");
        for (kind, valid, name) in rows {
            let got = match kind.as_str() {
                "permission" => name.parse::<Permission>().is_ok(),
                "grant" => name.parse::<Grant>().is_ok(),
                "role" => check_role(&name).is_ok(),
                other => panic!("unknown kind {other}"),
            };
            assert_eq!(got, valid, "{kind} `{name}`");
        }
    }

    #[test]
    fn tenant_ids() {
        for valid in [
            "acme",
            "a",
            "42",
            "acme-eu",
            "acme_us",
            "-",
            &"z".repeat(64),
        ] {
            assert!(check_tenant(valid).is_ok(), "{valid}");
        }
        for (invalid, reason) in [
            ("", "is empty"),
            (&"z".repeat(65) as &str, "is longer than 64 bytes"),
            ("Acme", "has upper-case letters"),
            (
                "acme.eu",
                "has characters outside `a-z`, `0-9`, `_` and `-`",
            ),
            (
                "acme/eu",
                "has characters outside `a-z`, `0-9`, `_` and `-`",
            ),
            (
                "acme eu",
                "has characters outside `a-z`, `0-9`, `_` and `-`",
            ),
            ("acmé", "has characters outside `a-z`, `0-9`, `_` and `-`"),
            ("*", "has characters outside `a-z`, `0-9`, `_` and `-`"),
        ] {
            assert_eq!(
                check_tenant(invalid),
                Err(NameError::InvalidTenant {
                    name: invalid.to_owned(),
                    reason
                }),
                "{invalid}"
            );
        }
    }

    #[test]
    fn grant_coverage() {
        for (held, asked, covers) in [
            ("*", "*", true),
            ("*", "articles.read", true),
            ("*", "articles.*", true),
            ("articles.*", "*", false),
            ("articles.*", "articles.read", true),
            ("articles.*", "articles.*", true),
            ("articles.*", "articles.comments.*", true),
            ("articles.read", "articles.*", false),
            ("articles.read", "articles.read", true),
            ("articles.read", "articles.write", false),
            ("articles.*.read", "articles.*", false),
            ("articles.*.read", "articles.*.read", true),
            ("articles.*.read", "articles.x.read", true),
            ("articles.x.read", "articles.*.read", false),
            ("articles.*.read", "articles.x.*", false),
            ("articles", "articles.read", false),
            ("articles.read.x", "articles.read", false),
        ] {
            assert_eq!(grant_covers(held, asked), covers, "{held} covers {asked}");
            // Coverage agrees with matching on wildcard-free names.
            if !asked.contains('*') {
                assert_eq!(grant_matches(held, asked), covers, "{held} matches {asked}");
            }
        }
    }

    /// The rows of `tests/data/wildcards.tsv`, shared with the macro crate
    /// (whose catalog check duplicates `grant_matches`).
    #[test]
    fn wildcard_table() {
        let rows: Vec<(&str, &str, bool)> = include_str!("../../../tests/data/wildcards.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|line| {
                let cols: Vec<&str> = line.split('\t').collect();
                assert_eq!(cols.len(), 3, "malformed row {line:?}");
                (cols[0], cols[1], cols[2] == "match")
            })
            .collect();
        assert!(rows.len() > 20, "the table was not read");
        for (grant, permission, expected) in rows {
            let g: Grant = grant.parse().unwrap();
            assert_eq!(g.matches(permission), expected, "{grant} vs {permission}");
        }
    }
}
