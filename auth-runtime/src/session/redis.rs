//! The Redis session store (feature `redis`).

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::Script;
use redis::aio::{ConnectionLike, ConnectionManager};

use super::store::{Inserted, LimitPolicy, SessionData, SessionLimit, SessionRecord, SessionStore};
use crate::store::redis::{BACKEND, redis_error};
use crate::store::{DEFAULT_TIMEOUT, MAX_KEEP_SECS, StoreError, StoreFuture, bounded, cap_until};

/// The hash fields of a record, in [`SessionRecord`] order after the key.
const FIELDS: [&str; 10] = [
    "user_id",
    "created_at",
    "last_active_at",
    "idle_expires_at",
    "expires_at",
    "auth_time",
    "device_id",
    "ip",
    "user_agent",
    "data",
];

/// The Lua helpers every script starts with: whether a record's deadlines
/// are live at `now`, and moving the index's expiry to at least `at` (the
/// index lives as long as its longest-lived record, by Redis's clock).
macro_rules! lua_helpers {
    () => {
        r"
local function is_live(idle, exp, now)
  idle, exp = tonumber(idle), tonumber(exp)
  return idle ~= nil and exp ~= nil and now < idle and now < exp
end
local function extend(idx, at)
  at = tonumber(at)
  local t = tonumber(redis.call('TIME')[1])
  if at <= t then at = t + 1 end
  local ttl = redis.call('TTL', idx)
  if ttl == -2 then return end
  if ttl == -1 or t + ttl < at then redis.call('EXPIREAT', idx, at) end
end
"
    };
}

/// Inserts a record under an optional limit. `KEYS[1]` the user's index,
/// `KEYS[2]` the record; `ARGV` now, max (0: no limit), deny (`1`/`0`), the
/// user's record key prefix, the new key, its score (last activity), its
/// deadline, then the record's field/value pairs. Returns `{'denied'}` or
/// `{'inserted', evicted keys...}`.
const INSERT: &str = concat!(
    lua_helpers!(),
    r"
local idx, rec = KEYS[1], KEYS[2]
local now, max, deny, base = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1', ARGV[4]
local out = {'inserted'}
if max > 0 then
  local live = {}
  for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
    local f = redis.call('HMGET', base .. m,
      'last_active_at', 'created_at', 'idle_expires_at', 'expires_at')
    if is_live(f[3], f[4], now) then
      live[#live + 1] = {tonumber(f[1]) or 0, tonumber(f[2]) or 0, m}
    else
      redis.call('ZREM', idx, m)
      redis.call('DEL', base .. m)
    end
  end
  if #live >= max then
    if deny then return {'denied'} end
    table.sort(live, function(a, b)
      if a[1] ~= b[1] then return a[1] < b[1] end
      if a[2] ~= b[2] then return a[2] < b[2] end
      return a[3] < b[3]
    end)
    for i = 1, #live + 1 - max do
      local m = live[i][3]
      redis.call('DEL', base .. m)
      redis.call('ZREM', idx, m)
      out[#out + 1] = m
    end
  end
end
redis.call('DEL', rec)
redis.call('HSET', rec, unpack(ARGV, 8))
redis.call('EXPIREAT', rec, ARGV[7])
redis.call('ZADD', idx, ARGV[6], ARGV[5])
extend(idx, ARGV[7])
return out
"
);

/// Records activity. `KEYS[1]` the index, `KEYS[2]` the record; `ARGV`
/// user, now, last active, idle deadline, the key, the latest deadline
/// allowed. Returns 1, or 0 when the session is not live.
const TOUCH: &str = concat!(
    lua_helpers!(),
    r"
local f = redis.call('HMGET', KEYS[2],
  'user_id', 'last_active_at', 'idle_expires_at', 'expires_at')
local now = tonumber(ARGV[2])
if f[1] ~= ARGV[1] or not is_live(f[3], f[4], now) then return 0 end
local last, idle = f[2], f[3]
if tonumber(ARGV[3]) > (tonumber(last) or 0) then last = ARGV[3] end
if tonumber(ARGV[4]) > tonumber(idle) then idle = ARGV[4] end
redis.call('HSET', KEYS[2], 'last_active_at', last, 'idle_expires_at', idle)
local deadline = math.min(tonumber(idle), tonumber(f[4]), tonumber(ARGV[6]))
deadline = string.format('%d', deadline)
redis.call('EXPIREAT', KEYS[2], deadline)
redis.call('ZADD', KEYS[1], last, ARGV[5])
extend(KEYS[1], deadline)
return 1
"
);

/// Rotation. `KEYS[1]` the index, `KEYS[2]` the old record, `KEYS[3]` the
/// new one; `ARGV` user, now, old key, new key, its score, its deadline,
/// then the new record's field/value pairs. Returns 1, or 0 (nothing
/// written) when the old session is not live.
const REPLACE: &str = concat!(
    lua_helpers!(),
    r"
local f = redis.call('HMGET', KEYS[2], 'user_id', 'idle_expires_at', 'expires_at')
if f[1] ~= ARGV[1] or not is_live(f[2], f[3], tonumber(ARGV[2])) then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], unpack(ARGV, 7))
redis.call('EXPIREAT', KEYS[3], ARGV[6])
redis.call('ZADD', KEYS[1], ARGV[5], ARGV[4])
extend(KEYS[1], ARGV[6])
return 1
"
);

