//! Error types, one enum per domain.
//!
//! Each error has a stable machine-readable [`code`](AuthorizationFailed::code)
//! where it can reach an HTTP client. Messages are lower-case and quote user
//! input in backticks.

use thiserror::Error;

/// A role or permission name that breaks the grammar of
/// [`authz::grammar`](crate::authz::grammar).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NameError {
    /// The permission or grant is malformed.
    #[error("invalid permission `{name}`: it {reason}")]
    InvalidPermission {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The role name is malformed.
    #[error("invalid role name `{name}`: it {reason}")]
    InvalidRole {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The tenant id is malformed (see
    /// [`check_tenant`](crate::authz::grammar::check_tenant)).
    #[error("invalid tenant `{name}`: it {reason}")]
    InvalidTenant {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
}

/// A role configuration that cannot be compiled into a role graph.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RoleGraphError {
    /// A role or grant name is malformed.
    #[error("role `{role}`: {source}")]
    InvalidName {
        /// The role whose definition holds the bad name.
        role: String,
        /// What is wrong with it.
        #[source]
        source: NameError,
    },
    /// A role inherits from a role that is not defined.
    #[error("role `{role}` inherits from `{parent}`, which is not defined")]
    UnknownParent {
        /// The inheriting role.
        role: String,
        /// The missing parent.
        parent: String,
    },
    /// The inheritance relation has a cycle.
    #[error("role inheritance has a cycle: {}", cycle_text(.cycle))]
    Cycle {
        /// The roles on the cycle, in order, the first repeated at the end.
        cycle: Vec<String>,
    },
}

fn cycle_text(cycle: &[String]) -> String {
    cycle
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// An authorization check that did not allow the principal.
///
/// Returned by [`AuthorizationService::authorize`](crate::authz::AuthorizationService::authorize).
/// The reason is for logs and tests; HTTP responses never reveal it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("authorization failed: {reason}")]
pub struct AuthorizationFailed {
    /// Why the decision was deny.
    pub reason: crate::authz::DenyReason,
}

impl AuthorizationFailed {
    /// The stable error code: `forbidden`, or `auth_unavailable` when a
    /// store the check depended on could not answer.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self.reason {
            crate::authz::DenyReason::Unavailable => "auth_unavailable",
            _ => "forbidden",
        }
    }
}

/// A run-time policy document that cannot be loaded.
///
/// Every variant but [`TooLarge`](Self::TooLarge) names the key path of
/// the problem (`policies[2].when.all[0].op`) and, when it is inside a
/// policy whose id could be read, that id.
///
/// ```
/// use lexigram_auth::abac::{PolicyEngine, SchemaRegistry};
///
/// let err = PolicyEngine::from_yaml(&SchemaRegistry::new(), "policies: [{ id: a, effect: allow, resource: ghost }]")
///     .unwrap_err();
/// assert_eq!(err.code(), "policy_unknown_kind");
/// assert_eq!(err.path(), "policies[0].resource");
/// assert_eq!(err.policy(), Some("a"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The document is larger than the limit.
    #[error("the policy document is larger than {max} bytes")]
    TooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// The text is not well-formed YAML, or a value has the wrong shape
    /// (a map where a list belongs, a missing key, ...).
    #[error("{}invalid policy document{}: {message}", at(.policy.as_deref(), .path), line_text(*.line, *.column))]
    Syntax {
        /// The policy, when known.
        policy: Option<String>,
        /// The key path (`.` for the whole document).
        path: String,
        /// The line, from 1, when known.
        line: Option<usize>,
        /// The column, from 1, when known.
        column: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// A key that the format does not have (a misspelling, most often).
    #[error("{}unknown key `{field}`", at(.policy.as_deref(), .path))]
    UnknownField {
        /// The policy, when known.
        policy: Option<String>,
        /// The key path of the unknown key.
        path: String,
        /// The key.
        field: String,
    },
    /// `resource:` names a kind no type was registered for.
    #[error("{}unknown resource kind `{kind}`; register its type with `SchemaRegistry::register`", at(.policy.as_deref(), .path))]
    UnknownKind {
        /// The policy.
        policy: Option<String>,
        /// The key path.
        path: String,
        /// The kind as given.
        kind: String,
    },
    /// An attribute (of the principal, the resource or the context) that
    /// is not declared.
    #[error("{}unknown attribute `{attribute}`", at(.policy.as_deref(), .path))]
    UnknownAttribute {
        /// The policy.
        policy: Option<String>,
        /// The key path.
        path: String,
        /// The attribute as given (`resource.author`).
        attribute: String,
    },
    /// `op:` names no operator.
    #[error("{}unknown operator `{op}`", at(.policy.as_deref(), .path))]
    UnknownOperator {
        /// The policy.
        policy: Option<String>,
        /// The key path.
        path: String,
        /// The operator as given.
        op: String,
    },
    /// An operator applied to types it does not compare.
    #[error("{}{detail}", at(.policy.as_deref(), .path))]
    TypeMismatch {
        /// The policy.
        policy: Option<String>,
        /// The key path.
        path: String,
        /// What does not fit, in words.
        detail: String,
    },
    /// A `matches` pattern that is not a valid regular expression.
    #[error("{}invalid regular expression: {reason}", at(.policy.as_deref(), .path))]
    InvalidRegex {
        /// The policy.
        policy: Option<String>,
        /// The key path.
        path: String,
        /// The regex parser's message.
        reason: String,
    },
    /// A `matches` pattern that compiles to more than the size limit.
    #[error("{}the regular expression is too large (limit {limit} bytes compiled)", at(.policy.as_deref(), .path))]
    RegexTooLarge {
        /// The policy.
        policy: Option<String>,
        /// The key path.
        path: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// Two policies have one id.
    #[error("{}the policy id `{id}` is already used at `{first}`", at(Some(.id), .path))]
    DuplicateId {
        /// The id.
        id: String,
        /// The key path of the second use.
        path: String,
        /// The key path of the first use.
        first: String,
    },
    /// A condition of the wrong shape (`all` with `attr`, an empty `any`,
    /// a leaf without `op`, too deep).
    #[error("{}invalid condition: {reason}", at(.policy.as_deref(), .path))]
    InvalidCondition {
        /// The policy.
        policy: Option<String>,
        /// The key path.
        path: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// A value that is not one the key accepts (an unknown effect or
    /// combining algorithm, a malformed id, action or reference, a context
    /// attribute declared twice with two types).
    #[error("{}{reason}", at(.policy.as_deref(), .path))]
    InvalidValue {
        /// The policy.
        policy: Option<String>,
        /// The key path.
        path: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// A problem in one of several documents loaded together
    /// ([`PolicyEngine::from_documents`](crate::abac::PolicyEngine::from_documents)):
    /// the document's name and the problem, whose key path is within that
    /// document. [`code`](Self::code), [`path`](Self::path) and
    /// [`policy`](Self::policy) are the problem's.
    #[error("policy document `{document}`: {error}")]
    InDocument {
        /// The document's name.
        document: String,
        /// The problem.
        error: Box<PolicyError>,
    },
    /// Two documents loaded together have a policy of one id.
    #[error(
        "policy document `{document}`, policy `{id}`, `{path}`: the policy id `{id}` is already used in the policy document `{first_document}` at `{first_path}`"
    )]
    DuplicateIdAcrossDocuments {
        /// The id.
        id: String,
        /// The document of the second use.
        document: String,
        /// The key path of the second use, within its document.
        path: String,
        /// The document of the first use.
        first_document: String,
        /// The key path of the first use, within its document.
        first_path: String,
    },
}

fn at(policy: Option<&str>, path: &str) -> String {
    match policy {
        Some(policy) => format!("policy `{policy}`, `{path}`: "),
        None => format!("`{path}`: "),
    }
}

fn line_text(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
        _ => String::new(),
    }
}

impl PolicyError {
    /// The stable error code (`policy_syntax`, `policy_unknown_kind`, ...).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InDocument { error, .. } => error.code(),
            Self::TooLarge { .. } | Self::Syntax { .. } => "policy_syntax",
            Self::UnknownField { .. } => "policy_unknown_field",
            Self::UnknownKind { .. } => "policy_unknown_kind",
            Self::UnknownAttribute { .. } => "policy_unknown_attribute",
            Self::UnknownOperator { .. } => "policy_unknown_operator",
            Self::TypeMismatch { .. } => "policy_type_mismatch",
            Self::InvalidRegex { .. } | Self::RegexTooLarge { .. } => "policy_regex",
            Self::DuplicateId { .. } | Self::DuplicateIdAcrossDocuments { .. } => {
                "policy_duplicate_id"
            }
            Self::InvalidCondition { .. } => "policy_invalid_condition",
            Self::InvalidValue { .. } => "policy_invalid_value",
        }
    }

    /// The key path of the problem (`.` for the whole document, empty for
    /// [`TooLarge`](Self::TooLarge)), within its
    /// [`document`](Self::document) when there is one.
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Self::InDocument { error, .. } => error.path(),
            Self::TooLarge { .. } => "",
            Self::Syntax { path, .. }
            | Self::UnknownField { path, .. }
            | Self::UnknownKind { path, .. }
            | Self::UnknownAttribute { path, .. }
            | Self::UnknownOperator { path, .. }
            | Self::TypeMismatch { path, .. }
            | Self::InvalidRegex { path, .. }
            | Self::RegexTooLarge { path, .. }
            | Self::DuplicateId { path, .. }
            | Self::DuplicateIdAcrossDocuments { path, .. }
            | Self::InvalidCondition { path, .. }
            | Self::InvalidValue { path, .. } => path,
        }
    }

    /// The id of the policy the problem is in, when known.
    #[must_use]
    pub fn policy(&self) -> Option<&str> {
        match self {
            Self::InDocument { error, .. } => error.policy(),
            Self::TooLarge { .. } => None,
            Self::DuplicateId { id, .. } | Self::DuplicateIdAcrossDocuments { id, .. } => Some(id),
            Self::Syntax { policy, .. }
            | Self::UnknownField { policy, .. }
            | Self::UnknownKind { policy, .. }
            | Self::UnknownAttribute { policy, .. }
            | Self::UnknownOperator { policy, .. }
            | Self::TypeMismatch { policy, .. }
            | Self::InvalidRegex { policy, .. }
            | Self::RegexTooLarge { policy, .. }
            | Self::InvalidCondition { policy, .. }
            | Self::InvalidValue { policy, .. } => policy.as_deref(),
        }
    }

    /// The name of the document the problem is in, when several were
    /// loaded together ([`PolicyEngine::from_documents`](crate::abac::PolicyEngine::from_documents)).
    #[must_use]
    pub fn document(&self) -> Option<&str> {
        match self {
            Self::InDocument { document, .. }
            | Self::DuplicateIdAcrossDocuments { document, .. } => Some(document),
            _ => None,
        }
    }
}

