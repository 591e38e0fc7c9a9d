use axum::Router;
use axum::routing::get;
use lexigram_auth::{AuthModule, require_permissions, require_roles};

#[require_roles("viewr", not("Admin"))]
#[require_permissions("articles.reed", any("reports.export", "billing.refund"))]
async fn handler() -> &'static str {
    "ok"
}

fn main() {
    let app: Router = Router::new().route("/", get(handler)).with_state(AuthModule::stub());
    drop(app);
}
