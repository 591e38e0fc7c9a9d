//! Attributes: their types and values, schemas, the [`Attributes`] trait,
//! the request [`Context`], and the principal's attributes.

use std::collections::BTreeMap;
use std::fmt;
use std::time::UNIX_EPOCH;

use crate::{AuthMethod, Principal};

/// The type of an attribute, declared in a [`Schema`] or for a context
/// attribute.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// Text.
    String,
    /// A signed 64-bit integer.
    Integer,
    /// A 64-bit float.
    Float,
    /// `true` or `false`.
    Bool,
    /// A list of strings.
    StringList,
}

impl AttrType {
    /// The name used in policy files: `string`, `integer`, `float`, `bool`,
    /// `string-list`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Float => "float",
            Self::Bool => "bool",
            Self::StringList => "string-list",
        }
    }

    /// The type of that name (see [`name`](Self::name)).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "string" => Self::String,
            "integer" => Self::Integer,
            "float" => Self::Float,
            "bool" => Self::Bool,
            "string-list" => Self::StringList,
            _ => return None,
        })
    }
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A borrowed attribute value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrValue<'a> {
    /// Text.
    String(&'a str),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A list of strings.
    StringList(&'a [String]),
}

impl AttrValue<'_> {
    /// The value's type.
    #[must_use]
    pub const fn ty(&self) -> AttrType {
        match self {
            Self::String(_) => AttrType::String,
            Self::Integer(_) => AttrType::Integer,
            Self::Float(_) => AttrType::Float,
            Self::Bool(_) => AttrType::Bool,
            Self::StringList(_) => AttrType::StringList,
        }
    }
}

/// An owned attribute value: what a [`Context`] holds and what a policy
/// file's literals are.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedValue {
    /// Text.
    String(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A list of strings.
    StringList(Vec<String>),
}

impl OwnedValue {
    /// The value, borrowed.
    #[must_use]
    pub fn as_value(&self) -> AttrValue<'_> {
        match self {
            Self::String(s) => AttrValue::String(s),
            Self::Integer(i) => AttrValue::Integer(*i),
            Self::Float(x) => AttrValue::Float(*x),
            Self::Bool(b) => AttrValue::Bool(*b),
            Self::StringList(l) => AttrValue::StringList(l),
        }
    }

    /// The value's type.
    #[must_use]
    pub fn ty(&self) -> AttrType {
        self.as_value().ty()
    }
}

impl From<&str> for OwnedValue {
    fn from(value: &str) -> Self {
        Self::String(value.to_owned())
    }
}

impl From<String> for OwnedValue {
    fn from(value: String) -> Self {
        Self::String(value)
    }
}

impl From<i64> for OwnedValue {
    fn from(value: i64) -> Self {
        Self::Integer(value)
    }
}

impl From<f64> for OwnedValue {
    fn from(value: f64) -> Self {
        Self::Float(value)
    }
}

impl From<bool> for OwnedValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<Vec<String>> for OwnedValue {
    fn from(value: Vec<String>) -> Self {
        Self::StringList(value)
    }
}

impl From<AttrValue<'_>> for OwnedValue {
    fn from(value: AttrValue<'_>) -> Self {
        match value {
            AttrValue::String(s) => Self::String(s.to_owned()),
            AttrValue::Integer(i) => Self::Integer(i),
            AttrValue::Float(x) => Self::Float(x),
            AttrValue::Bool(b) => Self::Bool(b),
            AttrValue::StringList(l) => Self::StringList(l.to_vec()),
        }
    }
}

/// One attribute of a [`Schema`].
#[derive(Debug)]
pub struct AttributeDef {
    /// The attribute's name (a field name for a derived policy).
    pub name: &'static str,
    /// Its type.
    pub ty: AttrType,
    /// Whether it may be missing (an `Option` field).
    pub optional: bool,
}

/// The attributes of one kind of resource (or of the principal), known at
/// compile time; run-time policies are checked against it when loaded.
#[derive(Debug)]
pub struct Schema {
    /// The resource kind, such as `article`: the first segment of the RBAC
    /// permission `article.edit` and the `resource:` of run-time policies.
    pub kind: &'static str,
    /// The attributes, in declaration order.
    pub attributes: &'static [AttributeDef],
}

