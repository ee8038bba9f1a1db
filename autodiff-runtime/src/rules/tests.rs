//! Table tests: every rule against finite differences (f64 and f32), plus the edge-case conventions.

use super::*;
use crate::check::{check_gradient, close, Tolerance};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// f32 rules are computed in f32: compare loosely with the f64 finite differences.
const TOL32: Tolerance = Tolerance::new(2e-5, 1e-6);
/// jvp and vjp compute the same derivative, up to a few roundings.
const SAME: Tolerance = Tolerance::new(1e-14, 0.0);

struct Unary {
    name: &'static str,
    f64: fn(f64) -> f64,
    f32: fn(f32) -> f32,
    vjp64: fn(f64, f64) -> f64,
    jvp64: fn(f64, f64) -> (f64, f64),
    vjp32: fn(f32, f32) -> f32,
    jvp32: fn(f32, f32) -> (f32, f32),
    points: &'static [f64],
}

macro_rules! unary {
    ($op:ident, $vjp:ident, $jvp:ident, $points:expr) => {
        unary!($op, $vjp, $jvp, f64::$op, f32::$op, $points)
    };
    ($op:ident, $vjp:ident, $jvp:ident, $f64:expr, $f32:expr, $points:expr) => {
        Unary {
            name: stringify!($op),
            f64: $f64,
            f32: $f32,
            vjp64: $vjp::<f64>,
            jvp64: $jvp::<f64>,
            vjp32: $vjp::<f32>,
            jvp32: $jvp::<f32>,
            points: &$points,
        }
    };
}

fn unary_table() -> Vec<Unary> {
    vec![
        unary!(
            neg,
            neg_vjp,
            neg_jvp,
            <f64 as Neg>::neg,
            <f32 as Neg>::neg,
            [-2.0, 0.0, 3.5]
        ),
        unary!(sin, sin_vjp, sin_jvp, [-2.0, -0.3, 0.0, 0.5, 1.2, 10.0]),
        unary!(cos, cos_vjp, cos_jvp, [-2.0, -0.3, 0.0, 0.5, 1.2, 10.0]),
        unary!(tan, tan_vjp, tan_jvp, [-2.0, -0.3, 0.0, 0.5, 1.2]),
        unary!(asin, asin_vjp, asin_jvp, [-0.9, -0.3, 0.0, 0.5, 0.95]),
        unary!(acos, acos_vjp, acos_jvp, [-0.9, -0.3, 0.0, 0.5, 0.95]),
        unary!(atan, atan_vjp, atan_jvp, [-20.0, -1.0, 0.0, 0.5, 3.0]),
        unary!(sinh, sinh_vjp, sinh_jvp, [-3.0, -0.5, 0.0, 0.7, 2.0]),
        unary!(cosh, cosh_vjp, cosh_jvp, [-3.0, -0.5, 0.0, 0.7, 2.0]),
        unary!(tanh, tanh_vjp, tanh_jvp, [-3.0, -0.5, 0.0, 0.7, 2.0]),
        unary!(exp, exp_vjp, exp_jvp, [-5.0, -0.5, 0.0, 1.0, 10.0]),
        unary!(exp2, exp2_vjp, exp2_jvp, [-5.0, -0.5, 0.0, 1.0, 10.0]),
        unary!(exp_m1, exp_m1_vjp, exp_m1_jvp, [-5.0, -1.0, 1e-3, 0.5, 3.0]),
        unary!(ln, ln_vjp, ln_jvp, [1e-3, 0.5, 1.0, 7.0, 1e4]),
        unary!(ln_1p, ln_1p_vjp, ln_1p_jvp, [-0.9, -1e-3, 0.0, 1.0, 50.0]),
        unary!(log10, log10_vjp, log10_jvp, [1e-3, 0.5, 1.0, 7.0, 1e4]),
        unary!(log2, log2_vjp, log2_jvp, [1e-3, 0.5, 1.0, 7.0, 1e4]),
        unary!(sqrt, sqrt_vjp, sqrt_jvp, [1e-3, 0.25, 2.0, 100.0]),
        unary!(cbrt, cbrt_vjp, cbrt_jvp, [-8.0, -0.5, 0.3, 27.0]),
        unary!(abs, abs_vjp, abs_jvp, [-2.0, -0.1, 0.1, 3.0]),
        unary!(signum, signum_vjp, signum_jvp, [-2.0, -0.1, 0.1, 3.0]),
        unary!(recip, recip_vjp, recip_jvp, [-3.0, -0.2, 0.25, 5.0]),
        unary!(
            logistic,
            logistic_vjp,
            logistic_jvp,
            logistic::<f64>,
            logistic::<f32>,
            [-30.0, -2.0, 0.0, 0.7, 5.0]
        ),
        unary!(floor, floor_vjp, floor_jvp, [-1.5, -0.3, 0.25, 2.7]),
        unary!(ceil, ceil_vjp, ceil_jvp, [-1.5, -0.3, 0.25, 2.7]),
        unary!(round, round_vjp, round_jvp, [-1.3, -0.2, 0.3, 2.7]),
    ]
}

