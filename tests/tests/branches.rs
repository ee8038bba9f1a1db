//! `if` / `else if` / `else` (statement and value), `match` on integers and booleans,
//! conditions with `&&`, `||`, `!`; each branch tested on both sides.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::check::assert_gradient;
use autodiff_runtime::differentiate;
use common::*;

#[differentiate]
fn if_else_chain(x: f64) -> f64 {
    let mut y = 0.0;
    if x < -1.0 {
        y = x * x;
    } else if x < 0.0 {
        y = x.sin() * 3.0;
    } else if x <= 1.0 {
        y += x.exp();
    } else {
        y = x.ln() - x;
    }
    y * x
}

fn if_else_chain_o(v: &[Dual64]) -> Dual64 {
    let x = v[0];
    let y = if x.re < -1.0 {
        x * x
    } else if x.re < 0.0 {
        x.sin() * 3.0
    } else if x.re <= 1.0 {
        x.exp()
    } else {
        x.ln() - x
    };
    y * x
}

#[test]
fn if_else_if_else_statement() {
    for x in [-2.5, -1.0001, -0.999, -0.3, 0.0, 0.4, 1.0, 1.0001, 3.0] {
        let (v, d) = if_else_chain_grad(x);
        assert_bits(v, if_else_chain(x));
        assert_close(d, dual_grad(if_else_chain_o, &[x])[0]);
    }
}

#[differentiate]
fn if_value(x: f64, y: f64) -> f64 {
    let z = if x > y {
        x * y
    } else if x == y {
        2.0 * x
    } else {
        y - x * x
    };
    let w = if z > 0.0 { z.sqrt() } else { -z };
    w + if x > 0.0 { x } else { 0.0 }
}

fn if_value_o(v: &[Dual64]) -> Dual64 {
    let (x, y) = (v[0], v[1]);
    let z = if x.re > y.re {
        x * y
    } else if x.re == y.re {
        x * 2.0
    } else {
        y - x * x
    };
    let w = if z.re > 0.0 { z.sqrt() } else { -z };
    w + if x.re > 0.0 { x } else { c(0.0) }
}

#[test]
fn if_as_a_value() {
    for (x, y) in [
        (2.0, 1.0),
        (0.5, 1.0),
        (1.0, 1.0),
        (-1.0, -3.0),
        (-2.0, -3.0),
        (3.0, 0.5),
        (-1.0, 0.5),
    ] {
        let (v, (dx, dy)) = if_value_grad(x, y);
        assert_bits(v, if_value(x, y));
        assert_close_slice(&[dx, dy], &dual_grad(if_value_o, &[x, y]));
    }
}

#[differentiate]
fn early_return(x: f64) -> f64 {
    if x > 2.0 {
        return x * x;
    }
    let y = x.sin();
    if y < 0.0 {
        return y * 3.0;
    }
    y + x
}

#[test]
fn early_return_in_branch() {
    for x in [3.0, 2.5, 1.0, -0.5, 0.0, 2.0] {
        let (v, d) = early_return_grad(x);
        assert_bits(v, early_return(x));
        let expected = if x > 2.0 {
            2.0 * x
        } else if x.sin() < 0.0 {
            3.0 * x.cos()
        } else {
            x.cos() + 1.0
        };
        assert_close(d, expected);
    }
}

#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(x > y)` is the construct under test
#[differentiate]
fn logic(x: f64, y: f64, flag: bool) -> f64 {
    let mut r = x + y;
    if x > 0.0 && y > 0.0 {
        r = x * y;
    }
    if x < -1.0 || y < -1.0 {
        r *= r;
    }
    if !(x > y) && !flag {
        r += x.exp();
    }
    if (flag || x > 1.0) && !(y > 2.0 && x < 0.0) {
        r -= y * y;
    }
    r
}

#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn logic_o(v: &[Dual64], flag: bool) -> Dual64 {
    let (x, y) = (v[0], v[1]);
    let (xr, yr) = (x.re, y.re);
    let mut r = x + y;
    if xr > 0.0 && yr > 0.0 {
        r = x * y;
    }
    if xr < -1.0 || yr < -1.0 {
        r *= r;
    }
    if !(xr > yr) && !flag {
        r += x.exp();
    }
    if (flag || xr > 1.0) && !(yr > 2.0 && xr < 0.0) {
        r -= y * y;
    }
    r
}

#[test]
fn and_or_not_conditions() {
    let xs = [-2.0, -0.5, 0.5, 1.5];
    let ys = [-2.0, -0.5, 0.7, 2.5];
    for x in xs {
        for y in ys {
            for flag in [false, true] {
                let (v, (dx, dy)) = logic_grad(x, y, flag);
                assert_bits(v, logic(x, y, flag));
                let expected = dual_grad(|p| logic_o(p, flag), &[x, y]);
                assert_close_slice(&[dx, dy], &expected);
            }
        }
    }
}

