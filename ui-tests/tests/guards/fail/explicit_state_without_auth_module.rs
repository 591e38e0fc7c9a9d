use lexigram_auth::require_auth;

#[derive(Clone)]
struct AppState;

#[require_auth(state = AppState)]
async fn handler() -> &'static str {
    "ok"
}

fn main() {
    let _ = (handler, AppState);
}
