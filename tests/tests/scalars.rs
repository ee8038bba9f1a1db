//! Straight-line scalar code: arithmetic, unary minus, shadowing, compound assignment,
//! every float method in method and `f64::name(x)` form, constants and `as` casts.
//! Oracles: dual numbers (num-dual), closed forms, finite differences.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::check::{assert_gradient, sample_points};
use autodiff_runtime::differentiate;
use common::*;

// ---------------------------------------------------------------- arithmetic

#[differentiate]
fn arith(x: f64, y: f64) -> f64 {
    (x + y) * (x - y) / (x * y + 3.0) - -x + 2.0 * y - x / 4.0
}

fn arith_o(v: &[Dual64]) -> Dual64 {
    let (x, y) = (v[0], v[1]);
    (x + y) * (x - y) / (x * y + 3.0) - -x + y * 2.0 - x / 4.0
}

#[test]
fn arithmetic() {
    for (x, y) in [(1.0, 2.0), (-0.7, 0.3), (3.5, -0.2), (0.0, 0.0)] {
        let (v, (dx, dy)) = arith_grad(x, y);
        assert_bits(v, arith(x, y));
        assert_close_slice(&[dx, dy], &dual_grad(arith_o, &[x, y]));
        assert_gradient(|p| arith(p[0], p[1]), &[x, y], &[dx, dy]);
    }
}

#[differentiate]
fn unary_minus(x: f64, y: f64) -> f64 {
    let a = -x;
    let b = -(x * y);
    -a * b + -(-y)
}

#[test]
fn unary_minus_chain() {
    for (x, y) in [(1.5, -2.0), (-0.3, 0.7)] {
        let (v, (dx, dy)) = unary_minus_grad(x, y);
        assert_bits(v, unary_minus(x, y));
        // f = x * (-x y) + y = -x² y + y
        assert_close_slice(&[dx, dy], &[-2.0 * x * y, -x * x + 1.0]);
    }
}

#[differentiate]
fn shadowing(x: f64) -> f64 {
    let y = x * x;
    let y = y.sin() + x;
    let x = y * x;
    let x = x + 1.0;
    x * y
}

fn shadowing_o(v: &[Dual64]) -> Dual64 {
    let x = v[0];
    let y = x * x;
    let y = y.sin() + x;
    let x = y * x;
    let x = x + 1.0;
    x * y
}

#[test]
fn shadowing_values() {
    for x in sample_points(1, 8, -2.0, 2.0) {
        let (v, d) = shadowing_grad(x);
        assert_bits(v, shadowing(x));
        assert_close(d, dual_grad(shadowing_o, &[x])[0]);
    }
}

#[differentiate]
fn compound(x: f64, y: f64) -> f64 {
    let mut a = x;
    a += y;
    a *= x;
    a -= y * 0.5;
    a /= y;
    let mut b = 1.0;
    b *= a;
    b += a * a;
    b -= x;
    b /= 2.0;
    b
}

fn compound_o(v: &[Dual64]) -> Dual64 {
    let (x, y) = (v[0], v[1]);
    let mut a = x;
    a += y;
    a *= x;
    a -= y * 0.5;
    a /= y;
    let mut b = c(1.0);
    b *= a;
    b += a * a;
    b -= x;
    b /= 2.0;
    b
}

#[test]
fn compound_assignment() {
    for (x, y) in [(1.0, 2.0), (-1.3, 0.4), (2.2, -3.1)] {
        let (v, (dx, dy)) = compound_grad(x, y);
        assert_bits(v, compound(x, y));
        assert_close_slice(&[dx, dy], &dual_grad(compound_o, &[x, y]));
    }
}

#[differentiate]
fn self_compound(x: f64) -> f64 {
    let mut a = x;
    a *= a;
    a += a;
    a /= x;
    a -= a * x;
    a
}

