//! Guard attribute macros for [`lexigram-auth`]. Depend on `lexigram-auth`,
//! which re-exports them as `lexigram_auth::{require_auth, require_roles,
//! require_permissions}`; this crate is an implementation detail.
//!
//! ```
//! use axum::{Router, extract::Path, routing::put};
//! use lexigram_auth::{AuthModule, require_permissions, require_roles};
//!
//! #[require_roles("editor", "admin")]
//! #[require_permissions("articles.write")]
//! async fn update(Path(id): Path<u64>) -> String {
//!     format!("updated {id}")
//! }
//!
//! let app: Router = Router::new()
//!     .route("/articles/{id}", put(update))
//!     .with_state(AuthModule::stub());
//! # drop(app);
//! ```
//!
//! # What a guard expands to
//!
//! A guard attribute on an `async fn` emits, next to the function:
//!
//! 1. a hidden unit struct (`__LexigramAuth` followed by the function's name
//!    in CamelCase, with the function's visibility) implementing
//!    `lexigram_auth::__private::Requirement`, whose `EXPR` constant is the
//!    validated requirement;
//! 2. when the router state type is known, a constant that checks at
//!    compile time that the state provides the `AuthModule` (below);
//! 3. the function itself, token for token (attributes, visibility,
//!    generics, where clause, return type and body unchanged), with one
//!    extra **leading** parameter `_: Guard<Marker>`.
//!
//! ```text
//! #[require_roles("editor", "admin")]
//! pub async fn update(State(s): State<AppState>, Path(id): Path<u64>) -> impl IntoResponse { .. }
//! ```
//!
//! becomes
//!
//! ```text
//! #[doc(hidden)]
//! pub struct __LexigramAuthUpdate;
//! impl ::lexigram_auth::__private::Requirement for __LexigramAuthUpdate {
//!     const EXPR: ::lexigram_auth::__private::Expr = ::lexigram_auth::__private::Expr::Any(&[
//!         ::lexigram_auth::__private::Expr::Role("editor"),
//!         ::lexigram_auth::__private::Expr::Role("admin"),
//!     ]);
//! }
//! const _: fn() = || {
//!     let __lexigram_auth_probe = ::lexigram_auth::__private::StateProbe::<AppState>::new();
//!     {
//!         use ::lexigram_auth::__private::probe::*;
//!         ::lexigram_auth::__private::assert_wired((&&__lexigram_auth_probe).probe());
//!     }
//! };
//! pub async fn update(
//!     _: ::lexigram_auth::__private::Guard<__LexigramAuthUpdate>,
//!     State(s): State<AppState>,
//!     Path(id): Path<u64>,
//! ) -> impl IntoResponse { .. }
//! ```
//!
//! `Guard` is an axum extractor. Being the first parameter, it runs before
//! the other extractors: an unauthorised caller gets 401 or 403 before the
//! body is read. Generated code names nothing but
//! `::lexigram_auth::__private`, so it is immune to a caller's own `Result`,
//! `Option` or `Box`, and it needs no `#[allow]`: it is clean under
//! `#![deny(warnings, missing_docs, clippy::pedantic)]` and a user's `forbid`.
//!
//! # Requirement structs
//!
//! On a unit struct instead of a function, a guard emits the struct
//! unchanged plus the `Requirement` impl for it, so that router-level
//! layers (`GuardLayer::<Editors>`) reuse the same validated requirement:
//!
//! ```
//! use lexigram_auth::authz::{Expr, Requirement};
//! use lexigram_auth::require_roles;
//!
//! /// Editors or admins.
//! #[require_roles("editor", "admin")]
//! struct Editors;
//!
//! assert_eq!(Editors::EXPR, Expr::Any(&[Expr::Role("editor"), Expr::Role("admin")]));
//! ```
//!
//! # Stacked guards
//!
//! Several guard attributes on one item must all hold: the item gets **one**
//! `Guard` whose requirement is `Expr::All(&[..])` of each attribute's
//! requirement, outermost first. Each guard attribute forwards itself into
//! the next one it finds on the item (written `require_*`,
//! `lexigram_auth::require_*` or `::lexigram_auth::require_*`), and the last
//! one expands them all; other attributes (`#[doc]`, `#[allow]`,
//! `#[tracing::instrument]`, ..) stay where they are. A guard imported under
//! another name (`use lexigram_auth::require_roles as editors_only;`) is not
//! recognised: it expands on its own and adds a second `Guard`, which still
//! means that both must hold.
//!
//! # The router state check
//!
//! `Guard` finds the `AuthModule` in the router state through `FromRef`.
//! Without that check, a state that lacks the module would only show up as
//! axum's generic "`Handler` is not implemented" error where the handler is
//! routed. Like axum's `#[debug_handler]`, the guard therefore takes the state
//! type from a `State<T>` parameter (any path ending in `State` with one type
//! argument) or from an explicit `state = T` argument, which wins, and emits
//! a check spanned at `T` that fails with the runtime's
//! `#[diagnostic::on_unimplemented]` message saying what to add.
//!
//! The check is skipped when the state type is unknown (no `State<T>`
//! parameter and no `state = T`) and for generic functions, whose state may
//! depend on the generics. Such handlers are still safe: `Guard`'s own
//! `AuthModule: FromRef<S>` bound is checked where the handler is routed,
//! only with axum's less specific error.
//!
//! # Compile-time validation
//!
//! - permission: lower-case segments of `[a-z0-9_-]` joined by `.`, 1 to 8
//!   segments, at most 128 bytes, no `*` (wildcards belong to grants);
//! - role: `[a-z][a-z0-9_-]*`, at most 64 bytes;
//! - no duplicate names in one list (nor at the top level of stacked
//!   attributes of the same kind), no empty list, no empty `any()`/`all()`,
//!   `not` takes exactly one argument, only string literals, `any`, `all`,
//!   `not` and `state = Type` are accepted;
//! - the function must be a free `async fn` (not `const`, no `self`) with at
//!   most 15 parameters, since the guard adds one and axum accepts 16.
//!
//! Each mistake is a compile error on the offending token, all of them are
//! reported at once, and the item is still emitted (without its guard) so
//! that nothing else fails because of it. The grammar is tested against the
//! same table (`tests/data/names.tsv`) as the runtime's `Permission` parser.
//!
//! # The catalog
//!
//! When the crate being compiled has a catalog, every name must also be in
//! it: a role must be defined under `auth.roles`, and a permission must be
//! granted by some role (directly or through a wildcard grant such as
//! `articles.*`, matched on whole segments exactly as at run time) or
//! declared under `auth.permissions`. Otherwise the literal gets an error
//! with a "did you mean" suggestion (edit distance at most 2, wildcard
//! grants filled in with the requested segments).
//!
//! The catalog is the file named by `LEXIGRAM_AUTH_CATALOG` (relative to the
//! crate's `Cargo.toml` unless absolute), or else the first of
//! `application.yaml`, `application.yml` and `application.toml` next to the
//! crate's `Cargo.toml`, when its `auth` section has `roles` or
//! `permissions`. It is the same file the server loads, read as written:
//! `${VAR}` substitution and `LEX_AUTH__` overrides happen at run time only.
//! A catalog that exists but cannot be read is a compile error; without one
//! only the grammar is checked. Each file is parsed once per compilation.
//!
//! With a catalog, the expansion also contains
//! `const _: &[u8] = ::core::include_bytes!("<the file>");` and
//! `const _: Option<&str> = ::core::option_env!("LEXIGRAM_AUTH_CATALOG");`,
//! so cargo rebuilds the crate when the file changes or the variable changes.
//! Stable Rust cannot track a file that does not exist yet: after *adding* a
//! catalog to a crate that had none, or setting the variable for the first
//! time, rebuild it (`touch src/main.rs` or `cargo clean -p <crate>`).
//!
//! # Typed permissions
//!
//! A permission argument may also be a variant of an enum that derives
//! [`Permission`](derive@Permission), written with the enum's name
//! (`Perm::ArticlesWrite`, `crate::perm::Perm::ArticlesWrite`). The name is
//! only known to the compiler, so the requirement becomes
//! `Expr::Permission(<Perm as TypedPermission>::NAMES[Perm::ArticlesWrite as usize])`,
//! a constant; the derive checks each name against the grammar and the
//! catalog. Any other type gets the error "`Role` is not a typed
//! permission" at the path.
//!
//! Guards apply to free functions only: the hidden struct cannot be emitted
//! inside an `impl` block.
//!
//! [`lexigram-auth`]: https://docs.rs/lexigram-auth

