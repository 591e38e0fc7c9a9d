//! Bearer tokens: a first HS256 [`JwtTokenManager`].
//!
//! The algorithm is pinned (HS256, never taken from the header); `exp`, `iat`,
//! `sub` and `typ` are required; `nbf` is checked; an `iat` in the future is
//! rejected; tokens over 8 KiB are rejected before any decoding; keys shorter
//! than 32 bytes are refused when the manager is built. Verification allows
//! [`DEFAULT_LEEWAY`] of clock skew.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::Principal;
use crate::error::TokenError;
use crate::principal::AuthMethod;

/// Tokens larger than this are rejected before decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The shortest HS256 key accepted.
pub const MIN_HS256_KEY_BYTES: usize = 32;
/// Clock skew allowed when checking `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// Default lifetime of an access token.
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);

const ACCESS: &str = "access";

/// The claims of an access token, decoded into a typed struct (a duplicate
/// claim is a decoding error).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessClaims {
    sub: String,
    iat: u64,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    jti: String,
    typ: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
}

/// A token whose signature and claims have been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedToken {
    /// The subject (`sub`).
    pub user_id: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: u64,
    /// The token id.
    pub jti: String,
    /// The token type (`access`).
    pub token_type: String,
    /// Roles carried by the token.
    pub roles: Vec<String>,
    /// Direct permissions carried by the token.
    pub permissions: Vec<String>,
    /// The tenant, if any.
    pub tenant: Option<String>,
}

impl VerifiedToken {
    /// The principal the token speaks for.
    #[must_use]
    pub fn into_principal(self) -> Principal {
        let mut p = Principal::new(self.user_id)
            .with_roles(self.roles)
            .with_permissions(self.permissions)
            .with_authentication(
                AuthMethod::Bearer,
                Some(UNIX_EPOCH + Duration::from_secs(self.iat)),
            );
        if let Some(t) = self.tenant {
            p = p.with_tenant(t);
        }
        p
    }
}

struct Key {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    /// An HMAC key; `None` only for an empty secret.
    fn hmac(secret: &[u8]) -> Option<Self> {
        Some(Self {
            encoding: EncodingKey::from_secret(secret).ok()?,
            decoding: DecodingKey::from_secret(secret).ok()?,
        })
    }
}

/// Creates and verifies HS256 JWTs, choosing the verification key by `kid`.
///
/// ```
/// use lexigram_auth::token::JwtTokenManager;
///
/// # tokio_test_block_on(async {
/// let manager = JwtTokenManager::new("key-1", [("key-1", "a-secret-of-at-least-thirty-two-bytes!")])?;
/// let token = manager.create_access_token("user-123").await?;
/// let verified = manager.verify_token(&token).await?;
/// assert_eq!(verified.user_id, "user-123");
///
/// // Short keys are refused when the manager is built.
/// assert!(JwtTokenManager::new("k", [("k", "your-secret-key")]).is_err());
/// # Ok::<(), lexigram_auth::error::TokenError>(())
/// # }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let waker = std::task::Waker::noop();
/// #     match f.as_mut().poll(&mut std::task::Context::from_waker(&waker)) {
/// #         std::task::Poll::Ready(v) => v,
/// #         std::task::Poll::Pending => unreachable!(),
/// #     }
/// # }
/// ```
pub struct JwtTokenManager {
    current: String,
    keys: HashMap<String, Key>,
    validation: Validation,
    access_ttl: Duration,
    leeway: Duration,
}

impl fmt::Debug for JwtTokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        f.debug_struct("JwtTokenManager")
            .field("current", &self.current)
            .field("kids", &kids)
            .field("keys", &"<redacted>")
            .field("access_ttl", &self.access_ttl)
            .finish_non_exhaustive()
    }
}

