// Several guard attributes on one function: all must hold. They are combined
// into one `Guard` parameter, whichever path spells them; other attributes
// stay where they are.
#![deny(warnings)]

use axum::Router;
use axum::routing::get;
use lexigram_auth::{AuthModule, require_auth, require_permissions, require_roles};

/// Documentation stays on the handler.
#[require_auth]
#[doc(alias = "drafts")]
#[require_roles("editor", "admin")]
#[allow(clippy::unused_async)]
#[lexigram_auth::require_permissions("articles.read")]
#[::lexigram_auth::require_permissions("articles.write")]
async fn drafts() -> &'static str {
    "drafts"
}

#[require_permissions("articles.read")]
#[require_roles("viewer")]
async fn reversed() -> &'static str {
    "reversed"
}

fn main() {
    let app: Router = Router::new()
        .route("/drafts", get(drafts))
        .route("/reversed", get(reversed))
        .with_state(AuthModule::stub());
    drop(app);
}
