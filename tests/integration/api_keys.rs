//! KEY-1..3: API keys — one conformance suite for every store, one look-up
//! per check whatever the number of keys, and the guards seeing a key's
//! scopes as permissions.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http::{Request, StatusCode};
use lexigram_auth::apikey::{
    ApiKey, ApiKeyError, ApiKeyStore, ApiKeys, KeySources, MemoryApiKeyStore, NewApiKey,
    PostgresApiKeyStore, SqliteApiKeyStore,
};
use lexigram_auth::clock::ManualClock;
use lexigram_auth::store::StoreFuture;
use lexigram_auth::token::JwtTokenManager;
use lexigram_auth::{AuthModule, Principal, require_permissions};

use crate::support::{peer, send};

const T0: u64 = 1_800_000_000;

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

async fn conformance(name: &str, store: Arc<dyn ApiKeyStore>) {
    let clock = Arc::new(ManualClock::at_unix(T0));
    let keys = ApiKeys::new(store.clone()).with_clock(clock.clone());
    let owner = format!("user-{}", run_id());

    let a = keys
        .create(NewApiKey::new(&owner, "deploys").with_scopes(["articles.write", "reports.read"]))
        .await
        .unwrap();
    assert!(a.secret.starts_with("lxk_"), "{name}");
    assert_eq!(a.secret.len(), 4 + 16 + 1 + 43, "{name}");
    assert!(
        !format!("{a:?}").contains(&a.secret[21..]),
        "{name}: secret in Debug"
    );
    clock.advance(Duration::from_secs(1));
    let b = keys
        .create(NewApiKey::new(&owner, "short").expires_after(60))
        .await
        .unwrap();
    assert_eq!(b.key.expires_at, Some(T0 + 61), "{name}");

    // Verify: scopes, last use recorded with the address.
    let ip: std::net::IpAddr = "203.0.113.4".parse().unwrap();
    let key = keys.verify(&a.secret, Some(ip)).await.unwrap();
    assert_eq!(key.scopes, ["articles.write", "reports.read"], "{name}");
    let stored = store.get(&a.key.id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(T0 + 1), "{name}");
    assert_eq!(
        stored.last_used_ip.as_deref(),
        Some("203.0.113.4"),
        "{name}"
    );

    // A wrong secret under a real id, a made-up id, garbage.
    let mut wrong = a.secret.clone();
    wrong.replace_range(wrong.len() - 3.., "AAA");
    assert!(
        matches!(keys.verify(&wrong, None).await, Err(ApiKeyError::Unknown)),
        "{name}"
    );
    let unknown = format!("lxk_{}_{}", "0".repeat(16), &a.secret[21..]);
    assert!(
        matches!(keys.verify(&unknown, None).await, Err(ApiKeyError::Unknown)),
        "{name}"
    );
    assert!(
        matches!(
            keys.verify("lxk_x", None).await,
            Err(ApiKeyError::Malformed)
        ),
        "{name}"
    );

    // Expiry and revocation.
    clock.advance(Duration::from_secs(60));
    assert!(
        matches!(
            keys.verify(&b.secret, None).await,
            Err(ApiKeyError::Expired)
        ),
        "{name}"
    );
    assert!(keys.revoke(&a.key.id).await.unwrap(), "{name}");
    assert!(
        !keys.revoke(&a.key.id).await.unwrap(),
        "{name}: revoked twice"
    );
    assert!(
        matches!(
            keys.verify(&a.secret, None).await,
            Err(ApiKeyError::Revoked)
        ),
        "{name}"
    );

    // Listing: the owner's keys, oldest first, revoked and expired included.
    let list = keys.list(&owner).await.unwrap();
    let ids: Vec<&str> = list.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, [a.key.id.as_str(), b.key.id.as_str()], "{name}");
    assert_eq!(list[0].revoked_at, Some(T0 + 61), "{name}");
    assert!(keys.list("nobody").await.unwrap().is_empty(), "{name}");

    // Invalid scopes are refused before anything is stored.
    assert!(matches!(
        keys.create(NewApiKey::new(&owner, "bad").with_scopes(["Not A Scope"]))
            .await,
        Err(ApiKeyError::InvalidScope(_))
    ));
    assert_eq!(keys.list(&owner).await.unwrap().len(), 2, "{name}");
    println!("API key conformance passed on {name}");
}

