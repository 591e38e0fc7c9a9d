use lexigram_auth::error::AuthorizationFailed;
use lexigram_auth::{AuthModule, Principal, require_auth};

#[require_auth(state = AuthModule)]
async fn edit(principal: &Principal) -> Result<(), AuthorizationFailed> {
    let _ = principal;
    Ok(())
}

fn main() {
    let _ = AuthModule::stub();
    let _ = edit(&Principal::new("a"));
}
