//! The JWKS document (RFC 7517) of a manager's live public keys, and an axum
//! route that serves it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use super::key::{Algorithm, PublicParams, VerifyingKey};
use super::manager::JwtTokenManager;
use crate::error::TokenError;

/// Where [`jwks_router`] serves the document.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// A JWK Set: `{"keys": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// The key with id `kid`.
    #[must_use]
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// One public JWK, as this crate publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Jwk {
    /// Key type: `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Key id.
    pub kid: String,
    /// The one algorithm the key is for.
    pub alg: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
    /// Curve (`P-256`, `P-384`, `Ed25519`) for `EC` and `OKP` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// RSA modulus, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// X coordinate (`EC`) or public key (`OKP`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Y coordinate (`EC`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

impl Jwk {
    pub(crate) fn from_public(kid: &str, algorithm: Algorithm, public: &PublicParams) -> Self {
        let b64 = |bytes: &[u8]| Some(URL_SAFE_NO_PAD.encode(bytes));
        let mut jwk = Self {
            kty: algorithm.kty().to_owned(),
            kid: kid.to_owned(),
            alg: algorithm.as_str().to_owned(),
            key_use: "sig".to_owned(),
            crv: None,
            n: None,
            e: None,
            x: None,
            y: None,
        };
        match public {
            PublicParams::Rsa { n, e } => {
                // RFC 7518 6.3.1.1: the modulus without leading zero octets.
                let first = n.iter().position(|b| *b != 0).unwrap_or(n.len());
                jwk.n = b64(n.get(first..).unwrap_or_default());
                jwk.e = b64(e);
            }
            PublicParams::Ec { crv, x, y } => {
                jwk.crv = Some((*crv).to_owned());
                jwk.x = b64(x);
                jwk.y = b64(y);
            }
            PublicParams::Ed { x } => {
                jwk.crv = Some("Ed25519".to_owned());
                jwk.x = b64(x);
            }
        }
        jwk
    }

    /// The key as a [`VerifyingKey`] (with the checks of
    /// [`VerifyingKey::from_jwk`]).
    ///
    /// # Errors
    /// As [`VerifyingKey::from_jwk`].
    pub fn verifying_key(&self) -> Result<VerifyingKey, TokenError> {
        let json = serde_json::to_string(self)
            .map_err(|_| TokenError::InvalidKey("the JWK cannot be serialized"))?;
        VerifyingKey::from_jwk(&json)
    }
}

/// The JWKS of `manager` as an HTTP response: `200`, `application/json`,
/// cacheable for five minutes (clients refetch on an unknown `kid`).
#[must_use]
pub fn jwks_response(manager: &JwtTokenManager) -> Response {
    match serde_json::to_vec(&manager.jwks()) {
        Ok(body) => {
            let mut response = Response::new(Body::from(body));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, "could not serialize the JWKS");
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

/// A router serving `GET` [`JWKS_PATH`] (`/.well-known/jwks.json`) for
/// `manager`; merge it into an application's router.
///
/// ```
/// use std::sync::Arc;
/// use axum::Router;
/// use lexigram_auth::token::{Algorithm, JwtTokenManager, SigningKey, jwks_router};
///
/// # let pem = include_str!("../../../tests/data/keys/ed25519.pem");
/// let manager = Arc::new(
///     JwtTokenManager::builder()
///         .key("ed-1", SigningKey::from_pem(Algorithm::EdDSA, pem)?)
///         .current_key("ed-1")
///         .build()?,
/// );
/// let app: Router = Router::new().merge(jwks_router(Arc::clone(&manager)));
/// # let _ = app;
/// # Ok::<(), lexigram_auth::error::TokenError>(())
/// ```
pub fn jwks_router<S>(manager: Arc<JwtTokenManager>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route(
        JWKS_PATH,
        get(move || {
            let manager = Arc::clone(&manager);
            async move { jwks_response(&manager) }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Key, SigningKey};

    #[test]
    fn published_keys_round_trip() {
        for (alg, pem, kty) in [
            (
                Algorithm::RS256,
                include_str!("../../../tests/data/keys/rsa-2048.pem"),
                "RSA",
            ),
            (
                Algorithm::ES384,
                include_str!("../../../tests/data/keys/p384.pem"),
                "EC",
            ),
            (
                Algorithm::EdDSA,
                include_str!("../../../tests/data/keys/ed25519.pem"),
                "OKP",
            ),
        ] {
            let manager = JwtTokenManager::builder()
                .key("k", SigningKey::from_pem(alg, pem).unwrap())
                .hmac_key("h", Algorithm::HS256, [0u8; 32])
                .current_key("k")
                .build()
                .unwrap();
            let set = manager.jwks();
            assert_eq!(set.keys.len(), 1, "the HMAC key is never published");
            let jwk = set.find("k").unwrap();
            assert_eq!(jwk.kty, kty);
            assert_eq!(jwk.alg, alg.as_str());
            assert_eq!(jwk.key_use, "sig");
            // A verifier built from the published key accepts the manager's tokens.
            let public = JwtTokenManager::builder()
                .key("k", Key::from(jwk.verifying_key().unwrap()))
                .build()
                .unwrap();
            let token = manager
                .sign_access(&crate::Principal::new("alice"))
                .unwrap();
            assert_eq!(public.verify_access(&token).unwrap().user_id, "alice");
            let json = serde_json::to_value(&set).unwrap();
            assert!(json["keys"][0].get("d").is_none());
        }
    }

    #[test]
    fn response_is_json() {
        let manager = JwtTokenManager::new("h", [("h", [0u8; 32])]).unwrap();
        let response = jwks_response(&manager);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    }
}
