//! The schema and queries of the SQL delegation stores, shared by SQLite
//! and PostgreSQL (`$N` parameters, instants as two `BIGINT`s, lists as
//! JSON text). sqlx has no common trait for the two pools, so the trait
//! implementation is a macro expanded in each backend's file.

use super::Delegation;
use crate::store::{StoreError, from_sql_instant};

/// The component name in `lexigram_schema_migrations`.
pub(super) const COMPONENT: &str = "delegations";

/// The columns after `seq`, in both dialects.
macro_rules! delegation_table {
    ($seq:literal) => {
        concat!(
            "CREATE TABLE IF NOT EXISTS lexigram_delegations (
                 seq ",
            $seq,
            ",
                 id TEXT NOT NULL UNIQUE,
                 delegator TEXT NOT NULL,
                 delegate TEXT NOT NULL,
                 permissions TEXT NOT NULL,
                 resource_pattern TEXT NOT NULL,
                 expires_at BIGINT NOT NULL,
                 expires_at_nanos BIGINT NOT NULL,
                 revoked BOOLEAN NOT NULL,
                 delegator_tenant TEXT,
                 delegator_roles TEXT NOT NULL,
                 delegator_grants TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS lexigram_delegations_delegate
                 ON lexigram_delegations (delegate, seq);
             CREATE INDEX IF NOT EXISTS lexigram_delegations_expires_at
                 ON lexigram_delegations (expires_at, expires_at_nanos);"
        )
    };
}

/// SQLite schema versions, oldest first; never edit a released step,
/// append one.
#[cfg(feature = "sqlite")]
pub(super) const SQLITE_MIGRATIONS: &[&str] = &[
    // 1: delegations by id, listed per delegate in grant order (`seq`, the
    // rowid: a new row always gets one above every row present).
    delegation_table!("INTEGER PRIMARY KEY"),
];

/// PostgreSQL schema versions, oldest first; never edit a released step,
/// append one.
#[cfg(feature = "postgres")]
pub(super) const POSTGRES_MIGRATIONS: &[&str] = &[
    // 1: as SQLite's, with a sequence for the grant order.
    delegation_table!("BIGSERIAL PRIMARY KEY"),
];

/// `$1` id: makes room for a re-grant, which then lists last, as in the
/// memory store.
pub(super) const DELETE: &str = "DELETE FROM lexigram_delegations WHERE id = $1";

/// `$1` id .. `$11` delegator grants.
pub(super) const INSERT: &str = "
    INSERT INTO lexigram_delegations (id, delegator, delegate, permissions, resource_pattern,
        expires_at, expires_at_nanos, revoked, delegator_tenant, delegator_roles, delegator_grants)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// `$1` id.
pub(super) const REVOKE: &str = "UPDATE lexigram_delegations SET revoked = TRUE WHERE id = $1";

/// `$1` delegate: in grant order.
pub(super) const LIST: &str = "
    SELECT id, delegator, delegate, permissions, resource_pattern, expires_at, expires_at_nanos,
        revoked, delegator_tenant, delegator_roles, delegator_grants
    FROM lexigram_delegations WHERE delegate = $1 ORDER BY seq";

/// `$1` seconds, `$2` nanoseconds of now: what expires at or before now.
pub(super) const PURGE: &str = "
    DELETE FROM lexigram_delegations
    WHERE expires_at < $1 OR (expires_at = $1 AND expires_at_nanos <= $2)";

/// A delegation row as both backends decode it.
pub(super) type DelegationRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    bool,
    Option<String>,
    String,
    String,
);

/// A list column: a JSON array of strings.
pub(super) fn list_json(backend: &'static str, list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(|error| StoreError::backend(backend, error))
}

fn list(backend: &'static str, json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|_| StoreError::Corrupt {
        backend,
        detail: "a list column that is not a JSON array of strings",
    })
}

/// Decodes a [`DelegationRow`].
pub(super) fn delegation(
    backend: &'static str,
    row: DelegationRow,
) -> Result<Delegation, StoreError> {
    let (
        id,
        delegator,
        delegate,
        permissions,
        resource_pattern,
        expires_at,
        expires_at_nanos,
        revoked,
        delegator_tenant,
        delegator_roles,
        delegator_grants,
    ) = row;
    Ok(Delegation {
        id,
        delegator,
        delegate,
        permissions: list(backend, &permissions)?,
        resource_pattern,
        expires_at: from_sql_instant(backend, expires_at, expires_at_nanos)?,
        revoked,
        delegator_tenant,
        delegator_roles: list(backend, &delegator_roles)?,
        delegator_grants: list(backend, &delegator_grants)?,
    })
}

/// Implements [`DelegationStore`](super::DelegationStore) for a store type
/// with `pool` and `timeout` fields, given the backend name and the
/// statement that opens a write transaction.
macro_rules! impl_sql_delegation_store {
    ($store:ty, backend = $backend:expr, begin = $begin:literal $(,)?) => {
        impl $crate::abac::DelegationStore for $store {
            fn grant<'a>(
                &'a self,
                delegation: &'a $crate::abac::Delegation,
            ) -> $crate::store::StoreFuture<'a, ()> {
                use $crate::abac::delegation::sql;
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    let (secs, nanos) = $crate::store::to_sql_instant(delegation.expires_at);
                    let permissions = sql::list_json($backend, &delegation.permissions)?;
                    let roles = sql::list_json($backend, &delegation.delegator_roles)?;
                    let grants = sql::list_json($backend, &delegation.delegator_grants)?;
                    let mut tx = self.pool.begin_with($begin).await.map_err(err)?;
                    sqlx::query(sql::DELETE)
                        .bind(&delegation.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    sqlx::query(sql::INSERT)
                        .bind(&delegation.id)
                        .bind(&delegation.delegator)
                        .bind(&delegation.delegate)
                        .bind(permissions)
                        .bind(&delegation.resource_pattern)
                        .bind(secs)
                        .bind(nanos)
                        .bind(delegation.revoked)
                        .bind(delegation.delegator_tenant.as_deref())
                        .bind(roles)
                        .bind(grants)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    tx.commit().await.map_err(err)
                }))
            }

            fn revoke<'a>(&'a self, id: &'a str) -> $crate::store::StoreFuture<'a, bool> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    let done = sqlx::query($crate::abac::delegation::sql::REVOKE)
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(done.rows_affected() > 0)
                }))
            }

            fn list_for_delegate<'a>(
                &'a self,
                delegate: &'a str,
            ) -> $crate::store::StoreFuture<'a, Vec<$crate::abac::Delegation>> {
                use $crate::abac::delegation::sql;
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    sqlx::query_as::<_, sql::DelegationRow>(sql::LIST)
                        .bind(delegate)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(err)?
                        .into_iter()
                        .map(|row| sql::delegation($backend, row))
                        .collect()
                }))
            }

            fn purge_expired(
                &self,
                now: std::time::SystemTime,
            ) -> $crate::store::StoreFuture<'_, usize> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    let (secs, nanos) = $crate::store::to_sql_instant(now);
                    let done = sqlx::query($crate::abac::delegation::sql::PURGE)
                        .bind(secs)
                        .bind(nanos)
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
                }))
            }
        }
    };
}
pub(super) use impl_sql_delegation_store;
