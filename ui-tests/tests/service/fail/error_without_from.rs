use lexigram_auth::{Principal, require_roles};

#[require_roles("editor")]
async fn edit(principal: &Principal) -> Result<(), String> {
    let _ = principal;
    Ok(())
}

fn main() {
    let _ = edit(&Principal::new("a"));
}
