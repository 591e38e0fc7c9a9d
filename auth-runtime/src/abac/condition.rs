//! Operators and the compiled conditions of run-time policies, evaluated
//! with three outcomes: `Some(true)`, `Some(false)` and `None` (not
//! applicable).

use std::cmp::Ordering;
use std::fmt;

use regex::Regex;

use super::value::{AttrType, AttrValue, Attributes, Context, OwnedValue};
use crate::Principal;

/// A comparison of a policy condition (the `op:` of a leaf).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `equals`: same type and same value.
    Equals,
    /// `not-equals`: same type, different value.
    NotEquals,
    /// `in`: a string that is an element of a string list.
    In,
    /// `not-in`: a string that is not an element of a string list.
    NotIn,
    /// `contains`: a string containing a substring, or a string list
    /// containing an element.
    Contains,
    /// `starts-with`: a string starting with a prefix.
    StartsWith,
    /// `lt`: less than (integers, floats, strings by bytes).
    Lt,
    /// `le`: less than or equal.
    Le,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `matches`: a string matching a regular expression somewhere
    /// (anchor it with `^...$` to match the whole string).
    Matches,
    /// `exists`: whether the attribute is present.
    Exists,
}

impl Operator {
    /// Every operator, in the order of the documentation's table.
    pub const ALL: [Self; 12] = [
        Self::Equals,
        Self::NotEquals,
        Self::In,
        Self::NotIn,
        Self::Contains,
        Self::StartsWith,
        Self::Lt,
        Self::Le,
        Self::Gt,
        Self::Ge,
        Self::Matches,
        Self::Exists,
    ];

    /// The name used in policy files (`equals`, `not-in`, `starts-with`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Equals => "equals",
            Self::NotEquals => "not-equals",
            Self::In => "in",
            Self::NotIn => "not-in",
            Self::Contains => "contains",
            Self::StartsWith => "starts-with",
            Self::Lt => "lt",
            Self::Le => "le",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Matches => "matches",
            Self::Exists => "exists",
        }
    }

    /// The operator of that name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Compares two values: `None` (not applicable) when their types do not
    /// fit the operator, or when a float comparison involves NaN.
    ///
    /// `matches` and `exists` are no comparison of two values and always
    /// give `None` here.
    ///
    /// ```
    /// use lexigram_auth::abac::{AttrValue, Operator};
    ///
    /// let tags = ["rust".to_owned(), "auth".to_owned()];
    /// assert_eq!(Operator::Contains.compare(AttrValue::StringList(&tags), AttrValue::String("rust")), Some(true));
    /// assert_eq!(Operator::Lt.compare(AttrValue::Integer(1), AttrValue::Integer(2)), Some(true));
    /// assert_eq!(Operator::Lt.compare(AttrValue::Integer(1), AttrValue::Float(2.0)), None);
    /// ```
    #[must_use]
    pub fn compare(self, left: AttrValue<'_>, right: AttrValue<'_>) -> Option<bool> {
        use AttrValue as V;
        match self {
            Self::Equals => equal(left, right),
            Self::NotEquals => equal(left, right).map(|eq| !eq),
            Self::In => member(left, right),
            Self::NotIn => member(left, right).map(|found| !found),
            Self::Contains => match (left, right) {
                (V::String(haystack), V::String(needle)) => Some(haystack.contains(needle)),
                (V::StringList(list), V::String(item)) => Some(list.iter().any(|e| e == item)),
                _ => None,
            },
            Self::StartsWith => match (left, right) {
                (V::String(s), V::String(prefix)) => Some(s.starts_with(prefix)),
                _ => None,
            },
            Self::Lt => order(left, right).map(Ordering::is_lt),
            Self::Le => order(left, right).map(Ordering::is_le),
            Self::Gt => order(left, right).map(Ordering::is_gt),
            Self::Ge => order(left, right).map(Ordering::is_ge),
            Self::Matches | Self::Exists => None,
        }
    }

    /// Whether the operator accepts an attribute of type `attr` compared
    /// with a value of type `value` (the load-time type check).
    pub(crate) fn accepts(self, attr: AttrType, value: AttrType) -> bool {
        use AttrType as T;
        match self {
            Self::Equals | Self::NotEquals => attr == value,
            Self::In | Self::NotIn => attr == T::String && value == T::StringList,
            Self::Contains => value == T::String && matches!(attr, T::String | T::StringList),
            Self::StartsWith | Self::Matches => attr == T::String && value == T::String,
            Self::Lt | Self::Le | Self::Gt | Self::Ge => {
                attr == value && matches!(attr, T::Integer | T::Float | T::String)
            }
            Self::Exists => value == T::Bool,
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn equal(left: AttrValue<'_>, right: AttrValue<'_>) -> Option<bool> {
    use AttrValue as V;
    Some(match (left, right) {
        (V::String(a), V::String(b)) => a == b,
        (V::Integer(a), V::Integer(b)) => a == b,
        (V::Float(a), V::Float(b)) => {
            if a.is_nan() || b.is_nan() {
                return None;
            }
            #[expect(
                clippy::float_cmp,
                reason = "`equals` on floats is exact by definition"
            )]
            let eq = a == b;
            eq
        }
        (V::Bool(a), V::Bool(b)) => a == b,
        (V::StringList(a), V::StringList(b)) => a == b,
        _ => return None,
    })
}

