//! Public guarded handlers compile cleanly under the strictest lints a user
//! may set: the generated marker types need no `#[allow]`.
#![deny(warnings, missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(clippy::pedantic, clippy::nursery)]
#![forbid(unsafe_code, non_camel_case_types, dead_code)]

/// Handlers.
pub mod api {
    use axum::extract::{Path, State};
    use lexigram_auth::{AuthModule, require_auth, require_permissions, require_roles};

    /// Any signed-in caller.
    #[require_auth]
    pub async fn me() -> &'static str {
        "me"
    }

    /// Editors or admins.
    #[require_roles("editor", "admin")]
    pub async fn update(State(_auth): State<AuthModule>, Path(id): Path<u64>) -> String {
        id.to_string()
    }

    /// Readers of articles.
    #[require_permissions("articles.read", state = AuthModule)]
    pub(crate) async fn list_all_articles() -> &'static str {
        "articles"
    }

    /// Editors, as a reusable requirement.
    #[require_roles("editor")]
    #[derive(Debug, Clone, Copy)]
    pub struct Editors;
}

fn main() {
    use axum::routing::get;
    use lexigram_auth::AuthModule;
    use lexigram_auth::axum::GuardLayer;

    let auth = AuthModule::stub();
    let app: axum::Router = axum::Router::new()
        .route("/me", get(api::me))
        .route("/articles/{id}", get(api::update))
        .route("/articles", get(api::list_all_articles))
        .route_layer(GuardLayer::<api::Editors>::new(auth.clone()))
        .with_state(auth);
    drop(app);
}
