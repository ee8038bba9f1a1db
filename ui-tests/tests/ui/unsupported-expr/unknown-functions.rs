// Methods and `f64::` functions without a derivative rule.
use autodiff_runtime::differentiate;

#[differentiate]
fn unknown_method(x: f64) -> f64 {
    x.fract() * 2.0
}

#[differentiate]
fn unknown_float_function(x: f64) -> f64 {
    f64::rem_euclid(x, 2.0) + x
}

#[differentiate]
fn unknown_method_with_args(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

fn main() {}
