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
//! fn prior(x: &[f64], m: f64) -> f64 { x[0] * x[1] - log_gamma(0.5 * m) }
//! ```
//!
//! `log_gamma` may be an ordinary function (the contract allows calls whose
//! arguments are all passive), whose derivative code does not exist. There the
//! cores differentiate what `wrt` names and no more. They keep an adjoint slot for
//! every float parameter all the same, so that a caller passes every argument
//! the same way whatever the callee; nothing is added into the slots of the
//! others.
//!
//! So that a caller never loses a derivative silently, each function says which
//! parameters its cores differentiate, as constants (`f::__DIFF_ARGn`, see
//! [`constants`]), and checks at compile time the constant of every argument
//! through which its own derivatives flow (those of `f_grad`, `f_vjp`, `f_jvp`,
//! `f_hvp`): passing a value with a derivative to a parameter a callee does not
//! differentiate is an error at the call.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use crate::analysis::activity::{self, call_input, Activity};
use crate::ir::{walk, CallArg, Function, Stmt};
use crate::sig::Signature;

/// The callers' cores' parameters, what they differentiate, and its activity:
/// their signature has every float parameter active, and they differentiate
/// the same, or what the user's signature does (`sig`, with activity `user`) if
/// differentiating the others would differentiate a call that the user's leaves
/// passive, which may be a call of an ordinary function (see the module docs).
pub fn callers_signatures(
    func: &Function,
    sig: &Signature,
    user: &Activity,
) -> (Signature, Signature, Activity) {
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
        (every, sig.clone(), user.clone())
    } else {
        (every.clone(), every, full)
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
/// makes active (recursive calls too: a derivative passed to a parameter the
/// function itself leaves out would be lost).
fn active_arguments<'a>(
    func: &'a Function,
    activity: &Activity,
) -> Vec<(&'a TokenStream, Span, Vec<usize>)> {
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

/// `__DIFF_ARGn` for every parameter `n`: whether the callers' cores
/// (differentiating `cores`' active parameters) give its derivative whole.
/// False for those they do not differentiate; true for the user's (`user`:
/// [`checks`] makes sure every callee passes their derivatives on); for the
/// others, which only callers' derivatives reach, the conjunction of the
/// constants of the callee parameters they reach (through recursive calls too).
/// Only those refer to other functions' constants, so only mutually recursive
/// functions that pass each other parameters their `wrt` leaves out could make
/// the constants a cycle.
pub fn constants(
    func: &Function,
    user: &Signature,
    cores: &Signature,
    name: &Ident,
) -> TokenStream {
    let own = name.to_string();
    let mut out = TokenStream::new();
    for (index, param) in cores.params.iter().enumerate() {
        let value = if !param.active {
            quote!(false)
        } else if user.params[index].active {
            quote!(true)
        } else {
            // The parameters this one reaches through recursive calls, and the
            // other callees' constants they all reach.
            let mut reached = vec![index];
            let mut terms: Vec<TokenStream> = Vec::new();
            let mut lost = false;
            let mut next = 0;
            while next < reached.len() {
                let mut alone = cores.clone();
                for (other, param) in alone.params.iter_mut().enumerate() {
                    param.active = other == reached[next];
                }
                next += 1;
                let activity = activity::analyze(func, &alone);
                for (callee, _, positions) in active_arguments(func, &activity) {
                    for position in positions {
                        if callee.to_string() == own {
                            if !cores.params.get(position).is_some_and(|p| p.active) {
                                lost = true;
                            } else if !user.params[position].active && !reached.contains(&position)
                            {
                                reached.push(position);
                            }
                            continue;
                        }
                        let konst = format_ident!("__DIFF_ARG{}", position);
                        let term = quote!(#callee::#konst);
                        if !terms.iter().any(|t| t.to_string() == term.to_string()) {
                            terms.push(term);
                        }
                    }
                }
            }
            if lost {
                quote!(false)
            } else {
                quote!(true #(&& #terms)*)
            }
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
/// functions the user asked for), each at its call. (The callers' cores
/// differentiate more only for parameters outside `wrt`, whose constants say
/// what their callees drop.)
pub fn checks(func: &Function, user: &Activity, name: &Ident) -> TokenStream {
    let mut out = TokenStream::new();
    for (callee, span, positions) in active_arguments(func, user) {
        for position in positions {
            let konst = format_ident!("__DIFF_ARG{}", position);
            let message = format!(
                "`{callee}` gives no derivative for its argument {}, which here depends on what `{name}` differentiates: `{callee}`'s `wrt(..)` leaves that parameter out; add it there, or pass a value that does not depend on the differentiated inputs",
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
