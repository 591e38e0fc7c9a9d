//! The crate's role and permission catalog: the `auth:` section of its
//! `application.yaml` (or the file named by `LEXIGRAM_AUTH_CATALOG`), read
//! at compile time so that guards can be checked against it.
//!
//! Only the names matter here: each role's name, grants and parents, and the
//! `permissions:` list. The file is read as written: `${VAR}` substitution
//! and `LEX_AUTH__` overrides are run-time features and are not applied.
//! Parsed catalogs are cached per file, modification time and length, so a
//! crate with many guards reads its catalog once.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use serde_norway::Value;
use syn::LitStr;

/// The variable that names a catalog file, relative to the crate's manifest
/// directory unless absolute.
pub(crate) const CATALOG_VAR: &str = "LEXIGRAM_AUTH_CATALOG";

/// Files looked for in the crate's manifest directory, in order.
const DEFAULT_FILES: [&str; 3] = ["application.yaml", "application.yml", "application.toml"];

/// Largest edit distance for a "did you mean" suggestion.
const MAX_SUGGESTION_DISTANCE: usize = 2;

/// One catalog file's roles and permissions.
#[derive(Debug)]
pub(crate) struct Catalog {
    /// The file, absolute, for `include_bytes!`.
    path: PathBuf,
    /// The file's name, for messages (absolute paths would differ per machine).
    file_name: String,
    /// Every defined role.
    roles: BTreeSet<String>,
    /// Every grant of every role (wildcards included).
    grants: BTreeSet<String>,
    /// The `permissions:` list.
    declared: BTreeSet<String>,
}

impl Catalog {
    /// The catalog of the crate being compiled: `None` without one, an error
    /// (at the call site) when a catalog file exists but cannot be read.
    pub(crate) fn current() -> Result<Option<Arc<Self>>, String> {
        let Some(path) = locate()? else {
            return Ok(None);
        };
        cached(&path)
    }

    /// Tokens that make cargo rebuild the crate when the catalog changes or
    /// `LEXIGRAM_AUTH_CATALOG` is set to another file: the file is included
    /// and the variable read, both into unnamed constants.
    pub(crate) fn tracking(&self) -> TokenStream {
        let path = LitStr::new(&self.path.to_string_lossy(), Span::call_site());
        let var = LitStr::new(CATALOG_VAR, Span::call_site());
        quote! {
            const _: &[u8] = ::core::include_bytes!(#path);
            const _: ::core::option::Option<&str> = ::core::option_env!(#var);
        }
    }

    /// Checks a role used in a guard; the message says what is wrong.
    pub(crate) fn check_role(&self, role: &str) -> Result<(), String> {
        if self.roles.contains(role) {
            return Ok(());
        }
        let mut message = format!(
            "unknown role `{role}`: `{}` defines no such role under `auth.roles`",
            self.file_name
        );
        match suggest(role, self.roles.iter().map(String::as_str)) {
            Some(near) => message.push_str(&format!("; did you mean `{near}`?")),
            None if self.roles.is_empty() => message.push_str(" (it defines no roles)"),
            None => {}
        }
        Err(message)
    }

    /// Checks a permission used in a guard or a typed permission: some role
    /// must grant it (directly or through a wildcard grant), or
    /// `auth.permissions` must declare it.
    pub(crate) fn check_permission(&self, permission: &str) -> Result<(), String> {
        if self.declared.contains(permission)
            || self
                .grants
                .iter()
                .any(|grant| grant_matches(grant, permission))
        {
            return Ok(());
        }
        let mut message = format!(
            "no role in `{}` grants the permission `{permission}`, and `auth.permissions` does not declare it",
            self.file_name
        );
        // Candidates: declared permissions, exact grants, and each wildcard
        // grant filled in with the requested segments (`articles.*` offers
        // `articles.reda` as `articles.reda`, so `artcles.reda` finds it).
        let mut candidates: BTreeSet<String> = self.declared.clone();
        for grant in &self.grants {
            if grant.split('.').any(|s| s == "*") {
                candidates.extend(instantiate(grant, permission));
            } else {
                candidates.insert(grant.clone());
            }
        }
        if let Some(near) = suggest(permission, candidates.iter().map(String::as_str)) {
            message.push_str(&format!("; did you mean `{near}`?"));
        }
        Err(message)
    }

    fn parse(path: &Path, text: &str) -> Result<Option<Self>, String> {
        let is_toml = path.extension().is_some_and(|e| e == "toml");
        let document: Value = if is_toml {
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
            serde_norway::to_value(table).map_err(|e| e.to_string())?
        } else {
            serde_norway::from_str(text).map_err(|e| e.to_string())?
        };
        let Some(auth) = document.get("auth") else {
            return Ok(None);
        };
        let roles = auth.get("roles");
        let declared = auth.get("permissions");
        if roles.is_none() && declared.is_none() {
            // An `auth:` section without names: roles are set in code.
            return Ok(None);
        }
        let mut catalog = Self {
            path: path.to_owned(),
            file_name: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            roles: BTreeSet::new(),
            grants: BTreeSet::new(),
            declared: strings(declared, "auth.permissions")?,
        };
        if let Some(roles) = roles.filter(|r| !r.is_null()) {
            let map = roles
                .as_mapping()
                .ok_or("`auth.roles` is not a mapping of role names")?;
            for (name, definition) in map {
                let name = name
                    .as_str()
                    .ok_or("`auth.roles` has a role name that is not text")?;
                let key = format!("auth.roles.{name}.permissions");
                catalog
                    .grants
                    .extend(strings(definition.get("permissions"), &key)?);
                catalog.roles.insert(name.to_owned());
            }
        }
        Ok(Some(catalog))
    }
}

/// A list of text values (absent or `null` is empty).
fn strings(value: Option<&Value>, key: &str) -> Result<BTreeSet<String>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(BTreeSet::new());
    };
    let items = value
        .as_sequence()
        .ok_or_else(|| format!("`{key}` is not a list"))?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("`{key}` has an entry that is not text"))
        })
        .collect()
}

