use axum::Router;
use axum::routing::get;
use lexigram_auth::{AuthModule, require_auth};

#[require_auth(fresh = "5x")]
async fn handler() -> &'static str {
    "ok"
}

fn main() {
    let app: Router = Router::new().route("/", get(handler)).with_state(AuthModule::stub());
    drop(app);
}
