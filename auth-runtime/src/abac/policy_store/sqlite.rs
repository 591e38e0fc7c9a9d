//! The SQLite policy store (feature `sqlite`).

use super::sql::{self, impl_sql_policy_store};
use crate::store::sql::sql_store_type;
use crate::store::sqlite::{BACKEND, connect, migrate};

sql_store_type!(
    /// A [`PolicyStore`](super::PolicyStore) in SQLite, through sqlx.
    ///
    /// For a single application instance whose policy documents survive a
    /// restart, or several processes on one machine sharing a file. The
    /// tables `lexigram_policy_documents` and `lexigram_policy_revision`
    /// are created when the store is opened; each write and its revision
    /// increment are one immediate transaction. Every operation is bounded
    /// by a timeout (default 2 s).
    ///
    /// ```
    /// use lexigram_auth::abac::{PolicyEngine, PolicyStore, SchemaRegistry, SqlitePolicyStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // Or "sqlite://auth.db" for a file, created when missing.
    /// let store = SqlitePolicyStore::connect("sqlite::memory:").await?;
    /// store.put("base", "combining: deny-overrides").await?;
    /// assert_eq!(store.revision().await?, 1);
    ///
    /// let documents = store.list().await?;
    /// assert_eq!(documents[0].name, "base");
    /// let engine = PolicyEngine::from_documents(
    ///     &SchemaRegistry::new(),
    ///     documents.iter().map(|d| (d.name.as_str(), d.text.as_str())),
    /// )?;
    /// assert!(engine.is_empty());
    ///
    /// assert!(store.remove("base").await?);
    /// assert_eq!(store.revision().await?, 2);
    /// # Ok(())
    /// # }
    /// ```
    SqlitePolicyStore,
    pool = sqlx::sqlite::SqlitePool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (sql::COMPONENT, sql::MIGRATIONS),
    url = "`sqlite://auth.db`, `sqlite::memory:`; a file is created when missing",
);

impl_sql_policy_store!(
    SqlitePolicyStore,
    backend = BACKEND,
    begin = "BEGIN IMMEDIATE"
);
