//! The articles example server (the README's main job).
//!
//! Keeps its users, revoked tokens, one-time tokens and API keys in a SQLite
//! file (`lexigram-example.db` in the working directory; override with
//! `LEXIGRAM_EXAMPLE_DB`, any `sqlite://` URL), creates the demo users on the
//! first start, listens on `127.0.0.1:3000` (override with
//! `LEXIGRAM_EXAMPLE_ADDR`) and prints how to sign in as each demo user.

mod app;
mod demo;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use tracing_subscriber::EnvFilter;

use crate::demo::{DEMO_USERS, Demo, DemoError};

/// The database when `LEXIGRAM_EXAMPLE_DB` is not set.
const DEFAULT_DB: &str = "sqlite://lexigram-example.db";

fn state(demo: &Demo) -> app::AppState {
    app::AppState {
        auth: demo.auth.clone(),
        articles: Arc::new(RwLock::new(app::seed_articles())),
    }
}

async fn banner(demo: &Demo, addr: &str, db: &str, created: usize) -> Result<(), DemoError> {
    println!("articles example listening on http://{addr}");
    println!("database: {db} ({created} demo users created now)");
    println!("demo users (tokens below are valid 15 minutes; a fresh signing key each start):");
    for user in &DEMO_USERS {
        println!(
            "  {} roles={:?} password={}",
            user.email, user.roles, user.password
        );
        if let Some(token) = demo::token_for(demo, user.email).await? {
            println!("    curl -H 'Authorization: Bearer {token}' http://{addr}/me");
        }
    }
    let alice = &DEMO_USERS[0];
    println!("sign in (JSON routes under /auth: login, refresh, logout, me, register, password):");
    println!(
        "  curl -X POST http://{addr}/auth/login -H 'content-type: application/json' \\\n    -d '{{\"email\":\"{}\",\"password\":\"{}\"}}'",
        alice.email, alice.password
    );
    if let Some(key) = demo::create_demo_key(demo).await? {
        println!("an API key for victor (scope articles.read, valid a day, shown only now):");
        println!(
            "  curl -H 'X-API-Key: {}' http://{addr}/articles",
            key.secret
        );
    }
    println!(
        "per-article rules (authors edit their own drafts; article 1 is locked): PATCH /articles/{{id}}/text"
    );
    println!("public: curl http://{addr}/health");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), DemoError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let addr =
        std::env::var("LEXIGRAM_EXAMPLE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let db = std::env::var("LEXIGRAM_EXAMPLE_DB").unwrap_or_else(|_| DEFAULT_DB.to_owned());
    let demo = demo::open(&db).await?;
    let created = demo::seed_users(&demo.service).await?;
    let router = app::router(state(&demo), Arc::clone(&demo.service))?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    banner(&demo, &addr, &db, created).await?;
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// The demo users' bearer tokens, by e-mail address.
#[cfg(test)]
async fn demo_tokens(
    demo: &Demo,
) -> Result<std::collections::BTreeMap<&'static str, String>, DemoError> {
    let mut tokens = std::collections::BTreeMap::new();
    for user in &DEMO_USERS {
        if let Some(token) = demo::token_for(demo, user.email).await? {
            tokens.insert(user.email, token);
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn call(
        router: &Router,
        method: &str,
        uri: &str,
        auth: Option<(&str, &str)>,
        body: Option<&str>,
    ) -> (StatusCode, String) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some((header, value)) = auth {
            request = request.header(header, value);
        }
        let request = match body {
            Some(b) => request
                .header("content-type", "application/json")
                .body(Body::from(b.to_owned())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn seeded(db: &str) -> (Demo, Router) {
        let demo = demo::open(db).await.unwrap();
        demo::seed_users(&demo.service).await.unwrap();
        let router = app::router(state(&demo), Arc::clone(&demo.service)).unwrap();
        (demo, router)
    }

    fn bearer(token: &str) -> Option<(&'static str, String)> {
        Some(("authorization", format!("Bearer {token}")))
    }

    async fn get(router: &Router, uri: &str, token: &str) -> StatusCode {
        let auth = bearer(token);
        let auth = auth.as_ref().map(|(h, v)| (*h, v.as_str()));
        call(router, "GET", uri, auth, None).await.0
    }

    async fn send(router: &Router, method: &str, uri: &str, token: &str, body: &str) -> StatusCode {
        let auth = bearer(token);
        let auth = auth.as_ref().map(|(h, v)| (*h, v.as_str()));
        call(router, method, uri, auth, Some(body)).await.0
    }

    #[tokio::test]
    async fn demo_users_get_what_their_roles_allow() {
        let (demo, router) = seeded("sqlite::memory:").await;
        let tokens = demo_tokens(&demo).await.unwrap();
        assert_eq!(tokens.len(), DEMO_USERS.len());
        let alice = tokens["alice@example.com"].as_str();
        let eddie = tokens["eddie@example.com"].as_str();
        let victor = tokens["victor@example.com"].as_str();
        let nora = tokens["nora@example.com"].as_str();
        let article = r#"{"title":"t","body":"b"}"#;

        assert_eq!(
            call(&router, "GET", "/health", None, None).await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(&router, "GET", "/articles", None, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        let nora_id = demo
            .service
            .users()
            .user_by_email("nora@example.com")
            .await
            .unwrap()
            .unwrap()
            .id;
        let auth = bearer(nora);
        let (status, me) = call(
            &router,
            "GET",
            "/me",
            auth.as_ref().map(|(h, v)| (*h, v.as_str())),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(me.contains(&nora_id), "{me}");
        assert_eq!(get(&router, "/articles", nora).await, StatusCode::FORBIDDEN);
        assert_eq!(get(&router, "/articles/1", victor).await, StatusCode::OK);
        assert_eq!(
            send(&router, "POST", "/articles", victor, article).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            send(&router, "POST", "/articles", eddie, article).await,
            StatusCode::CREATED
        );
        assert_eq!(
            send(&router, "PUT", "/articles/2", eddie, article).await,
            StatusCode::NO_CONTENT
        );
        // editors lack `articles.delete`; admins hold `*`
        assert_eq!(
            send(&router, "DELETE", "/articles/2", eddie, "").await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            send(&router, "DELETE", "/articles/2", alice, "").await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            get(&router, "/admin/stats", eddie).await,
            StatusCode::FORBIDDEN
        );
        let auth = bearer(alice);
        let (status, stats) = call(
            &router,
            "GET",
            "/admin/stats",
            auth.as_ref().map(|(h, v)| (*h, v.as_str())),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(stats, r#"{"articles":1}"#);
    }

    #[tokio::test]
    async fn authors_edit_their_own_drafts() {
        let (demo, router) = seeded("sqlite::memory:").await;
        let tokens = demo_tokens(&demo).await.unwrap();
        let alice = tokens["alice@example.com"].as_str();
        let eddie = tokens["eddie@example.com"].as_str();
        let victor = tokens["victor@example.com"].as_str();
        let text = r#"{"title":"t2","body":"b2"}"#;

        // Eddie writes a draft: it is his, so he may edit it.
        assert_eq!(
            send(
                &router,
                "POST",
                "/articles",
                eddie,
                r#"{"title":"t","body":"b"}"#
            )
            .await,
            StatusCode::CREATED
        );
        assert_eq!(
            send(&router, "PATCH", "/articles/2/text", eddie, text).await,
            StatusCode::NO_CONTENT
        );
        // Victor is not the author and holds no `articles.edit`.
        assert_eq!(
            send(&router, "PATCH", "/articles/2/text", victor, text).await,
            StatusCode::FORBIDDEN
        );
        // Published, the draft rule no longer applies and Eddie (an editor
        // without `articles.edit`) is refused; Alice's `*` still allows.
        assert_eq!(
            send(&router, "POST", "/articles/2/publish", eddie, "").await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            send(&router, "PATCH", "/articles/2/text", eddie, text).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            send(&router, "PATCH", "/articles/2/text", alice, text).await,
            StatusCode::NO_CONTENT
        );
        // Article 1 is locked: the deny wins over Alice's `*`.
        assert_eq!(
            send(&router, "PATCH", "/articles/1/text", alice, text).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            send(&router, "PATCH", "/articles/9/text", alice, text).await,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn demo_users_sign_in_with_their_passwords_and_sign_out() {
        let (_demo, router) = seeded("sqlite::memory:").await;
        let eddie = &DEMO_USERS[1];
        let login = format!(
            r#"{{"email":"{}","password":"{}"}}"#,
            eddie.email, eddie.password
        );
        let (status, body) = call(&router, "POST", "/auth/login", None, Some(&login)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let pair: serde_json::Value = serde_json::from_str(&body).unwrap();
        let access = pair["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            send(
                &router,
                "POST",
                "/articles",
                &access,
                r#"{"title":"t","body":"b"}"#
            )
            .await,
            StatusCode::CREATED
        );
        let wrong = format!(r#"{{"email":"{}","password":"guess"}}"#, eddie.email);
        let unknown = r#"{"email":"mallory@example.com","password":"guess"}"#;
        let refused = call(&router, "POST", "/auth/login", None, Some(&wrong)).await;
        assert_eq!(refused.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            call(&router, "POST", "/auth/login", None, Some(unknown)).await,
            refused
        );
        // Logging out revokes the access token in the SQLite store.
        let logout = format!(r#"{{"token":"{access}"}}"#);
        assert_eq!(
            call(&router, "POST", "/auth/logout", None, Some(&logout))
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(get(&router, "/me", &access).await, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn the_demo_api_key_reads_but_does_not_write() {
        let (demo, router) = seeded("sqlite::memory:").await;
        let key = demo::create_demo_key(&demo).await.unwrap().unwrap();
        let header = Some(("x-api-key", key.secret.as_str()));
        assert_eq!(
            call(&router, "GET", "/articles", header, None).await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(
                &router,
                "POST",
                "/articles",
                header,
                Some(r#"{"title":"t","body":"b"}"#)
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        assert!(demo.keys.revoke(&key.key.id).await.unwrap());
        assert_eq!(
            call(&router, "GET", "/articles", header, None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }

    #[tokio::test]
    async fn seeding_a_file_database_twice_keeps_one_account_each() {
        let dir = std::env::temp_dir().join(format!(
            "lexigram-example-{}-{}",
            std::process::id(),
            line!()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("demo.db").display());
        let (first, _) = seeded(&url).await;
        assert_eq!(
            first.service.users().count_users().await.unwrap(),
            DEMO_USERS.len() as u64
        );
        drop(first);
        let again = demo::open(&url).await.unwrap();
        assert_eq!(demo::seed_users(&again.service).await.unwrap(), 0);
        assert_eq!(
            again.service.users().count_users().await.unwrap(),
            DEMO_USERS.len() as u64
        );
        let alice = &DEMO_USERS[0];
        assert!(
            again
                .service
                .authenticate(alice.email, alice.password)
                .await
                .is_ok()
        );
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
