use axum::Router;
use axum::routing::get;
use lexigram_auth::{AuthModule, Permission, require_permissions};

#[derive(Clone, Copy, Permission)]
enum Perm {
    ArticlesWrite,
}
#[allow(unused_imports)]
use Perm::ArticlesWrite;

#[require_permissions(ArticlesWrite)]
async fn handler() -> &'static str {
    "ok"
}

fn main() {
    let app: Router = Router::new().route("/", get(handler)).with_state(AuthModule::stub());
    drop(app);
}
