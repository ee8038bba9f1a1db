//! Innermost loops over slices, so that LLVM drops their bounds checks and can
//! vectorise them.
//!
//! A generated loop `for b in lo..hi { .. a[(e + b)] .. }` checks every index
//! against `a.len()`, and a loop with a check that may panic is not vectorised.
//! Hand-written adjoints slice first (`let q = &mut qx[lo..hi]`), and so does the
//! generated code where it can: in an innermost loop whose array accesses all have
//! the form `a[b]`, `a[e + b]` or `a[b - e]` (`e` not written in the loop), or `a[v]` for a
//! counter `v` that the loop steps by one (`v = v + 1` as its last statement, or
//! `v = v - 1` as the first of its reverse), each array gets one slice per offset
//! and the body indexes the slices by the trip number `j`, which LLVM knows is below
//! their common length.
//!
//! The sliced loop runs only if every slice is in bounds; otherwise the original
//! loop runs and panics where the user's own function would. Where every access
//! runs on every iteration (no branch, no `&&`/`||`), a failed check means that
//! panic is certain, and the original loop runs out of line
//! (`__private::out_of_bounds`), so the function keeps only the sliced copy.

use std::collections::{BTreeMap, HashSet};

use proc_macro2::{Delimiter, Ident, Spacing, TokenStream, TokenTree};
use quote::{format_ident, quote};

use crate::transform::tokens::{mentions, mentions_any, regroup};

/// The loop to slice.
pub struct Loop<'a> {
    pub index: &'a Ident,
    pub lo: &'a TokenStream,
    pub hi: &'a TokenStream,
    pub body: TokenStream,
    /// The loop runs its range backwards (a reverse sweep).
    pub reverse: bool,
}

/// An access's offset from the loop index: `e` in `a[e + b]`, or a stepped counter.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Offset {
    None,
    Expr(String),
    /// `e` in `a[b - e]`.
    Below(String),
    Counter(String),
}

