//! Gaussian mixture model objective, as defined by ADBench (Srajer, Kukelova,
//! Fitzgibbon 2018, "A benchmark of selected algorithmic differentiation tools").
//!
//! `K` components in `d` dimensions fitted to `n` points. The parameters are the
//! mixture log-weights `alphas` (`K`), the `means` (`K × d`) and the inverse-covariance
//! factors `icf` (`K × d(d+1)/2`): for component `k`, the first `d` entries are the
//! logarithms of the diagonal of the lower-triangular `Q_k`, the remaining
//! `d(d-1)/2` its strictly lower part, column by column. The objective is the negative
//! log-likelihood with a Wishart prior (`wishart_gamma`, `wishart_m`), up to the sign
//! convention of ADBench:
//!
//! `Σ_i logsumexp_k(α_k + Σ_j log Q_k,jj − ½‖Q_k (x_i − μ_k)‖²) − n logsumexp(α)
//!  + Σ_k (½γ²(‖diag Q_k‖² + ‖offdiag Q_k‖²) − m Σ_j log Q_k,jj) + constant`.
//!
//! The constant (`−n d ½ ln 2π` and the Wishart normaliser) does not depend on the
//! parameters; [`gmm_constant`] computes it outside the differentiated function.

use autodiff_runtime::differentiate;

use crate::scalar::Scalar;

/// Sizes and passive data of one GMM instance.
#[derive(Clone, Debug)]
pub struct GmmData {
    /// Dimension.
    pub d: usize,
    /// Components.
    pub k: usize,
    /// Points.
    pub n: usize,
    /// Log mixture weights, `K`.
    pub alphas: Vec<f64>,
    /// Means, `K × d`.
    pub means: Vec<f64>,
    /// Inverse covariance factors, `K × d(d+1)/2`.
    pub icf: Vec<f64>,
    /// Data points, `n × d`.
    pub x: Vec<f64>,
    /// Wishart prior scale.
    pub gamma: f64,
    /// Wishart prior degrees of freedom (an integer in ADBench).
    pub m: f64,
    /// The parameter-independent part of the objective.
    pub constant: f64,
}

impl GmmData {
    /// A deterministic instance with ADBench-like values (uniform in `[0, 1)` for
    /// parameters and data, small factors so that the components overlap).
    pub fn new(d: usize, k: usize, n: usize) -> GmmData {
        let icf_sz = d * (d + 1) / 2;
        let mut rng = crate::Lcg::new(0x5eed_0000 + (d * 1000 + k) as u64);
        let alphas = (0..k).map(|_| rng.uniform()).collect();
        let means = (0..k * d).map(|_| rng.uniform()).collect();
        let icf = (0..k * icf_sz)
            .map(|idx| {
                if idx % icf_sz < d {
                    0.5 * rng.uniform() - 0.25
                } else {
                    0.2 * rng.uniform() - 0.1
                }
            })
            .collect();
        let x = (0..n * d).map(|_| rng.uniform()).collect();
        let gamma = 1.0;
        let m = 0.0;
        GmmData {
            d,
            k,
            n,
            alphas,
            means,
            icf,
            x,
            gamma,
            m,
            constant: gmm_constant(d, k, n, gamma, m),
        }
    }

    /// Number of differentiated inputs: `K + K d + K d(d+1)/2`.
    pub fn n_inputs(&self) -> usize {
        self.alphas.len() + self.means.len() + self.icf.len()
    }

    /// All differentiated inputs, flattened in parameter order.
    pub fn params(&self) -> Vec<f64> {
        let mut p = self.alphas.clone();
        p.extend_from_slice(&self.means);
        p.extend_from_slice(&self.icf);
        p
    }

    /// The objective at the instance's parameters.
    pub fn primal(&self) -> f64 {
        gmm_objective(
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            self.d,
            self.k,
            self.n,
            self.gamma,
            self.m,
            self.constant,
        )
    }

    /// Value and gradient (flattened) by the generated `gmm_objective_grad`.
    pub fn grad(&self) -> (f64, Vec<f64>) {
        let (v, (ga, gm, gi)) = gmm_objective_grad(
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            self.d,
            self.k,
            self.n,
            self.gamma,
            self.m,
            self.constant,
        );
        (v, concat3(ga, gm, gi))
    }

