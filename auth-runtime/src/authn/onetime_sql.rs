//! The schema and queries of the SQL one-time token stores, shared by SQLite
//! and PostgreSQL like the user stores' (`$N` parameters, `BIGINT` Unix
//! seconds and 0/1 flags). Only the SHA-256 of a token is stored.

/// The component name in `lexigram_schema_migrations`.
pub(super) const COMPONENT: &str = "one_time_tokens";

/// Schema versions, oldest first; never edit a released step, append one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: token digests with their purpose, user, expiry and used flag.
    "CREATE TABLE IF NOT EXISTS lexigram_one_time_tokens (
         token_hash TEXT NOT NULL PRIMARY KEY,
         purpose TEXT NOT NULL,
         user_id TEXT NOT NULL,
         created_at BIGINT NOT NULL,
         expires_at BIGINT NOT NULL,
         used BIGINT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS lexigram_one_time_tokens_user
         ON lexigram_one_time_tokens (user_id, purpose);",
];

/// `$1` digest, `$2` purpose, `$3` user, `$4` created, `$5` expires.
pub(super) const INSERT: &str = "
    INSERT INTO lexigram_one_time_tokens (token_hash, purpose, user_id, created_at, expires_at, used)
    VALUES ($1, $2, $3, $4, $5, 0)";

/// `$1` digest, `$2` purpose, `$3` now.
pub(super) const PEEK: &str = "
    SELECT user_id FROM lexigram_one_time_tokens
    WHERE token_hash = $1 AND purpose = $2 AND used = 0 AND expires_at > $3";

/// `$1` digest, `$2` purpose, `$3` now: one statement, so that two
/// concurrent uses cannot both succeed.
pub(super) const CONSUME: &str = "
    UPDATE lexigram_one_time_tokens SET used = 1
    WHERE token_hash = $1 AND purpose = $2 AND used = 0 AND expires_at > $3
    RETURNING user_id";

/// `$1` user, `$2` purpose.
pub(super) const REVOKE_USER: &str = "
    UPDATE lexigram_one_time_tokens SET used = 1
    WHERE user_id = $1 AND purpose = $2 AND used = 0";

/// `$1` now.
pub(super) const PURGE: &str =
    "DELETE FROM lexigram_one_time_tokens WHERE used <> 0 OR expires_at <= $1";

/// Implements [`OneTimeTokenStore`](super::OneTimeTokenStore) for a store
/// type with `pool` and `timeout` fields.
macro_rules! impl_sql_one_time_store {
    ($store:ty, backend = $backend:expr) => {
        impl $crate::authn::OneTimeTokenStore for $store {
            fn insert<'a>(
                &'a self,
                token: &'a $crate::authn::OneTimeToken,
            ) -> $crate::store::StoreFuture<'a, ()> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("token digest", &token.digest)?;
                    $crate::store::check_id("user id", &token.user_id)?;
                    sqlx::query($crate::authn::onetime_sql::INSERT)
                        .bind(&token.digest)
                        .bind(token.purpose.as_str())
                        .bind(&token.user_id)
                        .bind($crate::store::to_sql_secs(token.created_at))
                        .bind($crate::store::to_sql_secs(token.expires_at))
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(())
                }))
            }

            fn peek<'a>(
                &'a self,
                digest: &'a str,
                purpose: $crate::authn::TokenPurpose,
                now: u64,
            ) -> $crate::store::StoreFuture<'a, Option<String>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("token digest", digest)?;
                    sqlx::query_scalar($crate::authn::onetime_sql::PEEK)
                        .bind(digest)
                        .bind(purpose.as_str())
                        .bind($crate::store::to_sql_secs(now))
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(err)
                }))
            }

            fn consume<'a>(
                &'a self,
                digest: &'a str,
                purpose: $crate::authn::TokenPurpose,
                now: u64,
            ) -> $crate::store::StoreFuture<'a, Option<String>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("token digest", digest)?;
                    sqlx::query_scalar($crate::authn::onetime_sql::CONSUME)
                        .bind(digest)
                        .bind(purpose.as_str())
                        .bind($crate::store::to_sql_secs(now))
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(err)
                }))
            }

            fn revoke_user<'a>(
                &'a self,
                user_id: &'a str,
                purpose: $crate::authn::TokenPurpose,
            ) -> $crate::store::StoreFuture<'a, u64> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("user id", user_id)?;
                    let done = sqlx::query($crate::authn::onetime_sql::REVOKE_USER)
                        .bind(user_id)
                        .bind(purpose.as_str())
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(done.rows_affected())
                }))
            }

            fn purge(&self, now: u64) -> $crate::store::StoreFuture<'_, u64> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    let done = sqlx::query($crate::authn::onetime_sql::PURGE)
                        .bind($crate::store::to_sql_secs(now))
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(done.rows_affected())
                }))
            }
        }
    };
}
pub(super) use impl_sql_one_time_store;
