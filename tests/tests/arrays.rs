//! Array parameters (`&[f64]`, `&Vec<f64>`, `Vec<f64>`, `mut Vec<f64>`, `[f64; N]`,
//! `&[f64; N]`), local arrays (`vec![0.0; n]`, `[0.0; N]`, `vec![a, b, c]`,
//! `x.to_vec()`), `.len()`, index reads and writes (including overwrites of values
//! the gradient still needs), and array results through `f_vjp`.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::check::{assert_gradient, assert_vjp, sample_points};
use autodiff_runtime::differentiate;
use common::*;

#[differentiate]
fn slice_param(x: &[f64], w: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += (x[i] * w).sin() * x[(i + 1) % x.len()];
    }
    s
}

fn slice_param_o(p: &[Dual64]) -> Dual64 {
    let (x, w) = (&p[..p.len() - 1], p[p.len() - 1]);
    let mut s = c(0.0);
    for i in 0..x.len() {
        s += (x[i] * w).sin() * x[(i + 1) % x.len()];
    }
    s
}

#[test]
fn slice_parameter() {
    let x = sample_points(1, 5, -2.0, 2.0);
    let (v, (g, dw)) = slice_param_grad(&x, 0.7);
    assert_bits(v, slice_param(&x, 0.7));
    let mut all = x.clone();
    all.push(0.7);
    let e = dual_grad(slice_param_o, &all);
    assert_close_slice(&g, &e[..5]);
    assert_close(dw, e[5]);
}

#[allow(clippy::ptr_arg)] // `&Vec<f64>` is the parameter kind under test
#[differentiate]
fn vec_ref_param(x: &Vec<f64>) -> f64 {
    let n = x.len();
    let mut p = 1.0;
    for i in 0..n {
        p *= x[i] + 1.0;
    }
    p
}

#[test]
fn vec_ref_parameter() {
    let x = vec![0.5, -0.3, 2.0, 1.1];
    let (v, g) = vec_ref_param_grad(&x);
    assert_bits(v, vec_ref_param(&x));
    let expected: Vec<f64> = (0..4)
        .map(|i| (0..4).filter(|&j| j != i).map(|j| x[j] + 1.0).product())
        .collect();
    assert_close_slice(&g, &expected);
}

#[differentiate]
fn vec_owned(x: Vec<f64>, k: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i].exp() * k;
    }
    s
}

#[test]
fn owned_vec_parameter() {
    let x = vec![0.1, -0.4, 0.9];
    let (v, (g, dk)) = vec_owned_grad(x.clone(), 1.5);
    assert_bits(v, vec_owned(x.clone(), 1.5));
    let e: Vec<f64> = x.iter().map(|a| a.exp() * 1.5).collect();
    assert_close_slice(&g, &e);
    assert_close(dk, x.iter().map(|a| a.exp()).sum());
}

#[allow(clippy::assign_op_pattern)]
#[differentiate]
fn vec_owned_mut(mut x: Vec<f64>) -> f64 {
    let n = x.len();
    for i in 1..n {
        x[i] = x[i] * x[i - 1] + x[i].sin();
    }
    x[0] = x[n - 1] * x[0];
    x[0] + x[n - 1]
}

fn vec_owned_mut_o(p: &[Dual64]) -> Dual64 {
    let mut x = p.to_vec();
    let n = x.len();
    for i in 1..n {
        x[i] = x[i] * x[i - 1] + x[i].sin();
    }
    x[0] = x[n - 1] * x[0];
    x[0] + x[n - 1]
}

#[test]
fn mut_owned_vec_modified_in_body() {
    let x = vec![0.7, -0.2, 1.3, 0.4];
    let (v, g) = vec_owned_mut_grad(x.clone());
    assert_bits(v, vec_owned_mut(x.clone()));
    assert_close_slice(&g, &dual_grad(vec_owned_mut_o, &x));
}

#[differentiate]
fn fixed_array(x: [f64; 3], y: &[f64; 3]) -> f64 {
    let mut d = 0.0;
    for i in 0..3 {
        let t = x[i] - y[i];
        d += t * t;
    }
    d.sqrt() + x[0] * y[2]
}

