//! Spring chain: `N` unit masses in a line, spring `i` joining mass `i` to mass
//! `i − 1` (spring 0 to the wall), viscous damping, integrated for `T` steps by
//! semi-implicit Euler with the state buffers overwritten every step. The objective is
//! the mean over steps of the squared distance to an observed trajectory; the
//! gradient is with respect to all `N` stiffnesses.

use autodiff_runtime::differentiate;

use crate::scalar::Scalar;

/// One spring-chain instance.
#[derive(Clone, Debug)]
pub struct SpringData {
    /// Stiffnesses, `N` (the differentiated input).
    pub k: Vec<f64>,
    /// Initial displacement, `N` (the chain starts at rest).
    pub x0: Vec<f64>,
    /// Observed positions, `T × N`, row-major.
    pub observed: Vec<f64>,
    /// Steps.
    pub steps: usize,
    /// Time step.
    pub dt: f64,
    /// Damping coefficient.
    pub damping: f64,
}

impl SpringData {
    /// A chain of `n` masses observed for `steps` steps of `dt = 0.01`: the
    /// observations come from slightly different stiffnesses than `k`.
    pub fn new(n: usize, steps: usize) -> SpringData {
        let mut rng = crate::Lcg::new(0x5971_0000 + n as u64);
        let k_true: Vec<f64> = (0..n).map(|_| 5.0 + 10.0 * rng.uniform()).collect();
        let k = k_true
            .iter()
            .map(|k| k * (0.95 + 0.1 * rng.uniform()))
            .collect();
        let x0: Vec<f64> = (0..n).map(|i| 0.5 * ((i + 1) as f64 * 0.7).sin()).collect();
        let (dt, damping) = (0.01, 0.05);
        let observed = simulate(&k_true, &x0, steps, dt, damping);
        SpringData {
            k,
            x0,
            observed,
            steps,
            dt,
            damping,
        }
    }

    /// Number of differentiated inputs, `N`.
    pub fn n_inputs(&self) -> usize {
        self.k.len()
    }

    /// The differentiated inputs.
    pub fn params(&self) -> Vec<f64> {
        self.k.clone()
    }

    /// The objective.
    pub fn primal(&self) -> f64 {
        spring_loss(
            &self.k,
            &self.x0,
            &self.observed,
            self.steps,
            self.dt,
            self.damping,
        )
    }

    /// Value and gradient by the generated `spring_loss_grad`.
    pub fn grad(&self) -> (f64, Vec<f64>) {
        spring_loss_grad(
            &self.k,
            &self.x0,
            &self.observed,
            self.steps,
            self.dt,
            self.damping,
        )
    }

    /// Value and gradient by the hand-written adjoint.
    pub fn hand(&self) -> (f64, Vec<f64>) {
        spring_hand(self)
    }

    /// The objective of stiffnesses `k`, in any [`Scalar`].
    pub fn generic<T: Scalar>(&self, k: &[T]) -> T {
        spring_generic(self, k)
    }
}

/// The trajectory (`steps × N`) of the chain with stiffnesses `k`.
fn simulate(k: &[f64], x0: &[f64], steps: usize, dt: f64, damping: f64) -> Vec<f64> {
    let n = k.len();
    let mut x = x0.to_vec();
    let mut v = vec![0.0; n];
    let mut force = vec![0.0; n];
    let mut out = Vec::with_capacity(steps * n);
    for _ in 0..steps {
        spring_forces(k, &x, &v, damping, &mut force);
        for i in 0..n {
            v[i] += dt * force[i];
            x[i] += dt * v[i];
        }
        out.extend_from_slice(&x);
    }
    out
}

/// The spring-chain objective, written once, differentiated by `#[differentiate]`.
#[differentiate(wrt(k))]
pub fn spring_loss(
    k: &[f64],
    x0: &[f64],
    observed: &[f64],
    steps: usize,
    dt: f64,
    damping: f64,
) -> f64 {
    let n = k.len();
    let mut x = x0.to_vec();
    let mut v = vec![0.0; n];
    let mut force = vec![0.0; n];
    let mut err = 0.0;
    for t in 0..steps {
        for i in 0..n {
            let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
            let mut f = -k[i] * left - damping * v[i];
            if i + 1 < n {
                f += k[i + 1] * (x[i + 1] - x[i]);
            }
            force[i] = f;
        }
        for i in 0..n {
            v[i] += dt * force[i];
            x[i] += dt * v[i];
            let d = x[i] - observed[t * n + i];
            err += d * d;
        }
    }
    err / (steps as f64)
}

/// The spring chain's forces, written into `force` (a helper of
/// [`spring_loss_port`], and of the simulation that makes the observations and of
/// the hand adjoint).
#[differentiate]
pub fn spring_forces(k: &[f64], x: &[f64], v: &[f64], damping: f64, force: &mut [f64]) {
    let n = k.len();
    for i in 0..n {
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        let mut f = -k[i] * left - damping * v[i];
        if i + 1 < n {
            f += k[i + 1] * (x[i + 1] - x[i]);
        }
        force[i] = f;
    }
}

/// One semi-implicit Euler step of unit masses (a helper of [`spring_loss_port`]).
#[differentiate]
pub fn euler_step(x: &mut [f64], v: &mut [f64], force: &[f64], dt: f64) {
    for i in 0..x.len() {
        v[i] += dt * force[i];
        x[i] += dt * v[i];
    }
}

