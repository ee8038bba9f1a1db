//! Forward mode (`f_jvp`) and Hessian-vector products (`f_hvp`): tangents against
//! dual numbers, `H·v` against second-order dual numbers and finite differences of
//! `f_grad`, and the consistency of `f_jvp` with `f_vjp` and of `f_hvp` with itself.
#![allow(clippy::needless_range_loop)]

use autodiff_runtime::check::{fd_gradient, sample_points};
use autodiff_runtime::differentiate;
use num_dual::{Dual64, DualNum, HyperDual64};

fn close(a: f64, b: f64, rel: f64) {
    let scale = a.abs().max(b.abs()).max(1.0);
    assert!((a - b).abs() <= rel * scale, "{a} vs {b}");
}

#[differentiate(reverse, forward, hvp)]
fn rosen(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        let a = 1.0 - x[i];
        let b = x[i + 1] - x[i] * x[i];
        s += a * a + 100.0 * b * b;
    }
    s
}

fn rosen_hyper(x: &[HyperDual64]) -> HyperDual64 {
    let mut s = HyperDual64::from(0.0);
    for i in 0..x.len() - 1 {
        let a = -x[i] + 1.0;
        let b = x[i + 1] - x[i] * x[i];
        s += a * a + b * b * 100.0;
    }
    s
}

/// Many primitives, a branch and a loop-carried overwrite.
#[differentiate(forward, hvp)]
fn mixed(x: f64, y: f64, n: usize) -> f64 {
    let mut z = x * y;
    for k in 0..n {
        if z > 0.5 {
            z = z.sin() * y + x.exp() / (1.0 + y * y);
        } else {
            z = (z * z + 1.0).sqrt().ln() + x.atan2(y) + y.tanh().powi(3);
        }
        z = z.max(x * 0.1) + (k as f64) * 0.01 + x.hypot(y).cbrt();
    }
    z * z.cos()
}

fn mixed_dual<D: DualNum<f64> + Copy>(x: D, y: D, n: usize) -> D {
    let mut z = x * y;
    for k in 0..n {
        if z.re() > 0.5 {
            z = z.sin() * y + x.exp() / (y * y + 1.0);
        } else {
            z = (z * z + 1.0).sqrt().ln() + x.atan2(y) + y.tanh().powi(3);
        }
        let m = x * 0.1;
        z = if z.re() >= m.re() { z } else { m };
        z = z + (k as f64) * 0.01 + (x * x + y * y).sqrt().cbrt();
    }
    z * z.cos()
}

#[differentiate(forward)]
fn step(state: &mut [f64], k: f64) {
    for i in 0..state.len() {
        state[i] = state[i] + 0.1 * (k * state[i]).sin();
    }
}

#[test]
fn jvp_matches_dual_numbers() {
    for p in sample_points(3, 20, 0.1, 1.5).chunks(2) {
        let (x, y) = (p[0], p[1]);
        for n in [0, 1, 4] {
            for (vx, vy) in [(1.0, 0.0), (0.0, 1.0), (0.3, -0.7)] {
                let (value, tangent) = mixed_jvp(x, y, n, vx, vy);
                assert_eq!(value.to_bits(), mixed(x, y, n).to_bits());
                let dual = mixed_dual(Dual64::new(x, vx), Dual64::new(y, vy), n);
                close(tangent, dual.eps, 1e-11);
            }
        }
    }
}

#[test]
fn jvp_agrees_with_vjp() {
    // vᵀ(J·w) == (vᵀJ)·w for the rosenbrock gradient's scalar case: ∇f·w.
    let x = sample_points(7, 6, -1.0, 1.5);
    let w = sample_points(8, 6, -1.0, 1.0);
    let (value, tangent) = rosen_jvp(&x, &w);
    let (value_r, gradient) = rosen_grad(&x);
    assert_eq!(value.to_bits(), value_r.to_bits());
    let dot: f64 = gradient.iter().zip(&w).map(|(g, w)| g * w).sum();
    close(tangent, dot, 1e-12);
}