/// Stored policy documents that could not be loaded
/// ([`AuthorizationService::reload_policies`](crate::authz::AuthorizationService::reload_policies),
/// [`put_checked`](crate::abac::put_checked)). The policies in force stay
/// as they were.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PolicyReloadError {
    /// A document is invalid, or the documents conflict; the error names
    /// the document.
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    /// The policy store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl PolicyReloadError {
    /// The stable error code: the [`PolicyError`]'s, or
    /// `policy_store_unavailable`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(error) => error.code(),
            Self::Store(_) => "policy_store_unavailable",
        }
    }
}

/// A delegation that cannot be granted, or a delegation store that failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DelegationError {
    /// The delegator does not hold a permission it tries to delegate.
    #[error("the delegator does not hold `{permission}`, so cannot delegate it")]
    NotHeld {
        /// The permission (or grant) asked for.
        permission: String,
    },
    /// The expiry is not in the future.
    #[error("the delegation would expire at once: its expiry is not in the future")]
    ExpiryInPast,
    /// No permission was given.
    #[error("a delegation needs at least one permission")]
    NoPermissions,
    /// A permission that is not a valid grant, or that does not concern
    /// the kind of the resource pattern.
    #[error("invalid delegated permission `{permission}`: {reason}")]
    InvalidPermission {
        /// The permission as given.
        permission: String,
        /// Why, in words.
        reason: String,
    },
    /// A resource pattern that is not `kind/id` or `kind/*`.
    #[error("invalid resource pattern `{pattern}`: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// Why, in words.
        reason: &'static str,
    },
    /// The delegate is empty, or the delegator itself.
    #[error("invalid delegate: {0}")]
    InvalidDelegate(&'static str),
    /// The operating system's random generator failed (no delegation id).
    #[error("no delegation id could be generated")]
    Random,
    /// The delegation store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl DelegationError {
    /// The stable error code (`delegation_not_held`, `delegation_invalid`, ...).
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotHeld { .. } => "delegation_not_held",
            Self::ExpiryInPast => "delegation_expired",
            Self::NoPermissions
            | Self::InvalidPermission { .. }
            | Self::InvalidPattern { .. }
            | Self::InvalidDelegate(_) => "delegation_invalid",
            Self::Random | Self::Store(_) => "delegation_unavailable",
        }
    }
}

