//! Authentication: the login flow ([`AuthenticationService`]), users and
//! their credentials ([`UserStore`], with memory, SQLite and PostgreSQL
//! implementations), account lockout ([`Lockout`], with memory and Redis
//! stores) and events ([`EventSink`]).
//!
//! The account flows are methods of [`AuthenticationService`] too:
//! [`register`](AuthenticationService::register),
//! [`change_password`](AuthenticationService::change_password),
//! [`request_reset`](AuthenticationService::request_reset) /
//! [`confirm_reset`](AuthenticationService::confirm_reset) and
//! [`verify_email`](AuthenticationService::verify_email). Their one-time
//! tokens are stored only as SHA-256 digests ([`OneTimeTokenStore`]) and
//! mailed through a [`Mailer`].
//!
//! A user may belong to several tenants with different roles in each
//! ([`TenantRoleStore`], kept by every user store);
//! [`AuthenticationService::authenticate_in`] logs in within one of them.
//!
//! A user is found by a [normalised](normalize_email) e-mail address; the
//! password hash lives apart from the account ([`Credentials`]) and is only
//! replaced by compare-and-swap ([`UserStore::replace_password_hash`]), so a
//! hash upgrade after a login and a concurrent password change never
//! overwrite each other. Every user store is also the
//! [`UserLookup`](crate::token::UserLookup) that refresh rotation reads
//! current roles from: a user who is gone or inactive can no longer refresh.
//!
//! ```
//! use lexigram_auth::authn::{Created, HashSwap, MemoryUserStore, NewUser, UserStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lexigram_auth::store::StoreError> {
//! let store = MemoryUserStore::new();
//! let new = NewUser::new("bob@example.com", "Bob")
//!     .with_roles(["viewer"])
//!     .with_password_hash("$argon2id$v=19$m=19456,t=2,p=1$...");
//! let Created::Created(bob) = store.create_user(&new, 1_000).await? else {
//!     unreachable!("a fresh store has no bob")
//! };
//! let old = store.credentials(&bob.id).await?.and_then(|c| c.password_hash);
//! // Replaced only if nobody changed it in between:
//! let swap = store
//!     .replace_password_hash(&bob.id, old.as_deref(), "$argon2id$new", 5, 1_001)
//!     .await?;
//! assert_eq!(swap, HashSwap::Swapped);
//! # Ok(())
//! # }
//! ```

mod events;
mod flows;
mod lockout;
#[cfg(feature = "redis")]
mod lockout_redis;
mod mail;
mod onetime;
#[cfg(feature = "postgres")]
mod onetime_postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod onetime_sql;
#[cfg(feature = "sqlite")]
mod onetime_sqlite;
#[cfg(feature = "postgres")]
mod postgres;
mod routes;
mod service;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod tenant;
mod user;

pub use crate::error::{AccountError, AuthenticationFailed};
pub use events::{AuthEvent, ChannelSink, EventSink, FailureReason, TracingSink};
pub use flows::{AccountConfig, NewRegistration};
pub use lockout::{Failures, LockState, Lockout, LockoutConfig, LockoutStore, MemoryLockoutStore};
#[cfg(feature = "redis")]
pub use lockout_redis::RedisLockoutStore;
pub use mail::{ChannelMailer, LoggingMailer, Mail, MailError, MailFuture, Mailer};
pub use onetime::{
    MemoryOneTimeTokenStore, OneTimeToken, OneTimeTokenStore, TokenPurpose, token_digest,
};
#[cfg(feature = "postgres")]
pub use onetime_postgres::PostgresOneTimeTokenStore;
#[cfg(feature = "sqlite")]
pub use onetime_sqlite::SqliteOneTimeTokenStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresUserStore;
pub use routes::{LoginMode, auth_routes, auth_routes_with};
pub use service::{AuthenticationService, DEFAULT_PASSWORD_HISTORY};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteUserStore;
pub use tenant::TenantRoleStore;
pub use user::{
    Created, Credentials, HashSwap, MAX_EMAIL_LEN, MemoryUserStore, NewUser, Updated, User,
    UserStore, normalize_email,
};
