//! Preaccumulation of independent iterations: loops whose iterations meet only in
//! one sum.
//!
//! A top-level loop such as GMM's loop over data points
//!
//! ```text
//! for i in 0..n { ..scratch arrays written, then read..; slse += se.ln() + mx; }
//! ```
//!
//! changes nothing across iterations but the accumulator `slse`, and every scratch
//! array it writes is written before it is read in each iteration and dead after
//! the loop. The adjoint of `slse` is the same for every iteration, and everything
//! an iteration contributes to the adjoints of the data it reads is linear in it.
//! So each iteration is differentiated right after it runs, with the accumulator's
//! adjoint set to one and the contributions collected in separate zeroed buffers;
//! when the reverse sweep reaches the loop it adds them scaled by the accumulator's
//! real adjoint. The stack holds one iteration at a time and no iteration runs
//! twice: what a hand-written adjoint of such a loop does.
//!
//! "Written before read" is shown per element range: a loop `for j in lo..hi` whose
//! body stores `a[j]` unconditionally covers `a[lo..hi]` for the rest of the block;
//! a read `a[b]` in `for b in lo2..hi2` is covered when `hi2` is `hi` and `lo` is
//! `0` or `lo2`. A read at a constant index (`main_term[0]`) is covered when the
//! index lies in the range, which is checked when the function runs: the loop is
//! generated both ways and the check picks one.
//!
//! A call may write a scratch array through `&mut` (ADBench's `Qtimesx(.., out)`)
//! when the callee writes it whole before reading any of it. The callee's own
//! expansion states for which length it does so ([`fills`]); the caller asks it,
//! through the generated `callee::__fills_argN`, with the lengths of the arrays
//! it passes, as one more run-time check.

use std::collections::{HashMap, HashSet};

use crate::analysis::activity::Activity;
use crate::ir::{
    walk, ArgPass, ArrayInit, Block, CallArg, FloatOp, Function, LoopKind, Operand, Origin, PExpr,
    Stmt, Ty, VarId,
};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// How one loop is preaccumulated.
#[derive(Clone, Debug)]
pub struct Preacc {
    /// The accumulator (`acc = acc + e` is the only use of it in the body).
    pub acc: VarId,
    /// Active variables from outside the loop that the body reads: their adjoint
    /// contributions are collected separately and scaled by the accumulator's.
    pub inputs: Vec<VarId>,
    /// Conditions (on values fixed before the loop) under which the scratch arrays
    /// are written before they are read; empty when that is shown statically.
    pub checks: Vec<TokenStream>,
    /// `Some(negated)` when the accumulator's adjoint is known before the reverse
    /// sweep: `±seed`, the sum reaching the result through `+`, `-` and copies
    /// only (see [`seeded_sign`]). The iterations then add their contributions
    /// straight into the inputs' adjoints, scaled by it, and need no buffers.
    pub seeded: Option<bool>,
    /// Joint calls of the body whose reverse runs where the call runs (see
    /// [`fused_calls`]): by statement position, whether the result's adjoint is
    /// the accumulator's negated.
    pub fused: HashMap<usize, bool>,
}

/// The loops (by statement position, as in `tbr`) that are preaccumulated.
pub fn analyze(func: &Function, activity: &Activity) -> HashMap<usize, Preacc> {
    let mut out = HashMap::new();
    let mut pos = 0;
    let body = &func.body;
    for (k, stmt) in body.iter().enumerate() {
        let here = pos;
        pos += crate::analysis::tbr::count(stmt);
        let Stmt::Loop(looped) = stmt else { continue };
        let LoopKind::For { index, .. } = &looped.kind else {
            continue;
        };
        if looped.exit.is_some() || !looped.reset.is_empty() {
            continue;
        }
        // Declared in the body and written there: a read hoisted out of an inner
        // loop to before this one (`transform::hoist`) is declared in the body but
        // is an input of it now.
        let mut written: HashSet<VarId> = HashSet::new();
        walk(&looped.body, true, &mut |stmt, _| {
            written.extend(stmt.writes());
            if let Stmt::Loop(inner) = stmt {
                if let LoopKind::For { index, .. } = &inner.kind {
                    written.extend(*index);
                }
            }
        });
        let local = |var: VarId| {
            (looped.body_vars.contains(&var.0) && written.contains(&var)) || Some(var) == *index
        };
        if let Some(preacc) = candidate(func, activity, &looped.body, &local, &body[k + 1..], here)
        {
            out.insert(here, preacc);
        }
    }
    out
}

