//! Differential tests: our RBAC against casbin-rs and our ABAC engine
//! against cedar-policy, on random inputs from a seeded generator. Every
//! disagreement fails the test; the counts printed show that both outcomes
//! were exercised. Set `LEXIGRAM_DIFF_SEED` to replay another seed (the seed
//! is printed).
//!
//! # RBAC against casbin-rs
//!
//! 100 000 permission checks (`AuthorizationService::decide_permission`)
//! and 100 000 requirement expressions (`AuthorizationService::evaluate`),
//! against casbin's `enforce` on the equivalent model, in batches of 1 000
//! over one random role graph each: up to 18 roles, either a random DAG
//! (each role inheriting some lower-numbered ones) or a chain (depth up to
//! 18, so casbin's role manager gets a hop limit of 32, as in
//! `auth-runtime/benches/rbac.rs`); 0 to 3 grants per role; 16 principals
//! holding 0 to 3 roles (some undefined) and a few direct grants.
//!
//! Grants include wildcards. casbin has no notion of our dotted grants, so
//! each grant is a `p` policy `(subject, grant, kind)`: a literal grant is
//! compared with `==`, a wildcard grant is turned into an anchored regular
//! expression for casbin's `regexMatch` (`*` as a middle segment is one
//! segment, `[a-z0-9_-]+`; as the last segment one or more,
//! `[a-z0-9_-]+([.][a-z0-9_-]+)*`), which is the grammar's definition
//! written independently of our matcher. Queries include permissions no
//! role mentions, up to four segments, and invalid names (denied by both).
//!
//! Requirement expressions (`all`, `any`, `not` over permissions, roles and
//! `authenticated`) are checked against the same expression evaluated on
//! casbin's answers: `enforce` for a permission, the role manager's
//! `has_link` for a role.
//!
//! One deliberate difference is kept out: a principal's role that no
//! definition names is ignored by us (it is neither held nor grants
//! anything), while casbin counts any `g` link as held. The generator gives
//! principals such roles, but links only defined roles in casbin.
//!
//! # ABAC against cedar-policy
//!
//! 100 000 checks of `PolicyEngine::evaluate` (plus the compiled rules of
//! `#[derive(Policy)]`) against cedar's `Authorizer::is_authorized`, with
//! the policy set regenerated every 500 checks: 1 to 8 random `allow` /
//! `deny` policies as YAML for us (`combining: deny-overrides`, every
//! priority 0) and as `permit` / `forbid` for cedar, over two resource
//! kinds. Cedar's semantics: default deny, a satisfied `forbid` overrides
//! every `permit`, so ours allows iff `effect == Some(Allow)` and cedar iff
//! `Decision::Allow`. Entities are built per request from the principal and
//! the resource, as an application would.
//!
//! Conditions nest `all` / `any` / `not` (cedar `&&`, `||`, `!`) over
//! equality, inequality, membership (`in` / `not-in` a literal list: cedar
//! `[..].contains(x)`; `contains` on a list), integer comparisons (`lt`,
//! `le`, `gt`, `ge`, against literals and `${context.hour}`), ownership
//! (`resource.owner` against `${principal.subject}`), `starts-with` and
//! substring `contains` (cedar `like "p*"`, `like "*s*"`) and `exists`
//! (cedar `has`).
//!
//! Missing attributes (an `Option` field that is `None`, a principal
//! without a tenant, an absent context value) are where the two languages
//! differ by design. We use Kleene logic: a comparison reading a missing
//! attribute is *not applicable*, `any` with a true item is true, `not` of
//! not applicable stays not applicable. In cedar reading a missing
//! attribute is an error that aborts the whole policy (`false || error` is
//! an error, `!error` is an error), and an erroring policy is skipped. The
//! two agree when such a comparison is a top-level conjunct of the
//! condition (either way the policy does not apply unless every conjunct
//! holds), so the generator puts comparisons of optional attributes there
//! only; `exists` / `has` never reads the value and appears anywhere.
//! Priorities and the other combining algorithms have no cedar
//! counterpart and are not generated.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use casbin::{CoreApi, DefaultModel, DefaultRoleManager, Enforcer, MemoryAdapter, MgmtApi};
use cedar_policy::{
    Authorizer, Context as CedarContext, Decision as CedarDecision, Entities, Entity, EntityId,
    EntityTypeName, EntityUid, PolicySet, Request, RestrictedExpression,
};
use lexigram_auth::abac::{Context, Effect, PolicyEngine, SchemaRegistry};
use lexigram_auth::authz::{AuthorizationService, Expr, RoleDefinition};
use lexigram_auth::{Policy, Principal};
use serde_json::{Value, json};

const DEFAULT_SEED: u64 = 0x005e_ed0f_d1ff;

