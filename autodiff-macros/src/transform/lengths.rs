//! Innermost loops that cannot be sliced, run under a check of their arrays'
//! lengths, so that LLVM can drop the bounds checks the check implies.
//!
//! `slices` rewrites a loop whose accesses all sit at fixed offsets of its index
//! and run on every iteration; a stencil with a boundary branch (the spring
//! chain's `if i == 0 { x[0] } else { x[i] - x[i - 1] }`, `if i + 1 < n { ..
//! x[i + 1] .. }`) is neither. Its reverse, written by hand, indexes slices whose
//! lengths the author made equal to `n`, and LLVM proves every index in bounds
//! from the loop's own conditions; the generated loop indexes `Vec`s whose
//! lengths LLVM knows nothing about (and reloads from memory after every store
//! through another array), and keeps every check.
//!
//! So such a loop `for i in lo..hi { body }` becomes
//!
//! ```text
//! if hi <= x.len() && hi <= x_bar.len() .. {
//!     let x = &x[..]; let x_bar = &mut x_bar[..]; ..
//!     for i in lo..hi { body }
//! } else {
//!     for i in lo..hi { body }
//! }
//! ```
//!
//! for the arrays it indexes at offsets of `i`, where the loop has a branch
//! (asking for `x[hi - 1 + c]` where
//! every trip reads `x[i + c]`, and `c <= lo` where every trip reads `x[i - c]`:
//! the loop could not run otherwise). The body is the same in both
//! copies, checks and all: the condition only gives LLVM facts (`i < hi <=
//! x.len()`, and with the branch's own `i + 1 < n`, `i + 1 < x.len()`) from which
//! it removes the checks it can prove never fail. Whatever the lengths, the loop
//! computes and panics exactly as written.

use std::collections::{BTreeMap, HashSet};

use proc_macro2::{Delimiter, Ident, Spacing, TokenStream, TokenTree};
use quote::{format_ident, quote};

use crate::transform::rotate::offset;
use crate::transform::tokens::mentions_any;

/// How a loop uses one array.
#[derive(Default)]
struct Uses {
    /// Indexed at an offset of the loop index somewhere.
    at_index: bool,
    /// The lowest and highest offsets of the index it is read or written at on
    /// every iteration: the loop panics unless those elements exist, so the
    /// check asks for them too (Rosenbrock's `x[i + 1]`).
    every_trip: (i64, i64),
    /// Written (an element assigned or added into, or `.fill`ed).
    written: bool,
    /// Used in a way a slice might not support (passed whole, assigned whole).
    whole: bool,
}

