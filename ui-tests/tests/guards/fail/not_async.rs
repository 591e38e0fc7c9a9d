use lexigram_auth::require_auth;

#[require_auth]
fn handler() -> &'static str {
    "ok"
}

fn main() {
    let _ = handler();
}
