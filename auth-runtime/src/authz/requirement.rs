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
