// This is a benchmark, not library code: setup failures should abort loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

//! A session-authenticated route, in memory, against tower-sessions with
//! axum-login (PERF.md: our added latency at most 0.4x theirs).
//!
//! Three routers answer `GET /me` with the signed-in user's id, each with
//! a session created beforehand through its own login:
//! - `plain`: the same handler with no authentication at all (the
//!   baseline);
//! - `lexigram`: `#[require_auth]` with a `Principal` extractor, the
//!   `AuthModule` accepting `SessionCookies` over a `MemorySessionStore`
//!   (signature check, SHA-256 of the token, store read, principal built);
//! - `axum_login`: `login_required!` over axum-login 0.18's
//!   `AuthManagerLayer` on tower-sessions 0.14's `MemoryStore`, the handler
//!   reading `AuthSession::user` (the user loaded from a `HashMap` backend).
//!
//! Each request is a fresh `Request` with the session cookie, driven with
//! `oneshot` on a current-thread runtime. 61 rounds, each one ~4 ms batch
//! per variant in rotating order; per round, added latency = variant minus
//! `plain`, and the reported ratio is the median of the per-round ratios of
//! added latencies.
//!
//! Run: `cargo bench -p lexigram-auth --bench session`. To profile one
//! variant: `LEXIGRAM_BENCH_ONLY=lexigram perf record -g <bench binary>`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use axum_login::{AuthManagerLayerBuilder, AuthSession, AuthUser, AuthnBackend, UserId};
use http::{HeaderValue, Request, StatusCode};
use lexigram_auth::environment::Environment;
use lexigram_auth::session::{
    ClientInfo, CookieConfig, MemorySessionStore, SessionAuth, SessionConfig, SessionCookies,
    SessionManager,
};
use lexigram_auth::token::JwtTokenManager;
use lexigram_auth::{AuthModule, Principal, require_auth, seed_roles};
use tower::ServiceExt;

const ROUNDS: usize = 61;
const BATCH_TARGET: Duration = Duration::from_millis(4);

#[derive(Debug, Clone)]
struct User {
    id: String,
    hash: Vec<u8>,
}

impl AuthUser for User {
    type Id = String;
    fn id(&self) -> String {
        self.id.clone()
    }
    fn session_auth_hash(&self) -> &[u8] {
        &self.hash
    }
}

#[derive(Debug, Clone, Default)]
struct Backend {
    users: Arc<HashMap<String, User>>,
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = String;
    type Error = std::convert::Infallible;