/// Token creation or verification failed, or a token manager could not be
/// built.
///
/// Messages never contain key material or token contents.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TokenError {
    /// An HMAC secret is too short (or empty) for its algorithm.
    #[error("key `{kid}` is too weak: {algorithm} needs at least {min_bytes} bytes, got {actual}")]
    WeakKey {
        /// The key id.
        kid: String,
        /// The algorithm the key is bound to.
        algorithm: &'static str,
        /// The minimum length.
        min_bytes: usize,
        /// The length given.
        actual: usize,
    },
    /// An RSA key's modulus is too short.
    #[error("key `{kid}` is too weak: RSA keys need at least {min_bits} bits, got {actual_bits}")]
    WeakRsaKey {
        /// The key id.
        kid: String,
        /// The minimum modulus size.
        min_bits: usize,
        /// The modulus size given.
        actual_bits: usize,
    },
    /// Key material could not be used (bad PEM or JWK, wrong key type for the
    /// algorithm, a curve that does not match, ...).
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// An algorithm name that is not supported.
    #[error("unsupported algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// Two keys were given the same key id.
    #[error("the key id `{0}` is given twice")]
    DuplicateKey(String),
    /// The key named as the signing key holds no private or secret part.
    #[error("key `{0}` is a public key and cannot sign")]
    KeyCannotSign(String),
    /// Keys that can sign were given but none was named current.
    #[error("signing keys were given but no current key id was named")]
    MissingCurrentKey,
    /// The current key id is not among the keys.
    #[error("the current key id `{0}` is not among the configured keys")]
    UnknownCurrentKey(String),
    /// No keys were given.
    #[error("no signing keys were given")]
    NoKeys,
    /// The token manager only verifies: it holds no current signing key.
    #[error("the token manager has no signing key")]
    NoSigningKey,
    /// The token is larger than the 8 KiB cap.
    #[error("the token is larger than {max} bytes")]
    TooLarge {
        /// The cap in bytes.
        max: usize,
    },
    /// The token is not a well-formed JWT of ours.
    #[error("the token is malformed")]
    Malformed,
    /// The token names a key id that is not configured (or whose grace period
    /// has ended).
    #[error("the token's key id is not known")]
    UnknownKey,
    /// The signature does not verify, or the header names another algorithm
    /// than the key's.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// The token is not valid yet (`nbf` or `iat` in the future).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The token is of another type (a refresh token used as an access token, say).
    #[error("the token has the wrong type")]
    WrongType,
    /// The token's `aud` is missing, malformed or does not name this service.
    #[error("the token is not meant for this audience")]
    WrongAudience,
    /// The token's `iss` is missing, malformed or not the configured issuer.
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    /// A claim that our tokens must carry is missing.
    #[error("the token lacks the required claim `{0}`")]
    MissingClaim(&'static str),
    /// A claim in the token has an invalid value or type.
    #[error("the token has an invalid claim `{0}`")]
    InvalidClaim(&'static str),
    /// The token has been revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// A refresh token was presented a second time; its whole family is revoked.
    #[error("the refresh token was already used")]
    RefreshReused,
    /// A store or key source the check depends on (the revocation store, a
    /// remote JWKS) could not answer; the token is refused (fail closed).
    #[error("the token could not be checked: a store it depends on is unavailable")]
    Unavailable,
    /// Signing failed.
    #[error("the token could not be signed")]
    Signing,
}

impl TokenError {
    /// The stable error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::WeakKey { .. }
            | Self::WeakRsaKey { .. }
            | Self::InvalidKey(_)
            | Self::UnsupportedAlgorithm(_)
            | Self::DuplicateKey(_)
            | Self::KeyCannotSign(_)
            | Self::MissingCurrentKey
            | Self::UnknownCurrentKey(_)
            | Self::NoKeys => "token_config",
            Self::Signing | Self::NoSigningKey => "token_signing",
            Self::Expired => "token_expired",
            Self::Revoked => "token_revoked",
            Self::RefreshReused => "refresh_token_reused",
            Self::Unavailable => "token_unavailable",
            _ => "invalid_token",
        }
    }
}

