//! Renders the generated items: the hidden `__reverse` core (one per activity
//! set), and the public `f_grad` / `f_vjp` wrappers with their documentation.
//!
//! Every function `f` also gets a hidden unit struct `f` (type namespace only, so
//! it never clashes with the function) whose associated functions are what
//! callers' sweeps call: `path::to::f::__reverse(...)` works wherever
//! `path::to::f(...)` does, across modules and crates. A call that writes through
//! `&mut` is split (`tbr::split_call`): the caller's forward sweep runs
//! `f::__record` (the forward sweep, leaving its saves and final state on the
//! stack) and its reverse sweep `f::__unrecord` (the reverse sweep from there);
//! `f::__record_c` and `f::__unrecord_c` do the same with `f`'s scalar parameters
//! taken as constants, for callers that do not differentiate them. Constants beside
//! them tell callers, per array parameter, whether the reverse sweep reads it
//! (`__READS_ARGn`) and whether it gives it back as it found it
//! (`__RESTORES_ARGn`). Other calls are joint: the reverse sweep runs
//! `f::__reverse`, which runs the function again with its saves, then reverses it.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::analysis::activity::Activity;
use crate::ir::{Function, Origin, Ty};
use crate::sig::{Access, ParamKind, RetKind, Shape, Signature};
use crate::transform::forward::Tangent;
use crate::transform::reverse::{whole_value_save, SaveTy, Sweeps};

/// One generated reverse-mode core and what it was generated for.
pub struct Core<'a> {
    pub name: Ident,
    /// The signature with `active` set for the parameters this core differentiates.
    pub sig: &'a Signature,
    pub activity: &'a Activity,
    pub sweeps: Sweeps,
}

/// What to emit besides the function and its `__reverse` core.
pub struct Modes<'a> {
    /// `f_grad` / `f_vjp`.
    pub reverse: bool,
    /// `f_jvp`, from the tangent IR and its (forward-only) sweep.
    pub forward: Option<(&'a Tangent, Sweeps)>,
    /// `f_hvp` (and `f_hessian`): reverse mode over the tangent IR.
    pub hvp: Option<(&'a Tangent, Core<'a>)>,
    /// `f_jacobian`, built on `f_jvp` and `f_vjp`.
    pub jacobian: bool,
    /// The tangent IR with every float parameter differentiated, for `__forward`.
    pub full_forward: (&'a Tangent, Sweeps),
    /// Reverse mode over that, for callers' `f_hvp` (scalar and unit results).
    pub reverse_forward: Option<(&'a Function, Core<'a>)>,
}

pub fn emit(
    item: &syn::ItemFn,
    func: &Function,
    (full, consts, wrt): (Core, Option<Core>, Option<Core>),
    modes: Modes,
    (interface, checks): (TokenStream, TokenStream),
) -> TokenStream {
    let vis = &item.vis;
    let name = &item.sig.ident;
    let full_core = core_fn(func, &full, name);
    let consts_core = consts.as_ref().map(|core| core_fn(func, core, name));
    let wrt_core = wrt.as_ref().map(|core| core_fn(func, core, name));
    let public = wrt.as_ref().unwrap_or(&full);
    let path = core_path(item, public);
    let (vjp, grad) = if modes.reverse {
        let core = Some((&path, public.sweeps.uses_stack));
        let vjp = vjp_fn(item, public.sig, core);
        let grad = match full.sig.ret {
            RetKind::Scalar => grad_fn(item, public.sig, core),
            _ => TokenStream::new(),
        };
        (vjp, grad)
    } else {
        (TokenStream::new(), TokenStream::new())
    };
    let jvp = modes
        .forward
        .as_ref()
        .map(|(tangent, sweeps)| jvp_fn(item, tangent, sweeps));
    let (hvp_core, hvp) = match &modes.hvp {
        Some((tangent, core)) => {
            let mut hvp = hvp_fn(item, tangent, core);
            hvp.extend(hessian_fn(item, public.sig));
            (core_fn(&tangent.func, core, name), hvp)
        }
        None => (TokenStream::new(), TokenStream::new()),
    };
    let jacobian = modes.jacobian.then(|| jacobian_fn(item, public.sig));
    let mut forward_core = forward_core_fn(full.sig, modes.full_forward.0, &modes.full_forward.1);
    if let Some((seeded, core)) = &modes.reverse_forward {
        forward_core.extend(core_fn(seeded, core, name));
    }
    let mut fills = fills_fns(func, full.sig);
    fills.extend(slice_consts(full.sig));
    let doc = format!(
        "Reverse-mode derivative code of [`{name}`], called by the reverse sweeps of other `#[differentiate]` functions."
    );
    quote! {
        #item

        #[doc = #doc]
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #name {}

        #[allow(dead_code)]
        impl #name {
            #full_core
            #consts_core
            #wrt_core
            #hvp_core
            #forward_core
            #fills
            #interface
        }

        #checks
        #vjp
        #grad
        #jvp
        #hvp
        #jacobian
    }
}

