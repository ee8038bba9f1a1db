//! Joint calls whose result goes straight into the sum of a preaccumulated loop
//! (`acc += lse(&w)`, `acc = dot(&w, &w) + acc`, `acc -= lse(&w, t)`) run their
//! reverse sweep where they run, with the sum's adjoint as their seed, instead of
//! running again in the iteration's reverse: the callee runs once per iteration.
//! The gradients must not change, whether the sum's adjoint is known while the
//! loop runs (`±seed`) or only after it (contributions scaled later), with active
//! and constant scalar arguments, the same array passed twice, a window of an
//! input passed for a scratch copy, a call whose arguments a later statement
//! overwrites (which is not fused), and in `f32`.
//! Checked against dual numbers, values bit for bit.
#![allow(clippy::needless_range_loop, clippy::assign_op_pattern)]

mod common;

use approx::assert_relative_eq;
use autodiff_runtime::differentiate;
use common::*;

fn check(grad: &[f64], oracle: &[f64]) {
    assert_eq!(grad.len(), oracle.len());
    for (g, o) in grad.iter().zip(oracle) {
        assert_relative_eq!(*g, *o, max_relative = 1e-11, epsilon = 1e-14);
    }
}

/// A tempered log-sum-exp, `ln Σ exp(t (v_i - max v)) / t + max v`.
#[differentiate]
fn soft_max(v: &[f64], t: f64) -> f64 {
    let mut mx = v[0];
    for i in 1..v.len() {
        mx = mx.max(v[i]);
    }
    let mut s = 0.0;
    for i in 0..v.len() {
        s += ((v[i] - mx) * t).exp();
    }
    s.ln() / t + mx
}

#[differentiate]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += a[i] * b[i];
    }
    s
}

fn soft_max_o(v: &[Dual64], t: Dual64) -> Dual64 {
    let mx = v.iter().fold(v[0], |m, a| if a.re > m.re { *a } else { m });
    let s: Dual64 = v.iter().map(|a| ((*a - mx) * t).exp()).sum();
    s.ln() / t + mx
}

fn dot_o(a: &[Dual64], b: &[Dual64]) -> Dual64 {
    a.iter().zip(b).map(|(x, y)| *x * *y).sum()
}

/// Three fused shapes in one loop; the sum's adjoint is known only after the
/// loop (`acc.sin() * acc`), so the contributions go through buffers.
#[differentiate]
fn fused_sums(x: &[f64], a: f64) -> f64 {
    let n = x.len() / 3;
    let mut w = vec![0.0; 3];
    let mut acc = 0.0;
    for i in 0..n {
        for j in 0..3 {
            w[j] = x[i * 3 + j] * a + (j as f64) * 0.1;
        }
        acc += soft_max(&w, a);
        acc = dot(&w, &w) + acc;
        acc -= soft_max(&w, 0.5);
    }
    acc.sin() * acc
}

fn fused_sums_o(p: &[Dual64]) -> Dual64 {
    let (x, a) = (&p[..p.len() - 1], p[p.len() - 1]);
    let mut acc = c(0.0);
    for i in 0..x.len() / 3 {
        let w: Vec<Dual64> = (0..3)
            .map(|j| x[i * 3 + j] * a + (j as f64) * 0.1)
            .collect();
        acc += soft_max_o(&w, a);
        acc += dot_o(&w, &w);
        acc -= soft_max_o(&w, c(0.5));
    }
    acc.sin() * acc
}

/// The same sum reaching the result through `-` only: its adjoint is `-seed`
/// while the loop runs, so a fused call subtracted from it gets `seed`.
#[differentiate]
fn fused_seeded(x: &[f64], a: f64) -> f64 {
    let n = x.len() / 3;
    let mut w = vec![0.0; 3];
    let mut acc = 0.0;
    for i in 0..n {
        for j in 0..3 {
            w[j] = x[i * 3 + j] * a + (j as f64) * 0.1;
        }
        acc -= soft_max(&w, a);
        acc += dot(&w, &w);
    }
    2.0 - acc
}

fn fused_seeded_o(p: &[Dual64]) -> Dual64 {
    let (x, a) = (&p[..p.len() - 1], p[p.len() - 1]);
    let mut acc = c(0.0);
    for i in 0..x.len() / 3 {
        let w: Vec<Dual64> = (0..3)
            .map(|j| x[i * 3 + j] * a + (j as f64) * 0.1)
            .collect();
        acc -= soft_max_o(&w, a);
        acc += dot_o(&w, &w);
    }
    c(2.0) - acc
}

/// `w[0]` is written after the first call: that call's reverse must see `w` as
/// the call did, so it is not fused (the second one is).
#[differentiate]
fn overwritten_after(x: &[f64], a: f64) -> f64 {
    let n = x.len() / 3;
    let mut w = vec![0.0; 3];
    let mut acc = 0.0;
    for i in 0..n {
        for j in 0..3 {
            w[j] = x[i * 3 + j] * a;
        }
        acc += soft_max(&w, a);
        w[0] = w[1] * w[2];
        acc += soft_max(&w, 2.0);
    }
    acc * acc
}

