//! The `PolicyStore` conformance suite, run against every backend (memory,
//! SQLite in memory and on a file, PostgreSQL), with
//! `AuthorizationService::reload_policies` over each: documents merged,
//! a bad set refused with the old policies kept, removed documents gone,
//! and two instances sharing one store both following a change.
//!
//! PostgreSQL comes from `LEXIGRAM_TEST_POSTGRES_URL` (`scripts/test.sh`
//! sets it); each test gets a schema of its own, because a store lists
//! every document. Without the variable the PostgreSQL tests print one
//! line naming it and return.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lexigram_auth::abac::{
    MemoryPolicyStore, PolicyError, PolicyReloadError, PolicyStore, PostgresPolicyStore,
    SchemaRegistry, SqlitePolicyStore, put_checked,
};
use lexigram_auth::authz::{AuthorizationService, DenyReason};
use lexigram_auth::store::StoreError;
use lexigram_auth::{Policy, Principal};

use crate::support::{PgSchema, peer};

/// The resource the stored policies talk about.
#[derive(Debug, Policy)]
#[policy(kind = "memo")]
struct Memo {
    #[policy(id)]
    id: String,
    status: String,
}

fn memo(status: &str) -> Memo {
    Memo {
        id: "m-1".to_owned(),
        status: status.to_owned(),
    }
}

fn registry() -> SchemaRegistry {
    SchemaRegistry::new().register::<Memo>()
}

const READING: &str = "
policies:
  - id: read-drafts
    effect: allow
    resource: memo
    actions: [read]
    when: { attr: resource.status, op: equals, value: draft }
";

const EDITING: &str = "
policies:
  - { id: edit-memos, effect: allow, resource: memo, actions: [edit] }
  - id: locked-memos
    effect: deny
    resource: memo
    actions: [edit]
    when: { attr: resource.status, op: equals, value: locked }
";

/// Takes `edit-memos` again: refused together with `editing`.
const CLASH: &str = "
policies:
  - { id: edit-memos, effect: deny, resource: memo }
";

const ARCHIVE: &str = "
policies:
  - { id: read-archived, effect: allow, resource: memo, actions: [read], when: { attr: resource.status, op: equals, value: archived } }
";

/// What `principal` may do on a draft, a locked and an archived memo:
/// `(read draft, edit draft, edit locked, read archived)`.
async fn decisions(authz: &AuthorizationService) -> (bool, bool, bool, bool) {
    let p = Principal::new("pat");
    (
        authz.check(&p, "read", &memo("draft")).await.is_ok(),
        authz.check(&p, "edit", &memo("draft")).await.is_ok(),
        authz.check(&p, "edit", &memo("locked")).await.is_ok(),
        authz.check(&p, "read", &memo("archived")).await.is_ok(),
    )
}

// ---------------------------------------------------------------------------
// The conformance suite. The store is fresh.
// ---------------------------------------------------------------------------

async fn conformance(name: &str, store: &dyn PolicyStore) {
    documents_by_name(store).await;
    reload_through_the_service(store).await;
    println!("policy store {name}: conformance passed");
}

async fn documents_by_name(s: &dyn PolicyStore) {
    assert_eq!(s.revision().await.unwrap(), 0);
    assert!(s.list().await.unwrap().is_empty());

    let before = SystemTime::now();
    // Names in byte order, whatever the database's collation.
    let odd = "policies: [] # «ünïcode», 'quotes', \"double\", \\ and\n# a second line\n";
    let big = format!("# {}\n", "x".repeat(200_000));
    for (name, text) in [("é-last", odd), ("a-lower", "first"), ("B-upper", &big)] {
        s.put(name, text).await.unwrap();
    }
    let after = SystemTime::now();
    assert_eq!(s.revision().await.unwrap(), 3);
    let listed = s.list().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["B-upper", "a-lower", "é-last"]);
    assert_eq!(listed[0].text, big);
    assert_eq!(listed[1].text, "first");
    assert_eq!(listed[2].text, odd);
    for d in &listed {
        assert!(before <= d.updated_at && d.updated_at <= after, "{d:?}");
    }

    // A put replaces the document of that name.
    s.put("a-lower", "second").await.unwrap();
    assert_eq!(s.revision().await.unwrap(), 4);
    let listed = s.list().await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[1].text, "second");
    assert!(listed[1].updated_at >= after);

    // Removing: `true` once; an unknown name changes nothing.
    for name in ["a-lower", "B-upper", "é-last"] {
        assert!(s.remove(name).await.unwrap(), "{name}");
        assert!(!s.remove(name).await.unwrap(), "{name}");
    }
    assert!(!s.remove("never-stored").await.unwrap());
    assert_eq!(s.revision().await.unwrap(), 7);
    assert!(s.list().await.unwrap().is_empty());

    // Names of 1 to 1024 bytes.
    let long = "n".repeat(1025);
    for name in ["", long.as_str()] {
        assert!(matches!(
            s.put(name, "").await,
            Err(StoreError::InvalidId { .. })
        ));
        assert!(matches!(
            s.remove(name).await,
            Err(StoreError::InvalidId { .. })
        ));
    }
    s.put(&"n".repeat(1024), "").await.unwrap();
    assert!(s.remove(&"n".repeat(1024)).await.unwrap());
    assert_eq!(s.revision().await.unwrap(), 9);
}

