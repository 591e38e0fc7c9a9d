//! Passwords: Argon2id hashing, legacy verification with upgrade on login,
//! and the password policy.
//!
//! ```
//! use lexigram_auth::password::{
//!     PasswordConfig, PasswordContext, PasswordHasher, PasswordPolicy, Verification,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Registration: check the rules (all broken rules are reported at once),
//! // then store the Argon2id hash (m=19456 KiB, t=2, p=1 by default).
//! let policy = PasswordPolicy::new(PasswordConfig::default())?;
//! let context = PasswordContext::new().email("alice@example.com");
//! policy.validate("Correct-Horse-Battery-9", &context)?;
//! let err = policy.validate("alice123", &context).unwrap_err();
//! assert_eq!(err.codes().count(), 3); // too short, no upper-case, contains `alice`
//!
//! let hasher = PasswordHasher::default();
//! let stored = hasher.hash("Correct-Horse-Battery-9").await?;
//! assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
//!
//! // Login: a match may ask for the stored hash to be upgraded (bcrypt and
//! // weaker Argon2 hashes do).
//! match hasher.verify("Correct-Horse-Battery-9", &stored).await? {
//!     Verification::Match { needs_rehash: true } => {
//!         let _upgraded = hasher.hash("Correct-Horse-Battery-9").await?; // store it
//!     }
//!     Verification::Match { needs_rehash: false } => {}
//!     Verification::NoMatch => unreachable!(),
//! }
//!
//! // Unknown user: spend the same time as for a known one.
//! hasher.verify_dummy("whatever was typed").await?;
//! # Ok(())
//! # }
//! ```
//!
//! Hashing and verification run on tokio's blocking pool, never on the async
//! executor, at most one per core at a time. A stored hash cannot make a
//! verification allocate more than [`MAX_VERIFY_MEMORY_KIB`] nor run more
//! than [`MAX_VERIFY_ITERATIONS`] passes or a bcrypt cost above
//! [`MAX_VERIFY_BCRYPT_COST`]: such hashes are refused with a typed error.
//!
//! bcrypt hashes (`$2a$`, `$2b$`, `$2y$`) verify with OpenBSD semantics;
//! crypt_blowfish's `$2x$` (its pre-2011 sign-extension bug) is refused as
//! unsupported, and its `$2a$` countermeasure for passwords with bytes
//! `0x80..` (rare) is not reproduced. Passwords over 72 bytes are checked
//! against bcrypt hashes in the Python lexigram-auth's format:
//! bcrypt(base64(SHA-256(password))).

mod hasher;
mod policy;
mod pool;

pub use crate::error::PasswordError;
pub use hasher::{
    Argon2Params, MAX_VERIFY_BCRYPT_COST, MAX_VERIFY_ITERATIONS, MAX_VERIFY_MEMORY_KIB,
    MAX_VERIFY_PARALLELISM, PasswordHasher, Verification,
};
pub use policy::{
    CommonPasswords, PasswordConfig, PasswordContext, PasswordPolicy, PolicyViolation,
    PolicyViolations,
};
pub use pool::HASH_THREAD_NICE;
