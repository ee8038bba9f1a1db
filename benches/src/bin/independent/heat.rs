//! 1-D heat equation with a sin source, zero Dirichlet ghost values outside [0, M).
//! Objective: sum over every step t of sum_i (u_t[i] - obs[t][i])^2.
use autodiff_runtime::differentiate;

#[differentiate(wrt(u0))]
pub fn heat_objective(u0: &[f64], obs: &[f64], m: usize, steps: usize, r: f64, dt: f64) -> f64 {
    let mut u = u0.to_vec();
    let mut un = vec![0.0; m];
    let mut loss = 0.0;
    for t in 0..steps {
        for i in 0..m {
            let left = if i > 0 { u[i - 1] } else { 0.0 };
            let right = if i + 1 < m { u[i + 1] } else { 0.0 };
            un[i] = u[i] + r * (left - 2.0 * u[i] + right) + dt * u[i].sin();
        }
        for i in 0..m {
            u[i] = un[i];
            let e = u[i] - obs[t * m + i];
            loss += e * e;
        }
    }
    loss
}

pub fn heat_simulate(u0: &[f64], m: usize, steps: usize, r: f64, dt: f64) -> Vec<f64> {
    let mut u = u0.to_vec();
    let mut un = vec![0.0; m];
    let mut out = vec![0.0; steps * m];
    for t in 0..steps {
        for i in 0..m {
            let left = if i > 0 { u[i - 1] } else { 0.0 };
            let right = if i + 1 < m { u[i + 1] } else { 0.0 };
            un[i] = u[i] + r * (left - 2.0 * u[i] + right) + dt * u[i].sin();
        }
        u.copy_from_slice(&un);
        out[t * m..(t + 1) * m].copy_from_slice(&u);
    }
    out
}

/// Hand-written adjoint: stores u at every step; reverse sweep is one fused stencil pass.
pub fn heat_hand(
    u0: &[f64],
    obs: &[f64],
    m: usize,
    steps: usize,
    r: f64,
    dt: f64,
) -> (f64, Vec<f64>) {
    let mut hist = vec![0.0; (steps + 1) * m];
    hist[..m].copy_from_slice(u0);
    let mut loss = 0.0;
    for t in 0..steps {
        let (prev, next) = hist.split_at_mut((t + 1) * m);
        let u = &prev[t * m..];
        let un = &mut next[..m];
        let o = &obs[t * m..(t + 1) * m];
        for i in 0..m {
            let left = if i > 0 { u[i - 1] } else { 0.0 };
            let right = if i + 1 < m { u[i + 1] } else { 0.0 };
            let v = u[i] + r * (left - 2.0 * u[i] + right) + dt * u[i].sin();
            un[i] = v;
            let e = v - o[i];
            loss += e * e;
        }
    }
    let mut ub = vec![0.0; m];
    let mut nb = vec![0.0; m];
    let c0 = 1.0 - 2.0 * r;
    for t in (0..steps).rev() {
        let u = &hist[t * m..(t + 1) * m];
        let un = &hist[(t + 1) * m..(t + 2) * m];
        let o = &obs[t * m..(t + 1) * m];
        // w = adjoint of u_{t+1} including this step's misfit
        let mut wl = 0.0;
        let mut wc = ub[0] + 2.0 * (un[0] - o[0]);
        for i in 0..m {
            let wr = if i + 1 < m {
                ub[i + 1] + 2.0 * (un[i + 1] - o[i + 1])
            } else {
                0.0
            };
            nb[i] = wc * (c0 + dt * u[i].cos()) + r * (wl + wr);
            wl = wc;
            wc = wr;
        }
        std::mem::swap(&mut ub, &mut nb);
    }
    (loss, ub)
}
