//! The SQLite API-key store (feature `sqlite`).

use super::sql::{self, impl_sql_api_key_store};
use crate::store::sql::sql_store_type;
use crate::store::sqlite::{BACKEND, connect, migrate};

sql_store_type!(
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
    SqliteApiKeyStore,
    pool = sqlx::sqlite::SqlitePool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (sql::COMPONENT, sql::MIGRATIONS),
    url = "`sqlite://auth.db`, `sqlite::memory:`; a file is created when missing",
);

impl_sql_api_key_store!(SqliteApiKeyStore, backend = BACKEND);
