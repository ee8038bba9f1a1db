//! Dense Jacobians by `#[differentiate(jacobian)]`: Newton's method for the steady
//! state of a chemical reaction network, and the sensitivity of that steady state to
//! every rate constant.
//!
//! Five species react by mass-action kinetics in a closed vessel:
//!
//! ```text
//!   R1: 2A   <=> B        (dimerisation)
//!   R2: A + B <=> C
//!   R3: C    <=> D
//!   R4: D    <=> E + A
//!   R5: B    <=> E        (isomerisation)
//! ```
//!
//! With masses `A = 1, B = 2, C = 3, D = 3, E = 2` every reaction conserves mass, so
//! `dc/dt` always has `Σ m_i dc_i/dt = 0`: the five rate equations are dependent and
//! their Jacobian is singular. `rates` therefore returns the rates of B..E and, in
//! place of A's, the conservation residual `Σ m_i c_i - total`. Its zero is the steady
//! state of the network with that total mass, and its Jacobian with respect to the
//! concentrations is nonsingular there. Forward and backward rate constants are not
//! in detailed balance, so the steady state is a driven (non-equilibrium) one.
//!
//! `rates_jacobian` gives the 5 × 16 Jacobian with respect to all inputs
//! (5 concentrations, 10 rate constants, the total) in one call. Newton's method
//! uses its first five columns, solving `J_c Δ = -F` by Gaussian elimination with
//! partial pivoting; the residual norm falls quadratically. At the solution the same
//! Jacobian gives the sensitivities by the implicit function theorem:
//! `dc*/dk = -J_c⁻¹ J_k`, checked against finite differences of the whole solve.
//!
//! Run with `cargo run --release --example newton_network`.

use std::time::Instant;

use autodiff_examples::max_relative_error;
use autodiff_runtime::check::{close, fd_jacobian, Tolerance};
use autodiff_runtime::differentiate;
use autodiff_runtime::Matrix;

/// Number of species.
const NS: usize = 5;
/// Number of rate constants (forward and backward for each of the five reactions).
const NK: usize = 10;
/// Species masses; every reaction conserves `Σ m_i c_i`.
const MASS: [f64; NS] = [1.0, 2.0, 3.0, 3.0, 2.0];
const NAMES: [&str; NS] = ["A", "B", "C", "D", "E"];

/// The steady-state residual: `d[B..E]/dt` by mass-action kinetics, and the mass
/// conservation residual in place of `d[A]/dt`. Zero at the steady state with total
/// mass `total`.
#[differentiate(jacobian)]
fn rates(c: &[f64], k: &[f64], total: f64) -> Vec<f64> {
    let a = c[0];
    let b = c[1];
    let cc = c[2];
    let d = c[3];
    let e = c[4];
    // Net rate of every reaction: forward minus backward.
    let r1 = k[0] * a * a - k[1] * b;
    let r2 = k[2] * a * b - k[3] * cc;
    let r3 = k[4] * cc - k[5] * d;
    let r4 = k[6] * d - k[7] * e * a;
    let r5 = k[8] * b - k[9] * e;
    let mut out = vec![0.0; 5];
    out[0] = a + 2.0 * b + 3.0 * cc + 3.0 * d + 2.0 * e - total;
    out[1] = r1 - r2 - r5; // dB/dt
    out[2] = r2 - r3; // dC/dt
    out[3] = r3 - r4; // dD/dt
    out[4] = r4 + r5; // dE/dt
    out
}

/// Solves `a x = b` for square `a` (row-major, `n × n`) by Gaussian elimination with
/// partial pivoting. Panics on a (numerically) singular matrix.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    assert_eq!(a.len(), n * n, "solve: matrix is not n × n");
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))
            .expect("non-empty range");
        assert!(
            a[pivot * n + col].abs() > 1e-300,
            "solve: singular matrix at column {col}"
        );
        if pivot != col {
            for j in 0..n {
                a.swap(col * n + j, pivot * n + j);
            }
            b.swap(col, pivot);
        }
        for i in col + 1..n {
            let factor = a[i * n + col] / a[col * n + col];
            if factor != 0.0 {
                for j in col..n {
                    a[i * n + j] -= factor * a[col * n + j];
                }
                b[i] -= factor * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = b[i];
        for j in i + 1..n {
            s -= a[i * n + j] * x[j];
        }
        x[i] = s / a[i * n + i];
    }
    x
}

