//! Run-time policies: the YAML document, the [`SchemaRegistry`] it is
//! checked against, and compilation into conditions.

use std::collections::{BTreeMap, BTreeSet};

use regex::RegexBuilder;
use serde::Deserialize;

use super::condition::{AttrRef, Condition, Operand, Operator, Scope};
use super::engine::{CombiningAlgorithm, PolicyEngine, RuntimePolicy};
use super::policy::{Effect, Policy};
use super::value::{AttrType, OwnedValue, PRINCIPAL_SCHEMA, Schema};
use crate::authz::grammar::check_permission;
use crate::error::PolicyError;

/// The largest policy document read, 1 MiB.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// How deep `all`, `any` and `not` may nest.
pub const MAX_CONDITION_DEPTH: usize = 32;

/// The compiled size limit of one `matches` pattern (the regex crate's
/// `size_limit`), 256 KiB.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// The lazy DFA cache limit of one `matches` pattern (the regex crate's
/// `dfa_size_limit`), 1 MiB.
pub const REGEX_DFA_SIZE_LIMIT: usize = 1024 * 1024;

/// The longest policy id, in bytes.
pub const MAX_POLICY_ID_LEN: usize = 128;

const ALL_TYPES: [AttrType; 5] = [
    AttrType::String,
    AttrType::Integer,
    AttrType::Float,
    AttrType::Bool,
    AttrType::StringList,
];

/// Names a decision can carry that are not policies; no policy may take them.
pub(crate) const RESERVED_IDS: [&str; 5] = [
    "rbac",
    "tenant",
    "delegation",
    "default-deny",
    "unavailable",
];

/// The resource kinds and context attributes that run-time policies may
/// name; policies naming anything else are refused when loaded.
///
/// ```
/// # use lexigram_auth::abac::*;
/// # struct Article;
/// # static ARTICLE: Schema = Schema { kind: "article", attributes: &[] };
/// # impl Attributes for Article {
/// #     fn schema(&self) -> &'static Schema { &ARTICLE }
/// #     fn attribute(&self, _: &str) -> Option<AttrValue<'_>> { None }
/// # }
/// # impl Policy for Article {
/// #     const SCHEMA: &'static Schema = &ARTICLE;
/// #     fn rules() -> &'static [Rule<Self>] { &[] }
/// # }
/// let registry = SchemaRegistry::new()
///     .register::<Article>()
///     .context("hour", AttrType::Integer);
/// assert!(registry.schema("article").is_some());
/// assert_eq!(registry.context_type("hour"), Some(AttrType::Integer));
/// ```
#[derive(Debug, Clone, Default)]
pub struct SchemaRegistry {
    kinds: BTreeMap<&'static str, &'static Schema>,
    context: BTreeMap<String, AttrType>,
    /// Kinds registered twice with two different schemas.
    conflicts: Vec<&'static str>,
}

impl SchemaRegistry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the resource type `R` under its kind (`R::SCHEMA.kind`).
    /// Registering two types with one kind makes every load fail.
    #[must_use]
    pub fn register<R: Policy>(mut self) -> Self {
        let schema = R::SCHEMA;
        match self.kinds.get(schema.kind) {
            Some(known) if !std::ptr::eq(*known, schema) => self.conflicts.push(schema.kind),
            Some(_) => {}
            None => {
                self.kinds.insert(schema.kind, schema);
            }
        }
        self
    }

    /// Declares the context attribute `name` of type `ty` (policy files may
    /// declare more under `context:`).
    #[must_use]
    pub fn context(mut self, name: impl Into<String>, ty: AttrType) -> Self {
        self.context.insert(name.into(), ty);
        self
    }

    /// The schema registered for `kind`.
    #[must_use]
    pub fn schema(&self, kind: &str) -> Option<&'static Schema> {
        self.kinds.get(kind).copied()
    }

    /// The declared type of the context attribute `name`.
    #[must_use]
    pub fn context_type(&self, name: &str) -> Option<AttrType> {
        self.context.get(name).copied()
    }
}

