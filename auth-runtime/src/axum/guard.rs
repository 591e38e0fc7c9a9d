//! The [`Guard`] extractor and the [`Principal`] extractor.

use std::fmt;
use std::marker::PhantomData;

use ::axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use super::AuthRejection;
use crate::authz::Requirement;
use crate::{AuthModule, Principal};

/// Checks the requirement `R` before the handler's other extractors run.
///
/// The guard macros add `_: Guard<Marker>` as the first parameter of a guarded
/// handler, so an unauthorised caller is answered 401 or 403 before the body is
/// read (never 422). It authenticates the request once (the principal is cached
/// in the request extensions for later extractors) and evaluates `R::EXPR`.
///
/// The router state must provide the [`AuthModule`] through `FromRef`.
pub struct Guard<R>(PhantomData<fn() -> R>);

impl<R> fmt::Debug for Guard<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Guard")
    }
}

impl<S, R> FromRequestParts<S> for Guard<R>
where
    R: Requirement,
    AuthModule: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let module = AuthModule::from_ref(state);
        module
            .check_request(
                &parts.method,
                &parts.headers,
                &mut parts.extensions,
                &R::EXPR,
            )
            .await?;
        Ok(Self(PhantomData))
    }
}

/// Extracting a [`Principal`] authenticates the request (401 without valid
/// credentials) and reuses the principal a guard already found.
impl<S> FromRequestParts<S> for Principal
where
    AuthModule: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let module = AuthModule::from_ref(state);
        let principal = module
            .authenticate_request(&parts.method, &parts.headers, &mut parts.extensions)
            .await?;
        Ok(module.authz().bind((*principal).clone()))
    }
}

/// A function whose first parameter is a [`Guard`]: a guarded handler. `M`
/// only tells the implementations for each number of parameters apart.
pub trait GuardedHandler<M> {
    /// The requirement of the handler's guard.
    const EXPR: crate::authz::Expr;
}

macro_rules! guarded_handler {
    ($($t:ident),*) => {
        impl<F, Fut, R, $($t,)*> GuardedHandler<(R, $($t,)*)> for F
        where
            F: FnOnce(Guard<R>, $($t,)*) -> Fut,
            R: Requirement,
        {
            const EXPR: crate::authz::Expr = R::EXPR;
        }
    };
}

guarded_handler!();
guarded_handler!(T1);
guarded_handler!(T1, T2);
guarded_handler!(T1, T2, T3);
guarded_handler!(T1, T2, T3, T4);
guarded_handler!(T1, T2, T3, T4, T5);
guarded_handler!(T1, T2, T3, T4, T5, T6);
guarded_handler!(T1, T2, T3, T4, T5, T6, T7);
guarded_handler!(T1, T2, T3, T4, T5, T6, T7, T8);
guarded_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9);
guarded_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10);
guarded_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11);
guarded_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12);
guarded_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13);
guarded_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14);
guarded_handler!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15
);

/// The requirement of a guarded handler, named after the function, for
/// [`AuthModule::unsatisfiable_guards`].
///
/// ```
/// use lexigram_auth::{AuthModule, axum::guarded, require_roles};
///
/// #[require_roles("editor", "admin")]
/// async fn publish() {}
///
/// let named = guarded(publish);
/// assert!(named.name.ends_with("publish"));
/// assert!(AuthModule::stub().unsatisfiable_guards(&[named]).is_empty());
/// ```
#[must_use]
pub fn guarded<F: GuardedHandler<M>, M>(_handler: F) -> crate::authz::NamedRequirement {
    crate::authz::NamedRequirement {
        name: std::any::type_name::<F>(),
        expr: F::EXPR,
    }
}
