//! SESS-1..5, SESS-7 over HTTP: cookie logins through `auth_routes_with`,
//! the guards authenticating from the session cookie, rotation, expiry,
//! CSRF, and the attributes of every `Set-Cookie`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get as get_route, post as post_route};
use http::{Request, StatusCode};
use lexigram_auth::authn::{
    AuthenticationService, Created, LoginMode, MemoryUserStore, NewUser, UserStore,
    auth_routes_with,
};
use lexigram_auth::clock::ManualClock;
use lexigram_auth::environment::Environment;
use lexigram_auth::password::PasswordHasher;
use lexigram_auth::session::{
    CookieConfig, MemorySessionStore, SessionAuth, SessionConfig, SessionCookies, SessionManager,
};
use lexigram_auth::token::JwtTokenManager;
use lexigram_auth::{AuthModule, Principal, require_auth, require_roles, seed_roles};

use crate::support::{Reply, send};

const PASSWORD: &str = "Correct-Horse-Battery-9";
const NEW_PASSWORD: &str = "Staple-Paper-Clip-77";
const START: u64 = 1_800_000_000;

#[require_auth]
async fn whoami(principal: Principal) -> String {
    format!("{}:{}", principal.subject(), principal.roles().join(","))
}

#[require_roles("admin")]
async fn admin_only() -> &'static str {
    "admin"
}

#[require_auth]
async fn write_something() -> &'static str {
    "written"
}

struct App {
    router: Router,
    sessions: SessionManager,
    cookies: SessionCookies,
    clock: Arc<ManualClock>,
    user_id: String,
    tokens: Arc<JwtTokenManager>,
    service: Arc<AuthenticationService>,
}

async fn app(config: SessionConfig) -> App {
    let clock = Arc::new(ManualClock::at_unix(START));
    let sessions = SessionManager::new(Arc::new(MemorySessionStore::new()), config)
        .unwrap()
        .with_clock(clock.clone());
    let cookies = SessionCookies::new_in(
        b"a-32-byte-or-longer-cookie-key!!",
        CookieConfig::default(),
        Environment::Production,
    )
    .unwrap();
    let auth_sessions = SessionAuth::new(sessions.clone(), cookies.clone());
    let tokens = Arc::new(
        JwtTokenManager::new("k1", [("k1", "a-32-byte-or-longer-hmac-secret!!")]).unwrap(),
    );
    let users: Arc<dyn UserStore> = Arc::new(MemoryUserStore::new());
    let hasher = PasswordHasher::default();
    let hash = hasher.hash(PASSWORD).await.unwrap();
    let new = NewUser::new("alice@example.com", "Alice")
        .with_roles(["editor"])
        .with_password_hash(hash);
    let Created::Created(alice) = users.create_user(&new, START).await.unwrap() else {
        panic!("alice exists");
    };
    let service = Arc::new(
        AuthenticationService::new(users, hasher, Arc::clone(&tokens)).sessions(sessions.clone()),
    );
    let module = AuthModule::builder()
        .tokens(Arc::clone(&tokens))
        .roles(seed_roles())
        .sessions(auth_sessions.clone())
        .build()
        .unwrap();
    let router = Router::new()
        .route("/whoami", get_route(whoami))
        .route("/admin", get_route(admin_only))
        .route("/write", post_route(write_something))
        .nest(
            "/auth",
            auth_routes_with(
                Arc::clone(&service),
                LoginMode::Cookies(Box::new(auth_sessions)),
            ),
        )
        .with_state(module);
    App {
        service,
        router,
        sessions,
        cookies,
        clock,
        user_id: alice.id,
        tokens,
    }
}

/// A parsed `Set-Cookie`.
#[derive(Debug)]
struct SetCookie {
    name: String,
    value: String,
    attributes: BTreeMap<String, Option<String>>,
}

fn set_cookies(reply: &Reply) -> Vec<SetCookie> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| {
            let text = v.to_str().unwrap();
            let mut parts = text.split(';').map(str::trim);
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let attributes = parts
                .map(|a| match a.split_once('=') {
                    Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_owned())),
                    None => (a.to_ascii_lowercase(), None),
                })
                .collect();
            SetCookie {
                name: name.to_owned(),
                value: value.to_owned(),
                attributes,
            }
        })
        .collect()
}

