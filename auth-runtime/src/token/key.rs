//! Keys, each bound to exactly one [`Algorithm`].
//!
//! Secret material ([`SigningKey`]: an HMAC secret or a private key) and public
//! material ([`VerifyingKey`]) are separate types; [`Key`] is either, as the
//! token manager's keyring holds them. A key's algorithm is fixed when the key
//! is made, and verification uses that algorithm whatever a token's header
//! says.
//!
//! Secrets are zeroized when dropped (jsonwebtoken's `EncodingKey` does it)
//! and `Debug` never prints them. The prebuilt HMAC verifier keeps the keyed
//! hash state (as jsonwebtoken's verifier does while it lives); it is not
//! zeroized on drop.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::jwk::EllipticCurve;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::error::TokenError;

/// A key's verifier, built once when the key is made (jsonwebtoken builds one
/// per token, re-parsing an RSA key each time). It makes the same RustCrypto
/// calls as jsonwebtoken's `rust_crypto` verifiers, so it accepts and refuses
/// exactly the same signatures.
#[derive(Clone)]
pub(crate) enum KeyVerifier {
    /// HMAC: the keyed state after the key block, cloned per token; the tag
    /// comparison is constant-time (`verify_slice`).
    Hs256(hmac::Hmac<sha2::Sha256>),
    Hs384(hmac::Hmac<sha2::Sha384>),
    Hs512(hmac::Hmac<sha2::Sha512>),
    Rsa(Algorithm, Box<rsa::PublicKey>),
    Es256(p256::ecdsa::VerifyingKey),
    Es384(p384::ecdsa::VerifyingKey),
    Ed(ed25519_dalek::VerifyingKey),
    /// A key that jsonwebtoken could not build a verifier for: every signature
    /// is refused, as jsonwebtoken would refuse it.
    Refuse,
}

impl KeyVerifier {
    fn new(alg: Algorithm, decoding: &DecodingKey, public: Option<&PublicParams>) -> Self {
        use hmac::KeyInit;
        let bytes = decoding.try_get_as_bytes().ok();
        let built = match (alg, public) {
            (Algorithm::HS256, _) => bytes
                .and_then(|k| hmac::Hmac::new_from_slice(k).ok())
                .map(Self::Hs256),
            (Algorithm::HS384, _) => bytes
                .and_then(|k| hmac::Hmac::new_from_slice(k).ok())
                .map(Self::Hs384),
            (Algorithm::HS512, _) => bytes
                .and_then(|k| hmac::Hmac::new_from_slice(k).ok())
                .map(Self::Hs512),
            (
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512,
                Some(PublicParams::Rsa { n, e }),
            ) => rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice_vartime(n),
                rsa::BoxedUint::from_be_slice_vartime(e),
            )
            .ok()
            .map(|key| Self::Rsa(alg, Box::new(key))),
            (Algorithm::ES256, _) => bytes
                .and_then(|p| p256::ecdsa::VerifyingKey::from_sec1_bytes(p).ok())
                .map(Self::Es256),
            (Algorithm::ES384, _) => bytes
                .and_then(|p| p384::ecdsa::VerifyingKey::from_sec1_bytes(p).ok())
                .map(Self::Es384),
            (Algorithm::EdDSA, _) => bytes
                .and_then(|x| <&[u8; 32]>::try_from(x).ok())
                .and_then(|x| ed25519_dalek::VerifyingKey::from_bytes(x).ok())
                .map(Self::Ed),
            _ => None,
        };
        built.unwrap_or(Self::Refuse)
    }

    /// Whether `signature` is a valid signature of `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier;
        use sha2::Digest;
        match self {
            Self::Hs256(state) => mac_matches(state, message, signature),
            Self::Hs384(state) => mac_matches(state, message, signature),
            Self::Hs512(state) => mac_matches(state, message, signature),
            Self::Rsa(alg, key) => match alg {
                Algorithm::RS256 => key
                    .verify(
                        rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                        &sha2::Sha256::digest(message),
                        signature,
                    )
                    .is_ok(),
                Algorithm::RS384 => key
                    .verify(
                        rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                        &sha2::Sha384::digest(message),
                        signature,
                    )
                    .is_ok(),
                Algorithm::RS512 => key
                    .verify(
                        rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                        &sha2::Sha512::digest(message),
                        signature,
                    )
                    .is_ok(),
                Algorithm::PS256 => key
                    .verify(
                        rsa::Pss::<sha2::Sha256>::new(),
                        &sha2::Sha256::digest(message),
                        signature,
                    )
                    .is_ok(),
                Algorithm::PS384 => key
                    .verify(
                        rsa::Pss::<sha2::Sha384>::new(),
                        &sha2::Sha384::digest(message),
                        signature,
                    )
                    .is_ok(),
                Algorithm::PS512 => key
                    .verify(
                        rsa::Pss::<sha2::Sha512>::new(),
                        &sha2::Sha512::digest(message),
                        signature,
                    )
                    .is_ok(),
                _ => false,
            },
            Self::Es256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            Self::Es384(key) => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            Self::Ed(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            Self::Refuse => false,
        }
    }
}

