//! One-time tokens for password reset and e-mail verification: what is
//! stored ([`OneTimeToken`]: only the SHA-256 of the token), the
//! [`OneTimeTokenStore`] trait and its in-memory implementation.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::{StoreError, StoreFuture, check_id};

/// What a one-time token is for; a token of one purpose never serves the
/// other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenPurpose {
    /// Sets a new password without the old one.
    PasswordReset,
    /// Proves that the user reads mail sent to their address.
    EmailVerification,
}

impl TokenPurpose {
    /// The stable name stored with the token (`password_reset`,
    /// `email_verification`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
        }
    }
}

impl fmt::Display for TokenPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored one-time token: the digest of the secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeToken {
    /// The SHA-256 of the token as mailed, 64 lower-case hex digits.
    pub digest: String,
    /// What the token is for.
    pub purpose: TokenPurpose,
    /// The user it acts for.
    pub user_id: String,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// The token is refused from this instant on, Unix seconds.
    pub expires_at: u64,
}

/// Where one-time tokens live.
///
/// Implementations: [`MemoryOneTimeTokenStore`], `SqliteOneTimeTokenStore`
/// (feature `sqlite`) and `PostgresOneTimeTokenStore` (feature `postgres`).
/// A [`StoreError`] is never read as "no such token" the other way round: a
/// caller refuses the operation (fail closed).
pub trait OneTimeTokenStore: fmt::Debug + Send + Sync {
    /// Stores a new token.
    fn insert<'a>(&'a self, token: &'a OneTimeToken) -> StoreFuture<'a, ()>;

    /// The user of the unused, unexpired token with this digest and purpose,
    /// without using it up.
    fn peek<'a>(
        &'a self,
        digest: &'a str,
        purpose: TokenPurpose,
        now: u64,
    ) -> StoreFuture<'a, Option<String>>;

    /// Uses the token up, atomically: of concurrent calls with one token, at
    /// most one gets the user id; a used, expired, unknown or
    /// other-purpose token gives `None`.
    fn consume<'a>(
        &'a self,
        digest: &'a str,
        purpose: TokenPurpose,
        now: u64,
    ) -> StoreFuture<'a, Option<String>>;

    /// Uses up every outstanding token of `user_id` for `purpose` (after a
    /// password change, pending reset links must die); returns how many.
    fn revoke_user<'a>(&'a self, user_id: &'a str, purpose: TokenPurpose) -> StoreFuture<'a, u64>;

    /// Deletes used and expired tokens; returns how many.
    fn purge(&self, now: u64) -> StoreFuture<'_, u64>;
}

/// A fresh token: 32 random bytes, base64url without padding (43
/// characters), and its digest.
pub(crate) fn new_token() -> Result<(String, String), StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| StoreError::Corrupt {
        backend: "random",
        detail: "the operating system gave no random bytes",
    })?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let digest = token_digest(&token);
    Ok((token, digest))
}

/// The SHA-256 of a token as presented, in lower-case hex: what a store
/// keeps and looks up.
///
/// ```
/// use lexigram_auth::authn::token_digest;
///
/// assert_eq!(token_digest("abc").len(), 64);
/// ```
#[must_use]
pub fn token_digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `token` has the shape of one we issued (43 base64url
/// characters), so that garbage never reaches a store.
pub(crate) fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, Clone)]
struct Entry {
    token: OneTimeToken,
    used: bool,
}

impl Entry {
    fn live(&self, purpose: TokenPurpose, now: u64) -> bool {
        !self.used && self.token.purpose == purpose && now < self.token.expires_at
    }
}

/// A [`OneTimeTokenStore`] in process memory: for tests and single-process
/// applications. Outstanding tokens are lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryOneTimeTokenStore {
    tokens: RwLock<HashMap<String, Entry>>,
}

impl MemoryOneTimeTokenStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many tokens are held, used and expired ones included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no token is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl OneTimeTokenStore for MemoryOneTimeTokenStore {
    fn insert<'a>(&'a self, token: &'a OneTimeToken) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            check_id("token digest", &token.digest)?;
            check_id("user id", &token.user_id)?;
            self.tokens
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    token.digest.clone(),
                    Entry {
                        token: token.clone(),
                        used: false,
                    },
                );
            Ok(())
        })
    }

    fn peek<'a>(
        &'a self,
        digest: &'a str,
        purpose: TokenPurpose,
        now: u64,
    ) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            check_id("token digest", digest)?;
            let tokens = self.tokens.read().unwrap_or_else(PoisonError::into_inner);
            Ok(tokens
                .get(digest)
                .filter(|e| e.live(purpose, now))
                .map(|e| e.token.user_id.clone()))
        })
    }

    fn consume<'a>(
        &'a self,
        digest: &'a str,
        purpose: TokenPurpose,
        now: u64,
    ) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            check_id("token digest", digest)?;
            let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
            let Some(entry) = tokens.get_mut(digest).filter(|e| e.live(purpose, now)) else {
                return Ok(None);
            };
            entry.used = true;
            Ok(Some(entry.token.user_id.clone()))
        })
    }

    fn revoke_user<'a>(&'a self, user_id: &'a str, purpose: TokenPurpose) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            check_id("user id", user_id)?;
            let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
            let mut n = 0u64;
            for entry in tokens.values_mut() {
                if !entry.used && entry.token.user_id == user_id && entry.token.purpose == purpose {
                    entry.used = true;
                    n += 1;
                }
            }
            Ok(n)
        })
    }

    fn purge(&self, now: u64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
            let before = tokens.len();
            tokens.retain(|_, e| !e.used && now < e.token.expires_at);
            Ok(u64::try_from(before - tokens.len()).unwrap_or(u64::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(digest: &str, purpose: TokenPurpose, expires_at: u64) -> OneTimeToken {
        OneTimeToken {
            digest: digest.into(),
            purpose,
            user_id: "u1".into(),
            created_at: 0,
            expires_at,
        }
    }

    #[test]
    fn tokens_are_random_well_formed_and_hashed() {
        let (a, da) = new_token().unwrap();
        let (b, _) = new_token().unwrap();
        assert_ne!(a, b);
        assert!(well_formed(&a));
        assert_eq!(da, token_digest(&a));
        assert_eq!(da.len(), 64);
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}+", &a[..42])));
    }

    #[tokio::test]
    async fn consume_is_single_use_expiring_and_purpose_bound() {
        let store = MemoryOneTimeTokenStore::new();
        store
            .insert(&token("d1", TokenPurpose::PasswordReset, 100))
            .await
            .unwrap();
        let reset = TokenPurpose::PasswordReset;
        let verify = TokenPurpose::EmailVerification;
        assert_eq!(store.consume("d1", verify, 10).await.unwrap(), None);
        assert_eq!(store.consume("d1", reset, 100).await.unwrap(), None);
        assert_eq!(
            store.peek("d1", reset, 10).await.unwrap().as_deref(),
            Some("u1")
        );
        assert_eq!(
            store.consume("d1", reset, 10).await.unwrap().as_deref(),
            Some("u1")
        );
        assert_eq!(store.consume("d1", reset, 10).await.unwrap(), None);
        store.insert(&token("d2", reset, 100)).await.unwrap();
        store.insert(&token("d3", verify, 100)).await.unwrap();
        assert_eq!(store.revoke_user("u1", reset).await.unwrap(), 1);
        assert_eq!(store.peek("d2", reset, 10).await.unwrap(), None);
        assert_eq!(store.purge(10).await.unwrap(), 2);
        assert_eq!(store.len(), 1);
    }
}
