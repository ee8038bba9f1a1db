//! Small walks over generated token streams, shared by the passes that rewrite
//! generated code (`reverse`, `reserve`, `slices`).

use proc_macro2::{Group, TokenStream, TokenTree};

/// Whether `tokens` (groups included) contain an identifier among `names`.
pub fn mentions_any(tokens: &TokenStream, names: &[&str]) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => names.iter().any(|name| ident == name),
        TokenTree::Group(group) => mentions_any(&group.stream(), names),
        _ => false,
    })
}

/// Whether `tokens` contain the identifier `name`.
pub fn mentions(tokens: &TokenStream, name: &str) -> bool {
    mentions_any(tokens, &[name])
}

/// `group` with its contents replaced, keeping its delimiter and span.
pub fn regroup(group: &Group, stream: TokenStream) -> TokenTree {
    let mut out = Group::new(group.delimiter(), stream);
    out.set_span(group.span());
    TokenTree::Group(out)
}

/// The identifiers in `tokens`, as text; without `lengths`, not one followed by
/// `.len()` (the variables whose values the code reads or writes, not just their
/// lengths).
pub fn idents(tokens: &TokenStream, lengths: bool, out: &mut std::collections::HashSet<String>) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (at, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(ident) => {
                let length_only = matches!(
                    (trees.get(at + 1), trees.get(at + 2), trees.get(at + 3)),
                    (
                        Some(TokenTree::Punct(dot)),
                        Some(TokenTree::Ident(len)),
                        Some(TokenTree::Group(args)),
                    ) if dot.as_char() == '.' && len == "len" && args.stream().is_empty()
                );
                if lengths || !length_only {
                    out.insert(ident.to_string());
                }
            }
            TokenTree::Group(group) => idents(&group.stream(), lengths, out),
            _ => {}
        }
    }
}

/// Whether `tokens` call a maths-library function (`sin`, `x.exp()`) or its
/// derivative rule (`sin_vjp`): a call after which no float register holds what
/// it held before.
pub fn calls_library(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => {
            let name = ident.to_string();
            let base = ["_vjp_from_output", "_vjp", "_jvp"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(&name);
            crate::rules::lookup_rule(base).is_some_and(crate::rules::Prim::calls_library)
        }
        TokenTree::Group(group) => calls_library(&group.stream()),
        _ => false,
    })
}

/// The identifiers `tokens` (statements of generated code) may read before
/// assigning them: the values the code takes from before it runs.
///
/// A statement `name = expr;` at the start of a block's statement assigns `name`
/// for the rest of that block (on every path through it); any other mention of a
/// name not yet assigned counts as a read. Assignments inside nested groups (a
/// loop's body, a branch, a closure) count only within them, so a loop that
/// recomputes a temporary before reading it in every iteration does not read the
/// value the temporary had before the loop.
pub fn exposed(tokens: &TokenStream, out: &mut std::collections::HashSet<String>) {
    exposed_in(tokens, &mut std::collections::HashSet::new(), out);
}

/// `assigned` holds the names assigned on every path so far; what a nested group
/// assigns is taken out again when it ends (a set shared down the walk, not a
/// copy per group: generated bodies hold thousands of groups).
fn exposed_in(
    tokens: &TokenStream,
    assigned: &mut std::collections::HashSet<String>,
    out: &mut std::collections::HashSet<String>,
) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut added: Vec<String> = Vec::new();
    let mut statement_start = true;
    let mut at = 0;
    while at < trees.len() {
        // `let mut name;`: a fresh variable for the rest of the block (a sliced
        // loop's fallback declares its temporaries so), not the outer one.
        if statement_start && matches!(&trees[at], TokenTree::Ident(word) if word == "let") {
            let skip = usize::from(
                matches!(trees.get(at + 1), Some(TokenTree::Ident(word)) if word == "mut"),
            );
            if let (Some(TokenTree::Ident(name)), Some(TokenTree::Punct(semi))) =
                (trees.get(at + 1 + skip), trees.get(at + 2 + skip))
            {
                if semi.as_char() == ';' {
                    if assigned.insert(name.to_string()) {
                        added.push(name.to_string());
                    }
                    at += 3 + skip;
                    continue;
                }
            }
        }
        if let (true, TokenTree::Ident(name), Some(TokenTree::Punct(eq))) =
            (statement_start, &trees[at], trees.get(at + 1))
        {
            if eq.as_char() == '=' && eq.spacing() == proc_macro2::Spacing::Alone {
                let end = trees[at + 2..]
                    .iter()
                    .position(|tree| matches!(tree, TokenTree::Punct(p) if p.as_char() == ';'))
                    .map_or(trees.len(), |offset| at + 2 + offset);
                let value: TokenStream = trees[at + 2..end].iter().cloned().collect();
                exposed_in(&value, assigned, out);
                if assigned.insert(name.to_string()) {
                    added.push(name.to_string());
                }
                at = end + 1;
                statement_start = true;
                continue;
            }
        }
        statement_start = match &trees[at] {
            TokenTree::Ident(name) => {
                let name = name.to_string();
                if !assigned.contains(&name) {
                    out.insert(name);
                }
                false
            }
            TokenTree::Group(group) => {
                exposed_in(&group.stream(), assigned, out);
                group.delimiter() == proc_macro2::Delimiter::Brace
            }
            TokenTree::Punct(punct) => punct.as_char() == ';',
            TokenTree::Literal(_) => false,
        };
        at += 1;
    }
    for name in added {
        assigned.remove(&name);
    }
}

