//! Grammar and semantic checks: turns the permissive `parse` model into a
//! validated requirement, or into every mistake found, each a `syn::Error` on
//! the narrowest token.

use std::collections::HashSet;
use std::fmt;

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{
    Expr, ExprLit, ExprPath, FnArg, GenericArgument, Ident, ItemStruct, Lit, LitStr, Pat,
    PathArguments, Type,
};

use crate::catalog::Catalog;
use crate::parse::{Arg, Call, GuardAttr, Handler, Kind, OptionArg, Target};

/// Longest permission, in bytes.
const MAX_PERMISSION_LEN: usize = 128;
/// Most segments in a permission.
const MAX_PERMISSION_SEGMENTS: usize = 8;
/// Longest role name, in bytes.
const MAX_ROLE_LEN: usize = 64;
/// Most parameters an axum handler may have.
const MAX_HANDLER_PARAMS: usize = 16;

/// A requirement whose every name passed the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requirement {
    Authenticated,
    /// `require_auth(fresh = "5m")`: authenticated at most this many seconds ago.
    FreshWithin(u64),
    /// `require_auth(mfa)`.
    Mfa,
    Role(LitStr),
    Permission(LitStr),
    /// A typed permission, `Perm::ArticlesWrite`: a path of at least two
    /// segments whose type implements the runtime's `TypedPermission`.
    Typed(ExprPath),
    All(Vec<Requirement>),
    Any(Vec<Requirement>),
    Not(Box<Requirement>),
}

/// What expansion needs, once everything checked out.
#[derive(Debug)]
pub(crate) struct Checked {
    /// All guard attributes of the item, combined.
    pub(crate) requirement: Requirement,
    /// The router state to check for an `AuthModule`, when it is known.
    pub(crate) state: Option<Type>,
    /// For a service-layer function: its `&Principal` parameter, which the
    /// guard checks at the top of the body instead of adding an extractor.
    pub(crate) principal: Option<Ident>,
}

/// Collects every error so that they are reported together.
#[derive(Debug, Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn error(&mut self, span: Span, message: impl fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

/// Checks every guard attribute of the item (outermost first) and the item
/// itself, reporting every mistake. With a `catalog`, every role must be
/// defined in it and every permission granted or declared by it.
pub(crate) fn check(
    attrs: &[syn::Result<GuardAttr>],
    target: &Target,
    catalog: Option<&Catalog>,
) -> syn::Result<Checked> {
    let mut errors = Errors::default();
    let mut state = ExplicitState::default();
    let mut seen_roles = HashSet::new();
    let mut seen_permissions = HashSet::new();
    let mut parts = Vec::new();

    let attrs: Vec<&GuardAttr> = attrs
        .iter()
        .filter_map(|attr| match attr {
            Ok(attr) => Some(attr),
            Err(error) => {
                errors.push(error.clone());
                None
            }
        })
        .collect();
    for attr in attrs {
        let seen = match attr.kind {
            Kind::Auth => None,
            Kind::Roles => Some(&mut seen_roles),
            Kind::Permissions => Some(&mut seen_permissions),
        };
        let mut lowering = Lowering {
            errors: &mut errors,
            state: &mut state,
            catalog,
        };
        if let Some(part) = lowering.attribute(attr, seen) {
            parts.push(part);
        }
    }

    let mut principal = None;
    let checked_state = match target {
        Target::Fn(handler) => match principal_parameter(handler) {
            Some(param) => {
                check_service_fn(handler, param, state.ty.as_ref(), &mut errors);
                principal = param_ident(param);
                None
            }
            None => {
                check_handler(handler, &mut errors);
                handler_state(handler, state.ty)
            }
        },
        Target::Struct(item) => {
            for error in struct_shape_errors(item) {
                errors.push(error);
            }
            state.ty
        }
    };

    let requirement = match parts.len() {
        1 => parts.pop().unwrap_or(Requirement::Authenticated),
        _ => Requirement::All(parts),
    };
    errors.finish(Checked {
        requirement,
        state: checked_state,
        principal,
    })
}

