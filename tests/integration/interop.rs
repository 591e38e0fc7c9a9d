//! Interop both ways with PyJWT and node `jose` for HS256, RS256, PS256,
//! ES256, ES512 and EdDSA: 2 peers x 6 algorithms x 2 directions = 24
//! combinations (the issue asks for the first five, 20 combinations).
//!
//! (a) our manager signs an access token, the peer verifies it and prints a
//! payload with our `sub`; (b) the peer signs a token with our required
//! claims and `kid`, our manager verifies it.
//!
//! The peers are installed by `scripts/interop.sh` (run by `scripts/test.sh`),
//! which prints `LEXIGRAM_TEST_JOSE` and `LEXIGRAM_TEST_PYJWT`: each a command
//! prefix (split on whitespace) taking `sign ALG KID KEYFILE CLAIMS_JSON` or
//! `verify ALG KEYFILE TOKEN`. Without a variable the test prints one line
//! naming it and returns.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use lexigram_auth::Principal;
use lexigram_auth::token::{Algorithm, JwtTokenManager, Key};
use serde_json::Value;

const PEERS: [(&str, &str); 2] = [
    ("jose", "LEXIGRAM_TEST_JOSE"),
    ("PyJWT", "LEXIGRAM_TEST_PYJWT"),
];

const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::HS256,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES512,
    Algorithm::EdDSA,
];

/// Peers x algorithms x directions.
const COMBINATIONS: usize = PEERS.len() * ALGORITHMS.len() * 2;

/// Test-only HMAC secret, 48 bytes (at least the 32 HS256 needs).
const HS256_SECRET: &[u8] = b"interop-test-secret-0123456789abcdef-0123456789";

fn key_path(name: &str) -> PathBuf {
    PathBuf::from(format!("{}/data/keys/{name}", env!("CARGO_MANIFEST_DIR")))
}

/// The HMAC secret as a key file for the peers (they read raw bytes).
fn secret_file() -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("lexigram-interop-hs256-{}.key", std::process::id()));
    std::fs::write(&path, HS256_SECRET).unwrap();
    path
}

/// (private key file for signing, public key file for verifying).
fn key_files(alg: Algorithm, secret: &Path) -> (PathBuf, PathBuf) {
    match alg {
        Algorithm::HS256 => (secret.to_path_buf(), secret.to_path_buf()),
        Algorithm::RS256 | Algorithm::PS256 => {
            (key_path("rsa-2048.pem"), key_path("rsa-2048.pub.pem"))
        }
        Algorithm::ES256 => (key_path("p256.pem"), key_path("p256.pub.pem")),
        Algorithm::ES512 => (key_path("p521.pem"), key_path("p521.pub.pem")),
        Algorithm::EdDSA => (key_path("ed25519.pem"), key_path("ed25519.pub.pem")),
        other => panic!("no interop key for {other}"),
    }
}

fn manager(alg: Algorithm, kid: &str) -> JwtTokenManager {
    let key = if alg.is_hmac() {
        Key::hmac(alg, HS256_SECRET).unwrap()
    } else {
        let (private, _) = key_files(alg, Path::new(""));
        Key::from_pem(alg, std::fs::read(private).unwrap()).unwrap()
    };
    JwtTokenManager::builder()
        .key(kid, key)
        .current_key(kid)
        .build()
        .unwrap()
}

/// Runs the peer; `Ok(stdout)` on exit status 0, else `Err(stderr)`.
fn run_peer(prefix: &str, args: &[&str]) -> Result<String, String> {
    let mut words = prefix.split_whitespace();
    let program = words.next().ok_or("empty peer command")?;
    let output = Command::new(program)
        .args(words)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `{prefix}`: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// (a) we sign, the peer verifies and prints our `sub`.
fn we_sign(peer: &str, alg: Algorithm, secret: &Path) -> Result<(), String> {
    let kid = format!("ours-{}", alg.as_str().to_lowercase());
    let token = manager(alg, &kid)
        .sign_access(&Principal::new("alice-interop"))
        .map_err(|e| format!("sign_access: {e}"))?;
    let (_, public) = key_files(alg, secret);
    let out = run_peer(
        peer,
        &["verify", alg.as_str(), public.to_str().unwrap(), &token],
    )?;
    let payload: Value =
        serde_json::from_str(&out).map_err(|e| format!("peer printed {out:?}: {e}"))?;
    if payload["sub"] == "alice-interop" {
        Ok(())
    } else {
        Err(format!("peer payload without our sub: {out}"))
    }
}

/// (b) the peer signs our required claims under our `kid`, we verify.
fn peer_signs(peer: &str, alg: Algorithm, secret: &Path) -> Result<(), String> {
    let kid = format!("peer-{}", alg.as_str().to_lowercase());
    let (private, _) = key_files(alg, secret);
    let iat = now();
    let claims = serde_json::json!({
        "sub": "bob-interop",
        "iat": iat,
        "exp": iat + 300,
        "jti": format!("interop-{}-{iat}", alg.as_str()),
        "typ": "access",
        "roles": ["editor"],
    })
    .to_string();
    let token = run_peer(
        peer,
        &[
            "sign",
            alg.as_str(),
            &kid,
            private.to_str().unwrap(),
            &claims,
        ],
    )?;
    let verified = manager(alg, &kid)
        .verify_access(&token)
        .map_err(|e| format!("verify_access: {e:?} for {token}"))?;
    if verified.user_id == "bob-interop" && verified.kid == kid && verified.roles == ["editor"] {
        Ok(())
    } else {
        Err(format!("unexpected verified token {verified:?}"))
    }
}

#[test]
fn interop_with_pyjwt_and_jose() {
    let mut commands = Vec::new();
    for (name, var) in PEERS {
        match std::env::var(var) {
            Ok(cmd) if !cmd.trim().is_empty() => commands.push((name, cmd)),
            _ => {
                println!("skipped: {var} is not set (scripts/test.sh sets it)");
                return;
            }
        }
    }
    let secret = secret_file();
    let mut passed = 0;
    let mut failures = Vec::new();
    for (name, cmd) in &commands {
        for alg in ALGORITHMS {
            for (direction, result) in [
                ("we sign, peer verifies", we_sign(cmd, alg, &secret)),
                ("peer signs, we verify", peer_signs(cmd, alg, &secret)),
            ] {
                match result {
                    Ok(()) => passed += 1,
                    Err(e) => failures.push(format!("{name} {alg} ({direction}): {e}")),
                }
            }
        }
    }
    let _ = std::fs::remove_file(&secret);
    println!("interop: {passed}/{COMBINATIONS} combinations passed");
    for f in &failures {
        println!("  failed: {f}");
    }
    assert_eq!(passed, COMBINATIONS, "interop failures: {failures:#?}");
}
