// Roles are alternatives at the top level; `any`, `all` and `not` nest.
#![deny(warnings)]

use axum::Router;
use axum::routing::get;
use lexigram_auth::authz::{Expr, Requirement};
use lexigram_auth::{AuthModule, require_roles};

#[require_roles("admin", all("editor", not("suspended")), any("owner", all("reviewer", not(any("guest", "banned")))))]
async fn publish() -> &'static str {
    "published"
}

#[require_roles("editor")]
struct Editors;

#[require_roles("editor", "admin", state = AuthModule)]
pub struct EditorsOrAdmins;

fn main() {
    assert_eq!(Editors::EXPR, Expr::Role("editor"));
    assert_eq!(EditorsOrAdmins::EXPR, Expr::Any(&[Expr::Role("editor"), Expr::Role("admin")]));
    let app: Router = Router::new()
        .route("/publish", get(publish))
        .route_layer(lexigram_auth::axum::GuardLayer::<Editors>::new(AuthModule::stub()))
        .with_state(AuthModule::stub());
    drop(app);
}