/// The `state = Type` option, given at most once over all guard attributes.
#[derive(Debug, Default)]
struct ExplicitState {
    ty: Option<Type>,
}

/// The step-up options of one `require_auth`.
#[derive(Debug, Default)]
struct StepUpOptions {
    fresh: Option<u64>,
    mfa: bool,
}

impl StepUpOptions {
    fn requirement(&self) -> Requirement {
        let mut parts = Vec::new();
        if let Some(seconds) = self.fresh {
            parts.push(Requirement::FreshWithin(seconds));
        }
        if self.mfa {
            parts.push(Requirement::Mfa);
        }
        match parts.len() {
            0 => Requirement::Authenticated,
            1 => parts.pop().unwrap_or(Requirement::Authenticated),
            _ => Requirement::All(parts),
        }
    }
}

/// The options a guard kind accepts, for error messages.
fn expected_options(kind: Kind) -> &'static str {
    match kind {
        Kind::Auth => "`mfa`, `fresh = \"5m\"` or `state = Type`",
        Kind::Roles | Kind::Permissions => "`state = Type`",
    }
}

/// The longest `fresh` window: one day. Anything longer is not a step-up.
const MAX_FRESH_SECONDS: u64 = 86_400;

/// A duration such as `90s`, `5m`, `2h` or `1d`: a positive whole number and
/// one unit, at most a day.
fn parse_duration(text: &str) -> Result<u64, String> {
    let hint = "expected a duration such as \"30s\", \"5m\", \"2h\" or \"1d\"";
    let Some(unit) = text.chars().last() else {
        return Err(hint.to_owned());
    };
    let digits = text.strip_suffix(unit).unwrap_or_default();
    let scale: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("unknown duration unit in \"{text}\": {hint}")),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("\"{text}\" is not a duration: {hint}"));
    }
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("\"{text}\" is too long a duration"))?;
    let seconds = value.saturating_mul(scale);
    if seconds == 0 {
        return Err("a `fresh` window of zero accepts no one: give a positive duration".to_owned());
    }
    if seconds > MAX_FRESH_SECONDS {
        return Err(format!(
            "\"{text}\" is longer than a day: `fresh` asks for a recent login, at most \"1d\""
        ));
    }
    Ok(seconds)
}

/// Lowers attribute arguments to a [`Requirement`], recording errors.
struct Lowering<'a> {
    errors: &'a mut Errors,
    state: &'a mut ExplicitState,
    catalog: Option<&'a Catalog>,
}

/// What a string literal means in a list macro.
#[derive(Debug, Clone, Copy)]
enum Leaf {
    Role,
    Permission,
}

impl Leaf {
    fn noun(self) -> &'static str {
        match self {
            Self::Role => "role",
            Self::Permission => "permission",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Self::Role => "\"editor\"",
            Self::Permission => "\"articles.read\"",
        }
    }
}

