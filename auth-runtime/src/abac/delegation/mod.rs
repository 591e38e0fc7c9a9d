//! Delegations: a principal lends some of its permissions on some
//! resources to another, until a deadline.
//!
//! A [`Delegation`] names the permissions (grants, wildcards allowed) and
//! a **resource pattern**:
//!
//! | pattern | matches |
//! |---|---|
//! | `article/42` | the `article` whose [`resource_id`](super::Policy::resource_id) is `42` |
//! | `article/*` | every `article` |
//!
//! The kind is a single permission segment (`[a-z0-9_-]`); the id is any
//! text of 1 to 256 bytes without control characters, or `*` alone. Every
//! delegated permission must concern the pattern's kind (its first segment
//! is the kind, or `*`).
//!
//! Granting ([`AuthorizationService::delegate`](crate::authz::AuthorizationService::delegate))
//! refuses permissions the delegator does not hold. The delegation keeps a
//! snapshot of the delegator's roles, direct grants and tenant; each check
//! re-resolves the snapshot against the role graph in force, so a role that
//! loses a permission stops the delegation too. A change to the
//! delegator's own role *assignment* (kept in the user store) is not seen:
//! revoke their delegations when taking roles away.
//!
//! # Stores
//!
//! | type | feature | for |
//! |---|---|---|
//! | [`MemoryDelegationStore`] | always | tests, a single instance (lost on restart) |
//! | `SqliteDelegationStore` | `sqlite` | a single instance that survives restarts |
//! | `PostgresDelegationStore` | `postgres` | several instances sharing PostgreSQL |
//!
//! One conformance suite in the `tests` crate runs against all of them.

use std::collections::HashMap;
use std::future::ready;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use crate::store::{StoreError, StoreFuture};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PostgresDelegationStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteDelegationStore;

/// The longest resource id in a pattern, in bytes.
pub const MAX_PATTERN_ID_LEN: usize = 256;

/// Permissions lent by one principal to another on some resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The delegation's id (128 random bits, hex).
    pub id: String,
    /// The subject lending its permissions.
    pub delegator: String,
    /// The subject receiving them.
    pub delegate: String,
    /// The permissions lent (grants: `article.edit`, `article.*`).
    pub permissions: Vec<String>,
    /// Which resources: `kind/id` or `kind/*` (see the [module docs](self)).
    pub resource_pattern: String,
    /// When it ends (exclusive): at or after this instant it grants nothing.
    pub expires_at: SystemTime,
    /// Whether it was revoked.
    pub revoked: bool,
    /// The delegator's tenant when it was granted: the delegation never
    /// reaches a resource of another tenant.
    pub delegator_tenant: Option<String>,
    /// The delegator's roles when it was granted.
    pub delegator_roles: Vec<String>,
    /// The delegator's direct grants when it was granted.
    pub delegator_grants: Vec<String>,
}

impl Delegation {
    /// Whether the delegation grants anything at `now`: not revoked and not
    /// expired.
    #[must_use]
    pub fn is_active(&self, now: SystemTime) -> bool {
        !self.revoked && now < self.expires_at
    }

    /// Whether the resource pattern matches a resource of `kind` with the
    /// id `id`.
    #[must_use]
    pub fn covers_resource(&self, kind: &str, id: Option<&str>) -> bool {
        pattern_matches(&self.resource_pattern, kind, id)
    }
}

/// Checks a resource pattern; its kind on success.
///
/// # Errors
/// Why the pattern is invalid, in words.
pub(crate) fn check_pattern(pattern: &str) -> Result<&str, &'static str> {
    let Some((kind, id)) = pattern.split_once('/') else {
        return Err("it is not `kind/id` or `kind/*`");
    };
    let kind_ok = !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !kind_ok {
        return Err("the kind is not one segment of `a-z`, `0-9`, `_` and `-`");
    }
    if id.is_empty() || id.len() > MAX_PATTERN_ID_LEN {
        return Err("the id has 1 to 256 bytes");
    }
    if id.chars().any(char::is_control) {
        return Err("the id has control characters");
    }
    if id != "*" && id.contains('*') {
        return Err("`*` stands for every id and must be the whole id");
    }
    Ok(kind)
}

/// Whether `pattern` matches the resource `kind`/`id` (a resource without
/// an id matches only `kind/*`).
pub(crate) fn pattern_matches(pattern: &str, kind: &str, id: Option<&str>) -> bool {
    let Some((want_kind, want_id)) = pattern.split_once('/') else {
        return false;
    };
    want_kind == kind && (want_id == "*" || Some(want_id) == id)
}

