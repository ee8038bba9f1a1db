//! Shared oracles and assertions for the integration tests.
#![allow(dead_code)]

pub use num_dual::{Dual32, Dual64, DualNum};

/// Gradient of `f` at `x` by forward-mode dual numbers (one pass per coordinate):
/// an oracle independent of the macro.
pub fn dual_grad(f: impl Fn(&[Dual64]) -> Dual64, x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let args: Vec<Dual64> = x
                .iter()
                .enumerate()
                .map(|(j, &v)| Dual64::new(v, if i == j { 1.0 } else { 0.0 }))
                .collect();
            f(&args).eps
        })
        .collect()
}

/// `seedᵀ·J` of a vector function by forward-mode dual numbers.
pub fn dual_vjp(f: impl Fn(&[Dual64]) -> Vec<Dual64>, x: &[f64], seed: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let args: Vec<Dual64> = x
                .iter()
                .enumerate()
                .map(|(j, &v)| Dual64::new(v, if i == j { 1.0 } else { 0.0 }))
                .collect();
            let out = f(&args);
            assert_eq!(out.len(), seed.len(), "seed length");
            out.iter().zip(seed).map(|(o, s)| o.eps * s).sum()
        })
        .collect()
}

/// Same as [`dual_grad`] in `f32`.
pub fn dual_grad32(f: impl Fn(&[Dual32]) -> Dual32, x: &[f32]) -> Vec<f32> {
    (0..x.len())
        .map(|i| {
            let args: Vec<Dual32> = x
                .iter()
                .enumerate()
                .map(|(j, &v)| Dual32::new(v, if i == j { 1.0 } else { 0.0 }))
                .collect();
            f(&args).eps
        })
        .collect()
}

/// A constant (passive) dual number.
pub fn c(v: f64) -> Dual64 {
    Dual64::from_re(v)
}

/// Asserts that `a` and `b` are the same `f64`, bit for bit.
#[track_caller]
pub fn assert_bits(a: f64, b: f64) {
    assert_eq!(
        a.to_bits(),
        b.to_bits(),
        "not bit-identical: {a:e} vs {b:e}"
    );
}

/// Bit-identity of two slices.
#[track_caller]
pub fn assert_bits_slice(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "lengths differ: {a:?} vs {b:?}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(
            x.to_bits(),
            y.to_bits(),
            "entry {i} not bit-identical: {x:e} vs {y:e} ({a:?} vs {b:?})"
        );
    }
}

/// Bit-identity of two `f32`s.
#[track_caller]
pub fn assert_bits32(a: f32, b: f32) {
    assert_eq!(
        a.to_bits(),
        b.to_bits(),
        "not bit-identical: {a:e} vs {b:e}"
    );
}

/// `|a - b| <= 1e-10 + 1e-10·max(|a|, |b|)` entry by entry (for comparisons with the
/// dual-number oracle, which should agree to rounding).
#[track_caller]
pub fn assert_close_slice(a: &[f64], b: &[f64]) {
    assert_close_slice_tol(a, b, 1e-10);
}

/// [`assert_close_slice`] with a given relative (and absolute) tolerance.
#[track_caller]
pub fn assert_close_slice_tol(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "lengths differ: {a:?} vs {b:?}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let ok = (x.is_nan() && y.is_nan())
            || x == y
            || (x - y).abs() <= tol + tol * x.abs().max(y.abs());
        assert!(
            ok,
            "entry {i}: {x:e} vs {y:e}\n  got      {a:?}\n  expected {b:?}"
        );
    }
}

/// Scalar version of [`assert_close_slice`].
#[track_caller]
pub fn assert_close(a: f64, b: f64) {
    assert_close_slice(&[a], &[b]);
}