impl Schema {
    /// The attribute called `name`.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// Something with named, typed attributes: a resource (usually through
/// `#[derive(Policy)]`) or the [`Principal`].
pub trait Attributes {
    /// The schema every value of this type follows.
    fn schema(&self) -> &'static Schema;

    /// The attribute `name`; `None` when it is missing (an `Option` field
    /// that is `None`) or not part of the schema.
    fn attribute(&self, name: &str) -> Option<AttrValue<'_>>;
}

/// Request-time attributes: the client address, the hour, a risk score,
/// anything the application knows about the request.
///
/// ```
/// use lexigram_auth::abac::{AttrValue, Context};
///
/// let context = Context::new().with("hour", 14_i64).with("ip", "203.0.113.7");
/// assert_eq!(context.get("hour"), Some(AttrValue::Integer(14)));
/// assert_eq!(context.get("country"), None);
/// ```
///
/// Policies name context attributes as `context.<name>`; they must be
/// declared (in the policy file or the [`SchemaRegistry`](super::SchemaRegistry)).
/// A context value of another type than declared makes the conditions
/// reading it not applicable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    values: BTreeMap<String, OwnedValue>,
}

impl Context {
    /// An empty context (allocates nothing).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            values: BTreeMap::new(),
        }
    }

    /// Sets `name` to `value`, replacing an earlier value.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<OwnedValue>) -> Self {
        self.insert(name, value);
        self
    }

    /// Sets `name` to `value`, replacing an earlier value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<OwnedValue>) {
        self.values.insert(name.into(), value.into());
    }

    /// The value of `name`, if set.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<AttrValue<'_>> {
        self.values.get(name).map(OwnedValue::as_value)
    }

    /// The number of attributes set.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no attribute is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The schema of the [`Principal`]'s attributes (kind `principal`), which
/// policies read as `principal.<name>`.
pub static PRINCIPAL_SCHEMA: Schema = Schema {
    kind: "principal",
    attributes: &[
        AttributeDef {
            name: "subject",
            ty: AttrType::String,
            optional: false,
        },
        AttributeDef {
            name: "roles",
            ty: AttrType::StringList,
            optional: false,
        },
        AttributeDef {
            name: "permissions",
            ty: AttrType::StringList,
            optional: false,
        },
        AttributeDef {
            name: "tenant",
            ty: AttrType::String,
            optional: true,
        },
        AttributeDef {
            name: "auth_method",
            ty: AttrType::String,
            optional: false,
        },
        AttributeDef {
            name: "amr",
            ty: AttrType::StringList,
            optional: false,
        },
        AttributeDef {
            name: "auth_time",
            ty: AttrType::Integer,
            optional: true,
        },
        AttributeDef {
            name: "session_id",
            ty: AttrType::String,
            optional: true,
        },
    ],
};

/// `principal.roles` are the roles assigned directly (not the inherited
/// ones), `principal.permissions` the direct grants, `principal.auth_method`
/// the [`AuthMethod::name`], `principal.auth_time` Unix seconds.
impl Attributes for Principal {
    fn schema(&self) -> &'static Schema {
        &PRINCIPAL_SCHEMA
    }

    fn attribute(&self, name: &str) -> Option<AttrValue<'_>> {
        Some(match name {
            "subject" => AttrValue::String(self.subject()),
            "roles" => AttrValue::StringList(self.roles()),
            "permissions" => AttrValue::StringList(self.permissions()),
            "tenant" => AttrValue::String(self.tenant()?),
            "auth_method" => AttrValue::String(AuthMethod::name(self.auth_method())),
            "amr" => AttrValue::StringList(self.amr()),
            "auth_time" => {
                let secs = self.auth_time()?.duration_since(UNIX_EPOCH).ok()?.as_secs();
                AttrValue::Integer(i64::try_from(secs).ok()?)
            }
            "session_id" => AttrValue::String(self.session_id()?),
            _ => return None,
        })
    }
}
