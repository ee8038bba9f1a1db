//! Loop-invariant reads moved out of their loop (before any derivative code).
//!
//! `qx[b] += icf[lidx] * xcentered[a]` in a loop over `b` reads the same
//! `xcentered[a]` in every iteration. Left in the loop, its adjoint is an array
//! element accumulated in every iteration (`xcentered_bar[a] += ..`), a load and a
//! store LLVM cannot keep in a register, since it cannot tell the adjoint arrays
//! apart. Read once before the loop, the value is one scalar whose adjoint sums
//! in a register and reaches the array once, after the loop's reverse sweep.
//!
//! A read moves when it is a statement at the top level of a `for` loop's body
//! (so it runs in every iteration), its array and index are not written anywhere
//! in the loop, its result is written nowhere else, and the range has no
//! `step_by`. It moves into `if lo < hi { .. }` (`<=` for `..=`), so an empty loop
//! reads nothing, as before.

use std::collections::{HashMap, HashSet};

use crate::ir::{walk, Block, FloatOp, Function, Loop, LoopKind, PExpr, Stmt, Var, VarId};
use quote::quote;

/// Hoists loop-invariant reads in `func`, innermost loops first.
pub fn invariant_reads(func: &mut Function) {
    let mut writes: HashMap<VarId, usize> = HashMap::new();
    walk(&func.body, false, &mut |stmt, _| {
        for var in stmt.writes() {
            *writes.entry(var).or_default() += 1;
        }
    });
    let body = std::mem::take(&mut func.body);
    func.body = block(body, &writes, &func.vars);
}

fn block(stmts: Block, writes: &HashMap<VarId, usize>, vars: &[Var]) -> Block {
    let mut out = Vec::with_capacity(stmts.len());
    for stmt in stmts {
        match stmt {
            Stmt::If {
                cond,
                then_block,
                else_block,
            } => out.push(Stmt::If {
                cond,
                then_block: block(then_block, writes, vars),
                else_block: block(else_block, writes, vars),
            }),
            Stmt::Loop(mut looped) => {
                looped.body = block(std::mem::take(&mut looped.body), writes, vars);
                out.extend(hoist(&mut looped, writes, vars));
                out.push(Stmt::Loop(looped));
            }
            other => out.push(other),
        }
    }
    out
}

/// Removes the loop-invariant reads from the top level of `looped`'s body and
/// returns them guarded by the loop's non-emptiness, if there are any.
fn hoist(looped: &mut Loop, writes: &HashMap<VarId, usize>, vars: &[Var]) -> Option<Stmt> {
    let LoopKind::For { index, seq } = &looped.kind else {
        return None;
    };
    if !seq.chain.is_empty() {
        return None;
    }
    let mut in_loop: HashSet<VarId> = HashSet::new();
    walk(&looped.body, true, &mut |stmt, _| {
        in_loop.extend(stmt.writes())
    });
    in_loop.extend(looped.reset.iter().copied());
    in_loop.extend(*index);
    let invariant = |stmt: &Stmt| match stmt {
        Stmt::Float {
            dst,
            op: FloatOp::Read { array, index },
            ..
        } => {
            writes.get(dst) == Some(&1)
                && !in_loop.contains(array)
                && index.reads.iter().all(|var| !in_loop.contains(var))
        }
        _ => false,
    };
    let (hoisted, kept): (Block, Block) = std::mem::take(&mut looped.body)
        .into_iter()
        .partition(|stmt| invariant(stmt));
    looped.body = kept;
    if hoisted.is_empty() {
        return None;
    }
    let name = |id: VarId| {
        let var = &vars[id.0 as usize];
        crate::ir::ident(&var.name, var.span)
    };
    let (lo, hi) = (name(seq.lo), name(seq.hi));
    let tokens = if seq.inclusive {
        quote!(#lo <= #hi)
    } else {
        quote!(#lo < #hi)
    };
    Some(Stmt::If {
        cond: PExpr {
            tokens,
            reads: vec![seq.lo, seq.hi],
        },
        then_block: hoisted,
        else_block: Vec::new(),
    })
}
