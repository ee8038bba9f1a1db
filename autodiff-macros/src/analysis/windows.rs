//! Scratch copies of a window of another array, passed whole to calls.
//!
//! The contract has no sub-slices, so code that hands part of an array to a
//! helper (a port of C++ code, ADBench's GMM) copies it into a scratch array
//! first:
//!
//! ```text
//! for j in 0..m { ltri[j] = icf[c * sz + d + j]; }
//! qtimesx(&qd, &ltri, &xc, &mut out);
//! ```
//!
//! Reversed as written, the reverse sweep fills `ltri` again before the call's
//! reverse, the callee adds into `ltri_bar`, and the copy's reverse moves
//! `ltri_bar` into `icf_bar` element by element. A hand-written adjoint passes the
//! window instead, and so does the reverse sweep here: the call's reverse gets
//! `&icf[c * sz + d..][..m]` and `&mut icf_bar[c * sz + d..][..m]`. `ltri_bar` is
//! then never added into, so the copy's reverse (which would move zeros) and its
//! refill are skipped.
//!
//! Only where the window and the copy hold the same values wherever the call's
//! reverse runs, and the copy is read by nothing else:
//!
//! - the copy `w` is a local `vec![0.0; len]` made once, outside loops, written
//!   only by one store `w[j] = t` of a loop `for j in 0..len` (the same `len`,
//!   of values fixed for the whole call), with `t = a[off + j]` in the same loop
//!   body and `t` used nowhere else;
//! - `off` reads only values fixed for the whole call and the indices of loops
//!   around the copying loop, and `a` is written only before that loop, outside
//!   the loops around it;
//! - every reader of `w` is a call in the copying loop's block, after it, that
//!   passes `&w` once and `a` in no other argument (the adjoints would alias).
//!
//! A callee taking `&Vec<f64>` cannot take a window: the callee's `__SLICE_ARGk`
//! constant says whether it takes `&[f64]`, and everything skipped here is
//! skipped only under those constants (and-ed over the readers).

use std::collections::{HashMap, HashSet};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::{format_ident, quote};

use crate::analysis::tbr::{count, nested_blocks, StmtPos};
use crate::ir::{
    ArgPass, ArrayInit, Block, CallArg, FloatOp, Function, LoopKind, Operand, Origin, Stmt, Ty,
    VarId,
};
use crate::sig::Shape;

/// A call argument passed as a window of another array in the reverse sweep.
#[derive(Clone, Debug)]
pub struct Window {
    /// The scratch copy the call names.
    pub copy: VarId,
    /// The array it copies from.
    pub source: VarId,
    /// Where the window starts in `source`.
    pub offset: TokenStream,
}

/// The windows of a function, by statement position (as in `tbr`).
#[derive(Debug, Default)]
pub struct Windows {
    /// (call, argument index) → the window passed there.
    pub args: HashMap<(StmtPos, usize), Window>,
    /// The copying read and store → when to skip them (see [`Skip`]).
    pub skipped: HashMap<StmtPos, Skip>,
}

/// When a copy's read and store are skipped.
#[derive(Clone, Debug)]
pub struct Skip {
    /// In the reverse sweep (their reverse and their refill): when every
    /// reader takes the window (the callees' `__SLICE_ARGk`, and-ed).
    pub condition: TokenStream,
    /// In the forward sweep, also only when the window is in bounds (else the
    /// copy runs, and panics where the function does): the copying loop's
    /// position, and the test to run before it.
    pub loop_pos: StmtPos,
    pub fits: TokenStream,
}

/// Where each statement is: the loops around it.
struct Places<'a> {
    stmts: Vec<&'a Stmt>,
    loops: Vec<Vec<StmtPos>>,
    writes: HashMap<VarId, Vec<StmtPos>>,
    reads: HashMap<VarId, Vec<StmtPos>>,
}

