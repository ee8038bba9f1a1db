//! Unique names for hoisted variables: user names are kept where they are unique
//! (so the generated code reads like the user's), shadowed ones get a suffix, and
//! nothing generated can collide with an identifier the user wrote.

use std::collections::HashSet;

use syn::visit::Visit;

pub struct Names {
    taken: HashSet<String>,
    /// User names already given to a binding.
    bound: HashSet<String>,
    /// The next suffix to try per base name, so that `fresh` is O(1) amortized.
    next_suffix: std::collections::HashMap<String, usize>,
}

struct Collect<'a>(&'a mut HashSet<String>);

impl<'ast> Visit<'ast> for Collect<'_> {
    fn visit_ident(&mut self, ident: &'ast proc_macro2::Ident) {
        self.0.insert(ident.to_string());
    }
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Identifiers inside macro arguments count too (e.g. `vec![x; n]`).
        for token in mac.tokens.clone() {
            collect_tokens(token, self.0);
        }
        syn::visit::visit_macro(self, mac);
    }
}

fn collect_tokens(token: proc_macro2::TokenTree, taken: &mut HashSet<String>) {
    match token {
        proc_macro2::TokenTree::Ident(ident) => {
            taken.insert(ident.to_string());
        }
        proc_macro2::TokenTree::Group(group) => {
            for inner in group.stream() {
                collect_tokens(inner, taken);
            }
        }
        _ => {}
    }
}

impl Names {
    pub fn new(func: &syn::ItemFn) -> Self {
        let mut taken = HashSet::new();
        Collect(&mut taken).visit_item_fn(func);
        Names {
            taken,
            bound: HashSet::new(),
            next_suffix: std::collections::HashMap::new(),
        }
    }

    /// Reserves and returns a name based on `base` that no user identifier and no
    /// earlier generated name uses. The first binding of a user name keeps it.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut candidate = base.to_string();
        let counter = self.next_suffix.entry(base.to_string()).or_insert(1);
        while self.taken.contains(&candidate) {
            candidate = format!("{base}_{counter}");
            *counter += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }

    /// A name for the first `let` of a user variable: the user's own name when
    /// that name is not yet used by a generated variable or another binding.
    pub fn for_user(&mut self, base: &str) -> String {
        if self.bound.insert(base.to_string()) {
            self.taken.insert(base.to_string());
            return base.to_string();
        }
        self.fresh(base)
    }
}