mod catalog;
mod expand;
mod parse;
mod permission;
mod policy;
mod validate;

use proc_macro::TokenStream;

use crate::parse::Kind;

/// Requires an authenticated principal: any valid bearer token, session or
/// API key (401 otherwise).
///
/// ```
/// use axum::{Router, routing::get};
/// use lexigram_auth::{AuthModule, Principal, require_auth};
///
/// #[require_auth]
/// async fn me(principal: Principal) -> String {
///     principal.subject().to_owned()
/// }
///
/// // No `State<T>` parameter: name the state for the compile-time check.
/// #[require_auth(state = AuthModule)]
/// async fn ping() -> &'static str {
///     "pong"
/// }
///
/// let app: Router = Router::new()
///     .route("/me", get(me))
///     .route("/ping", get(ping))
///     .with_state(AuthModule::stub());
/// # drop(app);
/// ```
///
/// The requirement is `Expr::Authenticated`. The only argument is
/// `state = Type`; step-up options (`mfa`, `fresh = ".."`) are not
/// supported yet and are rejected. See the [crate docs](crate) for the
/// expansion, stacking and the router state check.
#[proc_macro_attribute]
pub fn require_auth(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::guard(Kind::Auth, args.into(), item.into()).into()
}

/// Requires **any** of the roles (role inheritance applies; 403 otherwise).
///
/// ```
/// use axum::{Router, extract::State, routing::post};
/// use lexigram_auth::{AuthModule, require_roles};
///
/// #[require_roles("editor", "admin")]
/// async fn publish(State(_auth): State<AuthModule>) -> &'static str {
///     "published"
/// }
///
/// // Admins, or editors who are not suspended.
/// #[require_roles("admin", all("editor", not("suspended")))]
/// async fn unpublish() -> &'static str {
///     "unpublished"
/// }
///
/// let app: Router = Router::new()
///     .route("/publish", post(publish))
///     .route("/unpublish", post(unpublish))
///     .with_state(AuthModule::stub());
/// # drop(app);
/// ```
///
/// Arguments: one or more roles as string literals (`[a-z][a-z0-9_-]*`, at
/// most 64 bytes), each of which may instead be `any(..)`, `all(..)` or
/// `not(..)` nesting further roles, plus an optional `state = Type`.
/// `#[require_roles("a", "b")]` is `Expr::Any(&[Expr::Role("a"),
/// Expr::Role("b")])`; a single role is just `Expr::Role("a")`. See the
/// [crate docs](crate) for the expansion, stacking and the router state
/// check.
#[proc_macro_attribute]
pub fn require_roles(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::guard(Kind::Roles, args.into(), item.into()).into()
}

