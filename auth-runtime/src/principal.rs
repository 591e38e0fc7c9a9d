//! Who is making a request.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::authz::RoleGraph;

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// A bearer token in the `Authorization` header.
    Bearer,
    /// Built in code (tests, background jobs).
    Internal,
    /// An API key (`X-API-Key`, or a bearer credential starting `lxk_`).
    ApiKey,
    /// A session cookie.
    Session,
}

impl AuthMethod {
    /// The method's stable name: `bearer`, `internal`, `api_key`, `session`
    /// (the `principal.auth_method` attribute of ABAC policies).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Internal => "internal",
            Self::ApiKey => "api_key",
            Self::Session => "session",
        }
    }
}

/// An authenticated subject with its roles and direct permissions.
///
/// ```
/// use lexigram_auth::Principal;
///
/// let alice = Principal::new("alice").with_roles(["editor"]).with_permissions(["reports.read"]);
/// assert_eq!(alice.subject(), "alice");
/// assert!(alice.roles().iter().any(|r| r == "editor"));
/// ```
///
/// A principal taken from a request by the [`Principal`] extractor is *bound*
/// to the role definitions in force (see [`AuthorizationService::bind`]), so
/// that a guard on a service-layer function taking `&Principal` resolves
/// inherited roles exactly as the handler's guard did. Equality ignores the
/// binding.
///
/// [`AuthorizationService::bind`]: crate::authz::AuthorizationService::bind
#[derive(Clone)]
pub struct Principal {
    subject: String,
    roles: Vec<String>,
    permissions: Vec<String>,
    tenant: Option<String>,
    auth_method: AuthMethod,
    auth_time: Option<SystemTime>,
    session_id: Option<String>,
    amr: Vec<String>,
    graph: Option<Arc<RoleGraph>>,
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.subject)
            .field("roles", &self.roles)
            .field("permissions", &self.permissions)
            .field("tenant", &self.tenant)
            .field("auth_method", &self.auth_method)
            .field("auth_time", &self.auth_time)
            .field("session_id", &self.session_id)
            .field("amr", &self.amr)
            .field("bound", &self.graph.is_some())
            .finish()
    }
}

impl PartialEq for Principal {
    fn eq(&self, other: &Self) -> bool {
        self.subject == other.subject
            && self.roles == other.roles
            && self.permissions == other.permissions
            && self.tenant == other.tenant
            && self.auth_method == other.auth_method
            && self.auth_time == other.auth_time
            && self.session_id == other.session_id
            && self.amr == other.amr
    }
}

impl Eq for Principal {}

impl Principal {
    /// A principal with no roles, authenticated [`AuthMethod::Internal`]ly.
    #[must_use]
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            roles: Vec::new(),
            permissions: Vec::new(),
            tenant: None,
            auth_method: AuthMethod::Internal,
            auth_time: None,
            session_id: None,
            amr: Vec::new(),
            graph: None,
        }
    }

    /// Adds roles.
    #[must_use]
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Adds direct permission grants (wildcards allowed), held in addition to
    /// those of the roles.
    #[must_use]
    pub fn with_permissions<I, S>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.permissions
            .extend(permissions.into_iter().map(Into::into));
        self
    }

    /// Sets the tenant the principal acts in.
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Records how and when the principal authenticated.
    #[must_use]
    pub fn with_authentication(mut self, method: AuthMethod, at: Option<SystemTime>) -> Self {
        self.auth_method = method;
        self.auth_time = at;
        self
    }

    /// Records how the user proved who they are: the `amr` values of RFC 8176
    /// (`pwd`, `otp`, `mfa`, `hwk`, ...), carried into access tokens.
    #[must_use]
    pub fn with_amr<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.amr.extend(methods.into_iter().map(Into::into));
        self
    }

    /// Records the session the principal belongs to.
    #[must_use]
    pub fn with_session_id(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// The authentication methods (`amr`, RFC 8176); empty when unknown.
    #[must_use]
    pub fn amr(&self) -> &[String] {
        &self.amr
    }

    /// The subject (user id).
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The roles assigned directly (inherited ones are resolved by the role graph).
    #[must_use]
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// The direct permission grants.
    #[must_use]
    pub fn permissions(&self) -> &[String] {
        &self.permissions
    }

    /// The tenant, if any.
    #[must_use]
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// How the principal authenticated.
    #[must_use]
    pub fn auth_method(&self) -> AuthMethod {
        self.auth_method
    }

    /// When the principal authenticated, if known.
    #[must_use]
    pub fn auth_time(&self) -> Option<SystemTime> {
        self.auth_time
    }

    /// The session id, if the principal came from a session.
    #[must_use]
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// Whether the principal is bound to role definitions (see the type's docs).
    #[must_use]
    pub fn is_bound(&self) -> bool {
        self.graph.is_some()
    }

    /// Binds the principal to a compiled role graph.
    pub(crate) fn with_graph(mut self, graph: Arc<RoleGraph>) -> Self {
        self.graph = Some(graph);
        self
    }

    /// The role graph the principal is bound to, if any.
    pub(crate) fn graph(&self) -> Option<&Arc<RoleGraph>> {
        self.graph.as_ref()
    }
}