fn seed() -> u64 {
    std::env::var("LEXIGRAM_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// xorshift64*, seeded through splitmix64 so that small seeds spread.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Self((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`; the bias is negligible for small `n`).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `lo..=hi`, as an attribute value.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::try_from(self.next() % (hi - lo + 1).unsigned_abs()).unwrap()
    }

    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// `k` distinct items (fewer if there are fewer), in random order.
    fn sample<T: Clone>(&mut self, items: &[T], k: usize) -> Vec<T> {
        let mut idx: Vec<usize> = (0..items.len()).collect();
        for i in (1..idx.len()).rev() {
            idx.swap(i, self.below(i + 1));
        }
        idx.into_iter().take(k).map(|i| items[i].clone()).collect()
    }
}

/// Counts of one comparison run, printed at the end.
#[derive(Default)]
struct Tally {
    cases: usize,
    allows: usize,
    denies: usize,
    disagreements: usize,
    examples: Vec<String>,
}

impl Tally {
    fn record(&mut self, ours: bool, theirs: bool, describe: impl FnOnce() -> String) {
        self.cases += 1;
        if ours == theirs {
            if ours {
                self.allows += 1;
            } else {
                self.denies += 1;
            }
        } else {
            self.disagreements += 1;
            if self.examples.len() < 5 {
                self.examples
                    .push(format!("ours {ours}, peer {theirs}: {}", describe()));
            }
        }
    }

    fn report(&self, name: &str, seed: u64) {
        println!(
            "{name}: {} cases, {} allowed, {} denied, {} disagreements (seed {seed})",
            self.cases, self.allows, self.denies, self.disagreements
        );
        assert_eq!(
            self.disagreements,
            0,
            "{name}: disagreements (seed {seed}):\n{}",
            self.examples.join("\n\n")
        );
        assert!(self.allows > self.cases / 20, "{name}: too few allows");
        assert!(self.denies > self.cases / 20, "{name}: too few denies");
    }
}

// ================================================================== RBAC

const RBAC_BATCHES: usize = 100;
const RBAC_CASES_PER_BATCH: usize = 1_000;
const MAX_ROLES: usize = 18;
const USERS: usize = 16;
const CASBIN_MAX_HIERARCHY: usize = 32;

const CASBIN_MODEL: &str = r#"
[request_definition]
r = sub, perm

[policy_definition]
p = sub, perm, kind

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && ((p.kind == "literal" && r.perm == p.perm) || (p.kind == "pattern" && regexMatch(r.perm, p.perm)))
"#;

const ROLE_NAMES: [&str; MAX_ROLES] = [
    "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
    "r15", "r16", "r17",
];

/// Roles that no definition names (principals may still hold them).
const GHOST_ROLES: [&str; 2] = ["ghost", "r99"];

const USER_NAMES: [&str; USERS] = [
    "u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10", "u11", "u12", "u13", "u14",
    "u15",
];

/// Literal grants and the permissions most queries ask for.
const PERMISSIONS: [&str; 18] = [
    "articles.read",
    "articles.write",
    "articles.delete",
    "users.read",
    "users.write",
    "users.delete",
    "billing.read",
    "billing.write",
    "billing.delete",
    "articles.comments.read",
    "articles.comments.write",
    "articles.comments.delete",
    "users.sessions.read",
    "users.sessions.write",
    "users.sessions.delete",
    "billing.invoices.read",
    "billing.invoices.write",
    "billing.invoices.delete",
];

const WILDCARD_GRANTS: [&str; 11] = [
    "*",
    "articles.*",
    "users.*",
    "*.read",
    "*.delete",
    "*.*",
    "articles.*.read",
    "billing.invoices.*",
    "*.comments.*",
    "*.sessions.write",
    "*.*.read",
];

/// Queries nobody grants literally, and invalid names (always denied).
const OTHER_QUERIES: [&str; 8] = [
    "reports.read",
    "articles.comments.read.own",
    "billing.invoices.read.pdf",
    "articles",
    "Articles.read",
    "articles..read",
    "articles.*",
    "",
];

fn random_query(rng: &mut Rng) -> &'static str {
    if rng.percent(85) {
        rng.pick(&PERMISSIONS)
    } else {
        rng.pick(&OTHER_QUERIES)
    }
}

fn random_grant(rng: &mut Rng) -> &'static str {
    if rng.percent(15) {
        rng.pick(&WILDCARD_GRANTS)
    } else {
        rng.pick(&PERMISSIONS)
    }
}

/// A grant as casbin's `(perm, kind)`: literal, or an anchored regular
/// expression for a wildcard grant.
fn casbin_grant(grant: &str) -> (String, &'static str) {
    if !grant.split('.').any(|s| s == "*") {
        return (grant.to_owned(), "literal");
    }
    let segments: Vec<&str> = grant.split('.').collect();
    let mut re = String::from("^");
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            re.push_str("[.]");
        }
        let last = i + 1 == segments.len();
        match *segment {
            "*" if last => re.push_str("[a-z0-9_-]+([.][a-z0-9_-]+)*"),
            "*" => re.push_str("[a-z0-9_-]+"),
            literal => re.push_str(literal),
        }
    }
    re.push('$');
    (re, "pattern")
}

