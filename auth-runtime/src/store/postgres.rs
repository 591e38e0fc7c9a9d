//! PostgreSQL connections and schema migrations (feature `postgres`).

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::sql::sqlx_error;
use super::{StoreError, bounded};

/// The backend name in [`StoreError`]s.
pub(crate) const BACKEND: &str = "postgres";

/// Opens a pool on `url` (`postgres://user@host:port/db`); waiting for a
/// connection, and the first connection itself, are bounded by `timeout`.
pub(crate) async fn connect(url: &str, timeout: Duration) -> Result<PgPool, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(timeout);
    bounded(BACKEND, timeout, async {
        pool.connect(url)
            .await
            .map_err(|error| sqlx_error(BACKEND, error))
    })
    .await
}

/// Brings `component`'s tables up to date: runs the `steps` (version `i + 1`
/// is `steps[i]`) not yet recorded in `lexigram_schema_migrations`, in one
/// transaction under an advisory lock, so that several application
/// instances starting at once do not race.
pub(crate) async fn migrate(
    pool: &PgPool,
    component: &str,
    steps: &[&str],
) -> Result<(), StoreError> {
    let err = |error| sqlx_error(BACKEND, error);
    let mut tx = pool.begin().await.map_err(err)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('lexigram_schema_migrations'))")
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS lexigram_schema_migrations (
             component TEXT NOT NULL,
             version BIGINT NOT NULL,
             PRIMARY KEY (component, version)
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    let applied: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(version) FROM lexigram_schema_migrations WHERE component = $1",
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
        sqlx::query("INSERT INTO lexigram_schema_migrations (component, version) VALUES ($1, $2)")
            .bind(component)
            .bind(i64::try_from(index + 1).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(err)
}