/// Removes one session. `KEYS[1]` the index, `KEYS[2]` the record; `ARGV`
/// user, key. Returns 1 if a record of the user was deleted.
const REMOVE: &str = r"
local removed = 0
if redis.call('HGET', KEYS[2], 'user_id') == ARGV[1] then
  removed = redis.call('DEL', KEYS[2])
end
redis.call('ZREM', KEYS[1], ARGV[2])
return removed
";

/// Removes a user's sessions but one. `KEYS[1]` the index; `ARGV` the
/// user's record key prefix, the key to keep (`''` for none), now, user.
/// Returns how many live ones were removed.
const REMOVE_USER: &str = concat!(
    lua_helpers!(),
    r"
local base, keep, now, user = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local removed = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if m ~= keep then
    local f = redis.call('HMGET', base .. m, 'user_id', 'idle_expires_at', 'expires_at')
    if f[1] == user then
      redis.call('DEL', base .. m)
      if is_live(f[2], f[3], now) then removed = removed + 1 end
    end
    redis.call('ZREM', KEYS[1], m)
  end
end
return removed
"
);

/// A user's live records. `KEYS[1]` the index; `ARGV` the user's record
/// key prefix, now, user. Returns `{key, fields...}` per live record, and
/// drops index members whose record Redis has expired.
const LIST: &str = concat!(
    lua_helpers!(),
    r"
local base, now, user = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local out = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', base .. m, 'user_id', 'created_at', 'last_active_at',
    'idle_expires_at', 'expires_at', 'auth_time', 'device_id', 'ip', 'user_agent', 'data')
  if not f[1] then
    redis.call('ZREM', KEYS[1], m)
  elseif f[1] == user and is_live(f[4], f[5], now) then
    table.insert(f, 1, m)
    out[#out + 1] = f
  end
end
return out
"
);

