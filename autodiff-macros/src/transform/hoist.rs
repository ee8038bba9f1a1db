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

use crate::ir::{
    walk, ArgTangent, Block, CallArg, FloatOp, Function, LoopKind, PExpr, Stmt, VarId,
};
use quote::quote;

/// Hoists loop-invariant reads in `func`, innermost loops first.
pub fn invariant_reads(func: &mut Function) {
    let mut writes: HashMap<VarId, usize> = HashMap::new();
    walk(&func.body, false, &mut |stmt, _| {
        for var in written(stmt) {
            *writes.entry(var).or_default() += 1;
        }
    });
    let names: Vec<String> = func.vars.iter().map(|var| var.name.clone()).collect();
    let body = std::mem::take(&mut func.body);
    func.body = block(body, &writes, &names);
}

fn block(stmts: Block, writes: &HashMap<VarId, usize>, names: &[String]) -> Block {
    let mut out = Vec::with_capacity(stmts.len());
    for stmt in stmts {
        match stmt {
            Stmt::If {
                cond,
                then_block,
                else_block,
            } => out.push(Stmt::If {
                cond,
                then_block: block(then_block, writes, names),
                else_block: block(else_block, writes, names),
            }),
            Stmt::Loop(mut looped) => {
                looped.body = block(std::mem::take(&mut looped.body), writes, names);
                let hoisted = hoistable(&mut looped, writes);
                if hoisted.is_empty() {
                    out.push(Stmt::Loop(looped));
                    continue;
                }
                let LoopKind::For { seq, .. } = &looped.kind else {
                    out.push(Stmt::Loop(looped));
                    continue;
                };
                let lo =
                    crate::ir::ident(&names[seq.lo.0 as usize], proc_macro2::Span::call_site());
                let hi =
                    crate::ir::ident(&names[seq.hi.0 as usize], proc_macro2::Span::call_site());
                let tokens = if seq.inclusive {
                    quote!(#lo <= #hi)
                } else {
                    quote!(#lo < #hi)
                };
                let cond = PExpr {
                    tokens,
                    reads: vec![seq.lo, seq.hi],
                };
                out.push(Stmt::If {
                    cond,
                    then_block: hoisted,
                    else_block: Vec::new(),
                });
                out.push(Stmt::Loop(looped));
            }
            other => out.push(other),
        }
    }
    out
}

/// Removes the loop-invariant reads from the top level of `looped`'s body and
/// returns them in order.
fn hoistable(looped: &mut crate::ir::Loop, writes: &HashMap<VarId, usize>) -> Block {
    let LoopKind::For { index, seq } = &looped.kind else {
        return Vec::new();
    };
    if !seq.chain.is_empty() {
        return Vec::new();
    }
    let mut in_loop: HashSet<VarId> = HashSet::new();
    walk(&looped.body, true, &mut |stmt, _| {
        in_loop.extend(written(stmt))
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
    hoisted
}

/// The variables a statement writes (not those of nested statements).
fn written(stmt: &Stmt) -> Vec<VarId> {
    match stmt {
        Stmt::Float { dst, .. } | Stmt::Passive { dst, .. } | Stmt::NewArray { dst, .. } => {
            vec![*dst]
        }
        Stmt::Store { array, .. } => vec![*array],
        Stmt::Call {
            dst, args, tangent, ..
        } => {
            let mut out: Vec<VarId> = dst.iter().copied().collect();
            out.extend(args.iter().filter_map(|arg| match arg {
                CallArg::MutArray { var, .. } => Some(*var),
                _ => None,
            }));
            if let Some(tangent) = tangent {
                out.extend(tangent.dst);
                out.extend(tangent.args.iter().filter_map(|arg| match arg {
                    ArgTangent::MutArray(var) => *var,
                    _ => None,
                }));
            }
            out
        }
        _ => Vec::new(),
    }
}
