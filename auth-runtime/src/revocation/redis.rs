//! The Redis revocation store (feature `redis`).

use std::future::Future;
use std::time::Duration;

use redis::Script;
use redis::aio::{ConnectionLike, ConnectionManager};

use super::{
    FAMILY, JTI, RefreshUse, Revocation, RevocationStore, StoreError, StoreFuture, USER, check_ids,
    verdict,
};
use crate::store::redis::{BACKEND, redis_error};
use crate::store::{DEFAULT_TIMEOUT, bounded, cap_until};

/// Sets a single-value record unless a live one with a later instant exists.
/// `KEYS[1]` the record; `ARGV` until, now, ttl.
const REVOKE_UNTIL: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '')
if current and current > tonumber(ARGV[2]) and current >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
";

/// Merges a user's cut-off: the larger `at` of the live record and the new
/// one, the later `until` (and its TTL). `KEYS[1]` the user's hash (`at`,
/// `until`); `ARGV` at, until, now, ttl.
const REVOKE_USER: &str = r"
local now = tonumber(ARGV[3])
local current = redis.call('HMGET', KEYS[1], 'at', 'until')
local cur_at, cur_until = tonumber(current[1] or ''), tonumber(current[2] or '')
local at, untl, ttl = ARGV[1], ARGV[2], ARGV[4]
if cur_at and cur_until and cur_until > now then
  if cur_at > tonumber(ARGV[1]) then at = current[1] end
  if cur_until >= tonumber(ARGV[2]) then untl = current[2]; ttl = nil end
end
redis.call('HSET', KEYS[1], 'at', at, 'until', untl)
if ttl then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
";

/// Consumes a refresh token. `KEYS[1]` the family's revocation, `KEYS[2]`
/// the token's use: one hash slot, both are tagged `{fam:<family>}`.
/// `ARGV` until, now, ttl. Returns 0 first use, 1 reuse (the family is now
/// revoked until the later of the two uses' instants), 2 family revoked.
const CONSUME: &str = r"
local now = tonumber(ARGV[2])
local revoked = tonumber(redis.call('GET', KEYS[1]) or '')
if revoked and revoked > now then return 2 end
local used_text = redis.call('GET', KEYS[2])
local used = tonumber(used_text or '')
if used and used > now then
  local untl, ttl = ARGV[1], tonumber(ARGV[3])
  if used > tonumber(ARGV[1]) then untl, ttl = used_text, used - now end
  redis.call('SET', KEYS[1], untl, 'EX', ttl)
  return 1
end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
return 0
";

/// A [`RevocationStore`] in Redis, shared by every application instance
/// that uses the same Redis.
///
/// Every record is a key with a TTL equal to its remaining life, so Redis
/// forgets it when it can no longer matter; the stored value is the expiry
/// instant, compared with the caller's `now` on every read. Writes that
/// merge (a later expiry wins, a larger "revoked before" wins) and refresh
/// token consumption are Lua scripts, atomic on the server. Keys:
///
/// | key | value |
/// |---|---|
/// | `lexigram:rv:jti:<jti>` | expiry |
/// | `lexigram:rv:user:<user id>` | hash `at`, `until` |
/// | `lexigram:rt:{fam:<family>}:revoked` | revoked until |
/// | `lexigram:rt:{fam:<family>}:used:<jti>` | use remembered until |
///
/// The two keys a refresh script touches share the hash tag
/// `{fam:<family>}` (never empty, whatever the id), so they live in one
/// slot and the store works unchanged on Redis Cluster: pass a cluster
/// connection to [`from_connection`](Self::from_connection).
///
/// [`check`](RevocationStore::check) is one pipelined round trip. Each
/// operation is bounded by a timeout (default 2 s): a dead or unreachable
/// Redis gives [`StoreError::Unavailable`] instead of hanging, and the
/// connection manager reconnects on later calls once Redis is back.
///
/// ```no_run
/// use std::time::Duration;
/// use lexigram_auth::revocation::{RedisRevocationStore, RevocationStore};
///
/// # async fn demo() -> Result<(), lexigram_auth::store::StoreError> {
/// let store = RedisRevocationStore::connect("redis://127.0.0.1:6379/0")
///     .await?
///     .with_timeout(Duration::from_millis(500));
/// store.revoke_jti("jti-1", 2_000, 1_000).await?;
/// assert!(store.is_jti_revoked("jti-1", 1_500).await?);
/// # Ok(())
/// # }
/// ```
pub struct RedisRevocationStore<C = ConnectionManager> {
    connection: C,
    timeout: Duration,
    prefix: String,
    revoke_until: Script,
    revoke_user: Script,
    consume: Script,
}