/// Runs the pre-keyed HMAC state over `message` and compares the tag with
/// `signature` in constant time.
fn mac_matches<M: hmac::Mac + Clone>(state: &M, message: &[u8], signature: &[u8]) -> bool {
    let mut mac = state.clone();
    mac.update(message);
    mac.verify_slice(signature).is_ok()
}

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus supported, in bits.
pub const MAX_RSA_BITS: usize = 8192;

/// A JWS signature algorithm (RFC 7518 and RFC 8037).
///
/// Names are exact and case-sensitive, as in a JOSE header:
///
/// ```
/// use lexigram_auth::token::Algorithm;
///
/// assert_eq!("ES256".parse::<Algorithm>()?, Algorithm::ES256);
/// assert!("none".parse::<Algorithm>().is_err());
/// assert!("hs256".parse::<Algorithm>().is_err());
/// assert_eq!(Algorithm::HS384.min_hmac_bytes(), Some(48));
/// # Ok::<(), lexigram_auth::error::TokenError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256; secret of at least 32 bytes.
    HS256,
    /// HMAC with SHA-384; secret of at least 48 bytes.
    HS384,
    /// HMAC with SHA-512; secret of at least 64 bytes.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256; modulus of at least 2048 bits.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Self; 12] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The name used in JOSE headers and JWKs (`HS256`, ..., `EdDSA`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Whether the algorithm uses a shared secret (HMAC).
    #[must_use]
    pub const fn is_hmac(self) -> bool {
        matches!(self.family(), Family::Hmac)
    }

    /// The shortest secret accepted for an HMAC algorithm: 32, 48 or 64 bytes
    /// (the hash's output size, RFC 7518 section 3.2); `None` for the others.
    #[must_use]
    pub const fn min_hmac_bytes(self) -> Option<usize> {
        match self {
            Self::HS256 => Some(32),
            Self::HS384 => Some(48),
            Self::HS512 => Some(64),
            _ => None,
        }
    }

    const fn family(self) -> Family {
        match self {
            Self::HS256 | Self::HS384 | Self::HS512 => Family::Hmac,
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                Family::Rsa
            }
            Self::ES256 | Self::ES384 => Family::Ec,
            Self::EdDSA => Family::Ed,
        }
    }

    /// The JWK key type (`kty`) of the algorithm's keys.
    pub(crate) const fn kty(self) -> &'static str {
        match self.family() {
            Family::Hmac => "oct",
            Family::Rsa => "RSA",
            Family::Ec => "EC",
            Family::Ed => "OKP",
        }
    }

    /// The curve of an ECDSA algorithm and the size of one coordinate.
    const fn ec_curve(self) -> Option<(&'static str, usize)> {
        match self {
            Self::ES256 => Some(("P-256", 32)),
            Self::ES384 => Some(("P-384", 48)),
            _ => None,
        }
    }

    pub(crate) const fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::HS256 => jsonwebtoken::Algorithm::HS256,
            Self::HS384 => jsonwebtoken::Algorithm::HS384,
            Self::HS512 => jsonwebtoken::Algorithm::HS512,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::RS384 => jsonwebtoken::Algorithm::RS384,
            Self::RS512 => jsonwebtoken::Algorithm::RS512,
            Self::PS256 => jsonwebtoken::Algorithm::PS256,
            Self::PS384 => jsonwebtoken::Algorithm::PS384,
            Self::PS512 => jsonwebtoken::Algorithm::PS512,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::ES384 => jsonwebtoken::Algorithm::ES384,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| TokenError::UnsupportedAlgorithm(s.chars().take(32).collect()))
    }
}

/// The public half of an asymmetric key, as published in a JWKS.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum PublicParams {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ec {
        crv: &'static str,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    Ed {
        x: Vec<u8>,
    },
}

/// How strong a key is, checked when a token manager is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strength {
    HmacBytes(usize),
    RsaBits(usize),
    /// Elliptic-curve keys: the curve fixes the strength.
    Curve,
}

/// The crypto provider that jsonwebtoken uses (RustCrypto in this build).
pub(crate) fn provider() -> Result<&'static CryptoProvider, TokenError> {
    CryptoProvider::try_get_default().ok_or(TokenError::InvalidKey(
        "no jsonwebtoken crypto provider is available",
    ))
}

fn rsa_bits(n: &[u8]) -> usize {
    let mut digits = n.iter().skip_while(|b| **b == 0);
    match digits.next() {
        Some(first) => {
            let rest = digits.count();
            rest * 8 + (8 - first.leading_zeros() as usize)
        }
        None => 0,
    }
}

