//! Loading: YAML or TOML text, `${VAR}` substitution, `LEX_AUTH__`
//! overrides, `LEX_ENV`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::schema::AuthConfig;
use super::secret::{Secret, TextVisitor};
use super::validate::ConfigWarning;
use crate::environment::{ENV_VAR, Environment};
use crate::error::{ConfigError, ConfigErrors, ConfigIssue};

/// The prefix of override variables: `LEX_AUTH__TOKEN__ACCESS_TTL=5m` sets
/// `auth.token.access_ttl`.
pub const OVERRIDE_PREFIX: &str = "LEX_AUTH__";

/// The largest configuration file read, 1 MiB.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Where `${VAR}`, `LEX_AUTH__...` and `LEX_ENV` are read from: the
/// process environment, or a fixed map (tests never touch the process
/// environment).
///
/// ```
/// use lexigram_auth::config::Variables;
///
/// let vars = Variables::from_iter([("LEX_ENV", "development")]);
/// assert_eq!(vars.get("LEX_ENV").as_deref(), Some("development"));
/// assert_eq!(vars.get("HOME"), None);
/// ```
#[derive(Clone)]
pub struct Variables(Source);

#[derive(Clone)]
enum Source {
    Process,
    Map(BTreeMap<String, String>),
}

impl fmt::Debug for Variables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Process => f.write_str("Variables(process)"),
            Source::Map(map) => f
                .debug_tuple("Variables")
                .field(&map.keys().collect::<Vec<_>>())
                .finish(),
        }
    }
}

impl Variables {
    /// The process environment.
    #[must_use]
    pub fn process() -> Self {
        Self(Source::Process)
    }

    /// No variables at all.
    #[must_use]
    pub fn none() -> Self {
        Self(Source::Map(BTreeMap::new()))
    }

    /// The value of `name`; `None` when unset (or not Unicode).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<String> {
        match &self.0 {
            Source::Process => std::env::var(name).ok(),
            Source::Map(map) => map.get(name).cloned(),
        }
    }

    /// The variables whose name starts with `prefix`, sorted by name.
    fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        match &self.0 {
            Source::Process => {
                let mut vars: Vec<(String, String)> = std::env::vars_os()
                    .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                    .filter(|(k, _)| k.starts_with(prefix))
                    .collect();
                vars.sort();
                vars
            }
            Source::Map(map) => map
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Variables {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(Source::Map(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ))
    }
}

/// A configuration checked for its environment: what
/// `AuthModule::configure` consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckedConfig {
    /// The configuration, with a generated secret in development and test
    /// when none was configured.
    pub config: AuthConfig,
    /// The environment it was checked for.
    pub environment: Environment,
    /// What deserves attention; log each one at start-up.
    pub warnings: Vec<ConfigWarning>,
}

impl AuthConfig {
    /// Prepares the configuration for `environment`: in development and
    /// test, a missing secret becomes a random one (with a warning); then
    /// [`validate`](Self::validate).
    ///
    /// ```
    /// use lexigram_auth::config::AuthConfig;
    /// use lexigram_auth::environment::Environment;
    ///
    /// let checked = AuthConfig::default().check(Environment::Development)?;
    /// assert!(checked.config.secret_key.is_some());
    /// assert_eq!(checked.warnings[0].path, "auth.secret_key");
    /// assert!(AuthConfig::default().check(Environment::Production).is_err());
    /// # Ok::<(), lexigram_auth::error::ConfigErrors>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigErrors`] listing every problem.
    pub fn check(mut self, environment: Environment) -> Result<CheckedConfig, ConfigErrors> {
        let relaxed = matches!(environment, Environment::Development | Environment::Test);
        if relaxed
            && self.secret_key.is_none()
            && self.token.keys.is_empty()
            && self.token.algorithm.is_hmac()
        {
            let secret = random_text().ok_or_else(|| {
                ConfigErrors::from(ConfigIssue::new(
                    "auth.secret_key",
                    "is not set, and no random secret could be drawn from the operating system",
                    "set `secret_key`",
                ))
            })?;
            self.secret_key = Some(secret);
            let mut warnings = self.validate(environment)?;
            warnings.retain(|w| w.path != "auth.secret_key");
            warnings.insert(
                0,
                ConfigWarning::new(
                    "auth.secret_key",
                    format!(
                        "is not set: a random secret is used ({environment}), so tokens and session cookies do not survive a restart"
                    ),
                ),
            );
            return Ok(CheckedConfig {
                config: self,
                environment,
                warnings,
            });
        }
        let warnings = self.validate(environment)?;
        Ok(CheckedConfig {
            config: self,
            environment,
            warnings,
        })
    }

