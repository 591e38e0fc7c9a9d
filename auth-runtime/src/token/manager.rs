//! [`JwtTokenManager`]: signing, verification and key rotation.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::claims::{self, Claims, Lenient, OutClaims, OutHeader, StrList, Text};
use super::jwks::{Jwk, JwkSet};
use super::key::{Algorithm, Key, SigningKey};
use super::{
    DEFAULT_ACCESS_TTL, DEFAULT_LEEWAY, DEFAULT_REFRESH_TTL, MAX_TOKEN_BYTES, MIN_HS256_KEY_BYTES,
    TokenType, TokenView, VerifiedToken, check_signature, parse_header, random_id, scan,
};
use crate::Principal;
use crate::clock::{Clock, SystemClock};
use crate::error::TokenError;
use crate::revocation::{MemoryRevocationStore, RevocationStore};

/// Stack room for the `kid` of a key whose header segment a token has
/// (zeroed on each verification, so kept small for the usual `kid`s).
const SMALL_KID: usize = 64;
/// Stack room for a longer `kid`; a `kid` longer still is copied to the heap.
const LARGE_KID: usize = 256;

/// A key in the keyring.
struct Entry {
    kid: String,
    key: Key,
    /// When the key stopped being current (seconds since the epoch); `None`
    /// while it is current or was configured as a verification key.
    retired_at: Option<u64>,
    /// The base64url header segment [`JwtTokenManager::sign`] writes with
    /// this key (see [`header_segment`]).
    header: Option<String>,
}

/// The base64url JOSE header segment of the tokens signed with `key` under
/// `kid`: `{"alg":..,"typ":"JWT","kid":..}`.
///
/// A token whose header segment is byte for byte this string has a header
/// that decodes and parses to exactly `alg` = `key`'s algorithm, `kid` =
/// `kid` and no `crit` (base64url decoding is strict and one-to-one, and the
/// JSON is what serde_json writes for [`OutHeader`]); verification then
/// skips decoding and parsing it.
fn header_segment(kid: &str, key: &Key) -> Option<String> {
    let header = OutHeader {
        alg: key.algorithm().as_str(),
        typ: "JWT",
        kid,
    };
    let mut out = String::new();
    claims::encode_json(&header, &mut out).ok()?;
    Some(out)
}

impl Entry {
    fn new(kid: String, key: Key) -> Self {
        let header = header_segment(&kid, &key);
        Self {
            kid,
            key,
            retired_at: None,
            header,
        }
    }

    fn is_live(&self, now: u64, grace: u64) -> bool {
        self.retired_at
            .is_none_or(|retired| now < retired.saturating_add(grace))
    }
}

struct Keyring {
    current: Option<String>,
    entries: Vec<Entry>,
}

impl Keyring {
    fn live(&self, kid: &str, now: u64, grace: u64) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.kid == kid && e.is_live(now, grace))
    }

    fn prune(&mut self, now: u64, grace: u64) {
        self.entries.retain(|e| e.is_live(now, grace));
    }
}

/// Which claim rules a manager applies to the tokens it verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// Our own tokens: `jti` and `typ` (`access` or `refresh`) required.
    Own,
    /// Access tokens of an external issuer (Auth0, Keycloak, Okta, Entra ID,
    /// ...; RFC 9068): `jti` optional, and a `typ` claim, when present, must
    /// name an access token (`access`, `Bearer`, `at+jwt`), which turns
    /// away an issuer's ID and refresh tokens that say what they are.
    External,
}

#[derive(Debug, Clone)]
struct Settings {
    profile: Profile,
    issuer: Option<String>,
    audience: Option<String>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    leeway: Duration,
    grace: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            profile: Profile::Own,
            issuer: None,
            audience: None,
            access_ttl: DEFAULT_ACCESS_TTL,
            refresh_ttl: DEFAULT_REFRESH_TTL,
            leeway: DEFAULT_LEEWAY,
            grace: None,
        }
    }
}

impl Settings {
    fn grace(&self) -> Duration {
        self.grace.unwrap_or_else(|| {
            self.access_ttl
                .max(self.refresh_ttl)
                .saturating_add(self.leeway)
        })
    }
}

/// Creates and verifies JWTs with a keyring of [`Key`]s chosen by `kid`; see
/// the [module documentation](super) for every rule a token must meet.
///
/// ```
/// use lexigram_auth::token::JwtTokenManager;
///
/// # block_on(async {
/// let manager = JwtTokenManager::new("key-1", [("key-1", "a-secret-of-at-least-thirty-two-bytes!")])?;
/// let token = manager.create_access_token("user-123").await?;
/// let verified = manager.verify_token(&token).await?;
/// assert_eq!(verified.user_id, "user-123");
///
/// // Short keys are refused when the manager is built.
/// assert!(JwtTokenManager::new("k", [("k", "your-secret-key")]).is_err());
/// # Ok::<(), lexigram_auth::error::TokenError>(())
/// # }).unwrap();
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let waker = std::task::Waker::noop();
/// #     match f.as_mut().poll(&mut std::task::Context::from_waker(&waker)) {
/// #         std::task::Poll::Ready(v) => v,
/// #         std::task::Poll::Pending => unreachable!(),
/// #     }
/// # }
/// ```
///
/// With the builder, asymmetric keys, an issuer and an audience:
///
/// ```
/// use std::time::Duration;
/// use lexigram_auth::Principal;
/// use lexigram_auth::token::{Algorithm, JwtTokenManager, SigningKey};
///
/// # let pem = include_str!("../../../tests/data/keys/p256.pem");
/// let manager = JwtTokenManager::builder()
///     .key("2026-01", SigningKey::from_pem(Algorithm::ES256, pem)?)
///     .current_key("2026-01")
///     .issuer("https://auth.example.com")
///     .required_audience("articles-api")
///     .access_ttl(Duration::from_secs(300))
///     .build()?;
/// let token = manager.sign_access(&Principal::new("alice").with_roles(["editor"]))?;
/// let verified = manager.verify_access(&token)?;
/// assert_eq!(verified.audience, ["articles-api"]);
/// assert_eq!(manager.jwks().keys[0].kid, "2026-01");
/// # Ok::<(), lexigram_auth::error::TokenError>(())
/// ```
pub struct JwtTokenManager {
    keyring: RwLock<Keyring>,
    settings: Settings,
    clock: Arc<dyn Clock>,
    /// Revoked tokens, users and refresh families; in memory by default.
    pub(super) revocation: Arc<dyn RevocationStore>,
}

