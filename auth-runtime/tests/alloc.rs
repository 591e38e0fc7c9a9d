// A test binary of its own: dhat's allocator counts every allocation in the
// process, so nothing else may run beside it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

//! Allocations made by one token verification, counted with dhat's global
//! allocator (see `BENCHMARKS.md`). The hot path is everything
//! `verify_access_with` does: size cap, framing, header, key lookup, signature
//! and every claim check, up to a borrowed `TokenView`. It must not allocate.

use lexigram_auth::Principal;
use lexigram_auth::token::{Algorithm, JwtTokenManager, SigningKey};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn blocks() -> u64 {
    dhat::HeapStats::get().total_blocks
}

/// Allocations made by `f` (run twice first, so one-time initialisation is
/// not counted).
fn count<R>(mut f: impl FnMut() -> R) -> u64 {
    drop(f());
    drop(f());
    let before = blocks();
    let r = f();
    let after = blocks();
    drop(r);
    after - before
}

#[test]
fn verification_hot_path_allocates_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();

    let principal = Principal::new("user-123")
        .with_roles(["editor", "viewer"])
        .with_permissions(["reports.read"])
        .with_tenant("t1")
        .with_session_id("s1");
    let hs = JwtTokenManager::builder()
        .hmac_key("k1", Algorithm::HS256, [7u8; 32])
        .current_key("k1")
        .issuer("https://auth.example.com")
        .required_audience("api")
        .build()
        .unwrap();
    let token = hs.sign_access(&principal).unwrap();

    let view = count(|| {
        hs.verify_access_with(&token, |t| (t.user_id().len(), t.roles().count()))
            .unwrap()
    });
    let owned = count(|| hs.verify_access(&token).unwrap());
    println!(
        "HS256 allocations: hot path (verify_access_with) {view}, owned (verify_access) {owned}"
    );
    assert_eq!(view, 0, "the HS256 hot path allocated");
    // The owned result: sub, jti, kid, roles (Vec + 2), permissions (Vec + 1),
    // tenant, issuer, audience (Vec + 1), session id.
    assert!(owned > 0);

    // The same for the asymmetric algorithms, whose verifiers are prebuilt.
    for (alg, pem) in [
        (
            Algorithm::RS256,
            include_str!("../../tests/data/keys/rsa-2048.pem"),
        ),
        (
            Algorithm::ES256,
            include_str!("../../tests/data/keys/p256.pem"),
        ),
        (
            Algorithm::EdDSA,
            include_str!("../../tests/data/keys/ed25519.pem"),
        ),
    ] {
        let m = JwtTokenManager::builder()
            .key("k", SigningKey::from_pem(alg, pem).unwrap())
            .current_key("k")
            .build()
            .unwrap();
        let token = m.sign_access(&principal).unwrap();
        let n = count(|| m.verify_access_with(&token, |t| t.exp()).unwrap());
        println!("{alg} allocations: hot path {n}");
        if alg != Algorithm::RS256 {
            assert_eq!(n, 0, "the {alg} hot path allocated");
        }
    }
}