/// A [`SessionStore`] in Redis, shared by every application instance that
/// uses the same Redis (or Redis Cluster).
///
/// Each session is a hash whose key expires at the session's deadline (the
/// earlier of its idle and absolute deadlines), set with `EXPIREAT`, an
/// absolute instant: a Redis restarted from its append-only file keeps
/// every session with its remaining life. Activity
/// ([`touch`](SessionStore::touch)) moves the expiry. Each user has an
/// index, a sorted set of their session keys scored by last activity.
/// Keys, for the prefix `lexigram` and a user id whose base64url (no
/// padding) is `<u>`:
///
/// | key | value |
/// |---|---|
/// | `lexigram:session:{<u>}:s:<key>` | hash: the record's fields |
/// | `lexigram:session:{<u>}:idx` | sorted set: keys by last activity |
///
/// A user's keys share the hash tag `{<u>}` (never empty, and free of
/// braces whatever the user id), so every operation on one user touches one
/// slot and is one Lua script, atomic on the server, on Redis Cluster as on
/// a single server: an insert cleans the index of dead members, counts the
/// live sessions, evicts the least recently active ones or refuses, and
/// writes, in one step, so a user never has more live sessions than the
/// limit however many logins race on however many instances. Rotation,
/// activity and "log out everywhere" are scripts too. (The insert and
/// "log out everywhere" scripts reach the user's session keys through the
/// index: keys of the same slot, not declared to the script.)
///
/// Records are checked against the caller's `now` on every read; Redis's
/// own expiry, by its clock, only frees the memory.
/// [`purge_expired`](SessionStore::purge_expired) does nothing and returns
/// 0: index members whose session has expired are dropped when the user's
/// index is next read or written, and an index expires with its
/// longest-lived session. Each operation is bounded by a timeout (default 2
/// s): a dead or unreachable Redis gives [`StoreError::Unavailable`]
/// instead of hanging, and the connection manager reconnects on later
/// calls once Redis is back.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use lexigram_auth::Principal;
/// use lexigram_auth::session::{ClientInfo, RedisSessionStore, SessionConfig, SessionManager};
///
/// # async fn demo() -> Result<(), lexigram_auth::error::SessionError> {
/// let store = RedisSessionStore::connect("redis://127.0.0.1:6379/0")
///     .await?
///     .with_timeout(Duration::from_millis(500));
/// let sessions = SessionManager::new(
///     Arc::new(store),
///     SessionConfig { max_sessions_per_user: Some(5), ..SessionConfig::default() },
/// )?;
/// let client = ClientInfo::default();
/// let login = sessions.create(&Principal::new("alice"), &client).await?;
/// assert_eq!(sessions.validate(login.token.expose(), &client).await?.user_id(), "alice");
/// # Ok(())
/// # }
/// ```
pub struct RedisSessionStore<C = ConnectionManager> {
    connection: C,
    timeout: Duration,
    prefix: String,
    insert: Script,
    touch: Script,
    replace: Script,
    remove: Script,
    remove_user: Script,
    list: Script,
}

crate::store::redis::redis_store_common!(RedisSessionStore, prefix_doc = "every session key");

impl<C> RedisSessionStore<C>
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
            insert: Script::new(INSERT),
            touch: Script::new(TOUCH),
            replace: Script::new(REPLACE),
            remove: Script::new(REMOVE),
            remove_user: Script::new(REMOVE_USER),
            list: Script::new(LIST),
        }
    }

    /// The Redis key of the session `key` of `user_id`, for operators and
    /// tests (its TTL is the session's remaining life).
    #[must_use]
    pub fn session_key(&self, user_id: &str, key: &str) -> String {
        format!("{}{key}", self.base(user_id))
    }

    /// The prefix of a user's session keys: `<prefix>:session:{<u>}:s:`.
    fn base(&self, user_id: &str) -> String {
        format!(
            "{}:session:{{{}}}:s:",
            self.prefix,
            URL_SAFE_NO_PAD.encode(user_id)
        )
    }

    /// The user's index: `<prefix>:session:{<u>}:idx`.
    fn index(&self, user_id: &str) -> String {
        format!(
            "{}:session:{{{}}}:idx",
            self.prefix,
            URL_SAFE_NO_PAD.encode(user_id)
        )
    }

    fn run<'a, T: Send + 'a>(
        &'a self,
        operation: impl Future<Output = Result<T, StoreError>> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        Box::pin(bounded(BACKEND, self.timeout, operation))
    }
}

/// Checks the identifiers every operation takes.
fn check(user_id: &str, key: &str) -> Result<(), StoreError> {
    crate::store::check_id("user id", user_id)?;
    crate::store::check_id("session key", key)
}

