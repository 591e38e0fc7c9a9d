//! The role graph, compiled once per configuration into bitsets.
//!
//! Every role gets an id. For every role the compiler computes the set of roles
//! it *implies* (itself and everything it inherits, transitively), and for every
//! concrete permission the set of roles that *hold* it. A permission check is then
//! one hash lookup and one bitset intersection, whatever the depth of the
//! hierarchy and however many grants there are.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::HashMap;
use foldhash::HashMapExt;
use serde::{Deserialize, Serialize};

use super::grammar::{Grant, check_role, grant_matches};
use crate::error::RoleGraphError;

/// How one role is defined: its own grants and the roles it inherits from.
///
/// This is the seed's `{"permissions": [...], "inherits": [...]}` shape, and
/// deserialises from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDefinition {
    /// Grants held by the role (wildcards allowed).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Roles whose grants this role also holds.
    #[serde(default)]
    pub inherits: Vec<String>,
    /// Free text for people.
    #[serde(default)]
    pub description: Option<String>,
}

impl RoleDefinition {
    /// A role with these grants and no parents.
    #[must_use]
    pub fn new<I, S>(permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            permissions: permissions.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Adds parents to inherit from.
    #[must_use]
    pub fn inherits<I, S>(mut self, parents: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inherits.extend(parents.into_iter().map(Into::into));
        self
    }
}

/// Role sets of up to this many words (256 roles) live inline, so resolving a
/// principal's roles allocates nothing.
const INLINE_WORDS: usize = 4;

/// A set of role ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RoleSet {
    Inline([u64; INLINE_WORDS]),
    Heap(Vec<u64>),
}

impl Default for RoleSet {
    fn default() -> Self {
        Self::Inline([0; INLINE_WORDS])
    }
}

impl RoleSet {
    fn with_capacity(roles: usize) -> Self {
        let words = roles.div_ceil(64);
        if words <= INLINE_WORDS {
            Self::default()
        } else {
            Self::Heap(vec![0; words])
        }
    }

    fn words(&self) -> &[u64] {
        match self {
            Self::Inline(words) => words,
            Self::Heap(words) => words,
        }
    }

    fn words_mut(&mut self) -> &mut [u64] {
        match self {
            Self::Inline(words) => words,
            Self::Heap(words) => words,
        }
    }

    fn insert(&mut self, id: usize) {
        if let Some(word) = self.words_mut().get_mut(id / 64) {
            *word |= 1 << (id % 64);
        }
    }

    fn contains(&self, id: usize) -> bool {
        self.words()
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    pub(crate) fn union_with(&mut self, other: &Self) {
        if self.words().len() < other.words().len() {
            let mut grown = self.words().to_vec();
            grown.resize(other.words().len(), 0);
            *self = Self::Heap(grown);
        }
        for (a, b) in self.words_mut().iter_mut().zip(other.words()) {
            *a |= b;
        }
    }

    pub(crate) fn intersects(&self, other: &Self) -> bool {
        self.words()
            .iter()
            .zip(other.words())
            .any(|(a, b)| a & b != 0)
    }

    fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.words().iter().enumerate().flat_map(|(w, bits)| {
            (0..64)
                .filter(move |b| bits & (1 << b) != 0)
                .map(move |b| w * 64 + b)
        })
    }
}

/// Permissions looked up but not granted literally are resolved against the
/// wildcard grants once and remembered, up to this many.
const RESOLVED_CACHE_LIMIT: usize = 4096;

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// A compiled role hierarchy.
#[derive(Debug)]
pub struct RoleGraph {
    generation: u64,
    names: Vec<String>,
    ids: HashMap<String, usize>,
    /// For each role: itself and every role it inherits, transitively.
    implied: Vec<RoleSet>,
    /// For each role: its own grants and inherited ones (for display).
    effective: Vec<BTreeSet<String>>,
    /// For each literal (wildcard-free) grant: the roles holding it, wildcards included.
    holders: HashMap<String, RoleSet>,
    /// Wildcard grants with the roles holding each.
    patterns: Vec<(String, RoleSet)>,
    /// Permissions resolved against `patterns` on first use.
    resolved: RwLock<HashMap<String, RoleSet>>,
}

