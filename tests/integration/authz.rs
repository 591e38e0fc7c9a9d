//! RBAC through the public API: the seed guide's example as written.

use std::collections::BTreeMap;

use lexigram_auth::Principal;
use lexigram_auth::authz::{AuthorizationService, Decision, DenyReason, RoleDefinition};
use lexigram_auth::error::RoleGraphError;

fn seed() -> AuthorizationService {
    let authz = AuthorizationService::new();
    let roles: BTreeMap<String, RoleDefinition> = serde_json::from_value(serde_json::json!({
        "admin": {"permissions": ["*"]},
        "editor": {"inherits": ["viewer"], "permissions": ["articles.write"]},
        "viewer": {"permissions": ["articles.read"]},
    }))
    .unwrap();
    authz.set_roles(roles).unwrap();
    authz
}

#[test]
fn seed_example_as_written() {
    let authz = seed();
    let user = Principal::new("user-1").with_roles(["viewer"]);
    assert!(authz.authorize(&user, "articles", "read").is_ok());
    assert_eq!(
        authz.decide(&user, "articles", "write"),
        Decision::Deny(DenyReason::MissingPermission)
    );
    let editor = Principal::new("user-2").with_roles(["editor"]);
    assert!(authz.authorize(&editor, "articles", "read").is_ok());
    assert!(authz.authorize(&editor, "articles", "write").is_ok());
    let admin = Principal::new("root").with_roles(["admin"]);
    assert!(authz.authorize(&admin, "billing", "refund").is_ok());
}

#[test]
fn configuration_errors_name_the_roles() {
    let authz = AuthorizationService::new();
    let cyclic: BTreeMap<String, RoleDefinition> = serde_json::from_value(serde_json::json!({
        "editor": {"inherits": ["viewer"]},
        "viewer": {"inherits": ["editor"]},
    }))
    .unwrap();
    let err = authz.set_roles(cyclic).unwrap_err();
    assert!(matches!(err, RoleGraphError::Cycle { .. }));
    assert_eq!(
        err.to_string(),
        "role inheritance has a cycle: `editor` -> `viewer` -> `editor`"
    );

    let orphan: BTreeMap<String, RoleDefinition> =
        serde_json::from_value(serde_json::json!({"editor": {"inherits": ["ghost"]}})).unwrap();
    assert_eq!(
        authz.set_roles(orphan).unwrap_err().to_string(),
        "role `editor` inherits from `ghost`, which is not defined"
    );

    let unknown_key = serde_json::from_value::<BTreeMap<String, RoleDefinition>>(
        serde_json::json!({"editor": {"permisions": ["a.b"]}}),
    );
    assert!(unknown_key.is_err(), "a misspelt key must not be ignored");
}

#[test]
fn unknown_roles_grant_nothing() {
    let authz = seed();
    let p = Principal::new("x").with_roles(["superuser", "root"]);
    assert!(authz.authorize(&p, "articles", "read").is_err());
    assert!(authz.effective_permissions(&p).is_empty());
}
