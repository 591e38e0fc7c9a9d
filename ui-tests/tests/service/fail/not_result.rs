use lexigram_auth::{Principal, require_roles};

#[require_roles("editor")]
async fn edit(principal: &Principal) -> u32 {
    principal.roles().len() as u32
}

fn main() {
    let _ = edit(&Principal::new("a"));
}
