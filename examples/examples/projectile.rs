//! Aim a cannon through an RK4 integrator: a projectile with quadratic air drag.
//!
//! The state `[x, y, vx, vy]` obeys `x'' = -c |v| vx`, `y'' = -g - c |v| vy`, integrated
//! with classical fourth-order Runge-Kutta (`rk4_step`, itself a `#[differentiate]`
//! function that calls `derivative` four times). Two problems, both solved by gradient
//! descent through all the integrator steps:
//!
//! 1. **Hit a target in time**: find the launch angle and speed that put the ball at
//!    the point `(X, Y)` exactly `t = 3 s` after launch (400 RK4 steps).
//! 2. **Longest shot**: at a fixed launch speed, find the angle that maximises the
//!    range. The landing point is found inside the differentiated function: a
//!    data-dependent `if` notices the step that crosses the ground, redoes it with the
//!    interpolated fractional step size and `return`s from inside the loop; the
//!    derivative is that of the path that runs. Without drag the answer is 45°; with
//!    drag it is lower.
//!
//! Run with `cargo run --release --example projectile`.

use std::time::Instant;

use autodiff_examples::{verify_gradient, Adam};
use autodiff_runtime::check::Tolerance;
use autodiff_runtime::differentiate;

/// Gravity, m/s².
const G: f64 = 9.81;
/// Quadratic drag coefficient `c` (drag acceleration `c |v|²`), 1/m.
const DRAG: f64 = 0.01;
/// RK4 steps.
const STEPS: usize = 400;

/// Time derivative of the state `s = [x, y, vx, vy]`, written into `ds`.
#[differentiate(wrt(s))]
fn derivative(s: &[f64], drag: f64, ds: &mut [f64]) {
    let speed = (s[2] * s[2] + s[3] * s[3]).sqrt();
    ds[0] = s[2];
    ds[1] = s[3];
    ds[2] = -drag * speed * s[2];
    ds[3] = -G - drag * speed * s[3];
}

