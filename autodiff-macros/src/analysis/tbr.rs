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
use crate::ir::{Block, CallArg, FloatOp, Function, LoopKind, Origin, SeqOp, Stmt, Ty, VarId};
use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// Identifies a statement by its position in a pre-order walk (`ir::walk` order).
pub type StmtPos = usize;

#[derive(Debug, Default)]
pub struct Tbr {
    /// Assignments whose old value is saved: (statement position, variable), since
    /// a call writes its result and its `&mut` arguments at one position.
    saves: std::collections::HashSet<(StmtPos, VarId)>,
    /// Statements the reverse sweep replays instead of restoring their results.
    replay: HashSet<StmtPos>,
    /// For each replayed statement, the statement of its block before whose
    /// reverse it is replayed.
    replay_at: HashMap<StmtPos, StmtPos>,
    /// Integer updates (`k += step`) the reverse sweep undoes instead of restoring.
    undone: HashSet<StmtPos>,
    /// `if` statements whose condition the reverse sweep re-evaluates.
    stable_conds: HashSet<StmtPos>,
    /// Loops checkpointed per iteration: position → the variables their body
    /// writes, snapshot at the start of every iteration.
    checkpoints: HashMap<StmtPos, Vec<VarId>>,
    /// Loops whose iterations are differentiated as they run (see `preacc`).
    preaccumulated: HashMap<StmtPos, crate::analysis::preacc::Preacc>,
    /// Arrays a call reads whole that the forward sweep overwrites again in a loop
    /// around the call: copied to the stack at the call and put back before the
    /// callee's reverse, rather than saving every later store to them.
    call_snapshots: HashSet<(StmtPos, VarId)>,
    /// Copies for reading calls that an earlier call's copy of the same array in
    /// the next iteration makes redundant when that copy is taken (see
    /// `covered_copies`): the condition under which it is (a split callee's
    /// `__READS_ARGk`), or `None` if always.
    covered_copies: HashMap<(StmtPos, VarId), Option<TokenStream>>,
    /// Statements (a loop that refills arrays from data that does not change,
    /// and its bounds) run again, without saves, before the reverse of the
    /// statement of the same block given (the last call that reads the arrays).
    refill_at: HashMap<StmtPos, StmtPos>,
    /// Saves needed only if some split callee's reverse sweep reads the array
    /// (its `__READS_ARGk` constants, or-ed): the snapshots of `&mut` arguments.
    save_conditions: HashMap<(StmtPos, VarId), TokenStream>,
    /// Results of primitives whose rule reads them, stored into an array element
    /// that still holds them when the reverse sweep needs them (see
    /// [`reloads`]): the statement → the array and index to read them back from.
    reloads: HashMap<StmtPos, (VarId, crate::ir::PExpr)>,
    /// Loops that only take a running maximum or minimum (see
    /// `analysis::reduction`): they save only the values before and after the
    /// loop.
    reductions: HashMap<StmtPos, crate::analysis::reduction::Reduction>,
}

impl Tbr {
    /// Whether the statement at `pos` saves the value of `var` it overwrites.
    pub fn saves(&self, pos: StmtPos, var: VarId) -> bool {
        self.saves.contains(&(pos, var))
    }

    /// The array element the reverse sweep reads the result of the statement at
    /// `pos` back from, instead of saving it (`e = z.exp(); a[i] = e;`).
    pub fn reload(&self, pos: StmtPos) -> Option<&(VarId, crate::ir::PExpr)> {
        self.reloads.get(&pos)
    }

    /// Whether the integer update at `pos` is undone by its inverse (`k -= step`)
    /// instead of being saved.
    pub fn undoes(&self, pos: StmtPos) -> bool {
        self.undone.contains(&pos)
    }

    /// Where the statement at `pos` is replayed by the reverse sweep (it saves
    /// nothing): the position of the statement of the same block before whose
    /// reverse it runs.
    pub fn replayed_at(&self, pos: StmtPos) -> Option<StmtPos> {
        self.replay
            .contains(&pos)
            .then(|| self.replay_at.get(&pos).copied())
            .flatten()
    }

    /// The variables to snapshot per iteration when the loop at `pos` is
    /// checkpointed.
    pub fn checkpoint(&self, pos: StmtPos) -> Option<&[VarId]> {
        self.checkpoints.get(&pos).map(Vec::as_slice)
    }

    /// The running extremum the loop at `pos` takes, if that is all it does and
    /// its reverse sweep scans for the element the result came from instead of
    /// restoring the running value at every iteration.
    pub fn reduction(&self, pos: StmtPos) -> Option<&crate::analysis::reduction::Reduction> {
        self.reductions.get(&pos)
    }

    /// How the loop at `pos` is preaccumulated, if it is.
    pub fn preaccumulated(&self, pos: StmtPos) -> Option<&crate::analysis::preacc::Preacc> {
        self.preaccumulated.get(&pos)
    }

    /// Whether any loop is preaccumulated.
    pub fn preaccumulates_any(&self) -> bool {
        !self.preaccumulated.is_empty()
    }

    /// Whether the `if` at `pos` has a condition the reverse sweep can re-evaluate.
    pub fn stable_cond(&self, pos: StmtPos) -> bool {
        self.stable_conds.contains(&pos)
    }

    /// Whether the split call at `pos` keeps a snapshot of its `&mut` argument
    /// `var`: `None` if nothing reads the state before the call, `Some(None)` if
    /// something does, `Some(Some(condition))` if only split callees may, each as
    /// it says (see `save_conditions`).
    pub fn split_snapshot(&self, pos: StmtPos, var: VarId) -> Option<Option<TokenStream>> {
        self.saves
            .contains(&(pos, var))
            .then(|| self.save_conditions.get(&(pos, var)).cloned())
    }

    /// Where the statement at `pos` runs again to refill arrays (see
    /// `refill_at`): the position of the statement of its block before whose
    /// reverse it runs.
    pub fn refilled_at(&self, pos: StmtPos) -> Option<StmtPos> {
        self.refill_at.get(&pos).copied()
    }

    /// Whether the call at `pos` snapshots the array `var` it reads (see
    /// `call_snapshots`).
    pub fn snapshots_call_arg(&self, pos: StmtPos, var: VarId) -> bool {
        self.call_snapshots.contains(&(pos, var))
            && !matches!(self.covered_copies.get(&(pos, var)), Some(None))
    }

    /// The condition under which another call's copy makes this call's copy of
    /// `var` redundant (see `covered_copies`).
    pub fn copy_covered_if(&self, pos: StmtPos, var: VarId) -> Option<&TokenStream> {
        self.covered_copies
            .get(&(pos, var))
            .and_then(Option::as_ref)
    }
}

/// A statement's position, the loops around it and the blocks around it.
#[derive(Clone)]
struct Site {
    pos: StmtPos,
    loops: Vec<StmtPos>,
    blocks: Vec<usize>,
    /// Positions of the `if`s and loops around it, outermost first (one per
    /// block after the function body's).
    path: Vec<StmtPos>,
}

impl Site {
    /// The statement of `block_depth`'s block (`blocks[..block_depth]`) that is or
    /// contains this site, given that the site lies in that block.
    fn child_at(&self, block_depth: usize) -> StmtPos {
        if self.blocks.len() == block_depth {
            self.pos
        } else {
            self.path[block_depth - 1]
        }
    }
}

fn shares_loop(a: &Site, b: &Site) -> bool {
    a.loops.iter().any(|l| b.loops.contains(l))
}

/// Whether `def` runs before `read` whenever `read` runs, in the same iteration.
fn dominates(def: &Site, read: &Site) -> bool {
    def.pos < read.pos && read.blocks.starts_with(&def.blocks)
}

/// Whether an active call (outside tangent IR) with result `dst` is split: the
/// forward sweep runs the callee's forward sweep with its saves
/// (`g::__record`), which leaves them on the stack, and the reverse sweep later
/// runs the callee's reverse sweep from there (`g::__unrecord`), as Tapenade's
/// split mode does, instead of re-running the callee in the reverse sweep
/// (`g::__reverse`, joint mode). The reverse of a split call needs its `&mut`
/// arguments as the call left them, and its other arguments as the call saw
/// them.
///
/// Calls that write through `&mut` are split: re-running such a callee means
/// putting its buffers back to their state before the call and, in the callee,
/// keeping their state after it, beside a second run of its body. So are calls of
/// scalars only (`sigmoid(z)`): their final state is a few words, and a re-run
/// would evaluate their transcendentals again. A call that reads arrays
/// (`sqnorm(&qx)`, `log_sum_exp(&v)`) stays joint: its re-run costs about what
/// recording its final state would, and the loop around it stays free to use
/// the stack's lanes (a recording callee pushes between the loop's own pushes).
/// (A call's result is a float or nothing: calls returning arrays are not
/// lowered.)
pub fn split_call(args: &[CallArg]) -> bool {
    args.iter()
        .any(|arg| matches!(arg, CallArg::MutArray { .. }))
        || args
            .iter()
            .all(|arg| matches!(arg, CallArg::Float(_) | CallArg::Passive(_)))
}

/// Whether a split call's scalar arguments are all constants to this function
/// (and there is one): it then uses the callee's core that takes its scalars as
/// constants (`f::__record_c`). A float argument means a float parameter, so the
/// callee has that core.
pub fn constant_scalars(args: &[CallArg], activity: &Activity) -> bool {
    args.iter().any(|arg| matches!(arg, CallArg::Float(_)))
        && args.iter().all(|arg| match arg {
            CallArg::Float(operand) => operand.var().is_none_or(|var| !activity.is_active(var)),
            _ => true,
        })
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
    let first = analyze_with(func, activity, &HashSet::new());
    // Loops whose every iteration is reversed before the next one runs: a
    // checkpointed loop (its reverse re-runs one iteration from its snapshot, then
    // reverses it) and a preaccumulated one (each iteration is reversed as it
    // ends), unless it may fall back to plain recording. Inside them, a value the
    // reverse sweep reads later in the same iteration needs no save even when the
    // next iteration overwrites it: decide the saves again as if their bodies were
    // not looped.
    let immediate: HashSet<StmtPos> = first
        .checkpoints
        .keys()
        .copied()
        .chain(
            first
                .preaccumulated
                .iter()
                .filter(|(pos, preacc)| {
                    preacc.checks.is_empty() || first.checkpoints.contains_key(pos)
                })
                .map(|(pos, _)| *pos),
        )
        .collect();
    if immediate.is_empty() {
        return first;
    }
    let second = analyze_with(func, activity, &immediate);
    Tbr {
        checkpoints: first.checkpoints,
        preaccumulated: first.preaccumulated,
        ..second
    }
}

