//! Joint calls whose caller discards the value (`f::__adjoint`): the callee's
//! forward sweep skips the loops that compute only the value (`s += d * d`,
//! whose reverse replays `d`), and keeps those whose results its reverse sweep
//! reads, directly or through later statements, and loops differentiated as
//! they run, which add into the parameters' adjoints. Each callee is checked
//! through a caller against dual numbers.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use common::*;

/// The value-only loop is skipped (`n`'s type is inferred: the skipped loop
/// stays for the compiler as `if false`).
#[differentiate]
fn distance(x: &[f64], target: &[f64], offset: usize) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        let d = x[i] - target[offset + i];
        s += d * d;
    }
    s
}

/// `sqrt` reads its output in the reverse sweep: the loop computing the sum it
/// takes is needed, and so is the maximum the exponentials are shifted by.
#[differentiate]
fn norm_of_shifted_exp(x: &[f64]) -> f64 {
    let mut m = x[0];
    for i in 1..x.len() {
        m = m.max(x[i]);
    }
    let mut s = 0.0;
    for i in 0..x.len() {
        s += (x[i] - m).exp();
    }
    let r = s.sqrt();
    let mut unused = 0.0;
    for i in 0..x.len() {
        unused += x[i].sin();
    }
    r + unused
}

#[differentiate(wrt(x))]
fn caller(x: &[f64], target: &[f64], steps: usize) -> f64 {
    let n = x.len();
    let mut state = x.to_vec();
    let mut total = 0.0;
    for t in 0..steps {
        for i in 0..n {
            state[i] = (state[i] * 0.9).sin() + 0.1 * x[i];
        }
        total += distance(&state, target, t * n) * norm_of_shifted_exp(&state);
    }
    total
}

fn caller_o(x: &[Dual64], target: &[f64], steps: usize) -> Dual64 {
    let n = x.len();
    let mut state = x.to_vec();
    let mut total = c(0.0);
    for t in 0..steps {
        for i in 0..n {
            state[i] = (state[i] * 0.9).sin() + x[i] * 0.1;
        }
        let dist = (0..n).fold(c(0.0), |s, i| {
            let d = state[i] - target[t * n + i];
            s + d * d
        });
        let m = state
            .iter()
            .skip(1)
            .fold(state[0], |m, v| if *v > m { *v } else { m });
        let s = state.iter().fold(c(0.0), |s, v| s + (*v - m).exp());
        let unused = state.iter().fold(c(0.0), |s, v| s + v.sin());
        total += dist * (s.sqrt() + unused);
    }
    total
}

#[test]
fn callees_skip_value_only_loops_and_keep_the_rest() {
    for (n, steps) in [(4, 3), (1, 2), (6, 1)] {
        let x: Vec<f64> = (0..n).map(|i| 0.3 + 0.2 * (i as f64).cos()).collect();
        let target: Vec<f64> = (0..n * steps).map(|i| 0.1 * (i as f64).sin()).collect();
        let (value, g) = caller_grad(&x, &target, steps);
        assert_bits(value, caller(&x, &target, steps));
        assert_close_slice(&g, &dual_grad(|x| caller_o(x, &target, steps), &x));
    }
}

/// A loop differentiated as it runs (its iterations meet only in `s`): in a
/// joint callee's `__adjoint` it adds into the parameters' adjoints, which the
/// reverse sweep after it never reads, and must stay. (It was dropped as
/// value-only: the callee's whole contribution to the gradient was lost, silently.)
#[differentiate(wrt(x))]
fn branchy_sum(x: &[f64], w: &[f64], n: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        let mut t = left * left;
        if i + 1 < w.len() {
            t += w[i + 1] * x[i] * x[i + 1];
        }
        s += t * x[i].sin();
    }
    s
}

fn branchy_sum_o(x: &[Dual64], w: &[Dual64], n: usize) -> Dual64 {
    let mut s = c(0.0);
    for i in 0..n {
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        let mut t = left * left;
        if i + 1 < w.len() {
            t += w[i + 1] * x[i] * x[i + 1];
        }
        s += t * x[i].sin();
    }
    s
}

/// `k` as the callee's `x` and as its `w` (which the callee was not annotated
/// to differentiate, and which its caller's adjoint reaches all the same), and
/// `data` declined.
#[differentiate(wrt(k))]
fn calls_branchy(k: &[f64], data: &[f64]) -> f64 {
    branchy_sum(k, data, k.len() - 1) + 0.5 * branchy_sum(data, k, data.len() - 1)
}

#[test]
fn loops_differentiated_as_they_run_add_into_a_joint_callers_adjoints() {
    let k: Vec<f64> = (0..7).map(|i| 0.8 + 0.1 * i as f64).collect();
    let data: Vec<f64> = (0..7).map(|i| ((i as f64) * 0.9).cos()).collect();
    let (value, g) = calls_branchy_grad(&k, &data);
    assert_bits(value, calls_branchy(&k, &data));
    let expected = dual_grad(
        |k| {
            let d: Vec<Dual64> = data.iter().map(|&v| c(v)).collect();
            branchy_sum_o(k, &d, k.len() - 1) + branchy_sum_o(&d, k, d.len() - 1) * 0.5
        },
        &k,
    );
    assert!(expected.iter().all(|v| v.abs() > 1e-3), "{expected:?}");
    assert_close_slice(&g, &expected);
}

