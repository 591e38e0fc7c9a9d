//! AUTHN-1, -2, -4, -5, -7: the login flow of `AuthenticationService` end to
//! end, on SQLite and in memory: tokens, opaque refusals, lockout before
//! hashing, hash upgrades on login (also under concurrency), and events.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use argon2::password_hash::CustomizedPasswordHasher;
use argon2::{Argon2, ParamsBuilder};
use lexigram_auth::authn::{
    AuthEvent, AuthenticationFailed, AuthenticationService, ChannelSink, Created, Credentials,
    FailureReason, HashSwap, MemoryUserStore, NewUser, SqliteUserStore, Updated, User, UserStore,
};
use lexigram_auth::error::TokenError;
use lexigram_auth::password::{PasswordHasher, Verification};
use lexigram_auth::revocation::MemoryRevocationStore;
use lexigram_auth::store::StoreFuture;
use lexigram_auth::token::{Algorithm, JwtTokenManager};

const PASSWORD: &str = "Correct-Horse-Battery-9";
const CURRENT_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

fn tokens() -> JwtTokenManager {
    JwtTokenManager::builder()
        .hmac_key("k1", Algorithm::HS256, [7u8; 32])
        .current_key("k1")
        .revocation_store(Arc::new(MemoryRevocationStore::new()))
        .build()
        .unwrap()
}

fn service(users: Arc<dyn UserStore>) -> (AuthenticationService, Receiver<AuthEvent>) {
    let (sink, events) = ChannelSink::new();
    let service = AuthenticationService::new(users, PasswordHasher::default(), tokens())
        .events(Arc::new(sink));
    (service, events)
}

async fn sqlite() -> Arc<dyn UserStore> {
    Arc::new(SqliteUserStore::connect("sqlite::memory:").await.unwrap())
}

async fn create(users: &dyn UserStore, email: &str, hash: &str, active: bool) -> User {
    let new = NewUser {
        active,
        ..NewUser::new(email, "Someone")
            .with_roles(["editor", "viewer"])
            .with_password_hash(hash)
    };
    match users.create_user(&new, 1_000).await.unwrap() {
        Created::Created(user) => user,
        Created::EmailTaken => panic!("{email} taken"),
    }
}

async fn stored_hash(users: &dyn UserStore, id: &str) -> (String, Vec<String>) {
    let c = users.credentials(id).await.unwrap().unwrap();
    (c.password_hash.unwrap(), c.previous_hashes)
}

fn drain(events: &Receiver<AuthEvent>) -> Vec<AuthEvent> {
    events.try_iter().collect()
}

fn failed(identifier: &str, reason: FailureReason, ip: Option<IpAddr>) -> AuthEvent {
    AuthEvent::LoginFailed {
        identifier: identifier.into(),
        reason,
        ip,
    }
}

/// A bcrypt hash at cost 4 (the legacy Python format for short passwords).
fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// An Argon2id hash far below the current parameters (m=4096, t=1, p=1).
fn weak_argon2_hash(password: &str) -> String {
    let params = ParamsBuilder::new()
        .m_cost(4096)
        .t_cost(1)
        .p_cost(1)
        .build()
        .unwrap();
    let hash = Argon2::default()
        .hash_password_customized(
            password.as_bytes(),
            b"sixteen-byte-salt",
            Some("argon2id"),
            Some(0x13),
            params,
        )
        .unwrap()
        .to_string();
    assert!(hash.starts_with("$argon2id$v=19$m=4096,t=1,p=1$"), "{hash}");
    hash
}

