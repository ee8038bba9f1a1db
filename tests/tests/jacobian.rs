//! Dense Jacobians (`f_jacobian`, forward or reverse sweeps by shape) and Hessians
//! (`f_hessian`), against finite differences and hyper-dual numbers.
#![allow(clippy::needless_range_loop)]

use autodiff_runtime::check::{fd_jacobian, sample_points};
use autodiff_runtime::differentiate;
use num_dual::{DualNum, HyperDual64};

fn close(a: f64, b: f64, rel: f64) {
    let scale = a.abs().max(b.abs()).max(1.0);
    assert!((a - b).abs() <= rel * scale, "{a} vs {b}");
}

/// Two inputs, three outputs: forward sweeps.
#[differentiate(jacobian)]
fn polar(r: f64, theta: f64) -> Vec<f64> {
    vec![r * theta.cos(), r * theta.sin(), r * r]
}

/// Four inputs, two outputs: reverse sweeps.
#[differentiate(jacobian)]
fn reduce(x: &[f64], k: f64) -> [f64; 2] {
    let mut s = 0.0;
    let mut p = 1.0;
    for i in 0..x.len() {
        s += (k * x[i]).sin();
        p *= 1.0 + x[i] * x[i];
    }
    [s, p.ln()]
}

/// In-place state: outputs are the buffer's final state, inputs its initial state and `dt`.
#[differentiate(jacobian)]
fn advance(state: &mut [f64], dt: f64) {
    for _ in 0..3 {
        let first = state[0];
        for i in 0..state.len() - 1 {
            state[i] = state[i] + dt * (state[i + 1] - state[i]).tanh();
        }
        let last = state.len() - 1;
        state[last] = state[last] + dt * (first - state[last]).tanh();
    }
}

#[test]
fn forward_sweeps_for_tall_jacobians() {
    let (value, jac) = polar_jacobian(1.5, 0.7);
    assert_eq!(value, polar(1.5, 0.7));
    assert_eq!((jac.rows(), jac.cols()), (3, 2));
    let fd = fd_jacobian(|v| polar(v[0], v[1]), &[1.5, 0.7]);
    for i in 0..3 {
        for j in 0..2 {
            close(jac[(i, j)], fd[i][j], 1e-8);
        }
    }
}

#[test]
fn reverse_sweeps_for_wide_jacobians() {
    let x = sample_points(3, 4, -1.0, 1.0);
    let (value, jac) = reduce_jacobian(&x, 0.8);
    assert_eq!(value, reduce(&x, 0.8));
    assert_eq!((jac.rows(), jac.cols()), (2, 5));
    let fd = fd_jacobian(
        |v| reduce(&v[..4], v[4]).to_vec(),
        &[&x[..], &[0.8]].concat(),
    );
    for i in 0..2 {
        for j in 0..5 {
            close(jac[(i, j)], fd[i][j], 1e-8);
        }
    }
}

#[test]
fn jacobian_of_in_place_state() {
    let x0 = vec![0.2, -0.4, 0.9, 0.1];
    let mut state = x0.clone();
    let ((), jac) = advance_jacobian(&mut state, 0.3);
    let mut expected = x0.clone();
    advance(&mut expected, 0.3);
    assert_eq!(state, expected, "the buffer ends as `advance` leaves it");
    assert_eq!((jac.rows(), jac.cols()), (4, 5));
    let fd = fd_jacobian(
        |v| {
            let mut s = v[..4].to_vec();
            advance(&mut s, v[4]);
            s
        },
        &[&x0[..], &[0.3]].concat(),
    );
    for i in 0..4 {
        for j in 0..5 {
            close(jac[(i, j)], fd[i][j], 1e-8);
        }
    }
}

#[differentiate(hvp)]
fn energy(x: &[f64], k: f64) -> f64 {
    let mut e = 0.0;
    for i in 0..x.len() {
        let next = if i + 1 < x.len() { x[i + 1] } else { x[0] };
        e += k * (x[i] - next).powi(2) + (x[i] * k).cos();
    }
    e
}

fn energy_hyper(x: &[HyperDual64], k: HyperDual64) -> HyperDual64 {
    let mut e = HyperDual64::from(0.0);
    for i in 0..x.len() {
        let next = if i + 1 < x.len() { x[i + 1] } else { x[0] };
        let d = x[i] - next;
        e += k * d * d + (x[i] * k).cos();
    }
    e
}

#[test]
fn hessian_matches_hyper_dual_numbers_and_is_symmetric() {
    let x = sample_points(9, 3, -1.0, 1.0);
    let k = 0.7;
    let (value, h) = energy_hessian(&x, k);
    assert_eq!(value.to_bits(), energy(&x, k).to_bits());
    assert_eq!((h.rows(), h.cols()), (4, 4));
    let point = [x[0], x[1], x[2], k];
    for i in 0..4 {
        for j in 0..4 {
            let seed = |m: usize| {
                HyperDual64::new(
                    point[m],
                    if m == i { 1.0 } else { 0.0 },
                    if m == j { 1.0 } else { 0.0 },
                    0.0,
                )
            };
            let xs: Vec<HyperDual64> = (0..3).map(seed).collect();
            let expected = energy_hyper(&xs, seed(3)).eps1eps2;
            close(h[(i, j)], expected, 1e-11);
            close(h[(i, j)], h[(j, i)], 1e-12);
        }
    }
}
