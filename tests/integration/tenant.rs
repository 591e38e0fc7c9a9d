//! AUTHZ-7, end to end: a principal acts within one tenant; its roles are
//! those assigned in that tenant; no role of tenant A authorises anything on
//! a resource of tenant B. Logins and refreshes within a tenant (service
//! and ready-made route) on memory, SQLite and PostgreSQL user stores,
//! resource checks through `authz.check`, and the `TenantPath` extractor.

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::routing::get;
use http::{Request, StatusCode};
use lexigram_auth::authn::{
    AuthEvent, AuthenticationService, ChannelSink, Created, FailureReason, Lockout, LockoutConfig,
    MemoryLockoutStore, MemoryUserStore, NewUser, PostgresUserStore, SqliteUserStore, User,
    UserStore, auth_routes,
};
use lexigram_auth::authz::DenyReason;
use lexigram_auth::axum::{AuthRejection, RejectionKind, TenantPath, problem_body};
use lexigram_auth::error::TokenError;
use lexigram_auth::password::PasswordHasher;
use lexigram_auth::revocation::MemoryRevocationStore;
use lexigram_auth::token::{Algorithm, JwtTokenManager, VerifiedToken};
use lexigram_auth::{AuthModule, Policy, Principal, require_permissions, seed_roles};

use crate::support::{Reply, get as get_req, peer, send};

const PASSWORD: &str = "Correct-Horse-Battery-9";

/// An article of one tenant.
#[derive(Debug, Policy)]
#[policy(kind = "article")]
struct Article {
    #[policy(id)]
    id: String,
    #[policy(tenant)]
    tenant: String,
}

struct World {
    auth: AuthModule,
    service: Arc<AuthenticationService>,
    users: Arc<dyn UserStore>,
    events: Receiver<AuthEvent>,
    ann: User,
    email: String,
}

