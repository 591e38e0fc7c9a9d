//! The storage side of sessions: [`SessionStore`] and its record.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::Principal;

pub use crate::store::{StoreError, StoreFuture};

/// One session as a store keeps it.
///
/// The session's secret never reaches a store: `key` is the SHA-256 (hex)
/// of the token the client holds, so a leaked table or Redis dump does not
/// let anyone resume a session. All instants are Unix seconds.
///
/// A record is live while `now < idle_expires_at` and `now < expires_at`;
/// stores never return a record that is not live.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 (hex) of the session token's secret: the store's key, and the
    /// session's public id in listings.
    pub key: String,
    /// The user the session belongs to.
    pub user_id: String,
    /// When the session was created (the login).
    pub created_at: u64,
    /// The last recorded activity (writes are debounced).
    pub last_active_at: u64,
    /// The idle deadline: `last_active_at` plus the idle timeout.
    pub idle_expires_at: u64,
    /// The absolute deadline: `created_at` plus the absolute timeout; never
    /// moved by activity or rotation.
    pub expires_at: u64,
    /// When the user last authenticated (logged in or re-authenticated).
    pub auth_time: u64,
    /// The device id: SHA-256 (hex) of the client attributes seen at login.
    pub device_id: Option<String>,
    /// The client address seen at login.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` seen at login (at most 512 bytes kept).
    pub user_agent: Option<String>,
    /// The principal's roles, permissions, tenant and authentication
    /// methods at login (or the last rotation). Stores that keep text keep
    /// it as JSON ([`SessionData::to_json`], [`SessionData::from_json`]).
    pub data: SessionData,
}

/// What a session knows of its principal besides the user id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionData {
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Direct permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// The tenant, if any.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Authentication methods (RFC 8176 `amr` values).
    #[serde(default)]
    pub amr: Vec<String>,
}

impl SessionData {
    /// The data of `principal`.
    #[must_use]
    pub fn of(principal: &Principal) -> Self {
        Self {
            roles: principal.roles().to_vec(),
            permissions: principal.permissions().to_vec(),
            tenant: principal.tenant().map(str::to_owned),
            amr: principal.amr().to_vec(),
        }
    }

    /// As JSON text, for stores that keep text.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Strings and vectors of strings always serialise.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads [`to_json`](Self::to_json)'s text back.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] (naming `backend`) for any other text.
    pub fn from_json(text: &str, backend: &'static str) -> Result<Self, StoreError> {
        serde_json::from_str(text).map_err(|_| StoreError::Corrupt {
            backend,
            detail: "the session data is not the JSON this library writes",
        })
    }
}

impl SessionRecord {
    /// Whether the record is live at `now`.
    #[must_use]
    pub fn is_live(&self, now: u64) -> bool {
        now < self.idle_expires_at && now < self.expires_at
    }

    /// When the record stops being live: the earlier deadline.
    #[must_use]
    pub fn deadline(&self) -> u64 {
        self.idle_expires_at.min(self.expires_at)
    }
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("key", &self.key)
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("last_active_at", &self.last_active_at)
            .field("idle_expires_at", &self.idle_expires_at)
            .field("expires_at", &self.expires_at)
            .field("auth_time", &self.auth_time)
            .field("device_id", &self.device_id)
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

/// What to do when a user already has the most sessions allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LimitPolicy {
    /// End the least recently active sessions to make room (the default).
    #[default]
    EvictLeastRecentlyActive,
    /// Refuse the new session; the existing ones stay.
    DenyNew,
}

/// A cap on a user's live sessions, applied atomically by
/// [`SessionStore::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionLimit {
    /// The most live sessions a user may have (at least 1).
    pub max: u32,
    /// What happens at the cap.
    pub policy: LimitPolicy,
}

/// What [`SessionStore::insert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Inserted {
    /// The session was stored; `evicted` lists the keys of the sessions
    /// ended to make room (least recently active first).
    Inserted {
        /// Keys of the evicted sessions.
        evicted: Vec<String>,
    },
    /// The user is at the limit and the policy is
    /// [`LimitPolicy::DenyNew`]: nothing was written.
    Denied,
}

/// Where sessions live.
///
/// Implementations: [`MemorySessionStore`](super::MemorySessionStore),
/// `SqliteSessionStore` (feature `sqlite`), `PostgresSessionStore`
/// (`postgres`) and `RedisSessionStore` (`redis`); one conformance suite in
/// the `tests` crate runs against all of them.
///
/// Every operation names the user as well as the key, so that a store may
/// keep a user's sessions together (Redis keeps them in one hash slot,
/// which makes the limit check and "log out everywhere" atomic even on
/// Redis Cluster). A record found under `key` whose `user_id` differs is
/// treated as absent.
///
/// Every method takes `now` from the caller; records that are not live at
/// `now` are never returned and never count towards a limit. A
/// [`StoreError`] means "unknown", never "absent": callers fail closed.
pub trait SessionStore: fmt::Debug + Send + Sync {
    /// Stores `record`. With a `limit`, in the same atomic step: counts the
    /// user's live sessions and, at the cap, evicts the least recently
    /// active ones or refuses, as the limit's policy says. No moment ever
    /// sees more live sessions of one user than `limit.max`.
    fn insert<'a>(
        &'a self,
        record: &'a SessionRecord,
        limit: Option<SessionLimit>,
        now: u64,
    ) -> StoreFuture<'a, Inserted>;

    /// The live session of `user_id` under `key`.
    fn get<'a>(
        &'a self,
        user_id: &'a str,
        key: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<SessionRecord>>;

    /// Records activity: sets `last_active_at` and `idle_expires_at` of a
    /// live session (never moving either backwards). `false` when the
    /// session is gone.
    fn touch<'a>(
        &'a self,
        user_id: &'a str,
        key: &'a str,
        last_active_at: u64,
        idle_expires_at: u64,
        now: u64,
    ) -> StoreFuture<'a, bool>;

    /// Rotation: removes the live session `old_key` of `record.user_id` and
    /// stores `record` in its place, atomically. `false`, and nothing
    /// written, when `old_key` is not live (already rotated, revoked or
    /// expired): of two concurrent rotations of one session, one wins.
    fn replace<'a>(
        &'a self,
        old_key: &'a str,
        record: &'a SessionRecord,
        now: u64,
    ) -> StoreFuture<'a, bool>;

    /// Removes one session; `false` if there was none.
    fn remove<'a>(&'a self, user_id: &'a str, key: &'a str) -> StoreFuture<'a, bool>;

    /// Removes every session of `user_id` except `keep` (if given);
    /// returns how many live ones were removed.
    fn remove_user<'a>(
        &'a self,
        user_id: &'a str,
        keep: Option<&'a str>,
        now: u64,
    ) -> StoreFuture<'a, u64>;

    /// The user's live sessions, most recently active first.
    fn list_user<'a>(&'a self, user_id: &'a str, now: u64) -> StoreFuture<'a, Vec<SessionRecord>>;

    /// Deletes records that are no longer live; returns how many. Stores
    /// with native expiry (Redis) may do nothing and return 0.
    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64>;
}