#[test]
fn compound_with_self() {
    // a = x², a = 2x², a = 2x, a = 2x - 2x²
    for x in [0.5, -1.5, 3.0] {
        let (v, d) = self_compound_grad(x);
        assert_bits(v, self_compound(x));
        assert_close(d, 2.0 - 4.0 * x);
    }
}

// ---------------------------------------------------------------- constants, casts

#[differentiate]
fn constants(x: f64) -> f64 {
    let t = std::f64::consts::PI * x;
    t.sin() + std::f64::consts::E * x + core::f64::consts::FRAC_PI_2 * x * x + f64::EPSILON
}

#[test]
fn constant_paths() {
    use std::f64::consts::{E, FRAC_PI_2, PI};
    for x in [0.1, -0.7, 2.0] {
        let (v, d) = constants_grad(x);
        assert_bits(v, constants(x));
        assert_close(d, PI * (PI * x).cos() + E + 2.0 * FRAC_PI_2 * x);
    }
}

#[differentiate]
fn casts(x: f64, n: usize, k: i32) -> f64 {
    let nf = n as f64;
    let kf = k as f64;
    let m = (x * 10.0) as i64; // passive
    let back = m as f64;
    x * nf + kf * x * x + back + (n as i32 + k) as f64 * x
}

#[test]
fn int_float_casts() {
    for (x, n, k) in [(0.37, 3usize, -2i32), (-1.25, 0, 5), (4.0, 7, 0)] {
        let (v, d) = casts_grad(x, n, k);
        assert_bits(v, casts(x, n, k));
        let expected = n as f64 + 2.0 * k as f64 * x + (n as i32 + k) as f64;
        assert_close(d, expected);
    }
}

#[allow(clippy::unnecessary_cast)] // `x as f64` on an f64 is part of the test
#[differentiate]
fn float_casts(x: f64) -> f64 {
    let y = x as f64;
    let z = (y * 3.0) as f32;
    let w = z as f64;
    w * y
}

#[test]
fn f64_f32_round_trip_casts() {
    // w = round32(3x); the cast's derivative is 1, so d(w·x)/dx = 3x + w.
    for x in [0.5, -1.0, 1.0 / 3.0] {
        let (v, d) = float_casts_grad(x);
        assert_bits(v, float_casts(x));
        let w = (x * 3.0) as f32 as f64;
        assert_close_slice_tol(&[d], &[3.0 * x + w], 1e-6);
    }
}

// ---------------------------------------------------------------- unary methods
// Each function uses the method form and the `f64::name(x)` form.

