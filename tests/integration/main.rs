//! One integration test binary; its modules mirror the runtime's.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod abac_routes;
mod account_flows;
mod api_keys;
mod auth_routes;
mod authn_service;
mod authz;
mod axum_guard;
mod config;
mod configure;
mod delegation_store;
mod differential;
mod interop;
mod lockout;
mod password;
mod policy_store;
mod ratelimit;
mod remote_jwks;
mod revocation;
mod session_store;
mod sessions;
mod step_up;
mod support;
mod tenant;
mod tenant_role_store;
mod token;
mod token_lifecycle;
mod token_vectors;
mod user_store;
