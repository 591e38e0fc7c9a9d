//! The schema and queries of the SQL user stores, shared by SQLite and
//! PostgreSQL (written once for both dialects: `$N` parameters, `BIGINT`
//! Unix seconds and 0/1 flags, JSON arrays in `TEXT`). sqlx has no common
//! trait for the two pools, so the trait implementation is a macro expanded
//! in each backend's file.

use super::user::User;
use crate::store::{StoreError, from_sql_secs};

/// The component name in `lexigram_schema_migrations`.
pub(super) const COMPONENT: &str = "users";

/// Schema versions, oldest first; never edit a released step, append one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: users with their credentials.
    "CREATE TABLE IF NOT EXISTS lexigram_users (
         id TEXT NOT NULL PRIMARY KEY,
         email TEXT NOT NULL UNIQUE,
         name TEXT NOT NULL,
         roles TEXT NOT NULL,
         permissions TEXT NOT NULL,
         tenant TEXT,
         active BIGINT NOT NULL,
         verified BIGINT NOT NULL,
         password_hash TEXT,
         previous_hashes TEXT NOT NULL,
         created_at BIGINT NOT NULL,
         updated_at BIGINT NOT NULL,
         last_login_at BIGINT,
         login_count BIGINT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS lexigram_users_created_at
         ON lexigram_users (created_at, id);",
    // 2: per-tenant role assignments (AUTHZ-7). The foreign key deletes a
    // user's assignments with the user, and refuses an assignment for a user
    // who is gone (even one deleted concurrently).
    "CREATE TABLE IF NOT EXISTS lexigram_tenant_roles (
         user_id TEXT NOT NULL REFERENCES lexigram_users (id) ON DELETE CASCADE,
         tenant TEXT NOT NULL,
         roles TEXT NOT NULL,
         PRIMARY KEY (user_id, tenant)
     );",
];

/// The columns of a [`User`], in [`UserRow`] order.
macro_rules! user_columns {
    () => {
        "id, email, name, roles, permissions, tenant, active, verified, \
         created_at, updated_at, last_login_at, login_count"
    };
}

/// `$1` id .. `$12` updated at.
pub(super) const INSERT: &str = "
    INSERT INTO lexigram_users (id, email, name, roles, permissions, tenant, active, verified,
        password_hash, previous_hashes, created_at, updated_at, login_count)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '[]', $10, $11, 0)
    ON CONFLICT (email) DO NOTHING";

pub(super) const BY_ID: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM lexigram_users WHERE id = $1"
);

pub(super) const BY_EMAIL: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM lexigram_users WHERE email = $1"
);

/// `$1` limit, `$2` offset.
pub(super) const LIST: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM lexigram_users ORDER BY created_at, id LIMIT $1 OFFSET $2"
);

pub(super) const COUNT: &str = "SELECT COUNT(*) FROM lexigram_users";

/// `$1` id, `$2` email .. `$8` verified, `$9` updated at.
pub(super) const UPDATE: &str = "
    UPDATE lexigram_users SET email = $2, name = $3, roles = $4, permissions = $5, tenant = $6,
        active = $7, verified = $8, updated_at = $9
    WHERE id = $1";

pub(super) const DELETE: &str = "DELETE FROM lexigram_users WHERE id = $1";

/// A user's assignments, deleted with the user even on a connection
/// without foreign-key enforcement (an application's own `sqlite` pool
/// passed to `from_pool`).
pub(super) const DELETE_TENANT_ROLES: &str = "DELETE FROM lexigram_tenant_roles WHERE user_id = $1";

/// `$1` user id, `$2` tenant, `$3` roles; writes nothing for a missing user.
pub(super) const ASSIGN: &str = "
    INSERT INTO lexigram_tenant_roles (user_id, tenant, roles)
    SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM lexigram_users WHERE id = $1)
    ON CONFLICT (user_id, tenant) DO UPDATE SET roles = excluded.roles";

/// `$1` user id, `$2` tenant.
pub(super) const UNASSIGN: &str =
    "DELETE FROM lexigram_tenant_roles WHERE user_id = $1 AND tenant = $2";

/// `$1` user id, `$2` tenant.
pub(super) const ROLES_IN: &str =
    "SELECT roles FROM lexigram_tenant_roles WHERE user_id = $1 AND tenant = $2";

