//! [`AuthModule`]: everything a guarded application needs, in one cloneable value.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::{Extensions, HeaderMap, Method};

use crate::Principal;
use crate::abac::{Context, Policy};
use crate::apikey::{API_KEY_HEADER, ApiKeyError, ApiKeys, KeySources, looks_like_api_key};
use crate::authz::{
    AuthorizationService, Decision, DenyReason, Expr, NamedRequirement, RoleDefinition, RoleGraph,
    StepUp,
};
use crate::axum::{AuthRejection, RejectionKind, RejectionRenderer};
use crate::error::{ConfigError, TokenError};
use crate::session::{SessionAuth, SessionRejection};
use crate::token::{JwtTokenManager, random_secret};
use crate::wiring::Wired;

/// The principal of a request, cached in its extensions by the first guard or
/// extractor that authenticated it.
#[derive(Debug, Clone)]
struct Authenticated(Arc<Principal>);

struct Inner {
    tokens: Arc<JwtTokenManager>,
    authz: AuthorizationService,
    renderer: Option<Arc<dyn RejectionRenderer>>,
    api_keys: Option<ApiKeys>,
    sessions: Option<SessionAuth>,
    wired: Option<Wired>,
}

/// The token manager, the authorization service and the HTTP behaviour of the
/// guards, shared by every request (cloning is cheap).
///
/// Put it in the router state; guards find it through
/// [`FromRef`](axum::extract::FromRef).
///
/// ```
/// use axum::{Router, routing::get};
/// use lexigram_auth::{AuthModule, require_auth};
///
/// #[require_auth]
/// async fn me() -> &'static str {
///     "hello"
/// }
///
/// let app: Router = Router::new().route("/me", get(me)).with_state(AuthModule::stub());
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct AuthModule {
    inner: Arc<Inner>,
}

impl fmt::Debug for AuthModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthModule")
            .field("tokens", &self.inner.tokens)
            .field("authz", &self.inner.authz)
            .field("custom_rejections", &self.inner.renderer.is_some())
            .finish()
    }
}

/// The role definitions of the seed guide, used by [`AuthModule::stub`]:
/// `admin` granted `*`, `editor` inheriting `viewer` and granted
/// `articles.write`, `viewer` granted `articles.read`.
#[must_use]
pub fn seed_roles() -> BTreeMap<String, RoleDefinition> {
    BTreeMap::from([
        ("admin".to_owned(), RoleDefinition::new(["*"])),
        (
            "editor".to_owned(),
            RoleDefinition::new(["articles.write"]).inherits(["viewer"]),
        ),
        ("viewer".to_owned(), RoleDefinition::new(["articles.read"])),
    ])
}

impl AuthModule {
    /// A builder.
    #[must_use]
    pub fn builder() -> AuthModuleBuilder {
        AuthModuleBuilder::default()
    }

    /// A module for tests and examples: a fresh random HS256 key and the
    /// [`seed_roles`]. Mint a bearer token for any principal with
    /// [`AuthModule::token_for`].
    ///
    /// ```
    /// use lexigram_auth::{AuthModule, Principal};
    ///
    /// let auth = AuthModule::stub();
    /// let token = auth.token_for(&Principal::new("alice").with_roles(["editor"]))?;
    /// assert_eq!(auth.tokens().verify_access(&token)?.user_id, "alice");
    /// # Ok::<(), lexigram_auth::error::TokenError>(())
    /// ```
    #[must_use]
    pub fn stub() -> Self {
        let secret = random_secret().unwrap_or_else(fallback_secret);
        // A 32-byte key is never refused; fail closed all the same.
        let tokens = JwtTokenManager::new("stub", [("stub", secret)])
            .unwrap_or_else(|_| JwtTokenManager::disabled());
        let authz = RoleGraph::compile(&seed_roles()).map_or_else(
            |_| AuthorizationService::new(),
            AuthorizationService::with_graph,
        );
        Self::from_parts(Arc::new(tokens), authz, None, None, None, None)
    }

