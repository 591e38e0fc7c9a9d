use axum::Router;
use axum::extract::State;
use axum::routing::get;
use lexigram_auth::require_roles;

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

#[require_roles("editor")]
async fn handler(State(state): State<AppState>) -> &'static str {
    state.greeting
}

fn routes() -> Router<AppState> {
    Router::new().route("/", get(handler))
}

fn main() {
    let app: Router = routes().with_state(AppState { greeting: "hi" });
    drop(app);
}
