//! Shapes common in other AD tools' test suites: recursion, nested calls, early
//! exits from `match`, float-controlled `while`, literals in every notation.
#![allow(clippy::single_match)]

use autodiff_runtime::check::assert_gradient;
use autodiff_runtime::differentiate;

#[differentiate]
fn power(x: f64, n: u32) -> f64 {
    if n == 0 {
        1.0
    } else {
        x * power(x, n - 1)
    }
}

#[differentiate]
fn inner(x: f64) -> f64 {
    x.sin() * 2.
}

#[differentiate]
fn nested(x: f64, y: f64) -> f64 {
    inner(inner(x) * y) + f64::max(x, 1e-3) - 2f64 * -y.sin()
}

#[differentiate]
fn grow(x: f64) -> f64 {
    let mut y = x;
    let mut steps = 0;
    while y < 10.0 {
        y = y * 1.5 + 0.1;
        steps += 1;
        match steps {
            20 => return y,
            _ => {}
        }
    }
    y
}

#[test]
fn recursion_nested_calls_and_float_loops() {
    for n in 0..5 {
        let (v, g) = power_grad(1.3, n);
        assert_eq!(v, power(1.3, n));
        assert_gradient(|x| power(x[0], n), &[1.3], &[g]);
    }
    let (v, (gx, gy)) = nested_grad(0.7, -1.2);
    assert_eq!(v, nested(0.7, -1.2));
    assert_gradient(|p| nested(p[0], p[1]), &[0.7, -1.2], &[gx, gy]);
    for x in [0.5, 3.0, 12.0] {
        let (v, g) = grow_grad(x);
        assert_eq!(v, grow(x));
        assert_gradient(|p| grow(p[0]), &[x], &[g]);
    }
}