/// The catalog file: `LEXIGRAM_AUTH_CATALOG`, or the first default file in
/// the manifest directory.
fn locate() -> Result<Option<PathBuf>, String> {
    let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") else {
        return Ok(None);
    };
    let dir = PathBuf::from(dir);
    if let Some(named) = std::env::var_os(CATALOG_VAR).filter(|v| !v.is_empty()) {
        let path = dir.join(named);
        if !path.is_file() {
            return Err(format!(
                "`{CATALOG_VAR}` names `{}`, which is not a file",
                path.display()
            ));
        }
        return Ok(Some(path));
    }
    Ok(DEFAULT_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file()))
}

type Entry = (
    Option<SystemTime>,
    u64,
    Result<Option<Arc<Catalog>>, String>,
);

/// The parsed catalog of `path`, read again only when the file changed.
fn cached(path: &Path) -> Result<Option<Arc<Catalog>>, String> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Entry>>> = OnceLock::new();
    let metadata = std::fs::metadata(path).map_err(|e| read_error(path, &e.to_string()))?;
    let stamp = (metadata.modified().ok(), metadata.len());
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some((modified, len, result)) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(path)
        && (*modified, *len) == stamp
        && modified.is_some()
    {
        return result.clone();
    }
    let result = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| Catalog::parse(path, &text))
        .map(|catalog| catalog.map(Arc::new))
        .map_err(|e| read_error(path, &e));
    cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(path.to_owned(), (stamp.0, stamp.1, result.clone()));
    result
}

fn read_error(path: &Path, error: &str) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    format!("cannot read the role and permission catalog `{name}`: {error}")
}

/// Segment-wise match of a grant against a permission: `*` as a whole
/// segment takes exactly one segment, or one or more as the last segment.
/// The same rules as the runtime's `Grant::matches`; both are tested
/// against `tests/data/wildcards.tsv`.
pub(crate) fn grant_matches(grant: &str, permission: &str) -> bool {
    let mut wanted = permission.split('.');
    let mut granted = grant.split('.').peekable();
    while let Some(g) = granted.next() {
        let last = granted.peek().is_none();
        if last && g == "*" {
            return wanted.next().is_some();
        }
        match wanted.next() {
            Some(w) if g == "*" || g == w => {}
            _ => return false,
        }
    }
    wanted.next().is_none()
}

/// A wildcard grant with its `*` segments replaced by the permission's
/// segments at the same place (a trailing `*` takes the rest), when the
/// shapes allow it.
fn instantiate(grant: &str, permission: &str) -> Option<String> {
    let wanted: Vec<&str> = permission.split('.').collect();
    let granted: Vec<&str> = grant.split('.').collect();
    let mut out = Vec::with_capacity(wanted.len());
    for (i, g) in granted.iter().enumerate() {
        let last = i + 1 == granted.len();
        match (*g, wanted.get(i)) {
            ("*", Some(_)) if last => out.extend(wanted.get(i..)?.iter().copied()),
            ("*", Some(w)) => out.push(*w),
            (g, Some(_)) => out.push(g),
            (_, None) => return None,
        }
    }
    let last_is_star = granted.last() == Some(&"*");
    (last_is_star || granted.len() == wanted.len()).then(|| out.join("."))
}

