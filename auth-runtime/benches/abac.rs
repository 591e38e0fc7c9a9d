// This is a benchmark, not library code: setup failures should abort loudly,
// so unwrap/expect are fine here, and the criterion macros generate
// undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

//! ABAC check, "authors edit their own drafts": ours against cedar-policy
//! `Authorizer::is_authorized` on the equivalent policy (see `BENCHMARKS.md`).
//!
//! The rule: allow `edit` when `principal.subject == resource.author_id &&
//! resource.status == "draft"`. Variants, on the same principal and article:
//!
//! - `derive`: the rule compiled by `#[derive(Policy)]`, through
//!   `PolicyEngine::evaluate` (the engine holding the extra policies).
//! - `yaml`: the same rule loaded from YAML (`PolicyEngine::from_yaml`) on a
//!   type without compiled rules, through `PolicyEngine::evaluate`.
//! - `service`: `AuthorizationService::check_with` on the derived type (the
//!   whole resource check: tenant, policies; an allow returns before RBAC
//!   and delegations). Its future is ready at once when no delegation is
//!   needed; it is polled once with a no-op waker.
//! - `cedar`: `Authorizer::is_authorized` with the policy set parsed once and
//!   the request built per call as an application would: the principal,
//!   action and resource uids (entity type names parsed once), the article
//!   as an `Entity` with its attributes (`author` as an entity reference,
//!   the idiomatic cedar form `resource.author == principal`), `Entities`
//!   and an empty `Context`.
//! - `cedar_prebuilt`: the same `is_authorized` with the request and the
//!   entities built before timing: cedar's decision alone.
//!
//! Cases: `extra{0,1,10,100,1000}`: that many unrelated policies besides
//! the rule. Ours: run-time policies of the same kind on other actions
//! (`act<k>`), which the engine's index by kind and action skips. Cedar:
//! `permit` policies on other actions, with a condition of the same shape.
//! Cases `same_action{10,100,1000}`: that many `deny` (cedar `forbid`)
//! policies on `edit` itself, with the same shape of condition, false for
//! this article; no index can skip them, so both sides evaluate each one.
//! Cases `not_author` check the same article for another user (no policy
//! applies: ours `None`, cedar deny), engine and cedar only.
//!
//! Setup asserts that every variant gives the expected answer before
//! timing. Run: `cargo bench -p lexigram-auth --bench abac` (optionally
//! `-- <filter>`).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::str::FromStr;
use std::task::{Poll, Waker};
use std::time::Duration;

use cedar_policy::{
    Authorizer, Context as CedarContext, Decision, Entities, Entity, EntityId, EntityTypeName,
    EntityUid, PolicySet, Request, RestrictedExpression,
};
use criterion::{Criterion, criterion_group, criterion_main};
use lexigram_auth::abac::{Context, Effect, PolicyEngine, SchemaRegistry};
use lexigram_auth::authz::AuthorizationService;
use lexigram_auth::{Policy, Principal};

/// The rule compiled into the type.
#[derive(Debug, Policy)]
#[policy(kind = "article")]
#[policy(allow(id = "authors-edit-drafts", action = "edit",
    when = principal.subject == resource.author_id && resource.status == "draft"))]
struct Article {
    #[policy(id)]
    id: String,
    author_id: String,
    status: String,
    title: String,
    word_count: u32,
}

/// The same attributes without compiled rules: the rule comes from YAML.
#[derive(Debug, Policy)]
#[policy(kind = "article")]
struct PlainArticle {
    #[policy(id)]
    id: String,
    author_id: String,
    status: String,
    title: String,
    word_count: u32,
}

const RULE_YAML: &str = r#"
  - id: authors-edit-drafts
    effect: allow
    resource: article
    actions: [edit]
    when:
      all:
        - { attr: resource.author_id, op: equals, value: "${principal.subject}" }
        - { attr: resource.status, op: equals, value: draft }
"#;

const RULE_CEDAR: &str = r#"permit(principal, action == Action::"edit", resource is Article)
when { resource.author == principal && resource.status == "draft" };
"#;

/// Where the extra policies sit.
#[derive(Clone, Copy)]
enum Extra {
    /// `allow` policies of the same kind on other actions (`act<k>`).
    OtherActions,
    /// `deny` policies on `edit` itself whose condition is false (the status
    /// is never `s<k>`): every one is evaluated, by us as by cedar.
    SameAction,
}

impl Extra {
    fn name(self) -> &'static str {
        match self {
            Self::OtherActions => "extra",
            Self::SameAction => "same_action",
        }
    }
}