/// A record's hash fields and values (absent optional fields are left out).
fn fields(record: &SessionRecord) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("user_id", record.user_id.clone()),
        ("created_at", record.created_at.to_string()),
        ("last_active_at", record.last_active_at.to_string()),
        ("idle_expires_at", record.idle_expires_at.to_string()),
        ("expires_at", record.expires_at.to_string()),
        ("auth_time", record.auth_time.to_string()),
        ("data", record.data.to_json()),
    ];
    if let Some(device_id) = &record.device_id {
        out.push(("device_id", device_id.clone()));
    }
    if let Some(ip) = record.ip {
        out.push(("ip", ip.to_string()));
    }
    if let Some(user_agent) = &record.user_agent {
        out.push(("user_agent", user_agent.clone()));
    }
    out
}

/// The expiry instant of a record's Redis key: its deadline, capped.
fn expiry(record: &SessionRecord, now: u64) -> u64 {
    cap_until(record.deadline(), now)
}

fn corrupt(detail: &'static str) -> StoreError {
    StoreError::Corrupt {
        backend: BACKEND,
        detail,
    }
}

/// A record from its key and its [`FIELDS`] as `HMGET` returns them;
/// `None` when the hash is gone.
fn record(key: String, values: Vec<Option<String>>) -> Result<Option<SessionRecord>, StoreError> {
    let [
        user_id,
        created,
        last,
        idle,
        expires,
        auth,
        device_id,
        ip,
        user_agent,
        data,
    ]: [Option<String>; 10] = values
        .try_into()
        .map_err(|_| corrupt("a session reply of the wrong length"))?;
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    let secs = |value: Option<String>| -> Result<u64, StoreError> {
        value
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| corrupt("a session timestamp that is not a number"))
    };
    let ip = ip
        .map(|ip| {
            ip.parse::<IpAddr>()
                .map_err(|_| corrupt("a session ip that is not an IP address"))
        })
        .transpose()?;
    Ok(Some(SessionRecord {
        key,
        user_id,
        created_at: secs(created)?,
        last_active_at: secs(last)?,
        idle_expires_at: secs(idle)?,
        expires_at: secs(expires)?,
        auth_time: secs(auth)?,
        device_id,
        ip,
        user_agent,
        data: SessionData::from_json(
            &data.ok_or_else(|| corrupt("a session without data"))?,
            BACKEND,
        )?,
    }))
}