impl fmt::Debug for JwtTokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = self.read();
        let kids: Vec<(&str, Algorithm)> = ring
            .entries
            .iter()
            .map(|e| (e.kid.as_str(), e.key.algorithm()))
            .collect();
        f.debug_struct("JwtTokenManager")
            .field("current", &ring.current)
            .field("keys", &kids)
            .field("issuer", &self.settings.issuer)
            .field("audience", &self.settings.audience)
            .field("access_ttl", &self.settings.access_ttl)
            .field("refresh_ttl", &self.settings.refresh_ttl)
            .field("leeway", &self.settings.leeway)
            .field("rotation_grace", &self.settings.grace())
            .finish_non_exhaustive()
    }
}

impl JwtTokenManager {
    /// A manager signing with `current_key_id` and verifying with any of
    /// `keys`, HS256 secrets (the seed's shape). Use [`builder`](Self::builder)
    /// for other algorithms and settings.
    ///
    /// # Errors
    /// [`TokenError::NoKeys`], [`TokenError::UnknownCurrentKey`],
    /// [`TokenError::DuplicateKey`], or [`TokenError::WeakKey`] for a key
    /// shorter than 32 bytes.
    pub fn new<I, K, V>(current_key_id: impl Into<String>, keys: I) -> Result<Self, TokenError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: AsRef<[u8]>,
    {
        let mut builder = Self::builder().current_key(current_key_id);
        for (kid, secret) in keys {
            let kid = kid.into();
            let secret = secret.as_ref();
            if secret.len() < MIN_HS256_KEY_BYTES {
                return Err(TokenError::WeakKey {
                    kid,
                    algorithm: Algorithm::HS256.as_str(),
                    min_bytes: MIN_HS256_KEY_BYTES,
                    actual: secret.len(),
                });
            }
            let key = SigningKey::hmac(Algorithm::HS256, secret)?;
            builder = builder.key(kid, key);
        }
        builder.build()
    }

    /// A builder.
    #[must_use]
    pub fn builder() -> JwtTokenManagerBuilder {
        JwtTokenManagerBuilder::default()
    }

    /// A manager with no keys: signing fails and every token is rejected.
    pub(crate) fn disabled() -> Self {
        Self {
            keyring: RwLock::new(Keyring {
                current: None,
                entries: Vec::new(),
            }),
            settings: Settings::default(),
            clock: Arc::new(SystemClock),
            revocation: Arc::new(MemoryRevocationStore::new()),
        }
    }

    /// Sets the access-token lifetime.
    #[must_use]
    pub fn with_access_ttl(mut self, ttl: Duration) -> Self {
        self.settings.access_ttl = ttl;
        self
    }

