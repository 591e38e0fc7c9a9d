//! The [`TenantPath`] extractor: routes with the tenant in the path.

use ::axum::extract::{FromRef, FromRequestParts, RawPathParams};
use http::request::Parts;

use super::{AuthRejection, RejectionKind};
use crate::AuthModule;

/// The `{tenant}` path parameter of a route, checked against the tenant the
/// caller acts in (AUTHZ-7).
///
/// Extracting it authenticates the request (401 without valid credentials,
/// as every guard) and answers the guards' generic 403 when the path names
/// another tenant than the principal's, or when the principal acts in no
/// tenant: a principal of tenant `acme`, whatever its roles (`*` included),
/// never reaches a handler under `/t/globex/...`. The body never says which
/// tenant was expected; the detail goes to `tracing`.
///
/// The parameter must be named `tenant` ([`TenantPath::PARAM`]). A route
/// without it is a programming error: every request is refused with 403
/// (fail closed) and an error is logged. Add it to every route of a tenant's
/// resources, together with the usual guards: the principal's roles are
/// those it holds in its tenant (see
/// [`AuthenticationService::authenticate_in`](crate::authn::AuthenticationService::authenticate_in)),
/// so `#[require_roles("editor")]` plus `TenantPath` reads "an editor of
/// the tenant in the path".
///
/// ```
/// use axum::{Router, extract::Path, routing::get};
/// use lexigram_auth::axum::TenantPath;
/// use lexigram_auth::{AuthModule, Principal, require_permissions};
///
/// #[require_permissions("articles.read")]
/// async fn article(
///     TenantPath(tenant): TenantPath,
///     Path((_, id)): Path<(String, u64)>,
/// ) -> String {
///     format!("article {id} of {tenant}")
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use tower::ServiceExt;
/// let auth = AuthModule::stub();
/// let app: Router = Router::new()
///     .route("/t/{tenant}/articles/{id}", get(article))
///     .with_state(auth.clone());
///
/// let acme_admin = auth.token_for(&Principal::new("ann").with_roles(["admin"]).with_tenant("acme"))?;
/// let status = |uri: &str| {
///     let request = http::Request::get(uri)
///         .header("authorization", format!("Bearer {acme_admin}"))
///         .body(axum::body::Body::empty());
///     let app = app.clone();
///     async move { Ok::<_, Box<dyn std::error::Error>>(app.oneshot(request?).await?.status()) }
/// };
/// assert_eq!(status("/t/acme/articles/7").await?, 200);
/// assert_eq!(status("/t/globex/articles/7").await?, 403); // `*` in acme is nothing in globex
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPath(pub String);

impl TenantPath {
    /// The name of the path parameter read: `tenant`.
    pub const PARAM: &'static str = "tenant";

    /// The tenant id from the path (the caller's own tenant).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<S> FromRequestParts<S> for TenantPath
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
        let Ok(params) = RawPathParams::from_request_parts(parts, state).await else {
            tracing::error!(
                "TenantPath on a route without path parameters; the request is refused"
            );
            return Err(module.reject(RejectionKind::Forbidden));
        };
        let Some(tenant) = params
            .iter()
            .find_map(|(name, value)| (name == Self::PARAM).then_some(value))
        else {
            tracing::error!(
                "TenantPath on a route without a `{{tenant}}` path parameter; the request is refused"
            );
            return Err(module.reject(RejectionKind::Forbidden));
        };
        if principal.tenant() != Some(tenant) {
            tracing::info!(
                subject = principal.subject(),
                principal_tenant = principal.tenant(),
                path_tenant = tenant,
                "tenant path refused: the principal acts in another tenant"
            );
            return Err(module.reject(RejectionKind::Forbidden));
        }
        Ok(Self(tenant.to_owned()))
    }
}
