//! Any bytes as the claims of a correctly signed HS256 token (so the claims
//! scanner and the claim rules are reached), behind either our header or a
//! header also taken from the input: never a panic, and never laxer than
//! jsonwebtoken (a token we accept, jsonwebtoken with the equivalent
//! validation accepts too).
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey, Validation};
use lexigram_auth::Principal;
use lexigram_auth::token::{Algorithm, JwtTokenManager};
use libfuzzer_sys::fuzz_target;

const SECRET: [u8; 32] = [7u8; 32];

static MANAGER: LazyLock<JwtTokenManager> = LazyLock::new(|| {
    JwtTokenManager::builder()
        .hmac_key("k1", Algorithm::HS256, SECRET)
        .current_key("k1")
        .build()
        .expect("a valid manager")
});

/// Our signer's header segment.
static ENCODING: LazyLock<EncodingKey> =
    LazyLock::new(|| EncodingKey::from_secret(&SECRET).expect("a key"));
static DECODING: LazyLock<DecodingKey> =
    LazyLock::new(|| DecodingKey::from_secret(&SECRET).expect("a key"));

static HEADER: LazyLock<String> = LazyLock::new(|| {
    let token = MANAGER
        .sign_access(&Principal::new("seed"))
        .expect("a token");
    token.split('.').next().unwrap_or_default().to_owned()
});

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct PeerClaims {
    sub: String,
    exp: u64,
    iat: u64,
    jti: String,
    typ: String,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the header: ours, or the input up to the
    // first 0xFF byte.
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (header, claims) = if mode & 1 == 0 {
        (HEADER.clone(), rest)
    } else {
        let at = rest.iter().position(|&b| b == 0xFF).unwrap_or(0);
        let (h, c) = rest.split_at(at);
        (b64(h), c.get(1..).unwrap_or_default())
    };
    let signing_input = format!("{header}.{}", b64(claims));
    let Ok(signature) = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &ENCODING,
        jsonwebtoken::Algorithm::HS256,
    ) else {
        return;
    };
    let token = format!("{signing_input}.{signature}");
    let ours = MANAGER.verify_access(&token);
    let view = MANAGER.verify_access_with(&token, |t| t.user_id().to_owned());
    assert_eq!(ours.as_ref().err(), view.as_ref().err());
    if ours.is_ok() {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        let peer = jsonwebtoken::decode::<PeerClaims>(&token, &DECODING, &validation);
        assert!(
            peer.as_ref().is_ok_and(|d| d.claims.typ == "access"),
            "we accepted a token jsonwebtoken refuses: {token} ({:?})",
            peer.err()
        );
    }
});
