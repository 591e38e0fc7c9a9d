//! The SQLite delegation store (feature `sqlite`).

use super::sql::{self, impl_sql_delegation_store};
use crate::store::sql::sql_store_type;
use crate::store::sqlite::{BACKEND, connect, migrate};

sql_store_type!(
    /// A [`DelegationStore`](super::DelegationStore) in SQLite, through sqlx.
    ///
    /// For a single application instance whose delegations survive a
    /// restart. The table `lexigram_delegations` is created when the store
    /// is opened; every field of a [`Delegation`](super::Delegation) reads
    /// back as it was granted (instants to the nanosecond, the delegator's
    /// snapshot included). A re-grant of an id replaces it in one immediate
    /// transaction. Expired delegations stay until
    /// [`purge_expired`](super::DelegationStore::purge_expired) (checks
    /// ignore them). Every operation is bounded by a timeout (default 2 s).
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use std::sync::Arc;
    /// use std::time::{Duration, SystemTime};
    /// use lexigram_auth::abac::SqliteDelegationStore;
    /// use lexigram_auth::authz::{AuthorizationService, RoleDefinition};
    /// use lexigram_auth::Principal;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // Or "sqlite://auth.db" for a file, created when missing.
    /// let store = SqliteDelegationStore::connect("sqlite::memory:").await?;
    /// let authz = AuthorizationService::new();
    /// authz.set_delegation_store(Arc::new(store));
    /// authz.set_roles(BTreeMap::from([("author".to_owned(), RoleDefinition::new(["article.edit"]))]))?;
    ///
    /// let alice = Principal::new("alice").with_roles(["author"]);
    /// let until = SystemTime::now() + Duration::from_secs(3600);
    /// let d = authz.delegate(&alice, "bob", ["article.edit"], "article/42", until).await?;
    /// let stored = authz.delegation_store().list_for_delegate("bob").await?;
    /// assert_eq!(stored, [d]);
    /// # Ok(())
    /// # }
    /// ```
    SqliteDelegationStore,
    pool = sqlx::sqlite::SqlitePool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (sql::COMPONENT, sql::SQLITE_MIGRATIONS),
    url = "`sqlite://auth.db`, `sqlite::memory:`; a file is created when missing",
);

impl_sql_delegation_store!(
    SqliteDelegationStore,
    backend = BACKEND,
    begin = "BEGIN IMMEDIATE"
);
