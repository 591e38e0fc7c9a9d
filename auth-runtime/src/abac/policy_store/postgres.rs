//! The PostgreSQL policy store (feature `postgres`).

use super::sql::{self, impl_sql_policy_store};
use crate::store::postgres::{BACKEND, connect, migrate};
use crate::store::sql::sql_store_type;

sql_store_type!(
    /// A [`PolicyStore`](super::PolicyStore) in PostgreSQL, through sqlx.
    ///
    /// For several application instances sharing one set of policies: a
    /// document put through one instance is loaded by each instance at its
    /// next [`reload_policies`](crate::authz::AuthorizationService::reload_policies)
    /// (poll [`revision`](super::PolicyStore::revision) to know when; see
    /// the [module docs](super)). The tables `lexigram_policy_documents` and
    /// `lexigram_policy_revision` are created when the store is opened,
    /// under an advisory lock so instances starting together do not race.
    /// Each write and its revision increment are one transaction; the
    /// increment's row lock orders concurrent writers. Every operation is
    /// bounded by a timeout (default 2 s).
    ///
    /// ```no_run
    /// use lexigram_auth::abac::{PolicyStore, PostgresPolicyStore, SchemaRegistry};
    /// use lexigram_auth::authz::AuthorizationService;
    ///
    /// # async fn demo(registry: SchemaRegistry) -> Result<(), Box<dyn std::error::Error>> {
    /// let store = PostgresPolicyStore::connect("postgres://app@127.0.0.1:5432/app").await?;
    /// store.put("base", "combining: deny-overrides").await?;
    /// let authz = AuthorizationService::new();
    /// authz.reload_policies(&store, &registry).await?;
    /// # Ok(())
    /// # }
    /// ```
    PostgresPolicyStore,
    pool = sqlx::postgres::PgPool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (sql::COMPONENT, sql::MIGRATIONS),
    url = "`postgres://user:password@host:port/database`",
);

impl_sql_policy_store!(PostgresPolicyStore, backend = BACKEND, begin = "BEGIN");
