//! SQLite connections and schema migrations (feature `sqlite`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::sql::sqlx_error;
use super::{StoreError, bounded};

/// The backend name in [`StoreError`]s.
pub(crate) const BACKEND: &str = "sqlite";

/// Opens a pool on `url` (`sqlite://path/to/file.db`, `sqlite::memory:`),
/// creating the file when it is missing.
///
/// A file database runs in WAL mode and waits up to `timeout` for a lock.
/// An in-memory database gets a single connection that is never closed:
/// each connection would otherwise see its own (or a shared-cache, lock
/// failing) database that disappears with the last connection.
pub(crate) async fn connect(url: &str, timeout: Duration) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|error| sqlx_error(BACKEND, error))?
        .create_if_missing(true)
        .busy_timeout(timeout);
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let (options, pool) = if in_memory {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
        (options, pool)
    } else {
        let options = options.journal_mode(SqliteJournalMode::Wal);
        (options, SqlitePoolOptions::new().max_connections(4))
    };
    let pool = pool.acquire_timeout(timeout);
    bounded(BACKEND, timeout, async {
        pool.connect_with(options)
            .await
            .map_err(|error| sqlx_error(BACKEND, error))
    })
    .await
}

/// Brings `component`'s tables up to date: runs the `steps` (version `i + 1`
/// is `steps[i]`) not yet recorded in `lexigram_schema_migrations`, in one
/// immediate transaction so that concurrent starts do not race.
pub(crate) async fn migrate(
    pool: &SqlitePool,
    component: &str,
    steps: &[&str],
) -> Result<(), StoreError> {
    let err = |error| sqlx_error(BACKEND, error);
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS lexigram_schema_migrations (
             component TEXT NOT NULL,
             version INTEGER NOT NULL,
             PRIMARY KEY (component, version)
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    let applied: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(version) FROM lexigram_schema_migrations WHERE component = ?1",
    )
    .bind(component)
    .fetch_one(&mut *tx)
    .await
    .map_err(err)?;
    let applied = usize::try_from(applied.unwrap_or(0)).map_err(|_| StoreError::Corrupt {
        backend: BACKEND,
        detail: "a negative schema version",
    })?;
    for (index, step) in steps.iter().enumerate().skip(applied) {
        sqlx::raw_sql(step).execute(&mut *tx).await.map_err(err)?;
        sqlx::query("INSERT INTO lexigram_schema_migrations (component, version) VALUES (?1, ?2)")
            .bind(component)
            .bind(i64::try_from(index + 1).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(err)
}
