// `Path`, `State` and `Json` together, with an application state that
// provides the `AuthModule` through a hand-written `FromRef`.
#![deny(warnings)]

use axum::extract::{FromRef, Path, State};
use axum::response::IntoResponse;
use axum::routing::put;
use axum::{Json, Router};
use lexigram_auth::{AuthModule, require_roles};
use serde::Deserialize;

#[derive(Clone)]
struct AppState {
    auth: AuthModule,
    greeting: &'static str,
}

impl FromRef<AppState> for AuthModule {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

#[derive(Deserialize)]
struct Article {
    title: String,
}

#[require_roles("editor", "admin")]
async fn update(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    Json(article): Json<Article>,
) -> impl IntoResponse {
    format!("{} {id}: {}", state.greeting, article.title)
}

fn main() {
    let state = AppState { auth: AuthModule::stub(), greeting: "updated" };
    let app: Router = Router::new().route("/articles/{id}", put(update)).with_state(state);
    drop(app);
}