/// The six attributes of an authentication cookie; `max_age` as expected.
fn assert_session_cookie(cookie: &SetCookie, http_only: bool, max_age: &str) {
    assert!(cookie.name.starts_with("__Host-"), "{cookie:?}");
    assert!(cookie.attributes.contains_key("secure"), "{cookie:?}");
    assert_eq!(
        cookie.attributes.contains_key("httponly"),
        http_only,
        "{cookie:?}"
    );
    assert_eq!(cookie.attributes["samesite"].as_deref(), Some("Lax"));
    assert_eq!(cookie.attributes["path"].as_deref(), Some("/"));
    assert!(!cookie.attributes.contains_key("domain"), "{cookie:?}");
    assert_eq!(cookie.attributes["max-age"].as_deref(), Some(max_age));
}

/// A browser: the cookies it holds.
#[derive(Debug, Default, Clone)]
struct Jar {
    session: Option<String>,
    csrf: Option<String>,
}

impl Jar {
    fn absorb(&mut self, reply: &Reply) {
        for cookie in set_cookies(reply) {
            let slot = if cookie.name == "__Host-lexigram-session" {
                &mut self.session
            } else {
                &mut self.csrf
            };
            *slot = (!cookie.value.is_empty()).then_some(cookie.value);
        }
    }

    fn header(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.session {
            parts.push(format!("__Host-lexigram-session={s}"));
        }
        if let Some(c) = &self.csrf {
            parts.push(format!("__Host-lexigram-csrf={c}"));
        }
        parts.join("; ")
    }

    /// A request as the application's own page sends it.
    fn request(&self, method: &str, uri: &str, body: &str) -> Request<Body> {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header("cookie", self.header())
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/json");
        if let Some(c) = &self.csrf {
            b = b.header("x-csrf-token", c);
        }
        b.body(Body::from(body.to_owned())).unwrap()
    }
}

async fn login(app: &App, jar: &mut Jar) -> Reply {
    let body = serde_json::json!({"email": "alice@example.com", "password": PASSWORD});
    let reply = send(
        &app.router,
        jar.request("POST", "/auth/login", &body.to_string()),
    )
    .await;
    jar.absorb(&reply);
    reply
}

