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
//!
//! Recompute instead of store: inside a loop, a cheap statement (a copy, `+ - * /`,
//! an integer expression, a read of an array the function never writes) whose inputs
//! do not change during its iteration is *replayed*: the reverse sweep re-executes it
//! at the start of its block instead of saving and restoring its result. Rust
//! guarantees that data behind `&` does not change during the call, so `x[i]` with
//! `x: &[f64]` is always replayable; loop bounds and index arithmetic too. For the
//! same reason a branch whose condition reads only such values is re-evaluated by the
//! reverse sweep instead of being saved as a bit.

use std::collections::{HashMap, HashSet};

use crate::analysis::activity::{call_input, Activity};
use crate::ir::{Block, CallArg, FloatOp, Function, LoopKind, Origin, SeqOp, Stmt, VarId};
use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// Identifies a statement by its position in a pre-order walk (`ir::walk` order).
pub type StmtPos = usize;

#[derive(Debug, Default)]
pub struct Tbr {
    /// Assignments whose old value is saved: (statement position, variable), since
    /// a call writes its result and its `&mut` arguments at one position.
    saves: std::collections::HashSet<(StmtPos, VarId)>,
    /// Statements the reverse sweep replays at the start of their block.
    replay: HashSet<StmtPos>,
    /// `if` statements whose condition the reverse sweep re-evaluates.
    stable_conds: HashSet<StmtPos>,
    /// Loops checkpointed per iteration: position → the variables their body
    /// writes, snapshot at the start of every iteration.
    checkpoints: HashMap<StmtPos, Vec<VarId>>,
}

impl Tbr {
    /// Whether the statement at `pos` saves the value of `var` it overwrites.
    pub fn saves(&self, pos: StmtPos, var: VarId) -> bool {
        self.saves.contains(&(pos, var))
    }

    /// Whether the statement at `pos` is replayed by the reverse sweep (and saves
    /// nothing).
    pub fn replays(&self, pos: StmtPos) -> bool {
        self.replay.contains(&pos)
    }

    /// The variables to snapshot per iteration when the loop at `pos` is
    /// checkpointed.
    pub fn checkpoint(&self, pos: StmtPos) -> Option<&[VarId]> {
        self.checkpoints.get(&pos).map(Vec::as_slice)
    }

    /// Whether the `if` at `pos` has a condition the reverse sweep can re-evaluate.
    pub fn stable_cond(&self, pos: StmtPos) -> bool {
        self.stable_conds.contains(&pos)
    }
}

/// A statement's position, the loops around it and the blocks around it.
#[derive(Clone)]
struct Site {
    pos: StmtPos,
    loops: Vec<StmtPos>,
    blocks: Vec<usize>,
}

fn shares_loop(a: &Site, b: &Site) -> bool {
    a.loops.iter().any(|l| b.loops.contains(l))
}

/// Whether `def` runs before `read` whenever `read` runs, in the same iteration.
fn dominates(def: &Site, read: &Site) -> bool {
    def.pos < read.pos && read.blocks.starts_with(&def.blocks)
}

pub fn stmt_is_active(stmt: &Stmt, activity: &Activity) -> bool {
    match stmt {
        Stmt::Float { dst, .. } | Stmt::NewArray { dst, .. } => activity.is_active(*dst),
        Stmt::Store { array, .. } => activity.is_active(*array),
        Stmt::Call {
            dst, args, tangent, ..
        } => {
            dst.is_some_and(|dst| activity.is_active(dst))
                || args.iter().any(|arg| match arg {
                    CallArg::MutArray { var, .. } => activity.is_active(*var),
                    _ => false,
                })
                || tangent.as_ref().is_some_and(|tangent| {
                    tangent.dst.is_some_and(|dst| activity.is_active(dst))
                        || tangent.args.iter().any(|arg| match arg {
                            crate::ir::ArgTangent::MutArray(Some(var)) => activity.is_active(*var),
                            _ => false,
                        })
                })
        }
        _ => false,
    }
}

