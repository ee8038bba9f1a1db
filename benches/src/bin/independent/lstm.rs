//! ADBench LSTM objective, plus a hand-written adjoint.
use autodiff_runtime::differentiate;

#[differentiate]
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// One LSTM cell. Weights at w[wo..wo+4b], biases at w[bo..bo+4b]; hidden at s[ho..ho+b],
/// cell at s[co..co+b]; input[0..b].
#[differentiate]
pub fn lstm_model(
    b: usize,
    w: &[f64],
    wo: usize,
    bo: usize,
    s: &mut [f64],
    ho: usize,
    co: usize,
    input: &[f64],
) {
    let mut gates = vec![0.0; 4 * b];
    for i in 0..b {
        gates[i] = sigmoid(input[i] * w[wo + i] + w[bo + i]);
        gates[b + i] = sigmoid(s[ho + i] * w[wo + b + i] + w[bo + b + i]);
        gates[2 * b + i] = sigmoid(input[i] * w[wo + 2 * b + i] + w[bo + 2 * b + i]);
        gates[3 * b + i] = (s[ho + i] * w[wo + 3 * b + i] + w[bo + 3 * b + i]).tanh();
    }
    for i in 0..b {
        s[co + i] = s[co + i] * gates[i] + gates[b + i] * gates[3 * b + i];
    }
    for i in 0..b {
        s[ho + i] = gates[2 * b + i] * s[co + i].tanh();
    }
}

/// Predict from input x[xo..xo+b] into ypred.
#[differentiate(wrt(w, w2, s, ypred))]
pub fn lstm_predict(
    l: usize,
    b: usize,
    w: &[f64],
    w2: &[f64],
    s: &mut [f64],
    x: &[f64],
    xo: usize,
    ypred: &mut [f64],
) {
    let mut xp = vec![0.0; b];
    for i in 0..b {
        xp[i] = x[xo + i] * w2[i];
    }
    for i in 0..l {
        lstm_model(
            b,
            w,
            i * 2 * 4 * b,
            (i * 2 + 1) * 4 * b,
            s,
            i * 2 * b,
            (i * 2 + 1) * b,
            &xp,
        );
        for j in 0..b {
            xp[j] = s[i * 2 * b + j];
        }
    }
    for i in 0..b {
        ypred[i] = xp[i] * w2[b + i] + w2[2 * b + i];
    }
}

/// ADBench's LSTM logsumexp (log(sum exp + 2)).
#[differentiate]
pub fn lstm_logsumexp(v: &[f64]) -> f64 {
    let mut sum = 0.0;
    for i in 0..v.len() {
        sum += v[i].exp();
    }
    sum += 2.0;
    sum.ln()
}

#[differentiate(wrt(main_params, extra_params))]
pub fn lstm_objective(
    l: usize,
    c: usize,
    b: usize,
    main_params: &[f64],
    extra_params: &[f64],
    state: &[f64],
    sequence: &[f64],
) -> f64 {
    let mut s = state.to_vec();
    let mut ypred = vec![0.0; b];
    let mut total = 0.0;
    let mut count = 0;
    for t in 0..c - 1 {
        lstm_predict(
            l,
            b,
            main_params,
            extra_params,
            &mut s,
            sequence,
            t * b,
            &mut ypred,
        );
        let lse = lstm_logsumexp(&ypred);
        for i in 0..b {
            total += sequence[(t + 1) * b + i] * (ypred[i] - lse);
        }
        count += b;
    }
    -total / count as f64
}