impl<'a> Places<'a> {
    fn new(func: &'a Function) -> Places<'a> {
        let mut places = Places {
            stmts: Vec::new(),
            loops: Vec::new(),
            writes: HashMap::new(),
            reads: HashMap::new(),
        };
        places.block(&func.body, &mut Vec::new());
        if let Some(ret) = func.ret {
            places.reads.entry(ret).or_default().push(usize::MAX);
        }
        places
    }

    fn block(&mut self, block: &'a Block, around: &mut Vec<StmtPos>) {
        for stmt in block {
            let pos = self.stmts.len();
            self.stmts.push(stmt);
            self.loops.push(around.clone());
            for var in stmt.writes() {
                self.writes.entry(var).or_default().push(pos);
            }
            for var in stmt.reads() {
                self.reads.entry(var).or_default().push(pos);
            }
            match stmt {
                Stmt::If {
                    then_block,
                    else_block,
                    ..
                } => {
                    self.block(then_block, around);
                    self.block(else_block, around);
                }
                Stmt::Loop(looped) => {
                    around.push(pos);
                    self.block(&looped.body, around);
                    around.pop();
                }
                _ => {}
            }
        }
    }

    fn writes(&self, var: VarId) -> &[StmtPos] {
        self.writes.get(&var).map_or(&[], Vec::as_slice)
    }

    fn reads(&self, var: VarId) -> &[StmtPos] {
        self.reads.get(&var).map_or(&[], Vec::as_slice)
    }

    /// A value the same for the whole call: a parameter never assigned, or a
    /// local assigned once outside loops.
    fn fixed(&self, func: &Function, var: VarId) -> bool {
        let writes = self.writes(var);
        match func.var(var).origin {
            Origin::Param(_) => writes.is_empty(),
            Origin::Local => matches!(writes, [pos] if self.loops[*pos].is_empty()),
            Origin::LoopIndex => false,
        }
    }
}

/// A copying loop's candidate before its readers are checked against each other.
struct Candidate {
    window: Window,
    loop_pos: StmtPos,
    read: StmtPos,
    store: StmtPos,
    /// (call, argument index, callee path).
    readers: Vec<(StmtPos, usize, TokenStream)>,
}

/// Finds the windows of `func` (see the module docs).
pub fn find(func: &Function) -> Windows {
    let places = Places::new(func);
    let mut candidates = Vec::new();
    visit(
        func,
        &places,
        &func.body,
        0,
        &mut Vec::new(),
        &mut candidates,
    );
    // Two windows of one array in one call would hand its adjoint out twice.
    let mut sources: HashMap<StmtPos, Vec<VarId>> = HashMap::new();
    for candidate in &candidates {
        for (call, _, _) in &candidate.readers {
            sources
                .entry(*call)
                .or_default()
                .push(candidate.window.source);
        }
    }
    let mut out = Windows::default();
    for candidate in candidates {
        let shared = candidate.readers.iter().any(|(call, _, _)| {
            sources[call]
                .iter()
                .filter(|source| **source == candidate.window.source)
                .count()
                > 1
        });
        if shared {
            continue;
        }
        let conditions: Vec<TokenStream> = candidate
            .readers
            .iter()
            .map(|(_, k, callee)| {
                let name = format_ident!("__SLICE_ARG{}", k);
                quote!(#callee::#name)
            })
            .collect();
        let condition = quote!(#(#conditions)&&*);
        let Window {
            copy,
            source,
            offset,
        } = &candidate.window;
        let (copy, source) = (
            crate::ir::ident(&func.var(*copy).name, proc_macro2::Span::call_site()),
            crate::ir::ident(&func.var(*source).name, proc_macro2::Span::call_site()),
        );
        let skip = Skip {
            condition,
            loop_pos: candidate.loop_pos,
            fits: quote!(usize::checked_add(#offset, #copy.len()).is_some_and(|end| end <= #source.len())),
        };
        out.skipped.insert(candidate.read, skip.clone());
        out.skipped.insert(candidate.store, skip);
        for (call, k, _) in candidate.readers {
            out.args.insert((call, k), candidate.window.clone());
        }
    }
    out
}

/// Looks for copying loops in `block` (starting at `start`) and the blocks
/// inside it; `indices` are the indices of the `for` loops around it.
fn visit(
    func: &Function,
    places: &Places,
    block: &Block,
    start: StmtPos,
    indices: &mut Vec<VarId>,
    out: &mut Vec<Candidate>,
) {
    let mut positions = Vec::with_capacity(block.len());
    let mut pos = start;
    for stmt in block {
        positions.push(pos);
        let index = match stmt {
            Stmt::Loop(looped) => match &looped.kind {
                LoopKind::For {
                    index: Some(index), ..
                } => Some(*index),
                _ => None,
            },
            _ => None,
        };
        indices.extend(index);
        for (inner, inner_pos) in nested_blocks(stmt, pos) {
            visit(func, places, inner, inner_pos, indices, out);
        }
        if index.is_some() {
            indices.pop();
        }
        pos += count(stmt);
    }
    for (k, stmt) in block.iter().enumerate() {
        if let Stmt::Loop(_) = stmt {
            copying_loop(func, places, block, &positions, k, indices, out);
        }
    }
}

/// The copies the loop `block[k]` makes that qualify (see the module docs).
fn copying_loop(
    func: &Function,
    places: &Places,
    block: &Block,
    positions: &[StmtPos],
    k: usize,
    indices: &[VarId],
    out: &mut Vec<Candidate>,
) {
    let Stmt::Loop(looped) = &block[k] else {
        return;
    };
    let LoopKind::For {
        index: Some(index),
        seq,
    } = &looped.kind
    else {
        return;
    };
    if seq.inclusive || !seq.chain.is_empty() || looped.exit.is_some() {
        return;
    }
    let loop_pos = positions[k];
    // The bounds, set just before the loop.
    let setter = |var: VarId| {
        block[..k].iter().rev().find_map(|stmt| match stmt {
            Stmt::Passive { dst, value, .. } if *dst == var => Some(value),
            _ => None,
        })
    };
    let (Some(lo), Some(hi)) = (setter(seq.lo), setter(seq.hi)) else {
        return;
    };
    if plain(&lo.tokens) != "0" || !hi.reads.iter().all(|var| places.fixed(func, *var)) {
        return;
    }
    let index_name = &func.var(*index).name;
    let mut body_pos = Vec::with_capacity(looped.body.len());
    let mut next = loop_pos + 1;
    for stmt in &looped.body {
        body_pos.push(next);
        next += count(stmt);
    }
    for (s, stmt) in looped.body.iter().enumerate() {
        let Stmt::Store {
            array: copy,
            index: store_index,
            value: Operand::Var(value),
            ..
        } = stmt
        else {
            continue;
        };
        if plain(&store_index.tokens) != *index_name || store_index.reads != [*index] {
            continue;
        }
        let Some((r, source, read_index)) =
            looped.body[..s]
                .iter()
                .enumerate()
                .find_map(|(r, stmt)| match stmt {
                    Stmt::Float {
                        dst,
                        op: FloatOp::Read { array, index },
                        ..
                    } if dst == value => Some((r, *array, index)),
                    _ => None,
                })
        else {
            continue;
        };
        let (read_pos, store_pos) = (body_pos[r], body_pos[s]);
        // `t` read once, by the store; written once, by the read.
        if places.reads(*value) != [store_pos] || places.writes(*value) != [read_pos] {
            continue;
        }
        // The copy: a `Vec` made once, outside loops, of the loop's length.
        let var = func.var(*copy);
        if var.origin != Origin::Local
            || !matches!(var.ty, Ty::FloatArray(Shape::Vec))
            || source == *copy
        {
            continue;
        }
        let made = match places.writes(*copy) {
            [made, store] if *store == store_pos && *made < loop_pos => *made,
            _ => continue,
        };
        let Stmt::NewArray {
            init: ArrayInit::VecFill { len, .. },
            ..
        } = places.stmts[made]
        else {
            continue;
        };
        if !places.loops[made].is_empty()
            || plain(&len.tokens) != plain(&hi.tokens)
            || !len.reads.iter().all(|var| places.fixed(func, *var))
        {
            continue;
        }
        // The source: not written from the loop on, nor in the loops around it.
        if !matches!(func.var(source).ty, Ty::FloatArray(_))
            || places.writes(source).iter().any(|write| {
                *write >= loop_pos
                    || places.loops[*write]
                        .iter()
                        .any(|around| places.loops[loop_pos].contains(around))
            })
        {
            continue;
        }
        let Some(offset) = offset(&read_index.tokens, index_name) else {
            continue;
        };
        if !read_index
            .reads
            .iter()
            .all(|var| var == index || indices.contains(var) || places.fixed(func, *var))
        {
            continue;
        }
        let Some(readers) = readers(places, block, positions, k, *copy, source) else {
            continue;
        };
        out.push(Candidate {
            window: Window {
                copy: *copy,
                source,
                offset,
            },
            loop_pos,
            read: read_pos,
            store: store_pos,
            readers,
        });
    }
}

/// The calls reading `copy`, each (position, argument index, callee), if every
/// reader is a call of `block` after `block[k]` passing `&copy` once and `source`
/// in no other argument.
fn readers(
    places: &Places,
    block: &Block,
    positions: &[StmtPos],
    k: usize,
    copy: VarId,
    source: VarId,
) -> Option<Vec<(StmtPos, usize, TokenStream)>> {
    let reads = places.reads(copy);
    let mut out = Vec::with_capacity(reads.len());
    let later: HashSet<StmtPos> = positions[k + 1..].iter().copied().collect();
    for pos in reads {
        if !later.contains(pos) {
            return None;
        }
        let Stmt::Call {
            func: callee,
            args,
            tangent: None,
            ..
        } = places.stmts[*pos]
        else {
            return None;
        };
        let mut passed = None;
        for (k, arg) in args.iter().enumerate() {
            match arg {
                CallArg::Array {
                    var,
                    by: ArgPass::Ref,
                    ..
                } if *var == copy && passed.is_none() => passed = Some(k),
                CallArg::Array { var, .. } | CallArg::MutArray { var, .. }
                    if *var == copy || *var == source =>
                {
                    return None
                }
                CallArg::Passive(value) if value.reads.contains(&copy) => return None,
                _ => {}
            }
        }
        out.push((*pos, passed?, callee.clone()));
    }
    debug_assert!(block.len() > k);
    (!out.is_empty()).then_some(out)
}

/// `index - j` for an index `off + j` (terms in any order; `0` for `j` alone),
/// or `None` if the index is not such a sum.
fn offset(tokens: &TokenStream, index: &str) -> Option<TokenStream> {
    let mut trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    while let [TokenTree::Group(group)] = trees.as_slice() {
        if group.delimiter() != Delimiter::Parenthesis {
            break;
        }
        trees = group.stream().into_iter().collect();
    }
    let mut terms: Vec<Vec<TokenTree>> = vec![Vec::new()];
    for tree in trees {
        match &tree {
            TokenTree::Punct(punct) if punct.as_char() == '+' => terms.push(Vec::new()),
            TokenTree::Punct(punct) if punct.as_char() == '-' => return None,
            _ => terms.last_mut()?.push(tree),
        }
    }
    let is_index = |term: &Vec<TokenTree>| matches!(term.as_slice(), [TokenTree::Ident(ident)] if ident == index);
    if terms.iter().any(Vec::is_empty) || terms.iter().filter(|term| is_index(term)).count() != 1 {
        return None;
    }
    let rest: Vec<TokenStream> = terms
        .into_iter()
        .filter(|term| !is_index(term))
        .map(|term| term.into_iter().collect())
        .collect();
    if rest
        .iter()
        .any(|term| crate::analysis::tbr::calls_function(term) || mentions(term, index))
    {
        return None;
    }
    Some(if rest.is_empty() {
        quote!(0)
    } else {
        quote!(#((#rest))+*)
    })
}

/// Whether `tokens` name the identifier `name` anywhere.
fn mentions(tokens: &TokenStream, name: &str) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == name,
        TokenTree::Group(group) => mentions(&group.stream(), name),
        _ => false,
    })
}

/// The tokens of a passive expression without its outer parentheses, as text.
fn plain(tokens: &TokenStream) -> String {
    let mut trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    while let [TokenTree::Group(group)] = trees.as_slice() {
        if group.delimiter() != Delimiter::Parenthesis {
            break;
        }
        trees = group.stream().into_iter().collect();
    }
    trees.into_iter().collect::<TokenStream>().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_of_sums_with_the_index() {
        let offset = |tokens: TokenStream| offset(&tokens, "j").map(|t| t.to_string());
        assert_eq!(
            offset(quote!((c * sz + d + j))).as_deref(),
            Some("(c * sz) + (d)")
        );
        assert_eq!(offset(quote!(j)).as_deref(), Some("0"));
        assert_eq!(offset(quote!(j + base)).as_deref(), Some("(base)"));
        assert_eq!(offset(quote!(c - j)), None);
        assert_eq!(offset(quote!(2 * j + c)), None);
        assert_eq!(offset(quote!(j + j)), None);
        assert_eq!(offset(quote!(c + f(j) + j)), None);
    }

    #[test]
    fn plain_strips_outer_parentheses() {
        assert_eq!(plain(&quote!((icf_sz - d))), plain(&quote!(icf_sz - d)));
        assert_ne!(plain(&quote!((a) - (b))), plain(&quote!(a - b)));
    }
}
