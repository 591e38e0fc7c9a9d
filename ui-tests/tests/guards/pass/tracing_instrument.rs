// A guard stacked with `#[tracing::instrument]`, in both orders.
#![deny(warnings)]

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use lexigram_auth::{AuthModule, require_roles};

#[require_roles("editor")]
#[tracing::instrument(skip_all)]
async fn guard_first(Path(id): Path<u64>) -> String {
    tracing::info!(id, "guard first");
    id.to_string()
}

#[tracing::instrument(skip_all, fields(handler = "instrument_first"))]
#[require_roles("editor")]
async fn instrument_first(Path(id): Path<u64>) -> String {
    tracing::info!(id, "instrument first");
    id.to_string()
}

#[require_roles("editor")]
#[tracing::instrument]
async fn records_arguments(Path(id): Path<u64>) -> String {
    id.to_string()
}

fn main() {
    let app: Router = Router::new()
        .route("/a/{id}", get(guard_first))
        .route("/b/{id}", get(instrument_first))
        .route("/c/{id}", get(records_arguments))
        .with_state(AuthModule::stub());
    drop(app);
}
