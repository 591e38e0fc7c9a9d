//! Keys, each bound to exactly one [`Algorithm`].
//!
//! Secret material ([`SigningKey`]: an HMAC secret or a private key) and public
//! material ([`VerifyingKey`]) are separate types; [`Key`] is either, as the
//! token manager's keyring holds them. A key's algorithm is fixed when the key
//! is made, and verification uses that algorithm whatever a token's header
//! says.
//!
//! Secrets are zeroized when dropped: HMAC keys live only as the pre-keyed
//! SHA-2 states of the verifier (built with the `zeroize` features of `hmac`
//! and `sha2`, so those states, and each per-token copy, are wiped on drop);
//! private keys live in aws-lc key objects (freed by aws-lc); the PEM and
//! DER bytes read to build them are
//! jsonwebtoken `EncodingKey`s, zeroized on drop. `Debug` never prints a
//! secret.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{self, KeyPair, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::roca;
use crate::error::TokenError;

/// A key's verifier, built once when the key is made (jsonwebtoken builds one
/// per token, re-parsing the public key each time). Asymmetric keys are
/// parsed once into aws-lc-rs `ParsedPublicKey`s: the same aws-lc
/// verification that jsonwebtoken's `aws_lc_rs` backend runs, so it accepts
/// and refuses exactly the same signatures, without the per-token key parse.
#[derive(Clone)]
pub(crate) enum KeyVerifier {
    /// HMAC: the keyed state after the key block, cloned per token; the tag
    /// comparison is constant-time (`verify_slice`).
    Hs256(hmac::Hmac<sha2::Sha256>),
    Hs384(hmac::Hmac<sha2::Sha384>),
    Hs512(hmac::Hmac<sha2::Sha512>),
    /// RSA (PKCS#1 v1.5 or PSS), ECDSA (fixed-size `r || s`) or Ed25519, with
    /// the parameters of the key's one algorithm.
    Public(Box<ParsedPublicKey>),
    /// A key that no verifier could be built for: every signature is
    /// refused, as jsonwebtoken would refuse it.
    Refuse,
}

/// The aws-lc-rs verification parameters of an ECDSA or EdDSA algorithm
/// (RSA keys go through [`rsa_params`]).
fn point_params(alg: Algorithm) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match alg {
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        _ => return None,
    })
}

/// The aws-lc-rs RSA parameters of an RSA algorithm.
fn rsa_params(alg: Algorithm) -> Option<&'static signature::RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

impl KeyVerifier {
    /// The pre-keyed HMAC states of a secret.
    fn hmac(alg: Algorithm, secret: &[u8]) -> Self {
        use hmac::KeyInit;
        let built = match alg {
            Algorithm::HS256 => hmac::Hmac::new_from_slice(secret).ok().map(Self::Hs256),
            Algorithm::HS384 => hmac::Hmac::new_from_slice(secret).ok().map(Self::Hs384),
            Algorithm::HS512 => hmac::Hmac::new_from_slice(secret).ok().map(Self::Hs512),
            _ => None,
        };
        built.unwrap_or(Self::Refuse)
    }

    /// The verifier of a public key (RSA components, an EC point or an
    /// Ed25519 key), parsed once.
    fn public(alg: Algorithm, public: &PublicParams) -> Self {
        let built = match public {
            PublicParams::Rsa { n, e } if alg.family() == Family::Rsa => {
                rsa_params(alg).and_then(|params| {
                    signature::RsaPublicKeyComponents {
                        n: n.as_slice(),
                        e: e.as_slice(),
                    }
                    .to_parsed_public_key(params)
                    .ok()
                })
            }
            PublicParams::Ec { x, y, .. } if alg.family() == Family::Ec => point_params(alg)
                .and_then(|params| ParsedPublicKey::new(params, ec_point(x, y)).ok()),
            PublicParams::Ed { x } if alg.family() == Family::Ed => {
                point_params(alg).and_then(|params| ParsedPublicKey::new(params, x).ok())
            }
            _ => None,
        };
        built
            .map(|key| Self::Public(Box::new(key)))
            .unwrap_or(Self::Refuse)
    }

