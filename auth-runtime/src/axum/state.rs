//! The compile-time check that a router state provides the [`AuthModule`].
//!
//! A guard obtains the module from router state through `FromRef`. When the
//! state lacks it, axum reports only that the handler does not implement
//! `Handler`. The guard macros therefore emit a check against the state type
//! named by a `State<T>` parameter (or `state = T`), which fails with the
//! [`AuthWired`] message instead. The check uses autoref specialisation: the
//! probe resolves to [`Wired`] when `AuthModule: FromRef<T>` holds, and to
//! [`WithoutAuthModule<T>`] otherwise.

use std::fmt;
use std::marker::PhantomData;

use ::axum::extract::FromRef;

use crate::AuthModule;

/// Probe for one state type.
pub struct StateProbe<S>(PhantomData<fn() -> S>);

impl<S> StateProbe<S> {
    /// A probe.
    #[must_use]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<S> Default for StateProbe<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> fmt::Debug for StateProbe<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateProbe")
    }
}

/// The probe's answer when the state provides the module.
#[derive(Debug, Clone, Copy)]
pub struct Wired;

/// The probe's answer when the state does not provide the module.
pub struct WithoutAuthModule<S>(PhantomData<fn() -> S>);

impl<S> fmt::Debug for WithoutAuthModule<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WithoutAuthModule")
    }
}

/// Chosen first (on `&&StateProbe<S>`) when `AuthModule: FromRef<S>`.
pub trait ViaFromRef {
    /// The answer.
    fn probe(&self) -> Wired {
        Wired
    }
}

impl<S> ViaFromRef for &StateProbe<S> where AuthModule: FromRef<S> {}

/// Chosen otherwise, after one auto-deref.
pub trait ViaFallback<S> {
    /// The answer.
    fn probe(&self) -> WithoutAuthModule<S> {
        WithoutAuthModule(PhantomData)
    }
}

impl<S> ViaFallback<S> for StateProbe<S> {}

/// Implemented only by [`Wired`]: a failing bound here means the router state
/// has no [`AuthModule`].
#[diagnostic::on_unimplemented(
    message = "the router state does not provide lexigram-auth's `AuthModule`",
    label = "this state has no `AuthModule`, so guarded handlers cannot authenticate",
    note = "add an `AuthModule` to the state and implement `axum::extract::FromRef<YourState> for lexigram_auth::AuthModule` (or derive it with `#[derive(FromRef)]` from axum's `macros` feature), or use the `AuthModule` itself as the state"
)]
pub trait AuthWired {}

impl AuthWired for Wired {}