/// `n` extra run-time policies.
fn extra_yaml(n: usize, extra: Extra) -> String {
    let mut s = String::new();
    for k in 0..n {
        let (effect, action) = match extra {
            Extra::OtherActions => ("allow", format!("act{k}")),
            Extra::SameAction => ("deny", "edit".to_owned()),
        };
        let _ = write!(
            s,
            r#"
  - id: extra-{k}
    effect: {effect}
    resource: article
    actions: [{action}]
    when:
      all:
        - {{ attr: resource.author_id, op: equals, value: "${{principal.subject}}" }}
        - {{ attr: resource.status, op: equals, value: s{k} }}
"#
        );
    }
    s
}

/// The same `n` extra policies in cedar.
fn extra_cedar(n: usize, extra: Extra) -> String {
    let mut s = String::new();
    for k in 0..n {
        let (effect, action) = match extra {
            Extra::OtherActions => ("permit", format!("act{k}")),
            Extra::SameAction => ("forbid", "edit".to_owned()),
        };
        let _ = writeln!(
            s,
            r#"{effect}(principal, action == Action::"{action}", resource is Article) when {{ resource.author == principal && resource.status == "s{k}" }};"#
        );
    }
    s
}

fn article() -> Article {
    Article {
        id: "42".to_owned(),
        author_id: "alice".to_owned(),
        status: "draft".to_owned(),
        title: "Attribute-based access control".to_owned(),
        word_count: 1_200,
    }
}

fn plain_article() -> PlainArticle {
    let a = article();
    PlainArticle {
        id: a.id,
        author_id: a.author_id,
        status: a.status,
        title: a.title,
        word_count: a.word_count,
    }
}

/// Entity type names, parsed once (an application would keep them).
struct CedarTypes {
    user: EntityTypeName,
    action: EntityTypeName,
    article: EntityTypeName,
}

impl CedarTypes {
    fn new() -> Self {
        Self {
            user: EntityTypeName::from_str("User").unwrap(),
            action: EntityTypeName::from_str("Action").unwrap(),
            article: EntityTypeName::from_str("Article").unwrap(),
        }
    }

    /// The request and entities for `principal` doing `action` on `article`,
    /// built from the struct as an application would.
    fn request(
        &self,
        principal: &Principal,
        action: &str,
        article: &Article,
    ) -> (Request, Entities) {
        let user =
            EntityUid::from_type_name_and_id(self.user.clone(), EntityId::new(principal.subject()));
        let author =
            EntityUid::from_type_name_and_id(self.user.clone(), EntityId::new(&article.author_id));
        let resource =
            EntityUid::from_type_name_and_id(self.article.clone(), EntityId::new(&article.id));
        let attrs = HashMap::from([
            (
                "author".to_owned(),
                RestrictedExpression::new_entity_uid(author),
            ),
            (
                "status".to_owned(),
                RestrictedExpression::new_string(article.status.clone()),
            ),
            (
                "title".to_owned(),
                RestrictedExpression::new_string(article.title.clone()),
            ),
            (
                "word_count".to_owned(),
                RestrictedExpression::new_long(i64::from(article.word_count)),
            ),
        ]);
        let entity = Entity::new(resource.clone(), attrs, HashSet::new()).unwrap();
        let entities = Entities::from_entities([entity], None).unwrap();
        let action = EntityUid::from_type_name_and_id(self.action.clone(), EntityId::new(action));
        let request = Request::new(user, action, resource, CedarContext::empty(), None).unwrap();
        (request, entities)
    }
}

/// Polls once a future that completes without waiting (no delegation store
/// is involved).
fn ready<F: Future>(future: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
    .expect("the check completes without waiting")
}

struct Setup {
    derive_engine: PolicyEngine,
    yaml_engine: PolicyEngine,
    authz: AuthorizationService,
    cedar: PolicySet,
}

/// A policy document with these policies (none: the empty document).
fn document(policies: &str) -> String {
    if policies.is_empty() {
        String::new()
    } else {
        format!("policies:\n{policies}")
    }
}

fn setup(extra: usize, kind: Extra) -> Setup {
    let extra_policies = extra_yaml(extra, kind);
    let registry = SchemaRegistry::new().register::<Article>();
    let derive_engine = PolicyEngine::from_yaml(&registry, &document(&extra_policies)).unwrap();
    let derive_service_engine =
        PolicyEngine::from_yaml(&registry, &document(&extra_policies)).unwrap();
    let plain_registry = SchemaRegistry::new().register::<PlainArticle>();
    let yaml_engine = PolicyEngine::from_yaml(
        &plain_registry,
        &document(&format!("{RULE_YAML}{extra_policies}")),
    )
    .unwrap();
    assert_eq!(derive_engine.len(), extra);
    assert_eq!(yaml_engine.len(), extra + 1);
    let authz = AuthorizationService::new();
    authz.set_policies(derive_service_engine);
    let cedar = PolicySet::from_str(&format!("{RULE_CEDAR}{}", extra_cedar(extra, kind))).unwrap();
    assert_eq!(cedar.policies().count(), extra + 1);
    Setup {
        derive_engine,
        yaml_engine,
        authz,
        cedar,
    }
}