#[differentiate]
fn match_int(x: f64, k: i32) -> f64 {
    match k {
        0 => x,
        1 | 2 => x * x,
        3..=5 => x.sin() * k as f64,
        n if n < 0 => -x * n as f64,
        m @ 6..=8 if m != 7 => x * m as f64,
        10 => {
            let t = x.exp();
            t * t
        }
        _ => x.cos(),
    }
}

fn match_int_o(x: Dual64, k: i32) -> Dual64 {
    match k {
        0 => x,
        1 | 2 => x * x,
        3..=5 => x.sin() * k as f64,
        n if n < 0 => -x * n as f64,
        m @ 6..=8 if m != 7 => x * m as f64,
        10 => (x * 2.0).exp(),
        _ => x.cos(),
    }
}

#[test]
fn match_on_integers() {
    for k in [-3, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] {
        for x in [-0.7, 0.4, 1.9] {
            let (v, d) = match_int_grad(x, k);
            assert_bits(v, match_int(x, k));
            assert_close(d, match_int_o(Dual64::new(x, 1.0), k).eps);
        }
    }
}

#[differentiate]
fn match_usize_value(x: &[f64], i: usize) -> f64 {
    let w = match i % 3 {
        0 => 1.0,
        1 => x[0],
        _ => x[1] * x[1],
    };
    w * x[i]
}

#[test]
fn match_as_value_on_computed_integer() {
    let x = [1.5, -2.0, 0.3, 4.0];
    for i in 0..4 {
        let (v, g) = match_usize_value_grad(&x, i);
        assert_bits(v, match_usize_value(&x, i));
        assert_gradient(|p| match_usize_value(p, i), &x, &g);
    }
}

#[differentiate]
fn match_bool(x: f64, b: bool) -> f64 {
    let r = match b {
        true => x.sin(),
        false => x.cos(),
    };
    match x > 0.0 {
        true => r * x,
        false => r - x,
    }
}

#[test]
fn match_on_booleans() {
    for b in [true, false] {
        for x in [-1.2, -0.1, 0.3, 2.0] {
            let (v, d) = match_bool_grad(x, b);
            assert_bits(v, match_bool(x, b));
            let o = |p: &[Dual64]| {
                let x = p[0];
                let r = if b { x.sin() } else { x.cos() };
                if x.re > 0.0 {
                    r * x
                } else {
                    r - x
                }
            };
            assert_close(d, dual_grad(o, &[x])[0]);
        }
    }
}

#[differentiate]
fn int_compare_branch(x: f64, n: usize, m: i64) -> f64 {
    let mut y = x;
    if n > 2 && m != 0 {
        y *= x;
    }
    if n as i64 == m || m < -5 {
        y = y.exp();
    }
    y
}

#[test]
fn integer_conditions() {
    for (n, m) in [(3usize, 1i64), (1, 1), (3, 0), (0, -7), (4, 4)] {
        for x in [0.5, -0.3] {
            let (v, d) = int_compare_branch_grad(x, n, m);
            assert_bits(v, int_compare_branch(x, n, m));
            let o = |p: &[Dual64]| {
                let mut y = p[0];
                if n > 2 && m != 0 {
                    y *= p[0];
                }
                if n as i64 == m || m < -5 {
                    y = y.exp();
                }
                y
            };
            assert_close(d, dual_grad(o, &[x])[0]);
        }
    }
}

#[differentiate]
fn nested_if(x: f64, y: f64) -> f64 {
    let mut r = 0.0;
    if x > 0.0 {
        if y > 0.0 {
            r = x * y;
        } else {
            r = x - y;
        }
        r *= 2.0;
    } else {
        let t = x * x;
        if y > t {
            r = y / (1.0 + t);
        }
    }
    r + x
}

#[test]
fn nested_branches() {
    for (x, y) in [(1.0, 2.0), (1.0, -2.0), (-1.0, 3.0), (-1.0, 0.5)] {
        let (v, (dx, dy)) = nested_if_grad(x, y);
        assert_bits(v, nested_if(x, y));
        assert_gradient(|p| nested_if(p[0], p[1]), &[x, y], &[dx, dy]);
    }
    // At the kink (0, 0) the path that runs is `else`, `y > t` false: f = x.
    let (v, g) = nested_if_grad(0.0, 0.0);
    assert_bits(v, nested_if(0.0, 0.0));
    assert_eq!(g, (1.0, 0.0));
}