    fn from_parts(
        tokens: Arc<JwtTokenManager>,
        authz: AuthorizationService,
        renderer: Option<Arc<dyn RejectionRenderer>>,
        api_keys: Option<ApiKeys>,
        sessions: Option<SessionAuth>,
        wired: Option<Wired>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                tokens,
                authz,
                renderer,
                api_keys,
                sessions,
                wired,
            }),
        }
    }

    pub(crate) fn wired(&self) -> Option<&Wired> {
        self.inner.wired.as_ref()
    }

    /// The sessions, when the module accepts session cookies.
    #[must_use]
    pub fn sessions(&self) -> Option<&SessionAuth> {
        self.inner.sessions.as_ref()
    }

    /// The API keys, when the module accepts them.
    #[must_use]
    pub fn api_keys(&self) -> Option<&ApiKeys> {
        self.inner.api_keys.as_ref()
    }

    /// The token manager.
    #[must_use]
    pub fn tokens(&self) -> &JwtTokenManager {
        &self.inner.tokens
    }

    /// The authorization service (change roles at run time with
    /// [`AuthorizationService::set_roles`]).
    #[must_use]
    pub fn authz(&self) -> &AuthorizationService {
        &self.inner.authz
    }

    /// A bearer token for `principal`, carrying its roles and permissions.
    ///
    /// # Errors
    /// [`TokenError::Signing`] if signing fails.
    pub fn token_for(&self, principal: &Principal) -> Result<String, TokenError> {
        self.inner.tokens.sign_access(principal)
    }

    pub(crate) fn reject(&self, kind: RejectionKind) -> AuthRejection {
        AuthRejection::new(kind, self.inner.renderer.clone())
    }

    /// [`AuthorizationService::check`] answering a deny with the guards'
    /// rejection, rendered by this module's
    /// [renderer](AuthModuleBuilder::rejection_renderer): a 403, or a 503
    /// when the delegation store failed.
    ///
    /// # Errors
    /// The rejection when the check denies.
    pub async fn check<R: Policy>(
        &self,
        principal: &Principal,
        action: &str,
        resource: &R,
    ) -> Result<(), AuthRejection> {
        self.check_with(principal, action, resource, &Context::new())
            .await
    }

    /// [`AuthorizationService::check_with`] answering a deny with the
    /// guards' rejection (see [`check`](Self::check)).
    ///
    /// # Errors
    /// The rejection when the check denies.
    pub async fn check_with<R: Policy>(
        &self,
        principal: &Principal,
        action: &str,
        resource: &R,
        context: &Context,
    ) -> Result<(), AuthRejection> {
        self.inner
            .authz
            .check_with(principal, action, resource, context)
            .await
            .map_err(|failed| match failed.reason {
                DenyReason::Unavailable => self.reject(RejectionKind::Unavailable),
                _ => self.reject(RejectionKind::Forbidden),
            })
    }

    /// Authenticates a request from its headers, once: the principal is cached
    /// in `extensions`. Bearer tokens are verified with
    /// [`JwtTokenManager::verify_token`], revocation included. When the module
    /// has [API keys](AuthModuleBuilder::api_keys), a key in `X-API-Key` or a
    /// bearer credential starting `lxk_` is checked as an API key instead; its
    /// principal is the key's owner with the key's scopes as permissions.
    ///
    /// # Errors
    /// A 401 rejection when credentials are missing, invalid or revoked; a 503
    /// rejection when the revocation store cannot answer (never a silent allow).
    pub async fn authenticate_request(
        &self,
        method: &Method,
        headers: &HeaderMap,
        extensions: &mut Extensions,
    ) -> Result<Arc<Principal>, AuthRejection> {
        if let Some(Authenticated(principal)) = extensions.get::<Authenticated>() {
            return Ok(Arc::clone(principal));
        }
        if let Some(keys) = &self.inner.api_keys
            && let Some(presented) = self.api_key_of(headers, keys.sources())?
        {
            return self.authenticate_key(keys, &presented, extensions).await;
        }
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            if let Some(sessions) = &self.inner.sessions {
                return self
                    .authenticate_session(sessions, method, headers, extensions)
                    .await;
            }
            return Err(self.reject(RejectionKind::MissingCredentials));
        };
        if values.next().is_some() {
            tracing::debug!("rejected request with several Authorization headers");
            return Err(self.reject(RejectionKind::InvalidCredentials));
        }
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            tracing::debug!("rejected an Authorization header that is not a bearer token");
            return Err(self.reject(RejectionKind::InvalidCredentials));
        };
        match self.inner.tokens.verify_token(token).await {
            Ok(verified) => {
                let principal = Arc::new(verified.into_principal());
                extensions.insert(Authenticated(Arc::clone(&principal)));
                Ok(principal)
            }
            Err(TokenError::Unavailable) => Err(self.reject(RejectionKind::Unavailable)),
            Err(error) => {
                tracing::debug!(%error, code = error.code(), "rejected bearer token");
                Err(self.reject(RejectionKind::InvalidCredentials))
            }
        }
    }

    async fn authenticate_session(
        &self,
        sessions: &SessionAuth,
        method: &Method,
        headers: &HeaderMap,
        extensions: &mut Extensions,
    ) -> Result<Arc<Principal>, AuthRejection> {
        let ip = extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        match sessions.authenticate(method, headers, ip).await {
            Ok(principal) => {
                let principal = Arc::new(principal);
                extensions.insert(Authenticated(Arc::clone(&principal)));
                Ok(principal)
            }
            Err(SessionRejection::Missing) => Err(self.reject(RejectionKind::MissingCredentials)),
            Err(SessionRejection::Invalid(error)) => {
                tracing::debug!(%error, code = error.code(), "rejected session cookie");
                Err(self.reject(RejectionKind::InvalidCredentials))
            }
            Err(SessionRejection::Csrf(rule)) => {
                tracing::info!(%rule, %method, "refused a cookie-authenticated request: CSRF");
                Err(self.reject(RejectionKind::Forbidden))
            }
            Err(SessionRejection::Unavailable(error)) => {
                tracing::warn!(%error, "the session store cannot answer; refusing the request");
                Err(self.reject(RejectionKind::Unavailable))
            }
        }
    }

    /// The API key a request presents: `X-API-Key`, or a bearer credential
    /// with the key prefix, as far as `sources` allows. Several of either is
    /// a 401.
    fn api_key_of(
        &self,
        headers: &HeaderMap,
        sources: KeySources,
    ) -> Result<Option<String>, AuthRejection> {
        let mut keys = headers.get_all(API_KEY_HEADER).iter();
        if let Some(value) = keys.next().filter(|_| sources.x_api_key) {
            if keys.next().is_some() || headers.contains_key(AUTHORIZATION) {
                tracing::debug!("rejected a request with several credentials");
                return Err(self.reject(RejectionKind::InvalidCredentials));
            }
            return match value.to_str() {
                Ok(key) => Ok(Some(key.trim().to_owned())),
                Err(_) => Err(self.reject(RejectionKind::InvalidCredentials)),
            };
        }
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let bearer = values
            .next()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, credential)| credential.trim())
            .filter(|credential| looks_like_api_key(credential));
        match (bearer, values.next()) {
            (Some(key), None) if sources.bearer => Ok(Some(key.to_owned())),
            _ => Ok(None),
        }
    }

    async fn authenticate_key(
        &self,
        keys: &ApiKeys,
        presented: &str,
        extensions: &mut Extensions,
    ) -> Result<Arc<Principal>, AuthRejection> {
        let ip = extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        match keys.verify(presented, ip).await {
            Ok(key) => {
                let principal = Arc::new(key.principal());
                extensions.insert(Authenticated(Arc::clone(&principal)));
                Ok(principal)
            }
            Err(ApiKeyError::Store(error)) => {
                tracing::warn!(%error, "the API key store cannot answer; refusing the request");
                Err(self.reject(RejectionKind::Unavailable))
            }
            Err(error) => {
                tracing::debug!(%error, code = error.code(), "rejected API key");
                Err(self.reject(RejectionKind::InvalidCredentials))
            }
        }
    }

    /// The guards among `guards` that no configured role can satisfy, each
    /// also logged with `tracing::warn!` under its name. Call it at start-up
    /// with the application's guards, so that a guard naming a role or
    /// permission that the configuration lost is reported before a user
    /// meets a 403:
    ///
    /// ```
    /// use lexigram_auth::authz::NamedRequirement;
    /// use lexigram_auth::{AuthModule, axum::guarded, require_roles};
    ///
    /// #[require_roles("editor")]
    /// async fn edit() {}
    ///
    /// #[require_roles("publisher")] // no such role
    /// async fn publish() {}
    ///
    /// /// Editors who are not viewers: impossible, editors inherit viewer.
    /// #[require_roles(all("editor", not("viewer")))]
    /// struct Odd;
    ///
    /// let auth = AuthModule::stub(); // admin (`*`), editor, viewer
    /// let bad = auth.unsatisfiable_guards(&[
    ///     guarded(edit),
    ///     guarded(publish),
    ///     NamedRequirement::of::<Odd>(),
    /// ]);
    /// let names: Vec<&str> = bad.iter().map(|g| g.name.rsplit("::").next().unwrap_or("")).collect();
    /// assert_eq!(names, ["publish", "Odd"]);
    /// ```
    ///
    /// A guard is satisfiable when some set of configured roles satisfies
    /// it, with no permissions held directly. Without `not(..)` that is
    /// decided exactly by trying every role at once; with `not(..)`, every
    /// set of roles is tried when there are at most 12 roles, and beyond
    /// that the guard is assumed satisfiable (not reported). Guards
    /// met only by permissions held directly (API key scopes, a token's
    /// `scope` claim) are reported too: no *role* satisfies them.
    ///
    /// The guards must be listed: Rust has no safe, portable registry of
    /// every guard in a program. The compile-time catalog check (see
    /// [`docs::guards`](crate::docs::guards)) catches most of the same
    /// mistakes earlier.
    #[must_use]
    pub fn unsatisfiable_guards(&self, guards: &[NamedRequirement]) -> Vec<NamedRequirement> {
        let graph = self.inner.authz.graph();
        let roles = graph.role_names();
        let bad: Vec<NamedRequirement> = guards
            .iter()
            .filter(|guard| !self.satisfiable(roles, &guard.expr))
            .copied()
            .collect();
        for guard in &bad {
            tracing::warn!(
                guard = guard.name,
                requirement = ?guard.expr,
                "no configured role can satisfy this guard"
            );
        }
        bad
    }

    /// Whether some set of `roles` satisfies `expr` (see
    /// [`AuthModule::unsatisfiable_guards`]).
    fn satisfiable(&self, roles: &[String], expr: &Expr) -> bool {
        const EXHAUSTIVE_UP_TO: usize = 12;
        let holds = |set: &[&String]| {
            let principal = Principal::new("lexigram-auth-start-up-check")
                .with_roles(set.iter().map(|r| r.as_str()));
            matches!(
                self.inner
                    .authz
                    .evaluate_with(&principal, expr, StepUp::Assume),
                Decision::Allow
            )
        };
        let all: Vec<&String> = roles.iter().collect();
        if holds(&all) {
            return true;
        }
        if !expr.has_not() {
            return false;
        }
        if roles.len() > EXHAUSTIVE_UP_TO {
            // Too many sets to try: assume satisfiable rather than report
            // a guard that may be fine.
            return true;
        }
        (0u32..(1 << roles.len())).any(|mask| {
            let set: Vec<&String> = roles
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, r)| r)
                .collect();
            holds(&set)
        })
    }

    /// Authenticates a request and evaluates `expr` for its principal.
    ///
    /// # Errors
    /// 401 without valid credentials, 403 when `expr` denies, 503 when a
    /// store the check needs cannot answer.
    pub async fn check_request(
        &self,
        method: &Method,
        headers: &HeaderMap,
        extensions: &mut Extensions,
        expr: &Expr,
    ) -> Result<Arc<Principal>, AuthRejection> {
        let principal = self
            .authenticate_request(method, headers, extensions)
            .await?;
        match self
            .inner
            .authz
            .evaluate_with(&principal, expr, StepUp::Check)
        {
            Decision::Allow => Ok(principal),
            Decision::Deny(reason)
                if reason.is_step_up()
                    && self
                        .inner
                        .authz
                        .evaluate_with(&principal, expr, StepUp::Assume)
                        .is_allow() =>
            {
                tracing::info!(subject = principal.subject(), %reason, requirement = ?expr, "step-up authentication required");
                let kind = match reason {
                    DenyReason::MfaRequired => RejectionKind::MfaRequired,
                    _ => RejectionKind::StaleAuthentication,
                };
                Err(self.reject(kind).with_max_age(expr.fresh_within()))
            }
            Decision::Deny(reason) => {
                tracing::info!(subject = principal.subject(), %reason, requirement = ?expr, "authorization denied");
                Err(self.reject(RejectionKind::Forbidden))
            }
        }
    }
}

