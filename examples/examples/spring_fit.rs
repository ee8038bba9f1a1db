//! System identification through a whole simulation: recover the stiffnesses of a
//! chain of springs from an observed trajectory.
//!
//! A chain of `N` unit masses hangs off a wall: spring `i` joins mass `i` to mass
//! `i - 1` (spring 0 joins mass 0 to the wall), each mass feels a little viscous
//! damping. `loss` integrates the chain with semi-implicit Euler for up to `T = 2000`
//! steps and returns the mean squared distance to an observed trajectory. The whole
//! simulation, every step overwriting the state buffers, is one `#[differentiate]`
//! function, so `loss_grad` gives the exact gradient with respect to all `N`
//! stiffnesses in one reverse sweep.
//!
//! Starting from a wrong guess (all stiffnesses equal), Adam on `ln k` recovers the
//! true stiffnesses. Long trajectories make the loss very wavy in `k` (a small
//! frequency error becomes a large phase error after many periods), so the fit starts
//! on a short window of the observations and lengthens it as the fit improves.
//!
//! Run with `cargo run --release --example spring_fit`.

use std::time::{Duration, Instant};

use autodiff_examples::{time_per_call, verify_gradient, Adam};
use autodiff_runtime::check::Tolerance;
use autodiff_runtime::differentiate;

/// Number of masses (and springs).
const N: usize = 8;
/// Integrator steps in the full observation window.
const T: usize = 2000;
/// Time step.
const DT: f64 = 0.01;
/// Viscous damping coefficient of every mass.
const DAMPING: f64 = 0.05;

/// Spring and damping forces on every mass of the chain, written into `force`.
#[differentiate(wrt(k, x, v))]
fn chain_forces(k: &[f64], x: &[f64], v: &[f64], damping: f64, force: &mut [f64]) {
    let n = k.len();
    for i in 0..n {
        // Extension of spring i (the wall sits at 0).
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        let mut f = -k[i] * left - damping * v[i];
        if i + 1 < n {
            f += k[i + 1] * (x[i + 1] - x[i]);
        }
        force[i] = f;
    }
}

/// Mean squared error between the simulated positions and `observed` (row-major,
/// `steps × N`) over the first `steps` steps, starting at rest from displacement `x0`.
#[differentiate(wrt(k))]
fn loss(k: &[f64], x0: &[f64], observed: &[f64], steps: usize, dt: f64, damping: f64) -> f64 {
    let n = k.len();
    let mut x = x0.to_vec();
    let mut v = vec![0.0; n];
    let mut force = vec![0.0; n];
    let mut err = 0.0;
    for t in 0..steps {
        chain_forces(k, &x, &v, damping, &mut force);
        for i in 0..n {
            // Semi-implicit (symplectic) Euler: velocity first, then position.
            v[i] += dt * force[i];
            x[i] += dt * v[i];
            let d = x[i] - observed[t * n + i];
            err += d * d;
        }
    }
    err / (steps as f64)
}

/// The trajectory (row-major, `steps × N`) of the chain with stiffnesses `k`: the
/// same integrator as [`loss`], recording positions instead of comparing them.
fn simulate(k: &[f64], x0: &[f64], steps: usize, dt: f64, damping: f64) -> Vec<f64> {
    let n = k.len();
    let mut x = x0.to_vec();
    let mut v = vec![0.0; n];
    let mut force = vec![0.0; n];
    let mut out = Vec::with_capacity(steps * n);
    for _ in 0..steps {
        chain_forces(k, &x, &v, damping, &mut force);
        for i in 0..n {
            v[i] += dt * force[i];
            x[i] += dt * v[i];
        }
        out.extend_from_slice(&x);
    }
    out
}

fn fmt_vec(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:6.3}")).collect();
    format!("[{}]", parts.join(", "))
}

/// The largest relative error of `k` against `k_true`.
fn rel_error(k: &[f64], k_true: &[f64]) -> f64 {
    k.iter()
        .zip(k_true)
        .map(|(a, b)| ((a - b) / b).abs())
        .fold(0.0, f64::max)
}

