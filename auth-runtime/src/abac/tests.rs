//! Tests of the ABAC runtime: operators, not-applicable semantics,
//! combining and priorities, loading errors, and the resource checks of
//! `AuthorizationService` (tenants, deny over RBAC, delegations, audit).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, SystemTime};

use super::*;
use crate::Principal;
use crate::authn::{AuthEvent, ChannelSink};
use crate::authz::{AuthorizationService, DenyReason, RoleDefinition};
use crate::clock::ManualClock;
use crate::store::{StoreError, StoreFuture};

// ------------------------------------------------ a resource, as derived

/// The test resource, with `Attributes` and `Policy` written exactly as
/// `#[derive(Policy)]` would generate them.
#[derive(Debug, Clone)]
struct Article {
    id: String,
    author_id: String,
    tenant: Option<String>,
    status: String,
    locked: bool,
    tags: Vec<String>,
    word_count: i64,
    reviewer: Option<String>,
}

static ARTICLE_SCHEMA: Schema = Schema {
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
            name: "tenant",
            ty: AttrType::String,
            optional: true,
        },
        AttributeDef {
            name: "status",
            ty: AttrType::String,
            optional: false,
        },
        AttributeDef {
            name: "locked",
            ty: AttrType::Bool,
            optional: false,
        },
        AttributeDef {
            name: "tags",
            ty: AttrType::StringList,
            optional: false,
        },
        AttributeDef {
            name: "word_count",
            ty: AttrType::Integer,
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
        &ARTICLE_SCHEMA
    }

    fn attribute(&self, name: &str) -> Option<AttrValue<'_>> {
        match name {
            "id" => Some(AttrValue::String(&self.id)),
            "author_id" => Some(AttrValue::String(&self.author_id)),
            "tenant" => self.tenant.as_deref().map(AttrValue::String),
            "status" => Some(AttrValue::String(&self.status)),
            "locked" => Some(AttrValue::Bool(self.locked)),
            "tags" => Some(AttrValue::StringList(&self.tags)),
            "word_count" => Some(AttrValue::Integer(self.word_count)),
            "reviewer" => self.reviewer.as_deref().map(AttrValue::String),
            _ => None,
        }
    }
}

/// `#[policy(deny, id = "locked-is-frozen", priority = 100, actions = [edit, delete])]`
fn locked_is_frozen(_: &Principal, r: &Article, _: &Context) -> Option<bool> {
    Some(r.locked)
}

/// `#[policy(allow, id = "reviewer-reviews", actions = [review])]`:
/// `resource.reviewer == principal.subject`, not applicable without a reviewer.
fn reviewer_reviews(p: &Principal, r: &Article, _: &Context) -> Option<bool> {
    Some(r.reviewer.as_deref()? == p.subject())
}

impl Policy for Article {
    const SCHEMA: &'static Schema = &ARTICLE_SCHEMA;

    fn rules() -> &'static [Rule<Self>] {
        const RULES: &[Rule<Article>] = &[
            Rule {
                id: "locked-is-frozen",
                effect: Effect::Deny,
                priority: 100,
                actions: &["edit", "delete"],
                condition: locked_is_frozen,
            },
            Rule {
                id: "reviewer-reviews",
                effect: Effect::Allow,
                priority: 0,
                actions: &["review"],
                condition: reviewer_reviews,
            },
        ];
        RULES
    }

    fn resource_id(&self) -> Option<&str> {
        Some(&self.id)
    }

    fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }
}

fn article() -> Article {
    Article {
        id: "42".into(),
        author_id: "alice".into(),
        tenant: None,
        status: "draft".into(),
        locked: false,
        tags: vec!["rust".into(), "auth".into()],
        word_count: 1200,
        reviewer: None,
    }
}

fn registry() -> SchemaRegistry {
    SchemaRegistry::new()
        .register::<Article>()
        .context("hour", AttrType::Integer)
        .context("score", AttrType::Float)
        .context("ip", AttrType::String)
}

fn load(yaml: &str) -> PolicyEngine {
    match PolicyEngine::from_yaml(&registry(), yaml) {
        Ok(engine) => engine,
        Err(e) => panic!("{e}\n{yaml}"),
    }
}

fn load_err(yaml: &str) -> PolicyError {
    match PolicyEngine::from_yaml(&registry(), yaml) {
        Ok(_) => panic!("loaded:\n{yaml}"),
        Err(e) => e,
    }
}

fn alice() -> Principal {
    Principal::new("alice")
}

/// The outcome of one condition (YAML flow syntax) for `principal`,
/// `resource` and `context`: `Some(true)`, `Some(false)`, or `None` (not
/// applicable), told apart through a policy on the condition and one on
/// its negation.
fn outcome(
    condition: &str,
    principal: &Principal,
    resource: &Article,
    context: &Context,
) -> Option<bool> {
    let engine = load(&format!(
        "policies:\n  - {{ id: yes, effect: allow, resource: article, when: {condition} }}\n  - {{ id: no, effect: deny, resource: article, when: {{ not: {condition} }} }}\n"
    ));
    let decision = engine.evaluate(principal, "read", resource, context);
    match decision.deciding_policy {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        None => None,
        Some(other) => panic!("unexpected policy {other}"),
    }
}

fn check(condition: &str, expected: Option<bool>) {
    check_on(condition, &article(), &Context::new(), expected);
}

fn check_on(condition: &str, resource: &Article, context: &Context, expected: Option<bool>) {
    assert_eq!(
        outcome(condition, &alice(), resource, context),
        expected,
        "{condition}"
    );
}

// ------------------------------------------------------------- operators

#[test]
fn op_equals() {
    check(
        "{ attr: resource.status, op: equals, value: draft }",
        Some(true),
    );
    check(
        "{ attr: resource.status, op: equals, value: published }",
        Some(false),
    );
    check(
        "{ attr: resource.word_count, op: equals, value: 1200 }",
        Some(true),
    );
    check(
        "{ attr: resource.locked, op: equals, value: false }",
        Some(true),
    );
    check(
        "{ attr: resource.tags, op: equals, value: [rust, auth] }",
        Some(true),
    );
    check(
        "{ attr: resource.tags, op: equals, value: [auth, rust] }",
        Some(false),
    );
    check("{ attr: resource.reviewer, op: equals, value: bob }", None);
}

#[test]
fn op_not_equals() {
    check(
        "{ attr: resource.status, op: not-equals, value: published }",
        Some(true),
    );
    check(
        "{ attr: resource.status, op: not-equals, value: draft }",
        Some(false),
    );
    check(
        "{ attr: resource.reviewer, op: not-equals, value: bob }",
        None,
    );
}

#[test]
fn op_in_and_not_in() {
    check(
        "{ attr: resource.status, op: in, value: [draft, review] }",
        Some(true),
    );
    check(
        "{ attr: resource.status, op: in, value: [published] }",
        Some(false),
    );
    check("{ attr: resource.reviewer, op: in, value: [bob] }", None);
    check(
        "{ attr: resource.status, op: not-in, value: [published] }",
        Some(true),
    );
    check(
        "{ attr: resource.status, op: not-in, value: [draft] }",
        Some(false),
    );
    check(
        "{ attr: resource.reviewer, op: not-in, value: [bob] }",
        None,
    );
    // A list from the principal: `in ${principal.roles}`.
    let editor = Principal::new("alice").with_roles(["draft"]);
    assert_eq!(
        outcome(
            "{ attr: resource.status, op: in, value: \"${principal.roles}\" }",
            &editor,
            &article(),
            &Context::new()
        ),
        Some(true)
    );
}

#[test]
fn op_contains() {
    check(
        "{ attr: resource.tags, op: contains, value: rust }",
        Some(true),
    );
    check(
        "{ attr: resource.tags, op: contains, value: go }",
        Some(false),
    );
    check(
        "{ attr: resource.author_id, op: contains, value: lic }",
        Some(true),
    );
    check(
        "{ attr: resource.author_id, op: contains, value: bob }",
        Some(false),
    );
    check("{ attr: resource.reviewer, op: contains, value: b }", None);
}

#[test]
fn op_starts_with() {
    check(
        "{ attr: resource.author_id, op: starts-with, value: al }",
        Some(true),
    );
    check(
        "{ attr: resource.author_id, op: starts-with, value: bo }",
        Some(false),
    );
    check(
        "{ attr: resource.reviewer, op: starts-with, value: b }",
        None,
    );
}

