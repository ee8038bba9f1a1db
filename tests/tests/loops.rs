//! `for` over ranges (`a..b`, `a..=b`, `.rev()`, `.step_by(k)`, `(a..b).rev().step_by(k)`),
//! `while`, `loop`/`break`, `continue`, labels, early `return` from loops, nested
//! loops, and loops overwriting values the gradient needs.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::check::{assert_gradient, sample_points};
use autodiff_runtime::differentiate;
use common::*;

#[differentiate]
fn repeated_overwrite(x: f64, n: usize) -> f64 {
    let mut x = x;
    for _ in 0..n {
        x = x.sin() * x;
    }
    x
}

fn repeated_overwrite_o(v: &[Dual64], n: usize) -> Dual64 {
    let mut x = v[0];
    for _ in 0..n {
        x = x.sin() * x;
    }
    x
}

#[test]
fn loop_overwriting_needed_value() {
    for n in [0, 1, 2, 5, 20] {
        for x in [0.3, 1.1, 2.5, -0.8] {
            let (v, d) = repeated_overwrite_grad(x, n);
            assert_bits(v, repeated_overwrite(x, n));
            assert_close(d, dual_grad(|p| repeated_overwrite_o(p, n), &[x])[0]);
        }
    }
}

#[differentiate]
fn ranges(x: f64, a: usize, b: usize) -> f64 {
    let mut s = x;
    for i in a..b {
        s = s * 0.9 + (i as f64) * x.sin();
    }
    for i in a..=b {
        s += s.cos() * i as f64;
    }
    s
}

fn ranges_o(v: &[Dual64], a: usize, b: usize) -> Dual64 {
    let x = v[0];
    let mut s = x;
    for i in a..b {
        s = s * 0.9 + x.sin() * (i as f64);
    }
    for i in a..=b {
        s += s.cos() * i as f64;
    }
    s
}

#[test]
fn exclusive_and_inclusive_ranges() {
    for (a, b) in [(0, 0), (0, 3), (2, 5), (4, 3), (1, 1)] {
        for x in [0.4, -1.3] {
            let (v, d) = ranges_grad(x, a, b);
            assert_bits(v, ranges(x, a, b));
            assert_close(d, dual_grad(|p| ranges_o(p, a, b), &[x])[0]);
        }
    }
}

#[differentiate]
fn rev_step(x: &[f64], k: usize) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in (0..n).rev() {
        s = s * x[i] + 1.0;
    }
    for i in (0..n).step_by(k) {
        s += x[i].sin() * s;
    }
    for i in (1..n).rev().step_by(k) {
        s = s * 0.5 + x[i] * x[i - 1];
    }
    for i in (0..=n - 1).rev() {
        s -= x[i] * 0.1;
    }
    s
}

fn rev_step_o(x: &[Dual64], k: usize) -> Dual64 {
    let n = x.len();
    let mut s = c(0.0);
    for i in (0..n).rev() {
        s = s * x[i] + 1.0;
    }
    for i in (0..n).step_by(k) {
        s += x[i].sin() * s;
    }
    for i in (1..n).rev().step_by(k) {
        s = s * 0.5 + x[i] * x[i - 1];
    }
    for i in (0..=n - 1).rev() {
        s -= x[i] * 0.1;
    }
    s
}

#[test]
fn rev_and_step_by() {
    let x = sample_points(3, 7, -1.0, 1.0);
    for k in [1, 2, 3, 10] {
        let (v, g) = rev_step_grad(&x, k);
        assert_bits(v, rev_step(&x, k));
        assert_close_slice(&g, &dual_grad(|p| rev_step_o(p, k), &x));
    }
}

#[differentiate]
fn while_loop(x: f64) -> f64 {
    let mut y = x;
    let mut i = 0;
    while y < 100.0 && i < 50 {
        y = y * 1.5 + x;
        i += 1;
    }
    y
}

#[test]
fn while_with_data_dependent_trip_count() {
    for x in [0.5, 2.0, 7.0, 150.0, -1.0] {
        let (v, d) = while_loop_grad(x);
        assert_bits(v, while_loop(x));
        let o = |p: &[Dual64]| {
            let mut y = p[0];
            let mut i = 0;
            while y.re < 100.0 && i < 50 {
                y = y * 1.5 + p[0];
                i += 1;
            }
            y
        };
        assert_close(d, dual_grad(o, &[x])[0]);
    }
}

