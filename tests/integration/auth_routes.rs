//! MOD-3: the ready-made routes of `auth_routes` over an
//! `AuthenticationService` on SQLite stores, driven with `oneshot`.

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use lexigram_auth::authn::{
    AuthenticationService, ChannelMailer, Mail, MailFuture, Mailer, SqliteUserStore, TokenPurpose,
    UserStore, auth_routes,
};
use lexigram_auth::password::PasswordHasher;
use lexigram_auth::revocation::MemoryRevocationStore;
use lexigram_auth::token::{Algorithm, JwtTokenManager};

use crate::support::{Reply, get, send};

const PASSWORD: &str = "Correct-Horse-Battery-9";
const SECOND: &str = "Staple-Paper-Clip-77";

async fn app() -> (Router, Receiver<Mail>) {
    let (mailer, outbox) = ChannelMailer::new();
    (app_with(Arc::new(mailer)).await, outbox)
}

/// The routes over SQLite stores, mailing through `mailer`.
async fn app_with(mailer: Arc<dyn Mailer>) -> Router {
    let jwt = JwtTokenManager::builder()
        .hmac_key("k1", Algorithm::HS256, [7u8; 32])
        .current_key("k1")
        .revocation_store(Arc::new(MemoryRevocationStore::new()))
        .build()
        .unwrap();
    let users: Arc<dyn UserStore> =
        Arc::new(SqliteUserStore::connect("sqlite::memory:").await.unwrap());
    let service = AuthenticationService::new(users, PasswordHasher::default(), jwt).mailer(mailer);
    Router::new().nest("/auth", auth_routes(Arc::new(service)))
}

