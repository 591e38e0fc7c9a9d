//! The authorization service: roles, permission checks and requirement evaluation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, LazyLock, PoisonError, RwLock, RwLockReadGuard};
use std::time::SystemTime;

use super::grammar::{MAX_PERMISSION_LEN, check_permission, grant_matches};
use super::graph::{RoleDefinition, RoleGraph, RoleSet};
use super::requirement::{Expr, amr_is_mfa};
use crate::Principal;
use crate::error::{AuthorizationFailed, RoleGraphError};

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
pub struct AuthorizationService {
    graph: RwLock<Arc<RoleGraph>>,
}

impl fmt::Debug for AuthorizationService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationService")
            .field("graph", &self.graph())
            .finish()
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
        Self {
            graph: RwLock::new(Arc::new(RoleGraph::empty())),
        }
    }

    /// A service over an already compiled graph.
    #[must_use]
    pub fn with_graph(graph: RoleGraph) -> Self {
        Self {
            graph: RwLock::new(Arc::new(graph)),
        }
    }

    /// Replaces every role definition at once. On error nothing changes.
    ///
    /// # Errors
    /// See [`RoleGraph::compile`].
    pub fn set_roles(&self, roles: BTreeMap<String, RoleDefinition>) -> Result<(), RoleGraphError> {
        let graph = Arc::new(RoleGraph::compile(&roles)?);
        match self.graph.write() {
            Ok(mut slot) => *slot = graph,
            Err(poisoned) => *poisoned.into_inner() = graph,
        }
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
        self.graph.read().unwrap_or_else(PoisonError::into_inner)
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
        self.evaluate_with(principal, expr, StepUp::At(SystemTime::now()))
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
    /// Check them, with this as the current time.
    At(SystemTime),
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
    let now = StepUp::At(SystemTime::now());
    match resolve_in(graph, principal, now, |p| p.evaluate(expr)) {
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
                StepUp::At(now) => {
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
                StepUp::At(_) if amr_is_mfa(self.principal.amr()) => Decision::Allow,
                StepUp::At(_) => Decision::Deny(DenyReason::MfaRequired),
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