#[test]
fn jvp_of_in_place_state() {
    let x0 = vec![0.3, -0.2, 0.9];
    let dx = vec![1.0, 0.5, -0.25];
    let mut state = x0.clone();
    let mut tangent = dx.clone();
    let ((), ()) = step_jvp(&mut state, 1.7, &mut tangent, 0.2);
    let mut expected = x0.clone();
    step(&mut expected, 1.7);
    assert_eq!(state, expected);
    for i in 0..3 {
        let d = Dual64::new(x0[i], dx[i]);
        let k = Dual64::new(1.7, 0.2);
        let out = d + (k * d).sin() * 0.1;
        close(tangent[i], out.eps, 1e-13);
    }
}

#[test]
fn hvp_matches_hyper_dual_numbers() {
    let x = sample_points(11, 5, -1.0, 1.5);
    let v = sample_points(12, 5, -1.0, 1.0);
    let (value, gradient, hv) = rosen_hvp(&x, &v);
    assert_eq!(value.to_bits(), rosen(&x).to_bits());
    assert_eq!(gradient, rosen_grad(&x).1);
    let (_, expected) = hyper_gradient_and_hvp(rosen_hyper, &x, &v);
    for i in 0..x.len() {
        close(hv[i], expected[i], 1e-11);
    }
}

/// The gradient and `H·v` of `f` at `x` by hyper-dual numbers, one pass per input
/// (`eps1` along `e_i`, `eps2` along `v`: `eps1eps2` is `e_iᵀ H v`).
fn hyper_gradient_and_hvp(
    f: impl Fn(&[HyperDual64]) -> HyperDual64,
    x: &[f64],
    v: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    (0..x.len())
        .map(|i| {
            let hx: Vec<HyperDual64> = (0..x.len())
                .map(|k| HyperDual64::new(x[k], if k == i { 1.0 } else { 0.0 }, v[k], 0.0))
                .collect();
            let out = f(&hx);
            (out.eps1, out.eps1eps2)
        })
        .unzip()
}

#[test]
fn hvp_matches_finite_differences_of_the_gradient_and_is_symmetric() {
    for n in [0, 2, 5] {
        for p in sample_points(5, 8, 0.2, 1.4).chunks(2) {
            let (x, y) = (p[0], p[1]);
            let u = [0.6, -0.4];
            let w = [-0.3, 0.8];
            let (_, (gx, gy), (hux, huy)) = mixed_hvp(x, y, n, u[0], u[1]);
            let (_, _, (hwx, hwy)) = mixed_hvp(x, y, n, w[0], w[1]);
            // H·u by central differences of the gradient along u.
            let fd = fd_gradient(
                |t| {
                    let (_, (a, b)) = mixed_grad(x + t[0] * u[0], y + t[0] * u[1], n);
                    a * 0.37 + b * 0.61
                },
                &[0.0],
            )[0];
            close(0.37 * hux + 0.61 * huy, fd, 1e-6);
            // uᵀ(H·w) == wᵀ(H·u)
            close(u[0] * hwx + u[1] * hwy, w[0] * hux + w[1] * huy, 1e-10);
            let (_, (gx2, gy2)) = mixed_grad(x, y, n);
            assert_eq!((gx, gy), (gx2, gy2));
        }
    }
}

/// Reverse-only callee: forward mode still reaches it through its `__forward`.
#[differentiate]
fn spring_energy(x: &[f64], k: f64) -> f64 {
    let mut e = 0.0;
    for i in 0..x.len() - 1 {
        let d = x[i + 1] - x[i];
        e += 0.5 * k * d * d;
    }
    e
}

