//! Authentication and authorization for [axum] applications.
//!
//! Annotate handlers with guard attributes; role and permission names are
//! checked by the compiler, and the check runs before the handler's other
//! extractors:
//!
//! ```
//! use axum::{Json, Router, extract::Path, routing::{get, put}};
//! use lexigram_auth::{AuthModule, Principal, require_auth, require_permissions, require_roles};
//!
//! #[require_auth]
//! async fn me(principal: Principal) -> String {
//!     principal.subject().to_owned()
//! }
//!
//! #[require_roles("editor", "admin")]
//! async fn drafts() -> &'static str {
//!     "drafts"
//! }
//!
//! #[require_permissions("articles.write")]
//! async fn update(Path(id): Path<u64>, Json(body): Json<String>) -> String {
//!     format!("{id}: {body}")
//! }
//!
//! let auth = AuthModule::stub(); // tests: random key, the seed guide's roles
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/drafts", get(drafts))
//!     .route("/articles/{id}", put(update))
//!     .with_state(auth.clone());
//!
//! // A bearer token for any principal, for tests.
//! let token = auth.token_for(&Principal::new("alice").with_roles(["editor"]))?;
//! # let _ = (app, token);
//! # Ok::<(), lexigram_auth::error::TokenError>(())
//! ```
//!
//! - `#[require_auth]`: any authenticated principal (401 otherwise).
//! - `#[require_roles(..)]`: any of the roles, with inheritance (403 otherwise).
//! - `#[require_permissions(..)]`: all of the permissions.
//! - Both take nested `any(..)`, `all(..)` and `not(..)`; several guard
//!   attributes on one handler must all hold.
//! - `#[require_auth(fresh = "5m")]`, `#[require_auth(mfa)]`: step-up
//!   options (a 401 challenge, RFC 9470); on a function taking `&Principal`
//!   every guard checks that principal and returns the refusal through the
//!   function's `Result` ([`docs::guards`]).
//! - `#[derive(Policy)]` and `#[require_policy(..)]`: attribute-based rules
//!   checked at compile time and run as generated code; resources loaded in
//!   a handler are checked with [`AuthModule::check`] ([`docs::abac`]).
//!
//! Rejections are RFC 9457 `application/problem+json` bodies with a stable
//! `code` that never reveal which check failed; 401s carry
//! `WWW-Authenticate: Bearer`.
//!
//! Each snippet of the Python lexigram-auth guide, in Rust and run as a
//! doctest: [`docs::guide`].
//!
//! # Features
//!
//! | feature | default | what it enables |
//! |---|---|---|
//! | `macros` | yes | the guard attribute macros, re-exported from `lexigram-auth-macros` |
//! | `sqlite` | no | `revocation::SqliteRevocationStore` and the other SQLite stores (users, sessions, API keys, one-time tokens, `abac::SqliteDelegationStore`, `abac::SqlitePolicyStore`), through sqlx (SQLite bundled) |
//! | `postgres` | no | `revocation::PostgresRevocationStore` and the other PostgreSQL stores (users, sessions, API keys, one-time tokens, `abac::PostgresDelegationStore`, `abac::PostgresPolicyStore`), through sqlx |
//! | `redis` | no | `revocation::RedisRevocationStore`, cluster-ready keys, through the `redis` crate |
//! | `cli` | no | the `lexigram-auth` command-line tool ([`docs::cli`]): doctor, secrets and key pairs, password hashes, tokens, roles, users and sessions; implies `sqlite` |
//! | `remote-jwks` | no | `token::RemoteJwks`: verifying an external issuer's tokens against its JWKS URL (cached keys, rate-limited refetch, background refresh), through `reqwest` with rustls |
//!
//! # Design notes
//!
//! No role is special because of its name: a role granted `*` has every
//! permission. Wildcards are allowed in grants only and match whole segments.
//! The role hierarchy is compiled into bitsets when roles are set, so a check
//! costs one hash lookup and one bitset intersection whatever the depth.

#[doc(hidden)]
pub mod __private;

/// Long-form documentation.
pub mod docs {
    #[doc = include_str!("docs/cli.md")]
    pub mod cli {}
    #[doc = include_str!("docs/config.md")]
    pub mod config {}
    #[doc = include_str!("docs/abac.md")]
    pub mod abac {}
    #[doc = include_str!("docs/guards.md")]
    pub mod guards {}
    #[doc = include_str!("docs/guide.md")]
    pub mod guide {}
    #[doc = include_str!("docs/rbac.md")]
    pub mod rbac {}
}
pub mod abac;
pub mod apikey;
pub mod authn;
pub mod authz;
pub mod axum;
pub mod clock;
pub mod config;
pub mod environment;
pub mod error;
mod module;
pub mod password;
mod principal;
pub mod ratelimit;
pub mod revocation;
pub mod session;
pub mod store;
pub mod token;
mod wiring;

pub use module::{AuthModule, AuthModuleBuilder, seed_roles};
pub use principal::{AuthMethod, Principal};

#[cfg(feature = "macros")]
pub use lexigram_auth_macros::{
    Permission, Policy, require_auth, require_permissions, require_policy, require_roles,
};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
