//! Forward mode and second order over the constructs the reverse-mode tests cover:
//! branches, `match`, `while`, `loop`/`break`/`continue`, labels, early `return`,
//! local buffers, overwrites, `&mut` state, `f32`. Each function is checked for
//! `f_jvp` against `f_grad` (`∇f·v`), `f_hvp` against finite differences of
//! `f_grad`, and the symmetry `uᵀ(H·w) = wᵀ(H·u)`.
#![allow(clippy::needless_range_loop)]

use autodiff_runtime::check::{fd_gradient, sample_points};
use autodiff_runtime::differentiate;

fn close(a: f64, b: f64, rel: f64) {
    let scale = a.abs().max(b.abs()).max(1.0);
    assert!((a - b).abs() <= rel * scale, "{a} vs {b}");
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// Checks one function given its generated derivatives as closures over `x`.
fn check(
    x: &[f64],
    primal: impl Fn(&[f64]) -> f64,
    grad: impl Fn(&[f64]) -> (f64, Vec<f64>),
    jvp: impl Fn(&[f64], &[f64]) -> (f64, f64),
    hvp: impl Fn(&[f64], &[f64]) -> (f64, Vec<f64>, Vec<f64>),
) {
    let n = x.len();
    let u = sample_points(7, n, -1.0, 1.0);
    let w = sample_points(8, n, -1.0, 1.0);
    let (value, gradient) = grad(x);
    assert_eq!(value.to_bits(), primal(x).to_bits());
    let (value_t, tangent) = jvp(x, &u);
    assert_eq!(value_t.to_bits(), value.to_bits());
    close(tangent, dot(&gradient, &u), 1e-12);
    let (value_h, gradient_h, hu) = hvp(x, &u);
    assert_eq!(value_h.to_bits(), value.to_bits());
    assert_eq!(gradient_h, gradient);
    let (_, _, hw) = hvp(x, &w);
    close(dot(&w, &hu), dot(&u, &hw), 1e-10);
    let along = |t: f64| {
        let moved: Vec<f64> = (0..n).map(|i| x[i] + t * u[i]).collect();
        dot(&grad(&moved).1, &w)
    };
    let fd = fd_gradient(|t| along(t[0]), &[0.0])[0];
    close(dot(&w, &hu), fd, 1e-6);
}

macro_rules! slice_fn {
    ($f:ident, $grad:ident, $jvp:ident, $hvp:ident) => {
        (
            |x: &[f64]| $f(x),
            |x: &[f64]| $grad(x),
            |x: &[f64], v: &[f64]| $jvp(x, v),
            |x: &[f64], v: &[f64]| $hvp(x, v),
        )
    };
}

#[differentiate(forward, hvp)]
fn branches(x: &[f64]) -> f64 {
    let a = x[0] * x[1];
    let b = if a > 0.2 {
        a.sin() * x[2]
    } else if a < -0.2 {
        (a * a + 1.0).ln()
    } else {
        a.exp() * x[2]
    };
    let k = (x[1] * 3.0) as i32;
    let c = match k {
        0 => b * 2.0,
        1 | 2 => b.powi(2),
        n if n < 0 => -b * n as f64,
        _ => b.cosh(),
    };
    c + b.max(x[0])
}

#[differentiate(forward, hvp)]
fn loops(x: &[f64]) -> f64 {
    let mut s = x[0];
    let mut k = 0;
    while s < 4.0 && k < 50 {
        s = s * 1.3 + x[1] * x[1];
        k += 1;
    }
    'outer: for i in 0..4 {
        for j in (0..3).rev() {
            if j == i {
                continue 'outer;
            }
            s = s.sin() * x[2] + s;
            if s > 100.0 {
                break 'outer;
            }
        }
    }
    let mut t = 0.0;
    loop {
        t += s.cos() * 0.1 + x[0];
        if t > 1.0 {
            break;
        }
        if t < -5.0 {
            return t * s;
        }
    }
    t * s
}

#[differentiate(forward, hvp)]
fn buffers(x: &[f64]) -> f64 {
    let n = x.len();
    let mut v = x.to_vec();
    let mut w = vec![0.0; n];
    let mut fixed = [0.0; 3];
    for step in 0..3 {
        for i in 0..n {
            w[i] = v[i] * v[(i + 1) % n] + (step as f64) * 0.1;
        }
        for i in 0..n {
            v[i] += w[i].tanh();
        }
        fixed[step] = v[0] * v[n - 1];
    }
    let mut s = 0.0;
    for i in (0..n).step_by(2) {
        s += v[i] * v[i];
    }
    s + fixed[0] * fixed[1] + fixed[2].sqrt()
}

#[test]
fn forward_and_second_order_over_constructs() {
    // Points away from the branch boundaries (finite differences cross them).
    for x in [
        [0.45, 0.55, 0.7],
        [-0.6, 0.1, 1.2],
        [0.9, -0.8, 0.3],
        [0.1, 0.9, -0.4],
    ] {
        let (f, g, j, h) = slice_fn!(branches, branches_grad, branches_jvp, branches_hvp);
        check(&x, f, g, j, h);
    }
    for x in [[0.4, 0.5, 0.7], [1.1, 0.2, -0.4]] {
        let (f, g, j, h) = slice_fn!(loops, loops_grad, loops_jvp, loops_hvp);
        check(&x, f, g, j, h);
    }
    let x = sample_points(3, 5, 0.1, 0.9);
    let (f, g, j, h) = slice_fn!(buffers, buffers_grad, buffers_jvp, buffers_hvp);
    check(&x, f, g, j, h);
}