/// The next mail of `outbox`, waited for (the reset route sends it from a
/// task of its own, after its reply).
async fn next_mail(outbox: &Receiver<Mail>) -> Mail {
    for _ in 0..500 {
        if let Ok(mail) = outbox.try_recv() {
            return mail;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no mail within 5 s");
}

fn post(uri: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::post(uri).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

async fn register(app: &Router, email: &str) -> Reply {
    let body = serde_json::json!({"email": email, "name": "Alice", "password": PASSWORD});
    send(app, post("/auth/register", None, &body.to_string())).await
}

async fn login(app: &Router, email: &str, password: &str) -> Reply {
    let body = serde_json::json!({"email": email, "password": password});
    send(app, post("/auth/login", None, &body.to_string())).await
}

fn problem_code(reply: &Reply) -> String {
    assert_eq!(
        reply.headers["content-type"], "application/problem+json",
        "{reply:?}"
    );
    reply.json()["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn register_login_me_refresh_logout() {
    let (app, outbox) = app().await;
    let created = register(&app, "alice@example.com").await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let mail = outbox.try_recv().unwrap();
    assert_eq!(mail.purpose, TokenPurpose::EmailVerification);

    // The e-mail verification token works once.
    let verify = serde_json::json!({"token": mail.token}).to_string();
    let ok = send(&app, post("/auth/verify-email", None, &verify)).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT);
    let again = send(&app, post("/auth/verify-email", None, &verify)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(problem_code(&again), "invalid_token");

    let taken = register(&app, "Alice@Example.com").await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(problem_code(&taken), "email_taken");

    let pair = login(&app, "alice@example.com", PASSWORD).await;
    assert_eq!(pair.status, StatusCode::OK, "{pair:?}");
    let pair = pair.json();
    let access = pair["access_token"].as_str().unwrap();
    let refresh1 = pair["refresh_token"].as_str().unwrap();

    let me = send(&app, get("/auth/me", Some(access))).await;
    assert_eq!(me.status, StatusCode::OK);
    let me = me.json();
    assert_eq!(me["subject"], id.as_str());
    assert_eq!(me["roles"], serde_json::json!(["viewer"]));
    assert!(me["permissions"].is_array());

    let anonymous = send(&app, get("/auth/me", None)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let forged = send(&app, get("/auth/me", Some("not.a.token"))).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    let body = serde_json::json!({"refresh_token": refresh1}).to_string();
    let next = send(&app, post("/auth/refresh", None, &body)).await;
    assert_eq!(next.status, StatusCode::OK);
    let refresh2 = next.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh1);

    let out = serde_json::json!({"token": refresh2}).to_string();
    let logout = send(&app, post("/auth/logout", None, &out)).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);

    // Neither the used nor the logged-out refresh token works any more.
    let old = send(&app, post("/auth/refresh", None, &body)).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let body2 = serde_json::json!({"refresh_token": refresh2}).to_string();
    let revoked = send(&app, post("/auth/refresh", None, &body2)).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert!(!revoked.text().contains(refresh2.as_str()));

    let bad = serde_json::json!({"token": "garbage"}).to_string();
    let bad = send(&app, post("/auth/logout", None, &bad)).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failed_logins_are_indistinguishable() {
    let (app, _outbox) = app().await;
    assert_eq!(
        register(&app, "alice@example.com").await.status,
        StatusCode::CREATED
    );
    let wrong = login(&app, "alice@example.com", "Wrong-Password-123").await;
    let unknown = login(&app, "mallory@example.com", "Wrong-Password-123").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(problem_code(&wrong), "invalid_credentials");
    assert!(!wrong.text().contains("Wrong-Password-123"));
}

#[tokio::test]
async fn malformed_bodies_are_problems() {
    let (app, _outbox) = app().await;
    for uri in [
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/auth/register",
        "/auth/password/reset",
        "/auth/password/reset/confirm",
        "/auth/verify-email",
    ] {
        for body in ["{not json", "", r#"{"password": "Secret-Value-1"}"#, "[]"] {
            let reply = send(&app, post(uri, None, body)).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri} {body}");
            assert_eq!(problem_code(&reply), "invalid_request");
            assert!(!reply.text().contains("Secret-Value-1"));
        }
    }
}

#[tokio::test]
async fn weak_password_lists_violations() {
    let (app, _outbox) = app().await;
    let body = serde_json::json!({"email": "bob@example.com", "name": "Bob", "password": "short"});
    let reply = send(&app, post("/auth/register", None, &body.to_string())).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_code(&reply), "password_policy");
    let violations = reply.json()["violations"].as_array().unwrap().clone();
    assert!(!violations.is_empty());
    assert!(!reply.text().contains("\"short\""));
}

#[tokio::test]
async fn password_reset_flow() {
    let (app, outbox) = app().await;
    register(&app, "alice@example.com").await;
    let _verification = outbox.try_recv().unwrap();

    let known = serde_json::json!({"email": "alice@example.com"}).to_string();
    let unknown = serde_json::json!({"email": "nobody@example.com"}).to_string();
    let a = send(&app, post("/auth/password/reset", None, &known)).await;
    let b = send(&app, post("/auth/password/reset", None, &unknown)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(b.status, StatusCode::ACCEPTED);
    assert_eq!(a.body, b.body);
    let mail = next_mail(&outbox).await;
    assert_eq!(mail.purpose, TokenPurpose::PasswordReset);
    assert_eq!(mail.to, "alice@example.com");
    // The unknown address gets no mail (its task has had time to run).
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(outbox.try_recv().is_err());

    let weak = serde_json::json!({"token": mail.token, "new_password": "short"}).to_string();
    let weak = send(&app, post("/auth/password/reset/confirm", None, &weak)).await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);

    let confirm = serde_json::json!({"token": mail.token, "new_password": SECOND}).to_string();
    let ok = send(&app, post("/auth/password/reset/confirm", None, &confirm)).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{ok:?}");
    let again = send(&app, post("/auth/password/reset/confirm", None, &confirm)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(problem_code(&again), "invalid_token");
    assert!(!again.text().contains(mail.token.as_str()));

    assert_eq!(
        login(&app, "alice@example.com", SECOND).await.status,
        StatusCode::OK
    );
    assert_eq!(
        login(&app, "alice@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn password_change() {
    let (app, _outbox) = app().await;
    register(&app, "alice@example.com").await;
    let pair = login(&app, "alice@example.com", PASSWORD).await.json();
    let access = pair["access_token"].as_str().unwrap();

    let body = serde_json::json!({"current_password": PASSWORD, "new_password": SECOND});
    let anonymous = send(&app, post("/auth/password/change", None, &body.to_string())).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let wrong =
        serde_json::json!({"current_password": "Not-The-Password-1", "new_password": SECOND});
    let wrong = send(
        &app,
        post("/auth/password/change", Some(access), &wrong.to_string()),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(&wrong), "invalid_credentials");

    let weak = serde_json::json!({"current_password": PASSWORD, "new_password": "short"});
    let weak = send(
        &app,
        post("/auth/password/change", Some(access), &weak.to_string()),
    )
    .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);

    let ok = send(
        &app,
        post("/auth/password/change", Some(access), &body.to_string()),
    )
    .await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{ok:?}");
    // Every token of the user is revoked, the caller's own included.
    let me = send(&app, get("/auth/me", Some(access))).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&app, "alice@example.com", SECOND).await.status,
        StatusCode::OK
    );
}

/// A mailer that sends only once the test opens its gate.
#[derive(Debug)]
struct GatedMailer {
    gate: Arc<tokio::sync::Semaphore>,
    inner: ChannelMailer,
}

impl Mailer for GatedMailer {
    fn send(&self, mail: Mail) -> MailFuture<'_> {
        Box::pin(async move {
            let _open = self.gate.acquire().await;
            self.inner.send(mail).await
        })
    }
}

/// The reset route answers without waiting for the look-up or the mail, so
/// its reply cannot tell a registered address by its timing: with a mailer
/// that is stuck, the registered address's reply still comes (the same as
/// an unknown one's), and the mail follows once the mailer moves.
#[tokio::test]
async fn password_reset_replies_before_the_mail() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (inner, outbox) = ChannelMailer::new();
    let app = app_with(Arc::new(GatedMailer {
        gate: Arc::clone(&gate),
        inner,
    }))
    .await;
    let body =
        serde_json::json!({"email": "alice@example.com", "name": "Alice", "password": PASSWORD});
    // Registration mails too: let that one through first.
    gate.add_permits(1);
    assert_eq!(
        send(&app, post("/auth/register", None, &body.to_string()))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        next_mail(&outbox).await.purpose,
        TokenPurpose::EmailVerification
    );

    let known = serde_json::json!({"email": "alice@example.com"}).to_string();
    let unknown = serde_json::json!({"email": "nobody@example.com"}).to_string();
    let a = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        send(&app, post("/auth/password/reset", None, &known)),
    )
    .await
    .expect("the reply does not wait for the mailer");
    let b = send(&app, post("/auth/password/reset", None, &unknown)).await;
    assert_eq!((a.status, &a.body), (b.status, &b.body));
    assert!(outbox.try_recv().is_err(), "the mailer is still stuck");
    gate.add_permits(1);
    let mail = next_mail(&outbox).await;
    assert_eq!(
        (mail.purpose, mail.to.as_str()),
        (TokenPurpose::PasswordReset, "alice@example.com")
    );
}
