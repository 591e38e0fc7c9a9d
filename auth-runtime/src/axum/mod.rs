//! The axum integration: the [`Guard`] extractor, the [`Principal`](crate::Principal)
//! extractor, router-level [`GuardLayer`] and the rejection types.

mod guard;
mod layer;
mod rejection;
pub(crate) mod state;

pub use guard::{Guard, GuardedHandler, PolicyGuard, guarded};
pub use layer::{GuardFuture, GuardLayer, GuardService};
pub use rejection::{AuthRejection, RejectionKind, RejectionRenderer, problem_body};
