//! Differentiate through an iterative solver: Newton's method on Kepler's equation.
//!
//! A body on an elliptic orbit of eccentricity `e` is found from its mean anomaly `M`
//! (which grows linearly in time) by solving Kepler's equation `E - e sin E = M` for
//! the eccentric anomaly `E`. `eccentric_anomaly` does it with a `while` loop of
//! Newton steps that stops once the step is below `1e-15`, a data-dependent number of
//! iterations. `#[differentiate]` differentiates the iterations as written; since
//! Newton's method converges quadratically, so do the derivatives of its iterates,
//! and the result matches the implicit function theorem
//! (`dE/dM = 1 / (1 - e cos E)`, `dE/de = sin E / (1 - e cos E)`) to rounding.
//!
//! Then an orbit fit: given 40 observed positions of a body, recover the orbit's
//! eccentricity, phase and orientation by Adam through 40 Kepler solves per loss.
//!
//! Run with `cargo run --release --example newton_solver`.

use std::f64::consts::PI;
use std::time::Instant;

use autodiff_examples::{max_relative_error, verify_gradient, Adam};
use autodiff_runtime::check::{fd_gradient, Tolerance};
use autodiff_runtime::differentiate;

/// Semi-major axis of the fitted orbit.
const A: f64 = 1.0;
/// Mean motion (radians of mean anomaly per unit time).
const MEAN_MOTION: f64 = 2.0 * PI / 10.0;

/// The eccentric anomaly `E` with `E - e sin E = m`, by Newton's method.
#[differentiate]
fn eccentric_anomaly(m: f64, e: f64) -> f64 {
    // Starting at pi converges for every m in [0, 2pi) and e < 1.
    let mut ecc = if e > 0.8 { PI } else { m };
    let mut step: f64 = 1.0;
    let mut iterations = 0;
    while step.abs() > 1e-15 && iterations < 50 {
        let residual = ecc - e * ecc.sin() - m;
        step = residual / (1.0 - e * ecc.cos());
        ecc -= step;
        iterations += 1;
    }
    ecc
}

/// Sum of squared distances between the predicted and observed positions of a body
/// on an orbit of eccentricity `e`, mean anomaly `m0` at time 0 and periapsis
/// direction `omega`.
#[differentiate(wrt(e, m0, omega))]
fn orbit_misfit(e: f64, m0: f64, omega: f64, times: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    let b = (1.0 - e * e).sqrt();
    for k in 0..times.len() {
        let ecc = eccentric_anomaly(m0 + MEAN_MOTION * times[k], e);
        // Position in the orbit's own frame, focus at the origin...
        let px = A * (ecc.cos() - e);
        let py = A * b * ecc.sin();
        // ...rotated by omega.
        let x = px * omega.cos() - py * omega.sin();
        let y = px * omega.sin() + py * omega.cos();
        let dx = x - xs[k];
        let dy = y - ys[k];
        total += dx * dx + dy * dy;
    }
    total
}

/// Positions `(xs, ys)` at `times` on the orbit `(e, m0, omega)`, without autodiff.
fn positions(e: f64, m0: f64, omega: f64, times: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let b = (1.0 - e * e).sqrt();
    times
        .iter()
        .map(|t| {
            let ecc = eccentric_anomaly(m0 + MEAN_MOTION * t, e);
            let (px, py) = (A * (ecc.cos() - e), A * b * ecc.sin());
            (
                px * omega.cos() - py * omega.sin(),
                px * omega.sin() + py * omega.cos(),
            )
        })
        .unzip()
}

fn main() {
    let start = Instant::now();

    // ---- 1. Derivatives of the solution ----------------------------------------------
    println!("part 1: d(solution)/d(parameters) of Kepler's equation E - e sin E = M, solved by Newton's method");
    println!(
        "{:>5} {:>5} {:>10}   {:>22} {:>22} {:>22}",
        "M", "e", "E", "dE/dM: f_grad", "implicit function thm", "finite differences"
    );
    let mut worst: f64 = 0.0;
    for &(m, e) in &[(0.3, 0.1), (1.0, 0.5), (2.5, 0.7), (0.2, 0.95), (5.0, 0.99)] {
        let (ecc, (de_dm, de_de)) = eccentric_anomaly_grad(m, e);
        let denom = 1.0 - e * ecc.cos();
        let ift = [1.0 / denom, ecc.sin() / denom];
        let fd = fd_gradient(|p| eccentric_anomaly(p[0], p[1]), &[m, e]);
        println!(
            "{m:5.2} {e:5.2} {ecc:10.6}   {de_dm:22.15e} {:22.15e} {:22.15e}",
            ift[0], fd[0]
        );
        println!(
            "{:>5} {:>5} {:>10}   {de_de:22.15e} {:22.15e} {:22.15e}   (dE/de)",
            "", "", "", ift[1], fd[1]
        );
        worst = worst.max(max_relative_error(&[de_dm, de_de], &ift));
    }
    println!(
        "largest relative difference between f_grad and the implicit function theorem: {worst:.2e}"
    );
    assert!(
        worst < 1e-12,
        "derivatives through Newton's method disagree with the IFT"
    );
    println!();

    // ---- 2. Fit an orbit ------------------------------------------------------------
    let (e_true, m0_true, omega_true) = (0.7, 1.0, 0.5);
    let times: Vec<f64> = (0..40).map(|k| 0.25 * k as f64).collect();
    let (xs, ys) = positions(e_true, m0_true, omega_true, &times);
    println!(
        "part 2: fit eccentricity, phase and orientation of an orbit to {} observed positions",
        times.len()
    );
    println!("true:          e = {e_true:.6}, M0 = {m0_true:.6}, omega = {omega_true:.6}");
    let mut p = [0.3, 0.0, 0.0];
    println!(
        "initial guess: e = {:.6}, M0 = {:.6}, omega = {:.6}",
        p[0], p[1], p[2]
    );
    let mut adam = Adam::new(3, 0.02);
    let iters = 800;
    for it in 0..=iters {
        let (value, (ge, gm, go)) = orbit_misfit_grad(p[0], p[1], p[2], &times, &xs, &ys);
        if it % 50 == 0 || it == iters {
            println!(
                "iter {it:5}  misfit {value:.4e}  e {:.6}  M0 {:.6}  omega {:.6}",
                p[0], p[1], p[2]
            );
        }
        if it == iters {
            break;
        }
        adam.lr = 0.02 * 0.05_f64.powf(it as f64 / iters as f64);
        adam.step(&mut p, &[ge, gm, go]);
        p[0] = p[0].clamp(0.0, 0.99);
    }
    let err = max_relative_error(&p, &[e_true, m0_true, omega_true]);
    println!(
        "recovered:     e = {:.6}, M0 = {:.6}, omega = {:.6} (largest relative error {err:.2e})",
        p[0], p[1], p[2]
    );
    assert!(err < 1e-6, "the orbit fit did not converge");
    println!();

    // ---- Final check against finite differences ---------------------------------------
    let at = [0.5, 0.7, 0.3];
    let (_, (ge, gm, go)) = orbit_misfit_grad(at[0], at[1], at[2], &times, &xs, &ys);
    verify_gradient(
        "orbit_misfit_grad, 40 Newton solves",
        |q| orbit_misfit(q[0], q[1], q[2], &times, &xs, &ys),
        &at,
        &[ge, gm, go],
        Tolerance::default(),
    );
    println!("total time {:.2} s", start.elapsed().as_secs_f64());
}
