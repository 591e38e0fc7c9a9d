//! Bearer tokens: the [`JwtTokenManager`], its keys, rotation and the JWKS.
//!
//! ```
//! use lexigram_auth::token::JwtTokenManager;
//!
//! # block_on(async {
//! let manager = JwtTokenManager::new("key-1", [("key-1", "a-secret-of-at-least-thirty-two-bytes!")])?;
//! let token = manager.create_access_token("user-123").await?;
//! let verified = manager.verify_token(&token).await?;
//! assert_eq!(verified.user_id, "user-123");
//! # Ok::<(), lexigram_auth::error::TokenError>(())
//! # }).unwrap();
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let mut f = std::pin::pin!(f);
//! #     let waker = std::task::Waker::noop();
//! #     match f.as_mut().poll(&mut std::task::Context::from_waker(&waker)) {
//! #         std::task::Poll::Ready(v) => v,
//! #         std::task::Poll::Pending => unreachable!(),
//! #     }
//! # }
//! ```
//!
//! # Keys
//!
//! Every [`Key`] is bound to one [`Algorithm`] when it is made (from an HMAC
//! secret, a PEM or a JWK). Verification looks the key up by the header's
//! `kid` and uses **the key's** algorithm; a header whose `alg` differs (for
//! example `none`, or `HS256` against an RSA key) is a
//! [`TokenError::BadSignature`]. Weak keys are refused when the manager is
//! built or a key is rotated in: HMAC secrets shorter than 32, 48 or 64 bytes
//! for HS256, HS384 and HS512, RSA moduli under 2048 bits, empty keys.
//!
//! # What a token must be
//!
//! Checked in this order:
//!
//! 1. at most [`MAX_TOKEN_BYTES`] (8 KiB), else [`TokenError::TooLarge`];
//! 2. exactly three segments of unpadded, canonical base64url (no `=`, no
//!    whitespace, no stray bits); a five-segment JWE, the JWS JSON
//!    serialization and the like are [`TokenError::Malformed`];
//! 3. the header is one JSON object, parsed by this crate (not by
//!    jsonwebtoken) so that a member given twice, `alg` included, is
//!    malformed; a `crit` member with any value is malformed (no extension is
//!    understood); `jku`, `x5u`, `jwk`, `x5c` and other members are ignored and
//!    never fetched; JSON nested more than 32 levels deep is malformed;
//! 4. `kid` names a live key ([`TokenError::UnknownKey`] otherwise, including
//!    for a missing `kid`), `alg` is that key's algorithm and the signature
//!    verifies ([`TokenError::BadSignature`]);
//!
//! and then, only once the signature holds, the claims: one JSON object (32
//! levels deep at most) in which any member given twice is malformed:
//!
//! - `sub`, `exp`, `iat`, `jti` and `typ` are required
//!   ([`TokenError::MissingClaim`]); `exp`, `iat`, `nbf` and `auth_time` are
//!   non-negative integers (a string, a fraction or a negative number is
//!   [`TokenError::InvalidClaim`]);
//! - `exp` must be after now minus the leeway ([`TokenError::Expired`]);
//!   `nbf` and `iat` must not be after now plus the leeway
//!   ([`TokenError::NotYetValid`]);
//! - with an issuer configured, `iss` must be that string (missing, different
//!   or an array is [`TokenError::WrongIssuer`]);
//! - with an audience configured (`required_audience`), `aud` (a string or an
//!   array of strings) must contain it; without one, a token carrying `aud` is
//!   refused, as RFC 7519 section 4.1.3 requires (both
//!   [`TokenError::WrongAudience`], also for a numeric `aud`);
//! - `typ` must be `access` for [`JwtTokenManager::verify_access`] and
//!   `refresh` (with a `fam` family id) for
//!   [`JwtTokenManager::verify_refresh`] ([`TokenError::WrongType`]).
//!
//! The leeway for clock skew is [`DEFAULT_LEEWAY`], **30 seconds**, unless set
//! with [`JwtTokenManagerBuilder::leeway`].
//!
//! # Rotation
//!
//! [`JwtTokenManager::rotate`] makes a new key current and retires the
//! previous current key at that instant. A retired key still verifies until
//! its retirement time plus the rotation grace period, and is dropped after
//! that; by default the grace period is the longest token lifetime plus the
//! leeway, so no token signed before a rotation is cut short. Set it to zero
//! to drop a compromised key at once. [`JwtTokenManager::jwks`] lists the live
//! public keys (HMAC secrets are never published), and [`jwks_router`] serves
//! them at [`JWKS_PATH`].
//!
//! # Scopes
//!
//! A `scope` claim (a space-separated string or an array of strings) becomes
//! permissions of the principal in [`VerifiedToken::into_principal`]; entries
//! that are not valid permission names are ignored.