    /// Sets the allowed clock skew.
    #[must_use]
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.settings.leeway = leeway;
        self
    }

    /// The access-token lifetime.
    #[must_use]
    pub fn access_ttl(&self) -> Duration {
        self.settings.access_ttl
    }

    /// The refresh-token lifetime.
    #[must_use]
    pub fn refresh_ttl(&self) -> Duration {
        self.settings.refresh_ttl
    }

    /// The allowed clock skew.
    #[must_use]
    pub fn leeway(&self) -> Duration {
        self.settings.leeway
    }

    /// How long a retired key keeps verifying.
    #[must_use]
    pub fn rotation_grace(&self) -> Duration {
        self.settings.grace()
    }

    /// The clock the manager reads.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The id of the key that signs new tokens, if any.
    #[must_use]
    pub fn current_key_id(&self) -> Option<String> {
        self.read().current.clone()
    }

    /// The ids of the keys that verify now, in the order they were added.
    #[must_use]
    pub fn key_ids(&self) -> Vec<String> {
        let (now, grace) = self.now_and_grace();
        self.read()
            .entries
            .iter()
            .filter(|e| e.is_live(now, grace))
            .map(|e| e.kid.clone())
            .collect()
    }

    /// Creates an access token for a user with no roles.
    ///
    /// # Errors
    /// [`TokenError::Signing`] or [`TokenError::NoSigningKey`].
    pub async fn create_access_token(&self, user_id: &str) -> Result<String, TokenError> {
        self.sign_access(&Principal::new(user_id))
    }

    /// Creates an access token carrying a principal's roles, direct permissions,
    /// tenant, session id and authentication time.
    ///
    /// # Errors
    /// [`TokenError::Signing`] or [`TokenError::NoSigningKey`].
    pub async fn create_access_token_for(
        &self,
        principal: &Principal,
    ) -> Result<String, TokenError> {
        self.sign_access(principal)
    }

    /// Creates a refresh token for a user, starting a new family.
    ///
    /// # Errors
    /// [`TokenError::Signing`] or [`TokenError::NoSigningKey`].
    pub async fn create_refresh_token(&self, user_id: &str) -> Result<String, TokenError> {
        self.sign_refresh(user_id, None)
    }

    /// Verifies an access token: signature and claims, then the revocation
    /// store (by `jti`, and the user's "revoked before" instant against `iat`).
    ///
    /// # Errors
    /// A [`TokenError`] saying why the token is not acceptable;
    /// [`TokenError::Revoked`] for a revoked token and
    /// [`TokenError::Unavailable`] when the store cannot answer (fail closed).
    pub async fn verify_token(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let verified = self.verify_access(token)?;
        self.check_revocation(&verified).await?;
        Ok(verified)
    }

    /// Verifies a refresh token: signature, claims, type and the revocation
    /// store (its family included). Single use is enforced by
    /// [`refresh`](Self::refresh), which consumes it.
    ///
    /// # Errors
    /// As [`verify_token`](Self::verify_token).
    pub async fn verify_refresh_token(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let verified = self.verify_refresh(token)?;
        self.check_revocation(&verified).await?;
        Ok(verified)
    }

    /// Signs an access token for `principal` (the synchronous form of
    /// [`create_access_token_for`](Self::create_access_token_for)).
    ///
    /// # Errors
    /// [`TokenError::Signing`], [`TokenError::NoSigningKey`],
    /// [`TokenError::InvalidClaim`] for an empty subject, or
    /// [`TokenError::TooLarge`] when the claims would make a token over the cap.
    pub fn sign_access(&self, principal: &Principal) -> Result<String, TokenError> {
        self.sign_access_in(principal, None)
    }

    /// [`sign_access`](Self::sign_access) for an access token issued with a
    /// refresh token: it carries the refresh token's family (`fam`), so that
    /// revoking the family (a logout with either token, a reused refresh
    /// token) refuses the access tokens of that login too.
    pub(crate) fn sign_access_in(
        &self,
        principal: &Principal,
        family: Option<&str>,
    ) -> Result<String, TokenError> {
        if family == Some("") {
            return Err(TokenError::InvalidClaim("fam"));
        }
        let now = self.clock.unix_seconds();
        let jti = random_id().ok_or(TokenError::Signing)?;
        let auth_time = principal
            .auth_time()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        self.sign(&OutClaims {
            sub: principal.subject(),
            iss: self.settings.issuer.as_deref(),
            aud: self.settings.audience.as_deref(),
            exp: now.saturating_add(self.settings.access_ttl.as_secs()),
            iat: now,
            jti: &jti,
            typ: TokenType::Access.as_str(),
            roles: principal.roles(),
            permissions: principal.permissions(),
            tenant: principal.tenant(),
            sid: principal.session_id(),
            auth_time,
            amr: principal.amr(),
            fam: family,
        })
    }

    /// Signs a refresh token for `user_id` in `family` (a new family when
    /// `None`). It carries `sub`, `fam`, its own `jti` and no roles.
    ///
    /// # Errors
    /// [`TokenError::Signing`], [`TokenError::NoSigningKey`], or
    /// [`TokenError::InvalidClaim`] for an empty subject or family.
    pub fn sign_refresh(&self, user_id: &str, family: Option<&str>) -> Result<String, TokenError> {
        self.sign_refresh_carrying(user_id, family, None, None, &[])
    }

    /// [`sign_refresh`](Self::sign_refresh) carrying the login's `auth_time`
    /// and `amr` forward, so that access tokens minted from it keep the
    /// original authentication time (a refresh is not a login: it must not
    /// satisfy `#[require_auth(fresh = "..")]`) and methods, and the tenant
    /// of a login within a tenant, so that refreshes read the roles of that
    /// tenant.
    pub(crate) fn sign_refresh_carrying(
        &self,
        user_id: &str,
        family: Option<&str>,
        tenant: Option<&str>,
        auth_time: Option<u64>,
        amr: &[String],
    ) -> Result<String, TokenError> {
        let now = self.clock.unix_seconds();
        let jti = random_id().ok_or(TokenError::Signing)?;
        let family = match family {
            Some("") => return Err(TokenError::InvalidClaim("fam")),
            Some(f) => f.to_owned(),
            None => random_id().ok_or(TokenError::Signing)?,
        };
        self.sign(&OutClaims {
            sub: user_id,
            iss: self.settings.issuer.as_deref(),
            aud: self.settings.audience.as_deref(),
            exp: now.saturating_add(self.settings.refresh_ttl.as_secs()),
            iat: now,
            jti: &jti,
            typ: TokenType::Refresh.as_str(),
            roles: &[],
            permissions: &[],
            tenant,
            sid: None,
            auth_time,
            amr,
            fam: Some(&family),
        })
    }

    fn sign(&self, claims: &OutClaims<'_>) -> Result<String, TokenError> {
        if claims.sub.is_empty() {
            return Err(TokenError::InvalidClaim("sub"));
        }
        let ring = self.read();
        let kid = ring.current.as_deref().ok_or(TokenError::NoSigningKey)?;
        let entry = ring
            .entries
            .iter()
            .find(|e| e.kid == kid)
            .ok_or(TokenError::NoSigningKey)?;
        if !entry.key.can_sign() {
            return Err(TokenError::NoSigningKey);
        }
        let algorithm = entry.key.algorithm();
        let mut token = String::with_capacity(512);
        match &entry.header {
            Some(header) => token.push_str(header),
            None => {
                let header = OutHeader {
                    alg: algorithm.as_str(),
                    typ: "JWT",
                    kid,
                };
                claims::encode_json(&header, &mut token)?;
            }
        }
        token.push('.');
        claims::encode_json(claims, &mut token)?;
        let signature = entry.key.sign(token.as_bytes())?;
        drop(ring);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        // Never issue a token that verification would refuse.
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge {
                max: MAX_TOKEN_BYTES,
            });
        }
        Ok(token)
    }

    /// Verifies an access token (the synchronous form of
    /// [`verify_token`](Self::verify_token)).
    ///
    /// # Errors
    /// A [`TokenError`] saying why the token is not acceptable.
    pub fn verify_access(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        self.verify(token, TokenType::Access)
    }

    /// Verifies a refresh token (the synchronous form of
    /// [`verify_refresh_token`](Self::verify_refresh_token)).
    ///
    /// # Errors
    /// A [`TokenError`] saying why the token is not acceptable.
    pub fn verify_refresh(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        self.verify(token, TokenType::Refresh)
    }

    fn verify(&self, token: &str, expected: TokenType) -> Result<VerifiedToken, TokenError> {
        self.verify_view(token, expected, |view| view.to_verified())
    }

    /// Every check of a token, up to a [`TokenView`] borrowed from the token
    /// and from stack buffers; `f` turns it into the result.
    pub(super) fn verify_view<R>(
        &self,
        token: &str,
        expected: TokenType,
        f: impl FnOnce(&TokenView<'_>) -> R,
    ) -> Result<R, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge {
                max: MAX_TOKEN_BYTES,
            });
        }
        let (now, grace) = self.now_and_grace();
        // Stack buffers (left uninitialised until decoded into), the heap
        // only for segments larger than them.
        let mut small_kid: [u8; SMALL_KID];
        let mut large_kid: [u8; LARGE_KID];
        let long_kid: String;
        let mut header_buf = claims::SegmentBuf::<{ claims::INLINE_HEADER }>::new();
        let mut payload_buf = claims::SegmentBuf::<{ claims::INLINE_PAYLOAD }>::new();
        let ring = self.read();
        // A header segment byte-identical to the one signing with a key of
        // the ring writes parses to that key's `alg` and `kid` and no `crit`
        // (see `header_segment`), so it is neither decoded nor parsed; the
        // key is then looked up by that `kid` as for any other header. Such
        // a token is split without searching its header for dots; any other
        // token is split as usual (both refuse what is not exactly three
        // segments).
        let fast = ring.entries.iter().find_map(|e| {
            let parts = claims::split_after(token, e.header.as_deref()?)?;
            Some((e, parts))
        });
        let (ours, parts) = match fast {
            Some((e, parts)) => (Some(e), parts),
            None => (None, claims::split(token)?),
        };
        let header = match ours {
            Some(e) => {
                // The `kid` outlives the lock: a copy.
                let kid = if e.kid.len() <= SMALL_KID {
                    small_kid = [0; SMALL_KID];
                    claims::hold_in(&e.kid, &mut small_kid).ok_or(TokenError::Malformed)?
                } else if e.kid.len() <= LARGE_KID {
                    large_kid = [0; LARGE_KID];
                    claims::hold_in(&e.kid, &mut large_kid).ok_or(TokenError::Malformed)?
                } else {
                    // A `kid` longer than any in common use: copied to the
                    // heap.
                    long_kid = e.kid.clone();
                    long_kid.as_str()
                };
                claims::Header {
                    alg: Some(Text::Borrowed(e.key.algorithm().as_str())),
                    kid: Some(Text::Borrowed(kid)),
                    crit: false,
                }
            }
            None => parse_header(header_buf.decode(parts.header)?)?,
        };
        // `split_after` leaves a payload with dots to the payload's decoder,
        // after the signature: a token refused before that is reported as
        // `split` would (malformed), whatever else is wrong with it.
        let checked = (|| {
            let Some(alg) = header.alg.as_ref() else {
                return Err(TokenError::Malformed);
            };
            let Some(kid) = header.kid.as_ref() else {
                return Err(TokenError::UnknownKey);
            };
            let mut signature_buf = claims::SegmentBuf::<{ claims::INLINE_SIGNATURE }>::new();
            let signature = signature_buf.decode(parts.signature)?;
            let entry = ring
                .live(kid.as_str(), now, grace)
                .ok_or(TokenError::UnknownKey)?;
            check_signature(alg.as_str(), &entry.key, parts.signing_input, signature)?;
            Ok(kid)
        })();
        let kid = match checked {
            Ok(kid) => kid,
            Err(_) if ours.is_some() && claims::split(token).is_err() => {
                return Err(TokenError::Malformed);
            }
            Err(error) => return Err(error),
        };
        drop(ring);
        let payload = payload_buf.decode(parts.payload)?;
        let mut claims = Claims::default();
        scan::claims_into(payload, &mut claims)?;
        let view = self.check_claims(&claims, expected, now, kid.as_str())?;
        Ok(f(&view))
    }

    fn check_claims<'a>(
        &self,
        c: &'a Claims<'_>,
        expected: TokenType,
        now: u64,
        kid: &'a str,
    ) -> Result<TokenView<'a>, TokenError> {
        let leeway = self.settings.leeway.as_secs();
        // `let .. else` rather than `ok_or`: no error value is built (and
        // dropped) on the path that succeeds.
        let Some(user_id) = text(&c.sub) else {
            return Err(TokenError::MissingClaim("sub"));
        };
        let Some(exp) = date(c.exp, "exp")? else {
            return Err(TokenError::MissingClaim("exp"));
        };
        let Some(iat) = date(c.iat, "iat")? else {
            return Err(TokenError::MissingClaim("iat"));
        };
        let nbf = date(c.nbf, "nbf")?;
        let auth_time = date(c.auth_time, "auth_time")?;
        let external = self.settings.profile == Profile::External;
        let jti = match text(&c.jti) {
            Some(jti) => jti,
            None if external => "",
            None => return Err(TokenError::MissingClaim("jti")),
        };
        let typ = text(&c.typ);
        if user_id.is_empty() {
            return Err(TokenError::InvalidClaim("sub"));
        }
        if jti.is_empty() && !external {
            return Err(TokenError::InvalidClaim("jti"));
        }

        if exp.saturating_add(leeway) <= now {
            return Err(TokenError::Expired);
        }
        let latest = now.saturating_add(leeway);
        if nbf.is_some_and(|nbf| nbf > latest) || iat > latest {
            return Err(TokenError::NotYetValid);
        }

        let issuer = match (&self.settings.issuer, &c.iss) {
            (Some(required), Some(Lenient::Valid(iss))) if iss.as_str() == *required => {
                Some(iss.as_str())
            }
            (Some(_), _) => return Err(TokenError::WrongIssuer),
            (None, Some(Lenient::Valid(iss))) => Some(iss.as_str()),
            (None, Some(Lenient::Invalid)) => return Err(TokenError::InvalidClaim("iss")),
            (None, None) => None,
        };
        let audience_ok = match (&c.aud, &self.settings.audience) {
            (Some(StrList::Invalid), _) => false,
            (Some(StrList::One(a)), Some(required)) => a.as_str() == *required,
            (Some(StrList::Many(list)), Some(required)) => list.iter().any(|a| a == *required),
            (None, Some(_)) => false,
            // RFC 7519 4.1.3: a service that is not named must refuse a token
            // that names audiences.
            (Some(_), None) => false,
            (None, None) => true,
        };
        if !audience_ok {
            return Err(TokenError::WrongAudience);
        }

        let token_type = match (typ, external) {
            (None | Some("access" | "Bearer" | "at+jwt"), true) => TokenType::Access,
            (Some(_), true) => return Err(TokenError::WrongType),
            (Some(typ), false) => match TokenType::from_claim(typ) {
                Some(token_type) => token_type,
                None => return Err(TokenError::WrongType),
            },
            (None, false) => return Err(TokenError::MissingClaim("typ")),
        };
        if token_type != expected {
            return Err(TokenError::WrongType);
        }
        let family = text(&c.fam);
        if token_type == TokenType::Refresh && family.is_none_or(str::is_empty) {
            return Err(TokenError::MissingClaim("fam"));
        }
        if matches!(c.scope, Some(StrList::Invalid)) {
            return Err(TokenError::InvalidClaim("scope"));
        }

        Ok(TokenView {
            user_id,
            exp,
            iat,
            nbf,
            jti,
            token_type,
            roles: c.roles.as_ref(),
            permissions: c.permissions.as_ref(),
            scope: c.scope.as_ref(),
            tenant: text(&c.tenant),
            issuer,
            audience: c.aud.as_ref(),
            family,
            session_id: text(&c.sid),
            auth_time,
            amr: c.amr.as_ref(),
            kid,
        })
    }

    /// Makes `key` the current signing key under `new_kid`. The previous
    /// current key is retired now: it keeps verifying for the
    /// [rotation grace period](JwtTokenManagerBuilder::rotation_grace) and is
    /// dropped after that.
    ///
    /// ```
    /// use lexigram_auth::token::{Algorithm, JwtTokenManager, SigningKey, TokenType};
    ///
    /// let manager = JwtTokenManager::new("2026-01", [("2026-01", [1u8; 32])])?;
    /// let old = manager.sign_refresh("alice", None)?;
    /// manager.rotate("2026-02", SigningKey::hmac(Algorithm::HS512, [2u8; 64])?)?;
    /// assert_eq!(manager.current_key_id().as_deref(), Some("2026-02"));
    /// assert_eq!(manager.verify_refresh(&old)?.kid, "2026-01"); // within the grace period
    /// # Ok::<(), lexigram_auth::error::TokenError>(())
    /// ```
    ///
    /// # Errors
    /// [`TokenError::KeyCannotSign`] for a public key,
    /// [`TokenError::DuplicateKey`] when `new_kid` is live already,
    /// [`TokenError::WeakKey`] or [`TokenError::WeakRsaKey`].
    pub fn rotate(
        &self,
        new_kid: impl Into<String>,
        key: impl Into<Key>,
    ) -> Result<(), TokenError> {
        let kid = new_kid.into();
        let key = key.into();
        check_kid(&kid)?;
        if !key.can_sign() {
            return Err(TokenError::KeyCannotSign(kid));
        }
        key.check_strength(&kid)?;
        let (now, grace) = self.now_and_grace();
        let mut ring = self.write();
        ring.prune(now, grace);
        if ring.entries.iter().any(|e| e.kid == kid) {
            return Err(TokenError::DuplicateKey(kid));
        }
        if let Some(previous) = ring.current.take() {
            for entry in ring.entries.iter_mut().filter(|e| e.kid == previous) {
                entry.retired_at.get_or_insert(now);
            }
        }
        ring.entries.push(Entry::new(kid.clone(), key));
        ring.current = Some(kid);
        ring.prune(now, grace);
        Ok(())
    }

    /// The JWKS document (RFC 7517) of exactly the live public keys, each with
    /// `kid`, `alg` and `"use": "sig"`. HMAC secrets are never published.
    #[must_use]
    pub fn jwks(&self) -> JwkSet {
        let (now, grace) = self.now_and_grace();
        let ring = self.read();
        let keys = ring
            .entries
            .iter()
            .filter(|e| e.is_live(now, grace))
            .filter_map(|e| {
                e.key
                    .public()
                    .map(|p| Jwk::from_public(&e.kid, e.key.algorithm(), p))
            })
            .collect();
        JwkSet { keys }
    }

    fn now_and_grace(&self) -> (u64, u64) {
        (self.clock.unix_seconds(), self.settings.grace().as_secs())
    }

    fn read(&self) -> RwLockReadGuard<'_, Keyring> {
        self.keyring.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Keyring> {
        self.keyring.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A string claim, borrowed.
fn text<'a>(claim: &'a Option<Text<'_>>) -> Option<&'a str> {
    claim.as_ref().map(Text::as_str)
}

/// A NumericDate claim: `Ok(None)` when absent.
fn date(claim: Option<Lenient<u64>>, name: &'static str) -> Result<Option<u64>, TokenError> {
    match claim {
        None => Ok(None),
        Some(Lenient::Valid(v)) => Ok(Some(v)),
        Some(Lenient::Invalid) => Err(TokenError::InvalidClaim(name)),
    }
}

fn check_kid(kid: &str) -> Result<(), TokenError> {
    if kid.is_empty() {
        return Err(TokenError::InvalidKey("a key id cannot be empty"));
    }
    Ok(())
}

/// Builds a [`JwtTokenManager`].
///
/// Keys are checked in [`build`](Self::build): weak keys, duplicate key ids
/// and a current key that cannot sign are refused there. Without
/// [`current_key`](Self::current_key) the manager only verifies, which is
/// allowed only when no key can sign.
#[derive(Default)]
pub struct JwtTokenManagerBuilder {
    keys: Vec<(String, Result<Key, TokenError>)>,
    current: Option<String>,
    settings: Settings,
    clock: Option<Arc<dyn Clock>>,
    revocation: Option<Arc<dyn RevocationStore>>,
}

impl fmt::Debug for JwtTokenManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("JwtTokenManagerBuilder")
            .field("kids", &kids)
            .field("current", &self.current)
            .field("settings", &self.settings)
            .field("clock", &self.clock)
            .field("revocation", &self.revocation)
            .finish()
    }
}

