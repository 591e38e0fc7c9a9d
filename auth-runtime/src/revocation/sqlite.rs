//! The SQLite revocation store (feature `sqlite`).

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use sqlx::sqlite::SqlitePool;

use super::sql::{self, Bind, impl_sql_revocation_store};
use super::{
    FAMILY, JTI, RefreshUse, Revocation, RevocationStore, StoreError, StoreFuture, USER, check_ids,
    verdict,
};
use crate::store::sql::sqlx_error;
use crate::store::sqlite::{BACKEND, connect, migrate};
use crate::store::{DEFAULT_TIMEOUT, bounded, cap_until, from_sql_secs, to_sql_secs};

/// A [`RevocationStore`] in a SQLite database, through sqlx.
///
/// For one application instance whose revocations must survive a restart.
/// The tables (`lexigram_revoked_jti`, `lexigram_revoked_user`,
/// `lexigram_refresh_family`, `lexigram_refresh_used`) are created when the
/// store is opened. Consuming a refresh token runs in an immediate
/// transaction, so concurrent uses of one token serialise on the database
/// lock. Expired rows are deleted every 1024 writes and by
/// [`purge_expired`](RevocationStore::purge_expired).
///
/// ```
/// use lexigram_auth::revocation::{RevocationStore, SqliteRevocationStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lexigram_auth::store::StoreError> {
/// // Or "sqlite:///var/lib/app/auth.db" for a file, created when missing.
/// let store = SqliteRevocationStore::connect("sqlite::memory:").await?;
/// store.revoke_jti("jti-1", 2_000, 1_000).await?;
/// assert!(store.is_jti_revoked("jti-1", 1_500).await?);
/// # Ok(())
/// # }
/// ```
pub struct SqliteRevocationStore {
    pool: SqlitePool,
    timeout: Duration,
    writes: AtomicU64,
}

impl fmt::Debug for SqliteRevocationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteRevocationStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SqliteRevocationStore {
    /// Opens (creating it when missing) the database at `url`, such as
    /// `sqlite://auth.db` or `sqlite::memory:`, and creates the tables.
    ///
    /// # Errors
    ///
    /// [`StoreError::Config`] for a malformed URL, other [`StoreError`]s when
    /// the file cannot be opened or the tables cannot be created.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_timeout(url, DEFAULT_TIMEOUT).await
    }

    /// [`connect`](Self::connect) with `timeout` for opening and for each
    /// operation, including waits for the database lock.
    ///
    /// # Errors
    ///
    /// As for [`connect`](Self::connect).
    pub async fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let pool = connect(url, timeout).await?;
        Self::open(pool, timeout).await
    }

    /// A store on an existing pool (shared with the application's other
    /// tables); creates the revocation tables when missing.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the tables cannot be created.
    pub async fn from_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        Self::open(pool, DEFAULT_TIMEOUT).await
    }

    async fn open(pool: SqlitePool, timeout: Duration) -> Result<Self, StoreError> {
        bounded(
            BACKEND,
            timeout,
            migrate(&pool, sql::COMPONENT, sql::MIGRATIONS),
        )
        .await?;
        Ok(Self {
            pool,
            timeout,
            writes: AtomicU64::new(0),
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

impl_sql_revocation_store!(
    SqliteRevocationStore,
    pool = SqlitePool,
    backend = BACKEND,
    begin = "BEGIN IMMEDIATE"
);
