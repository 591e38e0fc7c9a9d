// Several guard attributes on one function: all must hold. They are combined
// into one `Guard` parameter, whichever path spells them; other attributes
// stay where they are.
#![deny(warnings)]

use axum::Router;
use axum::routing::get;
use lexigram_auth::authz::{Expr, Requirement};
use lexigram_auth::{AuthModule, require_auth, require_permissions, require_roles};

/// Documentation stays on the handler.
#[require_auth]
#[doc(alias = "unpublished")]
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

/// Stacking works on requirement structs too.
#[require_roles("editor", "admin")]
#[derive(Debug)]
#[require_permissions("articles.write")]
struct Writers;

fn main() {
    assert_eq!(
        Writers::EXPR,
        Expr::All(&[
            Expr::Any(&[Expr::Role("editor"), Expr::Role("admin")]),
            Expr::Permission("articles.write"),
        ])
    );
    assert_eq!(format!("{Writers:?}"), "Writers");
    let app: Router = Router::new()
        .route("/drafts", get(drafts))
        .route("/reversed", get(reversed))
        .route_layer(lexigram_auth::axum::GuardLayer::<Writers>::new(AuthModule::stub()))
        .with_state(AuthModule::stub());
    drop(app);
}