async fn reload_through_the_service(s: &dyn PolicyStore) {
    let registry = registry();
    let authz = AuthorizationService::new();
    assert_eq!(decisions(&authz).await, (false, false, false, false));

    // Two documents: the decisions reflect both.
    s.put("reading", READING).await.unwrap();
    s.put("editing", EDITING).await.unwrap();
    assert_eq!(authz.reload_policies(s, &registry).await.unwrap(), 3);
    assert_eq!(decisions(&authz).await, (true, true, false, false));
    let revision = s.revision().await.unwrap();
    assert_eq!(authz.policy_revision(), Some(revision));

    // A policy id in two documents: refused, naming both; the old
    // policies stay in force.
    s.put("zz-clash", CLASH).await.unwrap();
    let err = authz.reload_policies(s, &registry).await.unwrap_err();
    let PolicyReloadError::Invalid(PolicyError::DuplicateIdAcrossDocuments {
        id,
        document,
        first_document,
        ..
    }) = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(
        (id.as_str(), document.as_str(), first_document.as_str()),
        ("edit-memos", "zz-clash", "editing")
    );
    assert!(err.to_string().contains("`editing`"), "{err}");
    assert_eq!(authz.policies().len(), 3);
    assert_eq!(authz.policy_revision(), Some(revision));
    assert_eq!(decisions(&authz).await, (true, true, false, false));

    // A document that does not check against the schemas: refused too.
    assert!(s.remove("zz-clash").await.unwrap());
    let typo = "policies: [{ id: t, effect: allow, resource: memo, when: { attr: resource.state, op: exists } }]";
    s.put("typo", typo).await.unwrap();
    let err = authz.reload_policies(s, &registry).await.unwrap_err();
    assert_eq!(err.code(), "policy_unknown_attribute");
    let PolicyReloadError::Invalid(err) = err else {
        panic!("{err:?}");
    };
    assert_eq!(err.document(), Some("typo"));
    assert_eq!(err.path(), "policies[0].when.attr");
    assert_eq!(decisions(&authz).await, (true, true, false, false));

    // `put_checked` keeps such documents out of the store.
    assert!(s.remove("typo").await.unwrap());
    let err = put_checked(s, &registry, "clash", CLASH).await.unwrap_err();
    assert_eq!(err.code(), "policy_duplicate_id");
    assert!(s.list().await.unwrap().iter().all(|d| d.name != "clash"));
    assert_eq!(
        put_checked(s, &registry, "archive", ARCHIVE).await.unwrap(),
        4
    );

    // Removing a document and reloading: its policies are gone.
    assert!(s.remove("editing").await.unwrap());
    assert_eq!(
        authz
            .reload_policies_if_changed(s, &registry)
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(decisions(&authz).await, (true, false, false, true));
    assert_eq!(
        authz
            .reload_policies_if_changed(s, &registry)
            .await
            .unwrap(),
        None
    );
    let err = authz
        .check(&Principal::new("pat"), "edit", &memo("draft"))
        .await
        .unwrap_err();
    assert_eq!(err.reason, DenyReason::NoRule);

    for name in ["reading", "archive"] {
        assert!(s.remove(name).await.unwrap());
    }
    assert_eq!(authz.reload_policies(s, &registry).await.unwrap(), 0);
    assert_eq!(decisions(&authz).await, (false, false, false, false));
}

/// Two application instances, each with its own store handle (its own
/// pool) on one database: a change through one is seen by both after
/// they poll.
async fn two_instances_follow_one_store(
    name: &str,
    one: Arc<dyn PolicyStore>,
    two: Arc<dyn PolicyStore>,
) {
    let registry = registry();
    let (a, b) = (AuthorizationService::new(), AuthorizationService::new());
    one.put("reading", READING).await.unwrap();
    two.put("editing", EDITING).await.unwrap();
    for (authz, store) in [(&a, &one), (&b, &two)] {
        assert_eq!(authz.reload_policies(&**store, &registry).await.unwrap(), 3);
        assert_eq!(decisions(authz).await, (true, true, false, false));
        assert_eq!(
            authz
                .reload_policies_if_changed(&**store, &registry)
                .await
                .unwrap(),
            None
        );
    }

    // A change through one instance's store.
    one.put("archive", ARCHIVE).await.unwrap();
    assert!(one.remove("editing").await.unwrap());
    for (authz, store) in [(&a, &one), (&b, &two)] {
        assert_eq!(
            authz
                .reload_policies_if_changed(&**store, &registry)
                .await
                .unwrap(),
            Some(2)
        );
        assert_eq!(decisions(authz).await, (true, false, false, true));
    }
    assert_eq!(a.policy_revision(), b.policy_revision());

    // A bad change through the other: both keep what they had.
    two.put(
        "zz-clash",
        "policies: [{ id: read-drafts, effect: deny, resource: memo }]",
    )
    .await
    .unwrap();
    for (authz, store) in [(&a, &one), (&b, &two)] {
        let err = authz
            .reload_policies_if_changed(&**store, &registry)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "policy_duplicate_id");
        assert_eq!(decisions(authz).await, (true, false, false, true));
    }
    println!("policy store {name}: two instances follow one store");
}