/// One random role graph with its principals.
struct RbacScenario {
    /// Per defined role: its parents and its grants.
    roles: Vec<(Vec<usize>, Vec<&'static str>)>,
    /// Per user: roles held and direct grants.
    users: Vec<(Vec<&'static str>, Vec<&'static str>)>,
}

impl RbacScenario {
    fn random(rng: &mut Rng) -> Self {
        let n = rng.between(1, MAX_ROLES);
        let chain = rng.percent(25);
        let density = rng.between(5, 40) as u64;
        let roles = (0..n)
            .map(|i| {
                let parents = if chain {
                    if i > 0 { vec![i - 1] } else { Vec::new() }
                } else {
                    let mut ps: Vec<usize> = (0..i).filter(|_| rng.percent(density)).collect();
                    ps.truncate(3);
                    ps
                };
                let grants = (0..rng.between(0, 3)).map(|_| random_grant(rng)).collect();
                (parents, grants)
            })
            .collect();
        let users = (0..USERS)
            .map(|_| {
                let held = (0..rng.between(0, 3))
                    .map(|_| {
                        if rng.percent(10) {
                            rng.pick(&GHOST_ROLES)
                        } else {
                            ROLE_NAMES[rng.below(n)]
                        }
                    })
                    .collect();
                let direct = if rng.percent(20) {
                    (0..rng.between(1, 2)).map(|_| random_grant(rng)).collect()
                } else {
                    Vec::new()
                };
                (held, direct)
            })
            .collect();
        Self { roles, users }
    }

    fn definitions(&self) -> BTreeMap<String, RoleDefinition> {
        self.roles
            .iter()
            .enumerate()
            .map(|(i, (parents, grants))| {
                let def = RoleDefinition::new(grants.iter().copied())
                    .inherits(parents.iter().map(|&p| ROLE_NAMES[p]));
                (ROLE_NAMES[i].to_owned(), def)
            })
            .collect()
    }

    fn principal(&self, user: usize) -> Principal {
        let (held, direct) = &self.users[user];
        Principal::new(USER_NAMES[user])
            .with_roles(held.iter().copied())
            .with_permissions(direct.iter().copied())
    }

    fn enforcer(&self, rt: &tokio::runtime::Runtime) -> Enforcer {
        rt.block_on(async {
            let model = DefaultModel::from_str(CASBIN_MODEL).await.unwrap();
            let mut e = Enforcer::new(model, MemoryAdapter::default())
                .await
                .unwrap();
            let rm = DefaultRoleManager::new(CASBIN_MAX_HIERARCHY);
            e.set_role_manager(Arc::new(parking_lot::RwLock::new(rm)))
                .unwrap();
            let defined = self.roles.len();
            let mut g: Vec<Vec<String>> = Vec::new();
            for (i, (parents, _)) in self.roles.iter().enumerate() {
                for &p in parents {
                    g.push(vec![ROLE_NAMES[i].to_owned(), ROLE_NAMES[p].to_owned()]);
                }
            }
            let mut p: Vec<Vec<String>> = Vec::new();
            for (i, (_, grants)) in self.roles.iter().enumerate() {
                for grant in grants {
                    let (perm, kind) = casbin_grant(grant);
                    p.push(vec![ROLE_NAMES[i].to_owned(), perm, kind.to_owned()]);
                }
            }
            for (u, (held, direct)) in self.users.iter().enumerate() {
                for role in held {
                    // Only defined roles: an undefined one is not held (see the module docs).
                    if ROLE_NAMES[..defined].contains(role) {
                        g.push(vec![USER_NAMES[u].to_owned(), (*role).to_owned()]);
                    }
                }
                for grant in direct {
                    let (perm, kind) = casbin_grant(grant);
                    p.push(vec![USER_NAMES[u].to_owned(), perm, kind.to_owned()]);
                }
            }
            // casbin refuses duplicate rules in one call: deduplicate.
            g.sort();
            g.dedup();
            p.sort();
            p.dedup();
            if !g.is_empty() {
                e.add_grouping_policies(g).await.unwrap();
            }
            if !p.is_empty() {
                e.add_policies(p).await.unwrap();
            }
            e
        })
    }