#[differentiate]
fn loop_break(x: f64, tol: f64) -> f64 {
    // Newton iteration for sqrt(x), stops when the step is small.
    let mut r = x;
    let mut it = 0;
    loop {
        let next = 0.5 * (r + x / r);
        let step = (next - r).abs();
        r = next;
        it += 1;
        if step < tol || it >= 100 {
            break;
        }
    }
    r
}

#[test]
fn loop_with_break() {
    for x in [0.25, 2.0, 9.0, 50.0] {
        let (v, (dx, dtol)) = loop_break_grad(x, 1e-12);
        assert_bits(v, loop_break(x, 1e-12));
        assert_close_slice_tol(&[dx], &[0.5 / x.sqrt()], 1e-8);
        assert_eq!(dtol, 0.0);
        // a few iterations only: compare with dual numbers through the same iterations
        let (v, (dx, _)) = loop_break_grad(x, 0.1);
        assert_bits(v, loop_break(x, 0.1));
        let o = |p: &[Dual64]| {
            let x = p[0];
            let mut r = x;
            let mut it = 0;
            loop {
                let next = (r + x / r) * 0.5;
                let step = (next.re - r.re).abs();
                r = next;
                it += 1;
                if step < 0.1 || it >= 100 {
                    break;
                }
            }
            r
        };
        assert_close(dx, dual_grad(o, &[x])[0]);
    }
}

#[differentiate]
fn loop_continue(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        if x[i] < 0.0 {
            continue;
        }
        if i % 3 == 2 {
            s *= x[i];
            continue;
        }
        s += x[i] * x[i];
    }
    let mut j = 0;
    while j < x.len() {
        j += 1;
        if x[j - 1] > 0.5 {
            continue;
        }
        s += x[j - 1].exp();
    }
    s
}

fn loop_continue_o(x: &[Dual64]) -> Dual64 {
    let mut s = c(0.0);
    for (i, &xi) in x.iter().enumerate() {
        if xi.re < 0.0 {
            continue;
        }
        if i % 3 == 2 {
            s *= xi;
            continue;
        }
        s += xi * xi;
    }
    for &xi in x {
        if xi.re > 0.5 {
            continue;
        }
        s += xi.exp();
    }
    s
}

#[test]
fn continue_in_for_and_while() {
    let x = [0.3, -0.2, 1.5, 0.8, 0.1, -1.0, 2.0, 0.6];
    let (v, g) = loop_continue_grad(&x);
    assert_bits(v, loop_continue(&x));
    assert_close_slice(&g, &dual_grad(loop_continue_o, &x));
}

#[differentiate]
fn labelled(x: &[f64], m: usize) -> f64 {
    let mut s = 1.0;
    'outer: for i in 0..m {
        for j in 0..x.len() {
            if x[j] * (i as f64) > 2.0 {
                break 'outer;
            }
            if x[j] < 0.0 {
                continue 'outer;
            }
            s = s * 0.5 + x[j] * s.sin();
        }
        s += 1.0;
    }
    s
}

fn labelled_o(x: &[Dual64], m: usize) -> Dual64 {
    let mut s = c(1.0);
    'outer: for i in 0..m {
        for &xj in x {
            if xj.re * (i as f64) > 2.0 {
                break 'outer;
            }
            if xj.re < 0.0 {
                continue 'outer;
            }
            s = s * 0.5 + xj * s.sin();
        }
        s += 1.0;
    }
    s
}

#[test]
fn labelled_break_and_continue() {
    for x in [
        vec![0.3, 0.5, 0.9],
        vec![0.3, -0.5, 0.9],
        vec![1.2, 0.1, 0.4],
        vec![0.1, 0.2, 3.0],
    ] {
        for m in [0, 1, 3, 6] {
            let (v, g) = labelled_grad(&x, m);
            assert_bits(v, labelled(&x, m));
            assert_close_slice(&g, &dual_grad(|p| labelled_o(p, m), &x));
        }
    }
}

#[differentiate]
fn labelled_loop(x: f64) -> f64 {
    let mut y = x;
    let mut k = 0;
    'a: loop {
        let mut j = 0;
        while j < 4 {
            j += 1;
            y = y * 1.1 + 0.1;
            if y > 10.0 {
                break 'a;
            }
        }
        k += 1;
        if k > 20 {
            break;
        }
    }
    y * y
}