fn candidate(
    func: &Function,
    activity: &Activity,
    loop_body: &Block,
    local: &dyn Fn(VarId) -> bool,
    after: &[Stmt],
    loop_pos: usize,
) -> Option<Preacc> {
    let mut acc: Option<VarId> = None;
    let mut scratch: HashSet<VarId> = HashSet::new();
    let mut reads: HashSet<VarId> = HashSet::new();
    let mut ok = true;
    let mut active = false;
    // Arrays copied whole in the body: a scratch array must not be one.
    let mut copied: Vec<VarId> = Vec::new();
    walk(loop_body, true, &mut |stmt, _| {
        active |= crate::analysis::tbr::stmt_is_active(stmt, activity);
        let stmt_reads = stmt.reads();
        match stmt {
            Stmt::Float { dst, op, .. } if !local(*dst) => {
                // Only `dst = dst ± e` may write a float from outside.
                if !accumulates(*dst, op) || acc.is_some_and(|acc| acc != *dst) {
                    ok = false;
                }
                acc = Some(*dst);
                reads.extend(stmt_reads.into_iter().filter(|var| var != dst));
                return;
            }
            Stmt::Passive { dst, .. } => ok &= local(*dst),
            Stmt::Store { array, .. } => {
                if !local(*array) {
                    scratch.insert(*array);
                }
            }
            Stmt::NewArray { dst, init, .. } => {
                ok &= local(*dst);
                if let ArrayInit::CopyOf { src, .. } = init {
                    copied.push(*src);
                }
            }
            // A call to another differentiated function: its result must be a
            // body local; it may read arrays (`sqnorm(&qx)`) and write scratch
            // arrays through `&mut` (`qtimesx(.., &mut qx)`) if it writes them
            // whole before reading them, which `Coverage` checks.
            Stmt::Call {
                dst, args, tangent, ..
            } => {
                ok &= tangent.is_none() && dst.is_none_or(local);
                for arg in args {
                    if let CallArg::MutArray { var, .. } = arg {
                        if !local(*var) {
                            scratch.insert(*var);
                        }
                    }
                }
            }
            // Exit flags reset per iteration are writes no statement shows.
            Stmt::Loop(inner) => ok &= inner.reset.iter().all(|flag| local(*flag)),
            Stmt::Float { .. } | Stmt::Effect(_) | Stmt::If { .. } => {}
        }
        reads.extend(stmt_reads);
    });
    let acc = acc?;
    if !ok || !active || !activity.is_active(acc) {
        return None;
    }
    // The accumulator is read only by its own updates.
    if reads.contains(&acc) || copied.iter().any(|src| scratch.contains(src)) {
        return None;
    }
    // Scratch arrays: locals, dead after the loop, written before read.
    let used_after = mentioned(after);
    for array in &scratch {
        if !matches!(func.var(*array).origin, Origin::Local) || used_after.contains(array) {
            return None;
        }
    }
    let defs = single_defs(func);
    let lengths = array_lengths(func, loop_body);
    let mut checks = Vec::new();
    let mut coverage = Coverage {
        func,
        defs: &defs,
        lengths: &lengths,
        scratch: &scratch,
        local,
        loop_pos,
        facts: Vec::new(),
        loops: Vec::new(),
        checks: &mut checks,
        fills: true,
        ok: true,
    };
    coverage.block(loop_body);
    if !coverage.ok {
        return None;
    }
    let mut inputs: Vec<VarId> = reads
        .into_iter()
        .filter(|var| {
            !local(*var)
                && !scratch.contains(var)
                && *var != acc
                && activity.is_active(*var)
                && matches!(func.var(*var).ty, Ty::Float | Ty::FloatArray(_))
        })
        .collect();
    inputs.sort();
    checks.dedup_by(|a, b| a.to_string() == b.to_string());
    let seeded = seeded_sign(func, acc, &inputs, after);
    Some(Preacc {
        acc,
        inputs,
        checks,
        seeded,
        fused: fused_calls(loop_body, acc, loop_pos + 1),
    })
}

