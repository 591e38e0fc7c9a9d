//! [`PolicyEngine`]: run-time policies indexed by resource kind and action,
//! evaluated together with a type's compiled rules.

use std::collections::BTreeSet;
use std::fmt;

use foldhash::{HashMap, HashMapExt};

use super::condition::{Condition, Subjects};
use super::policy::{Effect, Policy};
use super::value::Context;
use crate::Principal;

/// How the applicable policies of one priority level are combined.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CombiningAlgorithm {
    /// `deny-overrides` (the default): any applicable deny denies.
    #[default]
    DenyOverrides,
    /// `permit-overrides`: any applicable allow allows.
    PermitOverrides,
    /// `first-applicable`: the first applicable policy decides; compiled
    /// rules come first in declaration order, then run-time policies in
    /// file order.
    FirstApplicable,
}

impl CombiningAlgorithm {
    /// The name used in policy files.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::DenyOverrides => "deny-overrides",
            Self::PermitOverrides => "permit-overrides",
            Self::FirstApplicable => "first-applicable",
        }
    }

    /// The algorithm of that name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "deny-overrides" => Self::DenyOverrides,
            "permit-overrides" => Self::PermitOverrides,
            "first-applicable" => Self::FirstApplicable,
            _ => return None,
        })
    }

    /// Whether a policy of `effect` settles its level: nothing else of the
    /// same priority can change the outcome.
    fn settles(self, effect: Effect) -> bool {
        match self {
            Self::DenyOverrides => effect == Effect::Deny,
            Self::PermitOverrides => effect == Effect::Allow,
            Self::FirstApplicable => true,
        }
    }
}

