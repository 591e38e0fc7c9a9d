//! The schema and queries of the SQL policy stores, shared by SQLite and
//! PostgreSQL (`$N` parameters, instants as two `BIGINT`s, `ON CONFLICT`
//! upserts). sqlx has no common trait for the two pools, so the trait
//! implementation is a macro expanded in each backend's file.

use super::PolicyDocument;
use crate::store::{StoreError, from_sql_instant};

/// The component name in `lexigram_schema_migrations`.
pub(super) const COMPONENT: &str = "policy_documents";

/// Schema versions, oldest first; never edit a released step, append one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: documents by name, and the one-row revision counter every write
    // increments in its transaction.
    "CREATE TABLE IF NOT EXISTS lexigram_policy_documents (
         name TEXT NOT NULL PRIMARY KEY,
         text TEXT NOT NULL,
         updated_at BIGINT NOT NULL,
         updated_at_nanos BIGINT NOT NULL
     );
     CREATE TABLE IF NOT EXISTS lexigram_policy_revision (
         id INTEGER NOT NULL PRIMARY KEY,
         revision BIGINT NOT NULL
     );
     INSERT INTO lexigram_policy_revision (id, revision) VALUES (1, 0)
         ON CONFLICT (id) DO NOTHING;",
];

/// `$1` name, `$2` text, `$3` seconds, `$4` nanoseconds of now.
pub(super) const PUT: &str = "
    INSERT INTO lexigram_policy_documents (name, text, updated_at, updated_at_nanos)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (name) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at,
        updated_at_nanos = excluded.updated_at_nanos";

/// `$1` name.
pub(super) const REMOVE: &str = "DELETE FROM lexigram_policy_documents WHERE name = $1";

/// Run first in each write's transaction: on PostgreSQL its row lock
/// orders concurrent writers, so revisions follow the order of commits.
pub(super) const BUMP: &str =
    "UPDATE lexigram_policy_revision SET revision = revision + 1 WHERE id = 1";

/// Sorted in Rust: a PostgreSQL database's collation need not be byte order.
pub(super) const LIST: &str =
    "SELECT name, text, updated_at, updated_at_nanos FROM lexigram_policy_documents";

pub(super) const REVISION: &str = "SELECT revision FROM lexigram_policy_revision WHERE id = 1";

/// A document row as both backends decode it.
pub(super) type DocumentRow = (String, String, i64, i64);

/// Decodes [`DocumentRow`]s, sorted by name.
pub(super) fn documents(
    backend: &'static str,
    rows: Vec<DocumentRow>,
) -> Result<Vec<PolicyDocument>, StoreError> {
    let mut documents = rows
        .into_iter()
        .map(|(name, text, secs, nanos)| {
            Ok(PolicyDocument {
                name,
                text,
                updated_at: from_sql_instant(backend, secs, nanos)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    documents.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok(documents)
}

/// The revision column.
pub(super) fn revision(backend: &'static str, value: Option<i64>) -> Result<u64, StoreError> {
    let value = value.ok_or(StoreError::Corrupt {
        backend,
        detail: "the policy revision row is missing",
    })?;
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        backend,
        detail: "a negative policy revision",
    })
}

/// Implements [`PolicyStore`](super::PolicyStore) for a store type with
/// `pool` and `timeout` fields, given the backend name and the statement
/// that opens a write transaction.
macro_rules! impl_sql_policy_store {
    ($store:ty, backend = $backend:expr, begin = $begin:literal $(,)?) => {
        impl $crate::abac::PolicyStore for $store {
            fn put<'a>(
                &'a self,
                name: &'a str,
                text: &'a str,
            ) -> $crate::store::StoreFuture<'a, ()> {
                use $crate::abac::policy_store::sql;
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id($crate::abac::policy_store::DOCUMENT_NAME, name)?;
                    let (secs, nanos) = $crate::store::to_sql_instant(std::time::SystemTime::now());
                    let mut tx = self.pool.begin_with($begin).await.map_err(err)?;
                    sqlx::query(sql::BUMP)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    sqlx::query(sql::PUT)
                        .bind(name)
                        .bind(text)
                        .bind(secs)
                        .bind(nanos)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    tx.commit().await.map_err(err)
                }))
            }

            fn remove<'a>(&'a self, name: &'a str) -> $crate::store::StoreFuture<'a, bool> {
                use $crate::abac::policy_store::sql;
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id($crate::abac::policy_store::DOCUMENT_NAME, name)?;
                    let mut tx = self.pool.begin_with($begin).await.map_err(err)?;
                    sqlx::query(sql::BUMP)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    let removed = sqlx::query(sql::REMOVE)
                        .bind(name)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?
                        .rows_affected()
                        > 0;
                    if removed {
                        tx.commit().await.map_err(err)?;
                    } else {
                        // Nothing changed: the revision stays.
                        tx.rollback().await.map_err(err)?;
                    }
                    Ok(removed)
                }))
            }

            fn list(&self) -> $crate::store::StoreFuture<'_, Vec<$crate::abac::PolicyDocument>> {
                use $crate::abac::policy_store::sql;
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    let rows = sqlx::query_as::<_, sql::DocumentRow>(sql::LIST)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(err)?;
                    sql::documents($backend, rows)
                }))
            }

            fn revision(&self) -> $crate::store::StoreFuture<'_, u64> {
                use $crate::abac::policy_store::sql;
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    let value = sqlx::query_scalar::<_, i64>(sql::REVISION)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(err)?;
                    sql::revision($backend, value)
                }))
            }
        }
    };
}
pub(super) use impl_sql_policy_store;