/// Builds an [`AuthModule`].
#[derive(Default)]
pub struct AuthModuleBuilder {
    tokens: Option<Arc<JwtTokenManager>>,
    roles: Option<BTreeMap<String, RoleDefinition>>,
    renderer: Option<Arc<dyn RejectionRenderer>>,
    api_keys: Option<ApiKeys>,
    sessions: Option<SessionAuth>,
    authz: Option<AuthorizationService>,
    wired: Option<Wired>,
}

impl fmt::Debug for AuthModuleBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthModuleBuilder")
            .field("tokens", &self.tokens)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl AuthModuleBuilder {
    /// The token manager (required): a [`JwtTokenManager`], or an `Arc` of
    /// one to share it with an
    /// [`AuthenticationService`](crate::authn::AuthenticationService), so
    /// that both sign with, rotate and revoke through the same manager.
    #[must_use]
    pub fn tokens(mut self, tokens: impl Into<Arc<JwtTokenManager>>) -> Self {
        self.tokens = Some(tokens.into());
        self
    }

    /// The role definitions (none by default).
    #[must_use]
    pub fn roles(mut self, roles: BTreeMap<String, RoleDefinition>) -> Self {
        self.roles = Some(roles);
        self
    }

    /// Accepts API keys (`X-API-Key`, or `Authorization: Bearer lxk_...`)
    /// checked by `keys`.
    #[must_use]
    pub fn api_keys(mut self, keys: ApiKeys) -> Self {
        self.api_keys = Some(keys);
        self
    }

    /// An authorization service built elsewhere (by the configuration);
    /// takes the place of [`roles`](Self::roles).
    pub(crate) fn authorization(mut self, authz: AuthorizationService) -> Self {
        self.authz = Some(authz);
        self
    }

    /// What the configuration built besides the guards' parts.
    pub(crate) fn wired(mut self, wired: Wired) -> Self {
        self.wired = Some(wired);
        self
    }

    /// Accepts session cookies (when a request has no `Authorization`
    /// header and no API key): the session must be live, and unsafe
    /// methods must pass the CSRF check (a 403 otherwise).
    #[must_use]
    pub fn sessions(mut self, sessions: SessionAuth) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Replaces the body of every 401 and 403 response.
    #[must_use]
    pub fn rejection_renderer(mut self, renderer: impl RejectionRenderer) -> Self {
        self.renderer = Some(Arc::new(renderer));
        self
    }

    /// Builds the module.
    ///
    /// # Errors
    /// [`ConfigError::MissingTokens`] or an invalid role definition.
    pub fn build(self) -> Result<AuthModule, ConfigError> {
        let tokens = self.tokens.ok_or(ConfigError::MissingTokens)?;
        let authz = match (self.authz, self.roles) {
            (Some(authz), _) => authz,
            (None, Some(roles)) => AuthorizationService::with_graph(RoleGraph::compile(&roles)?),
            (None, None) => AuthorizationService::new(),
        };
        Ok(AuthModule::from_parts(
            tokens,
            authz,
            self.renderer,
            self.api_keys,
            self.sessions,
            self.wired,
        ))
    }
}

/// Key material when the operating system's generator fails: std's per-process
/// random hasher keys run through SipHash. Only [`AuthModule::stub`] uses it.
fn fallback_secret() -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let word = RandomState::new().hash_one(i).to_le_bytes();
        chunk.copy_from_slice(&word);
    }
    out
}
