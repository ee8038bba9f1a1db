//! `#[differentiate(wrt(..))]`: only the listed parameters are differentiated; the
//! gradient follows parameter order whatever order `wrt` lists; a `&mut` buffer left
//! out gets no shadow and is still updated.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use common::*;

#[differentiate(wrt(x))]
fn only_x(x: f64, y: f64) -> f64 {
    x * x * y + y.sin()
}

#[test]
fn single_wrt_gives_bare_gradient() {
    let (v, dx): (f64, f64) = only_x_grad(1.5, 0.5);
    assert_bits(v, only_x(1.5, 0.5));
    assert_close(dx, 2.0 * 1.5 * 0.5);
}

#[differentiate(wrt(z, x))]
fn reordered(x: f64, y: f64, z: f64) -> f64 {
    x * y + y * z + (x * z).sin()
}

#[test]
fn gradient_follows_parameter_order() {
    let (x, y, z) = (0.3, -1.2, 2.0);
    let (v, (dx, dz)) = reordered_grad(x, y, z);
    assert_bits(v, reordered(x, y, z));
    assert_close_slice(&[dx, dz], &[y + z * (x * z).cos(), y + x * (x * z).cos()]);
    let (v2, (dx2, dz2)) = reordered_vjp(x, y, z, 2.0);
    assert_bits(v2, v);
    assert_close_slice(&[dx2, dz2], &[2.0 * dx, 2.0 * dz]);
}

#[differentiate(wrt(w))]
fn slice_wrt(x: &[f64], w: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += (x[i] * w[i]).tanh();
    }
    s
}

#[test]
fn slice_wrt_only_second() {
    let x = [0.5, -0.3, 1.2];
    let w = [1.0, 2.0, -0.7];
    let (v, gw): (f64, Vec<f64>) = slice_wrt_grad(&x, &w);
    assert_bits(v, slice_wrt(&x, &w));
    let e: Vec<f64> = (0..3)
        .map(|i| x[i] * (1.0 - (x[i] * w[i]).tanh().powi(2)))
        .collect();
    assert_close_slice(&gw, &e);
}

#[differentiate(wrt(k))]
fn buffer_left_out(state: &mut [f64], k: f64) -> f64 {
    for i in 0..state.len() {
        state[i] = state[i] * k + 1.0;
    }
    state[0] * state[1]
}

#[test]
fn mut_buffer_left_out_has_no_shadow_and_is_updated() {
    let s0 = vec![2.0, 3.0];
    let k = 0.5;
    // no shadow parameter: (state, k, seed)
    let mut s = s0.clone();
    let (v, dk): (f64, f64) = buffer_left_out_vjp(&mut s, k, 1.0);
    let mut sf = s0.clone();
    assert_bits(v, buffer_left_out(&mut sf, k));
    assert_bits_slice(&s, &sf);
    // r = (2k + 1)(3k + 1): dr/dk = 2(3k + 1) + 3(2k + 1)
    assert_close(dk, 2.0 * (3.0 * k + 1.0) + 3.0 * (2.0 * k + 1.0));
    let mut s = s0.clone();
    let (v, dk2): (f64, f64) = buffer_left_out_grad(&mut s, k);
    assert_bits(v, buffer_left_out(&mut s0.clone(), k));
    assert_bits_slice(&s, &sf);
    assert_close(dk2, dk);
}

#[differentiate(wrt(state))]
fn buffer_only(state: &mut [f64], k: f64) {
    for i in 0..state.len() {
        state[i] = state[i].sin() * k;
    }
}

#[test]
fn only_the_buffer_is_differentiated() {
    let s0 = vec![0.4, -1.0];
    let mut s = s0.clone();
    let mut s_bar = vec![1.0, 2.0];
    let ((), ()) = buffer_only_vjp(&mut s, &mut s_bar, 3.0);
    let mut sf = s0.clone();
    buffer_only(&mut sf, 3.0);
    assert_bits_slice(&s, &sf);
    assert_close_slice(&s_bar, &[3.0 * 0.4_f64.cos(), 2.0 * 3.0 * (-1.0_f64).cos()]);
}

#[differentiate(wrt(b, a))]
fn two_buffers_wrt(a: &mut [f64], c: &mut [f64], b: &mut [f64]) {
    for i in 0..a.len() {
        let t = a[i] * b[i];
        c[i] += t;
        a[i] = b[i] + t;
        b[i] = t * c[i];
    }
}

#[test]
fn buffers_shadow_order_follows_parameters() {
    let (a0, c0, b0) = (vec![0.5, 1.5], vec![1.0, -1.0], vec![2.0, 0.3]);
    let (mut a, mut c, mut b) = (a0.clone(), c0.clone(), b0.clone());
    let seed_a = vec![1.0, 0.5];
    let seed_b = vec![-1.0, 2.0];
    let (mut a_bar, mut b_bar) = (seed_a.clone(), seed_b.clone());
    // shadows right after each differentiated buffer, in parameter order: a, a_bar, c, b, b_bar
    let ((), ()) = two_buffers_wrt_vjp(&mut a, &mut a_bar, &mut c, &mut b, &mut b_bar);
    let (mut af, mut cf, mut bf) = (a0.clone(), c0.clone(), b0.clone());
    two_buffers_wrt(&mut af, &mut cf, &mut bf);
    assert_bits_slice(&a, &af);
    assert_bits_slice(&b, &bf);
    assert_bits_slice(&c, &cf);
    // oracle: final a = b + a b, final b = a b (c + a b); c is passive
    for i in 0..2 {
        let o = |p: &[Dual64]| {
            let (ai, bi) = (p[0], p[1]);
            let t = ai * bi;
            let cn = t + c0[i];
            (bi + t) * seed_a[i] + t * cn * seed_b[i]
        };
        let e = dual_grad(o, &[a0[i], b0[i]]);
        assert_close_slice(&[a_bar[i], b_bar[i]], &e);
    }
}