#[differentiate]
fn relax_step(x: &mut [f64], k: f64, dt: f64) {
    for i in 1..x.len() - 1 {
        x[i] += dt * k * (x[i - 1] - 2.0 * x[i] + x[i + 1]).sin();
    }
}

#[differentiate(forward, jacobian)]
fn chain_of_calls(x: &[f64], k: f64) -> Vec<f64> {
    let mut state = x.to_vec();
    relax_step(&mut state, k, 0.1);
    relax_step(&mut state, k, 0.1);
    let e = spring_energy(&state, k);
    vec![e, state[1] * e, state[2]]
}

#[test]
fn forward_mode_through_calls() {
    let x = [0.1, 0.5, -0.3, 0.8];
    let k = 1.3;
    let (value, jac) = chain_of_calls_jacobian(&x, k);
    assert_eq!(value, chain_of_calls(&x, k));
    let fd = autodiff_runtime::check::fd_jacobian(
        |v| chain_of_calls(&v[..4], v[4]),
        &[&x[..], &[k]].concat(),
    );
    for i in 0..3 {
        for j in 0..5 {
            close(jac[(i, j)], fd[i][j], 1e-8);
        }
    }
    let v = [0.3, -0.2, 0.7, 0.1];
    let (value, tangent) = chain_of_calls_jvp(&x, k, &v, 0.5);
    assert_eq!(value, chain_of_calls(&x, k));
    for i in 0..3 {
        let expected: f64 = (0..4).map(|j| jac[(i, j)] * v[j]).sum::<f64>() + jac[(i, 4)] * 0.5;
        close(tangent[i], expected, 1e-12);
    }
}

/// A differentiated parameter that does not influence the result still takes a
/// tangent, and contributes nothing.
#[differentiate(forward)]
#[allow(unused_variables)]
fn ignores_y(x: f64, y: f64) -> f64 {
    x * 2.0
}

#[test]
fn jvp_takes_a_tangent_for_every_differentiated_parameter() {
    let (value, tangent) = ignores_y_jvp(1.5, 7.0, 1.0, 100.0);
    assert_eq!(value, 3.0);
    assert_eq!(tangent, 2.0);
}

#[differentiate]
fn pair_energy(a: f64, b: f64, k: f64) -> f64 {
    k * (a - b).powi(2) + (a * b).sin()
}

/// Second order through calls: `f_hvp` differentiates the callees' `__forward`
/// with their `__reverse_forward`.
#[differentiate(hvp)]
fn chain_total(x: &[f64], k: f64) -> f64 {
    let mut e = 0.0;
    for i in 0..x.len() - 1 {
        e += pair_energy(x[i], x[i + 1], k);
    }
    e + spring_energy(x, k) * k
}

#[test]
fn hvp_through_calls() {
    let x = [0.3, -0.4, 0.9, 0.2];
    let k = 0.8;
    let u = [0.5, 0.1, -0.3, 0.7, 0.2];
    let w = [-0.2, 0.6, 0.4, 0.1, -0.5];
    let (value, (gx, gk), (hux, huk)) = chain_total_hvp(&x, k, &u[..4], u[4]);
    assert_eq!(value.to_bits(), chain_total(&x, k).to_bits());
    let (_, (gx2, gk2)) = chain_total_grad(&x, k);
    assert_eq!((gx.clone(), gk), (gx2, gk2));
    // H·u by central differences of the gradient along u, projected on w.
    let project = |t: f64| {
        let xs: Vec<f64> = (0..4).map(|i| x[i] + t * u[i]).collect();
        let (_, (g, gk)) = chain_total_grad(&xs, k + t * u[4]);
        (0..4).map(|i| g[i] * w[i]).sum::<f64>() + gk * w[4]
    };
    let fd = autodiff_runtime::check::fd_gradient(|t| project(t[0]), &[0.0])[0];
    let exact: f64 = (0..4).map(|i| hux[i] * w[i]).sum::<f64>() + huk * w[4];
    close(exact, fd, 1e-7);
    // Symmetry: wᵀ(H·u) == uᵀ(H·w).
    let (_, _, (hwx, hwk)) = chain_total_hvp(&x, k, &w[..4], w[4]);
    let other: f64 = (0..4).map(|i| hwx[i] * u[i]).sum::<f64>() + hwk * u[4];
    close(exact, other, 1e-12);
}

