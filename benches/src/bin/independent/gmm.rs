//! ADBench GMM objective, written as a plain user would, plus a hand-written adjoint.
use autodiff_runtime::differentiate;

/// log Gamma for positive arguments (Lanczos, g = 7). Passive helper.
pub fn lgamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_93,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_13,
        -176.615_029_162_140_59,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_571_6e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - lgamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// ADBench log_gamma_distrib(0.5 * n, p) (passive: depends only on integers).
/// Takes the integer n rather than a = 0.5 n: the macro rejects calls to plain
/// functions with any f64 argument (see report).
pub fn log_gamma_distrib(a: f64, p: usize) -> f64 {
    let mut out = 0.25 * (p * (p - 1)) as f64 * std::f64::consts::PI.ln();
    for j in 1..=p {
        out += lgamma(a + 0.5 * (1.0 - j as f64));
    }
    out
}

#[differentiate]
pub fn logsumexp(v: &[f64]) -> f64 {
    let mut mx = v[0];
    for i in 1..v.len() {
        if v[i] > mx {
            mx = v[i];
        }
    }
    let mut s = 0.0;
    for i in 0..v.len() {
        s += (v[i] - mx).exp();
    }
    s.ln() + mx
}

/// sum of squares of v[off .. off+len]
#[differentiate]
pub fn sqnorm_at(v: &[f64], off: usize, len: usize) -> f64 {
    let mut s = 0.0;
    for i in off..off + len {
        s += v[i] * v[i];
    }
    s
}

/// out = Q x, Q lower triangular with diagonal qdiag[qo..qo+d] and strictly lower
/// part ltri[lo..] stored column-major (ADBench layout).
#[differentiate]
pub fn qtimesx(
    d: usize,
    qdiag: &[f64],
    qo: usize,
    ltri: &[f64],
    lo: usize,
    x: &[f64],
    out: &mut [f64],
) {
    for id in 0..d {
        out[id] = qdiag[qo + id] * x[id];
    }
    let mut li = lo;
    for i in 0..d {
        for j in i + 1..d {
            out[j] += ltri[li] * x[i];
            li += 1;
        }
    }
}

#[differentiate(wrt(sum_qs, qdiags, icf))]
pub fn log_wishart_prior(
    p: usize,
    k: usize,
    gamma: f64,
    m: usize,
    sum_qs: &[f64],
    qdiags: &[f64],
    icf: &[f64],
) -> f64 {
    let n = p + m + 1;
    let icf_sz = p * (p + 1) / 2;
    let c = (n * p) as f64 * (gamma.ln() - 0.5 * 2f64.ln()) - log_gamma_distrib(0.5 * n as f64, p);
    let mut out = 0.0;
    for ik in 0..k {
        let frobenius = sqnorm_at(qdiags, ik * p, p) + sqnorm_at(icf, ik * icf_sz + p, icf_sz - p);
        out += 0.5 * gamma * gamma * frobenius - (m as f64) * sum_qs[ik];
    }
    out - (k as f64) * c
}

#[differentiate(wrt(alphas, means, icf))]
pub fn gmm_objective(
    d: usize,
    k: usize,
    n: usize,
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    gamma: f64,
    m: usize,
) -> f64 {
    let icf_sz = d * (d + 1) / 2;
    let constant = -(n as f64) * (d as f64) * 0.5 * (2.0 * std::f64::consts::PI).ln();
    let mut qdiags = vec![0.0; d * k];
    let mut sum_qs = vec![0.0; k];
    for ik in 0..k {
        for id in 0..d {
            let q = icf[ik * icf_sz + id];
            sum_qs[ik] += q;
            qdiags[ik * d + id] = q.exp();
        }
    }
    let mut xc = vec![0.0; d];
    let mut qxc = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut slse = 0.0;
    for ix in 0..n {
        for ik in 0..k {
            for id in 0..d {
                xc[id] = x[ix * d + id] - means[ik * d + id];
            }
            qtimesx(d, &qdiags, ik * d, icf, ik * icf_sz + d, &xc, &mut qxc);
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqnorm_at(&qxc, 0, d);
        }
        slse += logsumexp(&main_term);
    }
    let lse_alphas = logsumexp(alphas);
    constant + slse - (n as f64) * lse_alphas
        + log_wishart_prior(d, k, gamma, m, &sum_qs, &qdiags, icf)
}

