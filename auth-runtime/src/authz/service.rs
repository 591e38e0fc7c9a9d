//! The authorization service: roles, permission checks and requirement evaluation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::SystemTime;

use super::grammar::{
    MAX_PERMISSION_LEN, check_grant, check_permission, grant_covers, grant_matches,
};
use super::graph::{RoleDefinition, RoleGraph, RoleSet};
use super::requirement::{Expr, amr_is_mfa};
use crate::Principal;
use crate::abac::{
    Context, Delegation, DelegationStore, Effect, MemoryDelegationStore, Policy, PolicyEngine,
    PolicyStore, SchemaRegistry,
};
use crate::authn::{AuthEvent, EventSink, TracingSink};
use crate::clock::{Clock, SystemClock};
use crate::error::{AuthorizationFailed, DelegationError, PolicyReloadError, RoleGraphError};

/// The outcome of an authorization check. There is no third state: anything
/// not explicitly allowed is denied, and [`Decision::default`] is a deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Decision {
    /// The principal may proceed.
    Allow,
    /// The principal may not proceed.
    Deny(DenyReason),
}

impl Default for Decision {
    fn default() -> Self {
        Self::Deny(DenyReason::NoRule)
    }
}

impl Decision {
    /// Whether this is [`Decision::Allow`].
    #[must_use]
    pub const fn is_allow(self) -> bool {
        matches!(self, Self::Allow)
    }

    /// `Ok(())` for allow, the reason otherwise.
    ///
    /// # Errors
    /// [`AuthorizationFailed`] carrying the deny reason.
    pub fn into_result(self) -> Result<(), AuthorizationFailed> {
        match self {
            Self::Allow => Ok(()),
            Self::Deny(reason) => Err(AuthorizationFailed { reason }),
        }
    }
}

/// Why a check denied. For logs and tests: HTTP responses never carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    /// No rule allowed the request.
    NoRule,
    /// None of the required roles is held.
    MissingRole,
    /// A required permission is not held.
    MissingPermission,
    /// A `not(..)` requirement matched.
    Excluded,
    /// The permission asked for is not a valid name.
    InvalidPermission,
    /// The principal did not authenticate recently enough
    /// ([`Expr::FreshWithin`]); logging in again fixes it.
    StaleAuthentication,
    /// The principal did not authenticate with a second factor
    /// ([`Expr::Mfa`]); completing one fixes it.
    MfaRequired,
    /// The resource belongs to another tenant than the principal.
    TenantMismatch,
    /// An attribute-based policy denied.
    PolicyDenied,
    /// A store the check needed (the delegation store) could not answer;
    /// refused as unavailable (a 503), never allowed.
    Unavailable,
}

impl DenyReason {
    /// Whether authenticating again (more recently, or with a second factor)
    /// could turn this deny into an allow: a step-up challenge, not a refusal.
    #[must_use]
    pub const fn is_step_up(self) -> bool {
        matches!(self, Self::StaleAuthentication | Self::MfaRequired)
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoRule => "no rule allows the request",
            Self::MissingRole => "a required role is missing",
            Self::MissingPermission => "a required permission is missing",
            Self::Excluded => "an excluded condition holds",
            Self::InvalidPermission => "the permission is not a valid name",
            Self::StaleAuthentication => "the authentication is not recent enough",
            Self::MfaRequired => "a second authentication factor is required",
            Self::TenantMismatch => "the resource belongs to another tenant",
            Self::PolicyDenied => "a policy denies the request",
            Self::Unavailable => "a store the check needs is unavailable",
        })
    }
}

/// Role-based access control over a compiled [`RoleGraph`].
///
/// ```
/// use std::collections::BTreeMap;
/// use lexigram_auth::authz::{AuthorizationService, RoleDefinition};
/// use lexigram_auth::Principal;
///
/// let authz = AuthorizationService::new();
/// authz.set_roles(BTreeMap::from([
///     ("admin".to_owned(), RoleDefinition::new(["*"])),
///     ("editor".to_owned(), RoleDefinition::new(["articles.write"]).inherits(["viewer"])),
///     ("viewer".to_owned(), RoleDefinition::new(["articles.read"])),
/// ]))?;
///
/// let user = Principal::new("user-1").with_roles(["editor"]);
/// assert!(authz.authorize(&user, "articles", "read").is_ok()); // inherited from viewer
/// assert!(authz.authorize(&user, "users", "delete").is_err());
/// # Ok::<(), lexigram_auth::error::RoleGraphError>(())
/// ```
///
/// Checks on a resource ([`check`](Self::check)) add tenant isolation,
/// attribute-based policies ([`set_policies`](Self::set_policies)) and
/// delegations ([`delegate`](Self::delegate)) to the roles; see
/// [`abac`](crate::abac).
pub struct AuthorizationService {
    graph: RwLock<Arc<RoleGraph>>,
    policies: RwLock<Arc<PolicyEngine>>,
    /// The store revision the policies in force were loaded at; changed
    /// together with `policies`, under this lock.
    policy_revision: Mutex<Option<u64>>,
    /// Held for the whole of a reload, so that reloads read the store one
    /// after the other and the last to read installs last.
    reloading: tokio::sync::Mutex<()>,
    delegations: RwLock<Arc<dyn DelegationStore>>,
    events: RwLock<Arc<dyn EventSink>>,
    clock: RwLock<Arc<dyn Clock>>,
    audit_allows: AtomicBool,
}

