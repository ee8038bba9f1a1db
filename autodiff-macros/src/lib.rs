//! `#[differentiate]`: source-to-source reverse-mode automatic differentiation.
//!
//! This crate holds only the attribute; users depend on `autodiff-runtime`, which
//! re-exports it. The pipeline is in `expand.rs`.

mod analysis;
mod args;
mod codegen;
mod diag;
mod expand;
mod ir;
mod lower;
mod rules;
mod sig;
#[cfg(test)]
mod tests;
mod transform;

/// Generates `<name>_grad` and `<name>_vjp` beside the annotated function.
///
/// See the `autodiff_runtime` crate documentation for the full contract.
#[proc_macro_attribute]
pub fn differentiate(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::differentiate(attr.into(), item.into()).into()
}