/// Joint calls whose result goes straight into the accumulator: `t = f(&v, ..)`
/// followed, at the top level of the body, by `acc = acc + t` (or `t + acc`,
/// `acc - t`) and nothing else reading `t`; with nothing after the call in the
/// body writing what it reads. Within an iteration the accumulator's adjoint is
/// fixed (one, or `±seed`), so `t`'s adjoint is known when the call runs: the
/// forward sweep runs the callee's reverse sweep there (`f::__reverse`, which
/// returns the value too) and the reverse sweep has nothing left to do for it,
/// where a joint call would otherwise run the callee twice (GMM's
/// `slse += log_sum_exp(&main_term)`: its exponentials once, not twice). The
/// adjoints it adds to are read only by the reverse of statements before it,
/// which runs later either way.
///
/// `body_pos` is the position of the body's first statement; the result maps
/// the positions of such calls to whether the result's adjoint is negated.
fn fused_calls(body: &Block, acc: VarId, body_pos: usize) -> HashMap<usize, bool> {
    let mut out = HashMap::new();
    let mut pos = body_pos;
    for (k, stmt) in body.iter().enumerate() {
        let here = pos;
        pos += crate::analysis::tbr::count(stmt);
        let Stmt::Call {
            dst: Some(result),
            args,
            tangent: None,
            ..
        } = stmt
        else {
            continue;
        };
        // Joint calls only, with no array by value (whose adjoint goes through
        // the stack's sink).
        let by_value = args.iter().any(|arg| {
            matches!(
                arg,
                CallArg::Array {
                    by: ArgPass::Value,
                    ..
                }
            )
        });
        if crate::analysis::tbr::split_call(args) || by_value {
            continue;
        }
        let result = *result;
        // `result`: written here only, read once, by the accumulator's update.
        let (mut writers, mut readers) = (0, 0);
        walk(body, true, &mut |stmt, _| {
            writers += stmt.writes().iter().filter(|var| **var == result).count();
            readers += usize::from(stmt.reads().contains(&result));
        });
        if writers != 1 || readers != 1 {
            continue;
        }
        let is = |operand: &Operand, var: VarId| operand.var() == Some(var);
        let negated = body[k + 1..].iter().find_map(|later| match later {
            Stmt::Float { dst, op, .. } if *dst == acc => match op {
                FloatOp::Add(a, b)
                    if (is(a, acc) && is(b, result)) || (is(a, result) && is(b, acc)) =>
                {
                    Some(false)
                }
                FloatOp::Sub(a, b) if is(a, acc) && is(b, result) => Some(true),
                _ => None,
            },
            _ => None,
        });
        let Some(negated) = negated else { continue };
        // Nothing after the call writes what it reads.
        let reads: HashSet<VarId> = stmt.reads().into_iter().collect();
        let mut overwritten = false;
        walk(&body[k + 1..].to_vec(), true, &mut |later, _| {
            overwritten |= later.writes().iter().any(|var| reads.contains(var));
        });
        if !overwritten {
            out.insert(here, negated);
        }
    }
    out
}

