//! The [`Guard`] extractor and the [`Principal`] extractor.

use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use ::axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use super::{AuthRejection, RejectionKind};
use crate::abac::{Context, RequestPolicy};
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

/// Checks the request-level policy `P` (`#[require_policy(P)]`) before the
/// handler's other extractors run: authenticates the request (401 without
/// valid credentials), fills a [`Context`] from the request and decides `P`
/// with [`AuthorizationService::decide_request_policy`] (403 unless allowed).
///
/// The context holds `method` (`GET`, ...), `path`, `ip` (when the server
/// records [`ConnectInfo`](::axum::extract::ConnectInfo)), `time` (Unix
/// seconds), `hour` (0-23, UTC) and `weekday` (0 = Monday, UTC); the action
/// is the method in lower case (`get`, `post`, ...).
///
/// [`AuthorizationService::decide_request_policy`]: crate::authz::AuthorizationService::decide_request_policy
pub struct PolicyGuard<P>(PhantomData<fn() -> P>);

impl<P> fmt::Debug for PolicyGuard<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PolicyGuard")
    }
}

impl<S, P> FromRequestParts<S> for PolicyGuard<P>
where
    P: RequestPolicy,
    AuthModule: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let module = AuthModule::from_ref(state);
        let principal = module
            .authenticate_request(&parts.method, &parts.headers, &mut parts.extensions)
            .await?;
        let context = request_context(parts, SystemTime::now());
        let action = parts.method.as_str().to_ascii_lowercase();
        module
            .authz()
            .decide_request_policy(&principal, &action, P::instance(), &context)
            .map_err(|failed| {
                tracing::info!(subject = principal.subject(), reason = %failed.reason, "request policy denied");
                module.reject(RejectionKind::Forbidden)
            })?;
        Ok(Self(PhantomData))
    }
}

/// The request's attributes for request-level policies.
pub(crate) fn request_context(parts: &Parts, now: SystemTime) -> Context {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let mut context = Context::new()
        .with("method", parts.method.as_str())
        .with("path", parts.uri.path())
        .with("time", i64::try_from(secs).unwrap_or(i64::MAX))
        .with("hour", i64::try_from((secs % 86_400) / 3600).unwrap_or(0))
        // 1970-01-01 was a Thursday (3 with Monday = 0).
        .with("weekday", i64::try_from((days + 3) % 7).unwrap_or(0));
    if let Some(info) = parts
        .extensions
        .get::<::axum::extract::ConnectInfo<SocketAddr>>()
    {
        context.insert("ip", info.0.ip().to_string());
    }
    context
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