    /// Reads the `auth:` section of an `application.yaml` text, with `${VAR}`
    /// substitution and `LEX_AUTH__` overrides from the process environment;
    /// see [`ConfigLoader`] to choose the variables.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lexigram_auth::config::AuthConfig;
    ///
    /// let config = AuthConfig::from_yaml_str(r#"
    /// auth:
    ///   token:
    ///     access_ttl: 5m
    ///     required_audience: articles-api
    ///   max_sessions_per_user: 5
    /// "#)?;
    /// assert_eq!(config.token.access_ttl, Duration::from_secs(300));
    /// assert_eq!(config.max_sessions_per_user, Some(5));
    /// # Ok::<(), lexigram_auth::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// As [`ConfigLoader::yaml_str`].
    pub fn from_yaml_str(text: &str) -> Result<Self, ConfigError> {
        ConfigLoader::new().yaml_str(text)
    }

    /// Reads the `[auth]` table of a TOML text; as
    /// [`from_yaml_str`](Self::from_yaml_str).
    ///
    /// # Errors
    /// As [`ConfigLoader::toml_str`].
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        ConfigLoader::new().toml_str(text)
    }

    /// Reads a `.yaml`, `.yml` or `.toml` file; as
    /// [`from_yaml_str`](Self::from_yaml_str).
    ///
    /// # Errors
    /// As [`ConfigLoader::file`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        ConfigLoader::new().file(path)
    }
}

/// Loads an [`AuthConfig`] with a chosen source of [`Variables`].
///
/// The steps, in order: parse the text (a syntax error gives its line and
/// column); take the `auth` section; replace `${VAR}` and
/// `${VAR:-default}` in every text value (`$${` is a literal `${`); apply
/// every `LEX_AUTH__SECTION__KEY=value` variable; read the typed
/// configuration (an unknown or misspelt key is an error naming it).
///
/// A value that is exactly one `${...}`, and every override value, is read
/// like a YAML scalar: `true` and `false` are booleans, whole numbers are
/// numbers, `[a, b]` is a list, anything else is text.
///
/// ```
/// use lexigram_auth::config::{ConfigLoader, Variables};
/// use lexigram_auth::environment::Environment;
///
/// let loader = ConfigLoader::with_variables(Variables::from_iter([
///     ("AUTH_SECRET", "an-example-secret-of-32-bytes-or-more!"),
///     ("LEX_AUTH__TOKEN__REQUIRED_AUDIENCE", "articles-api"),
///     ("LEX_AUTH__MAX_SESSIONS_PER_USER", "3"),
///     ("LEX_ENV", "development"),
/// ]));
/// let config = loader.yaml_str("auth:\n  secret_key: ${AUTH_SECRET}\n")?;
/// assert_eq!(config.token.required_audience.as_deref(), Some("articles-api"));
/// assert_eq!(config.max_sessions_per_user, Some(3));
/// assert_eq!(loader.environment()?, Environment::Development);
/// # Ok::<(), lexigram_auth::error::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConfigLoader {
    vars: Variables,
}

impl Default for ConfigLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigLoader {
    /// A loader reading the process environment.
    #[must_use]
    pub fn new() -> Self {
        Self {
            vars: Variables::process(),
        }
    }

    /// A loader reading `vars`.
    #[must_use]
    pub fn with_variables(vars: Variables) -> Self {
        Self { vars }
    }

    /// The environment named by `LEX_ENV` (unset is production).
    ///
    /// # Errors
    /// [`ConfigError::Environment`] for a value that names no environment.
    pub fn environment(&self) -> Result<Environment, ConfigError> {
        Ok(Environment::from_value(self.vars.get(ENV_VAR).as_deref())?)
    }

    /// Reads the `auth` section of a YAML text.
    ///
    /// # Errors
    /// [`ConfigError::Syntax`] (with line and column),
    /// [`ConfigError::MissingSection`], [`ConfigError::UndefinedVariable`],
    /// [`ConfigError::UnclosedVariable`], [`ConfigError::Override`], or
    /// [`ConfigError::Invalid`] naming the key of a misspelt key or a value
    /// of the wrong type.
    pub fn yaml_str(&self, text: &str) -> Result<AuthConfig, ConfigError> {
        self.finish(parse_yaml(text, None)?)
    }