impl<C> SessionStore for RedisSessionStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    fn insert<'a>(
        &'a self,
        record: &'a SessionRecord,
        limit: Option<SessionLimit>,
        now: u64,
    ) -> StoreFuture<'a, Inserted> {
        self.run(async move {
            check(&record.user_id, &record.key)?;
            let (max, deny) = limit.map_or((0, false), |limit| {
                (limit.max.max(1), limit.policy == LimitPolicy::DenyNew)
            });
            let mut invocation = self.insert.key(self.index(&record.user_id));
            invocation
                .key(self.session_key(&record.user_id, &record.key))
                .arg(now)
                .arg(max)
                .arg(if deny { "1" } else { "0" })
                .arg(self.base(&record.user_id))
                .arg(&record.key)
                .arg(record.last_active_at)
                .arg(expiry(record, now));
            for (field, value) in fields(record) {
                invocation.arg(field).arg(value);
            }
            let mut connection = self.connection.clone();
            let reply: Vec<String> = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            let mut reply = reply.into_iter();
            match reply.next().as_deref() {
                Some("inserted") => Ok(Inserted::Inserted {
                    evicted: reply.collect(),
                }),
                Some("denied") => Ok(Inserted::Denied),
                _ => Err(corrupt("an unknown insert script result")),
            }
        })
    }

    fn get<'a>(
        &'a self,
        user_id: &'a str,
        key: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<SessionRecord>> {
        self.run(async move {
            check(user_id, key)?;
            let mut connection = self.connection.clone();
            let values: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(self.session_key(user_id, key))
                .arg(&FIELDS[..])
                .query_async(&mut connection)
                .await
                .map_err(redis_error)?;
            Ok(record(key.to_owned(), values)?.filter(|r| r.user_id == user_id && r.is_live(now)))
        })
    }

    fn touch<'a>(
        &'a self,
        user_id: &'a str,
        key: &'a str,
        last_active_at: u64,
        idle_expires_at: u64,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        self.run(async move {
            check(user_id, key)?;
            let mut connection = self.connection.clone();
            let touched: i64 = self
                .touch
                .key(self.index(user_id))
                .key(self.session_key(user_id, key))
                .arg(user_id)
                .arg(now)
                .arg(last_active_at)
                .arg(idle_expires_at)
                .arg(key)
                .arg(now.saturating_add(MAX_KEEP_SECS))
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            Ok(touched == 1)
        })
    }

    fn replace<'a>(
        &'a self,
        old_key: &'a str,
        record: &'a SessionRecord,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        self.run(async move {
            check(&record.user_id, old_key)?;
            check(&record.user_id, &record.key)?;
            let user_id = &record.user_id;
            let mut invocation = self.replace.key(self.index(user_id));
            invocation
                .key(self.session_key(user_id, old_key))
                .key(self.session_key(user_id, &record.key))
                .arg(user_id)
                .arg(now)
                .arg(old_key)
                .arg(&record.key)
                .arg(record.last_active_at)
                .arg(expiry(record, now));
            for (field, value) in fields(record) {
                invocation.arg(field).arg(value);
            }
            let mut connection = self.connection.clone();
            let replaced: i64 = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            Ok(replaced == 1)
        })
    }

    fn remove<'a>(&'a self, user_id: &'a str, key: &'a str) -> StoreFuture<'a, bool> {
        self.run(async move {
            check(user_id, key)?;
            let mut connection = self.connection.clone();
            let removed: i64 = self
                .remove
                .key(self.index(user_id))
                .key(self.session_key(user_id, key))
                .arg(user_id)
                .arg(key)
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            Ok(removed == 1)
        })
    }

    fn remove_user<'a>(
        &'a self,
        user_id: &'a str,
        keep: Option<&'a str>,
        now: u64,
    ) -> StoreFuture<'a, u64> {
        self.run(async move {
            crate::store::check_id("user id", user_id)?;
            let mut connection = self.connection.clone();
            let removed: u64 = self
                .remove_user
                .key(self.index(user_id))
                .arg(self.base(user_id))
                .arg(keep.unwrap_or(""))
                .arg(now)
                .arg(user_id)
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            Ok(removed)
        })
    }

    fn list_user<'a>(&'a self, user_id: &'a str, now: u64) -> StoreFuture<'a, Vec<SessionRecord>> {
        self.run(async move {
            crate::store::check_id("user id", user_id)?;
            let mut connection = self.connection.clone();
            let rows: Vec<Vec<Option<String>>> = self
                .list
                .key(self.index(user_id))
                .arg(self.base(user_id))
                .arg(now)
                .arg(user_id)
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            let mut records = Vec::with_capacity(rows.len());
            for mut row in rows {
                if row.is_empty() {
                    return Err(corrupt("an empty session row"));
                }
                let key = row
                    .remove(0)
                    .ok_or_else(|| corrupt("a session row without a key"))?;
                if let Some(record) = record(key, row)? {
                    records.push(record);
                }
            }
            records.sort_by(|a, b| {
                b.last_active_at
                    .cmp(&a.last_active_at)
                    .then_with(|| b.created_at.cmp(&a.created_at))
                    .then_with(|| a.key.cmp(&b.key))
            });
            Ok(records)
        })
    }

    /// Returns `0`: Redis drops each session itself when its deadline
    /// passes, and the index members of expired sessions are dropped when
    /// the user's index is next used.
    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        let _ = now;
        Box::pin(std::future::ready(Ok(0)))
    }
}
