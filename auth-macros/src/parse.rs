//! Typed model of a guard attribute's arguments and of the item it decorates.
//!
//! Parsing is deliberately permissive: anything that is syntactically an
//! argument (a literal, `word(..)`, `word = value`, or any other expression)
//! is kept, so that `validate` can report every mistake at once, each on its
//! own token. Only token soup that is not a comma-separated argument list at
//! all is a parse error.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, ItemStruct, Lit, Path, Signature, Token, Type, Visibility};

/// Which guard macro an attribute is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[require_auth]`
    Auth,
    /// `#[require_roles(..)]`
    Roles,
    /// `#[require_permissions(..)]`
    Permissions,
}

impl Kind {
    /// The attribute's name, as the user writes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Auth => "require_auth",
            Self::Roles => "require_roles",
            Self::Permissions => "require_permissions",
        }
    }

    /// Recognises a guard attribute path: `require_*`, `lexigram_auth::require_*`
    /// or `::lexigram_auth::require_*`. A renamed import (`use .. as x`) cannot
    /// be recognised; such an attribute expands on its own and the function
    /// ends up with two `Guard` parameters, which still means "all must hold".
    pub(crate) fn of_path(path: &Path) -> Option<Self> {
        let mut segments = path.segments.iter();
        let last = segments.next_back()?;
        if !last.arguments.is_none() {
            return None;
        }
        match segments.next_back() {
            None if path.leading_colon.is_none() => {}
            Some(krate) if krate.ident == "lexigram_auth" && krate.arguments.is_none() => {
                if segments.next().is_some() {
                    return None;
                }
            }
            _ => return None,
        }
        [Self::Auth, Self::Roles, Self::Permissions]
            .into_iter()
            .find(|kind| last.ident == kind.name())
    }
}

/// One guard attribute: the macro's own arguments, or a stacked guard
/// attribute forwarded to it.
#[derive(Debug)]
pub(crate) struct GuardAttr {
    pub(crate) kind: Kind,
    /// Where to report "this list is empty": the attribute itself.
    pub(crate) span: Span,
    pub(crate) args: Vec<Arg>,
}

/// What a guard macro receives as arguments: the guard attributes that outer
/// guard attributes forwarded to it (see `expand`), then its own arguments.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub(crate) kind: Kind,
    /// `#[require_*(..)]` attributes of outer guards, outermost first.
    pub(crate) forwarded: Vec<Attribute>,
    /// This attribute's own arguments, unparsed.
    pub(crate) own: TokenStream,
}

impl Invocation {
    pub(crate) fn new(kind: Kind, args: TokenStream) -> Self {
        let split = |input: ParseStream<'_>| {
            let forwarded = input.call(Attribute::parse_outer)?;
            let own: TokenStream = input.parse()?;
            Ok((forwarded, own))
        };
        match syn::parse::Parser::parse2(split, args.clone()) {
            Ok((forwarded, own)) => Self {
                kind,
                forwarded,
                own,
            },
            Err(_) => Self {
                kind,
                forwarded: Vec::new(),
                own: args,
            },
        }
    }

    /// Every guard attribute of the invocation, outermost first, each parsed
    /// or the error that parsing it produced.
    pub(crate) fn guard_attrs(&self) -> Vec<syn::Result<GuardAttr>> {
        let forwarded = self
            .forwarded
            .iter()
            .map(|attr| match Kind::of_path(attr.path()) {
                Some(kind) => GuardAttr::from_attribute(kind, attr),
                None => Err(syn::Error::new_spanned(
                    attr,
                    "unexpected attribute in guard arguments",
                )),
            });
        let own = syn::parse::Parser::parse2(parse_args, self.own.clone()).map(|args| GuardAttr {
            kind: self.kind,
            span: Span::call_site(),
            args,
        });
        forwarded.chain(std::iter::once(own)).collect()
    }
}

impl GuardAttr {
    /// A guard attribute forwarded from an outer one (written as on the item).
    pub(crate) fn from_attribute(kind: Kind, attr: &Attribute) -> syn::Result<Self> {
        let span = attr
            .path()
            .segments
            .last()
            .map_or_else(Span::call_site, |segment| segment.ident.span());
        let args = match &attr.meta {
            syn::Meta::Path(_) => Vec::new(),
            syn::Meta::List(list) => syn::parse::Parser::parse2(parse_args, list.tokens.clone())?,
            syn::Meta::NameValue(meta) => {
                return Err(syn::Error::new(
                    meta.eq_token.span,
                    format_args!("expected `#[{}(..)]`", kind.name()),
                ));
            }
        };
        Ok(Self { kind, span, args })
    }
}