impl Lowering<'_> {
    /// One whole attribute. `seen` collects the top-level names of all
    /// attributes of the same kind, to report duplicates across them.
    fn attribute(
        &mut self,
        attr: &GuardAttr,
        seen: Option<&mut HashSet<String>>,
    ) -> Option<Requirement> {
        let mut items = Vec::new();
        let mut step_up = StepUpOptions::default();
        for arg in &attr.args {
            match arg {
                Arg::Option(option) if option.key == "fresh" => {
                    self.fresh(option, attr.kind, &mut step_up);
                }
                Arg::Option(option) => self.option(option, attr.kind),
                Arg::Other(expr) if single_ident(expr).is_some_and(|w| w == "mfa") => {
                    self.mfa(expr, attr.kind, &mut step_up);
                }
                _ if attr.kind == Kind::Auth => self.unknown_option(arg),
                _ => items.push(arg),
            }
        }
        let (leaf, seen) = match (attr.kind, seen) {
            (Kind::Auth, _) | (_, None) => return Some(step_up.requirement()),
            (Kind::Roles, Some(seen)) => (Leaf::Role, seen),
            (Kind::Permissions, Some(seen)) => (Leaf::Permission, seen),
        };
        if items.is_empty() {
            self.errors.error(
                attr.span,
                format_args!(
                    "`{}` needs at least one {}, such as `#[{}({})]`",
                    attr.kind.name(),
                    leaf.noun(),
                    attr.kind.name(),
                    leaf.example(),
                ),
            );
            return None;
        }
        let mut lowered = self.list(&items, leaf, seen)?;
        if lowered.len() == 1 {
            return lowered.pop();
        }
        Some(match leaf {
            Leaf::Role => Requirement::Any(lowered),
            Leaf::Permission => Requirement::All(lowered),
        })
    }

    /// A top-level `key = value` option other than `fresh`.
    fn option(&mut self, option: &OptionArg, kind: Kind) {
        match &option.ty {
            Some(ty) => {
                if self.state.ty.is_some() {
                    self.errors
                        .error(option.key.span(), "duplicate `state` option");
                } else {
                    self.state.ty = Some(ty.clone());
                }
            }
            _ => self.errors.error(
                option.key.span(),
                format_args!(
                    "unknown option `{}`, expected {}",
                    option.key,
                    expected_options(kind)
                ),
            ),
        }
    }

    /// `fresh = "5m"`: only on `require_auth`, once, with a duration literal.
    fn fresh(&mut self, option: &OptionArg, kind: Kind, step_up: &mut StepUpOptions) {
        if kind != Kind::Auth {
            self.errors.error(
                option.key.span(),
                "`fresh` is an option of `require_auth`: write `#[require_auth(fresh = \"5m\")]` next to this guard",
            );
            return;
        }
        if step_up.fresh.is_some() {
            self.errors
                .error(option.key.span(), "duplicate `fresh` option");
            return;
        }
        let lit = match option.value.as_deref() {
            Some(Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            })) => lit,
            other => {
                let span = other
                    .as_ref()
                    .map_or_else(|| option.key.span(), Spanned::span);
                self.errors.error(
                    span,
                    "expected a duration as a string literal, such as `fresh = \"5m\"`",
                );
                return;
            }
        };
        match parse_duration(&lit.value()) {
            Ok(seconds) => step_up.fresh = Some(seconds),
            Err(message) => self.errors.error(lit.span(), message),
        }
    }

    /// `mfa`: only on `require_auth`, once.
    fn mfa(&mut self, expr: &Expr, kind: Kind, step_up: &mut StepUpOptions) {
        if kind != Kind::Auth {
            self.errors.push(syn::Error::new_spanned(
                expr,
                "`mfa` is an option of `require_auth`: write `#[require_auth(mfa)]` next to this guard",
            ));
        } else if step_up.mfa {
            self.errors
                .push(syn::Error::new_spanned(expr, "duplicate `mfa` option"));
        } else {
            step_up.mfa = true;
        }
    }

    /// Anything but the options given to `require_auth`.
    fn unknown_option(&mut self, arg: &Arg) {
        let word = match arg {
            Arg::Call(call) => Some(&call.op),
            Arg::Option(option) => Some(&option.key),
            Arg::Other(expr) => single_ident(expr),
            Arg::Lit(_) => None,
        };
        match word {
            Some(word) => self.errors.error(
                word.span(),
                format_args!(
                    "unknown option `{word}`, expected {}",
                    expected_options(Kind::Auth)
                ),
            ),
            None => self.errors.push(syn::Error::new(
                arg_span(arg),
                format_args!(
                    "unexpected argument, expected {}",
                    expected_options(Kind::Auth)
                ),
            )),
        }
    }

    /// Sibling expressions; `None` when any of them had an error.
    fn list(
        &mut self,
        args: &[&Arg],
        leaf: Leaf,
        seen: &mut HashSet<String>,
    ) -> Option<Vec<Requirement>> {
        let mut lowered = Vec::with_capacity(args.len());
        let mut ok = true;
        for arg in args {
            match self.expression(arg, leaf) {
                Some(requirement) => {
                    if let Requirement::Role(lit) | Requirement::Permission(lit) = &requirement
                        && !seen.insert(lit.value())
                    {
                        self.errors.error(
                            lit.span(),
                            format_args!("duplicate {} `{}`", leaf.noun(), lit.value()),
                        );
                        ok = false;
                    }
                    if let Requirement::Typed(path) = &requirement {
                        let written = path_text(path);
                        if !seen.insert(format!("typed {written}")) {
                            self.errors.push(syn::Error::new_spanned(
                                path,
                                format_args!("duplicate permission `{written}`"),
                            ));
                            ok = false;
                        }
                    }
                    lowered.push(requirement);
                }
                None => ok = false,
            }
        }
        ok.then_some(lowered)
    }

    /// One expression inside a list macro.
    fn expression(&mut self, arg: &Arg, leaf: Leaf) -> Option<Requirement> {
        match arg {
            Arg::Lit(Lit::Str(lit)) => self.name(lit, leaf),
            Arg::Lit(other) => {
                self.errors.push(syn::Error::new(
                    other.span(),
                    format_args!(
                        "expected a {} as a string literal, such as `{}`",
                        leaf.noun(),
                        leaf.example()
                    ),
                ));
                None
            }
            Arg::Call(call) => self.operator(call, leaf),
            Arg::Option(option) => {
                self.errors.error(
                    option.key.span(),
                    format_args!(
                        "option `{}` is not allowed inside an expression; write it as an argument of the attribute",
                        option.key
                    ),
                );
                None
            }
            Arg::Other(Expr::Path(path))
                if matches!(leaf, Leaf::Permission)
                    && path.attrs.is_empty()
                    && path.qself.is_none()
                    && path.path.segments.len() >= 2 =>
            {
                Some(Requirement::Typed(path.clone()))
            }
            Arg::Other(expr) => {
                self.errors.push(other_expression_error(expr, leaf));
                None
            }
        }
    }

    /// `any(..)`, `all(..)`, `not(..)` or an unknown word.
    fn operator(&mut self, call: &Call, leaf: Leaf) -> Option<Requirement> {
        let op = &call.op;
        let args: Vec<&Arg> = call.args.iter().collect();
        if op == "not" {
            let [arg] = args.as_slice() else {
                self.errors.error(
                    op.span(),
                    format_args!("`not` takes exactly one argument, found {}", args.len()),
                );
                return None;
            };
            return self
                .expression(arg, leaf)
                .map(|inner| Requirement::Not(Box::new(inner)));
        }
        let any = op == "any";
        if !any && op != "all" {
            self.errors.error(
                op.span(),
                format_args!("unknown operator `{op}`, expected `any`, `all` or `not`"),
            );
            return None;
        }
        if args.is_empty() {
            self.errors.error(
                op.span(),
                format_args!("`{op}()` needs at least one argument"),
            );
            return None;
        }
        let lowered = self.list(&args, leaf, &mut HashSet::new())?;
        Some(if any {
            Requirement::Any(lowered)
        } else {
            Requirement::All(lowered)
        })
    }

    /// A role or permission literal.
    fn name(&mut self, lit: &LitStr, leaf: Leaf) -> Option<Requirement> {
        let value = lit.value();
        let problem = match leaf {
            Leaf::Role => check_role(&value),
            Leaf::Permission => check_permission(&value),
        };
        if problem.is_ok()
            && let Some(catalog) = self.catalog
        {
            let known = match leaf {
                Leaf::Role => catalog.check_role(&value),
                Leaf::Permission => catalog.check_permission(&value),
            };
            if let Err(message) = known {
                self.errors.error(lit.span(), message);
                return None;
            }
        }
        match problem {
            Ok(()) => Some(match leaf {
                Leaf::Role => Requirement::Role(lit.clone()),
                Leaf::Permission => Requirement::Permission(lit.clone()),
            }),
            Err(problem) => {
                self.errors.error(lit.span(), problem);
                None
            }
        }
    }
}

