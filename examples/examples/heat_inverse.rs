//! Run the heat equation backwards: recover an initial temperature field from the
//! final one, through 200 explicit time steps of a nonlinear PDE.
//!
//! The field `u` on `M = 1000` grid points obeys `u_t = u_xx + 0.1 sin(u)` with the
//! ends held at zero, advanced by the explicit scheme
//! `u_i ← u_i + r (u_{i-1} - 2 u_i + u_{i+1}) + 0.1 dt sin(u_i)`. Going backwards in
//! time is ill-posed (diffusion erases short wavelengths), so the objective adds a
//! smoothness penalty to the misfit:
//!
//! `J(u0) = Σ (u_T(u0) - observed)² + λ Σ (u0_{i+1} - u0_i)²`.
//!
//! `objective_grad` gives all 1000 partial derivatives of `J` in one reverse sweep
//! through the 200 steps (each step overwrites the state buffer); finite differences
//! would need 1001 evaluations. Adam descends from a flat initial guess.
//!
//! Run with `cargo run --release --example heat_inverse`.

use std::time::{Duration, Instant};

use autodiff_examples::{time_per_call, verify_directional, verify_gradient};
use autodiff_runtime::check::{sample_points, Tolerance};
use autodiff_runtime::differentiate;

/// Grid points.
const M: usize = 1000;
/// Explicit time steps.
const STEPS: usize = 200;
/// Diffusion number `dt / dx²` (the explicit scheme is stable up to 0.5).
const R: f64 = 0.25;
/// Time step, scaling the source term.
const DT: f64 = 0.05;
/// Weight of the smoothness penalty.
const LAMBDA: f64 = 1e-3;

/// The temperature field after `steps` explicit steps from `u0`, written into `u`.
// Element loops: slice methods such as `copy_from_slice` are outside what
// `#[differentiate]` accepts.
#[allow(clippy::manual_memcpy)]
#[differentiate(wrt(u0))]
fn evolve(u0: &[f64], steps: usize, r: f64, dt: f64, u: &mut [f64]) {
    let m = u0.len();
    let mut cur = u0.to_vec();
    let mut next = vec![0.0; m];
    for _ in 0..steps {
        for i in 1..m - 1 {
            let lap = cur[i - 1] - 2.0 * cur[i] + cur[i + 1];
            next[i] = cur[i] + r * lap + 0.1 * dt * cur[i].sin();
        }
        for i in 1..m - 1 {
            cur[i] = next[i];
        }
    }
    for i in 0..m {
        u[i] = cur[i];
    }
}

/// Misfit of the final field against `observed`, plus `lambda` times the roughness
/// of `u0`.
#[differentiate(wrt(u0))]
fn objective(u0: &[f64], observed: &[f64], steps: usize, r: f64, dt: f64, lambda: f64) -> f64 {
    let m = u0.len();
    let mut u = vec![0.0; m];
    evolve(u0, steps, r, dt, &mut u);
    let mut misfit = 0.0;
    for i in 0..m {
        let d = u[i] - observed[i];
        misfit += d * d;
    }
    let mut rough = 0.0;
    for i in 0..m - 1 {
        let d = u0[i + 1] - u0[i];
        rough += d * d;
    }
    misfit + lambda * rough
}

/// Root-mean-square difference.
fn rms(a: &[f64], b: &[f64]) -> f64 {
    let s: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    (s / a.len() as f64).sqrt()
}

/// A coarse text plot of a field: one character per block of grid points.
fn sparkline(u: &[f64], lo: f64, hi: f64) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    u.chunks(u.len() / 50)
        .map(|c| {
            let mean = c.iter().sum::<f64>() / c.len() as f64;
            let t = ((mean - lo) / (hi - lo)).clamp(0.0, 0.999);
            LEVELS[(t * LEVELS.len() as f64) as usize]
        })
        .collect()
}