/// The closest candidate within the suggestion distance (ties: the first in
/// order), never the name itself.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, c)| *d <= MAX_SUGGESTION_DISTANCE && *d < c.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance with adjacent transpositions (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=a.len() {
        if let Some(cell) = d.get_mut(at(i, 0)) {
            *cell = i;
        }
    }
    for j in 0..=b.len() {
        if let Some(cell) = d.get_mut(at(0, j)) {
            *cell = j;
        }
    }
    let get = |d: &[usize], i: usize, j: usize| d.get(at(i, j)).copied().unwrap_or(usize::MAX);
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a.get(i - 1) != b.get(j - 1));
            let mut best = (get(&d, i - 1, j).saturating_add(1))
                .min(get(&d, i, j - 1).saturating_add(1))
                .min(get(&d, i - 1, j - 1).saturating_add(cost));
            if i > 1 && j > 1 && a.get(i - 1) == b.get(j - 2) && a.get(i - 2) == b.get(j - 1) {
                best = best.min(get(&d, i - 2, j - 2).saturating_add(1));
            }
            if let Some(cell) = d.get_mut(at(i, j)) {
                *cell = best;
            }
        }
    }
    get(&d, a.len(), b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(yaml: &str) -> Catalog {
        Catalog::parse(Path::new("/app/application.yaml"), yaml)
            .unwrap()
            .unwrap()
    }

    const SEED: &str = "
auth:
  secret_key: ${AUTH_SECRET_KEY}
  permissions: [articles.read, articles.write, articles.delete, reports.export]
  roles:
    admin: { permissions: ['*'] }
    editor: { inherits: [viewer], permissions: [articles.write, comments.*] }
    viewer: { permissions: [articles.read] }
";

    #[test]
    fn shared_wildcard_table() {
        let rows: Vec<(&str, &str, bool)> = include_str!("../../tests/data/wildcards.tsv")
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
            assert_eq!(
                grant_matches(grant, permission),
                expected,
                "{grant} vs {permission}"
            );
        }
    }

    #[test]
    fn roles_and_permissions() {
        let c = catalog(SEED);
        assert!(c.check_role("editor").is_ok());
        assert_eq!(
            c.check_role("edtior").unwrap_err(),
            "unknown role `edtior`: `application.yaml` defines no such role under `auth.roles`; did you mean `editor`?"
        );
        assert!(
            !c.check_role("publisher")
                .unwrap_err()
                .contains("did you mean")
        );
        assert!(c.check_permission("reports.export").is_ok()); // declared
        assert!(c.check_permission("comments.delete").is_ok()); // wildcard grant
        assert!(c.check_permission("anything.at.all").is_ok()); // `*`
    }

    #[test]
    fn without_a_catch_all_grant() {
        let c = catalog(
            "auth:\n  permissions: [articles.read]\n  roles:\n    editor: { permissions: [articles.write, comments.*] }\n",
        );
        assert_eq!(
            c.check_permission("articles.wirte").unwrap_err(),
            "no role in `application.yaml` grants the permission `articles.wirte`, and `auth.permissions` does not declare it; did you mean `articles.write`?"
        );
        assert!(
            c.check_permission("coments.delete")
                .unwrap_err()
                .ends_with("did you mean `comments.delete`?")
        );
        assert!(
            !c.check_permission("billing.refund")
                .unwrap_err()
                .contains("did you mean")
        );
    }

    #[test]
    fn no_names_no_catalog() {
        let parse = |yaml: &str| Catalog::parse(Path::new("a.yaml"), yaml).unwrap();
        assert!(parse("auth:\n  secret_key: x\n").is_none());
        assert!(parse("server: { port: 1 }\n").is_none());
        assert!(parse("auth:\n  roles:\n").unwrap().roles.is_empty());
        assert!(Catalog::parse(Path::new("a.yaml"), "auth: [").is_err());
        assert!(Catalog::parse(Path::new("a.yaml"), "auth:\n  roles: [a]\n").is_err());
        let toml = Catalog::parse(
            Path::new("application.toml"),
            "[auth.roles.editor]\npermissions = [\"articles.write\"]\n",
        )
        .unwrap()
        .unwrap();
        assert!(toml.check_role("editor").is_ok());
        assert!(toml.check_permission("articles.write").is_ok());
    }

    #[test]
    fn distances_and_instantiation() {
        assert_eq!(distance("editor", "editor"), 0);
        assert_eq!(distance("edtior", "editor"), 1);
        assert_eq!(distance("admn", "admin"), 1);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(
            instantiate("articles.*", "artcles.read.x").as_deref(),
            Some("articles.read.x")
        );
        assert_eq!(
            instantiate("*.read", "articles.raed").as_deref(),
            Some("articles.read")
        );
        assert_eq!(instantiate("a.*.c", "a.b").as_deref(), None);
        assert_eq!(instantiate("a.*.c", "a.b.c.d").as_deref(), None);
        assert_eq!(suggest("ab", ["xy"].into_iter()), None);
    }
}
