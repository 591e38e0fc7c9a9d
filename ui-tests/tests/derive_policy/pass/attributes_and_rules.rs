// Every attribute type, field options, foreign attributes left alone, and
// rules evaluated as generated code with three-valued logic.
#![deny(warnings)]

use lexigram_auth::abac::{AttrType, AttrValue, Attributes, Context, Effect, Policy};
use lexigram_auth::{Policy, Principal};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, Policy)]
#[serde(rename_all = "camelCase")]
#[policy(kind = "article")]
#[policy(allow(id = "authors-edit-drafts", action = "edit", priority = 10,
    when = principal.subject == resource.author_id && resource.status == "draft"))]
#[policy(deny(id = "locked", when = resource.locked))]
#[policy(allow(id = "reviewers", actions("review", "comment"),
    when = resource.reviewer.exists() && principal.roles.contains("reviewer")))]
#[policy(allow(id = "long-reads", priority = -5,
    when = resource.word_count >= 1000 && resource.score > 0.5 && !resource.tags.contains("hidden")))]
#[policy(allow(id = "same-tenant", when = principal.tenant == resource.tenant
    && resource.status.is_in(["draft", "review"]) && resource.slug.matches("^[a-z-]+$")
    && resource.slug.starts_with("a")))]
struct Article {
    #[policy(id)]
    #[serde(rename = "articleId")]
    id: String,
    #[policy(tenant)]
    tenant: String,
    author_id: String,
    status: String,
    locked: bool,
    tags: Vec<String>,
    word_count: u32,
    score: f64,
    reviewer: Option<String>,
    slug: String,
    #[policy(rename = "category")]
    r#type: String,
    #[policy(skip)]
    #[allow(dead_code)]
    body: Vec<u8>,
}

/// A unit struct: a request-level policy.
#[derive(Policy)]
#[policy(allow(id = "office-hours", when = context.hour >= 8 && context.hour < 18))]
struct OfficeHours;

fn article() -> Article {
    Article {
        id: "42".to_owned(),
        tenant: "acme".to_owned(),
        author_id: "alice".to_owned(),
        status: "draft".to_owned(),
        locked: false,
        tags: vec!["rust".to_owned()],
        word_count: 1200,
        score: 0.9,
        reviewer: None,
        slug: "about-rust".to_owned(),
        r#type: "news".to_owned(),
        body: Vec::new(),
    }
}

fn rule(id: &str) -> fn(&Principal, &Article, &Context) -> Option<bool> {
    Article::rules().iter().find(|r| r.id == id).map(|r| r.condition).expect("rule")
}

fn main() {
    let a = article();
    let schema = a.schema();
    assert_eq!(schema.kind, "article");
    let names: Vec<&str> = schema.attributes.iter().map(|d| d.name).collect();
    assert_eq!(
        names,
        ["id", "tenant", "author_id", "status", "locked", "tags", "word_count", "score", "reviewer", "slug", "category"]
    );
    assert_eq!(schema.attribute("reviewer").map(|d| (d.ty, d.optional)), Some((AttrType::String, true)));
    assert_eq!(a.attribute("word_count"), Some(AttrValue::Integer(1200)));
    assert_eq!(a.attribute("category"), Some(AttrValue::String("news")));
    assert_eq!(a.attribute("reviewer"), None);
    assert_eq!(a.attribute("body"), None);
    assert_eq!(a.resource_id(), Some("42"));
    assert_eq!(a.tenant(), Some("acme"));
    assert_serialize(&a);

    let rules = Article::rules();
    assert_eq!(rules.len(), 5);
    assert_eq!(rules[0].effect, Effect::Allow);
    assert_eq!(rules[0].priority, 10);
    assert_eq!(rules[0].actions, ["edit"]);
    assert_eq!(rules[1].effect, Effect::Deny);
    assert!(rules[1].actions.is_empty());
    assert_eq!(rules[2].actions, ["review", "comment"]);
    assert_eq!(rules[3].priority, -5);

    let ctx = Context::new();
    let alice = Principal::new("alice").with_tenant("acme");
    let bob = Principal::new("bob").with_roles(["reviewer"]);
    assert_eq!(rule("authors-edit-drafts")(&alice, &a, &ctx), Some(true));
    assert_eq!(rule("authors-edit-drafts")(&bob, &a, &ctx), Some(false));
    assert_eq!(rule("locked")(&alice, &a, &ctx), Some(false));
    // The reviewer field is None: `exists()` is false, so the `&&` is false.
    assert_eq!(rule("reviewers")(&bob, &a, &ctx), Some(false));
    assert_eq!(rule("long-reads")(&bob, &a, &ctx), Some(true));
    assert_eq!(rule("same-tenant")(&alice, &a, &ctx), Some(true));
    // Bob has no tenant: the comparison is not applicable, and so is the rule.
    assert_eq!(rule("same-tenant")(&bob, &a, &ctx), None);

    let office = OfficeHours::rules()[0].condition;
    assert_eq!(office(&alice, &OfficeHours, &Context::new().with("hour", 9_i64)), Some(true));
    assert_eq!(office(&alice, &OfficeHours, &Context::new().with("hour", 20_i64)), Some(false));
    assert_eq!(office(&alice, &OfficeHours, &Context::new()), None);
    assert_eq!(office(&alice, &OfficeHours, &Context::new().with("hour", "nine")), None);
    assert_eq!(OfficeHours.schema().kind, "office_hours");
    floats();
}

/// serde's attributes on the same struct and fields were left alone.
fn assert_serialize<T: Serialize>(_: &T) {}

/// Floats: a NaN makes every comparison not applicable, `!=` included.
#[derive(Policy)]
#[policy(allow(id = "not-one", when = resource.score != 1.0))]
#[policy(allow(id = "low", when = resource.score < 0.5))]
struct Scored {
    score: f32,
}

fn floats() {
    let rules = Scored::rules();
    let p = Principal::new("p");
    let ctx = Context::new();
    assert_eq!((rules[0].condition)(&p, &Scored { score: f32::NAN }, &ctx), None);
    assert_eq!((rules[1].condition)(&p, &Scored { score: f32::NAN }, &ctx), None);
    assert_eq!((rules[0].condition)(&p, &Scored { score: 0.25 }, &ctx), Some(true));
    assert_eq!((rules[1].condition)(&p, &Scored { score: 0.25 }, &ctx), Some(true));
}