fn member(left: AttrValue<'_>, right: AttrValue<'_>) -> Option<bool> {
    match (left, right) {
        (AttrValue::String(item), AttrValue::StringList(list)) => {
            Some(list.iter().any(|e| e == item))
        }
        _ => None,
    }
}

fn order(left: AttrValue<'_>, right: AttrValue<'_>) -> Option<Ordering> {
    use AttrValue as V;
    match (left, right) {
        (V::Integer(a), V::Integer(b)) => Some(a.cmp(&b)),
        (V::Float(a), V::Float(b)) => a.partial_cmp(&b),
        (V::String(a), V::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        _ => None,
    }
}

/// Whose attribute a condition reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    Principal,
    Resource,
    Context,
}

impl Scope {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "principal" => Self::Principal,
            "resource" => Self::Resource,
            "context" => Self::Context,
            _ => return None,
        })
    }
}

/// An attribute named by a condition, with the type it was declared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AttrRef {
    pub(crate) scope: Scope,
    pub(crate) name: Box<str>,
    pub(crate) ty: AttrType,
}

/// What reading an attribute found.
enum Fetched<'v> {
    Missing,
    /// Present, but of another type than declared.
    WrongType,
    Value(AttrValue<'v>),
}

/// What a condition reads: the principal, the resource, the context.
pub(crate) struct Subjects<'v, R> {
    pub(crate) principal: &'v Principal,
    pub(crate) resource: &'v R,
    pub(crate) context: &'v Context,
}

impl AttrRef {
    fn fetch<'v, R: Attributes>(&self, on: &Subjects<'v, R>) -> Fetched<'v> {
        let found = match self.scope {
            Scope::Principal => on.principal.attribute(&self.name),
            Scope::Resource => on.resource.attribute(&self.name),
            Scope::Context => on.context.get(&self.name),
        };
        match found {
            None => Fetched::Missing,
            Some(value) if value.ty() == self.ty => Fetched::Value(value),
            Some(_) => Fetched::WrongType,
        }
    }

    fn value<'v, R: Attributes>(&self, on: &Subjects<'v, R>) -> Option<AttrValue<'v>> {
        match self.fetch(on) {
            Fetched::Value(value) => Some(value),
            Fetched::Missing | Fetched::WrongType => None,
        }
    }
}

/// The right-hand side of a leaf.
#[derive(Debug)]
pub(crate) enum Operand {
    Literal(OwnedValue),
    Reference(AttrRef),
    Pattern(Regex),
    /// `exists`: whether the attribute should be present.
    Exists(bool),
}

/// A compiled condition.
#[derive(Debug)]
pub(crate) enum Condition {
    All(Box<[Condition]>),
    Any(Box<[Condition]>),
    Not(Box<Condition>),
    Leaf {
        attr: AttrRef,
        op: Operator,
        operand: Operand,
    },
}

impl Condition {
    /// `Some(true)` applies, `Some(false)` does not, `None` is not applicable.
    pub(crate) fn evaluate<R: Attributes>(&self, on: &Subjects<'_, R>) -> Option<bool> {
        match self {
            Self::All(items) => {
                let mut unknown = false;
                for item in items {
                    match item.evaluate(on) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                if unknown { None } else { Some(true) }
            }
            Self::Any(items) => {
                let mut unknown = false;
                for item in items {
                    match item.evaluate(on) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if unknown { None } else { Some(false) }
            }
            Self::Not(inner) => inner.evaluate(on).map(|b| !b),
            Self::Leaf { attr, op, operand } => match operand {
                Operand::Exists(expected) => match attr.fetch(on) {
                    Fetched::Missing => Some(!expected),
                    Fetched::Value(_) => Some(*expected),
                    Fetched::WrongType => None,
                },
                Operand::Pattern(regex) => match attr.value(on)? {
                    AttrValue::String(s) => Some(regex.is_match(s)),
                    _ => None,
                },
                Operand::Literal(value) => op.compare(attr.value(on)?, value.as_value()),
                Operand::Reference(other) => op.compare(attr.value(on)?, other.value(on)?),
            },
        }
    }
}
