// Tuples, field access, slicing with a range, `break` with a value.
use autodiff_runtime::differentiate;

#[differentiate]
fn tuple_field(x: f64) -> f64 {
    let t = (x, 2.0 * x);
    t.0 + t.1
}

#[differentiate]
fn slice_range(x: &[f64]) -> f64 {
    let tail = &x[1..];
    tail[0] * x[0]
}

#[differentiate]
fn break_value(x: f64) -> f64 {
    loop {
        if x > 0.0 {
            break x * 2.0;
        }
    }
}

fn main() {}