pub fn analyze(func: &Function, activity: &Activity) -> Tbr {
    let count = func.vars.len();
    let mut collector = Collector {
        activity,
        loops: Vec::new(),
        blocks: vec![0],
        next_block: 1,
        pos: 0,
        reads: (0..count).map(|_| Vec::new()).collect(),
        writes: Vec::new(),
        candidates: Vec::new(),
        conds: Vec::new(),
    };
    collector.block(&func.body);
    let Collector {
        reads,
        writes,
        candidates,
        conds,
        ..
    } = collector;
    let mut write_count = vec![0usize; count];
    let mut written_in_loop = vec![false; count];
    for (var, site) in &writes {
        write_count[var.0 as usize] += 1;
        written_in_loop[var.0 as usize] |= !site.loops.is_empty();
    }
    // Values that cannot change during the call once set.
    let stable = |var: VarId| match func.var(var).origin {
        Origin::LoopIndex => true,
        Origin::Param(_) => write_count[var.0 as usize] == 0,
        Origin::Local => write_count[var.0 as usize] == 1 && !written_in_loop[var.0 as usize],
    };
    // Replayable statements, decided in program order so that a statement may
    // build on an earlier replayed one that runs before it in the same iteration.
    // An array read at `site` holds the same values when the reverse sweep gets
    // there if every write to it comes earlier and outside any loop around the
    // read: parameters behind `&`, and tables filled before the loop (GMM's `qdiag`).
    let mut array_writes: HashMap<VarId, Vec<&Site>> = HashMap::new();
    for (var, site) in &writes {
        array_writes.entry(*var).or_default().push(site);
    }
    let frozen = |array: VarId, site: &Site| {
        array_writes.get(&array).is_none_or(|sites| {
            sites
                .iter()
                .all(|write| write.pos < site.pos && !shares_loop(write, site))
        })
    };
    let mut replayed_vars: HashMap<VarId, Site> = HashMap::new();
    let mut replay = HashSet::new();
    for candidate in &candidates {
        let dst = candidate.dst;
        let available = |var: &VarId| {
            stable(*var)
                || replayed_vars
                    .get(var)
                    .is_some_and(|def| dominates(def, &candidate.site))
        };
        if !candidate.site.loops.is_empty()
            && write_count[dst.0 as usize] == 1
            && !matches!(func.var(dst).origin, Origin::Param(_))
            && candidate
                .arrays
                .iter()
                .all(|array| frozen(*array, &candidate.site))
            && candidate.reads.iter().all(available)
            && reads[dst.0 as usize]
                .iter()
                .all(|read| dominates(&candidate.site, read))
        {
            replay.insert(candidate.site.pos);
            replayed_vars.insert(dst, candidate.site.clone());
        }
    }
    let stable_conds: HashSet<StmtPos> = conds
        .iter()
        .filter(|(_, cond_reads, site)| {
            cond_reads.iter().all(|var| {
                stable(*var)
                    || replayed_vars
                        .get(var)
                        .is_some_and(|def| dominates(def, site))
            })
        })
        .map(|(pos, _, _)| *pos)
        .collect();
    // Keep only replays whose value the reverse sweep reads, directly or through a
    // later replay (a flag set in a loop needs none).
    let mut wanted: HashSet<VarId> = conds
        .iter()
        .filter(|(pos, _, _)| stable_conds.contains(pos))
        .flat_map(|(_, cond_reads, _)| cond_reads.iter().copied())
        .collect();
    for candidate in candidates.iter().rev() {
        if !replay.contains(&candidate.site.pos) {
            continue;
        }
        if reads[candidate.dst.0 as usize].is_empty() && !wanted.contains(&candidate.dst) {
            replay.remove(&candidate.site.pos);
            continue;
        }
        wanted.extend(candidate.reads.iter().copied());
    }
    let mut saves = std::collections::HashSet::new();
    for (var, site) in &writes {
        if replayed_vars.contains_key(var) {
            continue;
        }
        let var_reads = &reads[var.0 as usize];
        let is_param = matches!(func.var(*var).origin, Origin::Param(_));
        let save = var_reads
            .iter()
            .any(|read| read.pos <= site.pos || shares_loop(read, site))
            || (is_param && !var_reads.is_empty());
        if save {
            saves.insert((site.pos, *var));
        }
    }
    let checkpoints = checkpoints(func, activity);
    Tbr {
        saves,
        replay,
        stable_conds,
        checkpoints,
    }
}