/// Signs and verifies a fixed message: proves the two halves belong together
/// before the key is ever used.
fn self_test(
    alg: Algorithm,
    encoding: &EncodingKey,
    decoding: &DecodingKey,
) -> Result<(), TokenError> {
    const MESSAGE: &[u8] = b"lexigram-auth key self-test";
    let provider = provider()?;
    let cannot_sign = |_| TokenError::InvalidKey("the private key cannot sign");
    let signer = (provider.signer_factory)(&alg.jwt(), encoding).map_err(cannot_sign)?;
    let signature = signer
        .try_sign(MESSAGE)
        .map_err(|_| TokenError::InvalidKey("the private key cannot sign"))?;
    check_public(alg, decoding)?;
    (provider.verifier_factory)(&alg.jwt(), decoding)
        .ok()
        .and_then(|v| v.verify(MESSAGE, &signature).ok())
        .ok_or(TokenError::InvalidKey(
            "the public half does not match the private key",
        ))
}

/// Builds a verifier once, which parses and checks an EC or Ed25519 point.
fn check_public(alg: Algorithm, decoding: &DecodingKey) -> Result<(), TokenError> {
    if alg.family() == Family::Ed && decoding.try_get_as_bytes().map(<[u8]>::len).ok() != Some(32) {
        // jsonwebtoken slices the first 32 bytes without checking: never let a
        // shorter key reach it.
        return Err(TokenError::InvalidKey("an Ed25519 public key is 32 bytes"));
    }
    (provider()?.verifier_factory)(&alg.jwt(), decoding)
        .map(|_| ())
        .map_err(|_| TokenError::InvalidKey("the public key is not valid for its algorithm"))
}

fn ec_point(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut point = Vec::with_capacity(1 + x.len() + y.len());
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    point
}

/// Splits an uncompressed SEC1 point into its coordinates.
fn ec_coordinates(alg: Algorithm, point: &[u8]) -> Result<(Vec<u8>, Vec<u8>), TokenError> {
    let (_, size) = alg
        .ec_curve()
        .ok_or(TokenError::InvalidKey("not an ECDSA algorithm"))?;
    match point.split_first() {
        Some((0x04, xy)) if xy.len() == 2 * size => {
            let (x, y) = xy.split_at(size);
            Ok((x.to_vec(), y.to_vec()))
        }
        _ => Err(TokenError::InvalidKey(
            "the EC public key is not on the algorithm's curve",
        )),
    }
}

