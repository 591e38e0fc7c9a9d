//! The schema and queries of the SQL session stores, shared by SQLite and
//! PostgreSQL (written once for both dialects: `$N` parameters, `BIGINT`
//! Unix seconds, `ON CONFLICT` upserts, `CASE` instead of
//! `GREATEST`/`MAX`). sqlx has no common trait for the two pools, so the
//! trait implementation is a macro expanded in each backend's file.

use std::net::IpAddr;

use super::store::{SessionData, SessionRecord};
use crate::store::{StoreError, from_sql_secs};

/// The component name in `lexigram_schema_migrations`.
pub(super) const COMPONENT: &str = "sessions";

/// Schema versions, oldest first; never edit a released step, append one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: sessions by key (the token's SHA-256), with the user index the
    // limit, listing and "log out everywhere" use, and the deadlines the
    // purge uses.
    "CREATE TABLE IF NOT EXISTS lexigram_sessions (
         key TEXT NOT NULL PRIMARY KEY,
         user_id TEXT NOT NULL,
         created_at BIGINT NOT NULL,
         last_active_at BIGINT NOT NULL,
         idle_expires_at BIGINT NOT NULL,
         expires_at BIGINT NOT NULL,
         auth_time BIGINT NOT NULL,
         device_id TEXT,
         ip TEXT,
         user_agent TEXT,
         data TEXT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS lexigram_sessions_user
         ON lexigram_sessions (user_id, last_active_at, created_at);
     CREATE INDEX IF NOT EXISTS lexigram_sessions_idle_expires_at
         ON lexigram_sessions (idle_expires_at);
     CREATE INDEX IF NOT EXISTS lexigram_sessions_expires_at
         ON lexigram_sessions (expires_at);",
];

/// The columns of a [`SessionRecord`], in [`SessionRow`] order.
macro_rules! session_columns {
    () => {
        "key, user_id, created_at, last_active_at, idle_expires_at, expires_at, auth_time, \
         device_id, ip, user_agent, data"
    };
}

/// `$1` key .. `$11` data: a new record (a key met again is overwritten, as
/// the memory store does; keys are SHA-256 of fresh random tokens).
pub(super) const INSERT: &str = "
    INSERT INTO lexigram_sessions (key, user_id, created_at, last_active_at, idle_expires_at,
        expires_at, auth_time, device_id, ip, user_agent, data)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (key) DO UPDATE SET user_id = excluded.user_id,
        created_at = excluded.created_at, last_active_at = excluded.last_active_at,
        idle_expires_at = excluded.idle_expires_at, expires_at = excluded.expires_at,
        auth_time = excluded.auth_time, device_id = excluded.device_id, ip = excluded.ip,
        user_agent = excluded.user_agent, data = excluded.data";

/// `$1` key, `$2` user, `$3` now.
pub(super) const GET: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM lexigram_sessions
      WHERE key = $1 AND user_id = $2 AND idle_expires_at > $3 AND expires_at > $3"
);

/// `$1` user, `$2` now: most recently active first.
pub(super) const LIST: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM lexigram_sessions
      WHERE user_id = $1 AND idle_expires_at > $2 AND expires_at > $2
      ORDER BY last_active_at DESC, created_at DESC, key"
);

/// `$1` user, `$2` now: the keys of the user's live sessions, least
/// recently active first (the eviction order).
pub(super) const LIVE_KEYS: &str = "
    SELECT key FROM lexigram_sessions
    WHERE user_id = $1 AND idle_expires_at > $2 AND expires_at > $2
    ORDER BY last_active_at, created_at, key";

/// `$1` key, `$2` user, `$3` last active, `$4` idle deadline, `$5` now:
/// never moves either instant backwards.
pub(super) const TOUCH: &str = "
    UPDATE lexigram_sessions SET
        last_active_at = CASE WHEN last_active_at > $3 THEN last_active_at ELSE $3 END,
        idle_expires_at = CASE WHEN idle_expires_at > $4 THEN idle_expires_at ELSE $4 END
    WHERE key = $1 AND user_id = $2 AND idle_expires_at > $5 AND expires_at > $5";

