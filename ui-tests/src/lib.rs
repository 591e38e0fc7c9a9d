//! The guard macros' output is clean under the strictest lints a library may
//! set: this crate compiles public guarded handlers and a requirement struct
//! with every rustc and clippy lint below denied, and CI runs clippy on it with
//! `-D warnings`. The generated code needs no `#[allow]` (a user's `forbid`
//! would reject one). The trybuild cases live in `tests/`.
#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    missing_copy_implementations,
    unreachable_pub,
    unnameable_types,
    unused_qualifications,
    unused_results,
    unused_lifetimes,
    single_use_lifetimes,
    trivial_casts,
    rust_2018_idioms,
    let_underscore_drop,
    non_ascii_idents
)]
#![deny(clippy::pedantic, clippy::nursery)]
#![forbid(unsafe_code, non_camel_case_types, dead_code)]

/// Guarded handlers.
pub mod handlers {
    use axum::Json;
    use axum::extract::{Path, State};
    use lexigram_auth::{AuthModule, Principal, require_auth, require_permissions, require_roles};

    use crate::permissions::Perm;

    /// Any signed-in caller.
    #[require_auth]
    pub async fn me(principal: Principal) -> String {
        std::future::ready(()).await;
        principal.subject().to_owned()
    }

    /// Editors or admins who may write articles, unless locked.
    #[require_roles("editor", "admin")]
    #[require_permissions("articles.write", any("articles.own", not("articles.locked")))]
    pub async fn update(
        State(_auth): State<AuthModule>,
        Path(id): Path<u64>,
        Json(body): Json<String>,
    ) -> String {
        std::future::ready(()).await;
        format!("{id}: {body}")
    }

    /// Article readers; the state is named explicitly.
    #[require_permissions("articles.read", state = AuthModule)]
    pub async fn list_articles() -> &'static str {
        std::future::ready(()).await;
        "articles"
    }

    /// Typed permissions in a guard.
    #[require_permissions(Perm::ArticlesWrite, not(Perm::ArticlesLocked))]
    pub async fn typed(Path(id): Path<u64>) -> String {
        std::future::ready(()).await;
        id.to_string()
    }

    /// Editors, as a requirement reusable by `GuardLayer`.
    #[require_roles("editor")]
    #[derive(Debug, Clone, Copy)]
    pub struct Editors;
}

/// Typed permissions.
pub mod permissions {
    use lexigram_auth::Permission;

    /// The articles API's permissions.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Permission)]
    pub enum Perm {
        /// `articles.write`
        ArticlesWrite,
        /// `articles.locked`
        ArticlesLocked,
        /// Named explicitly.
        #[permission("billing.export_csv")]
        ExportInvoices,
    }
}

/// The handlers, routed (so that their `Handler` impls are checked too).
pub fn router(auth: AuthModule) -> axum::Router {
    use axum::routing::{get, put};
    use lexigram_auth::axum::GuardLayer;

    axum::Router::new()
        .route("/me", get(handlers::me))
        .route("/articles/{id}", put(handlers::update))
        .route("/articles", get(handlers::list_articles))
        .route("/typed/{id}", put(handlers::typed))
        .route_layer(GuardLayer::<handlers::Editors>::new(auth.clone()))
        .with_state(auth)
}

use lexigram_auth::AuthModule;