// ------------------------------------------------------------ the document

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    #[serde(default)]
    combining: Option<String>,
    #[serde(default)]
    context: BTreeMap<String, String>,
    #[serde(default)]
    policies: Vec<RawPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    id: String,
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for readers of the file only")]
    description: Option<String>,
    effect: String,
    #[serde(default)]
    priority: i32,
    resource: String,
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    when: Option<RawCondition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    #[serde(default)]
    all: Option<Vec<RawCondition>>,
    #[serde(default)]
    any: Option<Vec<RawCondition>>,
    #[serde(default)]
    not: Option<Box<RawCondition>>,
    #[serde(default)]
    attr: Option<String>,
    #[serde(default)]
    op: Option<String>,
    #[serde(default)]
    value: Option<RawValue>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawValue {
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    List(Vec<RawScalar>),
}

/// A list element: strings are kept, anything else is an error naming it.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawScalar {
    String(String),
    Other(serde::de::IgnoredAny),
}

impl PolicyEngine {
    /// Loads and checks a policy document against `registry`.
    ///
    /// The whole document is checked before anything is used: unknown keys,
    /// resource kinds, attributes and operators, operator and type
    /// mismatches, invalid or oversized regular expressions and duplicate
    /// ids are errors naming the key path.
    ///
    /// # Errors
    /// The first [`PolicyError`] found.
    pub fn from_yaml(registry: &SchemaRegistry, text: &str) -> Result<Self, PolicyError> {
        let document = Self::document(registry, text)?;
        let policies = document.policies.into_iter().map(|(p, _)| p).collect();
        Ok(PolicyEngine::build(
            document.combining.unwrap_or_default(),
            policies,
        ))
    }

    /// Loads several policy documents (`(name, text)` pairs) as one set,
    /// checked against `registry`; their policies are evaluated in the
    /// order given, document after document.
    ///
    /// Each document is checked as by [`from_yaml`](Self::from_yaml) and
    /// declares the context attributes it reads. Together:
    ///
    /// - names are unique and 1 to [`MAX_ID_LEN`](crate::store::MAX_ID_LEN)
    ///   bytes;
    /// - policy ids are unique across documents
    ///   ([`PolicyError::DuplicateIdAcrossDocuments`] names both);
    /// - documents that set `combining` set the same one; the set uses it,
    ///   or the default when none sets it;
    /// - a context attribute declared in several documents has one type.
    ///
    /// Every other error is [`PolicyError::InDocument`]: the document's
    /// name and the problem with its key path in that document.
    ///
    /// ```
    /// use lexigram_auth::abac::{PolicyEngine, SchemaRegistry};
    ///
    /// let registry = SchemaRegistry::new();
    /// let err = PolicyEngine::from_documents(&registry, [
    ///     ("a", "combining: permit-overrides"),
    ///     ("b", "combining: first-applicable"),
    /// ]).unwrap_err();
    /// assert_eq!(err.document(), Some("b"));
    /// assert_eq!(err.path(), "combining");
    ///
    /// let engine = PolicyEngine::from_documents(&registry, [
    ///     ("a", "combining: permit-overrides"),
    ///     ("b", "policies: []"),
    /// ])?;
    /// assert_eq!(engine.combining().name(), "permit-overrides");
    /// # Ok::<(), lexigram_auth::error::PolicyError>(())
    /// ```
    ///
    /// # Errors
    /// The first [`PolicyError`] found, naming the document.
    pub fn from_documents<'a, I>(
        registry: &SchemaRegistry,
        documents: I,
    ) -> Result<Self, PolicyError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut combining: Option<(CombiningAlgorithm, &str)> = None;
        let mut context: BTreeMap<String, (AttrType, &str)> = BTreeMap::new();
        let mut first_use: BTreeMap<String, (&str, String)> = BTreeMap::new();
        let mut names: BTreeSet<&str> = BTreeSet::new();
        let mut policies = Vec::new();
        for (name, text) in documents {
            let in_document = |error: PolicyError| PolicyError::InDocument {
                document: name.to_owned(),
                error: Box::new(error),
            };
            if name.is_empty() || name.len() > crate::store::MAX_ID_LEN {
                return Err(in_document(site(".").invalid_value(format!(
                    "a document name has 1 to {} bytes",
                    crate::store::MAX_ID_LEN
                ))));
            }
            if !names.insert(name) {
                return Err(in_document(
                    site(".").invalid_value("two documents have this name"),
                ));
            }
            let document = Self::document(registry, text).map_err(in_document)?;
            if let Some(mine) = document.combining {
                match combining {
                    Some((first, other)) if first != mine => {
                        return Err(in_document(site("combining").invalid_value(format!(
                            "`{mine}` here and `{first}` in the document `{other}`; documents loaded together set one combining algorithm, or leave it unset"
                        ))));
                    }
                    Some(_) => {}
                    None => combining = Some((mine, name)),
                }
            }
            for (attr, ty) in document.context {
                match context.get(&attr) {
                    Some((known, other)) if *known != ty => {
                        return Err(in_document(site(&format!("context.{attr}")).invalid_value(
                            format!("`context.{attr}` is declared `{ty}` here and `{known}` in the document `{other}`"),
                        )));
                    }
                    Some(_) => {}
                    None => {
                        context.insert(attr, (ty, name));
                    }
                }
            }
            for (policy, path) in document.policies {
                if let Some((first_document, first_path)) = first_use.get(&policy.id) {
                    return Err(PolicyError::DuplicateIdAcrossDocuments {
                        id: policy.id,
                        document: name.to_owned(),
                        path,
                        first_document: (*first_document).to_owned(),
                        first_path: first_path.clone(),
                    });
                }
                first_use.insert(policy.id.clone(), (name, path));
                policies.push(policy);
            }
        }
        Ok(PolicyEngine::build(
            combining.map(|(c, _)| c).unwrap_or_default(),
            policies,
        ))
    }

    /// One document, checked.
    fn document(registry: &SchemaRegistry, text: &str) -> Result<Document, PolicyError> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(PolicyError::TooLarge {
                max: MAX_DOCUMENT_BYTES,
            });
        }
        let raw = if text.trim().is_empty() {
            RawDocument {
                combining: None,
                context: BTreeMap::new(),
                policies: Vec::new(),
            }
        } else {
            parse(text)?
        };
        compile(registry, raw)
    }
}

