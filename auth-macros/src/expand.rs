//! Code generation: the marker type, its `Requirement` impl, the state
//! wiring check and the handler with its leading `Guard` parameter.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::token::Paren;
use syn::{AttrStyle, Attribute, FnArg, Ident, LitStr, MacroDelimiter, Meta, MetaList, Type};

use crate::catalog::Catalog;
use crate::parse::{Handler, Invocation, Kind, Target};
use crate::validate::{self, Checked, Requirement};

/// The one path generated code names: the runtime's hidden support module.
fn private() -> TokenStream {
    private_at(Span::call_site())
}

/// [`private`], spanned where errors about its use should point.
fn private_at(span: Span) -> TokenStream {
    quote_spanned!(span=> ::lexigram_auth::__private)
}

/// Expands one guard attribute.
///
/// Stacked guards become one `Guard` parameter. When another guard attribute
/// follows on the item, this one only forwards itself into it (see
/// [`forward`]); the last guard attribute expands all of them together.
pub(crate) fn guard(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let invocation = Invocation::new(kind, args);
    if let Some(forwarded) = forward(&invocation, &item) {
        return forwarded;
    }
    let attrs = invocation.guard_attrs();
    let target = match syn::parse2::<Target>(item.clone()) {
        Ok(target) => target,
        Err(mut error) => {
            for attr_error in attrs.into_iter().filter_map(Result::err) {
                error.combine(attr_error);
            }
            let error = error.into_compile_error();
            return quote!(#item #error);
        }
    };
    let (catalog, catalog_error) = match Catalog::current() {
        Ok(catalog) => (catalog, None),
        Err(message) => (None, Some(syn::Error::new(Span::call_site(), message))),
    };
    match (
        validate::check(&attrs, &target, catalog.as_deref()),
        catalog_error,
    ) {
        (Ok(checked), None) => {
            let tracking = catalog.as_deref().map(Catalog::tracking);
            let expanded = expand(checked, target);
            quote!(#tracking #expanded)
        }
        (Err(mut error), Some(catalog_error)) => {
            error.combine(catalog_error);
            fallback(&target, &error)
        }
        (Err(error), None) | (Ok(_), Some(error)) => fallback(&target, &error),
    }
}

/// Moves this guard attribute into the next guard attribute of the item,
/// as a leading `#[require_x(..)]` in its arguments, and emits the item
/// otherwise unchanged:
///
/// ```text
/// #[require_roles("a")] #[doc = ".."] #[require_auth] async fn f() {}
/// // becomes
/// #[doc = ".."] #[require_auth(#[require_roles("a")])] async fn f() {}
/// ```
///
/// Every guard attribute is thus resolved by the compiler (so its `use` is
/// not reported unused) and the last one sees them all. `None` when no
/// guard attribute follows: then this one expands. A malformed
/// `#[require_auth = ..]` is skipped and left to the compiler, which rejects
/// key-value attribute macros.
fn forward(invocation: &Invocation, item: &TokenStream) -> Option<TokenStream> {
    struct Split(Vec<Attribute>, TokenStream);
    impl Parse for Split {
        fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
            Ok(Self(input.call(Attribute::parse_outer)?, input.parse()?))
        }
    }
    let Split(mut attrs, rest) = syn::parse2(item.clone()).ok()?;
    let next = attrs.iter_mut().find(|attr| {
        matches!(attr.style, AttrStyle::Outer)
            && !matches!(attr.meta, Meta::NameValue(_))
            && Kind::of_path(attr.path()).is_some()
    })?;
    let (path, delimiter, args) = match &next.meta {
        Meta::List(list) => (
            list.path.clone(),
            list.delimiter.clone(),
            list.tokens.clone(),
        ),
        meta => (
            meta.path().clone(),
            MacroDelimiter::Paren(Paren::default()),
            TokenStream::new(),
        ),
    };
    let outer = &invocation.forwarded;
    let name = Ident::new(invocation.kind.name(), Span::call_site());
    let own = &invocation.own;
    let tokens = quote!(#(#outer)* #[#name(#own)] #args);
    next.meta = Meta::List(MetaList {
        path,
        delimiter,
        tokens,
    });
    Some(quote!(#(#attrs)* #rest))
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
        Target::Fn(handler) if checked.principal.is_some() => {
            let principal = checked.principal.as_ref();
            service_fn(handler, principal, &expr)
        }
        Target::Fn(mut handler) => {
            let marker = marker_ident(&handler.sig.ident, existing_guards(&handler));
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

/// A service-layer function taking `&Principal`: the same signature, and a
/// body that checks the requirement first and returns the refusal through
/// the function's `Result` (`?` converts `AuthorizationFailed` with `From`).
/// The original body follows as a block, unchanged.
fn service_fn(handler: Handler, principal: Option<&Ident>, expr: &TokenStream) -> TokenStream {
    let p = private();
    let Handler {
        attrs,
        vis,
        sig,
        body,
    } = handler;
    // Spanned at the return type, where a type that cannot take the
    // refusal (no `Result`, no `From<AuthorizationFailed>`) is reported.
    let span = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => Span::call_site(),
    };
    let check = quote_spanned! {span=>
        #p::check_principal(#principal, &__LEXIGRAM_AUTH_REQUIREMENT)?;
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            const __LEXIGRAM_AUTH_REQUIREMENT: #p::Expr = #expr;
            #check
            #body
        }
    }
}

/// On error: the item as written plus every error.
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

/// How many `::lexigram_auth::__private::Guard<..>` parameters the function
/// already has.
fn existing_guards(handler: &Handler) -> usize {
    let is_guard = |arg: &FnArg| {
        let FnArg::Typed(typed) = arg else {
            return false;
        };
        let Type::Path(ty) = &*typed.ty else {
            return false;
        };
        let names: Vec<String> = ty
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        names == ["lexigram_auth", "__private", "Guard"]
    };
    handler
        .sig
        .inputs
        .iter()
        .filter(|arg| is_guard(arg))
        .count()
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
/// user names without upsetting `non_camel_case_types`. A function that
/// already has `existing` guards (from a guard imported under another name,
/// which is not forwarded) gets a numbered marker so that names do not clash.
fn marker_ident(function: &Ident, existing: usize) -> Ident {
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
    if existing > 0 {
        camel.push_str(&(existing + 1).to_string());
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
        Requirement::FreshWithin(seconds) => quote!(#p::Expr::FreshWithin(#seconds)),
        Requirement::Mfa => quote!(#p::Expr::Mfa),
        Requirement::Role(name) => {
            let name = literal(name);
            quote!(#p::Expr::Role(#name))
        }
        Requirement::Permission(name) => {
            let name = literal(name);
            quote!(#p::Expr::Permission(#name))
        }
        Requirement::Typed(path) => typed_permission(path),
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

/// A typed permission, `Perm::ArticlesWrite`, as a constant: the name at the
/// variant's index in `<Perm as TypedPermission>::NAMES` (the derive rejects
/// explicit discriminants, so the index is the discriminant). Spanned at the
/// path, so that a type without the trait is reported there with the trait's
/// `#[diagnostic::on_unimplemented]` message.
fn typed_permission(path: &syn::ExprPath) -> TokenStream {
    let span = path.span();
    let p = private_at(span);
    let mut ty = path.path.clone();
    ty.segments.pop();
    ty.segments.pop_punct();
    quote_spanned! {span=>
        #p::Expr::Permission(<#ty as #p::TypedPermission>::NAMES[#path as usize])
    }
}

/// A compile-time check that the router state `state` provides the
/// `AuthModule`, spanned at the type so that the runtime's
/// `#[diagnostic::on_unimplemented]` message points there.
///
/// `.probe()` is autoref specialisation over two traits, which must both be
/// in scope. A glob import brings them without an `unused_imports` warning
/// for the one not chosen (`__private::probe` holds just the two); the state
/// type is named outside the glob's block so that nothing can shadow it. The import keeps the call
/// site's span, which marks it as macro-generated, so that lints about
/// user-written code (`clippy::wildcard_imports`) leave it alone.
fn wiring_check(state: &Type) -> TokenStream {
    let span = state.span();
    let p = private_at(span);
    let traits = private();
    let import = quote!(use #traits::probe::*;);
    quote_spanned! {span=>
        const _: fn() = || {
            let __lexigram_auth_probe = #p::StateProbe::<#state>::new();
            {
                #import
                #p::assert_wired((&&__lexigram_auth_probe).probe());
            }
        };
    }
}

/// Expands `#[require_policy(P)]` on a handler: a leading
/// `_: PolicyGuard<P>` parameter, the function otherwise unchanged.
pub(crate) fn policy_guard(args: TokenStream, item: TokenStream) -> TokenStream {
    let target = match syn::parse2::<Target>(item.clone()) {
        Ok(target) => target,
        Err(error) => {
            let error = error.into_compile_error();
            return quote!(#item #error);
        }
    };
    let Target::Fn(mut handler) = target else {
        let error = syn::Error::new(
            Span::call_site(),
            "`require_policy` applies to an `async fn` handler",
        )
        .into_compile_error();
        return quote!(#item #error);
    };
    let mut errors = validate::Errors::default();
    let policy = match syn::parse2::<syn::TypePath>(args.clone()) {
        Ok(path) if path.qself.is_none() => Some(path),
        _ => {
            let span = if args.is_empty() {
                Span::call_site()
            } else {
                args.span()
            };
            errors.push(syn::Error::new(
                span,
                "`require_policy` takes one policy type, such as `#[require_policy(OfficeHours)]`",
            ));
            None
        }
    };
    validate::check_handler(&handler, &mut errors);
    if let Err(error) = errors.finish(()) {
        return fallback(&Target::Fn(handler), &error);
    }
    let p = private();
    let guard: FnArg = match syn::parse2(quote!(_: #p::PolicyGuard<#policy>)) {
        Ok(guard) => guard,
        Err(error) => return fallback(&Target::Fn(handler), &error),
    };
    handler.sig.inputs.insert(0, guard);
    quote!(#handler)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> TokenStream {
        text.parse().unwrap()
    }

    fn expand(kind: Kind, args: &str, item: &str) -> String {
        guard(kind, tokens(args), tokens(item)).to_string()
    }

    /// Expands like the compiler: the first guard attribute first, then
    /// whatever guard attribute it left on the item, until none is left.
    fn expand_stacked(item: &str) -> String {
        let mut item: TokenStream = tokens(item);
        loop {
            let Ok(Split(mut attrs, rest)) = syn::parse2::<Split>(item.clone()) else {
                return item.to_string();
            };
            let Some(index) = attrs.iter().position(|a| Kind::of_path(a.path()).is_some()) else {
                return item.to_string();
            };
            let attr = attrs.remove(index);
            let kind = Kind::of_path(attr.path()).unwrap();
            let args = match attr.meta {
                Meta::List(list) => list.tokens,
                _ => TokenStream::new(),
            };
            item = guard(kind, args, quote!(#(#attrs)* #rest));
        }
    }

    struct Split(Vec<Attribute>, TokenStream);
    impl Parse for Split {
        fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
            Ok(Self(input.call(Attribute::parse_outer)?, input.parse()?))
        }
    }

    #[test]
    fn expands_as_the_design_says() {
        let got = expand(
            Kind::Roles,
            r#""editor", "admin""#,
            "pub async fn update(State(s): State<AppState>, Path(id): Path<u64>) -> impl IntoResponse { body }",
        );
        let want = tokens(
            r#"
            #[doc(hidden)]
            pub struct __LexigramAuthUpdate;
            impl ::lexigram_auth::__private::Requirement for __LexigramAuthUpdate {
                const EXPR: ::lexigram_auth::__private::Expr = ::lexigram_auth::__private::Expr::Any(&[
                    ::lexigram_auth::__private::Expr::Role("editor"),
                    ::lexigram_auth::__private::Expr::Role("admin")
                ]);
            }
            const _: fn() = || {
                let __lexigram_auth_probe = ::lexigram_auth::__private::StateProbe::<AppState>::new();
                {
                    use ::lexigram_auth::__private::probe::*;
                    ::lexigram_auth::__private::assert_wired((&&__lexigram_auth_probe).probe());
                }
            };
            pub async fn update(
                _: ::lexigram_auth::__private::Guard<__LexigramAuthUpdate>,
                State(s): State<AppState>,
                Path(id): Path<u64>
            ) -> impl IntoResponse { body }
            "#,
        );
        let compact = |text: String| text.split_whitespace().collect::<String>();
        assert_eq!(compact(got), compact(want.to_string()));
    }

    #[test]
    fn one_role_is_not_wrapped_and_permissions_are_all() {
        let got = expand(Kind::Roles, r#""editor""#, "async fn f() {}");
        assert!(got.contains(r#"const EXPR : :: lexigram_auth :: __private :: Expr = :: lexigram_auth :: __private :: Expr :: Role ("editor") ;"#), "{got}");
        let got = expand(Kind::Permissions, r#""a.b", not("c")"#, "async fn f() {}");
        assert!(
            got.contains(
                r#"Expr :: All (& [:: lexigram_auth :: __private :: Expr :: Permission ("a.b") , :: lexigram_auth :: __private :: Expr :: Not (& :: lexigram_auth :: __private :: Expr :: Permission ("c"))])"#
            ),
            "{got}"
        );
        let got = expand(Kind::Auth, "", "async fn f() {}");
        assert!(
            got.contains("Expr = :: lexigram_auth :: __private :: Expr :: Authenticated ;"),
            "{got}"
        );
    }

    #[test]
    fn keeps_the_signature_and_only_adds_the_guard() {
        let item = "#[tracing::instrument(skip_all)] #[allow(unused)] pub(crate) async fn show<T: Send>(Path(id): Path<T>,) -> Result<impl IntoResponse, E> where T: Display { let x = 1; x }";
        let got = expand(Kind::Auth, "", item);
        let handler = "# [tracing :: instrument (skip_all)] # [allow (unused)] pub (crate) async fn show < T : Send > (_ : :: lexigram_auth :: __private :: Guard < __LexigramAuthShow > , Path (id) : Path < T > ,) -> Result < impl IntoResponse , E > where T : Display { let x = 1 ; x }";
        assert!(got.ends_with(handler), "{got}");
        assert!(
            got.starts_with("# [doc (hidden)] pub (crate) struct __LexigramAuthShow ;"),
            "{got}"
        );
    }

    #[test]
    fn state_check_only_for_known_state_and_no_generics() {
        let check = "StateProbe :: < AppState >";
        assert!(expand(Kind::Auth, "state = AppState", "async fn f() {}").contains(check));
        assert!(
            expand(
                Kind::Auth,
                "",
                "async fn f(State(s): axum::extract::State<AppState>) {}"
            )
            .contains(check)
        );
        assert!(!expand(Kind::Auth, "", "async fn f() {}").contains("StateProbe"));
        assert!(
            !expand(Kind::Auth, "", "async fn f<S>(State(s): State<S>) {}").contains("StateProbe")
        );
        assert!(
            !expand(Kind::Auth, "state = AppState", "async fn f<S>() {}").contains("StateProbe")
        );
    }

    #[test]
    fn stacked_guards_become_one_guard() {
        let got = expand_stacked(
            r#"#[require_auth] #[doc = "docs"] #[lexigram_auth::require_roles("editor", "admin")] #[inline] #[::lexigram_auth::require_permissions("a.b")] async fn f() {}"#,
        );
        assert_eq!(got.matches("Guard <").count(), 1, "{got}");
        assert!(
            got.contains(
                r#"Expr :: All (& [:: lexigram_auth :: __private :: Expr :: Authenticated , :: lexigram_auth :: __private :: Expr :: Any (& [:: lexigram_auth :: __private :: Expr :: Role ("editor") , :: lexigram_auth :: __private :: Expr :: Role ("admin")]) , :: lexigram_auth :: __private :: Expr :: Permission ("a.b")])"#
            ),
            "{got}"
        );
        assert!(
            got.contains(r#"# [doc = "docs"] # [inline] async fn f (_ : :: lexigram_auth"#),
            "{got}"
        );
    }

    #[test]
    fn forwarding_moves_the_guard_into_the_next_one() {
        let got = expand(
            Kind::Roles,
            r#""a""#,
            r#"#[doc = "x"] #[require_auth] async fn f() {}"#,
        );
        assert_eq!(
            got,
            tokens(r#"#[doc = "x"] #[require_auth(#[require_roles("a")])] async fn f() {}"#)
                .to_string()
        );
    }

    #[test]
    fn structs_get_the_impl() {
        let got = expand(
            Kind::Roles,
            r#""editor""#,
            "#[derive(Debug)] pub struct Editors;",
        );
        assert_eq!(
            got,
            tokens(
                r#"#[derive(Debug)] pub struct Editors;
                impl ::lexigram_auth::__private::Requirement for Editors {
                    const EXPR: ::lexigram_auth::__private::Expr = ::lexigram_auth::__private::Expr::Role("editor");
                }"#
            )
            .to_string()
        );
    }

    #[test]
    fn every_error_is_reported_and_the_item_kept() {
        let got = expand_stacked(
            r#"#[require_roles("Admin", either("x"))] #[require_permissions("a.", not())] #[inline] fn f(&self) {}"#,
        );
        assert_eq!(got.matches("compile_error").count(), 6, "{got}");
        assert!(got.starts_with("# [inline] fn f (& self) { }"), "{got}");
        assert!(!got.contains("require_"), "{got}");
    }

    #[test]
    fn erroneous_structs_get_a_deny_all_impl() {
        let got = expand(Kind::Roles, r#""Editor""#, "struct Editors;");
        assert!(got.contains("Expr :: Any (& [])"), "{got}");
        assert!(got.contains("compile_error"), "{got}");
    }

    #[test]
    fn unparseable_items_keep_their_tokens() {
        let got = expand(Kind::Roles, r#""editor""#, "#[inline] enum E { A }");
        assert!(got.starts_with("# [inline] enum E { A }"), "{got}");
        assert_eq!(got.matches("compile_error").count(), 1, "{got}");
    }

    #[test]
    fn key_value_guards_are_left_to_the_compiler() {
        let got = expand(
            Kind::Roles,
            r#""editor""#,
            "#[require_auth = 1] async fn f() {}",
        );
        assert!(
            got.contains("# [require_auth = 1] async fn f (_ :"),
            "{got}"
        );
        assert!(!got.contains("compile_error"), "{got}");
    }

    #[test]
    fn marker_names_are_camel_case() {
        let name = |f: &str| marker_ident(&syn::parse_str::<Ident>(f).unwrap(), 0).to_string();
        assert_eq!(name("update"), "__LexigramAuthUpdate");
        assert_eq!(name("list_all_articles"), "__LexigramAuthListAllArticles");
        assert_eq!(name("_private__v2_"), "__LexigramAuthPrivateV2");
        assert_eq!(name("r#type"), "__LexigramAuthType");
        assert_eq!(name("größe"), "__LexigramAuthGröße");
        let second = marker_ident(&syn::parse_str::<Ident>("f").unwrap(), 1);
        assert_eq!(second.to_string(), "__LexigramAuthF2");
    }
}
