// Generated code uses absolute paths only: shadowing prelude names
// (and `lexigram_auth`-looking names) in the caller's scope changes nothing.
#![deny(warnings)]
#![allow(dead_code, non_camel_case_types)]

use axum::Router;
use axum::routing::get;
use lexigram_auth::{AuthModule, require_auth, require_permissions, require_roles};

type Result = ();
type Option = ();
type Box = ();
struct Some;
struct Ok;
struct Err;
struct Vec;
struct String;
struct Send;
struct Sync;
struct Expr;
struct Guard;
struct Requirement;
struct StateProbe;
mod __private {}
mod core {}
mod std {}

#[require_auth]
#[require_roles("editor", any("admin", not("guest")))]
#[require_permissions("articles.write")]
async fn handler() -> &'static str {
    "ok"
}

#[require_roles("admin", state = AuthModule)]
async fn with_state() -> &'static str {
    "ok"
}

fn main() {
    let app: Router = Router::new()
        .route("/", get(handler))
        .route("/state", get(with_state))
        .with_state(AuthModule::stub());
    drop(app);
}
