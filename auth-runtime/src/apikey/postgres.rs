//! The PostgreSQL API-key store (feature `postgres`).

use std::fmt;
use std::time::Duration;

use sqlx::postgres::PgPool;

use super::sql::{self, impl_sql_api_key_store};
use crate::store::postgres::{BACKEND, connect, migrate};
use crate::store::sql::sqlx_error;
use crate::store::{DEFAULT_TIMEOUT, StoreError, bounded};

/// An [`ApiKeyStore`](super::ApiKeyStore) in PostgreSQL, through sqlx.
///
/// For several application instances sharing one database. The table `lexigram_api_keys` (keys by public id, the
/// secret's SHA-256 only) is created when the store is opened; checking a
/// key is one look-up by primary key. Every operation is bounded by a
/// timeout (default 2 s).
///
/// ```no_run
/// use std::sync::Arc;
/// use lexigram_auth::apikey::{ApiKeys, NewApiKey, PostgresApiKeyStore};
///
/// # async fn demo() -> Result<(), lexigram_auth::store::StoreError> {
/// let keys = ApiKeys::new(Arc::new(PostgresApiKeyStore::connect("postgres://app@127.0.0.1:5432/app").await?));
/// let created = keys.create(NewApiKey::new("user-1", "deploys")).await.unwrap();
/// assert_eq!(keys.list("user-1").await.unwrap().len(), 1);
/// # let _ = created;
/// # Ok(())
/// # }
/// ```
pub struct PostgresApiKeyStore {
    pool: PgPool,
    timeout: Duration,
}

impl fmt::Debug for PostgresApiKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresApiKeyStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresApiKeyStore {
    /// Opens a pool on `url` (`postgres://user:password@host:port/database`) and creates the table when missing.
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
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
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
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn err(error: sqlx::Error) -> StoreError {
    sqlx_error(BACKEND, error)
}

impl_sql_api_key_store!(PostgresApiKeyStore, backend = BACKEND);