#[differentiate]
fn m_sin(x: f64) -> f64 {
    x.sin() + f64::sin(2.0 * x)
}
#[differentiate]
fn m_cos(x: f64) -> f64 {
    x.cos() + f64::cos(2.0 * x)
}
#[differentiate]
fn m_tan(x: f64) -> f64 {
    x.tan() + f64::tan(0.5 * x)
}
#[differentiate]
fn m_asin(x: f64) -> f64 {
    x.asin() + f64::asin(0.5 * x)
}
#[differentiate]
fn m_acos(x: f64) -> f64 {
    x.acos() + f64::acos(0.5 * x)
}
#[differentiate]
fn m_atan(x: f64) -> f64 {
    x.atan() + f64::atan(2.0 * x)
}
#[differentiate]
fn m_sinh(x: f64) -> f64 {
    x.sinh() + f64::sinh(2.0 * x)
}
#[differentiate]
fn m_cosh(x: f64) -> f64 {
    x.cosh() + f64::cosh(2.0 * x)
}
#[differentiate]
fn m_tanh(x: f64) -> f64 {
    x.tanh() + f64::tanh(2.0 * x)
}
#[differentiate]
fn m_exp(x: f64) -> f64 {
    x.exp() + f64::exp(2.0 * x)
}
#[differentiate]
fn m_exp2(x: f64) -> f64 {
    x.exp2() + f64::exp2(2.0 * x)
}
#[differentiate]
fn m_exp_m1(x: f64) -> f64 {
    x.exp_m1() + f64::exp_m1(2.0 * x)
}
#[differentiate]
fn m_ln(x: f64) -> f64 {
    x.ln() + f64::ln(2.0 * x)
}
#[differentiate]
fn m_ln_1p(x: f64) -> f64 {
    x.ln_1p() + f64::ln_1p(2.0 * x)
}
#[differentiate]
fn m_log10(x: f64) -> f64 {
    x.log10() + f64::log10(2.0 * x)
}
#[differentiate]
fn m_log2(x: f64) -> f64 {
    x.log2() + f64::log2(2.0 * x)
}
#[differentiate]
fn m_sqrt(x: f64) -> f64 {
    x.sqrt() + f64::sqrt(2.0 * x)
}
#[differentiate]
fn m_cbrt(x: f64) -> f64 {
    x.cbrt() + f64::cbrt(2.0 * x)
}
#[differentiate]
fn m_recip(x: f64) -> f64 {
    x.recip() + f64::recip(2.0 * x)
}
#[differentiate]
fn m_powi(x: f64) -> f64 {
    x.powi(3) + f64::powi(x, -2) + x.powi(0) + x.powi(1)
}
#[differentiate]
fn m_powf_const(x: f64) -> f64 {
    x.powf(1.5) + f64::powf(x, -0.5)
}
#[differentiate]
fn m_abs(x: f64) -> f64 {
    x.abs() * x + f64::abs(2.0 * x)
}
#[differentiate]
fn m_signum(x: f64) -> f64 {
    x.signum() * x * x + f64::signum(x - 1.0)
}
#[differentiate]
fn m_floor(x: f64) -> f64 {
    x.floor() * x + f64::floor(3.0 * x)
}
#[differentiate]
fn m_ceil(x: f64) -> f64 {
    x.ceil() * x + f64::ceil(3.0 * x)
}
#[differentiate]
fn m_round(x: f64) -> f64 {
    x.round() * x + f64::round(3.0 * x)
}

type Unary = (
    &'static str,
    fn(f64) -> f64,
    fn(f64) -> (f64, f64),
    fn(Dual64) -> Dual64,
    &'static [f64],
);

