//! What a function's derivative code promises its callers, and what it asks of
//! its callees.
//!
//! The cores other functions call (`f::__reverse`, `f::__forward`, ...)
//! differentiate every float parameter, whatever `wrt(..)` says, so that a caller
//! can pass a value with a derivative anywhere. Except when that would
//! differentiate a call that the user's own `wrt` leaves passive: in
//!
//! ```text
//! #[differentiate(wrt(x))]
//! fn f(x: &[f64], m: f64) -> f64 { x[0] * x[1] - log_gamma(0.5 * m) }
//! ```
//!
//! `log_gamma` is an ordinary function (the contract allows calls whose
//! arguments are all passive), and differentiating `m` would call its
//! derivative code, which does not exist. Then the callers' cores differentiate
//! only what `wrt` names.
//!
//! Each function says which parameters its cores differentiate, as constants
//! (`f::__DIFF_ARGn`): true for those, unless the parameter's value reaches a
//! callee's parameter whose constant is false. A caller checks, at compile time,
//! the constant of every argument through which its own derivatives flow (those
//! `f_grad`, `f_vjp`, `f_jvp` and `f_hvp` compute): a derivative that a callee
//! would drop is a compile error at the call, never a silently wrong number.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use crate::analysis::activity::{self, call_input, Activity};
use crate::ir::{walk, CallArg, Function, Stmt};
use crate::sig::Signature;

/// The callers' cores' parameters and what they differentiate: their
/// signature has every float parameter active (a caller passes every argument
/// the same way, whatever the callee), and the second signature, which their
/// activity is computed from, the same, or only `wrt`'s if differentiating the
/// others would differentiate a call that `wrt` leaves passive (see the module
/// docs). The others then get adjoint slots that nothing is added into.
pub fn callers_signatures(
    func: &Function,
    sig: &Signature,
    user: &Activity,
) -> (Signature, Signature) {
    let mut every = sig.clone();
    for param in &mut every.params {
        param.active = param.is_float();
    }
    let full = activity::analyze(func, &every);
    let mut undeclared = false;
    walk(&func.body, false, &mut |stmt, _| {
        undeclared |= differentiated(stmt, &full) && !differentiated(stmt, user);
    });
    if undeclared {
        (every, sig.clone())
    } else {
        (every.clone(), every)
    }
}

/// Whether a call statement needs its callee's derivative code.
fn differentiated(stmt: &Stmt, activity: &Activity) -> bool {
    let Stmt::Call { dst, args, .. } = stmt else {
        return false;
    };
    dst.is_some_and(|dst| activity.is_active(dst))
        || args
            .iter()
            .filter_map(call_input)
            .any(|var| activity.is_active(var))
}

/// The calls of `func` and, for each, the positions of the arguments `activity`
/// makes active. Calls of `name` itself (recursion) are left out: its own
/// constants need no check.
fn active_arguments<'a>(
    func: &'a Function,
    activity: &Activity,
    name: &Ident,
) -> Vec<(&'a TokenStream, Span, Vec<usize>)> {
    let own = name.to_string();
    let mut out = Vec::new();
    walk(&func.body, false, &mut |stmt, _| {
        let Stmt::Call {
            func: callee,
            args,
            span,
            ..
        } = stmt
        else {
            return;
        };
        if callee.to_string() == own {
            return;
        }
        let active: Vec<usize> = args
            .iter()
            .enumerate()
            .filter(|(_, arg)| !matches!(arg, CallArg::Passive(_)))
            .filter(|(_, arg)| call_input(arg).is_some_and(|var| activity.is_active(var)))
            .map(|(position, _)| position)
            .collect();
        if !active.is_empty() {
            out.push((callee, *span, active));
        }
    });
    out
}

/// `__DIFF_ARGn` for every parameter `n`: whether the callers' cores (which
/// differentiate `callers`' active parameters, from [`callers_signatures`]) give
/// its derivative, given what the callees it reaches give.
pub fn constants(func: &Function, callers: &Signature, name: &Ident) -> TokenStream {
    let mut out = TokenStream::new();
    for (index, param) in callers.params.iter().enumerate() {
        let value = if param.active {
            // The calls this parameter alone reaches.
            let mut alone = callers.clone();
            for (other, param) in alone.params.iter_mut().enumerate() {
                param.active = other == index;
            }
            let reached = activity::analyze(func, &alone);
            let mut seen: Vec<String> = Vec::new();
            let mut terms = Vec::new();
            for (callee, _, positions) in active_arguments(func, &reached, name) {
                for position in positions {
                    let konst = format_ident!("__DIFF_ARG{}", position);
                    let term = quote!(#callee::#konst);
                    if !seen.contains(&term.to_string()) {
                        seen.push(term.to_string());
                        terms.push(term);
                    }
                }
            }
            quote!(true #(&& #terms)*)
        } else {
            quote!(false)
        };
        let konst = format_ident!("__DIFF_ARG{}", index);
        out.extend(quote! {
            #[doc(hidden)]
            pub const #konst: bool = #value;
        });
    }
    out
}

/// Compile-time checks that every callee differentiates the arguments through
/// which `user`'s derivatives flow (the activity of `f_grad` and the other
/// functions the user asked for), each at its call.
pub fn checks(func: &Function, user: &Activity, name: &Ident) -> TokenStream {
    let mut out = TokenStream::new();
    for (callee, span, positions) in active_arguments(func, user, name) {
        for position in positions {
            let konst = format_ident!("__DIFF_ARG{}", position);
            let message = format!(
                "`{callee}` gives no derivative for its argument {}, which here depends on what `{name}` differentiates (`{callee}` leaves that parameter out of its `wrt(..)`, or passes it to a function that is not `#[differentiate]`): add the parameter to `{callee}`'s `wrt(..)`, or pass a value that does not depend on the differentiated inputs",
                position + 1,
                callee = callee.to_string().replace(' ', ""),
            );
            out.extend(quote_spanned! {span=>
                const _: () = ::core::assert!(#callee::#konst, #message);
            });
        }
    }
    out
}