fn parse(text: &str) -> Result<RawDocument, PolicyError> {
    let deserializer = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize::<_, RawDocument>(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let policy = policy_index(&path).and_then(|i| policy_id_in(text, i));
        let inner = e.into_inner();
        let location = inner.location();
        let message = crate::config::without_marks(&inner.to_string());
        // The parser prefixes the path it knows (`policies[0]: ...`); the
        // error has the path as a field.
        let message = match message.split_once(": ") {
            Some((head, rest))
                if !head.contains(char::is_whitespace)
                    && (head == "." || path.starts_with(head)) =>
            {
                rest.to_owned()
            }
            _ => message,
        };
        let message = if message.contains("untagged enum RawValue") {
            "a value is a string, a number, `true` or `false`, or a list of strings".to_owned()
        } else {
            message
        };
        if let Some(rest) = message.strip_prefix("unknown field `")
            && let Some((field, _)) = rest.split_once('`')
        {
            let path = if path == "." {
                field.to_owned()
            } else if path.ends_with(field) {
                path
            } else {
                format!("{path}.{field}")
            };
            return PolicyError::UnknownField {
                policy,
                path,
                field: field.to_owned(),
            };
        }
        PolicyError::Syntax {
            policy,
            path,
            line: location.as_ref().map(serde_norway::Location::line),
            column: location.as_ref().map(serde_norway::Location::column),
            message,
        }
    })
}

/// `2` for a path starting `policies[2]`.
fn policy_index(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("policies[")?;
    rest.split_once(']')?.0.parse().ok()
}

/// The id of the `index`th policy, read leniently for an error message.
fn policy_id_in(text: &str, index: usize) -> Option<String> {
    let doc: serde_norway::Value = serde_norway::from_str(text).ok()?;
    let id = doc.get("policies")?.get(index)?.get("id")?.as_str()?;
    Some(id.to_owned())
}

// ------------------------------------------------------------- compiling

/// Where a problem is: the policy id (when known) and the key path.
struct Site<'a> {
    policy: Option<&'a str>,
    path: String,
}