/// One classical Runge-Kutta step of size `dt`, in place.
#[differentiate(wrt(s))]
fn rk4_step(s: &mut [f64], dt: f64, drag: f64) {
    let mut k1 = [0.0; 4];
    let mut k2 = [0.0; 4];
    let mut k3 = [0.0; 4];
    let mut k4 = [0.0; 4];
    let mut tmp = [0.0; 4];
    derivative(s, drag, &mut k1);
    for i in 0..4 {
        tmp[i] = s[i] + 0.5 * dt * k1[i];
    }
    derivative(&tmp, drag, &mut k2);
    for i in 0..4 {
        tmp[i] = s[i] + 0.5 * dt * k2[i];
    }
    derivative(&tmp, drag, &mut k3);
    for i in 0..4 {
        tmp[i] = s[i] + dt * k3[i];
    }
    derivative(&tmp, drag, &mut k4);
    for i in 0..4 {
        s[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    }
}

/// Squared distance between the ball at time `t_hit` and the target `(tx, ty)`, for a
/// launch at `angle` (radians) and `speed` (m/s) from the origin.
#[differentiate(wrt(angle, speed))]
fn miss(angle: f64, speed: f64, t_hit: f64, tx: f64, ty: f64, steps: usize) -> f64 {
    let mut s = [0.0, 0.0, speed * angle.cos(), speed * angle.sin()];
    let dt = t_hit / steps as f64;
    for _ in 0..steps {
        rk4_step(&mut s, dt, DRAG);
    }
    let dx = s[0] - tx;
    let dy = s[1] - ty;
    dx * dx + dy * dy
}

/// Horizontal distance at which a ball launched at `angle` and `speed` comes back to
/// the ground (`y = 0`), integrating with step `dt` for at most `max_steps` steps.
///
/// In the step that crosses the ground, linear interpolation gives the fraction of the
/// step at which `y = 0`; the step is then redone from the saved state with that
/// fractional size, and the small remaining height is removed by following the
/// velocity. Plain linear interpolation would do, but its `O(dt²)` error has kinks
/// wherever the landing moves from one step to the next, and the gradient ascent
/// below would see them.
// Element loops: slice methods such as `copy_from_slice` are outside what
// `#[differentiate]` accepts.
#[allow(clippy::manual_memcpy)]
#[differentiate(wrt(angle))]
fn range(angle: f64, speed: f64, dt: f64, max_steps: usize) -> f64 {
    let mut s = [0.0, 0.0, speed * angle.cos(), speed * angle.sin()];
    let mut prev = [0.0; 4];
    for _ in 0..max_steps {
        for i in 0..4 {
            prev[i] = s[i];
        }
        rk4_step(&mut s, dt, DRAG);
        if s[1] < 0.0 {
            // Crossed the ground during this step.
            let frac = prev[1] / (prev[1] - s[1]);
            for i in 0..4 {
                s[i] = prev[i];
            }
            rk4_step(&mut s, frac * dt, DRAG);
            return s[0] - s[1] * s[2] / s[3];
        }
    }
    s[0]
}

fn main() {
    let start = Instant::now();

    // ---- 1. Hit a target at a given time ------------------------------------------
    let (t_hit, tx, ty) = (3.0, 50.0, 8.0);
    println!(
        "part 1: hit the point ({tx} m, {ty} m) exactly {t_hit} s after launch \
         (drag c = {DRAG}/m, {STEPS} RK4 steps)"
    );
    let mut angle = 45f64.to_radians();
    let mut speed = 30.0;
    println!(
        "initial guess: angle {:.2} deg, speed {speed:.2} m/s, miss {:.3} m",
        angle.to_degrees(),
        miss(angle, speed, t_hit, tx, ty, STEPS).sqrt()
    );
    // Adam on (angle, ln speed).
    let mut p = [angle, speed.ln()];
    let iters = 400;
    let mut adam = Adam::new(2, 0.02);
    for it in 0..=iters {
        angle = p[0];
        speed = p[1].exp();
        let (d2, (g_angle, g_speed)) = miss_grad(angle, speed, t_hit, tx, ty, STEPS);
        if it % 25 == 0 || it == iters {
            println!(
                "iter {it:4}  angle {:7.3} deg  speed {speed:8.4} m/s  squared miss {d2:.3e} m²",
                angle.to_degrees()
            );
        }
        if it == iters {
            break;
        }
        adam.lr = 0.02 * 0.01_f64.powf(it as f64 / iters as f64);
        adam.step(&mut p, &[g_angle, g_speed * speed]);
    }
    let miss_final = miss(angle, speed, t_hit, tx, ty, STEPS).sqrt();
    println!(
        "solution: launch at {:.4} deg, {speed:.4} m/s; the ball passes {miss_final:.2e} m from the target",
        angle.to_degrees()
    );
    // For comparison: without drag the same shot needs vx = X/t, vy = (Y + g t²/2)/t.
    let (vx, vy) = (tx / t_hit, (ty + 0.5 * G * t_hit * t_hit) / t_hit);
    println!(
        "(in vacuum it would take {:.4} deg, {:.4} m/s)",
        vy.atan2(vx).to_degrees(),
        vx.hypot(vy)
    );
    assert!(miss_final < 1e-3, "part 1 did not converge");
    println!();

    // ---- 2. Longest shot ----------------------------------------------------------
    let v0 = 40.0;
    let dt = 0.01;
    let max_steps = 2000;
    println!("part 2: the angle of the longest shot at {v0} m/s (landing found by a branch and early return inside the loop)");
    // Plain gradient ascent: the range is smooth and nearly quadratic near its peak.
    let mut theta = 30f64.to_radians();
    let step = 0.003;
    let iters = 40;
    for it in 0..=iters {
        let (r, dr) = range_grad(theta, v0, dt, max_steps);
        if it % 4 == 0 || it == iters {
            println!(
                "iter {it:4}  angle {:7.3} deg  range {r:9.4} m  d(range)/d(angle) {dr:10.3e} m/rad",
                theta.to_degrees()
            );
        }
        if it == iters {
            break;
        }
        theta += step * dr;
    }
    let best = theta;
    println!(
        "best angle with drag: {:.3} deg, range {:.3} m (in vacuum: 45 deg, {:.3} m)",
        best.to_degrees(),
        range(best, v0, dt, max_steps),
        v0 * v0 / G
    );
    assert!(best.to_degrees() < 45.0, "drag should lower the best angle");
    println!();

    // ---- Final checks against finite differences ----------------------------------
    let (a0, s0) = (40f64.to_radians(), 28.0);
    let (_, (ga, gs)) = miss_grad(a0, s0, t_hit, tx, ty, STEPS);
    verify_gradient(
        "miss_grad, 400 RK4 steps",
        |p| miss(p[0], p[1], t_hit, tx, ty, STEPS),
        &[a0, s0],
        &[ga, gs],
        Tolerance::default(),
    );
    let a1 = 35f64.to_radians();
    let (_, dr) = range_grad(a1, v0, dt, max_steps);
    verify_gradient(
        "range_grad, with the landing branch",
        |p| range(p[0], v0, dt, max_steps),
        &[a1],
        &[dr],
        Tolerance::default(),
    );
    println!("total time {:.2} s", start.elapsed().as_secs_f64());
}
