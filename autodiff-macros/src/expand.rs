//! The pipeline: arguments → signature → lowering → verification → analyses →
//! reverse transformation → code generation. On any user error, the original
//! function is emitted unchanged together with every collected error.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::analysis::{activity, interface, tbr};
use crate::codegen::{self, Core};
use crate::diag::Diagnostics;
use crate::ir::verify;
use crate::sig;
use crate::transform::{forward, reverse};
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
    let mut lowered = lower::lower_fn(&func, &sig, &mut diag);
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
    crate::transform::hoist::invariant_reads(&mut lowered);
    // `__reverse` differentiates every float parameter (callers need all of
    // them; see `analysis::interface` for when it differentiates only `wrt`);
    // `wrt(..)` gets its own, cheaper core.
    let user_activity = activity::analyze(&lowered, &sig);
    let (all, differentiated, full_activity) =
        interface::callers_signatures(&lowered, &sig, &user_activity);
    let interface_consts = interface::constants(&lowered, &sig, &differentiated, &func.sig.ident);
    let interface_checks = interface::checks(&lowered, &user_activity, &func.sig.ident);
    let full_tbr = tbr::analyze(&lowered, &full_activity);
    let full_sweeps = reverse::transform(&lowered, &all, &full_activity, &full_tbr, true);
    let full = Core {
        name: format_ident!("__reverse"),
        sig: &all,
        activity: &full_activity,
        sweeps: full_sweeps,
    };
    // `__reverse_c`: the scalars taken as constants, for split calls whose scalar
    // arguments the caller does not differentiate (a time step `dt`): what only
    // their adjoints need is then neither computed nor saved.
    let mut consts_sig = all.clone();
    for param in &mut consts_sig.params {
        if matches!(param.kind, sig::ParamKind::Scalar) {
            param.active = false;
        }
    }
    let has_scalars = consts_sig
        .params
        .iter()
        .any(|param| matches!(param.kind, sig::ParamKind::Scalar));
    let mut consts_differentiated = consts_sig.clone();
    for (param, differentiated) in consts_differentiated
        .params
        .iter_mut()
        .zip(&differentiated.params)
    {
        param.active &= differentiated.active;
    }
    let consts_activity = activity::analyze(&lowered, &consts_differentiated);
    let consts = has_scalars.then(|| {
        let consts_tbr = tbr::analyze(&lowered, &consts_activity);
        Core {
            name: format_ident!("__reverse_c"),
            sig: &consts_sig,
            activity: &consts_activity,
            sweeps: reverse::transform(&lowered, &consts_sig, &consts_activity, &consts_tbr, true),
        }
    });
    let restricted = sig
        .params
        .iter()
        .zip(&all.params)
        .any(|(chosen, every)| chosen.active != every.active);
    let wrt_activity;
    let wrt = if restricted {
        wrt_activity = user_activity;
        let wrt_tbr = tbr::analyze(&lowered, &wrt_activity);
        Some(Core {
            name: format_ident!("__reverse_wrt"),
            sig: &sig,
            activity: &wrt_activity,
            sweeps: reverse::transform(&lowered, &sig, &wrt_activity, &wrt_tbr, false),
        })
    } else {
        None
    };
    // Forward mode: the tangent IR, run forward for `f_jvp`, and differentiated
    // again in reverse for `f_hvp`.
    // `__forward` differentiates every float parameter, for callers' forward mode.
    let full_tangent = forward::transform(&lowered, &all, &full_activity);
    let full_forward = reverse::transform(
        &full_tangent.func,
        &full_tangent.sig,
        &activity::Activity::none(full_tangent.func.vars.len()),
        &tbr::Tbr::default(),
        false,
    );
    // `__reverse_forward`: reverse mode over `__forward`, for callers' `f_hvp`.
    let seeded = forward::seeded(&full_tangent);
    // The parameters `differentiated` leaves out, and their tangents, are not
    // differentiated there either (their slots stay).
    let left_out: std::collections::HashSet<String> = all
        .params
        .iter()
        .zip(&differentiated.params)
        .enumerate()
        .filter(|(_, (every, chosen))| every.active && !chosen.active)
        .flat_map(|(index, (every, _))| {
            let tangent = full_tangent.param_tangent[index]
                .map(|t| full_tangent.sig.params[t].ident.to_string());
            std::iter::once(every.ident.to_string()).chain(tangent)
        })
        .collect();
    let seeded_activity = seeded.as_ref().map(|(func, sig)| {
        let mut chosen = sig.clone();
        for param in &mut chosen.params {
            param.active &= !left_out.contains(&param.ident.to_string());
        }
        activity::analyze(func, &chosen)
    });
    let reverse_forward = match (&seeded, &seeded_activity) {
        (Some((seeded_func, seeded_sig)), Some(seeded_activity)) => {
            let seeded_tbr = tbr::analyze(seeded_func, seeded_activity);
            Some((
                seeded_func,
                Core {
                    name: format_ident!("__reverse_forward"),
                    sig: seeded_sig,
                    activity: seeded_activity,
                    sweeps: reverse::transform(
                        seeded_func,
                        seeded_sig,
                        seeded_activity,
                        &seeded_tbr,
                        false,
                    ),
                },
            ))
        }
        _ => None,
    };
    let tangent = if args.forward || args.hvp {
        let activity = activity::analyze(&lowered, &sig);
        Some(forward::transform(&lowered, &sig, &activity))
    } else {
        None
    };
    if args.hvp {
        let mut errors: Vec<syn::Error> = Vec::new();
        if !matches!(sig.ret, sig::RetKind::Scalar) {
            let message = "`hvp` needs a function returning `f64` or `f32`: the Hessian of a vector-valued function is not a matrix; use `forward` (`f_jvp`) or `f_vjp` instead";
            errors.push(match &func.sig.output {
                syn::ReturnType::Default => syn::Error::new(func.sig.ident.span(), message),
                output => syn::Error::new_spanned(output, message),
            });
        }
        if let Some(mut error) = errors.pop() {
            for other in errors {
                error.combine(other);
            }
            let error = error.to_compile_error();
            return quote!(#func #error);
        }
    }
    let forward_sweep = match (&tangent, args.forward) {
        (Some(tangent), true) => {
            let count = tangent.func.vars.len();
            let none = activity::Activity::none(count);
            let sweeps = reverse::transform(
                &tangent.func,
                &tangent.sig,
                &none,
                &tbr::Tbr::default(),
                false,
            );
            Some((tangent, sweeps))
        }
        _ => None,
    };
    let hvp_activity;
    let hvp = match (&tangent, args.hvp) {
        (Some(tangent), true) => {
            hvp_activity = activity::analyze(&tangent.func, &tangent.sig);
            let hvp_tbr = tbr::analyze(&tangent.func, &hvp_activity);
            let sweeps =
                reverse::transform(&tangent.func, &tangent.sig, &hvp_activity, &hvp_tbr, false);
            Some((
                tangent,
                Core {
                    name: format_ident!("__hvp"),
                    sig: &tangent.sig,
                    activity: &hvp_activity,
                    sweeps,
                },
            ))
        }
        _ => None,
    };
    let modes = codegen::Modes {
        reverse: args.reverse,
        forward: forward_sweep,
        hvp,
        jacobian: args.jacobian,
        full_forward: (&full_tangent, full_forward),
        reverse_forward,
    };
    let output = codegen::emit(
        &func,
        &lowered,
        (full, consts, wrt),
        modes,
        (interface_consts, interface_checks),
    );
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

/// The IR of a function as the analyses see it (lowered, invariant reads hoisted),
/// for snapshot tests.
#[cfg(test)]
pub fn lower_for_test(item: TokenStream) -> Result<crate::ir::Function, String> {
    let func: syn::ItemFn = syn::parse2(item).map_err(|e| e.to_string())?;
    let mut diag = Diagnostics::default();
    let args = args::parse(TokenStream::new(), &mut diag);
    let sig = sig::classify(&func, &args, &mut diag);
    let mut lowered = lower::lower_fn(&func, &sig, &mut diag);
    match diag.take() {
        Some(error) => Err(error.to_string()),
        None => {
            crate::transform::hoist::invariant_reads(&mut lowered);
            Ok(lowered)
        }
    }
}
