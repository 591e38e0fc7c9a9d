// A generic handler with a where clause and `-> impl IntoResponse` keeps its
// signature; without a `State<T>` parameter no state check is emitted, and
// `Guard`'s own `FromRef` bound is checked where the handler is routed.
#![deny(warnings)]

use std::fmt::Display;

use axum::Router;
use axum::extract::{FromRef, Path};
use axum::response::IntoResponse;
use axum::routing::get;
use lexigram_auth::{AuthModule, require_permissions};
use serde::de::DeserializeOwned;

#[require_permissions("articles.read")]
async fn show<T, const N: usize>(Path(id): Path<T>) -> impl IntoResponse
where
    T: DeserializeOwned + Display + Send + 'static,
{
    format!("{id} ({N})")
}

#[require_permissions("articles.read")]
async fn with_state<S>(axum::extract::State(_state): axum::extract::State<S>) -> &'static str
where
    S: Clone + Send + Sync + 'static,
    AuthModule: FromRef<S>,
{
    "ok"
}

fn main() {
    let app: Router = Router::new()
        .route("/articles/{id}", get(show::<u64, 3>))
        .route("/state", get(with_state::<AuthModule>))
        .with_state(AuthModule::stub());
    drop(app);
}