fn overwritten_after_o(p: &[Dual64]) -> Dual64 {
    let (x, a) = (&p[..p.len() - 1], p[p.len() - 1]);
    let mut acc = c(0.0);
    for i in 0..x.len() / 3 {
        let mut w: Vec<Dual64> = (0..3).map(|j| x[i * 3 + j] * a).collect();
        acc += soft_max_o(&w, a);
        w[0] = w[1] * w[2];
        acc += soft_max_o(&w, c(2.0));
    }
    acc * acc
}

/// A fused call handed a scratch copy of a window of `x` (`analysis::windows`):
/// the call gets the window itself and its adjoint (`x`'s, through the loop's
/// buffer) where it runs.
#[differentiate]
fn fused_window(x: &[f64], a: f64) -> f64 {
    let mut w = vec![0.0; 3];
    let mut acc = 0.0;
    for i in 0..x.len() / 3 {
        for j in 0..3 {
            w[j] = x[i * 3 + j];
        }
        acc += soft_max(&w, a);
    }
    acc * acc
}

fn fused_window_o(p: &[Dual64]) -> Dual64 {
    let (x, a) = (&p[..p.len() - 1], p[p.len() - 1]);
    let mut acc = c(0.0);
    for i in 0..x.len() / 3 {
        acc += soft_max_o(&x[i * 3..i * 3 + 3], a);
    }
    acc * acc
}

#[test]
fn fused_calls_taking_a_window() {
    check_vjp(
        fused_window,
        |x, a, _| fused_window_grad(x, a),
        fused_window_o,
        1.0,
    );
    check_vjp(fused_window, fused_window_vjp, fused_window_o, 0.5);
}

/// `f32` throughout: the fused call's seed is the core's own float type.
#[differentiate]
fn soft_max32(v: &[f32]) -> f32 {
    let mut mx = v[0];
    for i in 1..v.len() {
        mx = mx.max(v[i]);
    }
    let mut s = 0.0;
    for i in 0..v.len() {
        s += (v[i] - mx).exp();
    }
    s.ln() + mx
}

#[differentiate]
fn fused32(x: &[f32]) -> f32 {
    let mut w = vec![0.0; 2];
    let mut acc = 0.0;
    for i in 0..x.len() / 2 {
        for j in 0..2 {
            w[j] = x[i * 2 + j] * 1.5;
        }
        acc += soft_max32(&w);
    }
    acc * acc
}

fn fused32_o(x: &[Dual32]) -> Dual32 {
    let mut acc = Dual32::from_re(0.0);
    for i in 0..x.len() / 2 {
        let (u, v) = (x[i * 2] * 1.5, x[i * 2 + 1] * 1.5);
        let mx = if v.re > u.re { v } else { u };
        acc += ((u - mx).exp() + (v - mx).exp()).ln() + mx;
    }
    acc * acc
}

#[test]
fn fused_calls_in_f32() {
    let x: Vec<f32> = (0..8).map(|i| ((i as f32) * 0.7).cos()).collect();
    let (value, grad) = fused32_grad(&x);
    assert_bits32(value, fused32(&x));
    for (g, o) in grad.iter().zip(dual_grad32(fused32_o, &x)) {
        assert_relative_eq!(*g, o, max_relative = 1e-5, epsilon = 1e-6);
    }
}

/// `f(x, a)`'s value and its vector-Jacobian product with `seed` (one for the
/// gradient), against `f` bit for bit and against the dual-number gradient of
/// `oracle` (over `x` then `a`), scaled by `seed`.
fn check_vjp(
    f: fn(&[f64], f64) -> f64,
    vjp: impl Fn(&[f64], f64, f64) -> (f64, (Vec<f64>, f64)),
    oracle: fn(&[Dual64]) -> Dual64,
    seed: f64,
) {
    let x: Vec<f64> = (0..15).map(|i| ((i as f64) * 0.9).sin()).collect();
    let a = 0.8;
    let (value, (gx, ga)) = vjp(&x, a, seed);
    assert_bits(value, f(&x, a));
    let mut point = x.clone();
    point.push(a);
    let expected: Vec<f64> = dual_grad(oracle, &point).iter().map(|g| seed * g).collect();
    check(&gx, &expected[..x.len()]);
    check(&[ga], &expected[x.len()..]);
}

#[test]
fn fused_calls_with_the_sum_adjoint_known_after_the_loop() {
    check_vjp(
        fused_sums,
        |x, a, _| fused_sums_grad(x, a),
        fused_sums_o,
        1.0,
    );
    check_vjp(fused_sums, fused_sums_vjp, fused_sums_o, -0.75);
}

#[test]
fn fused_calls_with_the_seed_as_the_sum_adjoint() {
    check_vjp(
        fused_seeded,
        |x, a, _| fused_seeded_grad(x, a),
        fused_seeded_o,
        1.0,
    );
    check_vjp(fused_seeded, fused_seeded_vjp, fused_seeded_o, 2.5);
}

#[test]
fn calls_whose_arguments_are_overwritten_later_are_not_fused() {
    check_vjp(
        overwritten_after,
        |x, a, _| overwritten_after_grad(x, a),
        overwritten_after_o,
        1.0,
    );
}