    fn describe(&self, user: usize) -> String {
        let mut s = String::new();
        for (i, (parents, grants)) in self.roles.iter().enumerate() {
            let parents: Vec<&str> = parents.iter().map(|&p| ROLE_NAMES[p]).collect();
            let _ = writeln!(
                s,
                "  {}: inherits {parents:?}, grants {grants:?}",
                ROLE_NAMES[i]
            );
        }
        let (held, direct) = &self.users[user];
        let _ = write!(
            s,
            "  principal {}: roles {held:?}, direct {direct:?}",
            USER_NAMES[user]
        );
        s
    }
}

/// A random requirement expression; its slices are leaked (a few thousand
/// small ones per run), since `Expr` holds `&'static` items.
fn random_expr(rng: &mut Rng, depth: usize) -> Expr {
    let leaf_only = depth >= 3;
    match rng.below(if leaf_only { 7 } else { 10 }) {
        0..=3 => Expr::Permission(random_query(rng)),
        4 | 5 => Expr::Role(if rng.percent(90) {
            rng.pick(&ROLE_NAMES)
        } else {
            rng.pick(&GHOST_ROLES)
        }),
        6 => Expr::Authenticated,
        k @ (7 | 8) => {
            let items: Vec<Expr> = (0..rng.between(0, 3))
                .map(|_| random_expr(rng, depth + 1))
                .collect();
            if k == 7 {
                Expr::All(items.leak())
            } else {
                Expr::Any(items.leak())
            }
        }
        _ => Expr::Not(Box::leak(Box::new(random_expr(rng, depth + 1)))),
    }
}

/// The expression evaluated on casbin's answers.
fn casbin_expr(enforcer: &Enforcer, user: &str, expr: &Expr) -> bool {
    match expr {
        Expr::Authenticated => true,
        Expr::Role(role) => enforcer
            .get_role_manager()
            .read()
            .has_link(user, role, None),
        Expr::Permission(permission) => enforcer.enforce((user, *permission)).unwrap(),
        Expr::All(items) => items.iter().all(|e| casbin_expr(enforcer, user, e)),
        Expr::Any(items) => items.iter().any(|e| casbin_expr(enforcer, user, e)),
        Expr::Not(inner) => !casbin_expr(enforcer, user, inner),
        other => panic!("not generated: {other:?}"),
    }
}

#[test]
fn rbac_agrees_with_casbin() {
    let seed = seed();
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut rng = Rng::new(seed);
    let authz = AuthorizationService::new();
    let mut permissions = Tally::default();
    let mut expressions = Tally::default();
    let mut wildcard_allows = 0usize;
    for _ in 0..RBAC_BATCHES {
        let scenario = RbacScenario::random(&mut rng);
        // One service throughout: each batch replaces the graph in force.
        authz.set_roles(scenario.definitions()).unwrap();
        let enforcer = scenario.enforcer(&rt);
        let principals: Vec<Principal> = (0..USERS).map(|u| scenario.principal(u)).collect();
        let exprs: Vec<Expr> = (0..64).map(|_| random_expr(&mut rng, 0)).collect();
        for _ in 0..RBAC_CASES_PER_BATCH {
            let user = rng.below(USERS);
            let query = random_query(&mut rng);
            let ours = authz.decide_permission(&principals[user], query).is_allow();
            let theirs = enforcer.enforce((USER_NAMES[user], query)).unwrap();
            if ours && theirs && !literal_grant(&scenario, user, query) {
                wildcard_allows += 1;
            }
            permissions.record(ours, theirs, || {
                format!("permission `{query}`\n{}", scenario.describe(user))
            });

            let user = rng.below(USERS);
            let expr = &exprs[rng.below(exprs.len())];
            let ours = authz.evaluate(&principals[user], expr).is_allow();
            let theirs = casbin_expr(&enforcer, USER_NAMES[user], expr);
            expressions.record(ours, theirs, || {
                format!("expression {expr:?}\n{}", scenario.describe(user))
            });
        }
    }
    println!(
        "rbac vs casbin: {:.1} s; {wildcard_allows} permission allows came from wildcard grants only",
        started.elapsed().as_secs_f64()
    );
    permissions.report("rbac permissions vs casbin", seed);
    expressions.report("rbac expressions vs casbin", seed);
    assert!(wildcard_allows > 1_000, "too few wildcard allows");
}

/// Whether some role the user holds (with inheritance) or a direct grant
/// names `query` literally: to count the allows wildcards alone gave.
fn literal_grant(scenario: &RbacScenario, user: usize, query: &str) -> bool {
    let (held, direct) = &scenario.users[user];
    if direct.contains(&query) {
        return true;
    }
    let defined = scenario.roles.len();
    let mut stack: Vec<usize> = held
        .iter()
        .filter_map(|r| ROLE_NAMES[..defined].iter().position(|n| n == r))
        .collect();
    let mut seen = HashSet::new();
    while let Some(role) = stack.pop() {
        if !seen.insert(role) {
            continue;
        }
        let (parents, grants) = &scenario.roles[role];
        if grants.contains(&query) {
            return true;
        }
        stack.extend(parents);
    }
    false
}

// ================================================================== ABAC

const ABAC_BATCHES: usize = 200;
const ABAC_CASES_PER_BATCH: usize = 500;

const SUBJECTS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const STATUSES: [&str; 4] = ["draft", "review", "published", "archived"];
const TAGS: [&str; 4] = ["rust", "auth", "draft", "internal"];
const ROLES: [&str; 3] = ["editor", "viewer", "admin"];
const TENANTS: [&str; 2] = ["t1", "t2"];
const DOC_IDS: [&str; 3] = ["d1", "d2", "d3"];
const POLICY_ACTIONS: [&str; 4] = ["read", "edit", "delete", "share"];
/// What requests ask: the policies' actions and one no policy names.
const REQUEST_ACTIONS: [&str; 5] = ["read", "edit", "delete", "share", "publish"];
/// The list-valued attributes the generator names.
const LIST_ATTRIBUTES: [&str; 2] = ["resource.tags", "principal.roles"];
/// Prefixes and substrings for `starts-with` and `contains` (no `*`, which
/// cedar's `like` would read as a wildcard).
const FRAGMENTS: [&str; 6] = ["a", "d", "ra", "bo", "ish", "x"];

/// A document: the resource kind most policies name. The two compiled
/// rules are mirrored in every cedar policy set.
#[derive(Debug, Clone, Policy)]
#[policy(kind = "doc")]
#[policy(deny(id = "doc-archived-frozen", action = "edit",
    when = resource.status == "archived"))]