/// A secret or private key: signs tokens and verifies them.
///
/// ```
/// use lexigram_auth::token::{Algorithm, SigningKey};
///
/// let key = SigningKey::hmac(Algorithm::HS512, [7u8; 64])?;
/// assert_eq!(key.algorithm(), Algorithm::HS512);
/// assert!(format!("{key:?}").contains("redacted"));
/// # Ok::<(), lexigram_auth::error::TokenError>(())
/// ```
pub struct SigningKey {
    alg: Algorithm,
    encoding: EncodingKey,
    public: Option<PublicParams>,
    strength: Strength,
    verifier: KeyVerifier,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.alg)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl SigningKey {
    /// An HMAC secret for `HS256`, `HS384` or `HS512`. Its length is checked
    /// when the token manager is built (at least 32, 48 or 64 bytes).
    ///
    /// # Errors
    /// [`TokenError::InvalidKey`] for an empty secret or a non-HMAC algorithm.
    pub fn hmac(algorithm: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, TokenError> {
        let secret = secret.as_ref();
        if !algorithm.is_hmac() {
            return Err(TokenError::InvalidKey(
                "only HS256, HS384 and HS512 take a shared secret",
            ));
        }
        if secret.is_empty() {
            return Err(TokenError::InvalidKey("the key is empty"));
        }
        let encoding = EncodingKey::from_secret(secret)
            .map_err(|_| TokenError::InvalidKey("the key is empty"))?;
        let decoding = DecodingKey::from_secret(secret)
            .map_err(|_| TokenError::InvalidKey("the key is empty"))?;
        let verifier = KeyVerifier::new(algorithm, &decoding, None);
        Ok(Self {
            alg: algorithm,
            encoding,
            public: None,
            strength: Strength::HmacBytes(secret.len()),
            verifier,
        })
    }

    /// A private key in PEM: RSA (PKCS#1 `RSA PRIVATE KEY` or PKCS#8), ECDSA
    /// or Ed25519 (PKCS#8 `PRIVATE KEY`). The key must suit `algorithm` (a P-384
    /// key is refused for `ES256`); it is test-signed once.
    ///
    /// # Errors
    /// [`TokenError::InvalidKey`] when the PEM is not a private key for
    /// `algorithm`.
    pub fn from_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, TokenError> {
        let pem = pem.as_ref();
        let utils = &provider()?.key_utils;
        let (encoding, decoding, public, strength) = match algorithm.family() {
            Family::Hmac => {
                return Err(TokenError::InvalidKey(
                    "HMAC algorithms take a secret, not a PEM key",
                ));
            }
            Family::Rsa => {
                let bad = || TokenError::InvalidKey("not an RSA private key in PEM");
                let encoding = EncodingKey::from_rsa_pem(pem).map_err(|_| bad())?;
                let (n, e) = (utils.rsa_pub_components_from_private_key)(encoding.as_bytes())
                    .map_err(|_| bad())?;
                let bits = rsa_bits(&n);
                if bits > MAX_RSA_BITS {
                    return Err(TokenError::InvalidKey(
                        "RSA keys over 8192 bits are not supported",
                    ));
                }
                let decoding = DecodingKey::from_rsa_raw_components(&n, &e);
                (
                    encoding,
                    decoding,
                    PublicParams::Rsa { n, e },
                    Strength::RsaBits(bits),
                )
            }
            Family::Ec => {
                let bad =
                    || TokenError::InvalidKey("not a PKCS#8 private key for the algorithm's curve");
                let (crv, _) = algorithm.ec_curve().ok_or_else(bad)?;
                let encoding = EncodingKey::from_ec_pem(pem).map_err(|_| bad())?;
                let (curve, x, y) = (utils.ec_pub_components_from_private_key)(
                    encoding.as_bytes(),
                    algorithm.jwt(),
                )
                .map_err(|_| bad())?;
                let expected = if algorithm == Algorithm::ES256 {
                    EllipticCurve::P256
                } else {
                    EllipticCurve::P384
                };
                if curve != expected {
                    return Err(bad());
                }
                let decoding = DecodingKey::from_ec_der(&ec_point(&x, &y));
                (
                    encoding,
                    decoding,
                    PublicParams::Ec { crv, x, y },
                    Strength::Curve,
                )
            }
            Family::Ed => {
                let bad = || TokenError::InvalidKey("not an Ed25519 private key in PKCS#8 PEM");
                let encoding = EncodingKey::from_ed_pem(pem).map_err(|_| bad())?;
                let x = (utils.ed_pub_components_from_private_key)(
                    encoding.as_bytes(),
                    &EllipticCurve::Ed25519,
                )
                .map_err(|_| bad())?;
                let decoding = DecodingKey::from_ed_der(&x);
                (encoding, decoding, PublicParams::Ed { x }, Strength::Curve)
            }
        };
        self_test(algorithm, &encoding, &decoding)?;
        let verifier = KeyVerifier::new(algorithm, &decoding, Some(&public));
        Ok(Self {
            alg: algorithm,
            encoding,
            public: Some(public),
            strength,
            verifier,
        })
    }

    /// A symmetric JWK (`"kty": "oct"`, `k`) whose `alg` names an HMAC
    /// algorithm. Private asymmetric JWKs are not supported: load private keys
    /// from PEM.
    ///
    /// # Errors
    /// [`TokenError::InvalidKey`] or [`TokenError::UnsupportedAlgorithm`].
    pub fn from_jwk(json: &str) -> Result<Self, TokenError> {
        let (algorithm, mut jwk) = parse_jwk(json)?;
        if !algorithm.is_hmac() {
            return Err(if jwk.d.is_some() {
                TokenError::InvalidKey(
                    "private asymmetric JWKs are not supported: load the private key from PEM",
                )
            } else {
                TokenError::InvalidKey("the JWK is a public key: use `VerifyingKey::from_jwk`")
            });
        }
        let mut secret = b64_member(jwk.k.as_deref())?;
        jwk.k.zeroize();
        let key = Self::hmac(algorithm, &secret);
        secret.zeroize();
        key
    }

    /// The algorithm the key is bound to.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The public half of an asymmetric key; `None` for an HMAC secret, which
    /// has no public half.
    #[must_use]
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        let public = self.public.clone()?;
        Some(VerifyingKey {
            alg: self.alg,
            public,
            strength: self.strength,
            verifier: self.verifier.clone(),
        })
    }
}