#[test]
fn unary_rules_match_finite_differences() {
    let table = unary_table();
    assert_eq!(table.len(), 26, "every unary rule is in the table");
    for case in &table {
        for &x in case.points {
            let ctx = format!("{} at {x}", case.name);
            let f = case.f64;
            // f64: vjp against finite differences, linear in g, jvp agreeing with it.
            let d = (case.vjp64)(x, 1.0);
            if let Err(e) = check_gradient(|v| f(v[0]), &[x], &[d], Tolerance::default()) {
                panic!("{ctx} (f64 vjp):\n{e}");
            }
            assert!(
                close((case.vjp64)(x, -0.75), -0.75 * d, SAME),
                "{ctx}: vjp not linear in g"
            );
            let (y, dy) = (case.jvp64)(x, 1.0);
            assert_eq!(
                y.to_bits(),
                f(x).to_bits(),
                "{ctx}: jvp value not bit-identical"
            );
            assert!(close(dy, d, SAME), "{ctx}: jvp {dy} vs vjp {d}");
            assert!(
                close((case.jvp64)(x, 2.5).1, 2.5 * d, SAME),
                "{ctx}: jvp not linear"
            );

            // f32: computed in f32, checked against the f64 estimate at the same point.
            let x32 = x as f32;
            let d32 = (case.vjp32)(x32, 1.0);
            if let Err(e) = check_gradient(|v| f(v[0]), &[f64::from(x32)], &[f64::from(d32)], TOL32)
            {
                panic!("{ctx} (f32 vjp):\n{e}");
            }
            let (y32, dy32) = (case.jvp32)(x32, 1.0);
            assert_eq!(
                y32.to_bits(),
                (case.f32)(x32).to_bits(),
                "{ctx}: f32 jvp value"
            );
            assert!(
                close(f64::from(dy32), f64::from(d32), Tolerance::new(1e-6, 0.0)),
                "{ctx}"
            );
        }
    }
}

struct Binary {
    name: &'static str,
    f64: fn(f64, f64) -> f64,
    f32: fn(f32, f32) -> f32,
    vjp64: fn(f64, f64, f64) -> (f64, f64),
    jvp64: fn(f64, f64, f64, f64) -> (f64, f64),
    vjp32: fn(f32, f32, f32) -> (f32, f32),
    jvp32: fn(f32, f32, f32, f32) -> (f32, f32),
    points: &'static [(f64, f64)],
}

macro_rules! binary {
    ($op:ident, $vjp:ident, $jvp:ident, $f64:expr, $f32:expr, $points:expr) => {
        Binary {
            name: stringify!($op),
            f64: $f64,
            f32: $f32,
            vjp64: $vjp::<f64>,
            jvp64: $jvp::<f64>,
            vjp32: $vjp::<f32>,
            jvp32: $jvp::<f32>,
            points: &$points,
        }
    };
}