/// The auth module could not be built from its configuration, or the
/// configuration could not be loaded.
///
/// Loading fails at the first error that stops reading (a file that cannot
/// be read, a syntax error with its line and column, an undefined
/// variable, a bad override, a value of the wrong type); once the file is
/// read, [`AuthConfig::validate`](crate::config::AuthConfig::validate)
/// reports every problem at once as [`ConfigError::Invalid`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The role definitions are invalid.
    #[error(transparent)]
    Roles(#[from] RoleGraphError),
    /// The token configuration is invalid.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// No token manager was configured.
    #[error("no token manager was configured; call `AuthModuleBuilder::tokens`")]
    MissingTokens,
    /// Keys of the configuration are invalid; each problem names its key
    /// path and the fix.
    #[error(transparent)]
    Invalid(#[from] ConfigErrors),
    /// The configuration file could not be read.
    #[error("the configuration file `{path}` could not be read: {reason}")]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error, in words.
        reason: String,
    },
    /// The file's extension names no supported format.
    #[error("the configuration file `{0}` is neither YAML (`.yaml`, `.yml`) nor TOML (`.toml`)")]
    UnsupportedFormat(String),
    /// The text is not well-formed YAML or TOML.
    #[error("{}", syntax_text(.format, .origin, *.line, *.column, .message))]
    Syntax {
        /// `YAML` or `TOML`.
        format: &'static str,
        /// The file, when the text came from one.
        origin: Option<String>,
        /// The line of the error, from 1, when the parser knows it.
        line: Option<usize>,
        /// The column of the error, from 1, when the parser knows it.
        column: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// The document has no `auth` section.
    #[error(
        "the configuration has no `auth` section; put the keys under `auth:` (YAML) or `[auth]` (TOML)"
    )]
    MissingSection,
    /// A `${VAR}` names a variable that is not set and has no default.
    #[error(
        "`{key}` uses `${{{variable}}}`, which is not set; set it or write `${{{variable}:-default}}`"
    )]
    UndefinedVariable {
        /// The variable.
        variable: String,
        /// The key path of the value that uses it.
        key: String,
    },
    /// A `${` without its closing `}`.
    #[error(
        "`{key}` has a `${{` without a closing `}}`; close it, or write `$${{` for a literal `${{`"
    )]
    UnclosedVariable {
        /// The key path of the value.
        key: String,
    },
    /// A `LEX_AUTH__...` variable that cannot be applied.
    #[error("the override `{variable}` cannot be applied: {reason}")]
    Override {
        /// The variable's name.
        variable: String,
        /// Why, in words.
        reason: String,
    },
    /// `LEX_ENV` names no environment.
    #[error(transparent)]
    Environment(#[from] crate::environment::UnknownEnvironment),
    /// A configured store could not be opened (unreachable, refused, or its
    /// tables could not be created).
    #[error("the `{store}` store could not be opened: {reason}")]
    Store {
        /// Which store: `users`, `sessions`, `revocation`, ...
        store: &'static str,
        /// Why, in words (never the URL, which may hold a password).
        reason: String,
    },
}

