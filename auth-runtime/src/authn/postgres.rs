//! The PostgreSQL user store (feature `postgres`).

use super::sql::{self, impl_sql_user_store};
use crate::store::postgres::{BACKEND, connect, migrate};
use crate::store::sql::sql_store_type;

sql_store_type!(
    /// A [`UserStore`](super::UserStore) in PostgreSQL, through sqlx.
    ///
    /// For several application instances sharing one database. The table `lexigram_users` (the account, the password hash and
    /// its history, as JSON text) and `lexigram_tenant_roles` (the
    /// [per-tenant role assignments](super::TenantRoleStore), deleted with
    /// their user) are created when the store is opened; e-mail
    /// addresses are unique after [normalisation](super::normalize_email). Every
    /// operation is bounded by a timeout (default 2 s).
    ///
    /// ```no_run
    /// use lexigram_auth::authn::{Created, NewUser, PostgresUserStore, UserStore};
    ///
    /// # async fn demo() -> Result<(), lexigram_auth::store::StoreError> {
    /// let store = PostgresUserStore::connect("postgres://app@127.0.0.1:5432/app").await?;
    /// let created = store.create_user(&NewUser::new("alice@example.com", "Alice"), 1_000).await?;
    /// assert!(matches!(created, Created::Created(_)));
    /// assert_eq!(store.count_users().await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    PostgresUserStore,
    pool = sqlx::postgres::PgPool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (sql::COMPONENT, sql::MIGRATIONS),
    url = "`postgres://user:password@host:port/database`",
);

impl_sql_user_store!(PostgresUserStore, backend = BACKEND);