impl JwtTokenManager {
    /// A manager signing with `current_key_id` and verifying with any of `keys`.
    ///
    /// # Errors
    /// [`TokenError::NoKeys`], [`TokenError::UnknownCurrentKey`], or
    /// [`TokenError::WeakKey`] for a key shorter than 32 bytes.
    pub fn new<I, K, V>(current_key_id: impl Into<String>, keys: I) -> Result<Self, TokenError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: AsRef<[u8]>,
    {
        let mut map = HashMap::new();
        for (kid, secret) in keys {
            let kid = kid.into();
            let secret = secret.as_ref();
            if secret.len() < MIN_HS256_KEY_BYTES {
                return Err(TokenError::WeakKey {
                    kid,
                    algorithm: "HS256",
                    min_bytes: MIN_HS256_KEY_BYTES,
                    actual: secret.len(),
                });
            }
            let key = Key::hmac(secret).ok_or_else(|| TokenError::WeakKey {
                kid: kid.clone(),
                algorithm: "HS256",
                min_bytes: MIN_HS256_KEY_BYTES,
                actual: secret.len(),
            })?;
            map.insert(kid, key);
        }
        if map.is_empty() {
            return Err(TokenError::NoKeys);
        }
        let current = current_key_id.into();
        if !map.contains_key(&current) {
            return Err(TokenError::UnknownCurrentKey(current));
        }
        let mut manager = Self {
            current,
            keys: map,
            validation: Validation::new(Algorithm::HS256),
            access_ttl: DEFAULT_ACCESS_TTL,
            leeway: DEFAULT_LEEWAY,
        };
        manager.configure_validation();
        Ok(manager)
    }

    /// A manager with no keys: signing fails and every token is rejected.
    pub(crate) fn disabled() -> Self {
        let mut manager = Self {
            current: String::new(),
            keys: HashMap::new(),
            validation: Validation::new(Algorithm::HS256),
            access_ttl: DEFAULT_ACCESS_TTL,
            leeway: DEFAULT_LEEWAY,
        };
        manager.configure_validation();
        manager
    }

    fn configure_validation(&mut self) {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_required_spec_claims(&["exp", "iat", "sub"]);
        v.leeway = self.leeway.as_secs();
        v.validate_exp = true;
        v.validate_nbf = true;
        v.validate_aud = false;
        self.validation = v;
    }

