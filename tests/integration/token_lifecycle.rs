//! Refresh rotation, reuse detection and revocation through the token manager
//! and the guard, on the in-memory store and on real Redis and SQLite.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use lexigram_auth::clock::ManualClock;
use lexigram_auth::error::TokenError;
use lexigram_auth::revocation::{
    MemoryRevocationStore, RedisRevocationStore, RevocationStore, SqliteRevocationStore,
};
use lexigram_auth::store::{StoreError, StoreFuture};
use lexigram_auth::token::{Algorithm, JwtTokenManager, UserLookup};
use lexigram_auth::{AuthModule, Principal, require_auth, seed_roles};

use crate::support::{REDIS, Restart, get as get_req, peer, redis_ctl, send};

const SECRET: [u8; 32] = [7; 32];

/// Users whose roles tests change; can be made to fail like a dead database.
#[derive(Default)]
struct Users {
    by_id: Mutex<HashMap<String, Principal>>,
    down: AtomicBool,
}

impl Users {
    fn with(principals: impl IntoIterator<Item = Principal>) -> Self {
        let users = Self::default();
        for p in principals {
            users.set(p);
        }
        users
    }

    fn set(&self, principal: Principal) {
        self.by_id
            .lock()
            .unwrap()
            .insert(principal.subject().to_owned(), principal);
    }
}

impl UserLookup for Users {
    fn current_principal<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Option<Principal>> {
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::InvalidId {
                    what: "user (simulated outage)",
                });
            }
            Ok(self.by_id.lock().unwrap().get(user_id).cloned())
        })
    }
}

fn manager_with(store: Arc<dyn RevocationStore>) -> JwtTokenManager {
    JwtTokenManager::builder()
        .hmac_key("k1", Algorithm::HS256, SECRET)
        .current_key("k1")
        .revocation_store(store)
        .build()
        .unwrap()
}

fn manager() -> JwtTokenManager {
    manager_with(Arc::new(MemoryRevocationStore::new()))
}

#[tokio::test]
async fn refresh_rotates_and_carries_the_current_roles() {
    let m = manager();
    let users = Users::with([Principal::new("alice").with_roles(["viewer"])]);
    let first = m
        .create_token_pair(&Principal::new("alice").with_roles(["viewer"]))
        .await
        .unwrap();
    assert_eq!(first.token_type, "Bearer");
    assert_eq!(first.expires_in, 15 * 60);
    assert!(
        !format!("{first:?}").contains(&first.access_token),
        "Debug must redact tokens"
    );

    // Promoted after login: the refreshed access token says so.
    users.set(Principal::new("alice").with_roles(["editor"]));
    let second = m.refresh(&first.refresh_token, &users).await.unwrap();
    let access = m.verify_token(&second.access_token).await.unwrap();
    assert_eq!(access.roles, ["editor"]);
    let new_refresh = m.verify_refresh_token(&second.refresh_token).await.unwrap();
    let old_refresh = m.verify_refresh(&first.refresh_token).unwrap();
    assert_eq!(new_refresh.family, old_refresh.family, "same family");
    assert_ne!(new_refresh.jti, old_refresh.jti);
    // An access token is no refresh token, and the other way round.
    assert_eq!(
        m.refresh(&second.access_token, &users).await.unwrap_err(),
        TokenError::WrongType
    );
    assert_eq!(
        m.verify_token(&second.refresh_token).await.unwrap_err(),
        TokenError::WrongType
    );
}

#[tokio::test]
async fn reuse_revokes_the_whole_family() {
    let m = manager();
    let users = Users::with([Principal::new("bob")]);
    let first = m.create_token_pair(&Principal::new("bob")).await.unwrap();
    let second = m.refresh(&first.refresh_token, &users).await.unwrap();
    // The old refresh token again: reuse, and the family dies with it.
    assert_eq!(
        m.refresh(&first.refresh_token, &users).await.unwrap_err(),
        TokenError::RefreshReused
    );
    assert_eq!(
        m.refresh(&second.refresh_token, &users).await.unwrap_err(),
        TokenError::Revoked
    );
    // The access tokens of the family are refused too: whoever reused the
    // refresh token keeps nothing it obtained with it.
    for access in [&first.access_token, &second.access_token] {
        assert_eq!(
            m.verify_token(access).await.unwrap_err(),
            TokenError::Revoked
        );
    }
    // Another login starts a live family.
    let other = m.create_token_pair(&Principal::new("bob")).await.unwrap();
    assert!(m.verify_token(&other.access_token).await.is_ok());
    assert!(m.refresh(&other.refresh_token, &users).await.is_ok());
}

