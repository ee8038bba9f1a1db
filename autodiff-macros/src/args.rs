//! Parses the attribute's arguments: `reverse`, `forward`, `hvp`, `jacobian`, `wrt(..)`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Ident, Meta, Token};

use crate::diag::Diagnostics;

/// The options of one `#[differentiate(...)]` attribute.
#[derive(Debug, Default)]
pub struct Args {
    pub reverse: bool,
    /// `forward`: generate `f_jvp`.
    pub forward: bool,
    /// `hvp`: generate `f_hvp` and `f_hessian` (and reverse mode, which they use).
    pub hvp: bool,
    /// `jacobian`: generate `f_jacobian` (and both modes, which it uses).
    pub jacobian: bool,
    /// `wrt(a, b)`: the parameters to differentiate with respect to; `None` means all.
    pub wrt: Option<Vec<Ident>>,
}

pub fn parse(attr: TokenStream, diag: &mut Diagnostics) -> Args {
    let mut args = Args {
        reverse: false,
        forward: false,
        hvp: false,
        jacobian: false,
        wrt: None,
    };
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr) {
        Ok(metas) => metas,
        Err(error) => {
            diag.push(syn::Error::new(
                error.span(),
                format!("{error}: expected `#[differentiate]` or `#[differentiate(reverse, wrt(x, y))]`"),
            ));
            return args;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    for meta in metas {
        let key = meta
            .path()
            .get_ident()
            .map(|ident| ident.to_string())
            .unwrap_or_default();
        let span = meta_span(&meta);
        if seen.contains(&key) {
            diag.push(syn::Error::new(
                span,
                format!("duplicate option `{key}`: write each option once"),
            ));
            continue;
        }
        seen.push(key.clone());
        match (key.as_str(), &meta) {
            ("reverse", Meta::Path(_)) => args.reverse = true,
            ("forward", Meta::Path(_)) => args.forward = true,
            ("hvp", Meta::Path(_)) => args.hvp = true,
            ("jacobian", Meta::Path(_)) => args.jacobian = true,
            ("wrt", Meta::List(list)) => {
                match Punctuated::<Ident, Token![,]>::parse_terminated.parse2(list.tokens.clone()) {
                    Ok(names) if !names.is_empty() => args.wrt = Some(names.into_iter().collect()),
                    Ok(_) => diag.push(syn::Error::new(
                        span,
                        "`wrt()` is empty: name at least one parameter, e.g. `wrt(x)`",
                    )),
                    Err(error) => diag.push(syn::Error::new(
                        error.span(),
                        "`wrt` takes parameter names separated by commas, e.g. `wrt(x, y)`",
                    )),
                }
            }
            ("wrt", _) => diag.push(syn::Error::new(
                span,
                "`wrt` takes a list of parameter names: `wrt(x, y)`",
            )),
            _ => diag.push(syn::Error::new(
                span,
                format!("unknown option `{}`: expected `reverse`, `forward`, `hvp`, `jacobian` or `wrt(...)`", path_text(&meta)),
            )),
        }
    }
    // Without a mode, reverse; `hvp` builds on reverse mode and includes it.
    args.forward = args.forward || args.jacobian;
    args.reverse = args.reverse || !args.forward || args.hvp || args.jacobian;
    args
}

fn meta_span(meta: &Meta) -> Span {
    syn::spanned::Spanned::span(meta)
}

fn path_text(meta: &Meta) -> String {
    let path = meta.path();
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
