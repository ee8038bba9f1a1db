//! Innermost loops run over slices (the macro's `transform::slices`): offsets,
//! counters stepped by one (forward and reverse), written arrays, empty and
//! reversed-bound ranges, and loops whose accesses go out of bounds, which must
//! panic as the user's function does. Gradients are checked against dual numbers.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use common::*;

/// `q = L x` for packed strictly lower-triangular factors read through a counter,
/// summed over points, as in GMM's `Q (x − μ)`: the counter is undone in the
/// reverse sweep, and both triangular loops run over slices.
#[differentiate]
fn packed_lower(l: &[f64], x: &[f64], d: usize, m: usize) -> f64 {
    let points = x.len() / d;
    let mut q = vec![0.0; d];
    let mut total = 0.0;
    for p in 0..points {
        let mut s = 0.0;
        for k in 0..2 {
            for j in 0..d {
                q[j] = x[p * d + j] * (k as f64 + 1.0);
            }
            let mut at = k * m;
            for a in 0..d {
                for b in a + 1..d {
                    q[b] += l[at] * x[p * d + a];
                    at += 1;
                }
            }
            for j in 0..d {
                s += q[j] * q[j];
            }
        }
        total += s.ln();
    }
    total
}

fn packed_lower_o(l: &[Dual64], x: &[f64], d: usize, m: usize) -> Dual64 {
    let points = x.len() / d;
    let mut q = vec![c(0.0); d];
    let mut total = c(0.0);
    for p in 0..points {
        let mut s = c(0.0);
        for k in 0..2 {
            for j in 0..d {
                q[j] = c(x[p * d + j] * (k as f64 + 1.0));
            }
            let mut at = k * m;
            for a in 0..d {
                for b in a + 1..d {
                    q[b] += l[at] * x[p * d + a];
                    at += 1;
                }
            }
            for j in 0..d {
                s += q[j] * q[j];
            }
        }
        total += s.ln();
    }
    total
}

#[test]
fn counter_stepped_loops() {
    for d in [1_usize, 2, 5, 9] {
        let m = d * (d - 1) / 2;
        let x: Vec<f64> = (0..3 * d).map(|i| 0.3 + 0.1 * i as f64).collect();
        let l: Vec<f64> = (0..2 * m).map(|i| (i as f64 * 0.7).sin()).collect();
        let (v, (gl, gx)) = packed_lower_grad(&l, &x, d, m);
        assert_bits(v, packed_lower(&l, &x, d, m));
        assert_close_slice(&gl, &dual_grad(|p| packed_lower_o(p, &x, d, m), &l));
        assert_eq!(gx.len(), x.len());
    }
}

/// A window read at an offset, and an array written in place.
#[differentiate]
fn smooth(x: &[f64], w: f64, from: usize) -> f64 {
    let n = x.len();
    let mut y = vec![0.0; n];
    for i in from..n - 1 {
        y[i] = x[i] * w + x[i + 1] * (1.0 - w);
    }
    for i in from..n {
        y[i] = y[i] * y[i] + x[i].sin();
    }
    let mut s = 0.0;
    for i in 0..n {
        s += y[i];
    }
    s
}

fn smooth_o(x: &[Dual64], w: Dual64, from: usize) -> Dual64 {
    let n = x.len();
    let mut y = vec![c(0.0); n];
    for i in from..n - 1 {
        y[i] = x[i] * w + x[i + 1] * (-w + 1.0);
    }
    for i in from..n {
        y[i] = y[i] * y[i] + x[i].sin();
    }
    let mut s = c(0.0);
    for i in 0..n {
        s += y[i];
    }
    s
}

#[test]
fn offsets_and_in_place_writes() {
    let x = [0.2, -0.4, 1.1, 0.7, -1.3, 0.5];
    // `from` past the end: empty ranges (and `from..n - 1` with from > n - 1).
    for from in [0, 2, 5, 6, 9] {
        let (v, (gx, gw)) = smooth_grad(&x, 0.3, from);
        assert_bits(v, smooth(&x, 0.3, from));
        let mut all = x.to_vec();
        all.push(0.3);
        let expected = dual_grad(|p| smooth_o(&p[..6], p[6], from), &all);
        assert_close_slice(&gx, &expected[..6]);
        assert_close(gw, expected[6]);
    }
}

/// Reads one past the end on the last iteration: the user's function panics there,
/// and so must the gradient (the sliced loop's bounds check fails, and the original
/// loop runs).
#[differentiate]
fn overrun(x: &[f64], n: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        s += x[i + 1] * x[i];
    }
    s
}

#[test]
fn out_of_bounds_panics_as_the_function_does() {
    let x = [1.0, 2.0, 3.0];
    let primal = std::panic::catch_unwind(|| overrun(&x, 3)).expect_err("primal panics");
    let grad = std::panic::catch_unwind(|| overrun_grad(&x, 3)).expect_err("gradient panics");
    let message = |e: &Box<dyn std::any::Any + Send>| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    };
    assert_eq!(message(&primal), message(&grad));
    assert!(message(&grad).contains("index out of bounds"));
    // In bounds, the same function differentiates.
    let (v, g) = overrun_grad(&x, 2);
    assert_bits(v, overrun(&x, 2));
    assert_close_slice(&g, &[2.0, 1.0 + 3.0, 2.0]);
}

