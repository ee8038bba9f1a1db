//! Additions into neighbouring elements of an adjoint array, summed in registers
//! as a reverse loop moves down, each element written once.
//!
//! The reverse of a stencil (the spring chain's `-k[i] * (x[i] - x[i - 1])` plus
//! `k[i + 1] * (x[i + 1] - x[i])`) adds into `x_bar[i + 1]`, `x_bar[i]` and
//! `x_bar[i - 1]` in every iteration, so each element is loaded, added to and stored in three consecutive
//! iterations: a chain of stores forwarded to the next iteration's loads that bounds
//! the loop's speed (LLVM cannot keep the elements in registers: it cannot tell
//! the adjoint arrays apart). A hand-written adjoint pays the same chain unless
//! its author rotates the sums through registers, which is what this does for an
//! array that the loop only adds into, at constant offsets from its index: the
//! iteration that adds the last contribution to an element (the highest offset,
//! as the loop runs down) writes it once, the others carry their partial sums to
//! the next iteration, and the elements still pending when the loop ends are
//! written after it. Additions elsewhere in the same array (a boundary branch's
//! `x_bar[0] += ..`) go to memory as written; the registers add on top of them.
//!
//! Only loops with an array added into at three offsets or more are rotated
//! (with their arrays at two offsets): a loop with fewer is not bound by the
//! chain, and the registers' moves cost it time.
//!
//! Every addition still checks its index where it was (`let _ = &x_bar[i - 1];`),
//! so a loop panics where it did. Sums are formed in another order, so the
//! adjoints may differ from the unrotated loop's in the last bits.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Delimiter, Ident, Spacing, TokenStream, TokenTree};
use quote::{format_ident, quote};

use crate::transform::tokens::{mentions_any, regroup};

/// Offsets further than this from the index are left alone.
const MAX_OFFSET: i64 = 4;

