use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use lexigram_auth::{AuthModule, require_auth};

#[require_auth]
#[allow(clippy::too_many_arguments)]
async fn handler(
    _: HeaderMap, _: HeaderMap, _: HeaderMap, _: HeaderMap,
    _: HeaderMap, _: HeaderMap, _: HeaderMap, _: HeaderMap,
    _: HeaderMap, _: HeaderMap, _: HeaderMap, _: HeaderMap,
    _: HeaderMap, _: HeaderMap, _: HeaderMap, _: HeaderMap,
) -> &'static str {
    "ok"
}

fn main() {
    let app: Router = Router::new().route("/", get(handler)).with_state(AuthModule::stub());
    drop(app);
}
