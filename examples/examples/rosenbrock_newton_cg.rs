//! Second order without a Hessian: Newton-CG (truncated Newton) on the extended
//! Rosenbrock function in 1,000 dimensions, with `f_hvp` for every Hessian-vector
//! product.
//!
//! `#[differentiate(hvp)]` on `rosenbrock` generates `rosenbrock_grad` and
//! `rosenbrock_hvp(x, v) -> (f, ∇f, H v)`, which costs a small constant times one
//! gradient and never forms the 1,000 × 1,000 Hessian. Each outer iteration solves
//! the Newton system `H p = -g` approximately by conjugate gradients (stopping at a
//! relative residual `min(0.5, sqrt|g|)`, the forcing sequence of Nocedal & Wright's
//! Algorithm 7.1, so convergence is superlinear), stops CG on negative curvature
//! (falling back to the CG iterate so far, or to steepest descent on the first CG
//! step), then backtracks from the unit step to the Armijo condition.
//!
//! The function is the extended Rosenbrock function of Moré, Garbow & Hillstrom
//! (problem 21): `Σ_j (1 - x_{2j})² + 100 (x_{2j+1} - x_{2j}²)²`, started from the
//! classic `(-1.2, 1, -1.2, 1, ...)` perturbed by up to ±10% per entry (so the 500
//! pairs take different paths and CG has real work); its minimum is `f = 0` at
//! `x = (1, ..., 1)`. The Hessian is indefinite along the way, so the
//! negative-curvature exit is exercised. (The chained variant, with every consecutive
//! pair coupled, needs hundreds of Newton iterations from this start: the valley has
//! to be followed one coordinate at a time.)
//!
//! Run with `cargo run --release --example rosenbrock_newton_cg`.

use std::time::{Duration, Instant};

use autodiff_examples::{max_relative_error, time_per_call, verify_directional};
use autodiff_runtime::check::{check_jvp, fd_directional, sample_points, Tolerance};
use autodiff_runtime::differentiate;

/// Dimension.
const N: usize = 1000;

/// The extended Rosenbrock function: `n / 2` uncoupled copies of the 2-D one on
/// the pairs `(x_{2j}, x_{2j+1})`.
#[differentiate(hvp)]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for j in 0..x.len() / 2 {
        let a = 1.0 - x[2 * j];
        let b = x[2 * j + 1] - x[2 * j] * x[2 * j];
        s += a * a + 100.0 * b * b;
    }
    s
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Outcome of the inner conjugate-gradient solve.
struct Inner {
    /// The search direction.
    p: Vec<f64>,
    /// CG iterations (= Hessian-vector products).
    iterations: usize,
    /// Whether CG stopped on a direction of non-positive curvature.
    negative_curvature: bool,
}

/// Conjugate gradients on `H p = -g`, `H v` by `rosenbrock_hvp` at `x`, stopped at
/// `|H p + g| <= tol`, on non-positive curvature, or after `max_iter` steps.
fn newton_cg_direction(x: &[f64], g: &[f64], tol: f64, max_iter: usize) -> Inner {
    let n = g.len();
    let mut z = vec![0.0; n];
    let mut r = g.to_vec(); // residual H z + g
    let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
    let mut rr = dot(&r, &r);
    for j in 0..max_iter {
        let (_, _, hd) = rosenbrock_hvp(x, &d);
        let curvature = dot(&d, &hd);
        if curvature <= 0.0 {
            // Negative curvature: the CG iterate so far is still a descent direction;
            // on the very first step fall back to steepest descent.
            let p = if j == 0 { d } else { z };
            return Inner {
                p,
                iterations: j + 1,
                negative_curvature: true,
            };
        }
        let alpha = rr / curvature;
        for i in 0..n {
            z[i] += alpha * d[i];
            r[i] += alpha * hd[i];
        }
        let rr_new = dot(&r, &r);
        if rr_new.sqrt() <= tol {
            return Inner {
                p: z,
                iterations: j + 1,
                negative_curvature: false,
            };
        }
        let beta = rr_new / rr;
        rr = rr_new;
        for i in 0..n {
            d[i] = -r[i] + beta * d[i];
        }
    }
    Inner {
        p: z,
        iterations: max_iter,
        negative_curvature: false,
    }
}

