//! Every name is in the catalog: defined roles, and permissions granted
//! directly, through inheritance, through a wildcard grant or declared under
//! `auth.permissions`. The catalog tracking constants are lint-clean.
#![deny(warnings, missing_docs)]
#![deny(clippy::pedantic)]
#![forbid(unsafe_code)]

use axum::Router;
use axum::routing::get;
use lexigram_auth::authz::{Expr, Requirement};
use lexigram_auth::{AuthModule, Permission, require_auth, require_permissions, require_roles};

/// Typed permissions, checked against the catalog too.
#[derive(Debug, Clone, Copy, Permission)]
pub enum Perm {
    /// Granted to editors.
    ArticlesWrite,
    /// Granted through `comments.*`.
    CommentsDelete,
}

/// Editors, or anyone who is not a viewer.
#[require_roles("editor", not("viewer"))]
#[require_permissions("articles.read", "comments.moderate", "users.invite", "reports.export")]
async fn handler() -> &'static str {
    "ok"
}

/// A typed permission in a guard.
#[require_permissions(Perm::ArticlesWrite, any(Perm::CommentsDelete, "articles.delete"))]
async fn typed() -> &'static str {
    "ok"
}

/// Authentication alone needs no catalog entry.
#[require_auth]
async fn me() -> &'static str {
    "me"
}

/// Admins, as a requirement type.
#[require_roles("admin")]
struct Admins;

fn main() {
    let app: Router = Router::new()
        .route("/", get(handler))
        .route("/typed", get(typed))
        .route("/me", get(me))
        .with_state(AuthModule::stub());
    drop(app);
    assert_eq!(Admins::EXPR, Expr::Role("admin"));
}