#[tokio::test]
async fn login_on_sqlite_issues_tokens_carrying_the_users_roles() {
    let users = sqlite().await;
    let (auth, events) = service(users.clone());
    let current = auth.hasher().hash(PASSWORD).await.unwrap();
    let alice = create(&*users, "alice@example.com", &current, true).await;
    let ip: IpAddr = "203.0.113.9".parse().unwrap();

    let pair = auth
        .authenticate_from("  Alice@Example.COM ", PASSWORD, Some(ip))
        .await
        .unwrap();
    assert_eq!(pair.token_type, "Bearer");
    assert_eq!(pair.expires_in, auth.tokens().access_ttl().as_secs());
    let verified = auth
        .tokens()
        .verify_token(&pair.access_token)
        .await
        .unwrap();
    assert_eq!(verified.user_id, alice.id);
    assert_eq!(verified.roles, ["editor", "viewer"]);
    assert!(verified.auth_time.is_some());
    let refresh = auth
        .tokens()
        .verify_refresh_token(&pair.refresh_token)
        .await
        .unwrap();
    assert_eq!(refresh.user_id, alice.id);

    // The login is recorded; a current hash is left alone.
    let after = users.user_by_id(&alice.id).await.unwrap().unwrap();
    assert_eq!(after.login_count, 1);
    assert!(after.last_login_at.is_some());
    assert_eq!(stored_hash(&*users, &alice.id).await, (current, vec![]));
    assert_eq!(
        drain(&events),
        [AuthEvent::LoginSucceeded {
            user_id: alice.id,
            ip: Some(ip)
        }]
    );
}

#[tokio::test]
async fn unknown_wrong_inactive_and_locked_are_one_error_and_cost_one_verification() {
    let users = sqlite().await;
    let (auth, events) = service(users.clone());
    let hash = auth.hasher().hash(PASSWORD).await.unwrap();
    create(&*users, "alice@example.com", &hash, true).await;
    create(&*users, "inactive@example.com", &hash, false).await;
    create(&*users, "locked@example.com", &hash, true).await;
    // Lock one account (its failures counted on the side).
    for _ in 0..5 {
        auth.authenticate("locked@example.com", "nope")
            .await
            .unwrap_err();
    }
    drain(&events);

    let h = auth.hasher();
    let mut seen = Vec::new();
    for (identifier, password, reason, cost) in [
        (
            "nobody@example.com",
            PASSWORD,
            FailureReason::UnknownUser,
            1,
        ),
        (
            "alice@example.com",
            "wrong",
            FailureReason::WrongPassword,
            1,
        ),
        // Right password, inactive account: still refused, same cost.
        ("inactive@example.com", PASSWORD, FailureReason::Inactive, 1),
        // Right password, locked account: refused with no hash at all.
        ("locked@example.com", PASSWORD, FailureReason::Locked, 0),
    ] {
        let before = h.verifications();
        let err = auth.authenticate(identifier, password).await.unwrap_err();
        assert_eq!(h.verifications() - before, cost, "{identifier}");
        assert_eq!(drain(&events), [failed(identifier, reason, None)]);
        seen.push(err);
    }
    for err in &seen {
        assert_eq!(*err, AuthenticationFailed::invalid_credentials());
        assert_eq!(err.to_string(), seen[0].to_string());
        assert_eq!(err.code(), "invalid_credentials");
        assert_eq!(format!("{err:?}"), format!("{:?}", seen[0]));
        assert!(!err.is_unavailable());
    }
}

