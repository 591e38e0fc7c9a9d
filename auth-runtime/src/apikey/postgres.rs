//! The PostgreSQL API-key store (feature `postgres`).

use super::sql::{self, impl_sql_api_key_store};
use crate::store::postgres::{BACKEND, connect, migrate};
use crate::store::sql::sql_store_type;

sql_store_type!(
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
    PostgresApiKeyStore,
    pool = sqlx::postgres::PgPool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (sql::COMPONENT, sql::MIGRATIONS),
    url = "`postgres://user:password@host:port/database`",
);

impl_sql_api_key_store!(PostgresApiKeyStore, backend = BACKEND);
