//! The PostgreSQL revocation store (feature `postgres`).

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use sqlx::postgres::PgPool;

use super::sql::{self, Bind, impl_sql_revocation_store};
use super::{
    FAMILY, JTI, RefreshUse, Revocation, RevocationStore, StoreError, StoreFuture, USER, check_ids,
    verdict,
};
use crate::store::postgres::{BACKEND, connect, migrate};
use crate::store::sql::sqlx_error;
use crate::store::{DEFAULT_TIMEOUT, bounded, cap_until, from_sql_secs, to_sql_secs};

/// A [`RevocationStore`] in PostgreSQL, through sqlx.
///
/// For several application instances sharing one database: a revocation
/// made through one instance is seen by all. The tables
/// (`lexigram_revoked_jti`, `lexigram_revoked_user`,
/// `lexigram_refresh_family`, `lexigram_refresh_used`) are created when the
/// store is opened, under an advisory lock so instances starting together do
/// not race. Consuming a refresh token is one transaction whose `INSERT ...
/// ON CONFLICT` on the used token's primary key makes concurrent uses wait
/// for each other: exactly one sees the first use. Every operation is
/// bounded by a timeout (default 2 s), so a dead server fails closed
/// quickly with [`StoreError::Unavailable`]. Expired rows are deleted every
/// 1024 writes and by [`purge_expired`](RevocationStore::purge_expired).
///
/// ```no_run
/// use std::time::Duration;
/// use lexigram_auth::revocation::{RevocationStore, PostgresRevocationStore};
///
/// # async fn demo() -> Result<(), lexigram_auth::store::StoreError> {
/// let store = PostgresRevocationStore::connect("postgres://app@127.0.0.1:5432/app")
///     .await?
///     .with_timeout(Duration::from_millis(500));
/// store.revoke_jti("jti-1", 2_000, 1_000).await?;
/// assert!(store.is_jti_revoked("jti-1", 1_500).await?);
/// # Ok(())
/// # }
/// ```
pub struct PostgresRevocationStore {
    pool: PgPool,
    timeout: Duration,
    writes: AtomicU64,
}

impl fmt::Debug for PostgresRevocationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresRevocationStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresRevocationStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and
    /// creates the tables when missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Config`] for a malformed URL,
    /// [`StoreError::Unavailable`] when the server cannot be reached within
    /// the default timeout, other [`StoreError`]s when the tables cannot be
    /// created.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_timeout(url, DEFAULT_TIMEOUT).await
    }

    /// [`connect`](Self::connect) with `timeout` for connecting and for each
    /// operation.
    ///
    /// # Errors
    ///
    /// As for [`connect`](Self::connect).
    pub async fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let pool = connect(url, timeout).await?;
        Self::open(pool, timeout).await
    }

    /// A store on an existing pool (shared with the application's other
    /// tables); creates the revocation tables when missing. Give the pool an
    /// `acquire_timeout` no longer than the store's timeout.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the server cannot be reached or the tables
    /// cannot be created.
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        Self::open(pool, DEFAULT_TIMEOUT).await
    }

    async fn open(pool: PgPool, timeout: Duration) -> Result<Self, StoreError> {
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
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn err(error: sqlx::Error) -> StoreError {
    sqlx_error(BACKEND, error)
}

impl_sql_revocation_store!(
    PostgresRevocationStore,
    pool = PgPool,
    backend = BACKEND,
    begin = "BEGIN"
);
