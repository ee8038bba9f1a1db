//! To-be-recorded analysis: which values the reverse sweep reads, and at which
//! assignments the old value must be saved so that the reverse sweep can restore
//! it.
//!
//! The reverse sweep restores every variable it reads to the value it had when
//! the forward sweep used it. An assignment to such a variable needs a save only if
//! some reverse read of the variable can happen after the assignment is undone:
//! a read at an earlier (or the same) program position, or a read in a loop that
//! also contains the assignment. Loop-free code that assigns each variable once
//! therefore saves nothing.

use crate::analysis::activity::{call_input, Activity};
use crate::ir::{Block, CallArg, FloatOp, Function, LoopKind, Origin, SeqOp, Stmt, VarId};

/// Identifies a statement by its position in a pre-order walk (`ir::walk` order).
pub type StmtPos = usize;

#[derive(Debug, Default)]
pub struct Tbr {
    /// Assignments whose old value is saved, by statement position.
    saves: Vec<bool>,
}

impl Tbr {
    /// Whether the statement at `pos` saves the value it overwrites.
    pub fn saves(&self, pos: StmtPos) -> bool {
        self.saves.get(pos).copied().unwrap_or(false)
    }
}

/// A statement's position and the loops around it (by position of the loop).
struct Site {
    pos: StmtPos,
    loops: Vec<StmtPos>,
}

fn shares_loop(a: &Site, b: &Site) -> bool {
    a.loops.iter().any(|l| b.loops.contains(l))
}

pub fn stmt_is_active(stmt: &Stmt, activity: &Activity) -> bool {
    match stmt {
        Stmt::Float { dst, .. } | Stmt::NewArray { dst, .. } => activity.is_active(*dst),
        Stmt::Store { array, .. } => activity.is_active(*array),
        Stmt::Call { dst, args, .. } => {
            dst.is_some_and(|dst| activity.is_active(dst))
                || args.iter().any(|arg| match arg {
                    CallArg::MutArray { var, .. } => activity.is_active(*var),
                    _ => false,
                })
        }
        _ => false,
    }
}

pub fn analyze(func: &Function, activity: &Activity) -> Tbr {
    let count = func.vars.len();
    let mut reads: Vec<Vec<Site>> = (0..count).map(|_| Vec::new()).collect();
    let mut writes: Vec<(VarId, Site)> = Vec::new();
    let mut pos = 0;
    collect(
        &func.body,
        activity,
        &mut Vec::new(),
        &mut pos,
        &mut reads,
        &mut writes,
    );
    let mut saves = vec![false; pos];
    for (var, site) in &writes {
        let var_reads = &reads[var.0 as usize];
        let is_param = matches!(func.var(*var).origin, Origin::Param(_));
        let save = var_reads
            .iter()
            .any(|read| read.pos <= site.pos || shares_loop(read, site))
            || (is_param && !var_reads.is_empty());
        if save {
            saves[site.pos] = true;
        }
    }
    Tbr { saves }
}

fn collect(
    block: &Block,
    activity: &Activity,
    loops: &mut Vec<StmtPos>,
    pos: &mut StmtPos,
    reads: &mut [Vec<Site>],
    writes: &mut Vec<(VarId, Site)>,
) {
    for stmt in block {
        let here = *pos;
        *pos += 1;
        let site = || Site {
            pos: here,
            loops: loops.clone(),
        };
        let read = |var: VarId, reads: &mut [Vec<Site>]| reads[var.0 as usize].push(site());
        match stmt {
            Stmt::Float { dst, op, .. } => {
                writes.push((*dst, site()));
                if activity.is_active(*dst) {
                    for var in reverse_reads(op, activity) {
                        read(var, reads);
                    }
                }
            }
            Stmt::Passive { dst, .. } => writes.push((*dst, site())),
            Stmt::Store { array, index, .. } => {
                writes.push((*array, site()));
                if activity.is_active(*array) {
                    for var in &index.reads {
                        read(*var, reads);
                    }
                }
            }
            Stmt::NewArray { dst, .. } => writes.push((*dst, site())),
            Stmt::Call { dst, args, .. } => {
                if let Some(dst) = dst {
                    writes.push((*dst, site()));
                }
                let active = stmt_is_active(stmt, activity);
                for arg in args {
                    if let CallArg::MutArray { var, .. } = arg {
                        writes.push((*var, site()));
                    }
                    if active {
                        if let Some(var) = call_input(arg) {
                            read(var, reads);
                        }
                        if let CallArg::Passive(value) = arg {
                            for var in &value.reads {
                                read(*var, reads);
                            }
                        }
                    }
                }
            }
            Stmt::Effect(_) => {}
            Stmt::If {
                then_block,
                else_block,
                ..
            } => {
                collect(then_block, activity, loops, pos, reads, writes);
                collect(else_block, activity, loops, pos, reads, writes);
            }
            Stmt::Loop(looped) => {
                if let LoopKind::For { seq, .. } = &looped.kind {
                    if !looped.body.is_empty() {
                        read(seq.lo, reads);
                        read(seq.hi, reads);
                        for op in &seq.chain {
                            if let SeqOp::StepBy(step) = op {
                                read(*step, reads);
                            }
                        }
                    }
                }
                loops.push(here);
                collect(&looped.body, activity, loops, pos, reads, writes);
                loops.pop();
            }
        }
    }
}

/// Variables whose values the adjoint of `op` reads, given which operands are active.
fn reverse_reads(op: &FloatOp, activity: &Activity) -> Vec<VarId> {
    let active = |operand: &crate::ir::Operand| activity.operand(operand).is_some();
    let var = |operand: &crate::ir::Operand| operand.var();
    match op {
        FloatOp::Copy(_) | FloatOp::Neg(_) | FloatOp::Add(..) | FloatOp::Sub(..) => Vec::new(),
        FloatOp::Mul(a, b) => {
            let mut needed = Vec::new();
            if active(a) {
                needed.extend(var(b));
            }
            if active(b) {
                needed.extend(var(a));
            }
            needed
        }
        FloatOp::Div(a, b) => {
            let mut needed = Vec::new();
            if active(a) || active(b) {
                needed.extend(var(b));
            }
            if active(b) {
                needed.extend(var(a));
            }
            needed
        }
        FloatOp::Prim {
            prim,
            args,
            int_arg,
        } => {
            if prim.is_piecewise_constant() || !args.iter().any(active) {
                return Vec::new();
            }
            let mut needed: Vec<VarId> = args.iter().filter_map(var).collect();
            if let Some(int_arg) = int_arg {
                needed.extend(int_arg.reads.iter().copied());
            }
            needed
        }
        FloatOp::Read { index, .. } => index.reads.clone(),
    }
}
