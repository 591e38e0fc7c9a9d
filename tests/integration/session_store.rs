//! The `SessionStore` conformance suite, run against every backend
//! (memory, SQLite, PostgreSQL, Redis), the race of 1000 logins of one user
//! against a limit of 5 on each, and Redis restarted with and without
//! append-only persistence.
//!
//! PostgreSQL and Redis come from `LEXIGRAM_TEST_POSTGRES_URL` and
//! `LEXIGRAM_TEST_REDIS_URL`; `scripts/test.sh` starts both and sets the
//! variables. The restart tests start Redis servers of their own (the
//! `redis-server` that `scripts/test.sh` installs) on free loopback ports.
//! Without the variables those tests print one line naming the variable
//! and return.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lexigram_auth::Principal;
use lexigram_auth::session::{
    ClientInfo, Inserted, LimitPolicy, MemorySessionStore, PostgresSessionStore, RedisSessionStore,
    SessionConfig, SessionData, SessionError, SessionLimit, SessionManager, SessionRecord,
    SessionStore, SqliteSessionStore,
};
use lexigram_auth::store::StoreError;
use tokio::sync::Barrier;

use crate::support::{REDIS, peer};

/// Generous: the suite checks behaviour, not latency, and the race queues
/// 1000 operations at once.
const PATIENT: Duration = Duration::from_secs(60);

