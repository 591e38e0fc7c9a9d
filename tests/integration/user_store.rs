//! AUTHN-3: one conformance suite for every `UserStore` (memory, SQLite in
//! memory and on a file, PostgreSQL started by `scripts/test.sh`), and the
//! store as the `UserLookup` of refresh rotation.

use std::sync::Arc;

use lexigram_auth::authn::{
    Created, HashSwap, MemoryUserStore, NewUser, PostgresUserStore, SqliteUserStore, Updated, User,
    UserStore,
};
use lexigram_auth::store::StoreError;
use lexigram_auth::token::UserLookup;

use crate::support::peer;

const T0: u64 = 1_800_000_000;

/// A run-unique e-mail, so that suites sharing one database never collide.
fn email(tag: &str, run: &str) -> String {
    format!("{tag}.{run}@Example.COM")
}

async fn create(store: &dyn UserStore, new: &NewUser, now: u64) -> User {
    match store.create_user(new, now).await.unwrap() {
        Created::Created(user) => user,
        Created::EmailTaken => panic!("{} taken", new.email),
    }
}

async fn conformance(name: &str, store: Arc<dyn UserStore>) {
    let run = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let before = store.count_users().await.unwrap();

    // Create: normalised e-mail, fresh 32-hex id, every field kept.
    let new = NewUser {
        permissions: vec!["reports.read".into()],
        tenant: Some("acme".into()),
        verified: true,
        ..NewUser::new(format!("  {}  ", email("Alice", &run)), "Alice")
            .with_roles(["editor", "viewer"])
            .with_password_hash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
    };
    let alice = create(&*store, &new, T0).await;
    assert_eq!(alice.email, email("alice", &run).to_lowercase(), "{name}");
    assert_eq!(alice.id.len(), 32, "{name}");
    assert!(alice.id.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
    assert_eq!(alice.roles, ["editor", "viewer"], "{name}");
    assert_eq!(alice.permissions, ["reports.read"], "{name}");
    assert_eq!(alice.tenant.as_deref(), Some("acme"), "{name}");
    assert!(alice.active && alice.verified, "{name}");
    assert_eq!((alice.created_at, alice.updated_at), (T0, T0), "{name}");
    assert_eq!(
        (alice.last_login_at, alice.login_count),
        (None, 0),
        "{name}"
    );

    // Read back by id and by any spelling of the e-mail.
    assert_eq!(
        store.user_by_id(&alice.id).await.unwrap().as_ref(),
        Some(&alice),
        "{name}"
    );
    let shouted = email("ALICE", &run).to_uppercase();
    assert_eq!(
        store.user_by_email(&shouted).await.unwrap().as_ref(),
        Some(&alice),
        "{name}"
    );
    assert_eq!(
        store.user_by_id("0".repeat(32).as_str()).await.unwrap(),
        None,
        "{name}"
    );
    assert_eq!(
        store.user_by_email("nobody@nowhere.test").await.unwrap(),
        None,
        "{name}"
    );

    // The same e-mail in another spelling is taken; nothing is written.
    assert_eq!(
        store
            .create_user(&NewUser::new(shouted.clone(), "Impostor"), T0 + 1)
            .await
            .unwrap(),
        Created::EmailTaken,
        "{name}"
    );
    assert_eq!(store.count_users().await.unwrap(), before + 1, "{name}");

    // Bad identifiers are typed errors, not lookups of nothing.
    for bad in ["", "no-at-sign", "@x", "x@"] {
        assert!(
            matches!(
                store.create_user(&NewUser::new(bad, "x"), T0).await,
                Err(StoreError::InvalidId { .. })
            ),
            "{name}: {bad:?}"
        );
    }
    assert!(matches!(
        store.user_by_id("").await,
        Err(StoreError::InvalidId { .. })
    ));

    // Credentials: apart from the user, history empty.
    let creds = store.credentials(&alice.id).await.unwrap().unwrap();
    assert_eq!(creds.password_hash, new.password_hash, "{name}");
    assert!(creds.previous_hashes.is_empty(), "{name}");

    // Compare-and-swap: a stale expectation writes nothing.
    let h0 = new.password_hash.as_deref();
    assert_eq!(
        store
            .replace_password_hash(&alice.id, Some("$argon2id$not-current"), "$x", 3, T0 + 2)
            .await
            .unwrap(),
        HashSwap::Stale,
        "{name}"
    );
    assert_eq!(
        store
            .replace_password_hash(&alice.id, None, "$x", 3, T0 + 2)
            .await
            .unwrap(),
        HashSwap::Stale,
        "{name}"
    );
    assert_eq!(
        store.credentials(&alice.id).await.unwrap().unwrap(),
        creds,
        "{name}"
    );
    // Swaps move the old hash to the head of a bounded history.
    let mut expected = h0.map(str::to_owned);
    for (i, next) in ["$h1", "$h2", "$h3", "$h4"].into_iter().enumerate() {
        let now = T0 + 10 + i as u64;
        assert_eq!(
            store
                .replace_password_hash(&alice.id, expected.as_deref(), next, 2, now)
                .await
                .unwrap(),
            HashSwap::Swapped,
            "{name}: {next}"
        );
        expected = Some(next.to_owned());
    }
    let creds = store.credentials(&alice.id).await.unwrap().unwrap();
    assert_eq!(creds.password_hash.as_deref(), Some("$h4"), "{name}");
    assert_eq!(creds.previous_hashes, ["$h3", "$h2"], "{name}");
    assert_eq!(
        store
            .user_by_id(&alice.id)
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        T0 + 13,
        "{name}"
    );
    assert_eq!(
        store
            .replace_password_hash(&"f".repeat(32), None, "$x", 2, T0)
            .await
            .unwrap(),
        HashSwap::Missing,
        "{name}"
    );

    // Two concurrent swaps from the same expectation: exactly one wins.
    let (a, b) = tokio::join!(
        store.replace_password_hash(&alice.id, Some("$h4"), "$ha", 5, T0 + 20),
        store.replace_password_hash(&alice.id, Some("$h4"), "$hb", 5, T0 + 20),
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(
        outcomes.iter().filter(|o| **o == HashSwap::Swapped).count(),
        1,
        "{name}: {outcomes:?}"
    );
    assert!(outcomes.contains(&HashSwap::Stale), "{name}");

    // Logins are counted.
    assert!(
        store.record_login(&alice.id, T0 + 30).await.unwrap(),
        "{name}"
    );
    assert!(
        store.record_login(&alice.id, T0 + 31).await.unwrap(),
        "{name}"
    );
    let after = store.user_by_id(&alice.id).await.unwrap().unwrap();
    assert_eq!(
        (after.last_login_at, after.login_count),
        (Some(T0 + 31), 2),
        "{name}"
    );
    assert!(
        !store.record_login(&"e".repeat(32), T0).await.unwrap(),
        "{name}"
    );

    // Update: account fields only; e-mail uniqueness kept.
    let bob = create(&*store, &NewUser::new(email("bob", &run), "Bob"), T0 + 40).await;
    let mut changed = after.clone();
    changed.name = "Alice B.".into();
    changed.roles = vec!["admin".into()];
    changed.permissions.clear();
    changed.tenant = None;
    changed.active = false;
    changed.email = email("alice.b", &run);
    assert_eq!(
        store.update_user(&changed, T0 + 50).await.unwrap(),
        Updated::Updated,
        "{name}"
    );
    let read = store.user_by_id(&alice.id).await.unwrap().unwrap();
    assert_eq!(read.name, "Alice B.", "{name}");
    assert_eq!(read.roles, ["admin"], "{name}");
    assert!(
        read.permissions.is_empty() && read.tenant.is_none() && !read.active,
        "{name}"
    );
    assert_eq!(read.email, email("alice.b", &run).to_lowercase(), "{name}");
    assert_eq!(
        (read.created_at, read.updated_at, read.login_count),
        (T0, T0 + 50, 2),
        "{name}"
    );
    assert_eq!(
        store.user_by_email(&email("alice", &run)).await.unwrap(),
        None,
        "{name}"
    );
    // The password is untouched by an update.
    assert!(
        store
            .credentials(&alice.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .is_some(),
        "{name}"
    );
    let mut steal = bob.clone();
    steal.email = email("ALICE.B", &run);
    assert_eq!(
        store.update_user(&steal, T0 + 60).await.unwrap(),
        Updated::EmailTaken,
        "{name}"
    );
    assert_eq!(
        store.user_by_id(&bob.id).await.unwrap().unwrap(),
        bob,
        "{name}"
    );
    let mut ghost = bob.clone();
    ghost.id = "d".repeat(32);
    ghost.email = email("ghost", &run);
    assert_eq!(
        store.update_user(&ghost, T0).await.unwrap(),
        Updated::Missing,
        "{name}"
    );

    // The store is the refresh rotation's user lookup: active users give
    // their current principal; inactive and missing ones none.
    let lookup = &*store;
    let principal = UserLookup::current_principal(lookup, &bob.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(principal.subject(), bob.id, "{name}");
    assert_eq!(
        UserLookup::current_principal(lookup, &alice.id)
            .await
            .unwrap(),
        None,
        "{name}"
    );
    assert_eq!(
        UserLookup::current_principal(lookup, &ghost.id)
            .await
            .unwrap(),
        None,
        "{name}"
    );

    // Listing: creation order, then id; offset and limit.
    let carol = create(
        &*store,
        &NewUser::new(email("carol", &run), "Carol"),
        T0 + 40,
    )
    .await;
    let all = store.list_users(0, 1_000_000).await.unwrap();
    let ours: Vec<&str> = all
        .iter()
        .filter(|u| [&alice.id, &bob.id, &carol.id].contains(&&u.id))
        .map(|u| u.id.as_str())
        .collect();
    let (first, second) = if bob.id < carol.id {
        (&bob.id, &carol.id)
    } else {
        (&carol.id, &bob.id)
    };
    assert_eq!(ours, [alice.id.as_str(), first, second], "{name}");
    let total = store.count_users().await.unwrap();
    assert_eq!(total, before + 3, "{name}");
    assert_eq!(all.len() as u64, total, "{name}");
    let page = store.list_users(1, 2).await.unwrap();
    assert_eq!(page, all[1..3.min(all.len())].to_vec(), "{name}");

    // Delete: gone with its credentials, its e-mail free again.
    assert!(store.delete_user(&alice.id).await.unwrap(), "{name}");
    assert!(!store.delete_user(&alice.id).await.unwrap(), "{name}");
    assert_eq!(store.user_by_id(&alice.id).await.unwrap(), None, "{name}");
    assert_eq!(store.credentials(&alice.id).await.unwrap(), None, "{name}");
    let again = create(
        &*store,
        &NewUser::new(email("alice.b", &run), "New"),
        T0 + 70,
    )
    .await;
    assert_ne!(again.id, alice.id, "{name}");
    assert_eq!(store.count_users().await.unwrap(), before + 3, "{name}");
    println!("user store conformance passed on {name}");
}

#[tokio::test]
async fn memory_user_store_conformance() {
    conformance("memory", Arc::new(MemoryUserStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_user_store_conformance_in_memory() {
    let store = SqliteUserStore::connect("sqlite::memory:").await.unwrap();
    conformance("sqlite (memory)", Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_user_store_conformance_on_a_file_survives_a_reopen() {
    let path =
        std::env::temp_dir().join(format!("lexigram-users-{}-{}.db", std::process::id(), T0));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}", path.display());
    let store = SqliteUserStore::connect(&url).await.unwrap();
    conformance("sqlite (file)", Arc::new(store)).await;
    // Reopened: the schema is versioned and the rows are still there.
    let reopened = SqliteUserStore::connect(&url).await.unwrap();
    assert_eq!(reopened.count_users().await.unwrap(), 3);
    reopened.pool().close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_user_store_conformance() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    // Two instances starting at once on one database: migrations serialise.
    let (a, b) = tokio::join!(
        PostgresUserStore::connect(&url),
        PostgresUserStore::connect(&url)
    );
    let store = a.unwrap();
    drop(b.unwrap());
    conformance("postgres", Arc::new(store)).await;
}
