//! Any text as a policy document for a derived resource type: loading never
//! panics (every problem is a `PolicyError`), and a loaded document is
//! evaluated on a resource, a principal and a context without panicking.
#![no_main]

use std::sync::LazyLock;

use lexigram_auth::Policy;
use lexigram_auth::Principal;
use lexigram_auth::abac::{Context, PolicyEngine, SchemaRegistry};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Policy)]
#[policy(kind = "article")]
#[allow(dead_code)]
struct Article {
    #[policy(id)]
    id: String,
    author_id: String,
    status: String,
    locked: bool,
    tags: Vec<String>,
    word_count: i64,
    score: f64,
    reviewer: Option<String>,
}

static REGISTRY: LazyLock<SchemaRegistry> =
    LazyLock::new(|| SchemaRegistry::new().register::<Article>());

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(engine) = PolicyEngine::from_yaml(&REGISTRY, text) else {
        return;
    };
    let article = Article {
        id: "a1".into(),
        author_id: "alice".into(),
        status: "draft".into(),
        locked: false,
        tags: vec!["rust".into(), "auth".into()],
        word_count: 1200,
        score: 0.5,
        reviewer: None,
    };
    let principal = Principal::new("alice").with_roles(["editor"]);
    let context = Context::new()
        .with("hour", 14_i64)
        .with("ip", "203.0.113.7");
    for action in ["read", "edit", "delete"] {
        let _ = engine.evaluate(&principal, action, &article, &context);
    }
});