/// A path as written, without spaces: `Perm::ArticlesWrite`.
fn path_text(path: &ExprPath) -> String {
    quote::ToTokens::to_token_stream(path)
        .to_string()
        .split_whitespace()
        .collect()
}

fn single_ident(expr: &Expr) -> Option<&Ident> {
    match expr {
        Expr::Path(path) if path.attrs.is_empty() && path.qself.is_none() => path.path.get_ident(),
        _ => None,
    }
}

fn arg_span(arg: &Arg) -> Span {
    match arg {
        Arg::Lit(lit) => lit.span(),
        Arg::Call(call) => call.op.span(),
        Arg::Option(option) => option.key.span(),
        Arg::Other(expr) => expr.span(),
    }
}

/// The error for an argument that is neither a literal nor `word(..)`.
fn other_expression_error(expr: &Expr, leaf: Leaf) -> syn::Error {
    if let Some(word) = single_ident(expr) {
        if word == "any" || word == "all" || word == "not" {
            return syn::Error::new(
                word.span(),
                format_args!("expected `(` after `{word}`: `{word}(..)`"),
            );
        }
        if matches!(leaf, Leaf::Permission) && word.to_string().starts_with(char::is_uppercase) {
            return syn::Error::new(
                word.span(),
                format_args!(
                    "expected a permission as a string literal, or a typed permission with its enum's name such as `Perm::{word}`, found `{word}`"
                ),
            );
        }
        return syn::Error::new(
            word.span(),
            format_args!(
                "expected a {} as a string literal, found `{word}`; write `\"{word}\"`",
                leaf.noun()
            ),
        );
    }
    syn::Error::new_spanned(
        expr,
        format_args!(
            "expected a {} as a string literal such as `{}`, or `any(..)`, `all(..)` or `not(..)`",
            leaf.noun(),
            leaf.example()
        ),
    )
}

