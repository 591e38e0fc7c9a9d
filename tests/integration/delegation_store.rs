//! The `DelegationStore` conformance suite, run against every backend
//! (memory, SQLite in memory and on a file, PostgreSQL), and resource
//! checks of `AuthorizationService` allowed through a stored delegation
//! until it is revoked, across two instances sharing the store.
//!
//! PostgreSQL comes from `LEXIGRAM_TEST_POSTGRES_URL` (`scripts/test.sh`
//! sets it); each run gets a schema of its own, because purging is
//! store-wide. Without the variable the PostgreSQL tests print one line
//! naming it and return.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lexigram_auth::abac::{
    Delegation, DelegationStore, MemoryDelegationStore, PostgresDelegationStore,
    SqliteDelegationStore,
};
use lexigram_auth::authz::{AuthorizationService, DenyReason, RoleDefinition};
use lexigram_auth::{Policy, Principal};

use crate::support::{PgSchema, peer};

/// A resource checked through delegations.
#[derive(Debug, Policy)]
#[policy(kind = "report")]
struct Report {
    #[policy(id)]
    id: String,
}

fn report(id: &str) -> Report {
    Report { id: id.to_owned() }
}

/// A fixed instant with nanoseconds, for the expiry tests.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789)
}

/// Far beyond every purge of the suite.
fn far() -> SystemTime {
    UNIX_EPOCH + Duration::new(9_999_999_999, 999_999_999)
}

