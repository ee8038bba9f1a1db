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
//! (`marker`) and are counted: a float as one `f64`/`f32`, an integer as two words
//! (enough for `i128`). Both arms of a branch count, so the count is an upper
//! bound. When the body is done the frame closes:
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

use proc_macro2::{Group, Ident, TokenStream, TokenTree};
use quote::{format_ident, quote};

use crate::ir::{walk, Block, Function, LoopKind, PExpr, Stmt, VarId};

/// The pushes of one loop being generated.
struct Frame {
    /// Placeholder push method of this loop's own counted saves.
    marker: Ident,
    /// Counted pushes per iteration at this loop's own level.
    floats: usize,
    words: usize,
    /// Counted inner loops, per iteration of this loop.
    terms: Vec<Term>,
    /// Pushes the count does not cover (an inner loop that was not counted).
    uncounted: bool,
    /// Every variable written in the body, and the loop index.
    writes: BTreeSet<VarId>,
}

/// A counted loop nest: what it pushes in all, and what that count reads.
struct Term {
    floats: Option<TokenStream>,
    words: Option<TokenStream>,
    reads: BTreeSet<VarId>,
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

/// What a closed loop puts before itself, and its body with pushes resolved.
pub struct Closed {
    pub body: TokenStream,
    pub before: TokenStream,
    /// The loop reserved room for all its pushes (no growth inside it).
    pub reserved: bool,
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
        walk(body, true, &mut |stmt, _| {
            writes.extend(stmt.writes());
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
        self.frames.push(Frame {
            marker: format_ident!("__ad_push_{}", self.next),
            floats: 0,
            words: 0,
            terms: Vec::new(),
            uncounted: false,
            writes,
        });
    }

    /// The push method of a counted scalar save in the current loop (`None` outside
    /// loops): `words` for an integer, a float otherwise.
    pub fn counted_push(&mut self, words: bool) -> Option<Ident> {
        let frame = self.frames.last_mut()?;
        if words {
            frame.words += 2;
        } else {
            frame.floats += 1;
        }
        Some(frame.marker.clone())
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
    pub fn close(&mut self, body: TokenStream, trips: Trips) -> Closed {
        let Some(frame) = self.frames.pop() else {
            return Closed {
                body,
                before: TokenStream::new(),
                reserved: false,
            };
        };
        let takes_terms = frame
            .terms
            .iter()
            .all(|term| term.reads.is_disjoint(&frame.writes));
        let counted = !frame.uncounted
            && !matches!(trips, Trips::Unknown)
            && takes_terms
            && !pushes_uncounted(&body);
        let method = if counted { "push_reserved" } else { "push" };
        let body = rename(body, &frame.marker, method);
        let sites: HashMap<String, TokenStream> = frame
            .terms
            .iter()
            .map(|term| {
                let code = if counted {
                    TokenStream::new()
                } else {
                    self.reservation(term.floats.as_ref(), term.words.as_ref())
                };
                (term.site.to_string(), code)
            })
            .collect();
        let body = resolve_sites(body, &sites);
        let pushes = frame.floats + frame.words > 0 || !frame.terms.is_empty();
        if !counted {
            if pushes || frame.uncounted {
                if let (Some(parent), false) =
                    (self.frames.last_mut(), matches!(trips, Trips::Once))
                {
                    parent.uncounted = true;
                }
            }
            return Closed {
                body,
                before: TokenStream::new(),
                reserved: false,
            };
        }
        if !pushes {
            return Closed {
                body,
                before: TokenStream::new(),
                reserved: false,
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
        let floats = sum(
            frame.floats,
            frame
                .terms
                .iter()
                .filter_map(|t| t.floats.as_ref())
                .collect(),
        );
        let words = sum(
            frame.words,
            frame
                .terms
                .iter()
                .filter_map(|t| t.words.as_ref())
                .collect(),
        );
        let mut reads: BTreeSet<VarId> = frame
            .terms
            .iter()
            .flat_map(|term| term.reads.iter().copied())
            .collect();
        let (floats, words) = match trips {
            Trips::Once => {
                // Room for one iteration, taken before the loop; the parent sees
                // nothing, since the loop leaves the stack as it found it.
                return Closed {
                    body,
                    before: self.reservation(floats.as_ref(), words.as_ref()),
                    reserved: true,
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
                (times(floats), times(words))
            }
            Trips::Unknown => unreachable!("checked above"),
        };
        match self.frames.last_mut() {
            Some(parent) => {
                self.next += 1;
                let site = format_ident!("__ad_site_{}", self.next);
                parent.terms.push(Term {
                    floats,
                    words,
                    reads,
                    site: site.clone(),
                });
                Closed {
                    body,
                    before: quote!(#site;),
                    reserved: false,
                }
            }
            None => Closed {
                body,
                before: self.reservation(floats.as_ref(), words.as_ref()),
                reserved: true,
            },
        }
    }

    fn reservation(
        &self,
        floats: Option<&TokenStream>,
        words: Option<&TokenStream>,
    ) -> TokenStream {
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

/// Whether generated code pushes anything the count does not cover: a slice, or a
/// value through plain `push` (the saves of loops that were not counted).
fn pushes_uncounted(tokens: &TokenStream) -> bool {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    trees.iter().enumerate().any(|(at, tree)| match tree {
        TokenTree::Ident(ident) if ident == "__ad_stack" => matches!(
            trees.get(at + 2),
            Some(TokenTree::Ident(method)) if method == "push" || method == "push_slice"
        ),
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

/// `tokens` with every `site;` in `sites` replaced by its code.
fn resolve_sites(tokens: TokenStream, sites: &HashMap<String, TokenStream>) -> TokenStream {
    if sites.is_empty() {
        return tokens;
    }
    let mut out = TokenStream::new();
    let mut trees = tokens.into_iter().peekable();
    while let Some(tree) = trees.next() {
        match tree {
            TokenTree::Ident(ident) if sites.contains_key(&ident.to_string()) => {
                if matches!(trees.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ';') {
                    trees.next();
                }
                out.extend(sites[&ident.to_string()].clone());
            }
            TokenTree::Group(group) => {
                out.extend([regroup(&group, resolve_sites(group.stream(), sites))]);
            }
            other => out.extend([other]),
        }
    }
    out
}

fn regroup(group: &Group, stream: TokenStream) -> TokenTree {
    let mut out = Group::new(group.delimiter(), stream);
    out.set_span(group.span());
    TokenTree::Group(out)
}