#[test]
fn op_ordering_on_integers() {
    check(
        "{ attr: resource.word_count, op: lt, value: 2000 }",
        Some(true),
    );
    check(
        "{ attr: resource.word_count, op: lt, value: 1200 }",
        Some(false),
    );
    check(
        "{ attr: resource.word_count, op: le, value: 1200 }",
        Some(true),
    );
    check(
        "{ attr: resource.word_count, op: le, value: 1199 }",
        Some(false),
    );
    check(
        "{ attr: resource.word_count, op: gt, value: 1199 }",
        Some(true),
    );
    check(
        "{ attr: resource.word_count, op: gt, value: 1200 }",
        Some(false),
    );
    check(
        "{ attr: resource.word_count, op: ge, value: 1200 }",
        Some(true),
    );
    check(
        "{ attr: resource.word_count, op: ge, value: 1201 }",
        Some(false),
    );
    // Missing context attribute.
    check("{ attr: context.hour, op: lt, value: 12 }", None);
    check("{ attr: context.hour, op: ge, value: 12 }", None);
}

#[test]
fn op_ordering_on_floats_and_strings() {
    let ctx = Context::new().with("score", 0.75);
    let a = article();
    check_on(
        "{ attr: context.score, op: gt, value: 0.5 }",
        &a,
        &ctx,
        Some(true),
    );
    check_on(
        "{ attr: context.score, op: lt, value: 0.5 }",
        &a,
        &ctx,
        Some(false),
    );
    // An integer literal compared with a float reads as a float.
    check_on(
        "{ attr: context.score, op: le, value: 1 }",
        &a,
        &ctx,
        Some(true),
    );
    let nan = Context::new().with("score", f64::NAN);
    check_on("{ attr: context.score, op: lt, value: 1 }", &a, &nan, None);
    check_on(
        "{ attr: context.score, op: equals, value: 1 }",
        &a,
        &nan,
        None,
    );
    // Strings compare by bytes.
    check("{ attr: resource.status, op: lt, value: e }", Some(true));
    check("{ attr: resource.status, op: ge, value: e }", Some(false));
    check("{ attr: resource.status, op: gt, value: D }", Some(true));
}

#[test]
fn op_matches() {
    check(
        "{ attr: resource.author_id, op: matches, value: '^a.*e$' }",
        Some(true),
    );
    check(
        "{ attr: resource.author_id, op: matches, value: '^b' }",
        Some(false),
    );
    check(
        "{ attr: resource.author_id, op: matches, value: 'lic' }",
        Some(true),
    );
    check(
        "{ attr: resource.reviewer, op: matches, value: '.*' }",
        None,
    );
}

#[test]
fn op_exists() {
    let mut reviewed = article();
    reviewed.reviewer = Some("bob".into());
    let ctx = Context::new();
    check("{ attr: resource.reviewer, op: exists }", Some(false));
    check(
        "{ attr: resource.reviewer, op: exists, value: true }",
        Some(false),
    );
    check(
        "{ attr: resource.reviewer, op: exists, value: false }",
        Some(true),
    );
    check_on(
        "{ attr: resource.reviewer, op: exists }",
        &reviewed,
        &ctx,
        Some(true),
    );
    check_on(
        "{ attr: resource.reviewer, op: exists, value: false }",
        &reviewed,
        &ctx,
        Some(false),
    );
    check("{ attr: context.hour, op: exists }", Some(false));
    // Present with another type than declared: not applicable.
    let wrong = Context::new().with("hour", "14");
    check_on(
        "{ attr: context.hour, op: exists }",
        &article(),
        &wrong,
        None,
    );
}

#[test]
fn references_compare_attributes() {
    check(
        "{ attr: resource.author_id, op: equals, value: '${principal.subject}' }",
        Some(true),
    );
    let bob = Principal::new("bob");
    assert_eq!(
        outcome(
            "{ attr: resource.author_id, op: equals, value: '${principal.subject}' }",
            &bob,
            &article(),
            &Context::new()
        ),
        Some(false)
    );
    // A missing referenced attribute is not applicable.
    check(
        "{ attr: resource.author_id, op: equals, value: '${resource.reviewer}' }",
        None,
    );
    check(
        "{ attr: resource.author_id, op: equals, value: '${principal.tenant}' }",
        None,
    );
    let ctx = Context::new().with("ip", "alice");
    check_on(
        "{ attr: resource.author_id, op: equals, value: '${context.ip}' }",
        &article(),
        &ctx,
        Some(true),
    );
}

#[test]
fn principal_attributes() {
    let p = Principal::new("alice")
        .with_roles(["editor"])
        .with_permissions(["reports.read"])
        .with_tenant("t1")
        .with_amr(["pwd", "otp"])
        .with_session_id("s1")
        .with_authentication(
            crate::AuthMethod::Session,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        );
    let a = article();
    let ctx = Context::new();
    for (condition, expected) in [
        (
            "{ attr: principal.subject, op: equals, value: alice }",
            true,
        ),
        (
            "{ attr: principal.roles, op: contains, value: editor }",
            true,
        ),
        (
            "{ attr: principal.permissions, op: contains, value: reports.read }",
            true,
        ),
        ("{ attr: principal.tenant, op: equals, value: t1 }", true),
        (
            "{ attr: principal.auth_method, op: equals, value: session }",
            true,
        ),
        ("{ attr: principal.amr, op: contains, value: otp }", true),
        (
            "{ attr: principal.auth_time, op: ge, value: 1700000000 }",
            true,
        ),
        (
            "{ attr: principal.session_id, op: equals, value: s1 }",
            true,
        ),
    ] {
        assert_eq!(
            outcome(condition, &p, &a, &ctx),
            Some(expected),
            "{condition}"
        );
    }
    // Optional principal attributes are missing on a bare principal.
    for attr in ["tenant", "auth_time", "session_id"] {
        assert_eq!(
            outcome(
                &format!("{{ attr: principal.{attr}, op: exists }}"),
                &alice(),
                &a,
                &ctx
            ),
            Some(false)
        );
    }
    assert_eq!(
        alice().attribute("auth_method"),
        Some(AttrValue::String("internal"))
    );
    assert_eq!(alice().attribute("nope"), None);
    assert_eq!(alice().schema().kind, "principal");
}

// ------------------------------------------------- not applicable logic

#[test]
fn all_any_not_propagate_not_applicable() {
    const T: &str = "{ attr: resource.status, op: equals, value: draft }";
    const F: &str = "{ attr: resource.status, op: equals, value: published }";
    const N: &str = "{ attr: resource.reviewer, op: equals, value: bob }";
    for (items, all, any) in [
        ([T, T], Some(true), Some(true)),
        ([T, F], Some(false), Some(true)),
        ([F, F], Some(false), Some(false)),
        ([T, N], None, Some(true)),
        ([F, N], Some(false), None),
        ([N, N], None, None),
    ] {
        let list = items.join(", ");
        check(&format!("{{ all: [{list}] }}"), all);
        check(&format!("{{ any: [{list}] }}"), any);
    }
    check(&format!("{{ not: {T} }}"), Some(false));
    check(&format!("{{ not: {N} }}"), None);
    check(&format!("{{ not: {{ not: {N} }} }}"), None);
}

#[test]
fn a_missing_attribute_never_allows() {
    // An allow on "reviewer is not bob" must not allow when there is no
    // reviewer (an `Option` field that is `None`)...
    let engine = load(
        "policies:\n  - { id: not-bob, effect: allow, resource: article, when: { attr: resource.reviewer, op: not-equals, value: bob } }\n  - { id: not-bob-2, effect: allow, resource: article, when: { not: { attr: resource.reviewer, op: equals, value: bob } } }\n",
    );
    let decision = engine.evaluate(&alice(), "edit", &article(), &Context::new());
    assert_eq!(decision, PolicyDecision::NOT_APPLICABLE);
    // ...nor on a context attribute the request did not set (declared)...
    let engine = load(
        "policies:\n  - { id: office-hours, effect: allow, resource: article, when: { not: { attr: context.hour, op: lt, value: 8 } } }\n",
    );
    let decision = engine.evaluate(&alice(), "edit", &article(), &Context::new());
    assert_eq!(decision.effect, None);
    // ...nor one set but not declared anywhere (refused at load).
    let err = load_err(
        "policies:\n  - { id: x, effect: allow, resource: article, when: { attr: context.country, op: equals, value: fr } }\n",
    );
    assert!(matches!(err, PolicyError::UnknownAttribute { .. }), "{err}");
    // A set context value of the declared type does apply.
    let decision = engine.evaluate(
        &alice(),
        "edit",
        &article(),
        &Context::new().with("hour", 9_i64),
    );
    assert_eq!(decision.deciding_policy, Some("office-hours"));
}

#[test]
fn a_runtime_type_mismatch_is_not_applicable() {
    let engine = load(
        "policies:\n  - { id: late, effect: allow, resource: article, when: { attr: context.hour, op: ge, value: 0 } }\n  - { id: early, effect: allow, resource: article, when: { not: { attr: context.hour, op: ge, value: 0 } } }\n",
    );
    for ctx in [
        Context::new().with("hour", "14"),
        Context::new().with("hour", 14.0),
        Context::new().with("hour", true),
        Context::new().with("hour", vec!["14".to_owned()]),
    ] {
        let decision = engine.evaluate(&alice(), "edit", &article(), &ctx);
        assert_eq!(decision, PolicyDecision::NOT_APPLICABLE, "{ctx:?}");
    }
    let decision = engine.evaluate(
        &alice(),
        "edit",
        &article(),
        &Context::new().with("hour", 14_i64),
    );
    assert_eq!(decision.deciding_policy, Some("late"));
}

