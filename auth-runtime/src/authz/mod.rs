//! Role-based access control: the permission grammar, the compiled role graph,
//! requirement expressions and [`AuthorizationService`].

pub mod grammar;
mod graph;
mod requirement;
mod service;

pub use grammar::{Grant, Permission};
pub use graph::{RoleDefinition, RoleGraph};
pub use requirement::{Expr, MFA_METHODS, NamedRequirement, Requirement, TypedPermission};
pub(crate) use service::StepUp;
pub use service::{AuthorizationService, Decision, DenyReason, check_principal};