    /// Whether `signature` is a valid signature of `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Hs256(state) => mac_matches(state, message, signature),
            Self::Hs384(state) => mac_matches(state, message, signature),
            Self::Hs512(state) => mac_matches(state, message, signature),
            Self::Public(key) => key.verify_sig(message, signature).is_ok(),
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

/// A private key's signer, built once when the key is loaded (jsonwebtoken
/// re-parses the private key for every token it signs).
pub(crate) enum KeySigner {
    /// HMAC: the keyed state lives in the key's [`KeyVerifier`].
    Mac,
    Rsa(
        Box<signature::RsaKeyPair>,
        &'static dyn signature::RsaEncoding,
    ),
    Ecdsa(Box<signature::EcdsaKeyPair>),
    Ed(Box<signature::Ed25519KeyPair>),
    /// An RSA key under [`MIN_RSA_BITS`], which aws-lc will not load: kept
    /// only so that building a token manager reports its size; never signs.
    Weak,
}

impl KeySigner {
    /// Signs `message`; the HMAC state comes from `verifier`.
    fn sign(&self, verifier: &KeyVerifier, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        use hmac::Mac;
        fn mac<M: Mac + Clone>(state: &M, message: &[u8]) -> Vec<u8> {
            let mut mac = state.clone();
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match (self, verifier) {
            (Self::Mac, KeyVerifier::Hs256(state)) => Ok(mac(state, message)),
            (Self::Mac, KeyVerifier::Hs384(state)) => Ok(mac(state, message)),
            (Self::Mac, KeyVerifier::Hs512(state)) => Ok(mac(state, message)),
            (Self::Rsa(pair, encoding), _) => {
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(*encoding, &rng, message, &mut out)
                    .map_err(|_| TokenError::Signing)?;
                Ok(out)
            }
            (Self::Ecdsa(pair), _) => pair
                .sign(&rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| TokenError::Signing),
            (Self::Ed(pair), _) => Ok(pair.sign(message).as_ref().to_vec()),
            _ => Err(TokenError::Signing),
        }
    }
}

/// The aws-lc-rs RSA padding and hash of an RSA algorithm, for signing.
fn rsa_encoding(alg: Algorithm) -> Option<&'static dyn signature::RsaEncoding> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_SHA512,
        _ => return None,
    })
}

/// The aws-lc-rs signing parameters of an ECDSA algorithm.
fn ecdsa_signing(alg: Algorithm) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    Some(match alg {
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        _ => return None,
    })
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
    /// ECDSA on P-521 with SHA-512.
    ES512,
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
    pub const ALL: [Self; 13] = [
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
        Self::ES512,
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
            Self::ES512 => "ES512",
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
            Self::ES256 | Self::ES384 | Self::ES512 => Family::Ec,
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
            Self::ES512 => Some(("P-521", 66)),
            _ => None,
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

/// jsonwebtoken's aws-lc-rs crypto provider, named rather than taken from the
/// process default, so that another crate enabling jsonwebtoken's
/// `rust_crypto` feature (which leaves no default) changes nothing here.
pub(crate) fn provider() -> &'static CryptoProvider {
    &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
}

/// One DER element: its tag and contents, and the bytes after it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// The modulus and exponent of a PKCS#1 `RSAPrivateKey` (or one inside a
/// PKCS#8 `PrivateKeyInfo`) when the modulus is under [`MIN_RSA_BITS`]:
/// aws-lc refuses to load such keys, but the token manager must still be able
/// to name the key and its size in [`TokenError::WeakRsaKey`].
fn weak_rsa_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    let (SEQUENCE, body, _) = der_element(der)? else {
        return None;
    };
    let (INTEGER, _version, rest) = der_element(body)? else {
        return None;
    };
    match der_element(rest)? {
        (INTEGER, n, rest) => {
            let (INTEGER, e, _) = der_element(rest)? else {
                return None;
            };
            (rsa_bits(n) < MIN_RSA_BITS).then(|| (n.to_vec(), e.to_vec()))
        }
        (SEQUENCE, _algorithm, rest) => match der_element(rest)? {
            (OCTET_STRING, inner, _) => weak_rsa_components(inner),
            _ => None,
        },
        _ => None,
    }
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
fn self_test(signer: &KeySigner, verifier: &KeyVerifier) -> Result<(), TokenError> {
    const MESSAGE: &[u8] = b"lexigram-auth key self-test";
    let signature = signer
        .sign(verifier, MESSAGE)
        .map_err(|_| TokenError::InvalidKey("the private key cannot sign"))?;
    if verifier.verify(MESSAGE, &signature) {
        Ok(())
    } else {
        Err(TokenError::InvalidKey(
            "the public half does not match the private key",
        ))
    }
}

