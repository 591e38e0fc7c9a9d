//! Rejections: 401 and 403 as types with generic RFC 9457 problem bodies.
//!
//! Bodies never say which check failed nor what the caller holds; the detail
//! goes to `tracing`. An application replaces the body for every rejection in
//! one place with [`AuthModuleBuilder::rejection_renderer`](crate::AuthModuleBuilder::rejection_renderer);
//! the status code and the `WWW-Authenticate` header are kept whatever the
//! renderer returns.

use std::fmt;
use std::sync::Arc;

use ::axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};

/// What went wrong, as far as the client may know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No credentials were sent: 401.
    MissingCredentials,
    /// Credentials were sent but are not valid (malformed, wrongly signed,
    /// expired): 401 with `error="invalid_token"`.
    InvalidCredentials,
    /// Authenticated, but not recently enough for this route
    /// (`#[require_auth(fresh = "..")]`): 401 with
    /// `error="insufficient_user_authentication"` and `max_age` (RFC 9470).
    /// Logging in again and retrying succeeds.
    StaleAuthentication,
    /// Authenticated, but without a second factor
    /// (`#[require_auth(mfa)]`): 401 with
    /// `error="insufficient_user_authentication"` (RFC 9470).
    MfaRequired,
    /// Authenticated, but not allowed: 403.
    Forbidden,
    /// A store the check depends on (revocation, sessions) failed: 503. The
    /// request is refused, never allowed.
    Unavailable,
}

impl RejectionKind {
    /// The HTTP status.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::MissingCredentials
            | Self::InvalidCredentials
            | Self::StaleAuthentication
            | Self::MfaRequired => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable `code` member of the problem body.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::MissingCredentials | Self::InvalidCredentials => "unauthenticated",
            Self::StaleAuthentication | Self::MfaRequired => "insufficient_authentication",
            Self::Forbidden => "forbidden",
            Self::Unavailable => "auth_unavailable",
        }
    }

    const fn www_authenticate(self) -> Option<&'static str> {
        match self {
            Self::MissingCredentials => Some("Bearer realm=\"lexigram\""),
            Self::InvalidCredentials => Some("Bearer realm=\"lexigram\", error=\"invalid_token\""),
            Self::StaleAuthentication => Some(
                "Bearer realm=\"lexigram\", error=\"insufficient_user_authentication\", \
                 error_description=\"a more recent authentication is required\"",
            ),
            Self::MfaRequired => Some(
                "Bearer realm=\"lexigram\", error=\"insufficient_user_authentication\", \
                 error_description=\"multi-factor authentication is required\"",
            ),
            Self::Forbidden | Self::Unavailable => None,
        }
    }
}

/// Renders the body of every rejection, replacing the default problem body.
///
/// ```
/// use axum::response::{IntoResponse, Response};
/// use lexigram_auth::axum::{RejectionKind, RejectionRenderer};
///
/// struct Plain;
/// impl RejectionRenderer for Plain {
///     fn render(&self, kind: RejectionKind) -> Response {
///         kind.code().into_response()
///     }
/// }
/// let module = lexigram_auth::AuthModule::builder()
///     .tokens(lexigram_auth::token::JwtTokenManager::new("k", [("k", [7u8; 32])])?)
///     .rejection_renderer(Plain)
///     .build()?;
/// # let _ = module;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait RejectionRenderer: Send + Sync + 'static {
    /// The response for `kind`; its status is then set to `kind.status()` and
    /// `WWW-Authenticate` added for 401s.
    fn render(&self, kind: RejectionKind) -> Response;
}

/// The default problem body for a rejection.
#[must_use]
pub fn problem_body(kind: RejectionKind) -> String {
    let (title, detail) = match kind {
        RejectionKind::MissingCredentials | RejectionKind::InvalidCredentials => (
            "Unauthorized",
            "valid credentials are required to access this resource",
        ),
        RejectionKind::StaleAuthentication => (
            "Unauthorized",
            "a more recent authentication is required; log in again",
        ),
        RejectionKind::MfaRequired => ("Unauthorized", "multi-factor authentication is required"),
        RejectionKind::Forbidden => ("Forbidden", "you are not allowed to access this resource"),
        RejectionKind::Unavailable => (
            "Service Unavailable",
            "authentication is temporarily unavailable",
        ),
    };
    serde_json::json!({
        "type": "about:blank",
        "title": title,
        "status": kind.status().as_u16(),
        "code": kind.code(),
        "detail": detail,
    })
    .to_string()
}

/// The rejection of a guard: turns into the 401 or 403 response.
#[derive(Clone)]
pub struct AuthRejection {
    kind: RejectionKind,
    renderer: Option<Arc<dyn RejectionRenderer>>,
    max_age: Option<u64>,
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRejection")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl AuthRejection {
    pub(crate) fn new(kind: RejectionKind, renderer: Option<Arc<dyn RejectionRenderer>>) -> Self {
        Self {
            kind,
            renderer,
            max_age: None,
        }
    }

    /// Adds the `max_age` (seconds) of a step-up challenge.
    pub(crate) fn with_max_age(mut self, max_age: Option<u64>) -> Self {
        self.max_age = max_age;
        self
    }

    /// For a [`RejectionKind::StaleAuthentication`] rejection: the maximum
    /// age, in seconds, of an authentication the route accepts.
    #[must_use]
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }
}

/// A denied [`AuthorizationService::check`](crate::authz::AuthorizationService::check)
/// (or [`authorize`](crate::authz::AuthorizationService::authorize)) as the
/// guards' rejection, so that `?` works in handlers returning
/// `Result<_, AuthRejection>`: a 403, or a 503 when a store the check
/// needed failed ([`DenyReason::Unavailable`](crate::authz::DenyReason::Unavailable)).
///
/// The body is the default problem body; with a
/// [custom renderer](crate::AuthModuleBuilder::rejection_renderer), use
/// [`AuthModule::check`](crate::AuthModule::check), which renders it.
impl From<crate::error::AuthorizationFailed> for AuthRejection {
    fn from(failed: crate::error::AuthorizationFailed) -> Self {
        tracing::info!(reason = %failed.reason, "authorization denied");
        let kind = match failed.reason {
            crate::authz::DenyReason::Unavailable => RejectionKind::Unavailable,
            _ => RejectionKind::Forbidden,
        };
        Self::new(kind, None)
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let mut response = match &self.renderer {
            Some(renderer) => renderer.render(self.kind),
            None => {
                let mut r = problem_body(self.kind).into_response();
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/problem+json"),
                );
                r
            }
        };
        *response.status_mut() = self.kind.status();
        if let Some(value) = self.kind.www_authenticate() {
            let value = match self.max_age {
                Some(age) if self.kind == RejectionKind::StaleAuthentication => {
                    HeaderValue::from_str(&format!("{value}, max_age={age}"))
                        .unwrap_or_else(|_| HeaderValue::from_static(value))
                }
                _ => HeaderValue::from_static(value),
            };
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}
