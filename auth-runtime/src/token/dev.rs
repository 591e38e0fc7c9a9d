//! `allow_unverified_dev`: accepting, in development only, tokens whose
//! signing key is not in the remote JWKS (see
//! [`RemoteJwksBuilder::allow_unverified_dev`](crate::token::RemoteJwksBuilder::allow_unverified_dev)).
//!
//! The claims are checked by a private, verify-only [`JwtTokenManager`] with
//! the remote verifier's issuer, audience, leeway and clock: the token's
//! payload segment is kept byte for byte and re-signed with a random HS256
//! secret that lives only in this process, so every claim rule of our own
//! tokens applies unchanged and only the signature check is skipped.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};

use super::SharedClock;
use crate::clock::Clock;
use crate::error::TokenError;
use crate::token::{
    Algorithm, JwtTokenManager, MAX_TOKEN_BYTES, SigningKey, VerifiedToken, claims, random_secret,
};

/// The key id of the process-local re-signing secret.
const DEV_KID: &str = "lexigram-unverified-dev";

/// The claim checker of development mode.
pub(super) struct UnverifiedDev {
    checker: JwtTokenManager,
    secret: [u8; 32],
}

impl std::fmt::Debug for UnverifiedDev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnverifiedDev").finish_non_exhaustive()
    }
}

impl UnverifiedDev {
    /// A checker with the remote verifier's claim settings.
    pub(super) fn new(
        issuer: &str,
        audience: &str,
        leeway: std::time::Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TokenError> {
        let secret = random_secret().ok_or(TokenError::Signing)?;
        // The secret exists only in this process and is used only to re-sign
        // payloads for the claim checks; the checker never issues tokens.
        let key = SigningKey::hmac(Algorithm::HS256, secret)?;
        let checker = JwtTokenManager::builder()
            .key(DEV_KID, key)
            .current_key(DEV_KID)
            .issuer(issuer)
            .required_audience(audience)
            .leeway(leeway)
            .clock(SharedClock(clock))
            .build()?;
        Ok(Self { checker, secret })
    }

    /// Checks every claim rule of `token` without its signature. The caller
    /// has already checked the size, the framing and the header.
    pub(super) fn check(
        &self,
        token: &str,
        original_kid: &str,
    ) -> Result<VerifiedToken, TokenError> {
        let parts = claims::split(token)?;
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","kid":"{DEV_KID}"}}"#));
        let mut resigned = String::with_capacity(header.len() + parts.payload.len() + 48);
        resigned.push_str(&header);
        resigned.push('.');
        resigned.push_str(parts.payload);
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.secret)
            .map_err(|_| TokenError::Signing)?;
        mac.update(resigned.as_bytes());
        let tag = mac.finalize().into_bytes();
        resigned.push('.');
        URL_SAFE_NO_PAD.encode_string(tag.as_slice(), &mut resigned);
        if resigned.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge {
                max: MAX_TOKEN_BYTES,
            });
        }
        let mut verified = self.checker.verify_access(&resigned)?;
        original_kid.clone_into(&mut verified.kid);
        tracing::warn!(
            kid = original_kid,
            sub = %verified.user_id,
            "ACCEPTING AN UNVERIFIED TOKEN: its signature was NOT checked \
             (allow_unverified_dev, LEX_ENV=development); never use this outside development"
        );
        Ok(verified)
    }
}