// ------------------------------------------------ combining, priorities

const BOTH: &str = "
policies:
  - { id: allow-all, effect: allow, resource: article }
  - { id: deny-all, effect: deny, resource: article }
";

#[test]
fn deny_overrides() {
    for text in [
        BOTH.to_owned(),
        format!("combining: deny-overrides\n{BOTH}"),
    ] {
        let engine = load(&text);
        assert_eq!(engine.combining(), CombiningAlgorithm::DenyOverrides);
        let d = engine.evaluate(&alice(), "edit", &article(), &Context::new());
        assert_eq!(d.effect, Some(Effect::Deny));
        assert_eq!(d.deciding_policy, Some("deny-all"));
    }
}

#[test]
fn permit_overrides() {
    let engine = load(&format!("combining: permit-overrides\n{BOTH}"));
    let d = engine.evaluate(&alice(), "edit", &article(), &Context::new());
    assert_eq!(d.effect, Some(Effect::Allow));
    assert_eq!(d.deciding_policy, Some("allow-all"));
}

#[test]
fn first_applicable_in_file_order() {
    let engine = load(&format!("combining: first-applicable\n{BOTH}"));
    let d = engine.evaluate(&alice(), "edit", &article(), &Context::new());
    assert_eq!(d.deciding_policy, Some("allow-all"));
    let engine = load(
        "combining: first-applicable
policies:
  - { id: deny-all, effect: deny, resource: article }
  - { id: allow-all, effect: allow, resource: article }
",
    );
    let d = engine.evaluate(&alice(), "edit", &article(), &Context::new());
    assert_eq!(d.effect, Some(Effect::Deny));
    assert_eq!(d.deciding_policy, Some("deny-all"));
}

#[test]
fn first_applicable_puts_compiled_rules_first() {
    let mut reviewed = article();
    reviewed.reviewer = Some("alice".into());
    let deny_reviews =
        "policies:\n  - { id: no-reviews, effect: deny, resource: article, actions: [review] }\n";
    let first = load(&format!("combining: first-applicable\n{deny_reviews}"));
    let d = first.evaluate(&alice(), "review", &reviewed, &Context::new());
    assert_eq!(d.deciding_policy, Some("reviewer-reviews"));
    assert_eq!(d.effect, Some(Effect::Allow));
    // Under deny-overrides the run-time deny of the same level wins.
    let deny = load(deny_reviews);
    let d = deny.evaluate(&alice(), "review", &reviewed, &Context::new());
    assert_eq!(d.deciding_policy, Some("no-reviews"));
}

#[test]
fn the_highest_applicable_priority_decides() {
    // A higher-priority allow beats a lower deny even under deny-overrides.
    let engine = load(
        "policies:
  - { id: deny-all, effect: deny, resource: article }
  - { id: authors, effect: allow, priority: 10, resource: article, when: { attr: resource.author_id, op: equals, value: '${principal.subject}' } }
",
    );
    let d = engine.evaluate(&alice(), "edit", &article(), &Context::new());
    assert_eq!(d.deciding_policy, Some("authors"));
    // When the higher level does not apply, the lower one decides.
    let d = engine.evaluate(&Principal::new("bob"), "edit", &article(), &Context::new());
    assert_eq!(d.deciding_policy, Some("deny-all"));
    // Negative priorities rank below the default.
    let engine = load(
        "policies:
  - { id: low-deny, effect: deny, priority: -5, resource: article }
  - { id: allow, effect: allow, resource: article }
",
    );
    let d = engine.evaluate(&alice(), "edit", &article(), &Context::new());
    assert_eq!(d.deciding_policy, Some("allow"));
    // The compiled deny at priority 100 beats a run-time allow at 50.
    let engine =
        load("policies:\n  - { id: allow, effect: allow, priority: 50, resource: article }\n");
    let mut locked = article();
    locked.locked = true;
    let d = engine.evaluate(&alice(), "edit", &locked, &Context::new());
    assert_eq!(d.deciding_policy, Some("locked-is-frozen"));
    // And a run-time allow at 101 beats it.
    let engine =
        load("policies:\n  - { id: allow, effect: allow, priority: 101, resource: article }\n");
    let d = engine.evaluate(&alice(), "edit", &locked, &Context::new());
    assert_eq!(d.deciding_policy, Some("allow"));
}

#[test]
fn actions_select_policies() {
    let engine = load(
        "policies:
  - { id: edits, effect: allow, resource: article, actions: [edit, publish] }
  - { id: everything, effect: deny, priority: -1, resource: article }
",
    );
    let d = engine.evaluate(&alice(), "edit", &article(), &Context::new());
    assert_eq!(d.deciding_policy, Some("edits"));
    let d = engine.evaluate(&alice(), "publish", &article(), &Context::new());
    assert_eq!(d.deciding_policy, Some("edits"));
    let d = engine.evaluate(&alice(), "delete", &article(), &Context::new());
    assert_eq!(d.deciding_policy, Some("everything"));
    assert_eq!(engine.len(), 2);
    assert_eq!(
        engine.policy_ids().collect::<Vec<_>>(),
        ["edits", "everything"]
    );
    // Compiled rules restricted to other actions stay out.
    let mut locked = article();
    locked.locked = true;
    let empty = PolicyEngine::default();
    let d = empty.evaluate(&alice(), "read", &locked, &Context::new());
    assert_eq!(d, PolicyDecision::NOT_APPLICABLE);
    let d = empty.evaluate(&alice(), "edit", &locked, &Context::new());
    assert_eq!(d.deciding_policy, Some("locked-is-frozen"));
}

// ------------------------------------------------------------ load errors

#[test]
fn load_error_unknown_operator() {
    let err = load_err(
        "policies:
  - id: p
    effect: allow
    resource: article
    when:
      all:
        - { attr: resource.status, op: equals, value: draft }
        - { attr: resource.status, op: eq, value: draft }
",
    );
    assert!(
        matches!(&err, PolicyError::UnknownOperator { op, .. } if op == "eq"),
        "{err}"
    );
    assert_eq!(err.path(), "policies[0].when.all[1].op");
    assert_eq!(err.policy(), Some("p"));
    assert_eq!(err.code(), "policy_unknown_operator");
    assert!(err.to_string().contains("unknown operator `eq`"), "{err}");
}

#[test]
fn load_error_unknown_attribute() {
    for (attr, path) in [
        ("resource.author", "policies[0].when.attr"),
        ("principal.name", "policies[0].when.attr"),
        ("context.country", "policies[0].when.attr"),
        ("subject", "policies[0].when.attr"),
        ("user.subject", "policies[0].when.attr"),
    ] {
        let err = load_err(&format!(
            "policies:\n  - {{ id: p, effect: allow, resource: article, when: {{ attr: {attr}, op: exists }} }}\n"
        ));
        assert!(
            matches!(&err, PolicyError::UnknownAttribute { attribute, .. } if attribute == attr),
            "{err}"
        );
        assert_eq!(err.path(), path);
    }
    // In a reference too.
    let err = load_err(
        "policies:\n  - { id: p, effect: allow, resource: article, when: { attr: resource.status, op: equals, value: '${principal.name}' } }\n",
    );
    assert!(
        matches!(&err, PolicyError::UnknownAttribute { attribute, .. } if attribute == "principal.name"),
        "{err}"
    );
    assert_eq!(err.path(), "policies[0].when.value");
}

#[test]
fn load_error_unknown_kind() {
    let err = load_err(
        "policies:\n  - { id: a, effect: allow, resource: article }\n  - { id: b, effect: allow, resource: comment }\n",
    );
    assert!(
        matches!(&err, PolicyError::UnknownKind { kind, .. } if kind == "comment"),
        "{err}"
    );
    assert_eq!(err.path(), "policies[1].resource");
    assert_eq!(err.policy(), Some("b"));
}

