// Permissions must all hold at the top level; `any`, `all` and `not` nest.
#![deny(warnings)]

use axum::Router;
use axum::routing::delete;
use lexigram_auth::authz::{Expr, Requirement};
use lexigram_auth::{AuthModule, require_permissions};

#[require_permissions(
    "articles.delete",
    any("articles.moderate", all("articles.own", not("articles.locked"))),
    "billing-v2.export_csv",
    "a.b.c.d.e.f.g.h",
)]
async fn remove() -> &'static str {
    "removed"
}

#[require_permissions("articles.read")]
struct Readers;

#[require_permissions("articles.read", "articles.write")]
struct Writers;

fn main() {
    assert_eq!(Readers::EXPR, Expr::Permission("articles.read"));
    assert_eq!(
        Writers::EXPR,
        Expr::All(&[Expr::Permission("articles.read"), Expr::Permission("articles.write")])
    );
    let app: Router = Router::new().route("/articles/{id}", delete(remove)).with_state(AuthModule::stub());
    drop(app);
}