#[test]
fn fixed_size_array_parameters() {
    let x = [1.0, 2.0, -0.5];
    let y = [0.3, -1.0, 2.0];
    let (v, (gx, gy)): (f64, ([f64; 3], [f64; 3])) = fixed_array_grad(x, &y);
    assert_bits(v, fixed_array(x, &y));
    let d = (0..3).map(|i| (x[i] - y[i]).powi(2)).sum::<f64>().sqrt();
    let mut ex = [0.0; 3];
    let mut ey = [0.0; 3];
    for i in 0..3 {
        ex[i] = (x[i] - y[i]) / d;
        ey[i] = -(x[i] - y[i]) / d;
    }
    ex[0] += y[2];
    ey[2] += x[0];
    assert_close_slice(&gx, &ex);
    assert_close_slice(&gy, &ey);
}

#[allow(clippy::useless_vec)] // `vec![a, b, c]` is the construct under test
#[differentiate]
fn locals(x: &[f64], n: usize) -> f64 {
    let mut buf = vec![0.0; n];
    let mut fixed = [0.0; 4];
    let lit = vec![x[0], x[1] * 2.0, 3.0];
    let copy = x.to_vec();
    for i in 0..n {
        buf[i] = copy[i % copy.len()] * (i as f64 + 1.0);
    }
    for i in 0..4 {
        fixed[i] = buf[i % n] + lit[i % 3];
    }
    let mut s = 0.0;
    for i in 0..fixed.len() {
        s += fixed[i] * fixed[i];
    }
    s + buf.len() as f64
}

fn locals_o(x: &[Dual64], n: usize) -> Dual64 {
    let mut buf = vec![c(0.0); n];
    let mut fixed = [c(0.0); 4];
    let lit = [x[0], x[1] * 2.0, c(3.0)];
    let copy = x.to_vec();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = copy[i % copy.len()] * (i as f64 + 1.0);
    }
    for (i, f) in fixed.iter_mut().enumerate() {
        *f = buf[i % n] + lit[i % 3];
    }
    let mut s = c(0.0);
    for f in fixed {
        s += f * f;
    }
    s + n as f64
}

#[test]
fn local_arrays() {
    let x = [0.5, -1.2, 0.8];
    for n in [1, 2, 5] {
        let (v, g) = locals_grad(&x, n);
        assert_bits(v, locals(&x, n));
        assert_close_slice(&g, &dual_grad(|p| locals_o(p, n), &x));
    }
}

#[differentiate]
fn overwrite_needed(x: &[f64]) -> f64 {
    let mut a = x.to_vec();
    let n = a.len();
    for _ in 0..3 {
        for i in 0..n {
            // a[i] is needed by the derivative of a[i] * a[i] and then overwritten
            a[i] = a[i] * a[i] * 0.5 + a[(i + 1) % n].sin();
        }
    }
    let mut s = 0.0;
    for i in 0..n {
        s += a[i];
        a[i] = 0.0;
    }
    s + a[0]
}

fn overwrite_needed_o(x: &[Dual64]) -> Dual64 {
    let mut a = x.to_vec();
    let n = a.len();
    for _ in 0..3 {
        for i in 0..n {
            a[i] = a[i] * a[i] * 0.5 + a[(i + 1) % n].sin();
        }
    }
    let mut s = c(0.0);
    for ai in a.iter_mut() {
        s += *ai;
        *ai = c(0.0);
    }
    s + a[0]
}

#[test]
fn writes_overwriting_needed_values() {
    let x = sample_points(9, 5, -1.0, 1.0);
    let (v, g) = overwrite_needed_grad(&x);
    assert_bits(v, overwrite_needed(&x));
    assert_close_slice(&g, &dual_grad(overwrite_needed_o, &x));
}

#[differentiate]
fn fixed_local_overwrite(x: f64, y: f64) -> f64 {
    let mut a = [x, y, x * y];
    a[0] = a[1] * a[2];
    a[1] = a[0].sin() - a[1];
    a[2] = a[2] * a[0] + a[1];
    a[0] + a[1] * a[2]
}