impl JwtTokenManagerBuilder {
    /// Adds a key under `kid` (a [`SigningKey`], a [`VerifyingKey`](super::VerifyingKey)
    /// or a [`Key`]).
    #[must_use]
    pub fn key(mut self, kid: impl Into<String>, key: impl Into<Key>) -> Self {
        self.keys.push((kid.into(), Ok(key.into())));
        self
    }

    /// Adds an HMAC secret for `algorithm` under `kid`; its errors are
    /// reported by [`build`](Self::build).
    #[must_use]
    pub fn hmac_key(
        mut self,
        kid: impl Into<String>,
        algorithm: Algorithm,
        secret: impl AsRef<[u8]>,
    ) -> Self {
        let kid = kid.into();
        let secret = secret.as_ref();
        let key = match algorithm.min_hmac_bytes() {
            Some(min_bytes) if secret.len() < min_bytes => Err(TokenError::WeakKey {
                kid: kid.clone(),
                algorithm: algorithm.as_str(),
                min_bytes,
                actual: secret.len(),
            }),
            _ => Key::hmac(algorithm, secret),
        };
        self.keys.push((kid, key));
        self
    }

    /// The id of the key that signs new tokens.
    #[must_use]
    pub fn current_key(mut self, kid: impl Into<String>) -> Self {
        self.current = Some(kid.into());
        self
    }