/// A public key: verifies tokens, never signs them.
///
/// ```
/// use lexigram_auth::token::{Algorithm, VerifyingKey};
///
/// let jwk = r#"{"kty":"OKP","crv":"Ed25519","alg":"EdDSA",
///               "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// let key = VerifyingKey::from_jwk(jwk)?;
/// assert_eq!(key.algorithm(), Algorithm::EdDSA);
/// # Ok::<(), lexigram_auth::error::TokenError>(())
/// ```
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    public: PublicParams,
    strength: Strength,
    verifier: KeyVerifier,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.alg)
            .field("kty", &self.alg.kty())
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// A public key in PEM (`PUBLIC KEY`, or `RSA PUBLIC KEY` for RSA) for an
    /// asymmetric `algorithm`.
    ///
    /// # Errors
    /// [`TokenError::InvalidKey`] when the PEM is not a public key for
    /// `algorithm`.
    pub fn from_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, TokenError> {
        let pem = pem.as_ref();
        let (decoding, public, strength) = match algorithm.family() {
            Family::Hmac => {
                return Err(TokenError::InvalidKey(
                    "HMAC keys are secrets: use `SigningKey::hmac`",
                ));
            }
            Family::Rsa => {
                let bad = || TokenError::InvalidKey("not an RSA public key in PEM");
                let der = DecodingKey::from_rsa_pem(pem).map_err(|_| bad())?;
                let (n, e) = (provider()?.key_utils.rsa_pub_components_from_public_key)(
                    der.try_get_as_bytes().map_err(|_| bad())?,
                )
                .map_err(|_| bad())?;
                rsa_public(n, e)?
            }
            Family::Ec => {
                let bad = || TokenError::InvalidKey("not an EC public key in PEM");
                let (crv, _) = algorithm.ec_curve().ok_or_else(bad)?;
                let decoding = DecodingKey::from_ec_pem(pem).map_err(|_| bad())?;
                let (x, y) =
                    ec_coordinates(algorithm, decoding.try_get_as_bytes().map_err(|_| bad())?)?;
                (decoding, PublicParams::Ec { crv, x, y }, Strength::Curve)
            }
            Family::Ed => {
                let bad = || TokenError::InvalidKey("not an Ed25519 public key in PEM");
                let decoding = DecodingKey::from_ed_pem(pem).map_err(|_| bad())?;
                let x = decoding.try_get_as_bytes().map_err(|_| bad())?.to_vec();
                (decoding, PublicParams::Ed { x }, Strength::Curve)
            }
        };
        check_public(algorithm, &decoding)?;
        let verifier = KeyVerifier::new(algorithm, &decoding, Some(&public));
        Ok(Self {
            alg: algorithm,
            public,
            strength,
            verifier,
        })
    }

    /// A public JWK (RFC 7517): `kty` `RSA` (`n`, `e`), `EC` (`crv`, `x`, `y`) or
    /// `OKP` (`crv` `Ed25519`, `x`). `alg` is required and the key is bound to
    /// it; `kty` and `crv` must match it; `use`, when present, must be `sig`.
    /// The JWK's own `kid` is not used: the keyring names keys.
    ///
    /// # Errors
    /// [`TokenError::InvalidKey`] or [`TokenError::UnsupportedAlgorithm`].
    pub fn from_jwk(json: &str) -> Result<Self, TokenError> {
        let (algorithm, jwk) = parse_jwk(json)?;
        if jwk.d.is_some() {
            return Err(TokenError::InvalidKey(
                "private JWKs are not supported: load the private key from PEM",
            ));
        }
        let (decoding, public, strength) = match algorithm.family() {
            Family::Hmac => {
                return Err(TokenError::InvalidKey(
                    "a symmetric JWK is a secret: use `SigningKey::from_jwk`",
                ));
            }
            Family::Rsa => {
                rsa_public(b64_member(jwk.n.as_deref())?, b64_member(jwk.e.as_deref())?)?
            }
            Family::Ec => {
                let (crv, size) = algorithm
                    .ec_curve()
                    .ok_or(TokenError::InvalidKey("not an ECDSA algorithm"))?;
                if jwk.crv.as_deref() != Some(crv) {
                    return Err(TokenError::InvalidKey(
                        "the JWK's `crv` does not match its `alg`",
                    ));
                }
                let x = b64_member(jwk.x.as_deref())?;
                let y = b64_member(jwk.y.as_deref())?;
                if x.len() != size || y.len() != size {
                    return Err(TokenError::InvalidKey(
                        "the JWK's coordinates have the wrong size",
                    ));
                }
                let decoding = DecodingKey::from_ec_der(&ec_point(&x, &y));
                (decoding, PublicParams::Ec { crv, x, y }, Strength::Curve)
            }
            Family::Ed => {
                if jwk.crv.as_deref() != Some("Ed25519") {
                    return Err(TokenError::InvalidKey(
                        "an EdDSA JWK must have `crv` `Ed25519`",
                    ));
                }
                let x = b64_member(jwk.x.as_deref())?;
                let decoding = DecodingKey::from_ed_der(&x);
                (decoding, PublicParams::Ed { x }, Strength::Curve)
            }
        };
        check_public(algorithm, &decoding)?;
        let verifier = KeyVerifier::new(algorithm, &decoding, Some(&public));
        Ok(Self {
            alg: algorithm,
            public,
            strength,
            verifier,
        })
    }

    /// The algorithm the key is bound to.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn rsa_public(n: Vec<u8>, e: Vec<u8>) -> Result<(DecodingKey, PublicParams, Strength), TokenError> {
    let bits = rsa_bits(&n);
    if bits > MAX_RSA_BITS {
        return Err(TokenError::InvalidKey(
            "RSA keys over 8192 bits are not supported",
        ));
    }
    if rsa_bits(&e) == 0 {
        return Err(TokenError::InvalidKey("the RSA exponent is zero"));
    }
    let decoding = DecodingKey::from_rsa_raw_components(&n, &e);
    Ok((
        decoding,
        PublicParams::Rsa { n, e },
        Strength::RsaBits(bits),
    ))
}

