//! MOD-1: `AuthModule::configure` / `from_file` build every service and
//! store from the configuration, and its routes work end to end.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use lexigram_auth::config::ConfigLoader;
use lexigram_auth::environment::Environment;
use lexigram_auth::{AuthModule, Principal, require_permissions};

use crate::support::send;

const PASSWORD: &str = "Correct-Horse-Battery-9";

#[require_permissions("articles.read")]
async fn read(principal: Principal) -> String {
    principal.subject().to_owned()
}

fn yaml(dir: &std::path::Path, login: &str) -> String {
    let db = format!("sqlite://{}", dir.join("auth.db").display());
    format!(
        r#"
auth:
  secret_key: "a-32-byte-or-longer-hmac-secret-for-tests"
  token:
    required_audience: articles-api
    issuer: lexigram-tests
  roles:
    viewer: {{ permissions: ["articles.read"] }}
  rbac:
    default_role: viewer
  rate_limit:
    login: 3/minute
  session:
    login: {login}
  stores:
    users: "{db}"
    sessions: "{db}"
    revocation: "{db}"
    api_keys: "{db}"
"#
    )
}

fn temp_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lexigram-configure-{label}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn post(uri: &str, body: &serde_json::Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn app(auth: AuthModule) -> Router {
    Router::new()
        .route("/read", get(read))
        .nest("/auth", auth.routes())
        .with_state(auth)
}

#[tokio::test]
async fn a_configured_module_registers_logs_in_with_tokens_and_rate_limits_logins() {
    let dir = temp_dir("tokens");
    let path = dir.join("application.yaml");
    std::fs::write(&path, yaml(&dir, "tokens")).unwrap();
    let checked = ConfigLoader::with_variables(lexigram_auth::config::Variables::none())
        .file(&path)
        .unwrap()
        .check(Environment::Production)
        .unwrap();
    let auth = AuthModule::configure(&checked).await.unwrap();
    assert!(auth.authentication().is_some());
    let app = app(auth).await;

    let register =
        serde_json::json!({"email": "ada@example.com", "name": "Ada", "password": PASSWORD});
    let reply = send(&app, post("/auth/register", &register)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let login = serde_json::json!({"email": "ada@example.com", "password": PASSWORD});
    let reply = send(&app, post("/auth/login", &login)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    // The default role from `rbac.default_role` grants `articles.read`.
    let read = Request::get("/read")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, read).await.status, StatusCode::OK);
    // `rate_limit.login: 3/minute`: the fourth login of this client is 429.
    for _ in 0..2 {
        assert_eq!(
            send(&app, post("/auth/login", &login)).await.status,
            StatusCode::OK
        );
    }
    let limited = send(&app, post("/auth/login", &login)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key("retry-after"));

    // The users are in the SQLite file: a second module on the same file
    // knows Ada.
    let again = AuthModule::configure(&checked).await.unwrap();
    let user = again
        .authentication()
        .unwrap()
        .users()
        .user_by_email("ada@example.com")
        .await
        .unwrap();
    assert!(user.is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn session_login_cookies_by_configuration() {
    let dir = temp_dir("cookies");
    let checked = ConfigLoader::with_variables(lexigram_auth::config::Variables::none())
        .yaml_str(&yaml(&dir, "cookies"))
        .unwrap()
        .check(Environment::Production)
        .unwrap();
    let auth = AuthModule::configure(&checked).await.unwrap();
    let app = app(auth).await;
    let register =
        serde_json::json!({"email": "ada@example.com", "name": "Ada", "password": PASSWORD});
    assert_eq!(
        send(&app, post("/auth/register", &register)).await.status,
        StatusCode::CREATED
    );
    let login = serde_json::json!({"email": "ada@example.com", "password": PASSWORD});
    let reply = send(&app, post("/auth/login", &login)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.json().get("access_token").is_none());
    let cookie = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    assert!(cookie.starts_with("__Host-lexigram-session="), "{cookie}");
    let read = Request::get("/read")
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, read).await.status, StatusCode::OK);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_store_that_cannot_be_opened_is_named() {
    let dir = temp_dir("bad-store");
    let text = yaml(&dir, "tokens").replace(
        &format!("users: \"sqlite://{}\"", dir.join("auth.db").display()),
        "users: \"sqlite:///nonexistent-dir/for/sure/auth.db\"",
    );
    let checked = ConfigLoader::with_variables(lexigram_auth::config::Variables::none())
        .yaml_str(&text)
        .unwrap()
        .check(Environment::Production)
        .unwrap();
    let error = AuthModule::configure(&checked).await.unwrap_err();
    assert_eq!(error.code(), "config_store");
    assert!(error.to_string().contains("`users` store"), "{error}");
    assert!(!error.to_string().contains("nonexistent-dir"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}
