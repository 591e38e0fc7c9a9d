//! Guard attribute macros for `lexigram-auth` (placeholder docs).

mod expand;
mod parse;
mod validate;

use proc_macro::TokenStream;

use crate::parse::Kind;

/// Any authenticated principal.
#[proc_macro_attribute]
pub fn require_auth(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::guard(Kind::Auth, args.into(), item.into()).into()
}

/// Any of the roles.
#[proc_macro_attribute]
pub fn require_roles(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::guard(Kind::Roles, args.into(), item.into()).into()
}

/// All of the permissions.
#[proc_macro_attribute]
pub fn require_permissions(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::guard(Kind::Permissions, args.into(), item.into()).into()
}