/// A violation of the permission or role grammar (DESIGN §3), displayed as
/// the compile error's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NameProblem {
    Empty {
        noun: &'static str,
    },
    TooLong {
        noun: &'static str,
        name: String,
        max: usize,
    },
    Wildcard {
        noun: &'static str,
        name: String,
    },
    UpperCase {
        noun: &'static str,
        name: String,
    },
    Character {
        noun: &'static str,
        name: String,
        found: char,
    },
    LeadingDot {
        name: String,
    },
    TrailingDot {
        name: String,
    },
    EmptySegment {
        name: String,
    },
    TooManySegments {
        name: String,
        count: usize,
    },
    RoleStart {
        name: String,
    },
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty { noun } => write!(f, "empty {noun} name"),
            Self::TooLong { noun, name, max } => write!(
                f,
                "{noun} `{name}` is {} bytes long, at most {max} are allowed",
                name.len()
            ),
            Self::Wildcard {
                noun: "permission",
                name,
            } => write!(
                f,
                "wildcard in permission `{name}`: `*` is only allowed in grants, a requirement names one exact permission"
            ),
            Self::Wildcard { noun, name } => {
                write!(f, "wildcard in {noun} `{name}`: {noun}s are exact names")
            }
            Self::UpperCase { noun, name } => write!(f, "{noun} `{name}` must be lower case"),
            Self::Character {
                noun: "permission",
                name,
                found,
            } => write!(
                f,
                "permission `{name}` contains `{found}`; segments use `a-z`, `0-9`, `_` and `-`, joined by `.`"
            ),
            Self::Character { noun, name, found } => write!(
                f,
                "{noun} `{name}` contains `{found}`; {noun}s use `a-z`, `0-9`, `_` and `-`"
            ),
            Self::LeadingDot { name } => write!(f, "permission `{name}` starts with a dot"),
            Self::TrailingDot { name } => write!(f, "permission `{name}` ends with a dot"),
            Self::EmptySegment { name } => {
                write!(f, "permission `{name}` has an empty segment between dots")
            }
            Self::TooManySegments { name, count } => write!(
                f,
                "permission `{name}` has {count} segments, at most {MAX_PERMISSION_SEGMENTS} are allowed"
            ),
            Self::RoleStart { name } => {
                write!(f, "role `{name}` must start with a lower-case letter `a-z`")
            }
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
}