/// The members of a JWK this crate reads; others (`kid`, `key_ops`, `x5c`, ...)
/// are ignored. A member given twice is an error.
#[derive(Deserialize)]
struct JwkInput {
    kty: String,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    k: Option<String>,
    d: Option<String>,
}

impl Drop for JwkInput {
    fn drop(&mut self) {
        self.k.zeroize();
        self.d.zeroize();
    }
}

fn parse_jwk(json: &str) -> Result<(Algorithm, JwkInput), TokenError> {
    // A derived struct would also accept a JSON array, positionally.
    if !json.trim_start().starts_with('{') {
        return Err(TokenError::InvalidKey("a JWK is a JSON object"));
    }
    let jwk: JwkInput =
        serde_json::from_str(json).map_err(|_| TokenError::InvalidKey("not a valid JWK"))?;
    let algorithm: Algorithm = jwk
        .alg
        .as_deref()
        .ok_or(TokenError::InvalidKey(
            "a JWK needs `alg`: keys are bound to one algorithm",
        ))?
        .parse()?;
    if jwk.kty != algorithm.kty() {
        return Err(TokenError::InvalidKey(
            "the JWK's `kty` does not match its `alg`",
        ));
    }
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err(TokenError::InvalidKey("the JWK's `use` is not `sig`"));
    }
    Ok((algorithm, jwk))
}

fn b64_member(value: Option<&str>) -> Result<Vec<u8>, TokenError> {
    let value = value.ok_or(TokenError::InvalidKey(
        "the JWK lacks a member its `kty` needs",
    ))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| TokenError::InvalidKey("a JWK member is not unpadded base64url"))?;
    if bytes.is_empty() {
        return Err(TokenError::InvalidKey("the key is empty"));
    }
    Ok(bytes)
}

/// A key in a token manager's keyring: a [`SigningKey`] (signs and verifies)
/// or a [`VerifyingKey`] (verifies only).
#[derive(Debug)]
#[non_exhaustive]
pub enum Key {
    /// A secret or private key.
    Signing(SigningKey),
    /// A public key.
    Verifying(VerifyingKey),
}

impl From<SigningKey> for Key {
    fn from(key: SigningKey) -> Self {
        Self::Signing(key)
    }
}

impl From<VerifyingKey> for Key {
    fn from(key: VerifyingKey) -> Self {
        Self::Verifying(key)
    }
}