/// Found by the generated programs (seed 5): the reverse sweep of `f_hvp` replays
/// the tangent code's `max` branch, whose flag is also saved; the replay pushed the
/// flag a second time, the reverse sweep popped one, and an earlier iteration's
/// branch then read the leftover bit ("stack underflow" a few pops later).
#[differentiate(hvp)]
#[allow(unused_assignments)] // the branch's value is overwritten: what the reverse replays
fn replayed_branch(x: &[f64]) -> f64 {
    let mut a = x[1] + x[2];
    for i in 0..2 {
        if a > x[1] {
            a = x[i].sqrt().max(x[i]).sqrt();
        }
        a = x[i] * 2.0;
    }
    a
}

#[allow(unused_assignments)]
fn replayed_branch_hyper(x: &[HyperDual64]) -> HyperDual64 {
    let mut a = x[1] + x[2];
    for i in 0..2 {
        if a.re > x[1].re {
            let s = x[i].sqrt();
            let m = if s.re >= x[i].re { s } else { x[i] };
            a = m.sqrt();
        }
        a = x[i] * 2.0;
    }
    a
}

#[test]
fn replayed_saved_branch_in_second_order() {
    let x = [0.42, 0.25, -1.86, -1.21];
    let v = [-0.11, -0.93, 0.85, 0.16];
    let (value, gradient, hv) = replayed_branch_hvp(&x, &v);
    assert_eq!(value.to_bits(), replayed_branch(&x).to_bits());
    assert_eq!(gradient, replayed_branch_grad(&x).1);
    let (expected_gradient, expected_hv) = hyper_gradient_and_hvp(replayed_branch_hyper, &x, &v);
    for i in 0..x.len() {
        close(gradient[i], expected_gradient[i], 1e-12);
        close(hv[i], expected_hv[i], 1e-11);
    }
}

/// Found by the generated programs (seeds 7 and 11): a loop writing one array
/// element twice per iteration through nonlinear operations. The tangent code's
/// `recip` (in `atan`'s derivative) is read only by its own rule in the reverse
/// sweep; its replay was dropped as unread and it was not saved either, so `H·v`
/// came out 0.343 instead of 0.375 (`results_read_only_by_their_own_rule_in_a_loop`
/// in `regression.rs` is the first-order form).
#[differentiate(hvp)]
fn twice_written_element(x: &[f64]) -> f64 {
    let mut a = x[0] * 0.5;
    let mut v = x.to_vec();
    for i in 0..2 {
        v[i] = x[i].atan();
        v[1] = a.tanh();
        a = v[1] * x[i];
    }
    v[0] * v[1]
}

fn twice_written_element_hyper(x: &[HyperDual64]) -> HyperDual64 {
    let mut a = x[0] * 0.5;
    let mut v = x.to_vec();
    for i in 0..2 {
        v[i] = x[i].atan();
        v[1] = a.tanh();
        a = v[1] * x[i];
    }
    v[0] * v[1]
}

#[test]
fn twice_written_element_in_second_order() {
    let x = [1.65, -1.84, -0.89, -1.98];
    let v = [-0.60, 0.88, 0.93, -0.37];
    let (_, gradient, hv) = twice_written_element_hvp(&x, &v);
    let (expected_gradient, expected_hv) =
        hyper_gradient_and_hvp(twice_written_element_hyper, &x, &v);
    for i in 0..x.len() {
        close(gradient[i], expected_gradient[i], 1e-12);
        close(hv[i], expected_hv[i], 1e-11);
    }
}

