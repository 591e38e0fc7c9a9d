//! Router-level guards: the same requirements as the attribute macros, as a
//! tower layer for `Router::route_layer`.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::axum::response::{IntoResponse, Response};
use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use crate::AuthModule;
use crate::authz::Requirement;

/// Applies the requirement `R` to every route of a router.
///
/// `R` is any [`Requirement`]; the guard macros implement it on a unit struct,
/// so router-level and handler-level guards share one validated definition:
///
/// ```
/// use axum::{Router, routing::get};
/// use lexigram_auth::{AuthModule, axum::GuardLayer, require_roles};
///
/// /// Editors or admins.
/// #[require_roles("editor", "admin")]
/// struct Editors;
///
/// let auth = AuthModule::stub();
/// let app: Router = Router::new()
///     .route("/drafts", get(|| async { "drafts" }))
///     .route_layer(GuardLayer::<Editors>::new(auth.clone()));
/// # let _ = app;
/// ```
pub struct GuardLayer<R> {
    module: AuthModule,
    requirement: PhantomData<fn() -> R>,
}

impl<R> GuardLayer<R> {
    /// A layer checking `R` with `module`.
    #[must_use]
    pub fn new(module: AuthModule) -> Self {
        Self {
            module,
            requirement: PhantomData,
        }
    }
}

impl<R> Clone for GuardLayer<R> {
    fn clone(&self) -> Self {
        Self::new(self.module.clone())
    }
}

impl<R> fmt::Debug for GuardLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardLayer").finish_non_exhaustive()
    }
}

impl<S, R> Layer<S> for GuardLayer<R> {
    type Service = GuardService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            module: self.module.clone(),
            requirement: PhantomData,
        }
    }
}

/// The service made by [`GuardLayer`].
pub struct GuardService<S, R> {
    inner: S,
    module: AuthModule,
    requirement: PhantomData<fn() -> R>,
}

impl<S: Clone, R> Clone for GuardService<S, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            module: self.module.clone(),
            requirement: PhantomData,
        }
    }
}

impl<S, R> fmt::Debug for GuardService<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardService").finish_non_exhaustive()
    }
}

/// The response future of [`GuardService`].
pub type GuardFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S, R, B> Service<Request<B>> for GuardService<S, R>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Requirement,
{
    type Response = Response;
    type Error = S::Error;
    type Future = GuardFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service that was polled ready serves this request; a clone stays
        // behind for the next one (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let module = self.module.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match module
                .check_request(
                    &parts.method,
                    &parts.headers,
                    &mut parts.extensions,
                    &R::EXPR,
                )
                .await
            {
                Ok(_) => inner.call(Request::from_parts(parts, body)).await,
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}