#[test]
fn load_error_type_mismatch() {
    for (leaf, path) in [
        // `lt` on a bool.
        (
            "{ attr: resource.locked, op: lt, value: true }",
            "policies[0].when.op",
        ),
        // A string literal against an integer.
        (
            "{ attr: resource.word_count, op: equals, value: many }",
            "policies[0].when.value",
        ),
        // A float literal against an integer.
        (
            "{ attr: resource.word_count, op: equals, value: 1.5 }",
            "policies[0].when.value",
        ),
        // `in` needs a list.
        (
            "{ attr: resource.status, op: in, value: draft }",
            "policies[0].when.value",
        ),
        // `in` on a list attribute.
        (
            "{ attr: resource.tags, op: in, value: [a] }",
            "policies[0].when.op",
        ),
        // `contains` on an integer.
        (
            "{ attr: resource.word_count, op: contains, value: 1 }",
            "policies[0].when.op",
        ),
        // `starts-with` with a list.
        (
            "{ attr: resource.status, op: starts-with, value: [a] }",
            "policies[0].when.value",
        ),
        // A reference of another type.
        (
            "{ attr: resource.status, op: equals, value: '${resource.word_count}' }",
            "policies[0].when.value",
        ),
        // `matches` with a reference.
        (
            "{ attr: resource.status, op: matches, value: '${principal.subject}' }",
            "policies[0].when.value",
        ),
        // `matches` on an integer.
        (
            "{ attr: resource.word_count, op: matches, value: '1' }",
            "policies[0].when.op",
        ),
        // `exists` with a string.
        (
            "{ attr: resource.status, op: exists, value: yes }",
            "policies[0].when.value",
        ),
        // A list holding a number.
        (
            "{ attr: resource.status, op: in, value: [draft, 1] }",
            "policies[0].when.value[1]",
        ),
    ] {
        let err = load_err(&format!(
            "policies:\n  - {{ id: p, effect: allow, resource: article, when: {leaf} }}\n"
        ));
        assert!(
            matches!(err, PolicyError::TypeMismatch { .. }),
            "{leaf}: {err}"
        );
        assert_eq!(err.path(), path, "{leaf}");
        assert_eq!(err.code(), "policy_type_mismatch");
    }
}

