//! The axum integration: the [`Guard`] extractor, the [`Principal`](crate::Principal)
//! extractor, the [`TenantPath`] extractor for routes with the tenant in the
//! path, router-level [`GuardLayer`] and the rejection types.

mod guard;
mod layer;
mod rejection;
pub(crate) mod state;
mod tenant;

pub use guard::{Guard, GuardedHandler, PolicyGuard, guarded};
pub use layer::{GuardFuture, GuardLayer, GuardService};
pub use rejection::{AuthRejection, RejectionKind, RejectionRenderer, problem_body};
pub use tenant::TenantPath;
