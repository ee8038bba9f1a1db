//! Property tests: a fixed family of diverse functions (straight-line, loops, branches,
//! array writes, calls, in-place buffers), `f_grad` / `f_vjp` compared with dual numbers
//! at random points. 64 cases per function.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use common::*;
use proptest::collection::vec;
use proptest::prelude::*;

#[differentiate]
fn p_straight(x: f64, y: f64, z: f64) -> f64 {
    let a = x * y - z.sin();
    let b = (a * a + 1.0).ln() * z.exp() / (1.0 + y * y);
    a.tanh() * b + x.atan2(z)
}
fn p_straight_o(v: &[Dual64]) -> Dual64 {
    let (x, y, z) = (v[0], v[1], v[2]);
    let a = x * y - z.sin();
    let b = (a * a + 1.0).ln() * z.exp() / (y * y + 1.0);
    a.tanh() * b + x.atan2(z)
}

#[differentiate]
fn p_loop(x: f64, n: usize) -> f64 {
    let mut y = x;
    for i in 0..n {
        y = (y * 0.9).sin() * y + (i as f64) * 0.01;
    }
    y
}
fn p_loop_o(v: &[Dual64], n: usize) -> Dual64 {
    let mut y = v[0];
    for i in 0..n {
        y = (y * 0.9).sin() * y + (i as f64) * 0.01;
    }
    y
}

#[differentiate]
fn p_branch(x: f64, y: f64) -> f64 {
    if x > y && x > 0.0 {
        x * x - y
    } else if x < -1.0 || y > 2.0 {
        (x + y).cos()
    } else {
        x.exp() * y
    }
}
fn p_branch_o(v: &[Dual64]) -> Dual64 {
    let (x, y) = (v[0], v[1]);
    if x.re > y.re && x.re > 0.0 {
        x * x - y
    } else if x.re < -1.0 || y.re > 2.0 {
        (x + y).cos()
    } else {
        x.exp() * y
    }
}

#[differentiate]
fn p_array_writes(x: &[f64]) -> f64 {
    let n = x.len();
    let mut a = x.to_vec();
    for i in 0..n {
        a[i] = a[i] * a[(i + n - 1) % n] + 0.5;
    }
    for i in (0..n).rev() {
        a[i] = a[i].sin() * a[(i + 1) % n];
    }
    let mut s = 0.0;
    for i in 0..n {
        s += a[i];
    }
    s
}
fn p_array_writes_o(x: &[Dual64]) -> Dual64 {
    let n = x.len();
    let mut a = x.to_vec();
    for i in 0..n {
        a[i] = a[i] * a[(i + n - 1) % n] + 0.5;
    }
    for i in (0..n).rev() {
        a[i] = a[i].sin() * a[(i + 1) % n];
    }
    a.iter().copied().sum()
}

#[differentiate]
fn p_while(x: f64) -> f64 {
    let mut y = x.abs() + 0.1;
    let mut k = 0;
    while y < 50.0 && k < 30 {
        y = y * 1.7 + x * x;
        k += 1;
    }
    y.ln()
}
fn p_while_o(v: &[Dual64]) -> Dual64 {
    let x = v[0];
    let ax = if x.re >= 0.0 { x } else { -x };
    let mut y = ax + 0.1;
    let mut k = 0;
    while y.re < 50.0 && k < 30 {
        y = y * 1.7 + x * x;
        k += 1;
    }
    y.ln()
}

#[differentiate]
fn p_match(x: f64, k: u32) -> f64 {
    let mut s = x;
    for i in 0..k {
        s = match i % 4 {
            0 => s * x,
            1 | 2 => s.sin() + x,
            _ => s.sqrt().max(x),
        };
    }
    s
}
fn p_match_o(v: &[Dual64], k: u32) -> Dual64 {
    let x = v[0];
    let mut s = x;
    for i in 0..k {
        s = match i % 4 {
            0 => s * x,
            1 | 2 => s.sin() + x,
            _ => {
                let r = s.sqrt();
                if r.re >= x.re {
                    r
                } else {
                    x
                }
            }
        };
    }
    s
}