fn syntax_text(
    format: &str,
    origin: &Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    message: &str,
) -> String {
    let mut text = format!("invalid {format}");
    if let Some(origin) = origin {
        text.push_str(&format!(" in `{origin}`"));
    }
    if let (Some(line), Some(column)) = (line, column) {
        text.push_str(&format!(" at line {line}, column {column}"));
    }
    text.push_str(": ");
    text.push_str(message);
    text
}

/// One problem in a configuration: the key path, what is wrong, and the fix.
///
/// ```
/// use lexigram_auth::error::ConfigIssue;
///
/// let issue = ConfigIssue::new(
///     "auth.token.required_audience",
///     "is not set, and production requires it",
///     "set it to the audience this service accepts, such as `articles-api`",
/// );
/// assert!(issue.to_string().starts_with("`auth.token.required_audience` is not set"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{path}` {problem}; fix: {fix}")]
pub struct ConfigIssue {
    /// The key path, such as `auth.token.required_audience`.
    pub path: String,
    /// What is wrong, in words.
    pub problem: String,
    /// What to do about it, in words.
    pub fix: String,
}

impl ConfigIssue {
    /// An issue at `path`.
    #[must_use]
    pub fn new(
        path: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Every problem found in a configuration (at least one).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", issues_text(.0))]
pub struct ConfigErrors(Vec<ConfigIssue>);

fn issues_text(issues: &[ConfigIssue]) -> String {
    match issues {
        [one] => format!("invalid auth configuration: {one}"),
        many => {
            let mut text = format!("invalid auth configuration, {} problems:", many.len());
            for issue in many {
                text.push_str("\n  - ");
                text.push_str(&issue.to_string());
            }
            text
        }
    }
}

impl ConfigErrors {
    /// The problems, in the order they were found; `None` for an empty list.
    #[must_use]
    pub fn new(issues: Vec<ConfigIssue>) -> Option<Self> {
        if issues.is_empty() {
            None
        } else {
            Some(Self(issues))
        }
    }

    /// The problems.
    #[must_use]
    pub fn issues(&self) -> &[ConfigIssue] {
        &self.0
    }

    /// Whether some problem is at `path`.
    #[must_use]
    pub fn has(&self, path: &str) -> bool {
        self.0.iter().any(|i| i.path == path)
    }
}

impl From<ConfigIssue> for ConfigErrors {
    fn from(issue: ConfigIssue) -> Self {
        Self(vec![issue])
    }
}

impl From<ConfigIssue> for ConfigError {
    fn from(issue: ConfigIssue) -> Self {
        Self::Invalid(ConfigErrors::from(issue))
    }
}

impl ConfigError {
    /// The stable error code (`config_invalid`, `config_syntax`, ...).
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Roles(_) => "config_roles",
            Self::Token(_) | Self::MissingTokens => "config_token",
            Self::Invalid(_) => "config_invalid",
            Self::Read { .. } | Self::UnsupportedFormat(_) => "config_read",
            Self::Syntax { .. } | Self::MissingSection => "config_syntax",
            Self::UndefinedVariable { .. } | Self::UnclosedVariable { .. } => "config_variable",
            Self::Override { .. } => "config_override",
            Self::Environment(_) => "config_environment",
            Self::Store { .. } => "config_store",
        }
    }