fn main() {
    let start = Instant::now();
    // The true initial field: three bumps of different heights and widths.
    let x: Vec<f64> = (0..M).map(|i| i as f64 / (M - 1) as f64).collect();
    let bump = |x: f64, c: f64, w: f64| (-((x - c) / w).powi(2)).exp();
    let u_true: Vec<f64> = x
        .iter()
        .map(|&x| 2.5 * bump(x, 0.25, 0.04) + 1.5 * bump(x, 0.55, 0.07) - 2.0 * bump(x, 0.8, 0.03))
        .collect();
    let mut observed = vec![0.0; M];
    evolve(&u_true, STEPS, R, DT, &mut observed);
    println!(
        "heat equation u_t = u_xx + 0.1 sin(u): {M} grid points, {STEPS} explicit steps; recover u(0) from u(T)"
    );
    println!("true u(0):     {}", sparkline(&u_true, -2.0, 2.5));
    println!("observed u(T): {}", sparkline(&observed, -2.0, 2.5));

    // Nesterov's accelerated gradient descent from a flat guess. The step is below
    // 1/L for the objective's curvature L: the misfit's Hessian is 2 JᵀJ, and the
    // source term can amplify the field by up to exp(0.1 · 200 · dt) = e.
    let step = 0.06;
    let mut u0 = vec![0.0; M];
    let mut prev = u0.clone();
    let mut look = u0.clone();
    let iters = 200;
    for it in 0..=iters {
        let (value, grad) = objective_grad(&look, &observed, STEPS, R, DT, LAMBDA);
        if it % 20 == 0 || it == iters {
            println!(
                "iter {it:4}  objective {value:.4e}  rms error of u(0) vs truth {:.4}",
                rms(&look, &u_true)
            );
        }
        if it == iters {
            u0 = look;
            break;
        }
        let momentum = it as f64 / (it as f64 + 3.0);
        for i in 0..M {
            let next = look[i] - step * grad[i];
            look[i] = next + momentum * (next - prev[i]);
            prev[i] = next;
        }
    }
    println!("recovered u(0): {}", sparkline(&u0, -2.0, 2.5));
    println!("true u(0):      {}", sparkline(&u_true, -2.0, 2.5));
    let err = rms(&u0, &u_true);
    println!(
        "rms error of the recovered u(0): {err:.4} (of a field with rms {:.4})",
        rms(&u_true, &vec![0.0; M])
    );

    // What one gradient costs, against what finite differences would cost.
    let budget = Duration::from_millis(500);
    let t_eval = time_per_call(|| objective(&u0, &observed, STEPS, R, DT, LAMBDA), budget);
    let t_grad = time_per_call(
        || objective_grad(&u0, &observed, STEPS, R, DT, LAMBDA),
        budget,
    );
    let fd_start = Instant::now();
    let mut sink = 0.0;
    for _ in 0..=M {
        sink += objective(&u0, &observed, STEPS, R, DT, LAMBDA);
    }
    let t_fd = fd_start.elapsed();
    std::hint::black_box(sink);
    println!();
    println!("one objective:      {:9.3} ms", t_eval.as_secs_f64() * 1e3);
    println!(
        "one objective_grad: {:9.3} ms  ({:.2}x one objective)",
        t_grad.as_secs_f64() * 1e3,
        t_grad.as_secs_f64() / t_eval.as_secs_f64()
    );
    println!(
        "{} objectives (one-sided finite differences): {:9.3} ms  ({:.0}x one objective_grad)",
        M + 1,
        t_fd.as_secs_f64() * 1e3,
        t_fd.as_secs_f64() / t_grad.as_secs_f64()
    );
    println!();

    // Final checks, at a point where no entry of the gradient is negligible. Finite
    // differences of all 1000 entries would take 4001 evaluations; check every 20th
    // entry (perturbing only those coordinates), then the whole gradient along a
    // pseudo-random direction.
    let u_check: Vec<f64> = u_true.iter().map(|u| 0.8 * u + 0.1).collect();
    let (_, grad) = objective_grad(&u_check, &observed, STEPS, R, DT, LAMBDA);
    let picked: Vec<usize> = (0..M).step_by(20).collect();
    let sub_x: Vec<f64> = picked.iter().map(|&i| u_check[i]).collect();
    let sub_grad: Vec<f64> = picked.iter().map(|&i| grad[i]).collect();
    let mut buf = u_check.clone();
    verify_gradient(
        "objective_grad, every 20th entry",
        |sub| {
            for (k, &i) in picked.iter().enumerate() {
                buf[i] = sub[k];
            }
            objective(&buf, &observed, STEPS, R, DT, LAMBDA)
        },
        &sub_x,
        &sub_grad,
        Tolerance::default(),
    );
    let direction = sample_points(7, M, -1.0, 1.0);
    verify_directional(
        "objective_grad",
        |u| objective(u, &observed, STEPS, R, DT, LAMBDA),
        &u_check,
        &grad,
        &direction,
        Tolerance::default(),
    );
    assert!(err < 0.01, "the reconstruction is too far from the truth");
    println!("total time {:.2} s", start.elapsed().as_secs_f64());
}
