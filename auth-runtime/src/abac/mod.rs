//! Attribute-based access control: policies over the attributes of the
//! principal, the resource and the request.
//!
//! A resource type implements [`Policy`] (usually through
//! `#[derive(Policy)]`): its [`Schema`] names its typed attributes and its
//! compiled [`Rule`]s decide in code. Policies written in YAML are loaded
//! at run time into a [`PolicyEngine`], checked against a
//! [`SchemaRegistry`] of the known resource kinds, and installed with
//! [`AuthorizationService::set_policies`](crate::authz::AuthorizationService::set_policies).
//! [`AuthorizationService::check`](crate::authz::AuthorizationService::check)
//! then combines tenant isolation, these policies, the roles and
//! [delegations](delegation).
//!
//! ```
//! use lexigram_auth::abac::*;
//! use lexigram_auth::Principal;
//!
//! // What `#[derive(Policy)]` would generate for this struct.
//! struct Article { id: String, author_id: String, status: String }
//! # static ARTICLE: Schema = Schema {
//! #     kind: "article",
//! #     attributes: &[
//! #         AttributeDef { name: "id", ty: AttrType::String, optional: false },
//! #         AttributeDef { name: "author_id", ty: AttrType::String, optional: false },
//! #         AttributeDef { name: "status", ty: AttrType::String, optional: false },
//! #     ],
//! # };
//! # impl Attributes for Article {
//! #     fn schema(&self) -> &'static Schema { &ARTICLE }
//! #     fn attribute(&self, name: &str) -> Option<AttrValue<'_>> {
//! #         match name {
//! #             "id" => Some(AttrValue::String(&self.id)),
//! #             "author_id" => Some(AttrValue::String(&self.author_id)),
//! #             "status" => Some(AttrValue::String(&self.status)),
//! #             _ => None,
//! #         }
//! #     }
//! # }
//! # impl Policy for Article {
//! #     const SCHEMA: &'static Schema = &ARTICLE;
//! #     fn rules() -> &'static [Rule<Self>] { &[] }
//! #     fn resource_id(&self) -> Option<&str> { Some(&self.id) }
//! # }
//!
//! let registry = SchemaRegistry::new().register::<Article>();
//! let engine = PolicyEngine::from_yaml(&registry, r#"
//! policies:
//!   - id: authors-edit-drafts
//!     effect: allow
//!     resource: article
//!     actions: [edit]
//!     when:
//!       all:
//!         - { attr: resource.author_id, op: equals, value: "${principal.subject}" }
//!         - { attr: resource.status, op: equals, value: draft }
//! "#)?;
//!
//! let alice = Principal::new("alice");
//! let draft = Article { id: "42".into(), author_id: "alice".into(), status: "draft".into() };
//! let decision = engine.evaluate(&alice, "edit", &draft, &Context::new());
//! assert_eq!(decision.effect, Some(Effect::Allow));
//! assert_eq!(decision.deciding_policy, Some("authors-edit-drafts"));
//!
//! let bob = Principal::new("bob");
//! assert_eq!(engine.evaluate(&bob, "edit", &draft, &Context::new()).effect, None);
//! # Ok::<(), lexigram_auth::error::PolicyError>(())
//! ```
//!
//! # The policy file
//!
//! ```yaml
//! combining: deny-overrides     # or permit-overrides, first-applicable (default deny-overrides)
//! context:                      # context attributes the policies read, with their types
//!   hour: integer
//!   ip: string
//! policies:
//!   - id: authors-edit-drafts   # unique; [A-Za-z0-9_.:-], 1 to 128 bytes
//!     description: optional text for readers
//!     effect: allow             # or deny
//!     priority: 10              # default 0; higher levels decide first
//!     resource: article         # a kind registered in the SchemaRegistry
//!     actions: [edit]           # omitted or empty: every action
//!     when:                     # omitted: always applies
//!       all:
//!         - { attr: resource.author_id, op: equals, value: "${principal.subject}" }
//!         - { attr: resource.status, op: equals, value: draft }
//!         - any:
//!             - { attr: context.hour, op: ge, value: 8 }
//!             - not: { attr: resource.locked, op: equals, value: true }
//! ```
//!
//! Unknown keys are errors everywhere. A condition is one of `all: [..]`
//! (every item), `any: [..]` (at least one), `not: {..}`, or a leaf
//! `{ attr, op, value }`; lists are never empty, nesting stops at
//! [`MAX_CONDITION_DEPTH`].
//!
//! `attr` is `principal.<name>`, `resource.<name>` or `context.<name>`. The
//! principal's attributes are `subject`, `roles` (assigned directly),
//! `permissions` (direct grants), `amr` (string lists), `tenant`,
//! `auth_method` (`bearer`, `internal`, `api_key`, `session`),
//! `session_id` (strings) and `auth_time` (Unix seconds); see
//! [`PRINCIPAL_SCHEMA`]. The resource's are its [`Schema`]'s, the
//! context's are those declared under `context:` (types `string`,
//! `integer`, `float`, `bool`, `string-list`) or with
//! [`SchemaRegistry::context`].
//!
//! `value` is a literal (a string, an integer, a float, `true`/`false`, a
//! list of strings) or a reference to another attribute written as the
//! whole value: `"${principal.subject}"`, `"${resource.owner}"`,
//! `"${context.ip}"`. `${` anywhere else in a string is an error. An
//! integer literal compared with a float attribute reads as a float.
//!
//! ## Operators
//!
//! | `op` | attribute | value | holds when |
//! |---|---|---|---|
//! | `equals` | any type | the same type | equal |
//! | `not-equals` | any type | the same type | not equal |
//! | `in` | string | string list | the attribute is an element |
//! | `not-in` | string | string list | the attribute is not an element |
//! | `contains` | string | string | the value is a substring |
//! | `contains` | string list | string | the value is an element |
//! | `starts-with` | string | string | the attribute starts with the value |
//! | `lt`, `le`, `gt`, `ge` | integer, float, string | the same type | ordered so (strings by bytes, lexicographically) |
//! | `matches` | string | a literal regular expression | it matches somewhere (anchor with `^...$`) |
//! | `exists` | any type | `true` (or omitted), `false` | the attribute is present (absent) |
//!
//! Everything is checked when the file is loaded, and every problem is a
//! [`PolicyError`] naming the policy and the key path
//! (`policies[2].when.all[0].op`): unknown keys, resource kinds,
//! attributes and operators; an operator on types it does not compare (`lt`
//! on a bool, a string literal against an integer, `in` without a list);
//! invalid regular expressions and those compiling to more than
//! [`REGEX_SIZE_LIMIT`]; duplicate ids. Regular expressions are compiled
//! once, by the `regex` crate, whose matching is linear in the input.
//!
//! # Not applicable
//!
//! A condition has three outcomes: true, false and **not applicable**. A
//! leaf is not applicable when an attribute it reads (or references) is
//! missing, such as an `Option` field that is `None` or a context attribute
//! the request did not set, or when a value's type at run time is not the
//! declared one (a context value of the wrong type). `exists` is the one
//! operator a missing attribute does not make not applicable.
//!
//! - `all`: false if an item is false; otherwise not applicable if an item
//!   is; otherwise true.
//! - `any`: true if an item is true; otherwise not applicable if an item
//!   is; otherwise false.
//! - `not`: swaps true and false; not applicable stays not applicable.
//!
//! A policy **applies** only when its condition is true. A missing
//! attribute therefore never makes an allow policy allow; it does not make a
//! deny policy deny either; write `{ attr: .., op: exists, value: false }`
//! into a deny policy to deny on absence.
//!
//! # Priorities and combining
//!
//! For a check, the candidates are the compiled rules of the resource type
//! (in declaration order) followed by the run-time policies for its kind
//! (in file order) that cover the action. Among those that apply, the
//! **highest priority** decides alone; within that level the combining
//! algorithm:
//!
//! | `combining` | within the deciding level |
//! |---|---|
//! | `deny-overrides` (default) | deny if any applicable policy denies, else allow |
//! | `permit-overrides` | allow if any applicable policy allows, else deny |
//! | `first-applicable` | the first applicable policy, compiled rules first |
//!
//! When nothing applies the engine has no opinion
//! ([`PolicyDecision::effect`] is `None`) and
//! [`AuthorizationService::check`](crate::authz::AuthorizationService::check)
//! goes on to the roles, then to delegations, then denies. A policy deny
//! wins over every RBAC grant, `*` included.
//!
//! Run-time policies are indexed by resource kind and action, so policies
//! of other kinds and actions cost nothing, and evaluation allocates
//! nothing.
//!
//! # Stores
//!
//! Delegations and policy documents live in stores that several instances
//! can share:
//!
//! | what | trait | in memory | SQLite (`sqlite`) | PostgreSQL (`postgres`) |
//! |---|---|---|---|---|
//! | delegations | [`DelegationStore`] | [`MemoryDelegationStore`] | `SqliteDelegationStore` | `PostgresDelegationStore` |
//! | policy documents | [`PolicyStore`] | [`MemoryPolicyStore`] | `SqlitePolicyStore` | `PostgresPolicyStore` |
//!
//! Install a delegation store with
//! [`AuthorizationService::set_delegation_store`](crate::authz::AuthorizationService::set_delegation_store).
//! Policy documents are YAML files kept by name;
//! [`AuthorizationService::reload_policies`](crate::authz::AuthorizationService::reload_policies)
//! loads all of them together ([`PolicyEngine::from_documents`]: ids unique
//! across documents, one combining algorithm), checks them against the
//! [`SchemaRegistry`] and only then swaps them in, so a bad document leaves
//! the policies in force. Stores do not check what they keep (they do not
//! know the registry); [`put_checked`] checks before writing. Every write
//! increments the store's [`revision`](PolicyStore::revision), which
//! instances poll to reload when it changed
//! ([`reload_policies_if_changed`](crate::authz::AuthorizationService::reload_policies_if_changed));
//! see [`policy_store`].

