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

#[differentiate]
fn swaps_buffers(x: &[f64], steps: usize) -> f64 {
    let mut u = x.to_vec();
    let mut next = vec![0.0; x.len()];
    for _ in 0..steps {
        for i in 0..u.len() {
            next[i] = 0.5 * u[i];
        }
        std::mem::swap(&mut u, &mut next);
    }
    u[0]
}

#[differentiate]
fn calls_std_function(x: f64) -> f64 {
    core::convert::identity(x) * 2.0
}

fn main() {}