fn delegation(id: &str, delegate: &str, expires_at: SystemTime) -> Delegation {
    Delegation {
        id: id.to_owned(),
        delegator: "alice".to_owned(),
        delegate: delegate.to_owned(),
        permissions: vec!["report.read".to_owned()],
        resource_pattern: "report/42".to_owned(),
        expires_at,
        revoked: false,
        delegator_tenant: None,
        delegator_roles: Vec::new(),
        delegator_grants: Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// The conformance suite: one async fn per behaviour. The store is fresh.
// ---------------------------------------------------------------------------

async fn conformance(name: &str, store: &dyn DelegationStore) {
    every_field_round_trips(store).await;
    two_delegations_to_one_delegate(store).await;
    revoke(store).await;
    expiry_and_purge(store).await;
    println!("delegation store {name}: conformance passed");
}

async fn every_field_round_trips(s: &dyn DelegationStore) {
    let full = Delegation {
        id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".to_owned(),
        delegator: "alice@example.org".to_owned(),
        delegate: "bob «the builder» ü".to_owned(),
        permissions: vec!["report.read".to_owned(), "report.*".to_owned()],
        resource_pattern: "report/2024 Q1 'final' \"v2\"".to_owned(),
        expires_at: far(),
        revoked: false,
        delegator_tenant: Some("tenant-ä".to_owned()),
        delegator_roles: vec!["author".to_owned(), "reviewer".to_owned()],
        delegator_grants: vec!["report.export".to_owned()],
    };
    let bare = delegation(
        "bare",
        "bare-delegate",
        UNIX_EPOCH + Duration::new(4_000_000_000, 1),
    );
    s.grant(&full).await.unwrap();
    s.grant(&bare).await.unwrap();
    assert_eq!(s.list_for_delegate(&full.delegate).await.unwrap(), [full]);
    assert_eq!(s.list_for_delegate("bare-delegate").await.unwrap(), [bare]);
    assert!(s.list_for_delegate("nobody").await.unwrap().is_empty());
    // Delegates are matched exactly.
    assert!(
        s.list_for_delegate("BARE-DELEGATE")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.list_for_delegate("bare").await.unwrap().is_empty());
}

async fn two_delegations_to_one_delegate(s: &dyn DelegationStore) {
    let first = delegation("two-1", "carol", far());
    let second = Delegation {
        resource_pattern: "report/*".to_owned(),
        ..delegation("two-2", "carol", far())
    };
    let elsewhere = delegation("two-3", "dave", far());
    s.grant(&first).await.unwrap();
    s.grant(&second).await.unwrap();
    s.grant(&elsewhere).await.unwrap();
    assert_eq!(
        s.list_for_delegate("carol").await.unwrap(),
        [first.clone(), second.clone()]
    );
    assert_eq!(s.list_for_delegate("dave").await.unwrap(), [elsewhere]);
    // A re-grant of an id replaces it, and lists last.
    let changed = Delegation {
        permissions: vec!["report.edit".to_owned()],
        ..first.clone()
    };
    s.grant(&changed).await.unwrap();
    assert_eq!(
        s.list_for_delegate("carol").await.unwrap(),
        [second.clone(), changed.clone()]
    );
    // A re-grant to another delegate moves it.
    let moved = Delegation {
        delegate: "erin".to_owned(),
        ..changed
    };
    s.grant(&moved).await.unwrap();
    assert_eq!(s.list_for_delegate("carol").await.unwrap(), [second]);
    assert_eq!(s.list_for_delegate("erin").await.unwrap(), [moved]);
}

async fn revoke(s: &dyn DelegationStore) {
    let d = delegation("rev-1", "frank", far());
    let other = delegation("rev-2", "frank", far());
    s.grant(&d).await.unwrap();
    s.grant(&other).await.unwrap();
    assert!(s.revoke("rev-1").await.unwrap());
    let listed = s.list_for_delegate("frank").await.unwrap();
    assert_eq!(
        listed,
        [
            Delegation {
                revoked: true,
                ..d.clone()
            },
            other
        ]
    );
    assert!(!listed[0].is_active(t0()));
    assert!(listed[1].is_active(t0()));
    // Revoking again still finds it; an unknown id is `false`.
    assert!(s.revoke("rev-1").await.unwrap());
    assert!(!s.revoke("no-such-delegation").await.unwrap());
    assert!(!s.revoke("").await.unwrap());
    // A re-grant carries its own `revoked`.
    s.grant(&d).await.unwrap();
    assert!(
        s.list_for_delegate("frank").await.unwrap()[1].is_active(t0()),
        "re-granted"
    );
}

async fn expiry_and_purge(s: &dyn DelegationStore) {
    let soon = t0() + Duration::new(10, 5);
    let exact = t0() + Duration::from_secs(10);
    let later = t0() + Duration::from_secs(100);
    let before_epoch = UNIX_EPOCH - Duration::new(1, 500_000_000);
    let d1 = delegation("exp-1", "grace", soon);
    let d2 = delegation("exp-2", "grace", later);
    let d3 = delegation("exp-3", "grace", exact);
    let d4 = delegation("exp-4", "heidi", before_epoch);
    for d in [&d1, &d2, &d3, &d4] {
        s.grant(d).await.unwrap();
    }
    assert!(s.revoke("exp-3").await.unwrap());
    assert_eq!(s.list_for_delegate("heidi").await.unwrap(), [d4]);
    let listed = s.list_for_delegate("grace").await.unwrap();
    assert_eq!(listed[0].expires_at, soon);
    assert!(listed[0].is_active(soon - Duration::from_nanos(1)));
    assert!(!listed[0].is_active(soon));

    // Nothing of the other tests expires before `far()`.
    assert_eq!(s.purge_expired(t0()).await.unwrap(), 1, "before the epoch");
    assert!(s.list_for_delegate("heidi").await.unwrap().is_empty());
    // Expired at `exact` (revoked or not), not yet at `soon`.
    assert_eq!(s.purge_expired(exact).await.unwrap(), 1);
    assert_eq!(
        s.list_for_delegate("grace").await.unwrap(),
        [d1.clone(), d2.clone()]
    );
    assert_eq!(
        s.purge_expired(soon - Duration::from_nanos(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.purge_expired(soon).await.unwrap(), 1);
    assert_eq!(s.purge_expired(soon).await.unwrap(), 0);
    assert_eq!(s.list_for_delegate("grace").await.unwrap(), [d2]);
    assert_eq!(s.purge_expired(later).await.unwrap(), 1);
    assert!(s.list_for_delegate("grace").await.unwrap().is_empty());
    // The other tests' delegations (expiring at `far()`) are still there.
    assert!(!s.list_for_delegate("frank").await.unwrap().is_empty());
    assert!(!s.revoke("exp-2").await.unwrap());
}

// ---------------------------------------------------------------------------
// Resource checks through a stored delegation, on two service instances.
// ---------------------------------------------------------------------------

fn service(store: Arc<dyn DelegationStore>) -> AuthorizationService {
    let authz = AuthorizationService::new();
    authz
        .set_roles(BTreeMap::from([(
            "analyst".to_owned(),
            RoleDefinition::new(["report.read", "report.edit"]),
        )]))
        .unwrap();
    authz.set_delegation_store(store);
    authz
}

/// Grants through `one`, checks through both, revokes through `two`.
async fn checks_through_the_store(
    name: &str,
    one: Arc<dyn DelegationStore>,
    two: Arc<dyn DelegationStore>,
) {
    let (one, two) = (service(one), service(two));
    let alice = Principal::new("alice").with_roles(["analyst"]);
    let bob = Principal::new(format!("bob-{name}"));
    let until = SystemTime::now() + Duration::from_secs(3600);

    for authz in [&one, &two] {
        let err = authz.check(&bob, "edit", &report("42")).await.unwrap_err();
        assert_eq!(err.reason, DenyReason::NoRule);
    }
    let d = one
        .delegate(&alice, bob.subject(), ["report.edit"], "report/42", until)
        .await
        .unwrap();
    assert_eq!(
        two.delegation_store()
            .list_for_delegate(bob.subject())
            .await
            .unwrap(),
        std::slice::from_ref(&d)
    );
    for authz in [&one, &two] {
        authz.check(&bob, "edit", &report("42")).await.unwrap();
        assert!(authz.check(&bob, "edit", &report("43")).await.is_err());
        assert!(authz.check(&bob, "read", &report("42")).await.is_err());
    }
    assert!(two.revoke_delegation(&d.id).await.unwrap());
    for authz in [&one, &two] {
        let err = authz.check(&bob, "edit", &report("42")).await.unwrap_err();
        assert_eq!(err.reason, DenyReason::NoRule);
    }
    assert!(!one.revoke_delegation("no-such-delegation").await.unwrap());
    println!("delegation store {name}: checks allowed through the store until revoked");
}

// ---------------------------------------------------------------------------
// The stores.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn delegation_store_memory_conformance() {
    conformance("memory", &MemoryDelegationStore::new()).await;
    let store: Arc<dyn DelegationStore> = Arc::new(MemoryDelegationStore::new());
    checks_through_the_store("memory", store.clone(), store).await;
}

#[tokio::test]
async fn delegation_store_sqlite_conformance_in_memory() {
    let store = SqliteDelegationStore::connect("sqlite::memory:")
        .await
        .unwrap();
    conformance("sqlite (memory)", &store).await;
    let store: Arc<dyn DelegationStore> = Arc::new(store);
    checks_through_the_store("sqlite-memory", store.clone(), store).await;
}

#[tokio::test]
async fn delegation_store_sqlite_conformance_on_a_file() {
    let path = std::env::temp_dir().join(format!(
        "lexigram-delegations-{}-{}.db",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let url = format!("sqlite://{}", path.display());
    let store = SqliteDelegationStore::connect(&url).await.unwrap();
    conformance("sqlite (file)", &store).await;
    // Two stores on one file: two instances of one application.
    let other = SqliteDelegationStore::connect(&url).await.unwrap();
    checks_through_the_store("sqlite-file", Arc::new(store), Arc::new(other)).await;

    // Reopened: the schema is versioned and the delegations are still there.
    let kept = delegation("kept", "ivan", far());
    let store = SqliteDelegationStore::connect(&url).await.unwrap();
    store.grant(&kept).await.unwrap();
    store.pool().close().await;
    let reopened = SqliteDelegationStore::connect(&url).await.unwrap();
    assert_eq!(reopened.list_for_delegate("ivan").await.unwrap(), [kept]);
    reopened.pool().close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegation_store_postgres_conformance() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    let schema = PgSchema::create(&url, "delegations").await;
    // Two instances starting at once on one database: migrations serialise.
    let (one, two) = tokio::join!(
        async { PostgresDelegationStore::from_pool(schema.pool().await).await },
        async { PostgresDelegationStore::from_pool(schema.pool().await).await },
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    conformance("postgres", &one).await;
    checks_through_the_store("postgres", Arc::new(one), Arc::new(two)).await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegation_store_postgres_connects_by_url() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    // The shared public schema, as an application would use it: ids of
    // this run only.
    let store = PostgresDelegationStore::connect(&url).await.unwrap();
    let delegate = format!("pg-url-{}-{:?}", std::process::id(), SystemTime::now());
    let d = delegation(&format!("{delegate}-d"), &delegate, far());
    store.grant(&d).await.unwrap();
    assert_eq!(
        store.list_for_delegate(&delegate).await.unwrap(),
        std::slice::from_ref(&d)
    );
    assert!(store.revoke(&d.id).await.unwrap());
    assert!(
        store.list_for_delegate(&delegate).await.unwrap()[0].revoked,
        "revoked"
    );
    sqlx::query("DELETE FROM lexigram_delegations WHERE delegate = $1")
        .bind(&delegate)
        .execute(store.pool())
        .await
        .unwrap();
}
