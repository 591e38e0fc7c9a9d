use lexigram_auth::require_roles;

struct Api;

impl Api {
    #[require_roles("editor")]
    async fn update(&self) -> &'static str {
        "ok"
    }
}

fn main() {
    drop(Api.update());
}
