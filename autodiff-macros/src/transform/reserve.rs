//! Stack room reserved before loop nests whose pushes can be counted.
//!
//! A push that may grow the stack is a call inside the loop, and across a call
//! LLVM keeps the loop's float accumulators in memory (every vector register is
//! caller-saved): measured on the spring chain, the forward sweep ran at half the
//! speed of the same loop without it. So a loop nest whose pushes can be counted
//! before it starts reserves them all there and pushes with
//! `Stack::push_reserved`, which panics instead of growing: the nest holds no call
//! that returns.
//!
//! While the reverse transform generates a loop body it keeps a [`Frame`] for the
//! loop. Scalar saves in the body push through the frame's placeholder method
//! (`marker`) and are counted: a float as one `f64`/`f32`, an integer as one word
//! (two for `i128`, `u128` or a type not written out), an array copied whole as its
//! length. Both arms of a branch count, so the count is an upper bound. When the
//! body is done the frame closes:
//!
//! - its placeholder becomes `push_reserved` if the whole nest is counted, `push`
//!   otherwise (a slice push, a branch-free count that is unknown, an inner loop
//!   whose trip count changes inside this loop);
//! - a counted loop with a known range becomes a [`Term`] of its parent,
//!   `trips × (own pushes + inner terms)`, with the variables that expression
//!   reads (a loop's bounds are read through their defining statements, so that
//!   `for i in 0..n` inside `for t in ..` reads `n`, not the temporary assigned
//!   in every iteration of `t`). The parent takes the term if nothing in its body
//!   writes those variables; otherwise the term reserves just before its own loop;
//! - the outermost counted loop reserves its total before it starts.
//!
//! A loop whose iterations pop everything they push (a preaccumulated loop, the
//! reverse of a checkpointed one) reserves one iteration's worth before it starts
//! and is invisible to its parent.
//!
//! Each term leaves a site marker (`__ad_site_N;`) before its loop, resolved when
//! the parent closes: removed if the parent took the term, replaced by the term's
//! own reservation if not.

use std::collections::{BTreeSet, HashMap};

use proc_macro2::{Delimiter, Ident, TokenStream, TokenTree};
use quote::{format_ident, quote};

use crate::ir::{walk, Block, Function, LoopKind, PExpr, Stmt, VarId};
use crate::transform::tokens::regroup;

/// The pushes of one loop being generated.
struct Frame {
    /// Placeholder push method of this loop's own counted saves.
    marker: Ident,
    /// Counted pushes per iteration at this loop's own level.
    floats: usize,
    words: usize,
    /// Placeholder methods of this loop's own array saves: the push, and the pop
    /// into a `Vec` or into a fixed array.
    slice_markers: [Ident; 3],
    /// Lengths of the arrays saved whole per iteration at this loop's own level.
    slices: Vec<TokenStream>,
    /// The arrays whose lengths those are.
    len_reads: BTreeSet<VarId>,
    /// Arrays created in the body (`NewArray`): the only writes that change a length.
    resizes: BTreeSet<VarId>,
    /// Counted inner loops, per iteration of this loop.
    terms: Vec<Term>,
    /// Pushes the count does not cover (an inner loop that was not counted).
    uncounted: bool,
    /// Every variable written in the body, and the loop index.
    writes: BTreeSet<VarId>,
}

/// A counted loop nest: what it pushes in all, and what that count reads.
struct Term {
    counts: Counts,
    reads: BTreeSet<VarId>,
    /// Arrays whose lengths the count reads.
    len_reads: BTreeSet<VarId>,
    site: Ident,
}

/// How often a loop's body runs, for its count.
pub enum Trips {
    /// A range of this many trips (an upper bound if the loop can break), read
    /// from these variables.
    Range {
        trips: TokenStream,
        reads: BTreeSet<VarId>,
    },
    /// Every iteration pops what it pushed: room for one iteration is enough.
    Once,
    /// Not countable (`loop`, `while`).
    Unknown,
}

/// A closed loop's bodies (pushes resolved) and what goes around its loops.
pub struct Closed {
    pub body_fwd: TokenStream,
    pub body_rev: TokenStream,
    pub wrap: Wrap,
}