#[policy(allow(id = "doc-owner-reads", action = "read",
    when = principal.subject == resource.owner))]
struct Doc {
    #[policy(id)]
    id: String,
    owner: String,
    status: String,
    level: i64,
    tags: Vec<String>,
    reviewer: Option<String>,
}

/// A second kind, so that policies of another kind must be ignored.
#[derive(Debug, Clone, Policy)]
#[policy(kind = "folder")]
struct Folder {
    #[policy(id)]
    id: String,
    owner: String,
    level: i64,
}

/// The compiled rules of `Doc`, in cedar.
const CEDAR_COMPILED_RULES: &str = r#"
forbid(principal, action == Action::"edit", resource is Doc) when { resource.status == "archived" };
permit(principal, action == Action::"read", resource is Doc) when { principal.subject == resource.owner };
"#;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Doc,
    Folder,
}

impl Kind {
    fn yaml(self) -> &'static str {
        match self {
            Self::Doc => "doc",
            Self::Folder => "folder",
        }
    }

    fn cedar(self) -> &'static str {
        match self {
            Self::Doc => "Doc",
            Self::Folder => "Folder",
        }
    }
}

/// The right-hand side of a leaf.
#[derive(Clone, Debug)]
enum Operand {
    Str(&'static str),
    Int(i64),
    List(Vec<&'static str>),
    /// An attribute path such as `principal.subject`.
    Ref(&'static str),
    /// `exists`: present (`true`) or absent.
    Exists(bool),
}

/// A condition, rendered both ways.
#[derive(Clone, Debug)]
enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Leaf {
        attr: &'static str,
        op: &'static str,
        operand: Operand,
    },
}

fn leaf(attr: &'static str, op: &'static str, operand: Operand) -> Cond {
    Cond::Leaf { attr, op, operand }
}

impl Cond {
    fn yaml(&self) -> Value {
        match self {
            Self::All(items) => json!({ "all": items.iter().map(Self::yaml).collect::<Vec<_>>() }),
            Self::Any(items) => json!({ "any": items.iter().map(Self::yaml).collect::<Vec<_>>() }),
            Self::Not(inner) => json!({ "not": inner.yaml() }),
            Self::Leaf { attr, op, operand } => {
                let value = match operand {
                    Operand::Str(s) => json!(s),
                    Operand::Int(i) => json!(i),
                    Operand::List(l) => json!(l),
                    Operand::Ref(path) => json!(format!("${{{path}}}")),
                    Operand::Exists(b) => json!(b),
                };
                json!({ "attr": attr, "op": op, "value": value })
            }
        }
    }

    fn cedar(&self) -> String {
        let join = |items: &[Self], sep: &str| {
            let parts: Vec<String> = items.iter().map(|c| format!("({})", c.cedar())).collect();
            parts.join(sep)
        };
        match self {
            Self::All(items) => join(items, " && "),
            Self::Any(items) => join(items, " || "),
            Self::Not(inner) => format!("!({})", inner.cedar()),
            Self::Leaf { attr, op, operand } => {
                let value = match operand {
                    Operand::Str(s) => format!("\"{s}\""),
                    Operand::Int(i) => i.to_string(),
                    Operand::List(l) => {
                        let items: Vec<String> = l.iter().map(|s| format!("\"{s}\"")).collect();
                        format!("[{}]", items.join(", "))
                    }
                    Operand::Ref(path) => (*path).to_owned(),
                    Operand::Exists(present) => {
                        let (scope, name) = attr.split_once('.').unwrap();
                        let has = format!("{scope} has {name}");
                        return if *present { has } else { format!("!({has})") };
                    }
                };
                let like = |pattern: String| format!("{attr} like \"{pattern}\"");
                match (*op, operand) {
                    ("equals", _) => format!("{attr} == {value}"),
                    ("not-equals", _) => format!("{attr} != {value}"),
                    ("in", _) => format!("{value}.contains({attr})"),
                    ("not-in", _) => format!("!({value}.contains({attr}))"),
                    // `contains` on a list is membership, on a string a substring.
                    ("contains", _) if LIST_ATTRIBUTES.contains(attr) => {
                        format!("{attr}.contains({value})")
                    }
                    ("contains", Operand::Str(s)) => like(format!("*{s}*")),
                    ("starts-with", Operand::Str(s)) => like(format!("{s}*")),
                    ("lt", _) => format!("{attr} < {value}"),
                    ("le", _) => format!("{attr} <= {value}"),
                    ("gt", _) => format!("{attr} > {value}"),
                    ("ge", _) => format!("{attr} >= {value}"),
                    other => panic!("not generated: {other:?}"),
                }
            }
        }
    }
}

fn comparison(rng: &mut Rng) -> &'static str {
    rng.pick(&["lt", "le", "gt", "ge"])
}

/// A leaf over attributes that are never missing (or `exists`, which reads
/// no value): safe anywhere in a condition.
fn safe_leaf(rng: &mut Rng, kind: Kind) -> Cond {
    let doc = kind == Kind::Doc;
    loop {
        let cond = match rng.below(16) {
            0 | 1 => leaf(
                "resource.owner",
                if rng.percent(80) {
                    "equals"
                } else {
                    "not-equals"
                },
                Operand::Ref("principal.subject"),
            ),
            2 => leaf(
                "principal.subject",
                "equals",
                Operand::Ref("resource.owner"),
            ),
            3 if doc => leaf(
                "resource.status",
                if rng.percent(70) {
                    "equals"
                } else {
                    "not-equals"
                },
                Operand::Str(rng.pick(&STATUSES)),
            ),
            4 if doc => {
                let list = {
                    let k = rng.between(1, 3);
                    rng.sample(&STATUSES, k)
                };
                leaf(
                    "resource.status",
                    if rng.percent(70) { "in" } else { "not-in" },
                    Operand::List(list),
                )
            }
            5 => leaf(
                "resource.level",
                comparison(rng),
                Operand::Int(rng.int(-1, 5)),
            ),
            6 => leaf(
                "resource.level",
                comparison(rng),
                Operand::Ref("context.hour"),
            ),
            7 => leaf(
                "context.hour",
                comparison(rng),
                Operand::Int(rng.int(0, 24)),
            ),
            8 if doc => leaf("resource.tags", "contains", Operand::Str(rng.pick(&TAGS))),
            9 => leaf(
                "principal.roles",
                "contains",
                Operand::Str(rng.pick(&ROLES)),
            ),
            10 => {
                let list = {
                    let k = rng.between(1, 3);
                    rng.sample(&SUBJECTS, k)
                };
                leaf("principal.subject", "in", Operand::List(list))
            }
            11 => leaf(
                "resource.owner",
                rng.pick(&["starts-with", "contains"]),
                Operand::Str(rng.pick(&FRAGMENTS)),
            ),
            12 if doc => leaf(
                "resource.status",
                rng.pick(&["starts-with", "contains"]),
                Operand::Str(rng.pick(&FRAGMENTS)),
            ),
            13 => {
                let attr = if doc && rng.percent(50) {
                    "resource.reviewer"
                } else {
                    rng.pick(&["principal.tenant", "context.risk"])
                };
                leaf(attr, "exists", Operand::Exists(rng.percent(60)))
            }
            14 => leaf(
                "resource.level",
                if rng.percent(50) {
                    "equals"
                } else {
                    "not-equals"
                },
                Operand::Int(rng.int(0, 5)),
            ),
            15 => leaf("resource.id", "equals", Operand::Str(rng.pick(&DOC_IDS))),
            _ => continue,
        };
        return cond;
    }
}

/// A leaf reading an attribute that may be missing: only ever a top-level
/// conjunct (see the module docs).
fn optional_leaf(rng: &mut Rng, kind: Kind) -> Cond {
    let doc = kind == Kind::Doc;
    loop {
        let cond = match rng.below(5) {
            0 if doc => leaf(
                "resource.reviewer",
                "equals",
                Operand::Ref("principal.subject"),
            ),
            1 if doc => {
                let list = {
                    let k = rng.between(1, 3);
                    rng.sample(&SUBJECTS, k)
                };
                leaf("resource.reviewer", "in", Operand::List(list))
            }
            2 => leaf(
                "principal.tenant",
                if rng.percent(70) {
                    "equals"
                } else {
                    "not-equals"
                },
                Operand::Str(rng.pick(&TENANTS)),
            ),
            3 => leaf(
                "context.risk",
                comparison(rng),
                Operand::Int(rng.int(0, 10)),
            ),
            4 => leaf(
                "resource.owner",
                "equals",
                Operand::Ref("resource.reviewer"),
            ),
            _ => continue,
        };
        if !doc
            && matches!(&cond, Cond::Leaf { attr, operand, .. }
            if attr.starts_with("resource.reviewer") || matches!(operand, Operand::Ref("resource.reviewer")))
        {
            continue;
        }
        return cond;
    }
}

fn safe_tree(rng: &mut Rng, kind: Kind, depth: usize) -> Cond {
    if depth >= 3 || rng.percent(45) {
        return safe_leaf(rng, kind);
    }
    match rng.below(3) {
        0 => Cond::All(
            (0..rng.between(1, 3))
                .map(|_| safe_tree(rng, kind, depth + 1))
                .collect(),
        ),
        1 => Cond::Any(
            (0..rng.between(1, 3))
                .map(|_| safe_tree(rng, kind, depth + 1))
                .collect(),
        ),
        _ => Cond::Not(Box::new(safe_tree(rng, kind, depth + 1))),
    }
}

fn random_condition(rng: &mut Rng, kind: Kind) -> Option<Cond> {
    if rng.percent(8) {
        return None;
    }
    let core = safe_tree(rng, kind, 0);
    if !rng.percent(30) {
        return Some(core);
    }
    let mut conjuncts = vec![core];
    for _ in 0..rng.between(1, 2) {
        let at = rng.below(conjuncts.len() + 1);
        conjuncts.insert(at, optional_leaf(rng, kind));
    }
    Some(Cond::All(conjuncts))
}

struct RandomPolicy {
    allow: bool,
    kind: Kind,
    actions: Vec<&'static str>,
    when: Option<Cond>,
}

impl RandomPolicy {
    fn random(rng: &mut Rng) -> Self {
        let kind = if rng.percent(85) {
            Kind::Doc
        } else {
            Kind::Folder
        };
        let actions = if rng.percent(20) {
            Vec::new()
        } else {
            let k = rng.between(1, 2);
            rng.sample(&POLICY_ACTIONS, k)
        };
        Self {
            allow: rng.percent(65),
            kind,
            actions,
            when: random_condition(rng, kind),
        }
    }