/// Checks a permission used as a requirement: lower-case segments of
/// `[a-z0-9_-]` joined by `.`, 1 to 8 segments, at most 128 bytes, no `*`.
pub(crate) fn check_permission(name: &str) -> Result<(), NameProblem> {
    const NOUN: &str = "permission";
    let owned = || name.to_owned();
    if name.is_empty() {
        return Err(NameProblem::Empty { noun: NOUN });
    }
    if name.len() > MAX_PERMISSION_LEN {
        return Err(NameProblem::TooLong {
            noun: NOUN,
            name: owned(),
            max: MAX_PERMISSION_LEN,
        });
    }
    if name.contains('*') {
        return Err(NameProblem::Wildcard {
            noun: NOUN,
            name: owned(),
        });
    }
    if name.chars().any(char::is_uppercase) {
        return Err(NameProblem::UpperCase {
            noun: NOUN,
            name: owned(),
        });
    }
    if let Some(found) = name.chars().find(|&c| c != '.' && !is_name_char(c)) {
        return Err(NameProblem::Character {
            noun: NOUN,
            name: owned(),
            found,
        });
    }
    if name.starts_with('.') {
        return Err(NameProblem::LeadingDot { name: owned() });
    }
    if name.ends_with('.') {
        return Err(NameProblem::TrailingDot { name: owned() });
    }
    if name.split('.').any(str::is_empty) {
        return Err(NameProblem::EmptySegment { name: owned() });
    }
    let count = name.split('.').count();
    if count > MAX_PERMISSION_SEGMENTS {
        return Err(NameProblem::TooManySegments {
            name: owned(),
            count,
        });
    }
    Ok(())
}

/// Checks a role name: `[a-z][a-z0-9_-]*`, at most 64 bytes.
pub(crate) fn check_role(name: &str) -> Result<(), NameProblem> {
    const NOUN: &str = "role";
    let owned = || name.to_owned();
    let Some(first) = name.chars().next() else {
        return Err(NameProblem::Empty { noun: NOUN });
    };
    if name.len() > MAX_ROLE_LEN {
        return Err(NameProblem::TooLong {
            noun: NOUN,
            name: owned(),
            max: MAX_ROLE_LEN,
        });
    }
    if name.contains('*') {
        return Err(NameProblem::Wildcard {
            noun: NOUN,
            name: owned(),
        });
    }
    if name.chars().any(char::is_uppercase) {
        return Err(NameProblem::UpperCase {
            noun: NOUN,
            name: owned(),
        });
    }
    if !first.is_ascii_lowercase() && is_name_char(first) {
        return Err(NameProblem::RoleStart { name: owned() });
    }
    if let Some(found) = name.chars().find(|&c| !is_name_char(c)) {
        return Err(NameProblem::Character {
            noun: NOUN,
            name: owned(),
            found,
        });
    }
    Ok(())
}

/// Checks that a function can be a guarded handler.
pub(crate) fn check_handler(handler: &Handler, errors: &mut Errors) {
    let sig = &handler.sig;
    if let Some(constness) = &sig.constness {
        errors.error(
            constness.span,
            "guarded handlers cannot be `const fn`; write `async fn`",
        );
    } else if sig.asyncness.is_none() {
        errors.error(sig.fn_token.span, "guarded handlers must be `async fn`");
    }
    if let Some(receiver) = sig.receiver() {
        errors.push(syn::Error::new_spanned(
            receiver,
            "guards on methods with `self` are not supported; guard a free function",
        ));
    }
    let params = sig
        .inputs
        .iter()
        .filter(|arg| matches!(arg, FnArg::Typed(_)))
        .count();
    if params >= MAX_HANDLER_PARAMS {
        errors.error(
            sig.ident.span(),
            format_args!(
                "`{}` has {params} parameters: the guard adds one and axum handlers take at most {MAX_HANDLER_PARAMS}",
                sig.ident
            ),
        );
    }
}

