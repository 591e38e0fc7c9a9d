//! Policy documents kept in a store, so that policies change at run time
//! and several application instances share them.
//!
//! A [`PolicyStore`] keeps YAML policy documents (the format of
//! [`PolicyEngine::from_yaml`](super::PolicyEngine::from_yaml)) by name.
//! [`AuthorizationService::reload_policies`](crate::authz::AuthorizationService::reload_policies)
//! reads every document, checks them together against a
//! [`SchemaRegistry`] ([`PolicyEngine::from_documents`](super::PolicyEngine::from_documents))
//! and only then installs them at once: a bad document leaves the policies
//! in force as they were.
//!
//! ```
//! use lexigram_auth::abac::*;
//! use lexigram_auth::authz::AuthorizationService;
//! # struct Article;
//! # static ARTICLE: Schema = Schema {
//! #     kind: "article",
//! #     attributes: &[AttributeDef { name: "status", ty: AttrType::String, optional: false }],
//! # };
//! # impl Attributes for Article {
//! #     fn schema(&self) -> &'static Schema { &ARTICLE }
//! #     fn attribute(&self, _: &str) -> Option<AttrValue<'_>> { None }
//! # }
//! # impl Policy for Article {
//! #     const SCHEMA: &'static Schema = &ARTICLE;
//! #     fn rules() -> &'static [Rule<Self>] { &[] }
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = SchemaRegistry::new().register::<Article>();
//! let store = MemoryPolicyStore::new(); // or SqlitePolicyStore, PostgresPolicyStore
//! store.put("drafts", "policies: [{ id: read-drafts, effect: allow, resource: article, actions: [read] }]").await?;
//! store.put("locks", "policies: [{ id: no-edits, effect: deny, resource: article, actions: [edit] }]").await?;
//!
//! let authz = AuthorizationService::new();
//! assert_eq!(authz.reload_policies(&store, &registry).await?, 2);
//!
//! // A document naming an unknown resource kind is refused at reload,
//! // and the two policies stay in force.
//! store.put("typo", "policies: [{ id: x, effect: allow, resource: artcle }]").await?;
//! let err = authz.reload_policies(&store, &registry).await.unwrap_err();
//! assert_eq!(err.code(), "policy_unknown_kind");
//! assert_eq!(authz.policies().len(), 2);
//! # Ok(())
//! # }
//! ```
//!
//! # Checking happens at reload
//!
//! A store keeps documents by name and does not read them:
//! [`put`](PolicyStore::put) accepts any text, because the store does not
//! know the application's resource types. Checking is the job of
//! [`reload_policies`](crate::authz::AuthorizationService::reload_policies),
//! which refuses the whole set when one document is wrong, naming the
//! document and the key path. To refuse a bad document before it is
//! stored at all, write it with [`put_checked`], which checks the set of
//! documents as it would be after the write.
//!
//! The documents of a store are loaded in name order; with
//! `combining: first-applicable` that order is the order of evaluation.
//!
//! # Several instances
//!
//! Every write increments the store's [`revision`](PolicyStore::revision),
//! one integer that is cheap to read. Each instance polls it and reloads
//! only when it changed,
//! with [`reload_policies_if_changed`](crate::authz::AuthorizationService::reload_policies_if_changed):
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use lexigram_auth::abac::{PolicyStore, PostgresPolicyStore, SchemaRegistry};
//! use lexigram_auth::authz::AuthorizationService;
//!
//! # async fn demo(authz: Arc<AuthorizationService>, registry: SchemaRegistry) -> Result<(), Box<dyn std::error::Error>> {
//! let store = PostgresPolicyStore::connect("postgres://app@127.0.0.1:5432/app").await?;
//! authz.reload_policies(&store, &registry).await?; // at start-up: fail if the policies are bad
//! tokio::spawn(async move {
//!     let mut every = tokio::time::interval(Duration::from_secs(10));
//!     loop {
//!         every.tick().await;
//!         if let Err(error) = authz.reload_policies_if_changed(&store, &registry).await {
//!             // The policies in force stay; the next tick tries again.
//!             tracing::error!(%error, "the stored policies cannot be loaded");
//!         }
//!     }
//! });
//! # Ok(())
//! # }
//! ```
//!
//! # Stores
//!
//! | type | feature | for |
//! |---|---|---|
//! | [`MemoryPolicyStore`] | always | tests, a single instance (lost on restart) |
//! | `SqlitePolicyStore` | `sqlite` | a single instance that survives restarts |
//! | `PostgresPolicyStore` | `postgres` | several instances sharing PostgreSQL |
//!
//! One conformance suite in the `tests` crate runs against all of them.

use std::collections::BTreeMap;
use std::future::ready;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use super::{PolicyEngine, SchemaRegistry};
use crate::error::PolicyReloadError;
use crate::store::{StoreFuture, check_id};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PostgresPolicyStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqlitePolicyStore;

