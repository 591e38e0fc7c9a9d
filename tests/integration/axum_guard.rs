//! Guarded axum handlers end to end, through `tower::ServiceExt::oneshot`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use http::StatusCode;
use lexigram_auth::axum::{GuardLayer, RejectionKind, RejectionRenderer};
use lexigram_auth::token::JwtTokenManager;
use lexigram_auth::{
    AuthModule, Principal, require_auth, require_permissions, require_roles, seed_roles,
};
use serde::Deserialize;

use crate::support::{Reply, get as get_req, put_json, send};

#[derive(Debug, Deserialize)]
struct Article {
    title: String,
}

async fn public() -> &'static str {
    "public"
}

#[require_auth]
async fn me(principal: Principal) -> String {
    principal.subject().to_owned()
}

#[require_roles("editor", "admin")]
async fn drafts() -> &'static str {
    "drafts"
}

#[require_roles("viewer")]
async fn viewers() -> &'static str {
    "viewers"
}

#[require_permissions("articles.read", "articles.write")]
async fn update(
    State(_auth): State<AuthModule>,
    Path(id): Path<u64>,
    Json(article): Json<Article>,
) -> String {
    format!("{id}:{}", article.title)
}

#[require_permissions(any("articles.delete", "articles.write"))]
async fn any_permission() -> &'static str {
    "any"
}

#[require_roles(all("viewer", not("admin")))]
async fn not_admin() -> &'static str {
    "not-admin"
}

#[require_auth]
#[require_roles("editor")]
#[require_permissions("articles.read")]
async fn stacked() -> &'static str {
    "stacked"
}

/// Editors only, for the router-level layer.
#[require_roles("editor")]
struct Editors;

fn app(auth: &AuthModule) -> Router {
    let layered = Router::new()
        .route("/layered", get(|| async { "layered" }))
        .route_layer(GuardLayer::<Editors>::new(auth.clone()));
    Router::new()
        .route("/public", get(public))
        .route("/me", get(me))
        .route("/drafts", get(drafts))
        .route("/viewers", get(viewers))
        .route("/articles/{id}", put(update))
        .route("/any", get(any_permission))
        .route("/not-admin", get(not_admin))
        .route("/stacked", get(stacked))
        .merge(layered)
        .with_state(auth.clone())
}

struct Users {
    admin: String,
    editor: String,
    viewer: String,
    nobody: String,
}

fn users(auth: &AuthModule) -> Users {
    let token = |p: Principal| auth.token_for(&p).unwrap();
    Users {
        admin: token(Principal::new("ada").with_roles(["admin"])),
        editor: token(Principal::new("eve").with_roles(["editor"])),
        viewer: token(Principal::new("vic").with_roles(["viewer"])),
        nobody: token(Principal::new("nob")),
    }
}

fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    let body = reply.json();
    assert_eq!(body["code"], code);
    assert_eq!(body["status"], status.as_u16());
}

#[tokio::test]
async fn public_route_needs_nothing() {
    let auth = AuthModule::stub();
    let reply = send(&app(&auth), get_req("/public", None)).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn no_token_is_401_with_www_authenticate() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    for uri in [
        "/me",
        "/drafts",
        "/viewers",
        "/any",
        "/not-admin",
        "/stacked",
        "/layered",
    ] {
        let reply = send(&app, get_req(uri, None)).await;
        assert_problem(&reply, StatusCode::UNAUTHORIZED, "unauthenticated");
        assert_eq!(
            reply.headers["www-authenticate"], "Bearer realm=\"lexigram\"",
            "{uri}"
        );
    }
}