fn main() {
    let start = Instant::now();
    // The classic start, perturbed by up to ±10% so that the pairs differ.
    let mut x: Vec<f64> = sample_points(1, N, 0.9, 1.1)
        .iter()
        .enumerate()
        .map(|(i, p)| p * if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    println!(
        "Newton-CG on the extended Rosenbrock function, n = {N}, from (-1.2, 1, -1.2, 1, ...) +-10%"
    );
    println!(
        "{:>5} {:>14} {:>11} {:>6} {:>9} {:>5}",
        "iter", "f", "|g|", "CG its", "step", "neg"
    );
    let mut total_hvps = 0;
    let mut total_grads = 0;
    let mut outer = 0;
    let (f_final, g_final) = loop {
        let (f, g) = rosenbrock_grad(&x);
        total_grads += 1;
        let gnorm = norm(&g);
        if gnorm < 1e-8 || outer == 200 {
            println!("{outer:5} {f:14.6e} {gnorm:11.3e}");
            break (f, gnorm);
        }
        let tol = 0.5_f64.min(gnorm.sqrt()) * gnorm;
        let inner = newton_cg_direction(&x, &g, tol, 2 * N);
        total_hvps += inner.iterations;
        // Backtracking line search to the Armijo condition.
        let slope = dot(&g, &inner.p);
        assert!(slope < 0.0, "not a descent direction");
        let mut t = 1.0;
        let mut trial = x.clone();
        loop {
            for i in 0..N {
                trial[i] = x[i] + t * inner.p[i];
            }
            if rosenbrock(&trial) <= f + 1e-4 * t * slope || t < 1e-12 {
                break;
            }
            t *= 0.5;
        }
        println!(
            "{outer:5} {f:14.6e} {gnorm:11.3e} {:6} {t:9.3e} {:>5}",
            inner.iterations,
            if inner.negative_curvature { "yes" } else { "" }
        );
        x = trial;
        outer += 1;
    };
    let distance = x.iter().map(|v| (v - 1.0).abs()).fold(0.0_f64, f64::max);
    println!(
        "converged in {outer} Newton-CG iterations ({total_hvps} Hessian-vector products, {total_grads} gradients): f = {f_final:.3e}, |g| = {g_final:.3e}, max |x_i - 1| = {distance:.3e}"
    );
    assert!(g_final < 1e-8, "Newton-CG did not converge");
    assert!(
        distance < 1e-8,
        "converged away from the minimum (1, ..., 1)"
    );
    let solve_time = start.elapsed();
    println!("optimisation time {:.3} s", solve_time.as_secs_f64());

    // ---- Cost of a Hessian-vector product ----------------------------------------------
    let v = sample_points(2, N, -1.0, 1.0);
    let budget = Duration::from_millis(200);
    let t_f = time_per_call(|| rosenbrock(&x), budget);
    let t_grad = time_per_call(|| rosenbrock_grad(&x), budget);
    let t_hvp = time_per_call(|| rosenbrock_hvp(&x, &v), budget);
    println!(
        "time per call: f {:.2} us, f_grad {:.2} us, f_hvp {:.2} us; f_hvp/f_grad = {:.2}",
        t_f.as_secs_f64() * 1e6,
        t_grad.as_secs_f64() * 1e6,
        t_hvp.as_secs_f64() * 1e6,
        t_hvp.as_secs_f64() / t_grad.as_secs_f64()
    );
    println!();

    // ---- Final checks -------------------------------------------------------------------
    // At a random point (where the Hessian is indefinite), not only at the minimum.
    let at = sample_points(7, N, -1.5, 1.5);
    let u = sample_points(8, N, -1.0, 1.0);
    let (value, gradient, hv) = rosenbrock_hvp(&at, &v);
    let (value_g, gradient_g) = rosenbrock_grad(&at);
    assert_eq!(
        value.to_bits(),
        rosenbrock(&at).to_bits(),
        "f_hvp value differs from f"
    );
    assert_eq!(
        (value, &gradient),
        (value_g, &gradient_g),
        "f_hvp gradient differs from f_grad"
    );
    verify_directional(
        "rosenbrock_grad",
        rosenbrock,
        &at,
        &gradient,
        &u,
        Tolerance::default(),
    );
    // H v against central differences of the gradient along v.
    let grad_of = |p: &[f64]| rosenbrock_grad(p).1;
    let fd = fd_directional(grad_of, &at, &v);
    println!(
        "Hessian-vector check (rosenbrock_hvp, {N} entries): max relative error vs finite differences of f_grad = {:.2e}",
        max_relative_error(&hv, &fd)
    );
    if let Err(mismatch) = check_jvp(grad_of, &at, &v, &hv, Tolerance::default()) {
        eprintln!("{mismatch}");
        eprintln!("Hessian-vector check FAILED");
        std::process::exit(1);
    }
    println!("Hessian-vector check passed");
    // Symmetry: uᵀ(H v) = vᵀ(H u).
    let (_, _, hu) = rosenbrock_hvp(&at, &u);
    let (uhv, vhu) = (dot(&u, &hv), dot(&v, &hu));
    let asym = (uhv - vhu).abs() / uhv.abs().max(vhu.abs());
    println!(
        "symmetry check: u.(Hv) = {uhv:.15e}, v.(Hu) = {vhu:.15e}, relative difference {asym:.2e}"
    );
    if asym > 1e-12 {
        eprintln!("symmetry check FAILED");
        std::process::exit(1);
    }
    println!("symmetry check passed");
    println!("total time {:.2} s", start.elapsed().as_secs_f64());
}