/// The first parameter typed `&Principal` (any path ending in `Principal`,
/// shared reference, any lifetime): it makes the function a service-layer
/// function. Handlers cannot take references (axum extractors are owned), so
/// this never mistakes a handler for a service function.
fn principal_parameter(handler: &Handler) -> Option<&syn::PatType> {
    handler.sig.inputs.iter().find_map(|arg| {
        let FnArg::Typed(typed) = arg else {
            return None;
        };
        let Type::Reference(reference) = &*typed.ty else {
            return None;
        };
        if reference.mutability.is_some() {
            return None;
        }
        let Type::Path(path) = &*reference.elem else {
            return None;
        };
        let last = path.path.segments.last()?;
        (path.qself.is_none() && last.ident == "Principal" && last.arguments.is_none())
            .then_some(typed)
    })
}

/// The name of a `name: &Principal` parameter (`mut name` too).
fn param_ident(param: &syn::PatType) -> Option<Ident> {
    match &*param.pat {
        Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
            Some(ident.ident.clone())
        }
        _ => None,
    }
}

/// A guarded service-layer function (`async` or not): not `const`, its
/// `&Principal` parameter named, a return type, no `state` option (there is
/// no router state).
fn check_service_fn(
    handler: &Handler,
    param: &syn::PatType,
    state: Option<&Type>,
    errors: &mut Errors,
) {
    let sig = &handler.sig;
    if let Some(constness) = &sig.constness {
        errors.error(
            constness.span,
            "guarded functions cannot be `const fn`: the check runs when the function is called",
        );
    }
    if param_ident(param).is_none() {
        errors.push(syn::Error::new_spanned(
            &param.pat,
            "name the `&Principal` parameter (such as `principal: &Principal`): the guard checks it",
        ));
    }
    if let Some(state) = state {
        errors.push(syn::Error::new_spanned(
            state,
            "`state` applies to handlers; a function taking `&Principal` has no router state",
        ));
    }
    if matches!(sig.output, syn::ReturnType::Default) {
        errors.error(
            sig.ident.span(),
            format_args!(
                "`{}` takes `&Principal`, so its guard returns the refusal through `Result`: declare a return type such as `Result<T, E>` where `E: From<lexigram_auth::error::AuthorizationFailed>`",
                sig.ident
            ),
        );
    }
}

/// Whether a struct can carry a requirement: a unit struct without generics.
pub(crate) fn struct_shape_errors(item: &ItemStruct) -> Vec<syn::Error> {
    let mut errors = Vec::new();
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            "a guarded struct cannot be generic; use a unit struct such as `struct Editors;`",
        ));
    }
    if !matches!(item.fields, syn::Fields::Unit) {
        errors.push(syn::Error::new_spanned(
            &item.fields,
            "a guarded struct must be a unit struct such as `struct Editors;`",
        ));
    }
    errors
}

/// The state type to check: the explicit `state = T`, or else the `T` of a
/// `State<T>` parameter. Generic handlers are not checked (the state may
/// depend on the generics); `Guard`'s own `FromRef` bound still applies.
fn handler_state(handler: &Handler, explicit: Option<Type>) -> Option<Type> {
    if !handler.sig.generics.params.is_empty() {
        return None;
    }
    explicit.or_else(|| {
        handler.sig.inputs.iter().find_map(|arg| match arg {
            FnArg::Typed(typed) => state_argument(&typed.ty).cloned(),
            FnArg::Receiver(_) => None,
        })
    })
}