#[differentiate]
fn p_dot_norm(x: &[f64], y: &[f64]) -> f64 {
    autodiff_tests::dot(x, y) / (1.0 + autodiff_tests::norm(y))
}
fn p_dot_norm_o(v: &[Dual64], n: usize) -> Dual64 {
    let (x, y) = v.split_at(n);
    let d: Dual64 = (0..n).map(|i| x[i] * y[i]).sum();
    let nr = y.iter().map(|a| *a * *a).sum::<Dual64>().sqrt();
    d / (nr + 1.0)
}

#[differentiate]
fn p_heat(u: &mut [f64], nu: f64) {
    let n = u.len();
    for _ in 0..10 {
        let mut prev = u[0];
        for i in 1..n - 1 {
            let cur = u[i];
            u[i] = cur + nu * (prev - 2.0 * cur + u[i + 1]);
            prev = cur;
        }
    }
}
fn p_heat_o(v: &[Dual64]) -> Vec<Dual64> {
    let n = v.len() - 1;
    let nu = v[n];
    let mut u = v[..n].to_vec();
    for _ in 0..10 {
        let mut prev = u[0];
        for i in 1..n - 1 {
            let cur = u[i];
            u[i] = cur + nu * (prev - cur * 2.0 + u[i + 1]);
            prev = cur;
        }
    }
    u
}

#[differentiate]
fn p_fixed(x: [f64; 4]) -> [f64; 2] {
    let mut out = [0.0; 2];
    out[0] = x[0] * x[1] + x[2].cos();
    out[1] = (x[3] - x[0]).powi(3) + x[1].hypot(x[2]);
    out
}
fn p_fixed_o(x: &[Dual64]) -> Vec<Dual64> {
    vec![
        x[0] * x[1] + x[2].cos(),
        (x[3] - x[0]).powi(3) + (x[1] * x[1] + x[2] * x[2]).sqrt(),
    ]
}

#[differentiate]
fn p_early(x: &[f64], t: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * (i as f64 + 1.0);
        if s > t {
            return s * t;
        }
        if x[i] < -0.5 {
            continue;
        }
        s *= 1.0 + x[i] * 0.1;
    }
    s - t
}
fn p_early_o(v: &[Dual64]) -> Dual64 {
    let n = v.len() - 1;
    let t = v[n];
    let mut s = c(0.0);
    for i in 0..n {
        s += v[i] * (i as f64 + 1.0);
        if s.re > t.re {
            return s * t;
        }
        if v[i].re < -0.5 {
            continue;
        }
        s *= v[i] * 0.1 + 1.0;
    }
    s - t
}