impl fmt::Debug for AuthorizationService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationService")
            .field("graph", &self.graph())
            .field("policies", &self.policies())
            .field("policy_revision", &self.policy_revision())
            .field("audit_allows", &self.audit_allows.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Reads a lock that only ever holds a complete value (every writer swaps
/// in a whole `Arc`), so a poisoned lock is still good to read.
fn read<T: ?Sized>(lock: &RwLock<Arc<T>>) -> RwLockReadGuard<'_, Arc<T>> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn replace<T: ?Sized>(lock: &RwLock<Arc<T>>, value: Arc<T>) {
    match lock.write() {
        Ok(mut slot) => *slot = value,
        Err(poisoned) => *poisoned.into_inner() = value,
    }
}

/// The outcome of the steps of a resource check.
enum Step {
    /// Allowed; what decided, when allows are audited.
    Allowed(Option<AllowedBy>),
    /// Denied for `reason` by what the string names.
    Denied(DenyReason, String),
    /// Nothing decided: the delegations are next.
    Undecided,
}

/// What allowed a check, for the audit event.
struct AllowedBy {
    decider: String,
    delegation: Option<String>,
}

impl AllowedBy {
    fn named(decider: &str) -> Self {
        Self {
            decider: decider.to_owned(),
            delegation: None,
        }
    }
}

impl Default for AuthorizationService {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthorizationService {
    /// A service with no roles: everything but `Authenticated` denies.
    #[must_use]
    pub fn new() -> Self {
        Self::with_graph(RoleGraph::empty())
    }

    /// A service over an already compiled graph.
    #[must_use]
    pub fn with_graph(graph: RoleGraph) -> Self {
        Self {
            graph: RwLock::new(Arc::new(graph)),
            policies: RwLock::new(Arc::new(PolicyEngine::default())),
            policy_revision: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
            delegations: RwLock::new(Arc::new(MemoryDelegationStore::new())),
            events: RwLock::new(Arc::new(TracingSink)),
            clock: RwLock::new(Arc::new(SystemClock)),
            audit_allows: AtomicBool::new(false),
        }
    }

    /// Replaces the attribute-based policies at once (load them with
    /// [`PolicyEngine::from_yaml`]). Checks in flight finish with the
    /// policies they started with.
    pub fn set_policies(&self, policies: PolicyEngine) {
        self.install(policies, None);
    }

    /// Swaps in `policies`, loaded at the store revision `revision`.
    fn install(&self, policies: PolicyEngine, revision: Option<u64>) {
        let mut slot = self
            .policy_revision
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        replace(&self.policies, Arc::new(policies));
        *slot = revision;
    }

    /// The [revision](PolicyStore::revision) of the store the policies in
    /// force were loaded from by [`reload_policies`](Self::reload_policies);
    /// `None` when they were set with [`set_policies`](Self::set_policies)
    /// or never loaded.
    #[must_use]
    pub fn policy_revision(&self) -> Option<u64> {
        *self
            .policy_revision
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads every document of `store`, checks them together against
    /// `registry` ([`PolicyEngine::from_documents`]) and only then replaces
    /// the policies in force at once; returns how many policies are now in
    /// force. Checks in flight finish with the policies they started with.
    ///
    /// On any error nothing changes: a bad document, a conflict between
    /// documents or a store failure leaves the previous policies in force.
    /// Reloads of one service run one after the other. See
    /// [`abac::policy_store`](crate::abac::policy_store) for an example and
    /// for sharing policies between instances.
    ///
    /// # Errors
    /// [`PolicyReloadError::Invalid`] naming the document and the problem,
    /// or [`PolicyReloadError::Store`].
    pub async fn reload_policies(
        &self,
        store: &dyn PolicyStore,
        registry: &SchemaRegistry,
    ) -> Result<usize, PolicyReloadError> {
        let _one_at_a_time = self.reloading.lock().await;
        let revision = store.revision().await?;
        self.load_at(store, registry, revision).await
    }

    /// [`reload_policies`](Self::reload_policies) when the store's
    /// [revision](PolicyStore::revision) is not the one the policies in
    /// force were loaded at: `Some(count)` after a reload, `None` when
    /// nothing changed. One cheap read when nothing changed, so instances
    /// sharing a store can poll it (a failed reload is tried again at the
    /// next call).
    ///
    /// ```
    /// use lexigram_auth::abac::{MemoryPolicyStore, PolicyStore, SchemaRegistry};
    /// use lexigram_auth::authz::AuthorizationService;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (store, registry) = (MemoryPolicyStore::new(), SchemaRegistry::new());
    /// let authz = AuthorizationService::new();
    /// assert_eq!(authz.reload_policies_if_changed(&store, &registry).await?, Some(0));
    /// assert_eq!(authz.reload_policies_if_changed(&store, &registry).await?, None);
    /// store.put("base", "combining: permit-overrides").await?;
    /// assert_eq!(authz.reload_policies_if_changed(&store, &registry).await?, Some(0));
    /// assert_eq!(authz.policy_revision(), Some(1));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As for [`reload_policies`](Self::reload_policies).
    pub async fn reload_policies_if_changed(
        &self,
        store: &dyn PolicyStore,
        registry: &SchemaRegistry,
    ) -> Result<Option<usize>, PolicyReloadError> {
        let _one_at_a_time = self.reloading.lock().await;
        let revision = store.revision().await?;
        if self.policy_revision() == Some(revision) {
            return Ok(None);
        }
        self.load_at(store, registry, revision).await.map(Some)
    }

    /// Loads the documents of `store`, whose revision was `revision` before
    /// they were read (so the documents are at least that recent), and
    /// installs them.
    async fn load_at(
        &self,
        store: &dyn PolicyStore,
        registry: &SchemaRegistry,
        revision: u64,
    ) -> Result<usize, PolicyReloadError> {
        let documents = store.list().await?;
        let engine = PolicyEngine::from_documents(
            registry,
            documents.iter().map(|d| (d.name.as_str(), d.text.as_str())),
        )?;
        let count = engine.len();
        self.install(engine, Some(revision));
        tracing::info!(
            revision,
            documents = documents.len(),
            policies = count,
            "policies reloaded"
        );
        Ok(count)
    }

    /// The attribute-based policies in force.
    #[must_use]
    pub fn policies(&self) -> Arc<PolicyEngine> {
        Arc::clone(&read(&self.policies))
    }

    /// Replaces the delegation store (a [`MemoryDelegationStore`] by default).
    pub fn set_delegation_store(&self, store: Arc<dyn DelegationStore>) {
        replace(&self.delegations, store);
    }

    /// The delegation store.
    #[must_use]
    pub fn delegation_store(&self) -> Arc<dyn DelegationStore> {
        Arc::clone(&read(&self.delegations))
    }

    /// Replaces where `AccessDenied` and `AccessAllowed` events go
    /// ([`TracingSink`] by default).
    pub fn set_event_sink(&self, sink: Arc<dyn EventSink>) {
        replace(&self.events, sink);
    }

    /// Replaces the clock delegations expire by ([`SystemClock`] by default).
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        replace(&self.clock, clock);
    }

    /// Whether allowed resource checks emit `AccessAllowed` events too
    /// (off by default; denies always emit `AccessDenied`).
    pub fn audit_allows(&self, enabled: bool) {
        self.audit_allows.store(enabled, Ordering::Relaxed);
    }

    fn emit(&self, event: AuthEvent) {
        let sink = Arc::clone(&read(&self.events));
        sink.emit(event);
    }

    fn now(&self) -> SystemTime {
        read(&self.clock).now()
    }

    /// Replaces every role definition at once. On error nothing changes.
    ///
    /// # Errors
    /// See [`RoleGraph::compile`].
    pub fn set_roles(&self, roles: BTreeMap<String, RoleDefinition>) -> Result<(), RoleGraphError> {
        replace(&self.graph, Arc::new(RoleGraph::compile(&roles)?));
        Ok(())
    }

    /// The graph in force.
    #[must_use]
    pub fn graph(&self) -> Arc<RoleGraph> {
        Arc::clone(&self.read_graph())
    }

    /// The graph in force, borrowed for one check (no reference counting on
    /// the hot path). A poisoned lock still holds a complete graph: `set_roles`
    /// swaps in a compiled graph and cannot leave a partial one.
    fn read_graph(&self) -> RwLockReadGuard<'_, Arc<RoleGraph>> {
        read(&self.graph)
    }

    /// Checks the permission `resource.action`.
    ///
    /// # Errors
    /// [`AuthorizationFailed`] when the principal does not hold it.
    pub fn authorize(
        &self,
        principal: &Principal,
        resource: &str,
        action: &str,
    ) -> Result<(), AuthorizationFailed> {
        self.decide(principal, resource, action).into_result()
    }

    /// The decision for the permission `resource.action`.
    pub fn decide(&self, principal: &Principal, resource: &str, action: &str) -> Decision {
        let mut buf = [0u8; MAX_PERMISSION_LEN];
        let Some(permission) = join_permission(&mut buf, resource, action) else {
            return Decision::Deny(DenyReason::InvalidPermission);
        };
        self.decide_permission(principal, permission)
    }

    /// The decision for one permission such as `articles.read`.
    pub fn decide_permission(&self, principal: &Principal, permission: &str) -> Decision {
        self.resolved(principal, StepUp::Assume, |p| p.permission(permission))
    }

    /// Evaluates a requirement expression for a principal, now.
    pub fn evaluate(&self, principal: &Principal, expr: &Expr) -> Decision {
        self.evaluate_with(principal, expr, StepUp::Check)
    }

    /// Evaluates a requirement expression, with the step-up conditions
    /// ([`Expr::FreshWithin`], [`Expr::Mfa`]) judged as `step_up` says.
    pub(crate) fn evaluate_with(
        &self,
        principal: &Principal,
        expr: &Expr,
        step_up: StepUp,
    ) -> Decision {
        self.resolved(principal, step_up, |p| p.evaluate(expr))
    }

    /// The principal, bound to the role definitions in force, so that
    /// [`check_principal`] (the guards on service-layer functions taking
    /// `&Principal`) resolves its roles as this service does. The
    /// [`Principal`] extractor returns bound principals; bind one built in
    /// code (a background job, a test) before passing it to such a function.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use lexigram_auth::authz::{AuthorizationService, RoleDefinition, check_principal, Expr};
    /// use lexigram_auth::Principal;
    ///
    /// let authz = AuthorizationService::new();
    /// authz.set_roles(BTreeMap::from([
    ///     ("editor".to_owned(), RoleDefinition::new(["articles.write"]).inherits(["viewer"])),
    ///     ("viewer".to_owned(), RoleDefinition::new(["articles.read"])),
    /// ]))?;
    /// let editor = Principal::new("e").with_roles(["editor"]);
    /// const READ: Expr = Expr::Permission("articles.read");
    /// // Unbound: only direct grants count.
    /// assert!(check_principal(&editor, &READ).is_err());
    /// assert!(check_principal(&authz.bind(editor), &READ).is_ok());
    /// # Ok::<(), lexigram_auth::error::RoleGraphError>(())
    /// ```
    #[must_use]
    pub fn bind(&self, principal: Principal) -> Principal {
        principal.with_graph(self.graph())
    }

    /// Runs `check` with the principal's roles resolved once against the graph in force.
    fn resolved(
        &self,
        principal: &Principal,
        step_up: StepUp,
        check: impl FnOnce(&ResolvedPrincipal<'_>) -> Decision,
    ) -> Decision {
        let graph = self.read_graph();
        resolve_in(&graph, principal, step_up, check)
    }

    /// Every grant the principal holds, through roles (inherited included) or
    /// directly, for display.
    #[must_use]
    pub fn effective_permissions(&self, principal: &Principal) -> BTreeSet<String> {
        let graph = self.graph();
        let mut all: BTreeSet<String> = principal.permissions().iter().cloned().collect();
        let mut seen = BTreeSet::new();
        for role in principal.roles() {
            if seen.insert(role.as_str())
                && let Some(grants) = graph.effective_grants(role)
            {
                all.extend(grants.iter().cloned());
            }
        }
        all
    }
}

impl AuthorizationService {
    /// Checks whether `principal` may do `action` on `resource`, with an
    /// empty [`Context`]; see [`check_with`](Self::check_with).
    ///
    /// # Errors
    /// [`AuthorizationFailed`] when denied.
    pub async fn check<R: Policy>(
        &self,
        principal: &Principal,
        action: &str,
        resource: &R,
    ) -> Result<(), AuthorizationFailed> {
        self.check_with(principal, action, resource, &Context::new())
            .await
    }

    /// Checks whether `principal` may do `action` on `resource`, in this
    /// order; the first step that decides wins:
    ///
    /// 1. **Tenant isolation**: a resource of a tenant
    ///    ([`Policy::tenant`]) is denied to a principal of another tenant
    ///    or of none, whatever its roles, the policies or delegations say.
    /// 2. **Attribute-based policies** ([`PolicyEngine::evaluate`]): a deny
    ///    denies, even against a `*` grant; an allow allows.
    /// 3. **Roles and direct grants**: the permission
    ///    `<R::SCHEMA.kind>.<action>` (`article.edit`).
    /// 4. **Delegations**: an active delegation to the principal that
    ///    covers the permission and the resource, from a delegator who
    ///    still holds the permission (see [`delegate`](Self::delegate)).
    /// 5. Otherwise **deny**.
    ///
    /// Every deny emits [`AuthEvent::AccessDenied`] naming the deciding
    /// policy (or `tenant`, `default-deny`, `unavailable`); allows emit
    /// [`AuthEvent::AccessAllowed`] when [audited](Self::audit_allows).
    /// When no delegation is needed nothing is allocated.
    ///
    /// In a handler returning `Result<_, AuthRejection>`, `?` turns a deny
    /// into the guards' 403 (a delegation store failure into a 503):
    ///
    /// ```
    /// # use lexigram_auth::abac::*;
    /// # struct Article { id: String }
    /// # static ARTICLE: Schema = Schema { kind: "article", attributes: &[] };
    /// # impl Attributes for Article {
    /// #     fn schema(&self) -> &'static Schema { &ARTICLE }
    /// #     fn attribute(&self, _: &str) -> Option<AttrValue<'_>> { None }
    /// # }
    /// # impl Policy for Article {
    /// #     const SCHEMA: &'static Schema = &ARTICLE;
    /// #     fn rules() -> &'static [Rule<Self>] { &[] }
    /// #     fn resource_id(&self) -> Option<&str> { Some(&self.id) }
    /// # }
    /// use axum::extract::{Path, State};
    /// use lexigram_auth::axum::AuthRejection;
    /// use lexigram_auth::{AuthModule, Principal};
    ///
    /// async fn edit(
    ///     State(auth): State<AuthModule>,
    ///     principal: Principal,
    ///     Path(id): Path<String>,
    /// ) -> Result<&'static str, AuthRejection> {
    ///     let article = Article { id }; // loaded from the database
    ///     auth.authz().check(&principal, "edit", &article).await?;
    ///     Ok("edited")
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let auth = AuthModule::stub(); // `editor` holds `articles.write`, not `article.edit`
    /// let editor = Principal::new("e").with_roles(["editor"]);
    /// let denied = edit(State(auth.clone()), editor, Path("42".into())).await.unwrap_err();
    /// assert_eq!(denied.kind(), lexigram_auth::axum::RejectionKind::Forbidden);
    /// let admin = Principal::new("a").with_roles(["admin"]); // `*`
    /// assert_eq!(edit(State(auth), admin, Path("42".into())).await.unwrap(), "edited");
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AuthorizationFailed`] when denied; its reason is
    /// [`DenyReason::Unavailable`] when the delegation store failed.
    pub async fn check_with<R: Policy>(
        &self,
        principal: &Principal,
        action: &str,
        resource: &R,
        context: &Context,
    ) -> Result<(), AuthorizationFailed> {
        let step = match self.decide_resource(principal, action, resource, context) {
            Step::Undecided => self.by_delegation(principal, action, resource).await,
            decided => decided,
        };
        match step {
            Step::Allowed(decider) => {
                if let Some(by) = decider {
                    self.emit(AuthEvent::AccessAllowed {
                        subject: principal.subject().to_owned(),
                        tenant: principal.tenant().map(str::to_owned),
                        requirement: requirement(action, resource),
                        deciding_policy: Some(by.decider),
                        delegation: by.delegation,
                    });
                }
                Ok(())
            }
            Step::Denied(reason, decider) => {
                self.deny(principal, action, resource, reason, decider)
            }
            Step::Undecided => self.deny(
                principal,
                action,
                resource,
                DenyReason::NoRule,
                DEFAULT_DENY.to_owned(),
            ),
        }
    }

    /// Decides a request-level policy (`#[require_policy(P)]`): the rules of
    /// `P` and the policies loaded for its kind, with no RBAC fallback and
    /// no delegations. Nothing applicable is a deny (default deny); every
    /// deny is an [`AuthEvent::AccessDenied`].
    ///
    /// # Errors
    /// [`AuthorizationFailed`] with [`DenyReason::PolicyDenied`] or
    /// [`DenyReason::NoRule`].
    pub fn decide_request_policy<P: Policy>(
        &self,
        principal: &Principal,
        action: &str,
        policy: &P,
        context: &Context,
    ) -> Result<(), AuthorizationFailed> {
        let (effect, decider) = {
            let policies = read(&self.policies);
            let decision = policies.evaluate(principal, action, policy, context);
            (
                decision.effect,
                decision.deciding_policy.unwrap_or(DEFAULT_DENY).to_owned(),
            )
        };
        match effect {
            Some(Effect::Allow) => {
                if self.audit_allows.load(Ordering::Relaxed) {
                    self.emit(AuthEvent::AccessAllowed {
                        subject: principal.subject().to_owned(),
                        tenant: principal.tenant().map(str::to_owned),
                        requirement: requirement(action, policy),
                        deciding_policy: Some(decider),
                        delegation: None,
                    });
                }
                Ok(())
            }
            Some(Effect::Deny) => {
                self.deny(principal, action, policy, DenyReason::PolicyDenied, decider)
            }
            None => self.deny(principal, action, policy, DenyReason::NoRule, decider),
        }
    }

    fn deny<R: Policy>(
        &self,
        principal: &Principal,
        action: &str,
        resource: &R,
        reason: DenyReason,
        decider: String,
    ) -> Result<(), AuthorizationFailed> {
        self.emit(AuthEvent::AccessDenied {
            subject: principal.subject().to_owned(),
            tenant: principal.tenant().map(str::to_owned),
            requirement: requirement(action, resource),
            deciding_policy: Some(decider),
        });
        Err(AuthorizationFailed { reason })
    }

    /// Steps 1 to 3 of [`check_with`](Self::check_with): tenant, policies, roles.
    fn decide_resource<R: Policy>(
        &self,
        principal: &Principal,
        action: &str,
        resource: &R,
        context: &Context,
    ) -> Step {
        let audit = self.audit_allows.load(Ordering::Relaxed);
        if let Some(tenant) = resource.tenant()
            && principal.tenant() != Some(tenant)
        {
            return Step::Denied(DenyReason::TenantMismatch, TENANT.to_owned());
        }
        {
            let policies = read(&self.policies);
            let decision = policies.evaluate(principal, action, resource, context);
            let decider = decision.deciding_policy.unwrap_or_default();
            match decision.effect {
                Some(Effect::Deny) => {
                    return Step::Denied(DenyReason::PolicyDenied, decider.to_owned());
                }
                Some(Effect::Allow) => {
                    return Step::Allowed(audit.then(|| AllowedBy::named(decider)));
                }
                None => {}
            }
        }
        match self.decide(principal, R::SCHEMA.kind, action) {
            Decision::Allow => Step::Allowed(audit.then(|| AllowedBy::named(RBAC))),
            Decision::Deny(DenyReason::InvalidPermission) => {
                Step::Denied(DenyReason::InvalidPermission, DEFAULT_DENY.to_owned())
            }
            Decision::Deny(_) => Step::Undecided,
        }
    }

    /// Step 4 of [`check_with`](Self::check_with): delegations.
    async fn by_delegation<R: Policy>(
        &self,
        principal: &Principal,
        action: &str,
        resource: &R,
    ) -> Step {
        let kind = R::SCHEMA.kind;
        let permission = format!("{kind}.{action}");
        let store = self.delegation_store();
        let delegations = match store.list_for_delegate(principal.subject()).await {
            Ok(delegations) => delegations,
            Err(error) => {
                tracing::warn!(%error, subject = principal.subject(), "the delegation store failed; access refused");
                return Step::Denied(DenyReason::Unavailable, UNAVAILABLE.to_owned());
            }
        };
        let now = self.now();
        let audit = self.audit_allows.load(Ordering::Relaxed);
        for delegation in delegations {
            let usable = delegation.is_active(now)
                && delegation.covers_resource(kind, resource.resource_id())
                && resource
                    .tenant()
                    .is_none_or(|t| delegation.delegator_tenant.as_deref() == Some(t))
                && delegation
                    .permissions
                    .iter()
                    .any(|g| check_grant(g).is_ok() && grant_matches(g, &permission));
            if !usable {
                continue;
            }
            // The delegator must still hold the permission, by the roles in force.
            let delegator = Principal::new(delegation.delegator.as_str())
                .with_roles(delegation.delegator_roles.iter().map(String::as_str))
                .with_permissions(delegation.delegator_grants.iter().map(String::as_str));
            if self.decide_permission(&delegator, &permission).is_allow() {
                return Step::Allowed(audit.then(|| AllowedBy {
                    decider: DELEGATION.to_owned(),
                    delegation: Some(delegation.id),
                }));
            }
        }
        Step::Undecided
    }

    /// Lets `to` (a subject) use some of `delegator`'s permissions on the
    /// resources `pattern` matches (`article/42`, `article/*`; see
    /// [`abac::delegation`](crate::abac::delegation)) until `until`.
    ///
    /// Refused when the delegator does not hold every permission (through
    /// its roles or direct grants), when `until` is not in the future (by
    /// the service's clock), or when a permission or the pattern is
    /// invalid. The delegation records the delegator's roles, grants and
    /// tenant; checks re-resolve them against the role graph in force.
    ///
    /// ```
    /// # use lexigram_auth::abac::*;
    /// # struct Article { id: String }
    /// # static ARTICLE: Schema = Schema { kind: "article", attributes: &[] };
    /// # impl Attributes for Article {
    /// #     fn schema(&self) -> &'static Schema { &ARTICLE }
    /// #     fn attribute(&self, _: &str) -> Option<AttrValue<'_>> { None }
    /// # }
    /// # impl Policy for Article {
    /// #     const SCHEMA: &'static Schema = &ARTICLE;
    /// #     fn rules() -> &'static [Rule<Self>] { &[] }
    /// #     fn resource_id(&self) -> Option<&str> { Some(&self.id) }
    /// # }
    /// use std::collections::BTreeMap;
    /// use std::time::{Duration, SystemTime};
    /// use lexigram_auth::authz::{AuthorizationService, RoleDefinition};
    /// use lexigram_auth::Principal;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let authz = AuthorizationService::new();
    /// authz.set_roles(BTreeMap::from([("author".to_owned(), RoleDefinition::new(["article.edit"]))]))?;
    /// let alice = Principal::new("alice").with_roles(["author"]);
    /// let bob = Principal::new("bob");
    /// let draft = Article { id: "42".into() };
    ///
    /// assert!(authz.check(&bob, "edit", &draft).await.is_err());
    /// let until = SystemTime::now() + Duration::from_secs(3600);
    /// let d = authz.delegate(&alice, "bob", ["article.edit"], "article/42", until).await?;
    /// assert!(authz.check(&bob, "edit", &draft).await.is_ok());
    /// assert!(authz.check(&bob, "edit", &Article { id: "43".into() }).await.is_err());
    ///
    /// authz.revoke_delegation(&d.id).await?;
    /// assert!(authz.check(&bob, "edit", &draft).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`DelegationError`]: what is refused, or the store's failure.
    pub async fn delegate<I, S>(
        &self,
        delegator: &Principal,
        to: &str,
        permissions: I,
        pattern: &str,
        until: SystemTime,
    ) -> Result<Delegation, DelegationError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let permissions: Vec<String> = permissions.into_iter().map(Into::into).collect();
        if to.is_empty() || to.len() > crate::store::MAX_ID_LEN {
            return Err(DelegationError::InvalidDelegate(
                "the delegate is 1 to 1024 bytes",
            ));
        }
        if to == delegator.subject() {
            return Err(DelegationError::InvalidDelegate(
                "a principal cannot delegate to itself",
            ));
        }
        let kind = crate::abac::delegation::check_pattern(pattern).map_err(|reason| {
            DelegationError::InvalidPattern {
                pattern: pattern.to_owned(),
                reason,
            }
        })?;
        if permissions.is_empty() {
            return Err(DelegationError::NoPermissions);
        }
        for permission in &permissions {
            if let Err(e) = check_grant(permission) {
                return Err(DelegationError::InvalidPermission {
                    permission: permission.clone(),
                    reason: e.to_string(),
                });
            }
            let first = permission.split('.').next().unwrap_or_default();
            if first != kind && first != "*" {
                return Err(DelegationError::InvalidPermission {
                    permission: permission.clone(),
                    reason: format!("it does not concern the pattern's kind `{kind}`"),
                });
            }
        }
        if until <= self.now() {
            return Err(DelegationError::ExpiryInPast);
        }
        let held = self.effective_permissions(delegator);
        if let Some(missing) = permissions
            .iter()
            .find(|p| !held.iter().any(|g| grant_covers(g, p)))
        {
            return Err(DelegationError::NotHeld {
                permission: missing.clone(),
            });
        }
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|_| DelegationError::Random)?;
        let delegation = Delegation {
            id: hex(&bytes),
            delegator: delegator.subject().to_owned(),
            delegate: to.to_owned(),
            permissions,
            resource_pattern: pattern.to_owned(),
            expires_at: until,
            revoked: false,
            delegator_tenant: delegator.tenant().map(str::to_owned),
            delegator_roles: delegator.roles().to_vec(),
            delegator_grants: delegator.permissions().to_vec(),
        };
        self.delegation_store().grant(&delegation).await?;
        Ok(delegation)
    }

    /// Revokes the delegation `id`; `false` when there is none. The caller
    /// decides who may revoke (the delegator, an administrator).
    ///
    /// # Errors
    /// [`DelegationError::Store`] when the store fails.
    pub async fn revoke_delegation(&self, id: &str) -> Result<bool, DelegationError> {
        Ok(self.delegation_store().revoke(id).await?)
    }
}

