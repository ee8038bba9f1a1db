//! Results of primitives whose rule reads them (`exp`, `tanh`, `sqrt`, ...),
//! stored into an array element that nothing overwrites afterwards: the reverse
//! sweep reads them back from the element instead of saving them, as a
//! hand-written adjoint reuses the array. Where the element may be overwritten
//! (the same index in another iteration, another store to it), they are saved.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use autodiff_runtime::stack::last_bytes_pushed;
use common::*;

/// `y[i] = exp(x[i])`, then the sum of `y[i]²`.
#[differentiate]
fn exp_energy(x: &[f64]) -> f64 {
    let n = x.len();
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = x[i].exp();
    }
    let mut s = 0.0;
    for i in 0..n {
        s += y[i] * y[i];
    }
    s
}

fn exp_energy_o(x: &[Dual64]) -> Dual64 {
    x.iter().map(|v| v.exp() * v.exp()).sum()
}

/// A table filled block by block (GMM's `qdiag[c * d + j] = exp(..)`).
#[differentiate(wrt(icf))]
fn exp_table(icf: &[f64], k: usize, d: usize) -> f64 {
    let mut q = vec![0.0; k * d];
    for c in 0..k {
        for j in 0..d {
            q[c * d + j] = icf[c * (d + 1) + j].exp();
        }
    }
    let mut s = 0.0;
    for i in 0..k * d {
        s += q[i] * icf[i];
    }
    s
}

fn exp_table_o(icf: &[Dual64], k: usize, d: usize) -> Dual64 {
    let mut s = c(0.0);
    for cc in 0..k {
        for j in 0..d {
            s += icf[cc * (d + 1) + j].exp() * icf[cc * d + j];
        }
    }
    s
}

/// Gates side by side in one array (a port's `gates[b + i]`, `gates[2 * b + i]`).
#[differentiate]
fn banded_gates(x: &[f64], w: &[f64]) -> f64 {
    let b = x.len();
    let mut gates = vec![0.0; 3 * b];
    for i in 0..b {
        gates[i] = (x[i] * w[i]).tanh();
        gates[b + i] = (x[i] + w[b + i]).exp();
        gates[2 * b + i] = (x[i] * x[i] + w[2 * b + i]).sqrt();
    }
    let mut s = 0.0;
    for i in 0..b {
        s += gates[i] * gates[b + i] - gates[2 * b + i] * w[i];
    }
    s
}

fn banded_gates_o(p: &[Dual64], b: usize) -> Dual64 {
    let (x, w) = p.split_at(b);
    let mut s = c(0.0);
    for i in 0..b {
        let g0 = (x[i] * w[i]).tanh();
        let g1 = (x[i] + w[b + i]).exp();
        let g2 = (x[i] * x[i] + w[2 * b + i]).sqrt();
        s += g0 * g1 - g2 * w[i];
    }
    s
}

#[test]
fn results_stored_in_arrays_are_read_back_not_saved() {
    let x: Vec<f64> = (0..7).map(|i| 0.3 * ((i as f64) * 1.3).sin()).collect();
    let (value, g) = exp_energy_grad(&x);
    assert_bits(value, exp_energy(&x));
    assert_close_slice(&g, &dual_grad(exp_energy_o, &x));
    assert_eq!(last_bytes_pushed(), 0, "each exp was saved");

    let (k, d) = (3, 4);
    let icf: Vec<f64> = (0..k * (d + 1))
        .map(|i| 0.2 * ((i as f64) * 0.7).cos())
        .collect();
    let (value, g) = exp_table_grad(&icf, k, d);
    assert_bits(value, exp_table(&icf, k, d));
    assert_close_slice(&g, &dual_grad(|p| exp_table_o(p, k, d), &icf));
    assert_eq!(last_bytes_pushed(), 0, "each exp was saved");

    let b = 5;
    let x: Vec<f64> = (0..b).map(|i| 0.4 * ((i as f64) * 0.9).sin()).collect();
    let w: Vec<f64> = (0..3 * b)
        .map(|i| 0.5 + 0.3 * ((i as f64) * 1.7).cos())
        .collect();
    let (value, (gx, gw)) = banded_gates_grad(&x, &w);
    assert_bits(value, banded_gates(&x, &w));
    let mut all = x.clone();
    all.extend(&w);
    let mut got = gx.clone();
    got.extend(gw);
    assert_close_slice(&got, &dual_grad(|p| banded_gates_o(p, b), &all));
    assert_eq!(last_bytes_pushed(), 0, "each gate was saved");
}

