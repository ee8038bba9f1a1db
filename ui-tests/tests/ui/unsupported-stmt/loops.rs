// Loops: iterating over an iterator or a slice, a `mut` loop variable, a pattern
// as the loop variable.
use autodiff_runtime::differentiate;

#[differentiate]
fn iterator_loop(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in x.iter() {
        s += v * v;
    }
    s
}

#[differentiate]
fn slice_loop(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in x {
        s += *v;
    }
    s
}

#[differentiate]
fn mut_loop_var(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for mut i in 0..x.len() {
        i = i / 2;
        s += x[i];
    }
    s
}

#[differentiate]
fn tuple_loop_var(x: &[f64], n: usize) -> f64 {
    let mut s = 0.0;
    for (i, j) in (0..n).zip(0..n) {
        s += x[i] * x[j];
    }
    s
}

fn main() {}
