//! `#[derive(Permission)]`: a fieldless enum whose variants are permissions.
//!
//! Each variant's name is its `#[permission("..")]` attribute, or else the
//! variant's name split into words at capital letters, lower-cased and
//! joined by dots (`ArticlesWrite` is `articles.write`). Every name is
//! checked with the guards' grammar, and against the crate's catalog when it
//! has one; the enum gets the runtime's `TypedPermission` impl, whose
//! `NAMES` are in variant order.

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Fields, Item, LitStr};

use crate::catalog::Catalog;
use crate::validate::{Errors, check_permission};

/// One variant and its permission name.
struct Named {
    ident: syn::Ident,
    name: LitStr,
}

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let item: Item = match syn::parse2(input) {
        Ok(item) => item,
        Err(error) => return error.into_compile_error(),
    };
    let mut errors = Errors::default();
    let (catalog, catalog_error) = match Catalog::current() {
        Ok(catalog) => (catalog, None),
        Err(message) => (None, Some(syn::Error::new(Span::call_site(), message))),
    };
    if let Some(error) = catalog_error {
        errors.push(error);
    }
    let Item::Enum(data) = &item else {
        let span = match &item {
            Item::Struct(s) => s.struct_token.span,
            Item::Union(u) => u.union_token.span,
            other => other.span(),
        };
        errors.push(syn::Error::new(
            span,
            "`Permission` derives for a fieldless enum, such as `enum Perm { ArticlesWrite }`",
        ));
        return errors
            .finish(())
            .err()
            .map_or_else(TokenStream::new, |e| e.into_compile_error());
    };

    if !data.generics.params.is_empty() || data.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &data.generics,
            "a permission enum cannot be generic",
        ));
    }
    let mut named = Vec::with_capacity(data.variants.len());
    let mut seen = HashSet::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            errors.push(syn::Error::new_spanned(
                &variant.fields,
                "permission variants have no fields",
            ));
        }
        if let Some((eq, _)) = &variant.discriminant {
            errors.push(syn::Error::new(
                eq.span,
                "permission variants have no explicit discriminant: guards find a variant's name by its position",
            ));
        }
        let name = match explicit_name(&variant.attrs, &mut errors) {
            Some(lit) => lit,
            None => LitStr::new(
                &derived_name(&variant.ident.to_string()),
                variant.ident.span(),
            ),
        };
        let value = name.value();
        if let Err(problem) = check_permission(&value) {
            errors.push(syn::Error::new(name.span(), problem));
        } else if let Some(Err(message)) = catalog.as_deref().map(|c| c.check_permission(&value)) {
            errors.push(syn::Error::new(name.span(), message));
        } else if !seen.insert(value.clone()) {
            errors.push(syn::Error::new(
                name.span(),
                format_args!("duplicate permission `{value}`"),
            ));
        }
        named.push(Named {
            ident: variant.ident.clone(),
            name,
        });
    }

    // The impl is emitted even with errors, so that uses of the enum in
    // guards do not add a second wave of "trait not implemented".
    let ident = &data.ident;
    let names = named.iter().map(|n| &n.name);
    let arms = named
        .iter()
        .map(|Named { ident, name }| quote!(Self::#ident { .. } => #name,));
    let tracking = catalog.as_deref().map(Catalog::tracking);
    let errors = errors.finish(()).err().map(|e| e.into_compile_error());
    quote! {
        impl ::lexigram_auth::__private::TypedPermission for #ident {
            const NAMES: &'static [&'static str] = &[#(#names),*];
            fn name(&self) -> &'static str {
                match *self {
                    #(#arms)*
                }
            }
        }
        #tracking
        #errors
    }
}

/// The `#[permission("..")]` of a variant, if it has one.
fn explicit_name(attrs: &[syn::Attribute], errors: &mut Errors) -> Option<LitStr> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("permission")) {
        match attr.parse_args::<LitStr>() {
            Ok(lit) if found.is_none() => found = Some(lit),
            Ok(lit) => errors.push(syn::Error::new(
                lit.span(),
                "a variant has at most one `#[permission(..)]`",
            )),
            Err(_) => errors.push(syn::Error::new_spanned(
                attr,
                "expected `#[permission(\"articles.write\")]`",
            )),
        }
    }
    found
}

/// `ArticlesWrite` is `articles.write`, `BillingV2Export` is
/// `billing.v2.export`: a word starts at a capital letter that follows a
/// lower-case letter or a digit.
fn derived_name(variant: &str) -> String {
    let mut out = String::with_capacity(variant.len() + 4);
    let mut previous: Option<char> = None;
    for c in variant.chars() {
        if c.is_uppercase() && previous.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
            out.push('.');
        }
        out.extend(c.to_lowercase());
        previous = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_variants() {
        assert_eq!(derived_name("ArticlesWrite"), "articles.write");
        assert_eq!(derived_name("Read"), "read");
        assert_eq!(derived_name("BillingV2Export"), "billing.v2.export");
        assert_eq!(derived_name("ReportsCSV"), "reports.csv");
    }

    #[test]
    fn impl_in_variant_order() {
        let got = derive(quote! {
            enum Perm { ArticlesWrite, #[permission("billing.export_csv")] Export }
        })
        .to_string();
        assert!(
            got.contains(r#"const NAMES : & 'static [& 'static str] = & ["articles.write" , "billing.export_csv"] ;"#),
            "{got}"
        );
        assert!(!got.contains("compile_error"), "{got}");
    }

    #[test]
    fn mistakes_are_reported_and_the_impl_kept() {
        let got = derive(quote! {
            enum Perm { Write(u8), Read = 3, #[permission("Bad")] Bad, #[permission("x.y")] A, #[permission("x.y")] B }
        })
        .to_string();
        assert_eq!(got.matches("compile_error").count(), 4, "{got}");
        assert!(got.contains("TypedPermission for Perm"), "{got}");
        let got = derive(quote!(
            struct Perm;
        ))
        .to_string();
        assert_eq!(got.matches("compile_error").count(), 1, "{got}");
    }
}