impl RoleGraph {
    /// Compiles role definitions.
    ///
    /// # Errors
    /// A malformed role or grant name, a parent that is not defined, or a cycle
    /// in the inheritance relation; each error names the roles involved.
    pub fn compile(roles: &BTreeMap<String, RoleDefinition>) -> Result<Self, RoleGraphError> {
        let names: Vec<String> = roles.keys().cloned().collect();
        let ids: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let mut parents: Vec<Vec<usize>> = Vec::with_capacity(names.len());
        let mut own_grants: Vec<Vec<Grant>> = Vec::with_capacity(names.len());
        for (name, def) in roles {
            check_role(name).map_err(|source| RoleGraphError::InvalidName {
                role: name.clone(),
                source,
            })?;
            let mut ps = Vec::with_capacity(def.inherits.len());
            for parent in &def.inherits {
                let id = ids
                    .get(parent)
                    .copied()
                    .ok_or_else(|| RoleGraphError::UnknownParent {
                        role: name.clone(),
                        parent: parent.clone(),
                    })?;
                ps.push(id);
            }
            parents.push(ps);
            let mut gs = Vec::with_capacity(def.permissions.len());
            for grant in &def.permissions {
                let g = grant
                    .parse::<Grant>()
                    .map_err(|source| RoleGraphError::InvalidName {
                        role: name.clone(),
                        source,
                    })?;
                gs.push(g);
            }
            own_grants.push(gs);
        }

        let order = topological_order(&names, &parents)?;
        let n = names.len();
        let mut implied: Vec<RoleSet> = vec![RoleSet::default(); n];
        for &role in &order {
            let mut set = RoleSet::with_capacity(n);
            set.insert(role);
            for &p in parents.get(role).map(Vec::as_slice).unwrap_or_default() {
                if let Some(parent_set) = implied.get(p) {
                    let parent_set = parent_set.clone();
                    set.union_with(&parent_set);
                }
            }
            if let Some(slot) = implied.get_mut(role) {
                *slot = set;
            }
        }

        // Roles holding each grant: every role that implies a role granting it.
        let mut grant_holders: BTreeMap<&Grant, RoleSet> = BTreeMap::new();
        for (role, set) in implied.iter().enumerate() {
            for ancestor in set.ids() {
                for g in own_grants
                    .get(ancestor)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    grant_holders
                        .entry(g)
                        .or_insert_with(|| RoleSet::with_capacity(n))
                        .insert(role);
                }
            }
        }
        let effective = implied
            .iter()
            .map(|set| {
                set.ids()
                    .flat_map(|a| own_grants.get(a).map(Vec::as_slice).unwrap_or_default())
                    .map(|g| g.as_str().to_owned())
                    .collect()
            })
            .collect();

        let patterns: Vec<(String, RoleSet)> = grant_holders
            .iter()
            .filter(|(g, _)| g.is_pattern())
            .map(|(g, set)| (g.as_str().to_owned(), set.clone()))
            .collect();
        let mut holders = HashMap::new();
        for (g, set) in &grant_holders {
            if g.is_pattern() {
                continue;
            }
            let mut all = set.clone();
            for (pattern, pset) in &patterns {
                if grant_matches(pattern, g.as_str()) {
                    all.union_with(pset);
                }
            }
            holders.insert(g.as_str().to_owned(), all);
        }

        Ok(Self {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            names,
            ids,
            implied,
            effective,
            holders,
            patterns,
            resolved: RwLock::new(HashMap::new()),
        })
    }

    /// A graph with no roles: every role and permission check denies.
    #[must_use]
    pub fn empty() -> Self {
        Self {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            names: Vec::new(),
            ids: HashMap::new(),
            implied: Vec::new(),
            effective: Vec::new(),
            holders: HashMap::new(),
            patterns: Vec::new(),
            resolved: RwLock::new(HashMap::new()),
        }
    }

    /// A number that differs between any two compiled graphs.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The defined role names, sorted.
    #[must_use]
    pub fn role_names(&self) -> &[String] {
        &self.names
    }

    /// Whether `role` is defined.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.ids.contains_key(role)
    }

    /// The grants a role holds, its own and inherited ones; `None` for an unknown role.
    #[must_use]
    pub fn effective_grants(&self, role: &str) -> Option<&BTreeSet<String>> {
        self.ids.get(role).and_then(|&id| self.effective.get(id))
    }

    /// The union of the implied sets of `roles`; unknown role names are ignored.
    pub(crate) fn resolve_roles<'a>(&self, roles: impl IntoIterator<Item = &'a str>) -> RoleSet {
        let mut set = RoleSet::with_capacity(self.names.len());
        for role in roles {
            if let Some(implied) = self.ids.get(role).and_then(|&id| self.implied.get(id)) {
                set.union_with(implied);
            }
        }
        set
    }

    /// Whether a principal whose resolved roles are `roles` holds `role`.
    pub(crate) fn set_has_role(&self, roles: &RoleSet, role: &str) -> bool {
        self.ids.get(role).is_some_and(|&id| roles.contains(id))
    }

    /// The roles holding a permission that some role is granted literally.
    /// Every key is a valid permission name, so a hit needs no validation.
    pub(crate) fn literal_holders(&self, permission: &str) -> Option<&RoleSet> {
        self.holders.get(permission)
    }

    /// Whether any role in `roles` holds the valid permission `permission`
    /// through a wildcard grant; resolved once per permission, then cached.
    pub(crate) fn pattern_grants(&self, roles: &RoleSet, permission: &str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        if let Ok(cache) = self.resolved.read()
            && let Some(holders) = cache.get(permission)
        {
            return holders.intersects(roles);
        }
        let mut holders = RoleSet::with_capacity(self.names.len());
        for (pattern, set) in &self.patterns {
            if grant_matches(pattern, permission) {
                holders.union_with(set);
            }
        }
        let allowed = holders.intersects(roles);
        if let Ok(mut cache) = self.resolved.write()
            && cache.len() < RESOLVED_CACHE_LIMIT
        {
            cache.insert(permission.to_owned(), holders);
        }
        allowed
    }

    /// Whether any role in `roles` holds the valid permission `permission`.
    #[cfg(test)]
    fn set_has_permission(&self, roles: &RoleSet, permission: &str) -> bool {
        match self.literal_holders(permission) {
            Some(holders) => holders.intersects(roles),
            None => self.pattern_grants(roles, permission),
        }
    }
}