/// `Σ (x_i − observed[offset + i])²` (a helper of [`spring_loss_port`]).
#[differentiate]
pub fn squared_distance(x: &[f64], observed: &[f64], offset: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let d = x[i] - observed[offset + i];
        s += d * d;
    }
    s
}

/// The spring objective as a port written with helper functions would be: the
/// forces and the step each a `#[differentiate]` function writing through `&mut`,
/// the distance to the observations another.
#[differentiate(wrt(k))]
pub fn spring_loss_port(
    k: &[f64],
    x0: &[f64],
    observed: &[f64],
    steps: usize,
    dt: f64,
    damping: f64,
) -> f64 {
    let n = k.len();
    let mut x = x0.to_vec();
    let mut v = vec![0.0; n];
    let mut force = vec![0.0; n];
    let mut err = 0.0;
    for t in 0..steps {
        spring_forces(k, &x, &v, damping, &mut force);
        euler_step(&mut x, &mut v, &force, dt);
        err += squared_distance(&x, observed, t * n);
    }
    err / (steps as f64)
}

variant!(
    /// A spring instance differentiated through [`spring_loss_port`] (the report's
    /// "spring (helper fns)" row); the hand adjoint and the peers are the same.
    SpringPort(SpringData), spring_port_hand_saved_bytes = spring_hand_saved_bytes,
    primal: |s| spring_loss_port(&s.k, &s.x0, &s.observed, s.steps, s.dt, s.damping),
    grad: |s| spring_loss_port_grad(&s.k, &s.x0, &s.observed, s.steps, s.dt, s.damping),
);

/// The same objective over any [`Scalar`].
fn spring_generic<T: Scalar>(s: &SpringData, k: &[T]) -> T {
    let n = k.len();
    let zero = T::cst(0.0);
    let mut x: Vec<T> = s.x0.iter().map(|&v| T::cst(v)).collect();
    let mut v = vec![zero; n];
    let mut force = vec![zero; n];
    let mut err = zero;
    for t in 0..s.steps {
        for i in 0..n {
            let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
            let mut f = -k[i] * left - v[i] * s.damping;
            if i + 1 < n {
                f += k[i + 1] * (x[i + 1] - x[i]);
            }
            force[i] = f;
        }
        for i in 0..n {
            v[i] += force[i] * s.dt;
            x[i] += v[i] * s.dt;
            let d = x[i] - s.observed[t * n + i];
            err += d * d;
        }
    }
    err * (1.0 / s.steps as f64)
}

/// Hand-written reverse-mode adjoint of [`spring_loss`]: `(value, ∂k)`.
///
/// The forces are linear in the velocities and the stiffnesses, so the reverse sweep
/// needs only the positions at the start of every step: `(T + 1) × N` values (the
/// last row for the misfit of the final step).
pub fn spring_hand(s: &SpringData) -> (f64, Vec<f64>) {
    let n = s.k.len();
    let (k, dt, damping, steps) = (&s.k[..], s.dt, s.damping, s.steps);
    let mut xs = vec![0.0; (steps + 1) * n];
    xs[..n].copy_from_slice(&s.x0);
    let mut v = vec![0.0; n];
    let mut force = vec![0.0; n];
    let mut err = 0.0;
    for t in 0..steps {
        let (done, rest) = xs.split_at_mut((t + 1) * n);
        let x = &done[t * n..];
        spring_forces(k, x, &v, damping, &mut force);
        let xn = &mut rest[..n];
        let obs = &s.observed[t * n..(t + 1) * n];
        for i in 0..n {
            v[i] += dt * force[i];
            xn[i] = x[i] + dt * v[i];
            let d = xn[i] - obs[i];
            err += d * d;
        }
    }
    let value = err / steps as f64;

    let mut gk = vec![0.0; n];
    let mut xb = vec![0.0; n];
    let mut vb = vec![0.0; n];
    let err_bar = 1.0 / steps as f64;
    for t in (0..steps).rev() {
        let x = &xs[t * n..(t + 1) * n];
        let xn = &xs[(t + 1) * n..(t + 2) * n];
        let obs = &s.observed[t * n..(t + 1) * n];
        for i in 0..n {
            // err += (x_{t+1} − obs)²; x_{t+1} = x_t + dt v_{t+1}.
            xb[i] += 2.0 * err_bar * (xn[i] - obs[i]);
            vb[i] += dt * xb[i];
        }
        // v_{t+1} = v_t + dt F(x_t, v_t).
        for i in 0..n {
            let fb = dt * vb[i];
            let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
            gk[i] -= fb * left;
            xb[i] -= k[i] * fb;
            if i > 0 {
                xb[i - 1] += k[i] * fb;
            }
            vb[i] -= damping * fb;
            if i + 1 < n {
                gk[i + 1] += fb * (x[i + 1] - x[i]);
                xb[i + 1] += k[i + 1] * fb;
                xb[i] -= k[i + 1] * fb;
            }
        }
    }
    (value, gk)
}

/// Bytes of intermediate state the hand adjoint keeps: the positions of every step
/// plus velocity, force and the two state adjoints.
pub fn spring_hand_saved_bytes(s: &SpringData) -> usize {
    8 * ((s.steps + 1) * s.k.len() + 4 * s.k.len())
}