/// Hand-written reverse mode. Returns (value, (d_alphas, d_means, d_icf)).
#[allow(clippy::too_many_arguments)]
pub fn gmm_hand(
    d: usize,
    k: usize,
    n: usize,
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    gamma: f64,
    m: usize,
) -> (f64, (Vec<f64>, Vec<f64>, Vec<f64>)) {
    let icf_sz = d * (d + 1) / 2;
    let nl = icf_sz - d;
    let mut qd = vec![0.0; d * k];
    let mut sum_qs = vec![0.0; k];
    for ik in 0..k {
        let mut s = 0.0;
        for id in 0..d {
            let q = icf[ik * icf_sz + id];
            s += q;
            qd[ik * d + id] = q.exp();
        }
        sum_qs[ik] = s;
    }
    let mut ga = vec![0.0; k];
    let mut gm = vec![0.0; k * d];
    let mut gi = vec![0.0; k * icf_sz];
    let mut gqd = vec![0.0; k * d];
    let mut gsq = vec![0.0; k];
    let mut xc = vec![0.0; k * d];
    let mut qxc = vec![0.0; k * d];
    let mut mt = vec![0.0; k];
    let mut qb = vec![0.0; d];
    let mut slse = 0.0;
    for ix in 0..n {
        let xi = &x[ix * d..ix * d + d];
        let mut mx = f64::NEG_INFINITY;
        for ik in 0..k {
            let xck = &mut xc[ik * d..ik * d + d];
            let mk = &means[ik * d..ik * d + d];
            for id in 0..d {
                xck[id] = xi[id] - mk[id];
            }
            let q = &qd[ik * d..ik * d + d];
            let l = &icf[ik * icf_sz + d..(ik + 1) * icf_sz];
            let out = &mut qxc[ik * d..ik * d + d];
            for id in 0..d {
                out[id] = q[id] * xck[id];
            }
            let mut li = 0;
            for i in 0..d {
                let xv = xck[i];
                for j in i + 1..d {
                    out[j] += l[li] * xv;
                    li += 1;
                }
            }
            let mut sq = 0.0;
            for id in 0..d {
                sq += out[id] * out[id];
            }
            let v = alphas[ik] + sum_qs[ik] - 0.5 * sq;
            mt[ik] = v;
            if v > mx {
                mx = v;
            }
        }
        let mut se = 0.0;
        for ik in 0..k {
            let e = (mt[ik] - mx).exp();
            mt[ik] = e;
            se += e;
        }
        slse += se.ln() + mx;
        let inv = 1.0 / se;
        for ik in 0..k {
            let w = mt[ik] * inv;
            ga[ik] += w;
            gsq[ik] += w;
            let xck = &xc[ik * d..ik * d + d];
            let out = &qxc[ik * d..ik * d + d];
            for j in 0..d {
                qb[j] = -w * out[j];
            }
            let q = &qd[ik * d..ik * d + d];
            let l = &icf[ik * icf_sz + d..(ik + 1) * icf_sz];
            let gl = &mut gi[ik * icf_sz + d..(ik + 1) * icf_sz];
            let gq = &mut gqd[ik * d..ik * d + d];
            let gmk = &mut gm[ik * d..ik * d + d];
            let mut li = 0;
            for i in 0..d {
                let xv = xck[i];
                let mut xb = q[i] * qb[i];
                gq[i] += qb[i] * xv;
                for j in i + 1..d {
                    gl[li] += qb[j] * xv;
                    xb += l[li] * qb[j];
                    li += 1;
                }
                gmk[i] -= xb;
            }
        }
    }
    // alphas: - n * logsumexp(alphas)
    let mut amx = alphas[0];
    for ik in 1..k {
        if alphas[ik] > amx {
            amx = alphas[ik];
        }
    }
    let mut ase = 0.0;
    for ik in 0..k {
        ase += (alphas[ik] - amx).exp();
    }
    let lse_a = ase.ln() + amx;
    for ik in 0..k {
        ga[ik] -= n as f64 * (alphas[ik] - lse_a).exp();
    }
    // Wishart prior
    let np = d + m + 1;
    let c =
        (np * d) as f64 * (gamma.ln() - 0.5 * 2f64.ln()) - log_gamma_distrib(0.5 * np as f64, d);
    let g2 = gamma * gamma;
    let mut prior = 0.0;
    for ik in 0..k {
        let mut frob = 0.0;
        for id in 0..d {
            let q = qd[ik * d + id];
            frob += q * q;
            gqd[ik * d + id] += g2 * q;
        }
        for j in 0..nl {
            let v = icf[ik * icf_sz + d + j];
            frob += v * v;
            gi[ik * icf_sz + d + j] += g2 * v;
        }
        prior += 0.5 * g2 * frob - m as f64 * sum_qs[ik];
        gsq[ik] -= m as f64;
    }
    prior -= k as f64 * c;
    for ik in 0..k {
        for id in 0..d {
            gi[ik * icf_sz + id] += gqd[ik * d + id] * qd[ik * d + id] + gsq[ik];
        }
    }
    let constant = -(n as f64) * (d as f64) * 0.5 * (2.0 * std::f64::consts::PI).ln();
    let val = constant + slse - n as f64 * lse_a + prior;
    (val, (ga, gm, gi))
}
