use lexigram_auth::error::AuthorizationFailed;
use lexigram_auth::{Principal, require_roles};

#[require_roles("editor")]
async fn edit(_: &Principal) -> Result<(), AuthorizationFailed> {
    Ok(())
}

fn main() {
    let _ = edit(&Principal::new("a"));
}