fn unary_table() -> Vec<Unary> {
    const GEN: &[f64] = &[-1.7, -0.4, 0.3, 0.9, 2.1];
    const UNIT: &[f64] = &[-0.9, -0.3, 0.2, 0.7];
    const POS: &[f64] = &[0.05, 0.4, 1.3, 7.5];
    const NEAR0: &[f64] = &[-0.3, -0.05, 0.2, 1.2];
    vec![
        ("sin", m_sin, m_sin_grad, |x| x.sin() + (x * 2.0).sin(), GEN),
        ("cos", m_cos, m_cos_grad, |x| x.cos() + (x * 2.0).cos(), GEN),
        (
            "tan",
            m_tan,
            m_tan_grad,
            |x| x.tan() + (x * 0.5).tan(),
            UNIT,
        ),
        (
            "asin",
            m_asin,
            m_asin_grad,
            |x| x.asin() + (x * 0.5).asin(),
            UNIT,
        ),
        (
            "acos",
            m_acos,
            m_acos_grad,
            |x| x.acos() + (x * 0.5).acos(),
            UNIT,
        ),
        (
            "atan",
            m_atan,
            m_atan_grad,
            |x| x.atan() + (x * 2.0).atan(),
            GEN,
        ),
        (
            "sinh",
            m_sinh,
            m_sinh_grad,
            |x| x.sinh() + (x * 2.0).sinh(),
            GEN,
        ),
        (
            "cosh",
            m_cosh,
            m_cosh_grad,
            |x| x.cosh() + (x * 2.0).cosh(),
            GEN,
        ),
        (
            "tanh",
            m_tanh,
            m_tanh_grad,
            |x| x.tanh() + (x * 2.0).tanh(),
            GEN,
        ),
        ("exp", m_exp, m_exp_grad, |x| x.exp() + (x * 2.0).exp(), GEN),
        (
            "exp2",
            m_exp2,
            m_exp2_grad,
            |x| x.exp2() + (x * 2.0).exp2(),
            GEN,
        ),
        (
            "exp_m1",
            m_exp_m1,
            m_exp_m1_grad,
            |x| x.exp_m1() + (x * 2.0).exp_m1(),
            GEN,
        ),
        ("ln", m_ln, m_ln_grad, |x| x.ln() + (x * 2.0).ln(), POS),
        (
            "ln_1p",
            m_ln_1p,
            m_ln_1p_grad,
            |x| x.ln_1p() + (x * 2.0).ln_1p(),
            NEAR0,
        ),
        (
            "log10",
            m_log10,
            m_log10_grad,
            |x| x.log10() + (x * 2.0).log10(),
            POS,
        ),
        (
            "log2",
            m_log2,
            m_log2_grad,
            |x| x.log2() + (x * 2.0).log2(),
            POS,
        ),
        (
            "sqrt",
            m_sqrt,
            m_sqrt_grad,
            |x| x.sqrt() + (x * 2.0).sqrt(),
            POS,
        ),
        (
            "cbrt",
            m_cbrt,
            m_cbrt_grad,
            |x| x.cbrt() + (x * 2.0).cbrt(),
            GEN,
        ),
        (
            "recip",
            m_recip,
            m_recip_grad,
            |x| x.recip() + (x * 2.0).recip(),
            GEN,
        ),
        (
            "powi",
            m_powi,
            m_powi_grad,
            |x| x.powi(3) + x.powi(-2) + c(1.0) + x,
            GEN,
        ),
        (
            "powf",
            m_powf_const,
            m_powf_const_grad,
            |x| x.powf(1.5) + x.powf(-0.5),
            POS,
        ),
        (
            "abs",
            m_abs,
            m_abs_grad,
            |x| {
                let s = c(if x.re >= 0.0 { 1.0 } else { -1.0 });
                x * s * x + x * s * 2.0
            },
            GEN,
        ),
        (
            "signum",
            m_signum,
            m_signum_grad,
            |x| c(x.re.signum()) * x * x + c((x.re - 1.0).signum()),
            GEN,
        ),
        (
            "floor",
            m_floor,
            m_floor_grad,
            |x| c(x.re.floor()) * x + c((x.re * 3.0).floor()),
            GEN,
        ),
        (
            "ceil",
            m_ceil,
            m_ceil_grad,
            |x| c(x.re.ceil()) * x + c((x.re * 3.0).ceil()),
            GEN,
        ),
        (
            "round",
            m_round,
            m_round_grad,
            |x| c(x.re.round()) * x + c((x.re * 3.0).round()),
            GEN,
        ),
    ]
}

#[test]
fn every_unary_method_both_forms() {
    for (name, f, g, o, points) in unary_table() {
        for &x in points {
            let (v, d) = g(x);
            assert_eq!(v.to_bits(), f(x).to_bits(), "{name} at {x}: primal differs");
            let expected = o(Dual64::new(x, 1.0)).eps;
            let ok = (d - expected).abs() <= 1e-10 * (1.0 + expected.abs());
            assert!(ok, "{name} at {x}: got {d}, dual numbers give {expected}");
            if !matches!(name, "floor" | "ceil" | "round" | "signum") {
                assert_gradient(|p| f(p[0]), &[x], &[d]);
            }
        }
    }
}

#[test]
fn documented_one_sided_choices() {
    // abs'(0) = 0, signum' = 0, floor/ceil/round' = 0 at jumps.
    let (_, d) = m_abs_grad(0.0);
    assert_eq!(d, 0.0);
    let (_, d) = m_floor_grad(1.0);
    assert_eq!(d, 1.0);
    let (_, d) = m_round_grad(0.5);
    assert_eq!(d, 1.0);
    let (_, d) = m_powi_grad(2.0);
    assert_close(d, 3.0 * 4.0 - 2.0 / 8.0 + 1.0);
}