impl Wrap {
    /// The loop reserves room for all its pushes (no growth inside it).
    pub fn reserves(&self) -> bool {
        matches!(self, Wrap::Once(_) | Wrap::Own(_))
    }
}

/// What goes around a closed loop in both sweeps (see [`Reserver::wrap`]).
pub enum Wrap {
    None,
    /// A loop whose iterations pop what they push: room for one iteration, around
    /// the region given to [`Reserver::wrap`] as the forward loop.
    Once(Counts),
    /// A counted nest whose parent decides: marked until the parent closes.
    Site(Ident),
    /// The outermost counted loop: lanes taken (or room reserved) around it.
    Own(Counts),
}

/// Values a counted nest pushes, as expressions: floats, and words.
#[derive(Clone)]
pub struct Counts {
    floats: Option<TokenStream>,
    words: Option<TokenStream>,
}

pub struct Reserver {
    float: TokenStream,
    frames: Vec<Frame>,
    next: usize,
    /// Variables written once in the function, by a passive assignment: their
    /// value expressions (a loop's bounds).
    defs: HashMap<VarId, PExpr>,
}

impl Reserver {
    pub fn new(func: &Function, float: TokenStream) -> Reserver {
        let mut writes: HashMap<VarId, usize> = HashMap::new();
        let mut values: HashMap<VarId, PExpr> = HashMap::new();
        walk(&func.body, false, &mut |stmt, _| {
            for var in stmt.writes() {
                *writes.entry(var).or_default() += 1;
            }
            if let Stmt::Loop(looped) = stmt {
                if let LoopKind::For {
                    index: Some(index), ..
                } = looped.kind
                {
                    *writes.entry(index).or_default() += 2;
                }
            }
            if let Stmt::Passive {
                dst,
                value,
                undo: None,
            } = stmt
            {
                values.insert(*dst, value.clone());
            }
        });
        values.retain(|var, value| writes.get(var) == Some(&1) && cannot_panic(&value.tokens));
        Reserver {
            float,
            frames: Vec::new(),
            next: 0,
            defs: values,
        }
    }

    /// Starts the body of a loop.
    pub fn open(&mut self, body: &Block, index: Option<VarId>) {
        let mut writes: BTreeSet<VarId> = index.into_iter().collect();
        let mut resizes = BTreeSet::new();
        walk(body, true, &mut |stmt, _| {
            writes.extend(stmt.writes());
            if let Stmt::NewArray { dst, .. } = stmt {
                resizes.insert(*dst);
            }
            if let Stmt::Loop(looped) = stmt {
                if let LoopKind::For {
                    index: Some(index), ..
                } = looped.kind
                {
                    writes.insert(index);
                }
                writes.extend(looped.reset.iter().copied());
            }
        });
        self.next += 1;
        let n = self.next;
        self.frames.push(Frame {
            marker: format_ident!("__ad_push_{}", n),
            floats: 0,
            words: 0,
            slice_markers: [
                format_ident!("__ad_push_slice_{}", n),
                format_ident!("__ad_pop_vec_{}", n),
                format_ident!("__ad_pop_slice_{}", n),
            ],
            slices: Vec::new(),
            len_reads: BTreeSet::new(),
            resizes,
            terms: Vec::new(),
            uncounted: false,
            writes,
        });
    }

    /// The push method of a counted scalar save in the current loop (`None` outside
    /// loops): an integer of `words` words, or a float if `words` is 0.
    pub fn counted_push(&mut self, words: usize) -> Option<Ident> {
        let frame = self.frames.last_mut()?;
        if words > 0 {
            frame.words += words;
        } else {
            frame.floats += 1;
        }
        Some(frame.marker.clone())
    }