/// `$1` user id.
pub(super) const TENANTS_OF: &str =
    "SELECT tenant, roles FROM lexigram_tenant_roles WHERE user_id = $1";

pub(super) const CREDENTIALS: &str =
    "SELECT password_hash, previous_hashes FROM lexigram_users WHERE id = $1";

/// `$1` id, `$2` new hash, `$3` new history, `$4` updated at, `$5` the
/// expected hash (`''` for none), `$6` the history read with it.
pub(super) const SWAP_HASH: &str = "
    UPDATE lexigram_users SET password_hash = $2, previous_hashes = $3, updated_at = $4
    WHERE id = $1 AND COALESCE(password_hash, '') = $5 AND previous_hashes = $6";

/// `$1` id, `$2` at.
pub(super) const RECORD_LOGIN: &str = "
    UPDATE lexigram_users SET last_login_at = $2, login_count = login_count + 1 WHERE id = $1";

/// A user row as both backends decode it.
pub(super) type UserRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    i64,
);

/// Encodes a list as the JSON text the tables hold.
pub(super) fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| String::from("[]"))
}

fn parse_list(backend: &'static str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt {
        backend,
        detail: "a list column that is not a JSON array of strings",
    })
}

/// Decodes the history column.
pub(super) fn history(backend: &'static str, text: &str) -> Result<Vec<String>, StoreError> {
    parse_list(backend, text)
}

/// Decodes the roles column of an assignment.
pub(super) fn roles(backend: &'static str, text: &str) -> Result<Vec<String>, StoreError> {
    parse_list(backend, text)
}

/// Decodes a user's assignments, ordered by tenant id (sorted here: a
/// database collation may not order `-` and `_` by byte).
pub(super) fn memberships(
    backend: &'static str,
    rows: Vec<(String, String)>,
) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let mut out = rows
        .into_iter()
        .map(|(tenant, text)| Ok((tenant, roles(backend, &text)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn flag(backend: &'static str, value: i64) -> Result<bool, StoreError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(StoreError::Corrupt {
            backend,
            detail: "a flag column that is neither 0 nor 1",
        }),
    }
}

/// Decodes a [`UserRow`].
pub(super) fn user(backend: &'static str, row: UserRow) -> Result<User, StoreError> {
    let (id, email, name, roles, permissions, tenant, active, verified, created, updated, last, n) =
        row;
    Ok(User {
        id,
        email,
        name,
        roles: parse_list(backend, &roles)?,
        permissions: parse_list(backend, &permissions)?,
        tenant,
        active: flag(backend, active)?,
        verified: flag(backend, verified)?,
        created_at: from_sql_secs(backend, created)?,
        updated_at: from_sql_secs(backend, updated)?,
        last_login_at: last.map(|t| from_sql_secs(backend, t)).transpose()?,
        login_count: from_sql_secs(backend, n)?,
    })
}

