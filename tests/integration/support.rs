//! Helpers shared by the integration tests.

use axum::Router;
use axum::body::{Body, Bytes};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }
}

/// Sends one request through the router.
pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

/// A GET with an optional bearer token.
pub fn get(uri: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

/// A PUT of a JSON body with an optional bearer token.
pub fn put_json(uri: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::put(uri).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

/// Tests that use the shared Redis hold this lock shared (read); a test that
/// stops Redis holds it alone (write), so it never breaks the others.
pub static REDIS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The address of a real peer from its `LEXIGRAM_TEST_*` variable. Without it
/// (plain `cargo test`), prints one line naming the variable and returns
/// `None`; `scripts/test.sh` always sets it.
pub fn peer(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            println!("skipped: {variable} is not set (scripts/test.sh sets it)");
            None
        }
    }
}

/// Runs the Redis control script (`stop` or `start`).
pub fn redis_ctl(ctl: &str, action: &str) {
    let status = std::process::Command::new(ctl)
        .arg(action)
        .stdin(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{ctl} {action}: {status}");
}

/// Starts Redis again if the test fails while it is stopped.
/// Starts Redis again when dropped while `.1` is true.
pub struct Restart<'a>(pub &'a str, pub bool);

impl Drop for Restart<'_> {
    fn drop(&mut self) {
        if self.1 {
            redis_ctl(self.0, "start");
        }
    }
}

/// A PostgreSQL schema of its own on the server at `url`, for stores whose
/// tables list or purge everything (so that parallel tests and repeated
/// runs never see each other's rows). Pools from [`PgSchema::pool`] create
/// and read their tables there; the schema is dropped by
/// [`PgSchema::drop_schema`].
#[derive(Debug)]
pub struct PgSchema {
    url: String,
    pub name: String,
}

impl PgSchema {
    /// Creates the schema `lexigram_t_<label>_<pid>_<n>`.
    pub async fn create(url: &str, label: &str) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "lexigram_t_{label}_{}_{nanos}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::raw_sql(&format!("CREATE SCHEMA {name}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        Self {
            url: url.to_owned(),
            name,
        }
    }

    /// A pool whose connections use the schema (`search_path`).
    pub async fn pool(&self) -> sqlx::PgPool {
        use std::str::FromStr;
        let options = sqlx::postgres::PgConnectOptions::from_str(&self.url)
            .unwrap()
            .options([("search_path", self.name.as_str())]);
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(30))
            .connect_with(options)
            .await
            .unwrap()
    }

    /// Drops the schema and everything in it.
    pub async fn drop_schema(self) {
        let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
        sqlx::raw_sql(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}