/// The same element stored again in the next round: the first round's values
/// are gone when the reverse sweep gets back to them.
#[differentiate]
fn rounds(x: &[f64], r: usize) -> f64 {
    let n = x.len();
    let mut y = vec![0.0; n];
    let mut s = 0.0;
    for round in 0..r {
        for i in 0..n {
            y[i] = (x[i] * (round as f64 + 1.0)).exp();
        }
        for i in 0..n {
            s = (s + y[i]).sin();
        }
    }
    s
}

fn rounds_o(x: &[Dual64], r: usize) -> Dual64 {
    let mut s = c(0.0);
    for round in 0..r {
        let y: Vec<Dual64> = x
            .iter()
            .map(|v| (*v * (round as f64 + 1.0)).exp())
            .collect();
        for v in &y {
            s = (s + *v).sin();
        }
    }
    s
}

/// Two stores at the same band of one loop: the second overwrites the first.
#[differentiate]
fn overwritten(x: &[f64]) -> f64 {
    let n = x.len();
    let mut y = vec![0.0; 2 * n];
    let mut s = 0.0;
    for i in 0..n {
        y[n + i] = x[i].tanh();
        s += y[n + i] * x[i];
        y[n + i] = x[i] * 3.0;
    }
    for i in 0..2 * n {
        s += y[i] * y[i];
    }
    s
}

fn overwritten_o(x: &[Dual64]) -> Dual64 {
    let mut s = c(0.0);
    for v in x {
        s += v.tanh() * *v;
    }
    for v in x {
        s += *v * 3.0 * *v * 3.0;
    }
    s
}

/// A later loop that overwrites part of the array.
#[differentiate]
fn later_loop(x: &[f64]) -> f64 {
    let n = x.len();
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = x[i].sqrt();
    }
    let mut s = 0.0;
    for i in 0..n {
        s += y[i] * x[i];
    }
    for i in 0..n / 2 {
        y[i] = 0.0;
    }
    for i in 0..n {
        s += y[i];
    }
    s
}

fn later_loop_o(x: &[Dual64]) -> Dual64 {
    let n = x.len();
    let mut s = c(0.0);
    for v in x {
        s += v.sqrt() * *v;
    }
    for v in &x[n / 2..] {
        s += v.sqrt();
    }
    s
}

#[test]
fn results_stored_where_they_may_be_overwritten_are_saved() {
    let x: Vec<f64> = (0..6)
        .map(|i| 0.5 + 0.3 * ((i as f64) * 1.1).sin())
        .collect();
    let (value, g) = rounds_grad(&x, 3);
    assert_bits(value, rounds(&x, 3));
    assert_close_slice(&g, &dual_grad(|x| rounds_o(x, 3), &x));
    let (value, g) = overwritten_grad(&x);
    assert_bits(value, overwritten(&x));
    assert_close_slice(&g, &dual_grad(overwritten_o, &x));
    let (value, g) = later_loop_grad(&x);
    assert_bits(value, later_loop(&x));
    assert_close_slice(&g, &dual_grad(later_loop_o, &x));
}

/// A split callee (it writes through `&mut`) with its gates in one local array:
/// its reverse sweep reads them back from the array its frame keeps.
#[differentiate]
fn gate_step(x: &[f64], state: &mut [f64]) {
    let b = x.len();
    let mut gates = vec![0.0; 2 * b];
    for i in 0..b {
        gates[i] = (x[i] + state[i]).tanh();
        gates[b + i] = (x[i] - state[i]).exp();
    }
    for i in 0..b {
        state[i] = gates[i] * gates[b + i];
    }
}

#[differentiate]
fn gate_chain(x: &[f64], steps: usize) -> f64 {
    let mut state = vec![0.1; x.len()];
    for _ in 0..steps {
        gate_step(x, &mut state);
    }
    let mut s = 0.0;
    for i in 0..x.len() {
        s += state[i];
    }
    s
}

fn gate_chain_o(x: &[Dual64], steps: usize) -> Dual64 {
    let mut state = vec![c(0.1); x.len()];
    for _ in 0..steps {
        for i in 0..x.len() {
            state[i] = (x[i] + state[i]).tanh() * (x[i] - state[i]).exp();
        }
    }
    state.iter().copied().sum()
}

#[test]
fn split_callees_read_results_back_from_their_frames() {
    let x: Vec<f64> = (0..4).map(|i| 0.2 * ((i as f64) * 1.9).cos()).collect();
    let (value, g) = gate_chain_grad(&x, 3);
    assert_bits(value, gate_chain(&x, 3));
    assert_close_slice(&g, &dual_grad(|x| gate_chain_o(x, 3), &x));
}
