//! The derivative rules: every runtime `<op>_vjp` / `<op>_jvp` against dual numbers
//! on a sweep of points, and the documented one-sided choices at non-differentiable
//! points as seen through generated code.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use autodiff_runtime::rules;
use common::*;

type UnaryRule = (
    &'static str,
    fn(f64, f64) -> f64,
    fn(f64, f64) -> (f64, f64),
    fn(f64) -> f64,
    fn(Dual64) -> Dual64,
    (f64, f64),
);

#[test]
fn unary_rules_match_dual_numbers() {
    let table: Vec<UnaryRule> = vec![
        (
            "sin",
            rules::sin_vjp,
            rules::sin_jvp,
            f64::sin,
            |x| x.sin(),
            (-4.0, 4.0),
        ),
        (
            "cos",
            rules::cos_vjp,
            rules::cos_jvp,
            f64::cos,
            |x| x.cos(),
            (-4.0, 4.0),
        ),
        (
            "tan",
            rules::tan_vjp,
            rules::tan_jvp,
            f64::tan,
            |x| x.tan(),
            (-1.4, 1.4),
        ),
        (
            "asin",
            rules::asin_vjp,
            rules::asin_jvp,
            f64::asin,
            |x| x.asin(),
            (-0.99, 0.99),
        ),
        (
            "acos",
            rules::acos_vjp,
            rules::acos_jvp,
            f64::acos,
            |x| x.acos(),
            (-0.99, 0.99),
        ),
        (
            "atan",
            rules::atan_vjp,
            rules::atan_jvp,
            f64::atan,
            |x| x.atan(),
            (-10.0, 10.0),
        ),
        (
            "sinh",
            rules::sinh_vjp,
            rules::sinh_jvp,
            f64::sinh,
            |x| x.sinh(),
            (-5.0, 5.0),
        ),
        (
            "cosh",
            rules::cosh_vjp,
            rules::cosh_jvp,
            f64::cosh,
            |x| x.cosh(),
            (-5.0, 5.0),
        ),
        (
            "tanh",
            rules::tanh_vjp,
            rules::tanh_jvp,
            f64::tanh,
            |x| x.tanh(),
            (-5.0, 5.0),
        ),
        (
            "exp",
            rules::exp_vjp,
            rules::exp_jvp,
            f64::exp,
            |x| x.exp(),
            (-5.0, 5.0),
        ),
        (
            "exp2",
            rules::exp2_vjp,
            rules::exp2_jvp,
            f64::exp2,
            |x| x.exp2(),
            (-5.0, 5.0),
        ),
        (
            "exp_m1",
            rules::exp_m1_vjp,
            rules::exp_m1_jvp,
            f64::exp_m1,
            |x| x.exp_m1(),
            (-5.0, 5.0),
        ),
        (
            "ln",
            rules::ln_vjp,
            rules::ln_jvp,
            f64::ln,
            |x| x.ln(),
            (0.01, 50.0),
        ),
        (
            "ln_1p",
            rules::ln_1p_vjp,
            rules::ln_1p_jvp,
            f64::ln_1p,
            |x| x.ln_1p(),
            (-0.9, 5.0),
        ),
        (
            "log10",
            rules::log10_vjp,
            rules::log10_jvp,
            f64::log10,
            |x| x.log10(),
            (0.01, 50.0),
        ),
        (
            "log2",
            rules::log2_vjp,
            rules::log2_jvp,
            f64::log2,
            |x| x.log2(),
            (0.01, 50.0),
        ),
        (
            "sqrt",
            rules::sqrt_vjp,
            rules::sqrt_jvp,
            f64::sqrt,
            |x| x.sqrt(),
            (0.01, 50.0),
        ),
        (
            "cbrt",
            rules::cbrt_vjp,
            rules::cbrt_jvp,
            f64::cbrt,
            |x| x.cbrt(),
            (-50.0, 50.0),
        ),
        (
            "recip",
            rules::recip_vjp,
            rules::recip_jvp,
            f64::recip,
            |x| x.recip(),
            (0.1, 10.0),
        ),
    ];
    for (name, vjp, jvp, f, o, (lo, hi)) in table {
        for (k, x) in autodiff_runtime::check::sample_points(7, 50, lo, hi)
            .into_iter()
            .enumerate()
        {
            let g = 0.5 + k as f64 * 0.1;
            let d = o(Dual64::new(x, 1.0)).eps;
            let got = vjp(x, g);
            assert!(
                (got - g * d).abs() <= 1e-12 * (1.0 + (g * d).abs()),
                "{name}_vjp({x}, {g}) = {got}, expected {}",
                g * d
            );
            let (y, dy) = jvp(x, g);
            assert_eq!(y.to_bits(), f(x).to_bits(), "{name}_jvp value at {x}");
            assert!(
                (dy - g * d).abs() <= 1e-12 * (1.0 + (g * d).abs()),
                "{name}_jvp({x}, {g}) tangent = {dy}, expected {}",
                g * d
            );
        }
    }
}

