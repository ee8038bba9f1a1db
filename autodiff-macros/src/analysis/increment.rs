//! In-place increments of array elements: `a[i] += e`, lowered to a read, an add
//! and a store of the same element, whose adjoint passes through unchanged.
//!
//! ```text
//! r = a[i];  s = r + e;  a[i] = s;
//! ```
//!
//! Reversed statement by statement, the store takes `ā[i]` and zeroes it, the add
//! hands it to `r̄` and `ē`, and the read adds `r̄` back into `ā[i]`: a load and two
//! stores of `ā[i]` that leave it as it was, with a bounds check in between that
//! keeps LLVM from removing them. Recognised as one increment, the reverse is
//! `ē += ā[i]` (`ē -= ā[i]` for `a[i] -= e`), what a hand-written adjoint does.

use std::collections::{HashMap, HashSet};

use crate::analysis::tbr::{count, nested_blocks, StmtPos, Tbr};
use crate::ir::{Block, FloatOp, Function, Operand, Stmt, VarId};

/// The increments of a function, by statement position (as in `tbr`).
#[derive(Debug, Default)]
pub struct Increments {
    /// Store position → the increment `e` and whether it is subtracted.
    pub stores: HashMap<StmtPos, (Operand, bool)>,
    /// The reads and adds folded into those stores: their reverse is empty.
    pub folded: HashSet<StmtPos>,
}

/// Finds `r = a[i]; s = r ± e; a[i] = s;` in consecutive statements, with `r` and
/// `s` used nowhere else and not saved, and `i` the same passive expression
/// (without calls) in the read and the store.
pub fn find(func: &Function, tbr: &Tbr) -> Increments {
    let mut uses: HashMap<VarId, usize> = HashMap::new();
    crate::ir::walk(&func.body, false, &mut |stmt, _| {
        for var in stmt.reads() {
            *uses.entry(var).or_default() += 1;
        }
    });
    if let Some(ret) = func.ret {
        *uses.entry(ret).or_default() += 1;
    }
    let mut out = Increments::default();
    block(&func.body, 0, &uses, tbr, &mut out);
    out
}

fn block(
    stmts: &Block,
    start: StmtPos,
    uses: &HashMap<VarId, usize>,
    tbr: &Tbr,
    out: &mut Increments,
) {
    let mut positions = Vec::with_capacity(stmts.len());
    let mut pos = start;
    for stmt in stmts {
        positions.push(pos);
        for (inner, inner_pos) in nested_blocks(stmt, pos) {
            block(inner, inner_pos, uses, tbr, out);
        }
        pos += count(stmt);
    }
    let once = |var: VarId| uses.get(&var).copied() == Some(1);
    for (k, window) in stmts.windows(3).enumerate() {
        let [Stmt::Float {
            dst: read_dst,
            op:
                FloatOp::Read {
                    array: read_array,
                    index: read_index,
                },
            ..
        }, Stmt::Float {
            dst: sum_dst, op, ..
        }, Stmt::Store {
            array,
            index,
            value: Operand::Var(stored),
            ..
        }] = window
        else {
            continue;
        };
        let is_read = |operand: &Operand| operand.var() == Some(*read_dst);
        let (increment, negated) = match op {
            FloatOp::Add(a, b) if is_read(a) && !is_read(b) => (b, false),
            FloatOp::Add(a, b) if is_read(b) && !is_read(a) => (a, false),
            FloatOp::Sub(a, b) if is_read(a) && !is_read(b) => (b, true),
            _ => continue,
        };
        let (read_pos, sum_pos, store_pos) = (positions[k], positions[k + 1], positions[k + 2]);
        if read_array != array
            || stored != sum_dst
            || read_index.tokens.to_string() != index.tokens.to_string()
            || crate::analysis::tbr::calls_function(&index.tokens)
            || !once(*read_dst)
            || !once(*sum_dst)
            || tbr.saves(read_pos, *read_dst)
            || tbr.saves(sum_pos, *sum_dst)
        {
            continue;
        }
        out.stores.insert(store_pos, (increment.clone(), negated));
        out.folded.insert(read_pos);
        out.folded.insert(sum_pos);
    }
}