/// The same kind of loop in a split callee (it writes `v` through `&mut`) and in
/// a joint callee whose scalar the caller passes as a constant.
#[differentiate]
fn step_sum(v: &mut [f64], x: &[f64]) -> f64 {
    let n = v.len();
    let mut s = 0.0;
    for i in 0..n {
        let left = if i == 0 { v[0] } else { v[i] - v[i - 1] };
        s += (x[i] * left).sin();
    }
    for i in 0..n {
        v[i] = v[i] * 0.5 + x[i] * x[i];
    }
    s
}

#[differentiate(wrt(x))]
fn driver(x: &[f64], steps: usize) -> f64 {
    let mut v = x.to_vec();
    let mut total = 0.0;
    for _ in 0..steps {
        total += step_sum(&mut v, x);
    }
    total
}

fn driver_o(x: &[Dual64], steps: usize) -> Dual64 {
    let n = x.len();
    let mut v = x.to_vec();
    let mut total = c(0.0);
    for _ in 0..steps {
        let mut s = c(0.0);
        for i in 0..n {
            let left = if i == 0 { v[0] } else { v[i] - v[i - 1] };
            s += (x[i] * left).sin();
        }
        for i in 0..n {
            v[i] = v[i] * 0.5 + x[i] * x[i];
        }
        total += s;
    }
    total
}

#[test]
fn a_split_callees_loops_differentiated_as_they_run() {
    let x: Vec<f64> = (0..5).map(|i| 0.3 + 0.2 * (i as f64).cos()).collect();
    let (value, g) = driver_grad(&x, 3);
    assert_bits(value, driver(&x, 3));
    assert_close_slice(&g, &dual_grad(|x| driver_o(x, 3), &x));
}

#[differentiate]
fn scaled_sum(x: &[f64], a: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        s += (a * left).sin();
    }
    s
}

#[differentiate(wrt(k))]
fn const_caller(k: &[f64], a: f64) -> f64 {
    scaled_sum(k, 2.0) + scaled_sum(k, a) * 0.5
}

#[test]
fn a_joint_callee_with_constant_scalars() {
    let k: Vec<f64> = (0..5).map(|i| 0.3 + 0.2 * (i as f64).cos()).collect();
    let (value, g) = const_caller_grad(&k, 0.7);
    assert_bits(value, const_caller(&k, 0.7));
    let f = |k: &[Dual64], a: f64| {
        let mut s = c(0.0);
        for i in 0..k.len() {
            let left = if i == 0 { k[0] } else { k[i] - k[i - 1] };
            s += (left * a).sin();
        }
        s
    };
    assert_close_slice(&g, &dual_grad(|k| f(k, 2.0) + f(k, 0.7) * 0.5, &k));
}

/// A callee with a value-only loop (`m`, read only through `m * a`) beside a loop
/// differentiated as it runs, called jointly with constant and varying scalars.
#[differentiate]
fn two_loops(x: &[f64], a: f64) -> f64 {
    let mut m = 0.0;
    for i in 0..x.len() {
        m += x[i] * x[i];
    }
    let mut s = 0.0;
    for i in 0..x.len() {
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        s += (left * 0.7).sin();
    }
    s + m * a
}

fn two_loops_o(x: &[Dual64], a: Dual64) -> Dual64 {
    let mut m = c(0.0);
    for i in 0..x.len() {
        m += x[i] * x[i];
    }
    let mut s = c(0.0);
    for i in 0..x.len() {
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        s += (left * 0.7).sin();
    }
    s + m * a
}

#[differentiate(wrt(x))]
fn outer(x: &[f64], data: &[f64], rounds: usize) -> f64 {
    let n = x.len();
    let mut y = vec![0.0; n];
    let mut total = 0.0;
    for r in 0..rounds {
        for i in 0..n {
            y[i] = x[i] * data[(i + r) % data.len()];
        }
        total += two_loops(&y, 0.5) + two_loops(x, 0.25 * r as f64);
    }
    total
}

fn outer_o(x: &[Dual64], data: &[f64], rounds: usize) -> Dual64 {
    let n = x.len();
    let mut total = c(0.0);
    for r in 0..rounds {
        let y: Vec<Dual64> = (0..n).map(|i| x[i] * data[(i + r) % data.len()]).collect();
        total += two_loops_o(&y, c(0.5)) + two_loops_o(x, c(0.25 * r as f64));
    }
    total
}

#[test]
fn value_only_and_preaccumulated_loops_in_one_callee() {
    let x: Vec<f64> = (0..6).map(|i| 0.3 + 0.2 * (i as f64).cos()).collect();
    let data: Vec<f64> = (0..4).map(|i| 1.0 + 0.1 * i as f64).collect();
    let (value, g) = outer_grad(&x, &data, 3);
    assert_bits(value, outer(&x, &data, 3));
    assert_close_slice(&g, &dual_grad(|x| outer_o(x, &data, 3), &x));
}
