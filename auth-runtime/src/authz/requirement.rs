//! Requirement expressions: what a guard asks of a principal.

/// A requirement expression, as written in a guard attribute.
///
/// The guard macros build these as constants after validating every name at
/// compile time; [`GuardLayer`](crate::axum::GuardLayer) and hand-written
/// [`Requirement`] types use the same form. Evaluation always starts from an
/// authenticated principal: an anonymous caller is answered 401 before any
/// expression is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expr {
    /// Any authenticated principal.
    Authenticated,
    /// The principal holds this role, directly or through inheritance.
    Role(&'static str),
    /// The principal holds this permission, through a role or directly.
    Permission(&'static str),
    /// Every sub-expression holds (an empty list holds).
    All(&'static [Expr]),
    /// At least one sub-expression holds (an empty list does not hold).
    Any(&'static [Expr]),
    /// The sub-expression does not hold.
    Not(&'static Expr),
    /// The principal authenticated at most this many seconds ago
    /// (`#[require_auth(fresh = "5m")]`). A principal whose authentication
    /// time is unknown is not fresh. Failing only this is a step-up
    /// challenge (401, `error="insufficient_user_authentication"`, RFC 9470),
    /// not a 403.
    FreshWithin(u64),
    /// The principal authenticated with more than one factor
    /// (`#[require_auth(mfa)]`): its `amr` (RFC 8176) holds `mfa`, or a
    /// second factor next to another method (see [`MFA_METHODS`]). Failing
    /// only this is a step-up challenge, like [`Expr::FreshWithin`].
    Mfa,
}

/// The `amr` values (RFC 8176) that count as a second factor for
/// [`Expr::Mfa`] when the principal also has another method: one-time
/// passwords, hardware and software keys, SMS and telephone confirmation,
/// smart cards. `mfa` alone satisfies it.
pub const MFA_METHODS: &[&str] = &["otp", "hwk", "swk", "sms", "tel", "sc"];

/// Whether `amr` shows multi-factor authentication (see [`Expr::Mfa`]).
pub(crate) fn amr_is_mfa(amr: &[String]) -> bool {
    amr.iter().any(|m| m == "mfa")
        || (amr.len() >= 2 && amr.iter().any(|m| MFA_METHODS.contains(&m.as_str())))
}

/// A type that carries a requirement expression.
///
/// The guard macros generate one zero-sized type per guarded handler that
/// implements this trait; [`Guard<R>`](crate::axum::Guard) evaluates `R::EXPR`.
///
/// ```
/// use lexigram_auth::authz::{Expr, Requirement};
///
/// /// Editors or admins.
/// struct Editors;
/// impl Requirement for Editors {
///     const EXPR: Expr = Expr::Any(&[Expr::Role("editor"), Expr::Role("admin")]);
/// }
/// assert_eq!(Editors::EXPR, Expr::Any(&[Expr::Role("editor"), Expr::Role("admin")]));
/// ```
pub trait Requirement: Send + Sync + 'static {
    /// The expression a principal must satisfy.
    const EXPR: Expr;
}

/// A permission named by a Rust value: an enum with one variant per
/// permission, usable in guards as `#[require_permissions(Perm::ArticlesWrite)]`.
///
/// Derive it with `#[derive(lexigram_auth::Permission)]` (feature `macros`),
/// which checks every name at compile time like a guard's permission literal
/// (grammar and catalog):
///
/// ```
/// use lexigram_auth::authz::TypedPermission;
/// use lexigram_auth::Permission;
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Permission)]
/// enum Perm {
///     ArticlesRead,
///     ArticlesWrite,
///     #[permission("billing.export_csv")]
///     ExportInvoices,
/// }
///
/// assert_eq!(Perm::ArticlesWrite.name(), "articles.write");
/// assert_eq!(Perm::NAMES[Perm::ExportInvoices as usize], "billing.export_csv");
/// ```
///
/// A guard turns `Perm::ArticlesWrite` into the constant
/// `Expr::Permission(<Perm as TypedPermission>::NAMES[Perm::ArticlesWrite as usize])`,
/// so `NAMES` must list the variants' names in declaration order, on an enum
/// without explicit discriminants; the derive guarantees both. A hand-written
/// impl must keep that promise and use only valid permission names.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a typed permission",
    label = "a guard takes permission literals such as `\"articles.write\"`, or variants of an enum that derives `Permission`",
    note = "derive it: `#[derive(lexigram_auth::Permission)] enum {Self} {{ .. }}`"
)]
pub trait TypedPermission: Send + Sync + 'static {
    /// Every variant's permission name, in declaration order.
    const NAMES: &'static [&'static str];

    /// This permission's name, such as `articles.write`.
    fn name(&self) -> &'static str;
}

/// A requirement with a name, for start-up reports such as
/// [`AuthModule::unsatisfiable_guards`](crate::AuthModule::unsatisfiable_guards).
///
/// Build one from a requirement type with [`NamedRequirement::of`], or from a
/// guarded handler with [`axum::guarded`](crate::axum::guarded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NamedRequirement {
    /// The name reported: the Rust path of the handler or type.
    pub name: &'static str,
    /// The requirement.
    pub expr: Expr,
}

impl NamedRequirement {
    /// The requirement of a requirement type, named after the type.
    ///
    /// ```
    /// use lexigram_auth::authz::{Expr, NamedRequirement, Requirement};
    ///
    /// struct Admins;
    /// impl Requirement for Admins {
    ///     const EXPR: Expr = Expr::Role("admin");
    /// }
    /// let named = NamedRequirement::of::<Admins>();
    /// assert!(named.name.ends_with("Admins"));
    /// assert_eq!(named.expr, Expr::Role("admin"));
    /// ```
    #[must_use]
    pub fn of<R: Requirement>() -> Self {
        Self {
            name: std::any::type_name::<R>(),
            expr: R::EXPR,
        }
    }
}

impl Expr {
    /// Whether the expression contains `Not` (otherwise holding more roles
    /// never makes it fail).
    /// The smallest `FreshWithin` age anywhere in the expression: the
    /// `max_age` of a step-up challenge.
    pub(crate) fn fresh_within(&self) -> Option<u64> {
        match self {
            Self::FreshWithin(age) => Some(*age),
            Self::Not(_)
            | Self::Authenticated
            | Self::Role(_)
            | Self::Permission(_)
            | Self::Mfa => None,
            Self::All(items) | Self::Any(items) => {
                items.iter().filter_map(Self::fresh_within).min()
            }
        }
    }

    pub(crate) fn has_not(&self) -> bool {
        match self {
            Self::Authenticated
            | Self::Role(_)
            | Self::Permission(_)
            | Self::FreshWithin(_)
            | Self::Mfa => false,
            Self::Not(_) => true,
            Self::All(items) | Self::Any(items) => items.iter().any(Self::has_not),
        }
    }
}