#[tokio::test]
async fn the_fifth_failure_locks_no_hash_while_locked_and_success_clears() {
    let users: Arc<dyn UserStore> = Arc::new(MemoryUserStore::new());
    let (auth, events) = service(users.clone());
    let hash = auth.hasher().hash(PASSWORD).await.unwrap();
    let alice = create(&*users, "alice@example.com", &hash, true).await;
    let h = auth.hasher();

    // Four failures, then a success: the count starts again.
    for _ in 0..4 {
        auth.authenticate("alice@example.com", "wrong")
            .await
            .unwrap_err();
    }
    auth.authenticate("alice@example.com", PASSWORD)
        .await
        .unwrap();
    drain(&events);
    for n in 1..=5 {
        let before = h.verifications();
        auth.authenticate("ALICE@example.com", "wrong")
            .await
            .unwrap_err();
        assert_eq!(h.verifications() - before, 1);
        let emitted = drain(&events);
        assert_eq!(
            emitted[0],
            failed("alice@example.com", FailureReason::WrongPassword, None)
        );
        if n < 5 {
            assert_eq!(emitted.len(), 1, "failure {n} does not lock");
        } else {
            assert_eq!(
                emitted[1..],
                [AuthEvent::LockedOut {
                    identifier: "alice@example.com".into(),
                    retry_after: 300
                }]
            );
        }
    }

    // Locked: even the right password is refused, and nothing is hashed.
    let before = h.verifications();
    for _ in 0..3 {
        let err = auth
            .authenticate("alice@example.com", PASSWORD)
            .await
            .unwrap_err();
        assert_eq!(err, AuthenticationFailed::invalid_credentials());
    }
    assert_eq!(h.verifications(), before);
    assert_eq!(
        drain(&events),
        vec![failed("alice@example.com", FailureReason::Locked, None); 3]
    );
    let logins = users
        .user_by_id(&alice.id)
        .await
        .unwrap()
        .unwrap()
        .login_count;
    assert_eq!(logins, 1);

    // Unknown identifiers lock exactly the same way.
    for _ in 0..5 {
        auth.authenticate("ghost@example.com", "x")
            .await
            .unwrap_err();
    }
    let before = h.verifications();
    auth.authenticate("ghost@example.com", "x")
        .await
        .unwrap_err();
    assert_eq!(h.verifications(), before);
    let emitted = drain(&events);
    assert!(emitted.contains(&AuthEvent::LockedOut {
        identifier: "ghost@example.com".into(),
        retry_after: 300
    }));
    assert_eq!(
        emitted.last(),
        Some(&failed("ghost@example.com", FailureReason::Locked, None))
    );
}

#[tokio::test]
async fn legacy_hashes_are_upgraded_on_the_first_good_login_only() {
    for (name, users) in [
        ("sqlite", sqlite().await),
        (
            "memory",
            Arc::new(MemoryUserStore::new()) as Arc<dyn UserStore>,
        ),
    ] {
        let (auth, _events) = service(users.clone());
        for (kind, old) in [
            ("bcrypt", bcrypt_hash(PASSWORD)),
            ("argon2", weak_argon2_hash(PASSWORD)),
        ] {
            let email = format!("{kind}@example.com");
            let user = create(&*users, &email, &old, true).await;

            // A failed login changes nothing.
            auth.authenticate(&email, "wrong").await.unwrap_err();
            assert_eq!(
                stored_hash(&*users, &user.id).await,
                (old.clone(), vec![]),
                "{name} {kind}"
            );

            // The first good login upgrades to the current parameters.
            auth.authenticate(&email, PASSWORD).await.unwrap();
            let (new, history) = stored_hash(&*users, &user.id).await;
            assert!(new.starts_with(CURRENT_PREFIX), "{name} {kind}: {new}");
            assert_eq!(history, std::slice::from_ref(&old), "{name} {kind}");
            assert_eq!(
                auth.hasher().verify(PASSWORD, &new).await.unwrap(),
                Verification::Match {
                    needs_rehash: false
                }
            );

            // Later logins leave it alone.
            auth.authenticate(&email, PASSWORD).await.unwrap();
            assert_eq!(
                stored_hash(&*users, &user.id).await,
                (new, vec![old]),
                "{name} {kind}"
            );
        }
    }
}

/// A user store whose credential reads wait until two of them are in
/// flight: two concurrent logins then both read the old hash, both decide to
/// upgrade it and race on the compare-and-swap.
#[derive(Debug)]
struct Gate {
    inner: Arc<dyn UserStore>,
    barrier: tokio::sync::Barrier,
}