#[tokio::test]
async fn memory_api_key_store_conformance() {
    conformance("memory", Arc::new(MemoryApiKeyStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_api_key_store_conformance() {
    let store = SqliteApiKeyStore::connect("sqlite::memory:").await.unwrap();
    conformance("sqlite (memory)", Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_api_key_store_conformance() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    let store = PostgresApiKeyStore::connect(&url).await.unwrap();
    conformance("postgres", Arc::new(store)).await;
}

/// Counts the look-ups a real store receives.
#[derive(Debug)]
struct Counting {
    inner: SqliteApiKeyStore,
    gets: AtomicUsize,
}

impl ApiKeyStore for Counting {
    fn insert<'a>(&'a self, key: &'a ApiKey) -> StoreFuture<'a, ()> {
        self.inner.insert(key)
    }
    fn get<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<ApiKey>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id)
    }
    fn list_for_user<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Vec<ApiKey>> {
        self.inner.list_for_user(user_id)
    }
    fn revoke<'a>(&'a self, id: &'a str, at: u64) -> StoreFuture<'a, bool> {
        self.inner.revoke(id, at)
    }
    fn touch<'a>(&'a self, id: &'a str, at: u64, ip: Option<&'a str>) -> StoreFuture<'a, bool> {
        self.inner.touch(id, at, ip)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_is_one_lookup_whatever_the_number_of_keys() {
    let store = Arc::new(Counting {
        inner: SqliteApiKeyStore::connect("sqlite::memory:").await.unwrap(),
        gets: AtomicUsize::new(0),
    });
    let keys = ApiKeys::new(store.clone());
    let mut secrets = Vec::new();
    for i in 0..1_000 {
        let created = keys
            .create(NewApiKey::new("owner", format!("k{i}")))
            .await
            .unwrap();
        if i == 0 || i == 999 {
            secrets.push(created.secret);
        }
    }
    for secret in &secrets {
        let before = store.gets.load(Ordering::SeqCst);
        keys.verify(secret, None).await.unwrap();
        assert_eq!(store.gets.load(Ordering::SeqCst) - before, 1);
    }
    // The look-up is by primary key (the query plan uses the index).
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as("EXPLAIN QUERY PLAN SELECT * FROM lexigram_api_keys WHERE id = 'x'")
            .fetch_all(store.inner.pool())
            .await
            .unwrap();
    assert!(
        plan.iter()
            .any(|(_, _, _, detail)| detail.contains("USING INDEX")),
        "{plan:?}"
    );
}

#[require_permissions("articles.write")]
async fn write_article(principal: Principal) -> String {
    principal.subject().to_owned()
}

fn request(uri: &str, header: (&str, &str)) -> Request<Body> {
    let mut request = Request::get(uri)
        .header(header.0, header.1)
        .body(Body::empty())
        .unwrap();
    let addr: SocketAddr = "198.51.100.20:5000".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

#[tokio::test]
async fn guards_take_keys_from_either_header_and_enforce_their_scopes() {
    let clock = Arc::new(ManualClock::at_unix(T0));
    let store = Arc::new(MemoryApiKeyStore::new());
    let keys = ApiKeys::new(store.clone()).with_clock(clock.clone());
    let auth = AuthModule::builder()
        .tokens(JwtTokenManager::new("k", [("k", [9u8; 32])]).unwrap())
        .api_keys(keys.clone())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/articles", get(write_article))
        .with_state(auth.clone());

    let writer = keys
        .create(
            NewApiKey::new("svc-1", "writer")
                .with_scopes(["articles.write"])
                .expires_after(3600),
        )
        .await
        .unwrap();
    let reader = keys
        .create(NewApiKey::new("svc-2", "reader").with_scopes(["articles.read"]))
        .await
        .unwrap();

    let ok = send(&app, request("/articles", ("x-api-key", &writer.secret))).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.text(), "svc-1");
    let bearer = format!("Bearer {}", writer.secret);
    assert_eq!(
        send(&app, request("/articles", ("authorization", &bearer)))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        store
            .get(&writer.key.id)
            .await
            .unwrap()
            .unwrap()
            .last_used_ip
            .as_deref(),
        Some("198.51.100.20")
    );
    // Without the scope: 403.
    assert_eq!(
        send(&app, request("/articles", ("x-api-key", &reader.secret)))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Malformed, unknown: 401.
    for bad in ["lxk_nope", "not-a-key"] {
        assert_eq!(
            send(&app, request("/articles", ("x-api-key", bad)))
                .await
                .status,
            StatusCode::UNAUTHORIZED,
            "{bad}"
        );
    }
    // Expired and revoked: 401.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        send(&app, request("/articles", ("x-api-key", &writer.secret)))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    keys.revoke(&reader.key.id).await.unwrap();
    assert_eq!(
        send(&app, request("/articles", ("x-api-key", &reader.secret)))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // JWTs still work beside keys.
    let token = auth
        .token_for(&Principal::new("alice").with_permissions(["articles.write"]))
        .unwrap();
    let bearer = format!("Bearer {token}");
    assert_eq!(
        send(&app, request("/articles", ("authorization", &bearer)))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn key_sources_are_configurable() {
    let store = Arc::new(MemoryApiKeyStore::new());
    let key = ApiKeys::new(store.clone())
        .create(NewApiKey::new("svc", "k").with_scopes(["articles.write"]))
        .await
        .unwrap();
    for (sources, header_ok, bearer_ok) in [
        (
            KeySources {
                x_api_key: true,
                bearer: false,
            },
            StatusCode::OK,
            StatusCode::UNAUTHORIZED,
        ),
        (
            KeySources {
                x_api_key: false,
                bearer: true,
            },
            StatusCode::UNAUTHORIZED,
            StatusCode::OK,
        ),
    ] {
        let auth = AuthModule::builder()
            .tokens(JwtTokenManager::new("k", [("k", [9u8; 32])]).unwrap())
            .api_keys(ApiKeys::new(store.clone()).accept(sources))
            .build()
            .unwrap();
        let app = Router::new()
            .route("/articles", get(write_article))
            .with_state(auth);
        let bearer = format!("Bearer {}", key.secret);
        assert_eq!(
            send(&app, request("/articles", ("x-api-key", &key.secret)))
                .await
                .status,
            header_ok,
            "{sources:?}"
        );
        assert_eq!(
            send(&app, request("/articles", ("authorization", &bearer)))
                .await
                .status,
            bearer_ok,
            "{sources:?}"
        );
    }
}