/// Implements [`UserStore`](super::UserStore) for a store type with `pool`
/// and `timeout` fields.
macro_rules! impl_sql_user_store {
    ($store:ty, backend = $backend:expr) => {
        impl $crate::authn::UserStore for $store {
            fn create_user<'a>(
                &'a self,
                user: &'a $crate::authn::NewUser,
                now: u64,
            ) -> $crate::store::StoreFuture<'a, $crate::authn::Created> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    let email = $crate::authn::user::checked_email(&user.email)?;
                    let id = $crate::authn::user::new_user_id()?;
                    let now_sql = $crate::store::to_sql_secs(now);
                    let inserted = sqlx::query($crate::authn::sql::INSERT)
                        .bind(&id)
                        .bind(&email)
                        .bind(&user.name)
                        .bind($crate::authn::sql::json_list(&user.roles))
                        .bind($crate::authn::sql::json_list(&user.permissions))
                        .bind(user.tenant.as_deref())
                        .bind(i64::from(user.active))
                        .bind(i64::from(user.verified))
                        .bind(user.password_hash.as_deref())
                        .bind(now_sql)
                        .bind(now_sql)
                        .execute(&self.pool)
                        .await
                        .map_err(err)?
                        .rows_affected();
                    if inserted == 0 {
                        return Ok($crate::authn::Created::EmailTaken);
                    }
                    Ok($crate::authn::Created::Created($crate::authn::User {
                        id,
                        email,
                        name: user.name.clone(),
                        roles: user.roles.clone(),
                        permissions: user.permissions.clone(),
                        tenant: user.tenant.clone(),
                        active: user.active,
                        verified: user.verified,
                        created_at: now,
                        updated_at: now,
                        last_login_at: None,
                        login_count: 0,
                    }))
                }))
            }

            fn user_by_id<'a>(
                &'a self,
                id: &'a str,
            ) -> $crate::store::StoreFuture<'a, Option<$crate::authn::User>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("user id", id)?;
                    sqlx::query_as::<_, $crate::authn::sql::UserRow>($crate::authn::sql::BY_ID)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(err)?
                        .map(|row| $crate::authn::sql::user($backend, row))
                        .transpose()
                }))
            }

            fn user_by_email<'a>(
                &'a self,
                email: &'a str,
            ) -> $crate::store::StoreFuture<'a, Option<$crate::authn::User>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    let email = $crate::authn::normalize_email(email);
                    sqlx::query_as::<_, $crate::authn::sql::UserRow>($crate::authn::sql::BY_EMAIL)
                        .bind(email)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(err)?
                        .map(|row| $crate::authn::sql::user($backend, row))
                        .transpose()
                }))
            }

            fn update_user<'a>(
                &'a self,
                user: &'a $crate::authn::User,
                now: u64,
            ) -> $crate::store::StoreFuture<'a, $crate::authn::Updated> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("user id", &user.id)?;
                    let email = $crate::authn::user::checked_email(&user.email)?;
                    let result = sqlx::query($crate::authn::sql::UPDATE)
                        .bind(&user.id)
                        .bind(email)
                        .bind(&user.name)
                        .bind($crate::authn::sql::json_list(&user.roles))
                        .bind($crate::authn::sql::json_list(&user.permissions))
                        .bind(user.tenant.as_deref())
                        .bind(i64::from(user.active))
                        .bind(i64::from(user.verified))
                        .bind($crate::store::to_sql_secs(now))
                        .execute(&self.pool)
                        .await;
                    match result {
                        Ok(done) if done.rows_affected() == 0 => {
                            Ok($crate::authn::Updated::Missing)
                        }
                        Ok(_) => Ok($crate::authn::Updated::Updated),
                        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                            Ok($crate::authn::Updated::EmailTaken)
                        }
                        Err(error) => Err(err(error)),
                    }
                }))
            }

            fn delete_user<'a>(&'a self, id: &'a str) -> $crate::store::StoreFuture<'a, bool> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("user id", id)?;
                    let mut tx = self.pool.begin().await.map_err(err)?;
                    sqlx::query($crate::authn::sql::DELETE_TENANT_ROLES)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    let done = sqlx::query($crate::authn::sql::DELETE)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    tx.commit().await.map_err(err)?;
                    Ok(done.rows_affected() > 0)
                }))
            }

            fn list_users(
                &self,
                offset: u64,
                limit: u64,
            ) -> $crate::store::StoreFuture<'_, Vec<$crate::authn::User>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    sqlx::query_as::<_, $crate::authn::sql::UserRow>($crate::authn::sql::LIST)
                        .bind($crate::store::to_sql_secs(limit))
                        .bind($crate::store::to_sql_secs(offset))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(err)?
                        .into_iter()
                        .map(|row| $crate::authn::sql::user($backend, row))
                        .collect()
                }))
            }

            fn count_users(&self) -> $crate::store::StoreFuture<'_, u64> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    let n: i64 = sqlx::query_scalar($crate::authn::sql::COUNT)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(err)?;
                    $crate::store::from_sql_secs($backend, n)
                }))
            }

            fn credentials<'a>(
                &'a self,
                id: &'a str,
            ) -> $crate::store::StoreFuture<'a, Option<$crate::authn::Credentials>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("user id", id)?;
                    let row: Option<(Option<String>, String)> =
                        sqlx::query_as($crate::authn::sql::CREDENTIALS)
                            .bind(id)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(err)?;
                    row.map(|(password_hash, previous)| {
                        Ok($crate::authn::Credentials {
                            password_hash,
                            previous_hashes: $crate::authn::sql::history($backend, &previous)?,
                        })
                    })
                    .transpose()
                }))
            }

            fn replace_password_hash<'a>(
                &'a self,
                id: &'a str,
                expected: Option<&'a str>,
                new_hash: &'a str,
                history: usize,
                now: u64,
            ) -> $crate::store::StoreFuture<'a, $crate::authn::HashSwap> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("user id", id)?;
                    let row: Option<(Option<String>, String)> =
                        sqlx::query_as($crate::authn::sql::CREDENTIALS)
                            .bind(id)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(err)?;
                    let Some((stored, previous_text)) = row else {
                        return Ok($crate::authn::HashSwap::Missing);
                    };
                    if stored.as_deref() != expected {
                        return Ok($crate::authn::HashSwap::Stale);
                    }
                    let previous = $crate::authn::sql::history($backend, &previous_text)?;
                    let next = $crate::authn::user::next_history(expected, &previous, history);
                    let done = sqlx::query($crate::authn::sql::SWAP_HASH)
                        .bind(id)
                        .bind(new_hash)
                        .bind($crate::authn::sql::json_list(&next))
                        .bind($crate::store::to_sql_secs(now))
                        .bind(expected.unwrap_or(""))
                        .bind(&previous_text)
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(if done.rows_affected() == 1 {
                        $crate::authn::HashSwap::Swapped
                    } else {
                        $crate::authn::HashSwap::Stale
                    })
                }))
            }

            fn record_login<'a>(
                &'a self,
                id: &'a str,
                at: u64,
            ) -> $crate::store::StoreFuture<'a, bool> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("user id", id)?;
                    let done = sqlx::query($crate::authn::sql::RECORD_LOGIN)
                        .bind(id)
                        .bind($crate::store::to_sql_secs(at))
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(done.rows_affected() > 0)
                }))
            }

            fn tenant_roles(&self) -> Option<&dyn $crate::authn::TenantRoleStore> {
                Some(self)
            }
        }

        impl $crate::authn::TenantRoleStore for $store {
            fn assign<'a>(
                &'a self,
                user_id: &'a str,
                tenant: &'a str,
                roles: &'a [String],
            ) -> $crate::store::StoreFuture<'a, bool> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    let roles = $crate::authn::tenant::checked_assignment(user_id, tenant, roles)?;
                    let result = sqlx::query($crate::authn::sql::ASSIGN)
                        .bind(user_id)
                        .bind(tenant)
                        .bind($crate::authn::sql::json_list(&roles))
                        .execute(&self.pool)
                        .await;
                    match result {
                        Ok(done) => Ok(done.rows_affected() > 0),
                        // The user was deleted between the check and the insert.
                        Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                            Ok(false)
                        }
                        Err(error) => Err(err(error)),
                    }
                }))
            }

            fn unassign<'a>(
                &'a self,
                user_id: &'a str,
                tenant: &'a str,
            ) -> $crate::store::StoreFuture<'a, bool> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::authn::tenant::checked_key(user_id, tenant)?;
                    let done = sqlx::query($crate::authn::sql::UNASSIGN)
                        .bind(user_id)
                        .bind(tenant)
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    Ok(done.rows_affected() > 0)
                }))
            }

            fn roles_in<'a>(
                &'a self,
                user_id: &'a str,
                tenant: &'a str,
            ) -> $crate::store::StoreFuture<'a, Option<Vec<String>>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::authn::tenant::checked_key(user_id, tenant)?;
                    let text: Option<String> = sqlx::query_scalar($crate::authn::sql::ROLES_IN)
                        .bind(user_id)
                        .bind(tenant)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(err)?;
                    text.map(|text| $crate::authn::sql::roles($backend, &text))
                        .transpose()
                }))
            }

            fn tenants_of<'a>(
                &'a self,
                user_id: &'a str,
            ) -> $crate::store::StoreFuture<'a, Vec<(String, Vec<String>)>> {
                Box::pin($crate::store::bounded($backend, self.timeout, async move {
                    $crate::store::check_id("user id", user_id)?;
                    let rows: Vec<(String, String)> =
                        sqlx::query_as($crate::authn::sql::TENANTS_OF)
                            .bind(user_id)
                            .fetch_all(&self.pool)
                            .await
                            .map_err(err)?;
                    $crate::authn::sql::memberships($backend, rows)
                }))
            }
        }
    };
}
pub(super) use impl_sql_user_store;
