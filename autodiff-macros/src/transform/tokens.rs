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

#[cfg(test)]
mod tests {
    use quote::quote;

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
    fn let_bindings_and_index_stores_are_not_assignments_of_the_name() {
        let names = exposed(quote! { let t: f64 = 1.0; x[i] = 2.0; y = x[i] + t; });
        assert!(names.contains(&"x".to_string()), "{names:?}");
    }
}