/// Deciders that are not policies (reserved: no policy may take these ids).
const TENANT: &str = "tenant";
const RBAC: &str = "rbac";
const DELEGATION: &str = "delegation";
const DEFAULT_DENY: &str = "default-deny";
const UNAVAILABLE: &str = "unavailable";

/// Lower-case hex digits.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// `article.edit on article/42` (`on article` without an id).
fn requirement<R: Policy>(action: &str, resource: &R) -> String {
    let kind = R::SCHEMA.kind;
    match resource.resource_id() {
        Some(id) => format!("{kind}.{action} on {kind}/{id}"),
        None => format!("{kind}.{action} on {kind}"),
    }
}

/// Writes `resource.action` into `buf` without allocating.
fn join_permission<'b>(
    buf: &'b mut [u8; MAX_PERMISSION_LEN],
    resource: &str,
    action: &str,
) -> Option<&'b str> {
    let len = resource.len() + 1 + action.len();
    let out = buf.get_mut(..len)?;
    let (head, tail) = out.split_at_mut(resource.len());
    head.copy_from_slice(resource.as_bytes());
    let (dot, rest) = tail.split_first_mut()?;
    *dot = b'.';
    rest.copy_from_slice(action.as_bytes());
    std::str::from_utf8(out).ok()
}

