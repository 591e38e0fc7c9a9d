//! ABAC through axum: `#[require_policy(..)]` on handlers (compiled rules
//! plus policies loaded at run time for the same kind), and resource checks
//! in handlers answering the guards' 403.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use http::StatusCode;
use lexigram_auth::abac::{PolicyEngine, SchemaRegistry};
use lexigram_auth::{AuthModule, Policy, Principal, require_policy};

use crate::support::{get as get_req, put_json, send};

/// Staff may call; interns only read; the context is filled from the request.
#[derive(Policy)]
#[policy(kind = "staff_area")]
#[policy(allow(id = "staff", when = principal.roles.contains("staff")
    && context.hour >= 0 && context.hour < 24 && context.path.starts_with("/staff")))]
#[policy(deny(id = "interns-read-only",
    when = principal.roles.contains("intern") && context.method != "GET"))]
#[policy(deny(id = "no-known-ip", when = context.ip == "203.0.113.9"))]
struct StaffArea;

#[require_policy(StaffArea)]
async fn staff(principal: Principal) -> String {
    principal.subject().to_owned()
}

/// A document with an owner, checked in the handler.
#[derive(Policy)]
#[policy(kind = "docs")]
#[policy(allow(id = "owners", when = principal.subject == resource.owner))]
struct Doc {
    #[policy(id)]
    id: String,
    owner: String,
}

async fn read_doc(
    State(auth): State<AuthModule>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<String, lexigram_auth::axum::AuthRejection> {
    let doc = Doc {
        owner: if id == "1" { "olivia" } else { "someone" }.to_owned(),
        id,
    };
    auth.check(&principal, "read", &doc).await?;
    Ok(format!("{} reads {}", principal.subject(), doc.id))
}

fn app(auth: &AuthModule) -> Router {
    Router::new()
        .route("/staff", get(staff).put(staff))
        .route("/docs/{id}", get(read_doc))
        .with_state(auth.clone())
}

fn token(auth: &AuthModule, subject: &str, roles: &[&str]) -> String {
    auth.token_for(&Principal::new(subject).with_roles(roles.iter().copied()))
        .unwrap()
}

#[tokio::test]
async fn request_policies_decide_from_the_principal_and_the_request() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let staff_token = token(&auth, "sam", &["staff"]);
    let intern = token(&auth, "ivy", &["staff", "intern"]);
    let nobody = token(&auth, "nat", &[]);

    let ok = send(&app, get_req("/staff", Some(&staff_token))).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.text(), "sam");
    assert_eq!(
        send(&app, put_json("/staff", Some(&staff_token), "{}"))
            .await
            .status,
        StatusCode::OK
    );
    // The intern rule denies writes, and a deny wins over the staff allow.
    assert_eq!(
        send(&app, get_req("/staff", Some(&intern))).await.status,
        StatusCode::OK
    );
    let denied = send(&app, put_json("/staff", Some(&intern), "{}")).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    // Nothing applies: default deny, with the guards' generic body.
    let nothing = send(&app, get_req("/staff", Some(&nobody))).await;
    assert_eq!(nothing.status, StatusCode::FORBIDDEN);
    assert_eq!(nothing.body, denied.body);
    assert_eq!(
        send(&app, get_req("/staff", None)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn loaded_policies_join_the_compiled_rules() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let sam = token(&auth, "sam", &["staff"]);
    assert_eq!(
        send(&app, get_req("/staff", Some(&sam))).await.status,
        StatusCode::OK
    );
    let registry = SchemaRegistry::new().register::<StaffArea>();
    let engine = PolicyEngine::from_yaml(
        &registry,
        r#"
policies:
  - id: sam-suspended
    effect: deny
    resource: staff_area
    when: { attr: principal.subject, op: equals, value: sam }
"#,
    )
    .unwrap();
    auth.authz().set_policies(engine);
    assert_eq!(
        send(&app, get_req("/staff", Some(&sam))).await.status,
        StatusCode::FORBIDDEN
    );
    let sue = token(&auth, "sue", &["staff"]);
    assert_eq!(
        send(&app, get_req("/staff", Some(&sue))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn resource_checks_in_handlers_answer_the_guards_403() {
    let auth = AuthModule::stub();
    let app = app(&auth);
    let olivia = token(&auth, "olivia", &[]);
    let ok = send(&app, get_req("/docs/1", Some(&olivia))).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.text(), "olivia reads 1");
    let denied = send(&app, get_req("/docs/2", Some(&olivia))).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    // Byte for byte the guards' 403.
    let nobody = token(&auth, "nat", &[]);
    let guard_403 = send(&app, get_req("/staff", Some(&nobody))).await;
    assert_eq!(denied.body, guard_403.body);
    assert_eq!(
        denied.headers.get("content-type"),
        guard_403.headers.get("content-type")
    );
    // RBAC still grants: `docs.read` through a role (admin holds `*`).
    let admin = token(&auth, "root", &["admin"]);
    assert_eq!(
        send(&app, get_req("/docs/2", Some(&admin))).await.status,
        StatusCode::OK
    );
}