impl Key {
    /// An HMAC secret (see [`SigningKey::hmac`]).
    ///
    /// # Errors
    /// As [`SigningKey::hmac`].
    pub fn hmac(algorithm: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, TokenError> {
        SigningKey::hmac(algorithm, secret).map(Self::Signing)
    }

    /// A PEM key: a private key (label `... PRIVATE KEY`) signs and verifies,
    /// a public key verifies only.
    ///
    /// ```
    /// use lexigram_auth::token::{Algorithm, Key};
    ///
    /// let pem = "-----BEGIN PUBLIC KEY-----\n\
    ///            MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n\
    ///            -----END PUBLIC KEY-----\n";
    /// let key = Key::from_pem(Algorithm::EdDSA, pem)?;
    /// assert!(!key.can_sign());
    /// # Ok::<(), lexigram_auth::error::TokenError>(())
    /// ```
    ///
    /// # Errors
    /// As [`SigningKey::from_pem`] and [`VerifyingKey::from_pem`].
    pub fn from_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, TokenError> {
        let pem = pem.as_ref();
        match pem_label(pem) {
            Some(label) if label.ends_with("PRIVATE KEY") => {
                SigningKey::from_pem(algorithm, pem).map(Self::Signing)
            }
            Some(_) => VerifyingKey::from_pem(algorithm, pem).map(Self::Verifying),
            None => Err(TokenError::InvalidKey("not a PEM document")),
        }
    }

    /// A JWK: `oct` becomes a [`SigningKey`], the others a [`VerifyingKey`].
    ///
    /// # Errors
    /// As [`SigningKey::from_jwk`] and [`VerifyingKey::from_jwk`].
    pub fn from_jwk(json: &str) -> Result<Self, TokenError> {
        let (algorithm, _) = parse_jwk(json)?;
        if algorithm.is_hmac() {
            SigningKey::from_jwk(json).map(Self::Signing)
        } else {
            VerifyingKey::from_jwk(json).map(Self::Verifying)
        }
    }

    /// The algorithm the key is bound to.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Signing(k) => k.alg,
            Self::Verifying(k) => k.alg,
        }
    }

    /// Whether the key can sign (it holds a secret or private key).
    #[must_use]
    pub fn can_sign(&self) -> bool {
        matches!(self, Self::Signing(_))
    }

    pub(crate) fn encoding(&self) -> Option<&EncodingKey> {
        match self {
            Self::Signing(k) => Some(&k.encoding),
            Self::Verifying(_) => None,
        }
    }

    /// The verifier built when the key was made.
    pub(crate) fn verifier(&self) -> &KeyVerifier {
        match self {
            Self::Signing(k) => &k.verifier,
            Self::Verifying(k) => &k.verifier,
        }
    }

    /// The public parameters to publish; `None` for HMAC secrets.
    pub(crate) fn public(&self) -> Option<&PublicParams> {
        match self {
            Self::Signing(k) => k.public.as_ref(),
            Self::Verifying(k) => Some(&k.public),
        }
    }

    /// Refuses weak keys: HMAC secrets shorter than the hash output and RSA
    /// moduli under [`MIN_RSA_BITS`].
    pub(crate) fn check_strength(&self, kid: &str) -> Result<(), TokenError> {
        let strength = match self {
            Self::Signing(k) => k.strength,
            Self::Verifying(k) => k.strength,
        };
        let algorithm = self.algorithm();
        match strength {
            Strength::HmacBytes(actual) => {
                let min_bytes = algorithm.min_hmac_bytes().unwrap_or(usize::MAX);
                if actual < min_bytes {
                    return Err(TokenError::WeakKey {
                        kid: kid.to_owned(),
                        algorithm: algorithm.as_str(),
                        min_bytes,
                        actual,
                    });
                }
            }
            Strength::RsaBits(actual_bits) => {
                if actual_bits < MIN_RSA_BITS {
                    return Err(TokenError::WeakRsaKey {
                        kid: kid.to_owned(),
                        min_bits: MIN_RSA_BITS,
                        actual_bits,
                    });
                }
            }
            Strength::Curve => {}
        }
        Ok(())
    }
}