    /// The problems of an [`Invalid`](Self::Invalid) error.
    #[must_use]
    pub fn issues(&self) -> &[ConfigIssue] {
        match self {
            Self::Invalid(errors) => errors.issues(),
            _ => &[],
        }
    }
}

/// Password hashing or verification failed, or a password hasher or policy
/// could not be built.
///
/// Messages never contain the password or the stored hash.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Argon2 parameters below the OWASP minimums, or above what this
    /// library will spend on one verification.
    #[error("argon2 parameter `{name}` is out of range: {value} (allowed: {allowed})")]
    ParametersOutOfRange {
        /// The parameter (`m`, `t`, `p`, or `cost` for bcrypt).
        name: &'static str,
        /// The value given or found in a stored hash.
        value: u64,
        /// The rule it breaks, in words.
        allowed: &'static str,
    },
    /// Hashing failed (the random salt could not be drawn, or the hash
    /// function refused its inputs).
    #[error("the password could not be hashed: {0}")]
    HashFailed(&'static str),
    /// The stored hash is not a well-formed Argon2 PHC string or bcrypt hash.
    #[error("the stored password hash is malformed: {0}")]
    InvalidStoredHash(&'static str),
    /// The stored hash names a scheme this library does not verify
    /// (`$2x$`, `$pbkdf2-sha256$`, ...).
    #[error("the stored password hash uses the unsupported scheme `{0}`")]
    UnsupportedScheme(String),
    /// No blocking worker could run the hash: no tokio runtime is running, or
    /// the worker failed.
    #[error("no worker is available to run the password hash")]
    WorkerUnavailable,
    /// The password policy configuration is inconsistent.
    #[error("invalid password policy: {0}")]
    InvalidPolicy(&'static str),
    /// The configured common-password file could not be read.
    #[error("the common-password file `{path}` could not be read: {reason}")]
    CommonPasswordsFile {
        /// The path as configured.
        path: String,
        /// The I/O error, in words.
        reason: String,
    },
}

impl PasswordError {
    /// The stable error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::ParametersOutOfRange { .. } => "password_parameters",
            Self::HashFailed(_) => "password_hash_failed",
            Self::InvalidStoredHash(_) => "password_hash_invalid",
            Self::UnsupportedScheme(_) => "password_hash_unsupported",
            Self::WorkerUnavailable => "password_worker_unavailable",
            Self::InvalidPolicy(_) | Self::CommonPasswordsFile { .. } => "password_policy_config",
        }
    }
}

