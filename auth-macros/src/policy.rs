//! `#[derive(Policy)]`: a struct whose fields are typed ABAC attributes, with
//! rules checked against those fields when the crate compiles and evaluated
//! as generated code.
//!
//! ```text
//! #[derive(Policy)]
//! #[policy(kind = "article")]
//! #[policy(allow(id = "authors-edit-drafts", actions("edit"),
//!     when = principal.subject == resource.author_id && resource.status == "draft"))]
//! #[policy(deny(id = "locked", when = resource.locked))]
//! struct Article { #[policy(id)] id: String, author_id: String, status: String, locked: bool }
//! ```
//!
//! Each rule's `when` is lowered to a closure returning `Option<bool>`, where
//! `None` (a missing attribute: an `Option` field that is `None`, a context
//! value that is absent or of another type) makes the rule not applicable.
//! The logic is three-valued (Kleene): `false && None` is `false`,
//! `true || None` is `true`, anything else touching `None` is `None`.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    BinOp, Expr, ExprLit, Fields, GenericArgument, Ident, Item, ItemStruct, Lit, LitStr, Member,
    PathArguments, Token, Type, UnOp,
};

use crate::catalog::suggest;
use crate::validate::Errors;

/// The runtime's hidden support module, the one path generated code names.
fn private() -> TokenStream {
    quote!(::lexigram_auth::__private)
}

