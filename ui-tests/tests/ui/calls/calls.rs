// Call arguments that are neither names nor scalars, and iterator adaptors.
use autodiff_runtime::differentiate;

#[differentiate]
fn inner(x: &[f64], k: f64) -> f64 {
    x[0] * k
}

#[differentiate]
fn calls_with_slice_expression(x: &[f64]) -> f64 {
    inner(&x[1..], 2.0)
}

#[differentiate]
fn calls_with_vec_literal(x: f64) -> f64 {
    inner(&vec![x, x], 2.0)
}

#[differentiate]
fn calls_with_method_result(x: &[f64]) -> f64 {
    inner(x.as_ref(), 2.0)
}

#[differentiate]
fn calls_generated_function(x: &[f64]) -> f64 {
    let v = inner_grad(x, 2.0);
    v.0
}

#[differentiate]
fn calls_std(x: &[f64]) -> f64 {
    let s: f64 = x.iter().sum();
    s * 2.0
}

fn main() {}
