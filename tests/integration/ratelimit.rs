//! RATE-1 and RATE-2: the rate-limit layer in front of axum routes, in
//! memory and shared by two instances through Redis.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http::{Request, StatusCode};
use lexigram_auth::ratelimit::{
    KeyBy, MemoryRateLimiter, Quota, RateLimitLayer, RateLimiter, RedisRateLimiter, TrustedProxies,
};

use crate::support::{REDIS, Restart, peer, redis_ctl, send};

fn app(limiter: Arc<dyn RateLimiter>, quota: Quota, name: &str) -> Router {
    Router::new()
        .route("/login", get(|| async { "ok" }))
        .route("/other", get(|| async { "ok" }))
        .route("/items/{id}", get(|| async { "ok" }))
        .route_layer(
            RateLimitLayer::new(limiter, quota)
                .name(name)
                .trusted_proxies(TrustedProxies::new(["10.0.0.0/8"]).unwrap()),
        )
}

/// A request from `peer` (as `ConnectInfo` would give it), with an optional
/// `X-Forwarded-For`.
fn from(peer: &str, uri: &str, forwarded: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri);
    if let Some(f) = forwarded {
        request = request.header("x-forwarded-for", f);
    }
    let mut request = request.body(Body::empty()).unwrap();
    let addr: SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

#[tokio::test]
async fn over_the_quota_is_429_with_retry_after_per_client_and_route() {
    let quota = Quota::new(3, Duration::from_secs(60)).unwrap();
    let app = app(Arc::new(MemoryRateLimiter::new()), quota, "t1");
    for _ in 0..3 {
        assert_eq!(
            send(&app, from("203.0.113.1", "/login", None)).await.status,
            StatusCode::OK
        );
    }
    let reply = send(&app, from("203.0.113.1", "/login", None)).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers["retry-after"], "20");
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    assert_eq!(reply.json()["code"], "rate_limited");
    // Another route, another client: their own buckets.
    assert_eq!(
        send(&app, from("203.0.113.1", "/other", None)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, from("203.0.113.2", "/login", None)).await.status,
        StatusCode::OK
    );
    // One bucket per route pattern, not per concrete path.
    for id in 0..3 {
        let uri = format!("/items/{id}");
        assert_eq!(
            send(&app, from("203.0.113.3", &uri, None)).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&app, from("203.0.113.3", "/items/99", None))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn clients_behind_trusted_proxies_are_told_apart_and_cannot_spoof() {
    let quota = Quota::new(1, Duration::from_secs(60)).unwrap();
    let app = app(Arc::new(MemoryRateLimiter::new()), quota, "t2");
    // Two clients behind the same trusted proxy: separate buckets.
    for client in ["198.51.100.1", "198.51.100.2"] {
        assert_eq!(
            send(&app, from("10.0.0.1", "/login", Some(client)))
                .await
                .status,
            StatusCode::OK
        );
    }
    // A client inventing X-Forwarded-For entries left of the proxy's own
    // entry is still itself.
    assert_eq!(
        send(
            &app,
            from("10.0.0.1", "/login", Some("1.2.3.4, 198.51.100.1"))
        )
        .await
        .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // An untrusted peer's X-Forwarded-For is ignored.
    assert_eq!(
        send(&app, from("203.0.113.7", "/login", Some("9.9.9.9")))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, from("203.0.113.7", "/login", Some("8.8.8.8")))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn per_client_keys_span_routes() {
    let quota = Quota::new(2, Duration::from_secs(60)).unwrap();
    let app = Router::new()
        .route("/a", get(|| async { "ok" }))
        .route("/b", get(|| async { "ok" }))
        .route_layer(
            RateLimitLayer::new(Arc::new(MemoryRateLimiter::new()), quota).key_by(KeyBy::Client),
        );
    assert_eq!(
        send(&app, from("203.0.113.1", "/a", None)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, from("203.0.113.1", "/b", None)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, from("203.0.113.1", "/a", None)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// 200 concurrent requests of one client, 100 on each of two instances that
/// share Redis, limit 10: exactly 10 pass, in each of 100 runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_sharing_redis_allow_exactly_the_limit() {
    let Some(url) = peer("LEXIGRAM_TEST_REDIS_URL") else {
        return;
    };
    let _shared = REDIS.read().await;
    let quota = Quota::new(10, Duration::from_secs(600)).unwrap();
    let a: Arc<dyn RateLimiter> = Arc::new(RedisRateLimiter::connect(&url).await.unwrap());
    let b: Arc<dyn RateLimiter> = Arc::new(RedisRateLimiter::connect(&url).await.unwrap());
    let started = Instant::now();
    let mut counts = Vec::new();
    for run in 0..100 {
        let name = format!("exact-{}-{run}", std::process::id());
        let apps = [app(a.clone(), quota, &name), app(b.clone(), quota, &name)];
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let app = apps[i % 2].clone();
                tokio::spawn(async move { send(&app, from("203.0.113.50", "/login", None)).await })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            let reply = task.await.unwrap();
            match reply.status {
                StatusCode::OK => ok += 1,
                StatusCode::TOO_MANY_REQUESTS => {
                    let wait: u64 = reply.headers["retry-after"]
                        .to_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    assert!((1..=60).contains(&wait), "{wait}");
                }
                other => panic!("run {run}: {other}"),
            }
        }
        counts.push(ok);
    }
    assert!(
        counts.iter().all(|&c| c == 10),
        "allowed per run: {counts:?}"
    );
    println!(
        "rate limit: exactly 10 of 200 allowed in {}/100 runs across 2 instances ({:?})",
        counts.len(),
        started.elapsed()
    );
}

/// Redis stopped under the layer: 503 (never an allow), no hang, and
/// limiting again once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_is_503_and_recovers() {
    let (Some(url), Some(ctl)) = (
        peer("LEXIGRAM_TEST_REDIS_URL"),
        peer("LEXIGRAM_TEST_REDIS_CTL"),
    ) else {
        return;
    };
    let _alone = REDIS.write().await;
    let limiter = RedisRateLimiter::connect(&url)
        .await
        .unwrap()
        .with_timeout(Duration::from_secs(1));
    let quota = Quota::new(1_000, Duration::from_secs(60)).unwrap();
    let app = app(
        Arc::new(limiter),
        quota,
        &format!("down-{}", std::process::id()),
    );
    assert_eq!(
        send(&app, from("203.0.113.9", "/login", None)).await.status,
        StatusCode::OK
    );

    redis_ctl(&ctl, "stop");
    let mut restart = Restart(&ctl, true);
    let start = Instant::now();
    let reply = send(&app, from("203.0.113.9", "/login", None)).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "fail closed");
    assert_eq!(reply.json()["code"], "rate_limit_unavailable");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    redis_ctl(&ctl, "start");
    restart.1 = false;
    let start = Instant::now();
    loop {
        let status = send(&app, from("203.0.113.9", "/login", None)).await.status;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(start.elapsed() < Duration::from_secs(10), "did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