struct Collector<'a> {
    activity: &'a Activity,
    loops: Vec<StmtPos>,
    blocks: Vec<usize>,
    next_block: usize,
    pos: StmtPos,
    /// Sites where the reverse sweep reads each variable.
    reads: Vec<Vec<Site>>,
    writes: Vec<(VarId, Site)>,
    /// Cheap statements, candidates for replay.
    candidates: Vec<Candidate>,
    /// `if` conditions: position, variables read, site.
    conds: Vec<(StmtPos, Vec<VarId>, Site)>,
}

/// A cheap statement the reverse sweep might replay instead of restoring.
struct Candidate {
    dst: VarId,
    /// Variables it reads (operands, indices).
    reads: Vec<VarId>,
    /// Arrays it reads elements of.
    arrays: Vec<VarId>,
    site: Site,
}

impl Collector<'_> {
    fn site(&self, pos: StmtPos) -> Site {
        Site {
            pos,
            loops: self.loops.clone(),
            blocks: self.blocks.clone(),
        }
    }

    fn nested(&mut self, block: &Block) {
        self.blocks.push(self.next_block);
        self.next_block += 1;
        self.block(block);
        self.blocks.pop();
    }

    fn block(&mut self, block: &Block) {
        for stmt in block {
            let here = self.pos;
            self.pos += 1;
            let site = self.site(here);
            let mut reads: Vec<VarId> = Vec::new();
            match stmt {
                Stmt::Float { dst, op, .. } => {
                    self.writes.push((*dst, site.clone()));
                    if let Some(candidate) = cheap(*dst, op, &site) {
                        self.candidates.push(candidate);
                    }
                    if self.activity.is_active(*dst) {
                        reads = reverse_reads(op, self.activity);
                    }
                }
                Stmt::Passive { dst, value } => {
                    self.writes.push((*dst, site.clone()));
                    if !calls_function(&value.tokens) {
                        self.candidates.push(Candidate {
                            dst: *dst,
                            reads: value.reads.clone(),
                            arrays: Vec::new(),
                            site: site.clone(),
                        });
                    }
                }
                Stmt::Store { array, index, .. } => {
                    self.writes.push((*array, site.clone()));
                    if self.activity.is_active(*array) {
                        reads = index.reads.clone();
                    }
                }
                Stmt::NewArray { dst, .. } => self.writes.push((*dst, site.clone())),
                Stmt::Call {
                    dst, args, tangent, ..
                } => {
                    if let Some(dst) = dst {
                        self.writes.push((*dst, site.clone()));
                    }
                    let active = stmt_is_active(stmt, self.activity);
                    if let Some(tangent) = tangent {
                        if let Some(dot) = tangent.dst {
                            self.writes.push((dot, site.clone()));
                        }
                        for arg in &tangent.args {
                            if let crate::ir::ArgTangent::MutArray(Some(var)) = arg {
                                self.writes.push((*var, site.clone()));
                            }
                            if active {
                                reads.extend(crate::analysis::activity::tangent_input(arg));
                                if let crate::ir::ArgTangent::Float(crate::ir::Operand::Const(
                                    value,
                                )) = arg
                                {
                                    reads.extend(value.reads.iter().copied());
                                }
                            }
                        }
                    }
                    for arg in args {
                        if let CallArg::MutArray { var, .. } = arg {
                            self.writes.push((*var, site.clone()));
                        }
                        if active {
                            reads.extend(call_input(arg));
                            if let CallArg::Passive(value) = arg {
                                reads.extend(value.reads.iter().copied());
                            }
                        }
                    }
                }
                Stmt::Effect(_) => {}
                Stmt::If {
                    cond,
                    then_block,
                    else_block,
                } => {
                    self.conds.push((here, cond.reads.clone(), site.clone()));
                    self.nested(then_block);
                    self.nested(else_block);
                }
                Stmt::Loop(looped) => {
                    if let LoopKind::For { seq, .. } = &looped.kind {
                        if !looped.body.is_empty() {
                            reads.push(seq.lo);
                            reads.push(seq.hi);
                            for op in &seq.chain {
                                if let SeqOp::StepBy(step) = op {
                                    reads.push(*step);
                                }
                            }
                        }
                    }
                    self.loops.push(here);
                    self.nested(&looped.body);
                    self.loops.pop();
                }
            }
            for var in reads {
                self.reads[var.0 as usize].push(site.clone());
            }
        }
    }
}

