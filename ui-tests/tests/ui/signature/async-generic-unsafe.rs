// Function qualifiers and generics: `async fn`, `unsafe fn`, type parameters.
use autodiff_runtime::differentiate;

#[differentiate]
async fn async_fn(x: f64) -> f64 {
    x * x
}

#[differentiate]
unsafe fn unsafe_fn(x: f64) -> f64 {
    x * x
}

#[differentiate]
fn generic<T: Into<f64>>(x: f64, t: T) -> f64 {
    x * t.into()
}

#[differentiate]
fn generic_lifetime<'a>(x: &'a [f64]) -> f64 {
    x[0] * x[0]
}

fn main() {}