/// Methods that change their receiver, among those generated code calls.
const MUTATING: &[&str] = &[
    "get_mut",
    "iter_mut",
    "fill",
    "copy_from_slice",
    "clone_from_slice",
    "swap_with_slice",
    "push",
    "pop",
    "resize",
    "extend",
    "extend_from_slice",
    "clear",
    "swap",
    "truncate",
    "split_at_mut",
    "chunks_mut",
    "chunks_exact_mut",
    "as_mut_slice",
    "as_mut",
    "as_mut_ptr",
    "first_mut",
    "last_mut",
    "insert",
    "remove",
    "append",
    "drain",
    "retain",
    "reverse",
    "set",
    "take",
    "replace",
];

/// The identifiers `tokens` may change that they do not bind themselves:
/// assigned (`x = ..`, `x += ..`, `x[i] = ..`), borrowed mutably (`&mut x`), or
/// the receiver of a method that changes it (`x.get_mut(..)`). Names bound by
/// `let` and `for` anywhere in `tokens` are taken to be theirs (generated code
/// binds only fresh names and loop indices). An over-estimate otherwise.
pub fn assigned(tokens: &TokenStream, out: &mut std::collections::HashSet<String>) {
    let mut changed = std::collections::HashSet::new();
    changed_names(tokens, &mut changed);
    let mut bound = std::collections::HashSet::new();
    bound_names(tokens, &mut bound);
    out.extend(changed.into_iter().filter(|name| !bound.contains(name)));
}

/// The names `let` and `for` bind in `tokens`, at any depth.
fn bound_names(tokens: &TokenStream, out: &mut std::collections::HashSet<String>) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut at = 0;
    while at < trees.len() {
        match &trees[at] {
            TokenTree::Group(group) => bound_names(&group.stream(), out),
            TokenTree::Ident(word) if word == "let" || word == "for" => {
                // The pattern: up to `=`, `:` or `in`.
                at += 1;
                while let Some(tree) = trees.get(at) {
                    match tree {
                        TokenTree::Ident(word) if word == "in" => break,
                        TokenTree::Punct(p) if p.as_char() == '=' || p.as_char() == ':' => break,
                        TokenTree::Ident(name) if name != "mut" => {
                            out.insert(name.to_string());
                        }
                        TokenTree::Group(group) => pattern_names(&group.stream(), out),
                        _ => {}
                    }
                    at += 1;
                }
                continue;
            }
            _ => {}
        }
        at += 1;
    }
}

/// The identifiers of a pattern (`Some(x)`, `(a, b)`): every one, variant
/// names included, which is harmless for [`assigned`].
fn pattern_names(tokens: &TokenStream, out: &mut std::collections::HashSet<String>) {
    for tree in tokens.clone() {
        match tree {
            TokenTree::Ident(name) if name != "mut" => {
                out.insert(name.to_string());
            }
            TokenTree::Group(group) => pattern_names(&group.stream(), out),
            _ => {}
        }
    }
}

