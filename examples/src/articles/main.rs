//! The articles example server (the README's main job).
//!
//! Starts on `127.0.0.1:3000` (override with `LEXIGRAM_EXAMPLE_ADDR`) and
//! prints a bearer token for each demo user.

mod app;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use lexigram_auth::{AuthModule, Principal};
use tracing_subscriber::EnvFilter;

/// The demo users: subject and roles.
const DEMO_USERS: [(&str, &[&str]); 4] = [
    ("alice@example.com", &["admin"]),
    ("eddie@example.com", &["editor"]),
    ("victor@example.com", &["viewer"]),
    ("nora@example.com", &[]),
];

fn demo_state() -> app::AppState {
    app::AppState {
        auth: AuthModule::stub(),
        articles: Arc::new(RwLock::new(app::seed_articles())),
    }
}

fn demo_tokens(
    auth: &AuthModule,
) -> Result<BTreeMap<&'static str, String>, lexigram_auth::error::TokenError> {
    DEMO_USERS
        .iter()
        .map(|(subject, roles)| {
            let token =
                auth.token_for(&Principal::new(*subject).with_roles(roles.iter().copied()))?;
            Ok((*subject, token))
        })
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let addr =
        std::env::var("LEXIGRAM_EXAMPLE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let state = demo_state();
    let tokens = demo_tokens(&state.auth)?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("articles example listening on http://{addr}");
    println!("demo users (in memory; a fresh signing key each start; tokens valid 15 minutes):");
    for ((subject, roles), token) in DEMO_USERS.iter().zip(tokens.values()) {
        println!(
            "  {subject} roles={roles:?}\n    curl -H 'Authorization: Bearer {token}' http://{addr}/me"
        );
    }
    println!("public: curl http://{addr}/health");
    axum::serve(listener, app::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn call(
        state: &app::AppState,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, String) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        let request = match body {
            Some(b) => request
                .header("content-type", "application/json")
                .body(Body::from(b.to_owned())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = app::router(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn demo_users_get_what_their_roles_allow() {
        let state = demo_state();
        let tokens = demo_tokens(&state.auth).unwrap();
        let alice = tokens["alice@example.com"].as_str();
        let eddie = tokens["eddie@example.com"].as_str();
        let victor = tokens["victor@example.com"].as_str();
        let nora = tokens["nora@example.com"].as_str();
        let article = r#"{"title":"t","body":"b"}"#;

        assert_eq!(
            call(&state, "GET", "/health", None, None).await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(&state, "GET", "/articles", None, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (status, me) = call(&state, "GET", "/me", Some(nora), None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(me.contains("nora@example.com"), "{me}");
        assert_eq!(
            call(&state, "GET", "/articles", Some(nora), None).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(&state, "GET", "/articles/1", Some(victor), None)
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            call(&state, "POST", "/articles", Some(victor), Some(article))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(&state, "POST", "/articles", Some(eddie), Some(article))
                .await
                .0,
            StatusCode::CREATED
        );
        assert_eq!(
            call(&state, "PUT", "/articles/2", Some(eddie), Some(article))
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        // editors lack `articles.delete`; admins hold `*`
        assert_eq!(
            call(&state, "DELETE", "/articles/2", Some(eddie), None)
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(&state, "DELETE", "/articles/2", Some(alice), None)
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(&state, "GET", "/admin/stats", Some(eddie), None)
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let (status, stats) = call(&state, "GET", "/admin/stats", Some(alice), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(stats, r#"{"articles":1}"#);
    }
}