/// Requires **all** of the permissions (403 otherwise).
///
/// ```
/// use axum::{Json, Router, extract::Path, routing::delete};
/// use lexigram_auth::{AuthModule, require_permissions};
///
/// #[require_permissions("articles.delete", any("articles.moderate", "articles.own"))]
/// async fn remove(Path(id): Path<u64>) -> Json<u64> {
///     Json(id)
/// }
///
/// let app: Router = Router::new()
///     .route("/articles/{id}", delete(remove))
///     .with_state(AuthModule::stub());
/// # drop(app);
/// ```
///
/// Arguments: one or more permissions as string literals (lower-case
/// segments of `[a-z0-9_-]` joined by `.`, 1 to 8 segments, at most 128
/// bytes, no `*`), each of which may instead be `any(..)`, `all(..)` or
/// `not(..)` nesting further permissions, plus an optional `state = Type`.
/// A permission may also be a typed one, `Perm::ArticlesWrite`, from an enum
/// that derives [`Permission`](derive@Permission).
/// `#[require_permissions("a.b", "c.d")]` is
/// `Expr::All(&[Expr::Permission("a.b"), Expr::Permission("c.d")])`; a single
/// permission is just `Expr::Permission("a.b")`. See the [crate docs](crate)
/// for the expansion, stacking and the router state check.
#[proc_macro_attribute]
pub fn require_permissions(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::guard(Kind::Permissions, args.into(), item.into()).into()
}