/// See [`assigned`]: every name changed, bound or not.
fn changed_names(tokens: &TokenStream, out: &mut std::collections::HashSet<String>) {
    use proc_macro2::{Delimiter, Spacing};
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let punct = |at: usize| match trees.get(at) {
        Some(TokenTree::Punct(p)) => Some((p.as_char(), p.spacing())),
        _ => None,
    };
    for (at, tree) in trees.iter().enumerate() {
        let name = match tree {
            TokenTree::Group(group) => {
                changed_names(&group.stream(), out);
                continue;
            }
            TokenTree::Ident(name) => name,
            _ => continue,
        };
        // A type (`let n: usize = ..`) is not assigned.
        let typed = at >= 1
            && punct(at - 1).is_some_and(|(c, _)| c == ':')
            && !(at >= 2 && punct(at - 2).is_some_and(|(c, _)| c == ':'));
        if typed {
            continue;
        }
        let borrowed = at >= 2
            && matches!(&trees[at - 1], TokenTree::Ident(word) if word == "mut")
            && punct(at - 2).is_some_and(|(c, _)| c == '&');
        let mut next = at + 1;
        while matches!(trees.get(next), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket)
        {
            next += 1;
        }
        let assignment = match (punct(next), punct(next + 1), punct(next + 2)) {
            (Some(('=', Spacing::Alone)), _, _) => true,
            (Some((op, Spacing::Joint)), Some(('=', _)), _) => "+-*/%|&^".contains(op),
            (Some(('<', Spacing::Joint)), Some(('<', Spacing::Joint)), Some(('=', _)))
            | (Some(('>', Spacing::Joint)), Some(('>', Spacing::Joint)), Some(('=', _))) => true,
            _ => false,
        };
        let method = punct(next).is_some_and(|(c, _)| c == '.')
            && matches!(trees.get(next + 1), Some(TokenTree::Ident(m)) if MUTATING.iter().any(|name| m == name));
        if borrowed || assignment || method {
            out.insert(name.to_string());
        }
    }
}

/// `tokens` without the statements `::autodiff_runtime::__private::fit_zeros(&mut
/// adjoint, ..);`, at any depth: the sizing of an adjoint that code which never
/// reads it does not need.
pub fn without_fits(tokens: &TokenStream, adjoint: &str) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut out = TokenStream::new();
    let mut at = 0;
    while at < trees.len() {
        if let Some(len) = fit_at(&trees[at..], adjoint) {
            at += len;
            continue;
        }
        out.extend([match &trees[at] {
            TokenTree::Group(group) => regroup(group, without_fits(&group.stream(), adjoint)),
            tree => tree.clone(),
        }]);
        at += 1;
    }
    out
}

/// The number of trees of a `fit_zeros(&mut adjoint, ..);` statement starting
/// `trees`.
fn fit_at(trees: &[TokenTree], adjoint: &str) -> Option<usize> {
    let text: Vec<String> = trees.iter().take(9).map(ToString::to_string).collect();
    let path = [
        ":",
        ":",
        "autodiff_runtime",
        ":",
        ":",
        "__private",
        ":",
        ":",
        "fit_zeros",
    ];
    if text.len() < 9 || text.iter().zip(path).any(|(tree, part)| tree != part) {
        return None;
    }
    let (Some(TokenTree::Group(args)), Some(TokenTree::Punct(semi))) =
        (trees.get(9), trees.get(10))
    else {
        return None;
    };
    let args: Vec<String> = args
        .stream()
        .into_iter()
        .take(4)
        .map(|t| t.to_string())
        .collect();
    (semi.as_char() == ';' && args == ["&", "mut", adjoint, ","]).then_some(11)
}

