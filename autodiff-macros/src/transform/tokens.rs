//! Small walks over generated token streams, shared by the passes that rewrite
//! generated code (`reverse`, `reserve`, `slices`).

use proc_macro2::{Group, TokenStream, TokenTree};

/// Whether `tokens` (groups included) contain an identifier among `names`.
pub fn mentions_any(tokens: &TokenStream, names: &[&str]) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => names.iter().any(|name| ident == name),
        TokenTree::Group(group) => mentions_any(&group.stream(), names),
        _ => false,
    })
}

/// Whether `tokens` contain the identifier `name`.
pub fn mentions(tokens: &TokenStream, name: &str) -> bool {
    mentions_any(tokens, &[name])
}

/// `group` with its contents replaced, keeping its delimiter and span.
pub fn regroup(group: &Group, stream: TokenStream) -> TokenTree {
    let mut out = Group::new(group.delimiter(), stream);
    out.set_span(group.span());
    TokenTree::Group(out)
}
