// This is a benchmark, not library code: setup failures should abort loudly,
// so unwrap/expect/indexing are fine here.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

//! Token verification: `JwtTokenManager::verify_access` against
//! `jsonwebtoken::decode` with an equivalent `Validation`, plus the raw
//! signature primitive as a floor (see `BENCHMARKS.md`).
//!
//! For each of HS256, RS256, ES256 and EdDSA four variants run on the same
//! valid access token, interleaved (PERF.md: only ratios of interleaved
//! variants in one run count): 61 rounds, each running one batch of about
//! 4 ms of every variant in a rotating order. The report gives each
//! variant's median time per verification and the median of the per-round
//! ratios:
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
//! Run: `cargo bench -p lexigram-auth --bench token` (optionally `-- HS256`
//! or another algorithm name to run one case).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::signature;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

/// One timed variant of a case.
struct Variant<'a> {
    name: &'static str,
    run: Box<dyn Fn() -> bool + 'a>,
}

/// The median of `values` (which it sorts).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Rounds per case; in each round every variant runs one batch, in an order
/// that rotates from round to round, so that a slow spell of the shared
/// machine hits all of them alike.
const ROUNDS: usize = 61;
/// The target duration of one batch.
const BATCH_TARGET: Duration = Duration::from_millis(4);

fn measure(case: &Case) {
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
    assert!(peer_verify(case), "{}: jsonwebtoken refused", case.name);
    assert!((case.floor)(input, &signature), "{}: floor", case.name);

    let variants = [
        Variant {
            name: "lexigram",
            run: Box::new(|| case.manager.verify_access(black_box(&case.token)).is_ok()),
        },
        Variant {
            name: "lexigram_view",
            run: Box::new(|| {
                case.manager
                    .verify_access_with(black_box(&case.token), |t| t.exp() > 0)
                    .is_ok()
            }),
        },
        Variant {
            name: "jsonwebtoken",
            run: Box::new(|| peer_verify(black_box(case))),
        },
        Variant {
            name: "floor",
            run: Box::new(|| (case.floor)(black_box(input), black_box(&signature))),
        },
    ];

    // For profiling one variant alone: LEXIGRAM_BENCH_ONLY=lexigram_view.
    let only = std::env::var("LEXIGRAM_BENCH_ONLY").ok();
    let variants: Vec<Variant<'_>> = variants
        .into_iter()
        .filter(|v| only.as_deref().is_none_or(|o| o == v.name))
        .collect();
    if variants.len() < 4 {
        for v in &variants {
            let start = Instant::now();
            let mut n = 0u32;
            while start.elapsed() < Duration::from_secs(5) {
                black_box((v.run)());
                n += 1;
            }
            println!("token_{}/{} alone: {n} runs in 5 s", case.name, v.name);
        }
        return;
    }

    // Batch sizes: enough iterations for about BATCH_TARGET each (after a
    // warm-up of the same length).
    let batches: Vec<u32> = variants
        .iter()
        .map(|v| {
            let start = Instant::now();
            let mut n = 0u32;
            while start.elapsed() < BATCH_TARGET {
                assert!((v.run)());
                n += 1;
            }
            n.max(1)
        })
        .collect();

    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); variants.len()];
    for round in 0..ROUNDS {
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            let (variant, batch) = (&variants[i], batches[i]);
            let start = Instant::now();
            for _ in 0..batch {
                black_box((variant.run)());
            }
            samples[i].push(start.elapsed().as_secs_f64() / f64::from(batch));
        }
    }

    // Per-round ratios, then their median: each ratio compares two batches
    // run seconds apart, not minutes.
    let ratio = |a: usize, b: usize| {
        let mut r: Vec<f64> = samples[a]
            .iter()
            .zip(&samples[b])
            .map(|(x, y)| x / y)
            .collect();
        median(&mut r)
    };
    let medians: Vec<f64> = samples.iter().map(|s| median(&mut s.clone())).collect();
    for (i, v) in variants.iter().enumerate() {
        println!(
            "token_{}/{:<14} median {:>10.3} us",
            case.name,
            v.name,
            medians[i] * 1e6
        );
    }
    for (i, name) in [(0, "lexigram"), (1, "lexigram_view")] {
        println!(
            "token_{}/{name}: {:.3}x jsonwebtoken, {:.3}x floor (median of {ROUNDS} per-round ratios)",
            case.name,
            ratio(i, 2),
            ratio(i, 3)
        );
    }
    println!(
        "token_{}/jsonwebtoken: {:.3}x floor",
        case.name,
        ratio(2, 3)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters the cases
    // by name (`HS256`, `RS256`, `ES256`, `EdDSA`).
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    for case in cases() {
        if filters.is_empty() || filters.iter().any(|f| case.name.contains(f.as_str())) {
            measure(&case);
        }
    }
}