// ---------------------------------------------------------------- binary methods

#[differentiate]
fn m_atan2(y: f64, x: f64) -> f64 {
    y.atan2(x) + f64::atan2(x, 2.0 * y)
}
#[differentiate]
fn m_hypot(x: f64, y: f64) -> f64 {
    x.hypot(y) + f64::hypot(2.0 * y, x)
}
#[differentiate]
fn m_max(x: f64, y: f64) -> f64 {
    x.max(y) * 2.0 + f64::max(y * y, x)
}
#[differentiate]
fn m_min(x: f64, y: f64) -> f64 {
    x.min(y) * 2.0 + f64::min(y * y, x)
}
#[differentiate]
fn m_powf(x: f64, y: f64) -> f64 {
    x.powf(y) + f64::powf(y, x)
}
#[differentiate]
fn m_mul_add(x: f64, y: f64, z: f64) -> f64 {
    x.mul_add(y, z) + f64::mul_add(z, x, y * y)
}

type Binary = (
    &'static str,
    fn(f64, f64) -> f64,
    fn(f64, f64) -> (f64, (f64, f64)),
    fn(&[Dual64]) -> Dual64,
    &'static [(f64, f64)],
);

fn maxd(a: Dual64, b: Dual64) -> Dual64 {
    if a.re >= b.re {
        a
    } else {
        b
    }
}
fn mind(a: Dual64, b: Dual64) -> Dual64 {
    if a.re <= b.re {
        a
    } else {
        b
    }
}

#[test]
fn every_binary_method_both_forms() {
    const QUADRANTS: &[(f64, f64)] = &[(1.0, 2.0), (-1.0, 2.0), (1.0, -2.0), (-1.5, -0.5)];
    const SIDES: &[(f64, f64)] = &[(1.0, 2.0), (3.0, 0.5), (-1.0, -2.0), (0.2, 0.3), (0.5, 0.1)];
    const POS: &[(f64, f64)] = &[(1.5, 2.0), (0.3, 0.7), (2.5, 1.1)];
    let table: Vec<Binary> = vec![
        (
            "atan2",
            m_atan2,
            m_atan2_grad,
            |v| v[0].atan2(v[1]) + v[1].atan2(v[0] * 2.0),
            QUADRANTS,
        ),
        (
            "hypot",
            m_hypot,
            m_hypot_grad,
            |v| {
                let h = |a: Dual64, b: Dual64| (a * a + b * b).sqrt();
                h(v[0], v[1]) + h(v[1] * 2.0, v[0])
            },
            QUADRANTS,
        ),
        (
            "max",
            m_max,
            m_max_grad,
            |v| maxd(v[0], v[1]) * 2.0 + maxd(v[1] * v[1], v[0]),
            SIDES,
        ),
        (
            "min",
            m_min,
            m_min_grad,
            |v| mind(v[0], v[1]) * 2.0 + mind(v[1] * v[1], v[0]),
            SIDES,
        ),
        (
            "powf",
            m_powf,
            m_powf_grad,
            |v| v[0].powd(v[1]) + v[1].powd(v[0]),
            POS,
        ),
    ];
    for (name, f, g, o, points) in table {
        for &(x, y) in points {
            let (v, (dx, dy)) = g(x, y);
            assert_eq!(
                v.to_bits(),
                f(x, y).to_bits(),
                "{name} at ({x}, {y}): primal"
            );
            let expected = dual_grad(o, &[x, y]);
            let ok = (dx - expected[0]).abs() <= 1e-10 * (1.0 + expected[0].abs())
                && (dy - expected[1]).abs() <= 1e-10 * (1.0 + expected[1].abs());
            assert!(
                ok,
                "{name} at ({x}, {y}): got ({dx}, {dy}), expected {expected:?}"
            );
            assert_gradient(|p| f(p[0], p[1]), &[x, y], &[dx, dy]);
        }
    }
}