    /// Value and gradient (flattened) by the hand-written adjoint.
    pub fn hand(&self) -> (f64, Vec<f64>) {
        let (v, ga, gm, gi) = gmm_hand(self);
        (v, concat3(ga, gm, gi))
    }

    /// The objective of the flattened parameters `p`, in any [`Scalar`].
    pub fn generic<T: Scalar>(&self, p: &[T]) -> T {
        let (a, rest) = p.split_at(self.k);
        let (mu, icf) = rest.split_at(self.k * self.d);
        gmm_generic(self, a, mu, icf)
    }
}

fn concat3(mut a: Vec<f64>, b: Vec<f64>, c: Vec<f64>) -> Vec<f64> {
    a.extend(b);
    a.extend(c);
    a
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms): only for the constant.
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The parameter-independent terms of the ADBench GMM objective: `−n d ½ ln 2π` and
/// `−K` times the log normaliser of the Wishart prior.
pub fn gmm_constant(d: usize, k: usize, n: usize, gamma: f64, m: f64) -> f64 {
    let df = d as f64;
    let nn = df + m + 1.0;
    // log of the multivariate gamma function Γ_d(nn / 2)
    let mut lmg = 0.25 * df * (df - 1.0) * std::f64::consts::PI.ln();
    for j in 1..=d {
        lmg += ln_gamma(0.5 * nn + 0.5 * (1.0 - j as f64));
    }
    let c = nn * df * (gamma.ln() - 0.5 * 2f64.ln()) - lmg;
    -(n as f64) * df * 0.5 * (2.0 * std::f64::consts::PI).ln() - (k as f64) * c
}

/// The ADBench GMM objective, written once, differentiated by `#[differentiate]`.
#[allow(clippy::too_many_arguments)]
#[differentiate(wrt(alphas, means, icf))]
pub fn gmm_objective(
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    d: usize,
    k: usize,
    n: usize,
    wishart_gamma: f64,
    wishart_m: f64,
    constant: f64,
) -> f64 {
    let icf_sz = d * (d + 1) / 2;
    // Diagonal of every Q_k and its log-determinant.
    let mut qdiag = vec![0.0; k * d];
    let mut sum_qs = vec![0.0; k];
    for c in 0..k {
        let mut s = 0.0;
        for j in 0..d {
            qdiag[c * d + j] = icf[c * icf_sz + j].exp();
            s += icf[c * icf_sz + j];
        }
        sum_qs[c] = s;
    }
    let mut xcentered = vec![0.0; d];
    let mut qx = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut slse = 0.0;
    for i in 0..n {
        for c in 0..k {
            for j in 0..d {
                xcentered[j] = x[i * d + j] - means[c * d + j];
            }
            // Q_k (x_i - mu_k), Q lower triangular (ADBench's Qtimesx).
            for j in 0..d {
                qx[j] = qdiag[c * d + j] * xcentered[j];
            }
            let mut lidx = c * icf_sz + d;
            for a in 0..d {
                for b in a + 1..d {
                    qx[b] += icf[lidx] * xcentered[a];
                    lidx += 1;
                }
            }
            let mut sq = 0.0;
            for j in 0..d {
                sq += qx[j] * qx[j];
            }
            main_term[c] = alphas[c] + sum_qs[c] - 0.5 * sq;
        }
        // log-sum-exp over the components, shifted by the max.
        let mut mx = main_term[0];
        for c in 1..k {
            mx = mx.max(main_term[c]);
        }
        let mut se = 0.0;
        for c in 0..k {
            se += (main_term[c] - mx).exp();
        }
        slse += se.ln() + mx;
    }
    // log-sum-exp of the weights.
    let mut amx = alphas[0];
    for c in 1..k {
        amx = amx.max(alphas[c]);
    }
    let mut ase = 0.0;
    for c in 0..k {
        ase += (alphas[c] - amx).exp();
    }
    let lse_alphas = ase.ln() + amx;
    // Wishart prior.
    let mut prior = 0.0;
    for c in 0..k {
        let mut fro = 0.0;
        for j in 0..d {
            fro += qdiag[c * d + j] * qdiag[c * d + j];
        }
        for j in d..icf_sz {
            fro += icf[c * icf_sz + j] * icf[c * icf_sz + j];
        }
        prior += 0.5 * wishart_gamma * wishart_gamma * fro - wishart_m * sum_qs[c];
    }
    constant + slse - (n as f64) * lse_alphas + prior
}

