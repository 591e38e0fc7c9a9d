//! One integration test binary; its modules mirror the runtime's.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod authz;
mod axum_guard;
mod interop;
mod password;
mod remote_jwks;
mod revocation;
mod support;
mod token;
mod token_lifecycle;
mod token_vectors;