    /// Reads the `[auth]` table of a TOML text.
    ///
    /// # Errors
    /// As [`yaml_str`](Self::yaml_str).
    pub fn toml_str(&self, text: &str) -> Result<AuthConfig, ConfigError> {
        self.finish(parse_toml(text, None)?)
    }

    /// Reads a file: YAML for `.yaml` and `.yml`, TOML for `.toml`.
    ///
    /// # Errors
    /// [`ConfigError::Read`], [`ConfigError::UnsupportedFormat`], or as
    /// [`yaml_str`](Self::yaml_str).
    pub fn file(&self, path: impl AsRef<Path>) -> Result<AuthConfig, ConfigError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let yaml = match ext.as_deref() {
            Some("yaml" | "yml") => true,
            Some("toml") => false,
            _ => return Err(ConfigError::UnsupportedFormat(shown)),
        };
        let read_error = |reason: String| ConfigError::Read {
            path: shown.clone(),
            reason,
        };
        let size = std::fs::metadata(path)
            .map_err(|e| read_error(e.to_string()))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(read_error(format!(
                "it is larger than {MAX_FILE_BYTES} bytes"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
        let tree = if yaml {
            parse_yaml(&text, Some(&shown))?
        } else {
            parse_toml(&text, Some(&shown))?
        };
        self.finish(tree)
    }

    /// Reads a file, reads `LEX_ENV`, and [checks](AuthConfig::check) the
    /// configuration for that environment.
    ///
    /// # Errors
    /// As [`file`](Self::file) and [`environment`](Self::environment), or
    /// [`ConfigError::Invalid`] listing every problem.
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<CheckedConfig, ConfigError> {
        let config = self.file(path)?;
        Ok(config.check(self.environment()?)?)
    }

    fn finish(&self, root: Value) -> Result<AuthConfig, ConfigError> {
        let mut auth = match root {
            Value::Object(mut map) => match map.remove("auth") {
                Some(Value::Null) => Value::Object(Map::new()),
                Some(section @ Value::Object(_)) => section,
                Some(_) => {
                    return Err(ConfigIssue::new(
                        "auth",
                        "is not a section of keys",
                        "write the keys indented under `auth:`",
                    )
                    .into());
                }
                None => return Err(ConfigError::MissingSection),
            },
            _ => return Err(ConfigError::MissingSection),
        };
        substitute_tree(&mut auth, "auth", &self.vars)?;
        for (name, value) in self.vars.with_prefix(OVERRIDE_PREFIX) {
            apply_override(&mut auth, &name, &value)?;
        }
        serde_path_to_error::deserialize::<_, AuthConfig>(auth).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." || path.is_empty() {
                "auth".to_owned()
            } else {
                format!("auth.{path}")
            };
            let message = e.into_inner().to_string();
            let (problem, fix) = if let Some(rest) = message.strip_prefix("unknown field ") {
                let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
                (
                    format!("is not a known key (expected {expected})"),
                    "remove the key or correct its spelling",
                )
            } else if let Some(field) = message.strip_prefix("missing field ") {
                (format!("needs the key {field}"), "add the key")
            } else {
                (
                    format!("is invalid: {message}"),
                    "give a value of the type the key table (`lexigram_auth::docs::config`) lists",
                )
            };
            ConfigIssue::new(path, problem, fix).into()
        })
    }
}

/// 64 random bytes as base64url text (86 characters, enough for HS512).
fn random_text() -> Option<Secret> {
    use base64::Engine as _;
    let mut bytes = zeroize::Zeroizing::new([0u8; 64]);
    getrandom::fill(bytes.as_mut_slice()).ok()?;
    Some(Secret::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_slice()),
    ))
}

// ---------------------------------------------------------------- parsing

/// A document tree that refuses a key given twice in one mapping.
struct Tree(Value);

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor).map(Tree)
    }
}

struct TreeVisitor;

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(TextVisitor("a key"))
    }
}

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a configuration value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Tree::deserialize(d).map(|t| t.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Tree(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let Tree(value) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "the key `{}` is given twice",
                    key.chars().take(64).collect::<String>()
                )));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

fn parse_yaml(text: &str, origin: Option<&str>) -> Result<Value, ConfigError> {
    if text.trim().is_empty() {
        return Err(ConfigError::MissingSection);
    }
    serde_norway::from_str::<Tree>(text)
        .map(|t| t.0)
        .map_err(|e| {
            let location = e.location();
            let message = without_marks(&e.to_string());
            ConfigError::Syntax {
                format: "YAML",
                origin: origin.map(str::to_owned),
                line: location.as_ref().map(serde_norway::Location::line),
                column: location.as_ref().map(serde_norway::Location::column),
                message,
            }
        })
}