/// Where delegations are kept.
///
/// Object safe: hold it as `Arc<dyn DelegationStore>`. This crate has the
/// in-memory [`MemoryDelegationStore`], `SqliteDelegationStore` (feature
/// `sqlite`) and `PostgresDelegationStore` (feature `postgres`); an
/// application can implement the trait over its own database.
///
/// A store error makes a check that needed a delegation fail closed (the
/// request is refused as unavailable, never allowed).
pub trait DelegationStore: std::fmt::Debug + Send + Sync {
    /// Stores a new delegation (replacing one with the same id, which then
    /// lists last).
    fn grant<'a>(&'a self, delegation: &'a Delegation) -> StoreFuture<'a, ()>;

    /// Marks the delegation `id` revoked; `false` when there is none.
    fn revoke<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;

    /// Every delegation to `delegate`, revoked and expired ones included
    /// (the caller filters with [`Delegation::is_active`]), in the order
    /// they were granted.
    fn list_for_delegate<'a>(&'a self, delegate: &'a str) -> StoreFuture<'a, Vec<Delegation>>;

    /// Drops the delegations expired at `now`, revoked or not; how many
    /// were dropped.
    fn purge_expired(&self, now: SystemTime) -> StoreFuture<'_, usize>;
}

/// A [`DelegationStore`] in the process's memory.
///
/// For tests and single-instance applications: delegations are lost on
/// restart and not shared between instances. Call
/// [`purge_expired`](DelegationStore::purge_expired) now and then to drop
/// expired ones.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use lexigram_auth::abac::{Delegation, DelegationStore, MemoryDelegationStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lexigram_auth::store::StoreError> {
/// let store = MemoryDelegationStore::new();
/// let now = SystemTime::now();
/// store.grant(&Delegation {
///     id: "d1".into(),
///     delegator: "alice".into(),
///     delegate: "bob".into(),
///     permissions: vec!["article.edit".into()],
///     resource_pattern: "article/42".into(),
///     expires_at: now + Duration::from_secs(3600),
///     revoked: false,
///     delegator_tenant: None,
///     delegator_roles: vec!["editor".into()],
///     delegator_grants: vec![],
/// }).await?;
/// assert_eq!(store.list_for_delegate("bob").await?.len(), 1);
/// assert!(store.revoke("d1").await?);
/// assert!(!store.list_for_delegate("bob").await?[0].is_active(now));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryDelegationStore {
    tables: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    /// Delegate -> its delegations.
    by_delegate: HashMap<String, Vec<Delegation>>,
    /// Delegation id -> delegate.
    delegate_of: HashMap<String, String>,
}

impl MemoryDelegationStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A poisoned lock still holds complete tables: every change is one
    /// insert or one field write.
    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The number of delegations held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tables().delegate_of.len()
    }

    /// Whether no delegation is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl DelegationStore for MemoryDelegationStore {
    fn grant<'a>(&'a self, delegation: &'a Delegation) -> StoreFuture<'a, ()> {
        let mut tables = self.tables();
        if let Some(previous) = tables.delegate_of.remove(&delegation.id)
            && let Some(list) = tables.by_delegate.get_mut(&previous)
        {
            list.retain(|d| d.id != delegation.id);
        }
        tables
            .delegate_of
            .insert(delegation.id.clone(), delegation.delegate.clone());
        tables
            .by_delegate
            .entry(delegation.delegate.clone())
            .or_default()
            .push(delegation.clone());
        Box::pin(ready(Ok(())))
    }

    fn revoke<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        let mut tables = self.tables();
        let delegate = tables.delegate_of.get(id).cloned();
        let found = delegate
            .and_then(|d| tables.by_delegate.get_mut(&d))
            .and_then(|list| list.iter_mut().find(|d| d.id == id))
            .map(|d| d.revoked = true)
            .is_some();
        Box::pin(ready(Ok(found)))
    }

    fn list_for_delegate<'a>(&'a self, delegate: &'a str) -> StoreFuture<'a, Vec<Delegation>> {
        let list = self
            .tables()
            .by_delegate
            .get(delegate)
            .cloned()
            .unwrap_or_default();
        Box::pin(ready(Ok(list)))
    }

    fn purge_expired(&self, now: SystemTime) -> StoreFuture<'_, usize> {
        let mut tables = self.tables();
        let Tables {
            by_delegate,
            delegate_of,
        } = &mut *tables;
        let mut dropped = 0;
        by_delegate.retain(|_, list| {
            list.retain(|d| {
                let keep = now < d.expires_at;
                if !keep {
                    delegate_of.remove(&d.id);
                    dropped += 1;
                }
                keep
            });
            !list.is_empty()
        });
        Box::pin(ready(Ok::<_, StoreError>(dropped)))
    }
}