/// A loop whose access is behind a branch: the slice's check fails for `n` past the
/// end, but the user's loop does not panic, so the generated one must not either
/// (it runs the original loop inline; a loop whose accesses all run on every
/// iteration runs it out of line, where it is sure to panic).
#[differentiate]
fn clipped(x: &[f64], n: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        if i < x.len() {
            s += x[i] * x[i];
        }
    }
    s
}

#[test]
fn failed_checks_with_conditional_accesses_do_not_panic() {
    let x = [1.0, -2.0, 3.0];
    for n in [0, 2, 3, 5] {
        let (v, g) = clipped_grad(&x, n);
        assert_bits(v, clipped(&x, n));
        let expected: Vec<f64> = (0..3)
            .map(|i| if i < n { 2.0 * x[i] } else { 0.0 })
            .collect();
        assert_close_slice(&g, &expected);
    }
}

/// Writes a `&mut` buffer before the element that is out of bounds: a panicking
/// `f_vjp` leaves the buffer as `f` leaves it (the out-of-line copy of the loop
/// writes through the same reference).
#[differentiate]
fn scale_into(x: &[f64], y: &mut [f64], n: usize) {
    for i in 0..n {
        y[i] = 2.0 * x[i];
    }
}

#[test]
fn a_panicking_loop_leaves_buffers_as_the_function_does() {
    let x = [1.0, 2.0, 3.0, 4.0];
    let mut primal_y = [0.0; 3];
    let primal = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scale_into(&x, &mut primal_y, 4)
    }));
    let mut y = [0.0; 3];
    let mut y_bar = [1.0; 3];
    let vjp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scale_into_vjp(&x, &mut y, &mut y_bar, 4)
    }));
    assert!(primal.is_err() && vjp.is_err());
    assert_eq!(primal_y, [2.0, 4.0, 6.0]);
    assert_eq!(y, primal_y);
}

/// An offset that would panic (`k / m` with `m == 0`) where the branch around its
/// access never runs, and an empty range: the sliced loop's checks must not
/// evaluate what the user's loop does not.
#[differentiate]
fn guarded_offset(x: &[f64], k: usize, m: usize, n: usize, tail: usize, go: bool) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        if go {
            s += x[k / m + i] * x[i];
        }
        s = s * 0.5 + x[i];
    }
    for i in 0..tail {
        s += x[k / m + i];
    }
    s
}

#[test]
fn offsets_are_not_evaluated_where_the_loop_would_not() {
    let x = [0.5, 1.5, -0.25, 2.0];
    // `k / m` panics for m == 0: neither loop may evaluate it when the branch is
    // not taken and the range is empty.
    let (v, g) = guarded_offset_grad(&x, 1, 0, 3, 0, false);
    assert_bits(v, guarded_offset(&x, 1, 0, 3, 0, false));
    let expected = dual_grad(
        |p| {
            let mut s = c(0.0);
            for i in 0..3 {
                s = s * 0.5 + p[i];
            }
            s
        },
        &x,
    );
    assert_close_slice(&g, &expected);
    // With the offset defined, both loops differentiate.
    let (v, g) = guarded_offset_grad(&x, 2, 2, 3, 3, true);
    assert_bits(v, guarded_offset(&x, 2, 2, 3, 3, true));
    let expected = dual_grad(
        |p| {
            let mut s = c(0.0);
            for i in 0..3 {
                s += p[1 + i] * p[i];
                s = s * 0.5 + p[i];
            }
            for i in 0..3 {
                s += p[1 + i];
            }
            s
        },
        &x,
    );
    assert_close_slice(&g, &expected);
}

/// A stencil reading below the index (`u[i - 1]`), as the heat equation does.
#[differentiate]
fn stencil(u: &[f64], r: f64, from: usize) -> f64 {
    let m = u.len();
    let mut next = u.to_vec();
    for i in from..m - 1 {
        next[i] = u[i] + r * (u[i - 1] - 2.0 * u[i] + u[i + 1]) + u[i].sin();
    }
    let mut s = 0.0;
    for i in 0..m {
        s += next[i] * next[i];
    }
    s
}

fn stencil_o(u: &[Dual64], r: Dual64, from: usize) -> Dual64 {
    let m = u.len();
    let mut next = u.to_vec();
    for i in from..m - 1 {
        next[i] = u[i] + r * (u[i - 1] - u[i] * 2.0 + u[i + 1]) + u[i].sin();
    }
    let mut s = c(0.0);
    for i in 0..m {
        s += next[i] * next[i];
    }
    s
}

#[test]
fn offsets_below_the_index() {
    let u = [0.3, -0.2, 0.9, 1.4, -0.6, 0.1];
    for from in [1, 2, 4, 5] {
        let (v, (gu, gr)) = stencil_grad(&u, 0.25, from);
        assert_bits(v, stencil(&u, 0.25, from));
        let mut all = u.to_vec();
        all.push(0.25);
        let expected = dual_grad(|p| stencil_o(&p[..6], p[6], from), &all);
        assert_close_slice(&gu, &expected[..6]);
        assert_close(gr, expected[6]);
    }
    // From 0, `u[i - 1]` underflows in the user's loop: the gradient panics too.
    let primal = std::panic::catch_unwind(|| stencil(&u, 0.25, 0));
    let grad = std::panic::catch_unwind(|| stencil_grad(&u, 0.25, 0));
    assert!(primal.is_err() && grad.is_err());
}