/// Whether the accumulator's adjoint, when the reverse sweep reaches the loop, is
/// the seed of the sweep or its negation (`Some(negated)`), so that it is known
/// while the loop runs.
///
/// It is when the accumulator flows to the result only through top-level
/// statements `t = acc + x`, `x + acc`, `acc - x`, `x - acc`, `-acc` or copies,
/// each link used by nothing else after the loop (GMM: `constant + slse - n *
/// lse_alphas + prior`). The inputs must also not be written after the loop: the
/// reverse of such a write would reset an adjoint the loop has already added to.
fn seeded_sign(func: &Function, acc: VarId, inputs: &[VarId], after: &[Stmt]) -> Option<bool> {
    let ret = func.ret?;
    if !matches!(func.var(ret).ty, Ty::Float) {
        return None;
    }
    let mut written_after: Vec<VarId> = Vec::new();
    walk(&after.to_vec(), false, &mut |stmt, _| {
        written_after.extend(stmt.writes());
    });
    if written_after
        .iter()
        .any(|var| *var == acc || inputs.contains(var))
    {
        return None;
    }
    // Variables each top-level statement after the loop mentions (nested included).
    let mentions: Vec<HashSet<VarId>> = after
        .iter()
        .map(|stmt| mentioned(std::slice::from_ref(stmt)))
        .collect();
    let mut link = acc;
    let mut defined_at: Option<usize> = None;
    let mut negated = false;
    while link != ret {
        let users: Vec<usize> = (0..after.len())
            .filter(|k| Some(*k) != defined_at && mentions[*k].contains(&link))
            .collect();
        let [k] = users[..] else { return None };
        if defined_at.is_some_and(|def| k <= def) {
            return None;
        }
        let Stmt::Float { dst, op, .. } = &after[k] else {
            return None;
        };
        let is_link = |operand: &Operand| operand.var() == Some(link);
        let flips = match op {
            FloatOp::Copy(a) if is_link(a) => false,
            FloatOp::Neg(a) if is_link(a) => true,
            FloatOp::Add(a, b) if is_link(a) != is_link(b) => false,
            FloatOp::Sub(a, b) if is_link(a) && !is_link(b) => false,
            FloatOp::Sub(a, b) if is_link(b) && !is_link(a) => true,
            _ => return None,
        };
        let dst = *dst;
        // The next link is written once after the loop, here, and is a float.
        if !matches!(func.var(dst).ty, Ty::Float)
            || written_after.iter().filter(|var| **var == dst).count() != 1
        {
            return None;
        }
        negated ^= flips;
        link = dst;
        defined_at = Some(k);
    }
    // The result itself: read by nothing after its definition.
    let later_uses = (0..after.len())
        .filter(|k| Some(*k) != defined_at && mentions[*k].contains(&ret))
        .count();
    (later_uses == 0).then_some(negated)
}

/// Whether `op`, written to `dst`, is `dst + e`, `e + dst` or `dst - e` with `e`
/// not `dst`: the adjoint of `dst` passes through it unchanged.
fn accumulates(dst: VarId, op: &FloatOp) -> bool {
    let is_dst = |operand: &Operand| operand.var() == Some(dst);
    match op {
        FloatOp::Add(a, b) => is_dst(a) != is_dst(b),
        FloatOp::Sub(a, b) => is_dst(a) && !is_dst(b),
        _ => false,
    }
}

/// Every variable the statements of a block (nested ones included) read or write.
fn mentioned(block: &[Stmt]) -> HashSet<VarId> {
    let mut out = HashSet::new();
    walk(&block.to_vec(), false, &mut |stmt, _| {
        out.extend(stmt.reads());
        out.extend(stmt.writes());
    });
    out
}

/// Local arrays created by exactly one statement, outside loops, with a length
/// (`vec![0.0; d]`, `[0.0; 4]`), and written otherwise only element by element or
/// by calls in `body` (the loop being preaccumulated, where `Coverage` requires a
/// call given one `&mut` to write it whole, so that its length stays): their
/// length as a comparable string.
fn array_lengths(func: &Function, body: &Block) -> HashMap<VarId, String> {
    let mut creations: HashMap<VarId, Vec<Option<String>>> = HashMap::new();
    let mut whole_writes: HashMap<VarId, usize> = HashMap::new();
    walk(&func.body, false, &mut |stmt, in_loop| match stmt {
        Stmt::NewArray { dst, init, .. } => {
            let len = match init {
                ArrayInit::VecFill { len, .. } if !in_loop => Some(normalize(&len.tokens)),
                ArrayInit::FixedFill { len, .. } if !in_loop => Some(normalize(len)),
                _ => None,
            };
            creations.entry(*dst).or_default().push(len);
        }
        Stmt::Call { args, .. } => {
            for arg in args {
                if let CallArg::MutArray { var, .. } = arg {
                    *whole_writes.entry(*var).or_default() += 1;
                }
            }
        }
        _ => {}
    });
    walk(body, true, &mut |stmt, _| {
        if let Stmt::Call { args, .. } = stmt {
            for arg in args {
                if let CallArg::MutArray { var, .. } = arg {
                    if let Some(count) = whole_writes.get_mut(var) {
                        *count -= 1;
                    }
                }
            }
        }
    });
    creations
        .into_iter()
        .filter(|(var, lens)| lens.len() == 1 && whole_writes.get(var).is_none_or(|n| *n == 0))
        .filter_map(|(var, mut lens)| lens.pop().flatten().map(|len| (var, len)))
        .collect()
}

