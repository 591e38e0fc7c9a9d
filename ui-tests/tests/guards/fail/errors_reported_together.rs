use axum::Router;
use axum::routing::get;
use lexigram_auth::{AuthModule, require_auth, require_permissions, require_roles};

#[require_auth(two_factor)]
#[require_roles("Admin", either("x"))]
#[require_permissions("articles.", not())]
async fn handler() -> &'static str {
    "ok"
}

fn main() {
    let app: Router = Router::new().route("/", get(handler)).with_state(AuthModule::stub());
    drop(app);
}