/// The label of the first PEM block (`PRIVATE KEY`, `PUBLIC KEY`, ...).
fn pem_label(pem: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = text.get(start..)?;
    let end = rest.find("-----")?;
    rest.get(..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = include_str!("../../../tests/data/keys/rsa-2048.pem");
    const RSA_PKCS1: &str = include_str!("../../../tests/data/keys/rsa-2048-pkcs1.pem");
    const RSA_PUB: &str = include_str!("../../../tests/data/keys/rsa-2048.pub.pem");
    const RSA_1024: &str = include_str!("../../../tests/data/keys/rsa-1024.pem");
    const P256: &str = include_str!("../../../tests/data/keys/p256.pem");
    const P256_PUB: &str = include_str!("../../../tests/data/keys/p256.pub.pem");
    const P384: &str = include_str!("../../../tests/data/keys/p384.pem");
    const P384_PUB: &str = include_str!("../../../tests/data/keys/p384.pub.pem");
    const ED: &str = include_str!("../../../tests/data/keys/ed25519.pem");
    const ED_PUB: &str = include_str!("../../../tests/data/keys/ed25519.pub.pem");

    #[test]
    fn algorithm_names_round_trip_and_are_exact() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.as_str());
        }
        for bad in [
            "none", "None", "hs256", "HS256 ", "ES512", "ES521", "ps384", "",
        ] {
            assert!(matches!(
                bad.parse::<Algorithm>(),
                Err(TokenError::UnsupportedAlgorithm(_))
            ));
        }
        assert_eq!(
            serde_json::to_string(&Algorithm::EdDSA).unwrap(),
            "\"EdDSA\""
        );
    }

    #[test]
    fn private_pems_load_for_their_algorithm_only() {
        for (alg, pem) in [
            (Algorithm::RS256, RSA),
            (Algorithm::RS512, RSA_PKCS1),
            (Algorithm::PS256, RSA),
            (Algorithm::PS384, RSA),
            (Algorithm::PS512, RSA),
            (Algorithm::ES256, P256),
            (Algorithm::ES384, P384),
            (Algorithm::EdDSA, ED),
        ] {
            let key = SigningKey::from_pem(alg, pem).unwrap();
            assert_eq!(key.algorithm(), alg);
            assert_eq!(key.verifying_key().unwrap().algorithm(), alg);
            assert!(Key::from_pem(alg, pem).unwrap().can_sign());
        }
        for (alg, pem) in [
            (Algorithm::ES256, P384),
            (Algorithm::ES384, P256),
            (Algorithm::ES256, RSA),
            (Algorithm::RS256, P256),
            (Algorithm::EdDSA, P256),
            (Algorithm::HS256, RSA),
            (Algorithm::RS256, RSA_PUB),
            (Algorithm::RS256, ""),
            (
                Algorithm::RS256,
                "-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n",
            ),
        ] {
            assert!(
                matches!(
                    SigningKey::from_pem(alg, pem),
                    Err(TokenError::InvalidKey(_))
                ),
                "{alg} accepted a wrong key"
            );
        }
    }

    #[test]
    fn public_pems_load_for_their_algorithm_only() {
        for (alg, pem) in [
            (Algorithm::RS384, RSA_PUB),
            (Algorithm::ES256, P256_PUB),
            (Algorithm::ES384, P384_PUB),
            (Algorithm::EdDSA, ED_PUB),
        ] {
            let key = Key::from_pem(alg, pem).unwrap();
            assert!(!key.can_sign());
            assert_eq!(key.algorithm(), alg);
            assert!(key.public().is_some());
        }
        for (alg, pem) in [
            (Algorithm::ES256, P384_PUB),
            (Algorithm::ES384, P256_PUB),
            (Algorithm::EdDSA, P256_PUB),
            (Algorithm::RS256, ED_PUB),
            (Algorithm::RS256, RSA),
            (Algorithm::HS256, RSA_PUB),
        ] {
            assert!(
                matches!(
                    VerifyingKey::from_pem(alg, pem),
                    Err(TokenError::InvalidKey(_))
                ),
                "{alg} accepted a wrong key"
            );
        }
    }

    #[test]
    fn strength_is_checked_per_algorithm() {
        for (alg, min) in [
            (Algorithm::HS256, 32),
            (Algorithm::HS384, 48),
            (Algorithm::HS512, 64),
        ] {
            let short = Key::hmac(alg, vec![1u8; min - 1]).unwrap();
            assert_eq!(
                short.check_strength("k"),
                Err(TokenError::WeakKey {
                    kid: "k".into(),
                    algorithm: alg.as_str(),
                    min_bytes: min,
                    actual: min - 1
                })
            );
            assert!(
                Key::hmac(alg, vec![1u8; min])
                    .unwrap()
                    .check_strength("k")
                    .is_ok()
            );
        }
        let weak = Key::from_pem(Algorithm::RS256, RSA_1024).unwrap();
        assert_eq!(
            weak.check_strength("old"),
            Err(TokenError::WeakRsaKey {
                kid: "old".into(),
                min_bits: 2048,
                actual_bits: 1024
            })
        );
        assert!(
            Key::from_pem(Algorithm::RS256, RSA)
                .unwrap()
                .check_strength("k")
                .is_ok()
        );
        assert_eq!(
            Key::hmac(Algorithm::HS256, b"").unwrap_err(),
            TokenError::InvalidKey("the key is empty")
        );
        assert!(Key::hmac(Algorithm::RS256, [0u8; 64]).is_err());
    }

    #[test]
    fn jwks_bind_the_algorithm() {
        let ed = r#"{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        assert_eq!(
            VerifyingKey::from_jwk(ed).unwrap().algorithm(),
            Algorithm::EdDSA
        );
        let oct =
            r#"{"kty":"oct","alg":"HS256","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#;
        let key = Key::from_jwk(oct).unwrap();
        assert!(key.can_sign());
        assert!(key.public().is_none());
        assert!(key.check_strength("k").is_ok());
        for bad in [
            // no alg
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
            // kty does not match alg
            r#"{"kty":"RSA","crv":"Ed25519","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
            // short x (jsonwebtoken would panic on it)
            r#"{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"11qY"}"#,
            // padded base64
            r#"{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="}"#,
            // encryption key
            r#"{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
            // private
            r#"{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
            // duplicate member
            r#"{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
            // an array, not an object
            r#"["OKP","EdDSA"]"#,
            // a P-256 point claimed as P-384
            r#"{"kty":"EC","crv":"P-384","alg":"ES256","x":"AA","y":"AA"}"#,
            // alg none
            r#"{"kty":"oct","alg":"none","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#,
        ] {
            assert!(Key::from_jwk(bad).is_err(), "{bad}");
        }
        assert!(VerifyingKey::from_jwk(oct).is_err());
        assert!(SigningKey::from_jwk(ed).is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let key = Key::hmac(Algorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap();
        let text = format!("{key:?}");
        assert!(!text.contains("0123456789"), "{text}");
        assert!(text.contains("redacted"));
    }

    #[test]
    fn rsa_bits_ignores_leading_zeros() {
        assert_eq!(rsa_bits(&[0, 0, 0x80, 0]), 16);
        assert_eq!(rsa_bits(&[0x01]), 1);
        assert_eq!(rsa_bits(&[]), 0);
    }
}