impl Site<'_> {
    fn child(&self, key: &str) -> Self {
        let path = if self.path.is_empty() || key.starts_with('[') {
            format!("{}{key}", self.path)
        } else {
            format!("{}.{key}", self.path)
        };
        Site {
            policy: self.policy,
            path,
        }
    }

    fn owned_policy(&self) -> Option<String> {
        self.policy.map(str::to_owned)
    }

    fn invalid_value(&self, reason: impl Into<String>) -> PolicyError {
        PolicyError::InvalidValue {
            policy: self.owned_policy(),
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn invalid_condition(&self, reason: impl Into<String>) -> PolicyError {
        PolicyError::InvalidCondition {
            policy: self.owned_policy(),
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn type_mismatch(&self, detail: impl Into<String>) -> PolicyError {
        PolicyError::TypeMismatch {
            policy: self.owned_policy(),
            path: self.path.clone(),
            detail: detail.into(),
        }
    }

    fn unknown_attribute(&self, attribute: &str) -> PolicyError {
        PolicyError::UnknownAttribute {
            policy: self.owned_policy(),
            path: self.path.clone(),
            attribute: attribute.to_owned(),
        }
    }
}

/// What names in one policy resolve against.
struct Names<'a> {
    resource: &'static Schema,
    context: &'a BTreeMap<String, AttrType>,
}

/// One document, checked: what it sets and declares, and its policies with
/// the key path of each id.
struct Document {
    combining: Option<CombiningAlgorithm>,
    /// The context attributes the document declares (not the registry's).
    context: BTreeMap<String, AttrType>,
    policies: Vec<(RuntimePolicy, String)>,
}

fn compile(registry: &SchemaRegistry, raw: RawDocument) -> Result<Document, PolicyError> {
    let root = Site {
        policy: None,
        path: String::new(),
    };
    if let Some(kind) = registry.conflicts.first() {
        return Err(root.child("policies").invalid_value(format!(
            "the resource kind `{kind}` is registered for two different types"
        )));
    }
    let combining = match raw.combining.as_deref() {
        None => None,
        Some(name) => Some(CombiningAlgorithm::from_name(name).ok_or_else(|| {
            site("combining").invalid_value(format!(
                "unknown combining algorithm `{name}`; use `deny-overrides`, `permit-overrides` or `first-applicable`"
            ))
        })?),
    };

    let mut context = registry.context.clone();
    let mut declared = BTreeMap::new();
    for (name, ty) in &raw.context {
        let at = site(&format!("context.{name}"));
        if !is_attribute_name(name) {
            return Err(at.invalid_value(format!(
                "`{name}` is not a valid attribute name (`[a-z_][a-z0-9_]*`)"
            )));
        }
        let ty = AttrType::from_name(ty).ok_or_else(|| {
            at.invalid_value(format!(
                "unknown type `{ty}`; use `string`, `integer`, `float`, `bool` or `string-list`"
            ))
        })?;
        match context.get(name.as_str()) {
            Some(known) if *known != ty => {
                return Err(at.invalid_value(format!(
                    "`context.{name}` is declared `{ty}` here and `{known}` by the application"
                )));
            }
            _ => {
                context.insert(name.clone(), ty);
            }
        }
        declared.insert(name.clone(), ty);
    }

    let mut first_use: BTreeMap<String, String> = BTreeMap::new();
    let mut policies = Vec::with_capacity(raw.policies.len());
    for (index, policy) in raw.policies.into_iter().enumerate() {
        let path = format!("policies[{index}]");
        let compiled = compile_policy(registry, &context, policy, &path)?;
        if let Some(first) = first_use.get(&compiled.id) {
            return Err(PolicyError::DuplicateId {
                id: compiled.id,
                path: format!("{path}.id"),
                first: first.clone(),
            });
        }
        first_use.insert(compiled.id.clone(), format!("{path}.id"));
        policies.push((compiled, format!("{path}.id")));
    }
    Ok(Document {
        combining,
        context: declared,
        policies,
    })
}

fn site(path: &str) -> Site<'static> {
    Site {
        policy: None,
        path: path.to_owned(),
    }
}

fn compile_policy(
    registry: &SchemaRegistry,
    context: &BTreeMap<String, AttrType>,
    raw: RawPolicy,
    path: &str,
) -> Result<RuntimePolicy, PolicyError> {
    let at = Site {
        policy: Some(&raw.id),
        path: path.to_owned(),
    };
    check_id(&raw.id, &at.child("id"))?;
    let effect = match raw.effect.as_str() {
        "allow" => Effect::Allow,
        "deny" => Effect::Deny,
        other => {
            return Err(at
                .child("effect")
                .invalid_value(format!("unknown effect `{other}`; use `allow` or `deny`")));
        }
    };
    let resource = registry
        .schema(&raw.resource)
        .ok_or_else(|| PolicyError::UnknownKind {
            policy: Some(raw.id.clone()),
            path: format!("{path}.resource"),
            kind: raw.resource.clone(),
        })?;
    for (i, action) in raw.actions.iter().enumerate() {
        if let Err(e) = check_permission(action) {
            return Err(at
                .child(&format!("actions[{i}]"))
                .invalid_value(format!("invalid action `{action}`: {e}")));
        }
    }
    let names = Names { resource, context };
    let condition = match &raw.when {
        None => None,
        Some(when) => Some(compile_condition(when, &names, &at.child("when"), 1)?),
    };
    let mut actions = raw.actions;
    actions.sort();
    actions.dedup();
    Ok(RuntimePolicy {
        id: raw.id,
        effect,
        priority: raw.priority,
        kind: resource.kind,
        actions,
        condition,
    })
}

fn check_id(id: &str, at: &Site<'_>) -> Result<(), PolicyError> {
    if id.is_empty() || id.len() > MAX_POLICY_ID_LEN {
        return Err(at.invalid_value("a policy id has 1 to 128 bytes"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    {
        return Err(at.invalid_value(format!(
            "the policy id `{id}` has characters outside `A-Z`, `a-z`, `0-9`, `-`, `_`, `.` and `:`"
        )));
    }
    if RESERVED_IDS.contains(&id) {
        return Err(at.invalid_value(format!(
            "the policy id `{id}` is reserved (decisions use it for non-policy reasons)"
        )));
    }
    Ok(())
}

fn is_attribute_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn compile_condition(
    raw: &RawCondition,
    names: &Names<'_>,
    at: &Site<'_>,
    depth: usize,
) -> Result<Condition, PolicyError> {
    if depth > MAX_CONDITION_DEPTH {
        return Err(at.invalid_condition(format!(
            "conditions nest deeper than {MAX_CONDITION_DEPTH} levels"
        )));
    }
    let forms = [
        ("all", raw.all.is_some()),
        ("any", raw.any.is_some()),
        ("not", raw.not.is_some()),
        ("attr", raw.attr.is_some()),
    ];
    let mut used = forms.iter().filter(|(_, set)| *set).map(|(name, _)| *name);
    let Some(form) = used.next() else {
        return Err(at.invalid_condition(
            "a condition needs one of `all`, `any`, `not`, or `attr` with `op`",
        ));
    };
    if let Some(other) = used.next() {
        return Err(at.invalid_condition(format!(
            "`{form}` and `{other}` cannot be used together; nest them under `all` or `any`"
        )));
    }
    if form != "attr" {
        for (key, set) in [("op", raw.op.is_some()), ("value", raw.value.is_some())] {
            if set {
                return Err(at.child(key).invalid_condition(format!(
                    "`{key}` belongs to a leaf (`attr`, `op`, `value`), not to `{form}`"
                )));
            }
        }
    }
    let list = |items: &[RawCondition], key: &str| -> Result<Box<[Condition]>, PolicyError> {
        if items.is_empty() {
            return Err(at
                .child(key)
                .invalid_condition(format!("`{key}` needs at least one condition")));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                compile_condition(item, names, &at.child(&format!("{key}[{i}]")), depth + 1)
            })
            .collect()
    };
    if let Some(items) = &raw.all {
        return Ok(Condition::All(list(items, "all")?));
    }
    if let Some(items) = &raw.any {
        return Ok(Condition::Any(list(items, "any")?));
    }
    if let Some(inner) = &raw.not {
        return Ok(Condition::Not(Box::new(compile_condition(
            inner,
            names,
            &at.child("not"),
            depth + 1,
        )?)));
    }
    compile_leaf(raw, names, at)
}

fn compile_leaf(
    raw: &RawCondition,
    names: &Names<'_>,
    at: &Site<'_>,
) -> Result<Condition, PolicyError> {
    let attr_text = raw.attr.as_deref().unwrap_or_default();
    let attr =
        resolve(attr_text, names).ok_or_else(|| at.child("attr").unknown_attribute(attr_text))?;
    let Some(op_text) = raw.op.as_deref() else {
        return Err(at.invalid_condition("a leaf needs `op`"));
    };
    let op = Operator::from_name(op_text).ok_or_else(|| PolicyError::UnknownOperator {
        policy: at.owned_policy(),
        path: at.child("op").path,
        op: op_text.to_owned(),
    })?;
    let value_at = at.child("value");
    if op == Operator::Exists {
        let expected = match &raw.value {
            None => true,
            Some(RawValue::Bool(b)) => *b,
            Some(_) => {
                return Err(value_at.type_mismatch("`exists` takes `true`, `false` or no value"));
            }
        };
        return Ok(Condition::Leaf {
            attr,
            op,
            operand: Operand::Exists(expected),
        });
    }
    if !ALL_TYPES.iter().any(|v| op.accepts(attr.ty, *v)) {
        return Err(at.child("op").type_mismatch(format!(
            "`{op}` does not apply to `{attr_text}`, which is of type `{}`",
            attr.ty
        )));
    }
    let Some(value) = &raw.value else {
        return Err(value_at.invalid_condition(format!("`{op}` needs a `value`")));
    };
    let operand = match value {
        RawValue::String(text) if text.contains("${") => {
            let reference = parse_reference(text, names, &value_at)?;
            if op == Operator::Matches {
                return Err(
                    value_at.type_mismatch("`matches` takes a literal pattern, not a reference")
                );
            }
            if !op.accepts(attr.ty, reference.ty) {
                return Err(value_at.type_mismatch(format!(
                    "`{op}` cannot compare `{attr_text}` ({}) with `{text}` ({})",
                    attr.ty, reference.ty
                )));
            }
            Operand::Reference(reference)
        }
        RawValue::String(pattern) if op == Operator::Matches => {
            Operand::Pattern(compile_regex(pattern, &value_at)?)
        }
        _ => {
            let literal = literal(value, &value_at)?;
            let literal = match (literal, attr.ty) {
                // `1` where a float is compared reads as `1.0`.
                #[expect(clippy::cast_precision_loss, reason = "a literal in a policy file")]
                (OwnedValue::Integer(i), AttrType::Float) => OwnedValue::Float(i as f64),
                (other, _) => other,
            };
            if !op.accepts(attr.ty, literal.ty()) {
                return Err(value_at.type_mismatch(format!(
                    "`{op}` cannot compare `{attr_text}` ({}) with a {} value",
                    attr.ty,
                    literal.ty()
                )));
            }
            Operand::Literal(literal)
        }
    };
    Ok(Condition::Leaf { attr, op, operand })
}

/// `resource.author_id` against the names in scope.
fn resolve(text: &str, names: &Names<'_>) -> Option<AttrRef> {
    let (scope, name) = text.split_once('.')?;
    let scope = Scope::from_name(scope)?;
    let ty = match scope {
        Scope::Principal => PRINCIPAL_SCHEMA.attribute(name)?.ty,
        Scope::Resource => names.resource.attribute(name)?.ty,
        Scope::Context => *names.context.get(name)?,
    };
    Some(AttrRef {
        scope,
        name: name.into(),
        ty,
    })
}

/// `${principal.subject}`: a whole value naming an attribute.
fn parse_reference(text: &str, names: &Names<'_>, at: &Site<'_>) -> Result<AttrRef, PolicyError> {
    let Some(inner) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
        return Err(at.invalid_value(format!(
            "`{text}` has `${{` but is not a reference; a reference is a whole value such as `${{principal.subject}}`"
        )));
    };
    resolve(inner, names).ok_or_else(|| at.unknown_attribute(inner))
}

fn literal(value: &RawValue, at: &Site<'_>) -> Result<OwnedValue, PolicyError> {
    Ok(match value {
        RawValue::Bool(b) => OwnedValue::Bool(*b),
        RawValue::Integer(i) => OwnedValue::Integer(*i),
        RawValue::Float(x) => OwnedValue::Float(*x),
        RawValue::String(s) => OwnedValue::String(s.clone()),
        RawValue::List(items) => OwnedValue::StringList(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    RawScalar::String(s) if !s.contains("${") => Ok(s.clone()),
                    RawScalar::String(_) => Err(at
                        .child(&format!("[{i}]"))
                        .invalid_value("a list holds literal strings only, not references")),
                    RawScalar::Other(_) => Err(at
                        .child(&format!("[{i}]"))
                        .type_mismatch("list values hold strings only; quote the element")),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn compile_regex(pattern: &str, at: &Site<'_>) -> Result<regex::Regex, PolicyError> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => PolicyError::RegexTooLarge {
                policy: at.owned_policy(),
                path: at.path.clone(),
                limit,
            },
            other => PolicyError::InvalidRegex {
                policy: at.owned_policy(),
                path: at.path.clone(),
                reason: other.to_string(),
            },
        })
}
