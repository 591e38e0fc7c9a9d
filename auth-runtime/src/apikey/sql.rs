//! The schema and queries of the SQL API-key stores, shared by SQLite and
//! PostgreSQL (`$N` parameters, `BIGINT` Unix seconds, scopes as JSON text).

use super::ApiKey;
use crate::store::{StoreError, from_sql_secs, to_sql_secs};

/// The component name in `lexigram_schema_migrations`.
pub(super) const COMPONENT: &str = "api_keys";

/// Schema versions, oldest first; never edit a released step, append one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: keys by public id, with the owner index for listing.
    "CREATE TABLE IF NOT EXISTS lexigram_api_keys (
         id TEXT NOT NULL PRIMARY KEY,
         user_id TEXT NOT NULL,
         name TEXT NOT NULL,
         scopes TEXT NOT NULL,
         secret_hash TEXT NOT NULL,
         created_at BIGINT NOT NULL,
         expires_at BIGINT,
         revoked_at BIGINT,
         last_used_at BIGINT,
         last_used_ip TEXT
     );
     CREATE INDEX IF NOT EXISTS lexigram_api_keys_user
         ON lexigram_api_keys (user_id, created_at, id);",
];

pub(super) const INSERT: &str = "
    INSERT INTO lexigram_api_keys (id, user_id, name, scopes, secret_hash, created_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub(super) const GET: &str = "
    SELECT id, user_id, name, scopes, secret_hash, created_at, expires_at, revoked_at,
        last_used_at, last_used_ip
    FROM lexigram_api_keys WHERE id = $1";

pub(super) const LIST: &str = "
    SELECT id, user_id, name, scopes, secret_hash, created_at, expires_at, revoked_at,
        last_used_at, last_used_ip
    FROM lexigram_api_keys WHERE user_id = $1 ORDER BY created_at, id";

/// `$1` id, `$2` at.
pub(super) const REVOKE: &str =
    "UPDATE lexigram_api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";

/// `$1` id, `$2` at, `$3` ip.
pub(super) const TOUCH: &str =
    "UPDATE lexigram_api_keys SET last_used_at = $2, last_used_ip = $3 WHERE id = $1";

/// A key row as both backends decode it.
pub(super) type KeyRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// The scopes column.
pub(super) fn scopes_json(scopes: &[String]) -> String {
    serde_json::to_string(scopes).unwrap_or_else(|_| String::from("[]"))
}

/// The expiry column.
pub(super) fn secs(value: Option<u64>) -> Option<i64> {
    value.map(to_sql_secs)
}

/// Decodes a [`KeyRow`].
pub(super) fn key(backend: &'static str, row: KeyRow) -> Result<ApiKey, StoreError> {
    let (id, user_id, name, scopes, secret_hash, created, expires, revoked, used, ip) = row;
    let time = |t: Option<i64>| t.map(|t| from_sql_secs(backend, t)).transpose();
    Ok(ApiKey {
        id,
        user_id,
        name,
        scopes: serde_json::from_str(&scopes).map_err(|_| StoreError::Corrupt {
            backend,
            detail: "a scopes column that is not a JSON array of strings",
        })?,
        created_at: from_sql_secs(backend, created)?,
        expires_at: time(expires)?,
        revoked_at: time(revoked)?,
        last_used_at: time(used)?,
        last_used_ip: ip,
        secret_hash,
    })
}

/// Implements [`ApiKeyStore`](super::ApiKeyStore) for a store type with
/// `pool` and `timeout` fields.
macro_rules! impl_sql_api_key_store {
    ($store:ty, backend = $backend:expr) => {
        impl $crate::apikey::ApiKeyStore for $store {
            fn insert<'a>(
                &'a self,
                key: &'a $crate::apikey::ApiKey,
            ) -> $crate::store::StoreFuture<'a, ()> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("API key id", &key.id)?;
                    sqlx::query($crate::apikey::sql::INSERT)
                        .bind(&key.id)
                        .bind(&key.user_id)
                        .bind(&key.name)
                        .bind($crate::apikey::sql::scopes_json(&key.scopes))
                        .bind(&key.secret_hash)
                        .bind($crate::store::to_sql_secs(key.created_at))
                        .bind($crate::apikey::sql::secs(key.expires_at))
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(())
                }))
            }

            fn get<'a>(
                &'a self,
                id: &'a str,
            ) -> $crate::store::StoreFuture<'a, Option<$crate::apikey::ApiKey>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("API key id", id)?;
                    sqlx::query_as::<_, $crate::apikey::sql::KeyRow>($crate::apikey::sql::GET)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(err)?
                        .map(|row| $crate::apikey::sql::key($backend, row))
                        .transpose()
                }))
            }

            fn list_for_user<'a>(
                &'a self,
                user_id: &'a str,
            ) -> $crate::store::StoreFuture<'a, Vec<$crate::apikey::ApiKey>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    sqlx::query_as::<_, $crate::apikey::sql::KeyRow>($crate::apikey::sql::LIST)
                        .bind(user_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(err)?
                        .into_iter()
                        .map(|row| $crate::apikey::sql::key($backend, row))
                        .collect()
                }))
            }

            fn revoke<'a>(&'a self, id: &'a str, at: u64) -> $crate::store::StoreFuture<'a, bool> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("API key id", id)?;
                    let done = sqlx::query($crate::apikey::sql::REVOKE)
                        .bind(id)
                        .bind($crate::store::to_sql_secs(at))
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(done.rows_affected() > 0)
                }))
            }

            fn touch<'a>(
                &'a self,
                id: &'a str,
                at: u64,
                ip: Option<&'a str>,
            ) -> $crate::store::StoreFuture<'a, bool> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("API key id", id)?;
                    let done = sqlx::query($crate::apikey::sql::TOUCH)
                        .bind(id)
                        .bind($crate::store::to_sql_secs(at))
                        .bind(ip)
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(done.rows_affected() > 0)
                }))
            }
        }
    };
}
pub(super) use impl_sql_api_key_store;