/// `__fills_argN` for each `&mut` array parameter `N`: whether, given the
/// lengths of the arrays and the integers a call passes, the function writes
/// that array whole before it reads any of it (see `preacc::fills`). Callers
/// that preaccumulate a loop around the call evaluate it before the loop.
fn fills_fns(func: &Function, sig: &Signature) -> TokenStream {
    let float = float(sig);
    let names: Vec<Option<Ident>> = (0..sig.params.len())
        .map(|index| {
            func.vars
                .iter()
                .find(|var| var.origin == Origin::Param(index))
                .map(|var| crate::ir::ident(&var.name, Span::call_site()))
        })
        .collect();
    let params: Vec<TokenStream> = sig
        .params
        .iter()
        .zip(&names)
        .map(|(param, name)| {
            let name = match name {
                Some(name) => quote!(#name),
                None => quote!(_),
            };
            let ty = match &param.kind {
                ParamKind::Array { .. } => quote!(&[#float]),
                ParamKind::Scalar => quote!(#float),
                ParamKind::Passive(_) => {
                    let ty = &param.ty;
                    quote!(#ty)
                }
            };
            quote!(#name: #ty)
        })
        .collect();
    let wanted = |index: usize| sig.params[index].is_mut_buffer();
    let mut lens: std::collections::HashMap<usize, TokenStream> =
        crate::analysis::preacc::fills(func, &wanted)
            .into_iter()
            .filter_map(|(index, len)| Some((index, len?)))
            .collect();
    let mut out = TokenStream::new();
    for index in (0..sig.params.len()).filter(|index| wanted(*index)) {
        let name = format_ident!("__fills_arg{}", index);
        let body = match (lens.remove(&index), &names[index]) {
            (Some(len), Some(array)) => quote!((#len) == #array.len()),
            _ => quote!(false),
        };
        // Which parameters the answer reads: a caller may pass a placeholder
        // for the others (an offset it computes in the loop around the call).
        let mentioned = crate::analysis::preacc::idents(&body);
        let reads = names.iter().map(|name| {
            name.as_ref()
                .is_some_and(|name| mentioned.contains(&name.to_string()))
        });
        let reads_name = format_ident!("__FILLS_ARG{}_READS", index);
        let count = names.len();
        out.extend(quote! {
            #[doc(hidden)]
            #[inline]
            #[allow(unused_variables, unused_parens, clippy::all)]
            pub fn #name(#(#params),*) -> bool {
                #body
            }
            #[doc(hidden)]
            pub const #reads_name: [bool; #count] = [#(#reads),*];
        });
    }
    out
}

/// `__SLICE_ARGk` for each array parameter `k`: whether it is a `&[f64]`, to
/// which a caller's reverse sweep passes a window of another array in place of
/// the scratch copy it made of it (see `analysis::windows`; a `&Vec<f64>`
/// parameter gets the copy, which `__private::window` picks by type).
fn slice_consts(sig: &Signature) -> TokenStream {
    let mut out = TokenStream::new();
    for (index, param) in sig.params.iter().enumerate() {
        let ParamKind::Array { shape, access } = &param.kind else {
            continue;
        };
        let slice = matches!((shape, access), (Shape::Slice, Access::Shared));
        let name = format_ident!("__SLICE_ARG{}", index);
        out.extend(quote! {
            #[doc(hidden)]
            pub const #name: bool = #slice;
        });
    }
    out
}

fn float(sig: &Signature) -> TokenStream {
    sig.float_tokens()
}

/// The adjoint name of parameter `index`.
fn param_bar(func: &Function, index: usize) -> Ident {
    let var = func
        .vars
        .iter()
        .find(|var| var.origin == Origin::Param(index));
    match var {
        Some(var) => crate::ir::ident(&var.adjoint, Span::call_site()),
        None => format_ident!("__ad_param{}_bar", index),
    }
}

fn core_fn(func: &Function, core: &Core, primal: &Ident) -> TokenStream {
    let sig = core.sig;
    let float = float(sig);
    let name = &core.name;
    // The cores callers' split calls use: `__reverse` (every float parameter
    // differentiated) and `__reverse_c` (its scalars treated as constants, for
    // calls whose scalar arguments the caller does not differentiate).
    let suffix = match name.to_string().as_str() {
        "__reverse" => Some(""),
        "__reverse_c" => Some("_c"),
        _ => None,
    };
    let mut params = Vec::new();
    // For `__record`: the primal parameters. For `__unrecord`: the parameters of
    // this core with the passive slots named, and the names to pass them on by.
    let mut record_params = Vec::new();
    let mut unrecord_params = Vec::new();
    let mut pass_on = Vec::new();
    let mut prologue = TokenStream::new();
    let mut epilogue = TokenStream::new();
    for (index, param) in sig.params.iter().enumerate() {
        let ident = &param.ident;
        let ty = &param.ty;
        let bar = param_bar(func, index);
        let var_id = func
            .vars
            .iter()
            .position(|var| var.origin == Origin::Param(index))
            .map(|i| crate::ir::VarId(i as u32));
        let analyzed_active = var_id.is_some_and(|id| core.activity.is_active(id));
        match &param.kind {
            ParamKind::Scalar => {
                params.push(quote!(mut #ident: #ty));
                record_params.push(quote!(mut #ident: #ty));
                unrecord_params.push(quote!(mut #ident: #ty));
                pass_on.push(quote!(#ident));
                if param.active {
                    let out = format_ident!("__ad_{}_out", bar);
                    params.push(quote!(#out: &mut #float));
                    unrecord_params.push(quote!(#out: &mut #float));
                    pass_on.push(quote!(#out));
                    prologue.extend(quote!(let mut #bar: #float = 0.0;));
                    epilogue.extend(quote!(*#out += #bar;));
                } else {
                    if suffix == Some("_c") {
                        // The same slots as `__reverse`, so that callers pass the
                        // same arguments; nothing is added into them.
                        let slot = format_ident!("__ad_slot{}", index);
                        params.push(quote!(_: &mut #float));
                        unrecord_params.push(quote!(#slot: &mut #float));
                        pass_on.push(quote!(#slot));
                    }
                    if analyzed_active {
                        // A constant parameter the body assigns derivatives to
                        // (`x = x * v[0]`) gets a private adjoint.
                        prologue.extend(quote!(let mut #bar: #float = 0.0;));
                    }
                }
            }
            ParamKind::Array { access, .. } => {
                let decl = match access {
                    Access::Owned => quote!(mut #ident: #ty),
                    _ => quote!(#ident: #ty),
                };
                params.push(decl.clone());
                record_params.push(decl.clone());
                unrecord_params.push(decl);
                pass_on.push(quote!(#ident));
                if param.active {
                    params.push(quote!(#bar: &mut [#float]));
                    unrecord_params.push(quote!(#bar: &mut [#float]));
                    pass_on.push(quote!(#bar));
                } else if analyzed_active {
                    // A buffer left out of `wrt` that still carries derivatives
                    // internally gets a private adjoint.
                    prologue.extend(quote!(let mut #bar: ::std::vec::Vec<#float> = ::std::vec![0.0; #ident.len()];));
                }
            }
            ParamKind::Passive(_) => {
                // Every parameter has a slot, so that a caller can pass an argument
                // whose type it cannot see (a constant) without knowing whether it
                // is a float: the slot's type is inferred from this signature.
                // `mut`: the body may assign it (`mut n: usize` counted down).
                params.push(quote!(mut #ident: #ty));
                params.push(quote!(_: &mut ()));
                let slot = format_ident!("__ad_slot{}", index);
                record_params.push(quote!(mut #ident: #ty));
                unrecord_params.push(quote!(mut #ident: #ty));
                unrecord_params.push(quote!(#slot: &mut ()));
                pass_on.push(quote!(#ident, #slot));
            }
        }
    }
    // A caller that does not differentiate a read-only array it passes gives an
    // empty adjoint for it: additions into it are skipped where they are guarded
    // (`reverse::droppable`), and go to a private buffer otherwise. Not in
    // `__record`, which takes no adjoints.
    let mut keeps = TokenStream::new();
    for id in &core.sweeps.droppable {
        let var = func.var(*id);
        let keep = crate::transform::reverse::keep_flag(func, *id);
        let (name, bar) = (
            crate::ir::ident(&var.name, Span::call_site()),
            crate::ir::ident(&var.adjoint, Span::call_site()),
        );
        keeps.extend(quote!(let #keep: bool = #bar.len() == #name.len();));
    }
    if suffix.is_some() {
        for (index, param) in sig.params.iter().enumerate() {
            let droppable = core
                .sweeps
                .droppable
                .iter()
                .any(|id| func.var(*id).origin == Origin::Param(index));
            if droppable
                || !param.active
                || !matches!(
                    param.kind,
                    ParamKind::Array {
                        access: Access::Shared,
                        ..
                    }
                )
            {
                continue;
            }
            let (ident, bar) = (&param.ident, param_bar(func, index));
            let own = format_ident!("__ad_own_{}", bar);
            keeps.extend(quote! {
                let mut #own: ::std::vec::Vec<#float>;
                let #bar: &mut [#float] = if #bar.len() == #ident.len() {
                    #bar
                } else {
                    #own = ::std::vec![0.0; #ident.len()];
                    &mut #own[..]
                };
            });
        }
    }
    let (ret_ty, seed_param) = match &sig.ret {
        RetKind::Unit => (quote!(()), TokenStream::new()),
        RetKind::Scalar => (quote!(#float), quote!(__ad_seed: #float)),
        RetKind::Array(shape) => (array_type(shape, &float), quote!(__ad_seed: &[#float])),
    };
    if !seed_param.is_empty() {
        params.push(seed_param.clone());
        unrecord_params.push(seed_param);
        pass_on.push(quote!(__ad_seed));
    }
    let mut locals = TokenStream::new();
    let mut adjoints = TokenStream::new();
    for (index, var) in func.vars.iter().enumerate() {
        if var.origin != Origin::Local {
            continue;
        }
        let id = crate::ir::VarId(index as u32);
        let ident = crate::ir::ident(&var.name, var.span);
        locals.extend(declare(&ident, &var.ty, &float));
        if core.activity.is_active(id) {
            let bar = crate::ir::ident(&var.adjoint, var.span);
            adjoints.extend(match var.ty {
                // A scalar adjoint starts (and is reset to) -0.0, the identity of
                // `+`: its first `+=` is then a move LLVM can fold (0.0 + g
                // cannot be folded, since it turns -0.0 into +0.0).
                Ty::Float => quote!(let mut #bar: #float = -0.0;),
                _ => declare(&bar, &var.ty, &float),
            });
        }
    }
    let sweeps = &core.sweeps;
    let (forward, reverse, sweep_locals) = (&sweeps.forward, &sweeps.reverse, &sweeps.locals);
    let mut final_push = TokenStream::new();
    let mut final_pop = TokenStream::new();
    for id in &sweeps.unwound {
        if let Origin::Param(index) = func.var(*id).origin {
            if sig.params[index].is_mut_buffer() {
                let ident = &sig.params[index].ident;
                final_push.extend(quote!(__ad_final.push_slice(&#ident[..]);));
                final_pop = {
                    let mut ordered = quote!(__ad_final.pop_slice_into(&mut #ident[..]););
                    ordered.extend(final_pop);
                    ordered
                };
            }
        }
    }
    // The reverse sweep rewinds these buffers; their final state is kept on a
    // second pooled stack, since it is pushed last but restored last.
    let final_stack = (!final_push.is_empty())
        .then(|| quote!(let mut __ad_final = ::autodiff_runtime::stack::Stack::acquire();));
    let (seed, result) = match func.ret {
        Some(ret) => {
            let ret_ident = crate::ir::ident(&func.var(ret).name, Span::call_site());
            let seed = if core.activity.is_active(ret) {
                let bar = crate::ir::ident(&func.var(ret).adjoint, Span::call_site());
                match &sig.ret {
                    RetKind::Array(_) => quote! {
                        ::autodiff_runtime::__private::assert_same_len("seed", #bar.len(), __ad_seed.len());
                        #bar.copy_from_slice(__ad_seed);
                    },
                    _ => quote!(#bar = __ad_seed;),
                }
            } else {
                TokenStream::new()
            };
            (seed, quote!(#ret_ident))
        }
        None => (TokenStream::new(), quote!(())),
    };
    // Joint callers discard the value (`f::__adjoint`): the forward sweep
    // without the statements only the value needs.
    // (Only calls without `&mut` arguments are joint.)
    let adjoint = (name == "__reverse").then(|| {
        let after = quote!(#final_push #seed #reverse #final_pop #epilogue);
        let forward = sig
            .params
            .iter()
            .all(|param| !param.is_mut_buffer())
            .then(|| value_free_forward(func, sweeps, &after))
            .flatten();
        match forward {
            Some(forward) => quote! {
                /// The reverse sweep of a joint call whose caller discards the
                /// value: `__reverse` without the forward statements that only
                /// the value needs.
                #[doc(hidden)]
                #[inline]
                #[allow(unused_mut, unused_variables, unused_assignments, unused_parens, unused_braces, non_snake_case, clippy::all, clippy::pedantic)]
                pub fn __adjoint(__ad_stack: &mut ::autodiff_runtime::stack::Stack, #(#unrecord_params),*) {
                    #prologue
                    #keeps
                    #locals
                    #adjoints
                    #sweep_locals
                    #final_stack
                    #forward
                    #after
                }
            },
            None => quote! {
                /// The reverse sweep of a joint call whose caller discards the
                /// value: `__reverse` as it is (no loop of its forward sweep
                /// computes only the value).
                #[doc(hidden)]
                #[inline(always)]
                #[allow(unused_mut, unused_variables, clippy::all, clippy::pedantic)]
                pub fn __adjoint(__ad_stack: &mut ::autodiff_runtime::stack::Stack, #(#unrecord_params),*) {
                    Self::__reverse(__ad_stack, #(#pass_on),*);
                }
            },
        }
    });
    let split = suffix.map(|suffix| {
        let record = format_ident!("__record{}", suffix);
        let unrecord = format_ident!("__unrecord{}", suffix);
        let upper = suffix.to_uppercase();
        let frame = frame(func, core);
        let mut named = std::collections::HashSet::new();
        crate::transform::tokens::idents(&sweeps.reverse, false, &mut named);
        // Per array parameter, two constants for callers' split calls:
        // - `__RESTORES_ARGn`: whether `__unrecord` gives the array back as the
        //   call found it (every element store it reverses puts back the old
        //   element, and its own calls' conditions hold); its callers then keep no
        //   snapshot of their own. Trivially so for an array it cannot write (a
        //   caller may pass a `&mut` buffer where it takes `&[f64]`).
        // - `__READS_ARGn`: whether `__unrecord` reads the array's values (its
        //   callers keep them for it): its reverse sweep names it other than for
        //   its length, or it runs the function again.
        let mut constants = TokenStream::new();
        for (index, param) in sig.params.iter().enumerate() {
            if !matches!(param.kind, ParamKind::Array { .. }) {
                continue;
            }
            let id = func
                .vars
                .iter()
                .position(|var| var.origin == Origin::Param(index))
                .map(|id| crate::ir::VarId(id as u32));
            let mut_buffer = param.is_mut_buffer();
            let restored = !mut_buffer
                || frame.is_some() && id.is_some_and(|id| !sweeps.unrestored.contains(&id));
            let conditions = id
                .and_then(|id| sweeps.restored_if.get(&id))
                .filter(|_| restored && mut_buffer)
                .map(|conditions| quote!(#(&& #conditions)*));
            let read = frame.is_none() || named.contains(&param.ident.to_string());
            let restores = format_ident!("__RESTORES{}_ARG{}", upper, index);
            let reads = format_ident!("__READS{}_ARG{}", upper, index);
            constants.extend(quote! {
                #[doc(hidden)]
                pub const #restores: bool = #restored #conditions;
                #[doc(hidden)]
                pub const #reads: bool = #read;
            });
        }
        let record_args = sig.params.iter().map(|param| &param.ident);
        let mut_buffers: Vec<&Ident> = sig
            .params
            .iter()
            .filter(|param| param.is_mut_buffer())
            .map(|param| &param.ident)
            .collect();
        // The forward sweep, never run, for the types of the integers it assigns.
        let witness = frame
            .as_ref()
            .is_some_and(|frame| frame.inferred)
            .then(|| quote!(if false { #forward }));
        // `__record_v` and `__unrecord_v`: the same sweeps for a caller that
        // hands the result to the reverse (see `tbr::reloads`); a callee whose
        // frame is its result alone then keeps nothing.
        let mut value_bodies = None;
        let (record_body, unrecord_body) = match frame {
            Some(Frame {
                forward: record_forward,
                push,
                pop,
                refit,
                pooled,
                recycled,
                record_pooled,
                record_recycled,
                value_only,
                ..
            }) => {
                // The vectors the frame keeps are dropped at the end of
                // `__record` once pushed: taken from the thread's pool and given
                // back, not allocated and freed at every call. (Not when the
                // result is one of them.)
                let (record_pooled, record_recycled) = if matches!(sig.ret, RetKind::Array(_)) {
                    (TokenStream::new(), TokenStream::new())
                } else {
                    (record_pooled, record_recycled)
                };
                // `__record` and `__unrecord` around what the frame keeps: its
                // push and pop, or (`__record_v`, `__unrecord_v`) nothing kept and
                // the result taken from the caller.
                let bodies = |keep: TokenStream, restore: TokenStream| {
                    (
                        quote! {
                            #prologue
                            #locals
                            #adjoints
                            #sweep_locals
                            #record_pooled
                            #record_forward
                            #keep
                            #record_recycled
                            #result
                        },
                        quote! {
                            #prologue
                            #keeps
                            #locals
                            #adjoints
                            #sweep_locals
                            #restore
                            #witness
                            #seed
                            #reverse
                            #epilogue
                        },
                    )
                };
                if let Some(take) = value_only {
                    value_bodies = Some(bodies(TokenStream::new(), take));
                }
                let (record, unrecord) = bodies(push, quote!(#pooled #pop #refit));
                (record, quote!(#unrecord #recycled))
            }
            // Joint mode behind the same calls: the recording is the state of the
            // `&mut` buffers before the call, the reverse puts it back and runs
            // `__reverse`, which re-runs the function.
            None => {
                let pops = mut_buffers.iter().rev();
                (
                    quote! {
                        #(__ad_stack.push_slice(&#mut_buffers[..]);)*
                        #primal(#(#record_args),*)
                    },
                    quote! {
                        #(__ad_stack.pop_slice_into(&mut #pops[..]);)*
                        Self::#name(__ad_stack, #(#pass_on),*);
                    },
                )
            }
        };
        // Only callers' split calls hand the result over: calls that pass a
        // `&mut` buffer, or scalars only (see `tbr::split_call`).
        let handed = matches!(sig.ret, RetKind::Scalar)
            && suffix.is_empty()
            && (!mut_buffers.is_empty()
                || sig
                    .params
                    .iter()
                    .all(|param| !matches!(param.kind, ParamKind::Array { .. })));
        let value_fns = match value_bodies {
            _ if !handed => TokenStream::new(),
            Some((record_v, unrecord_v)) => quote! {
                /// `__record` for a caller that hands the result to
                /// `__unrecord_v`: the result is all the reverse sweep needs,
                /// so nothing is kept.
                #[doc(hidden)]
                #[inline]
                #[allow(unused_mut, unused_variables, unused_assignments, unused_parens, unused_braces, non_snake_case, clippy::all, clippy::pedantic)]
                pub fn __record_v(__ad_stack: &mut ::autodiff_runtime::stack::Stack, #(#record_params),*) -> #ret_ty {
                    #record_v
                }

                /// `__unrecord` with the result handed over by the caller.
                #[doc(hidden)]
                #[inline]
                #[allow(unused_mut, unused_variables, unused_assignments, unused_parens, unused_braces, non_snake_case, clippy::all, clippy::pedantic)]
                pub fn __unrecord_v(__ad_stack: &mut ::autodiff_runtime::stack::Stack, __ad_value: #float, #(#unrecord_params),*) {
                    #unrecord_v
                }
            },
            None => {
                let record_args = sig.params.iter().map(|param| &param.ident);
                quote! {
                    /// `__record` for a caller that hands the result to
                    /// `__unrecord_v`: the reverse sweep needs more than the
                    /// result, so this is `__record`.
                    #[doc(hidden)]
                    #[inline(always)]
                    #[allow(unused_mut, clippy::all, clippy::pedantic)]
                    pub fn __record_v(__ad_stack: &mut ::autodiff_runtime::stack::Stack, #(#record_params),*) -> #ret_ty {
                        Self::__record(__ad_stack, #(#record_args),*)
                    }

                    /// `__unrecord`, ignoring the result handed over.
                    #[doc(hidden)]
                    #[inline(always)]
                    #[allow(unused_mut, unused_variables, clippy::all, clippy::pedantic)]
                    pub fn __unrecord_v(__ad_stack: &mut ::autodiff_runtime::stack::Stack, _: #float, #(#unrecord_params),*) {
                        Self::__unrecord(__ad_stack, #(#pass_on),*);
                    }
                }
            }
        };
        quote! {
            #constants
            #value_fns

            /// The forward sweep of a split call (see `tbr::split_call`): runs the
            /// function and leaves on the stack what its reverse sweep needs.
            #[doc(hidden)]
            #[inline]
            #[allow(unused_mut, unused_variables, unused_assignments, unused_parens, unused_braces, non_snake_case, clippy::all, clippy::pedantic)]
            pub fn #record(__ad_stack: &mut ::autodiff_runtime::stack::Stack, #(#record_params),*) -> #ret_ty {
                #record_body
            }

            /// The reverse sweep of a split call, from what `__record` left: the
            /// `&mut` buffers as the call left them, the other arguments as the
            /// call saw them.
            #[doc(hidden)]
            #[inline]
            #[allow(unused_mut, unused_variables, unused_assignments, unused_parens, unused_braces, non_snake_case, clippy::all, clippy::pedantic)]
            pub fn #unrecord(__ad_stack: &mut ::autodiff_runtime::stack::Stack, #(#unrecord_params),*) {
                #unrecord_body
            }
        }
    });
    // The local vectors: made again in their own allocation (see
    // `tokens::refill_vecs`).
    let vectors: std::collections::HashSet<String> = func
        .vars
        .iter()
        .filter(|var| var.origin == Origin::Local && matches!(var.ty, Ty::FloatArray(Shape::Vec)))
        .map(|var| var.name.clone())
        .collect();
    let out = quote! {
        #split
        #adjoint
        #[doc(hidden)]
        #[inline]
        #[allow(unused_mut, unused_variables, unused_assignments, unused_parens, unused_braces, non_snake_case, clippy::all, clippy::pedantic)]
        pub fn #name(__ad_stack: &mut ::autodiff_runtime::stack::Stack, #(#params),*) -> #ret_ty {
            #prologue
            #keeps
            #locals
            #adjoints
            #sweep_locals
            #final_stack
            // Forward sweep.
            #forward
            #final_push
            // Reverse sweep.
            #seed
            #reverse
            #final_pop
            #epilogue
            #result
        }
    };
    crate::transform::tokens::refill_vecs(&out, &vectors)
}

/// The forward sweep of `__adjoint`: the top-level statements of `__reverse`'s
/// that write what the code after them (`after`, the reverse sweep) may read,
/// push to the stack, or declare a name; `None` if that is all of them but
/// loop-free statements.
///
/// The others computed only the value, which `__adjoint`'s caller discards
/// (`s += d * d` in `squared_distance`, whose reverse replays `d`). The caller's
/// own forward sweep ran the function first, so skipping them cannot skip a
/// panic. Where an integer's type is inferred from its assignments, they stay
/// as `if false { .. }` for the compiler to see.
fn value_free_forward(
    func: &Function,
    sweeps: &Sweeps,
    after: &TokenStream,
) -> Option<TokenStream> {
    use crate::transform::tokens::{assigned, exposed, mentions_any};
    let mut live = std::collections::HashSet::new();
    exposed(after, &mut live);
    // The parameters' adjoints are what the call is for: a statement that adds
    // into them is needed whether or not the reverse sweep reads them again (a
    // preaccumulated loop, differentiated as it runs, adds into `x_bar` here).
    live.extend(
        func.vars
            .iter()
            .filter(|var| matches!(var.origin, Origin::Param(_)))
            .map(|var| var.adjoint.clone()),
    );
    let mut needed = vec![true; sweeps.top_forward.len()];
    for (k, piece) in sweeps.top_forward.iter().enumerate().rev() {
        let mut writes = std::collections::HashSet::new();
        assigned(piece, &mut writes);
        let declares = piece
            .clone()
            .into_iter()
            .any(|tree| matches!(tree, proc_macro2::TokenTree::Ident(word) if word == "let"));
        needed[k] = declares
            || mentions_any(piece, &["__ad_stack", "return"])
            || writes.iter().any(|name| live.contains(name));
        if needed[k] {
            exposed(piece, &mut live);
        }
    }
    // Worth a second body only to skip a loop.
    let skips_loop = sweeps
        .top_forward
        .iter()
        .zip(&needed)
        .any(|(piece, needed)| !needed && mentions_any(piece, &["for", "loop", "while"]));
    if !skips_loop {
        return None;
    }
    let inferred = func.vars.iter().any(|var| matches!(var.ty, Ty::Int(None)))
        || sweeps
            .slots
            .iter()
            .any(|(_, ty)| matches!(ty, SaveTy::Int(None)));
    Some(
        sweeps
            .top_forward
            .iter()
            .zip(needed)
            .map(|(piece, needed)| match (needed, inferred) {
                (true, _) => piece.clone(),
                (false, true) => quote!(if false { #piece }),
                (false, false) => TokenStream::new(),
            })
            .collect(),
    )
}

/// The state the forward sweep leaves that the reverse sweep reads, saved at the
/// end of `__record` and put back at the start of `__unrecord`.
struct Frame {
    /// The forward sweep for `__record`, without sizing adjoints it never reads.
    forward: TokenStream,
    push: TokenStream,
    pop: TokenStream,
    /// Adjoints of local `Vec`s sized to the arrays put back.
    refit: TokenStream,
    /// Pooled allocations for the local `Vec`s and adjoints `__unrecord` fills,
    /// and their return to the pool at its end.
    pooled: TokenStream,
    recycled: TokenStream,
    /// The same for `__record`: the vectors its forward sweep fills, given back
    /// once the frame is pushed.
    record_pooled: TokenStream,
    record_recycled: TokenStream,
    /// Whether the sweeps declare an integer whose type is not written out: only
    /// the forward sweep's assignments tell the compiler its type.
    inferred: bool,
    /// When the frame is the function's result alone and the forward sweep
    /// pushes nothing else (`sigmoid`): what `__unrecord_v` runs instead of
    /// `pop`, taking the result from its caller (`__ad_value`).
    value_only: Option<TokenStream>,
}

/// The frame of a core's sweeps: every local, save slot, and assigned scalar or
/// owned array parameter the reverse sweep may read before assigning it (it reads
/// them as the forward sweep left them; `tokens::exposed`), and the local arrays
/// whose adjoints it names (for their lengths).
/// `None` when the sweeps cannot be split: the forward sweep touches adjoints
/// (preaccumulation), or the reverse sweep reads a local of a type the macro does
/// not know.
fn frame(func: &Function, core: &Core) -> Option<Frame> {
    let sweeps = &core.sweeps;
    if sweeps.forward_uses_adjoints {
        return None;
    }
    // What the reverse sweep reads before it assigns it: temporaries it
    // recomputes need not be handed over.
    let mut named = std::collections::HashSet::new();
    crate::transform::tokens::exposed(&sweeps.reverse, &mut named);
    let mut push = TokenStream::new();
    let mut pops = Vec::new();
    let mut refit = TokenStream::new();
    // The vectors taken from the thread's pool and given back: by `__unrecord`,
    // and by `__record` where its forward sweep uses them (`true`).
    let mut pool: Vec<(Ident, bool)> = Vec::new();
    let mut forward = sweeps.forward.clone();
    // Every local is declared in `__unrecord`, needed or not.
    let inferred = func.vars.iter().any(|var| matches!(var.ty, Ty::Int(None)))
        || sweeps
            .slots
            .iter()
            .any(|(_, ty)| matches!(ty, SaveTy::Int(None)));
    // Scalars of the top-level block that cheap statements compute from values
    // that stay (parameters the function never assigns) or that the frame holds,
    // each assigned once: computed again after the pops instead of kept
    // (`1.0 / (1.0 + e)` from its `e`, loop bounds from `n`).
    // Writes per variable: parameters keep the values the caller passes unless
    // the function assigns them.
    let mut counts = vec![0usize; func.vars.len()];
    crate::ir::walk(&func.body, false, &mut |stmt, _| {
        for var in stmt.writes() {
            counts[var.0 as usize] += 1;
        }
    });
    let once = |id: crate::ir::VarId| counts[id.0 as usize] == 1;
    let stays = |id: crate::ir::VarId| {
        matches!(func.var(id).origin, Origin::Param(_)) && counts[id.0 as usize] == 0
    };
    let mut computable: std::collections::HashSet<crate::ir::VarId> = Default::default();
    for def in &sweeps.frame_defs {
        if func.var(def.dst).origin == Origin::Local
            && once(def.dst)
            && def.reads.iter().all(|read| {
                stays(*read)
                    || computable.contains(read)
                    || (once(*read) && named.contains(&func.var(*read).name))
            })
        {
            computable.insert(def.dst);
        }
    }
    // Those the reverse sweep reads, and the ones they are computed from.
    let mut recomputed: std::collections::HashSet<crate::ir::VarId> = computable
        .iter()
        .copied()
        .filter(|id| named.contains(&func.var(*id).name))
        .collect();
    for def in sweeps.frame_defs.iter().rev() {
        if recomputed.contains(&def.dst) {
            recomputed.extend(def.reads.iter().filter(|read| computable.contains(read)));
        }
    }
    let mut kept_vars = Vec::new();
    let recompute: TokenStream = sweeps
        .frame_defs
        .iter()
        .filter(|def| recomputed.contains(&def.dst))
        .map(|def| def.code.clone())
        .collect();
    for (index, var) in func.vars.iter().enumerate() {
        let id = crate::ir::VarId(index as u32);
        let ident = crate::ir::ident(&var.name, var.span);
        let value = named.contains(&var.name);
        let bar = core.activity.is_active(id) && named.contains(&var.adjoint);
        let resized = matches!(var.ty, Ty::FloatArray(Shape::Vec));
        let kept = match var.origin {
            Origin::Local => value || (bar && resized),
            Origin::Param(index) => {
                value
                    && counts[id.0 as usize] > 0
                    && matches!(
                        core.sig.params[index].kind,
                        ParamKind::Scalar
                            | ParamKind::Array {
                                access: Access::Owned,
                                ..
                            }
                    )
            }
            Origin::LoopIndex => false,
        };
        if !kept {
            continue;
        }
        if func.opaque.contains(&id)
            || matches!(var.ty, Ty::FloatArray(Shape::Slice) | Ty::IntArray)
        {
            return None;
        }
        if recomputed.contains(&id) {
            continue;
        }
        let (save, restore) = whole_value_save(&ident, &var.ty);
        push.extend(save);
        pops.push(restore);
        kept_vars.push(id);
        if resized && var.origin == Origin::Local {
            pool.push((ident.clone(), true));
        }
        if bar && resized && var.origin == Origin::Local {
            let adjoint = crate::ir::ident(&var.adjoint, var.span);
            refit.extend(
                quote!(::autodiff_runtime::__private::fit_zeros(&mut #adjoint, #ident.len());),
            );
            // `__unrecord` sizes it: unless the forward sweep saves its length
            // (an array reassigned in a loop), `__record` need not.
            let unsized_forward = crate::transform::tokens::without_fits(&forward, &var.adjoint);
            let sized_by_record =
                crate::transform::tokens::mentions(&unsized_forward, &var.adjoint);
            if !sized_by_record {
                forward = unsized_forward;
            }
            pool.push((adjoint, sized_by_record));
        }
    }
    let take = |ident: &Ident| quote!(#ident = ::autodiff_runtime::__private::pooled_vec(););
    let give = |ident: &Ident| quote!(::autodiff_runtime::__private::recycle(::core::mem::take(&mut #ident)););
    let pooled: TokenStream = pool.iter().map(|(ident, _)| take(ident)).collect();
    let recycled: TokenStream = pool.iter().map(|(ident, _)| give(ident)).collect();
    let record_pool = pool.iter().filter(|(_, used)| *used);
    let record_pooled: TokenStream = record_pool.clone().map(|(ident, _)| take(ident)).collect();
    let record_recycled: TokenStream = record_pool.map(|(ident, _)| give(ident)).collect();
    // Save slots are scalars (their declared types tell the lanes).
    let mut slots_kept = false;
    for (slot, _) in sweeps
        .slots
        .iter()
        .filter(|(slot, _)| named.contains(&slot.to_string()))
    {
        let (save, restore) = whole_value_save(slot, &Ty::Float);
        push.extend(save);
        pops.push(restore);
        slots_kept = true;
    }
    let value_only = match func.ret {
        Some(ret)
            if kept_vars == [ret]
                && !slots_kept
                && matches!(func.var(ret).ty, Ty::Float)
                && func.var(ret).origin == Origin::Local
                && !crate::transform::tokens::mentions(&forward, "__ad_stack") =>
        {
            let ident = crate::ir::ident(&func.var(ret).name, func.var(ret).span);
            Some(quote!(#ident = __ad_value; #recompute))
        }
        _ => None,
    };
    let mut pop: TokenStream = pops.into_iter().rev().collect();
    pop.extend(recompute);
    Some(Frame {
        forward,
        push,
        pop,
        refit,
        pooled,
        recycled,
        record_pooled,
        record_recycled,
        inferred,
        value_only,
    })
}

fn array_type(shape: &Shape, float: &TokenStream) -> TokenStream {
    match shape {
        Shape::Fixed(len) => quote!([#float; #len]),
        _ => quote!(::std::vec::Vec<#float>),
    }
}

fn declare(ident: &Ident, ty: &Ty, float: &TokenStream) -> TokenStream {
    match ty {
        Ty::Float => quote!(let mut #ident: #float = 0.0;),
        Ty::Int(Some(int)) => quote!(let mut #ident: #int = 0;),
        Ty::Int(None) => quote!(let mut #ident = ::core::default::Default::default();),
        Ty::Bool => quote!(let mut #ident: bool = false;),
        Ty::FloatArray(Shape::Fixed(len)) => quote!(let mut #ident: [#float; #len] = [0.0; #len];),
        Ty::FloatArray(_) => {
            quote!(let mut #ident: ::std::vec::Vec<#float> = ::std::vec::Vec::new();)
        }
        Ty::IntArray => TokenStream::new(),
    }
}

/// The zero gradient of an array parameter, and its type.
fn zero_gradient(ident: &Ident, shape: &Shape, float: &TokenStream) -> (TokenStream, TokenStream) {
    match shape {
        Shape::Fixed(len) => (quote!([0.0; #len]), quote!([#float; #len])),
        _ => (
            quote!(::std::vec![0.0; #ident.len()]),
            quote!(::std::vec::Vec<#float>),
        ),
    }
}

/// The user's lint attributes on `f` (`#[allow(clippy::ptr_arg)]`, ...), which
/// apply to the generated signatures too.
fn lint_attrs(item: &syn::ItemFn) -> TokenStream {
    item.attrs
        .iter()
        .filter(|attr| {
            ["allow", "warn", "deny", "expect"]
                .iter()
                .any(|lint| attr.path().is_ident(lint))
        })
        .map(quote::ToTokens::to_token_stream)
        .collect()
}

/// A parameter name for a wrapper (`x_bar`, `seed`) that no parameter of `f`
/// already uses: underscores are appended on a clash.
fn wrapper_name(sig: &Signature, base: &str) -> Ident {
    let mut name = base.to_string();
    while sig.params.iter().any(|param| param.ident == name) {
        name.push('_');
    }
    format_ident!("{}", name)
}

/// Packs gradient entries: `()` for none, bare for one, a tuple otherwise.
fn pack(items: &[TokenStream]) -> TokenStream {
    match items {
        [] => quote!(()),
        [one] => one.clone(),
        many => quote!((#(#many),*)),
    }
}

struct Call {
    /// Statements creating gradient slots and checking shadows.
    setup: TokenStream,
    args: Vec<TokenStream>,
    /// Gradient values and types, in parameter order.
    grads: Vec<TokenStream>,
    grad_types: Vec<TokenStream>,
}

/// The arguments of a call from a wrapper to the core.
fn core_call(item: &syn::ItemFn, sig: &Signature, include_mut_grads: bool) -> Call {
    let float = float(sig);
    let mut call = Call {
        setup: TokenStream::new(),
        args: Vec::new(),
        grads: Vec::new(),
        grad_types: Vec::new(),
    };
    let _ = item;
    for param in &sig.params {
        let ident = &param.ident;
        call.args.push(quote!(#ident));
        if let ParamKind::Passive(_) = param.kind {
            call.args.push(quote!(&mut ()));
        }
        if !param.active {
            continue;
        }
        let slot = format_ident!("__ad_grad_{}", ident);
        match &param.kind {
            ParamKind::Scalar => {
                call.setup.extend(quote!(let mut #slot: #float = 0.0;));
                call.args.push(quote!(&mut #slot));
                call.grads.push(quote!(#slot));
                call.grad_types.push(float.clone());
            }
            ParamKind::Array { shape, access } => {
                let bar = wrapper_name(sig, &format!("{ident}_bar"));
                if *access == Access::Mut && !include_mut_grads {
                    let message = format!("{ident}_bar");
                    call.setup.extend(quote!(::autodiff_runtime::__private::assert_same_len(#message, #ident.len(), #bar.len());));
                    call.args.push(quote!(&mut #bar[..]));
                    continue;
                }
                let (zero, ty) = zero_gradient(ident, shape, &float);
                call.setup.extend(quote!(let mut #slot: #ty = #zero;));
                call.args.push(quote!(&mut #slot[..]));
                call.grads.push(quote!(#slot));
                call.grad_types.push(ty);
            }
            ParamKind::Passive(_) => {}
        }
    }
    call
}

/// A wrapper's call of a core: on a stack borrowed from the thread's pool if the
/// core uses one, else on an empty stack (which allocates nothing).
fn core_call_expr(path: &TokenStream, pooled: bool, args: &[TokenStream]) -> TokenStream {
    if pooled {
        quote!(::autodiff_runtime::__private::with_stack(|__ad_stack| #path(__ad_stack, #(#args),*)))
    } else {
        quote!(#path(&mut ::autodiff_runtime::stack::Stack::new(), #(#args),*))
    }
}

fn core_path(item: &syn::ItemFn, core: &Core) -> TokenStream {
    let name = &item.sig.ident;
    let core_name = &core.name;
    quote!(#name::#core_name)
}

/// Stand-ins for the generated functions when the annotated function has errors,
/// so that call sites do not add "cannot find `f_grad`" to the real errors.
pub fn stubs(item: &syn::ItemFn, sig: &Signature) -> TokenStream {
    let mut out = vjp_fn(item, sig, None);
    if let RetKind::Scalar = sig.ret {
        out.extend(grad_fn(item, sig, None));
    }
    out
}

/// The body of a wrapper: a call to the core, or `unreachable!` for stubs.
fn wrapper_body(primal: &Ident, core: Option<(&TokenStream, bool)>, call: &Call) -> TokenStream {
    let setup = &call.setup;
    let args = &call.args;
    let grads = pack(&call.grads);
    match core {
        Some((path, pooled)) => {
            let call = core_call_expr(path, pooled, args);
            quote! {
                // The function counts as used when only its derivatives are.
                let _ = #primal;
                #setup
                let __ad_value = #call;
                (__ad_value, #grads)
            }
        }
        None => quote!(::core::unreachable!(
            "#[differentiate] reported errors for this function"
        )),
    }
}

fn vjp_fn(item: &syn::ItemFn, sig: &Signature, core: Option<(&TokenStream, bool)>) -> TokenStream {
    let float = float(sig);
    let vis = &item.vis;
    let name = &item.sig.ident;
    let vjp = format_ident!("{}_vjp", name);
    let mut params = Vec::new();
    for param in &sig.params {
        let ident = &param.ident;
        let ty = &param.ty;
        params.push(quote!(#ident: #ty));
        if param.active && param.is_mut_buffer() {
            let bar = wrapper_name(sig, &format!("{ident}_bar"));
            params.push(quote!(#bar: #ty));
        }
    }
    let mut call = core_call(item, sig, false);
    let ret_ty = match &sig.ret {
        RetKind::Unit => quote!(()),
        RetKind::Scalar => {
            let seed = wrapper_name(sig, "seed");
            params.push(quote!(#seed: #float));
            call.args.push(quote!(#seed));
            quote!(#float)
        }
        RetKind::Array(shape) => {
            let seed_ty = match shape {
                Shape::Fixed(len) => quote!([#float; #len]),
                _ => quote!(&[#float]),
            };
            let seed = wrapper_name(sig, "seed");
            params.push(quote!(#seed: #seed_ty));
            call.args.push(quote!(&#seed[..]));
            array_type(shape, &float)
        }
    };
    let body = wrapper_body(name, core, &call);
    let stub_allow = core.is_none().then(|| quote!(#[allow(unused_variables)]));
    let lints = lint_attrs(item);
    let grad_ty = pack(&call.grad_types);
    let doc = format!(
        "Vector-Jacobian product of [`{name}`] in one reverse pass.\n\n\
         Takes `{name}`'s parameters, a shadow `x_bar` after every differentiated `&mut` buffer \
         (on entry the adjoint of its final value, on exit the adjoint of its initial value), \
         and the `seed` adjoint of the returned value; returns `(value, gradient)` where the \
         gradient of the other differentiated parameters follows parameter order.\n\n\
         Generated by `#[differentiate]`."
    );
    quote! {
        #[doc = #doc]
        #[allow(clippy::too_many_arguments, clippy::type_complexity, unused_mut)]
        #stub_allow
        #lints
        #vis fn #vjp(#(#params),*) -> (#ret_ty, #grad_ty) {
            #body
        }
    }
}

fn grad_fn(item: &syn::ItemFn, sig: &Signature, core: Option<(&TokenStream, bool)>) -> TokenStream {
    let float = float(sig);
    let vis = &item.vis;
    let name = &item.sig.ident;
    let grad = format_ident!("{}_grad", name);
    let params = plain_params(sig);
    let mut call = core_call(item, sig, true);
    call.args.push(quote!(1.0));
    let body = wrapper_body(name, core, &call);
    let stub_allow = core.is_none().then(|| quote!(#[allow(unused_variables)]));
    let lints = lint_attrs(item);
    let grad_ty = pack(&call.grad_types);
    let doc = format!(
        "Value and gradient of [`{name}`] in one reverse pass.\n\n\
         Takes exactly `{name}`'s parameters and returns `(value, gradient)`: one entry per \
         differentiated parameter in parameter order (bare when there is one); for a `&mut` \
         buffer, the gradient with respect to its initial contents.\n\n\
         Generated by `#[differentiate]`."
    );
    quote! {
        #[doc = #doc]
        #[allow(clippy::too_many_arguments, clippy::type_complexity, unused_mut)]
        #stub_allow
        #lints
        #vis fn #grad(#(#params),*) -> (#float, #grad_ty) {
            #body
        }
    }
}

/// Parameters as the generated function declares them (`mut` where the body may
/// assign them).
fn param_decls(sig: &Signature) -> Vec<TokenStream> {
    sig.params
        .iter()
        .map(|param| {
            let ident = &param.ident;
            let ty = &param.ty;
            match &param.kind {
                ParamKind::Scalar
                | ParamKind::Passive(_)
                | ParamKind::Array {
                    access: Access::Owned,
                    ..
                } => quote!(mut #ident: #ty),
                _ => quote!(#ident: #ty),
            }
        })
        .collect()
}

/// The body of a forward-mode function: hoisted locals, the tangent IR run
/// forward, `(value, tangent of the value)`; and the type of the value.
fn tangent_body(sig: &Signature, tangent: &Tangent, sweeps: &Sweeps) -> (TokenStream, TokenStream) {
    let float = float(sig);
    let func = &tangent.func;
    let mut locals = TokenStream::new();
    for var in &func.vars {
        if var.origin == Origin::Local {
            let ident = crate::ir::ident(&var.name, var.span);
            locals.extend(declare(&ident, &var.ty, &float));
        }
    }
    let ret_ty = match &sig.ret {
        RetKind::Unit => quote!(()),
        RetKind::Scalar => float.clone(),
        RetKind::Array(shape) => array_type(shape, &float),
    };
    let result = match (tangent.value, func.ret) {
        (Some(value), Some(dot)) => {
            let value = crate::ir::ident(&func.var(value).name, Span::call_site());
            let dot = crate::ir::ident(&func.var(dot).name, Span::call_site());
            quote!((#value, #dot))
        }
        _ => quote!(((), ())),
    };
    let (forward, sweep_locals) = (&sweeps.forward, &sweeps.locals);
    (ret_ty, quote!(#locals #sweep_locals #forward #result))
}

/// `f_jvp`: the tangent IR run forward, returning `(value, tangent of the value)`.
fn jvp_fn(item: &syn::ItemFn, tangent: &Tangent, sweeps: &Sweeps) -> TokenStream {
    let sig = &tangent.sig;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let jvp = format_ident!("{}_jvp", name);
    let params = param_decls(sig);
    let (ret_ty, body) = tangent_body(sig, tangent, sweeps);
    let lints = lint_attrs(item);
    let doc = format!(
        "Jacobian-vector product of [`{name}`] in one forward pass.\n\n\
         Takes `{name}`'s parameters, then one tangent per differentiated parameter in \
         parameter order (a `&mut` buffer's tangent ends holding the tangent of its final \
         state), and returns `(value, tangent of the value)`.\n\n\
         Generated by `#[differentiate(forward)]`."
    );
    quote! {
        #[doc = #doc]
        #[allow(clippy::too_many_arguments, clippy::type_complexity, unused_mut, unused_variables, unused_assignments, unused_parens, clippy::all)]
        #lints
        #vis fn #jvp(#(#params),*) -> (#ret_ty, #ret_ty) {
            let _ = #name;
            #body
        }
    }
}

/// `f_hvp`: the gradient by `f_grad`, and `H·v` by the reverse sweep of the tangent
/// IR (the gradient of `∇f·v` with respect to the inputs, `v` held fixed).
fn hvp_fn(item: &syn::ItemFn, tangent: &Tangent, core: &Core) -> TokenStream {
    let sig = &tangent.sig;
    let float = float(sig);
    let vis = &item.vis;
    let name = &item.sig.ident;
    let hvp = format_ident!("{}_hvp", name);
    let grad = format_ident!("{}_grad", name);
    let primal_count = item.sig.inputs.len();
    // Directions for `&mut` buffers are read-only slices, shaped like the gradient;
    // the core's tangent is a mutable copy.
    let mut direction_copies = TokenStream::new();
    let (save_initial, reset) = initial_states(
        sig.params[..primal_count]
            .iter()
            .filter(|param| param.is_mut_buffer()),
        &float,
    );
    let params: Vec<TokenStream> = sig
        .params
        .iter()
        .enumerate()
        .map(|(k, param)| {
            let ident = &param.ident;
            let ty = &param.ty;
            if param.is_mut_buffer() && k >= primal_count {
                // A copy of the buffer's own type, which the core's tangent has.
                let copy = format_ident!("__ad_direction_{}", ident);
                let reborrow = match &param.kind {
                    ParamKind::Array {
                        shape: Shape::Fixed(len),
                        ..
                    } => quote! {
                        let mut #copy: [#float; #len] = [0.0; #len];
                        #copy.copy_from_slice(#ident);
                        let #ident = &mut #copy;
                    },
                    ParamKind::Array {
                        shape: Shape::Vec, ..
                    } => quote! {
                        let mut #copy = #ident.to_vec();
                        let #ident = &mut #copy;
                    },
                    _ => quote! {
                        let mut #copy = #ident.to_vec();
                        let #ident = &mut #copy[..];
                    },
                };
                direction_copies.extend(reborrow);
                return quote!(#ident: &[#float]);
            }
            quote!(#ident: #ty)
        })
        .collect();
    let grad_args = primal_args(sig, primal_count);
    let mut call = core_call(item, sig, true);
    call.args.push(quote!(1.0));
    let setup = &call.setup;
    let args = &call.args;
    let hv = pack(&call.grads);
    let hv_ty = pack(&call.grad_types);
    let call = core_call_expr(&core_path(item, core), core.sweeps.uses_stack, args);
    let lints = lint_attrs(item);
    let doc = format!(
        "Value, gradient and Hessian-vector product of [`{name}`].\n\n\
         Takes `{name}`'s parameters, then a direction `v` shaped like each differentiated \
         parameter, and returns `(value, gradient, H·v)` with the gradient and `H·v` laid \
         out as `{name}_grad`'s gradient. Never forms the Hessian: `H·v` is the reverse \
         sweep of the forward-mode tangent `∇f·v`.\n\n\
         Generated by `#[differentiate(hvp)]`."
    );
    quote! {
        #[doc = #doc]
        #[allow(clippy::too_many_arguments, clippy::type_complexity, unused_mut)]
        #lints
        #vis fn #hvp(#(#params),*) -> (#float, #hv_ty, #hv_ty) {
            #save_initial
            let (__ad_value, __ad_gradient) = #grad(#(#grad_args),*);
            // Both sweeps start from the initial state of `&mut` buffers.
            #reset
            #direction_copies
            #setup
            let _ = #call;
            (__ad_value, __ad_gradient, #hv)
        }
    }
}

/// `f`'s parameters as a wrapper declares them.
fn plain_params(sig: &Signature) -> Vec<TokenStream> {
    sig.params
        .iter()
        .map(|param| {
            let ident = &param.ident;
            let ty = &param.ty;
            quote!(#ident: #ty)
        })
        .collect()
}

/// Saving the initial contents of `&mut` buffers, and putting them back: wrappers
/// that run several sweeps start each one from the caller's state.
fn initial_states<'a>(
    buffers: impl Iterator<Item = &'a crate::sig::Param>,
    float: &TokenStream,
) -> (TokenStream, TokenStream) {
    let mut save = TokenStream::new();
    let mut reset = TokenStream::new();
    for param in buffers {
        let ident = &param.ident;
        let initial = format_ident!("__ad_initial_{}", ident);
        save.extend(quote!(let #initial: ::std::vec::Vec<#float> = #ident.to_vec();));
        reset.extend(quote!(#ident.copy_from_slice(&#initial);));
    }
    (save, reset)
}

/// One differentiated parameter as `f_jacobian` / `f_hessian` flatten it.
struct Flat<'a> {
    param: &'a crate::sig::Param,
    /// `__ad_off{k}`: where its entries start among the inputs.
    offset: Ident,
    /// Number of entries: `1` or `x.len()`.
    len: TokenStream,
}

fn flatten_inputs(sig: &Signature, primal_count: usize) -> Vec<Flat<'_>> {
    sig.params[..primal_count]
        .iter()
        .enumerate()
        .filter(|(_, param)| param.active)
        .map(|(k, param)| {
            let ident = &param.ident;
            Flat {
                param,
                offset: format_ident!("__ad_off{}", k),
                len: match param.kind {
                    ParamKind::Scalar => quote!(1usize),
                    _ => quote!(#ident.len()),
                },
            }
        })
        .collect()
}

/// Arguments passing `f`'s own parameters again, inside a loop.
fn primal_args(sig: &Signature, primal_count: usize) -> Vec<TokenStream> {
    sig.params[..primal_count]
        .iter()
        .map(|param| {
            let ident = &param.ident;
            match &param.kind {
                ParamKind::Array {
                    access: Access::Owned,
                    shape: Shape::Vec,
                } => quote!(#ident.clone()),
                ParamKind::Array {
                    access: Access::Mut,
                    ..
                } => quote!(&mut *#ident),
                _ => quote!(#ident),
            }
        })
        .collect()
}

/// `let name = <unit vector of the parameter's shape, 1 at position - offset>;`
fn unit_like(flat: &Flat, name: &Ident, position: &Ident, float: &TokenStream) -> TokenStream {
    let ident = &flat.param.ident;
    let offset = &flat.offset;
    match &flat.param.kind {
        ParamKind::Scalar => {
            quote!(let mut #name: #float = if #position == #offset { 1.0 } else { 0.0 };)
        }
        ParamKind::Array { shape, .. } => {
            let zero = match shape {
                Shape::Fixed(len) => quote!([0.0 as #float; #len]),
                _ => quote!(::std::vec![0.0 as #float; #ident.len()]),
            };
            quote! {
                let mut #name = #zero;
                if #position >= #offset && #position - #offset < #name.len() {
                    #name[#position - #offset] = 1.0;
                }
            }
        }
        ParamKind::Passive(_) => TokenStream::new(),
    }
}

/// How a tangent or shadow built by `unit_like` is passed for a parameter.
fn pass_like(flat: &Flat, name: &Ident) -> TokenStream {
    match &flat.param.kind {
        ParamKind::Array {
            access: Access::Shared,
            ..
        } => quote!(&#name),
        ParamKind::Array {
            access: Access::Mut,
            ..
        } => quote!(&mut #name),
        _ => quote!(#name),
    }
}

/// `f_jacobian`: the dense Jacobian by forward sweeps (`f_jvp`, one per input)
/// when there are no more inputs than outputs, else by reverse sweeps (`f_vjp`,
/// one per output).
fn jacobian_fn(item: &syn::ItemFn, sig: &Signature) -> TokenStream {
    let float = float(sig);
    let vis = &item.vis;
    let name = &item.sig.ident;
    let jacobian = format_ident!("{}_jacobian", name);
    let jvp = format_ident!("{}_jvp", name);
    let vjp = format_ident!("{}_vjp", name);
    let primal_count = sig.params.len();
    let inputs = flatten_inputs(sig, primal_count);
    let params = plain_params(sig);
    let args = primal_args(sig, primal_count);
    let buffers: Vec<&Flat> = inputs
        .iter()
        .filter(|flat| flat.param.is_mut_buffer())
        .collect();
    // Every sweep starts from the buffers' initial states, also those of
    // buffers `wrt` leaves out (still updated by each sweep).
    let (save_initial, reset) = initial_states(
        sig.params.iter().filter(|param| param.is_mut_buffer()),
        &float,
    );
    let mut offsets = quote!(let mut __ad_cols = 0usize;);
    for flat in &inputs {
        let (offset, len) = (&flat.offset, &flat.len);
        offsets.extend(quote!(let #offset = __ad_cols; __ad_cols += #len;));
    }
    let (ret_ty, ret_len) = match &sig.ret {
        RetKind::Unit => (quote!(()), quote!(0usize)),
        RetKind::Scalar => (float.clone(), quote!(1usize)),
        RetKind::Array(shape) => (array_type(shape, &float), quote!(__ad_value.len())),
    };
    // Output offsets: the value first, then the buffers.
    let mut out_offsets = quote!(let mut __ad_rows = #ret_len;);
    for flat in &buffers {
        let out = format_ident!("__ad_out_{}", flat.param.ident);
        let ident = &flat.param.ident;
        out_offsets.extend(quote!(let #out = __ad_rows; __ad_rows += #ident.len();));
    }
    // Forward: column j from one f_jvp.
    let j = format_ident!("__ad_j");
    let mut tangents = TokenStream::new();
    let mut tangent_args = Vec::new();
    for (k, flat) in inputs.iter().enumerate() {
        let dot = format_ident!("__ad_dot{}", k);
        tangents.extend(unit_like(flat, &dot, &j, &float));
        tangent_args.push(pass_like(flat, &dot));
    }
    let ret_column = match &sig.ret {
        RetKind::Unit => TokenStream::new(),
        RetKind::Scalar => quote!(__ad_jac[(0, #j)] = __ad_ret_dot;),
        RetKind::Array(_) => quote! {
            for __ad_r in 0..__ad_ret_dot.len() { __ad_jac[(__ad_r, #j)] = __ad_ret_dot[__ad_r]; }
        },
    };
    let mut buffer_columns = TokenStream::new();
    for (k, flat) in inputs.iter().enumerate() {
        if flat.param.is_mut_buffer() {
            let dot = format_ident!("__ad_dot{}", k);
            let out = format_ident!("__ad_out_{}", flat.param.ident);
            buffer_columns.extend(quote! {
                for __ad_r in 0..#dot.len() { __ad_jac[(#out + __ad_r, #j)] = #dot[__ad_r]; }
            });
        }
    }
    // Reverse: row i from one f_vjp.
    let i = format_ident!("__ad_i");
    let mut shadows = TokenStream::new();
    let mut vjp_args = Vec::new();
    let mut grads = Vec::new();
    let mut row = TokenStream::new();
    for (k, param) in sig.params.iter().enumerate() {
        vjp_args.push(args[k].clone());
        let Some(flat) = inputs.iter().find(|flat| std::ptr::eq(flat.param, param)) else {
            continue;
        };
        let offset = &flat.offset;
        if param.is_mut_buffer() {
            let bar = format_ident!("__ad_bar{}", k);
            let out = format_ident!("__ad_out_{}", param.ident);
            // The shadow is seeded with e_(i - out) on the buffer's final state.
            let seeded = Flat {
                param,
                offset: out.clone(),
                len: TokenStream::new(),
            };
            shadows.extend(unit_like(&seeded, &bar, &i, &float));
            vjp_args.push(quote!(&mut #bar));
            row.extend(quote! {
                for __ad_c in 0..#bar.len() { __ad_jac[(#i, #offset + __ad_c)] = #bar[__ad_c]; }
            });
        } else {
            let g = format_ident!("__ad_g{}", k);
            grads.push(quote!(#g));
            row.extend(match param.kind {
                ParamKind::Scalar => quote!(__ad_jac[(#i, #offset)] = #g;),
                _ => quote!(for __ad_c in 0..#g.len() { __ad_jac[(#i, #offset + __ad_c)] = #g[__ad_c]; }),
            });
        }
    }
    let seed = match &sig.ret {
        RetKind::Unit => TokenStream::new(),
        RetKind::Scalar => {
            vjp_args.push(quote!(if #i == 0 { 1.0 } else { 0.0 }));
            TokenStream::new()
        }
        RetKind::Array(shape) => {
            let zero = match shape {
                Shape::Fixed(len) => quote!([0.0 as #float; #len]),
                _ => quote!(::std::vec![0.0 as #float; __ad_value.len()]),
            };
            let pass = match shape {
                Shape::Fixed(_) => quote!(__ad_seed),
                _ => quote!(&__ad_seed),
            };
            vjp_args.push(pass);
            quote! {
                let mut __ad_seed = #zero;
                if #i < __ad_seed.len() { __ad_seed[#i] = 1.0; }
            }
        }
    };
    let grads = pack(&grads);
    let lints = lint_attrs(item);
    let doc = format!(
        "Value and dense Jacobian of [`{name}`].\n\n\
         Rows are the outputs (the returned value, then the final state of each \
         differentiated `&mut` buffer, flattened in parameter order); columns are the \
         differentiated inputs, flattened in parameter order (a buffer's columns refer to \
         its initial contents). Row-major in an [`autodiff_runtime::Matrix`]. Uses one \
         forward sweep (`{name}_jvp`) per input when inputs are fewer than outputs, else \
         one reverse sweep (`{name}_vjp`) per output; `&mut` buffers end as `{name}` \
         leaves them.\n\n\
         Generated by `#[differentiate(jacobian)]`."
    );
    quote! {
        #[doc = #doc]
        #[allow(clippy::too_many_arguments, clippy::type_complexity, unused_mut, unused_variables, clippy::needless_range_loop)]
        #lints
        #vis fn #jacobian(#(#params),*) -> (#ret_ty, ::autodiff_runtime::Matrix<#float>) {
            #save_initial
            #offsets
            let __ad_value = #name(#(#args),*);
            #out_offsets
            let mut __ad_jac = ::autodiff_runtime::Matrix::<#float>::zeros(__ad_rows, __ad_cols);
            if __ad_cols <= __ad_rows {
                for #j in 0..__ad_cols {
                    #reset
                    #tangents
                    let (_, __ad_ret_dot) = #jvp(#(#args,)* #(#tangent_args),*);
                    #ret_column
                    #buffer_columns
                }
            } else {
                for #i in 0..__ad_rows {
                    #reset
                    #shadows
                    #seed
                    let (_, #grads) = #vjp(#(#vjp_args),*);
                    #row
                }
            }
            (__ad_value, __ad_jac)
        }
    }
}

/// `f_hessian`: the dense Hessian by one `f_hvp` per input direction.
fn hessian_fn(item: &syn::ItemFn, sig: &Signature) -> TokenStream {
    let float = float(sig);
    let vis = &item.vis;
    let name = &item.sig.ident;
    let hessian = format_ident!("{}_hessian", name);
    let hvp = format_ident!("{}_hvp", name);
    let primal_count = sig.params.len();
    let inputs = flatten_inputs(sig, primal_count);
    let params = plain_params(sig);
    let args = primal_args(sig, primal_count);
    let mut offsets = quote!(let mut __ad_n = 0usize;);
    for flat in &inputs {
        let (offset, len) = (&flat.offset, &flat.len);
        offsets.extend(quote!(let #offset = __ad_n; __ad_n += #len;));
    }
    let j = format_ident!("__ad_j");
    let mut directions = TokenStream::new();
    let mut direction_args = Vec::new();
    let mut hv_names = Vec::new();
    let mut column = TokenStream::new();
    for (k, flat) in inputs.iter().enumerate() {
        let v = format_ident!("__ad_v{}", k);
        directions.extend(unit_like(flat, &v, &j, &float));
        direction_args.push(pass_like(flat, &v));
        let hv = format_ident!("__ad_hv{}", k);
        hv_names.push(quote!(#hv));
        let offset = &flat.offset;
        column.extend(match flat.param.kind {
            ParamKind::Scalar => quote!(__ad_h[(#offset, #j)] = #hv;),
            _ => {
                quote!(for __ad_r in 0..#hv.len() { __ad_h[(#offset + __ad_r, #j)] = #hv[__ad_r]; })
            }
        });
    }
    let hv_pattern = pack(&hv_names);
    let grad = format_ident!("{}_grad", name);
    let (save_initial, reset) = initial_states(
        inputs
            .iter()
            .map(|flat| flat.param)
            .filter(|param| param.is_mut_buffer()),
        &float,
    );
    let lints = lint_attrs(item);
    let doc = format!(
        "Value, gradient and dense Hessian of [`{name}`], by one Hessian-vector product \
         (`{name}_hvp`) per input; for small problems. Rows and columns are the \
         differentiated inputs flattened in parameter order.\n\n\
         Generated by `#[differentiate(hvp)]`."
    );
    quote! {
        #[doc = #doc]
        #[allow(clippy::too_many_arguments, clippy::type_complexity, unused_mut, clippy::needless_range_loop)]
        #lints
        #vis fn #hessian(#(#params),*) -> (#float, ::autodiff_runtime::Matrix<#float>) {
            #offsets
            #save_initial
            let (__ad_value, _) = #grad(#(#args),*);
            let mut __ad_h = ::autodiff_runtime::Matrix::<#float>::zeros(__ad_n, __ad_n);
            for #j in 0..__ad_n {
                #reset
                #directions
                let (_, _, #hv_pattern) = #hvp(#(#args,)* #(#direction_args),*);
                #column
            }
            (__ad_value, __ad_h)
        }
    }
}

/// `__forward`: the forward-mode core other functions' tangent code calls. Every
/// parameter is followed by its tangent (`&[F]` for arrays, `&mut [F]` for `&mut`
/// buffers, `()` for passive data); returns `(value, tangent of the value)`.
fn forward_core_fn(sig: &Signature, tangent: &Tangent, sweeps: &Sweeps) -> TokenStream {
    let float = float(sig);
    let mut params = Vec::new();
    for (k, param) in sig.params.iter().enumerate() {
        let ident = &param.ident;
        let ty = &param.ty;
        let dot = tangent.param_tangent[k].map(|t| tangent.sig.params[t].ident.clone());
        let slot_name = match &dot {
            Some(dot) => quote!(mut #dot),
            None => quote!(_),
        };
        match &param.kind {
            ParamKind::Scalar => {
                params.push(quote!(mut #ident: #ty));
                params.push(quote!(#slot_name: #float));
            }
            ParamKind::Array { access, shape } => {
                let slot_ty = match access {
                    Access::Shared => quote!(&[#float]),
                    Access::Mut => quote!(&mut [#float]),
                    Access::Owned => array_type(shape, &float),
                };
                match access {
                    Access::Owned => params.push(quote!(mut #ident: #ty)),
                    _ => params.push(quote!(#ident: #ty)),
                }
                params.push(quote!(#slot_name: #slot_ty));
            }
            ParamKind::Passive(_) => {
                params.push(quote!(mut #ident: #ty));
                params.push(quote!(_: ()));
            }
        }
    }
    let (ret_ty, body) = tangent_body(sig, tangent, sweeps);
    quote! {
        #[doc(hidden)]
        #[inline]
        #[allow(unused_mut, unused_variables, unused_assignments, unused_parens, unused_braces, non_snake_case, clippy::all, clippy::pedantic)]
        pub fn __forward(#(#params),*) -> (#ret_ty, #ret_ty) {
            #body
        }
    }
}