// ---------------------------------------------------------------------------
// The stores.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn policy_store_memory_conformance() {
    conformance("memory", &MemoryPolicyStore::new()).await;
    let store: Arc<dyn PolicyStore> = Arc::new(MemoryPolicyStore::new());
    two_instances_follow_one_store("memory", store.clone(), store).await;
}

#[tokio::test]
async fn policy_store_sqlite_conformance_in_memory() {
    let store = SqlitePolicyStore::connect("sqlite::memory:").await.unwrap();
    conformance("sqlite (memory)", &store).await;
    let store: Arc<dyn PolicyStore> =
        Arc::new(SqlitePolicyStore::connect("sqlite::memory:").await.unwrap());
    two_instances_follow_one_store("sqlite (memory)", store.clone(), store).await;
}

#[tokio::test]
async fn policy_store_sqlite_conformance_on_a_file() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let file = |label: &str| {
        std::env::temp_dir().join(format!(
            "lexigram-policies-{label}-{}-{nanos}.db",
            std::process::id()
        ))
    };
    let (path, shared) = (file("suite"), file("shared"));
    let url = format!("sqlite://{}", path.display());
    let store = SqlitePolicyStore::connect(&url).await.unwrap();
    conformance("sqlite (file)", &store).await;

    // Reopened: the schema is versioned, documents and revision are kept.
    store.put("kept", READING).await.unwrap();
    let revision = store.revision().await.unwrap();
    store.pool().close().await;
    let reopened = SqlitePolicyStore::connect(&url).await.unwrap();
    assert_eq!(reopened.revision().await.unwrap(), revision);
    assert_eq!(reopened.list().await.unwrap()[0].text, READING);
    reopened.pool().close().await;

    // Two processes on one file.
    let url = format!("sqlite://{}", shared.display());
    let one = SqlitePolicyStore::connect(&url).await.unwrap();
    let two = SqlitePolicyStore::connect(&url).await.unwrap();
    two_instances_follow_one_store("sqlite (file)", Arc::new(one), Arc::new(two)).await;

    for path in [path, shared] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_store_postgres_conformance() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    let schema = PgSchema::create(&url, "policies").await;
    let store = PostgresPolicyStore::from_pool(schema.pool().await)
        .await
        .unwrap()
        .with_timeout(Duration::from_secs(30));
    conformance("postgres", &store).await;
    store.pool().close().await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_store_postgres_two_instances_follow_one_store() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    let schema = PgSchema::create(&url, "policies_shared").await;
    // Two instances starting at once: migrations serialise.
    let (one, two) = tokio::join!(
        async { PostgresPolicyStore::from_pool(schema.pool().await).await },
        async { PostgresPolicyStore::from_pool(schema.pool().await).await },
    );
    let (one, two) = (Arc::new(one.unwrap()), Arc::new(two.unwrap()));
    two_instances_follow_one_store("postgres", one.clone(), two.clone()).await;

    // Concurrent writers through both: every write counts once.
    let start = one.revision().await.unwrap();
    let mut writers = Vec::new();
    for (i, store) in [one.clone(), two.clone()]
        .into_iter()
        .cycle()
        .take(20)
        .enumerate()
    {
        writers.push(tokio::spawn(async move {
            store
                .put(&format!("w-{}", i % 5), &format!("# writer {i}"))
                .await
                .unwrap();
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(two.revision().await.unwrap(), start + 20);
    assert_eq!(
        one.list()
            .await
            .unwrap()
            .iter()
            .filter(|d| d.name.starts_with("w-"))
            .count(),
        5
    );
    one.pool().close().await;
    two.pool().close().await;
    schema.drop_schema().await;
}