#[differentiate(forward, jacobian)]
fn integrate(state: &mut [f64], k: f64, steps: usize) {
    for _ in 0..steps {
        let first = state[0];
        for i in 0..state.len() - 1 {
            state[i] += 0.1 * (k * (state[i + 1] - state[i])).sin();
        }
        let last = state.len() - 1;
        state[last] += 0.1 * (first - state[last]).cos();
    }
}

#[test]
fn forward_mode_on_mut_state_matches_its_jacobian() {
    let x0 = vec![0.2, -0.3, 0.8, 0.5];
    let mut state = x0.clone();
    let ((), jac) = integrate_jacobian(&mut state, 1.4, 6);
    let v = [0.3, -0.1, 0.5, 0.2];
    let mut state = x0.clone();
    let mut tangent = v.to_vec();
    let ((), ()) = integrate_jvp(&mut state, 1.4, 6, &mut tangent, 0.7);
    let mut expected = x0.clone();
    integrate(&mut expected, 1.4, 6);
    assert_eq!(state, expected);
    for i in 0..4 {
        let jv: f64 = (0..4).map(|j| jac[(i, j)] * v[j]).sum::<f64>() + jac[(i, 4)] * 0.7;
        close(tangent[i], jv, 1e-12);
    }
}

#[differentiate(forward, hvp)]
fn single(x: f32, y: f32) -> f32 {
    (x * y).sin() + x.powi(3) / (1.0 + y * y)
}

#[test]
fn f32_forward_and_second_order() {
    let (value, tangent) = single_jvp(0.5, 1.5, 1.0, 0.0);
    assert_eq!(value, single(0.5, 1.5));
    let (_, (gx, _)) = single_grad(0.5, 1.5);
    assert!((tangent - gx).abs() < 1e-5);
    let (_, _, (hxx, hyx)) = single_hvp(0.5, 1.5, 1.0, 0.0);
    let (_, _, (hxy, _)) = single_hvp(0.5, 1.5, 0.0, 1.0);
    assert!((hyx - hxy).abs() < 1e-4, "{hyx} vs {hxy}");
    let h = 1e-2f32;
    let fd = (single_grad(0.5 + h, 1.5).1 .0 - single_grad(0.5 - h, 1.5).1 .0) / (2.0 * h);
    assert!((hxx - fd).abs() < 1e-2 * fd.abs().max(1.0), "{hxx} vs {fd}");
}

#[differentiate(hvp)]
fn settle(state: &mut [f64], k: f64) -> f64 {
    let n = state.len();
    for _ in 0..3 {
        for i in 0..n - 1 {
            state[i] += 0.1 * (k * state[i + 1]).sin();
        }
    }
    let mut e = 0.0;
    for i in 0..n {
        e += state[i] * state[i] * k;
    }
    e
}

/// `f_hvp` and `f_hessian` with in-place state: derivatives with respect to the
/// buffer's initial contents, and the buffer ends as `settle` leaves it.
#[test]
fn second_order_with_mut_state() {
    let x0 = vec![0.3, -0.5, 0.8];
    let k = 1.2;
    let grad_at = |x: &[f64], k: f64| {
        let mut s = x.to_vec();
        let (_, (g, gk)) = settle_grad(&mut s, k);
        let mut all = g;
        all.push(gk);
        all
    };
    let u = [0.4, -0.2, 0.6, 0.3];
    let w = [-0.1, 0.5, 0.2, -0.7];
    let mut state = x0.clone();
    let (value, (g, gk), (hu, huk)) = settle_hvp(&mut state, k, &u[..3], u[3]);
    let mut expected = x0.clone();
    assert_eq!(value.to_bits(), settle(&mut expected, k).to_bits());
    assert_eq!(state, expected);
    let mut gradient = g;
    gradient.push(gk);
    assert_eq!(gradient, grad_at(&x0, k));
    let mut hu_all = hu;
    hu_all.push(huk);
    let along = |t: f64| {
        let moved: Vec<f64> = (0..3).map(|i| x0[i] + t * u[i]).collect();
        dot(&grad_at(&moved, k + t * u[3]), &w)
    };
    let fd = fd_gradient(|t| along(t[0]), &[0.0])[0];
    close(dot(&w, &hu_all), fd, 1e-6);
    let mut state = x0.clone();
    let (_, h) = settle_hessian(&mut state, k);
    assert_eq!(state, expected);
    for i in 0..4 {
        close(
            h[(i, 0)] * u[0] + h[(i, 1)] * u[1] + h[(i, 2)] * u[2] + h[(i, 3)] * u[3],
            hu_all[i],
            1e-10,
        );
        for j in 0..4 {
            close(h[(i, j)], h[(j, i)], 1e-10);
        }
    }
}
