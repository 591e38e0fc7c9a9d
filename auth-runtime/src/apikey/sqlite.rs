//! The SQLite API-key store (feature `sqlite`).

use std::fmt;
use std::time::Duration;

use sqlx::sqlite::SqlitePool;

use super::sql::{self, impl_sql_api_key_store};
use crate::store::sql::sqlx_error;
use crate::store::sqlite::{BACKEND, connect, migrate};
use crate::store::{DEFAULT_TIMEOUT, StoreError, bounded};

/// An [`ApiKeyStore`](super::ApiKeyStore) in SQLite, through sqlx.
///
/// The embedded default: no server, one file (or memory). The table `lexigram_api_keys` (keys by public id, the
/// secret's SHA-256 only) is created when the store is opened; checking a
/// key is one look-up by primary key. Every operation is bounded by a
/// timeout (default 2 s).
///
/// ```
/// use std::sync::Arc;
/// use lexigram_auth::apikey::{ApiKeys, NewApiKey, SqliteApiKeyStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lexigram_auth::store::StoreError> {
/// let keys = ApiKeys::new(Arc::new(SqliteApiKeyStore::connect("sqlite::memory:").await?));
/// let created = keys.create(NewApiKey::new("user-1", "deploys")).await.unwrap();
/// assert_eq!(keys.list("user-1").await.unwrap().len(), 1);
/// # let _ = created;
/// # Ok(())
/// # }
/// ```
pub struct SqliteApiKeyStore {
    pool: SqlitePool,
    timeout: Duration,
}

impl fmt::Debug for SqliteApiKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteApiKeyStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SqliteApiKeyStore {
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

impl_sql_api_key_store!(SqliteApiKeyStore, backend = BACKEND);
