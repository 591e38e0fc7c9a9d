//! Code generation: the marker type, its `Requirement` impl, the state
//! wiring check and the handler with its leading `Guard` parameter.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, LitStr, Type};

use crate::parse::{GuardAttr, GuardedItem, Handler, Kind, Target};
use crate::validate::{self, Checked, Requirement};

/// The one path generated code names: the runtime's hidden support module.
fn private() -> TokenStream {
    quote!(::lexigram_auth::__private)
}

/// Expands one guard attribute (and every guard attribute stacked with it).
pub(crate) fn guard(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let own = GuardAttr::from_args(kind, args);
    let parsed = match syn::parse2::<GuardedItem>(item.clone()) {
        Ok(parsed) => parsed,
        Err(mut error) => {
            if let Err(own) = own {
                error.combine(own);
            }
            let item = without_guard_attributes(item);
            let error = error.into_compile_error();
            return quote!(#item #error);
        }
    };
    match validate::check(own, &parsed) {
        Ok(checked) => expand(checked, parsed.target),
        Err(error) => fallback(&parsed.target, &error),
    }
}

fn expand(checked: Checked, target: Target) -> TokenStream {
    let p = private();
    let expr = expr_tokens(&checked.requirement);
    let state_check = checked.state.as_ref().map(wiring_check);
    match target {
        Target::Struct(item) => {
            let ident = &item.ident;
            quote! {
                #item
                impl #p::Requirement for #ident {
                    const EXPR: #p::Expr = #expr;
                }
                #state_check
            }
        }
        Target::Fn(mut handler) => {
            let marker = marker_ident(&handler.sig.ident);
            if let Err(error) = add_guard_parameter(&mut handler, &marker) {
                return fallback(&Target::Fn(handler), &error);
            }
            let vis = &handler.vis;
            quote! {
                #[doc(hidden)]
                #vis struct #marker;
                impl #p::Requirement for #marker {
                    const EXPR: #p::Expr = #expr;
                }
                #state_check
                #handler
            }
        }
    }
}

/// On error: the item as written (minus the guard attributes, which would
/// otherwise expand and report the same mistakes again) plus every error.
/// A well-formed requirement struct also gets an impl that denies everyone,
/// so that uses of the type do not cascade into "trait not implemented".
fn fallback(target: &Target, error: &syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    let stub = match target {
        Target::Struct(item) if validate::struct_shape_errors(item).is_empty() => {
            let p = private();
            let ident = &item.ident;
            Some(quote! {
                impl #p::Requirement for #ident {
                    const EXPR: #p::Expr = #p::Expr::Any(&[]);
                }
            })
        }
        _ => None,
    };
    quote!(#target #stub #error)
}

/// `_: Guard<Marker>` as the first parameter; nothing else changes.
fn add_guard_parameter(handler: &mut Handler, marker: &Ident) -> syn::Result<()> {
    let p = private();
    let guard: FnArg = syn::parse2(quote!(_: #p::Guard<#marker>))?;
    handler.sig.inputs.insert(0, guard);
    Ok(())
}

/// The marker type's name: `__LexigramAuth` and the function's name in
/// CamelCase (`list_articles` gives `__LexigramAuthListArticles`), spanned
/// at the function's name. Leading underscores keep it out of the way of
/// user names without upsetting `non_camel_case_types`.
fn marker_ident(function: &Ident) -> Ident {
    let name = function.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    let mut camel = String::from("__LexigramAuth");
    for word in name.split('_') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            camel.extend(first.to_uppercase());
            camel.push_str(chars.as_str());
        }
    }
    let mut ident = syn::parse_str::<Ident>(&camel)
        .unwrap_or_else(|_| Ident::new("__LexigramAuthHandler", Span::call_site()));
    ident.set_span(function.span());
    ident
}

/// The requirement as a constant expression of `__private::Expr`.
fn expr_tokens(requirement: &Requirement) -> TokenStream {
    let p = private();
    let literal = |lit: &LitStr| LitStr::new(&lit.value(), lit.span());
    match requirement {
        Requirement::Authenticated => quote!(#p::Expr::Authenticated),
        Requirement::Role(name) => {
            let name = literal(name);
            quote!(#p::Expr::Role(#name))
        }
        Requirement::Permission(name) => {
            let name = literal(name);
            quote!(#p::Expr::Permission(#name))
        }
        Requirement::All(items) => {
            let items = items.iter().map(expr_tokens);
            quote!(#p::Expr::All(&[#(#items),*]))
        }
        Requirement::Any(items) => {
            let items = items.iter().map(expr_tokens);
            quote!(#p::Expr::Any(&[#(#items),*]))
        }
        Requirement::Not(inner) => {
            let inner = expr_tokens(inner);
            quote!(#p::Expr::Not(&#inner))
        }
    }
}

/// A compile-time check that the router state `state` provides the
/// `AuthModule`, spanned at the type so that the runtime's
/// `#[diagnostic::on_unimplemented]` message points there.
///
/// `.probe()` is autoref specialisation over two traits, which must both be
/// in scope. A glob import brings them without an `unused_imports` warning
/// for the one not chosen; the state type is named outside the glob's block
/// so that nothing in `__private` can shadow it.
fn wiring_check(state: &Type) -> TokenStream {
    let p = private();
    quote_spanned! {state.span()=>
        const _: fn() = || {
            let __lexigram_auth_probe = #p::StateProbe::<#state>::new();
            {
                use #p::*;
                #p::assert_wired((&&__lexigram_auth_probe).probe());
            }
        };
    }
}

/// The item's tokens with leading guard attributes removed, for items the
/// macro could not parse (best effort: unchanged if even that fails).
fn without_guard_attributes(item: TokenStream) -> TokenStream {
    struct Stripped(TokenStream);
    impl Parse for Stripped {
        fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
            let attrs = input.call(Attribute::parse_outer)?;
            let rest: TokenStream = input.parse()?;
            let mut tokens = TokenStream::new();
            for attr in attrs.iter().filter(|attr| Kind::of_path(attr.path()).is_none()) {
                attr.to_tokens(&mut tokens);
            }
            tokens.extend(rest);
            Ok(Self(tokens))
        }
    }
    match syn::parse2::<Stripped>(item.clone()) {
        Ok(Stripped(tokens)) => tokens,
        Err(_) => item,
    }
}
