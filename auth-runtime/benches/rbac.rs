// This is a benchmark, not library code: setup failures should abort loudly,
// so unwrap/expect are fine here, and the criterion macros generate
// undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

//! RBAC permission check: `AuthorizationService::authorize` against casbin-rs
//! `Enforcer::enforce` on an equivalent RBAC model (see `BENCHMARKS.md`).
//!
//! Cases:
//! - `depth{1,4,9,16}_{allow,deny}`: a chain `r0 -> r1 -> ... -> r{d-1}` (each
//!   inherits the next), the principal holds `r0`, `articles.read` is granted
//!   only to the deepest role; every other role holds one unrelated filler
//!   grant.
//! - `grants{10,1000,10000}_{allow,deny}`: the depth-4 chain with that many
//!   grants in total: `articles.read` on `r3` plus filler grants spread
//!   round-robin over `r0..r3`.
//!
//! casbin's `Enforcer` builds its role manager with a hop limit of 10, so from
//! `u1` it only reaches 9 roles of a chain and silently denies what a deeper
//! role grants. The bench installs a `DefaultRoleManager` with a limit of 32
//! (`set_role_manager`), so that every case, `depth16` included, compares
//! equal answers.
//!
//! `allow` checks `articles.read`, `deny` checks `articles.delete`, which
//! nobody holds. Ours and casbin's for one case share a criterion group so
//! they run back to back in the same process; compare ratios, not absolute
//! times (see `/work/shared/docs/PERF.md`).
//!
//! Run: `cargo bench -p lexigram-auth --bench rbac` (optionally `-- <filter>`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use casbin::{CoreApi, DefaultModel, DefaultRoleManager, Enforcer, MemoryAdapter, MgmtApi};
use criterion::{Criterion, criterion_group, criterion_main};
use lexigram_auth::Principal;
use lexigram_auth::authz::{AuthorizationService, RoleDefinition};

const MODEL: &str = r"
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act
";

/// The role-manager hop limit installed in casbin, above the deepest chain.
const CASBIN_MAX_HIERARCHY: usize = 32;

const SUBJECT: &str = "u1";
const ALLOWED: (&str, &str) = ("articles", "read");
const DENIED: (&str, &str) = ("articles", "delete");
const FILLER_ACTIONS: [&str; 3] = ["read", "write", "list"];

/// One scenario: role names in chain order (each inherits the next) and the
/// grants of every role as `(resource, action)` pairs.
struct Scenario {
    chain: Vec<String>,
    grants: Vec<Vec<(String, String)>>,
}

impl Scenario {
    /// Depth `d`: `articles.read` only on the deepest role, one filler grant
    /// on each of the others.
    fn depth(d: usize) -> Self {
        let chain: Vec<String> = (0..d).map(|i| format!("r{i}")).collect();
        let grants = (0..d)
            .map(|i| {
                if i + 1 == d {
                    vec![(ALLOWED.0.to_owned(), ALLOWED.1.to_owned())]
                } else {
                    vec![(format!("res{i}"), "read".to_owned())]
                }
            })
            .collect();
        Self { chain, grants }
    }

    /// The depth-4 chain with `total` grants: `articles.read` on the deepest
    /// role plus `total - 1` distinct filler grants spread round-robin.
    fn grants(total: usize) -> Self {
        const DEPTH: usize = 4;
        let chain: Vec<String> = (0..DEPTH).map(|i| format!("r{i}")).collect();
        let mut grants: Vec<Vec<(String, String)>> = vec![Vec::new(); DEPTH];
        for k in 0..total - 1 {
            let action = FILLER_ACTIONS[k % FILLER_ACTIONS.len()];
            grants[k % DEPTH].push((format!("res{k}"), action.to_owned()));
        }
        grants[DEPTH - 1].push((ALLOWED.0.to_owned(), ALLOWED.1.to_owned()));
        Self { chain, grants }
    }

    fn total_grants(&self) -> usize {
        self.grants.iter().map(Vec::len).sum()
    }

    fn lexigram(&self) -> (AuthorizationService, Principal) {
        let mut roles = BTreeMap::new();
        for (i, name) in self.chain.iter().enumerate() {
            let perms = self.grants[i]
                .iter()
                .map(|(res, act)| format!("{res}.{act}"));
            let mut def = RoleDefinition::new(perms);
            if let Some(parent) = self.chain.get(i + 1) {
                def = def.inherits([parent.clone()]);
            }
            roles.insert(name.clone(), def);
        }
        let authz = AuthorizationService::new();
        authz.set_roles(roles).expect("valid role graph");
        let principal = Principal::new(SUBJECT).with_roles([self.chain[0].clone()]);
        (authz, principal)
    }

    fn casbin(&self, rt: &tokio::runtime::Runtime) -> Enforcer {
        rt.block_on(async {
            let model = DefaultModel::from_str(MODEL).await.expect("casbin model");
            let mut e = Enforcer::new(model, MemoryAdapter::default())
                .await
                .expect("casbin enforcer");
            let rm = DefaultRoleManager::new(CASBIN_MAX_HIERARCHY);
            e.set_role_manager(Arc::new(parking_lot::RwLock::new(rm)))
                .expect("casbin role manager");
            let mut g = vec![vec![SUBJECT.to_owned(), self.chain[0].clone()]];
            for pair in self.chain.windows(2) {
                g.push(vec![pair[0].clone(), pair[1].clone()]);
            }
            e.add_grouping_policies(g).await.expect("casbin g policies");
            let p: Vec<Vec<String>> = self
                .chain
                .iter()
                .zip(&self.grants)
                .flat_map(|(role, grants)| {
                    grants
                        .iter()
                        .map(move |(res, act)| vec![role.clone(), res.clone(), act.clone()])
                })
                .collect();
            assert_eq!(p.len(), self.total_grants());
            e.add_policies(p).await.expect("casbin p policies");
            e
        })
    }
}

fn bench_case(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, scenario: &Scenario) {
    let (authz, principal) = scenario.lexigram();
    let enforcer = scenario.casbin(rt);

    // Both must give the same answers, or the comparison is meaningless.
    for ((res, act), expected) in [(ALLOWED, true), (DENIED, false)] {
        let ours = authz.authorize(&principal, res, act).is_ok();
        let theirs = enforcer
            .enforce((SUBJECT, res, act))
            .expect("casbin enforce");
        assert_eq!(ours, expected, "{name}: lexigram {res}.{act}");
        assert_eq!(ours, theirs, "{name}: lexigram vs casbin on {res}.{act}");
    }

    for (verdict, (res, act)) in [("allow", ALLOWED), ("deny", DENIED)] {
        let mut group = c.benchmark_group(format!("{name}_{verdict}"));
        group
            .sample_size(30)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(2));
        group.bench_function("lexigram", |b| {
            b.iter(|| {
                black_box(
                    authz
                        .authorize(black_box(&principal), black_box(res), black_box(act))
                        .is_ok(),
                )
            });
        });
        group.bench_function("casbin", |b| {
            b.iter(|| {
                black_box(
                    enforcer
                        .enforce(black_box((SUBJECT, res, act)))
                        .expect("casbin enforce"),
                )
            });
        });
        group.finish();
    }
}

fn rbac(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    for d in [1, 4, 9, 16] {
        bench_case(c, &rt, &format!("depth{d}"), &Scenario::depth(d));
    }
    for n in [10, 1_000, 10_000] {
        let scenario = Scenario::grants(n);
        assert_eq!(scenario.total_grants(), n);
        bench_case(c, &rt, &format!("grants{n}"), &scenario);
    }
}

criterion_group!(benches, rbac);
criterion_main!(benches);
