// Attribute arguments: unknown, duplicated, malformed and not-yet-implemented
// options, and `wrt` lists naming the wrong parameters.
use autodiff_runtime::differentiate;

#[differentiate(foo)]
fn unknown_option(x: f64) -> f64 {
    x * x
}

#[differentiate(reverse, reverse)]
fn duplicate_option(x: f64) -> f64 {
    x * x
}

#[differentiate(wrt(x), wrt(y))]
fn duplicate_wrt(x: f64, y: f64) -> f64 {
    x * y
}

#[differentiate(wrt(z))]
fn wrt_unknown(x: f64, y: f64) -> f64 {
    x * y
}

#[differentiate(wrt(n))]
fn wrt_integer(x: f64, n: usize) -> f64 {
    x * n as f64
}

#[differentiate(wrt(x, x))]
fn wrt_repeated(x: f64, y: f64) -> f64 {
    x * y
}

#[differentiate(wrt())]
fn wrt_empty(x: f64) -> f64 {
    x * x
}

#[differentiate(wrt = x)]
fn wrt_name_value(x: f64) -> f64 {
    x * x
}

#[differentiate(wrt(1))]
fn wrt_literal(x: f64) -> f64 {
    x * x
}

#[differentiate(jacobian)]
fn jacobian(x: &[f64]) -> Vec<f64> {
    x.to_vec()
}

#[differentiate("reverse")]
fn string_option(x: f64) -> f64 {
    x * x
}

fn main() {}