/// A login that did not succeed, as the caller of
/// [`AuthenticationService::authenticate`](crate::authn::AuthenticationService::authenticate)
/// sees it.
///
/// Deliberately opaque (AUTHN-4): an unknown identifier, a wrong password,
/// an inactive account and a locked account are **one** value, with one
/// message (`invalid credentials`) and one [`code`](Self::code)
/// (`invalid_credentials`); nothing public tells them apart, so an HTTP
/// layer cannot leak which it was. The true reason goes to the
/// [`EventSink`](crate::authn::EventSink) and to `tracing`.
///
/// Two cases are told apart:
///
/// - [`is_unavailable`](Self::is_unavailable): a store, the password hasher
///   or the token signer could not answer, so the credentials were never
///   judged. The login is refused (fail closed) and the HTTP layer answers
///   503 rather than 401.
/// - [`is_not_a_member`](Self::is_not_a_member) (code `not_a_member`): a
///   login [within a tenant](crate::authn::AuthenticationService::authenticate_in)
///   by an active account with the **right password** that has no role
///   assignment in that tenant (the HTTP layer answers 403). It does not
///   help enumeration: it is decided only after the password check
///   succeeded, so a caller who gets it already holds the account's
///   credentials; a wrong password, an unknown or locked account still
///   answer `invalid_credentials`, whatever the tenant.
///
/// No `retry_after` is carried: a locked account answers exactly like a
/// wrong password, so the error does not confirm that guessing has been
/// noticed (the lock time is in the `LockedOut` event).
///
/// ```
/// use lexigram_auth::authn::AuthenticationFailed;
///
/// let failed = AuthenticationFailed::invalid_credentials();
/// assert_eq!(failed.to_string(), "invalid credentials");
/// assert_eq!(failed.code(), "invalid_credentials");
/// assert!(!failed.is_unavailable());
/// assert!(AuthenticationFailed::unavailable().is_unavailable());
/// assert_eq!(AuthenticationFailed::not_a_member().code(), "not_a_member");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
#[error("{}", self.message())]
pub struct AuthenticationFailed {
    kind: LoginRefusal,
}

/// The cases of [`AuthenticationFailed`], kept private so that the opaque
/// case stays one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum LoginRefusal {
    InvalidCredentials,
    NotAMember,
    Unavailable,
}

impl AuthenticationFailed {
    /// The failure for bad credentials (unknown user, wrong password,
    /// inactive or locked account: all the same).
    #[must_use]
    pub const fn invalid_credentials() -> Self {
        Self {
            kind: LoginRefusal::InvalidCredentials,
        }
    }

    /// The failure for a login within a tenant by an account, with the right
    /// password, that is not a member of the tenant.
    #[must_use]
    pub const fn not_a_member() -> Self {
        Self {
            kind: LoginRefusal::NotAMember,
        }
    }

    /// The failure for a login that could not be judged: a store, the
    /// hasher or the token signer failed.
    #[must_use]
    pub const fn unavailable() -> Self {
        Self {
            kind: LoginRefusal::Unavailable,
        }
    }

    /// Whether a backend failed (answer 503) rather than the credentials
    /// being refused (answer 401).
    #[must_use]
    pub const fn is_unavailable(&self) -> bool {
        matches!(self.kind, LoginRefusal::Unavailable)
    }

    /// Whether the credentials were right but the account is not a member
    /// of the tenant the login named (answer 403).
    #[must_use]
    pub const fn is_not_a_member(&self) -> bool {
        matches!(self.kind, LoginRefusal::NotAMember)
    }

    /// The stable error code: `invalid_credentials`, `not_a_member` or
    /// `authentication_unavailable`.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self.kind {
            LoginRefusal::InvalidCredentials => "invalid_credentials",
            LoginRefusal::NotAMember => "not_a_member",
            LoginRefusal::Unavailable => "authentication_unavailable",
        }
    }

    const fn message(&self) -> &'static str {
        match self.kind {
            LoginRefusal::InvalidCredentials => "invalid credentials",
            LoginRefusal::NotAMember => "the account is not a member of this tenant",
            LoginRefusal::Unavailable => "authentication is temporarily unavailable",
        }
    }
}

