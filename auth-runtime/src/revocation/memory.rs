//! The in-process revocation store.

use std::collections::HashMap;
use std::future::ready;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{
    FAMILY, JTI, RefreshUse, Revocation, RevocationStore, StoreError, StoreFuture, USER, check_ids,
    verdict,
};
use crate::store::cap_until;

/// Expired records are swept after at least this many writes (and after as
/// many writes as there were live records at the last sweep), so a sweep
/// costs amortised O(1) per write and memory stays within about twice the
/// live records.
const MIN_WRITES_BETWEEN_PURGES: usize = 1024;

/// A [`RevocationStore`] in the process's memory: a mutex around a few
/// hash maps.
///
/// For tests and single-instance applications; revocations are lost on
/// restart and not shared between instances. Expired records are dropped by
/// [`purge_expired`](RevocationStore::purge_expired) and by a sweep that
/// writes trigger now and then, so memory stays bounded by the live records.
///
/// ```
/// use lexigram_auth::revocation::{MemoryRevocationStore, RevocationStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lexigram_auth::store::StoreError> {
/// let store = MemoryRevocationStore::new();
/// store.revoke_jti("jti-1", 1_000, 100).await?;
/// assert!(store.is_jti_revoked("jti-1", 999).await?);
/// assert!(!store.is_jti_revoked("jti-1", 1_000).await?); // expired
/// assert_eq!(store.purge_expired(1_000).await?, 1);
/// assert!(store.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryRevocationStore {
    tables: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    /// Revoked token id -> expiry.
    jtis: HashMap<String, u64>,
    /// User id -> "revoked before" cut-off.
    users: HashMap<String, UserCutoff>,
    /// Refresh family id -> its revocation and consumed token ids.
    families: HashMap<String, Family>,
    writes_since_purge: usize,
    live_after_purge: usize,
}

#[derive(Debug, Clone, Copy)]
struct UserCutoff {
    at: u64,
    keep_until: u64,
}

#[derive(Debug, Default)]
struct Family {
    /// Revoked while `now < revoked_until`; 0 when never revoked.
    revoked_until: u64,
    /// Consumed refresh token id -> until when the use is remembered.
    used: HashMap<String, u64>,
}

impl MemoryRevocationStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records the store holds (revoked token ids, user cut-offs,
    /// revoked families and consumed refresh token ids), expired or not.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no record at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // Every update below is a single map operation, so a panic elsewhere
        // while the lock was held cannot have left the maps inconsistent.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Tables {
    fn len(&self) -> usize {
        let families: usize = self
            .families
            .values()
            .map(|family| usize::from(family.revoked_until > 0) + family.used.len())
            .sum();
        self.jtis.len() + self.users.len() + families
    }

    fn purge(&mut self, now: u64) -> u64 {
        let before = self.len();
        self.jtis.retain(|_, expires_at| *expires_at > now);
        self.users.retain(|_, cutoff| cutoff.keep_until > now);
        self.families.retain(|_, family| {
            family.used.retain(|_, until| *until > now);
            if family.revoked_until <= now {
                family.revoked_until = 0;
            }
            family.revoked_until > 0 || !family.used.is_empty()
        });
        let after = self.len();
        self.writes_since_purge = 0;
        self.live_after_purge = after;
        u64::try_from(before - after).unwrap_or(u64::MAX)
    }

    fn wrote(&mut self, now: u64) {
        self.writes_since_purge += 1;
        if self.writes_since_purge >= self.live_after_purge.max(MIN_WRITES_BETWEEN_PURGES) {
            self.purge(now);
        }
    }

    fn jti_revoked(&self, jti: &str, now: u64) -> bool {
        self.jtis
            .get(jti)
            .is_some_and(|expires_at| *expires_at > now)
    }

    fn user_before(&self, user_id: &str, now: u64) -> Option<u64> {
        self.users
            .get(user_id)
            .filter(|cutoff| cutoff.keep_until > now)
            .map(|cutoff| cutoff.at)
    }

    fn family_revoked(&self, family: &str, now: u64) -> bool {
        self.families
            .get(family)
            .is_some_and(|family| family.revoked_until > now)
    }
}