    /// Sets the access-token lifetime.
    #[must_use]
    pub fn with_access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Sets the allowed clock skew.
    #[must_use]
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self.configure_validation();
        self
    }

    /// Creates an access token for a user with no roles.
    ///
    /// # Errors
    /// [`TokenError::Signing`] if the token cannot be signed.
    pub async fn create_access_token(&self, user_id: &str) -> Result<String, TokenError> {
        self.sign_access(&Principal::new(user_id))
    }

    /// Creates an access token carrying a principal's roles, direct permissions
    /// and tenant.
    ///
    /// # Errors
    /// [`TokenError::Signing`] if the token cannot be signed.
    pub async fn create_access_token_for(
        &self,
        principal: &Principal,
    ) -> Result<String, TokenError> {
        self.sign_access(principal)
    }

    /// Verifies an access token.
    ///
    /// # Errors
    /// A [`TokenError`] saying why the token is not acceptable.
    pub async fn verify_token(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        self.verify_access(token)
    }

    /// Signs an access token for `principal` (the synchronous form of
    /// [`create_access_token_for`](Self::create_access_token_for)).
    ///
    /// # Errors
    /// [`TokenError::Signing`] if the token cannot be signed.
    pub fn sign_access(&self, principal: &Principal) -> Result<String, TokenError> {
        let now = unix_now();
        let claims = AccessClaims {
            sub: principal.subject().to_owned(),
            iat: now,
            exp: now.saturating_add(self.access_ttl.as_secs()),
            nbf: None,
            jti: random_id().ok_or(TokenError::Signing)?,
            typ: ACCESS.to_owned(),
            roles: principal.roles().to_vec(),
            permissions: principal.permissions().to_vec(),
            tenant: principal.tenant().map(str::to_owned),
        };
        let key = self.keys.get(&self.current).ok_or(TokenError::Signing)?;
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).map_err(|_| TokenError::Signing)
    }

    /// Verifies an access token (the synchronous form of
    /// [`verify_token`](Self::verify_token)).
    ///
    /// # Errors
    /// A [`TokenError`] saying why the token is not acceptable.
    pub fn verify_access(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge {
                max: MAX_TOKEN_BYTES,
            });
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::BadSignature);
        }
        if header.crit.is_some() {
            return Err(TokenError::Malformed);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    TokenError::BadSignature
                }
                _ => TokenError::Malformed,
            })?;
        let claims = data.claims;
        if claims.iat > unix_now().saturating_add(self.leeway.as_secs()) {
            return Err(TokenError::NotYetValid);
        }
        if claims.typ != ACCESS {
            return Err(TokenError::WrongType);
        }
        Ok(VerifiedToken {
            user_id: claims.sub,
            exp: claims.exp,
            iat: claims.iat,
            jti: claims.jti,
            token_type: claims.typ,
            roles: claims.roles,
            permissions: claims.permissions,
            tenant: claims.tenant,
        })
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// 128 random bits as 32 hex digits, from the operating system.
fn random_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// 32 random bytes from the operating system.
pub(crate) fn random_secret() -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn manager() -> JwtTokenManager {
        JwtTokenManager::new("k1", [("k1", SECRET)]).unwrap()
    }

    #[test]
    fn round_trip_keeps_roles() {
        let m = manager();
        let p = Principal::new("alice")
            .with_roles(["editor"])
            .with_permissions(["x.y"])
            .with_tenant("t1");
        let token = m.sign_access(&p).unwrap();
        let v = m.verify_access(&token).unwrap();
        assert_eq!(v.user_id, "alice");
        assert_eq!(v.roles, ["editor"]);
        assert_eq!(v.permissions, ["x.y"]);
        assert_eq!(v.tenant.as_deref(), Some("t1"));
        assert_eq!(v.exp - v.iat, DEFAULT_ACCESS_TTL.as_secs());
        assert_eq!(v.jti.len(), 32);
    }

    #[test]
    fn weak_and_missing_keys_refused() {
        assert!(matches!(
            JwtTokenManager::new("k", [("k", "short")]),
            Err(TokenError::WeakKey {
                min_bytes: 32,
                actual: 5,
                ..
            })
        ));
        assert_eq!(
            JwtTokenManager::new("x", [("k", SECRET)]).unwrap_err(),
            TokenError::UnknownCurrentKey("x".into())
        );
        assert_eq!(
            JwtTokenManager::new("k", Vec::<(String, String)>::new()).unwrap_err(),
            TokenError::NoKeys
        );
    }

    #[test]
    fn rejects_bad_tokens() {
        let m = manager();
        let other =
            JwtTokenManager::new("k1", [("k1", "another-secret-of-thirty-two-bytes!!")]).unwrap();
        let forged = other.sign_access(&Principal::new("mallory")).unwrap();
        assert_eq!(m.verify_access(&forged), Err(TokenError::BadSignature));
        assert_eq!(m.verify_access("not a token"), Err(TokenError::Malformed));
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            m.verify_access(&huge),
            Err(TokenError::TooLarge {
                max: MAX_TOKEN_BYTES
            })
        );
        let unknown_kid = JwtTokenManager::new("k2", [("k2", SECRET)])
            .unwrap()
            .sign_access(&Principal::new("a"))
            .unwrap();
        assert_eq!(m.verify_access(&unknown_kid), Err(TokenError::UnknownKey));
        // alg none with the same claims
        let token = m.sign_access(&Principal::new("a")).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIiwia2lkIjoiazEifQ.{payload}.");
        assert!(m.verify_access(&none).is_err());
    }

    #[test]
    fn expired_and_wrong_type() {
        let m = manager();
        let key = EncodingKey::from_secret(SECRET.as_bytes()).unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let now = unix_now();
        let sign = |iat: u64, exp: u64, typ: &str| {
            let c = AccessClaims {
                sub: "a".into(),
                iat,
                exp,
                nbf: None,
                jti: "j".into(),
                typ: typ.into(),
                roles: vec![],
                permissions: vec![],
                tenant: None,
            };
            jsonwebtoken::encode(&header, &c, &key).unwrap()
        };
        assert_eq!(
            m.verify_access(&sign(now - 7200, now - 3600, ACCESS)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            m.verify_access(&sign(now + 3600, now + 7200, ACCESS)),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            m.verify_access(&sign(now, now + 60, "refresh")),
            Err(TokenError::WrongType)
        );
        assert!(m.verify_access(&sign(now, now + 60, ACCESS)).is_ok());
    }
}
