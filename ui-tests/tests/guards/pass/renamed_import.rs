// A guard imported under another name is not recognised when stacking: it
// expands on its own and adds a second `Guard`, so both must still hold.
#![deny(warnings)]

use axum::Router;
use axum::routing::get;
use lexigram_auth::{AuthModule, require_auth, require_roles as editors_only};

#[require_auth]
#[editors_only("editor")]
async fn drafts() -> &'static str {
    "drafts"
}

fn main() {
    let app: Router = Router::new().route("/drafts", get(drafts)).with_state(AuthModule::stub());
    drop(app);
}
