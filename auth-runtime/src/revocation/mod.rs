//! Token revocation and refresh-token families.
//!
//! ```
//! use lexigram_auth::revocation::{
//!     MemoryRevocationStore, RefreshUse, Revocation, RevocationStore, RevokedBy,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lexigram_auth::store::StoreError> {
//! let store = MemoryRevocationStore::new();
//! let now = 1_700_000_000; // Unix seconds; the caller owns the clock
//!
//! // Log one access token out: remembered until the token expires anyway.
//! store.revoke_jti("jti-1", now + 900, now).await?;
//! // "Log out everywhere": every token of alice issued up to now.
//! store.revoke_user_before("alice", now, now + 30 * 86_400, now).await?;
//!
//! // What every verification asks, in one call.
//! let verdict = store.check("jti-2", "alice", now - 60, None, now + 1).await?;
//! assert_eq!(verdict, Revocation::Revoked(RevokedBy::User));
//! let verdict = store.check("jti-3", "bob", now - 60, None, now + 1).await?;
//! assert_eq!(verdict, Revocation::Live);
//!
//! // Refresh tokens are single use; a second use is reuse and revokes the family.
//! let keep = now + 14 * 86_400;
//! let first = store.consume_refresh("family-1", "rt-1", keep, now).await?;
//! assert_eq!(first, RefreshUse::First);
//! let again = store.consume_refresh("family-1", "rt-1", keep, now).await?;
//! assert_eq!(again, RefreshUse::Reused);
//! let successor = store.consume_refresh("family-1", "rt-2", keep, now).await?;
//! assert_eq!(successor, RefreshUse::FamilyRevoked);
//! # Ok(())
//! # }
//! ```
//!
//! A [`RevocationStore`] remembers three things, each only as long as it can
//! matter:
//!
//! - **revoked token ids** (`jti`), until the token would have expired;
//! - per user, a **"revoked before" instant**: every token of the user with
//!   `iat <= at` is revoked;
//! - **refresh families**: each refresh token id is consumed at most once
//!   ([`RefreshUse::First`]); presenting a consumed one again is reuse,
//!   which revokes the whole family in the same atomic step
//!   ([`RefreshUse::Reused`]).
//!
//! All instants are Unix seconds and every method takes `now` from the
//! caller, so tests control the clock and every backend expires records the
//! same way. Expired records are never returned; backends drop them (Redis
//! by key TTLs, the others on [`purge_expired`](RevocationStore::purge_expired)
//! and now and then on writes).
//!
//! A store error must fail closed: a token whose revocation cannot be
//! checked is not accepted.
//!
//! # Backends
//!
//! | type | feature | for |
//! |---|---|---|
//! | [`MemoryRevocationStore`] | always | tests, a single instance |
//! | `SqliteRevocationStore` | `sqlite` | a single instance that survives restarts |
//! | `PostgresRevocationStore` | `postgres` | several instances sharing PostgreSQL |
//! | `RedisRevocationStore` | `redis` | several instances sharing Redis (or Redis Cluster) |
//!
//! One conformance suite in the `tests` crate runs against all of them.

use std::fmt;

pub use crate::store::{StoreError, StoreFuture};

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryRevocationStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresRevocationStore;
#[cfg(feature = "redis")]
pub use redis::RedisRevocationStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteRevocationStore;

/// The outcome of [`RevocationStore::consume_refresh`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum RefreshUse {
    /// The first use of this refresh token id in a live family: go ahead and
    /// issue the next pair.
    First,
    /// The refresh token id had already been consumed. The whole family has
    /// now been revoked; report reuse.
    Reused,
    /// The family had been revoked before this call (by reuse, logout or
    /// [`RevocationStore::revoke_family`]); nothing was recorded.
    FamilyRevoked,
}

/// The outcome of [`RevocationStore::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum Revocation {
    /// Nothing revokes the token.
    Live,
    /// The token is revoked; the field says by what.
    Revoked(RevokedBy),
}

impl Revocation {
    /// Whether the token is revoked.
    #[must_use]
    pub fn is_revoked(self) -> bool {
        matches!(self, Self::Revoked(_))
    }
}

/// What revoked a token (for logs; never shown to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevokedBy {
    /// Its `jti` was revoked.
    Token,
    /// Its user's tokens issued at or before some instant were revoked.
    User,
    /// Its refresh family was revoked.
    Family,
}

/// Where revoked tokens and consumed refresh tokens are remembered.
///
/// Object safe: hold it as `Arc<dyn RevocationStore>`. All instants are
/// Unix seconds; `now` is the caller's clock. Identifiers must be 1 to
/// [`MAX_ID_LEN`](crate::store::MAX_ID_LEN) bytes, or the call fails with
/// [`StoreError::InvalidId`].
///
/// Expiry instants passed here should be the last instant at which the
/// token could still be *accepted*: its `exp` plus the verifier's leeway.
/// A record is live while `now < expires_at`.
pub trait RevocationStore: fmt::Debug + Send + Sync {
    /// Revokes the token `jti` until `expires_at` (its TTL is the token's
    /// remaining life). A token already expired at `now` is a no-op.
    /// Revoking the same `jti` again keeps the later expiry.
    fn revoke_jti<'a>(&'a self, jti: &'a str, expires_at: u64, now: u64) -> StoreFuture<'a, ()>;