    async fn authenticate(&self, id: String) -> Result<Option<User>, Self::Error> {
        Ok(self.users.get(&id).cloned())
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Self::Error> {
        Ok(self.users.get(id).cloned())
    }
}

#[require_auth]
async fn lexigram_me(principal: Principal) -> String {
    principal.subject().to_owned()
}

async fn axum_login_me(session: AuthSession<Backend>) -> String {
    session.user.map(|u| u.id).unwrap_or_default()
}

async fn plain_me() -> String {
    "user-0001".to_owned()
}

async fn call(router: &Router, cookie: &HeaderValue) -> StatusCode {
    let request = Request::get("/me")
        .header("cookie", cookie.clone())
        .body(Body::empty())
        .unwrap();
    router.clone().oneshot(request).await.unwrap().status()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn lexigram() -> (Router, HeaderValue) {
    let sessions = SessionManager::new(
        Arc::new(MemorySessionStore::new()),
        SessionConfig::default(),
    )
    .unwrap();
    let cookies = SessionCookies::new_in(
        b"a-32-byte-or-longer-cookie-key!!",
        CookieConfig::default(),
        Environment::Production,
    )
    .unwrap();
    let login = sessions
        .create(&Principal::new("user-0001"), &ClientInfo::default())
        .await
        .unwrap();
    let [set, _] = cookies.set_cookies(&login).unwrap();
    let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
    let module = AuthModule::builder()
        .tokens(JwtTokenManager::new("k", [("k", "a-32-byte-or-longer-hmac-secret!!")]).unwrap())
        .roles(seed_roles())
        .sessions(SessionAuth::new(sessions, cookies))
        .build()
        .unwrap();
    let router = Router::new()
        .route("/me", get(lexigram_me))
        .with_state(module);
    (router, HeaderValue::from_str(&pair).unwrap())
}

async fn axum_login() -> (Router, HeaderValue) {
    let user = User {
        id: "user-0001".to_owned(),
        hash: b"password-hash".to_vec(),
    };
    let backend = Backend {
        users: Arc::new(HashMap::from([(user.id.clone(), user)])),
    };
    let sessions = tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default());
    let auth = AuthManagerLayerBuilder::new(backend, sessions).build();
    let router = Router::new()
        .route("/me", get(axum_login_me))
        .route_layer(axum_login::login_required!(Backend))
        .route(
            "/login",
            post(|mut session: AuthSession<Backend>| async move {
                let user = session
                    .authenticate("user-0001".to_owned())
                    .await
                    .unwrap()
                    .unwrap();
                session.login(&user).await.unwrap();
                StatusCode::NO_CONTENT
            }),
        )
        .layer(auth);
    let response = router
        .clone()
        .oneshot(Request::post("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let set = response.headers()["set-cookie"].to_str().unwrap();
    let pair = set.split(';').next().unwrap().to_owned();
    (router, HeaderValue::from_str(&pair).unwrap())
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let variants: Vec<(&str, Router, HeaderValue)> = rt.block_on(async {
        let (ours, our_cookie) = lexigram().await;
        let (theirs, their_cookie) = axum_login().await;
        let plain = Router::new().route("/me", get(plain_me));
        vec![
            ("plain", plain, our_cookie.clone()),
            ("lexigram", ours, our_cookie),
            ("axum_login", theirs, their_cookie),
        ]
    });
    // Every variant answers 200 for its session, and 401 without it.
    rt.block_on(async {
        for (name, router, cookie) in &variants {
            assert_eq!(call(router, cookie).await, StatusCode::OK, "{name}");
            if *name != "plain" {
                let bare = HeaderValue::from_static("other=1");
                assert_eq!(
                    call(router, &bare).await,
                    StatusCode::UNAUTHORIZED,
                    "{name}"
                );
            }
        }
    });
    let batch = |router: &Router, cookie: &HeaderValue, n: u32| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..n {
                std::hint::black_box(call(router, cookie).await);
            }
            start.elapsed()
        })
    };
    // Profiling aid: `LEXIGRAM_BENCH_ONLY=lexigram` runs one variant for
    // five seconds and reports nothing (run it under `perf record`).
    if let Ok(only) = std::env::var("LEXIGRAM_BENCH_ONLY") {
        let (_, router, cookie) = variants.iter().find(|(n, _, _)| *n == only).unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            batch(router, cookie, 1_000);
        }
        return;
    }
    // Size each variant's batch to about BATCH_TARGET.
    let sizes: Vec<u32> = variants
        .iter()
        .map(|(_, router, cookie)| {
            let per = batch(router, cookie, 200).as_secs_f64() / 200.0;
            ((BATCH_TARGET.as_secs_f64() / per) as u32).max(10)
        })
        .collect();
    let mut per_call: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut ratios = Vec::new();
    for round in 0..ROUNDS {
        let mut this_round = [0.0f64; 3];
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            let (_, router, cookie) = &variants[i];
            let t = batch(router, cookie, sizes[i]).as_secs_f64() / f64::from(sizes[i]);
            this_round[i] = t;
            per_call[i].push(t);
        }
        let ours = this_round[1] - this_round[0];
        let theirs = this_round[2] - this_round[0];
        ratios.push(ours / theirs);
    }
    let medians: Vec<f64> = per_call.iter_mut().map(|v| median(v) * 1e6).collect();
    println!("session-authenticated GET /me, in memory, {ROUNDS} interleaved rounds");
    for ((name, _, _), m) in variants.iter().zip(&medians) {
        println!("  {name:<11} {m:.2} us per request");
    }
    println!(
        "  added latency: lexigram {:.2} us, axum-login {:.2} us",
        medians[1] - medians[0],
        medians[2] - medians[0]
    );
    let ratio = median(&mut ratios);
    println!(
        "lexigram/axum-login added latency: {ratio:.3}x (target <= 0.4x): {}",
        if ratio <= 0.4 { "met" } else { "NOT met" }
    );
}
