//! AUTHZ-7: one conformance suite for every `TenantRoleStore` (the memory,
//! SQLite and PostgreSQL user stores), and the stores as the tenant-aware
//! `UserLookup` of refresh rotation.

use std::str::FromStr;
use std::sync::Arc;

use lexigram_auth::authn::{
    Created, MemoryUserStore, NewUser, PostgresUserStore, SqliteUserStore, TenantRoleStore, User,
    UserStore,
};
use lexigram_auth::error::NameError;
use lexigram_auth::store::StoreError;
use lexigram_auth::token::UserLookup;

use crate::support::peer;

const T0: u64 = 1_800_000_000;

fn roles(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

fn run_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

async fn create(store: &dyn UserStore, tag: &str, run: &str) -> User {
    let new = NewUser {
        permissions: vec!["reports.read".into()],
        ..NewUser::new(format!("{tag}.{run}@example.com"), tag).with_roles(["owner"])
    };
    match store.create_user(&new, T0).await.unwrap() {
        Created::Created(user) => user,
        Created::EmailTaken => panic!("{tag} taken"),
    }
}

fn invalid_name(result: Result<impl std::fmt::Debug, StoreError>) -> bool {
    matches!(result, Err(StoreError::InvalidName(_)))
}

async fn conformance(name: &str, users: Arc<dyn UserStore>) {
    let store = users
        .tenant_roles()
        .unwrap_or_else(|| panic!("{name}: no tenant roles"));
    let run = run_id();
    let alice = create(&*users, "alice", &run).await;
    let bob = create(&*users, "bob", &run).await;
    let ghost = "0".repeat(32);

    // Nobody is a member of anything yet.
    assert_eq!(
        store.roles_in(&alice.id, "acme").await.unwrap(),
        None,
        "{name}"
    );
    assert!(
        store.tenants_of(&alice.id).await.unwrap().is_empty(),
        "{name}"
    );

    // Assign: duplicates dropped, order kept; an empty list is a membership.
    assert!(
        store
            .assign(&alice.id, "acme", &roles(&["editor", "viewer", "editor"]))
            .await
            .unwrap(),
        "{name}"
    );
    assert_eq!(
        store.roles_in(&alice.id, "acme").await.unwrap(),
        Some(roles(&["editor", "viewer"])),
        "{name}"
    );
    for (tenant, held) in [
        ("globex", &["viewer"][..]),
        ("acme_us", &[]),
        ("acme-eu", &["admin"]),
    ] {
        assert!(
            store.assign(&alice.id, tenant, &roles(held)).await.unwrap(),
            "{name}: {tenant}"
        );
    }
    assert_eq!(
        store.roles_in(&alice.id, "acme_us").await.unwrap(),
        Some(vec![]),
        "{name}"
    );
    // Ordered by tenant id, bytewise (`-` before `_`).
    assert_eq!(
        store.tenants_of(&alice.id).await.unwrap(),
        vec![
            ("acme".to_owned(), roles(&["editor", "viewer"])),
            ("acme-eu".to_owned(), roles(&["admin"])),
            ("acme_us".to_owned(), vec![]),
            ("globex".to_owned(), roles(&["viewer"])),
        ],
        "{name}"
    );

    // Assignments are per user: bob is a member of nothing.
    assert_eq!(
        store.roles_in(&bob.id, "acme").await.unwrap(),
        None,
        "{name}"
    );
    assert!(
        store.tenants_of(&bob.id).await.unwrap().is_empty(),
        "{name}"
    );

    // Re-assigning replaces the roles in that tenant only.
    assert!(
        store
            .assign(&alice.id, "acme", &roles(&["admin"]))
            .await
            .unwrap(),
        "{name}"
    );
    assert_eq!(
        store.roles_in(&alice.id, "acme").await.unwrap(),
        Some(roles(&["admin"])),
        "{name}"
    );
    assert_eq!(
        store.roles_in(&alice.id, "globex").await.unwrap(),
        Some(roles(&["viewer"])),
        "{name}"
    );

    // Two concurrent assignments of one membership: one of them stands.
    let (editor, viewer) = (roles(&["editor"]), roles(&["viewer"]));
    let (a, b) = tokio::join!(
        store.assign(&bob.id, "acme", &editor),
        store.assign(&bob.id, "acme", &viewer),
    );
    assert!(a.unwrap() && b.unwrap(), "{name}");
    let stood = store.roles_in(&bob.id, "acme").await.unwrap().unwrap();
    assert!(
        stood == ["editor"] || stood == ["viewer"],
        "{name}: {stood:?}"
    );
    assert_eq!(store.tenants_of(&bob.id).await.unwrap().len(), 1, "{name}");

    // A user who does not exist is assigned nothing.
    assert!(
        !store
            .assign(&ghost, "acme", &roles(&["editor"]))
            .await
            .unwrap(),
        "{name}"
    );
    assert_eq!(
        store.roles_in(&ghost, "acme").await.unwrap(),
        None,
        "{name}"
    );
    assert!(store.tenants_of(&ghost).await.unwrap().is_empty(), "{name}");

    // Names are checked before anything is read or written.
    for bad in [
        "",
        "Acme",
        "acme corp",
        "acme/eu",
        "acme.eu",
        &"a".repeat(65),
    ] {
        assert!(
            invalid_name(store.assign(&alice.id, bad, &roles(&["editor"])).await),
            "{name}: {bad:?}"
        );
        assert!(
            invalid_name(store.roles_in(&alice.id, bad).await),
            "{name}: {bad:?}"
        );
        assert!(
            invalid_name(store.unassign(&alice.id, bad).await),
            "{name}: {bad:?}"
        );
    }
    assert!(
        store.assign(&alice.id, &"a".repeat(64), &[]).await.unwrap(),
        "{name}: 64 bytes are allowed"
    );
    for bad in ["Editor", "", "9lives", "edit or"] {
        assert!(
            matches!(
                store
                    .assign(&alice.id, "acme", &roles(&["viewer", bad]))
                    .await,
                Err(StoreError::InvalidName(NameError::InvalidRole { .. }))
            ),
            "{name}: {bad:?}"
        );
    }
    assert_eq!(
        store.roles_in(&alice.id, "acme").await.unwrap(),
        Some(roles(&["admin"])),
        "{name}: a refused assignment writes nothing"
    );
    assert!(matches!(
        store.roles_in("", "acme").await,
        Err(StoreError::InvalidId { .. })
    ));
    assert!(matches!(
        store.tenants_of("").await,
        Err(StoreError::InvalidId { .. })
    ));

    // The store is the tenant-aware user lookup of refresh rotation: the
    // principal acts in the tenant with the roles held there and nothing
    // global (no `owner` role, no direct permission).
    let lookup = &*users;
    let in_acme = UserLookup::current_principal_in(lookup, &alice.id, "acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(in_acme.subject(), alice.id, "{name}");
    assert_eq!(in_acme.tenant(), Some("acme"), "{name}");
    assert_eq!(in_acme.roles(), ["admin"], "{name}");
    assert!(in_acme.permissions().is_empty(), "{name}");
    assert_eq!(
        UserLookup::current_principal_in(lookup, &alice.id, "initech")
            .await
            .unwrap(),
        None,
        "{name}: not a member"
    );
    assert_eq!(
        UserLookup::current_principal_in(lookup, &alice.id, "Not A Tenant")
            .await
            .unwrap(),
        None,
        "{name}: a malformed tenant has no members"
    );
    // Without a tenant: the user's global principal, as before.
    let global = UserLookup::current_principal(lookup, &alice.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(global.roles(), ["owner"], "{name}");
    assert_eq!(global.tenant(), None, "{name}");
    // An inactive member can no longer act in the tenant.
    let mut inactive = bob.clone();
    inactive.active = false;
    users.update_user(&inactive, T0 + 1).await.unwrap();
    assert_eq!(
        UserLookup::current_principal_in(lookup, &bob.id, "acme")
            .await
            .unwrap(),
        None,
        "{name}: inactive"
    );

    // Unassign ends one membership.
    assert!(store.unassign(&alice.id, "globex").await.unwrap(), "{name}");
    assert!(
        !store.unassign(&alice.id, "globex").await.unwrap(),
        "{name}"
    );
    assert!(!store.unassign(&ghost, "globex").await.unwrap(), "{name}");
    assert_eq!(
        store.roles_in(&alice.id, "globex").await.unwrap(),
        None,
        "{name}"
    );
    assert_eq!(
        UserLookup::current_principal_in(lookup, &alice.id, "globex")
            .await
            .unwrap(),
        None,
        "{name}"
    );
    assert_eq!(
        store.tenants_of(&alice.id).await.unwrap().len(),
        4,
        "{name}"
    );

    // Deleting a user deletes its assignments; the id is assigned nothing.
    assert!(users.delete_user(&alice.id).await.unwrap(), "{name}");
    assert!(
        store.tenants_of(&alice.id).await.unwrap().is_empty(),
        "{name}"
    );
    assert_eq!(
        store.roles_in(&alice.id, "acme").await.unwrap(),
        None,
        "{name}"
    );
    assert!(
        !store
            .assign(&alice.id, "acme", &roles(&["admin"]))
            .await
            .unwrap(),
        "{name}"
    );
    assert!(users.delete_user(&bob.id).await.unwrap(), "{name}");
    println!("tenant role store conformance passed on {name}");
}

#[tokio::test]
async fn memory_tenant_role_store_conformance() {
    conformance("memory", Arc::new(MemoryUserStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tenant_role_store_conformance() {
    let store = SqliteUserStore::connect("sqlite::memory:").await.unwrap();
    conformance("sqlite", Arc::new(store)).await;
}

/// On a pool the application opened without foreign-key enforcement,
/// deleting a user still deletes its assignments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tenant_role_store_without_foreign_keys() {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str("sqlite::memory:")
        .unwrap()
        .foreign_keys(false);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
        .unwrap();
    let store = SqliteUserStore::from_pool(pool).await.unwrap();
    conformance("sqlite (no foreign keys)", Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tenant_role_store_conformance() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    let store = PostgresUserStore::connect(&url).await.unwrap();
    conformance("postgres", Arc::new(store)).await;
}

/// A user store that keeps no tenant roles (the trait's default): nobody is
/// a member of any tenant, so tenant refreshes are refused.
#[tokio::test]
async fn a_store_without_tenant_roles_makes_nobody_a_member() {
    #[derive(Debug, Default)]
    struct Plain(MemoryUserStore);
    impl UserStore for Plain {
        fn create_user<'a>(
            &'a self,
            user: &'a NewUser,
            now: u64,
        ) -> lexigram_auth::store::StoreFuture<'a, Created> {
            self.0.create_user(user, now)
        }
        fn user_by_id<'a>(
            &'a self,
            id: &'a str,
        ) -> lexigram_auth::store::StoreFuture<'a, Option<User>> {
            self.0.user_by_id(id)
        }
        fn user_by_email<'a>(
            &'a self,
            email: &'a str,
        ) -> lexigram_auth::store::StoreFuture<'a, Option<User>> {
            self.0.user_by_email(email)
        }
        fn update_user<'a>(
            &'a self,
            user: &'a User,
            now: u64,
        ) -> lexigram_auth::store::StoreFuture<'a, lexigram_auth::authn::Updated> {
            self.0.update_user(user, now)
        }
        fn delete_user<'a>(&'a self, id: &'a str) -> lexigram_auth::store::StoreFuture<'a, bool> {
            self.0.delete_user(id)
        }
        fn list_users(
            &self,
            offset: u64,
            limit: u64,
        ) -> lexigram_auth::store::StoreFuture<'_, Vec<User>> {
            self.0.list_users(offset, limit)
        }
        fn count_users(&self) -> lexigram_auth::store::StoreFuture<'_, u64> {
            self.0.count_users()
        }
        fn credentials<'a>(
            &'a self,
            id: &'a str,
        ) -> lexigram_auth::store::StoreFuture<'a, Option<lexigram_auth::authn::Credentials>>
        {
            self.0.credentials(id)
        }
        fn replace_password_hash<'a>(
            &'a self,
            id: &'a str,
            expected: Option<&'a str>,
            new_hash: &'a str,
            history: usize,
            now: u64,
        ) -> lexigram_auth::store::StoreFuture<'a, lexigram_auth::authn::HashSwap> {
            self.0
                .replace_password_hash(id, expected, new_hash, history, now)
        }
        fn record_login<'a>(
            &'a self,
            id: &'a str,
            at: u64,
        ) -> lexigram_auth::store::StoreFuture<'a, bool> {
            self.0.record_login(id, at)
        }
    }

    let plain = Plain::default();
    let user = create(&plain, "carol", &run_id()).await;
    // Assigned behind the store's back: still not visible through it.
    assert!(
        plain
            .0
            .assign(&user.id, "acme", &roles(&["editor"]))
            .await
            .unwrap()
    );
    assert!(plain.tenant_roles().is_none());
    assert_eq!(
        UserLookup::current_principal_in(&plain, &user.id, "acme")
            .await
            .unwrap(),
        None
    );
    assert!(
        UserLookup::current_principal(&plain, &user.id)
            .await
            .unwrap()
            .is_some()
    );
}