/// Builds the verifier of a public key, which parses and checks the RSA
/// components or the EC or Ed25519 point.
fn public_verifier(alg: Algorithm, public: &PublicParams) -> Result<KeyVerifier, TokenError> {
    if matches!(public, PublicParams::Ed { x } if x.len() != 32) {
        return Err(TokenError::InvalidKey("an Ed25519 public key is 32 bytes"));
    }
    let weak_rsa = matches!(public, PublicParams::Rsa { n, .. } if rsa_bits(n) < MIN_RSA_BITS);
    match KeyVerifier::public(alg, public) {
        // aws-lc will not build an RSA key under 2048 bits. The key is kept,
        // verifying nothing, so that a token manager given it reports
        // `WeakRsaKey` with its size, which it always does.
        KeyVerifier::Refuse if weak_rsa => Ok(KeyVerifier::Refuse),
        KeyVerifier::Refuse => Err(TokenError::InvalidKey(
            "the public key is not valid for its algorithm",
        )),
        verifier => Ok(verifier),
    }
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
    signer: KeySigner,
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
        // The secret goes straight into the keyed states (no other copy is
        // kept, and those states are wiped on drop).
        let verifier = KeyVerifier::hmac(algorithm, secret);
        Ok(Self {
            alg: algorithm,
            signer: KeySigner::Mac,
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
        let (signer, public, strength) = match algorithm.family() {
            Family::Hmac => {
                return Err(TokenError::InvalidKey(
                    "HMAC algorithms take a secret, not a PEM key",
                ));
            }
            Family::Rsa => {
                let bad = || TokenError::InvalidKey("not an RSA private key in PEM");
                let encoding = EncodingKey::from_rsa_pem(pem).map_err(|_| bad())?;
                let (signer, n, e) = match signature::RsaKeyPair::from_der(encoding.as_bytes()) {
                    Ok(pair) => {
                        let components =
                            signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                        let padding = rsa_encoding(algorithm).ok_or_else(bad)?;
                        (
                            KeySigner::Rsa(Box::new(pair), padding),
                            components.n,
                            components.e,
                        )
                    }
                    Err(_) => {
                        let (n, e) = weak_rsa_components(encoding.as_bytes()).ok_or_else(bad)?;
                        (KeySigner::Weak, n, e)
                    }
                };
                let bits = check_rsa_modulus(&n)?;
                (signer, PublicParams::Rsa { n, e }, Strength::RsaBits(bits))
            }
            Family::Ec => {
                let bad =
                    || TokenError::InvalidKey("not a PKCS#8 private key for the algorithm's curve");
                let (crv, _) = algorithm.ec_curve().ok_or_else(bad)?;
                let encoding = EncodingKey::from_ec_pem(pem).map_err(|_| bad())?;
                let params = ecdsa_signing(algorithm).ok_or_else(bad)?;
                let pair = signature::EcdsaKeyPair::from_pkcs8(params, encoding.as_bytes())
                    .map_err(|_| bad())?;
                let (x, y) = ec_coordinates(algorithm, pair.public_key().as_ref())?;
                (
                    KeySigner::Ecdsa(Box::new(pair)),
                    PublicParams::Ec { crv, x, y },
                    Strength::Curve,
                )
            }
            Family::Ed => {
                let bad = || TokenError::InvalidKey("not an Ed25519 private key in PKCS#8 PEM");
                let encoding = EncodingKey::from_ed_pem(pem).map_err(|_| bad())?;
                let pair = signature::Ed25519KeyPair::from_pkcs8(encoding.as_bytes())
                    .map_err(|_| bad())?;
                let x = pair.public_key().as_ref().to_vec();
                (
                    KeySigner::Ed(Box::new(pair)),
                    PublicParams::Ed { x },
                    Strength::Curve,
                )
            }
        };
        let verifier = public_verifier(algorithm, &public)?;
        // aws-lc cannot sign with an RSA key under 2048 bits; such a key is
        // kept only so that building a token manager with it reports
        // `WeakRsaKey` with its size, which it always does.
        if !matches!(signer, KeySigner::Weak) {
            self_test(&signer, &verifier)?;
        }
        Ok(Self {
            alg: algorithm,
            signer,
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
        let (public, strength) = match algorithm.family() {
            Family::Hmac => {
                return Err(TokenError::InvalidKey(
                    "HMAC keys are secrets: use `SigningKey::hmac`",
                ));
            }
            Family::Rsa => {
                let bad = || TokenError::InvalidKey("not an RSA public key in PEM");
                let der = DecodingKey::from_rsa_pem(pem).map_err(|_| bad())?;
                let (n, e) = (provider().key_utils.rsa_pub_components_from_public_key)(
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
                (PublicParams::Ec { crv, x, y }, Strength::Curve)
            }
            Family::Ed => {
                let bad = || TokenError::InvalidKey("not an Ed25519 public key in PEM");
                let decoding = DecodingKey::from_ed_pem(pem).map_err(|_| bad())?;
                let x = decoding.try_get_as_bytes().map_err(|_| bad())?.to_vec();
                (PublicParams::Ed { x }, Strength::Curve)
            }
        };
        let verifier = public_verifier(algorithm, &public)?;
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
        let (public, strength) = match algorithm.family() {
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
                (PublicParams::Ec { crv, x, y }, Strength::Curve)
            }
            Family::Ed => {
                if jwk.crv.as_deref() != Some("Ed25519") {
                    return Err(TokenError::InvalidKey(
                        "an EdDSA JWK must have `crv` `Ed25519`",
                    ));
                }
                let x = b64_member(jwk.x.as_deref())?;
                (PublicParams::Ed { x }, Strength::Curve)
            }
        };
        let verifier = public_verifier(algorithm, &public)?;
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

/// The size of an RSA modulus in bits, refusing moduli over
/// [`MAX_RSA_BITS`] and those with the ROCA fingerprint (CVE-2017-15361),
/// whose private key can be computed from the public key.
fn check_rsa_modulus(n: &[u8]) -> Result<usize, TokenError> {
    let bits = rsa_bits(n);
    if bits > MAX_RSA_BITS {
        return Err(TokenError::InvalidKey(
            "RSA keys over 8192 bits are not supported",
        ));
    }
    if roca::has_fingerprint(n, bits) {
        return Err(TokenError::InvalidKey(
            "the RSA key has the ROCA weakness (CVE-2017-15361): its private key can be \
             computed from the public key; replace it",
        ));
    }
    Ok(bits)
}

fn rsa_public(n: Vec<u8>, e: Vec<u8>) -> Result<(PublicParams, Strength), TokenError> {
    let bits = check_rsa_modulus(&n)?;
    if rsa_bits(&e) == 0 {
        return Err(TokenError::InvalidKey("the RSA exponent is zero"));
    }
    Ok((PublicParams::Rsa { n, e }, Strength::RsaBits(bits)))
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
    let alg = jwk.alg.as_deref().ok_or(TokenError::InvalidKey(
        "a JWK needs `alg`: keys are bound to one algorithm",
    ))?;
    // `ES521` is not a registered JWA name, but a common misspelling of
    // `ES512` (ECDSA on P-521) found in published key sets, Wycheproof's copy
    // of RFC 7520 among them. It is read as `ES512` only on a P-521 key, which
    // can serve no other algorithm.
    let algorithm: Algorithm = if alg == "ES521" && jwk.crv.as_deref() == Some("P-521") {
        Algorithm::ES512
    } else {
        alg.parse()?
    };
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

    /// Signs `message` with a signing key.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        match self {
            Self::Signing(k) => k.signer.sign(&k.verifier, message),
            Self::Verifying(_) => Err(TokenError::NoSigningKey),
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
    const P521: &str = include_str!("../../../tests/data/keys/p521.pem");
    const P521_PUB: &str = include_str!("../../../tests/data/keys/p521.pub.pem");
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
            "none", "None", "hs256", "HS256 ", "es512", "ES521", "ps384", "",
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
            (Algorithm::ES512, P521),
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
            (Algorithm::ES512, P384),
            (Algorithm::ES256, P521),
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
            (Algorithm::ES512, P521_PUB),
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
            (Algorithm::ES512, P256_PUB),
            (Algorithm::ES256, P521_PUB),
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
    fn es512_signs_verifies_and_takes_the_es521_spelling_only_on_p521() {
        let signing = SigningKey::from_pem(Algorithm::ES512, P521).unwrap();
        let manager = crate::token::JwtTokenManager::builder()
            .key("k", signing)
            .current_key("k")
            .build()
            .unwrap();
        let token = manager.sign_refresh("alice", None).unwrap();
        assert!(token.starts_with("eyJhbGciOiJFUzUxMiIs"), "{token}");
        assert_eq!(manager.verify_refresh(&token).unwrap().user_id, "alice");
        let set = manager.jwks();
        let published = serde_json::to_string(&set.keys[0]).unwrap();
        assert!(published.contains(r#""crv":"P-521""#), "{published}");
        assert!(published.contains(r#""alg":"ES512""#), "{published}");
        let public = VerifyingKey::from_jwk(&published).unwrap();
        assert_eq!(public.algorithm(), Algorithm::ES512);
        let misspelt = published.replace(r#""alg":"ES512""#, r#""alg":"ES521""#);
        assert_eq!(
            VerifyingKey::from_jwk(&misspelt).unwrap().algorithm(),
            Algorithm::ES512
        );
        let on_p384 = r#"{"kty":"EC","crv":"P-384","alg":"ES521","x":"AA","y":"AA"}"#;
        assert_eq!(
            VerifyingKey::from_jwk(on_p384).unwrap_err(),
            TokenError::UnsupportedAlgorithm("ES521".into())
        );
        // A P-521 point off the curve is refused when the key is made.
        let off_curve = published.replace(
            &published[published.find(r#""y":""#).unwrap() + 5..][..4],
            "AAAA",
        );
        assert!(VerifyingKey::from_jwk(&off_curve).is_err(), "{off_curve}");
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
