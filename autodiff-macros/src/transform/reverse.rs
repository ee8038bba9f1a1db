//! Reverse mode: every statement yields a forward piece and a reverse piece; a
//! block's reverse sweep is its statements' reverse pieces in reverse order.
//!
//! The reverse piece of `dst = op(a, b)` is
//!
//! ```text
//! { let g = dst_bar; dst_bar = 0; <restore dst>; a_bar += ∂op/∂a · g; b_bar += ∂op/∂b · g; }
//! ```
//!
//! evaluated with the values the operands had in the forward sweep: every value
//! the reverse sweep reads is restored (TBR decides which saves that takes).
//! Saves, branch decisions and trip counts go into hoisted locals outside loops
//! and onto the runtime stack inside loops, so loop-free code never touches the
//! stack. Branch bits and trip counts are pushed *after* the construct, so the
//! reverse sweep pops them before replaying it.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use crate::analysis::activity::Activity;
use crate::analysis::reduction::Credit;
use crate::analysis::tbr::Tbr;
use crate::ir::{
    ArgPass, ArrayInit, Block, CallArg, FloatOp, Function, Loop, LoopKind, Operand, Origin, PExpr,
    RangeSeq, SeqOp, Stmt, Ty, VarId,
};
use crate::sig::{Shape, Signature};
use crate::transform::reserve::{Closed, Reserver, Trips};

/// The generated sweeps and the locals they need.
pub struct Sweeps {
    pub forward: TokenStream,
    pub reverse: TokenStream,
    /// Declarations of save slots, branch flags and trip counters.
    pub locals: TokenStream,
    /// Whether the code uses the stack (pushes, or passes it to a callee): a
    /// wrapper of a core that does not need not borrow one from the pool.
    pub uses_stack: bool,
    /// `&mut` buffers the reverse sweep rewinds (element restores, call
    /// snapshots): their final state must be snapshot and put back at the end.
    pub unwound: std::collections::BTreeSet<VarId>,
    /// The save slots, branch flags and trip counters declared in `locals`.
    pub slots: Vec<(Ident, SaveTy)>,
    /// Whether the forward sweep touches adjoints (a preaccumulated loop reverses
    /// its iterations as they run): then the sweeps cannot be split into a
    /// recording and a later reverse sweep (see `codegen::frame`).
    pub forward_uses_adjoints: bool,
    /// Arrays with an element store whose old value is not saved: the reverse
    /// sweep does not give them back their state before the forward sweep.
    pub unrestored: std::collections::BTreeSet<VarId>,
    /// Arrays given back their state only under conditions on callees'
    /// constants (a split call's snapshot taken only if a callee reads it, or
    /// none, the callee restoring it): each array's conditions, all to hold.
    pub restored_if: std::collections::BTreeMap<VarId, Vec<TokenStream>>,
    /// Read-only array parameters whose adjoint a caller may decline (see
    /// [`droppable`]): every addition into it runs under `if __ad_keep_<adjoint>`,
    /// which the core defines.
    pub droppable: Vec<VarId>,
    /// In callable cores, cheap statements of the function's top-level block (arithmetic, `recip`,
    /// reads of parameter arrays, integer expressions without calls), each with
    /// the variables it reads and its code without saves: a split call's frame
    /// computes such values again from the others rather than keeping them (see
    /// `codegen::frame`).
    pub frame_defs: Vec<FrameDef>,
    /// The forward sweep statement by statement of the function's top-level
    /// block (`forward` is their concatenation): a caller that discards the
    /// value skips those neither the rest nor the reverse sweep reads (see
    /// `codegen::adjoint_fn`).
    pub top_forward: Vec<TokenStream>,
}

/// See [`Sweeps::frame_defs`].
pub struct FrameDef {
    pub dst: VarId,
    pub reads: Vec<VarId>,
    pub code: TokenStream,
}

/// The guard of additions into a droppable parameter's adjoint (see
/// [`droppable`]).
pub fn keep_flag(func: &Function, id: VarId) -> Ident {
    format_ident!("__ad_keep_{}", func.var(id).adjoint)
}

/// Read-only array parameters whose adjoint only element reads add into (none is
/// passed on to a call): a caller that does not differentiate the array it passes
/// (data such as `observed`) gives an empty adjoint instead of a buffer of the
/// array's length, and the core skips the additions (`__ad_keep_..` false). Not
/// with preaccumulated loops, whose separate accumulators are added in later.
fn droppable(func: &Function, sig: &Signature, activity: &Activity, tbr: &Tbr) -> Vec<VarId> {
    if tbr.preaccumulates_any() {
        return Vec::new();
    }
    let mut passed = std::collections::HashSet::new();
    crate::ir::walk(&func.body, false, &mut |stmt, _| {
        if let Stmt::Call { args, .. } = stmt {
            for arg in args {
                if let CallArg::Array { var, .. } | CallArg::MutArray { var, .. } = arg {
                    passed.insert(*var);
                }
            }
        }
    });
    (0..func.vars.len())
        .map(|id| VarId(id as u32))
        .filter(|id| {
            let Origin::Param(index) = func.var(*id).origin else {
                return false;
            };
            matches!(
                sig.params[index].kind,
                crate::sig::ParamKind::Array {
                    access: crate::sig::Access::Shared,
                    ..
                }
            ) && activity.is_active(*id)
                && !passed.contains(id)
        })
        .collect()
}

/// The sweeps of one core; `callable` for the cores other functions' calls use
/// (`__reverse`, `__reverse_c`), whose callers may decline adjoints (see
/// [`droppable`]).
pub fn transform(
    func: &Function,
    sig: &Signature,
    activity: &Activity,
    tbr: &Tbr,
    callable: bool,
) -> Sweeps {
    let mut gen = Gen {
        func,
        activity,
        tbr,
        float: sig.float_tokens(),
        rt: quote!(::autodiff_runtime),
        locals: TokenStream::new(),
        unwound: Default::default(),
        slots: Vec::new(),
        preaccumulates: false,
        unrestored: Default::default(),
        restored_if: Default::default(),
        plain: false,
        pos: 0,
        next_local: 0,
        bar_override: Default::default(),
        fused: Default::default(),
        increments: crate::analysis::increment::find(func, tbr),
        windows: crate::analysis::windows::find(func),
        refilling: false,
        copy_flags: Default::default(),
        forward_copy_flags: Default::default(),
        top_forward: Vec::new(),
        reserver: Reserver::new(func, sig.float_tokens()),
        arrays: func
            .vars
            .iter()
            .filter(|var| matches!(var.ty, Ty::FloatArray(_) | Ty::IntArray))
            .flat_map(|var| [var.name.clone(), var.adjoint.clone()])
            .collect(),
        droppable: if callable {
            droppable(func, sig, activity, tbr)
        } else {
            Vec::new()
        },
        depth: 0,
        callable,
        frame_defs: Vec::new(),
    };
    let (forward, reverse) = gen.block(&func.body, false);
    Sweeps {
        uses_stack: mentions_stack(&forward) || mentions_stack(&reverse),
        forward,
        reverse,
        locals: gen.locals,
        unwound: gen.unwound,
        slots: gen.slots,
        forward_uses_adjoints: gen.preaccumulates,
        unrestored: gen.unrestored,
        restored_if: gen.restored_if,
        droppable: gen.droppable,
        frame_defs: gen.frame_defs,
        top_forward: gen.top_forward,
    }
}

struct Gen<'a> {
    func: &'a Function,
    activity: &'a Activity,
    tbr: &'a Tbr,
    float: TokenStream,
    rt: TokenStream,
    locals: TokenStream,
    unwound: std::collections::BTreeSet<VarId>,
    slots: Vec<(Ident, SaveTy)>,
    preaccumulates: bool,
    unrestored: std::collections::BTreeSet<VarId>,
    restored_if: std::collections::BTreeMap<VarId, Vec<TokenStream>>,
    /// Generating the plain forward body of a checkpointed loop: nothing is saved.
    plain: bool,
    /// Pre-order position of the statement being generated (as in `tbr`).
    pos: usize,
    next_local: usize,
    /// Adjoints renamed inside a preaccumulated loop: its separate accumulators.
    bar_override: std::collections::HashMap<VarId, Ident>,
    /// Joint calls of the preaccumulated loop being generated whose reverse runs
    /// where they run, by position: the adjoint of their result (see
    /// `Preacc::fused`).
    fused: std::collections::HashMap<usize, TokenStream>,
    /// `a[i] += e` statements whose reverse is one accumulation.
    increments: crate::analysis::increment::Increments,
    /// Scratch copies whose readers' reverse takes the window they copy.
    windows: crate::analysis::windows::Windows,
    /// Generating a loop run again to refill arrays (see `Tbr::refilled_at`).
    refilling: bool,
    /// The flags guarding skipped copies, by their condition (`__ad_keep_copyN`,
    /// declared with the locals).
    copy_flags: std::collections::HashMap<String, Ident>,
    /// The flags guarding them in the forward sweep, by condition and test
    /// (`__ad_keep_forward_copyN`).
    forward_copy_flags: std::collections::HashMap<String, Ident>,
    /// See [`Sweeps::top_forward`].
    top_forward: Vec<TokenStream>,
    /// Counts of the pushes in the loops being generated (see `reserve`).
    reserver: Reserver,
    /// Names of the arrays and their adjoints, for `slices`.
    arrays: std::collections::HashSet<String>,
    /// See [`droppable`].
    droppable: Vec<VarId>,
    /// Depth of the block being generated (1 for the function's body).
    depth: usize,
    /// A core other functions call, split ones included: only those have frames
    /// (`frame_defs`).
    callable: bool,
    frame_defs: Vec<FrameDef>,
}

/// How a saved value is typed, for hoisted save slots.
#[derive(Clone)]
pub enum SaveTy {
    Float,
    Int(Option<TokenStream>),
    Bool,
    Usize,
}