mod claims;
mod jwks;
mod key;
mod manager;
mod refresh;
#[cfg(feature = "remote-jwks")]
mod remote;
mod roca;
mod scan;
#[cfg(test)]
mod serde_ref;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use jwks::{JWKS_PATH, Jwk, JwkSet, jwks_response, jwks_router};
pub use key::{Algorithm, Key, MAX_RSA_BITS, MIN_RSA_BITS, SigningKey, VerifyingKey};
pub use manager::{JwtTokenManager, JwtTokenManagerBuilder};
pub use refresh::{AuthToken, UserLookup};
#[cfg(feature = "remote-jwks")]
pub use remote::{
    DEFAULT_FETCH_TIMEOUT, DEFAULT_MAX_STALENESS, DEFAULT_MIN_REFETCH_INTERVAL,
    DEFAULT_REFRESH_INTERVAL, FetchError, MAX_JWKS_BYTES, MAX_JWKS_KEYS, RemoteJwks,
    RemoteJwksBuilder, RemoteJwksError,
};

use crate::Principal;
use crate::authz::grammar::check_permission;
use crate::error::TokenError;
use crate::principal::AuthMethod;

/// Tokens larger than this are rejected before decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The shortest HS256 key accepted.
pub const MIN_HS256_KEY_BYTES: usize = 32;
/// Clock skew allowed when checking `exp`, `nbf` and `iat`: 30 seconds.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// Default lifetime of an access token: 15 minutes.
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// Default lifetime of a refresh token: 7 days.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What a token is for, from its `typ` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// `access`: presented as a bearer token to call APIs.
    Access,
    /// `refresh`: exchanged, once, for a new access token.
    Refresh,
}

impl TokenType {
    /// The `typ` claim value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    fn from_claim(typ: &str) -> Option<Self> {
        match typ {
            "access" => Some(Self::Access),
            "refresh" => Some(Self::Refresh),
            _ => None,
        }
    }
}

/// A token whose signature and claims have been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedToken {
    /// The subject (`sub`).
    pub user_id: String,
    /// Expiry (`exp`), seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time (`iat`), seconds since the Unix epoch.
    pub iat: u64,
    /// Not before (`nbf`), seconds since the Unix epoch.
    pub nbf: Option<u64>,
    /// The token id (`jti`).
    pub jti: String,
    /// The token type (`typ`).
    pub token_type: TokenType,
    /// Roles carried by the token (`roles`).
    pub roles: Vec<String>,
    /// Direct permissions carried by the token (`permissions`).
    pub permissions: Vec<String>,
    /// OAuth scopes (`scope`, split on spaces when a string).
    pub scopes: Vec<String>,
    /// The tenant (`tenant`), if any.
    pub tenant: Option<String>,
    /// The issuer (`iss`), if any.
    pub issuer: Option<String>,
    /// The audiences (`aud`), empty when absent.
    pub audience: Vec<String>,
    /// The refresh-token family (`fam`): on refresh tokens, and on the access
    /// tokens issued with them (so that revoking the family refuses those).
    pub family: Option<String>,
    /// The session id (`sid`), if any.
    pub session_id: Option<String>,
    /// When the user authenticated (`auth_time`), seconds since the Unix epoch.
    pub auth_time: Option<u64>,
    /// How the user authenticated (`amr`, RFC 8176: `pwd`, `otp`, `mfa`, ...),
    /// empty when absent.
    pub amr: Vec<String>,
    /// The id of the key that signed the token (`kid`).
    pub kid: String,
}