    /// The push and pop methods of a float array `name` (`array`) saved whole in the
    /// current loop (`None` outside loops), counted as `name.len()` values: the pop
    /// is into a `Vec` (`&mut name`) or, if `fixed`, into a fixed array
    /// (`&mut name[..]`). Counted only if no loop around it, up to where the room
    /// is reserved, creates the array anew (its length is then the same
    /// throughout), and then nothing has the length on the stack.
    pub fn counted_slice(
        &mut self,
        array: VarId,
        name: &TokenStream,
        fixed: bool,
    ) -> Option<[Ident; 2]> {
        let frame = self.frames.last_mut()?;
        frame.slices.push(quote!(#name.len()));
        frame.len_reads.insert(array);
        let [push, vec, slice] = &frame.slice_markers;
        let pop = if fixed { slice } else { vec };
        Some([push.clone(), pop.clone()])
    }

    /// A variable's value as an expression that can be evaluated before enclosing
    /// loops: its single passive definition if it has one, else the variable.
    pub fn hoisted(&self, var: VarId, name: TokenStream) -> (TokenStream, BTreeSet<VarId>) {
        match self.defs.get(&var) {
            Some(def) => (
                crate::transform::reverse::pexpr(def),
                def.reads.iter().copied().collect(),
            ),
            None => (name, [var].into_iter().collect()),
        }
    }

    /// Ends the body of the loop opened last (see the module docs).
    pub fn close(&mut self, body_fwd: TokenStream, body_rev: TokenStream, trips: Trips) -> Closed {
        let Some(frame) = self.frames.pop() else {
            return Closed {
                body_fwd,
                body_rev,
                wrap: Wrap::None,
            };
        };
        let takes_terms = frame.terms.iter().all(|term| {
            term.reads.is_disjoint(&frame.writes) && term.len_reads.is_disjoint(&frame.resizes)
        });
        let counted = !frame.uncounted
            && !matches!(trips, Trips::Unknown)
            && takes_terms
            && frame.len_reads.is_disjoint(&frame.resizes)
            && !pushes_uncounted(&body_fwd);
        let method = if counted { "push_reserved" } else { "push" };
        let mut body_fwd = rename(body_fwd, &frame.marker, method);
        let mut body_rev = body_rev;
        let slice_methods = if counted {
            [
                "push_slice_reserved",
                "pop_slice_reserved",
                "pop_slice_reserved",
            ]
        } else {
            ["push_slice", "pop_vec_into", "pop_slice_into"]
        };
        for (marker, method) in frame.slice_markers.iter().zip(slice_methods) {
            body_fwd = rename(body_fwd, marker, method);
            body_rev = rename(body_rev, marker, method);
        }
        for term in &frame.terms {
            let own = (!counted).then_some(&term.counts);
            body_fwd = self.resolve_site(body_fwd, &term.site, own, true);
            body_rev = self.resolve_site(body_rev, &term.site, own, false);
        }
        let pushes =
            frame.floats + frame.words > 0 || !frame.slices.is_empty() || !frame.terms.is_empty();
        if !counted || !pushes {
            if !counted && (pushes || frame.uncounted) && !matches!(trips, Trips::Once) {
                if let Some(parent) = self.frames.last_mut() {
                    parent.uncounted = true;
                }
            }
            return Closed {
                body_fwd,
                body_rev,
                wrap: Wrap::None,
            };
        }
        let constant = frame.terms.is_empty();
        let sum = |own: usize, inner: Vec<&TokenStream>| -> Option<TokenStream> {
            let own = (own > 0).then(|| quote!(#own));
            let parts: Vec<TokenStream> =
                own.into_iter().chain(inner.into_iter().cloned()).collect();
            match parts.as_slice() {
                [] => None,
                [one] => Some(one.clone()),
                _ => Some(quote!((#(#parts)+*))),
            }
        };
        let per_iteration = Counts {
            floats: sum(
                frame.floats,
                frame
                    .slices
                    .iter()
                    .chain(frame.terms.iter().filter_map(|t| t.counts.floats.as_ref()))
                    .collect(),
            ),
            words: sum(
                frame.words,
                frame
                    .terms
                    .iter()
                    .filter_map(|t| t.counts.words.as_ref())
                    .collect(),
            ),
        };
        let mut reads: BTreeSet<VarId> = frame
            .terms
            .iter()
            .flat_map(|term| term.reads.iter().copied())
            .collect();
        let len_reads: BTreeSet<VarId> = frame
            .terms
            .iter()
            .flat_map(|term| term.len_reads.iter().copied())
            .chain(frame.len_reads.iter().copied())
            .collect();
        let counts = match trips {
            Trips::Once => {
                // Room for one iteration, taken before the loop; the parent sees
                // nothing, since the loop leaves the stack as it found it.
                return Closed {
                    body_fwd,
                    body_rev,
                    wrap: Wrap::Once(per_iteration),
                };
            }
            Trips::Range {
                trips,
                reads: trip_reads,
            } => {
                reads.extend(trip_reads);
                // Zero trips evaluate nothing else: the inner bounds may be
                // meaningless (or panic) when the loop does not run.
                let times = |per: Option<TokenStream>| {
                    per.map(|per| {
                        if constant {
                            quote!(#trips.saturating_mul(#per))
                        } else {
                            quote!({
                                let __ad_trips: usize = #trips;
                                if __ad_trips == 0 { 0 } else { __ad_trips.saturating_mul(#per) }
                            })
                        }
                    })
                };
                Counts {
                    floats: times(per_iteration.floats),
                    words: times(per_iteration.words),
                }
            }
            Trips::Unknown => unreachable!("checked above"),
        };
        let wrap = match self.frames.last_mut() {
            Some(parent) => {
                self.next += 1;
                let site = format_ident!("__ad_site_{}", self.next);
                parent.terms.push(Term {
                    counts,
                    reads,
                    len_reads,
                    site: site.clone(),
                });
                Wrap::Site(site)
            }
            None => Wrap::Own(counts),
        };
        Closed {
            body_fwd,
            body_rev,
            wrap,
        }
    }

    /// A closed loop's forward and reverse loops with what goes around them.
    pub fn wrap(
        &self,
        wrap: &Wrap,
        forward: TokenStream,
        reverse: TokenStream,
    ) -> (TokenStream, TokenStream) {
        match wrap {
            Wrap::None => (strip_peak(forward, &TokenStream::new()), reverse),
            Wrap::Once(counts) => (self.lanes(forward, Some(counts), PUSHES_AND_POPS), reverse),
            Wrap::Site(site) => (quote!({ #site; #forward }), quote!({ #site; #reverse })),
            Wrap::Own(counts) => (
                self.lanes(forward, Some(counts), PUSHES),
                self.lanes(reverse, None, POPS),
            ),
        }
    }

    /// `tokens` with the marked blocks of `site` unmarked (the parent reserved for
    /// them) or, with `own` counts, given their own reservation.
    fn resolve_site(
        &self,
        tokens: TokenStream,
        site: &Ident,
        own: Option<&Counts>,
        forward: bool,
    ) -> TokenStream {
        tokens
            .into_iter()
            .map(|tree| match tree {
                TokenTree::Group(group) => {
                    let inner: Vec<TokenTree> = group.stream().into_iter().collect();
                    let marked = matches!(inner.first(), Some(TokenTree::Ident(id)) if id == site)
                        && matches!(inner.get(1), Some(TokenTree::Punct(p)) if p.as_char() == ';');
                    if !marked {
                        let stream = self.resolve_site(group.stream(), site, own, forward);
                        return regroup(&group, stream);
                    }
                    let body: TokenStream = inner.into_iter().skip(2).collect();
                    let body = match (own, forward) {
                        (None, _) => body,
                        (Some(counts), true) => self.lanes(body, Some(counts), PUSHES),
                        (Some(_), false) => self.lanes(body, None, POPS),
                    };
                    regroup(&group, body)
                }
                other => other,
            })
            .collect()
    }

    /// A region whose only uses of the stack are calls of `methods`: its counted
    /// pushes and its pops go to lanes taken out of the stack around it, with room
    /// for `counts` (see `stack::Lane`), and an iteration's turning point
    /// (`__ad_peak;`) notes the lanes' peak. Any other use: room for `counts`
    /// reserved in the stack, and the region as it is.
    fn lanes(&self, tokens: TokenStream, counts: Option<&Counts>, methods: &[&str]) -> TokenStream {
        if !only_methods(&tokens, methods) {
            let reserve = counts.map(|counts| self.reservation(counts));
            let tokens = strip_peak(tokens, &TokenStream::new());
            return quote!(#reserve #tokens);
        }
        let mut used = [false; 2];
        let body = crate::transform::slices::pops_by_trip(to_lanes(tokens, &mut used));
        let float = &self.float;
        let (mut take, mut put, mut peak) =
            (TokenStream::new(), TokenStream::new(), TokenStream::new());
        for (lane, used) in [Lane::Floats, Lane::Words].into_iter().zip(used) {
            if !used {
                continue;
            }
            let (name, take_method, put_method, count) = match lane {
                Lane::Floats => (
                    quote!(__ad_floats),
                    quote!(take_floats::<#float>),
                    quote!(put_floats),
                    counts.and_then(|counts| counts.floats.as_ref()),
                ),
                Lane::Words => (
                    quote!(__ad_words),
                    quote!(take_words),
                    quote!(put_words),
                    counts.and_then(|counts| counts.words.as_ref()),
                ),
            };
            let room = count.cloned().unwrap_or_else(|| quote!(0));
            take.extend(quote!(let mut #name = __ad_stack.#take_method(#room);));
            // Put back in the reverse order of the takes, which keeps the peak
            // the stack counts tight (see `Stack::put_floats`).
            put = quote!(__ad_stack.#put_method(#name); #put);
            peak.extend(quote!(#name.note_peak();));
        }
        let body = strip_peak(body, &peak);
        quote!({ #take #body #put })
    }

    fn reservation(&self, counts: &Counts) -> TokenStream {
        let (floats, words) = (&counts.floats, &counts.words);
        let float = &self.float;
        let mut out = TokenStream::new();
        if let Some(floats) = floats {
            out.extend(quote!(__ad_stack.reserve::<#float>(#floats);));
        }
        if let Some(words) = words {
            out.extend(quote!(__ad_stack.reserve::<u64>(#words);));
        }
        out
    }
}

/// Whether an expression is a name, a literal or `name.len()`: hoisted out of the
/// loops around it (and so evaluated even where a branch skips its loop), it must
/// not be able to panic where the user's code would not have run it.
fn cannot_panic(tokens: &TokenStream) -> bool {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    match trees.as_slice() {
        [TokenTree::Ident(_) | TokenTree::Literal(_)] => true,
        [TokenTree::Group(group)] => cannot_panic(&group.stream()),
        [TokenTree::Ident(_), TokenTree::Punct(dot), TokenTree::Ident(len), TokenTree::Group(args)] => {
            dot.as_char() == '.' && len == "len" && args.stream().is_empty()
        }
        _ => false,
    }
}

/// Whether generated code pushes anything the count does not cover: a slice, a
/// value through plain `push` (the saves of loops that were not counted), or a
/// callee's recording (`g::__record(__ad_stack, ..)`, `g::__record_c(..)`).
fn pushes_uncounted(tokens: &TokenStream) -> bool {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    trees.iter().enumerate().any(|(at, tree)| match tree {
        TokenTree::Ident(ident) if ident == "__ad_stack" => matches!(
            trees.get(at + 2),
            Some(TokenTree::Ident(method)) if method == "push" || method == "push_slice"
        ),
        TokenTree::Ident(ident) if ident.to_string().starts_with("__record") => true,
        TokenTree::Group(group) => pushes_uncounted(&group.stream()),
        _ => false,
    })
}

/// `tokens` with every `from` identifier renamed `to`.
fn rename(tokens: TokenStream, from: &Ident, to: &str) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) if ident == *from => {
                TokenTree::Ident(Ident::new(to, ident.span()))
            }
            TokenTree::Group(group) => regroup(&group, rename(group.stream(), from, to)),
            other => other,
        })
        .collect()
}

/// `tokens` with the `__ad_peak;` marker (an iteration's turning point, see
/// `Lane::note_peak`) replaced by `with`.
fn strip_peak(tokens: TokenStream, with: &TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    let mut trees = tokens.into_iter().peekable();
    while let Some(tree) = trees.next() {
        match tree {
            TokenTree::Ident(ident) if ident == "__ad_peak" => {
                if matches!(trees.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ';') {
                    trees.next();
                }
                out.extend(with.clone());
            }
            TokenTree::Group(group) => {
                out.extend([regroup(&group, strip_peak(group.stream(), with))])
            }
            other => out.extend([other]),
        }
    }
    out
}

/// Whether every use of the stack in `tokens` is a call of one of `methods`, or
/// the stack given to a callee's reverse sweep (`f::__adjoint(__ad_stack, ..)`).
///
/// A callee may run while the region's lanes are out: it finds the stack's spare
/// lanes in their place, and pops everything it pushes before it returns.
fn only_methods(tokens: &TokenStream, methods: &[&str]) -> bool {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    trees.iter().enumerate().all(|(at, tree)| match tree {
        TokenTree::Ident(ident) if ident == "__ad_stack" => {
            matches!(trees.get(at + 1), Some(TokenTree::Punct(p)) if p.as_char() == '.')
                && matches!(trees.get(at + 2), Some(TokenTree::Ident(m)) if methods.iter().any(|name| m == name))
        }
        TokenTree::Group(group) => {
            let reverse_call = at > 0
                && group.delimiter() == Delimiter::Parenthesis
                && matches!(&trees[at - 1], TokenTree::Ident(f) if f == "__reverse" || f == "__adjoint" || f == "__reverse_forward");
            let args: Vec<TokenTree> = group.stream().into_iter().collect();
            match args.as_slice() {
                [TokenTree::Ident(stack), TokenTree::Punct(comma), rest @ ..]
                    if reverse_call && stack == "__ad_stack" && comma.as_char() == ',' =>
                {
                    only_methods(&rest.iter().cloned().collect(), methods)
                }
                _ => only_methods(&group.stream(), methods),
            }
        }
        _ => true,
    })
}

/// The stack methods a counted region may use, by what it does with lanes.
const PUSHES: &[&str] = &["push_reserved", "push_slice_reserved", "push_bit"];
const POPS: &[&str] = &[
    "pop",
    "pop_slice_reserved",
    "pop_bit",
    "take_sink",
    "put_sink",
];
const PUSHES_AND_POPS: &[&str] = &[
    "push_reserved",
    "push_slice_reserved",
    "push_bit",
    "pop",
    "pop_slice_reserved",
    "pop_bit",
    "take_sink",
    "put_sink",
];

/// A lane a counted region takes out of the stack.
#[derive(Clone, Copy)]
enum Lane {
    Floats,
    Words,
}

/// Counted pushes and pops on the stack turned into pushes and pops on the taken
/// lanes: `__ad_stack.push_reserved::<F>(v)` and `__ad_stack.pop::<F>()` (typed: a
/// float) to `__ad_floats`, the untyped ones (integers) to `__ad_words`. `used`
/// records which lanes appear (floats, words).
fn to_lanes(tokens: TokenStream, used: &mut [bool; 2]) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = TokenStream::new();
    let mut at = 0;
    while at < trees.len() {
        let method = match (&trees[at], trees.get(at + 2)) {
            (TokenTree::Ident(stack), Some(TokenTree::Ident(method))) if stack == "__ad_stack" => {
                Some(method.to_string())
            }
            _ => None,
        };
        if let Some(
            method @ ("push_reserved" | "pop" | "push_slice_reserved" | "pop_slice_reserved"),
        ) = method.as_deref()
        {
            let span = trees[at].span();
            let typed =
                matches!(trees.get(at + 3), Some(TokenTree::Punct(p)) if p.as_char() == ':');
            let lane = if typed { Lane::Floats } else { Lane::Words };
            used[lane as usize] = true;
            let (lane, method) = match (lane, method) {
                (Lane::Floats, "pop") => ("__ad_floats", "pop"),
                (_, "push_slice_reserved") => ("__ad_floats", "push_slice"),
                (_, "pop_slice_reserved") => ("__ad_floats", "pop_slice_into"),
                (Lane::Floats, _) => ("__ad_floats", "push"),
                (Lane::Words, "pop") => ("__ad_words", "pop_int"),
                (Lane::Words, _) => ("__ad_words", "push_int"),
            };
            out.extend([
                TokenTree::Ident(Ident::new(lane, span)),
                trees[at + 1].clone(),
                TokenTree::Ident(Ident::new(method, span)),
            ]);
            at += 3;
            // Skip a turbofish: the lane knows its type.
            while !matches!(trees.get(at), Some(TokenTree::Group(_)) | None) {
                at += 1;
            }
            continue;
        }
        out.extend([match &trees[at] {
            TokenTree::Group(group) => regroup(group, to_lanes(group.stream(), used)),
            other => other.clone(),
        }]);
        at += 1;
    }
    out
}
