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
        Ok((*principal).clone())
    }
}