impl fmt::Display for CombiningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of [`PolicyEngine::evaluate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct PolicyDecision<'a> {
    /// The effect, or `None` when no policy applied (the caller falls back
    /// to RBAC, then to deny).
    pub effect: Option<Effect>,
    /// The id of the policy that decided.
    pub deciding_policy: Option<&'a str>,
}

impl PolicyDecision<'_> {
    /// No policy applied.
    pub const NOT_APPLICABLE: Self = Self {
        effect: None,
        deciding_policy: None,
    };

    /// Whether a policy allowed.
    #[must_use]
    pub fn is_allow(&self) -> bool {
        self.effect == Some(Effect::Allow)
    }

    /// Whether a policy denied.
    #[must_use]
    pub fn is_deny(&self) -> bool {
        self.effect == Some(Effect::Deny)
    }
}

/// A policy loaded at run time.
#[derive(Debug)]
pub(crate) struct RuntimePolicy {
    pub(crate) id: String,
    pub(crate) effect: Effect,
    pub(crate) priority: i32,
    pub(crate) kind: &'static str,
    /// Sorted, no duplicates; empty for every action.
    pub(crate) actions: Vec<String>,
    pub(crate) condition: Option<Condition>,
}

/// The run-time policies of one resource kind, as indices into
/// `PolicyEngine::policies`, each list by descending priority and, within
/// one priority, in file order.
#[derive(Debug, Default)]
struct KindIndex {
    /// For each action some policy names: the policies naming it and those
    /// naming no action.
    by_action: HashMap<String, Box<[u32]>>,
    /// The policies naming no action (for actions no policy names).
    every_action: Box<[u32]>,
}

/// The attribute-based policies in force: run-time policies (loaded with
/// [`PolicyEngine::from_yaml`], or from several documents with
/// [`PolicyEngine::from_documents`]) and the combining algorithm; evaluation
/// adds the compiled rules of the resource type.
///
/// Policies are indexed by resource kind and action, so a check only
/// looks at the policies that can apply to it.
pub struct PolicyEngine {
    combining: CombiningAlgorithm,
    policies: Vec<RuntimePolicy>,
    kinds: HashMap<&'static str, KindIndex>,
}

impl fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("combining", &self.combining)
            .field("policies", &self.policies.len())
            .finish_non_exhaustive()
    }
}

impl Default for PolicyEngine {
    fn default() -> Self {
        Self::new(CombiningAlgorithm::default())
    }
}

/// The best level found so far: its priority and the deciding policy.
#[derive(Clone, Copy)]
struct Level<'a> {
    priority: i32,
    effect: Effect,
    id: &'a str,
    settled: bool,
}

impl PolicyEngine {
    /// An engine with no run-time policies: only compiled rules apply.
    #[must_use]
    pub fn new(combining: CombiningAlgorithm) -> Self {
        Self {
            combining,
            policies: Vec::new(),
            kinds: HashMap::new(),
        }
    }

    pub(crate) fn build(combining: CombiningAlgorithm, policies: Vec<RuntimePolicy>) -> Self {
        let mut kinds: HashMap<&'static str, KindIndex> = HashMap::new();
        let mut actions: HashMap<&'static str, BTreeSet<&str>> = HashMap::new();
        for policy in &policies {
            kinds.entry(policy.kind).or_default();
            actions
                .entry(policy.kind)
                .or_default()
                .extend(policy.actions.iter().map(String::as_str));
        }
        let sorted = |keep: &dyn Fn(&RuntimePolicy) -> bool, kind: &str| -> Box<[u32]> {
            let mut list: Vec<u32> = (0..policies.len())
                .filter(|&i| policies[i].kind == kind && keep(&policies[i]))
                .filter_map(|i| u32::try_from(i).ok())
                .collect();
            // Stable: file order within one priority.
            list.sort_by_key(|&i| std::cmp::Reverse(policies[i as usize].priority));
            list.into_boxed_slice()
        };
        for (kind, index) in &mut kinds {
            index.every_action = sorted(&|p| p.actions.is_empty(), kind);
            for &action in actions.get(kind).into_iter().flatten() {
                let list = sorted(
                    &|p| {
                        p.actions.is_empty()
                            || p.actions
                                .binary_search_by(|a| a.as_str().cmp(action))
                                .is_ok()
                    },
                    kind,
                );
                index.by_action.insert(action.to_owned(), list);
            }
        }
        Self {
            combining,
            policies,
            kinds,
        }
    }

    /// The combining algorithm.
    #[must_use]
    pub fn combining(&self) -> CombiningAlgorithm {
        self.combining
    }

    /// The number of run-time policies.
    #[must_use]
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Whether there is no run-time policy.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The ids of the run-time policies, in file order.
    pub fn policy_ids(&self) -> impl Iterator<Item = &str> {
        self.policies.iter().map(|p| p.id.as_str())
    }

    /// The decision of `R`'s compiled rules and the run-time policies for
    /// `R::SCHEMA.kind` on `action`.
    ///
    /// The highest priority with at least one applicable policy decides;
    /// within it, the [`CombiningAlgorithm`]. A policy applies when it
    /// covers the action and its condition is `Some(true)`; a condition
    /// that is false or not applicable (a missing attribute, a value of
    /// another type than declared) does not apply. Allocates nothing.
    pub fn evaluate<'e, R: Policy>(
        &'e self,
        principal: &Principal,
        action: &str,
        resource: &R,
        context: &Context,
    ) -> PolicyDecision<'e> {
        let on = Subjects {
            principal,
            resource,
            context,
        };
        let mut best: Option<Level<'e>> = None;
        for rule in R::rules() {
            if !rule.covers(action) || !Self::may_change(best, rule.priority, rule.effect) {
                continue;
            }
            if (rule.condition)(principal, resource, context) == Some(true) {
                best = Some(self.combine(best, rule.priority, rule.effect, rule.id));
            }
        }
        if let Some(index) = self.kinds.get(R::SCHEMA.kind) {
            let list = index.by_action.get(action).unwrap_or(&index.every_action);
            for &i in list {
                let Some(policy) = self.policies.get(i as usize) else {
                    continue;
                };
                if let Some(level) = best
                    && policy.priority < level.priority
                {
                    // Sorted by descending priority: nothing later matters.
                    break;
                }
                if !Self::may_change(best, policy.priority, policy.effect) {
                    continue;
                }
                let applies = policy
                    .condition
                    .as_ref()
                    .is_none_or(|c| c.evaluate(&on) == Some(true));
                if applies {
                    best = Some(self.combine(best, policy.priority, policy.effect, &policy.id));
                }
            }
        }
        best.map_or(PolicyDecision::NOT_APPLICABLE, |level| PolicyDecision {
            effect: Some(level.effect),
            deciding_policy: Some(level.id),
        })
    }

    /// Whether an applicable policy of `priority` and `effect` could change
    /// the decision so far (if not, its condition need not be evaluated).
    fn may_change(best: Option<Level<'_>>, priority: i32, effect: Effect) -> bool {
        match best {
            None => true,
            Some(level) => {
                priority > level.priority
                    || (priority == level.priority && !level.settled && effect != level.effect)
            }
        }
    }

    fn combine<'a>(
        &self,
        best: Option<Level<'a>>,
        priority: i32,
        effect: Effect,
        id: &'a str,
    ) -> Level<'a> {
        let fresh = Level {
            priority,
            effect,
            id,
            settled: self.combining.settles(effect),
        };
        match best {
            Some(level) if level.priority > priority => level,
            Some(level) if level.priority == priority && (level.settled || !fresh.settled) => level,
            _ => fresh,
        }
    }
}