fn binary_table() -> Vec<Binary> {
    const PTS: [(f64, f64); 4] = [(1.0, 2.0), (-3.0, 0.5), (2.0, -7.0), (0.0, 1.5)];
    vec![
        binary!(
            add,
            add_vjp,
            add_jvp,
            <f64 as Add>::add,
            <f32 as Add>::add,
            PTS
        ),
        binary!(
            sub,
            sub_vjp,
            sub_jvp,
            <f64 as Sub>::sub,
            <f32 as Sub>::sub,
            PTS
        ),
        binary!(
            mul,
            mul_vjp,
            mul_jvp,
            <f64 as Mul>::mul,
            <f32 as Mul>::mul,
            PTS
        ),
        binary!(
            div,
            div_vjp,
            div_jvp,
            <f64 as Div>::div,
            <f32 as Div>::div,
            PTS
        ),
        binary!(
            atan2,
            atan2_vjp,
            atan2_jvp,
            f64::atan2,
            f32::atan2,
            [
                (1.0, 2.0),
                (-3.0, 0.5),
                (2.0, -7.0),
                (0.0, 1.5),
                (1e-3, -2.0)
            ]
        ),
        binary!(
            powf,
            powf_vjp,
            powf_jvp,
            f64::powf,
            f32::powf,
            [(0.5, 2.3), (2.0, -1.5), (3.0, 0.0), (1.5, 3.0), (7.0, 0.5)]
        ),
        binary!(
            max,
            max_vjp,
            max_jvp,
            f64::max,
            f32::max,
            [(1.0, 2.0), (3.0, -1.0), (-0.5, -0.7)]
        ),
        binary!(
            min,
            min_vjp,
            min_jvp,
            f64::min,
            f32::min,
            [(1.0, 2.0), (3.0, -1.0), (-0.5, -0.7)]
        ),
        binary!(
            hypot,
            hypot_vjp,
            hypot_jvp,
            f64::hypot,
            f32::hypot,
            [(3.0, 4.0), (-1.0, 0.5), (1e-3, 2.0)]
        ),
    ]
}

#[test]
fn binary_rules_match_finite_differences() {
    for case in &binary_table() {
        for &(a, b) in case.points {
            let ctx = format!("{}({a}, {b})", case.name);
            let f = case.f64;
            let (da, db) = (case.vjp64)(a, b, 1.0);
            if let Err(e) =
                check_gradient(|v| f(v[0], v[1]), &[a, b], &[da, db], Tolerance::default())
            {
                panic!("{ctx} (f64 vjp):\n{e}");
            }
            let (ga, gb) = (case.vjp64)(a, b, 0.5);
            assert!(
                close(ga, 0.5 * da, SAME) && close(gb, 0.5 * db, SAME),
                "{ctx}: linear"
            );
            let (y, ta) = (case.jvp64)(a, 1.0, b, 0.0);
            let (_, tb) = (case.jvp64)(a, 0.0, b, 1.0);
            let (_, tab) = (case.jvp64)(a, 2.0, b, -3.0);
            assert_eq!(
                y.to_bits(),
                f(a, b).to_bits(),
                "{ctx}: jvp value not bit-identical"
            );
            assert!(
                close(ta, da, SAME) && close(tb, db, SAME),
                "{ctx}: jvp vs vjp"
            );
            assert!(
                close(tab, 2.0 * da - 3.0 * db, Tolerance::new(1e-14, 1e-15)),
                "{ctx}"
            );

            let (a32, b32) = (a as f32, b as f32);
            let (da32, db32) = (case.vjp32)(a32, b32, 1.0);
            let x = [f64::from(a32), f64::from(b32)];
            let g = [f64::from(da32), f64::from(db32)];
            if let Err(e) = check_gradient(|v| f(v[0], v[1]), &x, &g, TOL32) {
                panic!("{ctx} (f32 vjp):\n{e}");
            }
            let (y32, _) = (case.jvp32)(a32, 1.0, b32, 0.0);
            assert_eq!(
                y32.to_bits(),
                (case.f32)(a32, b32).to_bits(),
                "{ctx}: f32 jvp value"
            );
        }
    }
}