    /// Whether `jti` is revoked at `now`.
    fn is_jti_revoked<'a>(&'a self, jti: &'a str, now: u64) -> StoreFuture<'a, bool>;

    /// Revokes every token of `user_id` issued at or before `at` (`iat <=
    /// at`), remembered until `keep_until` (the longest lifetime of any of
    /// the user's tokens after `at`). A later call with a larger `at` wins;
    /// a smaller `at` never lowers it; the later `keep_until` is kept.
    ///
    /// A token issued in the same second as `at` counts as revoked.
    fn revoke_user_before<'a>(
        &'a self,
        user_id: &'a str,
        at: u64,
        keep_until: u64,
        now: u64,
    ) -> StoreFuture<'a, ()>;

    /// The instant before which (inclusive) `user_id`'s tokens are revoked,
    /// if any is recorded and live at `now`.
    fn user_revoked_before<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<u64>>;

    /// Atomically consumes the refresh token `jti` of `family`.
    ///
    /// - [`RefreshUse::FamilyRevoked`] if the family is revoked; nothing is
    ///   recorded.
    /// - [`RefreshUse::Reused`] if `jti` was already consumed; the family is
    ///   revoked in the same atomic step, until the later of `expires_at`
    ///   and the first use's `expires_at`.
    /// - [`RefreshUse::First`] otherwise; the use is remembered until
    ///   `expires_at`.
    ///
    /// Of any number of concurrent calls with the same `jti`, exactly one
    /// gets `First`, on every backend. `expires_at` should be the last
    /// instant at which *any* refresh token of the family could be accepted
    /// (with a fixed refresh lifetime: `now + lifetime + leeway`), so that a
    /// family revoked on reuse outlives the tokens issued after this one.
    /// An `expires_at` not after `now` is treated as `now + 1`.
    fn consume_refresh<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        expires_at: u64,
        now: u64,
    ) -> StoreFuture<'a, RefreshUse>;

    /// Revokes the refresh family `family` until `keep_until` (logout of one
    /// session). A `keep_until` not after `now` is a no-op; the later
    /// `keep_until` is kept.
    fn revoke_family<'a>(
        &'a self,
        family: &'a str,
        keep_until: u64,
        now: u64,
    ) -> StoreFuture<'a, ()>;

    /// Whether `family` is revoked at `now`.
    fn is_family_revoked<'a>(&'a self, family: &'a str, now: u64) -> StoreFuture<'a, bool>;

    /// Everything a verification asks, in one call (one round trip on the
    /// network backends): is `jti` revoked, was `user_id` revoked at or
    /// after `iat`, is `family` (for refresh tokens) revoked.
    ///
    /// The default implementation makes up to three calls; every backend of
    /// this crate overrides it.
    fn check<'a>(
        &'a self,
        jti: &'a str,
        user_id: &'a str,
        iat: u64,
        family: Option<&'a str>,
        now: u64,
    ) -> StoreFuture<'a, Revocation> {
        Box::pin(async move {
            if self.is_jti_revoked(jti, now).await? {
                return Ok(Revocation::Revoked(RevokedBy::Token));
            }
            if self
                .user_revoked_before(user_id, now)
                .await?
                .is_some_and(|at| iat <= at)
            {
                return Ok(Revocation::Revoked(RevokedBy::User));
            }
            if let Some(family) = family
                && self.is_family_revoked(family, now).await?
            {
                return Ok(Revocation::Revoked(RevokedBy::Family));
            }
            Ok(Revocation::Live)
        })
    }

    /// Deletes the records expired at `now` and returns how many went.
    ///
    /// Backends with their own expiry (Redis key TTLs) return `0`. The
    /// default does nothing.
    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        let _ = now;
        Box::pin(std::future::ready(Ok(0)))
    }
}

/// The verdict of one `check` from its three parts (shared by backends that
/// read all three at once).
fn verdict(
    jti_revoked: bool,
    user_before: Option<u64>,
    iat: u64,
    family_revoked: bool,
) -> Revocation {
    if jti_revoked {
        Revocation::Revoked(RevokedBy::Token)
    } else if user_before.is_some_and(|at| iat <= at) {
        Revocation::Revoked(RevokedBy::User)
    } else if family_revoked {
        Revocation::Revoked(RevokedBy::Family)
    } else {
        Revocation::Live
    }
}

/// Validates the identifiers of one call.
fn check_ids(ids: &[(&'static str, &str)]) -> Result<(), StoreError> {
    ids.iter()
        .try_for_each(|(what, id)| crate::store::check_id(what, id))
}

const JTI: &str = "token id";
const USER: &str = "user id";
const FAMILY: &str = "refresh family id";