#[differentiate]
fn bounce(v: &mut [f64], x: &[f64], a: f64) -> f64 {
    let a0 = a * 0.5 + v[3].tanh();
    v[2] = x[3];
    a0 + v[0]
}

/// A call in a loop that overwrites its own argument (`a = bounce(&mut v, x, a)`):
/// the reverse sweep of `f_hvp` puts back the old `a` and its tangent, pushed
/// after the snapshots of `v` and its tangent, before it pops those (it once
/// popped them in the wrong order; found by the generated programs).
#[differentiate(hvp)]
fn bounced(x: &[f64]) -> f64 {
    let mut a = x[1] + x[2];
    let mut v = x.to_vec();
    for _ in 0..3 {
        a = bounce(&mut v, x, a);
    }
    a * v[2] + v[1] * v[3].sin()
}

fn bounced_hyper(x: &[HyperDual64]) -> HyperDual64 {
    let mut a = x[1] + x[2];
    let mut v = x.to_vec();
    for _ in 0..3 {
        let a0 = a * 0.5 + v[3].tanh();
        v[2] = x[3];
        a = a0 + v[0];
    }
    a * v[2] + v[1] * v[3].sin()
}

#[test]
fn hvp_through_a_call_that_overwrites_its_argument_in_a_loop() {
    let x = [0.3, -0.2, 0.5, 0.7];
    let v = [0.1, 0.4, -0.3, 0.6];
    let (value, gradient, hv) = bounced_hvp(&x, &v);
    assert_eq!(value.to_bits(), bounced(&x).to_bits());
    let (expected_gradient, expected_hv) = hyper_gradient_and_hvp(bounced_hyper, &x, &v);
    for i in 0..x.len() {
        close(gradient[i], expected_gradient[i], 1e-13);
        close(hv[i], expected_hv[i], 1e-12);
    }
}

/// A three-point stencil (its reverse loops sum into registers), results of
/// `exp` stored into an array (read back from it) and a scratch array refilled
/// per round (run again, not saved): `f_hvp` through all three, against
/// hyper-dual numbers.
#[differentiate(hvp)]
fn shapes(x: &[f64]) -> f64 {
    let n = x.len();
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (0.5 * x[i]).exp();
    }
    let mut centered = vec![0.0; n];
    let mut s = 0.0;
    for round in 0..3 {
        for j in 0..n {
            centered[j] = x[j] - 0.1 * (round as f64);
        }
        for i in 1..n - 1 {
            let lap = centered[i - 1] - 2.0 * centered[i] + centered[i + 1];
            s = (s + lap * lap * y[i]).sin();
        }
    }
    s
}

fn shapes_hyper(x: &[HyperDual64]) -> HyperDual64 {
    let n = x.len();
    let y: Vec<HyperDual64> = x.iter().map(|v| (*v * 0.5).exp()).collect();
    let mut s = HyperDual64::from_re(0.0);
    for round in 0..3 {
        let centered: Vec<HyperDual64> = x.iter().map(|v| *v - 0.1 * (round as f64)).collect();
        for i in 1..n - 1 {
            let lap = centered[i - 1] - centered[i] * 2.0 + centered[i + 1];
            s = (s + lap * lap * y[i]).sin();
        }
    }
    s
}

#[test]
fn hvp_through_stencils_reloads_and_refills_matches_hyper_dual_numbers() {
    let x = sample_points(21, 7, -1.0, 1.0);
    let v = sample_points(22, 7, -1.0, 1.0);
    let (value, gradient, hv) = shapes_hvp(&x, &v);
    assert_eq!(value.to_bits(), shapes(&x).to_bits());
    let (expected_gradient, expected) = hyper_gradient_and_hvp(shapes_hyper, &x, &v);
    for i in 0..x.len() {
        close(gradient[i], expected_gradient[i], 1e-12);
        close(hv[i], expected[i], 1e-11);
    }
}