/// One argument of a guard attribute, nested arguments included.
#[derive(Debug)]
pub(crate) enum Arg {
    /// A literal: `"editor"` (or a mistake such as `42`).
    Lit(Lit),
    /// `word(args..)`: an operator such as `any(..)`, or an unknown word.
    Call(Call),
    /// `word = value`: an option such as `state = AppState`.
    Option(OptionArg),
    /// Anything else (`editor`, `Perm::Write`, `a + b`): always an error.
    Other(Expr),
}

/// `word(args..)`.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) op: Ident,
    pub(crate) args: Vec<Arg>,
}

/// `word = value`.
#[derive(Debug)]
pub(crate) struct OptionArg {
    pub(crate) key: Ident,
    /// The value of `state = Type`.
    pub(crate) ty: Option<Type>,
    /// The value of any other key (`fresh = "5m"`), as an expression.
    pub(crate) value: Option<Box<Expr>>,
}

fn parse_args(input: ParseStream<'_>) -> syn::Result<Vec<Arg>> {
    let args = Punctuated::<Arg, Token![,]>::parse_terminated(input)?;
    Ok(args.into_iter().collect())
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Lit) {
            return input.parse().map(Self::Lit);
        }
        if input.peek(Ident) && input.peek2(syn::token::Paren) {
            let op: Ident = input.parse()?;
            let content;
            syn::parenthesized!(content in input);
            let args = parse_args(&content)?;
            return Ok(Self::Call(Call { op, args }));
        }
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let key: Ident = input.parse()?;
            let _eq: Token![=] = input.parse()?;
            let (ty, value) = if key == "state" {
                (Some(input.parse()?), None)
            } else {
                (None, Some(Box::new(input.parse::<Expr>()?)))
            };
            return Ok(Self::Option(OptionArg { key, ty, value }));
        }
        input.parse().map(Self::Other)
    }
}

/// The item a guard attribute decorates: a handler function or a
/// requirement struct. Any guard attribute still on it is malformed
/// (`#[require_auth = ..]`, which cannot be forwarded; see `expand`) and is
/// left for the compiler to reject.
#[derive(Debug)]
pub(crate) enum Target {
    Fn(Handler),
    Struct(ItemStruct),
}

/// A function, with its body kept as unparsed tokens so that it is emitted
/// exactly as written.
#[derive(Debug)]
pub(crate) struct Handler {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) body: Group,
}

impl Parse for Target {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let ahead = input.fork();
        ahead.call(Attribute::parse_outer)?;
        ahead.parse::<Visibility>()?;
        let target = if ahead.peek(Token![struct]) {
            Self::Struct(input.parse()?)
        } else if is_fn(&ahead) {
            let attrs = input.call(Attribute::parse_outer)?;
            let vis = input.parse()?;
            let sig = input.parse()?;
            let body: Group = input.parse()?;
            if body.delimiter() != Delimiter::Brace {
                return Err(syn::Error::new(body.span(), "expected the function body"));
            }
            Self::Fn(Handler {
                attrs,
                vis,
                sig,
                body,
            })
        } else {
            return Err(syn::Error::new(
                Span::call_site(),
                "guard attributes apply to an `async fn` handler or to a unit struct",
            ));
        };
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the item"));
        }
        Ok(target)
    }
}

/// Whether the stream (after attributes and visibility) starts a function:
/// `const`, `async`, `unsafe`, `extern ".."` in any legal order, then `fn`.
fn is_fn(input: ParseStream<'_>) -> bool {
    let ahead = input.fork();
    loop {
        if ahead.peek(Token![fn]) {
            return true;
        }
        let skipped = ahead
            .parse::<Option<Token![const]>>()
            .ok()
            .flatten()
            .is_some()
            || ahead
                .parse::<Option<Token![async]>>()
                .ok()
                .flatten()
                .is_some()
            || ahead
                .parse::<Option<Token![unsafe]>>()
                .ok()
                .flatten()
                .is_some()
            || ahead.parse::<Option<syn::Abi>>().ok().flatten().is_some();
        if !skipped {
            return false;
        }
    }
}

impl quote::ToTokens for Handler {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for attr in &self.attrs {
            attr.to_tokens(tokens);
        }
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        self.body.to_tokens(tokens);
    }
}

impl quote::ToTokens for Target {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Self::Fn(handler) => handler.to_tokens(tokens),
            Self::Struct(item) => item.to_tokens(tokens),
        }
    }
}