    /// Verify the access tokens of an external issuer: see [`Profile::External`].
    #[cfg(feature = "remote-jwks")]
    pub(crate) fn external_profile(mut self) -> Self {
        self.settings.profile = Profile::External;
        self
    }

    /// The issuer: written as `iss` into new tokens and required in verified ones.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.settings.issuer = Some(issuer.into());
        self
    }

    /// The audience this service identifies as: written as `aud` into new
    /// tokens and required in verified ones. Production configurations must
    /// set it.
    #[must_use]
    pub fn required_audience(mut self, audience: impl Into<String>) -> Self {
        self.settings.audience = Some(audience.into());
        self
    }

    /// Access-token lifetime ([`DEFAULT_ACCESS_TTL`], 15 minutes, by default).
    #[must_use]
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.settings.access_ttl = ttl;
        self
    }

    /// Refresh-token lifetime ([`DEFAULT_REFRESH_TTL`], 7 days, by default).
    #[must_use]
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.settings.refresh_ttl = ttl;
        self
    }

    /// Clock skew allowed on `exp`, `nbf` and `iat` ([`DEFAULT_LEEWAY`],
    /// 30 seconds, by default).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.settings.leeway = leeway;
        self
    }

    /// How long a retired key keeps verifying after
    /// [`rotate`](JwtTokenManager::rotate). By default the longer of the two
    /// token lifetimes plus the leeway, so that rotation cuts no token short;
    /// zero drops the retired key at once.
    #[must_use]
    pub fn rotation_grace(mut self, grace: Duration) -> Self {
        self.settings.grace = Some(grace);
        self
    }

    /// The clock ([`SystemClock`] by default; a
    /// [`ManualClock`](crate::clock::ManualClock) in tests).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Where revocations and used refresh tokens are recorded. By default a
    /// [`MemoryRevocationStore`] private to this manager; share a Redis,
    /// PostgreSQL or SQLite store between instances so that a revocation on
    /// one is seen by all.
    #[must_use]
    pub fn revocation_store(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocation = Some(store);
        self
    }

    /// Builds the manager.
    ///
    /// # Errors
    /// A key's own error, [`TokenError::NoKeys`], [`TokenError::DuplicateKey`],
    /// [`TokenError::WeakKey`], [`TokenError::WeakRsaKey`],
    /// [`TokenError::UnknownCurrentKey`], [`TokenError::KeyCannotSign`] or
    /// [`TokenError::MissingCurrentKey`].
    pub fn build(self) -> Result<JwtTokenManager, TokenError> {
        let mut entries: Vec<Entry> = Vec::with_capacity(self.keys.len());
        for (kid, key) in self.keys {
            let key = key?;
            check_kid(&kid)?;
            key.check_strength(&kid)?;
            if entries.iter().any(|e| e.kid == kid) {
                return Err(TokenError::DuplicateKey(kid));
            }
            entries.push(Entry::new(kid, key));
        }
        if entries.is_empty() {
            return Err(TokenError::NoKeys);
        }
        match &self.current {
            Some(current) => {
                let entry = entries
                    .iter()
                    .find(|e| e.kid == *current)
                    .ok_or_else(|| TokenError::UnknownCurrentKey(current.clone()))?;
                if !entry.key.can_sign() {
                    return Err(TokenError::KeyCannotSign(current.clone()));
                }
            }
            None if entries.iter().any(|e| e.key.can_sign()) => {
                return Err(TokenError::MissingCurrentKey);
            }
            None => {}
        }
        Ok(JwtTokenManager {
            keyring: RwLock::new(Keyring {
                current: self.current,
                entries,
            }),
            settings: self.settings,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            revocation: self
                .revocation
                .unwrap_or_else(|| Arc::new(MemoryRevocationStore::new())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::token::VerifyingKey;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const T0: u64 = 1_800_000_000;

    fn manager() -> JwtTokenManager {
        JwtTokenManager::new("k1", [("k1", SECRET)]).unwrap()
    }

    fn at(clock: &ManualClock) -> JwtTokenManager {
        JwtTokenManager::builder()
            .hmac_key("k1", Algorithm::HS256, SECRET)
            .current_key("k1")
            .clock(clock.clone())
            .build()
            .unwrap()
    }

    /// Signs arbitrary claims with the manager's current key.
    fn forge(m: &JwtTokenManager, payload: &serde_json::Value) -> String {
        let ring = m.read();
        let entry = ring
            .entries
            .iter()
            .find(|e| Some(&e.kid) == ring.current.as_ref())
            .unwrap();
        let mut token = String::new();
        let header = OutHeader {
            alg: entry.key.algorithm().as_str(),
            typ: "JWT",
            kid: &entry.kid,
        };
        claims::encode_json(&header, &mut token).unwrap();
        token.push('.');
        claims::encode_json(payload, &mut token).unwrap();
        let sig = entry.key.sign(token.as_bytes()).unwrap();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut token);
        token
    }

    /// Keys named by `kid`s of every size the fast path holds differently
    /// (on the small stack buffer, the large one, the heap) verify their
    /// tokens, and the view reports the `kid`.
    #[test]
    fn kids_of_every_length_round_trip() {
        for len in [1, 64, 65, 256, 257, 1000] {
            let kid = "k".repeat(len);
            let m = JwtTokenManager::builder()
                .hmac_key(kid.as_str(), Algorithm::HS256, SECRET)
                .current_key(kid.as_str())
                .build()
                .unwrap();
            let token = m.sign_access(&Principal::new("alice")).unwrap();
            assert_eq!(m.verify_access(&token).unwrap().user_id, "alice", "{len}");
            assert_eq!(
                m.verify_access_with(&token, |v| v.kid().to_owned())
                    .unwrap(),
                kid
            );
        }
    }

    #[test]
    fn round_trip_keeps_roles() {
        let m = manager();
        let p = Principal::new("alice")
            .with_roles(["editor"])
            .with_permissions(["x.y"])
            .with_tenant("t1")
            .with_session_id("s1")
            .with_amr(["pwd", "otp"]);
        let token = m.sign_access(&p).unwrap();
        assert_eq!(
            m.verify_access_with(&token, |t| t.amr().collect::<Vec<_>>().join(" "))
                .unwrap(),
            "pwd otp"
        );
        let v = m.verify_access(&token).unwrap();
        assert_eq!(v.amr, ["pwd", "otp"]);
        // Without methods the claim is left out.
        let bare = m.sign_access(&Principal::new("bob")).unwrap();
        assert!(m.verify_access(&bare).unwrap().amr.is_empty());
        let payload = URL_SAFE_NO_PAD
            .decode(bare.split('.').nth(1).unwrap())
            .unwrap();
        assert!(!String::from_utf8(payload).unwrap().contains("amr"));
        assert_eq!(v.user_id, "alice");
        assert_eq!(v.roles, ["editor"]);
        assert_eq!(v.permissions, ["x.y"]);
        assert_eq!(v.tenant.as_deref(), Some("t1"));
        assert_eq!(v.session_id.as_deref(), Some("s1"));
        assert_eq!(v.exp - v.iat, DEFAULT_ACCESS_TTL.as_secs());
        assert_eq!(v.jti.len(), 32);
        assert_eq!(v.kid, "k1");
        assert_eq!(v.token_type, TokenType::Access);
        let principal = v.into_principal();
        assert_eq!(principal.session_id(), Some("s1"));
        assert_eq!(principal.amr(), ["pwd", "otp"]);
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
        assert!(matches!(
            JwtTokenManager::new("k", [("k", "")]),
            Err(TokenError::WeakKey { actual: 0, .. })
        ));
        assert_eq!(
            JwtTokenManager::new("x", [("k", SECRET)]).unwrap_err(),
            TokenError::UnknownCurrentKey("x".into())
        );
        assert_eq!(
            JwtTokenManager::new("k", Vec::<(String, String)>::new()).unwrap_err(),
            TokenError::NoKeys
        );
        assert_eq!(
            JwtTokenManager::new("k", [("k", SECRET), ("k", SECRET)]).unwrap_err(),
            TokenError::DuplicateKey("k".into())
        );
        assert_eq!(
            JwtTokenManager::new("", [("", SECRET)]).unwrap_err(),
            TokenError::InvalidKey("a key id cannot be empty")
        );
    }

    #[test]
    fn builder_rules_for_the_current_key() {
        let public = VerifyingKey::from_pem(
            Algorithm::EdDSA,
            include_str!("../../../tests/data/keys/ed25519.pub.pem"),
        )
        .unwrap();
        let verify_only = JwtTokenManager::builder()
            .key("pub", public.clone())
            .build()
            .unwrap();
        assert_eq!(
            verify_only.sign_access(&Principal::new("a")).unwrap_err(),
            TokenError::NoSigningKey
        );
        assert_eq!(
            JwtTokenManager::builder()
                .key("pub", public.clone())
                .current_key("pub")
                .build()
                .unwrap_err(),
            TokenError::KeyCannotSign("pub".into())
        );
        assert_eq!(
            JwtTokenManager::builder()
                .hmac_key("h", Algorithm::HS256, SECRET)
                .key("pub", public)
                .build()
                .unwrap_err(),
            TokenError::MissingCurrentKey
        );
        assert!(matches!(
            JwtTokenManager::builder()
                .hmac_key("h", Algorithm::HS512, SECRET)
                .current_key("h")
                .build(),
            Err(TokenError::WeakKey {
                min_bytes: 64,
                actual: 32,
                ..
            })
        ));
        let disabled = JwtTokenManager::disabled();
        assert_eq!(disabled.verify_access("a.b.c"), Err(TokenError::Malformed));
        assert!(disabled.sign_access(&Principal::new("a")).is_err());
    }

    #[test]
    fn claims_are_checked_with_leeway() {
        let clock = ManualClock::at_unix(T0);
        let m = at(&clock);
        let ok = |extra: serde_json::Value| {
            let mut c =
                serde_json::json!({"sub":"a","iat":T0,"exp":T0 + 60,"jti":"j","typ":"access"});
            for (k, v) in extra.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            m.verify_access(&forge(&m, &c))
        };
        assert!(ok(serde_json::json!({})).is_ok());
        assert_eq!(
            ok(serde_json::json!({"exp": T0 - 31})),
            Err(TokenError::Expired)
        );
        assert_eq!(
            ok(serde_json::json!({"exp": T0 - 30})),
            Err(TokenError::Expired)
        );
        assert!(ok(serde_json::json!({"exp": T0 - 29})).is_ok());
        assert_eq!(
            ok(serde_json::json!({"nbf": T0 + 31})),
            Err(TokenError::NotYetValid)
        );
        assert!(ok(serde_json::json!({"nbf": T0 + 30})).is_ok());
        assert_eq!(
            ok(serde_json::json!({"iat": T0 + 31})),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            ok(serde_json::json!({"exp": null})),
            Err(TokenError::MissingClaim("exp"))
        );
        assert_eq!(
            ok(serde_json::json!({"iat": null})),
            Err(TokenError::MissingClaim("iat"))
        );
        assert_eq!(
            ok(serde_json::json!({"typ": null})),
            Err(TokenError::MissingClaim("typ"))
        );
        assert_eq!(
            ok(serde_json::json!({"sub": null})),
            Err(TokenError::MissingClaim("sub"))
        );
        assert_eq!(
            ok(serde_json::json!({"jti": null})),
            Err(TokenError::MissingClaim("jti"))
        );
        assert_eq!(
            ok(serde_json::json!({"sub": ""})),
            Err(TokenError::InvalidClaim("sub"))
        );
        assert_eq!(
            ok(serde_json::json!({"exp": "9999999999"})),
            Err(TokenError::InvalidClaim("exp"))
        );
        assert_eq!(
            ok(serde_json::json!({"typ": "refresh"})),
            Err(TokenError::WrongType)
        );
        assert_eq!(
            ok(serde_json::json!({"typ": "id"})),
            Err(TokenError::WrongType)
        );
        assert_eq!(
            ok(serde_json::json!({"aud": "x"})),
            Err(TokenError::WrongAudience)
        );
        assert_eq!(
            ok(serde_json::json!({"iss": ["x"]})),
            Err(TokenError::InvalidClaim("iss"))
        );
        assert_eq!(
            ok(serde_json::json!({"scope": 5})),
            Err(TokenError::InvalidClaim("scope"))
        );
        let v = ok(serde_json::json!({"iss": "anyone", "scope": "a.read  b.write"})).unwrap();
        assert_eq!(v.issuer.as_deref(), Some("anyone"));
        assert_eq!(v.scopes, ["a.read", "b.write"]);
    }

    #[test]
    fn refresh_tokens_carry_a_family_and_no_roles() {
        let m = manager();
        let token = m.sign_refresh("alice", None).unwrap();
        let v = m.verify_refresh(&token).unwrap();
        assert_eq!(v.token_type, TokenType::Refresh);
        assert_eq!(v.exp - v.iat, DEFAULT_REFRESH_TTL.as_secs());
        assert!(v.roles.is_empty());
        let family = v.family.unwrap();
        let next = m.sign_refresh("alice", Some(&family)).unwrap();
        let w = m.verify_refresh(&next).unwrap();
        assert_eq!(w.family.as_deref(), Some(family.as_str()));
        assert_ne!(w.jti, v.jti);
        assert_eq!(m.verify_access(&token), Err(TokenError::WrongType));
        assert_eq!(
            m.verify_refresh(&m.sign_access(&Principal::new("a")).unwrap()),
            Err(TokenError::WrongType)
        );
        assert_eq!(
            m.sign_refresh("a", Some("")),
            Err(TokenError::InvalidClaim("fam"))
        );
        let no_family = forge(
            &m,
            &serde_json::json!({"sub":"a","iat":1,"exp":u64::MAX,"jti":"j","typ":"refresh"}),
        );
        assert_eq!(
            m.verify_refresh(&no_family),
            Err(TokenError::MissingClaim("fam"))
        );
    }

    #[test]
    fn rotation_retires_and_drops_keys() {
        let clock = ManualClock::at_unix(T0);
        let m = JwtTokenManager::builder()
            .hmac_key("k1", Algorithm::HS256, SECRET)
            .current_key("k1")
            .rotation_grace(Duration::from_secs(600))
            .access_ttl(Duration::from_secs(3600))
            .clock(clock.clone())
            .build()
            .unwrap();
        let old = m.sign_access(&Principal::new("a")).unwrap();
        m.rotate("k2", Key::hmac(Algorithm::HS384, [9u8; 48]).unwrap())
            .unwrap();
        assert_eq!(m.key_ids(), ["k1", "k2"]);
        let new = m.sign_access(&Principal::new("a")).unwrap();
        assert_eq!(m.verify_access(&new).unwrap().kid, "k2");
        clock.advance(Duration::from_secs(599));
        assert_eq!(m.verify_access(&old).unwrap().kid, "k1");
        clock.advance(Duration::from_secs(1));
        assert_eq!(m.verify_access(&old), Err(TokenError::UnknownKey));
        assert_eq!(m.key_ids(), ["k2"]);
        assert!(m.verify_access(&new).is_ok());
        assert_eq!(
            m.rotate("k2", Key::hmac(Algorithm::HS256, SECRET).unwrap()),
            Err(TokenError::DuplicateKey("k2".into()))
        );
        assert!(matches!(
            m.rotate("k3", Key::hmac(Algorithm::HS256, [1u8; 31]).unwrap()),
            Err(TokenError::WeakKey { .. })
        ));
        // The dropped kid can be used again once it is gone.
        m.rotate("k1", Key::hmac(Algorithm::HS256, [3u8; 32]).unwrap())
            .unwrap();
        assert_eq!(m.verify_access(&old), Err(TokenError::BadSignature));
    }

    #[test]
    fn default_grace_covers_the_longest_lifetime() {
        let m = manager();
        assert_eq!(m.rotation_grace(), DEFAULT_REFRESH_TTL + DEFAULT_LEEWAY);
        let debug = format!("{m:?}");
        assert!(debug.contains("k1") && !debug.contains(SECRET), "{debug}");
    }

    #[test]
    fn oversized_claims_are_not_signed() {
        let m = manager();
        let many: Vec<String> = (0..2000).map(|i| format!("role-{i}")).collect();
        assert_eq!(
            m.sign_access(&Principal::new("a").with_roles(many)),
            Err(TokenError::TooLarge {
                max: MAX_TOKEN_BYTES
            })
        );
    }
}
