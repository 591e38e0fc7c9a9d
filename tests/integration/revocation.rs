//! The `RevocationStore` conformance suite, run against every backend
//! (memory, SQLite, PostgreSQL, Redis), and the Redis tests that need a
//! real server: two instances sharing one Redis, Redis going away and
//! coming back.
//!
//! PostgreSQL and Redis come from `LEXIGRAM_TEST_POSTGRES_URL` and
//! `LEXIGRAM_TEST_REDIS_URL` (`LEXIGRAM_TEST_REDIS_CTL` stops and starts
//! that Redis); `scripts/test.sh` starts both and sets the variables.
//! Without them those tests print one line naming the variable and return.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lexigram_auth::revocation::{
    MemoryRevocationStore, PostgresRevocationStore, RedisRevocationStore, RefreshUse, Revocation,
    RevocationStore, RevokedBy, SqliteRevocationStore,
};
use lexigram_auth::store::{MAX_ID_LEN, StoreError};
use tokio::sync::Barrier;

use crate::support::{REDIS, peer};

/// The suite's clock: every behaviour passes explicit instants around this.
const T0: u64 = 1_700_000_000;

/// Ids unique to this process and call, so that shared servers, parallel
/// tests and repeated runs never see each other's records.
fn unique(label: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "t{}-{nanos}-{}-{label}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
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

async fn conformance(name: &str, store: Arc<dyn RevocationStore>, expiry: Expiry) {
    let started = Instant::now();
    let s = &*store;
    jti_revoke_and_check(s).await;
    jti_already_expired_is_noop(s).await;
    user_before_semantics(s).await;
    user_before_already_expired_is_noop(s).await;
    refresh_single_use(s).await;
    reuse_revokes_family(s).await;
    family_revocation(s).await;
    used_refresh_records_expire(s).await;
    combined_check(s).await;
    purge(s, expiry).await;
    invalid_ids(s).await;
    concurrent_single_use(store.clone()).await;
    println!(
        "{name}: conformance suite passed in {:?}",
        started.elapsed()
    );
}

async fn jti_revoke_and_check(s: &dyn RevocationStore) {
    let jti = unique("jti");
    let other = unique("jti-other");
    assert!(!s.is_jti_revoked(&jti, T0).await.unwrap());

    s.revoke_jti(&jti, T0 + 100, T0).await.unwrap();
    assert!(s.is_jti_revoked(&jti, T0).await.unwrap());
    assert!(s.is_jti_revoked(&jti, T0 + 99).await.unwrap());
    assert!(
        !s.is_jti_revoked(&jti, T0 + 100).await.unwrap(),
        "expired at expires_at"
    );
    assert!(!s.is_jti_revoked(&other, T0).await.unwrap());

    // A shorter expiry never shortens the revocation; a longer one extends it.
    s.revoke_jti(&jti, T0 + 50, T0 + 10).await.unwrap();
    assert!(s.is_jti_revoked(&jti, T0 + 99).await.unwrap());
    s.revoke_jti(&jti, T0 + 200, T0 + 10).await.unwrap();
    assert!(s.is_jti_revoked(&jti, T0 + 199).await.unwrap());
    assert!(!s.is_jti_revoked(&jti, T0 + 200).await.unwrap());
}

async fn jti_already_expired_is_noop(s: &dyn RevocationStore) {
    let jti = unique("jti-expired");
    s.revoke_jti(&jti, T0, T0).await.unwrap();
    s.revoke_jti(&jti, T0 - 10, T0).await.unwrap();
    // Had anything been stored it would be live at an earlier instant.
    assert!(!s.is_jti_revoked(&jti, T0 - 20).await.unwrap());
}

async fn user_before_semantics(s: &dyn RevocationStore) {
    let user = unique("user");
    let jti = unique("jti-of-user");
    assert_eq!(s.user_revoked_before(&user, T0).await.unwrap(), None);

    s.revoke_user_before(&user, T0, T0 + 1_000, T0)
        .await
        .unwrap();
    assert_eq!(
        s.user_revoked_before(&user, T0 + 1).await.unwrap(),
        Some(T0)
    );
    let at_iat = |iat| s.check(&jti, &user, iat, None, T0 + 1);
    assert_eq!(
        at_iat(T0 - 5).await.unwrap(),
        Revocation::Revoked(RevokedBy::User)
    );
    assert_eq!(
        at_iat(T0).await.unwrap(),
        Revocation::Revoked(RevokedBy::User),
        "iat == at"
    );
    assert_eq!(at_iat(T0 + 1).await.unwrap(), Revocation::Live, "iat > at");

    // A smaller `at` never lowers it, but its later keep_until is kept.
    s.revoke_user_before(&user, T0 - 100, T0 + 2_000, T0 + 10)
        .await
        .unwrap();
    assert_eq!(
        s.user_revoked_before(&user, T0 + 1_500).await.unwrap(),
        Some(T0)
    );
    // A larger `at` wins, and an earlier keep_until does not shorten it.
    s.revoke_user_before(&user, T0 + 50, T0 + 500, T0 + 20)
        .await
        .unwrap();
    assert_eq!(
        s.user_revoked_before(&user, T0 + 1_500).await.unwrap(),
        Some(T0 + 50)
    );
    assert_eq!(
        s.check(&jti, &user, T0 + 50, None, T0 + 1_500)
            .await
            .unwrap(),
        Revocation::Revoked(RevokedBy::User)
    );
    assert_eq!(
        s.check(&jti, &user, T0 + 51, None, T0 + 1_500)
            .await
            .unwrap(),
        Revocation::Live
    );

    // Expired: never returned, and a new, smaller cut-off replaces it.
    assert_eq!(
        s.user_revoked_before(&user, T0 + 2_000).await.unwrap(),
        None
    );
    s.revoke_user_before(&user, T0 + 10, T0 + 3_000, T0 + 2_500)
        .await
        .unwrap();
    assert_eq!(
        s.user_revoked_before(&user, T0 + 2_600).await.unwrap(),
        Some(T0 + 10)
    );
}

async fn user_before_already_expired_is_noop(s: &dyn RevocationStore) {
    let user = unique("user-expired");
    s.revoke_user_before(&user, T0, T0, T0).await.unwrap();
    assert_eq!(s.user_revoked_before(&user, T0 - 10).await.unwrap(), None);
}

async fn refresh_single_use(s: &dyn RevocationStore) {
    let family = unique("family");
    let (rt1, rt2, rt3) = (unique("rt1"), unique("rt2"), unique("rt3"));
    let keep = T0 + 1_000;

    // A rotation chain: each token used once, the family stays live.
    assert_eq!(
        s.consume_refresh(&family, &rt1, keep, T0).await.unwrap(),
        RefreshUse::First
    );
    assert_eq!(
        s.consume_refresh(&family, &rt2, keep, T0 + 1)
            .await
            .unwrap(),
        RefreshUse::First
    );
    assert!(!s.is_family_revoked(&family, T0 + 1).await.unwrap());

    // The same id in another family is another token.
    let other = unique("family-other");
    assert_eq!(
        s.consume_refresh(&other, &rt1, keep, T0).await.unwrap(),
        RefreshUse::First
    );

    // Reuse of rt1: reported, and the family is revoked for everyone.
    assert_eq!(
        s.consume_refresh(&family, &rt1, keep, T0 + 2)
            .await
            .unwrap(),
        RefreshUse::Reused
    );
    assert!(s.is_family_revoked(&family, T0 + 2).await.unwrap());
    assert_eq!(
        s.consume_refresh(&family, &rt3, keep, T0 + 3)
            .await
            .unwrap(),
        RefreshUse::FamilyRevoked,
        "the legitimate successor is dead too"
    );
    assert_eq!(
        s.consume_refresh(&family, &rt1, keep, T0 + 3)
            .await
            .unwrap(),
        RefreshUse::FamilyRevoked
    );
    assert!(
        !s.is_family_revoked(&other, T0 + 3).await.unwrap(),
        "other families untouched"
    );
}

async fn reuse_revokes_family(s: &dyn RevocationStore) {
    // The family revocation lasts until the later of the two uses' instants.
    let family = unique("family-reuse");
    let rt = unique("rt");
    assert_eq!(
        s.consume_refresh(&family, &rt, T0 + 100, T0).await.unwrap(),
        RefreshUse::First
    );
    assert_eq!(
        s.consume_refresh(&family, &rt, T0 + 500, T0 + 50)
            .await
            .unwrap(),
        RefreshUse::Reused
    );
    assert!(s.is_family_revoked(&family, T0 + 499).await.unwrap());
    assert!(!s.is_family_revoked(&family, T0 + 500).await.unwrap());

    let family = unique("family-reuse-first-longer");
    assert_eq!(
        s.consume_refresh(&family, &rt, T0 + 900, T0).await.unwrap(),
        RefreshUse::First
    );
    assert_eq!(
        s.consume_refresh(&family, &rt, T0 + 100, T0 + 10)
            .await
            .unwrap(),
        RefreshUse::Reused
    );
    assert!(s.is_family_revoked(&family, T0 + 899).await.unwrap());

    // What a verification of a token of that family sees.
    let (jti, user) = (unique("jti"), unique("user"));
    assert_eq!(
        s.check(&jti, &user, T0, Some(&family), T0 + 20)
            .await
            .unwrap(),
        Revocation::Revoked(RevokedBy::Family)
    );
    assert_eq!(
        s.check(&jti, &user, T0, None, T0 + 20).await.unwrap(),
        Revocation::Live
    );
}

async fn family_revocation(s: &dyn RevocationStore) {
    let family = unique("family-logout");
    let rt = unique("rt");
    s.revoke_family(&family, T0 + 100, T0).await.unwrap();
    assert!(s.is_family_revoked(&family, T0 + 99).await.unwrap());
    assert!(!s.is_family_revoked(&family, T0 + 100).await.unwrap());
    assert_eq!(
        s.consume_refresh(&family, &rt, T0 + 1_000, T0 + 10)
            .await
            .unwrap(),
        RefreshUse::FamilyRevoked
    );
    // A refused use records nothing: once the revocation is over, it is a
    // first use.
    assert_eq!(
        s.consume_refresh(&family, &rt, T0 + 1_000, T0 + 200)
            .await
            .unwrap(),
        RefreshUse::First
    );

    // An earlier keep_until never shortens a revocation; a past one is a no-op.
    let family = unique("family-keep");
    s.revoke_family(&family, T0 + 100, T0).await.unwrap();
    s.revoke_family(&family, T0 + 50, T0).await.unwrap();
    assert!(s.is_family_revoked(&family, T0 + 80).await.unwrap());
    let never = unique("family-past");
    s.revoke_family(&never, T0, T0).await.unwrap();
    assert!(!s.is_family_revoked(&never, T0 - 10).await.unwrap());
}

async fn used_refresh_records_expire(s: &dyn RevocationStore) {
    let family = unique("family-expiry");
    let rt = unique("rt");
    assert_eq!(
        s.consume_refresh(&family, &rt, T0 + 100, T0).await.unwrap(),
        RefreshUse::First
    );
    assert_eq!(
        s.consume_refresh(&family, &rt, T0 + 300, T0 + 100)
            .await
            .unwrap(),
        RefreshUse::First,
        "an expired use is forgotten"
    );
    // An expiry not after now is remembered for one second.
    let rt = unique("rt-late");
    assert_eq!(
        s.consume_refresh(&family, &rt, T0, T0).await.unwrap(),
        RefreshUse::First
    );
    assert_eq!(
        s.consume_refresh(&family, &rt, T0, T0).await.unwrap(),
        RefreshUse::Reused
    );
}

async fn combined_check(s: &dyn RevocationStore) {
    let (jti, user, family) = (unique("jti"), unique("user"), unique("family"));
    assert_eq!(
        s.check(&jti, &user, T0, None, T0).await.unwrap(),
        Revocation::Live
    );
    assert_eq!(
        s.check(&jti, &user, T0, Some(&family), T0).await.unwrap(),
        Revocation::Live
    );

    s.revoke_family(&family, T0 + 100, T0).await.unwrap();
    assert_eq!(
        s.check(&jti, &user, T0, Some(&family), T0).await.unwrap(),
        Revocation::Revoked(RevokedBy::Family)
    );
    s.revoke_user_before(&user, T0, T0 + 200, T0).await.unwrap();
    assert_eq!(
        s.check(&jti, &user, T0, Some(&family), T0).await.unwrap(),
        Revocation::Revoked(RevokedBy::User)
    );
    s.revoke_jti(&jti, T0 + 300, T0).await.unwrap();
    let verdict = s.check(&jti, &user, T0, Some(&family), T0).await.unwrap();
    assert_eq!(verdict, Revocation::Revoked(RevokedBy::Token));
    assert!(verdict.is_revoked());

    // Each part expires on its own.
    assert_eq!(
        s.check(&jti, &user, T0, Some(&family), T0 + 150)
            .await
            .unwrap(),
        Revocation::Revoked(RevokedBy::Token)
    );
    let fresh = unique("jti-fresh");
    assert_eq!(
        s.check(&fresh, &user, T0, Some(&family), T0 + 150)
            .await
            .unwrap(),
        Revocation::Revoked(RevokedBy::User)
    );
    assert_eq!(
        s.check(&fresh, &user, T0, Some(&family), T0 + 250)
            .await
            .unwrap(),
        Revocation::Live
    );
    assert_eq!(
        s.check(&jti, &user, T0, Some(&family), T0 + 300)
            .await
            .unwrap(),
        Revocation::Live
    );
}

async fn purge(s: &dyn RevocationStore, expiry: Expiry) {
    let now = T0 + 5_000;
    let short = now + 10;
    let long = now + 10_000;
    let (jti, user, family, used_family, rt) = (
        unique("purge-jti"),
        unique("purge-user"),
        unique("purge-family"),
        unique("purge-used"),
        unique("purge-rt"),
    );
    let (live_jti, live_user, live_family) = (
        unique("purge-live-jti"),
        unique("purge-live-user"),
        unique("purge-live-family"),
    );
    s.revoke_jti(&jti, short, now).await.unwrap();
    s.revoke_user_before(&user, now, short, now).await.unwrap();
    s.revoke_family(&family, short, now).await.unwrap();
    assert_eq!(
        s.consume_refresh(&used_family, &rt, short, now)
            .await
            .unwrap(),
        RefreshUse::First
    );
    s.revoke_jti(&live_jti, long, now).await.unwrap();
    s.revoke_user_before(&live_user, now, long, now)
        .await
        .unwrap();
    s.revoke_family(&live_family, long, now).await.unwrap();

    let removed = s.purge_expired(short).await.unwrap();
    match expiry {
        Expiry::Purge => assert!(
            removed >= 4,
            "purged {removed} records, expected at least 4"
        ),
        Expiry::Ttl => assert_eq!(removed, 0),
    }
    // Purged or not, expired records are never returned ...
    assert!(!s.is_jti_revoked(&jti, short).await.unwrap());
    assert_eq!(s.user_revoked_before(&user, short).await.unwrap(), None);
    assert!(!s.is_family_revoked(&family, short).await.unwrap());
    assert_eq!(
        s.consume_refresh(&used_family, &rt, long, short)
            .await
            .unwrap(),
        RefreshUse::First
    );
    // ... and live ones survive.
    assert!(s.is_jti_revoked(&live_jti, short).await.unwrap());
    assert_eq!(
        s.user_revoked_before(&live_user, short).await.unwrap(),
        Some(now)
    );
    assert!(s.is_family_revoked(&live_family, short).await.unwrap());
}

async fn invalid_ids(s: &dyn RevocationStore) {
    let long = "x".repeat(MAX_ID_LEN + 1);
    let ok = unique("ok");
    let invalid =
        |result: Result<_, StoreError>| matches!(result, Err(StoreError::InvalidId { .. }));
    assert!(invalid(s.revoke_jti("", T0 + 1, T0).await));
    assert!(invalid(s.is_jti_revoked(&long, T0).await.map(|_| ())));
    assert!(invalid(s.revoke_user_before("", T0, T0 + 1, T0).await));
    assert!(invalid(
        s.consume_refresh("", &ok, T0 + 1, T0).await.map(|_| ())
    ));
    assert!(invalid(
        s.consume_refresh(&ok, &long, T0 + 1, T0).await.map(|_| ())
    ));
    assert!(invalid(s.check(&ok, "", T0, None, T0).await.map(|_| ())));
    assert!(invalid(
        s.check(&ok, &ok, T0, Some(""), T0).await.map(|_| ())
    ));
    // Exactly MAX_ID_LEN bytes is fine.
    let max = "y".repeat(MAX_ID_LEN);
    s.revoke_jti(&max, T0 + 1, T0).await.unwrap();
    assert!(s.is_jti_revoked(&max, T0).await.unwrap());
    let err = s.revoke_jti("", T0 + 1, T0).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid token id: it must be 1 to 1024 bytes long"
    );
}

