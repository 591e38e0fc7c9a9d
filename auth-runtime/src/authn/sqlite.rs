//! The SQLite user store (feature `sqlite`).

use std::fmt;
use std::time::Duration;

use sqlx::sqlite::SqlitePool;

use super::sql::{self, impl_sql_user_store};
use crate::store::sql::sqlx_error;
use crate::store::sqlite::{BACKEND, connect, migrate};
use crate::store::{DEFAULT_TIMEOUT, StoreError, bounded};

/// A [`UserStore`](super::UserStore) in SQLite, through sqlx.
///
/// The embedded default: no server, one file (or memory). The table `lexigram_users` (the account, the password hash and
/// its history, as JSON text) is created when the store is opened; e-mail
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
pub struct SqliteUserStore {
    pool: SqlitePool,
    timeout: Duration,
}

impl fmt::Debug for SqliteUserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteUserStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SqliteUserStore {
    /// Opens (creating it when missing) the database at `url`, such as
    /// `sqlite://auth.db` or `sqlite::memory:`, and creates the table when missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Config`] for a malformed URL, other [`StoreError`]s when
    /// the database cannot be reached or the table cannot be created.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = connect(url, DEFAULT_TIMEOUT).await?;
        Self::from_pool(pool).await
    }

    /// A store on an existing pool (shared with the application's other
    /// tables); creates the table when missing.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the table cannot be created.
    pub async fn from_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        bounded(
            BACKEND,
            DEFAULT_TIMEOUT,
            migrate(&pool, sql::COMPONENT, sql::MIGRATIONS),
        )
        .await?;
        Ok(Self {
            pool,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Bounds each operation by `timeout` (default
    /// [`DEFAULT_TIMEOUT`](crate::store::DEFAULT_TIMEOUT)).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The pool, for the application's own queries.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn err(error: sqlx::Error) -> StoreError {
    sqlx_error(BACKEND, error)
}

impl_sql_user_store!(SqliteUserStore, backend = BACKEND);