/// Derives the runtime's `TypedPermission` for a fieldless enum, so that its
/// variants can be used in guards: `#[require_permissions(Perm::ArticlesWrite)]`.
///
/// ```
/// use lexigram_auth::authz::TypedPermission;
/// use lexigram_auth::{Permission, require_permissions};
///
/// #[derive(Debug, Clone, Copy, Permission)]
/// enum Perm {
///     /// `articles.write`: the variant's words, lower-cased, joined by dots.
///     ArticlesWrite,
///     /// Or named explicitly.
///     #[permission("billing.export_csv")]
///     ExportInvoices,
/// }
///
/// #[require_permissions(Perm::ArticlesWrite, any(Perm::ExportInvoices, "reports.read"))]
/// async fn update() {}
///
/// assert_eq!(Perm::ArticlesWrite.name(), "articles.write");
/// assert_eq!(Perm::NAMES, ["articles.write", "billing.export_csv"]);
/// ```
///
/// A variant's name is its `#[permission("..")]`, or else its identifier split
/// into words before each capital letter that follows a lower-case letter or
/// a digit, lower-cased and joined by `.` (`BillingV2Export` is
/// `billing.v2.export`). Each name is checked like a guard's permission
/// literal: the grammar, no duplicates, and the crate's catalog when it has
/// one (see the [crate docs](crate)). Variants carry no fields and no
/// explicit discriminant, since a guard finds a variant's name by its
/// position in `NAMES`.
#[proc_macro_derive(Permission, attributes(permission))]
pub fn derive_permission(item: TokenStream) -> TokenStream {
    permission::derive(item.into()).into()
}

/// Requires a request-level ABAC policy: a unit struct deriving
/// [`Policy`](derive@Policy) whose rules are decided from the principal and
/// the request alone (its method, path, client address and time), together
/// with any policies loaded at run time for its kind. Not allowed is 403,
/// like the other guards; without credentials, 401.
///
/// ```
/// use axum::{Router, routing::get};
/// use lexigram_auth::{AuthModule, Policy, require_policy};
///
/// #[derive(Policy)]
/// #[policy(allow(id = "office-hours", when = context.hour >= 8 && context.hour < 18))]
/// #[policy(deny(id = "no-interns-writing",
///     when = principal.roles.contains("intern") && context.method != "GET"))]
/// struct OfficeHours;
///
/// #[require_policy(OfficeHours)]
/// async fn report() -> &'static str {
///     "report"
/// }
///
/// let app: Router = Router::new().route("/report", get(report)).with_state(AuthModule::stub());
/// # drop(app);
/// ```
#[proc_macro_attribute]
pub fn require_policy(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::policy_guard(args.into(), item.into()).into()
}

/// Derives the runtime's ABAC traits (`Attributes`, `Policy`) for a struct:
/// its fields become typed attributes and the rules in `#[policy(..)]` are
/// checked against them at compile time and evaluated as generated code.
///
/// ```
/// use lexigram_auth::Policy;
///
/// #[derive(Policy)]
/// #[policy(allow(id = "authors-edit-drafts", action = "edit",
///     when = principal.subject == resource.author_id && resource.status == "draft"))]
/// #[policy(deny(id = "locked", when = resource.locked))]
/// struct Article {
///     #[policy(id)]
///     id: String,
///     author_id: String,
///     status: String,
///     locked: bool,
///     #[policy(skip)]
///     body: String,
/// }
/// # let _ = Article { id: String::new(), author_id: String::new(), status: String::new(), locked: false, body: String::new() }.body;
/// ```
///
/// See [`lexigram_auth::docs::abac`](../lexigram_auth/docs/abac/index.html)
/// for the rule language, the attribute types and the engine.
#[proc_macro_derive(Policy, attributes(policy))]
pub fn derive_policy(item: TokenStream) -> TokenStream {
    policy::derive(item.into()).into()
}