fn group<'c>(
    c: &'c mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    group
}

fn bench_allow(c: &mut Criterion, types: &CedarTypes, extra: usize, kind: Extra) {
    let s = setup(extra, kind);
    let alice = Principal::new("alice");
    let article = article();
    let plain = plain_article();
    let context = Context::new();
    let authorizer = Authorizer::new();

    // Every variant must allow, or the comparison is meaningless.
    assert_eq!(
        s.derive_engine
            .evaluate(&alice, "edit", &article, &context)
            .effect,
        Some(Effect::Allow)
    );
    assert_eq!(
        s.yaml_engine
            .evaluate(&alice, "edit", &plain, &context)
            .effect,
        Some(Effect::Allow)
    );
    assert!(ready(s.authz.check_with(&alice, "edit", &article, &context)).is_ok());
    let (request, entities) = types.request(&alice, "edit", &article);
    assert_eq!(
        authorizer
            .is_authorized(&request, &s.cedar, &entities)
            .decision(),
        Decision::Allow
    );
    let bob = Principal::new("bob");
    assert!(ready(s.authz.check_with(&bob, "edit", &article, &context)).is_err());

    let mut g = group(c, &format!("{}{extra}", kind.name()));
    g.bench_function("derive", |b| {
        b.iter(|| {
            black_box(
                s.derive_engine
                    .evaluate(
                        black_box(&alice),
                        black_box("edit"),
                        black_box(&article),
                        &context,
                    )
                    .effect,
            )
        });
    });
    g.bench_function("yaml", |b| {
        b.iter(|| {
            black_box(
                s.yaml_engine
                    .evaluate(
                        black_box(&alice),
                        black_box("edit"),
                        black_box(&plain),
                        &context,
                    )
                    .effect,
            )
        });
    });
    g.bench_function("service", |b| {
        b.iter(|| {
            black_box(
                ready(s.authz.check_with(
                    black_box(&alice),
                    black_box("edit"),
                    black_box(&article),
                    &context,
                ))
                .is_ok(),
            )
        });
    });
    g.bench_function("cedar", |b| {
        b.iter(|| {
            let (request, entities) =
                types.request(black_box(&alice), black_box("edit"), black_box(&article));
            black_box(
                authorizer
                    .is_authorized(&request, &s.cedar, &entities)
                    .decision(),
            )
        });
    });
    g.bench_function("cedar_prebuilt", |b| {
        b.iter(|| {
            black_box(
                authorizer
                    .is_authorized(black_box(&request), &s.cedar, black_box(&entities))
                    .decision(),
            )
        });
    });
    g.finish();
}

fn bench_not_author(c: &mut Criterion, types: &CedarTypes) {
    let s = setup(0, Extra::OtherActions);
    let bob = Principal::new("bob");
    let article = article();
    let plain = plain_article();
    let context = Context::new();
    let authorizer = Authorizer::new();
    assert_eq!(
        s.derive_engine
            .evaluate(&bob, "edit", &article, &context)
            .effect,
        None
    );
    assert_eq!(
        s.yaml_engine
            .evaluate(&bob, "edit", &plain, &context)
            .effect,
        None
    );
    let (request, entities) = types.request(&bob, "edit", &article);
    assert_eq!(
        authorizer
            .is_authorized(&request, &s.cedar, &entities)
            .decision(),
        Decision::Deny
    );

    let mut g = group(c, "not_author");
    g.bench_function("derive", |b| {
        b.iter(|| {
            black_box(
                s.derive_engine
                    .evaluate(
                        black_box(&bob),
                        black_box("edit"),
                        black_box(&article),
                        &context,
                    )
                    .effect,
            )
        });
    });
    g.bench_function("yaml", |b| {
        b.iter(|| {
            black_box(
                s.yaml_engine
                    .evaluate(
                        black_box(&bob),
                        black_box("edit"),
                        black_box(&plain),
                        &context,
                    )
                    .effect,
            )
        });
    });
    g.bench_function("cedar", |b| {
        b.iter(|| {
            let (request, entities) =
                types.request(black_box(&bob), black_box("edit"), black_box(&article));
            black_box(
                authorizer
                    .is_authorized(&request, &s.cedar, &entities)
                    .decision(),
            )
        });
    });
    g.finish();
}

fn abac(c: &mut Criterion) {
    let types = CedarTypes::new();
    for extra in [0, 1, 10, 100, 1_000] {
        bench_allow(c, &types, extra, Extra::OtherActions);
    }
    for extra in [10, 100, 1_000] {
        bench_allow(c, &types, extra, Extra::SameAction);
    }
    bench_not_author(c, &types);
}

criterion_group!(benches, abac);
criterion_main!(benches);