    fn cedar(&self) -> String {
        let effect = if self.allow { "permit" } else { "forbid" };
        let action = match self.actions.as_slice() {
            [] => "action".to_owned(),
            [one] => format!("action == Action::\"{one}\""),
            many => {
                let list: Vec<String> = many.iter().map(|a| format!("Action::\"{a}\"")).collect();
                format!("action in [{}]", list.join(", "))
            }
        };
        let head = format!(
            "{effect}(principal, {action}, resource is {})",
            self.kind.cedar()
        );
        match &self.when {
            None => format!("{head};"),
            Some(cond) => format!("{head} when {{ {} }};", cond.cedar()),
        }
    }
}

/// A policy set in both languages.
struct PolicySets {
    yaml: String,
    cedar: String,
}

fn random_policy_sets(rng: &mut Rng) -> PolicySets {
    let policies: Vec<RandomPolicy> = (0..rng.between(1, 8))
        .map(|_| RandomPolicy::random(rng))
        .collect();
    let yaml_policies: Vec<Value> = policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut v = json!({
                "id": format!("p{i}"),
                "effect": if p.allow { "allow" } else { "deny" },
                "resource": p.kind.yaml(),
                "actions": p.actions,
            });
            if let Some(cond) = &p.when {
                v["when"] = cond.yaml();
            }
            v
        })
        .collect();
    // JSON is YAML: the document goes through `from_yaml` as it is.
    let yaml = json!({
        "combining": "deny-overrides",
        "context": { "hour": "integer", "risk": "integer" },
        "policies": yaml_policies,
    })
    .to_string();
    let mut cedar = String::from(CEDAR_COMPILED_RULES);
    for p in &policies {
        cedar.push_str(&p.cedar());
        cedar.push('\n');
    }
    PolicySets { yaml, cedar }
}

