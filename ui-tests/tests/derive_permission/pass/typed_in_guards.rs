//! Typed permissions in guards, without a catalog: nested, stacked, on a
//! requirement struct, and next to literals; the constants are the names.
#![deny(warnings, missing_docs)]
#![deny(clippy::pedantic)]

use axum::Router;
use axum::routing::get;
use lexigram_auth::authz::{Expr, Requirement, TypedPermission};
use lexigram_auth::{AuthModule, Permission, require_permissions, require_roles};

/// Permissions of the articles API.
pub mod perm {
    use lexigram_auth::Permission;

    /// Permissions of the articles API.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Permission)]
    pub enum Articles {
        /// `articles.read`
        ArticlesRead,
        /// `articles.write`
        ArticlesWrite,
        /// Named explicitly.
        #[permission("billing-v2.export_csv")]
        Export,
    }
}

/// Not `Copy`, and with a `repr`: still fine.
#[derive(Debug, Permission)]
#[repr(u8)]
enum Local {
    /// `reports.read`
    ReportsRead,
}

/// Writers who can also read or export.
#[require_roles("editor")]
#[require_permissions(perm::Articles::ArticlesWrite, any(perm::Articles::ArticlesRead, crate::perm::Articles::Export))]
async fn handler() -> &'static str {
    "ok"
}

/// A requirement type built from typed permissions.
#[require_permissions(Local::ReportsRead, not("reports.secret"))]
struct Reporters;

fn main() {
    let app: Router = Router::new().route("/", get(handler)).with_state(AuthModule::stub());
    drop(app);
    assert_eq!(
        Reporters::EXPR,
        Expr::All(&[Expr::Permission("reports.read"), Expr::Not(&Expr::Permission("reports.secret"))])
    );
    assert_eq!(perm::Articles::Export.name(), "billing-v2.export_csv");
    assert_eq!(
        <perm::Articles as TypedPermission>::NAMES,
        ["articles.read", "articles.write", "billing-v2.export_csv"]
    );
    assert_eq!(Local::ReportsRead.name(), "reports.read");
}