/// The leading `n × n` block (the concentration columns) of a Jacobian, row-major.
fn concentration_block(jac: &Matrix<f64>) -> Vec<f64> {
    (0..NS).flat_map(|i| jac.row(i)[..NS].to_vec()).collect()
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Newton's method from `c0`; returns the steady state and the residual norms of
/// every iterate. Steps are shortened (by halving) only if they would make a
/// concentration negative.
fn steady_state(c0: &[f64], k: &[f64], total: f64, verbose: bool) -> (Vec<f64>, Vec<f64>) {
    let mut c = c0.to_vec();
    let mut history = Vec::new();
    for it in 0..50 {
        let (f, jac) = rates_jacobian(&c, k, total);
        let r = norm(&f);
        history.push(r);
        if verbose {
            // The ratio is meaningless once the residual reaches rounding.
            let ratio = if it >= 1 && r > 1e-14 {
                format!("{:9.2e}", r / (history[it - 1] * history[it - 1]))
            } else {
                format!("{:>9}", "-")
            };
            println!(
                "  iter {it:2}  |F| = {r:9.3e}  |F|/|F_prev|^2 = {ratio}  c = [{}]",
                c.iter()
                    .map(|x| format!("{x:.6}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if r < 1e-14 {
            break;
        }
        let minus_f: Vec<f64> = f.iter().map(|x| -x).collect();
        let delta = solve(concentration_block(&jac), minus_f);
        let mut t = 1.0;
        while (0..NS).any(|i| c[i] + t * delta[i] <= 0.0) {
            t *= 0.5;
        }
        for i in 0..NS {
            c[i] += t * delta[i];
        }
    }
    (c, history)
}

fn main() {
    let start = Instant::now();
    // Forward / backward constants of R1..R5.
    let k = [2.0, 0.5, 1.5, 0.3, 0.8, 0.4, 1.2, 0.7, 0.25, 0.6];
    let total = 10.0;
    println!("reaction network: 2A<=>B, A+B<=>C, C<=>D, D<=>E+A, B<=>E; mass-action kinetics");
    println!(
        "rate constants (fwd, bwd): {}",
        k.chunks(2)
            .enumerate()
            .map(|(r, p)| format!("R{} ({}, {})", r + 1, p[0], p[1]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("total mass sum(m_i c_i) = {total}, masses {MASS:?}");

    // ---- 1. Newton's method ------------------------------------------------------------
    // Start far from the answer: nearly all mass as the monomer A.
    let c0 = vec![total, 0.01, 0.01, 0.01, 0.01];
    println!("Newton's method with f_jacobian (J is 5 x 16; the first 5 columns are d/dc):");
    let (c, history) = steady_state(&c0, &k, total, true);
    let final_residual = *history.last().expect("at least one iterate");
    println!(
        "converged in {} Newton steps, final |F| = {final_residual:.2e}",
        history.len() - 1
    );
    for i in 0..NS {
        println!("  [{}] = {:.12}", NAMES[i], c[i]);
    }
    assert!(final_residual < 1e-12, "Newton's method did not converge");
    // The true rate of A (the equation the conservation law replaced) vanishes too.
    let (a, b, cc, d, e) = (c[0], c[1], c[2], c[3], c[4]);
    let r1 = k[0] * a * a - k[1] * b;
    let r2 = k[2] * a * b - k[3] * cc;
    let r4 = k[6] * d - k[7] * e * a;
    let da_dt = -2.0 * r1 - r2 + r4;
    println!("  check: d[A]/dt at the steady state = {da_dt:.2e} (implied by conservation)");
    assert!(da_dt.abs() < 1e-12, "d[A]/dt does not vanish");
    // Quadratic convergence: in the last steps before hitting rounding, the residual
    // is roughly squared (`|F_k+1| <= C |F_k|^2` with a moderate C).
    let squared: Vec<f64> = history
        .windows(2)
        .filter(|w| w[0] < 1.0 && w[1] > 1e-14)
        .map(|w| w[1] / (w[0] * w[0]))
        .collect();
    println!(
        "  |F_k+1| / |F_k|^2 over the final steps: {}",
        squared
            .iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(
        squared.iter().all(|&q| q < 1e3),
        "convergence is not quadratic"
    );
    println!();

    // ---- 2. Sensitivities of the steady state ---------------------------------------------
    // F(c*(k), k) = 0  =>  J_c dc*/dk = -J_k: one more Jacobian at the solution, then
    // one solve per rate constant.
    let (_, jac) = rates_jacobian(&c, &k, total);
    let jc = concentration_block(&jac);
    let mut sens = vec![[0.0; NK]; NS];
    for j in 0..NK {
        let rhs: Vec<f64> = (0..NS).map(|i| -jac[(i, NS + j)]).collect();
        let col = solve(jc.clone(), rhs);
        for i in 0..NS {
            sens[i][j] = col[i];
        }
    }
    // ... and against finite differences of the whole Newton solve.
    let fd = fd_jacobian(|kk| steady_state(&c, kk, total, false).0, &k);
    println!("sensitivity of the steady state to the rate constants, dc*/dk (implicit function theorem):");
    println!(
        "  {:>3} {}",
        "",
        (0..NK)
            .map(|j| format!(
                "{:>10}",
                format!("k{}{}", j / 2 + 1, if j % 2 == 0 { "f" } else { "b" })
            ))
            .collect::<String>()
    );
    for i in 0..NS {
        println!(
            "  [{}] {}",
            NAMES[i],
            sens[i]
                .iter()
                .map(|x| format!("{x:10.5}"))
                .collect::<String>()
        );
    }
    let flat_sens: Vec<f64> = sens.iter().flatten().copied().collect();
    let flat_fd: Vec<f64> = fd.iter().flatten().copied().collect();
    let err = max_relative_error(&flat_sens, &flat_fd);
    println!("  max relative difference vs finite differences of the Newton solve: {err:.2e}");
    assert!(
        err < 1e-6,
        "steady-state sensitivities disagree with finite differences"
    );
    println!();

    // ---- Final check: f_jacobian against finite differences -------------------------------
    // At a point away from the steady state, for all 16 inputs.
    let at_c = [0.7, 1.3, 0.4, 0.9, 1.1];
    let at: Vec<f64> = at_c.iter().chain(&k).chain(&[total]).copied().collect();
    let (value, jac) = rates_jacobian(&at_c, &k, total);
    assert_eq!(
        value,
        rates(&at_c, &k, total),
        "f_jacobian value differs from f"
    );
    let fd = fd_jacobian(|v| rates(&v[..NS], &v[NS..NS + NK], v[NS + NK]), &at);
    let tol = Tolerance::default();
    let mut worst: f64 = 0.0;
    let mut failures = 0;
    for i in 0..jac.rows() {
        for j in 0..jac.cols() {
            worst = worst.max(max_relative_error(&[jac[(i, j)]], &[fd[i][j]]));
            if !close(jac[(i, j)], fd[i][j], tol) {
                eprintln!(
                    "  mismatch at ({i}, {j}): f_jacobian {:e}, finite differences {:e}",
                    jac[(i, j)],
                    fd[i][j]
                );
                failures += 1;
            }
        }
    }
    println!(
        "jacobian check (rates_jacobian, {} x {} entries): max relative error vs finite differences = {worst:.2e}",
        jac.rows(),
        jac.cols()
    );
    if failures > 0 {
        eprintln!("jacobian check FAILED ({failures} entries)");
        std::process::exit(1);
    }
    println!(
        "jacobian check passed (tolerance rel {:e}, abs {:e})",
        tol.rel, tol.abs
    );
    println!("total time {:.3} s", start.elapsed().as_secs_f64());
}