/// One request's inputs.
struct AbacRequest {
    principal: Principal,
    action: &'static str,
    resource: Resource,
    hour: i64,
    risk: Option<i64>,
}

#[derive(Debug)]
enum Resource {
    Doc(Doc),
    Folder(Folder),
}

fn random_request(rng: &mut Rng) -> AbacRequest {
    let subject = rng.pick(&SUBJECTS);
    let roles = {
        let k = rng.between(0, 2);
        rng.sample(&ROLES, k)
    };
    let mut principal = Principal::new(subject).with_roles(roles);
    if rng.percent(60) {
        principal = principal.with_tenant(rng.pick(&TENANTS));
    }
    let owner = (rng.pick(&SUBJECTS)).to_owned();
    let level = rng.int(0, 5);
    let resource = if rng.percent(85) {
        Resource::Doc(Doc {
            id: (rng.pick(&DOC_IDS)).to_owned(),
            owner,
            status: (rng.pick(&STATUSES)).to_owned(),
            level,
            tags: {
                let k = rng.between(0, 3);
                rng.sample(&TAGS, k)
            }
            .into_iter()
            .map(str::to_owned)
            .collect(),
            reviewer: rng.percent(60).then(|| (rng.pick(&SUBJECTS)).to_owned()),
        })
    } else {
        Resource::Folder(Folder {
            id: "f1".to_owned(),
            owner,
            level,
        })
    };
    AbacRequest {
        principal,
        action: rng.pick(&REQUEST_ACTIONS),
        resource,
        hour: rng.int(0, 23),
        risk: rng.percent(60).then(|| rng.int(0, 10)),
    }
}

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(EntityTypeName::from_str(ty).unwrap(), EntityId::new(id))
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

fn strings(items: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(items.iter().map(|s| string(s)))
}