/// An account operation (registration, password change or reset, e-mail
/// verification) that did not succeed.
///
/// Store, hasher and token-revocation failures are one
/// [`Unavailable`](Self::Unavailable) (answer 503): the operation was
/// refused, nothing is assumed (fail closed). A wrong current password is
/// [`InvalidCredentials`](Self::InvalidCredentials), like a failed login;
/// an unknown, used, expired or other-purpose token is one
/// [`InvalidToken`](Self::InvalidToken).
///
/// ```
/// use lexigram_auth::error::AccountError;
///
/// assert_eq!(AccountError::EmailTaken.code(), "email_taken");
/// assert!(AccountError::Unavailable.is_unavailable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AccountError {
    /// The e-mail address is empty, too long or has no `@` between two
    /// non-empty parts.
    #[error("the e-mail address is invalid")]
    InvalidEmail,
    /// The display name is empty or longer than allowed.
    #[error("the name is invalid")]
    InvalidName,
    /// Another account has this e-mail address (in any spelling).
    #[error("the e-mail address is already registered")]
    EmailTaken,
    /// The new password breaks the policy; every broken rule is listed.
    #[error("the password is too weak: {0}")]
    WeakPassword(crate::password::PolicyViolations),
    /// The new password is the current one or one of the recent ones.
    #[error("the password was used recently")]
    PasswordReused,
    /// The current password is wrong (or the account unknown, inactive or
    /// locked: all the same).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The token is unknown, used, expired or for another purpose.
    #[error("the token is invalid or expired")]
    InvalidToken,
    /// The password changed concurrently; nothing was written.
    #[error("the password was changed concurrently")]
    ConcurrentChange,
    /// A store, the password hasher or the token revocation failed.
    #[error("the account service is temporarily unavailable")]
    Unavailable,
}

impl AccountError {
    /// The stable error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidEmail => "invalid_email",
            Self::InvalidName => "invalid_name",
            Self::EmailTaken => "email_taken",
            Self::WeakPassword(_) => "password_policy",
            Self::PasswordReused => "password_reused",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidToken => "invalid_token",
            Self::ConcurrentChange => "concurrent_change",
            Self::Unavailable => "account_unavailable",
        }
    }

    /// Whether a backend failed (answer 503) rather than the request being
    /// refused.
    #[must_use]
    pub const fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable)
    }
}

/// Why a session could not be created, used or changed.
///
/// Every variant but [`Unavailable`](Self::Unavailable) and
/// [`LimitReached`](Self::LimitReached) means "no valid session" and answers
/// 401 with the same body; the variants exist for logs and tests.
///
/// ```
/// use lexigram_auth::error::SessionError;
///
/// assert_eq!(SessionError::Invalid.code(), "invalid_session");
/// assert!(!SessionError::Invalid.is_unavailable());
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Not a session token of this library (wrong shape or size), or a
    /// cookie whose signature does not match.
    #[error("malformed session token")]
    Malformed,
    /// No live session has this token: never issued, revoked, rotated away,
    /// or past its idle or absolute timeout.
    #[error("the session is invalid or expired")]
    Invalid,
    /// The client's device id differs from the one recorded at login, and
    /// the manager enforces it; the session has been ended.
    #[error("the session was used from another device")]
    DeviceMismatch,
    /// The user has the most sessions allowed and the policy is
    /// [`LimitPolicy::DenyNew`](crate::session::LimitPolicy::DenyNew).
    #[error("the user has too many sessions")]
    LimitReached,
    /// The configuration is unusable (a timeout of zero, a limit of zero,
    /// a cookie key shorter than 32 bytes, plain-HTTP cookies outside
    /// development, ...).
    #[error("invalid session configuration: {0}")]
    Config(&'static str),
    /// The session store failed: refuse the request (503), never allow it.
    #[error("the session store is unavailable")]
    Unavailable(#[source] crate::store::StoreError),
}

impl SessionError {
    /// The stable error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Malformed | Self::Invalid | Self::DeviceMismatch => "invalid_session",
            Self::LimitReached => "session_limit",
            Self::Config(_) => "session_config",
            Self::Unavailable(_) => "session_unavailable",
        }
    }

    /// Whether the store failed (answer 503) rather than the session being
    /// refused.
    #[must_use]
    pub const fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<crate::store::StoreError> for SessionError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::Unavailable(error)
    }
}