/// How to judge the step-up conditions ([`Expr::FreshWithin`], [`Expr::Mfa`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum StepUp {
    /// Check them; the clock is read only by a `FreshWithin` condition, so
    /// guards without one pay nothing for it.
    Check,
    /// Take them as met: to tell a step-up challenge from a refusal, and
    /// for the start-up check of which guards any role can satisfy.
    Assume,
}

/// Runs `check` with the principal's roles resolved once against `graph`.
fn resolve_in(
    graph: &RoleGraph,
    principal: &Principal,
    step_up: StepUp,
    check: impl FnOnce(&ResolvedPrincipal<'_>) -> Decision,
) -> Decision {
    let roles = graph.resolve_roles(principal.roles().iter().map(String::as_str));
    check(&ResolvedPrincipal {
        graph,
        principal,
        roles,
        step_up,
    })
}

/// The graph of an unbound principal: no roles, so only direct grants count.
static UNBOUND: LazyLock<RoleGraph> = LazyLock::new(RoleGraph::empty);

/// Checks a requirement for a principal passed to a service-layer function:
/// what the guard macros generate for an `async fn` taking `&Principal`
/// (see [`docs::guards`](crate::docs::guards)). Roles are resolved against
/// the role definitions the principal is [bound](AuthorizationService::bind)
/// to; an unbound principal has only its direct permission grants. The step-up
/// conditions are judged against the system clock.
///
/// # Errors
/// [`AuthorizationFailed`] with the deny reason; [`DenyReason::is_step_up`]
/// tells a stale or single-factor login from a refusal.
pub fn check_principal(principal: &Principal, expr: &Expr) -> Result<(), AuthorizationFailed> {
    let graph: &RoleGraph = principal.graph().map_or(&UNBOUND, |g| g);
    match resolve_in(graph, principal, StepUp::Check, |p| p.evaluate(expr)) {
        Decision::Deny(reason) if reason.is_step_up() => {
            // Report a refusal, not a step-up, when stepping up would not help.
            let assumed = resolve_in(graph, principal, StepUp::Assume, |p| p.evaluate(expr));
            match assumed {
                Decision::Allow => Err(AuthorizationFailed { reason }),
                Decision::Deny(other) => Err(AuthorizationFailed { reason: other }),
            }
        }
        decision => decision.into_result(),
    }
}

/// A principal with its roles resolved against one graph, for one request.
struct ResolvedPrincipal<'a> {
    graph: &'a RoleGraph,
    principal: &'a Principal,
    roles: RoleSet,
    step_up: StepUp,
}