/// The request as cedar entities, built as an application would from the
/// principal and the resource.
fn cedar_request(req: &AbacRequest) -> (Request, Entities) {
    let p = &req.principal;
    let principal_uid = uid("User", p.subject());
    let mut attrs = HashMap::from([
        ("subject".to_owned(), string(p.subject())),
        ("roles".to_owned(), strings(p.roles())),
    ]);
    if let Some(tenant) = p.tenant() {
        attrs.insert("tenant".to_owned(), string(tenant));
    }
    let principal = Entity::new(principal_uid.clone(), attrs, HashSet::new()).unwrap();
    let (resource_uid, attrs) = match &req.resource {
        Resource::Doc(d) => {
            let mut attrs = HashMap::from([
                ("id".to_owned(), string(&d.id)),
                ("owner".to_owned(), string(&d.owner)),
                ("status".to_owned(), string(&d.status)),
                ("level".to_owned(), RestrictedExpression::new_long(d.level)),
                ("tags".to_owned(), strings(&d.tags)),
            ]);
            if let Some(reviewer) = &d.reviewer {
                attrs.insert("reviewer".to_owned(), string(reviewer));
            }
            (uid("Doc", &d.id), attrs)
        }
        Resource::Folder(f) => (
            uid("Folder", &f.id),
            HashMap::from([
                ("id".to_owned(), string(&f.id)),
                ("owner".to_owned(), string(&f.owner)),
                ("level".to_owned(), RestrictedExpression::new_long(f.level)),
            ]),
        ),
    };
    let resource = Entity::new(resource_uid.clone(), attrs, HashSet::new()).unwrap();
    let entities = Entities::from_entities([principal, resource], None).unwrap();
    let mut context = vec![("hour".to_owned(), RestrictedExpression::new_long(req.hour))];
    if let Some(risk) = req.risk {
        context.push(("risk".to_owned(), RestrictedExpression::new_long(risk)));
    }
    let request = Request::new(
        principal_uid,
        uid("Action", req.action),
        resource_uid,
        CedarContext::from_pairs(context).unwrap(),
        None,
    )
    .unwrap();
    (request, entities)
}

fn our_context(req: &AbacRequest) -> Context {
    let context = Context::new().with("hour", req.hour);
    match req.risk {
        Some(risk) => context.with("risk", risk),
        None => context,
    }
}

#[test]
fn abac_agrees_with_cedar() {
    let seed = seed();
    let started = Instant::now();
    let mut rng = Rng::new(seed ^ 0xabac);
    let registry = SchemaRegistry::new().register::<Doc>().register::<Folder>();
    let authorizer = Authorizer::new();
    let mut tally = Tally::default();
    let mut cedar_errors = 0usize;
    let mut not_applicable = 0usize;
    let mut explicit_denies = 0usize;
    for _ in 0..ABAC_BATCHES {
        let sets = random_policy_sets(&mut rng);
        let engine = PolicyEngine::from_yaml(&registry, &sets.yaml)
            .unwrap_or_else(|e| panic!("{e}\n{}", sets.yaml));
        let policies =
            PolicySet::from_str(&sets.cedar).unwrap_or_else(|e| panic!("{e:?}\n{}", sets.cedar));
        for _ in 0..ABAC_CASES_PER_BATCH {
            let req = random_request(&mut rng);
            let context = our_context(&req);
            let decision = match &req.resource {
                Resource::Doc(d) => engine.evaluate(&req.principal, req.action, d, &context),
                Resource::Folder(f) => engine.evaluate(&req.principal, req.action, f, &context),
            };
            match decision.effect {
                None => not_applicable += 1,
                Some(Effect::Deny) => explicit_denies += 1,
                Some(Effect::Allow) => {}
            }
            let ours = decision.effect == Some(Effect::Allow);
            let (request, entities) = cedar_request(&req);
            let response = authorizer.is_authorized(&request, &policies, &entities);
            if response.diagnostics().errors().next().is_some() {
                cedar_errors += 1;
            }
            let theirs = response.decision() == CedarDecision::Allow;
            tally.record(ours, theirs, || {
                format!(
                    "{} `{}` on {:?}, hour {}, risk {:?}; ours decided by {:?}\nyaml: {}\ncedar:\n{}",
                    describe_principal(&req.principal),
                    req.action,
                    req.resource,
                    req.hour,
                    req.risk,
                    decision.deciding_policy,
                    sets.yaml,
                    sets.cedar
                )
            });
        }
    }
    println!(
        "abac vs cedar: {:.1} s; ours: {not_applicable} not applicable, {explicit_denies} denied by a policy; \
         {cedar_errors} requests where cedar skipped an erroring policy (missing attribute)",
        started.elapsed().as_secs_f64()
    );
    tally.report("abac vs cedar", seed);
    assert!(cedar_errors > 1_000, "too few missing-attribute cases");
    assert!(explicit_denies > 1_000, "too few policy denies");
}

fn describe_principal(p: &Principal) -> String {
    format!(
        "principal {} roles {:?} tenant {:?}",
        p.subject(),
        p.roles(),
        p.tenant()
    )
}
