//! The token manager through the public API: every algorithm, weak keys, the
//! attack catalogue of SECURITY.md as one table, rotation and the JWKS route,
//! and a loopback trap proving `jku`/`x5u` are never fetched.
//!
//! Hostile tokens are built by hand: base64url segments signed with
//! jsonwebtoken's `crypto::sign` over whatever header and payload a case needs.
//!
//! Hooks for later suites (Wycheproof, RFC 7515/8037 vectors, PyJWT and jose
//! interop): `lexigram_auth::token::verify_jws` checks framing, header and
//! signature against one key without claim rules, and `keys()` below loads
//! the committed test keys.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use lexigram_auth::Principal;
use lexigram_auth::authz::AuthorizationService;
use lexigram_auth::clock::ManualClock;
use lexigram_auth::error::TokenError;
use lexigram_auth::token::{
    Algorithm, JWKS_PATH, JwkSet, JwtTokenManager, Key, SigningKey, TokenType, VerifyingKey,
    jwks_router, verify_jws,
};

use crate::support::{get, send};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_900_000_000;
const ISS: &str = "https://issuer.test";
const AUD: &str = "articles-api";

fn read(name: &str) -> String {
    let path = format!("{}/data/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.payload.signature` with the signature made by `key` for `alg`
/// over exactly the given header and payload text.
fn sign_raw(
    key: &EncodingKey,
    alg: jsonwebtoken::Algorithm,
    header: &str,
    payload: &str,
) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{signature}")
}

fn hs256(secret: &[u8], header: &str, payload: &str) -> String {
    sign_raw(
        &EncodingKey::from_secret(secret).unwrap(),
        jsonwebtoken::Algorithm::HS256,
        header,
        payload,
    )
}

/// Signs `header.payload` text as given (whatever its encoding) with our
/// HS256 key.
fn resign(signing_input: &str) -> String {
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(SECRET).unwrap(),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap();
    format!("{signing_input}.{signature}")
}

/// Our HS256 key, our header.
fn ours(payload: &str) -> String {
    hs256(SECRET, HEADER, payload)
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#;

/// Valid access-token claims with some members replaced (`Some(raw JSON)`)
/// or removed (`None`).
fn claims(edits: &[(&str, Option<&str>)]) -> String {
    let now = NOW.to_string();
    let exp = (NOW + 300).to_string();
    let iss = format!("\"{ISS}\"");
    let aud = format!("\"{AUD}\"");
    let mut members: Vec<(String, String)> = [
        ("sub", "\"alice\""),
        ("iat", now.as_str()),
        ("exp", exp.as_str()),
        ("jti", "\"j1\""),
        ("typ", "\"access\""),
        ("iss", iss.as_str()),
        ("aud", aud.as_str()),
        ("roles", "[\"editor\"]"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (name, value) in edits {
        members.retain(|(k, _)| k != name);
        if let Some(v) = value {
            members.push(((*name).to_owned(), (*v).to_owned()));
        }
    }
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// `claims(&[])` with `extra` raw members appended (for duplicates).
fn claims_plus(extra: &str) -> String {
    let base = claims(&[]);
    format!("{},{extra}}}", base.trim_end_matches('}'))
}

fn manager(clock: &ManualClock) -> JwtTokenManager {
    JwtTokenManager::builder()
        .hmac_key("k1", Algorithm::HS256, SECRET)
        .key(
            "rs",
            Key::from_pem(Algorithm::RS256, read("rsa-2048.pem")).unwrap(),
        )
        .key(
            "es",
            Key::from_pem(Algorithm::ES256, read("p256.pem")).unwrap(),
        )
        .key(
            "ed",
            Key::from_pem(Algorithm::EdDSA, read("ed25519.pub.pem")).unwrap(),
        )
        .current_key("k1")
        .issuer(ISS)
        .required_audience(AUD)
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// Our verifier is never laxer than jsonwebtoken (PERF.md: a faster path must
/// agree with it on every attack case): every row we accept, jsonwebtoken
/// accepts with the key its `kid` names, that key's algorithm pinned, the
/// same issuer, audience and required claims. Time rules are left out of
/// this comparison (the rows are dated by a manual clock, jsonwebtoken reads
/// the system clock); they are pinned by the rows themselves. Prints how many
/// of the rows we refuse jsonwebtoken accepts.
fn never_laxer_than_jsonwebtoken(cases: &[(&str, String, Result<(), TokenError>)]) {
    use jsonwebtoken::{Algorithm as J, DecodingKey, Validation};
    let keys = [
        ("k1", J::HS256, DecodingKey::from_secret(SECRET).unwrap()),
        (
            "rs",
            J::RS256,
            DecodingKey::from_rsa_pem(read("rsa-2048.pub.pem").as_bytes()).unwrap(),
        ),
        (
            "es",
            J::ES256,
            DecodingKey::from_ec_pem(read("p256.pub.pem").as_bytes()).unwrap(),
        ),
        (
            "ed",
            J::EdDSA,
            DecodingKey::from_ed_pem(read("ed25519.pub.pem").as_bytes()).unwrap(),
        ),
    ];
    let peer_accepts = |token: &str| {
        let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
        let (_, alg, key) = keys.iter().find(|(k, _, _)| *k == kid)?;
        let mut v = Validation::new(*alg);
        v.set_issuer(&[ISS]);
        v.set_audience(&[AUD]);
        v.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        v.validate_exp = false;
        v.validate_nbf = false;
        jsonwebtoken::decode::<serde_json::Value>(token, key, &v).ok()
    };
    let mut stricter = 0;
    for (name, token, want) in cases {
        let peer = peer_accepts(token);
        if want.is_ok() {
            assert!(
                peer.is_some(),
                "{name}: we accept it, jsonwebtoken does not"
            );
        } else if peer.is_some() {
            stricter += 1;
        }
    }
    println!(
        "jsonwebtoken accepts {stricter} of the {} rows we refuse (time rules aside); \
         it accepts every row we accept",
        cases.iter().filter(|(_, _, w)| w.is_err()).count()
    );
}

fn expect_all(m: &JwtTokenManager, cases: &[(&str, String, Result<(), TokenError>)]) {
    let mut failures = Vec::new();
    for (name, token, want) in cases {
        let got = m.verify_access(token).map(|_| ());
        if got != *want {
            failures.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!(
        "{} / {} cases rejected or handled as documented",
        cases.len() - failures.len(),
        cases.len()
    );
}

// ---------------------------------------------------------------- algorithms

#[test]
fn every_algorithm_round_trips_and_interoperates_with_jsonwebtoken() {
    let asymmetric = [
        (Algorithm::RS256, "rsa-2048.pem", "rsa-2048.pub.pem"),
        (Algorithm::RS384, "rsa-2048-pkcs1.pem", "rsa-2048.pub.pem"),
        (Algorithm::RS512, "rsa-2048.pem", "rsa-2048.pub.pem"),
        (Algorithm::PS256, "rsa-2048.pem", "rsa-2048.pub.pem"),
        (Algorithm::PS384, "rsa-2048.pem", "rsa-2048.pub.pem"),
        (Algorithm::PS512, "rsa-2048-pkcs1.pem", "rsa-2048.pub.pem"),
        (Algorithm::ES256, "p256.pem", "p256.pub.pem"),
        (Algorithm::ES384, "p384.pem", "p384.pub.pem"),
        (Algorithm::ES512, "p521.pem", "p521.pub.pem"),
        (Algorithm::EdDSA, "ed25519.pem", "ed25519.pub.pem"),
    ];
    let mut cases: Vec<(Algorithm, SigningKey, Option<VerifyingKey>)> = Vec::new();
    for (alg, len) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        cases.push((alg, SigningKey::hmac(alg, vec![7u8; len]).unwrap(), None));
    }
    for (alg, private, public) in asymmetric {
        let signing = SigningKey::from_pem(alg, read(private)).unwrap();
        let verifying = VerifyingKey::from_pem(alg, read(public)).unwrap();
        cases.push((alg, signing, Some(verifying)));
    }
    assert_eq!(cases.len(), Algorithm::ALL.len());
    for (alg, signing, verifying) in cases {
        let peer_key = match alg.min_hmac_bytes() {
            Some(len) => jsonwebtoken::DecodingKey::from_secret(&vec![7u8; len]).unwrap(),
            None => {
                let (_, _, public) = asymmetric.iter().find(|(a, _, _)| *a == alg).unwrap();
                let pem = read(public);
                match alg {
                    Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
                        jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).unwrap()
                    }
                    Algorithm::EdDSA => {
                        jsonwebtoken::DecodingKey::from_ed_pem(pem.as_bytes()).unwrap()
                    }
                    _ => jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
                }
            }
        };
        let m = JwtTokenManager::builder()
            .key("k", signing)
            .current_key("k")
            .build()
            .unwrap();
        let token = m
            .sign_access(&Principal::new("alice").with_roles(["editor"]))
            .unwrap();
        let v = m.verify_access(&token).unwrap();
        assert_eq!(
            (v.user_id.as_str(), v.kid.as_str()),
            ("alice", "k"),
            "{alg}"
        );
        assert_eq!(v.roles, ["editor"]);

        // jsonwebtoken, configured for the same algorithm, accepts our token.
        // It has no ES512; the interop test checks ES512 against PyJWT and
        // node jose instead.
        if alg != Algorithm::ES512 {
            let mut validation = jsonwebtoken::Validation::new(alg.to_string().parse().unwrap());
            validation.set_required_spec_claims(&["exp", "iat", "sub"]);
            let peer: jsonwebtoken::TokenData<serde_json::Value> =
                jsonwebtoken::decode(&token, &peer_key, &validation).unwrap();
            assert_eq!(peer.claims["typ"], "access", "{alg}");
            assert_eq!(peer.header.kid.as_deref(), Some("k"));
        }

        // A verify-only manager with the public key accepts it too.
        if let Some(public) = verifying {
            let verifier = JwtTokenManager::builder().key("k", public).build().unwrap();
            assert_eq!(
                verifier.verify_access(&token).unwrap().user_id,
                "alice",
                "{alg}"
            );
            assert_eq!(
                verifier.sign_access(&Principal::new("x")),
                Err(TokenError::NoSigningKey)
            );
        }
    }
}

#[tokio::test]
async fn the_seed_example_works_as_written() {
    let manager = JwtTokenManager::new(
        "key-1",
        [("key-1", "a-secret-of-at-least-thirty-two-bytes!")],
    )
    .unwrap();
    let token = manager.create_access_token("user-123").await.unwrap();
    let verified = manager.verify_token(&token).await.unwrap();
    assert_eq!(verified.user_id, "user-123");
    assert!(verified.exp > verified.iat);
    let refresh = manager.create_refresh_token("user-123").await.unwrap();
    let r = manager.verify_refresh_token(&refresh).await.unwrap();
    assert_eq!(r.token_type, TokenType::Refresh);
    assert!(r.family.is_some());
}

// ------------------------------------------------------------------ weak keys

#[test]
fn weak_keys_are_refused_when_the_manager_is_built() {
    for (alg, min) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        for len in [1, min - 1] {
            let built = JwtTokenManager::builder()
                .key("k", SigningKey::hmac(alg, vec![1u8; len]).unwrap())
                .current_key("k")
                .build();
            assert_eq!(
                built.unwrap_err(),
                TokenError::WeakKey {
                    kid: "k".into(),
                    algorithm: alg.as_str(),
                    min_bytes: min,
                    actual: len
                }
            );
            assert!(matches!(
                JwtTokenManager::builder()
                    .hmac_key("k", alg, vec![1u8; len])
                    .current_key("k")
                    .build(),
                Err(TokenError::WeakKey { .. })
            ));
        }
        assert!(
            JwtTokenManager::builder()
                .hmac_key("k", alg, vec![1u8; min])
                .current_key("k")
                .build()
                .is_ok()
        );
    }
    for pem in ["rsa-1024.pem", "rsa-1024.pub.pem"] {
        let key = Key::from_pem(Algorithm::RS256, read(pem)).unwrap();
        let signs = key.can_sign();
        let mut builder = JwtTokenManager::builder().key("old", key);
        if signs {
            builder = builder.current_key("old");
        }
        assert_eq!(
            builder.build().unwrap_err(),
            TokenError::WeakRsaKey {
                kid: "old".into(),
                min_bits: 2048,
                actual_bits: 1024
            },
            "{pem}"
        );
    }
    // empty keys
    assert!(matches!(
        JwtTokenManager::new("k", [("k", "")]),
        Err(TokenError::WeakKey { actual: 0, .. })
    ));
    assert!(matches!(
        Key::hmac(Algorithm::HS256, []),
        Err(TokenError::InvalidKey(_))
    ));
    assert!(matches!(
        Key::from_pem(Algorithm::RS256, ""),
        Err(TokenError::InvalidKey(_))
    ));
    assert!(matches!(
        Key::from_jwk(r#"{"kty":"oct","alg":"HS256","k":""}"#),
        Err(TokenError::InvalidKey(_))
    ));
    // the well-known secrets of DESIGN.md are all short
    for weak in ["change-me", "your-secret-key", "secret", "password"] {
        assert!(JwtTokenManager::new("k", [("k", weak)]).is_err());
    }
    // and rotation applies the same rules
    let m = JwtTokenManager::new("k", [("k", SECRET)]).unwrap();
    assert!(matches!(
        m.rotate(
            "k2",
            Key::from_pem(Algorithm::RS256, read("rsa-1024.pem")).unwrap()
        ),
        Err(TokenError::WeakRsaKey { .. })
    ));
    assert_eq!(
        m.rotate(
            "k2",
            Key::from_pem(Algorithm::EdDSA, read("ed25519.pub.pem")).unwrap()
        ),
        Err(TokenError::KeyCannotSign("k2".into()))
    );
    assert_eq!(m.current_key_id().as_deref(), Some("k"));
}

#[test]
fn errors_carry_no_secret_material() {
    let secret = "a-secret-that-must-never-be-logged-xyz";
    let err = JwtTokenManager::new("k", [("k", &secret[..20])]).unwrap_err();
    assert!(!err.to_string().contains(&secret[..20]));
    let pem = read("rsa-2048.pem");
    let err = SigningKey::from_pem(Algorithm::ES256, &pem).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("MII"));
    let key = SigningKey::from_pem(Algorithm::RS256, &pem).unwrap();
    assert!(!format!("{key:?}").contains("MII"));
}

// ---------------------------------------------------------- attack catalogue

/// ECDSA P-256 group order, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

fn sub_be(a: &[u8; 32], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

fn der_int(v: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
    let mut body = if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        vec![0]
    } else {
        vec![]
    };
    body.extend(trimmed);
    let mut out = vec![0x02, body.len() as u8];
    out.extend(body);
    out
}

/// Sets the unused low bits of the last base64url character: same bytes,
/// non-canonical text.
fn non_canonical(segment: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (head, last) = segment.split_at(segment.len() - 1);
    let i = ALPHABET
        .iter()
        .position(|c| *c == last.as_bytes()[0])
        .unwrap();
    format!("{head}{}", ALPHABET[i | 1] as char)
}

#[test]
fn the_attack_catalogue_is_rejected() {
    let clock = ManualClock::at_unix(NOW);
    let m = manager(&clock);
    let good = ours(&claims(&[]));
    let [h, p, s]: [&str; 3] = good.split('.').collect::<Vec<_>>().try_into().unwrap();

    let rsa_pub_pem = read("rsa-2048.pub.pem");
    let attacker_rsa = EncodingKey::from_rsa_pem(read("rsa-2048-other.pem").as_bytes()).unwrap();
    let our_rsa = EncodingKey::from_rsa_pem(read("rsa-2048.pem").as_bytes()).unwrap();
    let our_ec = EncodingKey::from_ec_pem(read("p256.pem").as_bytes()).unwrap();
    let attacker_ec = EncodingKey::from_ec_pem(read("p256-other.pem").as_bytes()).unwrap();
    let attacker_ed = EncodingKey::from_ed_pem(read("ed25519-other.pem").as_bytes()).unwrap();
    let attacker_ed_x = {
        let pem = read("ed25519-other.pem");
        let key = SigningKey::from_pem(Algorithm::EdDSA, pem).unwrap();
        let m = JwtTokenManager::builder()
            .key("a", key)
            .current_key("a")
            .build()
            .unwrap();
        m.jwks().keys[0].x.clone().unwrap()
    };
    use jsonwebtoken::Algorithm as J;

    // ECDSA signatures over a valid ES256 token of ours.
    let es_header = r#"{"alg":"ES256","typ":"JWT","kid":"es"}"#;
    let es_good = sign_raw(&our_ec, J::ES256, es_header, &claims(&[]));
    let (es_input, es_sig) = es_good.rsplit_once('.').unwrap();
    let es_raw = URL_SAFE_NO_PAD.decode(es_sig).unwrap();
    let (r, s_) = es_raw.split_at(32);
    let mut der = vec![0x30];
    let ints = [der_int(r), der_int(s_)].concat();
    der.push(ints.len() as u8);
    der.extend(ints);
    let high_s = [r, &sub_be(&P256_N, s_)[..]].concat();

    let big_kid = |n: usize| format!(r#"{{"alg":"HS256","kid":"{}"}}"#, "k".repeat(n));
    let deep = format!("{}1{}", "[".repeat(64), "]".repeat(64));
    let refresh = m.sign_refresh("alice", None).unwrap();
    let trap = "http://127.0.0.1:9/never";

    let ok = Ok(());
    let bad_sig = Err(TokenError::BadSignature);
    let malformed = Err(TokenError::Malformed);
    let unknown = Err(TokenError::UnknownKey);
    let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
        ("baseline", good.clone(), ok.clone()),
        ("our ES256 baseline", es_good.clone(), ok.clone()),
        // alg none, any case, and empty signatures
        (
            "alg none",
            format!("{}.{p}.", b64(r#"{"alg":"none","kid":"k1"}"#)),
            bad_sig.clone(),
        ),
        (
            "alg None",
            format!("{}.{p}.", b64(r#"{"alg":"None","kid":"k1"}"#)),
            bad_sig.clone(),
        ),
        (
            "alg NONE",
            format!("{}.{p}.", b64(r#"{"alg":"NONE","kid":"k1"}"#)),
            bad_sig.clone(),
        ),
        (
            "alg nOnE",
            format!("{}.{p}.", b64(r#"{"alg":"nOnE","kid":"k1"}"#)),
            bad_sig.clone(),
        ),
        (
            "alg none with our signature",
            format!("{}.{p}.{s}", b64(r#"{"alg":"none","kid":"k1"}"#)),
            bad_sig.clone(),
        ),
        (
            "alg none without kid",
            format!("{}.{p}.", b64(r#"{"alg":"none"}"#)),
            unknown.clone(),
        ),
        ("empty signature", format!("{h}.{p}."), bad_sig.clone()),
        (
            "unknown alg",
            hs256(SECRET, r#"{"alg":"HS257","kid":"k1"}"#, &claims(&[])),
            bad_sig.clone(),
        ),
        (
            "alg hs256 lower case",
            hs256(SECRET, r#"{"alg":"hs256","kid":"k1"}"#, &claims(&[])),
            bad_sig.clone(),
        ),
        (
            "missing alg",
            hs256(SECRET, r#"{"kid":"k1"}"#, &claims(&[])),
            malformed.clone(),
        ),
        // algorithm confusion
        (
            "RS to HS with the public PEM as secret",
            hs256(
                rsa_pub_pem.as_bytes(),
                r#"{"alg":"HS256","kid":"rs"}"#,
                &claims(&[]),
            ),
            bad_sig.clone(),
        ),
        (
            "RS to HS, PEM secret, HMAC kid",
            hs256(rsa_pub_pem.as_bytes(), HEADER, &claims(&[])),
            bad_sig.clone(),
        ),
        (
            "HS key asked to verify RS256",
            sign_raw(
                &our_rsa,
                J::RS256,
                r#"{"alg":"RS256","kid":"k1"}"#,
                &claims(&[]),
            ),
            bad_sig.clone(),
        ),
        (
            "RS key asked to verify PS256",
            sign_raw(
                &our_rsa,
                J::PS256,
                r#"{"alg":"PS256","kid":"rs"}"#,
                &claims(&[]),
            ),
            bad_sig.clone(),
        ),
        (
            "our RS256 with kid rs",
            sign_raw(
                &our_rsa,
                J::RS256,
                r#"{"alg":"RS256","kid":"rs"}"#,
                &claims(&[]),
            ),
            ok.clone(),
        ),
        // stripped, swapped, foreign signatures
        ("stripped signature", format!("{h}.{p}"), malformed.clone()),
        (
            "swapped signature",
            format!("{h}.{}.{s}", b64(claims(&[("sub", Some("\"mallory\""))]))),
            bad_sig.clone(),
        ),
        (
            "foreign HMAC key",
            hs256(
                b"another-secret-of-thirty-two-bytes!!",
                HEADER,
                &claims(&[]),
            ),
            bad_sig.clone(),
        ),
        (
            "foreign RSA key",
            sign_raw(
                &attacker_rsa,
                J::RS256,
                r#"{"alg":"RS256","kid":"rs"}"#,
                &claims(&[]),
            ),
            bad_sig.clone(),
        ),
        (
            "foreign EC key",
            sign_raw(&attacker_ec, J::ES256, es_header, &claims(&[])),
            bad_sig.clone(),
        ),
        (
            "foreign Ed25519 key",
            sign_raw(
                &attacker_ed,
                J::EdDSA,
                r#"{"alg":"EdDSA","kid":"ed"}"#,
                &claims(&[]),
            ),
            bad_sig.clone(),
        ),
        (
            "signature of another algorithm",
            format!("{}.{p}.{s}", b64(r#"{"alg":"HS512","kid":"k1"}"#)),
            bad_sig.clone(),
        ),
        // ECDSA encodings
        (
            "ECDSA r = s = 0",
            format!("{es_input}.{}", b64([0u8; 64])),
            bad_sig.clone(),
        ),
        (
            "ECDSA DER signature",
            format!("{es_input}.{}", b64(&der)),
            bad_sig.clone(),
        ),
        (
            "ECDSA truncated signature",
            format!("{es_input}.{}", b64(&es_raw[..63])),
            bad_sig.clone(),
        ),
        // exp
        (
            "exp past",
            ours(&claims(&[("exp", Some(&(NOW - 3600).to_string()))])),
            Err(TokenError::Expired),
        ),
        (
            "exp within leeway",
            ours(&claims(&[("exp", Some(&(NOW - 10).to_string()))])),
            ok.clone(),
        ),
        (
            "exp missing",
            ours(&claims(&[("exp", None)])),
            Err(TokenError::MissingClaim("exp")),
        ),
        (
            "exp string",
            ours(&claims(&[("exp", Some("\"1999999999\""))])),
            Err(TokenError::InvalidClaim("exp")),
        ),
        (
            "exp float",
            ours(&claims(&[("exp", Some("1900000300.5"))])),
            Err(TokenError::InvalidClaim("exp")),
        ),
        (
            "exp negative",
            ours(&claims(&[("exp", Some("-1"))])),
            Err(TokenError::InvalidClaim("exp")),
        ),
        (
            "exp null",
            ours(&claims(&[("exp", Some("null"))])),
            Err(TokenError::InvalidClaim("exp")),
        ),
        (
            "exp huge",
            ours(&claims(&[("exp", Some("1e400"))])),
            malformed.clone(),
        ),
        // nbf, iat
        (
            "nbf future",
            ours(&claims(&[("nbf", Some(&(NOW + 3600).to_string()))])),
            Err(TokenError::NotYetValid),
        ),
        (
            "nbf within leeway",
            ours(&claims(&[("nbf", Some(&(NOW + 10).to_string()))])),
            ok.clone(),
        ),
        (
            "iat future",
            ours(&claims(&[("iat", Some(&(NOW + 3600).to_string()))])),
            Err(TokenError::NotYetValid),
        ),
        (
            "iat missing",
            ours(&claims(&[("iat", None)])),
            Err(TokenError::MissingClaim("iat")),
        ),
        // aud
        (
            "aud mismatch",
            ours(&claims(&[("aud", Some("\"billing-api\""))])),
            Err(TokenError::WrongAudience),
        ),
        (
            "aud missing",
            ours(&claims(&[("aud", None)])),
            Err(TokenError::WrongAudience),
        ),
        (
            "aud numeric",
            ours(&claims(&[("aud", Some("7"))])),
            Err(TokenError::WrongAudience),
        ),
        (
            "aud list with ours",
            ours(&claims(&[(
                "aud",
                Some(&format!("[\"billing-api\",\"{AUD}\"]")),
            )])),
            ok.clone(),
        ),
        (
            "aud list without ours",
            ours(&claims(&[("aud", Some("[\"billing-api\"]"))])),
            Err(TokenError::WrongAudience),
        ),
        (
            "aud list with a number",
            ours(&claims(&[("aud", Some(&format!("[\"{AUD}\",1]")))])),
            Err(TokenError::WrongAudience),
        ),
        (
            "aud empty list",
            ours(&claims(&[("aud", Some("[]"))])),
            Err(TokenError::WrongAudience),
        ),
        // iss
        (
            "iss missing",
            ours(&claims(&[("iss", None)])),
            Err(TokenError::WrongIssuer),
        ),
        (
            "iss mismatch",
            ours(&claims(&[("iss", Some("\"https://evil.test\""))])),
            Err(TokenError::WrongIssuer),
        ),
        (
            "iss array",
            ours(&claims(&[("iss", Some(&format!("[\"{ISS}\"]")))])),
            Err(TokenError::WrongIssuer),
        ),
        (
            "iss prefix",
            ours(&claims(&[("iss", Some(&format!("\"{ISS}/\"")))])),
            Err(TokenError::WrongIssuer),
        ),
        // crit
        (
            "crit unknown",
            hs256(
                SECRET,
                r#"{"alg":"HS256","kid":"k1","crit":["x-ours"],"x-ours":1}"#,
                &claims(&[]),
            ),
            malformed.clone(),
        ),
        (
            "crit registered name",
            hs256(
                SECRET,
                r#"{"alg":"HS256","kid":"k1","crit":["exp"]}"#,
                &claims(&[]),
            ),
            malformed.clone(),
        ),
        (
            "crit empty",
            hs256(
                SECRET,
                r#"{"alg":"HS256","kid":"k1","crit":[]}"#,
                &claims(&[]),
            ),
            malformed.clone(),
        ),
        (
            "crit b64",
            hs256(
                SECRET,
                r#"{"alg":"HS256","kid":"k1","b64":false,"crit":["b64"]}"#,
                &claims(&[]),
            ),
            malformed.clone(),
        ),
        // duplicates
        (
            "duplicate exp",
            ours(&claims_plus(&format!("\"exp\":{}", NOW + 99_999))),
            malformed.clone(),
        ),
        (
            "duplicate sub",
            ours(&claims_plus("\"sub\":\"admin\"")),
            malformed.clone(),
        ),
        (
            "duplicate roles",
            ours(&claims_plus("\"roles\":[\"admin\"]")),
            malformed.clone(),
        ),
        (
            "duplicate custom claim",
            ours(&claims_plus("\"x\":1,\"x\":2")),
            malformed.clone(),
        ),
        (
            "duplicate claim by escape",
            ours(&claims_plus("\"s\\u0075b\":\"admin\"")),
            malformed.clone(),
        ),
        (
            "duplicate alg",
            hs256(
                SECRET,
                r#"{"alg":"none","alg":"HS256","kid":"k1"}"#,
                &claims(&[]),
            ),
            malformed.clone(),
        ),
        (
            "duplicate alg, same value",
            hs256(
                SECRET,
                r#"{"alg":"HS256","alg":"HS256","kid":"k1"}"#,
                &claims(&[]),
            ),
            malformed.clone(),
        ),
        (
            "duplicate kid",
            hs256(
                SECRET,
                r#"{"alg":"HS256","kid":"nope","kid":"k1"}"#,
                &claims(&[]),
            ),
            malformed.clone(),
        ),
        // header members that must not be trusted
        (
            "embedded jwk, our kid",
            sign_raw(
                &attacker_ed,
                J::EdDSA,
                &format!(
                    r#"{{"alg":"EdDSA","kid":"ed","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{attacker_ed_x}"}}}}"#
                ),
                &claims(&[]),
            ),
            bad_sig.clone(),
        ),
        (
            "embedded jwk, its own kid",
            sign_raw(
                &attacker_ed,
                J::EdDSA,
                &format!(
                    r#"{{"alg":"EdDSA","kid":"attacker","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{attacker_ed_x}","kid":"attacker"}}}}"#
                ),
                &claims(&[]),
            ),
            unknown.clone(),
        ),
        (
            "embedded jwk, no kid",
            sign_raw(
                &attacker_ed,
                J::EdDSA,
                &format!(
                    r#"{{"alg":"EdDSA","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{attacker_ed_x}"}}}}"#
                ),
                &claims(&[]),
            ),
            unknown.clone(),
        ),
        (
            "x5c chain, attacker key",
            sign_raw(
                &attacker_rsa,
                J::RS256,
                r#"{"alg":"RS256","kid":"rs","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}"#,
                &claims(&[]),
            ),
            bad_sig.clone(),
        ),
        (
            "jku to nowhere, attacker key",
            sign_raw(
                &attacker_rsa,
                J::RS256,
                &format!(r#"{{"alg":"RS256","kid":"rs","jku":"{trap}"}}"#),
                &claims(&[]),
            ),
            bad_sig.clone(),
        ),
        (
            "jku ignored on our token",
            sign_raw(
                &our_rsa,
                J::RS256,
                &format!(r#"{{"alg":"RS256","kid":"rs","jku":"{trap}","x5u":"{trap}"}}"#),
                &claims(&[]),
            ),
            ok.clone(),
        ),
        // kid
        (
            "kid path traversal",
            hs256(
                SECRET,
                r#"{"alg":"HS256","kid":"../../../../dev/null"}"#,
                &claims(&[]),
            ),
            unknown.clone(),
        ),
        (
            "kid SQL",
            hs256(
                SECRET,
                r#"{"alg":"HS256","kid":"k1' OR '1'='1"}"#,
                &claims(&[]),
            ),
            unknown.clone(),
        ),
        (
            "kid SQL union",
            hs256(
                SECRET,
                r#"{"alg":"HS256","kid":"x' UNION SELECT 'secret' --"}"#,
                &claims(&[]),
            ),
            unknown.clone(),
        ),
        (
            "kid LDAP",
            hs256(
                SECRET,
                r#"{"alg":"HS256","kid":"*)(uid=*))(|(uid=*"}"#,
                &claims(&[]),
            ),
            unknown.clone(),
        ),
        (
            "kid NUL",
            hs256(SECRET, r#"{"alg":"HS256","kid":"k1\u0000"}"#, &claims(&[])),
            unknown.clone(),
        ),
        (
            "kid NUL prefix",
            hs256(SECRET, r#"{"alg":"HS256","kid":"\u0000k1"}"#, &claims(&[])),
            unknown.clone(),
        ),
        (
            "kid 5 KB",
            hs256(SECRET, &big_kid(5 * 1024), &claims(&[])),
            unknown.clone(),
        ),
        (
            "kid 10 KB (over the cap)",
            hs256(SECRET, &big_kid(10 * 1024), &claims(&[])),
            Err(TokenError::TooLarge { max: 8192 }),
        ),
        (
            "kid number",
            hs256(SECRET, r#"{"alg":"HS256","kid":1}"#, &claims(&[])),
            malformed.clone(),
        ),
        (
            "kid missing",
            hs256(SECRET, r#"{"alg":"HS256"}"#, &claims(&[])),
            unknown.clone(),
        ),
        // size
        (
            "11 MB token",
            "a".repeat(11 * 1024 * 1024),
            Err(TokenError::TooLarge { max: 8192 }),
        ),
        (
            "11 MB of dots",
            ".".repeat(11 * 1024 * 1024),
            Err(TokenError::TooLarge { max: 8192 }),
        ),
        (
            "one byte over the cap",
            format!("{h}.{p}.{s}{}", "A".repeat(8193 - good.len())),
            Err(TokenError::TooLarge { max: 8192 }),
        ),
        // JSON shape
        (
            "deep nesting in a claim",
            ours(&claims(&[("x", Some(&deep))])),
            malformed.clone(),
        ),
        (
            "deep nesting in the header",
            hs256(
                SECRET,
                &format!(r#"{{"alg":"HS256","kid":"k1","x":{deep}}}"#),
                &claims(&[]),
            ),
            malformed.clone(),
        ),
        (
            "payload array",
            ours(r#"["alice",1900000300]"#),
            malformed.clone(),
        ),
        ("payload string", ours(r#""alice""#), malformed.clone()),
        ("payload number", ours("1"), malformed.clone()),
        ("payload null", ours("null"), malformed.clone()),
        ("payload empty", ours(""), malformed.clone()),
        (
            "payload trailing garbage",
            ours(&format!("{} x", claims(&[]))),
            malformed.clone(),
        ),
        (
            "payload with BOM",
            ours(&format!("\u{feff}{}", claims(&[]))),
            malformed.clone(),
        ),
        (
            "header array",
            hs256(SECRET, r#"["HS256","k1"]"#, &claims(&[])),
            malformed.clone(),
        ),
        (
            "header not JSON",
            format!("{}.{p}.{s}", b64("alg=HS256")),
            malformed.clone(),
        ),
        (
            "roles as a string",
            ours(&claims(&[("roles", Some("\"admin\""))])),
            malformed.clone(),
        ),
        // base64 and framing
        // (signed over the altered text, so only the decoding can refuse them)
        (
            "padded payload",
            resign(&format!("{h}.{p}=")),
            malformed.clone(),
        ),
        (
            "padded header",
            resign(&format!("{h}=.{p}")),
            malformed.clone(),
        ),
        (
            "space in payload, signed",
            resign(&format!("{h}.{} {}", &p[..4], &p[4..])),
            malformed.clone(),
        ),
        (
            "newline in header, signed",
            resign(&format!("{}\n{}.{p}", &h[..4], &h[4..])),
            malformed.clone(),
        ),
        (
            "standard alphabet payload, signed",
            resign(&format!(
                "{h}.{}",
                p.replace('-', "+").replace('_', "/") + "+"
            )),
            malformed.clone(),
        ),
        (
            "padded signature",
            format!("{h}.{p}.{s}="),
            malformed.clone(),
        ),
        (
            "space in payload",
            format!("{h}.{} {}.{s}", &p[..4], &p[4..]),
            bad_sig.clone(),
        ),
        ("leading space", format!(" {good}"), malformed.clone()),
        ("trailing newline", format!("{good}\n"), malformed.clone()),
        (
            "standard alphabet",
            format!("{h}.{p}.{}", s.replace('-', "+").replace('_', "/") + "+"),
            malformed.clone(),
        ),
        ("extra segment", format!("{good}.{s}"), malformed.clone()),
        (
            "extra segment, signed over",
            resign(&format!("{h}.{p}.{p}")),
            malformed.clone(),
        ),
        ("extra empty segment", format!("{good}."), malformed.clone()),
        ("two segments", format!("{h}.{p}"), malformed.clone()),
        ("empty header", format!(".{p}.{s}"), malformed.clone()),
        (
            "non-canonical signature",
            format!("{h}.{p}.{}", non_canonical(s)),
            malformed.clone(),
        ),
        (
            "non-canonical payload",
            {
                // Pad the JSON with spaces until its base64 form has spare bits.
                let json = ["", " ", "  "]
                    .iter()
                    .map(|pad| claims(&[]) + *pad)
                    .find(|j| j.len() % 3 != 0)
                    .unwrap();
                resign(&format!("{h}.{}", non_canonical(&b64(json))))
            },
            malformed.clone(),
        ),
        (
            "JWS JSON flattened",
            format!(r#"{{"protected":"{h}","payload":"{p}","signature":"{s}"}}"#),
            malformed.clone(),
        ),
        (
            "JWS JSON general",
            format!(
                r#"{{"payload":"{p}","signatures":[{{"protected":"{h}","signature":"{s}"}}]}}"#
            ),
            malformed.clone(),
        ),
        (
            "JWE five segments",
            format!(
                "{}.{}.{}.{}.{}",
                b64(r#"{"alg":"dir","enc":"A128GCM","kid":"k1"}"#),
                "",
                b64([1u8; 12]),
                b64([2u8; 32]),
                b64([3u8; 16])
            ),
            malformed.clone(),
        ),
        (
            "JWE with a JWS inside",
            format!("{h}.AAAA.{p}.{s}.AAAA"),
            malformed.clone(),
        ),
        // token types
        (
            "refresh token as access",
            refresh.clone(),
            Err(TokenError::WrongType),
        ),
        (
            "typ refresh claim",
            ours(&claims(&[
                ("typ", Some("\"refresh\"")),
                ("fam", Some("\"f\"")),
            ])),
            Err(TokenError::WrongType),
        ),
        (
            "ID token (no typ)",
            ours(&claims(&[("typ", None), ("nonce", Some("\"n\""))])),
            Err(TokenError::MissingClaim("typ")),
        ),
        (
            "ID token (typ id)",
            ours(&claims(&[("typ", Some("\"id\""))])),
            Err(TokenError::WrongType),
        ),
        (
            "typ Access",
            ours(&claims(&[("typ", Some("\"Access\""))])),
            Err(TokenError::WrongType),
        ),
        (
            "header typ is not the token type",
            hs256(
                SECRET,
                r#"{"alg":"HS256","kid":"k1","typ":"refresh+jwt"}"#,
                &claims(&[]),
            ),
            ok.clone(),
        ),
        // misc claims
        (
            "sub missing",
            ours(&claims(&[("sub", None)])),
            Err(TokenError::MissingClaim("sub")),
        ),
        (
            "sub number",
            ours(&claims(&[("sub", Some("1"))])),
            malformed.clone(),
        ),
        (
            "jti missing",
            ours(&claims(&[("jti", None)])),
            Err(TokenError::MissingClaim("jti")),
        ),
    ];
    expect_all(&m, &cases);
    never_laxer_than_jsonwebtoken(&cases);

    // ECDSA high-S twin: the same claims under a second valid encoding. It is
    // accepted (aws-lc's P-256 verifier, ours and jsonwebtoken's, does not
    // require low S), so nothing may key on the token string: the twin
    // carries the same `jti`, which is what revocation and caches key on.
    let twin = format!("{es_input}.{}", b64(&high_s));
    assert_ne!(twin, es_good);
    assert_eq!(
        m.verify_access(&twin).map(|v| v.jti),
        m.verify_access(&es_good).map(|v| v.jti)
    );

    // Access token used as a refresh token.
    assert_eq!(m.verify_refresh(&good), Err(TokenError::WrongType));
    assert!(m.verify_refresh(&refresh).is_ok());
}

#[test]
fn tokens_pass_only_while_their_times_allow() {
    let clock = ManualClock::at_unix(NOW);
    let m = manager(&clock);
    let token = m.sign_access(&Principal::new("alice")).unwrap();
    clock.advance(m.access_ttl() + m.leeway() - Duration::from_secs(1));
    assert!(m.verify_access(&token).is_ok());
    clock.advance(Duration::from_secs(1));
    assert_eq!(m.verify_access(&token), Err(TokenError::Expired));
    let issued_later = {
        let future = ManualClock::at_unix(NOW + 3600);
        let other = manager(&future);
        other.sign_access(&Principal::new("alice")).unwrap()
    };
    clock.set(std::time::UNIX_EPOCH + Duration::from_secs(NOW));
    assert_eq!(m.verify_access(&issued_later), Err(TokenError::NotYetValid));
}

// ------------------------------------------------------------ jku/x5u trap

/// A TCP listener on loopback that counts every connection it accepts.
struct Trap {
    url: String,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Trap {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (hits, stop) = (Arc::clone(&hits), Arc::clone(&stop));
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok(_) => {
                            hits.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        Self {
            url,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn jku_and_x5u_are_never_fetched() {
    let trap = Trap::start();
    // The trap really counts: one deliberate connection.
    drop(std::net::TcpStream::connect(trap.url.trim_start_matches("http://")).unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while trap.hits() == 0 && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(trap.hits(), 1);

    let clock = ManualClock::at_unix(NOW);
    let m = manager(&clock);
    let attacker = EncodingKey::from_rsa_pem(read("rsa-2048-other.pem").as_bytes()).unwrap();
    let ours_rsa = EncodingKey::from_rsa_pem(read("rsa-2048.pem").as_bytes()).unwrap();
    let jwks = format!("{}/.well-known/jwks.json", trap.url);
    let cert = format!("{}/cert.pem", trap.url);
    let rs = jsonwebtoken::Algorithm::RS256;
    let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
        (
            "jku, our kid",
            sign_raw(
                &attacker,
                rs,
                &format!(r#"{{"alg":"RS256","kid":"rs","jku":"{jwks}"}}"#),
                &claims(&[]),
            ),
            Err(TokenError::BadSignature),
        ),
        (
            "jku, unknown kid",
            sign_raw(
                &attacker,
                rs,
                &format!(r#"{{"alg":"RS256","kid":"remote","jku":"{jwks}"}}"#),
                &claims(&[]),
            ),
            Err(TokenError::UnknownKey),
        ),
        (
            "jku, no kid",
            sign_raw(
                &attacker,
                rs,
                &format!(r#"{{"alg":"RS256","jku":"{jwks}"}}"#),
                &claims(&[]),
            ),
            Err(TokenError::UnknownKey),
        ),
        (
            "x5u, our kid",
            sign_raw(
                &attacker,
                rs,
                &format!(r#"{{"alg":"RS256","kid":"rs","x5u":"{cert}"}}"#),
                &claims(&[]),
            ),
            Err(TokenError::BadSignature),
        ),
        (
            "x5u, unknown kid",
            sign_raw(
                &attacker,
                rs,
                &format!(r#"{{"alg":"RS256","kid":"remote","x5u":"{cert}"}}"#),
                &claims(&[]),
            ),
            Err(TokenError::UnknownKey),
        ),
        (
            "jku and x5u on a valid token",
            sign_raw(
                &ours_rsa,
                rs,
                &format!(r#"{{"alg":"RS256","kid":"rs","jku":"{jwks}","x5u":"{cert}"}}"#),
                &claims(&[]),
            ),
            Ok(()),
        ),
    ];
    expect_all(&m, &cases);
    for (_, token, _) in &cases {
        let _ = m.verify_refresh(token);
        if let Ok(key) = Key::from_pem(Algorithm::RS256, read("rsa-2048.pub.pem")) {
            let _ = verify_jws(token, &key);
        }
    }
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        trap.hits(),
        1,
        "a verification connected to the jku/x5u trap"
    );
}

// ------------------------------------------------------------ rotation, JWKS

fn live_kids(set: &JwkSet) -> Vec<&str> {
    set.keys.iter().map(|k| k.kid.as_str()).collect()
}

#[tokio::test]
async fn rotation_keeps_retired_keys_for_the_grace_period_and_jwks_lists_the_live_ones() {
    let clock = ManualClock::at_unix(NOW);
    let grace = Duration::from_secs(3600);
    let m = Arc::new(
        JwtTokenManager::builder()
            .key(
                "rs-1",
                SigningKey::from_pem(Algorithm::RS256, read("rsa-2048.pem")).unwrap(),
            )
            .key(
                "peer",
                VerifyingKey::from_pem(Algorithm::EdDSA, read("ed25519.pub.pem")).unwrap(),
            )
            .hmac_key("hs-legacy", Algorithm::HS256, SECRET)
            .current_key("rs-1")
            .rotation_grace(grace)
            .access_ttl(Duration::from_secs(4 * 3600))
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    assert_eq!(
        live_kids(&m.jwks()),
        ["rs-1", "peer"],
        "HMAC keys are never published"
    );
    let before = m.sign_access(&Principal::new("alice")).unwrap();
    let refresh_before = m.sign_refresh("alice", None).unwrap();

    clock.advance(Duration::from_secs(60));
    m.rotate(
        "es-2",
        SigningKey::from_pem(Algorithm::ES256, read("p256.pem")).unwrap(),
    )
    .unwrap();
    assert_eq!(m.current_key_id().as_deref(), Some("es-2"));
    assert_eq!(live_kids(&m.jwks()), ["rs-1", "peer", "es-2"]);
    let after = m.sign_access(&Principal::new("alice")).unwrap();
    assert_eq!(m.verify_access(&after).unwrap().kid, "es-2");

    // Served over HTTP as well.
    let app: axum::Router = jwks_router(Arc::clone(&m));
    let reply = send(&app, get(JWKS_PATH, None)).await;
    assert_eq!(reply.status, http::StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    let served: JwkSet = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(served, m.jwks());
    let es = served.find("es-2").unwrap();
    assert_eq!(
        (es.kty.as_str(), es.alg.as_str(), es.key_use.as_str()),
        ("EC", "ES256", "sig")
    );
    assert_eq!(es.crv.as_deref(), Some("P-256"));
    let rs = served.find("rs-1").unwrap();
    assert_eq!(rs.e.as_deref(), Some("AQAB"));
    let body = reply.text();
    for private in ["\"d\"", "\"p\"", "\"q\"", "\"k\"", "hs-legacy"] {
        assert!(!body.contains(private), "{private} in {body}");
    }

    // Within the grace period the retired key still verifies.
    clock.advance(grace - Duration::from_secs(1));
    assert_eq!(m.verify_access(&before).unwrap().kid, "rs-1");
    assert_eq!(m.verify_refresh(&refresh_before).unwrap().kid, "rs-1");

    // After it, the key is gone: from verification and from the JWKS.
    clock.advance(Duration::from_secs(1));
    assert_eq!(m.verify_access(&before), Err(TokenError::UnknownKey));
    assert_eq!(
        m.verify_refresh(&refresh_before),
        Err(TokenError::UnknownKey)
    );
    assert!(m.verify_access(&after).is_ok());
    assert_eq!(live_kids(&m.jwks()), ["peer", "es-2"]);
    let reply = send(&app, get(JWKS_PATH, None)).await;
    let served: JwkSet = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(live_kids(&served), ["peer", "es-2"]);
    assert_eq!(m.key_ids(), ["peer", "hs-legacy", "es-2"]);

    // A second rotation retires es-2; a zero grace drops at once.
    let strict = JwtTokenManager::builder()
        .hmac_key("a", Algorithm::HS256, SECRET)
        .current_key("a")
        .rotation_grace(Duration::ZERO)
        .clock(clock.clone())
        .build()
        .unwrap();
    let old = strict.sign_access(&Principal::new("alice")).unwrap();
    strict
        .rotate("b", SigningKey::hmac(Algorithm::HS512, [5u8; 64]).unwrap())
        .unwrap();
    assert_eq!(strict.verify_access(&old), Err(TokenError::UnknownKey));
    assert_eq!(strict.key_ids(), ["b"]);
}

// ------------------------------------------------------------------- scopes

#[test]
fn scopes_become_permissions() {
    let clock = ManualClock::at_unix(NOW);
    let m = manager(&clock);
    let authz = AuthorizationService::new();
    for scope in [
        "\"articles.read reports.write not/valid Articles.Read\"",
        "[\"articles.read\",\"reports.write\",\"not valid\",\"\"]",
    ] {
        let token = ours(&claims(&[("roles", None), ("scope", Some(scope))]));
        let principal = m.verify_access(&token).unwrap().into_principal();
        assert_eq!(
            principal.permissions(),
            ["articles.read", "reports.write"],
            "{scope}"
        );
        assert!(authz.authorize(&principal, "articles", "read").is_ok());
        assert!(authz.authorize(&principal, "articles", "write").is_err());
    }
    let bad = ours(&claims(&[("scope", Some("{\"a\":1}"))]));
    assert_eq!(
        m.verify_access(&bad),
        Err(TokenError::InvalidClaim("scope"))
    );
}
