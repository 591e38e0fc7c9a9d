//! TOK-9 and TOK-10: `RemoteJwks` against a loopback issuer of the test's own
//! (an axum server on 127.0.0.1:0 serving JWKS derived with
//! `JwtTokenManager::jwks()` from the test keys in `tests/data/keys`), and
//! `allow_unverified_dev`, checked in child processes with `LEX_ENV` set.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use lexigram_auth::Principal;
use lexigram_auth::environment::Environment;
use lexigram_auth::error::TokenError;
use lexigram_auth::token::{
    Algorithm, FetchError, JwtTokenManager, MAX_JWKS_BYTES, RemoteJwks, RemoteJwksError, SigningKey,
};

const ISS: &str = "https://issuer.test";
const AUD: &str = "articles-api";

fn pem(name: &str) -> String {
    std::fs::read_to_string(format!("{}/data/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The external issuer: signs with `kid`, publishes its JWKS.
fn issuer(kid: &str, alg: Algorithm, pem_name: &str) -> JwtTokenManager {
    JwtTokenManager::builder()
        .key(kid, SigningKey::from_pem(alg, pem(pem_name)).unwrap())
        .current_key(kid)
        .issuer(ISS)
        .required_audience(AUD)
        .build()
        .unwrap()
}

fn jwks_of(manager: &JwtTokenManager) -> String {
    serde_json::to_string(&manager.jwks()).unwrap()
}

fn token_of(manager: &JwtTokenManager, user: &str) -> String {
    manager.sign_access(&Principal::new(user)).unwrap()
}

struct Served {
    body: Mutex<String>,
    hits: AtomicUsize,
}

/// The loopback JWKS server; counts its requests.
struct Server {
    state: Arc<Served>,
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(body: String) -> Self {
        let state = Arc::new(Served {
            body: Mutex::new(body),
            hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route(
                "/jwks",
                get(|State(s): State<Arc<Served>>| async move {
                    s.hits.fetch_add(1, Ordering::SeqCst);
                    let body = s.body.lock().unwrap().clone();
                    ([(http::header::CONTENT_TYPE, "application/json")], body)
                }),
            )
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { state, url, task }
    }

    fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    fn publish(&self, body: String) {
        *self.state.body.lock().unwrap() = body;
    }

    fn verifier(&self) -> lexigram_auth::token::RemoteJwksBuilder {
        RemoteJwks::builder(&self.url, ISS, AUD)
    }
}

#[tokio::test]
async fn verifies_an_issuer_token_and_caches_the_keys() {
    let idp = issuer("es-1", Algorithm::ES256, "p256.pem");
    let server = Server::start(jwks_of(&idp)).await;
    let verifier = server.verifier().build().unwrap();
    let token = token_of(&idp, "alice");
    assert_eq!(verifier.verify(&token).await.unwrap().user_id, "alice");
    assert_eq!(verifier.verify(&token).await.unwrap().kid, "es-1");
    assert_eq!(server.hits(), 1, "the key is cached after one fetch");
    assert_eq!(verifier.key_ids(), ["es-1"]);

    // The same strict rules as our own tokens: another audience, another
    // issuer, a tampered signature.
    let other_aud = JwtTokenManager::builder()
        .key(
            "es-1",
            SigningKey::from_pem(Algorithm::ES256, pem("p256.pem")).unwrap(),
        )
        .current_key("es-1")
        .issuer(ISS)
        .required_audience("other-api")
        .build()
        .unwrap();
    assert_eq!(
        verifier.verify(&token_of(&other_aud, "a")).await,
        Err(TokenError::WrongAudience)
    );
    let other_iss = JwtTokenManager::builder()
        .key(
            "es-1",
            SigningKey::from_pem(Algorithm::ES256, pem("p256.pem")).unwrap(),
        )
        .current_key("es-1")
        .issuer("https://evil.test")
        .required_audience(AUD)
        .build()
        .unwrap();
    assert_eq!(
        verifier.verify(&token_of(&other_iss, "a")).await,
        Err(TokenError::WrongIssuer)
    );
    let tampered = tamper(&token);
    assert_eq!(
        verifier.verify(&tampered).await,
        Err(TokenError::BadSignature)
    );
    assert_eq!(verifier.verify("a.b").await, Err(TokenError::Malformed));
    assert_eq!(server.hits(), 1);
}

/// A token as another issuer writes it: jsonwebtoken signs `claims` with
/// the P-256 test key under `kid`.
fn foreign_token(kid: &str, claims: &serde_json::Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let key = jsonwebtoken::EncodingKey::from_ec_pem(pem("p256.pem").as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn access_tokens_of_other_issuers_verify_and_their_id_and_refresh_tokens_do_not() {
    let idp = issuer("es-1", Algorithm::ES256, "p256.pem");
    let server = Server::start(jwks_of(&idp)).await;
    let verifier = server.verifier().build().unwrap();
    let now = unix_now();
    let base = serde_json::json!({
        "iss": ISS, "sub": "auth0|42", "aud": [AUD, "https://issuer.test/userinfo"],
        "iat": now, "exp": now + 600,
    });
    let with = |extra: serde_json::Value| {
        let mut claims = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        foreign_token("es-1", &claims)
    };

    // Auth0 style: no `jti`, no `typ`, a scope string and a permissions array.
    let auth0 = verifier
        .verify(&with(serde_json::json!({
            "scope": "openid read:articles",
            "permissions": ["articles.read"],
        })))
        .await
        .unwrap();
    assert_eq!(auth0.user_id, "auth0|42");
    assert_eq!(auth0.jti, "");
    assert_eq!(auth0.scopes, ["openid", "read:articles"]);
    assert_eq!(auth0.permissions, ["articles.read"]);

    // Keycloak style: `typ` Bearer and a `jti`; RFC 9068's `at+jwt` too.
    for typ in ["Bearer", "at+jwt", "access"] {
        let token = with(serde_json::json!({"typ": typ, "jti": "k-1", "roles": ["editor"]}));
        let verified = verifier.verify(&token).await.unwrap();
        assert_eq!(
            (verified.jti.as_str(), verified.roles.len()),
            ("k-1", 1),
            "{typ}"
        );
    }

    // The same issuer's ID and refresh tokens, and our own refresh type.
    for typ in ["ID", "Refresh", "refresh", "bearer"] {
        assert_eq!(
            verifier
                .verify(&with(serde_json::json!({"typ": typ})))
                .await,
            Err(TokenError::WrongType),
            "{typ}"
        );
    }

    // Every other rule still holds: `exp`, `iat` and `sub` required, the
    // issuer and the audience checked.
    for (missing, claim) in [("exp", "exp"), ("iat", "iat"), ("sub", "sub")] {
        let mut claims = base.clone();
        claims.as_object_mut().unwrap().remove(missing);
        assert_eq!(
            verifier.verify(&foreign_token("es-1", &claims)).await,
            Err(TokenError::MissingClaim(claim))
        );
    }
    assert_eq!(
        verifier
            .verify(&with(serde_json::json!({"aud": "someone-else"})))
            .await,
        Err(TokenError::WrongAudience)
    );
    assert_eq!(
        verifier
            .verify(&with(serde_json::json!({"iss": "https://evil.test"})))
            .await,
        Err(TokenError::WrongIssuer)
    );
    assert_eq!(
        verifier
            .verify(&with(serde_json::json!({"exp": now - 3600})))
            .await,
        Err(TokenError::Expired)
    );

    // Our own manager keeps the strict profile: the Auth0-style token, signed
    // by a key it trusts, is refused for its missing `jti`.
    let own = JwtTokenManager::builder()
        .key(
            "es-1",
            SigningKey::from_pem(Algorithm::ES256, pem("p256.pem")).unwrap(),
        )
        .current_key("es-1")
        .issuer(ISS)
        .required_audience(AUD)
        .build()
        .unwrap();
    assert_eq!(
        own.verify_access(&with(serde_json::json!({}))),
        Err(TokenError::MissingClaim("jti"))
    );
}

#[tokio::test]
async fn keys_without_alg_or_of_other_algorithms_are_ignored() {
    let idp = issuer("ed-1", Algorithm::EdDSA, "ed25519.pem");
    let mut set = serde_json::to_value(idp.jwks()).unwrap();
    let mut no_alg = set["keys"][0].clone();
    no_alg.as_object_mut().unwrap().remove("alg");
    no_alg["kid"] = "no-alg".into();
    set["keys"].as_array_mut().unwrap().push(no_alg);
    let server = Server::start(set.to_string()).await;
    let verifier = server
        .verifier()
        .algorithms([Algorithm::EdDSA])
        .build()
        .unwrap();
    assert_eq!(verifier.refresh().await, Ok(1));
    assert_eq!(verifier.key_ids(), ["ed-1"]);

    // Only ES256 allowed: the EdDSA key is unusable, the fetch fails.
    let es_only = server
        .verifier()
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap();
    assert_eq!(es_only.refresh().await, Err(FetchError::NoUsableKeys));
    assert_eq!(
        es_only.verify(&token_of(&idp, "a")).await,
        Err(TokenError::Unavailable)
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_verifies() {
    let idp = issuer("k1", Algorithm::ES256, "p256.pem");
    let server = Server::start(jwks_of(&idp)).await;
    let verifier = server
        .verifier()
        .min_refetch_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    assert!(verifier.verify(&token_of(&idp, "a")).await.is_ok());
    assert_eq!(server.hits(), 1);

    idp.rotate(
        "k2",
        SigningKey::from_pem(Algorithm::EdDSA, pem("ed25519.pem")).unwrap(),
    )
    .unwrap();
    server.publish(jwks_of(&idp));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let new_token = token_of(&idp, "bob");
    let verified = verifier.verify(&new_token).await.unwrap();
    assert_eq!(
        (verified.user_id.as_str(), verified.kid.as_str()),
        ("bob", "k2")
    );
    assert_eq!(server.hits(), 2, "exactly one refetch for the new kid");
    assert!(verifier.verify(&new_token).await.is_ok());
    assert_eq!(server.hits(), 2);
    assert_eq!(verifier.key_ids(), ["k1", "k2"]);
}

/// The token with the first character of its signature changed (a full
/// base64url digit, so the segment stays canonical).
fn tamper(token: &str) -> String {
    let at = token.rfind('.').unwrap() + 1;
    let first = &token[at..=at];
    let with = if first == "A" { "B" } else { "A" };
    format!("{}{with}{}", &token[..at], &token[at + 1..])
}

/// A token of the issuer's key under another `kid`.
fn with_kid(token: &str, kid: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (_, rest) = token.split_once('.').unwrap();
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#));
    format!("{header}.{rest}")
}

#[tokio::test]
async fn a_flood_of_unknown_kids_causes_at_most_one_fetch() {
    let idp = issuer("k1", Algorithm::ES256, "p256.pem");
    let server = Server::start(jwks_of(&idp)).await;
    let verifier = Arc::new(server.verifier().build().unwrap());
    let token = token_of(&idp, "a");
    assert!(verifier.verify(&token).await.is_ok());
    let before = server.hits();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let verifier = Arc::clone(&verifier);
        let forged = with_kid(&token, &format!("random-{i}-{}", i * 7919));
        tasks.push(tokio::spawn(async move { verifier.verify(&forged).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), Err(TokenError::UnknownKey));
    }
    assert!(
        server.hits() - before <= 1,
        "{} fetches",
        server.hits() - before
    );

    // The same from a cold cache: 50 concurrent unknown kids, one fetch.
    let cold = Arc::new(server.verifier().build().unwrap());
    let before = server.hits();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let cold = Arc::clone(&cold);
        let forged = with_kid(&token, &format!("cold-{i}"));
        tasks.push(tokio::spawn(async move { cold.verify(&forged).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), Err(TokenError::UnknownKey));
    }
    assert_eq!(server.hits() - before, 1);
    assert_eq!(cold.fetch_count(), 1);
}

#[tokio::test]
async fn with_the_issuer_down_cached_keys_still_verify() {
    let idp = issuer("k1", Algorithm::ES256, "p256.pem");
    let server = Server::start(jwks_of(&idp)).await;
    let verifier = server
        .verifier()
        .min_refetch_interval(Duration::from_millis(50))
        .fetch_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let token = token_of(&idp, "a");
    assert!(verifier.verify(&token).await.is_ok());
    server.task.abort();
    tokio::time::sleep(Duration::from_millis(100)).await;

    assert!(matches!(
        verifier.refresh().await,
        Err(FetchError::Transport(_) | FetchError::Timeout)
    ));
    assert!(verifier.verify(&token).await.is_ok(), "cached keys kept");
    assert_eq!(verifier.key_ids(), ["k1"]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // An unknown kid: the refetch fails, a typed error (a 503, not a 401).
    assert_eq!(
        verifier.verify(&with_kid(&token, "new")).await,
        Err(TokenError::Unavailable)
    );
    assert!(verifier.last_fetch_error().is_some());
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn background_refresh_picks_up_a_new_key_unasked() {
    let idp = issuer("k1", Algorithm::ES256, "p256.pem");
    let server = Server::start(jwks_of(&idp)).await;
    let verifier = server
        .verifier()
        .refresh_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    assert_eq!(verifier.refresh().await, Ok(1));
    idp.rotate(
        "k2",
        SigningKey::from_pem(Algorithm::EdDSA, pem("ed25519.pem")).unwrap(),
    )
    .unwrap();
    server.publish(jwks_of(&idp));
    let mut waited = Duration::ZERO;
    while verifier.key_ids().len() < 2 && waited < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    assert_eq!(verifier.key_ids(), ["k1", "k2"]);
    let hits = server.hits();
    assert!(hits >= 2);
    assert!(verifier.verify(&token_of(&idp, "b")).await.is_ok());

    // Dropping the verifier stops the background task.
    drop(verifier);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_drop = server.hits();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(server.hits(), after_drop);
}

#[tokio::test]
async fn an_oversized_jwks_is_refused() {
    let idp = issuer("k1", Algorithm::ES256, "p256.pem");
    let mut set = serde_json::to_value(idp.jwks()).unwrap();
    set["padding"] = "x".repeat(MAX_JWKS_BYTES).into();
    let server = Server::start(set.to_string()).await;
    let verifier = server.verifier().build().unwrap();
    assert_eq!(
        verifier.refresh().await,
        Err(FetchError::TooLarge {
            max: MAX_JWKS_BYTES
        })
    );
    assert!(verifier.key_ids().is_empty());
    assert_eq!(
        verifier.verify(&token_of(&idp, "a")).await,
        Err(TokenError::Unavailable)
    );
    // Just under the cap is fine.
    set["padding"] = "x".repeat(MAX_JWKS_BYTES - 2048).into();
    server.publish(set.to_string());
    assert_eq!(verifier.refresh().await, Ok(1));
}

#[tokio::test]
async fn insecure_urls_are_refused() {
    assert_eq!(
        RemoteJwks::builder("http://issuer.example/jwks", ISS, AUD)
            .build()
            .unwrap_err(),
        RemoteJwksError::InsecureUrl
    );
}

// ---- TOK-10: allow_unverified_dev, in child processes with LEX_ENV set ----

const CHILD: &str = "LEXIGRAM_UNVERIFIED_DEV_CHILD";

/// Runs `unverified_dev_child` in a child process with `LEX_ENV` = `env`
/// (`None`: unset), expecting `expect`.
fn run_child(env: Option<&str>, expect: &str) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "remote_jwks::unverified_dev_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, expect);
    match env {
        Some(v) => cmd.env("LEX_ENV", v),
        None => cmd.env_remove("LEX_ENV"),
    };
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "LEX_ENV={env:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unverified_dev_is_refused_outside_development() {
    for env in [
        Some("production"),
        Some("staging"),
        Some("test"),
        None,
        Some(""),
    ] {
        run_child(env, "refused");
    }
    run_child(Some("dev"), "unknown");
}

#[test]
fn unverified_dev_is_honoured_in_development() {
    run_child(Some("development"), "honoured");
}

/// The child side; does nothing unless run by `run_child`.
#[tokio::test]
async fn unverified_dev_child() {
    let Ok(expect) = std::env::var(CHILD) else {
        return;
    };
    let idp = issuer("k1", Algorithm::ES256, "p256.pem");
    let server = Server::start(jwks_of(&idp)).await;
    // A token signed by a key the JWKS does not hold.
    let stranger = issuer("stranger", Algorithm::ES256, "p256-other.pem");
    let foreign = token_of(&stranger, "dev-user");
    let without = server.verifier().build().unwrap();
    assert_eq!(without.verify(&foreign).await, Err(TokenError::UnknownKey));

    let with = server.verifier().allow_unverified_dev(true).build();
    match expect.as_str() {
        "refused" => {
            let env = Environment::from_env().unwrap();
            assert_ne!(env, Environment::Development);
            assert_eq!(
                with.unwrap_err(),
                RemoteJwksError::UnverifiedDevRefused(env)
            );
        }
        "unknown" => {
            assert!(matches!(with, Err(RemoteJwksError::Environment(_))));
        }
        "honoured" => {
            let with = with.unwrap();
            assert!(with.is_unverified_dev());
            let v = with.verify(&foreign).await.unwrap();
            assert_eq!(
                (v.user_id.as_str(), v.kid.as_str()),
                ("dev-user", "stranger")
            );
            // Known keys are still verified: a bad signature is refused.
            let good = token_of(&idp, "a");
            assert!(with.verify(&good).await.is_ok());
            let tampered = tamper(&good);
            assert_eq!(with.verify(&tampered).await, Err(TokenError::BadSignature));
            // Every claim rule still holds for unverified tokens.
            let wrong_aud = JwtTokenManager::builder()
                .key(
                    "s",
                    SigningKey::from_pem(Algorithm::ES256, pem("p256-other.pem")).unwrap(),
                )
                .current_key("s")
                .issuer(ISS)
                .required_audience("someone-else")
                .build()
                .unwrap();
            assert_eq!(
                with.verify(&token_of(&wrong_aud, "a")).await,
                Err(TokenError::WrongAudience)
            );
            let refresh = stranger.sign_refresh("a", None).unwrap();
            assert_eq!(with.verify(&refresh).await, Err(TokenError::WrongType));
            // `alg` must still be an allowed one: `none` and HMAC are refused.
            let hs = JwtTokenManager::builder()
                .hmac_key("h", Algorithm::HS256, [7u8; 32])
                .current_key("h")
                .issuer(ISS)
                .required_audience(AUD)
                .build()
                .unwrap();
            assert_eq!(
                with.verify(&token_of(&hs, "a")).await,
                Err(TokenError::BadSignature)
            );
        }
        other => panic!("unexpected child mode {other}"),
    }
}