#[test]
fn max_min_ties_go_to_first_argument() {
    // x.max(y) with x == y: gradient to x. f64::max(y*y, x) at y*y == x: to y*y.
    let (_, (dx, dy)) = m_max_grad(1.0, 1.0);
    assert_eq!((dx, dy), (2.0, 2.0));
    let (_, (dx, dy)) = m_min_grad(1.0, 1.0);
    assert_eq!((dx, dy), (2.0, 2.0));
}

#[test]
fn mul_add_is_fused_and_differentiated() {
    for (x, y, z) in [(0.1, 0.2, 0.3), (1.0 / 3.0, 3.0, -1.0), (-2.0, 0.5, 4.0)] {
        let (v, (dx, dy, dz)) = m_mul_add_grad(x, y, z);
        assert_bits(v, m_mul_add(x, y, z));
        // d/dx: y + z; d/dy: x + 2y; d/dz: 1 + x
        assert_close_slice(&[dx, dy, dz], &[y + z, x + 2.0 * y, 1.0 + x]);
    }
}

#[differentiate]
fn powi_passive(x: f64, n: i32) -> f64 {
    x.powi(n) + f64::powi(x, n + 1)
}

#[test]
fn powi_with_passive_exponent() {
    for (x, n) in [(1.3, 0), (-0.8, 3), (2.0, -3), (0.5, 5)] {
        let (v, d) = powi_passive_grad(x, n);
        assert_bits(v, powi_passive(x, n));
        let expected = Dual64::new(x, 1.0).powi(n) + Dual64::new(x, 1.0).powi(n + 1);
        assert_close(d, expected.eps);
    }
}

// ---------------------------------------------------------------- a longer expression

#[differentiate]
fn mixed(x: f64, y: f64, z: f64) -> f64 {
    let a = (x * y).sin().exp() + z.cosh().ln();
    let b = f64::sqrt(x * x + y * y + 1.0) * z.tanh();
    let mut r = a / b;
    r += x.atan2(y).powi(2) - (y * z).hypot(x);
    r *= std::f64::consts::PI.recip();
    r - r.cbrt() * 0.1
}

fn mixed_o(v: &[Dual64]) -> Dual64 {
    let (x, y, z) = (v[0], v[1], v[2]);
    let a = (x * y).sin().exp() + z.cosh().ln();
    let b = (x * x + y * y + 1.0).sqrt() * z.tanh();
    let mut r = a / b;
    let yz = y * z;
    r += x.atan2(y).powi(2) - (yz * yz + x * x).sqrt();
    r *= std::f64::consts::PI.recip();
    r - r.cbrt() * 0.1
}

#[test]
fn long_expression() {
    let xs = sample_points(11, 30, 0.2, 2.0);
    for p in xs.chunks(3) {
        let (v, (dx, dy, dz)) = mixed_grad(p[0], p[1], p[2]);
        assert_bits(v, mixed(p[0], p[1], p[2]));
        assert_close_slice(&[dx, dy, dz], &dual_grad(mixed_o, p));
    }
}

/// Parameters named like the generated ones (`seed`, `x_bar`) keep their names;
/// the generated parameters step aside.
#[differentiate]
fn names(seed: f64, x: f64, x_bar: f64) -> f64 {
    seed * x + x_bar
}

#[test]
fn parameters_named_like_generated_ones() {
    let (v, (ds, dx, dxb)) = names_grad(2.0, 3.0, 0.5);
    assert_bits(v, names(2.0, 3.0, 0.5));
    assert_eq!((ds, dx, dxb), (3.0, 2.0, 1.0));
    let (v, grads) = names_vjp(2.0, 3.0, 0.5, 2.0);
    assert_bits(v, names(2.0, 3.0, 0.5));
    assert_eq!(grads, (6.0, 4.0, 2.0));
}
