// A test binary of its own: dhat's allocator counts every allocation in the
// process, so nothing else may run beside it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

//! Allocations made by one ABAC evaluation and by one allowed resource
//! check (`AuthorizationService::check`) that needs no delegation: none.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use lexigram_auth::Principal;
use lexigram_auth::abac::{
    AttrType, AttrValue, AttributeDef, Attributes, Context, Effect, Policy, PolicyEngine, Rule,
    Schema, SchemaRegistry,
};
use lexigram_auth::authz::{AuthorizationService, RoleDefinition};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

struct Article {
    id: String,
    author_id: String,
    status: String,
    tags: Vec<String>,
    reviewer: Option<String>,
}

static ARTICLE: Schema = Schema {
    kind: "article",
    attributes: &[
        AttributeDef {
            name: "id",
            ty: AttrType::String,
            optional: false,
        },
        AttributeDef {
            name: "author_id",
            ty: AttrType::String,
            optional: false,
        },
        AttributeDef {
            name: "status",
            ty: AttrType::String,
            optional: false,
        },
        AttributeDef {
            name: "tags",
            ty: AttrType::StringList,
            optional: false,
        },
        AttributeDef {
            name: "reviewer",
            ty: AttrType::String,
            optional: true,
        },
    ],
};

impl Attributes for Article {
    fn schema(&self) -> &'static Schema {
        &ARTICLE
    }

    fn attribute(&self, name: &str) -> Option<AttrValue<'_>> {
        match name {
            "id" => Some(AttrValue::String(&self.id)),
            "author_id" => Some(AttrValue::String(&self.author_id)),
            "status" => Some(AttrValue::String(&self.status)),
            "tags" => Some(AttrValue::StringList(&self.tags)),
            "reviewer" => self.reviewer.as_deref().map(AttrValue::String),
            _ => None,
        }
    }
}

fn never(_: &Principal, r: &Article, _: &Context) -> Option<bool> {
    Some(r.status == "deleted")
}

impl Policy for Article {
    const SCHEMA: &'static Schema = &ARTICLE;

    fn rules() -> &'static [Rule<Self>] {
        const RULES: &[Rule<Article>] = &[Rule {
            id: "deleted-is-gone",
            effect: Effect::Deny,
            priority: 100,
            actions: &[],
            condition: never,
        }];
        RULES
    }

    fn resource_id(&self) -> Option<&str> {
        Some(&self.id)
    }
}

const POLICIES: &str = "
context: { hour: integer }
policies:
  - id: authors-edit-drafts
    effect: allow
    resource: article
    actions: [edit]
    when:
      all:
        - { attr: resource.author_id, op: equals, value: '${principal.subject}' }
        - { attr: resource.status, op: in, value: [draft, review] }
        - { attr: resource.author_id, op: matches, value: '^[a-z]+$' }
        - any:
            - { attr: resource.tags, op: contains, value: rust }
            - { attr: context.hour, op: ge, value: 8 }
        - not: { attr: resource.reviewer, op: exists }
  - id: no-spam
    effect: deny
    resource: article
    when: { attr: resource.tags, op: contains, value: spam }
";

fn blocks() -> u64 {
    dhat::HeapStats::get().total_blocks
}

/// Allocations made by `f` (run twice first, so one-time initialisation is
/// not counted).
fn count<R>(mut f: impl FnMut() -> R) -> u64 {
    drop(f());
    drop(f());
    let before = blocks();
    let r = f();
    let after = blocks();
    drop(r);
    after - before
}

/// Polls a future that must complete without waiting.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut TaskContext::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the check waited"),
    }
}

#[test]
fn abac_evaluation_and_checks_allocate_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();

    let registry = SchemaRegistry::new().register::<Article>();
    let engine = PolicyEngine::from_yaml(&registry, POLICIES).unwrap();
    let alice = Principal::new("alice");
    let draft = Article {
        id: "42".into(),
        author_id: "alice".into(),
        status: "draft".into(),
        tags: vec!["rust".into()],
        reviewer: None,
    };
    let context = Context::new().with("hour", 9_i64);

    let n = count(|| {
        let d = engine.evaluate(&alice, "edit", &draft, &context);
        assert_eq!(d.deciding_policy, Some("authors-edit-drafts"));
    });
    assert_eq!(n, 0, "PolicyEngine::evaluate allocated");

    let authz = AuthorizationService::new();
    authz
        .set_roles(BTreeMap::from([(
            "reader".to_owned(),
            RoleDefinition::new(["article.read"]),
        )]))
        .unwrap();
    authz.set_policies(engine);
    let reader = Principal::new("rita").with_roles(["reader"]);
    let by_policy = count(|| ready(authz.check(&alice, "edit", &draft)).unwrap());
    let by_role = count(|| ready(authz.check(&reader, "read", &draft)).unwrap());
    println!("allocations: by policy {by_policy}, by role {by_role}");
    assert_eq!(by_policy, 0, "an allow by policy allocated");
    assert_eq!(by_role, 0, "an allow by role allocated");
}