impl ResolvedPrincipal<'_> {
    fn permission(&self, permission: &str) -> Decision {
        let by_role = match self.graph.literal_holders(permission) {
            Some(holders) => holders.intersects(&self.roles),
            None => {
                if check_permission(permission).is_err() {
                    return Decision::Deny(DenyReason::InvalidPermission);
                }
                self.graph.pattern_grants(&self.roles, permission)
            }
        };
        let granted = by_role
            || self
                .principal
                .permissions()
                .iter()
                .any(|g| grant_matches(g, permission));
        if granted {
            Decision::Allow
        } else {
            Decision::Deny(DenyReason::MissingPermission)
        }
    }

    fn evaluate(&self, expr: &Expr) -> Decision {
        match *expr {
            Expr::Authenticated => Decision::Allow,
            Expr::Role(role) => {
                if self.graph.set_has_role(&self.roles, role) {
                    Decision::Allow
                } else {
                    Decision::Deny(DenyReason::MissingRole)
                }
            }
            Expr::Permission(permission) => self.permission(permission),
            Expr::All(items) => {
                for item in items {
                    if let Decision::Deny(reason) = self.evaluate(item) {
                        return Decision::Deny(reason);
                    }
                }
                Decision::Allow
            }
            Expr::Any(items) => {
                let mut last = Decision::default();
                for item in items {
                    last = self.evaluate(item);
                    if last.is_allow() {
                        return Decision::Allow;
                    }
                }
                last
            }
            Expr::Not(inner) => match self.evaluate(inner) {
                Decision::Allow => Decision::Deny(DenyReason::Excluded),
                Decision::Deny(_) => Decision::Allow,
            },
            Expr::FreshWithin(max_age) => match self.step_up {
                StepUp::Assume => Decision::Allow,
                StepUp::Check => {
                    let now = SystemTime::now();
                    let fresh = self.principal.auth_time().is_some_and(|at| {
                        // An authentication time in the future (clock skew)
                        // counts as now.
                        now.duration_since(at)
                            .map_or(true, |age| age.as_secs() <= max_age)
                    });
                    if fresh {
                        Decision::Allow
                    } else {
                        Decision::Deny(DenyReason::StaleAuthentication)
                    }
                }
            },
            Expr::Mfa => match self.step_up {
                StepUp::Assume => Decision::Allow,
                StepUp::Check if amr_is_mfa(self.principal.amr()) => Decision::Allow,
                StepUp::Check => Decision::Deny(DenyReason::MfaRequired),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> AuthorizationService {
        let authz = AuthorizationService::new();
        authz
            .set_roles(BTreeMap::from([
                ("admin".to_owned(), RoleDefinition::new(["*"])),
                (
                    "editor".to_owned(),
                    RoleDefinition::new(["articles.write"]).inherits(["viewer"]),
                ),
                ("viewer".to_owned(), RoleDefinition::new(["articles.read"])),
            ]))
            .unwrap();
        authz
    }

    #[test]
    fn seed_roles() {
        let authz = seed();
        let admin = Principal::new("a").with_roles(["admin"]);
        let editor = Principal::new("e").with_roles(["editor"]);
        let viewer = Principal::new("v").with_roles(["viewer"]);
        let nobody = Principal::new("n");
        for (p, resource, action, ok) in [
            (&admin, "articles", "read", true),
            (&admin, "users", "delete", true),
            (&admin, "anything", "at.all", true),
            (&editor, "articles", "read", true),
            (&editor, "articles", "write", true),
            (&editor, "articles", "delete", false),
            (&editor, "users", "read", false),
            (&viewer, "articles", "read", true),
            (&viewer, "articles", "write", false),
            (&nobody, "articles", "read", false),
        ] {
            assert_eq!(
                authz.authorize(p, resource, action).is_ok(),
                ok,
                "{} {resource}.{action}",
                p.subject()
            );
        }
    }

    #[test]
    fn no_name_based_superuser() {
        let authz = AuthorizationService::new();
        authz
            .set_roles(BTreeMap::from([(
                "admin".to_owned(),
                RoleDefinition::new(["articles.read"]),
            )]))
            .unwrap();
        let admin = Principal::new("a").with_roles(["admin", "superuser"]);
        assert!(authz.authorize(&admin, "users", "delete").is_err());
    }

    #[test]
    fn default_is_deny_and_invalid_names_deny() {
        assert_eq!(Decision::default(), Decision::Deny(DenyReason::NoRule));
        let authz = seed();
        let admin = Principal::new("a").with_roles(["admin"]);
        assert_eq!(
            authz.decide(&admin, "Articles", "read"),
            Decision::Deny(DenyReason::InvalidPermission)
        );
        assert_eq!(
            authz.decide(&admin, "articles", "*"),
            Decision::Deny(DenyReason::InvalidPermission)
        );
        let long = "a".repeat(200);
        assert_eq!(
            authz.decide(&admin, &long, "read"),
            Decision::Deny(DenyReason::InvalidPermission)
        );
    }

    #[test]
    fn direct_permissions() {
        let authz = seed();
        let p = Principal::new("x").with_permissions(["reports.*"]);
        assert!(authz.authorize(&p, "reports", "export").is_ok());
        assert!(authz.authorize(&p, "articles", "read").is_err());
        let shown = authz.effective_permissions(&p.clone().with_roles(["editor"]));
        assert_eq!(
            shown.into_iter().collect::<Vec<_>>(),
            ["articles.read", "articles.write", "reports.*"]
        );
    }

    #[test]
    fn expressions() {
        let authz = seed();
        let editor = Principal::new("e").with_roles(["editor"]);
        let viewer = Principal::new("v").with_roles(["viewer"]);
        const ANY: Expr = Expr::Any(&[Expr::Role("admin"), Expr::Role("editor")]);
        const ALL: Expr = Expr::All(&[
            Expr::Permission("articles.read"),
            Expr::Permission("articles.write"),
        ]);
        const NOT_ADMIN: Expr = Expr::All(&[Expr::Role("viewer"), Expr::Not(&Expr::Role("admin"))]);
        assert!(authz.evaluate(&editor, &ANY).is_allow());
        assert_eq!(
            authz.evaluate(&viewer, &ANY),
            Decision::Deny(DenyReason::MissingRole)
        );
        assert!(authz.evaluate(&editor, &ALL).is_allow());
        assert_eq!(
            authz.evaluate(&viewer, &ALL),
            Decision::Deny(DenyReason::MissingPermission)
        );
        assert!(authz.evaluate(&viewer, &NOT_ADMIN).is_allow());
        assert!(authz.evaluate(&editor, &NOT_ADMIN).is_allow()); // editor inherits viewer
        let admin = Principal::new("a").with_roles(["admin", "viewer"]);
        assert_eq!(
            authz.evaluate(&admin, &NOT_ADMIN),
            Decision::Deny(DenyReason::Excluded)
        );
        assert_eq!(
            authz.evaluate(&viewer, &Expr::Any(&[])),
            Decision::default()
        );
        assert!(authz.evaluate(&viewer, &Expr::All(&[])).is_allow());
    }

    #[test]
    fn set_roles_error_keeps_previous() {
        let authz = seed();
        let err = authz
            .set_roles(BTreeMap::from([(
                "a".to_owned(),
                RoleDefinition::default().inherits(["b"]),
            )]))
            .unwrap_err();
        assert!(matches!(err, RoleGraphError::UnknownParent { .. }));
        let viewer = Principal::new("v").with_roles(["viewer"]);
        assert!(authz.authorize(&viewer, "articles", "read").is_ok());
    }
}