/// What a store's [`InvalidId`](crate::store::StoreError::InvalidId) error
/// calls a document name.
pub(crate) const DOCUMENT_NAME: &str = "policy document name";

/// One stored policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// The document's name (1 to [`MAX_ID_LEN`](crate::store::MAX_ID_LEN)
    /// bytes), unique in its store.
    pub name: String,
    /// The YAML text, as it was put.
    pub text: String,
    /// When it was last put, by the clock of the instance that put it.
    pub updated_at: SystemTime,
}

/// Where policy documents are kept, by name.
///
/// Object safe: hold it as `Arc<dyn PolicyStore>`. A store does not read
/// the documents (see the [module docs](self)); names are 1 to
/// [`MAX_ID_LEN`](crate::store::MAX_ID_LEN) bytes, and any other name is
/// refused with [`StoreError::InvalidId`](crate::store::StoreError::InvalidId).
pub trait PolicyStore: std::fmt::Debug + Send + Sync {
    /// Stores `text` under `name`, replacing the document of that name.
    fn put<'a>(&'a self, name: &'a str, text: &'a str) -> StoreFuture<'a, ()>;

    /// Removes the document `name`; `false` when there is none.
    fn remove<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool>;

    /// Every document, sorted by name (byte order).
    fn list(&self) -> StoreFuture<'_, Vec<PolicyDocument>>;

    /// A number that grows with every [`put`](Self::put) and every
    /// [`remove`](Self::remove) that removed something: a cheap way to tell
    /// whether the documents changed since they were last read.
    fn revision(&self) -> StoreFuture<'_, u64>;
}

/// A [`PolicyStore`] in the process's memory.
///
/// For tests and single-instance applications: documents are lost on
/// restart and not shared between instances.
#[derive(Debug, Default)]
pub struct MemoryPolicyStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    documents: BTreeMap<String, (String, SystemTime)>,
    revision: u64,
}

impl MemoryPolicyStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A poisoned lock still holds a complete state: every change is one
    /// insert or removal and one increment.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The number of documents held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.state().documents.len()
    }

    /// Whether no document is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PolicyStore for MemoryPolicyStore {
    fn put<'a>(&'a self, name: &'a str, text: &'a str) -> StoreFuture<'a, ()> {
        let result = check_id(DOCUMENT_NAME, name).map(|()| {
            let mut state = self.state();
            state
                .documents
                .insert(name.to_owned(), (text.to_owned(), SystemTime::now()));
            state.revision += 1;
        });
        Box::pin(ready(result))
    }

    fn remove<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        let result = check_id(DOCUMENT_NAME, name).map(|()| {
            let mut state = self.state();
            let removed = state.documents.remove(name).is_some();
            if removed {
                state.revision += 1;
            }
            removed
        });
        Box::pin(ready(result))
    }

    fn list(&self) -> StoreFuture<'_, Vec<PolicyDocument>> {
        let documents = self
            .state()
            .documents
            .iter()
            .map(|(name, (text, updated_at))| PolicyDocument {
                name: name.clone(),
                text: text.clone(),
                updated_at: *updated_at,
            })
            .collect();
        Box::pin(ready(Ok(documents)))
    }

    fn revision(&self) -> StoreFuture<'_, u64> {
        Box::pin(ready(Ok(self.state().revision)))
    }
}

/// Stores `text` under `name` only if the store's documents, with this one
/// put, load together against `registry`; returns how many policies they
/// hold.
///
/// The check and the write are two steps: a concurrent writer can still
/// store a document that conflicts with this one, which
/// [`reload_policies`](crate::authz::AuthorizationService::reload_policies)
/// then refuses as it refuses any bad set.
///
/// ```
/// use lexigram_auth::abac::{MemoryPolicyStore, PolicyStore, SchemaRegistry, put_checked};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = MemoryPolicyStore::new();
/// let err = put_checked(&store, &SchemaRegistry::new(), "bad", "policies: [{ id: a }]")
///     .await
///     .unwrap_err();
/// assert_eq!(err.code(), "policy_syntax");
/// assert!(store.is_empty());
/// # }
/// ```
///
/// # Errors
/// [`PolicyReloadError::Invalid`] naming the document and the problem
/// (nothing is stored), or [`PolicyReloadError::Store`].
pub async fn put_checked(
    store: &dyn PolicyStore,
    registry: &SchemaRegistry,
    name: &str,
    text: &str,
) -> Result<usize, PolicyReloadError> {
    check_id(DOCUMENT_NAME, name)?;
    let stored = store.list().await?;
    let others = stored
        .iter()
        .filter(|d| d.name != name)
        .map(|d| (d.name.as_str(), d.text.as_str()));
    let mut documents: Vec<(&str, &str)> = others.collect();
    let at = documents.partition_point(|(other, _)| *other < name);
    documents.insert(at, (name, text));
    let engine = PolicyEngine::from_documents(registry, documents)?;
    store.put(name, text).await?;
    Ok(engine.len())
}