impl VerifiedToken {
    /// When the token expires.
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        unix_time(self.exp)
    }

    /// When the token was issued.
    #[must_use]
    pub fn issued_at(&self) -> SystemTime {
        unix_time(self.iat)
    }

    /// The principal the token speaks for: its roles, its permissions plus the
    /// scopes that are valid permission names, its tenant and session, and the
    /// authentication time (`auth_time`; unknown when absent: the issue time
    /// of a token is not when the user authenticated, and taking it would
    /// let a refreshed token pass `#[require_auth(fresh = "..")]`).
    #[must_use]
    pub fn into_principal(self) -> Principal {
        let mut permissions = self.permissions;
        for scope in self.scopes {
            if check_permission(&scope).is_ok() && !permissions.contains(&scope) {
                permissions.push(scope);
            }
        }
        let mut p = Principal::new(self.user_id)
            .with_roles(self.roles)
            .with_permissions(permissions)
            .with_authentication(AuthMethod::Bearer, self.auth_time.map(unix_time));
        if let Some(t) = self.tenant {
            p = p.with_tenant(t);
        }
        if let Some(s) = self.session_id {
            p = p.with_session_id(s);
        }
        p.with_amr(self.amr)
    }
}

/// A verified token borrowed from the token text: what
/// [`JwtTokenManager::verify_access_with`] hands to its closure. Every check
/// of [`JwtTokenManager::verify_access`] has passed; nothing is copied.
///
/// ```
/// use lexigram_auth::Principal;
/// use lexigram_auth::token::JwtTokenManager;
///
/// let manager = JwtTokenManager::new("k", [("k", [7u8; 32])])?;
/// let token = manager.sign_access(&Principal::new("alice").with_roles(["editor"]))?;
/// let is_editor = manager.verify_access_with(&token, |t| {
///     t.user_id() == "alice" && t.roles().any(|r| r == "editor")
/// })?;
/// assert!(is_editor);
/// # Ok::<(), lexigram_auth::error::TokenError>(())
/// ```
#[derive(Debug)]
pub struct TokenView<'a> {
    pub(crate) user_id: &'a str,
    pub(crate) exp: u64,
    pub(crate) iat: u64,
    pub(crate) nbf: Option<u64>,
    pub(crate) jti: &'a str,
    pub(crate) token_type: TokenType,
    pub(crate) roles: Option<&'a claims::Strs<'a>>,
    pub(crate) permissions: Option<&'a claims::Strs<'a>>,
    pub(crate) scope: Option<&'a claims::StrList<'a>>,
    pub(crate) tenant: Option<&'a str>,
    pub(crate) issuer: Option<&'a str>,
    pub(crate) audience: Option<&'a claims::StrList<'a>>,
    pub(crate) family: Option<&'a str>,
    pub(crate) session_id: Option<&'a str>,
    pub(crate) auth_time: Option<u64>,
    pub(crate) amr: Option<&'a claims::Strs<'a>>,
    pub(crate) kid: &'a str,
}

/// The strings of a string-or-array claim (`aud`; `scope` splits its string).
fn str_list<'a>(
    list: Option<&'a claims::StrList<'a>>,
    split: bool,
) -> impl Iterator<Item = &'a str> + use<'a> {
    let (one, many) = match list {
        Some(claims::StrList::One(s)) => (Some(s.as_str()), None),
        Some(claims::StrList::Many(m)) => (None, Some(m)),
        _ => (None, None),
    };
    let (whole, parts) = match one {
        Some(s) if split => (None, Some(s.split(' '))),
        s => (s, None),
    };
    whole
        .into_iter()
        .chain(parts.into_iter().flatten().filter(|s| !s.is_empty()))
        .chain(many.into_iter().flat_map(|m| m.iter()))
}