#[test]
fn powi_matches_finite_differences() {
    for n in [-3, -1, 0, 1, 2, 5] {
        for x in [-1.5, 0.5, 2.0] {
            let d = powi_vjp(x, n, 1.0);
            if let Err(e) = check_gradient(|v| v[0].powi(n), &[x], &[d], Tolerance::default()) {
                panic!("powi({x}, {n}):\n{e}");
            }
            let (y, dy) = powi_jvp(x, 1.0, n);
            assert_eq!(y.to_bits(), x.powi(n).to_bits());
            assert!(close(dy, d, SAME));
            let x32 = x as f32;
            let d32 = powi_vjp(x32, n, 1.0);
            let g = [f64::from(d32)];
            if let Err(e) = check_gradient(|v| v[0].powi(n), &[f64::from(x32)], &g, TOL32) {
                panic!("powi({x32}_f32, {n}):\n{e}");
            }
            assert_eq!(powi_jvp(x32, 1.0, n).0.to_bits(), x32.powi(n).to_bits());
        }
    }
    // n - 1 would overflow for i32::MIN.
    assert_eq!(powi_vjp(1.0_f64, i32::MIN, 1.0), f64::from(i32::MIN));
    assert_eq!(powi_vjp(-1.0_f64, i32::MIN, 1.0), -f64::from(i32::MIN));
}

#[test]
fn mul_add_matches_finite_differences() {
    for (a, b, c) in [(2.0, 3.0, 4.0), (-0.5, 1e3, 7.0), (0.1, -0.2, -0.3)] {
        let (da, db, dc) = mul_add_vjp(a, b, c, 1.0);
        let f = |v: &[f64]| v[0].mul_add(v[1], v[2]);
        if let Err(e) = check_gradient(f, &[a, b, c], &[da, db, dc], Tolerance::default()) {
            panic!("mul_add({a}, {b}, {c}):\n{e}");
        }
        let (y, t) = mul_add_jvp(a, 1.0, b, 2.0, c, 3.0);
        assert_eq!(y.to_bits(), a.mul_add(b, c).to_bits());
        assert!(close(t, da + 2.0 * db + 3.0 * dc, SAME));
        let (a32, b32, c32) = (a as f32, b as f32, c as f32);
        assert_eq!(mul_add_vjp(a32, b32, c32, 2.0), (2.0 * b32, 2.0 * a32, 2.0));
        assert_eq!(
            mul_add_jvp(a32, 0.0, b32, 0.0, c32, 1.0),
            (a32.mul_add(b32, c32), 1.0)
        );
    }
}

#[test]
fn abs_at_zero_is_zero() {
    for z in [0.0_f64, -0.0] {
        assert_eq!(abs_vjp(z, 1.0), 0.0);
        assert_eq!(abs_vjp(z, f64::INFINITY), 0.0);
        assert_eq!(abs_jvp(z, 1.0), (0.0, 0.0));
    }
    assert_eq!(abs_vjp(0.0_f32, 1.0), 0.0);
    assert_eq!(abs_vjp(-3.0_f64, 2.0), -2.0);
    assert!(abs_vjp(f64::NAN, 1.0).is_nan());
}

#[test]
fn piecewise_constant_rules_are_zero_everywhere() {
    type Rule = (fn(f64, f64) -> f64, fn(f64, f64) -> (f64, f64));
    let rules: [Rule; 4] = [
        (signum_vjp, signum_jvp),
        (floor_vjp, floor_jvp),
        (ceil_vjp, ceil_jvp),
        (round_vjp, round_jvp),
    ];
    for (vjp, jvp) in rules {
        for x in [0.0, -0.0, 1.0, -2.0, 0.5, -1.5, f64::NAN, f64::INFINITY] {
            assert_eq!(vjp(x, 1.0), 0.0);
            assert_eq!(vjp(x, f64::NAN), 0.0);
            assert_eq!(jvp(x, f64::INFINITY).1, 0.0);
        }
    }
    assert_eq!(floor_jvp(2.5_f32, 1.0), (2.0, 0.0));
}