/// The loop `for index in (lo..hi).rev() { body }` with the additions into
/// arrays it only adds into at two or more offsets of `index` rotated through
/// registers of type `float`, or `None` if there are none.
pub fn rotate(
    index: &Ident,
    lo: &TokenStream,
    hi: &TokenStream,
    body: &TokenStream,
    float: &TokenStream,
) -> Option<TokenStream> {
    // An iteration must reach its end, where the registers move; inner loops
    // could hide the array in a closure (a sliced loop's fallback).
    if mentions_any(
        body,
        &[
            "break", "continue", "return", "for", "loop", "while", "move",
        ],
    ) {
        return None;
    }
    let mut uses: BTreeMap<String, Uses> = BTreeMap::new();
    collect(body, index, &mut uses);
    // A loop pays for the registers' moves and the checks of the flushes; only a
    // stencil (an array added into at three offsets or more) is bound by the
    // chain (Rosenbrock's two offsets ran 7% slower rotated, the spring chain's
    // forces 10-15% faster with its stiffnesses' two offsets rotated too).
    if !uses
        .values()
        .any(|uses| !uses.other && uses.offsets.len() >= 3)
    {
        return None;
    }
    let arrays: BTreeMap<String, (i64, i64)> = uses
        .into_iter()
        .filter(|(_, uses)| !uses.other && uses.offsets.len() >= 2)
        .map(|(name, uses)| {
            let lowest = *uses.offsets.first().unwrap_or(&0);
            let highest = *uses.offsets.last().unwrap_or(&0);
            (name, (lowest, highest))
        })
        .collect();
    let body = rewrite(body, index, &arrays);
    let mut declare = TokenStream::new();
    let mut complete = TokenStream::new();
    let mut after = TokenStream::new();
    for (name, (lowest, highest)) in &arrays {
        let array = format_ident!("{}", name);
        // Adds a register into the element at `base + offset`, if there is one
        // (an element never added into may lie outside the array).
        let flush = |base: TokenStream, offset: isize, register: &Ident| {
            quote!({
                let __ad_at: usize = #base.wrapping_add(#offset as usize);
                if __ad_at < #array.len() {
                    #array[__ad_at] += #register;
                }
            })
        };
        let width = (highest - lowest + 1) as usize;
        let registers: Vec<Ident> = (0..width).map(|k| register(name, k)).collect();
        declare.extend(quote!(#(let mut #registers: #float = 0.0;)*));
        // The element at the highest offset has all its contributions.
        let (last, highest) = (&registers[width - 1], *highest as isize);
        complete.extend(flush(quote!(#index), highest, last));
        // Each partial sum moves up one offset for the next (lower) index.
        for k in (1..width).rev() {
            let (to, from) = (&registers[k], &registers[k - 1]);
            complete.extend(quote!(#to = #from;));
        }
        let first = &registers[0];
        complete.extend(quote!(#first = 0.0;));
        // After the last iteration (index `lo`), register `k` holds the sum for
        // the element at `lo - 1 + lowest + k`.
        for (k, pending) in registers.iter().enumerate().skip(1) {
            let offset = (lowest + k as i64 - 1) as isize;
            after.extend(flush(quote!(__ad_rotated_lo), offset, pending));
        }
    }
    Some(quote!({
        let __ad_rotated_lo: usize = #lo;
        #declare
        for #index in (__ad_rotated_lo..#hi).rev() {
            #body
            #complete
        }
        #after
    }))
}

/// How a loop body uses one name.
#[derive(Default)]
struct Uses {
    /// Offsets from the index of the elements added into (`a[i + 1] += ..`).
    offsets: BTreeSet<i64>,
    /// Used any other way.
    other: bool,
}

fn register(array: &str, k: usize) -> Ident {
    format_ident!("__ad_rotated_{}_{}", array, k)
}

fn collect(tokens: &TokenStream, index: &Ident, uses: &mut BTreeMap<String, Uses>) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (at, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(name) => {
                let entry = uses.entry(name.to_string()).or_default();
                let after_dot =
                    at > 0 && matches!(&trees[at - 1], TokenTree::Punct(p) if p.as_char() == '.');
                match (after_dot, addition(&trees, at, index)) {
                    (false, Some(Some(offset))) => {
                        entry.offsets.insert(offset);
                    }
                    // An addition elsewhere (`x_bar[0] += ..`, the first element's
                    // branch of a stencil) goes to memory as written: the registers'
                    // sums are added on top of it later, the same total.
                    (false, Some(None)) => {}
                    _ => entry.other = true,
                }
            }
            TokenTree::Group(group) => collect(&group.stream(), index, uses),
            _ => {}
        }
    }
}

/// Whether an addition `name[..] += ..` starts at `at`, and if so the offset `c`
/// of `name[index + c]`, if its subscript has that form.
fn addition(trees: &[TokenTree], at: usize, index: &Ident) -> Option<Option<i64>> {
    let (
        Some(TokenTree::Group(subscript)),
        Some(TokenTree::Punct(plus)),
        Some(TokenTree::Punct(eq)),
    ) = (trees.get(at + 1), trees.get(at + 2), trees.get(at + 3))
    else {
        return None;
    };
    if subscript.delimiter() != Delimiter::Bracket
        || plus.as_char() != '+'
        || plus.spacing() != Spacing::Joint
        || eq.as_char() != '='
    {
        return None;
    }
    Some(offset(&subscript.stream(), index))
}

/// `i` → 0, `i + c` / `c + i` → c, `i - c` → -c, for a small integer `c`.
pub(crate) fn offset(subscript: &TokenStream, index: &Ident) -> Option<i64> {
    let mut trees: Vec<TokenTree> = subscript.clone().into_iter().collect();
    while let [TokenTree::Group(group)] = trees.as_slice() {
        if group.delimiter() != Delimiter::Parenthesis {
            break;
        }
        trees = group.stream().into_iter().collect();
    }
    let literal = |tree: &TokenTree| match tree {
        TokenTree::Literal(literal) => literal
            .to_string()
            .trim_end_matches("usize")
            .parse::<i64>()
            .ok()
            .filter(|c| *c <= MAX_OFFSET),
        _ => None,
    };
    let is_index = |tree: &TokenTree| matches!(tree, TokenTree::Ident(name) if name == index);
    let sign = |tree: &TokenTree| match tree {
        TokenTree::Punct(p) if p.as_char() == '+' => Some(1),
        TokenTree::Punct(p) if p.as_char() == '-' => Some(-1),
        _ => None,
    };
    match trees.as_slice() {
        [only] if is_index(only) => Some(0),
        [first, op, c] if is_index(first) => Some(sign(op)? * literal(c)?),
        [c, op, last] if is_index(last) && sign(op) == Some(1) => literal(c),
        _ => None,
    }
}

/// The body with each `a[i + c] += e;` of a rotated array replaced by the
/// check of its index and an addition into the register for offset `c`.
fn rewrite(
    tokens: &TokenStream,
    index: &Ident,
    arrays: &BTreeMap<String, (i64, i64)>,
) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut out = TokenStream::new();
    let mut at = 0;
    while at < trees.len() {
        if let TokenTree::Ident(name) = &trees[at] {
            if let (Some((lowest, _)), Some(Some(offset))) =
                (arrays.get(&name.to_string()), addition(&trees, at, index))
            {
                let end = trees[at + 4..]
                    .iter()
                    .position(|tree| matches!(tree, TokenTree::Punct(p) if p.as_char() == ';'))
                    .map_or(trees.len(), |found| at + 4 + found);
                let value: TokenStream = trees[at + 4..end].iter().cloned().collect();
                let subscript = &trees[at + 1];
                let register = register(&name.to_string(), (offset - lowest) as usize);
                out.extend(quote!({
                    let __ad_added = #value;
                    let _ = &#name #subscript;
                    #register += __ad_added;
                }));
                at = end + 1;
                continue;
            }
        }
        out.extend([match &trees[at] {
            TokenTree::Group(group) => regroup(group, rewrite(&group.stream(), index, arrays)),
            tree => tree.clone(),
        }]);
        at += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(subscript: TokenStream) -> Option<i64> {
        offset(&subscript, &format_ident!("i"))
    }

    #[test]
    fn offsets_of_the_index_are_read() {
        assert_eq!(offsets(quote!(i)), Some(0));
        assert_eq!(offsets(quote!((i + 1))), Some(1));
        assert_eq!(offsets(quote!((i - 2))), Some(-2));
        assert_eq!(offsets(quote!((3 + i))), Some(3));
        assert_eq!(offsets(quote!((i + n))), None);
        assert_eq!(offsets(quote!((i + 9))), None);
        assert_eq!(offsets(quote!((2 * i))), None);
    }

    #[test]
    fn arrays_only_added_into_at_two_offsets_are_rotated() {
        let index = format_ident!("i");
        let float = quote!(f64);
        let body = quote! {
            { let __ad_g: f64 = y_bar[i]; y_bar[i] = 0.0; t_bar += __ad_g; }
            x_bar[(i + 1)] += t_bar;
            x_bar[i] += -t_bar;
            x_bar[(i - 1)] += t_bar;
            w_bar[(i + 1)] += t_bar;
            w_bar[i] += t_bar;
            k_bar[i] += t_bar;
        };
        let rotated = rotate(&index, &quote!(lo), &quote!(hi), &body, &float);
        assert!(rotated.is_some(), "x_bar is added into at two offsets");
        let rotated = rotated.map(|t| t.to_string()).unwrap_or_default();
        // `x_bar` goes through three registers, `w_bar` two; `k_bar` (one
        // offset) and `y_bar` (also read) are left as written.
        assert!(rotated.contains("__ad_rotated_x_bar_2"));
        assert!(rotated.contains("__ad_rotated_w_bar_1"));
        assert!(!rotated.contains("__ad_rotated_k_bar"));
        assert!(!rotated.contains("__ad_rotated_y_bar"));
        assert!(rotated.contains("k_bar [i] += t_bar"));
        // An addition at a fixed element (the boundary branch of the spring
        // chain's forces) stays as written; the offsets still go to registers.
        let boundary = quote! {
            if i == 0 { x_bar[0] += t_bar; } else { x_bar[(i - 1)] += -t_bar; }
            x_bar[i] += t_bar;
            if i + 1 < n { x_bar[(i + 1)] += t_bar; }
        };
        let rotated = rotate(&index, &quote!(lo), &quote!(hi), &boundary, &float)
            .map(|t| t.to_string())
            .unwrap_or_default();
        assert!(rotated.contains("__ad_rotated_x_bar_2"), "{rotated}");
        assert!(rotated.contains("x_bar [0] += t_bar"), "{rotated}");
        // Read in the loop: not rotated.
        let read = quote! { x_bar[i] += 1.0; x_bar[(i + 1)] += 2.0; x_bar[(i - 1)] += x_bar[0]; };
        assert!(rotate(&index, &quote!(lo), &quote!(hi), &read, &float).is_none());
        // Two offsets at most: not a stencil.
        let pair = quote! { x_bar[i] += 1.0; x_bar[(i + 1)] += 2.0; };
        assert!(rotate(&index, &quote!(lo), &quote!(hi), &pair, &float).is_none());
        let exits =
            quote! { x_bar[i] += 1.0; x_bar[(i + 1)] += 2.0; x_bar[(i - 1)] += 2.0; continue; };
        assert!(rotate(&index, &quote!(lo), &quote!(hi), &exits, &float).is_none());
    }
}