/// Passive variables written exactly once: their value (and its position).
fn single_defs(func: &Function) -> HashMap<VarId, (PExpr, usize, bool)> {
    let mut writes: HashMap<VarId, usize> = HashMap::new();
    let mut defs: HashMap<VarId, (PExpr, usize, bool)> = HashMap::new();
    let mut pos = 0;
    walk(&func.body, false, &mut |stmt, in_loop| {
        if let Stmt::Passive { dst, value, .. } = stmt {
            defs.insert(*dst, (value.clone(), pos, in_loop));
        }
        pos += 1;
        for var in stmt.writes() {
            *writes.entry(var).or_default() += 1;
        }
    });
    defs.retain(|var, _| writes.get(var) == Some(&1));
    defs
}

/// Walks a loop body in order, tracking which element ranges of scratch arrays
/// the current iteration has written, and checks every read of one.
struct Coverage<'a> {
    func: &'a Function,
    defs: &'a HashMap<VarId, (PExpr, usize, bool)>,
    /// Lengths of arrays created once, outside loops (see [`array_lengths`]).
    lengths: &'a HashMap<VarId, String>,
    scratch: &'a HashSet<VarId>,
    local: &'a dyn Fn(VarId) -> bool,
    loop_pos: usize,
    /// Covered ranges in scope: (array, lo, hi) as token strings.
    facts: Vec<(VarId, String, String)>,
    /// Enclosing loops inside the body: (index, lo, hi).
    loops: Vec<(Option<VarId>, Option<String>, Option<String>)>,
    checks: &'a mut Vec<TokenStream>,
    /// Whether a call may write a scratch array through `&mut`, under a check
    /// that it writes it whole before reading it (see [`fills`]).
    fills: bool,
    ok: bool,
}