#[test]
fn load_error_regexes() {
    let err = load_err(
        "policies:\n  - { id: p, effect: allow, resource: article, when: { attr: resource.status, op: matches, value: '(unclosed' } }\n",
    );
    assert!(matches!(err, PolicyError::InvalidRegex { .. }), "{err}");
    assert_eq!(err.path(), "policies[0].when.value");
    assert_eq!(err.code(), "policy_regex");

    let err = load_err(
        "policies:\n  - { id: p, effect: allow, resource: article, when: { any: [{ attr: resource.status, op: matches, value: '\\w{1000}' }] } }\n",
    );
    assert!(
        matches!(
            err,
            PolicyError::RegexTooLarge {
                limit: REGEX_SIZE_LIMIT,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.path(), "policies[0].when.any[0].value");
}

#[test]
fn load_error_duplicate_id() {
    let err = load_err(
        "policies:\n  - { id: p, effect: allow, resource: article }\n  - { id: q, effect: allow, resource: article }\n  - { id: p, effect: deny, resource: article }\n",
    );
    assert_eq!(
        err,
        PolicyError::DuplicateId {
            id: "p".into(),
            path: "policies[2].id".into(),
            first: "policies[0].id".into(),
        }
    );
    assert_eq!(err.code(), "policy_duplicate_id");
}

#[test]
fn load_error_unknown_field() {
    for (text, path, policy) in [
        (
            "policies:\n  - { id: p, effect: allow, resource: article, efect: deny }\n",
            "policies[0].efect",
            Some("p"),
        ),
        (
            "policies:\n  - { id: p, effect: allow, resource: article, when: { all: [{ attr: resource.status, op: exists, vale: true }] } }\n",
            "policies[0].when.all[0].vale",
            Some("p"),
        ),
        ("combining: deny-overrides\npolicy: []\n", "policy", None),
    ] {
        let err = load_err(text);
        assert!(matches!(err, PolicyError::UnknownField { .. }), "{err}");
        assert_eq!(err.path(), path, "{err}");
        assert_eq!(err.policy(), policy);
        assert_eq!(err.code(), "policy_unknown_field");
    }
}

#[test]
fn load_error_shapes_and_values() {
    for (text, path, code) in [
        // Both `all` and a leaf.
        (
            "policies:\n  - { id: p, effect: allow, resource: article, when: { all: [{ attr: resource.locked, op: exists }], attr: resource.status } }\n",
            "policies[0].when",
            "policy_invalid_condition",
        ),
        // An empty `any`.
        (
            "policies:\n  - { id: p, effect: allow, resource: article, when: { any: [] } }\n",
            "policies[0].when.any",
            "policy_invalid_condition",
        ),
        // A leaf without `op`.
        (
            "policies:\n  - { id: p, effect: allow, resource: article, when: { attr: resource.status } }\n",
            "policies[0].when",
            "policy_invalid_condition",
        ),
        // A leaf without `value`.
        (
            "policies:\n  - { id: p, effect: allow, resource: article, when: { attr: resource.status, op: equals } }\n",
            "policies[0].when.value",
            "policy_invalid_condition",
        ),
        // An empty condition.
        (
            "policies:\n  - { id: p, effect: allow, resource: article, when: {} }\n",
            "policies[0].when",
            "policy_invalid_condition",
        ),
        // An unknown effect.
        (
            "policies:\n  - { id: p, effect: permit, resource: article }\n",
            "policies[0].effect",
            "policy_invalid_value",
        ),
        // An unknown combining algorithm.
        ("combining: majority\n", "combining", "policy_invalid_value"),
        // A reserved or malformed id.
        (
            "policies:\n  - { id: rbac, effect: allow, resource: article }\n",
            "policies[0].id",
            "policy_invalid_value",
        ),
        (
            "policies:\n  - { id: 'a b', effect: allow, resource: article }\n",
            "policies[0].id",
            "policy_invalid_value",
        ),
        // An invalid action.
        (
            "policies:\n  - { id: p, effect: allow, resource: article, actions: [edit, Edit] }\n",
            "policies[0].actions[1]",
            "policy_invalid_value",
        ),
        // A context type that does not exist, and one contradicting the registry.
        (
            "context: { country: text }\n",
            "context.country",
            "policy_invalid_value",
        ),
        (
            "context: { hour: string }\n",
            "context.hour",
            "policy_invalid_value",
        ),
        // `${` that is not a whole reference.
        (
            "policies:\n  - { id: p, effect: allow, resource: article, when: { attr: resource.status, op: equals, value: 'x ${principal.subject}' } }\n",
            "policies[0].when.value",
            "policy_invalid_value",
        ),
        // A missing key, and a value of the wrong shape.
        (
            "policies:\n  - { id: p, resource: article }\n",
            "policies[0]",
            "policy_syntax",
        ),
        (
            "policies:\n  - { id: p, effect: allow, resource: article, priority: high }\n",
            "policies[0].priority",
            "policy_syntax",
        ),
        ("policies: [\n", "policies", "policy_syntax"),
        ("- just a list\n", ".", "policy_syntax"),
    ] {
        let err = load_err(text);
        assert_eq!((err.path(), err.code()), (path, code), "{text}: {err}");
    }
    let deep = format!(
        "policies:\n  - {{ id: p, effect: allow, resource: article, when: {}{{ attr: resource.locked, op: exists }}{} }}\n",
        "{ not: ".repeat(MAX_CONDITION_DEPTH),
        " }".repeat(MAX_CONDITION_DEPTH)
    );
    let err = load_err(&deep);
    assert_eq!(err.code(), "policy_invalid_condition", "{err}");
    let big = "#".repeat(MAX_DOCUMENT_BYTES + 1);
    assert_eq!(
        load_err(&big),
        PolicyError::TooLarge {
            max: MAX_DOCUMENT_BYTES
        }
    );
}

#[test]
fn a_syntax_error_has_a_line_and_the_policy() {
    let err = load_err(
        "policies:\n  - id: p\n    effect: allow\n    resource: article\n    priority: [1]\n",
    );
    match &err {
        PolicyError::Syntax {
            line,
            policy,
            path,
            message,
            ..
        } => {
            assert_eq!(*line, Some(5));
            assert!(message.starts_with("invalid type"), "{message}");
            assert_eq!(policy.as_deref(), Some("p"));
            assert_eq!(path, "policies[0].priority");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn the_format_example_loads() {
    let engine = load(
        "
combining: deny-overrides
context: { hour: integer, ip: string, tier: string }
policies:
  - id: authors-edit-drafts
    description: authors may edit their own drafts
    effect: allow
    priority: 10
    resource: article
    actions: [edit]
    when:
      all:
        - { attr: resource.author_id, op: equals, value: '${principal.subject}' }
        - { attr: resource.status, op: equals, value: draft }
        - any:
            - { attr: context.hour, op: ge, value: 8 }
            - not: { attr: resource.locked, op: equals, value: true }
",
    );
    assert_eq!(engine.len(), 1);
    assert!(PolicyEngine::from_yaml(&registry(), "").is_ok_and(|e| e.is_empty()));
}

#[test]
fn registering_two_types_under_one_kind_fails_loading() {
    struct Other;
    static OTHER: Schema = Schema {
        kind: "article",
        attributes: &[],
    };
    impl Attributes for Other {
        fn schema(&self) -> &'static Schema {
            &OTHER
        }
        fn attribute(&self, _: &str) -> Option<AttrValue<'_>> {
            None
        }
    }
    impl Policy for Other {
        const SCHEMA: &'static Schema = &OTHER;
        fn rules() -> &'static [Rule<Self>] {
            &[]
        }
    }
    let registry = registry().register::<Other>();
    assert!(PolicyEngine::from_yaml(&registry, "").is_err());
    // The same type twice is fine.
    assert!(PolicyEngine::from_yaml(&self::registry().register::<Article>(), "").is_ok());
}

// --------------------------------------------- the authorization service

const AUTHORS_EDIT_DRAFTS: &str = "
policies:
  - id: authors-edit-drafts
    effect: allow
    resource: article
    actions: [edit]
    when:
      all:
        - { attr: resource.author_id, op: equals, value: '${principal.subject}' }
        - { attr: resource.status, op: equals, value: draft }
";

struct Fixture {
    authz: AuthorizationService,
    events: Receiver<AuthEvent>,
    clock: ManualClock,
}

fn fixture() -> Fixture {
    let authz = AuthorizationService::new();
    authz
        .set_roles(BTreeMap::from([
            ("admin".to_owned(), RoleDefinition::new(["*"])),
            ("editor".to_owned(), RoleDefinition::new(["article.*"])),
            (
                "author".to_owned(),
                RoleDefinition::new(["article.read", "article.edit"]),
            ),
            ("reader".to_owned(), RoleDefinition::new(["article.read"])),
        ]))
        .unwrap();
    let (sink, events) = ChannelSink::new();
    authz.set_event_sink(Arc::new(sink));
    let clock = ManualClock::at_unix(1_700_000_000);
    authz.set_clock(Arc::new(clock.clone()));
    Fixture {
        authz,
        events,
        clock,
    }
}

impl Fixture {
    fn events(&self) -> Vec<AuthEvent> {
        self.events.try_iter().collect()
    }

    /// The one `AccessDenied` emitted since the last call.
    fn denied_by(&self) -> Option<String> {
        match self.events().as_slice() {
            [
                AuthEvent::AccessDenied {
                    deciding_policy, ..
                },
            ] => deciding_policy.clone(),
            other => panic!("expected one AccessDenied, got {other:?}"),
        }
    }

    fn hours(&self, h: u64) -> SystemTime {
        crate::clock::Clock::now(&self.clock) + Duration::from_secs(h * 3600)
    }
}

#[tokio::test]
async fn authors_edit_their_own_drafts() {
    let f = fixture();
    f.authz.set_policies(load(AUTHORS_EDIT_DRAFTS));
    let draft = article();
    let mut published = article();
    published.status = "published".into();

    assert!(f.authz.check(&alice(), "edit", &draft).await.is_ok());
    let bob = Principal::new("bob");
    let err = f.authz.check(&bob, "edit", &draft).await.unwrap_err();
    assert_eq!(err.reason, DenyReason::NoRule);
    assert_eq!(f.denied_by().as_deref(), Some("default-deny"));
    assert!(f.authz.check(&alice(), "edit", &published).await.is_err());
    assert_eq!(f.denied_by().as_deref(), Some("default-deny"));
    // With RBAC the author may edit the published article too.
    let editor = Principal::new("alice").with_roles(["editor"]);
    assert!(f.authz.check(&editor, "edit", &published).await.is_ok());
    // Only `edit` is covered: reading needs a role.
    assert!(f.authz.check(&alice(), "read", &draft).await.is_err());
}

#[tokio::test]
async fn an_explicit_deny_beats_a_star_grant() {
    let f = fixture();
    let admin = Principal::new("root").with_roles(["admin"]);
    assert!(f.authz.check(&admin, "delete", &article()).await.is_ok());
    // The compiled rule denies on a locked article.
    let mut locked = article();
    locked.locked = true;
    let err = f.authz.check(&admin, "delete", &locked).await.unwrap_err();
    assert_eq!(err.reason, DenyReason::PolicyDenied);
    assert_eq!(f.denied_by().as_deref(), Some("locked-is-frozen"));
    // A run-time deny as well, also against a direct `*` grant.
    f.authz.set_policies(load(
        "policies:\n  - { id: no-deleting-rust, effect: deny, resource: article, actions: [delete], when: { attr: resource.tags, op: contains, value: rust } }\n",
    ));
    let direct = Principal::new("root").with_permissions(["*"]);
    for p in [&admin, &direct] {
        let err = f.authz.check(p, "delete", &article()).await.unwrap_err();
        assert_eq!(err.reason, DenyReason::PolicyDenied);
        assert_eq!(f.denied_by().as_deref(), Some("no-deleting-rust"));
    }
    assert!(f.authz.check(&admin, "edit", &article()).await.is_ok());
}

#[tokio::test]
async fn tenants_are_isolated() {
    let f = fixture();
    f.authz.set_policies(load(
        "policies:\n  - { id: allow-all, effect: allow, resource: article }\n",
    ));
    let mut theirs = article();
    theirs.tenant = Some("tenant-b".into());
    let mut ours = article();
    ours.tenant = Some("tenant-a".into());
    let admin_a = Principal::new("root")
        .with_roles(["admin"])
        .with_permissions(["*"])
        .with_tenant("tenant-a");

    let err = f.authz.check(&admin_a, "read", &theirs).await.unwrap_err();
    assert_eq!(err.reason, DenyReason::TenantMismatch);
    assert_eq!(f.denied_by().as_deref(), Some("tenant"));
    assert!(f.authz.check(&admin_a, "read", &ours).await.is_ok());
    // No tenant at all is another tenant too.
    let no_tenant = Principal::new("root").with_roles(["admin"]);
    let err = f.authz.check(&no_tenant, "read", &ours).await.unwrap_err();
    assert_eq!(err.reason, DenyReason::TenantMismatch);
    // A resource without a tenant is open to every tenant.
    assert!(f.authz.check(&admin_a, "read", &article()).await.is_ok());

    // A delegation from tenant A does not reach a tenant-B resource, even
    // for a delegate of tenant B.
    f.authz.set_policies(PolicyEngine::default());
    let author_a = Principal::new("alice")
        .with_roles(["author"])
        .with_tenant("tenant-a");
    f.authz
        .delegate(&author_a, "bob", ["article.edit"], "article/*", f.hours(1))
        .await
        .unwrap();
    let bob_b = Principal::new("bob").with_tenant("tenant-b");
    let bob_a = Principal::new("bob").with_tenant("tenant-a");
    let _ = f.events();
    let err = f.authz.check(&bob_b, "edit", &theirs).await.unwrap_err();
    assert_eq!(err.reason, DenyReason::NoRule);
    assert!(f.authz.check(&bob_a, "edit", &ours).await.is_ok());
}

#[tokio::test]
async fn delegation_lifecycle() {
    let f = fixture();
    let alice = Principal::new("alice").with_roles(["author"]);
    let bob = Principal::new("bob");
    let a42 = article();
    let mut a43 = article();
    a43.id = "43".into();
    assert!(f.authz.check(&bob, "edit", &a42).await.is_err());

    let d = f
        .authz
        .delegate(&alice, "bob", ["article.edit"], "article/42", f.hours(2))
        .await
        .unwrap();
    assert_eq!(
        (d.delegator.as_str(), d.delegate.as_str()),
        ("alice", "bob")
    );
    assert_eq!(d.id.len(), 32);
    assert!(f.authz.check(&bob, "edit", &a42).await.is_ok());
    // Another resource, another action: nothing.
    assert!(f.authz.check(&bob, "edit", &a43).await.is_err());
    assert!(f.authz.check(&bob, "read", &a42).await.is_err());
    // Another delegate: nothing.
    assert!(
        f.authz
            .check(&Principal::new("carol"), "edit", &a42)
            .await
            .is_err()
    );

    // Expired by the injected clock.
    f.clock.advance(Duration::from_secs(2 * 3600));
    assert!(f.authz.check(&bob, "edit", &a42).await.is_err());

    // Revoked.
    let d = f
        .authz
        .delegate(&alice, "bob", ["article.edit"], "article/*", f.hours(1))
        .await
        .unwrap();
    assert!(f.authz.check(&bob, "edit", &a43).await.is_ok());
    assert!(f.authz.revoke_delegation(&d.id).await.unwrap());
    assert!(!f.authz.revoke_delegation("no-such-id").await.unwrap());
    assert!(f.authz.check(&bob, "edit", &a43).await.is_err());
}

#[tokio::test]
async fn delegation_refusals() {
    let f = fixture();
    let alice = Principal::new("alice").with_roles(["author"]);
    let until = f.hours(1);
    let refused = async |permissions: &[&str], pattern: &str, until: SystemTime, to: &str| {
        f.authz
            .delegate(&alice, to, permissions.iter().copied(), pattern, until)
            .await
            .unwrap_err()
    };
    // Beyond what the delegator holds (a literal, and a wildcard).
    let err = refused(&["article.delete"], "article/42", until, "bob").await;
    assert!(
        matches!(&err, DelegationError::NotHeld { permission } if permission == "article.delete"),
        "{err}"
    );
    assert_eq!(err.code(), "delegation_not_held");
    let err = refused(&["article.*"], "article/42", until, "bob").await;
    assert!(matches!(err, DelegationError::NotHeld { .. }), "{err}");
    // An expiry in the past, or now.
    let now = crate::clock::Clock::now(&f.clock);
    for when in [now, now - Duration::from_secs(1)] {
        let err = refused(&["article.edit"], "article/42", when, "bob").await;
        assert!(matches!(err, DelegationError::ExpiryInPast), "{err}");
    }
    // Invalid patterns and permissions.
    for pattern in [
        "article",
        "Article/42",
        "/42",
        "article/",
        "article/4*",
        "article.x/1",
    ] {
        let err = refused(&["article.edit"], pattern, until, "bob").await;
        assert!(
            matches!(err, DelegationError::InvalidPattern { .. }),
            "{pattern}: {err}"
        );
    }
    for permission in ["Article.edit", "article..edit", "comment.edit"] {
        let err = refused(&[permission], "article/42", until, "bob").await;
        assert!(
            matches!(err, DelegationError::InvalidPermission { .. }),
            "{permission}: {err}"
        );
    }
    assert!(matches!(
        refused(&[], "article/42", until, "bob").await,
        DelegationError::NoPermissions
    ));
    assert!(matches!(
        refused(&["article.edit"], "article/42", until, "alice").await,
        DelegationError::InvalidDelegate(_)
    ));
    assert!(matches!(
        refused(&["article.edit"], "article/42", until, "").await,
        DelegationError::InvalidDelegate(_)
    ));
    // A wildcard the delegator holds is fine.
    let editor = Principal::new("erin").with_roles(["editor"]);
    f.authz
        .delegate(&editor, "bob", ["article.*"], "article/*", until)
        .await
        .unwrap();
    assert!(
        f.authz
            .check(&Principal::new("bob"), "publish", &article())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_delegation_ends_when_the_delegator_loses_the_permission() {
    let f = fixture();
    let alice = Principal::new("alice").with_roles(["author"]);
    f.authz
        .delegate(&alice, "bob", ["article.edit"], "article/42", f.hours(1))
        .await
        .unwrap();
    let bob = Principal::new("bob");
    assert!(f.authz.check(&bob, "edit", &article()).await.is_ok());
    f.authz
        .set_roles(BTreeMap::from([(
            "author".to_owned(),
            RoleDefinition::new(["article.read"]),
        )]))
        .unwrap();
    assert!(f.authz.check(&bob, "edit", &article()).await.is_err());
}

#[tokio::test]
async fn a_policy_deny_beats_a_delegation() {
    let f = fixture();
    let alice = Principal::new("alice").with_roles(["author"]);
    f.authz
        .delegate(&alice, "bob", ["article.edit"], "article/42", f.hours(1))
        .await
        .unwrap();
    let mut locked = article();
    locked.locked = true;
    let err = f
        .authz
        .check(&Principal::new("bob"), "edit", &locked)
        .await
        .unwrap_err();
    assert_eq!(err.reason, DenyReason::PolicyDenied);
}

#[tokio::test]
async fn audit_events() {
    let f = fixture();
    f.authz.set_policies(load(
        "policies:\n  - { id: no-drafts-for-readers, effect: deny, resource: article, when: { attr: principal.roles, op: contains, value: reader } }\n",
    ));
    let reader = Principal::new("rita")
        .with_roles(["reader"])
        .with_tenant("t1");
    let mut a = article();
    a.tenant = Some("t1".into());
    assert!(f.authz.check(&reader, "read", &a).await.is_err());
    assert_eq!(
        f.events(),
        [AuthEvent::AccessDenied {
            subject: "rita".into(),
            tenant: Some("t1".into()),
            requirement: "article.read on article/42".into(),
            deciding_policy: Some("no-drafts-for-readers".into()),
        }]
    );
    // Allows are silent by default...
    let author = Principal::new("alice")
        .with_roles(["author"])
        .with_tenant("t1");
    assert!(f.authz.check(&author, "read", &a).await.is_ok());
    assert!(f.events().is_empty());
    // ...and emitted when asked for, naming what allowed.
    f.authz.audit_allows(true);
    assert!(f.authz.check(&author, "read", &a).await.is_ok());
    assert_eq!(
        f.events(),
        [AuthEvent::AccessAllowed {
            subject: "alice".into(),
            tenant: Some("t1".into()),
            requirement: "article.read on article/42".into(),
            deciding_policy: Some("rbac".into()),
            delegation: None,
        }]
    );
    let d = f
        .authz
        .delegate(&author, "bob", ["article.edit"], "article/42", f.hours(1))
        .await
        .unwrap();
    let bob = Principal::new("bob").with_tenant("t1");
    assert!(f.authz.check(&bob, "edit", &a).await.is_ok());
    match f.events().as_slice() {
        [
            AuthEvent::AccessAllowed {
                deciding_policy,
                delegation,
                ..
            },
        ] => {
            assert_eq!(deciding_policy.as_deref(), Some("delegation"));
            assert_eq!(delegation.as_deref(), Some(d.id.as_str()));
        }
        other => panic!("{other:?}"),
    }
    f.authz.audit_allows(false);
    assert!(f.authz.check(&bob, "edit", &a).await.is_ok());
    assert!(f.events().is_empty());
}

#[test]
fn checks_are_send_for_axum_handlers() {
    fn send<T: Send>(_: &T) {}
    let authz = AuthorizationService::new();
    let (p, a, ctx) = (alice(), article(), Context::new());
    send(&authz.check(&p, "edit", &a));
    send(&authz.check_with(&p, "edit", &a, &ctx));
    send(&authz.delegate(&p, "bob", ["article.edit"], "article/42", SystemTime::now()));
}

#[tokio::test]
async fn context_reaches_the_policies() {
    let f = fixture();
    f.authz.set_policies(load(
        "policies:\n  - { id: office-hours, effect: allow, resource: article, when: { all: [{ attr: context.hour, op: ge, value: 8 }, { attr: context.hour, op: lt, value: 18 }] } }\n",
    ));
    let bob = Principal::new("bob");
    let at = |h: i64| Context::new().with("hour", h);
    assert!(
        f.authz
            .check_with(&bob, "read", &article(), &at(9))
            .await
            .is_ok()
    );
    assert!(
        f.authz
            .check_with(&bob, "read", &article(), &at(20))
            .await
            .is_err()
    );
    assert!(f.authz.check(&bob, "read", &article()).await.is_err());
}

/// A delegation store that always fails.
#[derive(Debug)]
struct Broken;

impl DelegationStore for Broken {
    fn grant<'a>(&'a self, _: &'a Delegation) -> StoreFuture<'a, ()> {
        Box::pin(async {
            Err(StoreError::Corrupt {
                backend: "test",
                detail: "broken",
            })
        })
    }
    fn revoke<'a>(&'a self, _: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async {
            Err(StoreError::Corrupt {
                backend: "test",
                detail: "broken",
            })
        })
    }
    fn list_for_delegate<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Vec<Delegation>> {
        Box::pin(async {
            Err(StoreError::Corrupt {
                backend: "test",
                detail: "broken",
            })
        })
    }
    fn purge_expired(&self, _: SystemTime) -> StoreFuture<'_, usize> {
        Box::pin(async {
            Err(StoreError::Corrupt {
                backend: "test",
                detail: "broken",
            })
        })
    }
}

#[tokio::test]
async fn a_failing_delegation_store_fails_closed_as_unavailable() {
    use ::axum::response::IntoResponse;

    let f = fixture();
    f.authz.set_delegation_store(Arc::new(Broken));
    let err = f
        .authz
        .check(&Principal::new("bob"), "edit", &article())
        .await
        .unwrap_err();
    assert_eq!(err.reason, DenyReason::Unavailable);
    assert_eq!(err.code(), "auth_unavailable");
    assert_eq!(f.denied_by().as_deref(), Some("unavailable"));
    let rejection = crate::axum::AuthRejection::from(err);
    assert_eq!(
        rejection.into_response().status(),
        http::StatusCode::SERVICE_UNAVAILABLE
    );
    // Checks decided before the delegations do not touch the store.
    let editor = Principal::new("erin").with_roles(["editor"]);
    assert!(f.authz.check(&editor, "edit", &article()).await.is_ok());
    let alice = Principal::new("alice").with_roles(["author"]);
    let err = f
        .authz
        .delegate(&alice, "bob", ["article.edit"], "article/42", f.hours(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "delegation_unavailable");
}

#[tokio::test]
async fn a_deny_is_the_guards_403() {
    use ::axum::response::IntoResponse;

    let f = fixture();
    let err = f
        .authz
        .check(&Principal::new("bob"), "edit", &article())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    let rejection = crate::axum::AuthRejection::from(err);
    assert_eq!(rejection.kind(), crate::axum::RejectionKind::Forbidden);
    let response = rejection.into_response();
    assert_eq!(response.status(), http::StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()[http::header::CONTENT_TYPE],
        "application/problem+json"
    );

    // Through the module, with its renderer.
    struct Plain;
    impl crate::axum::RejectionRenderer for Plain {
        fn render(&self, kind: crate::axum::RejectionKind) -> ::axum::response::Response {
            kind.code().into_response()
        }
    }
    let module = crate::AuthModule::builder()
        .tokens(crate::token::JwtTokenManager::new("k", [("k", [7u8; 32])]).unwrap())
        .rejection_renderer(Plain)
        .build()
        .unwrap();
    let response = module
        .check(&Principal::new("bob"), "edit", &article())
        .await
        .unwrap_err()
        .into_response();
    assert_eq!(response.status(), http::StatusCode::FORBIDDEN);
    assert!(
        response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_none_or(|v| v != "application/problem+json")
    );
}

#[tokio::test]
async fn the_memory_store_purges_expired_delegations() {
    let store = MemoryDelegationStore::new();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let mut d = Delegation {
        id: "d1".into(),
        delegator: "alice".into(),
        delegate: "bob".into(),
        permissions: vec!["article.edit".into()],
        resource_pattern: "article/42".into(),
        expires_at: now + Duration::from_secs(10),
        revoked: false,
        delegator_tenant: None,
        delegator_roles: vec![],
        delegator_grants: vec![],
    };
    store.grant(&d).await.unwrap();
    d.id = "d2".into();
    d.expires_at = now + Duration::from_secs(100);
    store.grant(&d).await.unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(
        store
            .purge_expired(now + Duration::from_secs(10))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.list_for_delegate("bob").await.unwrap().len(), 1);
    assert!(!store.revoke("d1").await.unwrap());
    assert!(store.revoke("d2").await.unwrap());
    assert_eq!(
        store
            .purge_expired(now + Duration::from_secs(100))
            .await
            .unwrap(),
        1
    );
    assert!(store.is_empty());
    assert!(store.list_for_delegate("bob").await.unwrap().is_empty());
}

#[test]
fn resource_patterns() {
    use super::delegation::{check_pattern, pattern_matches};
    assert_eq!(check_pattern("article/42"), Ok("article"));
    assert_eq!(check_pattern("article/*"), Ok("article"));
    assert_eq!(check_pattern("article/a/b"), Ok("article"));
    assert!(pattern_matches("article/42", "article", Some("42")));
    assert!(!pattern_matches("article/42", "article", Some("43")));
    assert!(!pattern_matches("article/42", "comment", Some("42")));
    assert!(!pattern_matches("article/42", "article", None));
    assert!(pattern_matches("article/*", "article", None));
    assert!(pattern_matches("article/*", "article", Some("7")));
    assert!(!pattern_matches("article/*", "articles", Some("7")));
}

// ------------------------------------- several documents, policy stores

const DRAFTS_DOC: &str = "
policies:
  - { id: read-drafts, effect: allow, resource: article, actions: [read], when: { attr: resource.status, op: equals, value: draft } }
";

const LOCKS_DOC: &str = "
policies:
  - { id: locked-no-read, effect: deny, resource: article, actions: [read], when: { attr: resource.locked, op: equals, value: true } }
  - { id: edit-all, effect: allow, resource: article, actions: [edit] }
";

fn load_documents(documents: &[(&str, &str)]) -> Result<PolicyEngine, PolicyError> {
    PolicyEngine::from_documents(&registry(), documents.iter().copied())
}

#[test]
fn documents_load_as_one_set_in_the_order_given() {
    let engine = load_documents(&[("drafts", DRAFTS_DOC), ("locks", LOCKS_DOC)]).unwrap();
    assert_eq!(
        engine.policy_ids().collect::<Vec<_>>(),
        ["read-drafts", "locked-no-read", "edit-all"]
    );
    assert_eq!(engine.combining(), CombiningAlgorithm::DenyOverrides);
    let mut locked = article();
    locked.locked = true;
    let read = |r: &Article| engine.evaluate(&alice(), "read", r, &Context::new());
    assert_eq!(read(&article()).deciding_policy, Some("read-drafts"));
    assert_eq!(read(&locked).deciding_policy, Some("locked-no-read"));
    let edit = engine.evaluate(&alice(), "edit", &article(), &Context::new());
    assert_eq!(edit.deciding_policy, Some("edit-all"));

    // first-applicable follows the documents' order.
    let allow = "combining: first-applicable\npolicies: [{ id: allow-all, effect: allow, resource: article }]";
    let deny = "policies: [{ id: deny-all, effect: deny, resource: article }]";
    for (documents, decider) in [
        ([("a", allow), ("b", deny)], "allow-all"),
        ([("a", deny), ("b", allow)], "deny-all"),
    ] {
        let engine = load_documents(&documents).unwrap();
        assert_eq!(engine.combining(), CombiningAlgorithm::FirstApplicable);
        let d = engine.evaluate(&alice(), "edit", &article(), &Context::new());
        assert_eq!(d.deciding_policy, Some(decider));
    }
    // Empty documents and no documents at all are fine.
    assert!(
        load_documents(&[("empty", ""), ("blank", "  \n")])
            .unwrap()
            .is_empty()
    );
    assert!(load_documents(&[]).unwrap().is_empty());
}

#[test]
fn a_document_error_names_the_document_and_the_key_path() {
    let bad = "policies:\n  - { id: ghost-reader, effect: allow, resource: ghost }\n";
    let err = load_documents(&[("drafts", DRAFTS_DOC), ("ghosts", bad)]).unwrap_err();
    assert!(
        matches!(&err, PolicyError::InDocument { document, error }
            if document == "ghosts" && matches!(**error, PolicyError::UnknownKind { .. })),
        "{err:?}"
    );
    assert_eq!(err.document(), Some("ghosts"));
    assert_eq!(err.path(), "policies[0].resource");
    assert_eq!(err.policy(), Some("ghost-reader"));
    assert_eq!(err.code(), "policy_unknown_kind");
    assert_eq!(
        err.to_string(),
        "policy document `ghosts`: policy `ghost-reader`, `policies[0].resource`: unknown resource kind `ghost`; register its type with `SchemaRegistry::register`"
    );

    let err = load_documents(&[("broken", "policies: [")]).unwrap_err();
    assert_eq!(err.document(), Some("broken"));
    assert_eq!(err.code(), "policy_syntax");

    let huge = format!("# {}", "x".repeat(MAX_DOCUMENT_BYTES));
    let err = load_documents(&[("huge", &huge)]).unwrap_err();
    assert_eq!(err.document(), Some("huge"));
    assert_eq!(err.code(), "policy_syntax");

    // A duplicate within one document is that document's error.
    let twice = "policies:\n  - { id: p, effect: allow, resource: article }\n  - { id: p, effect: deny, resource: article }\n";
    let err = load_documents(&[("twice", twice)]).unwrap_err();
    assert_eq!(err.document(), Some("twice"));
    assert_eq!(err.path(), "policies[1].id");
    assert_eq!(err.code(), "policy_duplicate_id");
    // The single-document loader's errors carry no document.
    assert_eq!(load_err(twice).document(), None);
}

#[test]
fn a_policy_id_used_in_two_documents_names_both() {
    let again = "policies:\n  - { id: other, effect: allow, resource: article }\n  - { id: edit-all, effect: deny, resource: article }\n";
    let err = load_documents(&[("locks", LOCKS_DOC), ("again", again)]).unwrap_err();
    assert_eq!(
        err,
        PolicyError::DuplicateIdAcrossDocuments {
            id: "edit-all".into(),
            document: "again".into(),
            path: "policies[1].id".into(),
            first_document: "locks".into(),
            first_path: "policies[1].id".into(),
        }
    );
    assert_eq!(err.code(), "policy_duplicate_id");
    assert_eq!(err.document(), Some("again"));
    assert_eq!(err.policy(), Some("edit-all"));
    let text = err.to_string();
    assert!(
        text.contains("`again`") && text.contains("`locks`"),
        "{text}"
    );
}

#[test]
fn documents_agree_on_one_combining_algorithm() {
    let permit = "combining: permit-overrides";
    let first = "combining: first-applicable";
    let err = load_documents(&[("a", permit), ("b", DRAFTS_DOC), ("c", first)]).unwrap_err();
    assert_eq!(err.document(), Some("c"));
    assert_eq!(err.path(), "combining");
    assert_eq!(err.code(), "policy_invalid_value");
    let text = err.to_string();
    assert!(
        text.contains("first-applicable")
            && text.contains("permit-overrides")
            && text.contains("`a`"),
        "{text}"
    );
    // The same algorithm twice, or set once: that one.
    let engine = load_documents(&[("a", permit), ("b", DRAFTS_DOC), ("c", permit)]).unwrap();
    assert_eq!(engine.combining(), CombiningAlgorithm::PermitOverrides);
    let engine = load_documents(&[("b", DRAFTS_DOC), ("c", first)]).unwrap();
    assert_eq!(engine.combining(), CombiningAlgorithm::FirstApplicable);
    // An unknown name is the document's own error.
    let err = load_documents(&[("a", "combining: best")]).unwrap_err();
    assert_eq!((err.document(), err.path()), (Some("a"), "combining"));
}

#[test]
fn documents_declare_their_own_context_with_one_type() {
    let uses = |name: &str| {
        format!(
            "policies: [{{ id: {name}, effect: allow, resource: article, when: {{ attr: context.level, op: ge, value: 3 }} }}]"
        )
    };
    let declared = format!("context:\n  level: integer\n{}", uses("a-level"));
    let also = format!("context:\n  level: integer\n{}", uses("b-level"));
    assert_eq!(
        load_documents(&[("a", &declared), ("b", &also)])
            .unwrap()
            .len(),
        2
    );
    // Each document declares what it reads.
    let err = load_documents(&[("a", &declared), ("b", &uses("b-level"))]).unwrap_err();
    assert_eq!(err.document(), Some("b"));
    assert_eq!(err.code(), "policy_unknown_attribute");
    // One attribute, two types.
    let other = "context:\n  level: string\n";
    let err = load_documents(&[("a", &declared), ("b", other)]).unwrap_err();
    assert_eq!((err.document(), err.path()), (Some("b"), "context.level"));
    assert!(err.to_string().contains("in the document `a`"), "{err}");
}

#[test]
fn document_names_are_unique_and_bounded() {
    let err = load_documents(&[("a", ""), ("a", "")]).unwrap_err();
    assert_eq!((err.document(), err.path()), (Some("a"), "."));
    assert_eq!(err.code(), "policy_invalid_value");
    let err = load_documents(&[("", "")]).unwrap_err();
    assert_eq!(err.document(), Some(""));
    let long = "n".repeat(crate::store::MAX_ID_LEN + 1);
    assert!(load_documents(&[(&long, "")]).is_err());
}

#[tokio::test]
async fn the_memory_policy_store_keeps_documents_by_name() {
    let store = MemoryPolicyStore::new();
    assert!(store.is_empty());
    assert_eq!(store.revision().await.unwrap(), 0);
    let before = SystemTime::now();
    store.put("locks", LOCKS_DOC).await.unwrap();
    store.put("drafts", "first text").await.unwrap();
    store.put("drafts", DRAFTS_DOC).await.unwrap();
    assert_eq!(store.revision().await.unwrap(), 3);
    let listed = store.list().await.unwrap();
    let names: Vec<_> = listed.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["drafts", "locks"]);
    assert_eq!(listed[0].text, DRAFTS_DOC);
    assert!(listed.iter().all(|d| d.updated_at >= before));
    assert!(store.remove("drafts").await.unwrap());
    assert!(!store.remove("drafts").await.unwrap());
    assert_eq!(store.revision().await.unwrap(), 4);
    assert_eq!(store.len(), 1);
    for name in ["", &"n".repeat(crate::store::MAX_ID_LEN + 1)] {
        assert!(matches!(
            store.put(name, "").await,
            Err(StoreError::InvalidId { .. })
        ));
        assert!(matches!(
            store.remove(name).await,
            Err(StoreError::InvalidId { .. })
        ));
    }
    assert_eq!(store.revision().await.unwrap(), 4);
}

#[tokio::test]
async fn reloading_swaps_every_document_in_or_none() {
    let f = fixture();
    let store = MemoryPolicyStore::new();
    let registry = registry();
    store.put("drafts", DRAFTS_DOC).await.unwrap();
    store.put("locks", LOCKS_DOC).await.unwrap();
    assert_eq!(f.authz.policy_revision(), None);
    assert_eq!(f.authz.reload_policies(&store, &registry).await.unwrap(), 3);
    assert_eq!(f.authz.policy_revision(), Some(2));
    let bob = Principal::new("bob");
    let mut locked = article();
    locked.locked = true;
    assert!(f.authz.check(&bob, "read", &article()).await.is_ok());
    assert!(f.authz.check(&bob, "read", &locked).await.is_err());
    assert!(f.authz.check(&bob, "edit", &article()).await.is_ok());

    // A bad document: refused, the three policies stay in force.
    let dup = "policies: [{ id: edit-all, effect: deny, resource: article }]";
    store.put("more", dup).await.unwrap();
    let err = f
        .authz
        .reload_policies(&store, &registry)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PolicyReloadError::Invalid(PolicyError::DuplicateIdAcrossDocuments { document, first_document, .. })
            if document == "more" && first_document == "locks"),
        "{err:?}"
    );
    assert_eq!(err.code(), "policy_duplicate_id");
    assert_eq!(f.authz.policies().len(), 3);
    assert_eq!(f.authz.policy_revision(), Some(2));
    assert!(f.authz.check(&bob, "edit", &article()).await.is_ok());
    // Polling retries the bad set, and keeps refusing it.
    assert!(
        f.authz
            .reload_policies_if_changed(&store, &registry)
            .await
            .is_err()
    );
    assert_eq!(f.authz.policies().len(), 3);

    // Removing documents removes their policies.
    assert!(store.remove("more").await.unwrap());
    assert!(store.remove("locks").await.unwrap());
    assert_eq!(
        f.authz
            .reload_policies_if_changed(&store, &registry)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(f.authz.policy_revision(), Some(5));
    assert_eq!(
        f.authz
            .reload_policies_if_changed(&store, &registry)
            .await
            .unwrap(),
        None
    );
    assert!(f.authz.check(&bob, "read", &locked).await.is_ok());
    assert!(f.authz.check(&bob, "edit", &article()).await.is_err());

    // Policies set by hand forget the revision, so the next poll reloads.
    f.authz.set_policies(PolicyEngine::default());
    assert_eq!(f.authz.policy_revision(), None);
    assert_eq!(
        f.authz
            .reload_policies_if_changed(&store, &registry)
            .await
            .unwrap(),
        Some(1)
    );
}