/// 100 runs of two concurrent uses of one refresh token: exactly one first
/// use each time, the other is reuse, and the family ends up revoked.
async fn concurrent_single_use(store: Arc<dyn RevocationStore>) {
    for run in 0..100 {
        let family = Arc::new(unique(&format!("race-family-{run}")));
        let rt = Arc::new(unique(&format!("race-rt-{run}")));
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let (store, family, rt, barrier) =
                    (store.clone(), family.clone(), rt.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.consume_refresh(&family, &rt, T0 + 1_000, T0).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for racer in racers {
            outcomes.push(racer.await.unwrap().unwrap());
        }
        outcomes.sort_by_key(|outcome| *outcome != RefreshUse::First);
        assert_eq!(
            outcomes,
            [RefreshUse::First, RefreshUse::Reused],
            "run {run}"
        );
        assert!(
            store.is_family_revoked(&family, T0 + 1).await.unwrap(),
            "run {run}"
        );
    }
}

// ---------------------------------------------------------------------------
// The suite on each backend.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conformance() {
    conformance(
        "memory",
        Arc::new(MemoryRevocationStore::new()),
        Expiry::Purge,
    )
    .await;
}

#[tokio::test]
async fn memory_store_growth_is_bounded_by_live_records() {
    let store = MemoryRevocationStore::new();
    // 20 000 revocations, each live for 5 seconds of a clock that ticks once
    // per write: without sweeping, all of them would stay.
    for i in 0..20_000u64 {
        store
            .revoke_jti(&format!("jti-{i}"), T0 + i + 5, T0 + i)
            .await
            .unwrap();
    }
    let held = store.len();
    assert!(held <= 1_024 + 5, "{held} records held");
    let removed = store.purge_expired(T0 + 20_000 + 5).await.unwrap();
    assert_eq!(usize::try_from(removed).unwrap(), held);
    assert!(store.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_conformance_on_a_file() {
    let path = std::env::temp_dir().join(format!("lexigram-revocation-{}.db", unique("sqlite")));
    let url = format!("sqlite://{}", path.display());
    let store = SqliteRevocationStore::connect(&url).await.unwrap();
    // Opening an existing database again is fine (the schema is versioned).
    drop(SqliteRevocationStore::connect(&url).await.unwrap());
    let store = Arc::new(store);
    conformance("sqlite (file)", store.clone(), Expiry::Purge).await;

    // Purged rows are gone from the tables, not just filtered out.
    store.purge_expired(u64::MAX / 2).await.unwrap();
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM lexigram_revoked_jti)
              + (SELECT COUNT(*) FROM lexigram_revoked_user)
              + (SELECT COUNT(*) FROM lexigram_refresh_family)
              + (SELECT COUNT(*) FROM lexigram_refresh_used)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(rows, 0);

    store.pool().close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_conformance_in_memory() {
    let store = SqliteRevocationStore::connect("sqlite::memory:")
        .await
        .unwrap();
    conformance("sqlite (memory)", Arc::new(store), Expiry::Purge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_purges_expired_rows_as_it_writes() {
    let store = SqliteRevocationStore::connect("sqlite::memory:")
        .await
        .unwrap();
    // 3 000 revocations, each live for 5 seconds of a clock that ticks once
    // per write; every 1024 writes a background purge drops the expired ones.
    for i in 0..3_000u64 {
        let jti = format!("jti-{i}");
        store.revoke_jti(&jti, T0 + i + 5, T0 + i).await.unwrap();
    }
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM lexigram_revoked_jti")
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
async fn postgres_store_conformance() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    let store = PostgresRevocationStore::connect(&url).await.unwrap();
    // A second instance starting on the same database: migrations are
    // idempotent and serialised.
    let (a, b) = tokio::join!(
        PostgresRevocationStore::connect(&url),
        PostgresRevocationStore::connect(&url)
    );
    a.unwrap();
    b.unwrap();
    conformance("postgres", Arc::new(store), Expiry::Purge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_conformance() {
    let Some(url) = peer("LEXIGRAM_TEST_REDIS_URL") else {
        return;
    };
    let _shared = REDIS.read().await;
    let store = RedisRevocationStore::connect(&url).await.unwrap();
    conformance("redis", Arc::new(store), Expiry::Ttl).await;
}

// ---------------------------------------------------------------------------
// Redis across instances, and Redis going away.
// ---------------------------------------------------------------------------

/// Polls `seen` until it holds, and returns how long that took.
async fn until_seen<F, Fut>(mut seen: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !seen().await {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "not visible within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_revocation_is_seen_by_another_instance_within_1s() {
    let Some(url) = peer("LEXIGRAM_TEST_REDIS_URL") else {
        return;
    };
    let _shared = REDIS.read().await;
    // Two stores, two connection managers: two TCP connections, as two
    // application instances would have.
    let one = RedisRevocationStore::connect(&url).await.unwrap();
    let two = RedisRevocationStore::connect(&url).await.unwrap();
    let now = unix_now();
    let (jti, user, family, rt) = (
        unique("x-jti"),
        unique("x-user"),
        unique("x-family"),
        unique("x-rt"),
    );

    assert!(!two.is_jti_revoked(&jti, now).await.unwrap());
    let start = Instant::now();
    one.revoke_jti(&jti, now + 60, now).await.unwrap();
    until_seen(|| async { two.is_jti_revoked(&jti, now).await.unwrap() }).await;
    let jti_latency = start.elapsed();

    let start = Instant::now();
    one.revoke_user_before(&user, now, now + 60, now)
        .await
        .unwrap();
    until_seen(|| async {
        two.check(&unique("x-other"), &user, now, None, now)
            .await
            .unwrap()
            .is_revoked()
    })
    .await;
    let user_latency = start.elapsed();

    assert_eq!(
        one.consume_refresh(&family, &rt, now + 60, now)
            .await
            .unwrap(),
        RefreshUse::First
    );
    let start = Instant::now();
    assert_eq!(
        two.consume_refresh(&family, &rt, now + 60, now)
            .await
            .unwrap(),
        RefreshUse::Reused
    );
    until_seen(|| async { one.is_family_revoked(&family, now).await.unwrap() }).await;
    let family_latency = start.elapsed();

    println!(
        "redis cross-instance visibility (write on one, first read that sees it on the \
         other): jti {jti_latency:?}, user cut-off {user_latency:?}, family revoked by reuse \
         {family_latency:?}"
    );
}

/// Runs the Redis control script (`stop` or `start`).
fn redis_ctl(ctl: &str, action: &str) {
    let status = std::process::Command::new(ctl)
        .arg(action)
        .stdin(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{ctl} {action}: {status}");
}

/// Brings Redis back (`start` or `resume`) if a test took it away and then
/// failed.
struct RestoreOnDrop<'a> {
    ctl: &'a str,
    restore: Option<&'static str>,
}

impl Drop for RestoreOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(action) = self.restore.take() {
            redis_ctl(self.ctl, action);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_closed_and_recovers() {
    let Some(url) = peer("LEXIGRAM_TEST_REDIS_URL") else {
        return;
    };
    let Some(ctl) = peer("LEXIGRAM_TEST_REDIS_CTL") else {
        return;
    };
    let _alone = REDIS.write().await;
    let timeout = Duration::from_secs(1);
    let store = RedisRevocationStore::connect_with_timeout(&url, timeout)
        .await
        .unwrap();
    let now = unix_now();
    let (jti, user, family) = (unique("o-jti"), unique("o-user"), unique("o-family"));
    store.revoke_jti(&jti, now + 600, now).await.unwrap();
    assert!(store.is_jti_revoked(&jti, now).await.unwrap());

    let mut restore = RestoreOnDrop {
        ctl: &ctl,
        restore: Some("start"),
    };
    redis_ctl(&ctl, "stop");

    // Every operation fails with Unavailable, within the timeout, no panic.
    let limit = timeout + Duration::from_millis(500);
    let mut report = Vec::new();
    for round in 0..3 {
        let started = Instant::now();
        let results = [
            (
                "is_jti_revoked",
                store.is_jti_revoked(&jti, now).await.map(|_| ()),
            ),
            (
                "check",
                store
                    .check(&jti, &user, now, Some(&family), now)
                    .await
                    .map(|_| ()),
            ),
            (
                "revoke_jti",
                store.revoke_jti(&unique("o-new"), now + 60, now).await,
            ),
            (
                "consume_refresh",
                store
                    .consume_refresh(&family, &unique("o-rt"), now + 60, now)
                    .await
                    .map(|_| ()),
            ),
            (
                "revoke_user_before",
                store.revoke_user_before(&user, now, now + 60, now).await,
            ),
        ];
        let elapsed = started.elapsed();
        for (operation, result) in results {
            let error = result.expect_err(operation);
            assert!(error.is_unavailable(), "{operation}: {error:?}");
            assert_eq!(error.to_string(), "the redis store is unavailable");
            report.push(format!(
                "{operation}: {}",
                if error.is_timeout() {
                    "timed out"
                } else {
                    "refused"
                }
            ));
        }
        assert!(
            elapsed < limit * 5,
            "round {round}: five calls took {elapsed:?}"
        );
        report.push(format!("round {round}: 5 failing calls in {elapsed:?}"));
    }
    // One call at a time, each bounded by the timeout.
    for _ in 0..3 {
        let started = Instant::now();
        let error = store.is_jti_revoked(&jti, now).await.unwrap_err();
        assert!(error.is_unavailable());
        assert!(started.elapsed() < limit, "{:?}", started.elapsed());
    }

    redis_ctl(&ctl, "start");
    restore.restore = None;
    let back = Instant::now();
    let revoked = loop {
        match store.is_jti_revoked(&jti, now).await {
            Ok(revoked) => break revoked,
            Err(error) => {
                assert!(error.is_unavailable(), "{error:?}");
                assert!(
                    back.elapsed() < Duration::from_secs(10),
                    "no recovery: {error:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let recovery = back.elapsed();
    // The test Redis keeps an append-only file, so the revocation survived.
    assert!(revoked);
    assert_eq!(
        store
            .consume_refresh(&family, &unique("o-rt2"), now + 60, now)
            .await
            .unwrap(),
        RefreshUse::First
    );
    store
        .revoke_user_before(&user, now, now + 60, now)
        .await
        .unwrap();
    assert_eq!(
        store
            .check(&unique("o-jti2"), &user, now, Some(&family), now)
            .await
            .unwrap(),
        Revocation::Revoked(RevokedBy::User)
    );
    println!("redis outage: {}", report.join("; "));
    println!("redis outage: recovered {recovery:?} after restart");

    // A Redis that hangs (frozen: connections open, no answers): each call
    // gives up after the timeout, and all is well once it answers again.
    restore.restore = Some("resume");
    redis_ctl(&ctl, "pause");
    for operation in ["is_jti_revoked", "check"] {
        let started = Instant::now();
        let result = match operation {
            "check" => store
                .check(&jti, &user, now, Some(&family), now)
                .await
                .map(|_| ()),
            _ => store.is_jti_revoked(&jti, now).await.map(|_| ()),
        };
        let elapsed = started.elapsed();
        let error = result.expect_err(operation);
        assert!(
            error.is_unavailable() && error.is_timeout(),
            "{operation}: {error:?}"
        );
        assert!(
            elapsed >= timeout - Duration::from_millis(50),
            "{operation}: {elapsed:?}"
        );
        assert!(elapsed < limit, "{operation}: {elapsed:?}");
        println!("redis frozen: {operation} timed out after {elapsed:?}");
    }
    redis_ctl(&ctl, "resume");
    restore.restore = None;
    let back = Instant::now();
    loop {
        match store.is_jti_revoked(&jti, now).await {
            Ok(revoked) => {
                assert!(revoked);
                break;
            }
            Err(error) => {
                assert!(error.is_unavailable(), "{error:?}");
                assert!(
                    back.elapsed() < Duration::from_secs(10),
                    "no recovery: {error:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    println!("redis frozen: recovered {:?} after resume", back.elapsed());
}

// ---------------------------------------------------------------------------
// Dead servers, no peer needed.
// ---------------------------------------------------------------------------

/// A TCP server on loopback that accepts connections and never answers.
async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

/// A loopback port with nothing listening.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn network_stores_fail_fast_when_the_server_is_silent_or_gone() {
    let timeout = Duration::from_millis(300);
    let limit = timeout + Duration::from_millis(700);
    let (silent, server) = silent_server().await;
    let closed = closed_port().await;

    for port in [silent, closed] {
        let started = Instant::now();
        let error = PostgresRevocationStore::connect_with_timeout(
            &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            timeout,
        )
        .await
        .unwrap_err();
        assert!(error.is_unavailable(), "{error:?}");
        if port == silent {
            assert!(error.is_timeout(), "{error:?}");
        }
        assert!(
            started.elapsed() < limit,
            "postgres: {:?}",
            started.elapsed()
        );

        let started = Instant::now();
        let error = RedisRevocationStore::connect_with_timeout(
            &format!("redis://127.0.0.1:{port}/0"),
            timeout,
        )
        .await
        .unwrap_err();
        assert!(error.is_unavailable(), "{error:?}");
        if port == silent {
            assert!(error.is_timeout(), "{error:?}");
        }
        assert!(started.elapsed() < limit, "redis: {:?}", started.elapsed());
    }
    server.abort();

    let error = RedisRevocationStore::connect("not a url")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Config { .. }), "{error:?}");
    let error = PostgresRevocationStore::connect("postgres://[::1")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Config { .. }), "{error:?}");
}

#[tokio::test]
async fn store_errors_are_lower_case_and_hold_no_ids() {
    let store = MemoryRevocationStore::new();
    let error = store
        .consume_refresh("", "secret-jti-value", T0 + 1, T0)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert_eq!(
        text,
        "invalid refresh family id: it must be 1 to 1024 bytes long"
    );
    assert!(!text.contains("secret-jti-value"));
    assert!(!error.is_unavailable());
}