pub mod delegation;
pub mod policy_store;

mod condition;
pub(crate) mod derive;
mod engine;
mod load;
mod policy;
mod value;

pub use crate::error::{DelegationError, PolicyError, PolicyReloadError};
pub use condition::Operator;
#[cfg(feature = "postgres")]
pub use delegation::PostgresDelegationStore;
#[cfg(feature = "sqlite")]
pub use delegation::SqliteDelegationStore;
pub use delegation::{Delegation, DelegationStore, MemoryDelegationStore};
pub use engine::{CombiningAlgorithm, PolicyDecision, PolicyEngine};
pub use load::{
    MAX_CONDITION_DEPTH, MAX_DOCUMENT_BYTES, MAX_POLICY_ID_LEN, REGEX_DFA_SIZE_LIMIT,
    REGEX_SIZE_LIMIT, SchemaRegistry,
};
pub use policy::{Effect, Policy, RequestPolicy, Rule};
#[cfg(feature = "postgres")]
pub use policy_store::PostgresPolicyStore;
#[cfg(feature = "sqlite")]
pub use policy_store::SqlitePolicyStore;
pub use policy_store::{MemoryPolicyStore, PolicyDocument, PolicyStore, put_checked};
pub use value::{
    AttrType, AttrValue, AttributeDef, Attributes, Context, OwnedValue, PRINCIPAL_SCHEMA, Schema,
};

#[cfg(test)]
mod tests;