fn done<'a, T: Send + 'a>(result: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(ready(result))
}

impl RevocationStore for MemoryRevocationStore {
    fn revoke_jti<'a>(&'a self, jti: &'a str, expires_at: u64, now: u64) -> StoreFuture<'a, ()> {
        done(check_ids(&[(JTI, jti)]).map(|()| {
            if expires_at <= now {
                return;
            }
            let expires_at = cap_until(expires_at, now);
            let mut tables = self.lock();
            tables
                .jtis
                .entry(jti.to_owned())
                .and_modify(|current| *current = (*current).max(expires_at))
                .or_insert(expires_at);
            tables.wrote(now);
        }))
    }

    fn is_jti_revoked<'a>(&'a self, jti: &'a str, now: u64) -> StoreFuture<'a, bool> {
        done(check_ids(&[(JTI, jti)]).map(|()| self.lock().jti_revoked(jti, now)))
    }

    fn revoke_user_before<'a>(
        &'a self,
        user_id: &'a str,
        at: u64,
        keep_until: u64,
        now: u64,
    ) -> StoreFuture<'a, ()> {
        done(check_ids(&[(USER, user_id)]).map(|()| {
            if keep_until <= now {
                return;
            }
            let new = UserCutoff {
                at,
                keep_until: cap_until(keep_until, now),
            };
            let mut tables = self.lock();
            tables
                .users
                .entry(user_id.to_owned())
                .and_modify(|current| {
                    *current = if current.keep_until <= now {
                        new
                    } else {
                        UserCutoff {
                            at: current.at.max(new.at),
                            keep_until: current.keep_until.max(new.keep_until),
                        }
                    };
                })
                .or_insert(new);
            tables.wrote(now);
        }))
    }

    fn user_revoked_before<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<u64>> {
        done(check_ids(&[(USER, user_id)]).map(|()| self.lock().user_before(user_id, now)))
    }

    fn consume_refresh<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        expires_at: u64,
        now: u64,
    ) -> StoreFuture<'a, RefreshUse> {
        done(check_ids(&[(FAMILY, family), (JTI, jti)]).map(|()| {
            let until = cap_until(expires_at.max(now.saturating_add(1)), now);
            let mut tables = self.lock();
            let entry = tables.families.entry(family.to_owned()).or_default();
            let outcome = if entry.revoked_until > now {
                RefreshUse::FamilyRevoked
            } else if let Some(first) = entry.used.get(jti).copied().filter(|first| *first > now) {
                entry.revoked_until = until.max(first);
                RefreshUse::Reused
            } else {
                entry.used.insert(jti.to_owned(), until);
                RefreshUse::First
            };
            tables.wrote(now);
            outcome
        }))
    }

    fn revoke_family<'a>(
        &'a self,
        family: &'a str,
        keep_until: u64,
        now: u64,
    ) -> StoreFuture<'a, ()> {
        done(check_ids(&[(FAMILY, family)]).map(|()| {
            if keep_until <= now {
                return;
            }
            let keep_until = cap_until(keep_until, now);
            let mut tables = self.lock();
            let entry = tables.families.entry(family.to_owned()).or_default();
            entry.revoked_until = entry.revoked_until.max(keep_until);
            tables.wrote(now);
        }))
    }

    fn is_family_revoked<'a>(&'a self, family: &'a str, now: u64) -> StoreFuture<'a, bool> {
        done(check_ids(&[(FAMILY, family)]).map(|()| self.lock().family_revoked(family, now)))
    }

    fn check<'a>(
        &'a self,
        jti: &'a str,
        user_id: &'a str,
        iat: u64,
        family: Option<&'a str>,
        now: u64,
    ) -> StoreFuture<'a, Revocation> {
        let ids = check_ids(&[(JTI, jti), (USER, user_id)])
            .and_then(|()| family.map_or(Ok(()), |family| check_ids(&[(FAMILY, family)])));
        done(ids.map(|()| {
            let tables = self.lock();
            verdict(
                tables.jti_revoked(jti, now),
                tables.user_before(user_id, now),
                iat,
                family.is_some_and(|family| tables.family_revoked(family, now)),
            )
        }))
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        done(Ok(self.lock().purge(now)))
    }
}