/// `log Σ exp v`, shifted by the maximum (a helper of [`gmm_objective_calls`]).
#[differentiate]
pub fn log_sum_exp(v: &[f64]) -> f64 {
    let mut mx = v[0];
    for i in 1..v.len() {
        mx = mx.max(v[i]);
    }
    let mut s = 0.0;
    for i in 0..v.len() {
        s += (v[i] - mx).exp();
    }
    s.ln() + mx
}

/// `Σ v²` (a helper of [`gmm_objective_calls`]).
#[differentiate]
pub fn sqnorm(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i] * v[i];
    }
    s
}

/// The same objective written with helper functions, as ADBench's reference code
/// is (`sqnorm`, `logsumexp`): what an independent port is likely to look like.
#[allow(clippy::too_many_arguments)]
#[differentiate(wrt(alphas, means, icf))]
pub fn gmm_objective_calls(
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    d: usize,
    k: usize,
    n: usize,
    wishart_gamma: f64,
    wishart_m: f64,
    constant: f64,
) -> f64 {
    let icf_sz = d * (d + 1) / 2;
    let mut qdiag = vec![0.0; k * d];
    let mut sum_qs = vec![0.0; k];
    for c in 0..k {
        let mut s = 0.0;
        for j in 0..d {
            qdiag[c * d + j] = icf[c * icf_sz + j].exp();
            s += icf[c * icf_sz + j];
        }
        sum_qs[c] = s;
    }
    let mut xcentered = vec![0.0; d];
    let mut qx = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut slse = 0.0;
    for i in 0..n {
        for c in 0..k {
            for j in 0..d {
                xcentered[j] = x[i * d + j] - means[c * d + j];
            }
            for j in 0..d {
                qx[j] = qdiag[c * d + j] * xcentered[j];
            }
            let mut lidx = c * icf_sz + d;
            for a in 0..d {
                for b in a + 1..d {
                    qx[b] += icf[lidx] * xcentered[a];
                    lidx += 1;
                }
            }
            main_term[c] = alphas[c] + sum_qs[c] - 0.5 * sqnorm(&qx);
        }
        slse += log_sum_exp(&main_term);
    }
    let lse_alphas = log_sum_exp(alphas);
    let mut prior = 0.0;
    for c in 0..k {
        let mut fro = 0.0;
        for j in 0..d {
            fro += qdiag[c * d + j] * qdiag[c * d + j];
        }
        for j in d..icf_sz {
            fro += icf[c * icf_sz + j] * icf[c * icf_sz + j];
        }
        prior += 0.5 * wishart_gamma * wishart_gamma * fro - wishart_m * sum_qs[c];
    }
    constant + slse - (n as f64) * lse_alphas + prior
}

variant!(
    #[doc = "A GMM instance differentiated through [`gmm_objective_calls`] (the report's \"GMM (helper fns)\" row)."]
    GmmCalls(GmmData), gmm_calls_hand_saved_bytes = gmm_hand_saved_bytes,
    primal: |g| gmm_objective_calls(
        &g.alphas, &g.means, &g.icf, &g.x, g.d, g.k, g.n, g.gamma, g.m, g.constant,
    ),
    grad: |g| {
        let (v, (ga, gm, gi)) = gmm_objective_calls_grad(
            &g.alphas, &g.means, &g.icf, &g.x, g.d, g.k, g.n, g.gamma, g.m, g.constant,
        );
        (v, concat3(ga, gm, gi))
    },
);

/// `max_i x_i` (a helper of [`gmm_objective_port`], as ADBench's `arr_max`).
#[differentiate]
pub fn arr_max(x: &[f64]) -> f64 {
    let mut m = x[0];
    for i in 1..x.len() {
        if x[i] > m {
            m = x[i];
        }
    }
    m
}