/// The parser's message without its ` at line N column M` marks (the line
/// and column are fields of the error).
pub(crate) fn without_marks(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(" at line ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + " at line ".len()..];
        let line_digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        let after_line = &tail[line_digits..];
        match after_line.strip_prefix(" column ") {
            Some(col) if line_digits > 0 => {
                let col_digits = col.bytes().take_while(u8::is_ascii_digit).count();
                rest = &col[col_digits..];
            }
            _ => {
                out.push_str(" at line ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_toml(text: &str, origin: Option<&str>) -> Result<Value, ConfigError> {
    toml::from_str::<Tree>(text).map(|t| t.0).map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => {
                let before = text.get(..span.start).unwrap_or("");
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        ConfigError::Syntax {
            format: "TOML",
            origin: origin.map(str::to_owned),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })
}

// ----------------------------------------------------------- substitution

fn substitute_tree(value: &mut Value, path: &str, vars: &Variables) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => {
            if text.contains('$') {
                *value = substitute(text, path, vars)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute_tree(item, &format!("{path}[{i}]"), vars)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                substitute_tree(item, &format!("{path}.{key}"), vars)?;
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// Replaces the `${...}` of `text`; a text that is exactly one `${...}` is
/// typed like a YAML scalar.
fn substitute(text: &str, path: &str, vars: &Variables) -> Result<Value, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut expressions = 0usize;
    let mut literal = false;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            literal = true;
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or_else(|| ConfigError::UnclosedVariable {
                    key: path.to_owned(),
                })?;
            let expression = &after[..end];
            let (name, default) = match expression.split_once(":-") {
                Some((name, default)) => (name.trim(), Some(default)),
                None => (expression.trim(), None),
            };
            let value = match (vars.get(name), default) {
                (Some(v), Some(d)) if v.is_empty() => d.to_owned(),
                (Some(v), _) => v,
                (None, Some(d)) => d.to_owned(),
                (None, None) => {
                    return Err(ConfigError::UndefinedVariable {
                        variable: name.to_owned(),
                        key: path.to_owned(),
                    });
                }
            };
            out.push_str(&value);
            expressions += 1;
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    let whole = expressions == 1
        && !literal
        && text.trim().starts_with("${")
        && text.trim().ends_with('}')
        && text.trim().matches("${").count() == 1;
    Ok(if whole {
        scalar(&out)
    } else {
        Value::String(out)
    })
}

/// Reads text like a YAML scalar: booleans, whole numbers, `[a, b]` lists;
/// anything else (the empty text included) stays text.
fn scalar(text: &str) -> Value {
    let t = text.trim();
    match t {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        "null" | "~" => return Value::Null,
        _ => {}
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if canonical && let Ok(n) = t.parse::<i64>() {
        return Value::from(n);
    }
    if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        if let Ok(Tree(list @ Value::Array(_))) = serde_norway::from_str::<Tree>(t) {
            return list;
        }
        // Not YAML (`[10.0.0.0/8, ::1]`): a comma-separated list of text.
        return Value::Array(
            inner
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        );
    }
    Value::String(text.to_owned())
}

// -------------------------------------------------------------- overrides

fn apply_override(auth: &mut Value, variable: &str, raw: &str) -> Result<(), ConfigError> {
    let fail = |reason: String| ConfigError::Override {
        variable: variable.to_owned(),
        reason,
    };
    let rest = variable.get(OVERRIDE_PREFIX.len()..).unwrap_or("");
    let segments: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if segments.iter().any(String::is_empty) {
        return Err(fail(
            "it names an empty key; separate keys with exactly two underscores, as in `LEX_AUTH__TOKEN__ACCESS_TTL`".to_owned(),
        ));
    }
    let mut node = auth;
    let mut path = String::from("auth");
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        if node.is_null() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else {
            return Err(fail(format!(
                "`{path}` is a value, not a section, so `{segment}` cannot be set inside it"
            )));
        };
        let key = map
            .keys()
            .find(|k| k.eq_ignore_ascii_case(segment))
            .cloned()
            .unwrap_or_else(|| segment.clone());
        path.push('.');
        path.push_str(&key);
        if i == last {
            map.insert(key, scalar(raw));
            return Ok(());
        }
        node = map.entry(key).or_insert(Value::Null);
    }
    Ok(())
}

#[cfg(test)]
pub(super) fn scalar_for_tests(text: &str) -> Value {
    scalar(text)
}
