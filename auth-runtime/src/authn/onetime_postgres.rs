//! The PostgreSQL one-time token store (feature `postgres`).

use super::onetime_sql::{self, impl_sql_one_time_store};
use crate::store::postgres::{BACKEND, connect, migrate};
use crate::store::sql::sql_store_type;

sql_store_type!(
    /// A [`OneTimeTokenStore`](super::OneTimeTokenStore) in PostgreSQL,
    /// through sqlx, with the same table and queries as
    /// `SqliteOneTimeTokenStore`: only the SHA-256 of each token is stored,
    /// and a token is used up by one `UPDATE .. RETURNING`. Every operation
    /// is bounded by a timeout (default 2 s).
    ///
    /// ```no_run
    /// use lexigram_auth::authn::PostgresOneTimeTokenStore;
    ///
    /// # async fn demo() -> Result<(), lexigram_auth::store::StoreError> {
    /// let store = PostgresOneTimeTokenStore::connect("postgres://app@127.0.0.1:5432/app").await?;
    /// # Ok(())
    /// # }
    /// ```
    PostgresOneTimeTokenStore,
    pool = sqlx::postgres::PgPool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (onetime_sql::COMPONENT, onetime_sql::MIGRATIONS),
    url = "`postgres://user:password@host:port/database`",
);

impl_sql_one_time_store!(PostgresOneTimeTokenStore, backend = BACKEND);