#[test]
fn array_literal_with_overwrites() {
    for (x, y) in [(0.5, 1.5), (-1.0, 0.3)] {
        let (v, (dx, dy)) = fixed_local_overwrite_grad(x, y);
        assert_bits(v, fixed_local_overwrite(x, y));
        let o = |p: &[Dual64]| {
            let (x, y) = (p[0], p[1]);
            let mut a = [x, y, x * y];
            a[0] = a[1] * a[2];
            a[1] = a[0].sin() - a[1];
            a[2] = a[2] * a[0] + a[1];
            a[0] + a[1] * a[2]
        };
        assert_close_slice(&[dx, dy], &dual_grad(o, &[x, y]));
    }
}

#[differentiate]
fn data_dependent_index(x: &[f64], idx: &[usize]) -> f64 {
    let mut s = 0.0;
    for k in 0..idx.len() {
        s = s * x[idx[k]] + x[idx[k]].cos();
    }
    s
}

#[test]
fn passive_index_arrays() {
    let x = [0.3, 1.4, -0.6, 2.0];
    let idx = [3usize, 0, 0, 2, 1, 3];
    let (v, g) = data_dependent_index_grad(&x, &idx);
    assert_bits(v, data_dependent_index(&x, &idx));
    assert_gradient(|p| data_dependent_index(p, &idx), &x, &g);
}

// ---------------------------------------------------------------- array results (f_vjp)

#[differentiate]
fn vec_result(x: &[f64], a: f64) -> Vec<f64> {
    let n = x.len();
    let mut out = vec![0.0; n + 1];
    for i in 0..n {
        out[i] = x[i] * a + x[(i + 1) % n].sin();
    }
    out[n] = a * a;
    out
}

#[test]
fn vec_result_through_vjp() {
    let x = vec![0.4, -1.1, 2.0];
    let a = 0.8;
    let seed = [1.0, -2.0, 0.5, 3.0];
    let (v, (gx, ga)) = vec_result_vjp(&x, a, &seed);
    assert_bits_slice(&v, &vec_result(&x, a));
    let mut all = x.clone();
    all.push(a);
    let mut vjp = gx.clone();
    vjp.push(ga);
    assert_vjp(|p| vec_result(&p[..3], p[3]), &all, &seed, &vjp);
    let e = dual_vjp(
        |p| {
            let (x, a) = (&p[..3], p[3]);
            let mut out: Vec<Dual64> = (0..3).map(|i| x[i] * a + x[(i + 1) % 3].sin()).collect();
            out.push(a * a);
            out
        },
        &all,
        &seed,
    );
    assert_close_slice(&vjp, &e);
}

#[allow(clippy::let_and_return)]
#[differentiate]
fn array_result(x: [f64; 2], t: f64) -> [f64; 3] {
    let r = [x[0] * t.cos(), x[1] * t.sin(), x[0] * x[1]];
    r
}

#[test]
fn fixed_array_result_through_vjp() {
    let x = [1.5, -0.5];
    let t = 0.3;
    for seed in [
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.5, -1.0, 2.0],
    ] {
        let (v, (gx, gt)): ([f64; 3], ([f64; 2], f64)) = array_result_vjp(x, t, seed);
        assert_bits_slice(&v, &array_result(x, t));
        let vjp = [gx[0], gx[1], gt];
        assert_vjp(
            |p| array_result([p[0], p[1]], p[2]).to_vec(),
            &[x[0], x[1], t],
            &seed,
            &vjp,
        );
    }
}

#[differentiate]
fn scalar_via_vjp(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i].powi(3);
    }
    s
}

#[test]
fn scalar_vjp_scales_with_seed() {
    let x = [0.5, -1.0, 2.0];
    let (v, g) = scalar_via_vjp_grad(&x);
    let (v2, g2) = scalar_via_vjp_vjp(&x, 2.5);
    assert_bits(v, v2);
    assert_bits(v, scalar_via_vjp(&x));
    let e: Vec<f64> = g.iter().map(|d| d * 2.5).collect();
    assert_close_slice(&g2, &e);
    assert_close_slice(&g, &[0.75, 3.0, 12.0]);
}

#[test]
#[should_panic]
fn out_of_bounds_panics_like_f() {
    let x = [1.0, 2.0];
    // `locals` with n = 3 reads copy[i % 2], fine; data_dependent_index with a bad index panics.
    let _ = data_dependent_index_grad(&x, &[0, 5]);
}