/// `looped`, the statement that runs an innermost loop over `index` in `lo..hi`
/// (forwards or reversed), versioned under a check of the lengths of the arrays
/// among `arrays` that it indexes at offsets of `index`; `None` if there are
/// none, or the statement holds another loop.
pub fn guard(
    index: &Ident,
    lo: &TokenStream,
    hi: &TokenStream,
    looped: &TokenStream,
    arrays: &HashSet<String>,
) -> Option<TokenStream> {
    if count_idents(looped, &["for"]) != 1 || mentions_any(looped, &["loop", "while"]) {
        return None;
    }
    // A loop without a branch is left as it is: LLVM handles its checks about as
    // well itself, and Rosenbrock's `f_hvp` reverse loop (`x_bar[i]` and
    // `x_bar[i + 1]`, every trip) ran 6% slower checked.
    if !mentions_any(looped, &["if", "match"]) {
        return None;
    }
    let mut uses: BTreeMap<String, Uses> = BTreeMap::new();
    collect(looped, index, arrays, true, &mut uses);
    let checked: Vec<TokenStream> = uses
        .iter()
        .filter(|(_, uses)| uses.at_index && !uses.whole)
        .map(|(name, uses)| {
            let name = format_ident!("{}", name);
            let (lowest, highest) = uses.every_trip;
            // `x[i - 1]` on every trip: `i - 1` cannot wrap.
            let below = (lowest < 0).then(|| {
                let below = lowest.unsigned_abs() as usize;
                quote!(#below <= #lo &&)
            });
            // `x[i + 1]` on every trip: `i + 1 < hi + 1 <= x.len()`.
            let length = if highest > 0 {
                let above = highest as usize;
                quote!(#above <= #name.len() && #hi <= #name.len() - #above)
            } else {
                quote!(#hi <= #name.len())
            };
            quote!(#below #length)
        })
        .collect();
    if checked.is_empty() {
        return None;
    }
    let rebind = uses
        .iter()
        .filter(|(_, uses)| !uses.whole)
        .map(|(name, uses)| {
            let name = format_ident!("{}", name);
            if uses.written {
                quote!(let #name = &mut #name[..];)
            } else {
                quote!(let #name = &#name[..];)
            }
        });
    Some(quote!(
        if #(#checked)&&* {
            #(#rebind)*
            #looped
        } else {
            #looped
        }
    ))
}

/// How many of the identifiers in `tokens` are among `words`.
fn count_idents(tokens: &TokenStream, words: &[&str]) -> usize {
    tokens
        .clone()
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) => usize::from(words.iter().any(|word| ident == word)),
            TokenTree::Group(group) => count_idents(&group.stream(), words),
            _ => 0,
        })
        .sum()
}

/// Records how `tokens` use the arrays; `every_trip` while what runs here runs
/// on every iteration, as far as a token walk can tell (up to the first branch,
/// short-circuit, closure or exit). It only decides how much the check asks
/// for: where it asks too much, the loop runs as written.
fn collect(
    tokens: &TokenStream,
    index: &Ident,
    arrays: &HashSet<String>,
    mut every_trip: bool,
    uses: &mut BTreeMap<String, Uses>,
) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (at, tree) in trees.iter().enumerate() {
        let branches = match tree {
            TokenTree::Ident(word) => ["if", "match", "else", "break", "continue", "return"]
                .iter()
                .any(|branch| word == branch),
            TokenTree::Punct(punct) => {
                matches!(punct.as_char(), '|' | '?')
                    || (punct.as_char() == '&' && punct.spacing() == Spacing::Joint)
            }
            _ => false,
        };
        if branches {
            every_trip = false;
        }
        match tree {
            TokenTree::Ident(name) if arrays.contains(&name.to_string()) => {
                // A field or method of the same name is another thing.
                if at > 0 && is_punct(&trees[at - 1], '.') {
                    continue;
                }
                let entry = uses.entry(name.to_string()).or_default();
                let borrowed_mut = at >= 2
                    && is_punct(&trees[at - 2], '&')
                    && matches!(&trees[at - 1], TokenTree::Ident(word) if word == "mut");
                match trees.get(at + 1) {
                    Some(TokenTree::Group(subscript))
                        if subscript.delimiter() == Delimiter::Bracket =>
                    {
                        if let Some(offset) = offset(&subscript.stream(), index) {
                            entry.at_index = true;
                            if every_trip {
                                let (lowest, highest) = &mut entry.every_trip;
                                *lowest = (*lowest).min(offset);
                                *highest = (*highest).max(offset);
                            }
                        }
                        if borrowed_mut || crate::transform::slices::is_assignment(&trees, at + 2) {
                            entry.written = true;
                        }
                    }
                    Some(dot) if is_punct(dot, '.') => match trees.get(at + 2) {
                        Some(TokenTree::Ident(method)) if method == "len" => {}
                        Some(TokenTree::Ident(method)) if method == "fill" => {
                            entry.written = true;
                        }
                        _ => entry.whole = true,
                    },
                    _ => entry.whole = true,
                }
            }
            TokenTree::Group(group) => collect(&group.stream(), index, arrays, every_trip, uses),
            _ => {}
        }
    }
}

fn is_punct(tree: &TokenTree, ch: char) -> bool {
    matches!(tree, TokenTree::Punct(punct) if punct.as_char() == ch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrays(names: &[&str]) -> HashSet<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn a_stencil_runs_under_its_arrays_lengths() {
        let index = format_ident!("i");
        let looped = quote! {
            for i in (lo..hi).rev() {
                let g: f64 = f_bar[i]; f_bar[i] = -0.0;
                if i == 0 { x_bar[0] += g; } else { x_bar[(i - 1)] += -g; }
                if i + 1 < n { x_bar[(i + 1)] += k[(i + 1)] * g; }
                let _ = &x_bar[i];
                t = x[i] * w.len() as f64;
            }
        };
        let guarded = guard(
            &index,
            &quote!(lo),
            &quote!(hi),
            &looped,
            &arrays(&["x", "x_bar", "f_bar", "k", "w"]),
        )
        .map(|tokens| tokens.to_string())
        .unwrap_or_default();
        // The branches' `x[i + 1]`, `x[i - 1]` ask for nothing more.
        let condition = guarded.split(" {").next().unwrap_or_default();
        assert_eq!(
            condition,
            "if hi <= f_bar . len () && hi <= k . len () && hi <= x . len () \
             && hi <= x_bar . len ()"
        );
        // `w` is not indexed: not checked, but read through a slice too.
        assert!(!guarded.contains("hi <= w"));
        assert!(guarded.contains("let w = & w [..] ;"));
        assert!(guarded.contains("let x_bar = & mut x_bar [..] ;"));
        assert!(guarded.contains("let f_bar = & mut f_bar [..] ;"));
        assert!(guarded.contains("let x = & x [..] ;"));
        // Both copies run the loop as written.
        assert_eq!(guarded.matches("for i in").count(), 2);
    }

    #[test]
    fn arrays_used_whole_or_nested_loops_are_left_alone() {
        let index = format_ident!("i");
        // Passed whole to a call: a slice would change the call's type.
        let whole = quote!(for i in lo..hi {
            if go {
                y[i] = x[i];
            }
            consume(&x);
        });
        let guarded = guard(
            &index,
            &quote!(lo),
            &quote!(hi),
            &whole,
            &arrays(&["x", "y"]),
        )
        .map(|tokens| tokens.to_string())
        .unwrap_or_default();
        assert!(guarded.contains("hi <= y . len ()"));
        assert!(!guarded.contains("hi <= x"));
        assert!(!guarded.contains("let x ="));
        let nested = quote!(for i in lo..hi {
            for j in 0..m {
                if go {
                    y[i] += x[j];
                }
            }
        });
        assert!(guard(
            &index,
            &quote!(lo),
            &quote!(hi),
            &nested,
            &arrays(&["x", "y"])
        )
        .is_none());
        let unindexed = quote!(for i in lo..hi {
            if go {
                s += x[j];
            }
        });
        assert!(guard(
            &index,
            &quote!(lo),
            &quote!(hi),
            &unindexed,
            &arrays(&["x"])
        )
        .is_none());
    }

    #[test]
    fn loops_without_a_branch_are_left_alone() {
        let index = format_ident!("i");
        let looped = quote!(for i in (lo..hi).rev() {
            x_bar[(i + 1)] += g * x[i];
            x_bar[i] += g;
        });
        let arrays = arrays(&["x", "x_bar"]);
        assert!(guard(&index, &quote!(lo), &quote!(hi), &looped, &arrays).is_none());
    }

    #[test]
    fn offsets_read_on_every_trip_are_asked_for() {
        let index = format_ident!("i");
        // Rosenbrock's `x[i + 1]` on every trip; `y[i - 2]` and `y[i + 3]` too,
        // `y[i + 4]` only in a branch.
        let looped = quote!(for i in lo..hi {
            s += x[(i + 1)] - x[i] + y[(i - 2)] + y[(i + 3)];
            if s > 0.0 {
                s += y[(i + 4)];
            }
        });
        let guarded = guard(
            &index,
            &quote!(lo),
            &quote!(hi),
            &looped,
            &arrays(&["x", "y"]),
        )
        .map(|tokens| tokens.to_string())
        .unwrap_or_default();
        let condition = guarded.split(" {").next().unwrap_or_default();
        assert_eq!(
            condition,
            "if 1usize <= x . len () && hi <= x . len () - 1usize \
             && 2usize <= lo && 3usize <= y . len () && hi <= y . len () - 3usize"
        );
    }
}