/// An attribute's type, as the runtime's `AttrType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    String,
    Integer,
    Float,
    Bool,
    StringList,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Integer => "an integer",
            Self::Float => "a float",
            Self::Bool => "a bool",
            Self::StringList => "a list of strings",
        }
    }

    fn runtime(self) -> TokenStream {
        let p = private();
        match self {
            Self::String => quote!(#p::AttrType::String),
            Self::Integer => quote!(#p::AttrType::Integer),
            Self::Float => quote!(#p::AttrType::Float),
            Self::Bool => quote!(#p::AttrType::Bool),
            Self::StringList => quote!(#p::AttrType::StringList),
        }
    }
}

/// How a field's Rust type maps to an attribute.
#[derive(Debug, Clone, Copy)]
struct FieldType {
    ty: Ty,
    optional: bool,
    /// For integers: whether the field is already `i64`.
    is_i64: bool,
}

/// One attribute field.
#[derive(Debug)]
struct Field {
    ident: Ident,
    name: String,
    ty: FieldType,
}

/// Options of one field's `#[policy(..)]` attributes.
#[derive(Debug, Default)]
struct FieldOptions {
    skip: bool,
    rename: Option<LitStr>,
    id: bool,
    tenant: bool,
}

/// A rule as written: `allow(..)` or `deny(..)`.
struct RuleSpec {
    effect: Ident,
    id: Option<LitStr>,
    actions: Vec<LitStr>,
    priority: Option<i32>,
    when: Option<Expr>,
}

/// One struct-level `#[policy(..)]` argument.
enum StructArg {
    Kind(LitStr),
    Rule(Box<RuleSpec>),
}

impl Parse for StructArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let word: Ident = input.parse()?;
        if word == "kind" {
            let _eq: Token![=] = input.parse()?;
            return Ok(Self::Kind(input.parse()?));
        }
        if word != "allow" && word != "deny" {
            return Err(syn::Error::new(
                word.span(),
                format_args!(
                    "unknown policy option `{word}`, expected `kind = \"..\"`, `allow(..)` or `deny(..)`"
                ),
            ));
        }
        let content;
        syn::parenthesized!(content in input);
        let mut rule = RuleSpec {
            effect: word,
            id: None,
            actions: Vec::new(),
            priority: None,
            when: None,
        };
        let mut seen = HashSet::new();
        while !content.is_empty() {
            let key: Ident = content.parse()?;
            if !seen.insert(key.to_string()) {
                return Err(syn::Error::new(
                    key.span(),
                    format_args!("duplicate `{key}` in this rule"),
                ));
            }
            if key == "actions" {
                let list;
                syn::parenthesized!(list in content);
                let names = Punctuated::<LitStr, Token![,]>::parse_terminated(&list)?;
                if names.is_empty() {
                    return Err(syn::Error::new(
                        key.span(),
                        "`actions(..)` needs at least one action; leave it out to cover every action",
                    ));
                }
                rule.actions.extend(names);
            } else {
                let _eq: Token![=] = content.parse()?;
                match key.to_string().as_str() {
                    "id" => rule.id = Some(content.parse()?),
                    "action" => rule.actions.push(content.parse()?),
                    "priority" => {
                        let expr: Expr = content.parse()?;
                        rule.priority = Some(parse_priority(&expr)?);
                    }
                    "when" => rule.when = Some(content.parse()?),
                    _ => {
                        return Err(syn::Error::new(
                            key.span(),
                            format_args!(
                                "unknown rule option `{key}`, expected `id`, `action`, `actions(..)`, `priority` or `when`"
                            ),
                        ));
                    }
                }
            }
            if content.is_empty() {
                break;
            }
            let _comma: Token![,] = content.parse()?;
        }
        if seen.contains("action") && seen.contains("actions") {
            return Err(syn::Error::new(
                rule.effect.span(),
                "give either `action = \"..\"` or `actions(..)`, not both",
            ));
        }
        Ok(Self::Rule(Box::new(rule)))
    }
}

/// An `i32` priority, possibly negative.
fn parse_priority(expr: &Expr) -> syn::Result<i32> {
    let (negative, lit) = match expr {
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => (true, &*unary.expr),
        other => (false, other),
    };
    match lit {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => {
            let value: i64 = int.base10_parse()?;
            let value = if negative { -value } else { value };
            i32::try_from(value).map_err(|_| {
                syn::Error::new_spanned(expr, "a priority is an `i32`: this is out of range")
            })
        }
        _ => Err(syn::Error::new_spanned(
            expr,
            "expected an integer priority, such as `priority = 10`",
        )),
    }
}

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let item: Item = match syn::parse2(input) {
        Ok(item) => item,
        Err(error) => return error.into_compile_error(),
    };
    let data = match item {
        Item::Struct(data) => data,
        other => {
            let span = match &other {
                Item::Enum(e) => e.enum_token.span,
                Item::Union(u) => u.union_token.span,
                other => other.span(),
            };
            return syn::Error::new(
                span,
                "`Policy` derives for a struct with named fields (or a unit struct), such as `struct Article { author_id: String }`",
            )
            .into_compile_error();
        }
    };
    match expand(&data) {
        Ok(tokens) => tokens,
        Err(error) => error.into_compile_error(),
    }
}

fn expand(data: &ItemStruct) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    if !data.generics.params.is_empty() || data.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &data.generics,
            "a policy struct cannot be generic: its rules are compiled for one type",
        ));
    }
    let named: Vec<&syn::Field> = match &data.fields {
        Fields::Named(fields) => fields.named.iter().collect(),
        Fields::Unit => Vec::new(),
        Fields::Unnamed(fields) => {
            errors.push(syn::Error::new_spanned(
                fields,
                "a policy struct needs named fields: attributes are looked up by name",
            ));
            Vec::new()
        }
    };

    let mut fields = Vec::new();
    let mut names: HashMap<String, Span> = HashMap::new();
    let mut id_field = None;
    let mut tenant_field = None;
    for field in named {
        let Some(ident) = field.ident.clone() else {
            continue;
        };
        let options = field_options(field, &mut errors);
        if options.skip {
            if options.rename.is_some() || options.id || options.tenant {
                errors.push(syn::Error::new_spanned(
                    &ident,
                    "a skipped field cannot also be renamed, the id or the tenant",
                ));
            }
            continue;
        }
        let Some(ty) = field_type(&field.ty) else {
            errors.push(syn::Error::new_spanned(
                &field.ty,
                "unsupported attribute type: use `String`, an integer, `f32`/`f64`, `bool`, `Vec<String>` or an `Option` of one, or mark the field `#[policy(skip)]`",
            ));
            continue;
        };
        let (name, span) = match &options.rename {
            Some(lit) => (lit.value(), lit.span()),
            None => (
                ident.to_string().trim_start_matches("r#").to_owned(),
                ident.span(),
            ),
        };
        if !valid_attribute_name(&name) {
            errors.error(
                span,
                format_args!(
                    "attribute name `{name}` must be lower case: letters, digits and `_`, starting with a letter"
                ),
            );
        }
        if let Some(first) = names.insert(name.clone(), span) {
            let mut error = syn::Error::new(
                span,
                format_args!("duplicate attribute `{name}` in this policy struct"),
            );
            error.combine(syn::Error::new(first, "first defined here"));
            errors.push(error);
        }
        for (flag, slot, what) in [
            (options.id, &mut id_field, "id"),
            (options.tenant, &mut tenant_field, "tenant"),
        ] {
            if !flag {
                continue;
            }
            if ty.ty != Ty::String {
                errors.push(syn::Error::new_spanned(
                    &field.ty,
                    format_args!("the {what} field must be a `String` or an `Option<String>`"),
                ));
            } else if slot.is_some() {
                errors.error(
                    ident.span(),
                    format_args!("only one field can be the `{what}`"),
                );
            } else {
                *slot = Some((ident.clone(), ty.optional));
            }
        }
        fields.push(Field { ident, name, ty });
    }

    let mut kind = None;
    let mut rules = Vec::new();
    for attr in data.attrs.iter().filter(|a| a.path().is_ident("policy")) {
        match attr.parse_args_with(Punctuated::<StructArg, Token![,]>::parse_terminated) {
            Ok(args) => {
                for arg in args {
                    match arg {
                        StructArg::Kind(lit) => {
                            if kind.is_some() {
                                errors.error(lit.span(), "duplicate `kind`");
                            } else if !valid_attribute_name(&lit.value()) {
                                errors.error(
                                    lit.span(),
                                    "a kind must be lower case: letters, digits and `_`, starting with a letter",
                                );
                            } else {
                                kind = Some(lit);
                            }
                        }
                        StructArg::Rule(rule) => rules.push(*rule),
                    }
                }
            }
            Err(error) => errors.push(error),
        }
    }
    let kind = kind.map_or_else(|| snake_case(&data.ident.to_string()), |lit| lit.value());

    let scope = Scope {
        fields: &fields,
        struct_name: data.ident.to_string(),
    };
    let mut ids = HashMap::new();
    let mut compiled = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        let id = rule
            .id
            .as_ref()
            .map_or_else(|| format!("{kind}#{index}"), LitStr::value);
        let id_span = rule.id.as_ref().map_or(rule.effect.span(), LitStr::span);
        if id.is_empty() {
            errors.error(id_span, "a rule id cannot be empty");
        }
        if ids.insert(id.clone(), id_span).is_some() {
            errors.error(id_span, format_args!("duplicate rule id `{id}`"));
        }
        for action in &rule.actions {
            if !valid_attribute_name(&action.value()) {
                errors.error(
                    action.span(),
                    "an action must be lower case: letters, digits and `_`, starting with a letter",
                );
            }
        }
        let condition = match &rule.when {
            Some(expr) => match scope.condition(expr) {
                Ok(tokens) => tokens,
                Err(error) => {
                    errors.push(error);
                    continue;
                }
            },
            None => quote!(::core::option::Option::Some(true)),
        };
        compiled.push((id, rule, condition));
    }
    errors.finish(())?;

    let p = private();
    let ident = &data.ident;
    let attribute_defs = fields.iter().map(|f| {
        let name = &f.name;
        let ty = f.ty.ty.runtime();
        let optional = f.ty.optional;
        quote!(#p::AttributeDef { name: #name, ty: #ty, optional: #optional })
    });
    let arms = fields.iter().map(|f| {
        let name = &f.name;
        let read = f.read(&quote!(self));
        let wrap = f.ty.ty.value_variant();
        quote!(#name => #read.map(#wrap))
    });
    let rules_tokens = compiled.iter().map(|(id, rule, condition)| {
        let effect = if rule.effect == "deny" {
            quote!(#p::Effect::Deny)
        } else {
            quote!(#p::Effect::Allow)
        };
        let priority = rule.priority.unwrap_or(0);
        let actions = &rule.actions;
        quote! {
            #p::Rule {
                id: #id,
                effect: #effect,
                priority: #priority,
                actions: &[#(#actions),*],
                condition: |principal, resource, context| {
                    let _ = (&principal, &resource, &context);
                    #condition
                },
            }
        }
    });
    let resource_id = id_field.map(|(field, optional)| {
        let read = if optional {
            quote!(self.#field.as_deref())
        } else {
            quote!(::core::option::Option::Some(self.#field.as_str()))
        };
        quote! {
            fn resource_id(&self) -> ::core::option::Option<&str> {
                #read
            }
        }
    });
    let tenant = tenant_field.map(|(field, optional)| {
        let read = if optional {
            quote!(self.#field.as_deref())
        } else {
            quote!(::core::option::Option::Some(self.#field.as_str()))
        };
        quote! {
            fn tenant(&self) -> ::core::option::Option<&str> {
                #read
            }
        }
    });
    let request_policy = matches!(data.fields, Fields::Unit).then(|| {
        quote! {
            impl #p::RequestPolicy for #ident {
                fn instance() -> &'static Self {
                    &#ident
                }
            }
        }
    });
    let name_param = if fields.is_empty() {
        quote!(_name)
    } else {
        quote!(name)
    };
    let match_body = if fields.is_empty() {
        quote!(::core::option::Option::None)
    } else {
        quote! {
            match name {
                #(#arms,)*
                _ => ::core::option::Option::None,
            }
        }
    };
    Ok(quote! {
        impl #p::Attributes for #ident {
            fn schema(&self) -> &'static #p::Schema {
                <Self as #p::Policy>::SCHEMA
            }

            fn attribute(&self, #name_param: &str) -> ::core::option::Option<#p::AttrValue<'_>> {
                #match_body
            }
        }

        impl #p::Policy for #ident {
            const SCHEMA: &'static #p::Schema = &#p::Schema {
                kind: #kind,
                attributes: &[#(#attribute_defs),*],
            };

            fn rules() -> &'static [#p::Rule<Self>] {
                const RULES: &[#p::Rule<#ident>] = &[#(#rules_tokens),*];
                RULES
            }

            #resource_id
            #tenant
        }

        #request_policy
    })
}

/// Reads a field's `#[policy(..)]` attributes; other attributes are left alone.
fn field_options(field: &syn::Field, errors: &mut Errors) -> FieldOptions {
    let mut options = FieldOptions::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("policy")) {
        let result = attr.parse_nested_meta(|meta| {
            let flag = |slot: &mut bool, what: &str| {
                if *slot {
                    Err(meta.error(format_args!("duplicate `{what}`")))
                } else {
                    *slot = true;
                    Ok(())
                }
            };
            if meta.path.is_ident("skip") {
                flag(&mut options.skip, "skip")
            } else if meta.path.is_ident("id") {
                flag(&mut options.id, "id")
            } else if meta.path.is_ident("tenant") {
                flag(&mut options.tenant, "tenant")
            } else if meta.path.is_ident("rename") {
                if options.rename.is_some() {
                    return Err(meta.error("duplicate `rename`"));
                }
                options.rename = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown field option, expected `skip`, `rename = \"..\"`, `id` or `tenant`",
                ))
            }
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    options
}

/// The attribute type of a field's Rust type.
fn field_type(ty: &Type) -> Option<FieldType> {
    let (last, args) = last_segment(ty)?;
    if last == "Option" {
        let inner = single_type_argument(args)?;
        let inner = field_type(inner)?;
        if inner.optional {
            return None;
        }
        return Some(FieldType {
            optional: true,
            ..inner
        });
    }
    let plain = |ty: Ty| {
        Some(FieldType {
            ty,
            optional: false,
            is_i64: false,
        })
    };
    match last.to_string().as_str() {
        "String" if args.is_none() => plain(Ty::String),
        "bool" if args.is_none() => plain(Ty::Bool),
        "f32" | "f64" if args.is_none() => plain(Ty::Float),
        "i64" if args.is_none() => Some(FieldType {
            ty: Ty::Integer,
            optional: false,
            is_i64: true,
        }),
        "i8" | "i16" | "i32" | "isize" | "u8" | "u16" | "u32" | "u64" | "usize"
            if args.is_none() =>
        {
            plain(Ty::Integer)
        }
        "Vec" => {
            let inner = single_type_argument(args)?;
            let (name, inner_args) = last_segment(inner)?;
            (name == "String" && inner_args.is_none()).then_some(FieldType {
                ty: Ty::StringList,
                optional: false,
                is_i64: false,
            })
        }
        _ => None,
    }
}

/// The last segment of a plain path type, with its arguments (`None` when it has none).
fn last_segment(ty: &Type) -> Option<(&Ident, Option<&PathArguments>)> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    let args = (!last.arguments.is_none()).then_some(&last.arguments);
    Some((&last.ident, args))
}

fn single_type_argument(args: Option<&PathArguments>) -> Option<&Type> {
    let Some(PathArguments::AngleBracketed(generic)) = args else {
        return None;
    };
    let mut iter = generic.args.iter();
    match (iter.next(), iter.next()) {
        (Some(GenericArgument::Type(inner)), None) => Some(inner),
        _ => None,
    }
}

fn valid_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `ArticleDraft` to `article_draft`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.trim_start_matches("r#").chars() {
        if c.is_ascii_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else {
            out.push(c);
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

impl Field {
    /// An expression of type `Option<T>` reading the field of `base`, where
    /// `T` is `&str`, `i64`, `f64`, `bool` or `&[String]`.
    fn read(&self, base: &TokenStream) -> TokenStream {
        let p = private();
        let f = &self.ident;
        let some = quote!(::core::option::Option::Some);
        match (self.ty.ty, self.ty.optional) {
            (Ty::String, false) => quote!(#some(#base.#f.as_str())),
            (Ty::String, true) => quote!(#base.#f.as_deref()),
            (Ty::StringList, false) => quote!(#some(#base.#f.as_slice())),
            (Ty::StringList, true) => quote!(#base.#f.as_deref()),
            (Ty::Bool, false) => quote!(#some(#base.#f)),
            (Ty::Bool, true) => quote!(#base.#f),
            (Ty::Integer, false) if self.ty.is_i64 => quote!(#some(#base.#f)),
            (Ty::Integer, true) if self.ty.is_i64 => quote!(#base.#f),
            (Ty::Integer, false) => quote!(#p::abac_integer(#base.#f)),
            (Ty::Integer, true) => quote!(#base.#f.and_then(#p::abac_integer)),
            (Ty::Float, false) => quote!(#some(#p::abac_float(#base.#f))),
            (Ty::Float, true) => quote!(#base.#f.map(#p::abac_float)),
        }
    }
}

impl Ty {
    /// The `AttrValue` variant constructor for a value of this type.
    fn value_variant(self) -> TokenStream {
        let p = private();
        match self {
            Self::String => quote!(#p::AttrValue::String),
            Self::Integer => quote!(#p::AttrValue::Integer),
            Self::Float => quote!(#p::AttrValue::Float),
            Self::Bool => quote!(#p::AttrValue::Bool),
            Self::StringList => quote!(#p::AttrValue::StringList),
        }
    }
}

/// The principal's attributes: name, type, and how to read one as `Option<T>`.
const PRINCIPAL_ATTRIBUTES: &[(&str, Ty)] = &[
    ("subject", Ty::String),
    ("roles", Ty::StringList),
    ("permissions", Ty::StringList),
    ("tenant", Ty::String),
    ("auth_method", Ty::String),
    ("amr", Ty::StringList),
    ("auth_time", Ty::Integer),
    ("session_id", Ty::String),
];

/// The request context's attributes that rules may name (the guard of
/// `#[require_policy(..)]` fills them from the request).
const CONTEXT_ATTRIBUTES: &[(&str, Ty)] = &[
    ("method", Ty::String),
    ("path", Ty::String),
    ("ip", Ty::String),
    ("time", Ty::Integer),
    ("hour", Ty::Integer),
    ("weekday", Ty::Integer),
];

/// A value in a rule: tokens of type `Option<T>` and the type.
struct Value {
    tokens: TokenStream,
    ty: Ty,
}

/// What rule expressions can refer to.
struct Scope<'a> {
    fields: &'a [Field],
    struct_name: String,
}

impl Scope<'_> {
    /// A condition: tokens of type `Option<bool>`.
    fn condition(&self, expr: &Expr) -> syn::Result<TokenStream> {
        let some = quote!(::core::option::Option::Some);
        let none = quote!(::core::option::Option::None);
        match expr {
            Expr::Paren(paren) => self.condition(&paren.expr),
            Expr::Group(group) => self.condition(&group.expr),
            Expr::Unary(unary) if matches!(unary.op, UnOp::Not(_)) => {
                let inner = self.condition(&unary.expr)?;
                Ok(quote!((#inner).map(|b: bool| !b)))
            }
            Expr::Binary(binary) => match binary.op {
                BinOp::And(_) => {
                    let (a, b) = (
                        self.condition(&binary.left)?,
                        self.condition(&binary.right)?,
                    );
                    Ok(quote! {
                        match (#a, #b) {
                            (#some(false), _) | (_, #some(false)) => #some(false),
                            (#some(true), #some(true)) => #some(true),
                            _ => #none,
                        }
                    })
                }
                BinOp::Or(_) => {
                    let (a, b) = (
                        self.condition(&binary.left)?,
                        self.condition(&binary.right)?,
                    );
                    Ok(quote! {
                        match (#a, #b) {
                            (#some(true), _) | (_, #some(true)) => #some(true),
                            (#some(false), #some(false)) => #some(false),
                            _ => #none,
                        }
                    })
                }
                BinOp::Eq(_) | BinOp::Ne(_) => self.compare(binary, false),
                BinOp::Lt(_) | BinOp::Le(_) | BinOp::Gt(_) | BinOp::Ge(_) => {
                    self.compare(binary, true)
                }
                _ => Err(syn::Error::new_spanned(
                    binary.op,
                    "unsupported operator in a policy rule: use `&&`, `||`, `!`, `==`, `!=`, `<`, `<=`, `>`, `>=`",
                )),
            },
            Expr::MethodCall(call) => self.method(call),
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => {
                let value = b.value;
                Ok(quote!(#some(#value)))
            }
            other => {
                let value = self.value(other)?;
                if value.ty == Ty::Bool {
                    Ok(value.tokens)
                } else {
                    Err(syn::Error::new_spanned(
                        other,
                        format_args!("a condition must be a bool; this is {}", value.ty.name()),
                    ))
                }
            }
        }
    }

    /// `a == b`, `a != b`, and the orderings.
    fn compare(&self, binary: &syn::ExprBinary, ordering: bool) -> syn::Result<TokenStream> {
        let a = self.value(&binary.left)?;
        let b = self.value(&binary.right)?;
        if a.ty != b.ty {
            return Err(syn::Error::new_spanned(
                binary,
                format_args!(
                    "mismatched types: cannot compare {} with {}",
                    a.ty.name(),
                    b.ty.name()
                ),
            ));
        }
        if ordering && !matches!(a.ty, Ty::Integer | Ty::Float) {
            return Err(syn::Error::new_spanned(
                binary.op,
                format_args!(
                    "`{}` compares numbers; this is {}",
                    binary.op.to_token_stream(),
                    a.ty.name()
                ),
            ));
        }
        if a.ty == Ty::StringList {
            return Err(syn::Error::new_spanned(
                binary.op,
                "lists cannot be compared; use `.contains(..)` or `.is_in(..)`",
            ));
        }
        let op = &binary.op;
        let (ta, tb) = (&a.tokens, &b.tokens);
        let some = quote!(::core::option::Option::Some);
        Ok(quote_spanned! {op.span()=>
            match (#ta, #tb) {
                (#some(a), #some(b)) => #some(a #op b),
                _ => ::core::option::Option::None,
            }
        })
    }

    /// `x.contains(y)`, `x.starts_with(y)`, `x.is_in(..)`, `x.matches("re")`, `x.exists()`.
    fn method(&self, call: &syn::ExprMethodCall) -> syn::Result<TokenStream> {
        let p = private();
        let some = quote!(::core::option::Option::Some);
        let none = quote!(::core::option::Option::None);
        let name = call.method.to_string();
        let args: Vec<&Expr> = call.args.iter().collect();
        let arity = |n: usize| -> syn::Result<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(syn::Error::new_spanned(
                    &call.method,
                    format_args!(
                        "`{name}` takes {n} argument{}",
                        if n == 1 { "" } else { "s" }
                    ),
                ))
            }
        };
        match name.as_str() {
            "exists" => {
                arity(0)?;
                let value = self.value(&call.receiver)?;
                let tokens = value.tokens;
                Ok(quote!(#some((#tokens).is_some())))
            }
            "contains" => {
                arity(1)?;
                let haystack = self.value(&call.receiver)?;
                let needle = self.value(args[0])?;
                if needle.ty != Ty::String || !matches!(haystack.ty, Ty::String | Ty::StringList) {
                    return Err(syn::Error::new_spanned(
                        call,
                        format_args!(
                            "`contains` looks for a string in a string or a list of strings; this looks for {} in {}",
                            needle.ty.name(),
                            haystack.ty.name()
                        ),
                    ));
                }
                let (h, n) = (haystack.tokens, needle.tokens);
                let test = if haystack.ty == Ty::String {
                    quote!(h.contains(n))
                } else {
                    quote!(h.iter().any(|item| item == n))
                };
                Ok(quote! {
                    match (#h, #n) {
                        (#some(h), #some(n)) => #some(#test),
                        _ => #none,
                    }
                })
            }
            "starts_with" => {
                arity(1)?;
                let text = self.value(&call.receiver)?;
                let prefix = self.value(args[0])?;
                if text.ty != Ty::String || prefix.ty != Ty::String {
                    return Err(syn::Error::new_spanned(
                        call,
                        "`starts_with` takes a string and a string prefix",
                    ));
                }
                let (t, pre) = (text.tokens, prefix.tokens);
                Ok(quote! {
                    match (#t, #pre) {
                        (#some(t), #some(pre)) => #some(t.starts_with(pre)),
                        _ => #none,
                    }
                })
            }
            "is_in" => {
                arity(1)?;
                let item = self.value(&call.receiver)?;
                if item.ty != Ty::String {
                    return Err(syn::Error::new_spanned(
                        &call.receiver,
                        format_args!("`is_in` tests a string; this is {}", item.ty.name()),
                    ));
                }
                let t = item.tokens;
                if let Expr::Array(array) = args[0] {
                    let mut literals = Vec::new();
                    for element in &array.elems {
                        match element {
                            Expr::Lit(ExprLit {
                                lit: Lit::Str(lit), ..
                            }) => literals.push(lit.clone()),
                            other => {
                                return Err(syn::Error::new_spanned(
                                    other,
                                    "`is_in([..])` takes string literals",
                                ));
                            }
                        }
                    }
                    return Ok(quote! {
                        match #t {
                            #some(t) => #some(false #(|| t == #literals)*),
                            #none => #none,
                        }
                    });
                }
                let list = self.value(args[0])?;
                if list.ty != Ty::StringList {
                    return Err(syn::Error::new_spanned(
                        args[0],
                        format_args!(
                            "`is_in` takes a list of strings or `[\"..\", ..]`; this is {}",
                            list.ty.name()
                        ),
                    ));
                }
                let l = list.tokens;
                Ok(quote! {
                    match (#t, #l) {
                        (#some(t), #some(l)) => #some(l.iter().any(|item| item == t)),
                        _ => #none,
                    }
                })
            }
            "matches" => {
                arity(1)?;
                let text = self.value(&call.receiver)?;
                if text.ty != Ty::String {
                    return Err(syn::Error::new_spanned(
                        &call.receiver,
                        format_args!("`matches` tests a string; this is {}", text.ty.name()),
                    ));
                }
                let Expr::Lit(ExprLit {
                    lit: Lit::Str(pattern),
                    ..
                }) = args[0]
                else {
                    return Err(syn::Error::new_spanned(
                        args[0],
                        "`matches` takes the pattern as a string literal",
                    ));
                };
                if let Err(message) = check_regex(&pattern.value()) {
                    return Err(syn::Error::new(pattern.span(), message));
                }
                let t = text.tokens;
                Ok(quote! {
                    {
                        static PATTERN: #p::AbacPattern = #p::AbacPattern::new(#pattern);
                        match #t {
                            #some(t) => PATTERN.is_match(t),
                            #none => #none,
                        }
                    }
                })
            }
            _ => Err(syn::Error::new_spanned(
                &call.method,
                format_args!(
                    "unknown method `{name}` in a policy rule, expected `contains`, `starts_with`, `is_in`, `matches` or `exists`"
                ),
            )),
        }
    }

    /// An operand: an attribute reference or a literal.
    fn value(&self, expr: &Expr) -> syn::Result<Value> {
        let some = quote!(::core::option::Option::Some);
        match expr {
            Expr::Paren(paren) => self.value(&paren.expr),
            Expr::Group(group) => self.value(&group.expr),
            Expr::Lit(ExprLit { lit, .. }) => literal(lit, false),
            Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => match &*unary.expr {
                Expr::Lit(ExprLit { lit, .. }) => literal(lit, true),
                other => Err(syn::Error::new_spanned(
                    other,
                    "only number literals can be negated in a policy rule",
                )),
            },
            Expr::Field(field) => self.reference(field),
            Expr::Binary(_) | Expr::MethodCall(_) | Expr::Unary(_) => Ok(Value {
                tokens: self.condition(expr)?,
                ty: Ty::Bool,
            }),
            Expr::Path(path) if path.path.is_ident("true") || path.path.is_ident("false") => {
                let value = path.path.is_ident("true");
                Ok(Value {
                    tokens: quote!(#some(#value)),
                    ty: Ty::Bool,
                })
            }
            other => Err(syn::Error::new_spanned(
                other,
                "expected `principal.<attribute>`, `resource.<attribute>`, `context.<attribute>` or a literal",
            )),
        }
    }

    /// `principal.x`, `resource.x` (or `self.x`), `context.x`.
    fn reference(&self, field: &syn::ExprField) -> syn::Result<Value> {
        let p = private();
        let Expr::Path(base) = &*field.base else {
            return Err(syn::Error::new_spanned(
                &field.base,
                "expected `principal`, `resource` or `context` before the attribute",
            ));
        };
        let Member::Named(member) = &field.member else {
            return Err(syn::Error::new_spanned(
                &field.member,
                "attributes are named, not numbered",
            ));
        };
        let attr = member.to_string();
        let base_name = base
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match base_name.as_str() {
            "resource" | "self" => {
                let Some(found) = self.fields.iter().find(|f| f.name == attr) else {
                    let hint = suggest(&attr, self.fields.iter().map(|f| f.name.as_str()))
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    return Err(syn::Error::new_spanned(
                        member,
                        format_args!("unknown attribute `{attr}` of `{}`{hint}", self.struct_name),
                    ));
                };
                Ok(Value {
                    tokens: found.read(&quote!(resource)),
                    ty: found.ty.ty,
                })
            }
            "principal" => {
                let Some((_, ty)) = PRINCIPAL_ATTRIBUTES.iter().find(|(n, _)| *n == attr) else {
                    return Err(unknown_in(
                        member,
                        &attr,
                        "the principal",
                        PRINCIPAL_ATTRIBUTES,
                    ));
                };
                let variant = ty.value_variant();
                Ok(Value {
                    tokens: quote! {
                        match #p::Attributes::attribute(principal, #attr) {
                            ::core::option::Option::Some(#variant(v)) => ::core::option::Option::Some(v),
                            _ => ::core::option::Option::None,
                        }
                    },
                    ty: *ty,
                })
            }
            "context" => {
                let Some((_, ty)) = CONTEXT_ATTRIBUTES.iter().find(|(n, _)| *n == attr) else {
                    return Err(unknown_in(
                        member,
                        &attr,
                        "the request context",
                        CONTEXT_ATTRIBUTES,
                    ));
                };
                let variant = ty.value_variant();
                Ok(Value {
                    tokens: quote! {
                        match context.get(#attr) {
                            ::core::option::Option::Some(#variant(v)) => ::core::option::Option::Some(v),
                            _ => ::core::option::Option::None,
                        }
                    },
                    ty: *ty,
                })
            }
            _ => Err(syn::Error::new_spanned(
                base,
                "expected `principal`, `resource` or `context` before the attribute",
            )),
        }
    }
}

fn unknown_in(member: &Ident, attr: &str, owner: &str, known: &[(&str, Ty)]) -> syn::Error {
    let hint = suggest(attr, known.iter().map(|(n, _)| *n))
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    let list: Vec<String> = known.iter().map(|(n, _)| format!("`{n}`")).collect();
    syn::Error::new_spanned(
        member,
        format_args!(
            "unknown attribute `{attr}` of {owner}{hint} (known: {})",
            list.join(", ")
        ),
    )
}

/// A literal operand.
fn literal(lit: &Lit, negative: bool) -> syn::Result<Value> {
    let some = quote!(::core::option::Option::Some);
    let (tokens, ty) = match lit {
        Lit::Str(s) if !negative => (quote!(#some(#s)), Ty::String),
        Lit::Bool(b) if !negative => {
            let v = b.value;
            (quote!(#some(#v)), Ty::Bool)
        }
        Lit::Int(int) if int.suffix().is_empty() => {
            let value: i64 = int.base10_parse()?;
            let value = if negative { -value } else { value };
            (quote!(#some(#value)), Ty::Integer)
        }
        Lit::Float(float) if float.suffix().is_empty() => {
            let value: f64 = float.base10_parse()?;
            let value = if negative { -value } else { value };
            (quote!(#some(#value)), Ty::Float)
        }
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "expected a string, an integer, a float or a bool literal (without a suffix)",
            ));
        }
    };
    Ok(Value { tokens, ty })
}

/// The longest pattern accepted by `matches`, in bytes.
const MAX_PATTERN_LEN: usize = 256;

/// Parses a `matches` pattern with the regex engine's own parser, so that a
/// mistake (or look-around and backreferences, which the linear-time engine
/// does not have) is a compile error at the literal. The runtime compiles the
/// pattern once, with a size limit.
fn check_regex(pattern: &str) -> Result<(), String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "a `matches` pattern is at most {MAX_PATTERN_LEN} bytes"
        ));
    }
    regex_syntax::Parser::new()
        .parse(pattern)
        .map(drop)
        .map_err(|error| format!("invalid pattern: {error}"))
}
