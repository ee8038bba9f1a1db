//! `f32` code: derivatives computed in `f32`, compared with `f32` dual numbers (which
//! round the same way up to a few ulps) and loosely with `f64` finite differences.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use common::*;

fn close32(a: f32, b: f32, rel: f32) -> bool {
    (a - b).abs() <= rel * (1.0 + a.abs().max(b.abs()))
}

#[track_caller]
fn assert_close32(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            close32(*x, *y, 1e-5),
            "entry {i}: {x:e} vs {y:e} ({a:?} vs {b:?})"
        );
    }
}

#[differentiate]
fn scalar32(x: f32, y: f32) -> f32 {
    let a = (x * y).sin() + x.exp() * 0.5;
    let b = f32::sqrt(y * y + 1.0) - x.powi(3) + y.atan2(x);
    let mut r = a * b;
    r /= 1.0 + x.abs();
    r + std::f32::consts::PI * x.tanh()
}

fn scalar32_o(p: &[Dual32]) -> Dual32 {
    let (x, y) = (p[0], p[1]);
    let a = (x * y).sin() + x.exp() * 0.5;
    let b = (y * y + 1.0).sqrt() - x.powi(3) + y.atan2(x);
    let ax = if x.re >= 0.0 { x } else { -x };
    let mut r = a * b;
    r /= ax + 1.0;
    r + x.tanh() * std::f32::consts::PI
}

#[test]
fn f32_straight_line() {
    for (x, y) in [(0.5f32, 1.5f32), (-0.8, 0.3), (1.2, -2.0)] {
        let (v, (dx, dy)): (f32, (f32, f32)) = scalar32_grad(x, y);
        assert_bits32(v, scalar32(x, y));
        assert_close32(&[dx, dy], &dual_grad32(scalar32_o, &[x, y]));
        // A coarse central difference (h = 1e-2, well above f32 rounding) as a sanity check.
        let h = 1e-2f32;
        let fdx = (scalar32(x + h, y) - scalar32(x - h, y)) / (2.0 * h);
        let fdy = (scalar32(x, y + h) - scalar32(x, y - h)) / (2.0 * h);
        assert!(close32(dx, fdx, 1e-2), "{dx} vs fd {fdx}");
        assert!(close32(dy, fdy, 1e-2), "{dy} vs fd {fdy}");
    }
}

#[differentiate]
fn loop32(x: &[f32], k: f32) -> f32 {
    let mut s = 0.0f32;
    for i in 0..x.len() {
        if x[i] > 0.0 {
            s = s * k + x[i].ln_1p();
        } else {
            s -= x[i] * x[i] * k;
        }
    }
    s
}

fn loop32_o(p: &[Dual32]) -> Dual32 {
    let n = p.len() - 1;
    let k = p[n];
    let mut s = Dual32::from_re(0.0);
    for &xi in &p[..n] {
        if xi.re > 0.0 {
            s = s * k + xi.ln_1p();
        } else {
            s -= xi * xi * k;
        }
    }
    s
}

#[test]
fn f32_loop_and_branches() {
    let x = [0.5f32, -0.25, 1.5, 0.1, -1.0];
    let k = 0.8f32;
    let (v, (g, dk)): (f32, (Vec<f32>, f32)) = loop32_grad(&x, k);
    assert_bits32(v, loop32(&x, k));
    let mut all = x.to_vec();
    all.push(k);
    let mut got = g.clone();
    got.push(dk);
    assert_close32(&got, &dual_grad32(loop32_o, &all));
}

#[differentiate]
fn step32(s: &mut [f32; 2], dt: f32) {
    for _ in 0..20 {
        let th = s[0];
        s[1] -= dt * th.sin();
        s[0] += dt * s[1];
    }
}

#[test]
fn f32_mut_array_vjp() {
    let s0 = [1.0f32, 0.0];
    let mut s = s0;
    let mut s_bar = [1.0f32, 0.5];
    let ((), ddt): ((), f32) = step32_vjp(&mut s, &mut s_bar, 0.1);
    let mut sf = s0;
    step32(&mut sf, 0.1);
    assert_eq!(s.map(f32::to_bits), sf.map(f32::to_bits));
    let o = |p: &[Dual32]| {
        let mut st = [p[0], p[1]];
        for _ in 0..20 {
            let th = st[0];
            st[1] -= p[2] * th.sin();
            let w = st[1];
            st[0] += p[2] * w;
        }
        st[0] + st[1] * 0.5
    };
    let e = dual_grad32(o, &[s0[0], s0[1], 0.1]);
    assert_close32(&[s_bar[0], s_bar[1], ddt], &e);
}

#[differentiate]
fn methods32(x: f32) -> f32 {
    x.cbrt() + x.exp2() + x.log2() + f32::log10(x) + x.sinh() * x.cosh() + x.recip() - x.acos()
        + f32::asin(x * 0.5)
        + x.powf(2.5)
        + x.hypot(2.0)
        + x.max(0.5)
        + x.min(0.5)
        + x.mul_add(2.0, 1.0)
        + x.floor()
}

#[test]
fn f32_methods() {
    for x in [0.2f32, 0.45, 0.7, 0.95] {
        let (v, d) = methods32_grad(x);
        assert_bits32(v, methods32(x));
        let o = |p: &[Dual32]| {
            let x = p[0];
            let mx = if x.re >= 0.5 { x } else { Dual32::from_re(0.5) };
            let mn = if x.re <= 0.5 { x } else { Dual32::from_re(0.5) };
            x.cbrt() + x.exp2() + x.log2() + x.log10() + x.sinh() * x.cosh() + x.recip() - x.acos()
                + (x * 0.5).asin()
                + x.powf(2.5)
                + (x * x + 4.0).sqrt()
                + mx
                + mn
                + x * 2.0
                + 1.0
        };
        assert_close32(&[d], &dual_grad32(o, &[x]));
    }
}