#[tokio::test]
async fn a_vanished_user_cannot_refresh_and_a_failed_lookup_consumes_nothing() {
    let m = manager();
    let users = Users::with([Principal::new("carol")]);
    let pair = m.create_token_pair(&Principal::new("carol")).await.unwrap();
    users.down.store(true, Ordering::SeqCst);
    assert_eq!(
        m.refresh(&pair.refresh_token, &users).await.unwrap_err(),
        TokenError::Unavailable
    );
    users.down.store(false, Ordering::SeqCst);
    // Still usable: the failure came before consumption.
    assert!(m.refresh(&pair.refresh_token, &users).await.is_ok());

    let ghost = m.create_token_pair(&Principal::new("ghost")).await.unwrap();
    assert_eq!(
        m.refresh(&ghost.refresh_token, &users).await.unwrap_err(),
        TokenError::Revoked
    );
}

/// 100 runs of two refreshes racing with one token: one wins, one is reuse,
/// and the family is revoked afterwards.
async fn racing_refreshes(m: Arc<JwtTokenManager>) {
    let users = Arc::new(Users::with([Principal::new("dave")]));
    for run in 0..100 {
        let pair = m.create_token_pair(&Principal::new("dave")).await.unwrap();
        let race = |m: Arc<JwtTokenManager>, users: Arc<Users>, token: String| {
            tokio::spawn(async move { m.refresh(&token, users.as_ref()).await })
        };
        let a = race(
            Arc::clone(&m),
            Arc::clone(&users),
            pair.refresh_token.clone(),
        );
        let b = race(
            Arc::clone(&m),
            Arc::clone(&users),
            pair.refresh_token.clone(),
        );
        let results = [a.await.unwrap(), b.await.unwrap()];
        let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 1, "run {run}: {results:?}");
        assert!(
            results
                .iter()
                .any(|r| r.as_ref().err() == Some(&TokenError::RefreshReused)),
            "run {run}: {results:?}"
        );
        assert_eq!(
            m.refresh(&won[0].refresh_token, users.as_ref())
                .await
                .unwrap_err(),
            TokenError::Revoked,
            "run {run}: the family must be revoked"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_exactly_one_wins_in_memory() {
    racing_refreshes(Arc::new(manager())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_exactly_one_wins_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("lexigram-refresh-{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", dir.display());
    let store = Arc::new(SqliteRevocationStore::connect(&url).await.unwrap());
    racing_refreshes(Arc::new(manager_with(store.clone()))).await;
    // Close the pool first: the WAL and shared-memory files go with the last
    // connection, and are removed here if they stay.
    store.pool().close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", dir.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_exactly_one_wins_on_redis() {
    let Some(url) = peer("LEXIGRAM_TEST_REDIS_URL") else {
        return;
    };
    let _shared = REDIS.read().await;
    let store = RedisRevocationStore::connect(&url).await.unwrap();
    racing_refreshes(Arc::new(manager_with(Arc::new(store)))).await;
}

#[require_auth]
async fn me(principal: Principal) -> String {
    principal.subject().to_owned()
}

fn app(tokens: JwtTokenManager) -> (AuthModule, Router) {
    let auth = AuthModule::builder()
        .tokens(tokens)
        .roles(seed_roles())
        .build()
        .unwrap();
    let router = Router::new().route("/me", get(me)).with_state(auth.clone());
    (auth, router)
}

#[tokio::test]
async fn logout_revokes_the_token_and_the_guard_answers_401() {
    let (auth, app) = app(manager());
    let token = auth.token_for(&Principal::new("erin")).unwrap();
    assert_eq!(
        send(&app, get_req("/me", Some(&token))).await.status,
        StatusCode::OK
    );
    auth.tokens().revoke(&token).await.unwrap();
    assert_eq!(
        auth.tokens().verify_token(&token).await.unwrap_err(),
        TokenError::Revoked
    );
    let reply = send(&app, get_req("/me", Some(&token))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // The signature is still valid: only the store knows.
    assert!(auth.tokens().verify_access(&token).is_ok());
}

#[tokio::test]
async fn logging_out_with_a_refresh_token_ends_its_family() {
    let m = manager();
    let users = Users::with([Principal::new("finn")]);
    let pair = m.create_token_pair(&Principal::new("finn")).await.unwrap();
    let next = m.refresh(&pair.refresh_token, &users).await.unwrap();
    m.revoke(&next.refresh_token).await.unwrap();
    assert_eq!(
        m.refresh(&next.refresh_token, &users).await.unwrap_err(),
        TokenError::Revoked
    );
    assert_eq!(
        m.verify_token(&next.access_token).await.unwrap_err(),
        TokenError::Revoked
    );
}

#[tokio::test]
async fn logging_out_with_an_access_token_ends_its_login() {
    let m = manager();
    let users = Users::with([Principal::new("gus")]);
    let pair = m.create_token_pair(&Principal::new("gus")).await.unwrap();
    let next = m.refresh(&pair.refresh_token, &users).await.unwrap();
    let other = m.create_token_pair(&Principal::new("gus")).await.unwrap();
    // The login's access tokens all carry its refresh family.
    let family = m.verify_refresh(&next.refresh_token).unwrap().family;
    assert!(family.is_some());
    assert_eq!(m.verify_access(&pair.access_token).unwrap().family, family);
    assert_eq!(m.verify_access(&next.access_token).unwrap().family, family);
    m.revoke(&next.access_token).await.unwrap();
    assert_eq!(
        m.refresh(&next.refresh_token, &users).await.unwrap_err(),
        TokenError::Revoked
    );
    assert_eq!(
        m.verify_token(&pair.access_token).await.unwrap_err(),
        TokenError::Revoked
    );
    // Another login of the same user is untouched.
    assert!(m.verify_token(&other.access_token).await.is_ok());
    assert!(m.refresh(&other.refresh_token, &users).await.is_ok());
}

#[tokio::test]
async fn logout_everywhere_revokes_what_was_issued_before_only() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let m = JwtTokenManager::builder()
        .hmac_key("k1", Algorithm::HS256, SECRET)
        .current_key("k1")
        .clock(clock.clone())
        .build()
        .unwrap();
    let old = m.sign_access(&Principal::new("gail")).unwrap();
    let other_user = m.sign_access(&Principal::new("hank")).unwrap();
    clock.advance(Duration::from_secs(5));
    m.revoke_user("gail").await.unwrap();
    assert_eq!(m.verify_token(&old).await.unwrap_err(), TokenError::Revoked);
    assert!(m.verify_token(&other_user).await.is_ok());
    clock.advance(Duration::from_secs(1));
    let fresh = m.sign_access(&Principal::new("gail")).unwrap();
    assert!(
        m.verify_token(&fresh).await.is_ok(),
        "tokens issued later stay valid"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_managers_sharing_redis_see_a_revocation_within_1s() {
    let Some(url) = peer("LEXIGRAM_TEST_REDIS_URL") else {
        return;
    };
    let _shared = REDIS.read().await;
    let a = manager_with(Arc::new(RedisRevocationStore::connect(&url).await.unwrap()));
    let b = manager_with(Arc::new(RedisRevocationStore::connect(&url).await.unwrap()));
    let token = a.sign_access(&Principal::new("ivy")).unwrap();
    assert!(b.verify_token(&token).await.is_ok());
    a.revoke(&token).await.unwrap();
    let start = Instant::now();
    while b.verify_token(&token).await.is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "not seen within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!(
        "revocation seen by the other instance after {:?}",
        start.elapsed()
    );
    assert_eq!(
        b.verify_token(&token).await.unwrap_err(),
        TokenError::Revoked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_fails_closed_with_503_and_recovers() {
    let (Some(url), Some(ctl)) = (
        peer("LEXIGRAM_TEST_REDIS_URL"),
        peer("LEXIGRAM_TEST_REDIS_CTL"),
    ) else {
        return;
    };
    let _alone = REDIS.write().await;
    let store = RedisRevocationStore::connect_with_timeout(&url, Duration::from_secs(1))
        .await
        .unwrap();
    let (auth, app) = app(manager_with(Arc::new(store)));
    let token = auth.token_for(&Principal::new("jack")).unwrap();
    assert_eq!(
        send(&app, get_req("/me", Some(&token))).await.status,
        StatusCode::OK
    );

    redis_ctl(&ctl, "stop");
    let mut restart = Restart(&ctl, true);
    let start = Instant::now();
    assert_eq!(
        auth.tokens().verify_token(&token).await.unwrap_err(),
        TokenError::Unavailable
    );
    let reply = send(&app, get_req("/me", Some(&token))).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "fail closed, never allow"
    );
    assert_eq!(reply.json()["code"], "auth_unavailable");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "no hang: {:?}",
        start.elapsed()
    );

    redis_ctl(&ctl, "start");
    restart.1 = false;
    let start = Instant::now();
    loop {
        let status = send(&app, get_req("/me", Some(&token))).await.status;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(start.elapsed() < Duration::from_secs(10), "did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("recovered {:?} after Redis restarted", start.elapsed());
}
