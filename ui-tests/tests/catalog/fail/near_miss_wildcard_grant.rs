use axum::Router;
use axum::routing::get;
use lexigram_auth::{AuthModule, require_permissions};

// `comments.*` grants `comments.delete`; `coments.delete` is a typo of it.
#[require_permissions("coments.delete")]
async fn handler() -> &'static str {
    "ok"
}

fn main() {
    let app: Router = Router::new().route("/", get(handler)).with_state(AuthModule::stub());
    drop(app);
}