/// Ids unique to this process and call, so that shared servers, parallel
/// tests and repeated runs never see each other's records.
fn unique(label: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "s{}-{nanos}-{}-{label}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A user id with the characters that could break a Redis hash tag.
fn odd_user(label: &str) -> String {
    format!("{{{}}}:{{x}}:é }}", unique(label))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A record created and last active at `at`, idle for 600 s, at most an
/// hour.
fn rec(user: &str, at: u64) -> SessionRecord {
    SessionRecord {
        key: unique("key"),
        user_id: user.to_owned(),
        created_at: at,
        last_active_at: at,
        idle_expires_at: at + 600,
        expires_at: at + 3_600,
        auth_time: at,
        device_id: Some("d".repeat(64)),
        ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0".to_owned()),
        data: SessionData {
            roles: vec!["editor".to_owned()],
            amr: vec!["pwd".to_owned()],
            ..SessionData::default()
        },
    }
}

fn limit(max: u32, policy: LimitPolicy) -> Option<SessionLimit> {
    Some(SessionLimit { max, policy })
}

async fn put(s: &dyn SessionStore, record: &SessionRecord, now: u64) {
    assert_eq!(
        s.insert(record, None, now).await.unwrap(),
        Inserted::Inserted {
            evicted: Vec::new()
        }
    );
}

async fn evicted(
    s: &dyn SessionStore,
    record: &SessionRecord,
    lim: Option<SessionLimit>,
    now: u64,
) -> Vec<String> {
    match s.insert(record, lim, now).await.unwrap() {
        Inserted::Inserted { evicted } => evicted,
        Inserted::Denied => panic!("denied"),
    }
}

/// How a backend deals with expired records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// `purge_expired` deletes them and counts them.
    Purge,
    /// The backend expires keys itself; `purge_expired` returns 0.
    Ttl,
}

// ---------------------------------------------------------------------------
// The conformance suite: one async fn per behaviour.
// ---------------------------------------------------------------------------

async fn conformance(name: &str, store: Arc<dyn SessionStore>, expiry: Expiry, checks_ids: bool) {
    let started = Instant::now();
    let s = &*store;
    insert_get_list(s).await;
    other_user_is_absent(s).await;
    idle_and_absolute_expiry(s).await;
    touch_never_moves_backwards(s).await;
    replace_is_atomic(s).await;
    remove_and_remove_user(s).await;
    eviction_order(s).await;
    deny_new(s).await;
    purge(s, expiry).await;
    if checks_ids {
        invalid_ids(s).await;
    }
    concurrent_replace_has_one_winner(store.clone()).await;
    println!(
        "{name}: session store conformance passed in {:?}",
        started.elapsed()
    );
}

async fn insert_get_list(s: &dyn SessionStore) {
    let t = unix_now();
    let (alice, bob) = (odd_user("alice"), odd_user("bob"));
    let a1 = rec(&alice, t);
    let a2 = SessionRecord {
        last_active_at: t + 5,
        idle_expires_at: t + 605,
        device_id: None,
        ip: Some("2001:db8::1".parse().unwrap()),
        user_agent: None,
        ..rec(&alice, t + 1)
    };
    let b1 = SessionRecord {
        ip: None,
        ..rec(&bob, t)
    };
    for r in [&a1, &a2, &b1] {
        put(s, r, t).await;
    }
    // Every field comes back as written.
    for r in [&a1, &a2, &b1] {
        assert_eq!(
            s.get(&r.user_id, &r.key, t + 6).await.unwrap().as_ref(),
            Some(r)
        );
    }
    assert_eq!(s.get(&alice, &unique("nope"), t).await.unwrap(), None);
    // Most recently active first.
    assert_eq!(
        s.list_user(&alice, t + 6).await.unwrap(),
        [a2.clone(), a1.clone()]
    );
    assert_eq!(
        s.list_user(&bob, t + 6).await.unwrap(),
        std::slice::from_ref(&b1)
    );
    assert!(s.list_user(&unique("nobody"), t).await.unwrap().is_empty());
    // Equal activity: the later login first.
    let c = odd_user("carol");
    let (c1, c2) = (
        rec(&c, t),
        SessionRecord {
            created_at: t + 1,
            ..rec(&c, t)
        },
    );
    put(s, &c1, t).await;
    put(s, &c2, t).await;
    assert_eq!(s.list_user(&c, t).await.unwrap(), [c2, c1]);
}

async fn other_user_is_absent(s: &dyn SessionStore) {
    let t = unix_now();
    let (alice, mallory) = (odd_user("alice"), odd_user("mallory"));
    let a = rec(&alice, t);
    put(s, &a, t).await;
    assert_eq!(s.get(&mallory, &a.key, t).await.unwrap(), None);
    assert!(!s.touch(&mallory, &a.key, t + 1, t + 700, t).await.unwrap());
    assert!(!s.remove(&mallory, &a.key).await.unwrap());
    let forged = rec(&mallory, t);
    assert!(!s.replace(&a.key, &forged, t).await.unwrap());
    assert_eq!(s.get(&mallory, &forged.key, t).await.unwrap(), None);
    assert_eq!(s.remove_user(&mallory, None, t).await.unwrap(), 0);
    // Alice's session is untouched.
    assert_eq!(s.get(&alice, &a.key, t).await.unwrap(), Some(a));
}

async fn idle_and_absolute_expiry(s: &dyn SessionStore) {
    let t = unix_now();
    let user = odd_user("expiry");
    let r = rec(&user, t); // idle until t + 600, absolute t + 3 600
    put(s, &r, t).await;
    assert!(s.get(&user, &r.key, t + 599).await.unwrap().is_some());
    assert_eq!(s.get(&user, &r.key, t + 600).await.unwrap(), None, "idle");
    assert!(
        !s.touch(&user, &r.key, t + 600, t + 1_200, t + 600)
            .await
            .unwrap()
    );

    // Activity moves the idle deadline, never the absolute one.
    assert!(
        s.touch(&user, &r.key, t + 500, t + 1_100, t + 500)
            .await
            .unwrap()
    );
    assert!(s.get(&user, &r.key, t + 1_000).await.unwrap().is_some());
    assert!(
        s.touch(&user, &r.key, t + 3_000, t + 3_600 + 400, t + 1_000)
            .await
            .unwrap()
    );
    let got = s.get(&user, &r.key, t + 3_599).await.unwrap().unwrap();
    assert_eq!(
        (got.last_active_at, got.idle_expires_at),
        (t + 3_000, t + 4_000)
    );
    assert_eq!(got.expires_at, t + 3_600);
    assert_eq!(
        s.get(&user, &r.key, t + 3_600).await.unwrap(),
        None,
        "absolute"
    );
    assert!(s.list_user(&user, t + 3_600).await.unwrap().is_empty());

    // Listing: idle sessions are left out. (The memory store drops what it
    // meets dead, so this user is not read at an earlier instant again.)
    let idle = odd_user("expiry-list");
    let (i1, i2) = (rec(&idle, t), rec(&idle, t + 100));
    put(s, &i1, t).await;
    put(s, &i2, t).await;
    assert_eq!(s.list_user(&idle, t + 600).await.unwrap(), [i2]);

    // Dead sessions never count towards a limit.
    let user = odd_user("expiry-limit");
    put(s, &rec(&user, t), t).await;
    let later = rec(&user, t + 600);
    assert_eq!(
        evicted(s, &later, limit(1, LimitPolicy::DenyNew), t + 600).await,
        Vec::<String>::new()
    );
    assert_eq!(s.list_user(&user, t + 600).await.unwrap(), [later]);
}

async fn touch_never_moves_backwards(s: &dyn SessionStore) {
    let t = unix_now();
    let user = odd_user("touch");
    let r = rec(&user, t);
    put(s, &r, t).await;
    assert!(
        s.touch(&user, &r.key, t + 100, t + 700, t + 100)
            .await
            .unwrap()
    );
    // An older touch (a slow request) succeeds but moves nothing back.
    assert!(
        s.touch(&user, &r.key, t + 50, t + 650, t + 100)
            .await
            .unwrap()
    );
    let got = s.get(&user, &r.key, t + 100).await.unwrap().unwrap();
    assert_eq!(
        (got.last_active_at, got.idle_expires_at),
        (t + 100, t + 700)
    );
    assert_eq!(
        (got.created_at, got.expires_at, &got.data),
        (r.created_at, r.expires_at, &r.data)
    );
    // Gone sessions: removed, unknown, expired.
    assert!(s.remove(&user, &r.key).await.unwrap());
    assert!(
        !s.touch(&user, &r.key, t + 200, t + 800, t + 200)
            .await
            .unwrap()
    );
    assert!(
        !s.touch(&user, &unique("nope"), t, t + 600, t)
            .await
            .unwrap()
    );
    assert_eq!(s.get(&user, &r.key, t + 200).await.unwrap(), None);
}

async fn replace_is_atomic(s: &dyn SessionStore) {
    let t = unix_now();
    let user = odd_user("rotate");
    let old = rec(&user, t);
    put(s, &old, t).await;
    let new = SessionRecord {
        last_active_at: t + 10,
        idle_expires_at: t + 610,
        data: SessionData {
            roles: vec!["admin".to_owned()],
            ..SessionData::default()
        },
        ..rec(&user, t)
    };
    assert!(s.replace(&old.key, &new, t + 10).await.unwrap());
    assert_eq!(s.get(&user, &old.key, t + 10).await.unwrap(), None);
    assert_eq!(
        s.get(&user, &new.key, t + 10).await.unwrap().as_ref(),
        Some(&new)
    );
    assert_eq!(
        s.list_user(&user, t + 10).await.unwrap(),
        std::slice::from_ref(&new)
    );
    // The old key again: false, nothing written.
    let again = rec(&user, t + 10);
    assert!(!s.replace(&old.key, &again, t + 10).await.unwrap());
    assert_eq!(s.get(&user, &again.key, t + 10).await.unwrap(), None);
    // An expired session cannot be rotated.
    let late = rec(&user, t + 610);
    assert!(!s.replace(&new.key, &late, t + 610).await.unwrap());
    assert_eq!(s.get(&user, &late.key, t + 20).await.unwrap(), None);
    assert_eq!(s.list_user(&user, t + 20).await.unwrap(), [new]);
}

async fn remove_and_remove_user(s: &dyn SessionStore) {
    let t = unix_now();
    let user = odd_user("remove");
    let other = odd_user("remove-other");
    let one = rec(&user, t);
    put(s, &one, t).await;
    assert!(s.remove(&user, &one.key).await.unwrap());
    assert!(!s.remove(&user, &one.key).await.unwrap());
    assert_eq!(s.get(&user, &one.key, t).await.unwrap(), None);

    let keep = rec(&user, t);
    let (b, c) = (rec(&user, t + 1), rec(&user, t + 2));
    let dead = SessionRecord {
        idle_expires_at: t + 30,
        ..rec(&user, t)
    };
    let theirs = rec(&other, t);
    for r in [&keep, &b, &c, &dead, &theirs] {
        put(s, r, t).await;
    }
    // "Log out everywhere else": the live ones but `keep`, counted; the
    // dead one goes too, uncounted.
    assert_eq!(
        s.remove_user(&user, Some(&keep.key), t + 40).await.unwrap(),
        2
    );
    assert_eq!(
        s.list_user(&user, t + 40).await.unwrap(),
        std::slice::from_ref(&keep)
    );
    assert_eq!(s.get(&user, &dead.key, t).await.unwrap(), None);
    assert_eq!(s.list_user(&other, t).await.unwrap(), [theirs]);
    assert_eq!(s.remove_user(&user, None, t + 40).await.unwrap(), 1);
    assert!(s.list_user(&user, t).await.unwrap().is_empty());
    assert_eq!(s.remove_user(&user, None, t).await.unwrap(), 0);
}

async fn eviction_order(s: &dyn SessionStore) {
    let t = unix_now();
    let user = odd_user("evict");
    let at = |created: u64, last: u64| SessionRecord {
        created_at: t + created,
        last_active_at: t + last,
        ..rec(&user, t)
    };
    let a = at(0, 50);
    let b = at(1, 20); // ties with c on activity; logged in earlier
    let c = at(2, 20);
    for r in [&a, &b, &c] {
        put(s, r, t + 60).await;
    }
    let evict = |max| limit(max, LimitPolicy::EvictLeastRecentlyActive);
    let d = at(3, 30);
    assert_eq!(
        evicted(s, &d, evict(3), t + 60).await,
        std::slice::from_ref(&b.key)
    );
    let e = at(4, 40);
    assert_eq!(
        evicted(s, &e, evict(3), t + 60).await,
        std::slice::from_ref(&c.key)
    );
    // A lower limit evicts several, least recently active first.
    let f = at(5, 60);
    assert_eq!(
        evicted(s, &f, evict(2), t + 60).await,
        [d.key.clone(), e.key.clone()]
    );
    assert_eq!(s.list_user(&user, t + 60).await.unwrap(), [f, a]);
    for gone in [&b, &c, &d, &e] {
        assert_eq!(s.get(&user, &gone.key, t + 60).await.unwrap(), None);
    }
}

async fn deny_new(s: &dyn SessionStore) {
    let t = unix_now();
    let user = odd_user("deny");
    let deny = limit(2, LimitPolicy::DenyNew);
    let (a, b, c) = (rec(&user, t), rec(&user, t + 1), rec(&user, t + 2));
    assert_eq!(evicted(s, &a, deny, t).await, Vec::<String>::new());
    assert_eq!(evicted(s, &b, deny, t + 1).await, Vec::<String>::new());
    assert_eq!(s.insert(&c, deny, t + 2).await.unwrap(), Inserted::Denied);
    assert_eq!(s.get(&user, &c.key, t + 2).await.unwrap(), None);
    assert_eq!(
        s.list_user(&user, t + 2).await.unwrap(),
        [b.clone(), a.clone()]
    );
    // Other users are not affected; room made, a login succeeds.
    let other = rec(&odd_user("deny-other"), t);
    assert_eq!(evicted(s, &other, deny, t).await, Vec::<String>::new());
    assert!(s.remove(&user, &a.key).await.unwrap());
    assert_eq!(evicted(s, &c, deny, t + 2).await, Vec::<String>::new());
}

async fn purge(s: &dyn SessionStore, expiry: Expiry) {
    let t = unix_now();
    let user = odd_user("purge");
    let (a, b) = (rec(&user, t), rec(&user, t));
    let live = SessionRecord {
        idle_expires_at: t + 5_000,
        expires_at: t + 5_000,
        ..rec(&user, t)
    };
    for r in [&a, &b, &live] {
        put(s, r, t).await;
    }
    let purged = s.purge_expired(t + 600).await.unwrap();
    match expiry {
        // A shared database may hold other expired rows too.
        Expiry::Purge => assert!(purged >= 2, "{purged}"),
        Expiry::Ttl => assert_eq!(purged, 0),
    }
    assert_eq!(
        s.list_user(&user, t + 600).await.unwrap(),
        std::slice::from_ref(&live)
    );
    if expiry == Expiry::Purge {
        // Gone for good: an earlier instant does not bring them back.
        assert_eq!(s.list_user(&user, t).await.unwrap(), [live]);
    }
}

async fn invalid_ids(s: &dyn SessionStore) {
    let t = unix_now();
    let long = "x".repeat(5_000);
    let invalid = |e: StoreError| assert!(matches!(e, StoreError::InvalidId { .. }), "{e:?}");
    invalid(s.get("", "k", t).await.unwrap_err());
    invalid(s.get("u", "", t).await.unwrap_err());
    invalid(s.get(&long, "k", t).await.unwrap_err());
    invalid(s.insert(&rec("", t), None, t).await.unwrap_err());
    invalid(s.remove_user("", None, t).await.unwrap_err());
    invalid(s.list_user("", t).await.unwrap_err());
}

async fn concurrent_replace_has_one_winner(store: Arc<dyn SessionStore>) {
    let t = unix_now();
    let user = odd_user("race-rotate");
    let old = rec(&user, t);
    put(&*store, &old, t).await;
    let barrier = Arc::new(Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (store, barrier, old_key) = (store.clone(), barrier.clone(), old.key.clone());
            let new = rec(&user, t + 1);
            tokio::spawn(async move {
                barrier.wait().await;
                let won = store.replace(&old_key, &new, t + 1).await.unwrap();
                (won, new.key)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (won, key) = task.await.unwrap();
        if won {
            winners.push(key);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation wins");
    let left = store.list_user(&user, t + 1).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].key, winners[0]);
}

// ---------------------------------------------------------------------------
// 1000 logins of one user racing against a limit of 5.
// ---------------------------------------------------------------------------

const RACERS: usize = 1_000;
const MAX: u32 = 5;

async fn limit_race(name: &str, store: Arc<dyn SessionStore>) {
    let started = Instant::now();
    let t = unix_now();
    let user = odd_user("race");
    let barrier = Arc::new(Barrier::new(RACERS + 1));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let evictions = Arc::new(AtomicUsize::new(0));

    // A watcher lists the user's sessions over and over while they race.
    let watcher = {
        let (store, user, max_seen, done) =
            (store.clone(), user.clone(), max_seen.clone(), done.clone());
        tokio::spawn(async move {
            let mut looks = 0u64;
            while done.load(Ordering::SeqCst) < RACERS {
                let n = store.list_user(&user, t).await.unwrap().len();
                max_seen.fetch_max(n, Ordering::SeqCst);
                looks += 1;
                tokio::task::yield_now().await;
            }
            looks
        })
    };
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, barrier, max_seen, done, evictions) = (
                store.clone(),
                barrier.clone(),
                max_seen.clone(),
                done.clone(),
                evictions.clone(),
            );
            let record = SessionRecord {
                last_active_at: t + (i as u64 % 7),
                ..rec(&user, t)
            };
            let user = user.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let lim = limit(MAX, LimitPolicy::EvictLeastRecentlyActive);
                let outcome = store.insert(&record, lim, t).await.unwrap();
                let Inserted::Inserted { evicted } = outcome else {
                    panic!("denied under EvictLeastRecentlyActive");
                };
                evictions.fetch_add(evicted.len(), Ordering::SeqCst);
                // Right after this insert returned.
                let n = store.list_user(&user, t).await.unwrap().len();
                max_seen.fetch_max(n, Ordering::SeqCst);
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    barrier.wait().await;
    for task in tasks {
        task.await.unwrap();
    }
    let looks = watcher.await.unwrap();
    let left = store.list_user(&user, t).await.unwrap();
    assert!(
        max_seen.load(Ordering::SeqCst) <= MAX as usize,
        "{name}: {} live sessions seen",
        max_seen.load(Ordering::SeqCst)
    );
    assert_eq!(left.len(), MAX as usize, "{name}");
    // Every session but the last five was evicted exactly once.
    assert_eq!(
        evictions.load(Ordering::SeqCst),
        RACERS - MAX as usize,
        "{name}"
    );

    // DenyNew: exactly five of 200 racing logins get in.
    let user = odd_user("race-deny");
    let barrier = Arc::new(Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let record = rec(&user, t);
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .insert(&record, limit(MAX, LimitPolicy::DenyNew), t)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        if task.await.unwrap() != Inserted::Denied {
            admitted += 1;
        }
    }
    assert_eq!(admitted, MAX as usize, "{name}");
    assert_eq!(store.list_user(&user, t).await.unwrap().len(), MAX as usize);
    println!(
        "{name}: {RACERS} racing logins against a limit of {MAX}: at most {} live seen \
         ({looks} listings while racing), {} left; 200 racing under DenyNew: {admitted} \
         admitted; {:?}",
        max_seen.load(Ordering::SeqCst),
        left.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// The stores.
// ---------------------------------------------------------------------------

async fn sqlite_memory() -> SqliteSessionStore {
    // One connection that is never closed (an in-memory database), waited
    // for patiently: the race queues 1000 transactions on it.
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(PATIENT)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    SqliteSessionStore::from_pool(pool)
        .await
        .unwrap()
        .with_timeout(PATIENT)
}

async fn postgres(url: &str) -> PostgresSessionStore {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(PATIENT)
        .connect(url)
        .await
        .unwrap();
    PostgresSessionStore::from_pool(pool)
        .await
        .unwrap()
        .with_timeout(PATIENT)
}

async fn redis(url: &str) -> RedisSessionStore {
    RedisSessionStore::connect(url)
        .await
        .unwrap()
        .with_key_prefix(unique("lexigram-test"))
        .with_timeout(PATIENT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_store_memory_conformance() {
    let store = Arc::new(MemorySessionStore::new());
    conformance("memory", store.clone(), Expiry::Purge, false).await;
    limit_race("memory", store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_store_sqlite_conformance_in_memory() {
    let store = Arc::new(sqlite_memory().await);
    conformance("sqlite (memory)", store.clone(), Expiry::Purge, true).await;
    limit_race("sqlite (memory)", store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_store_sqlite_conformance_on_a_file() {
    let path = std::env::temp_dir().join(format!("lexigram-sessions-{}.db", unique("file")));
    let url = format!("sqlite://{}", path.display());
    let store = SqliteSessionStore::connect(&url).await.unwrap();
    let store = Arc::new(store.with_timeout(PATIENT));
    conformance("sqlite (file)", store.clone(), Expiry::Purge, true).await;
    // Reopened: the schema is versioned and the sessions are still there.
    let user = odd_user("reopen");
    let r = rec(&user, unix_now());
    put(&*store, &r, r.created_at).await;
    store.pool().close().await;
    let reopened = SqliteSessionStore::connect(&url).await.unwrap();
    assert_eq!(
        reopened.get(&user, &r.key, r.created_at).await.unwrap(),
        Some(r)
    );
    reopened.pool().close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_store_sqlite_purges_expired_rows_as_it_writes() {
    let store = SqliteSessionStore::connect("sqlite::memory:")
        .await
        .unwrap();
    let t = unix_now();
    // 3 000 logins, each idle-expiring 5 s after a clock that ticks once per
    // write; every 1024 writes a background purge drops the expired ones.
    for i in 0..3_000u64 {
        let r = SessionRecord {
            idle_expires_at: t + i + 5,
            ..rec("purge-user", t + i)
        };
        put(&store, &r, t + i).await;
    }
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM lexigram_sessions")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let started = Instant::now();
    while count().await > 3_000 - 2_000 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{} rows",
            count().await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_store_postgres_conformance() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    // Two instances starting at once on one database: migrations serialise.
    let (a, b) = tokio::join!(
        PostgresSessionStore::connect(&url),
        PostgresSessionStore::connect(&url)
    );
    a.unwrap();
    b.unwrap();
    let store = Arc::new(postgres(&url).await);
    conformance("postgres", store.clone(), Expiry::Purge, true).await;
    limit_race("postgres", store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_store_postgres_limit_holds_across_instances() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    // Two application instances (two pools) racing for one user.
    let one: Arc<dyn SessionStore> = Arc::new(postgres(&url).await);
    let two: Arc<dyn SessionStore> = Arc::new(postgres(&url).await);
    across_instances("postgres", one, two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_store_redis_conformance() {
    let Some(url) = peer("LEXIGRAM_TEST_REDIS_URL") else {
        return;
    };
    let _shared = REDIS.read().await;
    let store = Arc::new(redis(&url).await);
    // The user id, whatever its braces and colons, is the key's hash tag,
    // encoded: every key of one user is in one slot.
    let user = odd_user("tag");
    let key = store.session_key(&user, "k");
    let open = key.find('{').unwrap();
    let close = open + key[open..].find('}').unwrap();
    assert_eq!(&key[open + 1..close], URL_SAFE_NO_PAD.encode(&user));
    conformance("redis", store.clone(), Expiry::Ttl, true).await;
    limit_race("redis", store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_store_redis_limit_holds_across_instances() {
    let Some(url) = peer("LEXIGRAM_TEST_REDIS_URL") else {
        return;
    };
    let _shared = REDIS.read().await;
    let prefix = unique("lexigram-test");
    let connect = || async {
        RedisSessionStore::connect(&url)
            .await
            .unwrap()
            .with_key_prefix(prefix.clone())
            .with_timeout(PATIENT)
    };
    let one: Arc<dyn SessionStore> = Arc::new(connect().await);
    let two: Arc<dyn SessionStore> = Arc::new(connect().await);
    across_instances("redis", one, two).await;
}

/// 200 logins of one user split over two instances, limit 5.
async fn across_instances(name: &str, one: Arc<dyn SessionStore>, two: Arc<dyn SessionStore>) {
    let t = unix_now();
    let user = odd_user("two-instances");
    let barrier = Arc::new(Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = if i % 2 == 0 { one.clone() } else { two.clone() };
            let (barrier, record, user) = (barrier.clone(), rec(&user, t), user.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let lim = limit(MAX, LimitPolicy::EvictLeastRecentlyActive);
                let _ = store.insert(&record, lim, t).await.unwrap();
                store.list_user(&user, t).await.unwrap().len()
            })
        })
        .collect();
    for task in tasks {
        let seen = task.await.unwrap();
        assert!(seen <= MAX as usize, "{name}: {seen}");
    }
    assert_eq!(one.list_user(&user, t).await.unwrap().len(), MAX as usize);
    assert_eq!(two.list_user(&user, t).await.unwrap().len(), MAX as usize);
}

// ---------------------------------------------------------------------------
// Redis restarted, with and without append-only persistence.
// ---------------------------------------------------------------------------

/// A `redis-server` of the test's own, on a free loopback port, with its
/// state in a fresh folder; stopped (by its pid) and removed when dropped.
struct OwnRedis {
    dir: PathBuf,
    port: u16,
    aof: bool,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(aof: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("lexigram-redis-{}", unique("own")));
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self {
            dir,
            port,
            aof,
            child: None,
        };
        redis.up();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts the server (again, same port and folder) and waits until it
    /// answers.
    fn up(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", "", "--daemonize", "no", "--appendonly"])
            .arg(if self.aof { "yes" } else { "no" })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test.sh installs it)");
        self.child = Some(child);
        let started = Instant::now();
        while !self.answers() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// A clean shutdown (`SHUTDOWN`: the append-only file is flushed), then
    /// waits for the process to exit.
    async fn down(&mut self) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let _ = redis::cmd("SHUTDOWN").query_async::<()>(&mut c).await;
        if let Some(mut child) = self.child.take() {
            let started = Instant::now();
            while child.try_wait().unwrap().is_none() {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "redis did not stop"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Milliseconds since the epoch.
fn unix_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// PTTL and EXPIRETIME of each key, read at once.
async fn ttls(url: &str, keys: &[String]) -> Vec<(i64, i64)> {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let mut out = Vec::new();
    for key in keys {
        let pttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap();
        let at: i64 = redis::cmd("EXPIRETIME")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap();
        out.push((pttl, at));
    }
    out
}

/// Logs in `n` users (two sessions each) through a manager on `store`.
async fn logins(
    sessions: &SessionManager,
    n: usize,
) -> Vec<(String, lexigram_auth::session::NewSession)> {
    let mut out = Vec::new();
    for i in 0..n {
        let user = odd_user(&format!("restart-{i}"));
        for _ in 0..2 {
            let login = sessions
                .create(&Principal::new(user.clone()), &ClientInfo::default())
                .await
                .unwrap();
            out.push((user.clone(), login));
        }
    }
    out
}

#[lexigram_auth::require_auth]
async fn signed_in() -> &'static str {
    "ok"
}

/// A router with one guarded route accepting the sessions of `sessions`.
fn guarded_app(sessions: SessionManager) -> (axum::Router, lexigram_auth::session::SessionCookies) {
    let cookies = lexigram_auth::session::SessionCookies::new_in(
        b"a-32-byte-or-longer-cookie-key!!",
        lexigram_auth::session::CookieConfig::default(),
        lexigram_auth::environment::Environment::Production,
    )
    .unwrap();
    let module = lexigram_auth::AuthModule::builder()
        .tokens(
            lexigram_auth::token::JwtTokenManager::new(
                "k1",
                [("k1", "a-32-byte-or-longer-hmac-secret!!")],
            )
            .unwrap(),
        )
        .sessions(lexigram_auth::session::SessionAuth::new(
            sessions,
            cookies.clone(),
        ))
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route("/", axum::routing::get(signed_in))
        .with_state(module);
    (app, cookies)
}

/// The status of a GET on the guarded route with `cookie`.
async fn guarded(app: &axum::Router, cookie: &str) -> http::StatusCode {
    let request = http::Request::get("/")
        .header("cookie", cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    crate::support::send(app, request).await.status
}

fn manager(store: Arc<RedisSessionStore>) -> SessionManager {
    SessionManager::new(
        store,
        SessionConfig {
            idle_timeout: Duration::from_secs(600),
            absolute_timeout: Duration::from_secs(3_600),
            max_sessions_per_user: Some(MAX),
            ..SessionConfig::default()
        },
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_store_redis_restart_with_aof_keeps_every_session_and_ttl() {
    if peer("LEXIGRAM_TEST_REDIS_URL").is_none() {
        return;
    }
    let mut server = OwnRedis::start(true);
    let url = server.url();
    let store = Arc::new(
        RedisSessionStore::connect_with_timeout(&url, Duration::from_secs(1))
            .await
            .unwrap(),
    );
    let sessions = manager(store.clone());
    let logins = logins(&sessions, 10).await;
    // One session also ends at its absolute deadline before its idle one,
    // and one has been active since login: its expiry moved.
    let now = unix_now();
    let short = SessionRecord {
        expires_at: now + 120,
        ..rec(&odd_user("restart-short"), now)
    };
    put(&*store, &short, now).await;
    let (touched_user, touched) = &logins[0];
    assert!(
        store
            .touch(touched_user, touched.session.id(), now + 30, now + 630, now)
            .await
            .unwrap()
    );
    let mut keys: Vec<String> = logins
        .iter()
        .map(|(user, l)| store.session_key(user, l.session.id()))
        .collect();
    keys.push(store.session_key(&short.user_id, &short.key));

    let before = ttls(&url, &keys).await;
    let before_ms = unix_ms();
    server.down().await;
    server.up();
    let after = ttls(&url, &keys).await;
    let after_ms = unix_ms();
    let restart = after_ms - before_ms;

    let mut worst = 0;
    for (key, ((pttl0, at0), (pttl1, at1))) in keys.iter().zip(before.iter().zip(&after)) {
        assert!(*pttl1 > 0, "{key}: no TTL after the restart ({pttl1})");
        // The same absolute expiry, to the second ...
        assert_eq!(at0, at1, "{key}");
        // ... so the TTL lost only the restart's time: within a second.
        let drift = pttl0 - pttl1;
        assert!(
            (0..1_000).contains(&drift),
            "{key}: TTL {pttl0} ms -> {pttl1} ms"
        );
        worst = worst.max(drift);
    }
    let expected = |r: &SessionRecord| i64::try_from(r.deadline()).unwrap();
    assert_eq!(after[keys.len() - 1].1, expected(&short));
    assert_eq!(after[0].1, i64::try_from(now + 630).unwrap());

    // Every session is still valid, through the store and the manager.
    let back = Instant::now();
    let client = ClientInfo::default();
    for (user, login) in &logins {
        loop {
            match store.get(user, login.session.id(), unix_now()).await {
                Ok(found) => {
                    assert!(found.is_some(), "{user}: lost in the restart");
                    break;
                }
                Err(error) => {
                    assert!(error.is_unavailable(), "{error:?}");
                    assert!(back.elapsed() < Duration::from_secs(2), "{error:?}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        let session = sessions
            .validate(login.token.expose(), &client)
            .await
            .unwrap();
        assert_eq!(session.user_id(), user);
    }
    assert!(
        store
            .get(&short.user_id, &short.key, now)
            .await
            .unwrap()
            .is_some()
    );
    println!(
        "redis restart with AOF: {} sessions kept, same EXPIRETIME, TTL drift at most {worst} \
         ms (restart took {restart} ms)",
        keys.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_store_redis_restart_without_persistence_reads_absent_and_reconnects() {
    if peer("LEXIGRAM_TEST_REDIS_URL").is_none() {
        return;
    }
    let mut server = OwnRedis::start(false);
    let url = server.url();
    let store = Arc::new(
        RedisSessionStore::connect_with_timeout(&url, Duration::from_secs(1))
            .await
            .unwrap(),
    );
    let sessions = manager(store.clone());
    let logins = logins(&sessions, 5).await;
    let client = ClientInfo::default();
    for (_, login) in &logins {
        sessions
            .validate(login.token.expose(), &client)
            .await
            .unwrap();
    }
    // The same sessions behind a guarded route, as a browser sends them.
    let (app, cookies) = guarded_app(sessions.clone());
    let cookie_of = |login: &lexigram_auth::session::NewSession| {
        let [set, _] = cookies.set_cookies(login).unwrap();
        set.to_str().unwrap().split(';').next().unwrap().to_owned()
    };
    let first_cookie = cookie_of(&logins[0].1);
    assert_eq!(guarded(&app, &first_cookie).await, http::StatusCode::OK);

    server.down().await;
    // Redis down: the request is refused with a 503, never allowed.
    assert_eq!(
        guarded(&app, &first_cookie).await,
        http::StatusCode::SERVICE_UNAVAILABLE
    );
    // While it is down: errors that say so, never a panic or a wrong answer.
    let (user, login) = &logins[0];
    let error = store
        .get(user, login.session.id(), unix_now())
        .await
        .unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert!(matches!(
        sessions.validate(login.token.expose(), &client).await,
        Err(SessionError::Unavailable(_))
    ));

    let restarted = Instant::now();
    server.up();
    // The store reconnects by itself: the first success comes within 2 s of
    // the restart, and says "no such session" (not an error).
    let mut failures = 0;
    let reconnected = loop {
        match store.get(user, login.session.id(), unix_now()).await {
            Ok(found) => {
                assert_eq!(found, None);
                break restarted.elapsed();
            }
            Err(error) => {
                assert!(error.is_unavailable(), "{error:?}");
                failures += 1;
                assert!(
                    restarted.elapsed() < Duration::from_secs(2),
                    "not reconnected within 2 s: {error:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert!(reconnected < Duration::from_secs(2), "{reconnected:?}");
    // Every session is gone: a request gets "invalid session" (a 401), and
    // every operation answers normally.
    for (user, login) in &logins {
        assert_eq!(
            store
                .get(user, login.session.id(), unix_now())
                .await
                .unwrap(),
            None
        );
        assert!(matches!(
            sessions.validate(login.token.expose(), &client).await,
            Err(SessionError::Invalid)
        ));
        assert!(store.list_user(user, unix_now()).await.unwrap().is_empty());
        // Over HTTP: 401, never a 5xx.
        assert_eq!(
            guarded(&app, &cookie_of(login)).await,
            http::StatusCode::UNAUTHORIZED
        );
    }
    assert!(
        !store
            .touch(
                user,
                login.session.id(),
                unix_now(),
                unix_now() + 600,
                unix_now()
            )
            .await
            .unwrap()
    );
    let fresh = sessions
        .create(&Principal::new(user.clone()), &client)
        .await
        .unwrap();
    sessions
        .validate(fresh.token.expose(), &client)
        .await
        .unwrap();
    println!(
        "redis restart without persistence: reconnected {reconnected:?} after the restart \
         ({failures} failed calls first); {} sessions read as absent",
        logins.len()
    );
}
