//! Spring chain: N unit masses, spring i joins mass i to mass i-1 (spring 0 to a wall at 0).
//! x are displacements from rest. Semi-implicit Euler.
use autodiff_runtime::differentiate;

pub const DAMP: f64 = 0.05;
pub const DT: f64 = 0.01;

/// obs is T x N row-major: obs[t*n + i] observed after step t.
#[differentiate(wrt(k))]
pub fn spring_objective(
    k: &[f64],
    x0: &[f64],
    v0: &[f64],
    obs: &[f64],
    n: usize,
    steps: usize,
) -> f64 {
    let mut x = x0.to_vec();
    let mut v = v0.to_vec();
    let mut loss = 0.0;
    for t in 0..steps {
        for i in 0..n {
            let left = if i == 0 { 0.0 } else { x[i - 1] };
            let mut f = -k[i] * (x[i] - left) - DAMP * v[i];
            if i + 1 < n {
                f += k[i + 1] * (x[i + 1] - x[i]);
            }
            v[i] += DT * f;
        }
        for i in 0..n {
            x[i] += DT * v[i];
        }
        for i in 0..n {
            let e = x[i] - obs[t * n + i];
            loss += e * e;
        }
    }
    loss / steps as f64
}

/// Plain simulation, records x after each step (for generating observations).
pub fn spring_simulate(k: &[f64], x0: &[f64], v0: &[f64], n: usize, steps: usize) -> Vec<f64> {
    let mut x = x0.to_vec();
    let mut v = v0.to_vec();
    let mut out = vec![0.0; steps * n];
    for t in 0..steps {
        for i in 0..n {
            let left = if i == 0 { 0.0 } else { x[i - 1] };
            let mut f = -k[i] * (x[i] - left) - DAMP * v[i];
            if i + 1 < n {
                f += k[i + 1] * (x[i + 1] - x[i]);
            }
            v[i] += DT * f;
        }
        for i in 0..n {
            x[i] += DT * v[i];
        }
        out[t * n..(t + 1) * n].copy_from_slice(&x);
    }
    out
}

/// Hand-written adjoint: stores x at every step (T+1)*N, v not needed.
pub fn spring_hand(
    k: &[f64],
    x0: &[f64],
    v0: &[f64],
    obs: &[f64],
    n: usize,
    steps: usize,
) -> (f64, Vec<f64>) {
    let mut hist = vec![0.0; (steps + 1) * n];
    hist[..n].copy_from_slice(x0);
    let mut v = v0.to_vec();
    let mut loss = 0.0;
    for t in 0..steps {
        let (prev, next) = hist.split_at_mut((t + 1) * n);
        let x = &prev[t * n..];
        let xn = &mut next[..n];
        let o = &obs[t * n..(t + 1) * n];
        let mut left = 0.0;
        for i in 0..n {
            let xi = x[i];
            let mut f = -k[i] * (xi - left) - DAMP * v[i];
            if i + 1 < n {
                f += k[i + 1] * (x[i + 1] - xi);
            }
            let vi = v[i] + DT * f;
            v[i] = vi;
            let xni = xi + DT * vi;
            xn[i] = xni;
            let e = xni - o[i];
            loss += e * e;
            left = xi;
        }
    }
    let scale = 2.0 / steps as f64;
    let mut kb = vec![0.0; n];
    let mut xb = vec![0.0; n];
    let mut vb = vec![0.0; n];
    let damp = 1.0 - DT * DAMP;
    for t in (0..steps).rev() {
        let x = &hist[t * n..(t + 1) * n];
        let xn = &hist[(t + 1) * n..(t + 2) * n];
        let o = &obs[t * n..(t + 1) * n];
        let mut gprev = 0.0;
        let mut xprev = 0.0;
        for i in 0..n {
            let xbi = xb[i] + scale * (xn[i] - o[i]);
            let vbi = vb[i] + DT * xbi;
            let g = DT * vbi;
            vb[i] = vbi * damp;
            let xi = x[i];
            let dg = gprev - g;
            kb[i] += (xi - xprev) * dg;
            let db = k[i] * dg;
            xb[i] = xbi + db;
            if i > 0 {
                xb[i - 1] -= db;
            }
            gprev = g;
            xprev = xi;
        }
    }
    (loss / steps as f64, kb)
}
