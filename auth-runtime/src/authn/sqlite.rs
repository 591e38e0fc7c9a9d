//! The SQLite user store (feature `sqlite`).

use super::sql::{self, impl_sql_user_store};
use crate::store::sql::sql_store_type;
use crate::store::sqlite::{BACKEND, connect, migrate};

sql_store_type!(
    /// A [`UserStore`](super::UserStore) in SQLite, through sqlx.
    ///
    /// The embedded default: no server, one file (or memory). The table `lexigram_users` (the account, the password hash and
    /// its history, as JSON text) and `lexigram_tenant_roles` (the
    /// [per-tenant role assignments](super::TenantRoleStore), deleted with
    /// their user) are created when the store is opened; e-mail
    /// addresses are unique after [normalisation](super::normalize_email). Every
    /// operation is bounded by a timeout (default 2 s).
    ///
    /// ```
    /// use lexigram_auth::authn::{Created, NewUser, SqliteUserStore, UserStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lexigram_auth::store::StoreError> {
    /// // Or "sqlite://auth.db" for a file, created when missing.
    /// let store = SqliteUserStore::connect("sqlite::memory:").await?;
    /// let created = store.create_user(&NewUser::new("alice@example.com", "Alice"), 1_000).await?;
    /// assert!(matches!(created, Created::Created(_)));
    /// assert_eq!(store.count_users().await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    SqliteUserStore,
    pool = sqlx::sqlite::SqlitePool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (sql::COMPONENT, sql::MIGRATIONS),
    url = "`sqlite://auth.db`, `sqlite::memory:`; a file is created when missing",
);

impl_sql_user_store!(SqliteUserStore, backend = BACKEND);
