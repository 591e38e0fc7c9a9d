//! The PostgreSQL delegation store (feature `postgres`).

use super::sql::{self, impl_sql_delegation_store};
use crate::store::postgres::{BACKEND, connect, migrate};
use crate::store::sql::sql_store_type;

sql_store_type!(
    /// A [`DelegationStore`](super::DelegationStore) in PostgreSQL, through
    /// sqlx.
    ///
    /// For several application instances sharing one database: a
    /// delegation granted or revoked through one instance is seen by every
    /// instance's next check. The table `lexigram_delegations` is created
    /// when the store is opened, under an advisory lock so instances
    /// starting together do not race; every field of a
    /// [`Delegation`](super::Delegation) reads back as it was granted
    /// (instants to the nanosecond, the delegator's snapshot included).
    /// Expired delegations stay until
    /// [`purge_expired`](super::DelegationStore::purge_expired) (checks
    /// ignore them). Every operation is bounded by a timeout (default 2 s),
    /// so a dead server fails a check closed quickly, as unavailable.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use lexigram_auth::abac::PostgresDelegationStore;
    /// use lexigram_auth::authz::AuthorizationService;
    ///
    /// # async fn demo() -> Result<(), lexigram_auth::store::StoreError> {
    /// let store = PostgresDelegationStore::connect("postgres://app@127.0.0.1:5432/app")
    ///     .await?
    ///     .with_timeout(Duration::from_millis(500));
    /// let authz = AuthorizationService::new();
    /// authz.set_delegation_store(Arc::new(store));
    /// # Ok(())
    /// # }
    /// ```
    PostgresDelegationStore,
    pool = sqlx::postgres::PgPool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (sql::COMPONENT, sql::POSTGRES_MIGRATIONS),
    url = "`postgres://user:password@host:port/database`",
);

impl_sql_delegation_store!(PostgresDelegationStore, backend = BACKEND, begin = "BEGIN");