/// Loops to checkpoint per iteration.
///
/// A top-level counted loop whose body holds a doubly nested loop records a tape
/// per iteration that grows with the square of the inner sizes (GMM: points ×
/// components × d²), while the state its body writes grows linearly. Such a loop
/// snapshots every variable and array its body writes (except those declared in
/// the body, which each iteration writes before reading) at the start of each
/// iteration and runs its body without saving anything; the reverse sweep restores
/// the snapshot, runs that one iteration again with its saves, and reverses it, so
/// the stack holds one iteration's tape at a time (Tapenade's and Revolve's
/// checkpointing, with one snapshot per iteration).
fn checkpoints(func: &Function, activity: &Activity) -> HashMap<StmtPos, Vec<VarId>> {
    let mut out = HashMap::new();
    let mut pos = 0;
    for stmt in &func.body {
        let here = pos;
        pos += count(stmt);
        let Stmt::Loop(looped) = stmt else { continue };
        if looped.exit.is_some() || !matches!(looped.kind, LoopKind::For { .. }) {
            continue;
        }
        if nesting(&looped.body) < 2 || !body_is_active(&looped.body, activity) {
            continue;
        }
        let mut written: Vec<VarId> = Vec::new();
        let mut eligible = true;
        crate::ir::walk(&looped.body, true, &mut |stmt, _| match stmt {
            Stmt::Float { dst, .. } | Stmt::Passive { dst, .. } | Stmt::NewArray { dst, .. } => {
                written.push(*dst)
            }
            Stmt::Store { array, .. } => written.push(*array),
            Stmt::Call { .. } => eligible = false,
            _ => {}
        });
        written.retain(|var| !looped.body_vars.contains(&var.0));
        written.sort();
        written.dedup();
        if written
            .iter()
            .any(|var| matches!(func.var(*var).origin, Origin::Param(_)))
        {
            eligible = false;
        }
        if eligible {
            out.insert(here, written);
        }
    }
    out
}

/// Number of statements in pre-order, nested ones included.
fn count(stmt: &Stmt) -> usize {
    1 + match stmt {
        Stmt::If {
            then_block,
            else_block,
            ..
        } => then_block.iter().chain(else_block).map(count).sum(),
        Stmt::Loop(looped) => looped.body.iter().map(count).sum(),
        _ => 0,
    }
}

/// Depth of loop nesting inside a block.
fn nesting(block: &Block) -> usize {
    block
        .iter()
        .map(|stmt| match stmt {
            Stmt::Loop(looped) => 1 + nesting(&looped.body),
            Stmt::If {
                then_block,
                else_block,
                ..
            } => nesting(then_block).max(nesting(else_block)),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

fn body_is_active(block: &Block, activity: &Activity) -> bool {
    let mut active = false;
    crate::ir::walk(block, true, &mut |stmt, _| {
        active |= stmt_is_active(stmt, activity);
    });
    active
}

/// Whether passive tokens call a function (`g(x)`, not a method `x.len()`), which
/// the reverse sweep must not run a second time.
fn calls_function(tokens: &TokenStream) -> bool {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    trees.iter().enumerate().any(|(k, tree)| match tree {
        TokenTree::Group(group) => {
            let called = group.delimiter() == Delimiter::Parenthesis
                && k > 0
                && matches!(trees[k - 1], TokenTree::Ident(_))
                && !(k > 1 && matches!(&trees[k - 2], TokenTree::Punct(p) if p.as_char() == '.'));
            called || calls_function(&group.stream())
        }
        _ => false,
    })
}

/// A replay candidate when `op` is cheap to run again: copies, `+ - * /`, negation,
/// reads of array elements (transcendental primitives are saved instead).
fn cheap(dst: VarId, op: &FloatOp, site: &Site) -> Option<Candidate> {
    let mut reads: Vec<VarId> = op.operands().iter().filter_map(|o| o.var()).collect();
    let mut arrays = Vec::new();
    for operand in op.operands() {
        if let crate::ir::Operand::Const(value) = operand {
            if calls_function(&value.tokens) {
                return None;
            }
            reads.extend(value.reads.iter().copied());
        }
    }
    match op {
        FloatOp::Prim { .. } => return None,
        FloatOp::Read { array, index } => {
            arrays.push(*array);
            reads.extend(index.reads.iter().copied());
        }
        _ => {}
    }
    Some(Candidate {
        dst,
        reads,
        arrays,
        site: site.clone(),
    })
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
