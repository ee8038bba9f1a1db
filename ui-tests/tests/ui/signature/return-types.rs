// Return types: integers, tuples, references; mixed float types; nothing to
// differentiate.
use autodiff_runtime::differentiate;

#[differentiate]
fn returns_usize(x: f64) -> usize {
    x as usize
}

#[differentiate]
fn returns_tuple(x: f64) -> (f64, f64) {
    (x, x * x)
}

#[differentiate]
fn returns_bool(x: f64) -> bool {
    x > 0.0
}

#[differentiate]
fn mixed_floats(x: f64, y: f32) -> f64 {
    x * y as f64
}

#[differentiate]
fn no_floats(n: usize, flag: bool) -> usize {
    if flag {
        n
    } else {
        0
    }
}

#[differentiate]
fn no_floats_no_return(n: usize, v: &mut [usize]) {
    v[0] = n;
}

fn main() {}
