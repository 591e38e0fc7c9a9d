//! Support for the code the guard macros generate. Not part of the public API:
//! anything here may change in any release.

pub use crate::authz::{Expr, Requirement, TypedPermission};
pub use crate::axum::Guard;
pub use crate::axum::state::{AuthWired, StateProbe, Wired, WithoutAuthModule};

/// The two traits of the state probe, imported together by a glob in the
/// generated check (only one of them is used for any given state).
pub mod probe {
    pub use crate::axum::state::{ViaFallback, ViaFromRef};
}

/// Asserts at compile time that a router state provides the `AuthModule`.
///
/// The guard macros call it as `assert_wired((&&StateProbe::<S>::new()).probe())`:
/// the probe resolves to [`probe::ViaFromRef`] when `AuthModule: FromRef<S>` holds, and
/// otherwise to [`WithoutAuthModule`], whose `AuthWired` diagnostic names the fix.
pub fn assert_wired<W: AuthWired>(_: W) {}
pub use crate::authz::check_principal;

// `#[derive(Policy)]` and `#[require_policy(..)]`.
pub use crate::abac::derive::{AbacPattern, abac_float, abac_float_order, abac_integer};
pub use crate::abac::{
    AttrType, AttrValue, AttributeDef, Attributes, Effect, Policy, RequestPolicy, Rule, Schema,
};
pub use crate::axum::PolicyGuard;