#[test]
fn binary_rules_match_dual_numbers() {
    let pts = autodiff_runtime::check::sample_points(3, 80, 0.1, 3.0);
    for p in pts.chunks(2) {
        let (a, b) = (p[0], p[1]);
        let da = |f: fn(Dual64, Dual64) -> Dual64| dual_grad(|v| f(v[0], v[1]), &[a, b]);
        let check = |name: &str, got: (f64, f64), e: Vec<f64>| {
            let ok = (got.0 - e[0]).abs() <= 1e-10 * (1.0 + e[0].abs())
                && (got.1 - e[1]).abs() <= 1e-10 * (1.0 + e[1].abs());
            assert!(ok, "{name}_vjp({a}, {b}) = {got:?}, expected {e:?}");
        };
        check("mul", rules::mul_vjp(a, b, 1.0), da(|x, y| x * y));
        check("div", rules::div_vjp(a, b, 1.0), da(|x, y| x / y));
        check("add", rules::add_vjp(a, b, 1.0), da(|x, y| x + y));
        check("sub", rules::sub_vjp(a, b, 1.0), da(|x, y| x - y));
        check(
            "atan2",
            rules::atan2_vjp(a, -b, 1.0),
            dual_grad(|v| v[0].atan2(v[1]), &[a, -b]),
        );
        check("powf", rules::powf_vjp(a, b, 1.0), da(|x, y| x.powd(y)));
        check(
            "hypot",
            rules::hypot_vjp(a, b, 1.0),
            da(|x, y| (x * x + y * y).sqrt()),
        );
        let (x1, y1, z1) = rules::mul_add_vjp(a, b, 0.5, 1.0);
        assert_close_slice(&[x1, y1, z1], &[b, a, 1.0]);
        let (v, t) = rules::mul_add_jvp(a, 1.0, b, 0.0, 0.5, 0.0);
        assert_eq!(v.to_bits(), a.mul_add(b, 0.5).to_bits());
        assert_close(t, b);
        let n = (a * 3.0) as i32 - 4;
        assert_close(rules::powi_vjp(a, n, 1.0), Dual64::new(a, 1.0).powi(n).eps);
    }
}

// ---------------------------------------------------------------- documented choices via the macro

#[differentiate]
fn abs_f(x: f64) -> f64 {
    x.abs()
}
#[differentiate]
fn step_fns(x: f64) -> f64 {
    x.signum() + x.floor() + x.ceil() + x.round()
}
#[differentiate]
fn max_f(a: f64, b: f64) -> f64 {
    a.max(b)
}
#[differentiate]
fn min_f(a: f64, b: f64) -> f64 {
    a.min(b)
}
#[differentiate]
fn sqrt_cbrt(x: f64) -> f64 {
    x.sqrt() + x.cbrt()
}
#[differentiate]
fn powf_f(x: f64, y: f64) -> f64 {
    x.powf(y)
}
#[differentiate]
fn powi0(x: f64) -> f64 {
    x.powi(0)
}
#[differentiate]
fn hypot_f(x: f64, y: f64) -> f64 {
    x.hypot(y)
}
#[differentiate]
fn atan2_f(y: f64, x: f64) -> f64 {
    y.atan2(x)
}

#[test]
fn abs_at_zero_is_zero() {
    for x in [0.0, -0.0] {
        let (v, d) = abs_f_grad(x);
        assert_bits(v, abs_f(x));
        assert_eq!(d, 0.0);
    }
    assert_eq!(abs_f_grad(-2.0).1, -1.0);
    assert_eq!(abs_f_grad(2.0).1, 1.0);
}