impl<'a> TokenView<'a> {
    /// The subject (`sub`).
    #[must_use]
    pub fn user_id(&self) -> &'a str {
        self.user_id
    }

    /// Expiry (`exp`), seconds since the Unix epoch.
    #[must_use]
    pub fn exp(&self) -> u64 {
        self.exp
    }

    /// Issue time (`iat`), seconds since the Unix epoch.
    #[must_use]
    pub fn iat(&self) -> u64 {
        self.iat
    }

    /// Not before (`nbf`), seconds since the Unix epoch.
    #[must_use]
    pub fn nbf(&self) -> Option<u64> {
        self.nbf
    }

    /// The token id (`jti`).
    #[must_use]
    pub fn jti(&self) -> &'a str {
        self.jti
    }

    /// The token type (`typ`).
    #[must_use]
    pub fn token_type(&self) -> TokenType {
        self.token_type
    }

    /// Roles carried by the token (`roles`).
    pub fn roles(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.roles.into_iter().flat_map(|r| r.iter())
    }

    /// The authentication methods (`amr`, RFC 8176).
    pub fn amr(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.amr.into_iter().flat_map(|r| r.iter())
    }

    /// Direct permissions carried by the token (`permissions`).
    pub fn permissions(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.permissions.into_iter().flat_map(|p| p.iter())
    }

    /// OAuth scopes (`scope`, split on spaces when a string).
    pub fn scopes(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        str_list(self.scope, true)
    }

    /// The audiences (`aud`).
    pub fn audience(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        str_list(self.audience, false)
    }

    /// The tenant (`tenant`), if any.
    #[must_use]
    pub fn tenant(&self) -> Option<&'a str> {
        self.tenant
    }

    /// The issuer (`iss`), if any.
    #[must_use]
    pub fn issuer(&self) -> Option<&'a str> {
        self.issuer
    }

    /// The refresh-token family (`fam`): on refresh tokens, and on the access
    /// tokens issued with them.
    #[must_use]
    pub fn family(&self) -> Option<&'a str> {
        self.family
    }

    /// The session id (`sid`), if any.
    #[must_use]
    pub fn session_id(&self) -> Option<&'a str> {
        self.session_id
    }

    /// When the user authenticated (`auth_time`), seconds since the Unix epoch.
    #[must_use]
    pub fn auth_time(&self) -> Option<u64> {
        self.auth_time
    }

    /// The id of the key that signed the token (`kid`).
    #[must_use]
    pub fn kid(&self) -> &'a str {
        self.kid
    }

    /// The owned form, as [`JwtTokenManager::verify_access`] returns it.
    #[must_use]
    pub fn to_verified(&self) -> VerifiedToken {
        VerifiedToken {
            user_id: self.user_id.to_owned(),
            exp: self.exp,
            iat: self.iat,
            nbf: self.nbf,
            jti: self.jti.to_owned(),
            token_type: self.token_type,
            roles: self.roles.map(claims::Strs::to_vec).unwrap_or_default(),
            permissions: self
                .permissions
                .map(claims::Strs::to_vec)
                .unwrap_or_default(),
            scopes: self.scopes().map(str::to_owned).collect(),
            tenant: self.tenant.map(str::to_owned),
            issuer: self.issuer.map(str::to_owned),
            audience: self.audience().map(str::to_owned).collect(),
            family: self.family.map(str::to_owned),
            session_id: self.session_id.map(str::to_owned),
            auth_time: self.auth_time,
            amr: self.amr.map(claims::Strs::to_vec).unwrap_or_default(),
            kid: self.kid.to_owned(),
        }
    }
}

impl JwtTokenManager {
    /// Verifies an access token exactly as [`verify_access`](Self::verify_access)
    /// does and passes a borrowed [`TokenView`] to `f`, without copying the
    /// claims: for tokens of up to 1 KiB of claims and up to four entries in
    /// each of `roles`, `permissions`, `aud` and `scope` (without JSON escapes),
    /// verification allocates nothing.
    ///
    /// # Errors
    /// A [`TokenError`] saying why the token is not acceptable; `f` is then
    /// not called.
    pub fn verify_access_with<R>(
        &self,
        token: &str,
        f: impl FnOnce(&TokenView<'_>) -> R,
    ) -> Result<R, TokenError> {
        self.verify_view(token, TokenType::Access, f)
    }
}

fn unix_time(seconds: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(seconds))
        .unwrap_or(UNIX_EPOCH)
}

