// `#[require_auth]`: any authenticated principal; `state = T` names the
// router state for the wiring check when no `State<T>` parameter does.
#![deny(warnings)]

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use lexigram_auth::authz::{Expr, Requirement};
use lexigram_auth::{AuthModule, Principal, require_auth};

#[require_auth]
async fn me(principal: Principal) -> String {
    principal.subject().to_owned()
}

#[require_auth(state = AuthModule)]
async fn ping() -> &'static str {
    "pong"
}

#[require_auth]
async fn with_state(State(_auth): State<AuthModule>) -> &'static str {
    "ok"
}

#[require_auth]
struct SignedIn;

fn main() {
    assert_eq!(SignedIn::EXPR, Expr::Authenticated);
    let app: Router = Router::new()
        .route("/me", get(me))
        .route("/ping", get(ping))
        .route("/state", get(with_state))
        .with_state(AuthModule::stub());
    drop(app);
}
