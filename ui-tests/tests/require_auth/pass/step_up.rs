// Step-up options: `fresh = ".."` (a recent login) and `mfa` (a second
// factor), alone, together, and stacked with a role guard.
#![deny(warnings)]

use axum::Router;
use axum::routing::get;
use lexigram_auth::authz::{Expr, Requirement};
use lexigram_auth::{AuthModule, require_auth, require_roles};

#[require_auth(fresh = "5m")]
async fn settings() -> &'static str {
    "ok"
}

#[require_auth(mfa)]
async fn keys() -> &'static str {
    "ok"
}

#[require_roles("admin")]
#[require_auth(fresh = "1h")]
async fn danger() -> &'static str {
    "ok"
}

#[require_auth(mfa, fresh = "90s")]
struct Recent;

#[require_auth(fresh = "1d")]
struct Today;

fn main() {
    assert_eq!(Recent::EXPR, Expr::All(&[Expr::FreshWithin(90), Expr::Mfa]));
    assert_eq!(Today::EXPR, Expr::FreshWithin(86_400));
    let app: Router = Router::new()
        .route("/settings", get(settings))
        .route("/keys", get(keys))
        .route("/danger", get(danger))
        .with_state(AuthModule::stub());
    drop(app);
}