/// Pushing the whole value of a variable `name` of type `ty` on the stack and
/// popping it back into place: arrays as slices (a `Vec` refilled, a fixed array
/// copied into), scalars as one value (their type tells the lane).
pub fn whole_value_save(name: &Ident, ty: &Ty) -> (TokenStream, TokenStream) {
    match ty {
        Ty::FloatArray(Shape::Fixed(_)) => (
            quote!(__ad_stack.push_slice(&#name[..]);),
            quote!(__ad_stack.pop_slice_into(&mut #name[..]);),
        ),
        Ty::FloatArray(_) => (
            quote!(__ad_stack.push_slice(&#name[..]);),
            quote!(__ad_stack.pop_vec_into(&mut #name);),
        ),
        _ => (
            quote!(__ad_stack.push(#name);),
            quote!(#name = __ad_stack.pop();),
        ),
    }
}

/// Words an integer of type `ty` takes on the stack: one up to 64 bits, two for
/// 128-bit integers or a type not written out.
fn int_words(ty: Option<&TokenStream>) -> usize {
    let one_word = [
        "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize",
    ];
    match ty.map(|ty| ty.to_string()) {
        Some(ty) if one_word.contains(&ty.as_str()) => 1,
        _ => 2,
    }
}

impl Gen<'_> {
    fn var(&self, id: VarId) -> Ident {
        let var = self.func.var(id);
        crate::ir::ident(&var.name, var.span)
    }

    fn bar(&self, id: VarId) -> Ident {
        if let Some(name) = self.bar_override.get(&id) {
            return name.clone();
        }
        let var = self.func.var(id);
        crate::ir::ident(&var.adjoint, var.span)
    }

    fn active(&self, id: VarId) -> bool {
        self.activity.is_active(id)
    }

    /// `addition` into the adjoint of `id`, guarded if a caller may decline it.
    fn keep(&self, id: VarId, addition: TokenStream) -> TokenStream {
        if self.droppable.contains(&id) && !self.bar_override.contains_key(&id) {
            let keep = keep_flag(self.func, id);
            quote!(if #keep { #addition })
        } else {
            addition
        }
    }

    fn operand(&self, operand: &Operand) -> TokenStream {
        match operand {
            Operand::Var(id) => {
                let name = self.var(*id);
                quote!(#name)
            }
            Operand::Const(value) => pexpr(value),
        }
    }

    /// An operand as the reverse sweep reads it: re-read from its unchanging
    /// array when TBR chose recomputation over a save.
    fn rev_operand(&self, operand: &Operand) -> TokenStream {
        self.operand(operand)
    }

    /// `a_bar += contribution;` when `operand` is active, else nothing.
    fn accumulate(&self, operand: &Operand, contribution: TokenStream) -> TokenStream {
        match self.activity.operand(operand) {
            Some(id) => {
                let bar = self.bar(id);
                quote!(#bar += #contribution;)
            }
            None => TokenStream::new(),
        }
    }

    fn fresh_local(&mut self, prefix: &str) -> Ident {
        self.next_local += 1;
        format_ident!("__ad_{}{}", prefix, self.next_local)
    }

    fn declare(&mut self, name: &Ident, ty: SaveTy) {
        self.slots.push((name.clone(), ty.clone()));
        let float = &self.float;
        self.locals.extend(match ty {
            SaveTy::Float => quote!(let mut #name: #float = 0.0;),
            SaveTy::Int(Some(ty)) => quote!(let mut #name: #ty = 0;),
            SaveTy::Int(None) => quote!(let mut #name = ::core::default::Default::default();),
            SaveTy::Bool => quote!(let mut #name: bool = false;),
            SaveTy::Usize => quote!(let mut #name: usize = 0;),
        });
    }

    /// Saves `value` before an overwrite: `(forward save, reverse restore expression)`.
    fn save(
        &mut self,
        value: TokenStream,
        ty: SaveTy,
        in_loop: bool,
    ) -> (TokenStream, TokenStream) {
        if self.plain {
            (TokenStream::new(), quote!(#value))
        } else if in_loop {
            let counted = match &ty {
                SaveTy::Bool => None,
                SaveTy::Float => self.reserver.counted_push(0),
                SaveTy::Usize => self.reserver.counted_push(1),
                SaveTy::Int(ty) => self.reserver.counted_push(int_words(ty.as_ref())),
            };
            match (ty, counted) {
                (SaveTy::Bool, _) => (
                    quote!(__ad_stack.push_bit(#value);),
                    quote!(__ad_stack.pop_bit()),
                ),
                (SaveTy::Float, Some(method)) => {
                    // Typed both ways, so that `reserve` can tell the lanes apart.
                    let float = &self.float;
                    (
                        quote!(__ad_stack.#method::<#float>(#value);),
                        quote!(__ad_stack.pop::<#float>()),
                    )
                }
                (_, Some(method)) => (
                    quote!(__ad_stack.#method(#value);),
                    quote!(__ad_stack.pop()),
                ),
                (_, None) => (quote!(__ad_stack.push(#value);), quote!(__ad_stack.pop())),
            }
        } else {
            let slot = self.fresh_local("saved");
            self.declare(&slot, ty);
            (quote!(#slot = #value;), quote!(#slot))
        }
    }

    fn save_ty(&self, id: VarId) -> SaveTy {
        match &self.func.var(id).ty {
            Ty::Float => SaveTy::Float,
            Ty::Int(ty) => SaveTy::Int(ty.clone()),
            Ty::Bool => SaveTy::Bool,
            Ty::FloatArray(_) | Ty::IntArray => SaveTy::Float,
        }
    }

    fn block(&mut self, block: &Block, in_loop: bool) -> (TokenStream, TokenStream) {
        self.depth += 1;
        let out = self.block_at_depth(block, in_loop);
        self.depth -= 1;
        out
    }

    /// A statement of the function's top-level block that a frame may compute
    /// again (see [`Sweeps::frame_defs`]): its dst, reads and plain code.
    fn frame_def(&mut self, stmt: &Stmt, pos: usize, in_loop: bool) -> Option<FrameDef> {
        if !self.callable || self.depth != 1 || in_loop || self.plain {
            return None;
        }
        let (dst, reads) = match stmt {
            Stmt::Float { dst, op, .. } => {
                let (mut reads, arrays) = crate::analysis::tbr::cheap_reads(op)?;
                reads.extend(arrays);
                (*dst, reads)
            }
            Stmt::Passive { dst, value, .. }
                if !crate::analysis::tbr::calls_function(&value.tokens) =>
            {
                (*dst, value.reads.clone())
            }
            _ => return None,
        };
        let code = self.plain_code(stmt, pos, in_loop);
        Some(FrameDef { dst, reads, code })
    }

    /// The statement at `pos` generated again without saves (its forward code
    /// run a second time to recompute).
    fn plain_code(&mut self, stmt: &Stmt, pos: usize, in_loop: bool) -> TokenStream {
        let (end, plain) = (self.pos, self.plain);
        self.pos = pos;
        self.plain = true;
        let (code, _) = self.stmt(stmt, in_loop);
        self.plain = plain;
        debug_assert_eq!(self.pos, end);
        code
    }

    fn block_at_depth(&mut self, block: &Block, in_loop: bool) -> (TokenStream, TokenStream) {
        let mut forward = TokenStream::new();
        // Each statement's position and reverse piece.
        let mut reverse_pieces = Vec::new();
        // Replayed statements run again, in forward order, just before the reverse
        // of the statement that holds their last user: (that position, code).
        let mut replayed: Vec<(usize, TokenStream)> = Vec::new();
        for stmt in block {
            let pos = self.pos;
            // Replayed (a cheap statement) or run again to refill arrays read by
            // calls (see `Tbr::refilled_at`), or both, at different points.
            let replay_at = [self.tbr.replayed_at(pos), self.tbr.refilled_at(pos)];
            let (fwd, rev) = self.stmt(stmt, in_loop);
            if let Some(def) = self.frame_def(stmt, pos, in_loop) {
                self.frame_defs.push(def);
            }
            for (k, at) in replay_at.into_iter().enumerate() {
                let Some(at) = at else { continue };
                // The replay recomputes; it saves nothing (a replayed `if` whose
                // flag is also saved pushed its bit a second time, which the
                // reverse sweep never popped).
                let refilling = self.refilling;
                self.refilling |= k == 1;
                let replay = self.plain_code(stmt, pos, in_loop);
                self.refilling = refilling;
                replayed.push((at, replay));
            }
            if self.depth == 1 && !self.plain {
                self.top_forward.push(fwd.clone());
            }
            forward.extend(fwd);
            reverse_pieces.push((pos, rev));
        }
        let mut reverse = TokenStream::new();
        for (pos, piece) in reverse_pieces.into_iter().rev() {
            for (_, code) in replayed.iter().filter(|(at, _)| *at == pos) {
                reverse.extend(code.clone());
            }
            reverse.extend(piece);
        }
        (forward, reverse)
    }

    fn stmt(&mut self, stmt: &Stmt, in_loop: bool) -> (TokenStream, TokenStream) {
        let pos = self.pos;
        let (forward, reverse) = self.stmt_code(stmt, in_loop);
        if let Stmt::Loop(_) = stmt {
            return (self.window_tests(pos, forward), reverse);
        }
        let Some(skip) = self.windows.skipped.get(&pos).cloned() else {
            return (forward, reverse);
        };
        // A copy every reader takes as a window (see `analysis::windows`): its
        // adjoint only moves zeros, its refill fills what nothing reads, and in
        // the forward sweep it fills what nothing reads if the window is in
        // bounds. (Unless it saves: its restore stays.)
        if stmt.writes().iter().any(|var| self.tbr.saves(pos, *var)) {
            return (forward, reverse);
        }
        // Guarded by flags named like a caller's choice, which `slices` knows
        // to slice a loop with and without.
        let keep = self.copy_flag(&skip);
        let forward = if self.refilling {
            quote!(if #keep { #forward })
        } else if self.plain {
            forward
        } else {
            let keep_forward = self.forward_copy_flag(&skip);
            quote!(if #keep_forward { #forward })
        };
        let reverse = if reverse.is_empty() {
            reverse
        } else {
            quote!(if #keep { #reverse })
        };
        (forward, reverse)
    }

    /// `__ad_keep_copyN`: whether the copy of `skip` runs in the reverse sweep
    /// (declared with the locals).
    fn copy_flag(&mut self, skip: &crate::analysis::windows::Skip) -> Ident {
        let condition = &skip.condition;
        let key = condition.to_string();
        if let Some(flag) = self.copy_flags.get(&key) {
            return flag.clone();
        }
        let flag = format_ident!("__ad_keep_copy{}", self.copy_flags.len());
        self.locals.extend(quote!(let #flag: bool = !(#condition);));
        self.copy_flags.insert(key, flag.clone());
        flag
    }

    /// `__ad_keep_forward_copyN`: whether the copy of `skip` runs in the
    /// forward sweep, set before its loop (see [`Gen::window_tests`]).
    fn forward_copy_flag(&mut self, skip: &crate::analysis::windows::Skip) -> Ident {
        let key = format!("{} {}", skip.condition, skip.fits);
        if let Some(flag) = self.forward_copy_flags.get(&key) {
            return flag.clone();
        }
        let flag = format_ident!("__ad_keep_forward_copy{}", self.forward_copy_flags.len());
        self.locals.extend(quote!(let mut #flag: bool = true;));
        self.forward_copy_flags.insert(key, flag.clone());
        flag
    }

    /// The forward code of the loop at `pos` after the tests of the windows its
    /// copies fill (see [`Gen::forward_copy_flag`]).
    fn window_tests(&mut self, pos: usize, forward: TokenStream) -> TokenStream {
        if self.plain {
            return forward;
        }
        let mut skips: Vec<crate::analysis::windows::Skip> = self
            .windows
            .skipped
            .values()
            .filter(|skip| skip.loop_pos == pos)
            .cloned()
            .collect();
        skips.sort_by_key(|skip| format!("{} {}", skip.condition, skip.fits));
        skips.dedup_by_key(|skip| format!("{} {}", skip.condition, skip.fits));
        let mut tests = TokenStream::new();
        for skip in &skips {
            let key = format!("{} {}", skip.condition, skip.fits);
            // Only copies whose statements asked for the flag (none saves).
            let Some(flag) = self.forward_copy_flags.get(&key).cloned() else {
                continue;
            };
            let keep = self.copy_flag(skip);
            let fits = &skip.fits;
            tests.extend(quote!(#flag = #keep || !(#fits);));
        }
        quote!(#tests #forward)
    }

    fn stmt_code(&mut self, stmt: &Stmt, in_loop: bool) -> (TokenStream, TokenStream) {
        let pos = self.pos;
        self.pos += 1;
        if let (true, Stmt::Float { dst, op, span }) = (self.increments.folded.contains(&pos), stmt)
        {
            // The read or the add of an increment: its store does the reverse.
            let (forward, _) = self.float_stmt(pos, *dst, op, *span, false, in_loop);
            return (forward, TokenStream::new());
        }
        let saves = |var: VarId| self.tbr.saves(pos, var);
        match stmt {
            Stmt::Float { dst, op, span } => {
                self.float_stmt(pos, *dst, op, *span, saves(*dst), in_loop)
            }
            Stmt::Passive { dst, value, undo } => {
                let name = self.var(*dst);
                let value = pexpr(value);
                if let Some(undo) = undo.as_ref().filter(|_| self.tbr.undoes(pos)) {
                    // `k += step` is undone by `k -= step`: nothing to save.
                    let undo = pexpr(undo);
                    (quote!(#name = #value;), quote!(#name = #undo;))
                } else if saves(*dst) {
                    let ty = self.save_ty(*dst);
                    let (save, restore) = self.save(quote!(#name), ty, in_loop);
                    (quote!(#save #name = #value;), quote!(#name = #restore;))
                } else {
                    (quote!(#name = #value;), TokenStream::new())
                }
            }
            Stmt::Store {
                array,
                index,
                value,
                span,
            } => self.store(*array, index, value, *span, saves(*array), in_loop),
            Stmt::NewArray { dst, init, span } => {
                self.new_array(*dst, init, *span, saves(*dst), in_loop)
            }
            Stmt::Call {
                dst,
                func,
                args,
                span,
                tangent: Some(tangent),
            } => {
                if crate::analysis::tbr::stmt_is_active(stmt, self.activity) {
                    let dst_saves = dst.is_some_and(saves);
                    let dot_saves = tangent.dst.is_some_and(saves);
                    self.tangent_call(
                        *dst,
                        func,
                        args,
                        tangent,
                        *span,
                        [dst_saves, dot_saves],
                        in_loop,
                    )
                } else {
                    (
                        self.forward_call(*dst, func, args, tangent, *span),
                        TokenStream::new(),
                    )
                }
            }
            Stmt::Call {
                dst,
                func,
                args,
                span,
                tangent: None,
            } => self.call(*dst, func, args, *span, dst.is_some_and(saves), in_loop),
            Stmt::Effect(value) => {
                let value = pexpr(value);
                (quote!(#value;), TokenStream::new())
            }
            Stmt::If {
                cond,
                then_block,
                else_block,
            } => {
                let (then_fwd, then_rev) = self.block(then_block, in_loop);
                let (else_fwd, else_rev) = self.block(else_block, in_loop);
                let cond = pexpr(cond);
                let else_fwd = if else_fwd.is_empty() {
                    quote!()
                } else {
                    quote!(else { #else_fwd })
                };
                if then_rev.is_empty() && else_rev.is_empty() {
                    return (quote!(if #cond { #then_fwd } #else_fwd), TokenStream::new());
                }
                if self.tbr.stable_cond(pos) {
                    // The condition reads only values that are the same in the
                    // reverse sweep: evaluate it again instead of saving it.
                    let else_rev = if else_rev.is_empty() {
                        quote!()
                    } else {
                        quote!(else { #else_rev })
                    };
                    return (
                        quote!(if #cond { #then_fwd } #else_fwd),
                        quote!(if #cond { #then_rev } #else_rev),
                    );
                }
                // forward:  b = cond; if b {..} else {..}; [push_bit(b)]
                // reverse:  [b = pop_bit()]; if b {rev..} else {rev..}
                let flag = self.fresh_local("branch");
                self.declare(&flag, SaveTy::Bool);
                let (push, pop) = if in_loop && !self.plain {
                    (
                        quote!(__ad_stack.push_bit(#flag);),
                        quote!(#flag = __ad_stack.pop_bit();),
                    )
                } else {
                    (TokenStream::new(), TokenStream::new())
                };
                let else_rev = if else_rev.is_empty() {
                    quote!()
                } else {
                    quote!(else { #else_rev })
                };
                (
                    quote!(#flag = #cond; if #flag { #then_fwd } #else_fwd #push),
                    quote!(#pop if #flag { #then_rev } #else_rev),
                )
            }
            Stmt::Loop(looped) => self.loop_stmt(looped, in_loop),
        }
    }

    fn float_stmt(
        &mut self,
        pos: usize,
        dst: VarId,
        op: &FloatOp,
        span: Span,
        saves: bool,
        in_loop: bool,
    ) -> (TokenStream, TokenStream) {
        let name = self.var(dst);
        let value = self.float_op(op);
        let (save, restore) = if saves {
            let (save, restore) = self.save(quote!(#name), SaveTy::Float, in_loop);
            (save, quote!(#name = #restore;))
        } else {
            (TokenStream::new(), TokenStream::new())
        };
        let forward = quote_spanned!(span=> #save #name = #value;);
        if !self.active(dst) {
            return (forward, restore);
        }
        let bar = self.bar(dst);
        let float = &self.float;
        if let FloatOp::Prim { prim, args, .. } = op {
            if prim.uses_output() && args.len() == 1 {
                // The rule reads the value just computed: before it is restored,
                // or read back from the element it was stored into (see
                // `tbr::reloads`).
                let reload = self.tbr.reload(pos).map(|(array, index)| {
                    let (array, index) = (self.var(*array), pexpr(index));
                    quote!(#name = #array[#index];)
                });
                let rt = &self.rt;
                let rule = format_ident!("{}_vjp_from_output", prim.name);
                let propagate = self.accumulate(&args[0], quote!(#rt::rules::#rule(#name, __ad_g)));
                let reverse = quote_spanned!(span=> {
                    #reload
                    let __ad_g: #float = #bar;
                    #bar = -0.0;
                    #propagate
                    #restore
                });
                return (forward, reverse);
            }
        }
        let propagate = self.float_adjoint(op);
        let reverse = quote_spanned!(span=> {
            let __ad_g: #float = #bar;
            #bar = -0.0;
            #restore
            #propagate
        });
        (forward, reverse)
    }

    fn float_op(&self, op: &FloatOp) -> TokenStream {
        match op {
            FloatOp::Copy(a) => self.operand(a),
            FloatOp::Neg(a) => {
                let a = self.operand(a);
                quote!(-#a)
            }
            FloatOp::Add(a, b) => self.binary(a, quote!(+), b),
            FloatOp::Sub(a, b) => self.binary(a, quote!(-), b),
            FloatOp::Mul(a, b) => self.binary(a, quote!(*), b),
            FloatOp::Div(a, b) => self.binary(a, quote!(/), b),
            FloatOp::Prim {
                prim,
                args,
                int_arg,
            } => {
                let method = Ident::new(prim.name, Span::call_site());
                let float = &self.float;
                let mut rendered: Vec<TokenStream> = args.iter().map(|a| self.operand(a)).collect();
                if let Some(int_arg) = int_arg {
                    rendered.insert(1, pexpr(int_arg));
                }
                if !prim.is_method() {
                    let rt = &self.rt;
                    return quote!(#rt::rules::#method(#(#rendered),*));
                }
                quote!(#float::#method(#(#rendered),*))
            }
            FloatOp::Read { array, index } => {
                let array = self.var(*array);
                let index = pexpr(index);
                quote!(#array[#index])
            }
        }
    }

    fn binary(&self, a: &Operand, op: TokenStream, b: &Operand) -> TokenStream {
        let a = self.operand(a);
        let b = self.operand(b);
        quote!(#a #op #b)
    }

    /// The adjoint contributions of `op` given `__ad_g`, the output adjoint.
    fn float_adjoint(&self, op: &FloatOp) -> TokenStream {
        let rt = &self.rt;
        let g = quote!(__ad_g);
        match op {
            FloatOp::Copy(a) => self.accumulate(a, g),
            FloatOp::Neg(a) => self.accumulate(a, quote!(-#g)),
            FloatOp::Add(a, b) => {
                let mut out = self.accumulate(a, g.clone());
                out.extend(self.accumulate(b, g));
                out
            }
            FloatOp::Sub(a, b) => {
                let mut out = self.accumulate(a, g.clone());
                out.extend(self.accumulate(b, quote!(-#g)));
                out
            }
            FloatOp::Mul(a, b) => {
                let (va, vb) = (self.rev_operand(a), self.rev_operand(b));
                let mut out = self.accumulate(a, quote!(#g * #vb));
                out.extend(self.accumulate(b, quote!(#va * #g)));
                out
            }
            FloatOp::Div(a, b) => {
                let (va, vb) = (self.rev_operand(a), self.rev_operand(b));
                if self.activity.operand(b).is_none() {
                    return self.accumulate(a, quote!(#g / #vb));
                }
                let da = self.accumulate(a, quote!(__ad_da));
                let db = self.accumulate(b, quote!(__ad_db));
                quote! {
                    let (__ad_da, __ad_db) = #rt::rules::div_vjp(#va, #vb, #g);
                    #da #db
                }
            }
            FloatOp::Prim {
                prim,
                args,
                int_arg,
            } => {
                if prim.is_piecewise_constant() {
                    return TokenStream::new();
                }
                let rule = Ident::new(&prim.vjp_name(), Span::call_site());
                let mut rendered: Vec<TokenStream> =
                    args.iter().map(|a| self.rev_operand(a)).collect();
                if let Some(int_arg) = int_arg {
                    rendered.push(pexpr(int_arg));
                }
                if args.len() == 1 {
                    return self.accumulate(&args[0], quote!(#rt::rules::#rule(#(#rendered,)* #g)));
                }
                let names: Vec<Ident> = (0..args.len())
                    .map(|k| format_ident!("__ad_d{}", k))
                    .collect();
                let accumulate: TokenStream = args
                    .iter()
                    .zip(&names)
                    .map(|(arg, name)| self.accumulate(arg, quote!(#name)))
                    .collect();
                quote! {
                    let (#(#names),*) = #rt::rules::#rule(#(#rendered,)* #g);
                    #accumulate
                }
            }
            FloatOp::Read { array, index } => {
                let bar = self.bar(*array);
                let index = pexpr(index);
                self.keep(*array, quote!(#bar[#index] += #g;))
            }
        }
    }

    fn store(
        &mut self,
        array: VarId,
        index: &PExpr,
        value: &Operand,
        span: Span,
        saves: bool,
        in_loop: bool,
    ) -> (TokenStream, TokenStream) {
        let name = self.var(array);
        let index = pexpr(index);
        let stored = self.operand(value);
        let (save, restore) = if saves {
            self.unwound.insert(array);
            let (save, restore) = self.save(quote!(#name[#index]), SaveTy::Float, in_loop);
            (save, quote!(#name[#index] = #restore;))
        } else {
            // (A checkpointed loop's plain forward run does not count: its
            // iterations run again with their saves before they are reversed.)
            if !self.plain {
                self.unrestored.insert(array);
            }
            (TokenStream::new(), TokenStream::new())
        };
        let forward = quote_spanned!(span=> #save #name[#index] = #stored;);
        if !self.active(array) {
            return (forward, restore);
        }
        let float = &self.float;
        if let Some((increment, negated)) = self.increments.stores.get(&(self.pos - 1)) {
            // `a[i] += e`: the element's adjoint passes through; `e` gets it.
            let bar = self.bar(array);
            let contribution = if *negated {
                quote!(-__ad_g)
            } else {
                quote!(__ad_g)
            };
            let propagate = self.accumulate(increment, contribution);
            let reverse = quote_spanned!(span=> {
                let __ad_g: #float = #bar[#index];
                #restore
                #propagate
            });
            return (forward, reverse);
        }
        let bar = self.bar(array);
        let float = &self.float;
        let propagate = self.accumulate(value, quote!(__ad_g));
        // A local array's adjoint element restarts at -0.0, the identity of `+`
        // (LLVM can then fold the reset and the next `+=` into a move); a
        // parameter's is what the caller gets back, so it restarts at +0.0.
        let zero = if matches!(self.func.var(array).origin, Origin::Param(_)) {
            quote!(0.0)
        } else {
            quote!(-0.0)
        };
        let reverse = quote_spanned!(span=> {
            let __ad_g: #float = #bar[#index];
            #bar[#index] = #zero;
            #restore
            #propagate
        });
        (forward, reverse)
    }

    fn new_array(
        &mut self,
        dst: VarId,
        init: &ArrayInit,
        span: Span,
        saves: bool,
        in_loop: bool,
    ) -> (TokenStream, TokenStream) {
        let rt = self.rt.clone();
        let name = self.var(dst);
        let is_vec = !matches!(self.func.var(dst).ty, Ty::FloatArray(Shape::Fixed(_)));
        let value = match init {
            ArrayInit::VecFill { value, len } => {
                let (value, len) = (self.operand(value), pexpr(len));
                quote!(::std::vec![#value; #len])
            }
            ArrayInit::FixedFill { value, len } => {
                let value = self.operand(value);
                quote!([#value; #len])
            }
            ArrayInit::List { items, fixed } => {
                let items: Vec<TokenStream> = items.iter().map(|i| self.operand(i)).collect();
                if *fixed {
                    quote!([#(#items),*])
                } else {
                    quote!(::std::vec![#(#items),*])
                }
            }
            ArrayInit::CopyOf { src, to_vec } => {
                let src = self.var(*src);
                if *to_vec {
                    quote!(#src.to_vec())
                } else if is_vec {
                    quote!(#src.clone())
                } else {
                    quote!(#src)
                }
            }
        };
        let (save, restore) = if saves && !self.plain {
            let restore = if is_vec {
                quote!(__ad_stack.pop_vec_into(&mut #name);)
            } else {
                quote!(__ad_stack.pop_slice_into(&mut #name[..]);)
            };
            (quote!(__ad_stack.push_slice(&#name[..]);), restore)
        } else {
            (TokenStream::new(), TokenStream::new())
        };
        if !self.active(dst) {
            return (quote_spanned!(span=> #save #name = #value;), restore);
        }
        let bar = self.bar(dst);
        // A Vec's adjoint follows its length; in loops the previous length is
        // saved so that the reverse sweep can size it for the previous iteration.
        let (fit, refit) = if is_vec {
            let (save_len, old_len) = if in_loop || saves {
                let (save_len, old_len) = self.save(quote!(#bar.len()), SaveTy::Usize, in_loop);
                (save_len, Some(old_len))
            } else {
                (TokenStream::new(), None)
            };
            let refit = match old_len {
                Some(old_len) => quote!(#rt::__private::fit_zeros(&mut #bar, #old_len);),
                None => TokenStream::new(),
            };
            (
                quote!(#save_len #rt::__private::fit_zeros(&mut #bar, #name.len());),
                refit,
            )
        } else {
            (TokenStream::new(), TokenStream::new())
        };
        let consume = match init {
            ArrayInit::VecFill { value, .. } | ArrayInit::FixedFill { value, .. } => {
                match self.activity.operand(value) {
                    Some(id) => {
                        let value_bar = self.bar(id);
                        quote!(for __ad_k in 0..#bar.len() { #value_bar += #bar[__ad_k]; })
                    }
                    None => TokenStream::new(),
                }
            }
            ArrayInit::List { items, .. } => items
                .iter()
                .enumerate()
                .map(|(k, item)| self.accumulate(item, quote!(#bar[#k])))
                .collect(),
            ArrayInit::CopyOf { src, .. } => {
                if self.active(*src) {
                    let src_bar = self.bar(*src);
                    self.keep(
                        *src,
                        quote!(for __ad_k in 0..#bar.len() { #src_bar[__ad_k] += #bar[__ad_k]; }),
                    )
                } else {
                    TokenStream::new()
                }
            }
        };
        let forward = quote_spanned!(span=> #save #name = #value; #fit);
        let reverse = quote_spanned!(span=> {
            #consume
            #bar.fill(0.0);
            #restore
            #refit
        });
        (forward, reverse)
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        dst: Option<VarId>,
        func: &TokenStream,
        args: &[CallArg],
        span: Span,
        saves: bool,
        in_loop: bool,
    ) -> (TokenStream, TokenStream) {
        let float = self.float.clone();
        let call_pos = self.pos - 1;
        // Copies of windows go as the window (see `analysis::windows`): the
        // forward sweep may have skipped them.
        let forward_args: Vec<TokenStream> = args
            .iter()
            .enumerate()
            .map(|(k, arg)| match self.windows.args.get(&(call_pos, k)) {
                Some(window) => self.window_primal(window),
                None => self.call_arg(arg),
            })
            .collect();
        let active = crate::analysis::tbr::stmt_is_active(
            &Stmt::Call {
                dst,
                func: func.clone(),
                args: args.to_vec(),
                span,
                tangent: None,
            },
            self.activity,
        );
        let call = quote_spanned!(span=> #func(#(#forward_args),*));
        let (dst_save, dst_restore, assign) = match dst {
            Some(dst) => {
                let name = self.var(dst);
                let (save, restore) = if saves {
                    let (save, restore) = self.save(quote!(#name), SaveTy::Float, in_loop);
                    (save, quote!(#name = #restore;))
                } else {
                    (TokenStream::new(), TokenStream::new())
                };
                (save, restore, quote!(#name = #call;))
            }
            None => (TokenStream::new(), TokenStream::new(), quote!(#call;)),
        };
        if !active {
            return (quote!(#dst_save #assign), dst_restore);
        }
        // Split: the callee records in the forward sweep and reverses later (see
        // `tbr::split_call`); joint otherwise (it re-runs in the reverse sweep).
        let split = crate::analysis::tbr::split_call(args);
        // A joint call in a preaccumulated loop whose result's adjoint is known
        // when it runs (see `Preacc::fused`).
        let fused = match dst {
            Some(dst) if !split && self.active(dst) => self.fused.get(&call_pos).cloned(),
            _ => None,
        };
        // A split call whose scalar arguments this function does not
        // differentiate uses the callee's core with its scalars taken as constants
        // (`f::__record_c`): what only their adjoints need is neither computed
        // nor saved there. (A float argument means a float parameter, so the
        // callee has that core.)
        let suffix = if crate::analysis::tbr::constant_scalars(args, self.activity) {
            "_c"
        } else {
            ""
        };
        // A split call whose result the reverse sweep reads back from the
        // element it was stored into (see `tbr::reloads`) hands it to the
        // callee's reverse (`f::__unrecord_v`): a callee whose reverse needs
        // only its result then keeps nothing (`sigmoid`).
        let handed = match (split, suffix, dst) {
            (true, "", Some(_)) => self.tbr.reload(call_pos).map(|(array, index)| {
                let (array, index) = (self.var(*array), pexpr(index));
                quote!(#array[#index],)
            }),
            _ => None,
        };
        let (record, unrecord) = match handed {
            Some(_) => (format_ident!("__record_v"), format_ident!("__unrecord_v")),
            None => (
                format_ident!("__record{}", suffix),
                format_ident!("__unrecord{}", suffix),
            ),
        };
        let mut snapshot = TokenStream::new();
        let mut restore_pre_call = TokenStream::new();
        // Arrays read whole whose later overwrites are not undone (see
        // `Tbr::snapshots_call_arg`): copied before the call, put back before the
        // callee's reverse.
        let mut array_copies = TokenStream::new();
        let mut array_restores = TokenStream::new();
        let mut reverse_args = Vec::new();
        let mut scalar_adjoints = TokenStream::new();
        let mut scalar_accumulate = TokenStream::new();
        let mut passed: Vec<VarId> = Vec::new();
        for (k, arg) in args.iter().enumerate() {
            match arg {
                CallArg::Float(operand) => {
                    let value = self.rev_operand(operand);
                    let slot = format_ident!("__ad_arg{}", k);
                    scalar_adjoints.extend(quote!(let mut #slot: #float = 0.0;));
                    scalar_accumulate.extend(self.accumulate(operand, quote!(#slot)));
                    reverse_args.push(quote!(#value, &mut #slot));
                }
                CallArg::Array { var, by, written } => {
                    // (A fused call runs its reverse before anything overwrites
                    // what it reads: no copy.)
                    if self.tbr.snapshots_call_arg(call_pos, *var) && !self.plain && fused.is_none()
                    {
                        let (push, pop) = self.call_snapshot(*var, in_loop);
                        // A split callee's reverse may not read the array at all
                        // (`__READS_ARGk`, a constant): then no copy.
                        let mut conditions = Vec::new();
                        if split {
                            let reads = format_ident!("__READS{}_ARG{}", suffix.to_uppercase(), k);
                            conditions.push(quote!(#func::#reads));
                        }
                        // Another call's copy may serve (`Tbr::copy_covered_if`).
                        if let Some(cover) = self.tbr.copy_covered_if(call_pos, *var) {
                            conditions.push(quote!(!(#cover)));
                        }
                        let (push, pop) = if conditions.is_empty() {
                            (push, pop)
                        } else {
                            (
                                quote!(if #(#conditions)&&* { #push }),
                                quote!(if #(#conditions)&&* { #pop }),
                            )
                        };
                        array_copies.extend(push);
                        array_restores = {
                            let mut ordered = pop;
                            ordered.extend(array_restores);
                            ordered
                        };
                    }
                    let primal = match by {
                        ArgPass::Value => self.by_value(*var),
                        ArgPass::Ref => written.clone(),
                    };
                    if let Some((primal, adjoint)) = self.window_arg(call_pos, k, func) {
                        passed.push(*var);
                        reverse_args.push(quote!(#primal, #adjoint));
                        continue;
                    }
                    let adjoint = if self.active(*var) && passed.contains(var) {
                        // The same array passed twice (`dot(x, x)`): the second
                        // adjoint goes to a scratch buffer, added afterwards.
                        let name = self.var(*var);
                        let bar = self.bar(*var);
                        let scratch = format_ident!("__ad_dup{}", k);
                        scalar_adjoints.extend(
                            quote!(let mut #scratch = ::std::vec![0.0 as #float; #name.len()];),
                        );
                        scalar_accumulate.extend(quote!(for __ad_k in 0..#scratch.len() { #bar[__ad_k] += #scratch[__ad_k]; }));
                        quote!(&mut #scratch[..])
                    } else if !self.active(*var) && matches!(by, ArgPass::Ref) {
                        // An array this function does not differentiate (data such
                        // as `observed`), passed by reference: an empty adjoint
                        // tells the callee to add nothing into it (see
                        // `reverse::droppable`, and its cores' prologues).
                        quote!(&mut [])
                    } else if !self.active(*var) {
                        // Passed by value: the callee's adjoint of it goes to the
                        // stack's sink, reused and never cleared, rather than to a
                        // fresh zeroed vector of the array's length at every call.
                        let name = self.var(*var);
                        let sink = format_ident!("__ad_sink{}", k);
                        scalar_adjoints.extend(
                            quote!(let mut #sink = __ad_stack.take_sink::<#float>(#name.len());),
                        );
                        scalar_accumulate.extend(quote!(__ad_stack.put_sink(#sink);));
                        quote!(&mut #sink[..#name.len()])
                    } else {
                        self.array_adjoint_arg(*var)
                    };
                    passed.push(*var);
                    reverse_args.push(quote!(#primal, #adjoint));
                }
                // (Every call with a `&mut` argument is split.)
                CallArg::MutArray { var, written } => {
                    self.unwound.insert(*var);
                    // The state before the call, for the reverse of what ran
                    // before it: kept only if something there reads it (a split
                    // callee only if it says so), and not when the callee's
                    // reverse sweep puts back every element it writes
                    // (`__RESTORES_ARGk`); both are constants.
                    let restores = format_ident!("__RESTORES{}_ARG{}", suffix.to_uppercase(), k);
                    if let Some(condition) = self.tbr.split_snapshot(call_pos, *var) {
                        let (push, pop) = self.array_snapshot(*var, in_loop, false);
                        if let Some(condition) = &condition {
                            self.restored_if
                                .entry(*var)
                                .or_default()
                                .push(quote!((#func::#restores || #condition)));
                        }
                        let condition = condition.map(|condition| quote!(&& #condition));
                        let (push, pop) = (
                            quote!(if !#func::#restores #condition { #push }),
                            quote!(if !#func::#restores #condition { #pop }),
                        );
                        snapshot.extend(push);
                        restore_pre_call = {
                            let mut ordered = pop;
                            ordered.extend(restore_pre_call);
                            ordered
                        };
                    } else {
                        self.restored_if
                            .entry(*var)
                            .or_default()
                            .push(quote!(#func::#restores));
                    }
                    let adjoint = self.array_adjoint_arg(*var);
                    reverse_args.push(quote!(#written, #adjoint));
                }
                CallArg::Passive(value) => {
                    // The callee's slot type (`&mut ()` for passive parameters, a
                    // float for a constant) is inferred from its signature.
                    let value = pexpr(value);
                    reverse_args.push(quote!(#value, &mut ::core::default::Default::default()));
                }
            }
        }
        let (seed, take_seed) = match dst {
            Some(dst) if self.active(dst) => {
                let bar = self.bar(dst);
                (
                    quote!(, __ad_g),
                    quote!(let __ad_g: #float = #bar; #bar = -0.0;),
                )
            }
            Some(_) => (quote!(, 0.0), TokenStream::new()),
            None => (TokenStream::new(), TokenStream::new()),
        };
        if split {
            // forward:  snapshots of the `&mut` arguments; `r = g::__record(..)`
            //           (the callee's forward sweep, its saves left on the stack);
            //           copies of the arrays it read; the result's old value;
            //           `dst = r`
            // reverse:  the result's old value and the copies back; the callee's
            //           reverse sweep `g::__unrecord(..)` (from what it left);
            //           the snapshots back (the state before the call).
            let record = quote_spanned!(span=> #func::#record(__ad_stack, #(#forward_args),*));
            let forward = match dst {
                Some(dst) => {
                    let name = self.var(dst);
                    quote_spanned!(span=>
                        #snapshot
                        let __ad_result = #record;
                        #array_copies
                        #dst_save
                        #name = __ad_result;
                    )
                }
                None => quote_spanned!(span=> #snapshot #record; #array_copies),
            };
            let reverse = quote_spanned!(span=> {
                #take_seed
                #dst_restore
                #array_restores
                #scalar_adjoints
                #func::#unrecord(__ad_stack, #handed #(#reverse_args),* #seed);
                #scalar_accumulate
                #restore_pre_call
            });
            return (forward, reverse);
        }
        if let (Some(seed), Some(dst)) = (fused, dst) {
            // forward:  dst = g::__reverse(.., adjoint of dst), value and reverse
            //           sweep in one run
            // reverse:  the result's adjoint reset, its old value back
            let name = self.var(dst);
            let forward = quote_spanned!(span=> #dst_save {
                #scalar_adjoints
                #name = #func::__reverse(__ad_stack, #(#reverse_args),*, #seed);
                #scalar_accumulate
            });
            let reverse = quote_spanned!(span=> { #take_seed #dst_restore });
            return (forward, reverse);
        }
        // Joint: pushed in the reverse order of the pops below, the result's old
        // value last, since the reverse puts it back first (`x = f(x)` re-runs `f`
        // on the old `x`); the callee re-runs and reverses in `__reverse`.
        let forward = quote_spanned!(span=> #array_copies #dst_save #assign);
        let reverse = quote_spanned!(span=> {
            #take_seed
            #dst_restore
            #array_restores
            #scalar_adjoints
            #func::__adjoint(__ad_stack, #(#reverse_args),* #seed);
            #scalar_accumulate
        });
        (forward, reverse)
    }

    /// The argument `k` of the call at `call_pos` and its adjoint as the call's
    /// reverse takes them when the argument is a copy of a window of another
    /// array (see `analysis::windows`): the window, if the callee takes `&[f64]`
    /// (its `__SLICE_ARGk`), else the copy as usual.
    fn window_arg(
        &self,
        call_pos: usize,
        k: usize,
        func: &TokenStream,
    ) -> Option<(TokenStream, TokenStream)> {
        let window = self.windows.args.get(&(call_pos, k))?;
        let (copy, source) = (window.copy, window.source);
        let copy_name = self.var(copy);
        let primal = self.window_primal(window);
        let adjoint = if self.active(source) {
            let (copy_bar, source_bar) = (self.bar(copy), self.bar(source));
            let slice = format_ident!("__SLICE_ARG{}", k);
            let offset = &window.offset;
            let rt = &self.rt;
            let part = quote!(#rt::__private::window_of_mut(&mut #source_bar[..], #offset, #copy_name.len()));
            let part =
                if self.droppable.contains(&source) && !self.bar_override.contains_key(&source) {
                    // Declined by the caller: the callee adds nothing either.
                    let keep = keep_flag(self.func, source);
                    quote!(if #keep { #part } else { &mut [] })
                } else {
                    part
                };
            quote!(if #func::#slice { #part } else { &mut #copy_bar[..] })
        } else {
            // Nothing to add into (the copy's adjoint would go nowhere either).
            quote!(&mut [])
        };
        Some((primal, adjoint))
    }

    /// A window argument as a call takes it: the window of the source where the
    /// callee takes `&[f64]`, the copy where it takes `&Vec<f64>`.
    fn window_primal(&self, window: &crate::analysis::windows::Window) -> TokenStream {
        let (copy_name, source_name) = (self.var(window.copy), self.var(window.source));
        let offset = &window.offset;
        let rt = &self.rt;
        quote!(#rt::__private::window(
            &#copy_name,
            #rt::__private::window_of(&#source_name, #offset, #copy_name.len()),
        ))
    }

    /// A call in tangent IR (forward mode only):
    /// `(dst, dst_dot) = func::__forward(arg, arg_tangent, ...)`.
    fn forward_call(
        &mut self,
        dst: Option<VarId>,
        func: &TokenStream,
        args: &[CallArg],
        tangent: &crate::ir::CallTangent,
        span: Span,
    ) -> TokenStream {
        use crate::ir::ArgTangent;
        let float = self.float.clone();
        let mut rendered = Vec::new();
        for (arg, arg_tangent) in args.iter().zip(&tangent.args) {
            let primal = self.call_arg(arg);
            let zeros_like = |this: &Self, var: VarId| {
                let name = this.var(var);
                quote!(::std::vec![0.0 as #float; #name.len()])
            };
            let slot = match (arg, arg_tangent) {
                (_, ArgTangent::Float(operand)) => self.operand(operand),
                (CallArg::Array { by, var, .. }, ArgTangent::Array(dot)) => match dot {
                    Some(dot) if *by == ArgPass::Value => self.by_value(*dot),
                    Some(dot) => {
                        let dot = self.var(*dot);
                        quote!(&#dot)
                    }
                    None if *by == ArgPass::Value => zeros_like(self, *var),
                    None => {
                        let zeros = zeros_like(self, *var);
                        quote!(&#zeros)
                    }
                },
                (CallArg::MutArray { var, .. }, ArgTangent::MutArray(dot)) => match dot {
                    Some(dot) => {
                        let dot = self.var(*dot);
                        quote!(&mut #dot[..])
                    }
                    None => {
                        let zeros = zeros_like(self, *var);
                        quote!(&mut #zeros[..])
                    }
                },
                _ => quote!(::core::default::Default::default()),
            };
            rendered.push(quote!(#primal, #slot));
        }
        let call = quote_spanned!(span=> #func::__forward(#(#rendered),*));
        let value = dst.map(|dst| self.var(dst));
        let dot = tangent.dst.map(|dot| self.var(dot));
        match (value, dot) {
            (Some(value), Some(dot)) => {
                quote!({ let (__ad_v, __ad_d) = #call; #value = __ad_v; #dot = __ad_d; })
            }
            (Some(value), None) => quote!({ let (__ad_v, _) = #call; #value = __ad_v; }),
            _ => quote!({ let _ = #call; }),
        }
    }

    /// A call in tangent IR that the reverse sweep differentiates (`f_hvp`):
    ///
    /// ```text
    /// forward:  snapshot &mut arguments and their tangents; (d, ḋ) = g::__forward(..)
    /// reverse:  restore them; g::__reverse_forward(args + adjoints, tangents + adjoints,
    ///           d̄, ḋ̄, 1); put the snapshot back
    /// ```
    #[allow(clippy::too_many_arguments)]
    fn tangent_call(
        &mut self,
        dst: Option<VarId>,
        func: &TokenStream,
        args: &[CallArg],
        tangent: &crate::ir::CallTangent,
        span: Span,
        saves: [bool; 2],
        in_loop: bool,
    ) -> (TokenStream, TokenStream) {
        use crate::ir::ArgTangent;
        let float = self.float.clone();
        let mut saved = TokenStream::new();
        let mut restored = TokenStream::new();
        for (var, save) in [(dst, saves[0]), (tangent.dst, saves[1])] {
            if let (Some(var), true) = (var, save) {
                let name = self.var(var);
                let (save, restore) = self.save(quote!(#name), SaveTy::Float, in_loop);
                saved.extend(save);
                // Popped in the reverse order of the pushes.
                let mut ordered = quote!(#name = #restore;);
                ordered.extend(restored);
                restored = ordered;
            }
        }
        let mut snapshot = TokenStream::new();
        let mut restore_pre_call = TokenStream::new();
        let mut snap = |this: &mut Self, var: VarId| {
            let name = this.var(var);
            this.unwound.insert(var);
            snapshot.extend(quote!(__ad_stack.push_slice(&#name[..]);));
            let mut ordered = quote!(__ad_stack.pop_slice_into(&mut #name[..]););
            ordered.extend(std::mem::take(&mut restore_pre_call));
            restore_pre_call = ordered;
        };
        let mut primal_part: Vec<TokenStream> = Vec::new();
        let mut tangent_part: Vec<TokenStream> = Vec::new();
        let mut slots = TokenStream::new();
        let mut accumulate = TokenStream::new();
        let mut passed: Vec<VarId> = Vec::new();
        let zeros_like = |this: &Self, var: VarId| {
            let name = this.var(var);
            quote!(::std::vec![0.0 as #float; #name.len()])
        };
        for (k, (arg, arg_tangent)) in args.iter().zip(&tangent.args).enumerate() {
            let primal = self.call_arg(arg);
            match arg {
                CallArg::Float(operand) => {
                    let slot = format_ident!("__ad_arg{}", k);
                    slots.extend(quote!(let mut #slot: #float = 0.0;));
                    accumulate.extend(self.accumulate(operand, quote!(#slot)));
                    primal_part.push(quote!(#primal, &mut #slot));
                }
                CallArg::Array { var, .. } | CallArg::MutArray { var, .. } => {
                    if matches!(arg, CallArg::MutArray { .. }) {
                        snap(self, *var);
                    }
                    let adjoint = self.array_slot(
                        *var,
                        &mut passed,
                        &format!("p{k}"),
                        &mut slots,
                        &mut accumulate,
                    );
                    primal_part.push(quote!(#primal, #adjoint));
                }
                CallArg::Passive(value) => {
                    let value = pexpr(value);
                    primal_part.push(quote!(#value, &mut ::core::default::Default::default()));
                }
            }
            let tangents_before = tangent_part.len();
            match (arg, arg_tangent) {
                (_, ArgTangent::Float(operand)) => {
                    let value = self.operand(operand);
                    let slot = format_ident!("__ad_targ{}", k);
                    slots.extend(quote!(let mut #slot: #float = 0.0;));
                    accumulate.extend(self.accumulate(operand, quote!(#slot)));
                    tangent_part.push(quote!(#value, &mut #slot));
                }
                (CallArg::Array { var, by, .. }, ArgTangent::Array(dot)) => {
                    let (value, adjoint) = match dot {
                        Some(dot) => {
                            let value = if *by == ArgPass::Value {
                                self.by_value(*dot)
                            } else {
                                let name = self.var(*dot);
                                quote!(&#name)
                            };
                            let adjoint = self.array_slot(
                                *dot,
                                &mut passed,
                                &format!("t{k}"),
                                &mut slots,
                                &mut accumulate,
                            );
                            (value, adjoint)
                        }
                        None => {
                            let zeros = zeros_like(self, *var);
                            let value = if *by == ArgPass::Value {
                                zeros.clone()
                            } else {
                                quote!(&#zeros)
                            };
                            (value, quote!(&mut #zeros[..]))
                        }
                    };
                    tangent_part.push(quote!(#value, #adjoint));
                }
                (CallArg::MutArray { var, .. }, ArgTangent::MutArray(dot)) => {
                    let (value, adjoint) = match dot {
                        Some(dot) => {
                            snap(self, *dot);
                            let name = self.var(*dot);
                            let adjoint = self.array_slot(
                                *dot,
                                &mut passed,
                                &format!("t{k}"),
                                &mut slots,
                                &mut accumulate,
                            );
                            let value = if matches!(
                                self.func.var(*dot).origin,
                                crate::ir::Origin::Param(_)
                            ) {
                                quote!(&mut *#name)
                            } else {
                                quote!(&mut #name)
                            };
                            (value, adjoint)
                        }
                        None => {
                            let zeros = zeros_like(self, *var);
                            (quote!(&mut #zeros[..]), quote!(&mut #zeros[..]))
                        }
                    };
                    tangent_part.push(quote!(#value, #adjoint));
                }
                _ => {}
            }
            if tangent_part.len() == tangents_before {
                // No tangent known here (a constant, passive data): the callee's
                // slot types (a float and its adjoint, or `()`) are inferred.
                tangent_part.push(quote!(
                    ::core::default::Default::default(),
                    &mut ::core::default::Default::default()
                ));
            }
        }
        let interleaved: Vec<TokenStream> = primal_part
            .iter()
            .zip(&tangent_part)
            .map(|(primal, tangent)| quote!(#primal, #tangent))
            .collect();
        let seed_of = |this: &Self, var: Option<VarId>, name: &str| -> (TokenStream, TokenStream) {
            let seed = format_ident!("__ad_{}", name);
            match var {
                Some(var) if this.active(var) => {
                    let bar = this.bar(var);
                    (
                        quote!(#seed),
                        quote!(let #seed: #float = #bar; #bar = -0.0;),
                    )
                }
                _ => (quote!(0.0), TokenStream::new()),
            }
        };
        let (seed_value, take_value) = seed_of(self, dst, "seed_value");
        let (seed_tangent, take_tangent) = seed_of(self, tangent.dst, "seed_tangent");
        let call = self.forward_call(dst, func, args, tangent, span);
        // The results' old values are pushed after the snapshots, since the reverse
        // puts them back first (`y = f(&mut v, y)` re-runs `f` on the old `y`).
        let forward = quote!(#snapshot #saved #call);
        let reverse = quote_spanned!(span=> {
            #take_value
            #take_tangent
            #restored
            #restore_pre_call
            #snapshot
            #slots
            #func::__reverse_forward(__ad_stack, #(#interleaved,)* #seed_value, #seed_tangent, 1.0);
            #accumulate
            #restore_pre_call
        });
        (forward, reverse)
    }

    /// The adjoint slot passed for an array: its adjoint, scratch zeros when it is
    /// passive here, or a scratch added afterwards when it was already passed.
    fn array_slot(
        &self,
        var: VarId,
        passed: &mut Vec<VarId>,
        tag: &str,
        slots: &mut TokenStream,
        accumulate: &mut TokenStream,
    ) -> TokenStream {
        let slot = if self.active(var) && passed.contains(&var) {
            let name = self.var(var);
            let bar = self.bar(var);
            let float = &self.float;
            let scratch = format_ident!("__ad_dup_{}", tag);
            slots.extend(quote!(let mut #scratch = ::std::vec![0.0 as #float; #name.len()];));
            accumulate.extend(
                quote!(for __ad_k in 0..#scratch.len() { #bar[__ad_k] += #scratch[__ad_k]; }),
            );
            quote!(&mut #scratch[..])
        } else {
            self.array_adjoint_arg(var)
        };
        passed.push(var);
        slot
    }

    /// A call argument as the forward sweep passes it.
    fn call_arg(&self, arg: &CallArg) -> TokenStream {
        match arg {
            CallArg::Float(operand) => self.operand(operand),
            CallArg::Array {
                var,
                by: ArgPass::Value,
                ..
            } => self.by_value(*var),
            CallArg::Array { written, .. } | CallArg::MutArray { written, .. } => written.clone(),
            CallArg::Passive(value) => pexpr(value),
        }
    }

    fn by_value(&self, var: VarId) -> TokenStream {
        let name = self.var(var);
        match &self.func.var(var).ty {
            Ty::FloatArray(Shape::Fixed(_)) => quote!(#name),
            _ => quote!(#name.clone()),
        }
    }

    /// The adjoint slot passed for an array argument: its adjoint, or scratch zeros
    /// when the array is passive here.
    fn array_adjoint_arg(&self, var: VarId) -> TokenStream {
        let name = self.var(var);
        if self.active(var) {
            let bar = self.bar(var);
            quote!(&mut #bar[..])
        } else {
            let float = &self.float;
            quote!(&mut ::std::vec![0.0 as #float; #name.len()][..])
        }
    }

    fn loop_stmt(&mut self, looped: &Loop, in_loop: bool) -> (TokenStream, TokenStream) {
        let loop_pos = self.pos - 1;
        if let (Some(preacc), LoopKind::For { index, seq }, false) =
            (self.tbr.preaccumulated(loop_pos), &looped.kind, self.plain)
        {
            self.preaccumulates = true;
            return self.preaccumulated_loop(looped, preacc.clone(), *index, seq, in_loop);
        }
        if let (Some(reduction), LoopKind::For { index, seq }, false) =
            (self.tbr.reduction(loop_pos), &looped.kind, self.plain)
        {
            return self.reduction_loop(looped, reduction.clone(), *index, seq, in_loop);
        }
        self.recorded_loop(looped, in_loop)
    }

    /// A loop that only takes a running maximum or minimum `m` of data that does
    /// not change (see `analysis::reduction`):
    ///
    /// ```text
    /// forward:  save m; for i in seq { t = a[idx]; m = m.max(t) }; save m
    /// reverse:  after = restore; before = restore;
    ///           if !(after.is_nan() || before == after) {
    ///               for i in seq { if a[idx] == after { a_bar[idx] += m_bar; m_bar = 0; break } }
    ///           }
    ///           m = before
    /// ```
    ///
    /// The element found is the one `max_vjp` would credit going backwards through
    /// every iteration; when the value before the loop is the result, `m_bar` stays
    /// for it. Where ties go to the element (`t.max(m)`, `>=`), the scan runs
    /// backwards for the last element equal to the result instead. The result is saved too: a recorded loop's reverse never reads `m`
    /// as the loop left it (each step restores its own), so nothing else keeps it
    /// for the scan (a later iteration of a loop around this one may overwrite it).
    fn reduction_loop(
        &mut self,
        looped: &Loop,
        reduction: crate::analysis::reduction::Reduction,
        index: Option<VarId>,
        seq: &RangeSeq,
        in_loop: bool,
    ) -> (TokenStream, TokenStream) {
        let acc = self.var(reduction.acc);
        // Saved outside the loop's reservation frame: the saves are the
        // enclosing loop's.
        let (save_before, restore_before) = self.save(quote!(#acc), SaveTy::Float, in_loop);
        // The body saves nothing (see `Tbr::reduction`); its recorded reverse,
        // which would need every running value, is not used.
        let (forward, _) = self.recorded_loop(looped, in_loop);
        let (save_after, restore_after) = self.save(quote!(#acc), SaveTy::Float, in_loop);
        let float = &self.float;
        let acc_bar = self.bar(reduction.acc);
        let pattern = self.index_pattern(index);
        let range = self.forward_range(seq);
        let array = self.var(reduction.array);
        let element = pexpr(&reduction.index);
        let credit = if self.active(reduction.array) {
            let array_bar = self.bar(reduction.array);
            self.keep(reduction.array, quote!(#array_bar[#element] += __ad_g;))
        } else {
            TokenStream::new()
        };
        let found = quote! {
            let __ad_g: #float = #acc_bar;
            #acc_bar = -0.0;
            #credit
            break;
        };
        let scan = match reduction.credit {
            Credit::First => quote! {
                if !(__ad_after.is_nan() || __ad_before == __ad_after) {
                    for #pattern in #range {
                        if #array[#element] == __ad_after { #found }
                    }
                }
            },
            Credit::Last | Credit::LastOrNan => {
                let range = self.reverse_range(seq);
                let nan =
                    (reduction.credit == Credit::LastOrNan).then(|| quote!(__ad_after.is_nan() ||));
                quote! {
                    for #pattern in #range {
                        if #nan #array[#element] == __ad_after { #found }
                    }
                }
            }
        };
        let reverse = quote!({
            let __ad_after: #float = #restore_after;
            let __ad_before: #float = #restore_before;
            #scan
            #acc = __ad_before;
        });
        (quote!(#save_before #forward #save_after), reverse)
    }

    /// A loop whose iterations meet only in one sum (see `analysis::preacc`):
    ///
    /// ```text
    /// forward:  pre_x = 0 (every input x)
    ///           for i in seq { body (saving); post = acc; pre_acc = 1;
    ///                          reverse(body) into pre_*; acc = post }
    /// reverse:  x_bar += acc_bar * pre_x (every input x)
    /// ```
    ///
    /// Under run-time checks (constant-index reads of scratch arrays) the loop is
    /// generated both ways and the checks pick one in both sweeps.
    fn preaccumulated_loop(
        &mut self,
        looped: &Loop,
        preacc: crate::analysis::preacc::Preacc,
        index: Option<VarId>,
        seq: &RangeSeq,
        in_loop: bool,
    ) -> (TokenStream, TokenStream) {
        let start = self.pos;
        let float = self.float.clone();
        let rt = self.rt.clone();
        let acc = self.var(preacc.acc);
        let acc_bar = self.bar(preacc.acc);
        let mut init = TokenStream::new();
        let mut scale = TokenStream::new();
        let mut overrides = std::collections::HashMap::new();
        // With the sum's adjoint known (`±seed`), contributions go straight to the
        // inputs' adjoints: no buffers, nothing left for the reverse sweep.
        let buffered: &[VarId] = if preacc.seeded.is_some() {
            &[]
        } else {
            &preacc.inputs
        };
        for var in buffered {
            let bar = self.bar(*var);
            let pre = self.fresh_local("pre");
            match self.func.var(*var).ty {
                Ty::FloatArray(_) => {
                    self.locals
                        .extend(quote!(let mut #pre = #rt::__private::Scratch::<#float>::new();));
                    init.extend(quote!(#pre.zero(#bar.len());));
                    scale.extend(quote!(
                        for (__ad_b, __ad_p) in #bar.iter_mut().zip(#pre.iter()) {
                            *__ad_b += #acc_bar * *__ad_p;
                        }
                    ));
                }
                _ => {
                    self.declare(&pre, SaveTy::Float);
                    init.extend(quote!(#pre = 0.0;));
                    scale.extend(quote!(#bar += #acc_bar * #pre;));
                }
            }
            overrides.insert(*var, pre);
        }
        let acc_pre = self.fresh_local("pre");
        self.declare(&acc_pre, SaveTy::Float);
        overrides.insert(preacc.acc, acc_pre.clone());
        let post = self.fresh_local("post");
        self.declare(&post, SaveTy::Float);
        self.bar_override = overrides;
        let acc_seed = match preacc.seeded {
            Some(false) => quote!(__ad_seed),
            Some(true) => quote!(-__ad_seed),
            None => quote!(1.0),
        };
        self.fused = preacc
            .fused
            .iter()
            .map(|(pos, negated)| {
                let seed = if *negated {
                    quote!(-(#acc_seed))
                } else {
                    acc_seed.clone()
                };
                (*pos, seed)
            })
            .collect();
        self.reserver.open(&looped.body, index);
        let (body_fwd, body_rev) = self.block(&looped.body, true);
        self.fused.clear();
        let Closed {
            body_fwd,
            body_rev,
            wrap,
        } = self.reserver.close(body_fwd, body_rev, Trips::Once);
        self.bar_override.clear();
        let pattern = self.index_pattern(index);
        let range = self.forward_range(seq);
        let forward_loop = quote!(
            for #pattern in #range {
                #body_fwd
                __ad_peak;
                #post = #acc;
                #acc_pre = #acc_seed;
                #body_rev
                #acc = #post;
            }
        );
        let (forward_loop, _) = self.reserver.wrap(&wrap, forward_loop, TokenStream::new());
        let forward = quote!(#init #forward_loop);
        if preacc.checks.is_empty() {
            return (forward, scale);
        }
        let end = self.pos;
        self.pos = start;
        let (recorded_fwd, recorded_rev) = self.recorded_loop(looped, in_loop);
        debug_assert_eq!(self.pos, end);
        let checks = &preacc.checks;
        let cond = quote!(#(#checks)&&*);
        let reverse = if scale.is_empty() {
            quote!(if !(#cond) { #recorded_rev })
        } else {
            quote!(if #cond { #scale } else { #recorded_rev })
        };
        (
            quote!(if #cond { #forward } else { #recorded_fwd }),
            reverse,
        )
    }

    /// A loop whose iterations are recorded in the forward sweep and reversed in the
    /// reverse sweep (checkpointed per iteration if `tbr` says so).
    fn recorded_loop(&mut self, looped: &Loop, in_loop: bool) -> (TokenStream, TokenStream) {
        let loop_pos = self.pos - 1;
        if let (Some(vars), LoopKind::For { index, seq }) =
            (self.tbr.checkpoint(loop_pos), &looped.kind)
        {
            if !self.plain {
                return self.checkpointed_loop(looped, vars.to_vec(), *index, seq);
            }
        }
        let index = match looped.kind {
            LoopKind::For { index, .. } => index,
            LoopKind::Infinite => None,
        };
        self.reserver.open(&looped.body, index);
        let (body_fwd, body_rev) = self.block(&looped.body, true);
        let trips = match &looped.kind {
            LoopKind::For { seq, .. } if !self.plain => {
                let (range, reads) = self.hoisted_range(seq);
                Trips::Range {
                    trips: quote!(::core::iter::Iterator::size_hint(&#range).0),
                    reads,
                }
            }
            _ => Trips::Unknown,
        };
        let Closed {
            body_fwd,
            body_rev,
            wrap,
        } = self.reserver.close(body_fwd, body_rev, trips);
        let resets: TokenStream = looped
            .reset
            .iter()
            .map(|flag| {
                let flag = self.var(*flag);
                quote!(#flag = false;)
            })
            .collect();
        let exit = looped.exit.as_ref().map(pexpr);
        let needs_reverse = !body_rev.is_empty();
        let counted =
            needs_reverse && (exit.is_some() || matches!(looped.kind, LoopKind::Infinite));
        let counter = if counted {
            let counter = self.fresh_local("trips");
            self.declare(&counter, SaveTy::Usize);
            Some(counter)
        } else {
            None
        };
        let count = counter.as_ref().map(|c| quote!(#c += 1;));
        let exit_check = exit.map(|exit| quote!(if #exit { break; }));
        let body = quote!(#resets #count #body_fwd #exit_check);
        let forward_loop = match &looped.kind {
            // A top-level loop that pushes more than can be counted before it runs
            // a known number of times: it reserves its tape after the first
            // iteration (see `__private::Reservation`).
            LoopKind::For { index, seq }
                if !in_loop
                    && !self.plain
                    && !wrap.reserves()
                    && looped.exit.is_none()
                    && mentions_stack(&body_fwd) =>
            {
                let index = self.index_pattern(*index);
                let range = self.forward_range(seq);
                let rt = &self.rt;
                quote!({
                    let mut __ad_reserve = #rt::__private::Reservation::new(
                        __ad_stack,
                        ::core::iter::Iterator::size_hint(&#range).0,
                    );
                    for #index in #range {
                        #body
                        __ad_reserve.after_iteration(__ad_stack);
                    }
                })
            }
            LoopKind::For { index, seq } => {
                let pattern = self.index_pattern(*index);
                let range = self.forward_range(seq);
                let plain = quote!(for #pattern in #range { #body });
                self.sliced(
                    *index,
                    seq,
                    &body,
                    false,
                    counter.is_none() && looped.exit.is_none(),
                )
                .unwrap_or_else(|| self.length_checked(*index, seq, plain))
            }
            LoopKind::Infinite => quote!(loop { #body }),
        };
        let (init_count, push_count, pop_count) = match &counter {
            Some(counter) if in_loop && !self.plain => (
                quote!(#counter = 0;),
                quote!(__ad_stack.push(#counter);),
                quote!(#counter = __ad_stack.pop();),
            ),
            Some(counter) => (
                quote!(#counter = 0;),
                TokenStream::new(),
                TokenStream::new(),
            ),
            None => (TokenStream::new(), TokenStream::new(), TokenStream::new()),
        };
        if !needs_reverse {
            let (forward_loop, _) = self.reserver.wrap(&wrap, forward_loop, TokenStream::new());
            return (
                quote!(#init_count #forward_loop #push_count),
                TokenStream::new(),
            );
        }
        let reverse = match (&looped.kind, &counter) {
            (LoopKind::For { index, seq }, None) => {
                let pattern = self.index_pattern(*index);
                let range = self.reverse_range(seq);
                let plain = quote!(for #pattern in #range { #body_rev });
                self.sliced(*index, seq, &body_rev, true, true)
                    .unwrap_or_else(|| {
                        let looped = self.rotated(*index, seq, &body_rev).unwrap_or(plain);
                        self.length_checked(*index, seq, looped)
                    })
            }
            (LoopKind::For { index, seq }, Some(counter)) => {
                let index = self.index_pattern(*index);
                let seq = self.index_seq(seq);
                quote!({
                    let __ad_seq = #seq;
                    for __ad_j in (0..#counter).rev() {
                        let #index = __ad_seq.at(__ad_j);
                        #body_rev
                    }
                })
            }
            (LoopKind::Infinite, Some(counter)) => quote!(for _ in 0..#counter { #body_rev }),
            (LoopKind::Infinite, None) => TokenStream::new(),
        };
        let (forward_loop, reverse) = self.reserver.wrap(&wrap, forward_loop, reverse);
        (
            quote!(#init_count #forward_loop #push_count),
            quote!(#pop_count #reverse),
        )
    }

    /// A loop checkpointed per iteration (see `tbr::checkpoints`):
    ///
    /// ```text
    /// forward:  for i in seq         { push snapshot(vars); body (saving nothing) }
    /// reverse:  for i in seq.rev()   { pop snapshot(vars); body (saving); reverse(body) }
    /// ```
    fn checkpointed_loop(
        &mut self,
        looped: &Loop,
        vars: Vec<VarId>,
        index: Option<VarId>,
        seq: &RangeSeq,
    ) -> (TokenStream, TokenStream) {
        let start = self.pos;
        self.plain = true;
        self.reserver.open(&looped.body, index);
        let (plain_body, _) = self.block(&looped.body, true);
        let plain_body = self
            .reserver
            .close(plain_body, TokenStream::new(), Trips::Once)
            .body_fwd;
        self.plain = false;
        let end = self.pos;
        self.pos = start;
        // Each reversed iteration records its tape and pops it again.
        self.reserver.open(&looped.body, index);
        let (recorded_body, reverse_body) = self.block(&looped.body, true);
        let Closed {
            body_fwd: recorded_body,
            body_rev: reverse_body,
            wrap,
        } = self
            .reserver
            .close(recorded_body, reverse_body, Trips::Once);
        let (iteration, _) = self.reserver.wrap(
            &wrap,
            quote!(#recorded_body __ad_peak; #reverse_body),
            TokenStream::new(),
        );
        debug_assert_eq!(self.pos, end);
        let mut snapshot = TokenStream::new();
        let mut restore = TokenStream::new();
        for var in &vars {
            let (push, pop) = self.whole_save(*var);
            snapshot.extend(push);
            restore = {
                let mut ordered = pop;
                ordered.extend(restore);
                ordered
            };
        }
        let index = self.index_pattern(index);
        let forward_range = self.forward_range(seq);
        let reverse_range = self.reverse_range(seq);
        (
            quote!(for #index in #forward_range { #snapshot #plain_body }),
            quote!(for #index in #reverse_range { #restore #iteration }),
        )
    }

    /// `whole_save` of an array read by a call; in a loop, a float array's save
    /// is counted for the loop's reservation (see `Reserver::counted_slice`).
    fn call_snapshot(&mut self, var: VarId, in_loop: bool) -> (TokenStream, TokenStream) {
        match &self.func.var(var).ty {
            Ty::FloatArray(shape) => self.array_snapshot(var, in_loop, matches!(shape, Shape::Vec)),
            _ => self.whole_save(var),
        }
    }

    /// A float array's whole value pushed on the stack and popped back into place
    /// (a `Vec` refilled if `refill_vec`, copied into otherwise). In a loop the
    /// save is counted for the loop's reservation (see `Reserver::counted_slice`).
    fn array_snapshot(
        &mut self,
        var: VarId,
        in_loop: bool,
        refill_vec: bool,
    ) -> (TokenStream, TokenStream) {
        let name = self.var(var);
        let float = self.float.clone();
        let counted = if in_loop {
            self.reserver
                .counted_slice(var, &quote!(#name), !refill_vec)
        } else {
            None
        };
        let [push, pop] = match counted {
            Some(markers) => markers.map(|method| quote!(#method::<#float>)),
            None if refill_vec => [quote!(push_slice), quote!(pop_vec_into)],
            None => [quote!(push_slice), quote!(pop_slice_into)],
        };
        let dst = if refill_vec {
            quote!(&mut #name)
        } else {
            quote!(&mut #name[..])
        };
        (
            quote!(__ad_stack.#push(&#name[..]);),
            quote!(__ad_stack.#pop(#dst);),
        )
    }

    /// Pushing a variable's whole value on the stack and popping it back into
    /// place: arrays as slices (a `Vec` refilled, a fixed array copied into),
    /// scalars as one value.
    fn whole_save(&self, var: VarId) -> (TokenStream, TokenStream) {
        whole_value_save(&self.var(var), &self.func.var(var).ty)
    }

    fn index_pattern(&self, index: Option<VarId>) -> TokenStream {
        match index {
            Some(id) => {
                let name = self.var(id);
                quote!(#name)
            }
            None => quote!(_),
        }
    }

    fn forward_range(&self, seq: &RangeSeq) -> TokenStream {
        let var = |id: VarId| quote::ToTokens::into_token_stream(self.var(id));
        range_of(seq, var(seq.lo), var(seq.hi), var)
    }

    /// An innermost loop over a plain ascending range, run over slices (see
    /// `slices`), if it qualifies.
    fn sliced(
        &self,
        index: Option<VarId>,
        seq: &RangeSeq,
        body: &TokenStream,
        reverse: bool,
        eligible: bool,
    ) -> Option<TokenStream> {
        if !eligible || self.plain && reverse || !seq.chain.is_empty() || seq.inclusive {
            return None;
        }
        let index = self.var(index?);
        let (lo, hi) = self.bounds(seq);
        crate::transform::slices::slice(
            crate::transform::slices::Loop {
                index: &index,
                lo: &lo,
                hi: &hi,
                body: body.clone(),
                reverse,
            },
            &self.arrays,
        )
    }

    /// An innermost loop over a plain range that `sliced` did not take, under a
    /// check of its arrays' lengths (see `lengths`), if it indexes any at offsets
    /// of its index.
    fn length_checked(
        &self,
        index: Option<VarId>,
        seq: &RangeSeq,
        looped: TokenStream,
    ) -> TokenStream {
        let Some(index) = index else {
            return looped;
        };
        if !seq.chain.is_empty() || seq.inclusive {
            return looped;
        }
        let (lo, hi) = self.bounds(seq);
        crate::transform::lengths::guard(&self.var(index), &lo, &hi, &looped, &self.arrays)
            .unwrap_or(looped)
    }

    /// A reverse loop over a plain range with its additions into neighbouring
    /// elements summed in registers (see `rotate`), if it has any.
    fn rotated(
        &self,
        index: Option<VarId>,
        seq: &RangeSeq,
        body: &TokenStream,
    ) -> Option<TokenStream> {
        if self.plain || !seq.chain.is_empty() || seq.inclusive {
            return None;
        }
        let index = self.var(index?);
        let (lo, hi) = self.bounds(seq);
        crate::transform::rotate::rotate(&index, &lo, &hi, body, &self.float)
    }

    /// A range's bounds, as the variables that hold them.
    fn bounds(&self, seq: &RangeSeq) -> (TokenStream, TokenStream) {
        (
            quote::ToTokens::into_token_stream(self.var(seq.lo)),
            quote::ToTokens::into_token_stream(self.var(seq.hi)),
        )
    }

    /// `forward_range` with each bound read through its definition (see
    /// `Reserver::hoisted`), and the variables it then reads: the trip count of a
    /// loop, as it can be evaluated before the loops around it.
    fn hoisted_range(&self, seq: &RangeSeq) -> (TokenStream, BTreeSet<VarId>) {
        let mut reads = BTreeSet::new();
        let mut bound = |var: VarId, hoist: bool| {
            let name = quote::ToTokens::into_token_stream(self.var(var));
            if !hoist {
                reads.insert(var);
                return name;
            }
            let (value, var_reads) = self.reserver.hoisted(var, name);
            reads.extend(var_reads);
            value
        };
        let (lo, hi) = (bound(seq.lo, true), bound(seq.hi, true));
        // A step is read as the variable, never hoisted: `step_by(0)` panics.
        let range = range_of(seq, lo, hi, |step| bound(step, false));
        (range, reads)
    }

    /// The indices of a loop without early exit, in reverse order.
    fn reverse_range(&self, seq: &RangeSeq) -> TokenStream {
        let (lo, hi) = (self.var(seq.lo), self.var(seq.hi));
        let base = if seq.inclusive {
            quote!((#lo..=#hi))
        } else {
            quote!((#lo..#hi))
        };
        match seq.chain.as_slice() {
            [] => quote!(#base.rev()),
            [SeqOp::Rev] => base,
            _ => {
                let seq = self.index_seq(seq);
                quote!({ let __ad_seq = #seq; (0..__ad_seq.len()).rev().map(move |__ad_j| __ad_seq.at(__ad_j)) })
            }
        }
    }

    fn index_seq(&self, seq: &RangeSeq) -> TokenStream {
        let rt = &self.rt;
        let (lo, hi) = (self.var(seq.lo), self.var(seq.hi));
        let mut out = if seq.inclusive {
            quote!(#rt::__private::IndexSeq::range_inclusive(#lo, #hi))
        } else {
            quote!(#rt::__private::IndexSeq::range(#lo, #hi))
        };
        for op in &seq.chain {
            out = match op {
                SeqOp::Rev => quote!(#out.rev()),
                SeqOp::StepBy(step) => {
                    let step = self.var(*step);
                    quote!(#out.step_by(#step))
                }
            };
        }
        out
    }
}

/// `seq`'s iterator from its bounds and step as given: `(lo..hi)`, `(lo..=hi)`,
/// then `.rev()` and `.step_by(step)` in order.
fn range_of(
    seq: &RangeSeq,
    lo: TokenStream,
    hi: TokenStream,
    mut step: impl FnMut(VarId) -> TokenStream,
) -> TokenStream {
    let mut range = if seq.inclusive {
        quote!((#lo..=#hi))
    } else {
        quote!((#lo..#hi))
    };
    for op in &seq.chain {
        range = match op {
            SeqOp::Rev => quote!(#range.rev()),
            SeqOp::StepBy(id) => {
                let step = step(*id);
                quote!(#range.step_by(#step))
            }
        };
    }
    range
}

/// Whether generated tokens use the stack (a loop body that pushes).
fn mentions_stack(tokens: &TokenStream) -> bool {
    crate::transform::tokens::mentions(tokens, "__ad_stack")
}

/// A passive expression's tokens, parenthesized when it is not a single token.
pub fn pexpr(value: &PExpr) -> TokenStream {
    let tokens = &value.tokens;
    if tokens.clone().into_iter().count() <= 1 {
        tokens.clone()
    } else {
        quote!((#tokens))
    }
}