#[tokio::test]
async fn malformed_or_wrongly_signed_token_is_401() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let foreign = AuthModule::stub()
        .token_for(&Principal::new("ada").with_roles(["admin"]))
        .unwrap();
    let good = auth
        .token_for(&Principal::new("ada").with_roles(["admin"]))
        .unwrap();
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    for token in ["garbage", "a.b.c", "", foreign.as_str(), tampered.as_str()] {
        let reply = send(&app, get_req("/me", Some(token))).await;
        assert_problem(&reply, StatusCode::UNAUTHORIZED, "unauthenticated");
        let www = reply.headers["www-authenticate"].to_str().unwrap();
        assert!(www.starts_with("Bearer "), "{www}");
        assert!(www.contains("invalid_token"), "{token}: {www}");
    }
    let basic = http::Request::get("/me")
        .header("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(send(&app, basic).await.status, StatusCode::UNAUTHORIZED);
    let lower = http::Request::get("/me")
        .header("authorization", format!("bearer {good}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = send(&app, lower).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "ada");
}

#[tokio::test]
async fn any_authenticated_principal_passes_require_auth() {
    let auth = AuthModule::stub();
    let u = users(&auth);
    let reply = send(&app(&auth), get_req("/me", Some(&u.nobody))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "nob");
}

#[tokio::test]
async fn roles_are_any_of_with_inheritance() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let u = users(&auth);
    for (token, status) in [
        (&u.admin, StatusCode::OK),
        (&u.editor, StatusCode::OK),
        (&u.viewer, StatusCode::FORBIDDEN),
        (&u.nobody, StatusCode::FORBIDDEN),
    ] {
        assert_eq!(
            send(&app, get_req("/drafts", Some(token))).await.status,
            status
        );
    }
    // editor inherits viewer
    assert_eq!(
        send(&app, get_req("/viewers", Some(&u.editor)))
            .await
            .status,
        StatusCode::OK
    );
    // admin holds `*` but does not inherit the viewer role: no name-based superuser
    assert_eq!(
        send(&app, get_req("/viewers", Some(&u.admin))).await.status,
        StatusCode::FORBIDDEN
    );
    let missing = send(&app, get_req("/drafts", Some(&u.viewer))).await;
    assert_problem(&missing, StatusCode::FORBIDDEN, "forbidden");
    assert!(missing.headers.get("www-authenticate").is_none());
}

#[tokio::test]
async fn permissions_are_all_of() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let u = users(&auth);
    let body = r#"{"title":"hello"}"#;
    let viewer = send(&app, put_json("/articles/7", Some(&u.viewer), body)).await; // read only
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    let editor = send(&app, put_json("/articles/7", Some(&u.editor), body)).await; // read (inherited) + write
    assert_eq!(editor.status, StatusCode::OK);
    assert_eq!(editor.text(), "7:hello");
    let admin = send(&app, put_json("/articles/7", Some(&u.admin), body)).await; // `*`
    assert_eq!(admin.status, StatusCode::OK);
    // a principal with only direct permissions
    let direct = auth
        .token_for(&Principal::new("svc").with_permissions(["articles.*"]))
        .unwrap();
    assert_eq!(
        send(&app, put_json("/articles/7", Some(&direct), body))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn any_and_not_semantics() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let u = users(&auth);
    assert_eq!(
        send(&app, get_req("/any", Some(&u.editor))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get_req("/any", Some(&u.viewer))).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, get_req("/not-admin", Some(&u.viewer)))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get_req("/not-admin", Some(&u.editor)))
            .await
            .status,
        StatusCode::OK
    );
    let admin_viewer = auth
        .token_for(&Principal::new("av").with_roles(["admin", "viewer"]))
        .unwrap();
    assert_eq!(
        send(&app, get_req("/not-admin", Some(&admin_viewer)))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn stacked_guards_all_apply() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let u = users(&auth);
    assert_eq!(
        send(&app, get_req("/stacked", Some(&u.editor)))
            .await
            .status,
        StatusCode::OK
    );
    // holds `articles.read` but not the editor role
    assert_eq!(
        send(&app, get_req("/stacked", Some(&u.viewer)))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // the editor role without `articles.read` is impossible with the seed roles; use a role-less principal with the permission
    let perm_only = auth
        .token_for(&Principal::new("p").with_permissions(["articles.read"]))
        .unwrap();
    assert_eq!(
        send(&app, get_req("/stacked", Some(&perm_only)))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn guard_runs_before_the_body_is_read() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let u = users(&auth);
    for broken in ["{not json", r#"{"title": 5}"#] {
        // unauthorised: 403 whatever the body
        assert_eq!(
            send(&app, put_json("/articles/1", Some(&u.viewer), broken))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        // unauthenticated: 401 whatever the body
        assert_eq!(
            send(&app, put_json("/articles/1", None, broken))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    // authorised: the body is read and judged
    let wrong_shape = send(
        &app,
        put_json("/articles/1", Some(&u.editor), r#"{"title": 5}"#),
    )
    .await;
    assert_eq!(wrong_shape.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_syntax = send(&app, put_json("/articles/1", Some(&u.editor), "{not json")).await;
    assert_eq!(bad_syntax.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn every_403_body_is_identical() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let u = users(&auth);
    let admin_viewer = auth
        .token_for(&Principal::new("av").with_roles(["admin", "viewer"]))
        .unwrap();
    let replies = [
        send(&app, get_req("/drafts", Some(&u.viewer))).await, // missing role
        send(
            &app,
            put_json("/articles/1", Some(&u.viewer), r#"{"title":"x"}"#),
        )
        .await, // missing permission
        send(&app, get_req("/not-admin", Some(&admin_viewer))).await, // excluded by not()
        send(&app, get_req("/any", Some(&u.nobody))).await,    // any() of permissions
        send(&app, get_req("/stacked", Some(&u.viewer))).await, // stacked
        send(&app, get_req("/layered", Some(&u.viewer))).await, // router layer
    ];
    let first = &replies[0];
    assert_eq!(first.status, StatusCode::FORBIDDEN);
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.body, first.body,
            "403 bodies must not reveal the cause"
        );
        assert_eq!(reply.headers["content-type"], first.headers["content-type"]);
    }
    let text = first.text();
    for secret in [
        "viewer",
        "editor",
        "admin",
        "articles",
        "role",
        "permission",
    ] {
        assert!(!text.contains(secret), "the body names `{secret}`: {text}");
    }
}

#[tokio::test]
async fn router_layer_uses_the_same_requirement_types() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let u = users(&auth);
    assert_eq!(
        send(&app, get_req("/layered", Some(&u.editor)))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get_req("/layered", Some(&u.viewer)))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, get_req("/layered", None)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

struct Plain;

impl RejectionRenderer for Plain {
    fn render(&self, kind: RejectionKind) -> Response {
        (StatusCode::IM_A_TEAPOT, format!("custom:{}", kind.code())).into_response()
    }
}

#[tokio::test]
async fn rejection_body_is_replaceable_in_one_place() {
    let tokens = JwtTokenManager::new("k1", [("k1", [42u8; 32])]).unwrap();
    let auth = AuthModule::builder()
        .tokens(tokens)
        .roles(seed_roles())
        .rejection_renderer(Plain)
        .build()
        .unwrap();
    let app = app(&auth);
    let viewer = auth
        .token_for(&Principal::new("v").with_roles(["viewer"]))
        .unwrap();
    let forbidden = send(&app, get_req("/drafts", Some(&viewer))).await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "the status is kept"
    );
    assert_eq!(forbidden.text(), "custom:forbidden");
    let unauthenticated = send(&app, get_req("/drafts", None)).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unauthenticated.text(), "custom:unauthenticated");
    assert!(unauthenticated.headers.contains_key("www-authenticate"));
}

#[tokio::test]
async fn roles_changed_at_run_time_apply_to_the_next_request() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let u = users(&auth);
    assert_eq!(
        send(&app, get_req("/viewers", Some(&u.admin))).await.status,
        StatusCode::FORBIDDEN
    );
    let mut roles = seed_roles();
    roles
        .get_mut("admin")
        .unwrap()
        .inherits
        .push("viewer".into());
    auth.authz().set_roles(roles).unwrap();
    assert_eq!(
        send(&app, get_req("/viewers", Some(&u.admin))).await.status,
        StatusCode::OK
    );
}