/// `tokens` with every statement `name = ::std::vec![value; len];` (at any
/// depth) written as `::autodiff_runtime::__private::refill(&mut name, value,
/// len);`, which fills the vector's own allocation: the same vector, without
/// giving its allocation back and asking for a new one each time the statement
/// runs (a helper's scratch array, made at every call). Not where `value` or
/// `len` mentions `name`, which `refill` would borrow first, and only for the
/// vectors in `names` (declared and initialised before any such statement).
/// Run on generated code after the analyses that read assignments from it.
pub fn refill_vecs(tokens: &TokenStream, names: &std::collections::HashSet<String>) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut out = TokenStream::new();
    let mut statement_start = true;
    let mut at = 0;
    while at < trees.len() {
        if statement_start {
            if let Some((name, fill)) =
                vec_fill_at(&trees[at..]).filter(|(name, _)| names.contains(&name.to_string()))
            {
                out.extend(
                    quote::quote!(::autodiff_runtime::__private::refill(&mut #name, #fill);),
                );
                at += 11;
                continue;
            }
        }
        statement_start = match &trees[at] {
            TokenTree::Group(group) => {
                out.extend([regroup(group, refill_vecs(&group.stream(), names))]);
                group.delimiter() == proc_macro2::Delimiter::Brace
            }
            tree => {
                out.extend([tree.clone()]);
                matches!(tree, TokenTree::Punct(punct) if punct.as_char() == ';')
            }
        };
        at += 1;
    }
    out
}

/// The target and `value, len` of a statement `name = ::std::vec![value; len];`
/// starting `trees` (11 trees), if neither mentions `name`.
fn vec_fill_at(trees: &[TokenTree]) -> Option<(proc_macro2::Ident, TokenStream)> {
    let (TokenTree::Ident(name), TokenTree::Punct(eq)) = (trees.first()?, trees.get(1)?) else {
        return None;
    };
    if eq.as_char() != '=' || eq.spacing() != proc_macro2::Spacing::Alone {
        return None;
    }
    let path: Vec<String> = trees
        .iter()
        .skip(2)
        .take(7)
        .map(ToString::to_string)
        .collect();
    if path != [":", ":", "std", ":", ":", "vec", "!"] {
        return None;
    }
    let (Some(TokenTree::Group(args)), Some(TokenTree::Punct(semi))) =
        (trees.get(9), trees.get(10))
    else {
        return None;
    };
    if args.delimiter() != proc_macro2::Delimiter::Bracket || semi.as_char() != ';' {
        return None;
    }
    let parts: Vec<TokenTree> = args.stream().into_iter().collect();
    let split = parts
        .iter()
        .position(|tree| matches!(tree, TokenTree::Punct(p) if p.as_char() == ';'))?;
    let value: TokenStream = parts[..split].iter().cloned().collect();
    let len: TokenStream = parts[split + 1..].iter().cloned().collect();
    let name_text = name.to_string();
    if value.is_empty()
        || len.is_empty()
        || mentions(&value, &name_text)
        || mentions(&len, &name_text)
    {
        return None;
    }
    Some((name.clone(), quote::quote!(#value, #len)))
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn assigned(tokens: proc_macro2::TokenStream) -> Vec<String> {
        let mut out = std::collections::HashSet::new();
        super::assigned(&tokens, &mut out);
        let mut out: Vec<String> = out.into_iter().collect();
        out.sort();
        out
    }

    #[test]
    fn assigned_names_are_targets_borrows_and_mutated_receivers() {
        let found = assigned(quote! {
            a = b + c;
            d[i] += e[j];
            if f == g && h <= k { l -= 1; }
            m[0][1] = n.len();
            step(&mut o, &p);
            let Some(q) = r.get_mut(0..s) else { return };
            t.fill(0.0);
            u <<= 1;
            v = w != x;
            for y in z.iter() { aa = y; }
        });
        // (`q` and `y` are bindings of their own, not changes of a name in scope.)
        assert_eq!(found, ["a", "aa", "d", "l", "m", "o", "r", "t", "u", "v"]);
        // Names the code binds itself are its own: a slice from `get_mut` written
        // through, a `let` temporary, a loop index.
        let found = assigned(quote! {
            let (lo, hi): (usize, usize) = (a, b);
            let n: usize = hi - lo;
            let Some(slice) = out.get_mut(lo..hi) else { return };
            for j in 0..n { let i = lo + j; slice[j] = i as f64; s = s + x[i]; }
        });
        assert_eq!(found, ["out", "s"]);
    }

    fn exposed(tokens: proc_macro2::TokenStream) -> Vec<String> {
        let mut out = std::collections::HashSet::new();
        super::exposed(&tokens, &mut out);
        let mut out: Vec<String> = out.into_iter().collect();
        out.sort();
        out
    }

    #[test]
    fn a_name_assigned_before_it_is_read_is_not_exposed() {
        let names = exposed(quote! {
            t = x[i] * w;
            y_bar += t * g;
        });
        assert_eq!(names, ["g", "i", "w", "x", "y_bar"]);
    }

    #[test]
    fn calls_into_the_maths_library_are_recognised() {
        assert!(super::calls_library(&quote!(t = f64::sin(x[i]);)));
        assert!(super::calls_library(&quote!({
            g += ::autodiff_runtime::rules::cos_vjp(t, g);
        })));
        assert!(super::calls_library(&quote!(y = x.exp() * 2.0;)));
        assert!(!super::calls_library(
            &quote!(y = x.sqrt() * x.abs() + sin_table[i];)
        ));
    }

    #[test]
    fn a_fresh_declaration_hides_the_outer_variable() {
        // A sliced loop's fallback declares its temporaries afresh: what it
        // does with them reads nothing from before.
        let names = exposed(quote! {
            out_of_bounds(move || { let mut t; let u; for i in 0..n { t = x[i]; u = t; } });
        });
        assert!(!names.contains(&"t".to_string()), "{names:?}");
        assert!(!names.contains(&"u".to_string()), "{names:?}");
        // Only within its block.
        let names = exposed(quote! { { let mut t; t = 1.0; } y = t; });
        assert!(names.contains(&"t".to_string()), "{names:?}");
    }

    #[test]
    fn a_read_before_the_assignment_or_in_its_value_is_exposed() {
        assert!(exposed(quote! { y = t; t = 1.0; }).contains(&"t".to_string()));
        assert!(exposed(quote! { t = t + 1.0; }).contains(&"t".to_string()));
        // `t == 1` and `t += 1` are not assignments that hide `t`.
        assert!(exposed(quote! { t == 1.0; y = t; }).contains(&"t".to_string()));
        assert!(exposed(quote! { t += 1.0; y = t; }).contains(&"t".to_string()));
    }

    #[test]
    fn assignments_in_nested_blocks_count_only_inside_them() {
        // Recomputed at the top of every iteration: not read from before.
        let names = exposed(quote! {
            for i in (lo..hi).rev() { t = x[i]; { let g: f64 = t; } }
        });
        assert!(!names.contains(&"t".to_string()), "{names:?}");
        // Assigned in one branch only: read from before on the other path.
        let names = exposed(quote! {
            if c { t = 1.0; } y = t;
        });
        assert!(names.contains(&"t".to_string()), "{names:?}");
        // After a block, the next statement starts a statement.
        let names = exposed(quote! {
            { a = 1.0; } t = 2.0; y = t;
        });
        assert!(!names.contains(&"t".to_string()), "{names:?}");
        // Read in the iteration before the assignment: the first iteration reads
        // the value from before the loop.
        let names = exposed(quote! {
            for i in 0..n { y += t; t = x[i]; }
        });
        assert!(names.contains(&"t".to_string()), "{names:?}");
    }

    #[test]
    fn fits_of_one_adjoint_are_removed_at_any_depth() {
        let tokens = quote! {
            v = ::std::vec![0.0; n];
            ::autodiff_runtime::__private::fit_zeros(&mut v_bar, v.len());
            for i in 0..n {
                ::autodiff_runtime::__private::fit_zeros(&mut v_bar, v.len());
                ::autodiff_runtime::__private::fit_zeros(&mut w_bar, w.len());
            }
        };
        let stripped = super::without_fits(&tokens, "v_bar");
        assert!(!super::mentions(&stripped, "v_bar"), "{stripped}");
        assert!(super::mentions(&stripped, "w_bar"), "{stripped}");
        assert!(super::mentions(&stripped, "v"), "{stripped}");
    }

    #[test]
    fn vector_fills_reuse_the_vectors_allocation() {
        let tokens = quote! {
            w = ::std::vec![0.0; n];
            for i in 0..n { g = ::std::vec![x[i]; 2 * n]; }
            u = ::std::vec![a, b];
            v = ::std::vec![v[0]; 3];
            y = t + ::std::vec![0.0; 1].len() as f64;
        };
        let names = ["w", "g", "u", "v", "y"].map(String::from).into();
        let rewritten = super::refill_vecs(&tokens, &names).to_string();
        let only_w = ["w"].map(String::from).into();
        let rewritten_w = super::refill_vecs(&tokens, &only_w).to_string();
        assert!(rewritten_w.contains("g = :: std :: vec !"), "{rewritten_w}");
        let expected = quote! {
            ::autodiff_runtime::__private::refill(&mut w, 0.0, n);
            for i in 0..n { ::autodiff_runtime::__private::refill(&mut g, x[i], 2 * n); }
            u = ::std::vec![a, b];
            v = ::std::vec![v[0]; 3];
            y = t + ::std::vec![0.0; 1].len() as f64;
        };
        assert_eq!(rewritten, expected.to_string());
    }

    #[test]
    fn let_bindings_and_index_stores_are_not_assignments_of_the_name() {
        let names = exposed(quote! { let t: f64 = 1.0; x[i] = 2.0; y = x[i] + t; });
        assert!(names.contains(&"x".to_string()), "{names:?}");
    }
}