#[test]
fn step_functions_have_zero_derivative_even_at_jumps() {
    for x in [-1.0, -0.5, 0.0, 0.5, 1.0, 2.5, 0.3] {
        let (v, d) = step_fns_grad(x);
        assert_bits(v, step_fns(x));
        assert_eq!(d, 0.0, "at {x}");
    }
}

#[test]
fn max_min_ties_and_nan() {
    assert_eq!(max_f_grad(1.0, 1.0).1, (1.0, 0.0));
    assert_eq!(max_f_grad(2.0, 1.0).1, (1.0, 0.0));
    assert_eq!(max_f_grad(1.0, 2.0).1, (0.0, 1.0));
    assert_bits(min_f_grad(1.0, 2.0).0, min_f(1.0, 2.0));
    assert_eq!(min_f_grad(1.0, 1.0).1, (1.0, 0.0));
    assert_eq!(min_f_grad(2.0, 1.0).1, (0.0, 1.0));
    assert_eq!(min_f_grad(1.0, 2.0).1, (1.0, 0.0));
    // a NaN argument: std returns the other one, and the gradient goes to it
    let (v, g) = max_f_grad(f64::NAN, 3.0);
    assert_bits(v, max_f(f64::NAN, 3.0));
    assert_eq!(g, (0.0, 1.0));
    let (v, g) = max_f_grad(3.0, f64::NAN);
    assert_bits(v, 3.0);
    assert_eq!(g, (1.0, 0.0));
    let (_, g) = min_f_grad(f64::NAN, 3.0);
    assert_eq!(g, (0.0, 1.0));
    let (_, g) = min_f_grad(3.0, f64::NAN);
    assert_eq!(g, (1.0, 0.0));
}

#[test]
fn sqrt_and_cbrt_at_zero_are_infinite() {
    let (v, d) = sqrt_cbrt_grad(0.0);
    assert_bits(v, sqrt_cbrt(0.0));
    assert_eq!(d, f64::INFINITY);
}

#[test]
fn powf_special_cases() {
    // y == 0: d/dx taken as 0 (even at x == 0)
    let (v, (dx, dy)) = powf_f_grad(0.0, 0.0);
    assert_bits(v, powf_f(0.0, 0.0));
    assert_eq!(dx, 0.0);
    assert_eq!(dy, 0.0);
    let (_, (dx, dy)) = powf_f_grad(2.0, 0.0);
    assert_eq!(dx, 0.0);
    assert_close(dy, 2.0_f64.ln());
    // x == 0: d/dy taken as 0
    let (_, (dx, dy)) = powf_f_grad(0.0, 2.0);
    assert_eq!(dx, 0.0);
    assert_eq!(dy, 0.0);
    // x < 0: d/dy is NaN (ln of a negative number)
    let (v, (dx, dy)) = powf_f_grad(-2.0, 3.0);
    assert_bits(v, -8.0);
    assert_close(dx, 12.0);
    assert!(dy.is_nan());
}

#[test]
fn powi_zero_has_zero_derivative() {
    for x in [0.0, 2.0, -3.0] {
        let (v, d) = powi0_grad(x);
        assert_bits(v, powi0(x));
        assert_eq!(d, 0.0);
    }
}

#[test]
fn hypot_and_atan2_at_origin() {
    let (v, g) = hypot_f_grad(0.0, 0.0);
    assert_bits(v, hypot_f(0.0, 0.0));
    assert_eq!(g, (0.0, 0.0));
    let (v, g) = atan2_f_grad(0.0, 0.0);
    assert_bits(v, atan2_f(0.0, 0.0));
    assert_eq!(g, (0.0, 0.0));
    let (_, (dy, dx)) = atan2_f_grad(1.0, 1.0);
    assert_close_slice(&[dy, dx], &[0.5, -0.5]);
}

#[test]
fn outside_the_domain_derivatives_are_nan_like_values() {
    #[differentiate]
    fn ln_f(x: f64) -> f64 {
        x.ln()
    }
    let (v, d) = ln_f_grad(-1.0);
    assert!(v.is_nan() && ln_f(-1.0).is_nan());
    assert!(
        d.is_nan() || d == -1.0,
        "ln'(-1) by formula 1/x = -1, got {d}"
    );
}