/// Checks a compact JWS against one key: the size cap, the framing, the
/// header rules and the signature exactly as [`JwtTokenManager`] does, but no
/// `kid` lookup and **no claim checks**. Returns the decoded payload.
///
/// For test vectors (RFC 7515, Wycheproof) and interoperability checks;
/// application tokens go through [`JwtTokenManager`].
///
/// # Errors
/// [`TokenError::TooLarge`], [`TokenError::Malformed`] or
/// [`TokenError::BadSignature`].
pub fn verify_jws(token: &str, key: &Key) -> Result<Vec<u8>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge {
            max: MAX_TOKEN_BYTES,
        });
    }
    let parts = claims::split(token)?;
    let mut header_buf = claims::SegmentBuf::<{ claims::INLINE_HEADER }>::new();
    let header = parse_header(header_buf.decode(parts.header)?)?;
    let alg = header.alg.ok_or(TokenError::Malformed)?;
    let mut signature_buf = claims::SegmentBuf::<{ claims::INLINE_SIGNATURE }>::new();
    let signature = signature_buf.decode(parts.signature)?;
    check_signature(alg.as_str(), key, parts.signing_input, signature)?;
    let mut payload_buf = claims::SegmentBuf::<{ claims::INLINE_PAYLOAD }>::new();
    Ok(payload_buf.decode(parts.payload)?.to_vec())
}

/// Parses a decoded header; a `crit` member is refused.
fn parse_header(json: &[u8]) -> Result<claims::Header<'_>, TokenError> {
    let header = scan::header(json)?;
    if header.crit {
        return Err(TokenError::Malformed);
    }
    Ok(header)
}

/// Verifies `signature` with `key`'s prebuilt verifier, using the key's
/// algorithm; the header's `alg` must name that same algorithm.
fn check_signature(
    header_alg: &str,
    key: &Key,
    signing_input: &str,
    signature: &[u8],
) -> Result<(), TokenError> {
    if header_alg != key.algorithm().as_str() {
        return Err(TokenError::BadSignature);
    }
    if key.verifier().verify(signing_input.as_bytes(), signature) {
        Ok(())
    } else {
        Err(TokenError::BadSignature)
    }
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
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn verified(scopes: &[&str]) -> VerifiedToken {
        VerifiedToken {
            user_id: "svc".into(),
            exp: 200,
            iat: 100,
            nbf: None,
            jti: "j".into(),
            token_type: TokenType::Access,
            roles: vec!["viewer".into()],
            permissions: vec!["reports.read".into()],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            tenant: Some("t".into()),
            issuer: None,
            audience: vec![],
            family: None,
            session_id: Some("s1".into()),
            auth_time: None,
            amr: vec!["pwd".into(), "otp".into()],
            kid: "k".into(),
        }
    }

    #[test]
    fn valid_scopes_become_permissions() {
        let p = verified(&[
            "articles.read",
            "Bad Scope",
            "articles.*",
            "",
            "reports.read",
            "openid",
        ])
        .into_principal();
        assert_eq!(p.permissions(), ["reports.read", "articles.read", "openid"]);
        assert_eq!(p.roles(), ["viewer"]);
        assert_eq!(p.tenant(), Some("t"));
        assert_eq!(p.session_id(), Some("s1"));
        assert_eq!(p.amr(), ["pwd", "otp"]);
        assert_eq!(p.auth_method(), AuthMethod::Bearer);
        // `iat` (100) is not an authentication time.
        assert_eq!(p.auth_time(), None);
        let mut with_time = verified(&[]);
        with_time.auth_time = Some(90);
        assert_eq!(
            with_time.into_principal().auth_time(),
            Some(UNIX_EPOCH + Duration::from_secs(90))
        );
    }

    #[test]
    fn token_types_have_fixed_names() {
        assert_eq!(TokenType::Access.as_str(), "access");
        assert_eq!(TokenType::from_claim("refresh"), Some(TokenType::Refresh));
        assert_eq!(TokenType::from_claim("Access"), None);
        assert_eq!(TokenType::from_claim("id"), None);
    }

    #[test]
    fn verify_jws_checks_signature_only() {
        // RFC 7515 appendix A.1 (HS256, a header with CR LF whitespace).
        let k = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
        let secret = URL_SAFE_NO_PAD.decode(k).unwrap();
        let key = Key::hmac(Algorithm::HS256, secret).unwrap();
        let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.\
            eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.\
            dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let payload = verify_jws(token, &key).unwrap();
        assert!(payload.starts_with(b"{\"iss\":\"joe\""));
        let tampered = token.replace("dBjf", "dBjg");
        assert_eq!(verify_jws(&tampered, &key), Err(TokenError::BadSignature));
    }

    #[test]
    fn random_ids_are_hex() {
        let id = random_id().unwrap();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(random_id(), Some(id));
    }
}
