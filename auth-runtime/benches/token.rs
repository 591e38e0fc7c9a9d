// This is a benchmark, not library code: setup failures should abort loudly,
// so unwrap/expect are fine here, and the criterion macros generate
// undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

//! Token verification: `JwtTokenManager::verify_access` against
//! `jsonwebtoken::decode` with an equivalent `Validation`, plus the raw
//! signature primitive as a floor (see `BENCHMARKS.md`).
//!
//! For each of HS256, RS256, ES256 and EdDSA one criterion group holds,
//! back to back on the same valid access token:
//! - `lexigram`: `verify_access(&token)`, the owned `VerifiedToken`;
//! - `lexigram_view`: `verify_access_with(&token, ..)`, the same checks up to
//!   a borrowed `TokenView` (the allocation-free hot path);
//! - `jsonwebtoken`: `decode::<PeerClaims>` with a pre-built `DecodingKey`,
//!   the algorithm pinned, `exp`/`nbf` checked, 30 s leeway, `exp`, `iat` and
//!   `sub` required, and the `typ` claim compared to `access`;
//! - `floor`: the signature primitive alone on the pre-decoded signature
//!   (HMAC-SHA256 from the pre-keyed RustCrypto state; RSA PKCS#1 v1.5 with
//!   SHA-256, ECDSA P-256 and Ed25519 verify with an aws-lc-rs
//!   `ParsedPublicKey`, the public key parsed once).
//!
//! jsonwebtoken is built with its `aws_lc_rs` backend, the same crypto as
//! ours and the backend of the reference figures in PERF.md.
//!
//! Run: `cargo bench -p lexigram-auth --bench token` (optionally `-- <filter>`).

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::signature;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{DecodingKey, Validation};
use lexigram_auth::Principal;
use lexigram_auth::token::{Algorithm, JwtTokenManager, SigningKey};
use serde::Deserialize;

const SECRET: &[u8] = b"bench-secret-of-at-least-32-bytes!!";
const RSA: &str = include_str!("../../tests/data/keys/rsa-2048.pem");
const RSA_PUB: &str = include_str!("../../tests/data/keys/rsa-2048.pub.pem");
const P256: &str = include_str!("../../tests/data/keys/p256.pem");
const P256_PUB: &str = include_str!("../../tests/data/keys/p256.pub.pem");
const ED: &str = include_str!("../../tests/data/keys/ed25519.pem");
const ED_PUB: &str = include_str!("../../tests/data/keys/ed25519.pub.pem");

/// The claims our access tokens carry, typed for jsonwebtoken.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct PeerClaims {
    sub: String,
    exp: u64,
    iat: u64,
    #[serde(default)]
    nbf: Option<u64>,
    jti: String,
    typ: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// The signature floor for one algorithm: checks `sig` over `input`.
type Floor = Box<dyn Fn(&[u8], &[u8]) -> bool>;

struct Case {
    name: &'static str,
    manager: JwtTokenManager,
    token: String,
    peer_key: DecodingKey,
    validation: Validation,
    floor: Floor,
}

fn manager(key: SigningKey) -> JwtTokenManager {
    JwtTokenManager::builder()
        .key("k1", key)
        .current_key("k1")
        .build()
        .unwrap()
}

fn validation(alg: jsonwebtoken::Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = 30;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "iat", "sub"]);
    v
}

fn hs256_floor() -> Floor {
    use hmac::{KeyInit, Mac};
    let keyed = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    Box::new(move |input, sig| {
        let mut mac = keyed.clone();
        mac.update(input);
        mac.verify_slice(sig).is_ok()
    })
}

fn rs256_floor(manager: &JwtTokenManager) -> Floor {
    let jwks = manager.jwks();
    let jwk = &jwks.keys[0];
    let n = URL_SAFE_NO_PAD.decode(jwk.n.as_ref().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk.e.as_ref().unwrap()).unwrap();
    let key = signature::RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .unwrap();
    Box::new(move |input, sig| key.verify_sig(input, sig).is_ok())
}