#[tokio::test]
async fn a_failing_policy_store_keeps_the_policies_in_force() {
    #[derive(Debug)]
    struct Down;
    impl PolicyStore for Down {
        fn put<'a>(&'a self, _: &'a str, _: &'a str) -> StoreFuture<'a, ()> {
            Box::pin(std::future::ready(Err(down())))
        }
        fn remove<'a>(&'a self, _: &'a str) -> StoreFuture<'a, bool> {
            Box::pin(std::future::ready(Err(down())))
        }
        fn list(&self) -> StoreFuture<'_, Vec<PolicyDocument>> {
            Box::pin(std::future::ready(Err(down())))
        }
        fn revision(&self) -> StoreFuture<'_, u64> {
            Box::pin(std::future::ready(Ok(7)))
        }
    }
    fn down() -> StoreError {
        StoreError::Corrupt {
            backend: "test",
            detail: "down",
        }
    }
    let f = fixture();
    f.authz.set_policies(load(AUTHORS_EDIT_DRAFTS));
    let err = f
        .authz
        .reload_policies(&Down, &registry())
        .await
        .unwrap_err();
    assert!(matches!(err, PolicyReloadError::Store(_)), "{err:?}");
    assert_eq!(err.code(), "policy_store_unavailable");
    assert_eq!(f.authz.policies().len(), 1);
    assert_eq!(f.authz.policy_revision(), None);
}

#[tokio::test]
async fn put_checked_refuses_a_document_that_would_not_load() {
    let store = MemoryPolicyStore::new();
    let registry = registry();
    assert_eq!(
        put_checked(&store, &registry, "locks", LOCKS_DOC)
            .await
            .unwrap(),
        2
    );
    let dup = "policies: [{ id: edit-all, effect: deny, resource: article }]";
    let err = put_checked(&store, &registry, "dup", dup)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "policy_duplicate_id");
    let bad = "policies: [{ id: x, effect: allow, resource: ghost }]";
    let err = put_checked(&store, &registry, "bad", bad)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "policy_unknown_kind");
    assert_eq!(store.len(), 1);
    // Replacing a document is checked without its old version.
    assert_eq!(
        put_checked(&store, &registry, "locks", dup).await.unwrap(),
        1
    );
    assert_eq!(
        put_checked(&store, &registry, "drafts", DRAFTS_DOC)
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        put_checked(&store, &registry, "", "").await,
        Err(PolicyReloadError::Store(StoreError::InvalidId { .. }))
    ));
}