#[tokio::test]
async fn cookie_login_sets_two_cookies_with_all_attributes_and_the_guards_accept_it() {
    let app = app(SessionConfig::default()).await;
    let mut jar = Jar::default();
    let reply = login(&app, &mut jar).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let cookies = set_cookies(&reply);
    assert_eq!(cookies.len(), 2);
    assert_session_cookie(&cookies[0], true, "43200");
    assert_session_cookie(&cookies[1], false, "43200");
    assert_eq!(cookies[0].name, "__Host-lexigram-session");
    assert_eq!(cookies[1].name, "__Host-lexigram-csrf");
    // The body's CSRF token is the CSRF cookie; no secret in the body.
    let body = reply.json();
    assert_eq!(body["csrf_token"].as_str(), jar.csrf.as_deref());
    assert!(!reply.text().contains(jar.session.as_deref().unwrap()));

    let me = send(&app.router, jar.request("GET", "/whoami", "")).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.text(), format!("{}:editor", app.user_id));
    let me = send(&app.router, jar.request("GET", "/auth/me", "")).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["roles"], serde_json::json!(["editor"]));
    // Roles come from the session: an editor is no admin.
    let admin = send(&app.router, jar.request("GET", "/admin", "")).await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn rotation_on_login_privilege_change_and_reauthentication_kills_the_old_id() {
    let app = app(SessionConfig::default()).await;
    let mut jar = Jar::default();
    login(&app, &mut jar).await;

    // 1. Login again with the old cookie: a new id; the old one is dead.
    let before_login = jar.clone();
    login(&app, &mut jar).await;
    assert_ne!(jar.session, before_login.session);
    let old = send(&app.router, before_login.request("GET", "/whoami", "")).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&app.router, jar.request("GET", "/whoami", ""))
            .await
            .status,
        StatusCode::OK
    );

    // 2. Privilege change: the application rotates with the new roles.
    let before_promotion = jar.clone();
    let mut cookie_headers = http::HeaderMap::new();
    cookie_headers.insert("cookie", jar.header().parse().unwrap());
    let token = app
        .cookies
        .session_token(&cookie_headers)
        .unwrap()
        .unwrap()
        .to_owned();
    let promoted = Principal::new(app.user_id.clone()).with_roles(["admin"]);
    let rotated = app.sessions.rotate(&token, Some(&promoted)).await.unwrap();
    let [session_cookie, csrf_cookie] = app.cookies.set_cookies(&rotated).unwrap();
    let reply = Reply {
        status: StatusCode::OK,
        headers: {
            let mut h = http::HeaderMap::new();
            h.append("set-cookie", session_cookie);
            h.append("set-cookie", csrf_cookie);
            h
        },
        body: axum::body::Bytes::new(),
    };
    jar.absorb(&reply);
    let old = send(&app.router, before_promotion.request("GET", "/admin", "")).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = send(&app.router, jar.request("GET", "/admin", "")).await;
    assert_eq!(new.status, StatusCode::OK);

    // 3. Re-authentication (a password change): a new id; the old is dead.
    let before_change = jar.clone();
    let body = serde_json::json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let reply = send(
        &app.router,
        jar.request("POST", "/auth/password/change", &body.to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    for cookie in set_cookies(&reply) {
        assert_session_cookie(&cookie, cookie.name.ends_with("session"), "43200");
    }
    jar.absorb(&reply);
    assert_ne!(jar.session, before_change.session);
    let old = send(&app.router, before_change.request("GET", "/whoami", "")).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&app.router, jar.request("GET", "/whoami", ""))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(app.sessions.list(&app.user_id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn logout_ends_the_session_and_overwrites_both_cookies() {
    let app = app(SessionConfig::default()).await;
    let mut jar = Jar::default();
    login(&app, &mut jar).await;
    let before = jar.clone();
    let reply = send(&app.router, jar.request("POST", "/auth/logout", "")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let cookies = set_cookies(&reply);
    assert_eq!(cookies.len(), 2);
    for cookie in &cookies {
        assert_eq!(cookie.value, "");
        assert_session_cookie(cookie, cookie.name.ends_with("session"), "0");
    }
    jar.absorb(&reply);
    assert_eq!(jar.session, None);
    let replay = send(&app.router, before.request("GET", "/whoami", "")).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    // A dead session cookie is answered with the cookies cleared.
    let me = send(&app.router, before.request("GET", "/auth/me", "")).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    for cookie in set_cookies(&me) {
        assert_session_cookie(&cookie, cookie.name.ends_with("session"), "0");
    }
}

#[tokio::test]
async fn idle_and_absolute_expiry_over_http() {
    let app = app(SessionConfig {
        idle_timeout: Duration::from_secs(900),
        absolute_timeout: Duration::from_secs(3_600),
        ..SessionConfig::default()
    })
    .await;
    let mut jar = Jar::default();
    login(&app, &mut jar).await;
    let ok = |reply: &Reply| reply.status == StatusCode::OK;
    // Used every 14 minutes: alive until the absolute timeout.
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(14 * 60));
        assert!(ok(
            &send(&app.router, jar.request("GET", "/whoami", "")).await
        ));
    }
    app.clock.advance(Duration::from_secs(5 * 60)); // 61 minutes after login
    assert_eq!(
        send(&app.router, jar.request("GET", "/whoami", ""))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Idle: 15 minutes without a request.
    login(&app, &mut jar).await;
    app.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(
        send(&app.router, jar.request("GET", "/whoami", ""))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn csrf_cross_site_unsafe_requests_are_refused_same_site_pass_bearer_unaffected() {
    let app = app(SessionConfig::default()).await;
    let mut jar = Jar::default();
    login(&app, &mut jar).await;

    // The application's own page: passes.
    let own = send(&app.router, jar.request("POST", "/write", "")).await;
    assert_eq!(own.status, StatusCode::OK);

    // A cross-site form post: the browser sends the cookie (say SameSite
    // were None, or an old browser), Sec-Fetch-Site says cross-site, and
    // the attacker cannot read the CSRF cookie.
    let forged = Request::post("/write")
        .header(
            "cookie",
            format!(
                "__Host-lexigram-session={}",
                jar.session.as_deref().unwrap()
            ),
        )
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .body(Body::empty())
        .unwrap();
    let reply = send(&app.router, forged).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Same body as any other 403 (nothing says "CSRF").
    assert!(!reply.text().to_ascii_lowercase().contains("csrf"));
    // Even with the right token, a cross-site fetch is refused.
    let mut cross = jar.request("POST", "/write", "");
    cross
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(send(&app.router, cross).await.status, StatusCode::FORBIDDEN);
    // An old browser (no Sec-Fetch-Site) from a foreign origin.
    let mut foreign = jar.request("POST", "/write", "");
    foreign.headers_mut().remove("sec-fetch-site");
    foreign
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    foreign
        .headers_mut()
        .insert("host", "app.example.com".parse().unwrap());
    assert_eq!(
        send(&app.router, foreign).await.status,
        StatusCode::FORBIDDEN
    );
    // Same origin without the token header: refused.
    let mut tokenless = jar.request("POST", "/write", "");
    tokenless.headers_mut().remove("x-csrf-token");
    assert_eq!(
        send(&app.router, tokenless).await.status,
        StatusCode::FORBIDDEN
    );
    // Safe methods need nothing.
    let read = Request::get("/whoami")
        .header("cookie", jar.header())
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app.router, read).await.status, StatusCode::OK);
    // Logout is CSRF-checked too.
    let mut logout = jar.request("POST", "/auth/logout", "");
    logout
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(
        send(&app.router, logout).await.status,
        StatusCode::FORBIDDEN
    );

    // Bearer tokens are not cookies: no CSRF check, even cross-site, even
    // with a session cookie beside them.
    let token = app
        .tokens
        .sign_access(&Principal::new("bob").with_roles(["viewer"]))
        .unwrap();
    let bearer = Request::post("/write")
        .header("authorization", format!("Bearer {token}"))
        .header("cookie", jar.header())
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app.router, bearer).await.status, StatusCode::OK);
}

#[tokio::test]
async fn forged_doubled_and_bare_cookies_get_401() {
    let app = app(SessionConfig::default()).await;
    let mut jar = Jar::default();
    login(&app, &mut jar).await;
    let session = jar.session.clone().unwrap();
    let (token, _mac) = session.rsplit_once('.').unwrap();
    for cookie in [
        format!("__Host-lexigram-session={token}"),
        format!("__Host-lexigram-session={token}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        format!("__Host-lexigram-session={session}; __Host-lexigram-session={session}"),
        "__Host-lexigram-session=".to_owned(),
        "__Host-lexigram-session=....".to_owned(),
    ] {
        let request = Request::get("/whoami")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&app.router, request).await.status,
            StatusCode::UNAUTHORIZED,
            "{cookie}"
        );
    }
    // No cookie at all: 401 with the bearer challenge.
    let none = send(
        &app.router,
        Request::get("/whoami").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.headers.contains_key("www-authenticate"));
}