/// `log Σ exp x` through [`arr_max`] (ADBench's `logsumexp`).
#[differentiate]
pub fn logsumexp(x: &[f64]) -> f64 {
    let mx = arr_max(x);
    let mut semx = 0.0;
    for i in 0..x.len() {
        semx += (x[i] - mx).exp();
    }
    semx.ln() + mx
}

/// `out = Q x` for `Q` lower triangular with diagonal `qdiag` and strict lower
/// part `ltri`, column by column (ADBench's `Qtimesx`, writing into `out`).
#[differentiate]
pub fn qtimesx(qdiag: &[f64], ltri: &[f64], x: &[f64], out: &mut [f64]) {
    let d = x.len();
    for i in 0..d {
        out[i] = qdiag[i] * x[i];
    }
    let mut lparamidx = 0;
    for i in 0..d {
        for j in i + 1..d {
            out[j] += ltri[lparamidx] * x[i];
            lparamidx += 1;
        }
    }
}

/// The objective as a port of ADBench's C++ reference code would write it: the
/// component's factors copied into scratch arrays (the contract has no
/// sub-slices), `qtimesx` writing `Q (x − μ)` through `&mut`, then `sqnorm` and
/// `logsumexp`.
#[allow(clippy::too_many_arguments)]
#[differentiate(wrt(alphas, means, icf))]
pub fn gmm_objective_port(
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    d: usize,
    k: usize,
    n: usize,
    wishart_gamma: f64,
    wishart_m: f64,
    constant: f64,
) -> f64 {
    let icf_sz = d * (d + 1) / 2;
    let mut qdiags = vec![0.0; d * k];
    let mut sum_qs = vec![0.0; k];
    let mut xcentered = vec![0.0; d];
    let mut qxcentered = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut ltri = vec![0.0; icf_sz - d];
    let mut qd = vec![0.0; d];
    for ik in 0..k {
        let mut s = 0.0;
        for id in 0..d {
            let v = icf[ik * icf_sz + id];
            s += v;
            qdiags[ik * d + id] = v.exp();
        }
        sum_qs[ik] = s;
    }
    let mut slse = 0.0;
    for ix in 0..n {
        for ik in 0..k {
            for id in 0..d {
                xcentered[id] = x[ix * d + id] - means[ik * d + id];
                qd[id] = qdiags[ik * d + id];
            }
            for j in 0..icf_sz - d {
                ltri[j] = icf[ik * icf_sz + d + j];
            }
            qtimesx(&qd, &ltri, &xcentered, &mut qxcentered);
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqnorm(&qxcentered);
        }
        slse += logsumexp(&main_term);
    }
    let lse_alphas = logsumexp(alphas);
    let mut prior = 0.0;
    for ik in 0..k {
        let mut fro = 0.0;
        for id in 0..d {
            fro += qdiags[ik * d + id] * qdiags[ik * d + id];
        }
        for j in d..icf_sz {
            fro += icf[ik * icf_sz + j] * icf[ik * icf_sz + j];
        }
        prior += 0.5 * wishart_gamma * wishart_gamma * fro - wishart_m * sum_qs[ik];
    }
    constant + slse - (n as f64) * lse_alphas + prior
}

variant!(
    #[doc = "A GMM instance differentiated through [`gmm_objective_port`] (the report's \"GMM (ADBench port)\" row)."]
    GmmPort(GmmData), gmm_port_hand_saved_bytes = gmm_hand_saved_bytes,
    primal: |g| gmm_objective_port(
        &g.alphas, &g.means, &g.icf, &g.x, g.d, g.k, g.n, g.gamma, g.m, g.constant,
    ),
    grad: |g| {
        let (v, (ga, gm, gi)) = gmm_objective_port_grad(
            &g.alphas, &g.means, &g.icf, &g.x, g.d, g.k, g.n, g.gamma, g.m, g.constant,
        );
        (v, concat3(ga, gm, gi))
    },
);

