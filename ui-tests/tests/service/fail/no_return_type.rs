use lexigram_auth::{Principal, require_roles};

#[require_roles("editor")]
async fn edit(principal: &Principal) {
    let _ = principal;
}

fn main() {
    let _ = edit(&Principal::new("a"));
}
