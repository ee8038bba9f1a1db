//! A quick pass over many constructs at once (step_by/rev chains, labels, match,
//! fixed arrays, f32, wrt, local buffers), checked by finite differences.
#![allow(
    dead_code,
    clippy::let_and_return,
    clippy::redundant_closure,
    clippy::useless_vec,
    clippy::needless_range_loop
)]

use autodiff_runtime::check::assert_gradient;
use autodiff_runtime::differentiate;

#[differentiate]
fn stepped(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in (0..x.len()).step_by(2) {
        s = s * 0.5 + x[i] * x[i];
    }
    for i in (1..x.len()).rev().step_by(2) {
        s = s.sin() + x[i];
    }
    for i in (0..=2).rev() {
        s *= x[i];
    }
    s
}

#[differentiate]
fn labelled(x: f64, n: usize) -> f64 {
    let mut y = x;
    'outer: for i in 0..n {
        for j in 0..n {
            if j > i {
                continue 'outer;
            }
            y = y * 1.1 + (j as f64) * y.cos();
            if y > 50.0 {
                break 'outer;
            }
        }
    }
    y
}

#[differentiate]
fn matcher(x: f64, k: i32) -> f64 {
    let c = match k {
        0 => x * 2.0,
        1 | 2 => x.exp(),
        3..=5 => {
            let t = x * x;
            t * x
        }
        _ => x,
    };
    let d = if c > 1.0 {
        c.ln()
    } else if c < -1.0 {
        -c
    } else {
        c * c
    };
    d
}

#[differentiate]
fn fixed(a: [f64; 3], b: &[f64; 3]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for i in 0..3 {
        out[i] = a[i] * b[i];
    }
    out
}

#[differentiate]
fn single(x: f32, y: f32) -> f32 {
    (x * y).sin() + x.powi(3)
}

#[differentiate(wrt(y))]
fn only_y(x: f64, y: f64) -> f64 {
    x * y * y
}

#[differentiate]
fn locals(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    let n = v.len();
    for t in 0..3 {
        let old = v.to_vec();
        for i in 1..n - 1 {
            v[i] = old[i] + 0.1 * (old[i - 1] - 2.0 * old[i] + old[i + 1]) + 0.01 * (t as f64);
        }
    }
    let w = vec![v[0], v[n - 1], 2.0];
    v[1] * w[0] + w[1] * w[2]
}

#[test]
fn smoke2() {
    let x = [0.3, 0.7, 1.1, 0.4, 0.9];
    let (v, g) = stepped_grad(&x);
    assert_eq!(v, stepped(&x));
    assert_gradient(|x| stepped(x), &x, &g);

    for n in [1, 3, 6] {
        let (v, g) = labelled_grad(1.3, n);
        assert_eq!(v, labelled(1.3, n));
        assert_gradient(|x| labelled(x[0], n), &[1.3], &[g]);
    }
    for k in 0..7 {
        for x in [0.3, 1.5, -2.0] {
            let (v, g) = matcher_grad(x, k);
            assert_eq!(v, matcher(x, k));
            assert_gradient(|v| matcher(v[0], k), &[x], &[g]);
        }
    }
    let (v, (ga, gb)) = fixed_vjp([1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], [1.0, 10.0, 100.0]);
    assert_eq!(v, [4.0, 10.0, 18.0]);
    assert_eq!(ga, [4.0, 50.0, 600.0]);
    assert_eq!(gb, [1.0, 20.0, 300.0]);
    let (v, (gx, gy)) = single_grad(0.5, 1.5);
    assert_eq!(v, single(0.5, 1.5));
    assert!((gx - ((0.75f32).cos() * 1.5 + 3.0 * 0.25)).abs() < 1e-5);
    assert!((gy - (0.75f32).cos() * 0.5).abs() < 1e-5);
    let (v, gy) = only_y_grad(2.0, 3.0);
    assert_eq!(v, 18.0);
    assert_eq!(gy, 12.0);
    let x = [0.3, 0.7, 1.1, 0.4, 0.9];
    let (v, g) = locals_grad(&x);
    assert_eq!(v, locals(&x));
    assert_gradient(|x| locals(x), &x, &g);
}