#[tokio::test]
async fn logout_everywhere_and_password_change_end_every_session() {
    let app = app(SessionConfig::default()).await;
    let mut laptop = Jar::default();
    let mut phone = Jar::default();
    login(&app, &mut laptop).await;
    login(&app, &mut phone).await;
    assert_eq!(app.sessions.list(&app.user_id).await.unwrap().len(), 2);
    // The password changed from the laptop: the phone is signed out.
    let body = serde_json::json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let reply = send(
        &app.router,
        laptop.request("POST", "/auth/password/change", &body.to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    laptop.absorb(&reply);
    assert_eq!(
        send(&app.router, phone.request("GET", "/whoami", ""))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app.router, laptop.request("GET", "/whoami", ""))
            .await
            .status,
        StatusCode::OK
    );
    // Logging out everywhere ends the laptop's new session too.
    app.service.logout_all(&app.user_id).await.unwrap();
    assert_eq!(
        send(&app.router, laptop.request("GET", "/whoami", ""))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert!(app.sessions.list(&app.user_id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_thousand_racing_logins_never_exceed_the_limit() {
    let sessions = SessionManager::new(
        Arc::new(MemorySessionStore::new()),
        SessionConfig {
            max_sessions_per_user: Some(5),
            ..SessionConfig::default()
        },
    )
    .unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let sessions = sessions.clone();
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut max = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                max = max.max(sessions.list("u").await.unwrap().len());
                tokio::task::yield_now().await;
            }
            max
        })
    };
    let logins: Vec<_> = (0..1_000)
        .map(|_| {
            let sessions = sessions.clone();
            tokio::spawn(async move {
                sessions
                    .create(&Principal::new("u"), &Default::default())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut evicted = 0;
    for login in logins {
        evicted += login.await.unwrap().evicted.len();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(watcher.await.unwrap() <= 5);
    assert_eq!(sessions.list("u").await.unwrap().len(), 5);
    assert_eq!(evicted, 995);
}

/// One application instance of a two-instance deployment: its own session
/// manager (its own Redis connection), the shared user store.
async fn instance(
    users: Arc<dyn UserStore>,
    redis_url: &str,
    prefix: &str,
) -> (Router, Arc<AuthenticationService>) {
    let store = lexigram_auth::session::RedisSessionStore::connect(redis_url)
        .await
        .unwrap()
        .with_key_prefix(prefix);
    let sessions = SessionManager::new(Arc::new(store), SessionConfig::default()).unwrap();
    let cookies = SessionCookies::new_in(
        b"a-32-byte-or-longer-cookie-key!!",
        CookieConfig::default(),
        Environment::Production,
    )
    .unwrap();
    let auth_sessions = SessionAuth::new(sessions.clone(), cookies);
    let tokens = Arc::new(
        JwtTokenManager::new("k1", [("k1", "a-32-byte-or-longer-hmac-secret!!")]).unwrap(),
    );
    let service = Arc::new(
        AuthenticationService::new(users, PasswordHasher::default(), Arc::clone(&tokens))
            .sessions(sessions),
    );
    let module = AuthModule::builder()
        .tokens(tokens)
        .roles(seed_roles())
        .sessions(auth_sessions.clone())
        .build()
        .unwrap();
    let router = Router::new()
        .route("/whoami", get_route(whoami))
        .nest(
            "/auth",
            auth_routes_with(
                Arc::clone(&service),
                LoginMode::Cookies(Box::new(auth_sessions)),
            ),
        )
        .with_state(module);
    (router, service)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_on_one_instance_ends_sessions_on_another_sharing_redis() {
    let Some(url) = crate::support::peer("LEXIGRAM_TEST_REDIS_URL") else {
        return;
    };
    let _shared = crate::support::REDIS.read().await;
    let users: Arc<dyn UserStore> = Arc::new(MemoryUserStore::new());
    let hash = PasswordHasher::default().hash(PASSWORD).await.unwrap();
    let new = NewUser::new("alice@example.com", "Alice").with_password_hash(hash);
    let Created::Created(_) = users.create_user(&new, START).await.unwrap() else {
        panic!("alice exists");
    };
    let prefix = format!("lexigram-test-sessions-{}", std::process::id());
    let (one, service_one) = instance(Arc::clone(&users), &url, &prefix).await;
    let (two, _) = instance(Arc::clone(&users), &url, &prefix).await;
    let body = serde_json::json!({"email": "alice@example.com", "password": PASSWORD});
    let mut laptop = Jar::default();
    let mut phone = Jar::default();
    let reply = send(
        &one,
        laptop.request("POST", "/auth/login", &body.to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    laptop.absorb(&reply);
    let reply = send(
        &two,
        phone.request("POST", "/auth/login", &body.to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    phone.absorb(&reply);
    // Each instance accepts the other's session (one store).
    assert_eq!(
        send(&two, laptop.request("GET", "/whoami", ""))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&one, phone.request("GET", "/whoami", "")).await.status,
        StatusCode::OK
    );

    // The password changes on instance one ...
    let change = serde_json::json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let reply = send(
        &one,
        laptop.request("POST", "/auth/password/change", &change.to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let changed = std::time::Instant::now();
    laptop.absorb(&reply);
    // ... and the phone's session ends on instance two within 1 s.
    let ended = loop {
        let status = send(&two, phone.request("GET", "/whoami", "")).await.status;
        if status == StatusCode::UNAUTHORIZED {
            break changed.elapsed();
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "still signed in"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(ended < Duration::from_secs(1));
    // The laptop's new session works on both.
    for app in [&one, &two] {
        assert_eq!(
            send(app, laptop.request("GET", "/whoami", "")).await.status,
            StatusCode::OK
        );
    }
    // Disabling the account on instance one ends the laptop's session on
    // instance two as well.
    let user_id = users
        .user_by_email("alice@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert!(service_one.disable_user(&user_id).await.unwrap());
    let disabled = std::time::Instant::now();
    let gone = loop {
        let status = send(&two, laptop.request("GET", "/whoami", ""))
            .await
            .status;
        if status == StatusCode::UNAUTHORIZED {
            break disabled.elapsed();
        }
        assert!(
            disabled.elapsed() < Duration::from_secs(1),
            "still signed in"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    println!(
        "password change on instance one: the other session refused on instance two after \
         {ended:?}; account disabled: refused after {gone:?}"
    );
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_and_tokens() {
    let app = app(SessionConfig::default()).await;
    let mut jar = Jar::default();
    login(&app, &mut jar).await;
    let token = app
        .tokens
        .sign_access(&Principal::new(app.user_id.clone()))
        .unwrap();
    assert_eq!(
        send(&app.router, jar.request("GET", "/whoami", ""))
            .await
            .status,
        StatusCode::OK
    );
    assert!(app.service.disable_user(&app.user_id).await.unwrap());
    assert_eq!(
        send(&app.router, jar.request("GET", "/whoami", ""))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let bearer = Request::get("/whoami")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app.router, bearer).await.status,
        StatusCode::UNAUTHORIZED
    );
    // And the account cannot sign in again.
    let mut again = Jar::default();
    assert_eq!(
        login(&app, &mut again).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(!app.service.disable_user("nobody").await.unwrap());
}