/// `T` when `ty` is `State<T>` (any path ending in `State` with one type
/// argument, as axum's `#[debug_handler]` recognises it).
fn state_argument(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "State" {
        return None;
    }
    let PathArguments::AngleBracketed(generic) = &last.arguments else {
        return None;
    };
    let mut args = generic.args.iter();
    match (args.next(), args.next()) {
        (Some(GenericArgument::Type(inner)), None) => Some(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/data/names.tsv`, the table the runtime's grammar is tested
    /// against too: (kind, valid, name, note).
    fn table() -> Vec<(&'static str, bool, String, &'static str)> {
        include_str!("../../tests/data/names.tsv")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let cols: Vec<&str> = line.split('\t').collect();
                assert_eq!(cols.len(), 4, "malformed row {line:?}");
                let valid = match cols[1] {
                    "valid" => true,
                    "invalid" => false,
                    other => panic!("bad validity {other:?} in {line:?}"),
                };
                (cols[0], valid, expand_name(cols[2]), cols[3])
            })
            .collect()
    }

    fn expand_name(raw: &str) -> String {
        if raw == "<EMPTY>" {
            return String::new();
        }
        if let Some(rest) = raw
            .strip_prefix("<REPEAT:")
            .and_then(|r| r.strip_suffix('>'))
        {
            let (c, n) = rest.split_once(':').unwrap();
            return c.repeat(n.parse().unwrap());
        }
        raw.to_owned()
    }

    #[test]
    fn shared_name_table() {
        let rows = table();
        let mut checked = 0;
        for (kind, valid, name, note) in &rows {
            let result = match *kind {
                "permission" => check_permission(name),
                "role" => check_role(name),
                "grant" => continue, // runtime only: the macros never see grants
                other => panic!("unknown kind {other:?}"),
            };
            assert_eq!(
                result.is_ok(),
                *valid,
                "{kind} {name:?} ({note}): {result:?}"
            );
            checked += 1;
        }
        assert!(
            checked >= 25,
            "only {checked} rows checked: was the table read?"
        );
    }

    #[test]
    fn each_permission_rule_has_its_own_message() {
        let message = |name: &str| check_permission(name).unwrap_err().to_string();
        assert_eq!(
            message("Articles.read"),
            "permission `Articles.read` must be lower case"
        );
        assert_eq!(
            message("articles..read"),
            "permission `articles..read` has an empty segment between dots"
        );
        assert_eq!(
            message("articles."),
            "permission `articles.` ends with a dot"
        );
        assert_eq!(
            message(".articles"),
            "permission `.articles` starts with a dot"
        );
        assert!(message("articles.*").starts_with("wildcard in permission `articles.*`"));
        assert_eq!(
            message("a.b.c.d.e.f.g.h.i"),
            "permission `a.b.c.d.e.f.g.h.i` has 9 segments, at most 8 are allowed"
        );
        assert!(message(&"a".repeat(129)).ends_with("is 129 bytes long, at most 128 are allowed"));
        assert_eq!(
            message("articles read"),
            "permission `articles read` contains ` `; segments use `a-z`, `0-9`, `_` and `-`, joined by `.`"
        );
        assert_eq!(message(""), "empty permission name");
    }

    #[test]
    fn each_role_rule_has_its_own_message() {
        let message = |name: &str| check_role(name).unwrap_err().to_string();
        assert_eq!(message("Admin"), "role `Admin` must be lower case");
        assert_eq!(
            message("2admin"),
            "role `2admin` must start with a lower-case letter `a-z`"
        );
        assert_eq!(
            message("-admin"),
            "role `-admin` must start with a lower-case letter `a-z`"
        );
        assert_eq!(
            message("admin.read"),
            "role `admin.read` contains `.`; roles use `a-z`, `0-9`, `_` and `-`"
        );
        assert_eq!(message("*"), "wildcard in role `*`: roles are exact names");
        assert!(message(&"a".repeat(65)).ends_with("is 65 bytes long, at most 64 are allowed"));
        assert_eq!(message(""), "empty role name");
    }

    #[test]
    fn messages_are_lower_case_without_trailing_period() {
        let names = ["Articles", "a..b", "a.", ".a", "a.*", "a b", "", "2a", "*"];
        for name in names {
            for problem in [check_permission(name).err(), check_role(name).err()]
                .into_iter()
                .flatten()
            {
                let text = problem.to_string();
                assert!(!text.ends_with('.'), "{text}");
                assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
            }
        }
    }

    #[test]
    fn state_argument_is_found_by_last_segment() {
        let ty: Type = syn::parse_quote!(axum::extract::State<AppState>);
        assert!(state_argument(&ty).is_some());
        let ty: Type = syn::parse_quote!(State<AppState>);
        assert!(state_argument(&ty).is_some());
        let ty: Type = syn::parse_quote!(Path<u64>);
        assert!(state_argument(&ty).is_none());
        let ty: Type = syn::parse_quote!(State<A, B>);
        assert!(state_argument(&ty).is_none());
    }
}