/// The sliced loop with its fallback, or `None` if the loop does not qualify.
/// `arrays` names the variables that are arrays (primal and adjoint).
///
/// A body with additions guarded by a caller's choice (`if __ad_keep_x_bar { .. }`,
/// see `reverse::droppable`) is sliced twice, with and without them, under the
/// flag: each copy then has no branch, and the one that adds into `x_bar` knows
/// its slice's length.
pub fn slice(looped: Loop, arrays: &HashSet<String>) -> Option<TokenStream> {
    if mentions_any(
        &looped.body,
        &["for", "loop", "while", "break", "continue", "return"],
    ) {
        return None;
    }
    let flags = keep_flags(&looped.body);
    if flags.len() > 2 {
        // Four copies at most: with more flags, one sliced copy for all kept and
        // the loop as written otherwise.
        let mut all = looped.body.clone();
        for flag in &flags {
            all = keep_guarded(&all, flag, true);
        }
        let sliced = slice(
            Loop {
                body: all,
                ..looped
            },
            arrays,
        )?;
        let written = written_loop(&looped);
        return Some(quote!(if #(#flags)&&* { #sliced } else { #written }));
    }
    if let Some(flag) = flags.into_iter().next() {
        let with = keep_guarded(&looped.body, &flag, true);
        let without = keep_guarded(&looped.body, &flag, false);
        let with = slice(
            Loop {
                body: with,
                ..looped
            },
            arrays,
        )?;
        if without.is_empty() {
            // Everything is guarded (a copy its readers take as a window, see
            // `analysis::windows`): nothing to run without the flag.
            return Some(quote!(if #flag { #with }));
        }
        let without = slice(
            Loop {
                body: without,
                ..looped
            },
            arrays,
        )?;
        return Some(quote!(if #flag { #with } else { #without }));
    }
    slice_plain(looped, arrays)
}

/// The loop as written, unsliced.
fn written_loop(looped: &Loop) -> TokenStream {
    let (index, lo, hi, body) = (looped.index, looped.lo, looped.hi, &looped.body);
    if looped.reverse {
        quote!(for #index in (#lo..#hi).rev() { #body })
    } else {
        quote!(for #index in #lo..#hi { #body })
    }
}

/// The flags `f` of guards `if f { .. }` whose names start with `__ad_keep_`.
fn keep_flags(tokens: &TokenStream) -> Vec<Ident> {
    let mut out: Vec<Ident> = Vec::new();
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (at, tree) in trees.iter().enumerate() {
        let found = match (tree, trees.get(at + 1)) {
            (TokenTree::Ident(word), Some(TokenTree::Ident(flag)))
                if word == "if" && flag.to_string().starts_with("__ad_keep_") =>
            {
                vec![flag.clone()]
            }
            (TokenTree::Group(group), _) => keep_flags(&group.stream()),
            _ => Vec::new(),
        };
        for flag in found {
            if !out.contains(&flag) {
                out.push(flag);
            }
        }
    }
    out
}

/// `tokens` with every `if flag { body }` replaced by `{ body }` (`keep`) or
/// removed, and every `if flag { a } else { b }` by `{ a }` or `{ b }`.
fn keep_guarded(tokens: &TokenStream, flag: &Ident, keep: bool) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut out = TokenStream::new();
    let mut at = 0;
    while at < trees.len() {
        if let (
            TokenTree::Ident(word),
            Some(TokenTree::Ident(named)),
            Some(TokenTree::Group(body)),
        ) = (&trees[at], trees.get(at + 1), trees.get(at + 2))
        {
            if word == "if" && named == flag && body.delimiter() == Delimiter::Brace {
                let otherwise = match (trees.get(at + 3), trees.get(at + 4)) {
                    (Some(TokenTree::Ident(word)), Some(TokenTree::Group(otherwise)))
                        if word == "else" && otherwise.delimiter() == Delimiter::Brace =>
                    {
                        Some(otherwise)
                    }
                    _ => None,
                };
                let chosen = if keep { Some(body) } else { otherwise };
                if let Some(chosen) = chosen {
                    out.extend([regroup(chosen, keep_guarded(&chosen.stream(), flag, keep))]);
                }
                at += if otherwise.is_some() { 5 } else { 3 };
                continue;
            }
        }
        out.extend([match &trees[at] {
            TokenTree::Group(group) => regroup(group, keep_guarded(&group.stream(), flag, keep)),
            tree => tree.clone(),
        }]);
        at += 1;
    }
    out
}

fn slice_plain(looped: Loop, arrays: &HashSet<String>) -> Option<TokenStream> {
    let index = looped.index;
    let mut body: Vec<TokenTree> = looped.body.clone().into_iter().collect();
    if mentions_any(
        &looped.body,
        &["for", "loop", "while", "break", "continue", "return"],
    ) {
        return None;
    }
    // A counter stepped once per iteration, in the forward body after its uses,
    // in the reverse body before them.
    let counter = take_step(&mut body, !looped.reverse);
    let assigned = assigned_names(&body.iter().cloned().collect());
    if let Some(counter) = &counter {
        if assigned.contains(&counter.to_string()) {
            return None;
        }
    }
    if assigned.contains(&index.to_string()) {
        return None;
    }
    // Every access, by array: offsets seen, and whether it is written.
    let mut slices: BTreeMap<(String, Offset), Ident> = BTreeMap::new();
    let mut written: HashSet<String> = HashSet::new();
    let rewritten = rewrite(
        &body,
        index,
        counter.as_ref(),
        arrays,
        &assigned,
        &mut slices,
        &mut written,
    )?;
    // An offset is evaluated before the loop: only where the loop evaluates it on
    // every iteration (no branch in the body), and only if it cannot panic or act.
    let branches = mentions_any(&looped.body, &["if", "match"]);
    for (_, offset) in slices.keys() {
        if let Offset::Expr(expr) | Offset::Below(expr) = offset {
            let expr: TokenStream = expr.parse().ok()?;
            if branches || !pure_arithmetic(&expr) {
                return None;
            }
        }
    }
    // The index must be an array index somewhere (so that it is a `usize`).
    if !slices
        .keys()
        .any(|(_, offset)| !matches!(offset, Offset::Counter(_)))
    {
        return None;
    }
    // A written array is borrowed mutably: one slice, and no other use in the loop.
    for (array, _) in slices.keys() {
        let mutated = written.contains(array) || assigned.contains(array);
        if mutated
            && (slices.keys().filter(|(name, _)| name == array).count() > 1
                || mentions(&rewritten, array))
        {
            return None;
        }
    }
    let (lo, hi) = (looped.lo, looped.hi);
    // Each slice is taken with `get`: one check per slice, and LLVM knows the
    // slices' common length (a check computed apart from the slicing was not
    // merged with the slicing's own: GMM's short loops paid both).
    let mut takes = TokenStream::new();
    // One start per offset: `x` and `x_bar` at `e + i` share theirs.
    let mut starts: BTreeMap<&Offset, Ident> = BTreeMap::new();
    for ((array, offset), slice) in &slices {
        let name = format_ident!("{}", array);
        let get = if written.contains(array) {
            quote!(get_mut)
        } else {
            quote!(get)
        };
        if let Some(start) = starts.get(offset) {
            takes.extend(take_slice(slice, &name, &get, start));
            continue;
        }
        let start_ident = format_ident!("__ad_start{}", starts.len());
        starts.insert(offset, start_ident.clone());
        // The start as a `usize`, or as an `Option` where computing it may overflow.
        let (start, checked) = match offset {
            Offset::None => (quote!(#lo), false),
            Offset::Expr(expr) => {
                let expr: TokenStream = expr.parse().ok()?;
                (quote!((#lo).checked_add(#expr)), true)
            }
            Offset::Below(expr) => {
                let expr: TokenStream = expr.parse().ok()?;
                (quote!((#lo).checked_sub(#expr)), true)
            }
            Offset::Counter(counter) => {
                let counter = format_ident!("{}", counter);
                if looped.reverse {
                    (
                        // A path call: the counter's own type may be inferred later.
                        quote!(usize::checked_sub(#counter, __ad_n)),
                        true,
                    )
                } else {
                    (quote!(#counter), false)
                }
            }
        };
        if checked {
            takes.extend(quote!(
                let ::core::option::Option::Some(#start_ident) = #start else {
                    break '__ad_guard (::core::option::Option::None);
                };
            ));
        } else {
            takes.extend(quote!(let #start_ident: usize = #start;));
        }
        takes.extend(take_slice(slice, &name, &get, &start_ident));
    }
    let names: Vec<&Ident> = slices.values().collect();
    let trips = if looped.reverse {
        quote!((0..__ad_n).rev())
    } else {
        quote!(0..__ad_n)
    };
    let step = counter.as_ref().map(|counter| {
        if looped.reverse {
            quote!(#counter -= __ad_n;)
        } else {
            quote!(#counter += __ad_n;)
        }
    });
    let mut original = written_loop(&looped);
    // Where every access runs on every iteration, a failed check means the
    // original loop panics: it runs out of line, in a closure that owns what it
    // uses and never returns. The copy left inline cost GMM's short loops 7%.
    // An empty range fails the checks too, and runs nothing.
    if !branches && !conditional_evaluation(&looped.body) {
        // The closure copies in what it uses, so the loop above keeps the last
        // value of every temporary it assigns; across a call into the maths
        // library those live in memory, stored at every trip (six per trip of the
        // heat equation's forward loop, around its `sin`). There, a temporary the
        // body assigns before it reads it is declared afresh in the closure. (Not
        // elsewhere: GMM's loops, without calls, ran 5-8% slower so, their
        // vectorised remainders laid out differently.)
        let mut fresh: Vec<String> = Vec::new();
        if crate::transform::tokens::calls_library(&looped.body) {
            let mut exposed = HashSet::new();
            crate::transform::tokens::exposed(&original, &mut exposed);
            fresh = assigned_names(&looped.body)
                .into_iter()
                .filter(|name| !exposed.contains(name))
                .collect();
            fresh.sort();
        }
        let fresh = fresh.iter().map(|name| format_ident!("{}", name));
        original = quote!(if __ad_n != 0 {
            ::autodiff_runtime::__private::out_of_bounds(move || {
                #(let mut #fresh;)*
                #original
            });
        });
    }
    Some(quote!({
        let (__ad_lo_at, __ad_hi_at): (usize, usize) = (#lo, #hi);
        let __ad_n: usize = __ad_hi_at.saturating_sub(__ad_lo_at);
        // No trip, no check: the original loop evaluates nothing either.
        let __ad_slices = '__ad_guard: {
            if __ad_n == 0 {
                break '__ad_guard (::core::option::Option::None);
            }
            #takes
            ::core::option::Option::Some((#(#names,)*))
        };
        if let ::core::option::Option::Some((#(#names,)*)) = __ad_slices {
            for __ad_j in #trips {
                let #index = #lo + __ad_j;
                #rewritten
            }
            #step
        } else {
            #original
        }
    }))
}

/// Sliced reverse loops (`for __ad_j in (0..__ad_n).rev() { .. }`) that pop one
/// value per trip from the float lane (the restore `x[i] = __ad_floats.pop()` of
/// an element their forward loop overwrote) read the lane's last `n` values by
/// trip number instead, and drop them after the loop: the pop's own check no
/// longer stands in the way of vectorising the loop. Only where the pop runs on
/// every trip (no branch or short-circuit in the body) and is the lane's only use
/// there. For regions whose pops go to lanes (see `reserve`).
pub fn pops_by_trip(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = TokenStream::new();
    let mut at = 0;
    while at < trees.len() {
        // `for __ad_j in (0 .. __ad_n) . rev () { body }`
        let is_loop = matches!(&trees[at], TokenTree::Ident(i) if i == "for")
            && matches!(trees.get(at + 1), Some(TokenTree::Ident(i)) if i == "__ad_j")
            && matches!(trees.get(at + 2), Some(TokenTree::Ident(i)) if i == "in")
            && matches!(trees.get(at + 3), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis && g.stream().to_string().replace(' ', "") == "0..__ad_n")
            && matches!(trees.get(at + 4), Some(TokenTree::Punct(p)) if p.as_char() == '.')
            && matches!(trees.get(at + 5), Some(TokenTree::Ident(i)) if i == "rev")
            && matches!(trees.get(at + 6), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis && g.stream().is_empty());
        if is_loop {
            if let Some(TokenTree::Group(body)) = trees.get(at + 7) {
                let stream = body.stream();
                let read = (!mentions_any(&stream, &["if", "match"])
                    && !conditional_evaluation(&stream))
                .then(|| pop_by_trip(&stream))
                .flatten();
                if let Some(read) = read {
                    let head: TokenStream = trees[at..at + 7].iter().cloned().collect();
                    let body = regroup(body, read);
                    out.extend(quote!(
                        let __ad_tail = __ad_floats.tail(__ad_n);
                        #head #body
                        __ad_floats.drop_tail(__ad_n);
                    ));
                    at += 8;
                    continue;
                }
            }
        }
        out.extend([match &trees[at] {
            TokenTree::Group(group) => regroup(group, pops_by_trip(group.stream())),
            other => other.clone(),
        }]);
        at += 1;
    }
    out
}

/// `body` with its one use of the float lane, `__ad_floats.pop()`, read as
/// `__ad_tail[__ad_j]` (in a reverse loop over `0..n`, the pop of trip `j`
/// returns the value its forward loop pushed at trip `j`, the lane's `j`th of
/// its last `n`); `None` if the lane is used otherwise or more than once.
fn pop_by_trip(body: &TokenStream) -> Option<TokenStream> {
    fn walk(tokens: &TokenStream, found: &mut usize) -> Option<TokenStream> {
        let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
        let mut out = TokenStream::new();
        let mut at = 0;
        while at < trees.len() {
            match &trees[at] {
                TokenTree::Ident(ident) if ident == "__ad_floats" => {
                    let pop = matches!(trees.get(at + 1), Some(TokenTree::Punct(p)) if p.as_char() == '.')
                        && matches!(trees.get(at + 2), Some(TokenTree::Ident(m)) if m == "pop")
                        && matches!(trees.get(at + 3), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis && g.stream().is_empty());
                    if !pop {
                        return None;
                    }
                    *found += 1;
                    out.extend(quote!(__ad_tail[__ad_j]));
                    at += 4;
                    continue;
                }
                TokenTree::Group(group) => {
                    let inner = walk(&group.stream(), found)?;
                    out.extend([regroup(group, inner)]);
                }
                other => out.extend([other.clone()]),
            }
            at += 1;
        }
        Some(out)
    }
    let mut found = 0;
    let read = walk(body, &mut found)?;
    (found == 1).then_some(read)
}

/// `let Some(slice) = name.get(start..start + n) else { break .. };`. A start past
/// the end makes `start + n` wrap below `start` (n > 0), and `get` refuses the range.
fn take_slice(slice: &Ident, name: &Ident, get: &TokenStream, start: &Ident) -> TokenStream {
    quote!(
        let ::core::option::Option::Some(#slice) =
            #name.#get(#start..#start.wrapping_add(__ad_n))
        else {
            break '__ad_guard (::core::option::Option::None);
        };
    )
}

/// Whether `tokens` may skip part of themselves: `&&`, `||`, `?` or a closure.
fn conditional_evaluation(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Punct(punct) => {
            matches!(punct.as_char(), '|' | '?')
                || (punct.as_char() == '&' && punct.spacing() == Spacing::Joint)
        }
        TokenTree::Group(group) => conditional_evaluation(&group.stream()),
        _ => false,
    })
}

/// Names, literals, `+ - *`, parentheses and `.len()`: an expression that, given
/// the values the loop sees, evaluates the same and has no effect (`/` and `%` could
/// divide by zero; a call could do anything).
fn pure_arithmetic(tokens: &TokenStream) -> bool {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    trees.iter().enumerate().all(|(at, tree)| match tree {
        TokenTree::Ident(ident) => {
            ident != "as"
                && !matches!(trees.get(at + 1), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis && ident != "len")
                && (ident != "len"
                    || matches!(trees.get(at + 1), Some(TokenTree::Group(g)) if g.stream().is_empty()))
        }
        TokenTree::Literal(_) => true,
        TokenTree::Punct(p) => "+-*.".contains(p.as_char()),
        TokenTree::Group(group) => {
            group.delimiter() == Delimiter::Parenthesis
                && (group.stream().is_empty() || pure_arithmetic(&group.stream()))
        }
    })
}

/// Removes the counter step (`v = (v + (1));` last, or `v = (v - (1));` first) and
/// returns the counter.
fn take_step(body: &mut Vec<TokenTree>, last: bool) -> Option<Ident> {
    let sign = if last { '+' } else { '-' };
    let matches_step = |window: &[TokenTree]| -> Option<Ident> {
        // v = ( v ± ( 1 ) ) ;
        match window {
            [TokenTree::Ident(v), TokenTree::Punct(eq), TokenTree::Group(value), TokenTree::Punct(semi)]
                if eq.as_char() == '=' && semi.as_char() == ';' =>
            {
                let inner: Vec<TokenTree> = value.stream().into_iter().collect();
                match inner.as_slice() {
                    [TokenTree::Ident(w), TokenTree::Punct(op), TokenTree::Group(one)]
                        if w == v && op.as_char() == sign && one.stream().to_string() == "1" =>
                    {
                        Some(v.clone())
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    };
    if body.len() < 4 {
        return None;
    }
    if last {
        let at = body.len() - 4;
        let counter = matches_step(&body[at..])?;
        body.truncate(at);
        Some(counter)
    } else {
        let counter = matches_step(&body[..4])?;
        body.drain(..4);
        Some(counter)
    }
}

/// Names assigned in `tokens` (`x = ..`, `x += ..`, `x[..] = ..` count as `x`).
fn assigned_names(tokens: &TokenStream) -> HashSet<String> {
    let mut out = HashSet::new();
    collect_assigned(tokens, &mut out);
    out
}

fn collect_assigned(tokens: &TokenStream, out: &mut HashSet<String>) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (at, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(ident) => {
                let mut next = at + 1;
                if matches!(trees.get(next), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket)
                {
                    next += 1;
                }
                if is_assignment(&trees, next) {
                    out.insert(ident.to_string());
                }
            }
            TokenTree::Group(group) => collect_assigned(&group.stream(), out),
            _ => {}
        }
    }
}

/// Whether an assignment operator (`=`, `+=`, `-=`, `*=`, `/=`, `%=`) starts at `at`.
pub(crate) fn is_assignment(trees: &[TokenTree], at: usize) -> bool {
    match (trees.get(at), trees.get(at + 1)) {
        (Some(TokenTree::Punct(eq)), next) if eq.as_char() == '=' => {
            // `=` alone, not `==` or `=>`.
            !matches!(next, Some(TokenTree::Punct(p)) if eq.spacing() == Spacing::Joint && (p.as_char() == '=' || p.as_char() == '>'))
        }
        (Some(TokenTree::Punct(op)), Some(TokenTree::Punct(eq)))
            if "+-*/%".contains(op.as_char())
                && op.spacing() == Spacing::Joint
                && eq.as_char() == '=' =>
        {
            true
        }
        _ => false,
    }
}

/// The body with every array access `a[i]` whose index depends on the loop (the
/// index, or the counter) replaced by a slice access `slice[__ad_j]`; `None` if
/// one cannot be.
fn rewrite(
    trees: &[TokenTree],
    index: &Ident,
    counter: Option<&Ident>,
    arrays: &HashSet<String>,
    assigned: &HashSet<String>,
    slices: &mut BTreeMap<(String, Offset), Ident>,
    written: &mut HashSet<String>,
) -> Option<TokenStream> {
    let mut out = TokenStream::new();
    let mut at = 0;
    while at < trees.len() {
        let tree = &trees[at];
        if let (TokenTree::Ident(array), Some(TokenTree::Group(subscript))) =
            (tree, trees.get(at + 1))
        {
            let preceded_by_dot =
                at > 0 && matches!(&trees[at - 1], TokenTree::Punct(p) if p.as_char() == '.');
            if subscript.delimiter() == Delimiter::Bracket
                && arrays.contains(&array.to_string())
                && !preceded_by_dot
            {
                let subscript_tokens = subscript.stream();
                let depends = mentions(&subscript_tokens, &index.to_string())
                    || counter.is_some_and(|c| mentions(&subscript_tokens, &c.to_string()));
                if depends {
                    let offset = offset_of(&subscript_tokens, index, counter, assigned)?;
                    let key = (array.to_string(), offset);
                    let next = slices.len();
                    let slice = slices
                        .entry(key)
                        .or_insert_with(|| format_ident!("__ad_slice{}", next))
                        .clone();
                    if is_assignment(trees, at + 2) {
                        written.insert(array.to_string());
                    }
                    out.extend(quote!(#slice[__ad_j]));
                    at += 2;
                    continue;
                }
            }
        }
        match tree {
            TokenTree::Group(group) => {
                let inner: Vec<TokenTree> = group.stream().into_iter().collect();
                let stream = rewrite(&inner, index, counter, arrays, assigned, slices, written)?;
                out.extend([regroup(group, stream)]);
            }
            TokenTree::Ident(ident) if counter.is_some_and(|c| c == ident) => {
                // The counter used other than as a whole index.
                return None;
            }
            other => out.extend([other.clone()]),
        }
        at += 1;
    }
    Some(out)
}

/// `b` → no offset, `e + b` / `b + e` → `e` (not written in the loop), `v` → the
/// counter; anything else that depends on the loop: `None`.
fn offset_of(
    subscript: &TokenStream,
    index: &Ident,
    counter: Option<&Ident>,
    assigned: &HashSet<String>,
) -> Option<Offset> {
    // An offset must not change during the loop.
    let varies = |term: &TokenStream| {
        mentions(term, &index.to_string())
            || counter.is_some_and(|c| mentions(term, &c.to_string()))
            || assigned.iter().any(|name| mentions(term, name))
    };
    let mut trees: Vec<TokenTree> = subscript.clone().into_iter().collect();
    // Strip parentheses around the whole index.
    while let [TokenTree::Group(group)] = trees.as_slice() {
        if group.delimiter() != Delimiter::Parenthesis {
            break;
        }
        trees = group.stream().into_iter().collect();
    }
    if let [TokenTree::Ident(ident)] = trees.as_slice() {
        if ident == index {
            return Some(Offset::None);
        }
        if counter.is_some_and(|c| c == ident) {
            return Some(Offset::Counter(ident.to_string()));
        }
        return None;
    }
    // `b - e`, with `e` one term (no top-level `+` or `-`).
    if let [TokenTree::Ident(first), TokenTree::Punct(minus), rest @ ..] = trees.as_slice() {
        if first == index && minus.as_char() == '-' && !rest.is_empty() {
            let rest: TokenStream = rest.iter().cloned().collect();
            let one_term = rest.clone().into_iter().all(
                |tree| !matches!(tree, TokenTree::Punct(p) if p.as_char() == '+' || p.as_char() == '-'),
            );
            if !one_term || varies(&rest) {
                return None;
            }
            return Some(Offset::Below(quote!((#rest)).to_string()));
        }
    }
    // Terms of a top-level sum.
    let mut terms: Vec<Vec<TokenTree>> = vec![Vec::new()];
    for tree in trees {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == '+' && p.spacing() == Spacing::Alone => {
                terms.push(Vec::new());
            }
            _ => terms.last_mut().map(|term| term.push(tree.clone()))?,
        }
    }
    let is_index =
        |term: &Vec<TokenTree>| matches!(term.as_slice(), [TokenTree::Ident(i)] if i == index);
    if terms.iter().filter(|term| is_index(term)).count() != 1 {
        return None;
    }
    let rest: Vec<TokenStream> = terms
        .iter()
        .filter(|term| !is_index(term))
        .map(|term| term.iter().cloned().collect())
        .collect();
    for term in &rest {
        if term.is_empty() || varies(term) {
            return None;
        }
    }
    let expr = quote!((#(#rest)+*));
    Some(Offset::Expr(expr.to_string()))
}

#[cfg(test)]
mod keep_tests {
    use quote::quote;

    #[test]
    fn guards_are_kept_or_dropped() {
        let body = quote!(a = 1.0; if __ad_keep_x_bar { x_bar[i] += g; } b = 2.0;);
        assert_eq!(super::keep_flags(&body).len(), 1);
        let flag = super::keep_flags(&body).remove(0);
        let kept = super::keep_guarded(&body, &flag, true);
        assert!(super::keep_flags(&kept).is_empty(), "{kept}");
        assert!(kept.to_string().contains("x_bar"), "{kept}");
        let dropped = super::keep_guarded(&body, &flag, false);
        assert!(!dropped.to_string().contains("x_bar"), "{dropped}");
        // A loop sliced both ways already.
        let both = quote!(if __ad_keep_x_bar { with(x_bar) } else { without() } b = 2.0;);
        let kept = super::keep_guarded(&both, &flag, true);
        assert_eq!(
            kept.to_string(),
            quote!({ with(x_bar) } b = 2.0;).to_string()
        );
        let dropped = super::keep_guarded(&both, &flag, false);
        assert_eq!(
            dropped.to_string(),
            quote!({ without() } b = 2.0;).to_string()
        );
    }
    #[test]
    fn reverse_loops_popping_once_per_trip_read_the_tail() {
        let looped =
            |body: proc_macro2::TokenStream| quote!(for __ad_j in (0..__ad_n).rev() { #body });
        let once =
            looped(quote!(let i = lo + __ad_j; { s[__ad_j] += g; x[__ad_j] = __ad_floats.pop(); }));
        let read = super::pops_by_trip(once).to_string();
        assert!(read.contains("__ad_floats . tail (__ad_n)"), "{read}");
        assert!(read.contains("x [__ad_j] = __ad_tail [__ad_j]"), "{read}");
        assert!(read.contains("__ad_floats . drop_tail (__ad_n)"), "{read}");
        assert!(!read.contains("pop"), "{read}");
        // Popped under a branch, twice, or the lane used otherwise: left alone.
        for body in [
            quote!(if c {
                x[__ad_j] = __ad_floats.pop();
            }),
            quote!(x[__ad_j] = __ad_floats.pop(); y[__ad_j] = __ad_floats.pop();),
            quote!(x[__ad_j] = __ad_floats.pop(); __ad_floats.push(1.0);),
            quote!(x[__ad_j] = c && __ad_floats.pop() > 0.0;),
        ] {
            let tokens = looped(body);
            assert_eq!(
                super::pops_by_trip(tokens.clone()).to_string(),
                tokens.to_string()
            );
        }
        // A forward loop is not a reverse one.
        let forward = quote!(for __ad_j in 0..__ad_n {
            x[__ad_j] = __ad_floats.pop();
        });
        assert_eq!(
            super::pops_by_trip(forward.clone()).to_string(),
            forward.to_string()
        );
    }
}
