//! Sessions in process memory.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::store::{Inserted, LimitPolicy, SessionLimit, SessionRecord, SessionStore, StoreFuture};

/// A [`SessionStore`] in process memory: for tests and a single instance
/// (sessions end with the process).
///
/// One lock guards every table, so each operation, the limit check of
/// [`insert`](SessionStore::insert) included, is atomic. Records that are no
/// longer live are dropped as they are met, and every 1024 inserts.
///
/// ```
/// use lexigram_auth::session::{MemorySessionStore, SessionStore};
///
/// let store = MemorySessionStore::new();
/// assert_eq!(store.len(), 0);
/// ```
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    tables: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    /// Sessions by key.
    sessions: HashMap<String, SessionRecord>,
    /// Keys by user.
    by_user: HashMap<String, Vec<String>>,
    inserts: u64,
}

impl Tables {
    fn live_keys(&mut self, user_id: &str, now: u64) -> Vec<String> {
        let Some(keys) = self.by_user.get_mut(user_id) else {
            return Vec::new();
        };
        let sessions = &mut self.sessions;
        keys.retain(|key| match sessions.get(key) {
            Some(record) if record.is_live(now) => true,
            Some(_) => {
                sessions.remove(key);
                false
            }
            None => false,
        });
        let live = keys.clone();
        if keys.is_empty() {
            self.by_user.remove(user_id);
        }
        live
    }

    fn add(&mut self, record: &SessionRecord) {
        self.sessions.insert(record.key.clone(), record.clone());
        let keys = self.by_user.entry(record.user_id.clone()).or_default();
        if !keys.contains(&record.key) {
            keys.push(record.key.clone());
        }
    }

    fn delete(&mut self, user_id: &str, key: &str) -> Option<SessionRecord> {
        if self.sessions.get(key)?.user_id != user_id {
            return None;
        }
        let record = self.sessions.remove(key)?;
        if let Some(keys) = self.by_user.get_mut(user_id) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.by_user.remove(user_id);
            }
        }
        Some(record)
    }

    fn live(&self, user_id: &str, key: &str, now: u64) -> Option<&SessionRecord> {
        self.sessions
            .get(key)
            .filter(|r| r.user_id == user_id && r.is_live(now))
    }

    fn purge(&mut self, now: u64) -> u64 {
        let dead: Vec<(String, String)> = self
            .sessions
            .values()
            .filter(|r| !r.is_live(now))
            .map(|r| (r.user_id.clone(), r.key.clone()))
            .collect();
        for (user_id, key) in &dead {
            self.delete(user_id, key);
        }
        u64::try_from(dead.len()).unwrap_or(u64::MAX)
    }
}

impl MemorySessionStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records are held, live or not yet purged.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether no record is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SessionStore for MemorySessionStore {
    fn insert<'a>(
        &'a self,
        record: &'a SessionRecord,
        limit: Option<SessionLimit>,
        now: u64,
    ) -> StoreFuture<'a, Inserted> {
        Box::pin(async move {
            let mut tables = self.lock();
            tables.inserts += 1;
            if tables.inserts.is_multiple_of(1024) {
                tables.purge(now);
            }
            let mut evicted = Vec::new();
            if let Some(limit) = limit {
                let max = usize::try_from(limit.max.max(1)).unwrap_or(usize::MAX);
                let live = tables.live_keys(&record.user_id, now);
                if live.len() >= max {
                    if limit.policy == LimitPolicy::DenyNew {
                        return Ok(Inserted::Denied);
                    }
                    let mut by_activity: Vec<(u64, u64, String)> = live
                        .into_iter()
                        .filter_map(|key| {
                            let r = tables.sessions.get(&key)?;
                            Some((r.last_active_at, r.created_at, key))
                        })
                        .collect();
                    by_activity.sort();
                    let excess = by_activity.len() + 1 - max;
                    for (_, _, key) in by_activity.into_iter().take(excess) {
                        tables.delete(&record.user_id, &key);
                        evicted.push(key);
                    }
                }
            }
            tables.add(record);
            Ok(Inserted::Inserted { evicted })
        })
    }

    fn get<'a>(
        &'a self,
        user_id: &'a str,
        key: &'a str,
        now: u64,
    ) -> StoreFuture<'a, Option<SessionRecord>> {
        Box::pin(async move { Ok(self.lock().live(user_id, key, now).cloned()) })
    }

    fn touch<'a>(
        &'a self,
        user_id: &'a str,
        key: &'a str,
        last_active_at: u64,
        idle_expires_at: u64,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut tables = self.lock();
            if tables.live(user_id, key, now).is_none() {
                return Ok(false);
            }
            let Some(record) = tables.sessions.get_mut(key) else {
                return Ok(false);
            };
            record.last_active_at = record.last_active_at.max(last_active_at);
            record.idle_expires_at = record.idle_expires_at.max(idle_expires_at);
            Ok(true)
        })
    }

    fn replace<'a>(
        &'a self,
        old_key: &'a str,
        record: &'a SessionRecord,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut tables = self.lock();
            if tables.live(&record.user_id, old_key, now).is_none() {
                return Ok(false);
            }
            tables.delete(&record.user_id, old_key);
            tables.add(record);
            Ok(true)
        })
    }

    fn remove<'a>(&'a self, user_id: &'a str, key: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.lock().delete(user_id, key).is_some()) })
    }

    fn remove_user<'a>(
        &'a self,
        user_id: &'a str,
        keep: Option<&'a str>,
        now: u64,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let mut tables = self.lock();
            let mut removed = 0;
            for key in tables.by_user.get(user_id).cloned().unwrap_or_default() {
                if Some(key.as_str()) == keep {
                    continue;
                }
                if let Some(record) = tables.delete(user_id, &key)
                    && record.is_live(now)
                {
                    removed += 1;
                }
            }
            Ok(removed)
        })
    }

    fn list_user<'a>(&'a self, user_id: &'a str, now: u64) -> StoreFuture<'a, Vec<SessionRecord>> {
        Box::pin(async move {
            let mut tables = self.lock();
            let keys = tables.live_keys(user_id, now);
            let mut records: Vec<SessionRecord> = keys
                .iter()
                .filter_map(|key| tables.sessions.get(key).cloned())
                .collect();
            records.sort_by(|a, b| {
                b.last_active_at
                    .cmp(&a.last_active_at)
                    .then_with(|| b.created_at.cmp(&a.created_at))
                    .then_with(|| a.key.cmp(&b.key))
            });
            Ok(records)
        })
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        Box::pin(async move { Ok(self.lock().purge(now)) })
    }
}
