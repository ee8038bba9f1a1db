//! Runnable examples live in `examples/`; shared helpers here.
//!
//! * [`Adam`]: the Adam optimiser, a dozen lines, so that the examples depend on
//!   nothing but `autodiff-runtime`.
//! * [`time_per_call`]: a tiny benchmark loop for the cost ratios the examples print.
//! * [`verify_gradient`]: the final check of every example: the gradient from
//!   `f_grad` against central finite differences, exiting non-zero on a mismatch.

use std::hint::black_box;
use std::time::{Duration, Instant};

use autodiff_runtime::check::{check_gradient, check_jvp, fd_directional, fd_gradient, Tolerance};

/// The Adam optimiser (Kingma & Ba, 2015) on a flat parameter vector.
#[derive(Clone, Debug)]
pub struct Adam {
    /// Step size.
    pub lr: f64,
    /// Decay of the first-moment (mean) estimate.
    pub beta1: f64,
    /// Decay of the second-moment (uncentred variance) estimate.
    pub beta2: f64,
    /// Guard against division by zero.
    pub eps: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    /// Adam for `n` parameters with step size `lr` and the usual defaults
    /// `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`.
    pub fn new(n: usize, lr: f64) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// One update of `x` along the gradient `g`.
    ///
    /// # Panics
    ///
    /// If `x` or `g` does not have the length given to [`Adam::new`].
    pub fn step(&mut self, x: &mut [f64], g: &[f64]) {
        assert_eq!(x.len(), self.m.len(), "Adam: parameter length changed");
        assert_eq!(g.len(), self.m.len(), "Adam: gradient length differs");
        self.t += 1;
        let c1 = 1.0 - self.beta1.powi(self.t);
        let c2 = 1.0 - self.beta2.powi(self.t);
        for i in 0..x.len() {
            self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * g[i];
            self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * g[i] * g[i];
            let m_hat = self.m[i] / c1;
            let v_hat = self.v[i] / c2;
            x[i] -= self.lr * m_hat / (v_hat.sqrt() + self.eps);
        }
    }
}

/// The mean wall-clock time of one call of `f`, measured over enough calls to fill
/// about `budget` (at least three calls, after one warm-up call).
pub fn time_per_call<R, F: FnMut() -> R>(mut f: F, budget: Duration) -> Duration {
    black_box(f());
    let start = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || start.elapsed() < budget {
        black_box(f());
        calls += 1;
    }
    start.elapsed() / calls
}

/// The largest relative difference between `analytic` and `numeric`, entry by entry:
/// `|a - n| / max(|a|, |n|, 1e-8 · max_j |n_j|)` (the floor keeps entries that are zero
/// up to rounding from dominating).
pub fn max_relative_error(analytic: &[f64], numeric: &[f64]) -> f64 {
    let scale = numeric.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    analytic
        .iter()
        .zip(numeric)
        .map(|(a, n)| {
            let denom = a
                .abs()
                .max(n.abs())
                .max(1e-8 * scale)
                .max(f64::MIN_POSITIVE);
            (a - n).abs() / denom
        })
        .fold(0.0, f64::max)
}

/// Checks `grad` (from an `f_grad`) against central finite differences of `f` at `x`:
/// prints the largest relative error and whether [`check_gradient`] passes with
/// tolerance `tol`; on failure prints the mismatch table and exits with status 1.
pub fn verify_gradient<F: FnMut(&[f64]) -> f64>(
    what: &str,
    mut f: F,
    x: &[f64],
    grad: &[f64],
    tol: Tolerance,
) {
    let numeric = fd_gradient(&mut f, x);
    let err = max_relative_error(grad, &numeric);
    println!(
        "gradient check ({what}, {} entries): max relative error vs finite differences = {err:.2e}",
        x.len()
    );
    match check_gradient(f, x, grad, tol) {
        Ok(()) => println!(
            "gradient check passed (tolerance rel {:e}, abs {:e})",
            tol.rel, tol.abs
        ),
        Err(mismatch) => {
            eprintln!("{mismatch}");
            eprintln!("gradient check FAILED");
            std::process::exit(1);
        }
    }
}

/// Checks `grad` (from an `f_grad`) along one direction: `grad · v` against the central
/// finite-difference derivative of `t ↦ f(x + t v)` (four evaluations of `f`,
/// whatever the dimension); prints the relative error and exits with status 1 on a
/// mismatch.
pub fn verify_directional<F: FnMut(&[f64]) -> f64>(
    what: &str,
    mut f: F,
    x: &[f64],
    grad: &[f64],
    v: &[f64],
    tol: Tolerance,
) {
    let analytic: f64 = grad.iter().zip(v).map(|(g, v)| g * v).sum();
    let numeric = fd_directional(|p| vec![f(p)], x, v)[0];
    println!(
        "directional check ({what}, all {} entries): grad·v = {analytic:.12e}, finite differences {numeric:.12e}, relative error {:.2e}",
        x.len(),
        max_relative_error(&[analytic], &[numeric])
    );
    if let Err(mismatch) = check_jvp(|p| vec![f(p)], x, v, &[analytic], tol) {
        eprintln!("{mismatch}");
        eprintln!("directional check FAILED");
        std::process::exit(1);
    }
    println!("directional check passed");
}
