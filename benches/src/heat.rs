//! Heat equation in 1-D with a nonlinear source: `u_t = u_xx + sin(u)` on `M` grid
//! points, ends held at their initial values, `T` explicit steps
//! `u_i ← u_i + r (u_{i−1} − 2u_i + u_{i+1}) + dt sin(u_i)`. The objective is the
//! squared misfit of the final field to an observation; the gradient is with respect
//! to the whole initial field `u0`.

use autodiff_runtime::differentiate;

use crate::scalar::Scalar;

/// One heat-equation instance.
#[derive(Clone, Debug)]
pub struct HeatData {
    /// Initial field, `M` (the differentiated input).
    pub u0: Vec<f64>,
    /// Observed final field, `M`.
    pub observed: Vec<f64>,
    /// Steps.
    pub steps: usize,
    /// Diffusion number `dt / dx²` (stable up to 0.5).
    pub r: f64,
    /// Time step, scaling the source.
    pub dt: f64,
}

impl HeatData {
    /// `m` grid points, `steps` steps, `r = 0.25`, `dt = 0.01`.
    pub fn new(m: usize, steps: usize) -> HeatData {
        let mut rng = crate::Lcg::new(0x4ea7_0000 + m as u64);
        let u0 = (0..m)
            .map(|i| (std::f64::consts::PI * i as f64 / (m - 1) as f64).sin() + 0.1 * rng.uniform())
            .collect();
        let observed = (0..m).map(|_| 0.5 * rng.uniform()).collect();
        HeatData {
            u0,
            observed,
            steps,
            r: 0.25,
            dt: 0.01,
        }
    }

    /// Number of differentiated inputs, `M`.
    pub fn n_inputs(&self) -> usize {
        self.u0.len()
    }

    /// The differentiated inputs.
    pub fn params(&self) -> Vec<f64> {
        self.u0.clone()
    }

    /// The objective.
    pub fn primal(&self) -> f64 {
        heat_loss(&self.u0, &self.observed, self.steps, self.r, self.dt)
    }

    /// Value and gradient by the generated `heat_loss_grad`.
    pub fn grad(&self) -> (f64, Vec<f64>) {
        heat_loss_grad(&self.u0, &self.observed, self.steps, self.r, self.dt)
    }

    /// Value and gradient by the hand-written adjoint.
    pub fn hand(&self) -> (f64, Vec<f64>) {
        heat_hand(self)
    }

    /// The objective of the initial field, in any [`Scalar`].
    pub fn generic<T: Scalar>(&self, u0: &[T]) -> T {
        heat_generic(self, u0)
    }
}

/// The heat objective, written once, differentiated by `#[differentiate]`.
// Element loops: slice methods such as `copy_from_slice` are outside what
// `#[differentiate]` accepts.
#[allow(clippy::manual_memcpy)]
#[differentiate(wrt(u0))]
pub fn heat_loss(u0: &[f64], observed: &[f64], steps: usize, r: f64, dt: f64) -> f64 {
    let m = u0.len();
    let mut cur = u0.to_vec();
    let mut next = vec![0.0; m];
    for _ in 0..steps {
        for i in 1..m - 1 {
            next[i] = cur[i] + r * (cur[i - 1] - 2.0 * cur[i] + cur[i + 1]) + dt * cur[i].sin();
        }
        for i in 1..m - 1 {
            cur[i] = next[i];
        }
    }
    let mut j = 0.0;
    for i in 0..m {
        let d = cur[i] - observed[i];
        j += d * d;
    }
    j
}

/// One explicit step of the interior of the field, written into `next` (a helper
/// of [`heat_loss_port`]).
#[differentiate]
pub fn heat_step(cur: &[f64], next: &mut [f64], r: f64, dt: f64) {
    let m = cur.len();
    for i in 1..m - 1 {
        next[i] = cur[i] + r * (cur[i - 1] - 2.0 * cur[i] + cur[i + 1]) + dt * cur[i].sin();
    }
}

/// Copies the interior of `src` into `dst` (a helper of [`heat_loss_port`]).
// An element loop: slice methods are outside what `#[differentiate]` accepts.
#[allow(clippy::manual_memcpy)]
#[differentiate]
pub fn copy_interior(src: &[f64], dst: &mut [f64]) {
    for i in 1..src.len() - 1 {
        dst[i] = src[i];
    }
}