/// The analysis, with the loops in `immediate` treated as straight-line code.
fn analyze_with(func: &Function, activity: &Activity, immediate: &HashSet<StmtPos>) -> Tbr {
    let count = func.vars.len();
    let mut collector = Collector {
        func,
        activity,
        immediate,
        call_arrays: Vec::new(),
        read_conditions: HashMap::new(),
        plain_reads: HashSet::new(),
        loops: Vec::new(),
        blocks: vec![0],
        next_block: 1,
        pos: 0,
        reads: (0..count).map(|_| Vec::new()).collect(),
        writes: Vec::new(),
        candidates: Vec::new(),
        ifs: Vec::new(),
        conds: Vec::new(),
        undoable: HashMap::new(),
        path: Vec::new(),
        ends: HashMap::new(),
        output_reads: Vec::new(),
    };
    collector.block(&func.body);
    let Collector {
        mut reads,
        call_arrays,
        read_conditions,
        plain_reads,
        writes,
        candidates,
        ifs,
        conds,
        undoable,
        ends,
        output_reads,
        ..
    } = collector;
    // Joint calls whose reverse runs where they run (`Preacc::fused`; not in
    // loops that may fall back to recording, under run-time checks): the arrays
    // they read need neither a copy nor a refill for them.
    let preacc_candidates = crate::analysis::preacc::analyze(func, activity);
    let fused: HashSet<StmtPos> = preacc_candidates
        .values()
        .filter(|preacc| preacc.checks.is_empty())
        .flat_map(|preacc| preacc.fused.keys().copied())
        .collect();
    let call_arrays: Vec<(VarId, Site)> = call_arrays
        .into_iter()
        .filter(|(_, site)| !fused.contains(&site.pos))
        .collect();
    let mut write_count = vec![0usize; count];
    let mut written_in_loop = vec![false; count];
    for write in &writes {
        write_count[write.var.0 as usize] += 1;
        written_in_loop[write.var.0 as usize] |= !write.site.loops.is_empty();
    }
    // Values that cannot change during the call once set.
    let stable = |var: VarId| match func.var(var).origin {
        Origin::LoopIndex => true,
        Origin::Param(_) => write_count[var.0 as usize] == 0,
        Origin::Local => write_count[var.0 as usize] == 1 && !written_in_loop[var.0 as usize],
    };
    let mut array_writes: HashMap<VarId, Vec<&Write>> = HashMap::new();
    for write in &writes {
        array_writes.entry(write.var).or_default().push(write);
    }
    // Where each cheap statement would be replayed. (It depends on the readers
    // of the candidates' results, never on those of arrays, which the calls
    // below add.)
    let emit = emit_points(&candidates, &ifs, &conds, &reads);
    // Arrays refilled from data that does not change, by a loop in the block of
    // the calls or replayed reads that read them (a port's `xc[i] = x[..] -
    // means[..]`): the reverse sweep runs the loop again before those readers'
    // reverse, instead of copying the arrays at every call or saving every
    // store.
    let statements = Statements::new(func);
    let refills = refill_loops(
        func,
        &statements,
        &call_arrays,
        &replayed_reads(&candidates, &ifs, &emit),
        &reads,
        &array_writes,
        &write_count,
        &stable,
    );
    let refilled: HashSet<VarId> = refills.arrays.iter().copied().collect();
    // An array a call reads whole, overwritten in a loop around the call (`qx`
    // refilled for every component before `sqnorm(&qx)`): one copy per call beats
    // saving every store of every later iteration. Overwrites by calls through
    // `&mut` need neither: each such call's reverse puts back the state before it,
    // so the array is back to what the reading call saw (`x` read by
    // `spring_forces(&x, ..)`, then stepped by `euler_step(&mut x, ..)`).
    let mut call_snapshots: Vec<(Site, VarId)> = Vec::new();
    for (var, site) in call_arrays {
        if refilled.contains(&var) {
            continue;
        }
        let rewritten = writes
            .iter()
            .any(|write| write.var == var && shares_loop(&write.site, &site) && !write.unwound);
        if rewritten && matches!(func.var(var).origin, Origin::Local) {
            call_snapshots.push((site, var));
        } else {
            reads[var.0 as usize].push(site);
        }
    }
    let mut covered_copies = covered_copies(&call_snapshots, &array_writes, &read_conditions);
    let copy_loops: HashMap<StmtPos, Vec<StmtPos>> = call_snapshots
        .iter()
        .map(|(site, _)| (site.pos, site.loops.clone()))
        .collect();
    let call_snapshots: HashSet<(StmtPos, VarId)> = call_snapshots
        .into_iter()
        .map(|(site, var)| (site.pos, var))
        .collect();
    // Arrays whose element stores save the old element, so that the reverse sweep
    // keeps them in step with the forward sweep: start with every float array
    // written only by element stores (and by whole-array writes outside loops),
    // then drop those whose stores cost more than the replays they enable.
    // (A refilled array's stores save nothing: the refill gives its values back.)
    let mut restored: HashSet<VarId> = array_writes
        .iter()
        .filter(|(var, array_writes)| {
            matches!(func.var(**var).ty, Ty::FloatArray(_))
                && !refilled.contains(var)
                && array_writes.iter().any(|write| write.store)
                && array_writes
                    .iter()
                    .all(|write| write.store || write.site.loops.is_empty())
        })
        .map(|(var, _)| *var)
        .collect();
    // Integer counters (`lidx += 1`) whose updates can be undone: assumed to be
    // restored by the reverse sweep, checked once the saves are known.
    let mut restored_counters: HashSet<VarId> = writes
        .iter()
        .filter(|write| undoable.contains_key(&write.site.pos))
        .map(|write| write.var)
        .filter(|var| {
            array_writes[var]
                .iter()
                .all(|write| !write.reset && !write.store)
        })
        .collect();
    // Results of primitives whose rule reads them (`e = z.exp()`), written once in
    // a loop: always saved, and restored only by their own reverse, so a replay
    // after them in the same iteration can read them (`1.0 + e`, then its `recip`).
    let candidate_dsts: HashSet<VarId> = candidates.iter().map(|c| c.dst).collect();
    let saved_outputs: HashMap<VarId, Site> = output_reads
        .iter()
        .filter(|(var, site)| {
            write_count[var.0 as usize] == 1
                && !site.loops.is_empty()
                && !candidate_dsts.contains(var)
        })
        .map(|(var, site)| (*var, site.clone()))
        .collect();
    let output_read_vars: HashSet<VarId> = output_reads.iter().map(|(var, _)| *var).collect();
    loop {
        let replays = decide_replays(
            func,
            &Inputs {
                candidates: &candidates,
                ifs: &ifs,
                conds: &conds,
                reads: &reads,
                write_count: &write_count,
                array_writes: &array_writes,
                restored: &restored,
                restored_counters: &restored_counters,
                emit: &emit,
                ends: &ends,
                saved_outputs: &saved_outputs,
                output_read: &output_read_vars,
                refilled_for_reads: &refills.for_reads,
            },
            &stable,
        );
        // Weigh what restoring each array costs (a save per store) against what it
        // buys (a replayed read instead of a save), deeper loops weighing more.
        let weight = |site: &Site| 1024f64.powi(site.loops.len() as i32);
        let mut benefit: HashMap<VarId, f64> = HashMap::new();
        for candidate in candidates
            .iter()
            .filter(|candidate| replays.covers(candidate.site.pos))
        {
            for array in &candidate.arrays {
                if restored.contains(array) && !frozen(&array_writes, *array, &candidate.site) {
                    *benefit.entry(*array).or_default() += weight(&candidate.site);
                }
            }
        }
        let too_costly: Vec<VarId> = restored
            .iter()
            .copied()
            .filter(|array| {
                let cost: f64 = array_writes[array]
                    .iter()
                    .filter(|write| write.store)
                    .map(|write| weight(&write.site))
                    .sum();
                cost >= benefit.get(array).copied().unwrap_or(0.0)
            })
            .collect();
        if !too_costly.is_empty() {
            for array in too_costly {
                restored.remove(&array);
            }
            continue;
        }
        // Replayed reads of arrays that calls overwrite through `&mut`: the
        // calls' snapshots must be taken for them (see `unwound_outside`).
        let replay_reads: Vec<(VarId, &Site)> = candidates
            .iter()
            .filter(|candidate| replays.covers(candidate.site.pos))
            .flat_map(|candidate| {
                candidate
                    .arrays
                    .iter()
                    .filter(|array| {
                        array_writes
                            .get(array)
                            .is_some_and(|writes| writes.iter().any(|write| write.unwound))
                    })
                    .map(|array| (*array, &candidate.site))
            })
            .collect();
        let Replays {
            replay,
            replayed_vars,
            mut stable_conds,
            ..
        } = replays;
        let mut saves = HashSet::new();
        let mut save_conditions = HashMap::new();
        for write in writes.iter().filter(|write| !write.reset) {
            let var = write.var;
            if replayed_vars.contains_key(&var) {
                continue;
            }
            if write.store && restored.contains(&var) {
                saves.insert((write.site.pos, var));
                continue;
            }
            let var_reads = &reads[var.0 as usize];
            let is_param = matches!(func.var(var).origin, Origin::Param(_));
            // The reads that need the value back, each with its condition (a
            // split callee's constant) or none. A read of the value a statement
            // just computed needs it back unless the write comes before that
            // statement and outside its loops.
            let condition = |pos: StmtPos| {
                (!plain_reads.contains(&(var, pos)))
                    .then(|| read_conditions.get(&(var, pos)).cloned())
                    .flatten()
            };
            let needing: Vec<Option<TokenStream>> = var_reads
                .iter()
                .filter(|read| read.pos <= write.site.pos || shares_loop(read, &write.site))
                .chain(
                    output_reads
                        .iter()
                        .filter(|(read_var, read)| {
                            *read_var == var
                                && (read.pos < write.site.pos || shares_loop(read, &write.site))
                        })
                        .map(|(_, read)| read),
                )
                .map(|read| condition(read.pos))
                .chain(
                    replay_reads
                        .iter()
                        .filter(|(array, read)| {
                            *array == var
                                && write.unwound
                                && (read.pos <= write.site.pos || shares_loop(read, &write.site))
                        })
                        .map(|_| None),
                )
                .collect();
            let always = (is_param && !var_reads.is_empty())
                || needing.iter().any(Option::is_none)
                // Only a split call's snapshot can be conditional.
                || (!write.unwound && !needing.is_empty());
            if always {
                saves.insert((write.site.pos, var));
            } else if !needing.is_empty() {
                saves.insert((write.site.pos, var));
                let any = needing.into_iter().flatten();
                save_conditions.insert((write.site.pos, var), quote::quote!((#(#any)||*)));
            }
        }
        drop_killed_saves(
            &mut saves,
            &writes,
            &array_writes,
            &reads,
            &output_reads,
            &ends,
            func,
        );
        // An integer update `k += step` is undone (`k -= step`) instead of saved
        // when every write of `k` is restored in the reverse sweep (so `k` holds
        // the updated value when the undo runs) and `step` cannot change.
        let mut undone = HashSet::new();
        for write in &writes {
            let Some(step_reads) = undoable.get(&write.site.pos) else {
                continue;
            };
            let var = write.var;
            if restored_by_reverse(&array_writes[&var], &saves, &undoable)
                && step_reads.iter().all(|read| *read == var || stable(*read))
            {
                undone.insert(write.site.pos);
            }
        }
        for pos in &undone {
            saves.retain(|(save_pos, _)| save_pos != pos);
        }
        // A counter assumed restored whose updates could not all be undone or
        // saved: decide again without it.
        let unrestored: Vec<VarId> = restored_counters
            .iter()
            .copied()
            .filter(|var| {
                !array_writes[var].iter().all(|write| {
                    undone.contains(&write.site.pos)
                        || saves.contains(&(write.site.pos, *var))
                        || before_updates(write, &array_writes[var], &undoable)
                })
            })
            .collect();
        if !unrestored.is_empty() {
            for var in unrestored {
                restored_counters.remove(&var);
            }
            continue;
        }
        let reloads = reloads(
            func,
            &statements,
            &writes,
            &array_writes,
            &write_count,
            &stable,
            &refilled,
            &call_snapshots,
            &mut saves,
        );
        let replay_at = replay
            .iter()
            .filter_map(|pos| emit.get(pos).map(|at| (*pos, at.pos)))
            .collect();
        let checkpoints = checkpoints(func, activity);
        // Preaccumulate only loops that would otherwise record something per
        // iteration (a save, or a copy of an array a call reads), or run a callee
        // twice (a joint call whose result goes into the sum runs once when
        // preaccumulated: `Preacc::fused`): a sum over values it can replay
        // (Rosenbrock) gains nothing from separate accumulators.
        let mut preaccumulated = preacc_candidates;
        preaccumulated.retain(|pos, preacc| {
            let end = ends.get(pos).copied().unwrap_or(*pos);
            checkpoints.contains_key(pos)
                || !preacc.fused.is_empty()
                || saves
                    .iter()
                    .chain(&call_snapshots)
                    .any(|(save_pos, _)| *save_pos > *pos && *save_pos < end)
                || conds.iter().any(|(cond_pos, _, _)| {
                    *cond_pos > *pos && *cond_pos < end && !stable_conds.contains(cond_pos)
                })
        });
        // A preaccumulated loop reverses each iteration before the next runs: no
        // copy of the next iteration can serve.
        covered_copies.retain(|(pos, _), _| {
            copy_loops
                .get(pos)
                .is_none_or(|loops| !loops.iter().any(|at| preaccumulated.contains_key(at)))
        });
        // A running extremum saves only its values before and after the loop
        // (see `analysis::reduction`), unless its loop is reversed another way,
        // or the reverse sweep would not find the array and the index as the loop
        // read them: its scan reads them again where the loop's reverse runs.
        let mut reductions = crate::analysis::reduction::analyze(func, activity);
        reductions.retain(|pos, reduction| {
            let in_body = writes.iter().find(|write| {
                write.var == reduction.acc && reduction.body.contains(&write.site.pos)
            });
            !preaccumulated.contains_key(pos)
                && !checkpoints.contains_key(pos)
                && reduction.index.reads.iter().all(|var| stable(*var))
                && in_body.is_some_and(|write| frozen(&array_writes, reduction.array, &write.site))
        });
        saves.retain(|(pos, _)| {
            !reductions
                .values()
                .any(|reduction| reduction.body.contains(pos))
        });
        // (The branch form's body is its `if`.)
        stable_conds.extend(
            reductions
                .values()
                .filter(|reduction| reduction.branch)
                .map(|reduction| reduction.body.start),
        );
        return Tbr {
            saves,
            replay,
            replay_at,
            undone,
            stable_conds,
            checkpoints,
            preaccumulated,
            call_snapshots,
            covered_copies,
            refill_at: refills.at,
            save_conditions,
            reloads,
            reductions,
        };
    }
}

/// Copies for reading calls that another copy serves. In a loop that runs `g(&x)`
/// (split, copying `x` after it if `g::__READS_ARGk`), then overwrites `x`, then
/// `h(&x)` (copying `x` too), and overwrites `x` nowhere else: `h`'s copy in one
/// iteration holds what `g`'s copy holds in the next, and the reverse sweep pops
/// `g`'s copy before it gets back to `h`, with nothing writing `x` in between; in
/// the last iteration `x` is still what `h` read (nothing writes it after the
/// loop). So `h`'s copy is needed only when `g`'s is not taken: the condition
/// returned is `g`'s (`None` for a joint `g`, whose copy is always taken).
fn covered_copies(
    copies: &[(Site, VarId)],
    array_writes: &HashMap<VarId, Vec<&Write>>,
    read_conditions: &HashMap<(VarId, StmtPos), TokenStream>,
) -> HashMap<(StmtPos, VarId), Option<TokenStream>> {
    let mut out = HashMap::new();
    for (later, var) in copies {
        let Some(&around) = later.loops.last() else {
            continue;
        };
        // A copy by a call earlier in the same block: a split call's is taken
        // under its callee's constant, a joint call's always.
        let Some((earlier, _)) = copies.iter().find(|(earlier, other)| {
            other == var
                && earlier.pos < later.pos
                && earlier.blocks == later.blocks
                && earlier.loops == later.loops
        }) else {
            continue;
        };
        // Every write of `x` in the loop falls between the two calls; none after
        // the loop, where `x` would no longer be what the last `h` read.
        let only_between = array_writes.get(var).is_some_and(|writes| {
            writes.iter().all(|write| {
                if write.site.loops.contains(&around) {
                    write.site.pos > earlier.pos && write.site.pos < later.pos
                } else {
                    write.site.pos < around
                }
            })
        });
        if only_between {
            out.insert(
                (later.pos, *var),
                read_conditions.get(&(*var, earlier.pos)).cloned(),
            );
        }
    }
    out
}

/// Drops the saves of float writes inside a loop whose old values no reverse read
/// can see: a running sum `se = se + e` in a loop that follows `se = 0.0` (in the
/// same iteration of the loops around both) overwrites only `0.0` and its own
/// partial sums; if the reverse sweep reads `se` only after that loop (`se.ln()`),
/// none of those values is ever read back, and the save of `se = 0.0` alone gives
/// back the value before it. Writes are considered outermost first, and only a
/// write whose own save stays can stand for the ones it dominates.
fn drop_killed_saves(
    saves: &mut HashSet<(StmtPos, VarId)>,
    writes: &[Write],
    writes_of: &HashMap<VarId, Vec<&Write>>,
    reads: &[Vec<Site>],
    output_reads: &[(VarId, Site)],
    ends: &HashMap<StmtPos, StmtPos>,
    func: &Function,
) {
    let scalar_float =
        |write: &Write| !write.store && !write.reset && matches!(func.var(write.var).ty, Ty::Float);
    let mut order: Vec<&Write> = writes
        .iter()
        .filter(|write| scalar_float(write) && saves.contains(&(write.site.pos, write.var)))
        .collect();
    order.sort_by_key(|write| write.site.loops.len());
    let mut dropped: HashSet<(StmtPos, VarId)> = HashSet::new();
    for write in order {
        let var = write.var;
        let killed = writes_of[&var].iter().any(|reset| {
            if !scalar_float(reset)
                || !saves.contains(&(reset.site.pos, var))
                || dropped.contains(&(reset.site.pos, var))
                || reset.site.loops.len() >= write.site.loops.len()
                || !write.site.loops.starts_with(&reset.site.loops)
                || !dominates(&reset.site, &write.site)
            {
                return false;
            }
            // The outermost loop around `write` that is not around `reset`: its
            // iterations hold every value `write` overwrites.
            let inner_loop = write.site.loops[reset.site.loops.len()];
            let Some(&span_end) = ends.get(&inner_loop) else {
                return false;
            };
            // A read at `reset` itself sees the value before it (which the save of
            // `reset` gives back), except a rule reading `reset`'s own result
            // (`a = a.tanh()` before a loop that overwrites `a`): that needs the
            // value the loop's first write overwrites.
            reads[var.0 as usize]
                .iter()
                .all(|read| read.pos <= reset.site.pos || read.pos >= span_end)
                && output_reads
                    .iter()
                    .filter(|(read_var, _)| *read_var == var)
                    .all(|(_, read)| read.pos < reset.site.pos || read.pos >= span_end)
        });
        if killed {
            dropped.insert((write.site.pos, var));
        }
    }
    saves.retain(|save| !dropped.contains(save));
}

/// Whether a read of `array` at `site` sees, when the reverse sweep replays it at
/// the start of its block, what the forward sweep saw: every write to the array
/// comes earlier and outside any loop around the read (parameters behind `&`,
/// tables filled before the loop such as GMM's `qdiag`).
fn frozen(array_writes: &HashMap<VarId, Vec<&Write>>, array: VarId, site: &Site) -> bool {
    array_writes.get(&array).is_none_or(|writes| {
        writes
            .iter()
            .all(|write| write.site.pos < site.pos && !shares_loop(&write.site, site))
    })
}

/// Whether a read of a restored array at `site` can be replayed at the end of
/// `window` (see [`emit_points`]): when the reverse sweep gets there it has undone
/// every store that ran later, so no store may fall inside the window, and
/// whole-array writes must all come before the read, outside its loops.
fn restorable(
    array_writes: &HashMap<VarId, Vec<&Write>>,
    array: VarId,
    site: &Site,
    (from, to): (StmtPos, StmtPos),
) -> bool {
    array_writes.get(&array).is_none_or(|writes| {
        writes.iter().all(|write| {
            if write.store {
                write.site.pos <= from || write.site.pos >= to
            } else {
                write.site.pos < site.pos && !shares_loop(&write.site, site)
            }
        })
    })
}

/// Whether a read of `array` at `site` can be replayed at the end of `window`
/// because every later write is a call's through `&mut` outside the window
/// (`euler_step(&mut x, ..)` before `d = x[i] - ..` in the next step): the reverse
/// sweep has undone those calls when it gets there, each putting the array back
/// or popping the snapshot its caller then takes (the replay's read asks for it).
/// Other writes must come before the read, outside its loops.
///
/// Only for a read in a loop inside the calls' loops: it saves a value per
/// element, about what a snapshot costs (and nothing when a callee's reverse
/// asks for the snapshot anyway), where a single read would pay a whole snapshot
/// for one value.
fn unwound_outside(
    array_writes: &HashMap<VarId, Vec<&Write>>,
    array: VarId,
    site: &Site,
    (from, to): (StmtPos, StmtPos),
) -> bool {
    array_writes.get(&array).is_some_and(|writes| {
        writes.iter().any(|write| write.unwound)
            && writes.iter().all(|write| {
                if write.unwound {
                    (write.site.pos <= from || write.site.pos >= to)
                        && write.site.loops.len() < site.loops.len()
                } else {
                    !write.store && write.site.pos < site.pos && !shares_loop(&write.site, site)
                }
            })
    })
}

/// A write that runs before every update of the variable that can be undone,
/// and never again after one (`let mut k = 0;` before the loop that counts `k`):
/// the reverse sweep undoes all the updates before it gets back to it, so it
/// need not be restored for them.
fn before_updates(
    write: &Write,
    writes: &[&Write],
    undoable: &HashMap<StmtPos, Vec<VarId>>,
) -> bool {
    !undoable.contains_key(&write.site.pos)
        && writes
            .iter()
            .filter(|update| undoable.contains_key(&update.site.pos))
            .all(|update| {
                write.site.pos < update.site.pos && !shares_loop(&write.site, &update.site)
            })
}

/// Whether every write of a variable is saved (so the reverse sweep restores it),
/// but for writes that come before all its updates (see [`before_updates`]).
fn restored_by_reverse(
    writes: &[&Write],
    saves: &HashSet<(StmtPos, VarId)>,
    undoable: &HashMap<StmtPos, Vec<VarId>>,
) -> bool {
    writes.iter().all(|write| {
        saves.contains(&(write.site.pos, write.var)) || before_updates(write, writes, undoable)
    })
}

/// Where the reverse sweep replays each candidate: just before the reverse of the
/// statement of the candidate's block that holds its last user, a reverse read of
/// its result or the replay of a later candidate that reads it. When the reverse
/// sweep gets there, every variable it restores holds what it held in the forward
/// sweep right after that statement, so a read needs only that its inputs are not
/// written between the candidate and the end of that statement (GMM's
/// `icf[lidx]` before `lidx += 1`, LSTM's `st[ho + j]` before `st[ho + j]` is
/// stored). Candidates with a user outside their block get no point. Assumes
/// every later candidate is replayed, which can only move points later.
fn emit_points(
    candidates: &[Candidate],
    ifs: &[IfCandidate],
    conds: &[(StmtPos, Vec<VarId>, Site)],
    reads: &[Vec<Site>],
) -> HashMap<StmtPos, Site> {
    let mut users: HashMap<VarId, Vec<Site>> = HashMap::new();
    for (var, sites) in reads.iter().enumerate() {
        users.insert(VarId(var as u32), sites.clone());
    }
    for (_, cond_reads, site) in conds {
        for var in cond_reads {
            users.entry(*var).or_default().push(site.clone());
        }
    }
    let mut emit = HashMap::new();
    let mut next_if = ifs.len();
    for candidate in candidates.iter().rev() {
        while next_if > 0 && ifs[next_if - 1].site.pos > candidate.site.pos {
            next_if -= 1;
            let branch = &ifs[next_if];
            let inner: Vec<&Candidate> = candidates
                .iter()
                .filter(|inner| inner.site.pos > branch.site.pos && inner.site.pos < branch.end)
                .collect();
            let dsts: Vec<VarId> = inner.iter().map(|inner| inner.dst).collect();
            let inside = Some((branch.site.pos, branch.end));
            if let Some(at) = last_user(&branch.site, &dsts, inside, &users) {
                let read: Vec<VarId> = inner
                    .iter()
                    .flat_map(|inner| inner.reads.iter().copied())
                    .chain(branch.cond_reads.iter().copied())
                    .collect();
                for var in read {
                    users.entry(var).or_default().push(at.clone());
                }
                emit.insert(branch.site.pos, at);
            }
        }
        if let Some(at) = last_user(&candidate.site, &[candidate.dst], None, &users) {
            for var in &candidate.reads {
                users.entry(*var).or_default().push(at.clone());
            }
            emit.insert(candidate.site.pos, at);
        }
    }
    emit
}

/// The statement of `site`'s block that holds the last user of `dsts` (users
/// inside `inside` excepted), or `site` itself; `None` if a user is elsewhere.
fn last_user(
    site: &Site,
    dsts: &[VarId],
    inside: Option<(StmtPos, StmtPos)>,
    users: &HashMap<VarId, Vec<Site>>,
) -> Option<Site> {
    let depth = site.blocks.len();
    let mut last = site.pos;
    for dst in dsts {
        for user in users.get(dst).into_iter().flatten() {
            if inside.is_some_and(|(from, to)| user.pos > from && user.pos < to) {
                continue;
            }
            if !user.blocks.starts_with(&site.blocks) || user.pos <= site.pos {
                return None;
            }
            last = last.max(user.child_at(depth));
        }
    }
    Some(Site {
        pos: last,
        ..site.clone()
    })
}

/// What [`decide_replays`] reads.
struct Inputs<'a> {
    candidates: &'a [Candidate],
    ifs: &'a [IfCandidate],
    conds: &'a [(StmtPos, Vec<VarId>, Site)],
    reads: &'a [Vec<Site>],
    write_count: &'a [usize],
    array_writes: &'a HashMap<VarId, Vec<&'a Write>>,
    restored: &'a HashSet<VarId>,
    /// Integer counters whose every write the reverse sweep undoes or restores.
    restored_counters: &'a HashSet<VarId>,
    /// Where each candidate would be replayed (see [`emit_points`]).
    emit: &'a HashMap<StmtPos, Site>,
    ends: &'a HashMap<StmtPos, StmtPos>,
    /// Saved primitive results a replay may read after them (see `analyze`).
    saved_outputs: &'a HashMap<VarId, Site>,
    /// Results the rule of their own statement reads (`r = d.recip()`): the
    /// reverse sweep needs them although no other statement reads them.
    output_read: &'a HashSet<VarId>,
    /// Arrays refilled for the replays that read them (see [`refill_loops`]).
    refilled_for_reads: &'a HashMap<VarId, Refilled>,
}

/// The replay decisions for one choice of restored arrays.
struct Replays {
    /// Statements (and whole `if`s) replayed at the start of their block.
    replay: HashSet<StmtPos>,
    /// Statements replayed as part of a replayed `if`.
    inside_replayed_if: HashSet<StmtPos>,
    /// Variables whose value the reverse sweep recomputes, with the site that
    /// defines them for dominance (a replayed `if` for the ones it assigns).
    replayed_vars: HashMap<VarId, Site>,
    stable_conds: HashSet<StmtPos>,
}

impl Replays {
    fn covers(&self, pos: StmtPos) -> bool {
        self.replay.contains(&pos) || self.inside_replayed_if.contains(&pos)
    }
}

/// Replayable statements, decided in program order so that a statement may build on
/// an earlier replayed one that runs before it in the same iteration.
fn decide_replays(func: &Function, inputs: &Inputs, stable: &dyn Fn(VarId) -> bool) -> Replays {
    let Inputs {
        candidates,
        ifs,
        conds,
        reads,
        write_count,
        array_writes,
        restored,
        restored_counters,
        emit,
        ends,
        saved_outputs,
        output_read,
        refilled_for_reads,
    } = *inputs;
    let saved_before = |var: VarId, site: &Site| {
        saved_outputs
            .get(&var)
            .is_some_and(|def| dominates(def, site))
    };
    // The forward positions between a candidate and the end of the statement
    // before whose reverse it is replayed: its inputs must not be written there.
    let window = |site: &Site| -> Option<(StmtPos, StmtPos)> {
        let at = emit.get(&site.pos)?;
        Some((site.pos, ends.get(&at.pos).copied().unwrap_or(at.pos + 1)))
    };
    let array_ok = |array: VarId, site: &Site, window: (StmtPos, StmtPos)| {
        frozen(array_writes, array, site)
            || refilled_for_reads
                .get(&array)
                .is_some_and(|refilled| refilled.serves(site))
            || (restored.contains(&array) && restorable(array_writes, array, site, window))
            || unwound_outside(array_writes, array, site, window)
    };
    // `array_writes` holds every variable's writes, scalars too.
    let counter_ok = |var: VarId, (from, to): (StmtPos, StmtPos)| {
        restored_counters.contains(&var)
            && array_writes.get(&var).is_none_or(|writes| {
                writes
                    .iter()
                    .all(|write| write.site.pos <= from || write.site.pos >= to)
            })
    };
    let mut replayed_vars: HashMap<VarId, Site> = HashMap::new();
    let mut replay = HashSet::new();
    let mut inside_replayed_if = HashSet::new();
    let mut next_candidate = 0;
    let mut next_if = 0;
    while next_candidate < candidates.len() {
        let candidate = &candidates[next_candidate];
        // An `if` that starts before this candidate: try to replay it whole.
        if let Some(branch) = ifs.get(next_if) {
            if branch.site.pos < candidate.site.pos {
                next_if += 1;
                let inner: Vec<&Candidate> = candidates[next_candidate..]
                    .iter()
                    .take_while(|inner| inner.site.pos < branch.end)
                    .collect();
                let branch_window = window(&branch.site);
                let available = |var: VarId, site: &Site, local: &HashMap<VarId, Vec<Site>>| {
                    stable(var)
                        || replayed_vars
                            .get(&var)
                            .is_some_and(|def| dominates(def, site))
                        || saved_before(var, site)
                        || local
                            .get(&var)
                            .is_some_and(|defs| defs.iter().any(|def| dominates(def, site)))
                        || branch_window.is_some_and(|window| counter_ok(var, window))
                };
                let mut local: HashMap<VarId, Vec<Site>> = HashMap::new();
                let mut ok = branch_window.is_some()
                    && !branch.site.loops.is_empty()
                    && inner.len() == branch.end - branch.site.pos - 1
                    && branch
                        .cond_reads
                        .iter()
                        .all(|var| available(*var, &branch.site, &local));
                for inner in &inner {
                    if !ok {
                        break;
                    }
                    ok = inner.arrays.iter().all(|array| {
                        branch_window.is_some_and(|window| array_ok(*array, &inner.site, window))
                    })
                        && inner
                            .reads
                            .iter()
                            .all(|var| available(*var, &inner.site, &local))
                        && !matches!(func.var(inner.dst).origin, Origin::Param(_))
                        // At most one definition per branch.
                        && local.get(&inner.dst).is_none_or(|defs| {
                            defs.iter().all(|def| def.blocks != inner.site.blocks)
                        });
                    local.entry(inner.dst).or_default().push(inner.site.clone());
                }
                ok = ok
                    && local.iter().all(|(var, defs)| {
                        write_count[var.0 as usize] == defs.len()
                            && reads[var.0 as usize].iter().all(|read| {
                                if read.pos > branch.site.pos && read.pos < branch.end {
                                    defs.iter().any(|def| dominates(def, read))
                                } else {
                                    read.pos >= branch.end && dominates(&branch.site, read)
                                }
                            })
                    });
                if ok {
                    replay.insert(branch.site.pos);
                    for inner in &inner {
                        inside_replayed_if.insert(inner.site.pos);
                    }
                    for var in local.keys() {
                        replayed_vars.insert(*var, branch.site.clone());
                    }
                    next_candidate += inner.len();
                    while ifs
                        .get(next_if)
                        .is_some_and(|next| next.site.pos < branch.end)
                    {
                        next_if += 1;
                    }
                }
                continue;
            }
        }
        next_candidate += 1;
        let dst = candidate.dst;
        let Some(candidate_window) = window(&candidate.site) else {
            continue;
        };
        let available = |var: &VarId| {
            stable(*var)
                || replayed_vars
                    .get(var)
                    .is_some_and(|def| dominates(def, &candidate.site))
                || saved_before(*var, &candidate.site)
                || counter_ok(*var, candidate_window)
        };
        if !candidate.site.loops.is_empty()
            && write_count[dst.0 as usize] == 1
            && !matches!(func.var(dst).origin, Origin::Param(_))
            && candidate
                .arrays
                .iter()
                .all(|array| array_ok(*array, &candidate.site, candidate_window))
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
    let needed = |var: VarId, wanted: &HashSet<VarId>| {
        !reads[var.0 as usize].is_empty() || output_read.contains(&var) || wanted.contains(&var)
    };
    let mut next_if = ifs.len();
    for candidate in candidates.iter().rev() {
        // Replayed `if`s that end after this candidate: decide them first.
        while next_if > 0 && ifs[next_if - 1].site.pos > candidate.site.pos {
            next_if -= 1;
            let branch = &ifs[next_if];
            if !replay.contains(&branch.site.pos) {
                continue;
            }
            let inner: Vec<&Candidate> = candidates
                .iter()
                .filter(|inner| inner.site.pos > branch.site.pos && inner.site.pos < branch.end)
                .collect();
            if inner.iter().any(|inner| needed(inner.dst, &wanted)) {
                wanted.extend(branch.cond_reads.iter().copied());
                for inner in inner {
                    wanted.extend(inner.reads.iter().copied());
                }
            } else {
                replay.remove(&branch.site.pos);
                for inner in inner {
                    inside_replayed_if.remove(&inner.site.pos);
                }
            }
        }
        if !replay.contains(&candidate.site.pos) {
            continue;
        }
        if !needed(candidate.dst, &wanted) {
            replay.remove(&candidate.site.pos);
            continue;
        }
        wanted.extend(candidate.reads.iter().copied());
    }
    // A value whose replay was dropped is not recomputed: the saves must see it.
    replayed_vars.retain(|_, def| replay.contains(&def.pos));
    Replays {
        replay,
        inside_replayed_if,
        replayed_vars,
        stable_conds,
    }
}

/// One write of a variable: its site, and whether it is an element store.
struct Write {
    var: VarId,
    site: Site,
    store: bool,
    /// A `&mut` argument of an active call: the call keeps the state before it
    /// whenever a later reverse reads it (its snapshot, or the callee's own
    /// restores), so the reverse sweep restores this write itself.
    unwound: bool,
    /// A loop's reset of an exit flag (no statement of its own, nothing to save).
    reset: bool,
}

struct Collector<'a> {
    func: &'a Function,
    activity: &'a Activity,
    /// Reads by split calls whose callee says (as a constant) whether its reverse
    /// sweep reads the array: `(array, position)` → that constant.
    read_conditions: HashMap<(VarId, StmtPos), TokenStream>,
    /// `(variable, position)` of the reads with no such condition.
    plain_reads: HashSet<(VarId, StmtPos)>,
    /// Loops not counted as loops (see [`analyze`]).
    immediate: &'a HashSet<StmtPos>,
    /// Local arrays active calls read whole, with the call's site.
    call_arrays: Vec<(VarId, Site)>,
    loops: Vec<StmtPos>,
    blocks: Vec<usize>,
    next_block: usize,
    pos: StmtPos,
    /// Sites where the reverse sweep reads each variable.
    reads: Vec<Vec<Site>>,
    writes: Vec<Write>,
    /// Cheap statements, candidates for replay.
    candidates: Vec<Candidate>,
    /// `if` statements, candidates for replay as a whole.
    ifs: Vec<IfCandidate>,
    /// `if` conditions: position, variables read, site.
    conds: Vec<(StmtPos, Vec<VarId>, Site)>,
    /// Integer updates with an inverse: position → variables the inverse reads.
    undoable: HashMap<StmtPos, Vec<VarId>>,
    /// Positions of the enclosing `if`s and loops.
    path: Vec<StmtPos>,
    /// Each statement's end: the position after its last nested statement.
    ends: HashMap<StmtPos, StmtPos>,
    /// Reverse reads of a value right after the statement that computes it (rules
    /// taken from a primitive's output).
    output_reads: Vec<(VarId, Site)>,
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

/// An `if` the reverse sweep might replay whole, when both branches hold only
/// cheap statements (`let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };`).
struct IfCandidate {
    site: Site,
    cond_reads: Vec<VarId>,
    /// Position after its last nested statement.
    end: StmtPos,
}

impl Collector<'_> {
    fn site(&self, pos: StmtPos) -> Site {
        Site {
            pos,
            loops: self.loops.clone(),
            blocks: self.blocks.clone(),
            path: self.path.clone(),
        }
    }

    fn nested(&mut self, parent: StmtPos, block: &Block) {
        self.blocks.push(self.next_block);
        self.path.push(parent);
        self.next_block += 1;
        self.block(block);
        self.blocks.pop();
        self.path.pop();
    }

    fn block(&mut self, block: &Block) {
        for stmt in block {
            let here = self.pos;
            self.pos += 1;
            let site = self.site(here);
            let store = matches!(stmt, Stmt::Store { .. });
            let unwound_args: Vec<VarId> = match stmt {
                Stmt::Call { args, .. } if stmt_is_active(stmt, self.activity) => args
                    .iter()
                    .filter_map(|arg| match arg {
                        CallArg::MutArray { var, .. } => Some(*var),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for var in stmt.writes() {
                self.writes.push(Write {
                    var,
                    site: site.clone(),
                    store,
                    unwound: unwound_args.contains(&var),
                    reset: false,
                });
            }
            let mut reads: Vec<VarId> = Vec::new();
            match stmt {
                Stmt::Float { dst, op, .. } => {
                    if let Some(candidate) = cheap(*dst, op, &site) {
                        self.candidates.push(candidate);
                    }
                    if self.activity.is_active(*dst) {
                        match op {
                            FloatOp::Prim { prim, args, .. }
                                if prim.uses_output()
                                    && args.len() == 1
                                    && self.activity.operand(&args[0]).is_some() =>
                            {
                                // The rule reads the output as this statement left it.
                                self.output_reads.push((*dst, site.clone()));
                            }
                            _ => reads = reverse_reads(op, self.activity),
                        }
                    }
                }
                Stmt::Passive { dst, value, undo } => {
                    if !calls_function(&value.tokens) {
                        self.candidates.push(Candidate {
                            dst: *dst,
                            reads: value.reads.clone(),
                            arrays: Vec::new(),
                            site: site.clone(),
                        });
                    }
                    if let Some(undo) = undo.as_ref().filter(|undo| !calls_function(&undo.tokens)) {
                        self.undoable.insert(here, undo.reads.clone());
                    }
                }
                Stmt::Store { array, index, .. } => {
                    if self.activity.is_active(*array) {
                        reads = index.reads.clone();
                    }
                }
                Stmt::NewArray { .. } => {}
                Stmt::Call {
                    args,
                    tangent,
                    func,
                    ..
                } => {
                    let active = stmt_is_active(stmt, self.activity);
                    let split = tangent.is_none() && split_call(args);
                    let suffix = if constant_scalars(args, self.activity) {
                        "_C"
                    } else {
                        ""
                    };
                    // Whether the split callee's reverse sweep reads argument `k`.
                    let reads_arg = |k: usize| {
                        let name = quote::format_ident!("__READS{}_ARG{}", suffix, k);
                        quote::quote!(#func::#name)
                    };
                    if let Some(tangent) = tangent {
                        for arg in &tangent.args {
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
                    for (k, arg) in args.iter().enumerate() {
                        if active {
                            match arg {
                                CallArg::Array { var, .. }
                                    if tangent.is_none()
                                        && matches!(self.func.var(*var).ty, Ty::FloatArray(_)) =>
                                {
                                    self.call_arrays.push((*var, site.clone()));
                                    if split {
                                        self.read_conditions.insert((*var, here), reads_arg(k));
                                    }
                                }
                                // A split call's reverse starts from the state the
                                // call left: the array as the call wrote it.
                                CallArg::MutArray { var, .. } if split => {
                                    self.output_reads.push((*var, site.clone()));
                                    self.read_conditions.insert((*var, here), reads_arg(k));
                                }
                                _ => reads.extend(call_input(arg)),
                            }
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
                    let slot = self.ifs.len();
                    self.ifs.push(IfCandidate {
                        site: site.clone(),
                        cond_reads: cond.reads.clone(),
                        end: here,
                    });
                    self.nested(here, then_block);
                    self.nested(here, else_block);
                    self.ifs[slot].end = self.pos;
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
                    let looped_here = !self.immediate.contains(&here);
                    if looped_here {
                        self.loops.push(here);
                    }
                    // The loop resets its exit flags at the start of every
                    // iteration: writes that no statement shows.
                    let iteration = self.site(here);
                    for flag in &looped.reset {
                        self.writes.push(Write {
                            var: *flag,
                            site: iteration.clone(),
                            store: false,
                            unwound: false,
                            reset: true,
                        });
                    }
                    self.nested(here, &looped.body);
                    if looped_here {
                        self.loops.pop();
                    }
                }
            }
            for var in reads {
                self.plain_reads.insert((var, here));
                self.reads[var.0 as usize].push(site.clone());
            }
            self.ends.insert(here, self.pos);
        }
    }
}

/// Loops to checkpoint per iteration.
///
/// A top-level counted loop whose body holds a triply nested loop records a tape
/// per iteration that grows with the product of three inner sizes (GMM: components
/// × d²), while the state its body writes is indexed by at most two of them. Such a loop
/// snapshots every variable and array its body writes (except those declared in
/// the body, which each iteration writes before reading) at the start of each
/// iteration and runs its body without saving anything; the reverse sweep restores
/// the snapshot, runs that one iteration again with its saves, and reverses it, so
/// the stack holds one iteration's tape at a time (Tapenade's and Revolve's
/// checkpointing, with one snapshot per iteration).
///
/// A body only doubly nested (LSTM: layers × units) records about as much per
/// iteration as a hand-written adjoint keeps anyway (the gates of every unit), so
/// checkpointing it would buy a constant factor of memory for a second forward
/// pass through every transcendental call; it is recorded instead.
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
        if nesting(&looped.body) < 3 || !body_is_active(&looped.body, activity) {
            continue;
        }
        let mut written: Vec<VarId> = Vec::new();
        let mut eligible = true;
        crate::ir::walk(&looped.body, true, &mut |stmt, _| {
            eligible &= !matches!(stmt, Stmt::Call { .. });
            written.extend(stmt.writes());
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
pub fn count(stmt: &Stmt) -> usize {
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

/// The blocks directly inside `stmt`, each with the pre-order position of its
/// first statement, given `stmt` stands at `pos`: the two arms of an `if`, the
/// body of a loop.
pub fn nested_blocks(stmt: &Stmt, pos: StmtPos) -> Vec<(&Block, StmtPos)> {
    match stmt {
        Stmt::If {
            then_block,
            else_block,
            ..
        } => {
            let then_len: usize = then_block.iter().map(count).sum();
            vec![(then_block, pos + 1), (else_block, pos + 1 + then_len)]
        }
        Stmt::Loop(looped) => vec![(&looped.body, pos + 1)],
        _ => Vec::new(),
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
pub fn calls_function(tokens: &TokenStream) -> bool {
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
/// `recip` (one division), reads of array elements (transcendental primitives are
/// saved instead). A logistic `1.0 / (1.0 + (-z).exp())` thus saves only the
/// exponential: the sum and the reciprocal are recomputed from it.
fn cheap(dst: VarId, op: &FloatOp, site: &Site) -> Option<Candidate> {
    let (reads, arrays) = cheap_reads(op)?;
    Some(Candidate {
        dst,
        reads,
        arrays,
        site: site.clone(),
    })
}

/// What a cheap operation reads (variables, and arrays it reads an element of), or
/// `None` if it is not cheap: arithmetic, `recip`, an element read, constants
/// that call nothing.
pub fn cheap_reads(op: &FloatOp) -> Option<(Vec<VarId>, Vec<VarId>)> {
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
        FloatOp::Prim { prim, .. } if prim.name != "recip" => return None,
        FloatOp::Read { array, index } => {
            arrays.push(*array);
            reads.extend(index.reads.iter().copied());
        }
        _ => {}
    }
    Some((reads, arrays))
}

/// Variables whose values the adjoint of `op` reads, given which operands are active.
fn reverse_reads(op: &FloatOp, activity: &Activity) -> Vec<VarId> {
    let active = |operand: &crate::ir::Operand| activity.operand(operand).is_some();
    // A constant operand is evaluated again where the rule reads it: what it
    // reads must be as it was (`c` in `s * c`, `let c = table(i)` a passive
    // call whose type the macro does not know).
    let var = |operand: &crate::ir::Operand| -> Vec<VarId> {
        match operand {
            crate::ir::Operand::Var(var) => vec![*var],
            crate::ir::Operand::Const(value) => value.reads.clone(),
        }
    };
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
            let mut needed: Vec<VarId> = args.iter().flat_map(var).collect();
            if let Some(int_arg) = int_arg {
                needed.extend(int_arg.reads.iter().copied());
            }
            needed
        }
        FloatOp::Read { index, .. } => index.reads.clone(),
    }
}

/// Loops that refill arrays read by calls or replays, to run again in the
/// reverse sweep.
#[derive(Default)]
struct Refills {
    /// The refilled arrays (their calls neither copy them nor read them for the
    /// analysis, and their stores save nothing: the arrays are recomputed where
    /// their readers are reversed).
    arrays: Vec<VarId>,
    /// Statement → the reader before whose reverse it runs again.
    at: HashMap<StmtPos, StmtPos>,
    /// The arrays refilled for replayed reads, and where the refill serves them.
    for_reads: HashMap<VarId, Refilled>,
}

/// Where the refill of an array serves replayed reads: in the block `blocks`,
/// after the loop at `holder` that fills it.
struct Refilled {
    blocks: Vec<usize>,
    holder: StmtPos,
}

impl Refilled {
    fn serves(&self, site: &Site) -> bool {
        site.blocks.starts_with(&self.blocks) && site.child_at(self.blocks.len()) > self.holder
    }
}

/// The function's statements by position (`ir::walk` order), and the position
/// of the passive statement setting each variable (the first, for those set
/// more than once).
struct Statements<'a> {
    at: Vec<&'a Stmt>,
    setters: HashMap<VarId, StmtPos>,
}

impl<'a> Statements<'a> {
    fn new(func: &'a Function) -> Statements<'a> {
        let mut at = Vec::new();
        let mut setters = HashMap::new();
        crate::ir::walk(&func.body, false, &mut |stmt, _| {
            if let Stmt::Passive { dst, .. } = stmt {
                setters.entry(*dst).or_insert(at.len());
            }
            at.push(stmt);
        });
        Statements { at, setters }
    }

    fn get(&self, pos: StmtPos) -> Option<&'a Stmt> {
        self.at.get(pos).copied()
    }

    /// The passive statement setting `var`: its position and value.
    fn setter(&self, var: VarId) -> Option<(StmtPos, &'a crate::ir::PExpr)> {
        let pos = *self.setters.get(&var)?;
        match self.get(pos)? {
            Stmt::Passive { value, .. } => Some((pos, value)),
            _ => None,
        }
    }
}

/// A value the same for the whole call, loop indices excepted (they are stable
/// only within an iteration).
fn fixed(func: &Function, stable: &dyn Fn(VarId) -> bool, var: VarId) -> bool {
    stable(var) && func.var(var).origin != Origin::LoopIndex
}

/// The arrays that cheap reads read, each with the read's site and the sites
/// before whose reverse the read would be replayed: its own, and that of any
/// `if` around it replayed whole. Reads with no such site are never replayed.
fn replayed_reads(
    candidates: &[Candidate],
    ifs: &[IfCandidate],
    emit: &HashMap<StmtPos, Site>,
) -> Vec<(VarId, Site, Vec<Site>)> {
    let mut out = Vec::new();
    for candidate in candidates.iter().filter(|c| !c.arrays.is_empty()) {
        let pos = candidate.site.pos;
        let at: Vec<Site> = emit
            .get(&pos)
            .into_iter()
            .chain(
                ifs.iter()
                    .filter(|branch| branch.site.pos < pos && pos < branch.end)
                    .filter_map(|branch| emit.get(&branch.site.pos)),
            )
            .cloned()
            .collect();
        if at.is_empty() {
            continue;
        }
        for array in &candidate.arrays {
            out.push((*array, candidate.site.clone(), at.clone()));
        }
    }
    out
}

/// Finds loops `L` that refill local arrays read again and again in a loop:
/// every write of such an array either comes before `L` outside the loops around
/// its readers (its declaration) or is an element store of `L`; its readers come
/// after `L` in `L`'s block; and `L` is a `for` loop of plain statements (no
/// branches, calls or inner loops) whose stores compute from its index, values
/// that cannot change, temporaries it writes before it reads them and arrays not
/// written since before the loops around it. Running `L` again (and the
/// statements setting its bounds, if they change) before the reverse of the
/// last reader gives the arrays back the values every reader saw.
///
/// Readers are calls that read the arrays whole (in `L`'s block), or element
/// reads the reverse sweep replays (anywhere in `L`'s block after it: GMM's
/// `xcentered`, refilled for each component, instead of saving each store). An
/// array read both ways is not refilled.
#[allow(clippy::too_many_arguments)]
fn refill_loops(
    func: &Function,
    statements: &Statements,
    call_arrays: &[(VarId, Site)],
    replayed_reads: &[(VarId, Site, Vec<Site>)],
    reads: &[Vec<Site>],
    array_writes: &HashMap<VarId, Vec<&Write>>,
    write_count: &[usize],
    stable: &dyn Fn(VarId) -> bool,
) -> Refills {
    let check = LoopCheck {
        func,
        statements,
        array_writes,
        write_count,
        stable,
    };
    let mut out = Refills::default();
    // Candidate loops: for each array read by a call, the statement of the call's
    // block that holds its stores.
    let mut loops: HashMap<StmtPos, (Site, Vec<VarId>, StmtPos)> = HashMap::new();
    let mut rejected: HashSet<VarId> = HashSet::new();
    for (array, call) in call_arrays {
        if !matches!(func.var(*array).origin, Origin::Local) || !reads[array.0 as usize].is_empty()
        {
            rejected.insert(*array);
            continue;
        }
        let depth = call.blocks.len();
        let array_writes = array_writes.get(array).map(Vec::as_slice).unwrap_or(&[]);
        let inside = |write: &Write| {
            write.store
                && write.site.blocks.len() > depth
                && write.site.blocks.starts_with(&call.blocks)
        };
        // The statement of the call's block holding its stores, before the call.
        let mut holder = None;
        for write in array_writes.iter().filter(|write| inside(write)) {
            let at = write.site.child_at(depth);
            if holder.is_some_and(|held| held != at) || at > call.pos {
                rejected.insert(*array);
            }
            holder = Some(at);
        }
        // Every other write before it, outside the loops around the call.
        if let Some(at) = holder {
            if array_writes.iter().any(|write| {
                !inside(write) && (write.site.pos >= at || shares_loop(&write.site, call))
            }) {
                rejected.insert(*array);
            }
        }
        match holder {
            Some(at) if !rejected.contains(array) => {
                let entry = loops
                    .entry(at)
                    .or_insert_with(|| (call.clone(), Vec::new(), call.pos));
                if entry.0.blocks != call.blocks {
                    rejected.insert(*array);
                    continue;
                }
                if !entry.1.contains(array) {
                    entry.1.push(*array);
                }
                entry.2 = entry.2.max(call.pos);
            }
            _ => {
                rejected.insert(*array);
            }
        }
    }
    for (at, (call, arrays, last_call)) in loops {
        if arrays.iter().any(|array| rejected.contains(array)) {
            continue;
        }
        let Some(bounds) = check.refills(at, &arrays, &call) else {
            continue;
        };
        for pos in bounds {
            out.at.insert(pos, last_call);
        }
        out.at.insert(at, last_call);
        out.arrays.extend(arrays);
    }
    // Arrays read by replays (and by no call): the holder is the statement of
    // the innermost block around the readers, and the stores in their loops,
    // that holds those stores.
    let call_read: HashSet<VarId> = call_arrays.iter().map(|(array, _)| *array).collect();
    let mut readers: std::collections::BTreeMap<VarId, Vec<(&Site, &[Site])>> =
        std::collections::BTreeMap::new();
    for (array, site, at) in replayed_reads {
        if !call_read.contains(array) {
            readers.entry(*array).or_default().push((site, at));
        }
    }
    // Holder → (a reader, its arrays, the last reader's statement, the block).
    let mut holders: std::collections::BTreeMap<StmtPos, (Site, Vec<VarId>, StmtPos, Vec<usize>)> =
        std::collections::BTreeMap::new();
    for (array, readers) in readers {
        if !matches!(func.var(array).origin, Origin::Local)
            || !matches!(func.var(array).ty, Ty::FloatArray(_))
            || !reads[array.0 as usize].is_empty()
        {
            continue;
        }
        let writes = array_writes.get(&array).map(Vec::as_slice).unwrap_or(&[]);
        let rewrites = |write: &Write| {
            write.store
                && readers
                    .iter()
                    .any(|(site, _)| shares_loop(&write.site, site))
        };
        let Some(first) = writes.iter().find(|write| rewrites(write)) else {
            continue;
        };
        let sites = writes
            .iter()
            .filter(|write| rewrites(write))
            .map(|write| &write.site)
            .chain(
                readers
                    .iter()
                    .flat_map(|(site, at)| std::iter::once(*site).chain(at.iter())),
            );
        let mut blocks = first.site.blocks.clone();
        for site in sites {
            let common = blocks
                .iter()
                .zip(&site.blocks)
                .take_while(|(a, b)| a == b)
                .count();
            blocks.truncate(common);
        }
        let depth = blocks.len();
        if writes
            .iter()
            .any(|write| rewrites(write) && write.site.blocks.len() <= depth)
        {
            continue;
        }
        let holder = first.site.child_at(depth);
        let mut last = holder;
        let mut ok = writes.iter().all(|write| {
            if rewrites(write) {
                write.site.child_at(depth) == holder
            } else {
                write.site.pos < holder
                    && !readers
                        .iter()
                        .any(|(site, _)| shares_loop(&write.site, site))
            }
        });
        for (site, at) in &readers {
            for site in std::iter::once(*site).chain(at.iter()) {
                let child = site.child_at(depth);
                ok &= child > holder;
                last = last.max(child);
            }
        }
        if !ok {
            continue;
        }
        let entry = holders
            .entry(holder)
            .or_insert_with(|| (readers[0].0.clone(), Vec::new(), last, blocks));
        entry.1.push(array);
        entry.2 = entry.2.max(last);
    }
    for (at, (reader, arrays, last, blocks)) in holders {
        let Some(bounds) = check.refills(at, &arrays, &reader) else {
            continue;
        };
        for pos in bounds {
            out.at.insert(pos, last);
        }
        out.at.insert(at, last);
        for array in &arrays {
            out.for_reads.insert(
                *array,
                Refilled {
                    blocks: blocks.clone(),
                    holder: at,
                },
            );
        }
        out.arrays.extend(arrays);
    }
    out
}

/// What [`LoopCheck::refills`] reads.
struct LoopCheck<'a> {
    func: &'a Function,
    statements: &'a Statements<'a>,
    array_writes: &'a HashMap<VarId, Vec<&'a Write>>,
    write_count: &'a [usize],
    stable: &'a dyn Fn(VarId) -> bool,
}

impl LoopCheck<'_> {
    /// Whether the statement at `at` is a loop that refills `arrays` for
    /// `reader` (see [`refill_loops`]): the positions of the statements setting
    /// its bounds that must run again with it, or `None`.
    fn refills(&self, at: StmtPos, arrays: &[VarId], reader: &Site) -> Option<Vec<StmtPos>> {
        let (func, stable) = (self.func, self.stable);
        let Some(Stmt::Loop(looped)) = self.statements.get(at) else {
            return None;
        };
        let crate::ir::LoopKind::For { index, seq } = &looped.kind else {
            return None;
        };
        let index_var = index;
        if looped.exit.is_some() || !seq.chain.is_empty() {
            return None;
        }
        // Values the same in every run of the loop: its stores must write the
        // same elements each time. (A window that moves with an outer loop's
        // index leaves elsewhere what the iteration before wrote, and the
        // reverse sweep gets there after the iteration after.)
        let fixed = |var: VarId| fixed(func, stable, var);
        // Its body: plain statements storing only into the refilled arrays, at
        // indices computed from its own index and fixed values.
        let own: HashSet<VarId> = looped.body.iter().flat_map(Stmt::writes).collect();
        let body_ok = looped.body.iter().all(|stmt| {
            let kind_ok = match stmt {
                Stmt::Float { .. } | Stmt::Passive { .. } => true,
                Stmt::Store { array, index, .. } => {
                    arrays.contains(array)
                        && index
                            .reads
                            .iter()
                            .all(|var| Some(*var) == *index_var || fixed(*var))
                }
                _ => false,
            };
            let read_ok = |var: VarId| {
                Some(var) == *index
                    || stable(var)
                    || (own.contains(&var)
                        && !arrays.contains(&var)
                        && !matches!(func.var(var).ty, Ty::FloatArray(_)))
            };
            let array_ok = match stmt {
                Stmt::Float {
                    op: FloatOp::Read { array, .. },
                    ..
                } => {
                    // Written only before the loops around the readers.
                    !own.contains(array)
                        && self.array_writes.get(array).is_none_or(|writes| {
                            writes.iter().all(|write| {
                                write.site.pos < at && !shares_loop(&write.site, reader)
                            })
                        })
                }
                _ => true,
            };
            let reads_ok = stmt.reads().into_iter().all(|var| {
                read_ok(var)
                    || matches!(stmt, Stmt::Float { op: FloatOp::Read { array, .. }, .. } if *array == var)
            });
            kind_ok && array_ok && reads_ok
        });
        // Each iteration writes its temporaries before it reads them (no running
        // sum), so running it again gives them the values they had, whatever
        // they hold when it starts.
        let mut defined: HashSet<VarId> = HashSet::new();
        let fresh = looped.body.iter().all(|stmt| {
            let ok = stmt
                .reads()
                .into_iter()
                .all(|var| !own.contains(&var) || defined.contains(&var));
            defined.extend(stmt.writes());
            ok
        });
        if !body_ok || !fresh {
            return None;
        }
        // Its bounds: fixed values, or set once each by a statement of the same
        // block before it that reads only such values.
        let mut bounds = Vec::new();
        for bound in [seq.lo, seq.hi] {
            if fixed(bound) {
                continue;
            }
            match self.statements.setter(bound) {
                Some((pos, value))
                    if pos < at
                        && self.write_count[bound.0 as usize] == 1
                        && value.reads.iter().all(|var| fixed(*var)) =>
                {
                    bounds.push(pos);
                }
                _ => return None,
            }
        }
        Some(bounds)
    }
}

/// Results of primitives whose rule reads them (`e = z.exp()`), saved for that
/// rule alone, and stored by the next statement into an array element that
/// still holds them when the reverse sweep gets back to them (GMM's
/// `qdiag[c * d + j] = e`, a port's `gates[3 * b + i] = g`): the reverse sweep
/// reads them back from the element instead of saving them. Removes their saves.
/// Results of split calls stored the same way (`gates[i] = sigmoid(z)`): the
/// reverse sweep hands the element to the callee's reverse (`g::__unrecord_v`),
/// which then need not keep the result itself.
///
/// The element still holds the value when the array is a local that nothing
/// writes after the loops around the store, and inside them only stores that
/// write other elements:
/// - the store itself in other iterations: its index is `i + e` in a single loop
///   over `i` (`e` fixed), or `v * m + i` in a loop over `i` in `lo..m` inside
///   one over `v`;
/// - stores of the same loop `for i in lo..m` at other bands: `s * m + i` for
///   distinct integers `s` (`i` is band 0, `m + i` band 1);
///
/// and when the reverse sweep puts back nothing of it before then: none of its
/// writes saves (restores an old element), it is not refilled (see
/// [`refill_loops`]) and no call's copy of it is put back.
#[allow(clippy::too_many_arguments)]
fn reloads(
    func: &Function,
    statements: &Statements,
    writes: &[Write],
    array_writes: &HashMap<VarId, Vec<&Write>>,
    write_count: &[usize],
    stable: &dyn Fn(VarId) -> bool,
    refilled: &HashSet<VarId>,
    call_snapshots: &HashSet<(StmtPos, VarId)>,
    saves: &mut HashSet<(StmtPos, VarId)>,
) -> HashMap<StmtPos, (VarId, crate::ir::PExpr)> {
    let mut forward_reads: HashMap<VarId, usize> = HashMap::new();
    for var in statements.at.iter().flat_map(|stmt| stmt.reads()) {
        *forward_reads.entry(var).or_default() += 1;
    }
    let site_of: HashMap<(StmtPos, VarId), &Site> = writes
        .iter()
        .map(|write| ((write.site.pos, write.var), &write.site))
        .collect();
    let fixed = |var: VarId| fixed(func, stable, var);
    // The upper bound of a loop as written (`d` for the `__ad_hi = d` set before
    // it), if fixed.
    let bound = |var: VarId| -> Option<String> {
        if write_count[var.0 as usize] > 1 {
            return None;
        }
        match statements.setter(var).map(|(_, value)| value) {
            Some(value) if value.reads.iter().all(|read| fixed(*read)) => {
                Some(sum_terms(&value.tokens)?.join(" + "))
            }
            Some(_) => None,
            None => fixed(var).then(|| func.var(var).name.clone()),
        }
    };
    let mut candidates: Vec<(StmtPos, VarId)> = saves.iter().copied().collect();
    // Results of split calls, which the callee's reverse may take from its caller
    // (`g::__unrecord_v`) instead of keeping them itself.
    for (pos, stmt) in statements.at.iter().enumerate() {
        if let Stmt::Call {
            dst: Some(dst),
            args,
            tangent: None,
            ..
        } = stmt
        {
            if split_call(args) {
                candidates.push((pos, *dst));
            }
        }
    }
    candidates.sort();
    candidates.dedup();
    let mut out = HashMap::new();
    for (pos, dst) in candidates {
        let call = match statements.get(pos) {
            Some(Stmt::Float {
                op: FloatOp::Prim { prim, args, .. },
                ..
            }) if prim.uses_output() && args.len() == 1 => false,
            Some(Stmt::Call {
                dst: Some(result),
                args,
                tangent: None,
                ..
            }) if *result == dst && split_call(args) => true,
            _ => continue,
        };
        let Some(Stmt::Store {
            array,
            index,
            value: crate::ir::Operand::Var(stored),
            ..
        }) = statements.get(pos + 1)
        else {
            continue;
        };
        let (Some(site), Some(store_site)) =
            (site_of.get(&(pos, dst)), site_of.get(&(pos + 1, *array)))
        else {
            continue;
        };
        let array = *array;
        if *stored != dst
            || write_count[dst.0 as usize] != 1
            || forward_reads.get(&dst) != Some(&1)
            || site.blocks != store_site.blocks
            || !matches!(func.var(array).origin, Origin::Local)
            || !matches!(func.var(array).ty, Ty::FloatArray(_))
            || refilled.contains(&array)
            || call_snapshots.iter().any(|(_, var)| *var == array)
            || saves.iter().any(|(_, var)| *var == array)
        {
            continue;
        }
        let loops = &store_site.loops;
        // The loops around the store, innermost last: their indices and bounds.
        let ranges: Option<Vec<(String, &crate::ir::RangeSeq)>> = loops
            .iter()
            .map(|at| match statements.get(*at) {
                Some(Stmt::Loop(looped)) => match &looped.kind {
                    LoopKind::For {
                        index: Some(index),
                        seq,
                    } if looped.exit.is_none() => Some((func.var(*index).name.clone(), seq)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let Some(ranges) = ranges else { continue };
        let Some((inner, inner_seq)) = ranges.last() else {
            continue;
        };
        let Some(terms) = sum_terms(&index.tokens) else {
            continue;
        };
        let inner_bound = if inner_seq.inclusive {
            None
        } else {
            bound(inner_seq.hi)
        };
        let index_vars: Vec<&String> = ranges.iter().map(|(name, _)| name).collect();
        let others_fixed = index
            .reads
            .iter()
            .all(|var| fixed(*var) || index_vars.contains(&&func.var(*var).name));
        if !others_fixed || terms.iter().filter(|term| *term == inner).count() != 1 {
            continue;
        }
        let rest: Vec<&String> = terms.iter().filter(|term| *term != inner).collect();
        let distinct = match ranges.len() {
            1 => rest.iter().all(|term| !mentions_word(term, inner)),
            2 => {
                let outer = &ranges[0].0;
                rest.len() == 1
                    && inner_bound.as_ref().is_some_and(|m| {
                        *rest[0] == format!("{outer} * {m}") || *rest[0] == format!("{m} * {outer}")
                    })
            }
            _ => false,
        };
        if !distinct {
            continue;
        }
        // Other writes: before the loops, or stores of the same loop at other bands.
        let band_of = |terms: &[String]| -> Option<i64> {
            let m = inner_bound.as_ref()?;
            let rest: Vec<&String> = terms.iter().filter(|term| *term != inner).collect();
            if terms.iter().filter(|term| *term == inner).count() != 1 {
                return None;
            }
            match rest.as_slice() {
                [] => Some(0),
                [term] if *term == m => Some(1),
                [term] => {
                    let (left, right) = term.split_once(" * ")?;
                    if right == m {
                        left.parse().ok()
                    } else if left == m {
                        right.parse().ok()
                    } else {
                        None
                    }
                }
                _ => None,
            }
        };
        let own_band = band_of(&terms);
        let mut bands = vec![own_band];
        let others_ok = array_writes[&array].iter().all(|write| {
            if write.site.pos == pos + 1 {
                return true;
            }
            if !shares_loop(&write.site, store_site) {
                return write.site.pos < loops[0];
            }
            let sibling = match statements.get(write.site.pos) {
                Some(Stmt::Store { index, .. })
                    if ranges.len() == 1 && write.site.loops == *loops =>
                {
                    sum_terms(&index.tokens).and_then(|terms| band_of(&terms))
                }
                _ => None,
            };
            let ok = own_band.is_some() && sibling.is_some() && !bands.contains(&sibling);
            bands.push(sibling);
            ok
        });
        if !others_ok {
            continue;
        }
        // (A call's result has no save for the callee's sake: a save of its old
        // value stays.)
        if !call {
            saves.remove(&(pos, dst));
        }
        out.insert(pos, (array, index.clone()));
    }
    out
}

/// The terms of a sum as written (`(c * d + j)` → `["c * d", "j"]`), each as its
/// tokens joined by spaces, or `None` if it has a top-level `-`.
fn sum_terms(tokens: &TokenStream) -> Option<Vec<String>> {
    let mut trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    while let [TokenTree::Group(group)] = trees.as_slice() {
        if group.delimiter() != Delimiter::Parenthesis {
            break;
        }
        trees = group.stream().into_iter().collect();
    }
    let mut terms = vec![Vec::new()];
    for tree in trees {
        match &tree {
            TokenTree::Punct(punct) if punct.as_char() == '+' => terms.push(Vec::new()),
            TokenTree::Punct(punct) if punct.as_char() == '-' => return None,
            _ => terms.last_mut()?.push(tree.to_string()),
        }
    }
    if terms.iter().any(Vec::is_empty) {
        return None;
    }
    Some(terms.into_iter().map(|term| term.join(" ")).collect())
}

/// Whether `word` occurs in `text` as a whole identifier.
fn mentions_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|part| part == word)
}
