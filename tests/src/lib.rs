//! Integration tests of `#[differentiate]` live in `tests/`.
//!
//! This library holds differentiated functions that the tests call across crates.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

use autodiff_runtime::differentiate;

/// A scalar polynomial-ish function: `x³ - 2x + sin x`.
#[differentiate]
pub fn poly(x: f64) -> f64 {
    x * x * x - 2.0 * x + x.sin()
}

/// Dot product of two slices of the same length.
#[differentiate]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += a[i] * b[i];
    }
    s
}

/// Sum of squares.
#[differentiate]
pub fn sum_squares(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i];
    }
    s
}

/// Euclidean norm, calling [`sum_squares`].
#[differentiate]
pub fn norm(x: &[f64]) -> f64 {
    // The same slice twice: two adjoint slots for one buffer.
    dot(x, x).sqrt()
}

/// `y += a·x` in place.
#[differentiate]
pub fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for i in 0..y.len() {
        y[i] += a * x[i];
    }
}

/// Softplus, branching for stability.
#[differentiate]
pub fn softplus(x: f64) -> f64 {
    if x > 20.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// A passive helper: wraps an index around a length.
pub fn wrap(i: usize, n: usize) -> usize {
    i % n
}
