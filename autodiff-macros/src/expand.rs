//! The pipeline: arguments → signature → lowering → verification → analyses →
//! reverse transformation → code generation. On any user error, the original
//! function is emitted unchanged together with every collected error.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::analysis::{activity, tbr};
use crate::codegen::{self, Core};
use crate::diag::Diagnostics;
use crate::ir::verify;
use crate::sig;
use crate::transform::reverse;
use crate::{args, lower};

pub fn differentiate(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                "#[differentiate] applies to a free function (`fn f(x: f64) -> f64 { ... }`)",
            )
            .to_compile_error();
            return quote!(#item #error);
        }
    };
    let mut diag = Diagnostics::default();
    let args = args::parse(attr, &mut diag);
    let sig = sig::classify(&func, &args, &mut diag);
    let signature_ok = !diag.has_errors();
    let lowered = lower::lower_fn(&func, &sig, &mut diag);
    if let Some(error) = diag.take() {
        let error = error.to_compile_error();
        let stubs = if signature_ok {
            codegen::stubs(&func, &sig)
        } else {
            TokenStream::new()
        };
        return quote!(#func #error #stubs);
    }
    if let Err(problems) = verify::verify(&lowered) {
        let error =
            crate::diag::internal(func.sig.ident.span(), &problems.join("; ")).to_compile_error();
        return quote!(#func #error);
    }
    // `__reverse` differentiates every float parameter (callers need all of
    // them); `wrt(..)` gets its own, cheaper core.
    let mut all = sig.clone();
    for param in &mut all.params {
        param.active = param.is_float();
    }
    let full_activity = activity::analyze(&lowered, &all);
    let full_tbr = tbr::analyze(&lowered, &full_activity);
    let full_sweeps = reverse::transform(&lowered, &all, &full_activity, &full_tbr);
    let full = Core {
        name: format_ident!("__reverse"),
        sig: &all,
        activity: &full_activity,
        sweeps: full_sweeps,
    };
    let restricted = sig
        .params
        .iter()
        .zip(&all.params)
        .any(|(chosen, every)| chosen.active != every.active);
    let wrt_activity;
    let wrt = if restricted {
        wrt_activity = activity::analyze(&lowered, &sig);
        let wrt_tbr = tbr::analyze(&lowered, &wrt_activity);
        Some(Core {
            name: format_ident!("__reverse_wrt"),
            sig: &sig,
            activity: &wrt_activity,
            sweeps: reverse::transform(&lowered, &sig, &wrt_activity, &wrt_tbr),
        })
    } else {
        None
    };
    let output = codegen::emit(&func, &lowered, full, wrt);
    dump(&func.sig.ident, &output);
    output
}

/// With `AUTODIFF_EXPAND_DIR` set at build time, writes each expansion to
/// `<dir>/<function>.rs` (one line; run `rustfmt` on it) so that users can read the
/// adjoint of their function. Failing to write is not an error: the build goes on.
fn dump(name: &syn::Ident, output: &TokenStream) {
    if let Some(dir) = std::env::var_os("AUTODIFF_EXPAND_DIR") {
        let path = std::path::Path::new(&dir).join(format!("{name}.rs"));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(path, output.to_string());
    }
}

/// The IR of a function, for snapshot tests.
#[cfg(test)]
pub fn lower_for_test(item: TokenStream) -> Result<crate::ir::Function, String> {
    let func: syn::ItemFn = syn::parse2(item).map_err(|e| e.to_string())?;
    let mut diag = Diagnostics::default();
    let args = args::parse(TokenStream::new(), &mut diag);
    let sig = sig::classify(&func, &args, &mut diag);
    let lowered = lower::lower_fn(&func, &sig, &mut diag);
    match diag.take() {
        Some(error) => Err(error.to_string()),
        None => Ok(lowered),
    }
}