/// The same objective over any [`Scalar`] (for num-dual and the tape crate).
fn gmm_generic<T: Scalar>(g: &GmmData, alphas: &[T], means: &[T], icf: &[T]) -> T {
    let (d, k, n) = (g.d, g.k, g.n);
    let x = &g.x;
    let icf_sz = d * (d + 1) / 2;
    let zero = T::cst(0.0);
    let mut qdiag = vec![zero; k * d];
    let mut sum_qs = vec![zero; k];
    for c in 0..k {
        let mut s = zero;
        for j in 0..d {
            qdiag[c * d + j] = icf[c * icf_sz + j].exp();
            s += icf[c * icf_sz + j];
        }
        sum_qs[c] = s;
    }
    let mut xcentered = vec![zero; d];
    let mut qx = vec![zero; d];
    let mut main_term = vec![zero; k];
    let mut slse = zero;
    for i in 0..n {
        for c in 0..k {
            for j in 0..d {
                xcentered[j] = -means[c * d + j] + x[i * d + j];
            }
            for j in 0..d {
                qx[j] = qdiag[c * d + j] * xcentered[j];
            }
            let mut lidx = c * icf_sz + d;
            for a in 0..d {
                for b in a + 1..d {
                    qx[b] += icf[lidx] * xcentered[a];
                    lidx += 1;
                }
            }
            let mut sq = zero;
            for j in 0..d {
                sq += qx[j] * qx[j];
            }
            main_term[c] = alphas[c] + sum_qs[c] - sq * 0.5;
        }
        let mut mx = main_term[0];
        for c in 1..k {
            mx = mx.max(main_term[c]);
        }
        let mut se = zero;
        for c in 0..k {
            se += (main_term[c] - mx).exp();
        }
        slse += se.ln() + mx;
    }
    let mut amx = alphas[0];
    for c in 1..k {
        amx = amx.max(alphas[c]);
    }
    let mut ase = zero;
    for c in 0..k {
        ase += (alphas[c] - amx).exp();
    }
    let lse_alphas = ase.ln() + amx;
    let mut prior = zero;
    for c in 0..k {
        let mut fro = zero;
        for j in 0..d {
            fro += qdiag[c * d + j] * qdiag[c * d + j];
        }
        for j in d..icf_sz {
            fro += icf[c * icf_sz + j] * icf[c * icf_sz + j];
        }
        prior += fro * (0.5 * g.gamma * g.gamma) - sum_qs[c] * g.m;
    }
    slse - lse_alphas * (n as f64) + prior + g.constant
}