/// The heat objective as a port written with helper functions would be: the step
/// writing through `&mut`, the copy back another call, and the distance to the
/// observation [`crate::spring::squared_distance`].
#[differentiate(wrt(u0))]
pub fn heat_loss_port(u0: &[f64], observed: &[f64], steps: usize, r: f64, dt: f64) -> f64 {
    let m = u0.len();
    let mut cur = u0.to_vec();
    let mut next = vec![0.0; m];
    for _ in 0..steps {
        heat_step(&cur, &mut next, r, dt);
        copy_interior(&next, &mut cur);
    }
    crate::spring::squared_distance(&cur, observed, 0)
}

variant!(
    /// A heat instance differentiated through [`heat_loss_port`] (the report's "heat
    /// (helper fns)" row); the hand adjoint and the peers are the same.
    HeatPort(HeatData), heat_port_hand_saved_bytes = heat_hand_saved_bytes,
    primal: |h| heat_loss_port(&h.u0, &h.observed, h.steps, h.r, h.dt),
    grad: |h| heat_loss_port_grad(&h.u0, &h.observed, h.steps, h.r, h.dt),
);

/// The same objective over any [`Scalar`].
fn heat_generic<T: Scalar>(h: &HeatData, u0: &[T]) -> T {
    let m = u0.len();
    let mut cur = u0.to_vec();
    let mut next = vec![T::cst(0.0); m];
    for _ in 0..h.steps {
        for i in 1..m - 1 {
            next[i] = cur[i] + (cur[i - 1] - cur[i] * 2.0 + cur[i + 1]) * h.r + cur[i].sin() * h.dt;
        }
        cur[1..m - 1].copy_from_slice(&next[1..m - 1]);
    }
    let mut j = T::cst(0.0);
    for i in 0..m {
        let d = cur[i] - h.observed[i];
        j += d * d;
    }
    j
}

/// Hand-written reverse-mode adjoint of [`heat_loss`]: `(value, ∂u0)`.
///
/// The reverse sweep needs `cos(u_i)` of every step: the forward sweep keeps the field
/// at the start of every step, `T × M` values, writing each step straight into the
/// next row (no copy).
pub fn heat_hand(h: &HeatData) -> (f64, Vec<f64>) {
    let m = h.u0.len();
    let (r, dt, steps) = (h.r, h.dt, h.steps);
    let mut us = vec![0.0; (steps + 1) * m];
    us[..m].copy_from_slice(&h.u0);
    for t in 0..steps {
        let (done, rest) = us.split_at_mut((t + 1) * m);
        let u = &done[t * m..];
        let un = &mut rest[..m];
        un[0] = u[0];
        un[m - 1] = u[m - 1];
        for i in 1..m - 1 {
            un[i] = u[i] + r * (u[i - 1] - 2.0 * u[i] + u[i + 1]) + dt * u[i].sin();
        }
    }
    let last = &us[steps * m..];
    let mut value = 0.0;
    let mut ub = vec![0.0; m];
    for i in 0..m {
        let d = last[i] - h.observed[i];
        value += d * d;
        ub[i] = 2.0 * d;
    }
    let mut ub_prev = vec![0.0; m];
    for t in (0..steps).rev() {
        let u = &us[t * m..(t + 1) * m];
        ub_prev[0] = ub[0];
        ub_prev[m - 1] = ub[m - 1];
        for i in 1..m - 1 {
            ub_prev[i] = 0.0;
        }
        for i in 1..m - 1 {
            let g = ub[i];
            ub_prev[i] += g * (1.0 - 2.0 * r + dt * u[i].cos());
            ub_prev[i - 1] += r * g;
            ub_prev[i + 1] += r * g;
        }
        std::mem::swap(&mut ub, &mut ub_prev);
    }
    (value, ub)
}

/// Bytes of intermediate state the hand adjoint keeps: the field at every step and
/// two adjoint buffers.
pub fn heat_hand_saved_bytes(h: &HeatData) -> usize {
    8 * ((h.steps + 1) * h.u0.len() + 2 * h.u0.len())
}
