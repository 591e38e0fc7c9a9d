//! The schema and queries of the SQL revocation stores, shared by SQLite
//! and PostgreSQL.
//!
//! The SQL is written once for both dialects: `$N` parameters, `ON
//! CONFLICT` upserts, `CASE` instead of `GREATEST`/`MAX`, `BIGINT` Unix
//! seconds. sqlx has no common trait for the two pools' query results, so
//! the trait implementation is a macro expanded in each backend's file.

/// The component name in `lexigram_schema_migrations`.
pub(super) const COMPONENT: &str = "revocation";

/// Schema versions, oldest first; never edit a released step, append one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: revoked token ids, per-user cut-offs, refresh families.
    "CREATE TABLE IF NOT EXISTS lexigram_revoked_jti (
         jti TEXT NOT NULL PRIMARY KEY,
         expires_at BIGINT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS lexigram_revoked_jti_expires_at
         ON lexigram_revoked_jti (expires_at);
     CREATE TABLE IF NOT EXISTS lexigram_revoked_user (
         user_id TEXT NOT NULL PRIMARY KEY,
         revoked_before BIGINT NOT NULL,
         keep_until BIGINT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS lexigram_revoked_user_keep_until
         ON lexigram_revoked_user (keep_until);
     CREATE TABLE IF NOT EXISTS lexigram_refresh_family (
         family TEXT NOT NULL PRIMARY KEY,
         revoked_until BIGINT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS lexigram_refresh_family_revoked_until
         ON lexigram_refresh_family (revoked_until);
     CREATE TABLE IF NOT EXISTS lexigram_refresh_used (
         family TEXT NOT NULL,
         jti TEXT NOT NULL,
         expires_at BIGINT NOT NULL,
         PRIMARY KEY (family, jti)
     );
     CREATE INDEX IF NOT EXISTS lexigram_refresh_used_expires_at
         ON lexigram_refresh_used (expires_at);",
];

/// `$1` jti, `$2` expires at: insert, or keep the later expiry.
pub(super) const REVOKE_JTI: &str = "
    INSERT INTO lexigram_revoked_jti (jti, expires_at) VALUES ($1, $2)
    ON CONFLICT (jti) DO UPDATE SET expires_at = CASE
        WHEN lexigram_revoked_jti.expires_at > excluded.expires_at
        THEN lexigram_revoked_jti.expires_at ELSE excluded.expires_at END";

/// `$1` jti, `$2` now.
pub(super) const IS_JTI_REVOKED: &str = "
    SELECT EXISTS (SELECT 1 FROM lexigram_revoked_jti WHERE jti = $1 AND expires_at > $2)";

/// `$1` user, `$2` at, `$3` keep until, `$4` now: the larger `at` of the
/// live record and the new one, the later `keep_until`.
pub(super) const REVOKE_USER: &str = "
    INSERT INTO lexigram_revoked_user (user_id, revoked_before, keep_until) VALUES ($1, $2, $3)
    ON CONFLICT (user_id) DO UPDATE SET
        revoked_before = CASE
            WHEN lexigram_revoked_user.keep_until > $4
                AND lexigram_revoked_user.revoked_before > excluded.revoked_before
            THEN lexigram_revoked_user.revoked_before ELSE excluded.revoked_before END,
        keep_until = CASE
            WHEN lexigram_revoked_user.keep_until > excluded.keep_until
            THEN lexigram_revoked_user.keep_until ELSE excluded.keep_until END";

/// `$1` user, `$2` now.
pub(super) const USER_BEFORE: &str = "
    SELECT revoked_before FROM lexigram_revoked_user WHERE user_id = $1 AND keep_until > $2";

/// `$1` family, `$2` keep until: insert, or keep the later instant.
pub(super) const REVOKE_FAMILY: &str = "
    INSERT INTO lexigram_refresh_family (family, revoked_until) VALUES ($1, $2)
    ON CONFLICT (family) DO UPDATE SET revoked_until = CASE
        WHEN lexigram_refresh_family.revoked_until > excluded.revoked_until
        THEN lexigram_refresh_family.revoked_until ELSE excluded.revoked_until END";

/// `$1` family, `$2` now.
pub(super) const IS_FAMILY_REVOKED: &str = "
    SELECT EXISTS (
        SELECT 1 FROM lexigram_refresh_family WHERE family = $1 AND revoked_until > $2)";

/// `$1` family, `$2` jti, `$3` expires at, `$4` now: records the use unless a
/// live one exists. One row affected means this is the first use; the
/// primary key makes concurrent uses wait for each other.
pub(super) const MARK_USED: &str = "
    INSERT INTO lexigram_refresh_used (family, jti, expires_at) VALUES ($1, $2, $3)
    ON CONFLICT (family, jti) DO UPDATE SET expires_at = excluded.expires_at
        WHERE lexigram_refresh_used.expires_at <= $4";

/// `$1` family, `$2` jti.
pub(super) const USED_UNTIL: &str = "
    SELECT expires_at FROM lexigram_refresh_used WHERE family = $1 AND jti = $2";

/// `$1` jti, `$2` user, `$3` family or NULL, `$4` now: the three answers a
/// verification needs, in one round trip.
pub(super) const CHECK: &str = "
    SELECT
        EXISTS (SELECT 1 FROM lexigram_revoked_jti WHERE jti = $1 AND expires_at > $4),
        (SELECT revoked_before FROM lexigram_revoked_user WHERE user_id = $2 AND keep_until > $4),
        EXISTS (SELECT 1 FROM lexigram_refresh_family WHERE family = $3 AND revoked_until > $4)";

/// `$1` now, for each table.
pub(super) const PURGE: &[&str] = &[
    "DELETE FROM lexigram_revoked_jti WHERE expires_at <= $1",
    "DELETE FROM lexigram_revoked_user WHERE keep_until <= $1",
    "DELETE FROM lexigram_refresh_family WHERE revoked_until <= $1",
    "DELETE FROM lexigram_refresh_used WHERE expires_at <= $1",
];

/// Expired rows are purged on every this many writes of one store.
pub(super) const WRITES_BETWEEN_PURGES: u64 = 1024;

/// Implements [`RevocationStore`](super::RevocationStore) for a SQL store
/// type with fields `pool` (the sqlx pool type given), `timeout` and
/// `writes` (`AtomicU64`), given the backend name and the statement that
/// opens a write transaction. The names the expansion uses (`StoreError`,
/// `bounded`, `err`, ...) are imported by the backend's file.
macro_rules! impl_sql_revocation_store {
    ($store:ty, pool = $pool:ty, backend = $backend:expr, begin = $begin:literal) => {
        impl $store {
            async fn write(
                &self,
                query: &'static str,
                binds: &[Bind<'_>],
                now: u64,
            ) -> Result<(), StoreError> {
                let mut q = sqlx::query(query);
                for bind in binds {
                    q = match bind {
                        Bind::Text(text) => q.bind(*text),
                        Bind::Secs(secs) => q.bind(to_sql_secs(*secs)),
                    };
                }
                q.execute(&self.pool).await.map_err(err)?;
                self.wrote(now);
                Ok(())
            }

            /// Counts a write; every so many, purges expired rows in a
            /// background task, so that the write's caller never waits for
            /// (or times out on) the purge. A failed purge is logged and left
            /// to the next one.
            fn wrote(&self, now: u64) {
                let writes = self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if writes % sql::WRITES_BETWEEN_PURGES == 0 {
                    let pool = self.pool.clone();
                    let timeout = self.timeout;
                    tokio::spawn(async move {
                        let purge = bounded($backend, timeout, Self::purge(&pool, now));
                        if let Err(error) = purge.await {
                            tracing::warn!(%error, "purging expired revocation records failed");
                        }
                    });
                }
            }

            async fn purge(pool: &$pool, now: u64) -> Result<u64, StoreError> {
                let mut removed = 0;
                for query in sql::PURGE {
                    removed += sqlx::query(query)
                        .bind(to_sql_secs(now))
                        .execute(pool)
                        .await
                        .map_err(err)?
                        .rows_affected();
                }
                Ok(removed)
            }

            async fn flag(
                &self,
                query: &'static str,
                id: &str,
                now: u64,
            ) -> Result<bool, StoreError> {
                sqlx::query_scalar::<_, bool>(query)
                    .bind(id)
                    .bind(to_sql_secs(now))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(err)
            }

            async fn consume(
                &self,
                family: &str,
                jti: &str,
                until: u64,
                now: u64,
            ) -> Result<RefreshUse, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(err)?;
                let first = sqlx::query(sql::MARK_USED)
                    .bind(family)
                    .bind(jti)
                    .bind(to_sql_secs(until))
                    .bind(to_sql_secs(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?
                    .rows_affected()
                    == 1;
                let family_revoked = sqlx::query_scalar::<_, bool>(sql::IS_FAMILY_REVOKED)
                    .bind(family)
                    .bind(to_sql_secs(now))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(err)?;
                if family_revoked {
                    tx.rollback().await.map_err(err)?;
                    return Ok(RefreshUse::FamilyRevoked);
                }
                if first {
                    tx.commit().await.map_err(err)?;
                    return Ok(RefreshUse::First);
                }
                let used_until: i64 = sqlx::query_scalar(sql::USED_UNTIL)
                    .bind(family)
                    .bind(jti)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(err)?;
                let revoked_until = until.max(from_sql_secs($backend, used_until)?);
                sqlx::query(sql::REVOKE_FAMILY)
                    .bind(family)
                    .bind(to_sql_secs(revoked_until))
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                tx.commit().await.map_err(err)?;
                Ok(RefreshUse::Reused)
            }
        }

        impl RevocationStore for $store {
            fn revoke_jti<'a>(
                &'a self,
                jti: &'a str,
                expires_at: u64,
                now: u64,
            ) -> StoreFuture<'a, ()> {
                Box::pin(bounded($backend, self.timeout, async move {
                    check_ids(&[(JTI, jti)])?;
                    if expires_at <= now {
                        return Ok(());
                    }
                    let expires_at = cap_until(expires_at, now);
                    let binds = [Bind::Text(jti), Bind::Secs(expires_at)];
                    self.write(sql::REVOKE_JTI, &binds, now).await
                }))
            }

            fn is_jti_revoked<'a>(&'a self, jti: &'a str, now: u64) -> StoreFuture<'a, bool> {
                Box::pin(bounded($backend, self.timeout, async move {
                    check_ids(&[(JTI, jti)])?;
                    self.flag(sql::IS_JTI_REVOKED, jti, now).await
                }))
            }

            fn revoke_user_before<'a>(
                &'a self,
                user_id: &'a str,
                at: u64,
                keep_until: u64,
                now: u64,
            ) -> StoreFuture<'a, ()> {
                Box::pin(bounded($backend, self.timeout, async move {
                    check_ids(&[(USER, user_id)])?;
                    if keep_until <= now {
                        return Ok(());
                    }
                    let binds = [
                        Bind::Text(user_id),
                        Bind::Secs(at),
                        Bind::Secs(cap_until(keep_until, now)),
                        Bind::Secs(now),
                    ];
                    self.write(sql::REVOKE_USER, &binds, now).await
                }))
            }

            fn user_revoked_before<'a>(
                &'a self,
                user_id: &'a str,
                now: u64,
            ) -> StoreFuture<'a, Option<u64>> {
                Box::pin(bounded($backend, self.timeout, async move {
                    check_ids(&[(USER, user_id)])?;
                    sqlx::query_scalar::<_, i64>(sql::USER_BEFORE)
                        .bind(user_id)
                        .bind(to_sql_secs(now))
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(err)?
                        .map(|at| from_sql_secs($backend, at))
                        .transpose()
                }))
            }

            fn consume_refresh<'a>(
                &'a self,
                family: &'a str,
                jti: &'a str,
                expires_at: u64,
                now: u64,
            ) -> StoreFuture<'a, RefreshUse> {
                Box::pin(bounded($backend, self.timeout, async move {
                    check_ids(&[(FAMILY, family), (JTI, jti)])?;
                    let until = cap_until(expires_at.max(now.saturating_add(1)), now);
                    let outcome = self.consume(family, jti, until, now).await?;
                    self.wrote(now);
                    Ok(outcome)
                }))
            }

            fn revoke_family<'a>(
                &'a self,
                family: &'a str,
                keep_until: u64,
                now: u64,
            ) -> StoreFuture<'a, ()> {
                Box::pin(bounded($backend, self.timeout, async move {
                    check_ids(&[(FAMILY, family)])?;
                    if keep_until <= now {
                        return Ok(());
                    }
                    let binds = [Bind::Text(family), Bind::Secs(cap_until(keep_until, now))];
                    self.write(sql::REVOKE_FAMILY, &binds, now).await
                }))
            }

            fn is_family_revoked<'a>(&'a self, family: &'a str, now: u64) -> StoreFuture<'a, bool> {
                Box::pin(bounded($backend, self.timeout, async move {
                    check_ids(&[(FAMILY, family)])?;
                    self.flag(sql::IS_FAMILY_REVOKED, family, now).await
                }))
            }

            fn check<'a>(
                &'a self,
                jti: &'a str,
                user_id: &'a str,
                iat: u64,
                family: Option<&'a str>,
                now: u64,
            ) -> StoreFuture<'a, Revocation> {
                Box::pin(bounded($backend, self.timeout, async move {
                    check_ids(&[(JTI, jti), (USER, user_id)])?;
                    if let Some(family) = family {
                        check_ids(&[(FAMILY, family)])?;
                    }
                    let (jti_revoked, user_before, family_revoked): (bool, Option<i64>, bool) =
                        sqlx::query_as(sql::CHECK)
                            .bind(jti)
                            .bind(user_id)
                            .bind(family)
                            .bind(to_sql_secs(now))
                            .fetch_one(&self.pool)
                            .await
                            .map_err(err)?;
                    let user_before = user_before
                        .map(|at| from_sql_secs($backend, at))
                        .transpose()?;
                    Ok(verdict(jti_revoked, user_before, iat, family_revoked))
                }))
            }

            fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
                Box::pin(bounded($backend, self.timeout, Self::purge(&self.pool, now)))
            }
        }
    };
}

pub(super) use impl_sql_revocation_store;

/// One bound parameter of a write.
#[derive(Debug, Clone, Copy)]
pub(super) enum Bind<'a> {
    Text(&'a str),
    Secs(u64),
}