#[test]
fn max_min_ties_and_nans() {
    let nan = f64::NAN;
    assert_eq!(max_vjp(2.0, 2.0, 1.0), (1.0, 0.0));
    assert_eq!(max_vjp(0.0, -0.0, 1.0), (1.0, 0.0));
    assert_eq!(max_vjp(nan, 1.0, 1.0), (0.0, 1.0));
    assert_eq!(max_vjp(1.0, nan, 1.0), (1.0, 0.0));
    assert_eq!(max_vjp(nan, nan, 1.0), (1.0, 0.0));
    assert_eq!(max_jvp(2.0, 0.1, 2.0, 0.2), (2.0, 0.1));
    assert_eq!(max_jvp(nan, 0.1, 3.0, 0.2), (3.0, 0.2));
    assert_eq!(max_jvp(3.0, 0.1, nan, 0.2), (3.0, 0.1));

    assert_eq!(min_vjp(2.0, 2.0, 1.0), (1.0, 0.0));
    assert_eq!(min_vjp(-0.0, 0.0, 1.0), (1.0, 0.0));
    assert_eq!(min_vjp(nan, 1.0, 1.0), (0.0, 1.0));
    assert_eq!(min_vjp(1.0, nan, 1.0), (1.0, 0.0));
    assert_eq!(min_jvp(2.0_f32, 0.1, 2.0, 0.2), (2.0, 0.1));
    assert_eq!(min_jvp(nan, 0.1, 3.0, 0.2), (3.0, 0.2));

    // The gradient always follows the argument std returned.
    for (a, b) in [(1.0, 2.0), (2.0, 1.0), (nan, 1.0), (1.0, nan), (-0.0, 0.0)] {
        let (da, _) = max_vjp(a, b, 1.0);
        let picked = if da == 1.0 { a } else { b };
        assert_eq!(picked.to_bits(), f64::max(a, b).to_bits(), "max({a}, {b})");
        let (da, _) = min_vjp(a, b, 1.0);
        let picked = if da == 1.0 { a } else { b };
        assert_eq!(picked.to_bits(), f64::min(a, b).to_bits(), "min({a}, {b})");
    }
}

#[test]
fn sqrt_and_cbrt_at_zero_are_infinite() {
    assert_eq!(sqrt_vjp(0.0_f64, 1.0), f64::INFINITY);
    assert_eq!(sqrt_jvp(0.0_f64, 1.0), (0.0, f64::INFINITY));
    assert_eq!(sqrt_vjp(0.0_f32, 1.0), f32::INFINITY);
    assert_eq!(cbrt_vjp(0.0_f64, 1.0), f64::INFINITY);
    assert!(sqrt_vjp(-1.0_f64, 1.0).is_nan());
}

#[test]
fn powf_conventions() {
    // d/dy at x = 0 is 0; d/dx of x^0 is 0.
    assert_eq!(powf_vjp(0.0_f64, 2.0, 1.0), (0.0, 0.0));
    assert_eq!(powf_vjp(0.0_f64, 0.0, 1.0), (0.0, 0.0));
    assert_eq!(powf_vjp(5.0_f64, 0.0, 1.0).0, 0.0);
    assert_eq!(powf_vjp(0.0_f64, 1.0, 1.0), (1.0, 0.0));
    assert_eq!(powf_vjp(0.0_f64, 0.5, 1.0).0, f64::INFINITY);
    // Negative base, integer exponent: d/dx is right, d/dy is NaN (ln of a negative).
    let (dx, dy) = powf_vjp(-2.0_f64, 3.0, 1.0);
    assert_eq!(dx, 12.0);
    assert!(dy.is_nan());
    // Forward mode leaves out terms with a zero tangent.
    assert_eq!(powf_jvp(-2.0_f64, 1.0, 3.0, 0.0), (-8.0, 12.0));
    assert_eq!(powf_jvp(0.0_f32, 0.0, 2.0, 1.0), (0.0, 0.0));
}

#[test]
fn powi_zero_exponent() {
    for x in [0.0_f64, 2.0, -3.0] {
        assert_eq!(powi_vjp(x, 0, 1.0), 0.0);
        assert_eq!(powi_jvp(x, 1.0, 0), (1.0, 0.0));
    }
    assert_eq!(powi_vjp(0.0_f64, 1, 1.0), 1.0);
}