impl UserStore for Gate {
    fn create_user<'a>(&'a self, user: &'a NewUser, now: u64) -> StoreFuture<'a, Created> {
        self.inner.create_user(user, now)
    }
    fn user_by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<User>> {
        self.inner.user_by_id(id)
    }
    fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<User>> {
        self.inner.user_by_email(email)
    }
    fn update_user<'a>(&'a self, user: &'a User, now: u64) -> StoreFuture<'a, Updated> {
        self.inner.update_user(user, now)
    }
    fn delete_user<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        self.inner.delete_user(id)
    }
    fn list_users(&self, offset: u64, limit: u64) -> StoreFuture<'_, Vec<User>> {
        self.inner.list_users(offset, limit)
    }
    fn count_users(&self) -> StoreFuture<'_, u64> {
        self.inner.count_users()
    }
    fn credentials<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Credentials>> {
        Box::pin(async move {
            let read = self.inner.credentials(id).await;
            self.barrier.wait().await;
            read
        })
    }
    fn replace_password_hash<'a>(
        &'a self,
        id: &'a str,
        expected: Option<&'a str>,
        new_hash: &'a str,
        history: usize,
        now: u64,
    ) -> StoreFuture<'a, HashSwap> {
        self.inner
            .replace_password_hash(id, expected, new_hash, history, now)
    }
    fn record_login<'a>(&'a self, id: &'a str, at: u64) -> StoreFuture<'a, bool> {
        self.inner.record_login(id, at)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_good_logins_upgrade_once_and_lose_nothing() {
    for (name, users) in [
        ("sqlite", sqlite().await),
        (
            "memory",
            Arc::new(MemoryUserStore::new()) as Arc<dyn UserStore>,
        ),
    ] {
        let gated = Arc::new(Gate {
            inner: users.clone(),
            barrier: tokio::sync::Barrier::new(2),
        });
        let (auth, _events) = service(gated);
        for (kind, old) in [
            ("bcrypt", bcrypt_hash(PASSWORD)),
            ("argon2", weak_argon2_hash(PASSWORD)),
        ] {
            let email = format!("{kind}@example.com");
            let user = create(&*users, &email, &old, true).await;
            // Both logins read the old hash before either verifies it.
            let (a, b) = tokio::join!(
                auth.authenticate(&email, PASSWORD),
                auth.authenticate(&email, PASSWORD)
            );
            a.unwrap();
            b.unwrap();
            let (new, history) = stored_hash(&*users, &user.id).await;
            // Both wanted to upgrade; one swap won, the other was stale and
            // dropped: the old hash is in the history exactly once, and the
            // stored hash is a current one the password still opens.
            assert_eq!(history, [old], "{name} {kind}");
            assert!(new.starts_with(CURRENT_PREFIX), "{name} {kind}");
            assert_eq!(
                auth.hasher().verify(PASSWORD, &new).await.unwrap(),
                Verification::Match {
                    needs_rehash: false
                },
                "{name} {kind}"
            );
            assert_eq!(
                users
                    .user_by_id(&user.id)
                    .await
                    .unwrap()
                    .unwrap()
                    .login_count,
                2
            );
        }
    }
}

#[tokio::test]
async fn refresh_logout_and_logout_all_with_their_events() {
    let users = sqlite().await;
    let (auth, events) = service(users.clone());
    let hash = auth.hasher().hash(PASSWORD).await.unwrap();
    let alice = create(&*users, "alice@example.com", &hash, true).await;
    let tokens = auth.tokens().clone();

    // Refresh: a new pair, the old refresh token is spent.
    let first = auth
        .authenticate("alice@example.com", PASSWORD)
        .await
        .unwrap();
    let second = auth.refresh_token(&first.refresh_token).await.unwrap();
    assert_ne!(second.access_token, first.access_token);
    assert_ne!(second.refresh_token, first.refresh_token);
    let verified = tokens.verify_token(&second.access_token).await.unwrap();
    assert_eq!(verified.roles, ["editor", "viewer"]);
    assert_eq!(
        drain(&events),
        [
            AuthEvent::LoginSucceeded {
                user_id: alice.id.clone(),
                ip: None
            },
            AuthEvent::TokenRefreshed {
                user_id: alice.id.clone()
            },
        ]
    );
    assert_eq!(
        auth.refresh_token(&first.refresh_token).await.unwrap_err(),
        TokenError::RefreshReused
    );
    assert!(drain(&events).is_empty());

    // Logout with an access token: that token is dead, and so is the
    // login's refresh token (the pair shares one family), but not another
    // login's.
    let other = auth
        .authenticate("alice@example.com", PASSWORD)
        .await
        .unwrap();
    let pair = auth
        .authenticate("alice@example.com", PASSWORD)
        .await
        .unwrap();
    drain(&events);
    let jti = tokens.verify_access(&pair.access_token).unwrap().jti;
    assert_eq!(
        tokens.verify_access(&pair.access_token).unwrap().family,
        tokens.verify_refresh(&pair.refresh_token).unwrap().family,
    );
    auth.logout(&pair.access_token).await.unwrap();
    assert_eq!(
        tokens.verify_token(&pair.access_token).await.unwrap_err(),
        TokenError::Revoked
    );
    assert_eq!(
        tokens
            .verify_refresh_token(&pair.refresh_token)
            .await
            .unwrap_err(),
        TokenError::Revoked
    );
    tokens.verify_token(&other.access_token).await.unwrap();
    tokens
        .verify_refresh_token(&other.refresh_token)
        .await
        .unwrap();
    assert_eq!(
        drain(&events),
        [
            AuthEvent::TokenRevoked {
                user_id: alice.id.clone(),
                jti: Some(jti)
            },
            AuthEvent::LoggedOut {
                user_id: alice.id.clone()
            },
        ]
    );
    // Logout with the refresh token: its family can no longer refresh, and
    // the login's access token is refused too.
    auth.logout(&other.refresh_token).await.unwrap();
    assert_eq!(
        auth.refresh_token(&other.refresh_token).await.unwrap_err(),
        TokenError::Revoked
    );
    assert_eq!(
        tokens.verify_token(&other.access_token).await.unwrap_err(),
        TokenError::Revoked
    );
    assert_eq!(drain(&events).len(), 2);
    // A forged token is not "logged out".
    assert!(auth.logout("not.a.token").await.is_err());

    // Logout everywhere: every token issued so far is refused.
    let one = auth
        .authenticate("alice@example.com", PASSWORD)
        .await
        .unwrap();
    let two = auth
        .authenticate("alice@example.com", PASSWORD)
        .await
        .unwrap();
    drain(&events);
    auth.logout_all(&alice.id).await.unwrap();
    for pair in [&one, &two, &second] {
        assert_eq!(
            tokens.verify_token(&pair.access_token).await.unwrap_err(),
            TokenError::Revoked
        );
        assert_eq!(
            auth.refresh_token(&pair.refresh_token).await.unwrap_err(),
            TokenError::Revoked
        );
    }
    assert_eq!(
        drain(&events),
        [AuthEvent::TokenRevoked {
            user_id: alice.id.clone(),
            jti: None
        }]
    );
}

#[tokio::test]
async fn a_deactivated_user_can_no_longer_refresh() {
    let users = sqlite().await;
    let (auth, _events) = service(users.clone());
    let hash = auth.hasher().hash(PASSWORD).await.unwrap();
    let mut alice = create(&*users, "alice@example.com", &hash, true).await;
    let pair = auth
        .authenticate("alice@example.com", PASSWORD)
        .await
        .unwrap();
    alice.active = false;
    users.update_user(&alice, 2_000).await.unwrap();
    assert_eq!(
        auth.refresh_token(&pair.refresh_token).await.unwrap_err(),
        TokenError::Revoked
    );
}