fn es256_floor() -> Floor {
    let der = DecodingKey::from_ec_pem(P256_PUB.as_bytes()).unwrap();
    let key = signature::ParsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_FIXED,
        der.try_get_as_bytes().unwrap(),
    )
    .unwrap();
    Box::new(move |input, sig| key.verify_sig(input, sig).is_ok())
}

fn eddsa_floor() -> Floor {
    let der = DecodingKey::from_ed_pem(ED_PUB.as_bytes()).unwrap();
    let key = signature::ParsedPublicKey::new(&signature::ED25519, der.try_get_as_bytes().unwrap())
        .unwrap();
    Box::new(move |input, sig| key.verify_sig(input, sig).is_ok())
}

fn cases() -> Vec<Case> {
    let principal = Principal::new("user-123").with_roles(["editor"]);
    let mut out = Vec::new();
    let specs: [(&str, Algorithm, SigningKey, DecodingKey); 4] = [
        (
            "HS256",
            Algorithm::HS256,
            SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            DecodingKey::from_secret(SECRET).unwrap(),
        ),
        (
            "RS256",
            Algorithm::RS256,
            SigningKey::from_pem(Algorithm::RS256, RSA).unwrap(),
            DecodingKey::from_rsa_pem(RSA_PUB.as_bytes()).unwrap(),
        ),
        (
            "ES256",
            Algorithm::ES256,
            SigningKey::from_pem(Algorithm::ES256, P256).unwrap(),
            DecodingKey::from_ec_pem(P256_PUB.as_bytes()).unwrap(),
        ),
        (
            "EdDSA",
            Algorithm::EdDSA,
            SigningKey::from_pem(Algorithm::EdDSA, ED).unwrap(),
            DecodingKey::from_ed_pem(ED_PUB.as_bytes()).unwrap(),
        ),
    ];
    for (name, alg, key, peer_key) in specs {
        let manager = manager(key);
        let token = manager.sign_access(&principal).unwrap();
        let jwt_alg = match alg {
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            _ => jsonwebtoken::Algorithm::EdDSA,
        };
        let floor = match alg {
            Algorithm::HS256 => hs256_floor(),
            Algorithm::RS256 => rs256_floor(&manager),
            Algorithm::ES256 => es256_floor(),
            _ => eddsa_floor(),
        };
        out.push(Case {
            name,
            manager,
            token,
            peer_key,
            validation: validation(jwt_alg),
            floor,
        });
    }
    out
}

fn peer_verify(case: &Case) -> bool {
    jsonwebtoken::decode::<PeerClaims>(&case.token, &case.peer_key, &case.validation)
        .is_ok_and(|data| data.claims.typ == "access")
}

fn bench(c: &mut Criterion) {
    for case in cases() {
        let (signing_input, signature) = case.token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let input = signing_input.as_bytes();

        // Every variant accepts the token before anything is timed.
        let ours = case.manager.verify_access(&case.token).unwrap();
        assert_eq!(ours.user_id, "user-123");
        assert_eq!(ours.roles, ["editor"]);
        assert!(
            case.manager
                .verify_access_with(&case.token, |t| t.user_id() == "user-123")
                .unwrap()
        );
        assert!(peer_verify(&case), "{}: jsonwebtoken refused", case.name);
        assert!((case.floor)(input, &signature), "{}: floor", case.name);

        let mut group = c.benchmark_group(format!("token_{}", case.name));
        group
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4))
            .sample_size(50);
        group.bench_function("lexigram", |b| {
            b.iter(|| case.manager.verify_access(black_box(&case.token)))
        });
        group.bench_function("lexigram_view", |b| {
            b.iter(|| {
                case.manager
                    .verify_access_with(black_box(&case.token), |t| t.exp())
            })
        });
        group.bench_function("jsonwebtoken", |b| b.iter(|| peer_verify(black_box(&case))));
        group.bench_function("floor", |b| {
            b.iter(|| (case.floor)(black_box(input), black_box(&signature)))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