#[test]
fn origin_conventions() {
    assert_eq!(hypot_vjp(0.0_f64, 0.0, 1.0), (0.0, 0.0));
    assert_eq!(hypot_jvp(0.0_f64, 1.0, -0.0, 1.0), (0.0, 0.0));
    assert_eq!(atan2_vjp(0.0_f64, 0.0, 1.0), (0.0, 0.0));
    assert_eq!(atan2_jvp(0.0_f32, 1.0, 0.0, 1.0), (0.0, 0.0));
    // No overflow far from the origin.
    let (dy, dx) = atan2_vjp(1e300_f64, 1e300, 1.0);
    assert!(close(dy, 0.5e-300, SAME) && close(dx, -0.5e-300, SAME));
    let (dx, dy) = hypot_vjp(3e300_f64, 4e300, 1.0);
    assert!(close(dx, 0.6, SAME) && close(dy, 0.8, SAME));
}

#[test]
fn accuracy_in_the_tails() {
    // exp_m1' = exp, not exp_m1 + 1 (which would be 0 here).
    assert_eq!(exp_m1_vjp(-40.0_f64, 1.0), (-40.0_f64).exp());
    // tanh saturates to an exact zero derivative.
    assert_eq!(tanh_vjp(30.0_f64, 1.0), 0.0);
    // logistic: y (1 - y) keeps its relative accuracy for negative x, where y is
    // tiny; it saturates to an exact zero where y rounds to 1.
    let x = -40.0_f64;
    let y = 1.0 / (1.0 + 40.0_f64.exp());
    assert!(close(logistic_vjp(x, 1.0), y * (1.0 - y), SAME));
    assert!(close(
        logistic_vjp(x, 1.0),
        x.exp(),
        Tolerance::new(1e-12, 0.0)
    ));
    assert_eq!(logistic_vjp(40.0_f64, 1.0), 0.0);
    // asin near 1: computed from the exact 1 - x.
    let x = 1.0 - 1e-12;
    let d = 1.0 - x; // exact
    let exact = 1.0 / (d * (2.0 - d)).sqrt();
    assert!(close(asin_vjp(x, 1.0), exact, SAME));
    // div through the quotient does not underflow where b² would.
    assert!(close(div_vjp(1e-200_f64, 1e-200, 1.0).1, -1e200, SAME));
}

#[test]
fn output_rules_match_input_rules_bit_for_bit() {
    type Pair = (fn(f64) -> f64, fn(f64, f64) -> f64, fn(f64, f64) -> f64);
    let pairs: [(&str, Pair); 7] = [
        ("tanh", (f64::tanh, tanh_vjp, tanh_vjp_from_output)),
        ("exp", (f64::exp, exp_vjp, exp_vjp_from_output)),
        ("exp2", (f64::exp2, exp2_vjp, exp2_vjp_from_output)),
        ("sqrt", (f64::sqrt, sqrt_vjp, sqrt_vjp_from_output)),
        ("cbrt", (f64::cbrt, cbrt_vjp, cbrt_vjp_from_output)),
        ("recip", (f64::recip, recip_vjp, recip_vjp_from_output)),
        (
            "logistic",
            (logistic, logistic_vjp, logistic_vjp_from_output),
        ),
    ];
    let points = [
        0.0,
        -0.0,
        1e-300,
        0.5,
        1.0,
        2.5,
        30.0,
        700.0,
        710.0,
        -3.0,
        -745.0,
        1e300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    for (name, (f, from_input, from_output)) in pairs {
        for x in points {
            for g in [1.0, -0.75, 0.0] {
                let (a, b) = (from_input(x, g), from_output(f(x), g));
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "{name} at {x} with g = {g}: {a} from the input, {b} from the output"
                );
            }
        }
    }
    assert_eq!(
        tanh_vjp_from_output(0.5_f32.tanh(), 2.0),
        tanh_vjp(0.5_f32, 2.0)
    );
}