fn cfg() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn close_all(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()))
        })
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn straight_line(x in -3.0..3.0f64, y in -3.0..3.0f64, z in -2.0..2.0f64) {
        let (v, (dx, dy, dz)) = p_straight_grad(x, y, z);
        prop_assert_eq!(v.to_bits(), p_straight(x, y, z).to_bits());
        let e = dual_grad(p_straight_o, &[x, y, z]);
        prop_assert!(close_all(&[dx, dy, dz], &e), "{:?} vs {:?}", [dx, dy, dz], e);
    }

    #[test]
    fn loop_overwrite(x in -2.0..2.0f64, n in 0usize..40) {
        let (v, d) = p_loop_grad(x, n);
        prop_assert_eq!(v.to_bits(), p_loop(x, n).to_bits());
        let e = dual_grad(|p| p_loop_o(p, n), &[x]);
        prop_assert!(close_all(&[d], &e), "{} vs {:?}", d, e);
    }

    #[test]
    fn branches(x in -3.0..3.0f64, y in -3.0..3.0f64) {
        let (v, (dx, dy)) = p_branch_grad(x, y);
        prop_assert_eq!(v.to_bits(), p_branch(x, y).to_bits());
        let e = dual_grad(p_branch_o, &[x, y]);
        prop_assert!(close_all(&[dx, dy], &e), "{:?} vs {:?}", (dx, dy), e);
    }

    #[test]
    fn array_writes(x in vec(-1.5..1.5f64, 1..12)) {
        let (v, g) = p_array_writes_grad(&x);
        prop_assert_eq!(v.to_bits(), p_array_writes(&x).to_bits());
        let e = dual_grad(p_array_writes_o, &x);
        prop_assert!(close_all(&g, &e), "{:?} vs {:?}", g, e);
    }

    #[test]
    fn while_loop(x in -5.0..5.0f64) {
        let (v, d) = p_while_grad(x);
        prop_assert_eq!(v.to_bits(), p_while(x).to_bits());
        let e = dual_grad(p_while_o, &[x]);
        prop_assert!(close_all(&[d], &e), "{} vs {:?}", d, e);
    }

    #[test]
    fn match_in_loop(x in 0.1..1.5f64, k in 0u32..12) {
        let (v, d) = p_match_grad(x, k);
        prop_assert_eq!(v.to_bits(), p_match(x, k).to_bits());
        let e = dual_grad(|p| p_match_o(p, k), &[x]);
        prop_assert!(close_all(&[d], &e), "{} vs {:?}", d, e);
    }

    #[test]
    fn cross_crate_calls(xy in vec(-2.0..2.0f64, 2..16)) {
        let n = xy.len() / 2;
        let (x, y) = (&xy[..n], &xy[n..2 * n]);
        let (v, (gx, gy)) = p_dot_norm_grad(x, y);
        prop_assert_eq!(v.to_bits(), p_dot_norm(x, y).to_bits());
        let e = dual_grad(|p| p_dot_norm_o(p, n), &xy[..2 * n]);
        let mut g = gx.clone();
        g.extend(&gy);
        prop_assert!(close_all(&g, &e), "{:?} vs {:?}", g, e);
    }

    #[test]
    fn in_place_stencil(u0 in vec(-1.0..1.0f64, 3..10), nu in 0.05..0.45f64, seed in vec(-1.0..1.0f64, 10)) {
        let n = u0.len();
        let seed = &seed[..n];
        let mut u = u0.clone();
        let mut u_bar = seed.to_vec();
        let ((), dnu) = p_heat_vjp(&mut u, &mut u_bar, nu);
        let mut uf = u0.clone();
        p_heat(&mut uf, nu);
        prop_assert_eq!(u.iter().map(|a| a.to_bits()).collect::<Vec<_>>(), uf.iter().map(|a| a.to_bits()).collect::<Vec<_>>());
        let mut all = u0.clone();
        all.push(nu);
        let e = dual_vjp(p_heat_o, &all, seed);
        let mut got = u_bar.clone();
        got.push(dnu);
        prop_assert!(close_all(&got, &e), "{:?} vs {:?}", got, e);
    }

    #[test]
    fn fixed_array_vjp(x in prop::array::uniform4(-2.0..2.0f64), s0 in -2.0..2.0f64, s1 in -2.0..2.0f64) {
        let (v, g) = p_fixed_vjp(x, [s0, s1]);
        let vf = p_fixed(x);
        prop_assert_eq!([v[0].to_bits(), v[1].to_bits()], [vf[0].to_bits(), vf[1].to_bits()]);
        let e = dual_vjp(p_fixed_o, &x, &[s0, s1]);
        prop_assert!(close_all(&g, &e), "{:?} vs {:?}", g, e);
    }

    #[test]
    fn early_return_and_continue(x in vec(-1.0..1.0f64, 0..10), t in -1.0..3.0f64) {
        let (v, (g, dt)) = p_early_grad(&x, t);
        prop_assert_eq!(v.to_bits(), p_early(&x, t).to_bits());
        let mut all = x.clone();
        all.push(t);
        let mut got = g.clone();
        got.push(dt);
        let e = dual_grad(p_early_o, &all);
        prop_assert!(close_all(&got, &e), "{:?} vs {:?}", got, e);
    }
}