impl Coverage<'_> {
    /// The value of a loop bound as a string, if it is fixed for the whole loop
    /// being preaccumulated (it reads nothing the body writes, bar indices).
    fn bound(&self, var: VarId) -> Option<String> {
        let (value, _, _) = self.defs.get(&var)?;
        let fixed = value.reads.iter().all(|read| {
            self.loops.iter().any(|(index, _, _)| *index == Some(*read))
                || self.invariant(*read)
                || self.length_only(*read, &value.tokens)
        });
        fixed.then(|| normalize(&value.tokens))
    }

    /// A scratch array that a bound reads only for its length (`out.len()`),
    /// which element writes do not change.
    fn length_only(&self, var: VarId, tokens: &TokenStream) -> bool {
        self.scratch.contains(&var)
            && matches!(self.func.var(var).ty, Ty::FloatArray(_))
            && only_len_of(tokens, &self.func.var(var).name)
    }

    /// A variable the preaccumulated loop does not write.
    fn invariant(&self, var: VarId) -> bool {
        !(self.local)(var) && !self.scratch.contains(&var) && self.written_once_before(var)
    }

    /// A parameter, or a local written once, outside loops, before the loop: its
    /// value is known when the loop starts.
    fn written_once_before(&self, var: VarId) -> bool {
        match self.func.var(var).origin {
            Origin::Param(_) => !self.defs.contains_key(&var) || self.defs_before(var),
            Origin::Local => self.defs_before(var),
            Origin::LoopIndex => false,
        }
    }

    fn defs_before(&self, var: VarId) -> bool {
        self.defs
            .get(&var)
            .is_some_and(|(_, pos, in_loop)| !in_loop && *pos < self.loop_pos)
    }

    fn block(&mut self, block: &Block) {
        let scope = self.facts.len();
        for stmt in block {
            self.stmt(stmt);
        }
        self.facts.truncate(scope);
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Float {
                op: FloatOp::Read { array, index },
                ..
            } if self.scratch.contains(array) => self.read(*array, index),
            Stmt::If {
                then_block,
                else_block,
                ..
            } => {
                self.block(then_block);
                self.block(else_block);
            }
            Stmt::Call { func, args, .. } => {
                for arg in args {
                    if let CallArg::Array { var, .. } = arg {
                        if self.scratch.contains(var) {
                            self.whole(*var);
                        }
                    }
                }
                for (position, arg) in args.iter().enumerate() {
                    if let CallArg::MutArray { var, .. } = arg {
                        if self.scratch.contains(var) {
                            self.filled_by_call(func, args, position, *var);
                        }
                    }
                }
            }
            Stmt::Loop(looped) => {
                let (index, lo, hi) = match &looped.kind {
                    LoopKind::For { index, seq } if seq.chain.is_empty() && !seq.inclusive => {
                        (*index, self.bound(seq.lo), self.bound(seq.hi))
                    }
                    LoopKind::For { index, .. } => (*index, None, None),
                    LoopKind::Infinite => (None, None, None),
                };
                self.loops.push((index, lo.clone(), hi.clone()));
                self.block(&looped.body);
                self.loops.pop();
                // A loop that stores `a[index]` at its top level, unconditionally
                // and without exits, covers `a[lo..hi]` from here on.
                if let (Some(index), Some(lo), Some(hi), None) = (index, lo, hi, &looped.exit) {
                    let name = &self.func.var(index).name;
                    for inner in &looped.body {
                        if let Stmt::Store {
                            array, index: at, ..
                        } = inner
                        {
                            if self.scratch.contains(array) && normalize(&at.tokens) == *name {
                                self.facts.push((*array, lo.clone(), hi.clone()));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A scratch array given to a call as its `&mut` argument at `position`:
    /// covered from here on if the callee writes it whole before reading it.
    /// The callee's `__fills_argN` tells, from the lengths of the arrays passed
    /// and the integers (see [`fills`]); it is called with them before the loop,
    /// so they must be known then: integers fixed before the loop, arrays of a
    /// fixed length. An integer computed in the loop (`qtimesx(.., ik * d, ..)`,
    /// an offset) is replaced by a placeholder, with the check that the callee's
    /// answer does not read it.
    fn filled_by_call(
        &mut self,
        callee: &TokenStream,
        args: &[CallArg],
        position: usize,
        array: VarId,
    ) {
        let len = match self.lengths.get(&array) {
            Some(len) if self.fills => len.clone(),
            _ => {
                self.ok = false;
                return;
            }
        };
        let mut values = Vec::new();
        for arg in args {
            let value = match arg {
                CallArg::Float(_) => quote!(::core::default::Default::default()),
                CallArg::Array { var, .. } | CallArg::MutArray { var, .. } => {
                    let fixed = self.lengths.contains_key(var)
                        || matches!(self.func.var(*var).origin, Origin::Param(_));
                    if !fixed {
                        self.ok = false;
                        return;
                    }
                    let name =
                        crate::ir::ident(&self.func.var(*var).name, proc_macro2::Span::call_site());
                    quote!(&#name)
                }
                CallArg::Passive(value) => {
                    if self.known_at_start(&normalize(&value.tokens)) {
                        value.tokens.clone()
                    } else {
                        // Not known before the loop (an offset computed from
                        // its index): fine if the callee's check does not read
                        // it (`__FILLS_ARGn_READS[k]`), which is then given a
                        // placeholder.
                        let reads = format_ident!("__FILLS_ARG{}_READS", position);
                        let k = proc_macro2::Literal::usize_unsuffixed(values.len());
                        self.checks.push(quote!((!#callee::#reads[#k])));
                        quote!(::core::default::Default::default())
                    }
                }
            };
            values.push(value);
        }
        let check = format_ident!("__fills_arg{}", position);
        self.checks.push(quote!(#callee::#check(#(#values),*)));
        self.facts.push((array, "0".to_string(), len));
    }

    /// A read of a whole scratch array (passed to a call): covered when the
    /// iteration has written `a[0..len]`, `len` the length it was created with.
    fn whole(&mut self, array: VarId) {
        let covered = self.lengths.get(&array).is_some_and(|len| {
            self.facts
                .iter()
                .any(|(fact_array, lo, hi)| *fact_array == array && lo == "0" && hi == len)
        });
        if !covered {
            self.ok = false;
        }
    }

    fn read(&mut self, array: VarId, index: &PExpr) {
        let at = normalize(&index.tokens);
        // `a[b]` with `b` the index of an enclosing `for b in lo2..hi2`.
        if let Some((_, lo2, hi2)) = self
            .loops
            .iter()
            .rev()
            .find(|(loop_index, _, _)| loop_index.is_some_and(|v| self.func.var(v).name == at))
        {
            let covered = self.facts.iter().any(|(fact_array, lo, hi)| {
                *fact_array == array
                    && hi2.as_ref() == Some(hi)
                    && (lo == "0" || lo2.as_ref() == Some(lo))
            });
            if !covered {
                self.ok = false;
            }
            return;
        }
        // A constant index: covered if it lies in a covered range whose bounds
        // are known when the loop starts, checked at run time.
        let constant = !at.is_empty() && at.chars().all(|c| c.is_ascii_digit());
        let fact = self
            .facts
            .iter()
            .rev()
            .find(|(fact_array, _, _)| *fact_array == array)
            .cloned();
        match fact {
            Some((_, lo, hi))
                if constant && self.known_at_start(&lo) && self.known_at_start(&hi) =>
            {
                let (lo, hi, at): (TokenStream, TokenStream, TokenStream) = (
                    lo.parse().unwrap_or_default(),
                    hi.parse().unwrap_or_default(),
                    at.parse().unwrap_or_default(),
                );
                self.checks.push(quote!(((#lo) <= (#at) && (#at) < (#hi))));
            }
            _ => self.ok = false,
        }
    }

    /// Whether a bound (as a string) reads only values known before the loop.
    fn known_at_start(&self, bound: &str) -> bool {
        let tokens: TokenStream = match bound.parse() {
            Ok(tokens) => tokens,
            Err(_) => return false,
        };
        idents(&tokens).iter().all(|name| {
            self.func
                .vars
                .iter()
                .enumerate()
                .find(|(_, var)| var.name == *name)
                .is_none_or(|(id, _)| self.written_once_before(VarId(id as u32)))
        })
    }
}

/// Identifiers in a token stream, nested groups included.
pub fn idents(tokens: &TokenStream) -> Vec<String> {
    let mut out = Vec::new();
    for tree in tokens.clone() {
        match tree {
            proc_macro2::TokenTree::Ident(ident) => out.push(ident.to_string()),
            proc_macro2::TokenTree::Group(group) => out.extend(idents(&group.stream())),
            _ => {}
        }
    }
    out
}

/// Tokens as a comparable string, outer parentheses removed.
fn normalize(tokens: &TokenStream) -> String {
    let trees: Vec<proc_macro2::TokenTree> = tokens.clone().into_iter().collect();
    if let [proc_macro2::TokenTree::Group(group)] = trees.as_slice() {
        if group.delimiter() == proc_macro2::Delimiter::Parenthesis {
            return normalize(&group.stream());
        }
    }
    tokens.to_string()
}

/// For each float array parameter at a position `wanted` (the `&mut` ones): the length to which the
/// function writes it, from index 0, before it reads any element of it, as an
/// expression of the integer parameters and the lengths of the array
/// parameters (`x.len()`); `None` if that is not shown. A caller that passes a
/// scratch array there can then preaccumulate a loop around the call: the
/// callee never sees what an earlier iteration left in the array, and if the
/// expression equals the array's length, it leaves none of it either (checked
/// by the caller through the generated `__fills_argN`).
pub fn fills(func: &Function, wanted: &dyn Fn(usize) -> bool) -> Vec<(usize, Option<TokenStream>)> {
    let params: Vec<(usize, VarId)> = func
        .vars
        .iter()
        .enumerate()
        .filter_map(|(id, var)| match var.origin {
            Origin::Param(position) => Some((position, VarId(id as u32))),
            _ => None,
        })
        .collect();
    let defs = single_defs(func);
    let lengths = HashMap::new();
    // What the length may mention: the integer and array parameters.
    let allowed: HashSet<String> = params
        .iter()
        .filter(|(_, var)| matches!(func.var(*var).ty, Ty::Int(_) | Ty::FloatArray(_)))
        .map(|(_, var)| func.var(*var).name.clone())
        .chain(
            ["len", "as", "usize", "isize", "u32", "i32", "u64", "i64"]
                .into_iter()
                .map(String::from),
        )
        .collect();
    let mut out = Vec::new();
    for &(position, array) in &params {
        if !wanted(position) || !matches!(func.var(array).ty, Ty::FloatArray(_)) {
            continue;
        }
        let scratch: HashSet<VarId> = [array].into_iter().collect();
        let mut checks = Vec::new();
        let mut coverage = Coverage {
            func,
            defs: &defs,
            lengths: &lengths,
            scratch: &scratch,
            local: &|_| false,
            loop_pos: usize::MAX,
            facts: Vec::new(),
            loops: Vec::new(),
            checks: &mut checks,
            fills: false,
            ok: true,
        };
        for stmt in &func.body {
            coverage.stmt(stmt);
        }
        let mut recreated = false;
        walk(&func.body, false, &mut |stmt, _| {
            recreated |= matches!(stmt, Stmt::NewArray { dst, .. } if *dst == array);
        });
        let len = coverage
            .facts
            .iter()
            .find(|(fact_array, lo, _)| *fact_array == array && lo == "0")
            .and_then(|(_, _, hi)| hi.parse::<TokenStream>().ok())
            .map(|hi| inline_defs(func, &defs, hi, 8))
            .filter(|hi| idents(hi).iter().all(|name| allowed.contains(name)));
        let len = if coverage.ok && checks.is_empty() && !recreated {
            len
        } else {
            None
        };
        out.push((position, len));
    }
    out
}

/// `tokens` with each local written once outside loops replaced by its value (in
/// parentheses), `depth` levels deep: `d` for `let d = x.len();`.
fn inline_defs(
    func: &Function,
    defs: &HashMap<VarId, (PExpr, usize, bool)>,
    tokens: TokenStream,
    depth: usize,
) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) if depth > 0 => {
                let def = defs.iter().find(|(var, (_, _, in_loop))| {
                    !in_loop
                        && matches!(func.var(**var).origin, Origin::Local)
                        && ident == func.var(**var).name.as_str()
                });
                match def {
                    Some((_, (value, _, _))) => {
                        let inner = inline_defs(func, defs, value.tokens.clone(), depth - 1);
                        TokenTree::Group(Group::new(proc_macro2::Delimiter::Parenthesis, inner))
                    }
                    None => TokenTree::Ident(ident),
                }
            }
            TokenTree::Group(group) => {
                let inner = inline_defs(func, defs, group.stream(), depth);
                let mut regrouped = Group::new(group.delimiter(), inner);
                regrouped.set_span(group.span());
                TokenTree::Group(regrouped)
            }
            other => other,
        })
        .collect()
}

/// Whether every mention of `name` in `tokens` is `name.len()`.
fn only_len_of(tokens: &TokenStream, name: &str) -> bool {
    use proc_macro2::TokenTree;
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    trees.iter().enumerate().all(|(at, tree)| match tree {
        TokenTree::Ident(ident) if ident == name => {
            matches!(trees.get(at + 1), Some(TokenTree::Punct(dot)) if dot.as_char() == '.')
                && matches!(trees.get(at + 2), Some(TokenTree::Ident(len)) if len == "len")
                && matches!(trees.get(at + 3), Some(TokenTree::Group(args)) if args.stream().is_empty())
        }
        TokenTree::Group(group) => only_len_of(&group.stream(), name),
        _ => true,
    })
}