#[test]
fn labelled_loop_break_from_inner_while() {
    for x in [0.5, 5.0, 9.5, -20.0] {
        let (v, d) = labelled_loop_grad(x);
        assert_bits(v, labelled_loop(x));
        assert_gradient(|p| labelled_loop(p[0]), &[x], &[d]);
    }
}

#[differentiate]
fn return_from_loop(x: &[f64], limit: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i];
        if s > limit {
            return s * x[i];
        }
        let mut k = 0;
        while k < 3 {
            if s * x[i] < -limit {
                return -s;
            }
            k += 1;
        }
    }
    s.sqrt()
}

#[test]
fn early_return_from_inside_loops() {
    for (x, limit) in [
        (vec![0.5, 1.0, 2.0, 0.1], 3.0),
        (vec![0.5, 1.0, 2.0, 0.1], 100.0),
        (vec![0.5, -1.5, 0.2], 1.0),
        (vec![0.1, 0.2], 0.5),
    ] {
        let (v, (g, dl)) = return_from_loop_grad(&x, limit);
        assert_bits(v, return_from_loop(&x, limit));
        let mut full = g.clone();
        full.push(dl);
        let mut p0 = x.clone();
        p0.push(limit);
        assert_gradient(
            |p| return_from_loop(&p[..p.len() - 1], p[p.len() - 1]),
            &p0,
            &full,
        );
    }
}

#[differentiate]
fn nested(x: &[f64], y: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let mut t = 1.0;
        for j in 0..y.len() {
            t = t * (x[i] - y[j]).tanh() + 0.5;
            for _ in 0..2 {
                t = t * t * 0.5;
            }
        }
        s += t * x[i];
    }
    s
}

fn nested_o(p: &[Dual64], nx: usize) -> Dual64 {
    let (x, y) = p.split_at(nx);
    let mut s = c(0.0);
    for &xi in x {
        let mut t = c(1.0);
        for &yj in y {
            t = t * (xi - yj).tanh() + 0.5;
            for _ in 0..2 {
                t = t * t * 0.5;
            }
        }
        s += t * xi;
    }
    s
}

#[test]
fn nested_loops() {
    let x = sample_points(5, 4, -1.0, 1.0);
    let y = sample_points(6, 3, -1.0, 1.0);
    let (v, (gx, gy)) = nested_grad(&x, &y);
    assert_bits(v, nested(&x, &y));
    let mut all = x.clone();
    all.extend(&y);
    let expected = dual_grad(|p| nested_o(p, 4), &all);
    assert_close_slice(&gx, &expected[..4]);
    assert_close_slice(&gy, &expected[4..]);
}

#[differentiate]
fn long_chain(x: f64) -> f64 {
    let mut y = x;
    for i in 0..1000 {
        if i % 2 == 0 {
            y = (y * 1.001).sin() + 0.5;
        } else {
            y = y * y * 0.7 + 0.1;
        }
    }
    y
}

#[test]
fn long_loop_with_branches_inside() {
    for x in [0.2, 0.9, -0.4] {
        let (v, d) = long_chain_grad(x);
        assert_bits(v, long_chain(x));
        let o = |p: &[Dual64]| {
            let mut y = p[0];
            for i in 0..1000 {
                if i % 2 == 0 {
                    y = (y * 1.001).sin() + 0.5;
                } else {
                    y = y * y * 0.7 + 0.1;
                }
            }
            y
        };
        assert_close(d, dual_grad(o, &[x])[0]);
    }
}

#[differentiate]
fn loop_var_in_float(x: f64, n: i32) -> f64 {
    let mut acc = 0.0;
    for k in -n..n {
        let kf = k as f64;
        acc += (kf * x).cos() / (1.0 + kf * kf);
    }
    acc
}

#[test]
fn signed_range_and_counter_in_float_math() {
    for (x, n) in [(0.3, 3), (1.7, 5), (-0.2, 0)] {
        let (v, d) = loop_var_in_float_grad(x, n);
        assert_bits(v, loop_var_in_float(x, n));
        let expected: f64 = (-n..n)
            .map(|k| {
                let kf = k as f64;
                -kf * (kf * x).sin() / (1.0 + kf * kf)
            })
            .sum();
        assert_close(d, expected);
    }
}