/// Hand-written reverse-mode adjoint of [`gmm_objective`]: `(value, ∂alphas, ∂means,
/// ∂icf)`.
///
/// The points are independent given the parameters, so each point is differentiated
/// right after its forward pass: the only state kept is one point's centred vectors
/// and `Q (x − μ)` for every component (`2 K d` values, reused for every point), plus
/// `diag Q` (`K d`). Nothing grows with `n`.
pub fn gmm_hand(g: &GmmData) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>) {
    let (d, k, n) = (g.d, g.k, g.n);
    let (alphas, means, icf, x) = (&g.alphas[..], &g.means[..], &g.icf[..], &g.x[..]);
    let icf_sz = d * (d + 1) / 2;
    let mut ga = vec![0.0; k];
    let mut gm = vec![0.0; k * d];
    let mut gi = vec![0.0; k * icf_sz];

    let mut qdiag = vec![0.0; k * d];
    let mut sum_qs = vec![0.0; k];
    for c in 0..k {
        let mut s = 0.0;
        for j in 0..d {
            qdiag[c * d + j] = icf[c * icf_sz + j].exp();
            s += icf[c * icf_sz + j];
        }
        sum_qs[c] = s;
    }
    let mut qdiag_bar = vec![0.0; k * d];
    let mut sum_qs_bar = vec![0.0; k];
    let mut xc = vec![0.0; k * d];
    let mut qx = vec![0.0; k * d];
    let mut main_term = vec![0.0; k];
    let mut xc_bar = vec![0.0; d];
    let mut slse = 0.0;
    for i in 0..n {
        let xi = &x[i * d..(i + 1) * d];
        for c in 0..k {
            let xcc = &mut xc[c * d..(c + 1) * d];
            let mu = &means[c * d..(c + 1) * d];
            for j in 0..d {
                xcc[j] = xi[j] - mu[j];
            }
            let q = &mut qx[c * d..(c + 1) * d];
            let qd = &qdiag[c * d..(c + 1) * d];
            for j in 0..d {
                q[j] = qd[j] * xcc[j];
            }
            let l = &icf[c * icf_sz + d..(c + 1) * icf_sz];
            let mut lidx = 0;
            for a in 0..d {
                let xa = xcc[a];
                for b in a + 1..d {
                    q[b] += l[lidx] * xa;
                    lidx += 1;
                }
            }
            let mut sq = 0.0;
            for &v in q.iter() {
                sq += v * v;
            }
            main_term[c] = alphas[c] + sum_qs[c] - 0.5 * sq;
        }
        let mut mx = main_term[0];
        for &t in &main_term[1..] {
            mx = mx.max(t);
        }
        let mut se = 0.0;
        for t in main_term.iter_mut() {
            *t = (*t - mx).exp();
            se += *t;
        }
        slse += se.ln() + mx;
        // Reverse: d slse / d main_term[c] = softmax weight w_c.
        let inv = 1.0 / se;
        for c in 0..k {
            let w = main_term[c] * inv;
            ga[c] += w;
            sum_qs_bar[c] += w;
            // sq_bar = -w/2, qx_bar = 2 qx sq_bar = -w qx (scaled in place).
            let q = &mut qx[c * d..(c + 1) * d];
            for v in q.iter_mut() {
                *v *= -w;
            }
            let xcc = &xc[c * d..(c + 1) * d];
            let qd = &qdiag[c * d..(c + 1) * d];
            let qdb = &mut qdiag_bar[c * d..(c + 1) * d];
            for j in 0..d {
                qdb[j] += q[j] * xcc[j];
                xc_bar[j] = q[j] * qd[j];
            }
            let l = &icf[c * icf_sz + d..(c + 1) * icf_sz];
            let lb = &mut gi[c * icf_sz + d..(c + 1) * icf_sz];
            let mut lidx = 0;
            for a in 0..d {
                let xa = xcc[a];
                let mut acc = 0.0;
                for b in a + 1..d {
                    lb[lidx] += q[b] * xa;
                    acc += l[lidx] * q[b];
                    lidx += 1;
                }
                xc_bar[a] += acc;
            }
            let mb = &mut gm[c * d..(c + 1) * d];
            for j in 0..d {
                mb[j] -= xc_bar[j];
            }
        }
    }
    // log-sum-exp of the weights, and its adjoint -n softmax(alphas).
    let mut amx = alphas[0];
    for &a in &alphas[1..] {
        amx = amx.max(a);
    }
    let mut ase = 0.0;
    for &a in alphas {
        ase += (a - amx).exp();
    }
    let lse_alphas = ase.ln() + amx;
    let nf = n as f64;
    for c in 0..k {
        ga[c] -= nf * (alphas[c] - amx).exp() / ase;
    }
    // Wishart prior.
    let g2 = g.gamma * g.gamma;
    let mut prior = 0.0;
    for c in 0..k {
        let mut fro = 0.0;
        for j in 0..d {
            let q = qdiag[c * d + j];
            fro += q * q;
            qdiag_bar[c * d + j] += g2 * q;
        }
        for j in d..icf_sz {
            let v = icf[c * icf_sz + j];
            fro += v * v;
            gi[c * icf_sz + j] += g2 * v;
        }
        prior += 0.5 * g2 * fro - g.m * sum_qs[c];
        sum_qs_bar[c] -= g.m;
    }
    // Through qdiag = exp(icf diag) and sum_qs = Σ icf diag.
    for c in 0..k {
        for j in 0..d {
            gi[c * icf_sz + j] += qdiag_bar[c * d + j] * qdiag[c * d + j] + sum_qs_bar[c];
        }
    }
    let value = g.constant + slse - nf * lse_alphas + prior;
    (value, ga, gm, gi)
}

/// Bytes of intermediate state the hand adjoint keeps (beyond inputs and gradients):
/// `diag Q`, its adjoint, the per-point centred vectors and `Q (x − μ)`, the log-dets
/// and their adjoints, the main terms, one centred-vector adjoint.
pub fn gmm_hand_saved_bytes(g: &GmmData) -> usize {
    8 * (4 * g.k * g.d + 3 * g.k + g.d)
}
