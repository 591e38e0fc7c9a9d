//! Step-up guards (`require_auth(fresh = ..)`, `require_auth(mfa)`) end to
//! end, refresh keeping the login's time and methods, and guards on
//! service-layer functions taking `&Principal`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use lexigram_auth::authz::{DenyReason, Expr, check_principal};
use lexigram_auth::error::AuthorizationFailed;
use lexigram_auth::store::StoreFuture;
use lexigram_auth::token::{Algorithm, JwtTokenManager, UserLookup};
use lexigram_auth::{
    AuthMethod, AuthModule, Principal, require_auth, require_permissions, require_roles, seed_roles,
};

use crate::support::{get as get_req, send};

#[require_auth(fresh = "5m")]
async fn settings() -> &'static str {
    "settings"
}

#[require_auth(mfa)]
async fn keys() -> &'static str {
    "keys"
}

#[require_roles("admin")]
#[require_auth(fresh = "5m", mfa)]
async fn danger() -> &'static str {
    "danger"
}

/// A service-layer error that takes the guard's refusal.
#[derive(Debug, PartialEq)]
enum ServiceError {
    Denied(DenyReason),
    NotFound,
}

impl From<AuthorizationFailed> for ServiceError {
    fn from(error: AuthorizationFailed) -> Self {
        Self::Denied(error.reason)
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        match self {
            Self::Denied(_) => StatusCode::FORBIDDEN.into_response(),
            Self::NotFound => StatusCode::NOT_FOUND.into_response(),
        }
    }
}

/// The service layer: guarded functions taking `&Principal`.
struct Articles {
    published: Mutex<Vec<u64>>,
}

impl Articles {
    #[require_permissions("articles.write")]
    async fn publish(&self, principal: &Principal, id: u64) -> Result<u64, ServiceError> {
        if id == 0 {
            return Err(ServiceError::NotFound);
        }
        let _ = principal;
        self.published.lock().unwrap().push(id);
        Ok(id)
    }

    #[require_roles("admin")]
    #[require_auth(fresh = "5m")]
    async fn purge(&self, principal: &Principal) -> Result<usize, ServiceError> {
        let _ = principal;
        let mut published = self.published.lock().unwrap();
        let n = published.len();
        published.clear();
        Ok(n)
    }
}

static ARTICLES: Articles = Articles {
    published: Mutex::new(Vec::new()),
};

/// A handler passing its principal to the service layer.
#[require_auth]
async fn publish(principal: Principal, Path(id): Path<u64>) -> Result<String, ServiceError> {
    ARTICLES
        .publish(&principal, id)
        .await
        .map(|id| id.to_string())
}

fn manager() -> JwtTokenManager {
    JwtTokenManager::builder()
        .hmac_key("k1", Algorithm::HS256, [9u8; 32])
        .current_key("k1")
        .build()
        .unwrap()
}

fn module() -> AuthModule {
    AuthModule::builder()
        .tokens(manager())
        .roles(seed_roles())
        .build()
        .unwrap()
}

fn app(auth: &AuthModule) -> Router {
    Router::new()
        .route("/settings", get(settings))
        .route("/keys", get(keys))
        .route("/danger", get(danger))
        .route("/publish/{id}", get(publish))
        .with_state(auth.clone())
}

fn ago(seconds: u64) -> Option<SystemTime> {
    Some(SystemTime::now() - Duration::from_secs(seconds))
}

fn user(roles: &[&str], auth_time: Option<SystemTime>, amr: &[&str]) -> Principal {
    Principal::new("u")
        .with_roles(roles.iter().copied())
        .with_authentication(AuthMethod::Bearer, auth_time)
        .with_amr(amr.iter().copied())
}

async fn status(auth: &AuthModule, uri: &str, p: &Principal) -> (StatusCode, String) {
    let token = auth.token_for(p).unwrap();
    let reply = send(&app(auth), get_req(uri, Some(&token))).await;
    let challenge = reply
        .headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (reply.status, challenge)
}

#[tokio::test]
async fn fresh_routes_challenge_old_logins_with_max_age() {
    let auth = module();
    let (status_now, _) = status(&auth, "/settings", &user(&["viewer"], ago(10), &["pwd"])).await;
    assert_eq!(status_now, StatusCode::OK);
    let (edge, _) = status(&auth, "/settings", &user(&["viewer"], ago(280), &["pwd"])).await;
    assert_eq!(edge, StatusCode::OK, "inside the five minutes");
    for old in [
        user(&["viewer"], ago(600), &["pwd"]),
        user(&["viewer"], None, &["pwd"]),
    ] {
        let (code, challenge) = status(&auth, "/settings", &old).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
        assert!(
            challenge.contains("error=\"insufficient_user_authentication\""),
            "{challenge}"
        );
        assert!(challenge.ends_with("max_age=300"), "{challenge}");
    }
}

#[tokio::test]
async fn mfa_routes_need_a_second_factor() {
    let auth = module();
    for (amr, expected) in [
        (&["pwd"][..], StatusCode::UNAUTHORIZED),
        (&[][..], StatusCode::UNAUTHORIZED),
        (&["otp"][..], StatusCode::UNAUTHORIZED), // one factor, even if a strong one
        (&["pwd", "otp"][..], StatusCode::OK),
        (&["pwd", "hwk"][..], StatusCode::OK),
        (&["mfa"][..], StatusCode::OK),
    ] {
        let (code, challenge) = status(&auth, "/keys", &user(&["viewer"], ago(1), amr)).await;
        assert_eq!(code, expected, "amr {amr:?}");
        if code == StatusCode::UNAUTHORIZED {
            assert!(challenge.contains("insufficient_user_authentication"));
            assert!(!challenge.contains("max_age"), "{challenge}");
        }
    }
}