/// Orders roles parents-first; a cycle is an error naming its roles.
fn topological_order(
    names: &[String],
    parents: &[Vec<usize>],
) -> Result<Vec<usize>, RoleGraphError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let n = names.len();
    let mut mark = vec![Mark::New; n];
    let mut order = Vec::with_capacity(n);
    for start in 0..n {
        if mark.get(start) != Some(&Mark::New) {
            continue;
        }
        // Iterative depth-first search: (role, index of the next parent to visit).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        if let Some(m) = mark.get_mut(start) {
            *m = Mark::Active;
        }
        while let Some(&mut (role, ref mut next)) = stack.last_mut() {
            let ps = parents.get(role).map(Vec::as_slice).unwrap_or_default();
            if let Some(&p) = ps.get(*next) {
                *next += 1;
                match mark.get(p).copied() {
                    Some(Mark::New) => {
                        if let Some(m) = mark.get_mut(p) {
                            *m = Mark::Active;
                        }
                        stack.push((p, 0));
                    }
                    Some(Mark::Active) => {
                        let from = stack.iter().position(|&(r, _)| r == p).unwrap_or(0);
                        let mut cycle: Vec<String> = stack
                            .get(from..)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|&(r, _)| names.get(r).cloned())
                            .collect();
                        cycle.extend(names.get(p).cloned());
                        return Err(RoleGraphError::Cycle { cycle });
                    }
                    _ => {}
                }
            } else {
                if let Some(m) = mark.get_mut(role) {
                    *m = Mark::Done;
                }
                order.push(role);
                stack.pop();
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(defs: &[(&str, &[&str], &[&str])]) -> Result<RoleGraph, RoleGraphError> {
        let map = defs
            .iter()
            .map(|(name, perms, parents)| {
                (
                    (*name).to_owned(),
                    RoleDefinition::new(perms.iter().copied()).inherits(parents.iter().copied()),
                )
            })
            .collect();
        RoleGraph::compile(&map)
    }

    #[test]
    fn cycle_is_named() {
        let err = graph(&[("a", &[], &["b"]), ("b", &[], &["c"]), ("c", &[], &["a"])]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "role inheritance has a cycle: `a` -> `b` -> `c` -> `a`"
        );
        let err = graph(&[("a", &[], &["a"])]).unwrap_err();
        assert_eq!(
            err,
            RoleGraphError::Cycle {
                cycle: vec!["a".into(), "a".into()]
            }
        );
    }

    #[test]
    fn unknown_parent_is_named() {
        let err = graph(&[("editor", &[], &["viewer"])]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "role `editor` inherits from `viewer`, which is not defined"
        );
    }

    #[test]
    fn bad_names_are_errors() {
        assert!(matches!(
            graph(&[("Admin", &[], &[])]),
            Err(RoleGraphError::InvalidName { .. })
        ));
        let err = graph(&[("admin", &["articles.**"], &[])]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("role `admin`: invalid permission `articles.**`"),
            "{err}"
        );
    }

    #[test]
    fn diamond_and_depth() {
        let g = graph(&[
            ("base", &["a.read"], &[]),
            ("left", &["b.read"], &["base"]),
            ("right", &["c.*"], &["base"]),
            ("top", &[], &["left", "right"]),
        ])
        .unwrap();
        let top = g.resolve_roles(["top"]);
        for p in ["a.read", "b.read", "c.read", "c.x.y"] {
            assert!(g.set_has_permission(&top, p), "{p}");
        }
        assert!(!g.set_has_permission(&top, "d.read"));
        let left = g.resolve_roles(["left"]);
        assert!(g.set_has_permission(&left, "a.read"));
        assert!(!g.set_has_permission(&left, "c.read"));
        assert!(g.set_has_role(&top, "base"));
        assert!(!g.set_has_role(&left, "right"));
        assert_eq!(
            g.effective_grants("top")
                .unwrap()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["a.read", "b.read", "c.*"]
        );
    }

    #[test]
    fn many_roles_span_words() {
        let names: Vec<String> = (0..200).map(|i| format!("r{i}")).collect();
        let mut map = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            let parents: Vec<String> = if i + 1 < names.len() {
                vec![names[i + 1].clone()]
            } else {
                vec![]
            };
            map.insert(
                name.clone(),
                RoleDefinition::new([format!("p.n{i}")]).inherits(parents),
            );
        }
        let g = RoleGraph::compile(&map).unwrap();
        let first = g.resolve_roles(["r0"]);
        assert!(g.set_has_permission(&first, "p.n199"));
        let last = g.resolve_roles(["r199"]);
        assert!(!g.set_has_permission(&last, "p.n0"));
        assert!(g.set_has_permission(&last, "p.n199"));
    }
}