/// `$1` key, `$2` user.
pub(super) const DELETE: &str = "DELETE FROM lexigram_sessions WHERE key = $1 AND user_id = $2";

/// `$1` key, `$2` user, `$3` now: deletes the session only if it is live.
pub(super) const DELETE_LIVE: &str = "
    DELETE FROM lexigram_sessions
    WHERE key = $1 AND user_id = $2 AND idle_expires_at > $3 AND expires_at > $3";

/// `$1` user, `$2` the key to keep (`''` for none, never a key): returns
/// the deadlines of the deleted rows, so that the live ones are counted.
pub(super) const DELETE_USER: &str = "
    DELETE FROM lexigram_sessions WHERE user_id = $1 AND key <> $2
    RETURNING idle_expires_at, expires_at";

/// `$1` now.
pub(super) const PURGE: &str =
    "DELETE FROM lexigram_sessions WHERE idle_expires_at <= $1 OR expires_at <= $1";

/// Expired rows are purged on every this many writes of one store.
pub(super) const WRITES_BETWEEN_PURGES: u64 = 1024;

/// A session row as both backends decode it.
pub(super) type SessionRow = (
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// The `ip` column.
pub(super) fn ip_text(ip: Option<IpAddr>) -> Option<String> {
    ip.map(|ip| ip.to_string())
}

/// Decodes a [`SessionRow`].
pub(super) fn record(backend: &'static str, row: SessionRow) -> Result<SessionRecord, StoreError> {
    let (key, user_id, created, last, idle, expires, auth, device_id, ip, user_agent, data) = row;
    let ip = ip
        .map(|ip| {
            ip.parse::<IpAddr>().map_err(|_| StoreError::Corrupt {
                backend,
                detail: "an ip column that is not an IP address",
            })
        })
        .transpose()?;
    Ok(SessionRecord {
        key,
        user_id,
        created_at: from_sql_secs(backend, created)?,
        last_active_at: from_sql_secs(backend, last)?,
        idle_expires_at: from_sql_secs(backend, idle)?,
        expires_at: from_sql_secs(backend, expires)?,
        auth_time: from_sql_secs(backend, auth)?,
        device_id,
        ip,
        user_agent,
        data: SessionData::from_json(&data, backend)?,
    })
}

/// Checks the identifiers every operation takes.
pub(super) fn check(user_id: &str, key: &str) -> Result<(), StoreError> {
    crate::store::check_id("user id", user_id)?;
    crate::store::check_id("session key", key)
}

/// Binds a record's columns to a query, in [`INSERT`] order.
macro_rules! bind_record {
    ($query:expr, $record:expr) => {
        $query
            .bind(&$record.key)
            .bind(&$record.user_id)
            .bind($crate::store::to_sql_secs($record.created_at))
            .bind($crate::store::to_sql_secs($record.last_active_at))
            .bind($crate::store::to_sql_secs($record.idle_expires_at))
            .bind($crate::store::to_sql_secs($record.expires_at))
            .bind($crate::store::to_sql_secs($record.auth_time))
            .bind($record.device_id.as_deref())
            .bind($crate::session::sql::ip_text($record.ip))
            .bind($record.user_agent.as_deref())
            .bind($record.data.to_json())
    };
}
pub(super) use bind_record;

/// Implements [`SessionStore`](super::SessionStore) for a store type with
/// fields `pool` (a sqlx pool of the database given), `timeout` and `writes`
/// (`AtomicU64`), given the backend name, the statement that opens a write
/// transaction and the statement, if any, that serialises one user's
/// writes within it (SQLite's `BEGIN IMMEDIATE` already serialises every
/// writer).
macro_rules! impl_sql_session_store {
    (
        $store:ty,
        db = $db:ty,
        backend = $backend:expr,
        begin = $begin:literal,
        user_lock = $user_lock:expr $(,)?
    ) => {
        impl $store {
            /// Opens a write transaction holding the user's lock.
            async fn begin_user(
                &self,
                user_id: &str,
            ) -> Result<sqlx::Transaction<'static, $db>, $crate::store::StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(err)?;
                let lock: Option<&'static str> = $user_lock;
                if let Some(lock) = lock {
                    sqlx::query(lock)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                }
                Ok(tx)
            }

            /// Counts a write; every so many, purges expired rows in a
            /// background task, so that the write's caller never waits for
            /// (or times out on) the purge. A failed purge is logged and left
            /// to the next one.
            fn wrote(&self, now: u64) {
                let writes = self
                    .writes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    .wrapping_add(1);
                if writes % $crate::session::sql::WRITES_BETWEEN_PURGES == 0 {
                    let pool = self.pool.clone();
                    let timeout = self.timeout;
                    tokio::spawn(async move {
                        let purge =
                            $crate::store::bounded($backend, timeout, Self::purge(&pool, now));
                        if let Err(error) = purge.await {
                            tracing::warn!(%error, "purging expired sessions failed");
                        }
                    });
                }
            }

            async fn purge(pool: &sqlx::Pool<$db>, now: u64) -> Result<u64, $crate::store::StoreError> {
                Ok(sqlx::query($crate::session::sql::PURGE)
                    .bind($crate::store::to_sql_secs(now))
                    .execute(pool)
                    .await
                    .map_err(err)?
                    .rows_affected())
            }
        }

        impl $crate::session::SessionStore for $store {
            fn insert<'a>(
                &'a self,
                record: &'a $crate::session::SessionRecord,
                limit: Option<$crate::session::SessionLimit>,
                now: u64,
            ) -> $crate::store::StoreFuture<'a, $crate::session::Inserted> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::session::sql::check(&record.user_id, &record.key)?;
                    let Some(limit) = limit else {
                        $crate::session::sql::bind_record!(sqlx::query($crate::session::sql::INSERT), record)
                            .execute(&self.pool)
                            .await
                            .map_err(err)?;
                        self.wrote(now);
                        return Ok($crate::session::Inserted::Inserted {
                            evicted: Vec::new(),
                        });
                    };
                    let now_sql = $crate::store::to_sql_secs(now);
                    let mut tx = self.begin_user(&record.user_id).await?;
                    let live: Vec<String> =
                        sqlx::query_scalar($crate::session::sql::LIVE_KEYS)
                            .bind(&record.user_id)
                            .bind(now_sql)
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(err)?;
                    let max = usize::try_from(limit.max.max(1)).unwrap_or(usize::MAX);
                    let mut evicted = Vec::new();
                    if live.len() >= max {
                        if limit.policy == $crate::session::LimitPolicy::DenyNew {
                            tx.rollback().await.map_err(err)?;
                            return Ok($crate::session::Inserted::Denied);
                        }
                        let excess = live.len() + 1 - max;
                        for key in live.into_iter().take(excess) {
                            sqlx::query($crate::session::sql::DELETE)
                                .bind(&key)
                                .bind(&record.user_id)
                                .execute(&mut *tx)
                                .await
                                .map_err(err)?;
                            evicted.push(key);
                        }
                    }
                    $crate::session::sql::bind_record!(sqlx::query($crate::session::sql::INSERT), record)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    tx.commit().await.map_err(err)?;
                    self.wrote(now);
                    Ok($crate::session::Inserted::Inserted { evicted })
                }))
            }

            fn get<'a>(
                &'a self,
                user_id: &'a str,
                key: &'a str,
                now: u64,
            ) -> $crate::store::StoreFuture<'a, Option<$crate::session::SessionRecord>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::session::sql::check(user_id, key)?;
                    sqlx::query_as::<_, $crate::session::sql::SessionRow>(
                        $crate::session::sql::GET,
                    )
                    .bind(key)
                    .bind(user_id)
                    .bind($crate::store::to_sql_secs(now))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(err)?
                    .map(|row| $crate::session::sql::record($backend, row))
                    .transpose()
                }))
            }

            fn touch<'a>(
                &'a self,
                user_id: &'a str,
                key: &'a str,
                last_active_at: u64,
                idle_expires_at: u64,
                now: u64,
            ) -> $crate::store::StoreFuture<'a, bool> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::session::sql::check(user_id, key)?;
                    let done = sqlx::query($crate::session::sql::TOUCH)
                        .bind(key)
                        .bind(user_id)
                        .bind($crate::store::to_sql_secs(last_active_at))
                        .bind($crate::store::to_sql_secs(idle_expires_at))
                        .bind($crate::store::to_sql_secs(now))
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(done.rows_affected() > 0)
                }))
            }

            fn replace<'a>(
                &'a self,
                old_key: &'a str,
                record: &'a $crate::session::SessionRecord,
                now: u64,
            ) -> $crate::store::StoreFuture<'a, bool> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::session::sql::check(&record.user_id, old_key)?;
                    $crate::session::sql::check(&record.user_id, &record.key)?;
                    // Under the user's lock: an insert counting the user's
                    // sessions meanwhile sees either the old one or the new.
                    let mut tx = self.begin_user(&record.user_id).await?;
                    let deleted = sqlx::query($crate::session::sql::DELETE_LIVE)
                        .bind(old_key)
                        .bind(&record.user_id)
                        .bind($crate::store::to_sql_secs(now))
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?
                        .rows_affected();
                    if deleted == 0 {
                        tx.rollback().await.map_err(err)?;
                        return Ok(false);
                    }
                    $crate::session::sql::bind_record!(sqlx::query($crate::session::sql::INSERT), record)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    tx.commit().await.map_err(err)?;
                    self.wrote(now);
                    Ok(true)
                }))
            }

            fn remove<'a>(
                &'a self,
                user_id: &'a str,
                key: &'a str,
            ) -> $crate::store::StoreFuture<'a, bool> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::session::sql::check(user_id, key)?;
                    let done = sqlx::query($crate::session::sql::DELETE)
                        .bind(key)
                        .bind(user_id)
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(done.rows_affected() > 0)
                }))
            }

            fn remove_user<'a>(
                &'a self,
                user_id: &'a str,
                keep: Option<&'a str>,
                now: u64,
            ) -> $crate::store::StoreFuture<'a, u64> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("user id", user_id)?;
                    // Under the user's lock, so that it never interleaves
                    // its row locks with an insert evicting several rows.
                    let mut tx = self.begin_user(user_id).await?;
                    let deadlines: Vec<(i64, i64)> =
                        sqlx::query_as($crate::session::sql::DELETE_USER)
                            .bind(user_id)
                            .bind(keep.unwrap_or(""))
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(err)?;
                    tx.commit().await.map_err(err)?;
                    let now_sql = $crate::store::to_sql_secs(now);
                    let live = deadlines
                        .iter()
                        .filter(|(idle, expires)| now_sql < *idle && now_sql < *expires)
                        .count();
                    Ok(u64::try_from(live).unwrap_or(u64::MAX))
                }))
            }

            fn list_user<'a>(
                &'a self,
                user_id: &'a str,
                now: u64,
            ) -> $crate::store::StoreFuture<'a, Vec<$crate::session::SessionRecord>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("user id", user_id)?;
                    sqlx::query_as::<_, $crate::session::sql::SessionRow>(
                        $crate::session::sql::LIST,
                    )
                    .bind(user_id)
                    .bind($crate::store::to_sql_secs(now))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(err)?
                    .into_iter()
                    .map(|row| $crate::session::sql::record($backend, row))
                    .collect()
                }))
            }

            fn purge_expired(&self, now: u64) -> $crate::store::StoreFuture<'_, u64> {
                Box::pin($crate::store::bounded(
                    $backend,
                    self.timeout,
                    Self::purge(&self.pool, now),
                ))
            }
        }
    };
}
pub(super) use impl_sql_session_store;