fn roles(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

/// Ann: `admin` globally (which must never matter within a tenant), editor
/// in `acme`, viewer in `globex`, not a member of `initech`. The module and
/// the service share one token manager; the role graph is the seed's
/// (`admin` holds `*`).
async fn world(users: Arc<dyn UserStore>) -> World {
    let tokens = Arc::new(
        JwtTokenManager::builder()
            .hmac_key("k1", Algorithm::HS256, [7u8; 32])
            .current_key("k1")
            .revocation_store(Arc::new(MemoryRevocationStore::new()))
            .build()
            .unwrap(),
    );
    let auth = AuthModule::builder()
        .tokens(Arc::clone(&tokens))
        .roles(seed_roles())
        .build()
        .unwrap();
    let hasher = PasswordHasher::default();
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let email = format!("ann.{}.{run}@example.com", std::process::id());
    let new = NewUser::new(email.clone(), "Ann")
        .with_roles(["admin"])
        .with_password_hash(hasher.hash(PASSWORD).await.unwrap());
    let Created::Created(ann) = users.create_user(&new, 1_000).await.unwrap() else {
        panic!("ann taken")
    };
    let assignments = users.tenant_roles().unwrap();
    assert!(
        assignments
            .assign(&ann.id, "acme", &roles(&["editor"]))
            .await
            .unwrap()
    );
    assert!(
        assignments
            .assign(&ann.id, "globex", &roles(&["viewer"]))
            .await
            .unwrap()
    );
    let (sink, events) = ChannelSink::new();
    let service = AuthenticationService::new(Arc::clone(&users), hasher, tokens)
        .events(Arc::new(sink))
        .lockout(Lockout::new(
            Arc::new(MemoryLockoutStore::new()),
            LockoutConfig {
                max_failures: 2,
                ..LockoutConfig::default()
            },
        ));
    World {
        auth,
        service: Arc::new(service),
        users,
        events,
        ann,
        email,
    }
}

fn access(world: &World, token: &str) -> VerifiedToken {
    world.auth.tokens().verify_access(token).unwrap()
}

fn failures(events: &Receiver<AuthEvent>) -> Vec<FailureReason> {
    events
        .try_iter()
        .filter_map(|e| match e {
            AuthEvent::LoginFailed { reason, .. } => Some(reason),
            _ => None,
        })
        .collect()
}

/// Logins and refreshes within a tenant, on one user store.
async fn logins_and_refreshes(name: &str, users: Arc<dyn UserStore>) {
    let w = world(users).await;
    let assignments = w.users.tenant_roles().unwrap();

    // acme: exactly the acme roles, nothing global.
    let acme = w
        .service
        .authenticate_in("acme", &w.email, PASSWORD)
        .await
        .unwrap();
    let token = access(&w, &acme.access_token);
    assert_eq!(token.user_id, w.ann.id, "{name}");
    assert_eq!(token.tenant.as_deref(), Some("acme"), "{name}");
    assert_eq!(token.roles, ["editor"], "{name}");
    assert!(token.permissions.is_empty(), "{name}");
    assert_eq!(
        w.auth
            .tokens()
            .verify_refresh(&acme.refresh_token)
            .unwrap()
            .tenant
            .as_deref(),
        Some("acme"),
        "{name}: the refresh token carries the tenant"
    );

    // globex: the globex roles.
    let globex = w
        .service
        .authenticate_in("globex", &w.email, PASSWORD)
        .await
        .unwrap();
    let token = access(&w, &globex.access_token);
    assert_eq!(token.tenant.as_deref(), Some("globex"), "{name}");
    assert_eq!(token.roles, ["viewer"], "{name}");

    // initech: not a member, told only with the right password.
    drop(failures(&w.events));
    for tenant in ["initech", "Not a tenant!"] {
        let refused = w
            .service
            .authenticate_in(tenant, &w.email, PASSWORD)
            .await
            .unwrap_err();
        assert!(refused.is_not_a_member(), "{name}: {tenant}");
        assert_eq!(refused.code(), "not_a_member", "{name}");
    }
    assert_eq!(
        failures(&w.events),
        [FailureReason::NotAMember, FailureReason::NotAMember],
        "{name}"
    );
    // Not counted by the lockout (two failures would lock): acme still opens.
    let again = w.service.authenticate_in("acme", &w.email, PASSWORD).await;
    assert!(again.is_ok(), "{name}: {again:?}");

    // Without a tenant: the global principal, as before.
    let global = w.service.authenticate(&w.email, PASSWORD).await.unwrap();
    let token = access(&w, &global.access_token);
    assert_eq!(
        (token.tenant, token.roles),
        (None, roles(&["admin"])),
        "{name}"
    );
    let refreshed = w
        .service
        .refresh_token(&global.refresh_token)
        .await
        .unwrap();
    let token = access(&w, &refreshed.access_token);
    assert_eq!(
        (token.tenant, token.roles),
        (None, roles(&["admin"])),
        "{name}"
    );

    // Refresh re-reads the acme roles: changed roles travel.
    let acme1 = w.service.refresh_token(&acme.refresh_token).await.unwrap();
    assert_eq!(access(&w, &acme1.access_token).roles, ["editor"], "{name}");
    assert!(
        assignments
            .assign(&w.ann.id, "acme", &roles(&["admin", "viewer"]))
            .await
            .unwrap()
    );
    let acme2 = w.service.refresh_token(&acme1.refresh_token).await.unwrap();
    let token = access(&w, &acme2.access_token);
    assert_eq!(token.tenant.as_deref(), Some("acme"), "{name}");
    assert_eq!(token.roles, ["admin", "viewer"], "{name}");
    assert_eq!(
        w.auth
            .tokens()
            .verify_refresh(&acme2.refresh_token)
            .unwrap()
            .tenant
            .as_deref(),
        Some("acme"),
        "{name}: the tenant is carried on"
    );

    // Membership ended: the refresh is refused as revoked; globex goes on.
    assert!(assignments.unassign(&w.ann.id, "acme").await.unwrap());
    assert_eq!(
        w.service.refresh_token(&acme2.refresh_token).await,
        Err(TokenError::Revoked),
        "{name}"
    );
    let globex1 = w
        .service
        .refresh_token(&globex.refresh_token)
        .await
        .unwrap();
    let token = access(&w, &globex1.access_token);
    assert_eq!(
        (token.tenant.as_deref(), token.roles),
        (Some("globex"), roles(&["viewer"])),
        "{name}"
    );
    // Nor can a new login in acme happen.
    assert!(
        w.service
            .authenticate_in("acme", &w.email, PASSWORD)
            .await
            .unwrap_err()
            .is_not_a_member(),
        "{name}"
    );

    // Wrong passwords within a tenant: the generic refusal, counted by the
    // lockout like any login; once locked, even the right password fails.
    for tenant in ["globex", "initech"] {
        let wrong = w
            .service
            .authenticate_in(tenant, &w.email, "guess")
            .await
            .unwrap_err();
        assert_eq!(wrong.code(), "invalid_credentials", "{name}");
    }
    let locked = w
        .service
        .authenticate_in("globex", &w.email, PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(locked.code(), "invalid_credentials", "{name}: locked");
    let unknown = w
        .service
        .authenticate_in("acme", "nobody@example.com", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), "invalid_credentials", "{name}");
    println!("tenant logins and refreshes passed on {name}");
}

#[tokio::test]
async fn tenant_logins_and_refreshes_in_memory() {
    logins_and_refreshes("memory", Arc::new(MemoryUserStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_logins_and_refreshes_on_sqlite() {
    let store = SqliteUserStore::connect("sqlite::memory:").await.unwrap();
    logins_and_refreshes("sqlite", Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_logins_and_refreshes_on_postgres() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    let store = PostgresUserStore::connect(&url).await.unwrap();
    logins_and_refreshes("postgres", Arc::new(store)).await;
}

/// `*` in acme is nothing in globex: resource checks deny on the tenant
/// before roles are even looked at.
#[tokio::test]
async fn an_acme_admin_is_denied_on_a_globex_resource() {
    let w = world(Arc::new(MemoryUserStore::new())).await;
    let assignments = w.users.tenant_roles().unwrap();
    assert!(
        assignments
            .assign(&w.ann.id, "acme", &roles(&["admin"]))
            .await
            .unwrap()
    );
    let pair = w
        .service
        .authenticate_in("acme", &w.email, PASSWORD)
        .await
        .unwrap();
    let principal = access(&w, &pair.access_token).into_principal();
    assert_eq!(principal.tenant(), Some("acme"));
    assert_eq!(principal.roles(), ["admin"]);
    let authz = w.auth.authz();

    let own = Article {
        id: "1".into(),
        tenant: "acme".into(),
    };
    let foreign = Article {
        id: "2".into(),
        tenant: "globex".into(),
    };
    // `*` allows anything in acme ...
    for action in ["read", "edit", "delete"] {
        assert_eq!(
            authz.check(&principal, action, &own).await,
            Ok(()),
            "{action}"
        );
    }
    // ... and nothing in globex.
    for action in ["read", "edit", "delete"] {
        let denied = authz.check(&principal, action, &foreign).await.unwrap_err();
        assert_eq!(denied.reason, DenyReason::TenantMismatch, "{action}");
    }
    // The same principal without a tenant (the global login) is denied on
    // both: a tenant's resource needs a principal of that tenant.
    let global = w.service.authenticate(&w.email, PASSWORD).await.unwrap();
    let principal = access(&w, &global.access_token).into_principal();
    for article in [&own, &foreign] {
        let denied = authz.check(&principal, "read", article).await.unwrap_err();
        assert_eq!(denied.reason, DenyReason::TenantMismatch);
    }
    // A globex viewer reads globex articles, not acme ones.
    let pair = w
        .service
        .authenticate_in("globex", &w.email, PASSWORD)
        .await
        .unwrap();
    let principal = access(&w, &pair.access_token).into_principal();
    // `viewer` holds `articles.read`, not `article.read`: denied by roles.
    let denied = authz.check(&principal, "read", &foreign).await.unwrap_err();
    assert_eq!(denied.reason, DenyReason::NoRule);
    let denied = authz.check(&principal, "read", &own).await.unwrap_err();
    assert_eq!(denied.reason, DenyReason::TenantMismatch);
}

#[require_permissions("articles.read")]
async fn read_article(
    TenantPath(tenant): TenantPath,
    Path((_, id)): Path<(String, String)>,
) -> String {
    format!("{tenant}/{id}")
}

/// Checks the resource too: the handler's own load, by id, may belong to
/// another tenant than the path says (here `x-*` ids belong to globex).
async fn edit_article(
    State(auth): State<AuthModule>,
    TenantPath(tenant): TenantPath,
    principal: Principal,
    Path((_, id)): Path<(String, String)>,
) -> Result<String, AuthRejection> {
    let owner = if id.starts_with("x-") {
        "globex"
    } else {
        tenant.as_str()
    };
    let article = Article {
        id,
        tenant: owner.to_owned(),
    };
    auth.check(&principal, "edit", &article).await?;
    Ok(format!("edited {}", article.id))
}

async fn misrouted(TenantPath(tenant): TenantPath) -> String {
    tenant
}

fn app(auth: &AuthModule) -> Router {
    Router::new()
        .route(
            "/t/{tenant}/articles/{id}",
            get(read_article).put(edit_article),
        )
        .route("/nowhere/{id}", get(misrouted))
        .with_state(auth.clone())
}

fn put(uri: &str, token: &str) -> Request<Body> {
    Request::put(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn is_guard_403(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert_eq!(reply.text(), problem_body(RejectionKind::Forbidden));
}

#[tokio::test]
async fn tenant_path_routes_admit_only_the_principals_tenant() {
    let w = world(Arc::new(MemoryUserStore::new())).await;
    w.users
        .tenant_roles()
        .unwrap()
        .assign(&w.ann.id, "acme", &roles(&["admin"]))
        .await
        .unwrap();
    let app = app(&w.auth);
    let acme = w
        .service
        .authenticate_in("acme", &w.email, PASSWORD)
        .await
        .unwrap();
    let acme = acme.access_token.as_str();
    let globex = w
        .service
        .authenticate_in("globex", &w.email, PASSWORD)
        .await
        .unwrap();
    let globex = globex.access_token.as_str();
    let global = w.service.authenticate(&w.email, PASSWORD).await.unwrap();
    let global = global.access_token.as_str();

    // The acme admin: its own tenant's routes only, `*` notwithstanding.
    let ok = send(&app, get_req("/t/acme/articles/7", Some(acme))).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.text(), "acme/7");
    is_guard_403(&send(&app, get_req("/t/globex/articles/7", Some(acme))).await);
    let edited = send(&app, put("/t/acme/articles/7", acme)).await;
    assert_eq!(
        (edited.status, edited.text()),
        (StatusCode::OK, "edited 7".into())
    );
    is_guard_403(&send(&app, put("/t/globex/articles/7", acme)).await);
    // The path says acme, the resource is globex's: the check denies.
    is_guard_403(&send(&app, put("/t/acme/articles/x-9", acme)).await);

    // The globex viewer reads in globex, nowhere else; `articles.read` is
    // no `article.edit`.
    let ok = send(&app, get_req("/t/globex/articles/8", Some(globex))).await;
    assert_eq!((ok.status, ok.text()), (StatusCode::OK, "globex/8".into()));
    is_guard_403(&send(&app, get_req("/t/acme/articles/8", Some(globex))).await);
    is_guard_403(&send(&app, put("/t/globex/articles/8", globex)).await);

    // A principal of no tenant is refused every tenant's routes, even with
    // the global `admin`.
    is_guard_403(&send(&app, get_req("/t/acme/articles/7", Some(global))).await);
    is_guard_403(&send(&app, put("/t/acme/articles/7", global)).await);

    // Unauthenticated: 401 from the extractor as from the guard.
    let reply = send(&app, put("/t/acme/articles/7", "not-a-token")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = send(&app, get_req("/t/acme/articles/7", None)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = send(&app, get_req("/nowhere/1", None)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // A route without `{tenant}`: refused, whoever asks (fail closed).
    is_guard_403(&send(&app, get_req("/nowhere/1", Some(acme))).await);
}

fn post(uri: &str, body: &serde_json::Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// The ready-made login route: an optional `tenant` in the body.
#[tokio::test]
async fn the_login_route_logs_in_within_a_tenant() {
    let w = world(Arc::new(
        SqliteUserStore::connect("sqlite::memory:").await.unwrap(),
    ))
    .await;
    let routes = Router::new().nest("/auth", auth_routes(Arc::clone(&w.service)));
    let login = |tenant: Option<&str>, password: &str| {
        let mut body = serde_json::json!({"email": w.email, "password": password});
        if let Some(tenant) = tenant {
            body["tenant"] = tenant.into();
        }
        post("/auth/login", &body)
    };

    let ok = send(&routes, login(Some("acme"), PASSWORD)).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    let pair = ok.json();
    let token = access(&w, pair["access_token"].as_str().unwrap());
    assert_eq!(token.tenant.as_deref(), Some("acme"));
    assert_eq!(token.roles, ["editor"]);

    let ok = send(&routes, login(None, PASSWORD)).await;
    let token = access(&w, ok.json()["access_token"].as_str().unwrap());
    assert_eq!((token.tenant, token.roles), (None, roles(&["admin"])));

    let refused = send(&routes, login(Some("initech"), PASSWORD)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["code"], "not_a_member");
    let wrong = send(&routes, login(Some("initech"), "guess")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["code"], "invalid_credentials");

    // The route's refresh keeps to the tenant and its current roles.
    w.users
        .tenant_roles()
        .unwrap()
        .assign(&w.ann.id, "acme", &roles(&["viewer"]))
        .await
        .unwrap();
    let body = serde_json::json!({"refresh_token": pair["refresh_token"]});
    let refreshed = send(&routes, post("/auth/refresh", &body)).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    let next = refreshed.json();
    let token = access(&w, next["access_token"].as_str().unwrap());
    assert_eq!(
        (token.tenant.as_deref(), token.roles),
        (Some("acme"), roles(&["viewer"]))
    );
    w.users
        .tenant_roles()
        .unwrap()
        .unassign(&w.ann.id, "acme")
        .await
        .unwrap();
    let body = serde_json::json!({"refresh_token": next["refresh_token"]});
    let refused = send(&routes, post("/auth/refresh", &body)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

/// A lookup that knows one principal per user, tenant or not, and answers
/// `current_principal_in` with it only when `tenant_aware`.
struct Lookup {
    principal: Principal,
    tenant_aware: bool,
}

impl lexigram_auth::token::UserLookup for Lookup {
    fn current_principal<'a>(
        &'a self,
        _: &'a str,
    ) -> lexigram_auth::store::StoreFuture<'a, Option<Principal>> {
        Box::pin(async move { Ok(Some(self.principal.clone())) })
    }

    fn current_principal_in<'a>(
        &'a self,
        user_id: &'a str,
        tenant: &'a str,
    ) -> lexigram_auth::store::StoreFuture<'a, Option<Principal>> {
        if self.tenant_aware {
            self.current_principal(user_id)
        } else {
            let _ = tenant;
            Box::pin(async { Ok(None) })
        }
    }
}

/// Custom lookups: the trait's default refuses a tenant's refresh rather
/// than hand out global roles in it, and a lookup answering for another
/// tenant than the token's is refused; tenant-less refreshes are unchanged.
#[tokio::test]
async fn refresh_within_a_tenant_through_custom_lookups() {
    #[derive(Clone, Copy)]
    struct Unaware;
    impl lexigram_auth::token::UserLookup for Unaware {
        fn current_principal<'a>(
            &'a self,
            user_id: &'a str,
        ) -> lexigram_auth::store::StoreFuture<'a, Option<Principal>> {
            Box::pin(async move { Ok(Some(Principal::new(user_id).with_roles(["admin"]))) })
        }
    }

    let m = JwtTokenManager::builder()
        .hmac_key("k1", Algorithm::HS256, [7u8; 32])
        .current_key("k1")
        .revocation_store(Arc::new(MemoryRevocationStore::new()))
        .build()
        .unwrap();
    let acme = Principal::new("ann")
        .with_roles(["editor"])
        .with_tenant("acme");

    // A principal without a tenant has no tenant pair.
    assert_eq!(
        m.create_tenant_token_pair(&Principal::new("ann")).await,
        Err(TokenError::InvalidClaim("tenant"))
    );
    // A plain pair does not carry the principal's tenant into refreshes.
    let plain = m.create_token_pair(&acme).await.unwrap();
    assert_eq!(m.verify_refresh(&plain.refresh_token).unwrap().tenant, None);
    let next = m.refresh(&plain.refresh_token, &Unaware).await.unwrap();
    assert_eq!(
        m.verify_access(&next.access_token).unwrap().roles,
        ["admin"]
    );

    // The trait's default: refused as revoked, not refreshed with `admin`.
    let pair = m.create_tenant_token_pair(&acme).await.unwrap();
    assert_eq!(
        m.refresh(&pair.refresh_token, &Unaware).await,
        Err(TokenError::Revoked)
    );

    // A lookup answering in another tenant: refused.
    let pair = m.create_tenant_token_pair(&acme).await.unwrap();
    let wrong = Lookup {
        principal: Principal::new("ann")
            .with_roles(["admin"])
            .with_tenant("globex"),
        tenant_aware: true,
    };
    assert_eq!(
        m.refresh(&pair.refresh_token, &wrong).await,
        Err(TokenError::InvalidClaim("tenant"))
    );
    // ... and one without a tenant too.
    let untenanted = Lookup {
        principal: Principal::new("ann").with_roles(["admin"]),
        tenant_aware: true,
    };
    assert_eq!(
        m.refresh(&pair.refresh_token, &untenanted).await,
        Err(TokenError::InvalidClaim("tenant"))
    );
    // A lookup that refuses (membership ended): revoked. None of these
    // refusals consumed the token: the lookup comes first.
    let unaware = Lookup {
        principal: acme.clone(),
        tenant_aware: false,
    };
    assert_eq!(
        m.refresh(&pair.refresh_token, &unaware).await,
        Err(TokenError::Revoked)
    );
    // The right tenant: refreshed, the tenant carried on.
    let right = Lookup {
        principal: Principal::new("ann")
            .with_roles(["viewer"])
            .with_tenant("acme"),
        tenant_aware: true,
    };
    let next = m.refresh(&pair.refresh_token, &right).await.unwrap();
    let access = m.verify_access(&next.access_token).unwrap();
    assert_eq!(
        (access.tenant.as_deref(), access.roles),
        (Some("acme"), roles(&["viewer"]))
    );
    assert_eq!(
        m.verify_refresh(&next.refresh_token)
            .unwrap()
            .tenant
            .as_deref(),
        Some("acme")
    );
}