fn main() {
    let start = Instant::now();
    let k_true = [12.0, 7.0, 15.0, 9.0, 5.0, 13.0, 8.0, 11.0];
    // Pluck the chain: a smooth initial displacement, released from rest.
    let x0: Vec<f64> = (0..N).map(|i| 0.5 * ((i + 1) as f64 * 0.7).sin()).collect();
    let observed = simulate(&k_true, &x0, T, DT, DAMPING);
    println!(
        "spring chain: {N} masses, {T} semi-implicit Euler steps (dt = {DT}, {:.0} s simulated)",
        T as f64 * DT
    );
    println!("true stiffnesses:    {}", fmt_vec(&k_true));

    // A wrong initial guess: every spring the same.
    let mut k = vec![10.0; N];
    println!("initial guess:       {}", fmt_vec(&k));
    println!(
        "initial loss over the full window: {:.4e}",
        loss(&k, &x0, &observed, T, DT, DAMPING)
    );
    println!();

    // Adam on theta = ln k (keeps k positive and treats stiff and soft springs alike).
    let mut theta: Vec<f64> = k.iter().map(|x| x.ln()).collect();
    let mut adam = Adam::new(N, 0.02);
    let mut window = 200;
    let iters = 800;
    for it in 0..=iters {
        for i in 0..N {
            k[i] = theta[i].exp();
        }
        let (value, grad_k) = loss_grad(&k, &x0, &observed, window, DT, DAMPING);
        // Once the current window fits, lengthen it.
        if value < 1e-6 && window < T {
            window = (window * 2).min(T);
        }
        if it % 50 == 0 || it == iters {
            let full = loss(&k, &x0, &observed, T, DT, DAMPING);
            println!(
                "iter {it:5}  window {window:4} steps  loss(window) {value:.3e}  loss(full) {full:.3e}  max |k - k_true|/k_true {:.2e}",
                rel_error(&k, &k_true)
            );
        }
        if it == iters {
            break;
        }
        let grad_theta: Vec<f64> = grad_k.iter().zip(&k).map(|(g, k)| g * k).collect();
        // Step size decays geometrically from 0.02 to 2e-4.
        adam.lr = 0.02 * 0.01_f64.powf(it as f64 / iters as f64);
        adam.step(&mut theta, &grad_theta);
    }
    println!();
    println!("true stiffnesses:    {}", fmt_vec(&k_true));
    println!("recovered:           {}", fmt_vec(&k));
    let worst = rel_error(&k, &k_true);
    println!("largest relative error in a stiffness: {worst:.2e}");

    // Cost of a gradient relative to a plain evaluation, full window.
    let budget = Duration::from_millis(300);
    let t_loss = time_per_call(|| loss(&k, &x0, &observed, T, DT, DAMPING), budget);
    let t_grad = time_per_call(|| loss_grad(&k, &x0, &observed, T, DT, DAMPING), budget);
    println!();
    println!(
        "one loss call: {:.1} us, one loss_grad call: {:.1} us, ratio {:.2} (gradient of all {N} stiffnesses through {T} steps)",
        t_loss.as_secs_f64() * 1e6,
        t_grad.as_secs_f64() * 1e6,
        t_grad.as_secs_f64() / t_loss.as_secs_f64()
    );

    // Final check at a point off the optimum, where the gradient is not small.
    let k_check: Vec<f64> = k_true.iter().map(|k| k * 0.97).collect();
    let (_, grad) = loss_grad(&k_check, &x0, &observed, T, DT, DAMPING);
    verify_gradient(
        "loss_grad, full window",
        |k| loss(k, &x0, &observed, T, DT, DAMPING),
        &k_check,
        &grad,
        Tolerance::default(),
    );
    assert!(worst < 1e-4, "the fit did not recover the stiffnesses");
    println!("total time {:.2} s", start.elapsed().as_secs_f64());
}