#[inline(always)]
fn sig(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Hand-written reverse mode: (value, (d main_params, d extra_params)).
pub fn lstm_hand(
    l: usize,
    c: usize,
    b: usize,
    w: &[f64],
    w2: &[f64],
    state: &[f64],
    seq: &[f64],
) -> (f64, (Vec<f64>, Vec<f64>)) {
    let steps = c - 1;
    // Tape per (t, layer): xin, hin, cin, f, ig, o, g, tanh(cout)  = 8 b
    const NS: usize = 8;
    let rec = NS * b;
    let mut tape = vec![0.0; steps * l * rec];
    // per t: ypred softmax-like p and the final hidden
    let mut ptape = vec![0.0; steps * b];
    let mut htape = vec![0.0; steps * b];
    let mut s = state.to_vec();
    let mut xp = vec![0.0; b];
    let mut total = 0.0;
    for t in 0..steps {
        for i in 0..b {
            xp[i] = seq[t * b + i] * w2[i];
        }
        for layer in 0..l {
            let wo = layer * 2 * 4 * b;
            let bo = wo + 4 * b;
            let ho = layer * 2 * b;
            let co = ho + b;
            let r = &mut tape[(t * l + layer) * rec..(t * l + layer + 1) * rec];
            for i in 0..b {
                let xin = xp[i];
                let hin = s[ho + i];
                let cin = s[co + i];
                let f = sig(xin * w[wo + i] + w[bo + i]);
                let ig = sig(hin * w[wo + b + i] + w[bo + b + i]);
                let o = sig(xin * w[wo + 2 * b + i] + w[bo + 2 * b + i]);
                let g = (hin * w[wo + 3 * b + i] + w[bo + 3 * b + i]).tanh();
                let cn = cin * f + ig * g;
                let tc = cn.tanh();
                let h = o * tc;
                r[i] = xin;
                r[b + i] = hin;
                r[2 * b + i] = cin;
                r[3 * b + i] = f;
                r[4 * b + i] = ig;
                r[5 * b + i] = o;
                r[6 * b + i] = g;
                r[7 * b + i] = tc;
                s[co + i] = cn;
                s[ho + i] = h;
                xp[i] = h;
            }
        }
        let mut sum = 0.0;
        let p = &mut ptape[t * b..t * b + b];
        for i in 0..b {
            htape[t * b + i] = xp[i];
            let y = xp[i] * w2[b + i] + w2[2 * b + i];
            p[i] = y;
            sum += y.exp();
        }
        sum += 2.0;
        let lse = sum.ln();
        let inv = 1.0 / sum;
        for i in 0..b {
            total += seq[(t + 1) * b + i] * (p[i] - lse);
            p[i] = p[i].exp() * inv;
        }
    }
    let count = (steps * b) as f64;
    let val = -total / count;

    let mut gw = vec![0.0; w.len()];
    let mut gw2 = vec![0.0; w2.len()];
    let mut sb = vec![0.0; 2 * l * b];
    let mut xb = vec![0.0; b];
    let tb = -1.0 / count;
    for t in (0..steps).rev() {
        let y = &seq[(t + 1) * b..(t + 2) * b];
        let mut sy = 0.0;
        for i in 0..b {
            sy += y[i];
        }
        let p = &ptape[t * b..t * b + b];
        let hl = (l - 1) * 2 * b;
        for i in 0..b {
            let yb = tb * (y[i] - sy * p[i]);
            gw2[b + i] += yb * htape[t * b + i];
            gw2[2 * b + i] += yb;
            sb[hl + i] += yb * w2[b + i];
        }
        for layer in (0..l).rev() {
            let wo = layer * 2 * 4 * b;
            let bo = wo + 4 * b;
            let ho = layer * 2 * b;
            let co = ho + b;
            let r = &tape[(t * l + layer) * rec..(t * l + layer + 1) * rec];
            for i in 0..b {
                let xin = r[i];
                let hin = r[b + i];
                let cin = r[2 * b + i];
                let f = r[3 * b + i];
                let ig = r[4 * b + i];
                let o = r[5 * b + i];
                let g = r[6 * b + i];
                let tc = r[7 * b + i];
                let hb = sb[ho + i];
                let ob = hb * tc;
                let cb = sb[co + i] + hb * o * (1.0 - tc * tc);
                let zf = cb * cin * f * (1.0 - f);
                let zi = cb * g * ig * (1.0 - ig);
                let zg = cb * ig * (1.0 - g * g);
                let zo = ob * o * (1.0 - o);
                gw[wo + i] += zf * xin;
                gw[bo + i] += zf;
                gw[wo + b + i] += zi * hin;
                gw[bo + b + i] += zi;
                gw[wo + 2 * b + i] += zo * xin;
                gw[bo + 2 * b + i] += zo;
                gw[wo + 3 * b + i] += zg * hin;
                gw[bo + 3 * b + i] += zg;
                sb[co + i] = cb * f;
                sb[ho + i] = zi * w[wo + b + i] + zg * w[wo + 3 * b + i];
                xb[i] = zf * w[wo + i] + zo * w[wo + 2 * b + i];
            }
            if layer > 0 {
                let hp = (layer - 1) * 2 * b;
                for i in 0..b {
                    sb[hp + i] += xb[i];
                }
            } else {
                for i in 0..b {
                    gw2[i] += xb[i] * seq[t * b + i];
                }
            }
        }
    }
    (val, (gw, gw2))
}