#[tokio::test]
async fn stepping_up_cannot_help_a_caller_without_the_role() {
    let auth = module();
    // A viewer with a stale single-factor login: stepping up would not make
    // them an admin, so the answer is 403, not a challenge.
    let (code, challenge) = status(&auth, "/danger", &user(&["viewer"], ago(900), &["pwd"])).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(challenge.is_empty());
    let (code, _) = status(
        &auth,
        "/danger",
        &user(&["admin"], ago(900), &["pwd", "otp"]),
    )
    .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = status(&auth, "/danger", &user(&["admin"], ago(5), &["pwd"])).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = status(&auth, "/danger", &user(&["admin"], ago(5), &["pwd", "otp"])).await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test]
async fn the_start_up_check_takes_step_up_as_satisfiable() {
    let auth = module();
    let named = [
        lexigram_auth::axum::guarded(settings),
        lexigram_auth::axum::guarded(keys),
        lexigram_auth::axum::guarded(danger),
    ];
    assert!(auth.unsatisfiable_guards(&named).is_empty());
}

/// Users as the store has them now: no login time, no methods.
struct Users(HashMap<String, Principal>);

impl UserLookup for Users {
    fn current_principal<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Option<Principal>> {
        Box::pin(async move { Ok(self.0.get(user_id).cloned()) })
    }
}

#[tokio::test]
async fn a_refresh_keeps_the_login_time_and_methods() {
    let m = manager();
    let login = UNIX_EPOCH
        + Duration::from_secs(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
                - 3600,
        );
    let principal = user(&["viewer"], Some(login), &["pwd", "otp"]);
    let users = Users(HashMap::from([(
        "u".to_owned(),
        Principal::new("u").with_roles(["editor"]),
    )]));
    let first = m.create_token_pair(&principal).await.unwrap();
    let second = m.refresh(&first.refresh_token, &users).await.unwrap();
    let third = m.refresh(&second.refresh_token, &users).await.unwrap();
    for pair in [&second, &third] {
        let access = m.verify_token(&pair.access_token).await.unwrap();
        assert_eq!(access.roles, ["editor"], "current roles");
        assert_eq!(
            access.auth_time,
            Some(login.duration_since(UNIX_EPOCH).unwrap().as_secs())
        );
        assert_eq!(access.amr, ["pwd", "otp"]);
        assert!(
            access.iat > access.auth_time.unwrap(),
            "issued after the login"
        );
        // So a refreshed token is not a fresh login.
        let p = access.into_principal();
        assert_eq!(p.auth_time(), Some(login));
        assert_eq!(
            check_principal(&p, &Expr::FreshWithin(300))
                .unwrap_err()
                .reason,
            DenyReason::StaleAuthentication
        );
    }
}

#[tokio::test]
async fn tokens_without_auth_time_are_not_fresh() {
    let m = manager();
    let token = m.sign_access(&Principal::new("u")).unwrap();
    let p = m.verify_token(&token).await.unwrap().into_principal();
    assert_eq!(p.auth_time(), None, "iat is not an authentication time");
}

#[tokio::test]
async fn service_functions_check_bound_principals() {
    let auth = module();
    let editor = auth
        .authz()
        .bind(Principal::new("e").with_roles(["editor"]));
    let viewer = auth
        .authz()
        .bind(Principal::new("v").with_roles(["viewer"]));
    assert_eq!(ARTICLES.publish(&editor, 7).await, Ok(7));
    assert_eq!(
        ARTICLES.publish(&viewer, 8).await,
        Err(ServiceError::Denied(DenyReason::MissingPermission))
    );
    // The body's own errors pass through unchanged once the guard allows.
    assert_eq!(
        ARTICLES.publish(&editor, 0).await,
        Err(ServiceError::NotFound)
    );
    // Unbound: `editor` inherits nothing without the role definitions, and
    // only direct grants count.
    let unbound = Principal::new("e").with_roles(["editor"]);
    assert!(!unbound.is_bound());
    assert!(ARTICLES.publish(&unbound, 9).await.is_err());
    let direct = Principal::new("d").with_permissions(["articles.*"]);
    assert_eq!(ARTICLES.publish(&direct, 10).await, Ok(10));
    assert!(!ARTICLES.published.lock().unwrap().contains(&8));

    // Step-up on a service function: a stale admin is told so.
    let stale = auth.authz().bind(user(&["admin"], ago(900), &["pwd"]));
    assert_eq!(
        ARTICLES.purge(&stale).await,
        Err(ServiceError::Denied(DenyReason::StaleAuthentication))
    );
    // A fresh viewer is refused for the role, not asked to step up.
    let fresh_viewer = auth.authz().bind(user(&["viewer"], ago(1), &["pwd"]));
    assert_eq!(
        ARTICLES.purge(&fresh_viewer).await,
        Err(ServiceError::Denied(DenyReason::MissingRole))
    );
    let admin = auth.authz().bind(user(&["admin"], ago(1), &["pwd"]));
    assert!(ARTICLES.purge(&admin).await.is_ok());
}

#[tokio::test]
async fn handlers_pass_bound_principals_to_the_service_layer() {
    let auth = module();
    let app = app(&auth);
    // The extractor's principal is bound: the editor's permission comes
    // from the role graph, not from the token.
    let editor = auth
        .token_for(&Principal::new("e").with_roles(["editor"]))
        .unwrap();
    let viewer = auth
        .token_for(&Principal::new("v").with_roles(["viewer"]))
        .unwrap();
    let ok = send(&app, get_req("/publish/41", Some(&editor))).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.text(), "41");
    let denied = send(&app, get_req("/publish/42", Some(&viewer))).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let anonymous = send(&app, get_req("/publish/43", None)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