crate::store::redis::redis_store_common!(RedisRevocationStore, prefix_doc = "every revocation key");

impl<C> RedisRevocationStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// A store on an existing connection: a [`ConnectionManager`], a
    /// multiplexed connection, or a cluster connection.
    #[must_use]
    pub fn from_connection(connection: C) -> Self {
        Self {
            connection,
            timeout: DEFAULT_TIMEOUT,
            prefix: "lexigram".to_owned(),
            revoke_until: Script::new(REVOKE_UNTIL),
            revoke_user: Script::new(REVOKE_USER),
            consume: Script::new(CONSUME),
        }
    }

    fn jti_key(&self, jti: &str) -> String {
        format!("{}:rv:jti:{jti}", self.prefix)
    }

    fn user_key(&self, user_id: &str) -> String {
        format!("{}:rv:user:{user_id}", self.prefix)
    }

    fn family_key(&self, family: &str) -> String {
        format!("{}:rt:{{fam:{family}}}:revoked", self.prefix)
    }

    fn used_key(&self, family: &str, jti: &str) -> String {
        format!("{}:rt:{{fam:{family}}}:used:{jti}", self.prefix)
    }

    fn run<'a, T: Send + 'a>(
        &'a self,
        operation: impl Future<Output = Result<T, StoreError>> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        Box::pin(bounded(BACKEND, self.timeout, operation))
    }

    async fn set_until(&self, key: String, until: u64, now: u64) -> Result<(), StoreError> {
        if until <= now {
            return Ok(());
        }
        let until = cap_until(until, now);
        let mut connection = self.connection.clone();
        self.revoke_until
            .key(key)
            .arg(until)
            .arg(now)
            .arg(until - now)
            .invoke_async::<i64>(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn get_until(&self, key: String) -> Result<Option<u64>, StoreError> {
        let mut connection = self.connection.clone();
        let value: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await
            .map_err(redis_error)?;
        parse_secs(value)
    }
}

/// A stored instant read back; anything but a decimal number is corrupt.
fn parse_secs(value: Option<String>) -> Result<Option<u64>, StoreError> {
    value
        .map(|text| {
            text.parse().map_err(|_| StoreError::Corrupt {
                backend: BACKEND,
                detail: "a record that is not a timestamp",
            })
        })
        .transpose()
}

/// The `at` and `until` fields of a user's hash, as stored.
type UserFields = (Option<String>, Option<String>);

/// A user's cut-off from its hash fields, if both are there and it is live.
fn user_cutoff(fields: UserFields, now: u64) -> Result<Option<u64>, StoreError> {
    match (parse_secs(fields.0)?, parse_secs(fields.1)?) {
        (Some(at), Some(until)) if until > now => Ok(Some(at)),
        _ => Ok(None),
    }
}

impl<C> RevocationStore for RedisRevocationStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    fn revoke_jti<'a>(&'a self, jti: &'a str, expires_at: u64, now: u64) -> StoreFuture<'a, ()> {
        self.run(async move {
            check_ids(&[(JTI, jti)])?;
            self.set_until(self.jti_key(jti), expires_at, now).await
        })
    }

    fn is_jti_revoked<'a>(&'a self, jti: &'a str, now: u64) -> StoreFuture<'a, bool> {
        self.run(async move {
            check_ids(&[(JTI, jti)])?;
            Ok(self
                .get_until(self.jti_key(jti))
                .await?
                .is_some_and(|until| until > now))
        })
    }

    fn revoke_user_before<'a>(
        &'a self,
        user_id: &'a str,
        at: u64,
        keep_until: u64,
        now: u64,
    ) -> StoreFuture<'a, ()> {
        self.run(async move {
            check_ids(&[(USER, user_id)])?;
            if keep_until <= now {
                return Ok(());
            }
            let keep_until = cap_until(keep_until, now);
            let mut connection = self.connection.clone();
            self.revoke_user
                .key(self.user_key(user_id))
                .arg(at)
                .arg(keep_until)
                .arg(now)
                .arg(keep_until - now)
                .invoke_async::<i64>(&mut connection)
                .await
                .map_err(redis_error)?;
            Ok(())
        })
    }

    fn user_revoked_before<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<u64>> {
        self.run(async move {
            check_ids(&[(USER, user_id)])?;
            let mut connection = self.connection.clone();
            let fields: UserFields = redis::cmd("HMGET")
                .arg(self.user_key(user_id))
                .arg("at")
                .arg("until")
                .query_async(&mut connection)
                .await
                .map_err(redis_error)?;
            user_cutoff(fields, now)
        })
    }

    fn consume_refresh<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        expires_at: u64,
        now: u64,
    ) -> StoreFuture<'a, RefreshUse> {
        self.run(async move {
            check_ids(&[(FAMILY, family), (JTI, jti)])?;
            let until = cap_until(expires_at.max(now.saturating_add(1)), now);
            let mut connection = self.connection.clone();
            let outcome: i64 = self
                .consume
                .key(self.family_key(family))
                .key(self.used_key(family, jti))
                .arg(until)
                .arg(now)
                .arg(until - now)
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            match outcome {
                0 => Ok(RefreshUse::First),
                1 => Ok(RefreshUse::Reused),
                2 => Ok(RefreshUse::FamilyRevoked),
                _ => Err(StoreError::Corrupt {
                    backend: BACKEND,
                    detail: "an unknown refresh script result",
                }),
            }
        })
    }

    fn revoke_family<'a>(
        &'a self,
        family: &'a str,
        keep_until: u64,
        now: u64,
    ) -> StoreFuture<'a, ()> {
        self.run(async move {
            check_ids(&[(FAMILY, family)])?;
            self.set_until(self.family_key(family), keep_until, now)
                .await
        })
    }

    fn is_family_revoked<'a>(&'a self, family: &'a str, now: u64) -> StoreFuture<'a, bool> {
        self.run(async move {
            check_ids(&[(FAMILY, family)])?;
            Ok(self
                .get_until(self.family_key(family))
                .await?
                .is_some_and(|until| until > now))
        })
    }

    fn check<'a>(
        &'a self,
        jti: &'a str,
        user_id: &'a str,
        iat: u64,
        family: Option<&'a str>,
        now: u64,
    ) -> StoreFuture<'a, Revocation> {
        self.run(async move {
            check_ids(&[(JTI, jti), (USER, user_id)])?;
            if let Some(family) = family {
                check_ids(&[(FAMILY, family)])?;
            }
            // One pipelined round trip; the keys may sit in different slots,
            // which a cluster connection splits by node.
            let mut pipe = redis::pipe();
            pipe.cmd("GET").arg(self.jti_key(jti));
            pipe.cmd("HMGET")
                .arg(self.user_key(user_id))
                .arg("at")
                .arg("until");
            let mut connection = self.connection.clone();
            let (jti_until, user_fields, family_until) = match family {
                Some(family) => {
                    pipe.cmd("GET").arg(self.family_key(family));
                    let (jti_until, user_fields, family_until): (
                        Option<String>,
                        UserFields,
                        Option<String>,
                    ) = pipe
                        .query_async(&mut connection)
                        .await
                        .map_err(redis_error)?;
                    (jti_until, user_fields, family_until)
                }
                None => {
                    let (jti_until, user_fields): (Option<String>, UserFields) = pipe
                        .query_async(&mut connection)
                        .await
                        .map_err(redis_error)?;
                    (jti_until, user_fields, None)
                }
            };
            Ok(verdict(
                parse_secs(jti_until)?.is_some_and(|until| until > now),
                user_cutoff(user_fields, now)?,
                iat,
                parse_secs(family_until)?.is_some_and(|until| until > now),
            ))
        })
    }

    /// Returns `0`: Redis drops each record itself when its TTL runs out.
    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        let _ = now;
        Box::pin(std::future::ready(Ok(0)))
    }
}
