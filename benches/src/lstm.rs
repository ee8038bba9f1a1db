//! LSTM objective, as defined by ADBench: `l` stacked LSTM layers of hidden size `b`
//! (the alphabet size, 14 in ADBench) run over a sequence of `c` one-hot-like
//! characters, predicting each next character; the objective is the mean negative
//! log-softmax likelihood.
//!
//! Layout (ADBench's): `main_params` is `l × 2 × 4b`: for layer `i`, the weights
//! `[forget | input | output | change]` (each `b`) at `i·8b`, then the biases at
//! `i·8b + 4b`. `extra_params` is `3b`: input weights, output weights, output biases.
//! `state` is `l × 2b`: hidden then cell of each layer. `sequence` is `c × b`.
//! ADBench's gates are elementwise (diagonal weights): `forget = σ(x w_f + b_f)`,
//! `input = σ(h w_i + b_i)`, `output = σ(x w_o + b_o)`, `change = tanh(h w_c + b_c)`,
//! `cell ← cell·forget + input·change`, `hidden ← output·tanh(cell)`.

use autodiff_runtime::differentiate;

use crate::scalar::Scalar;

/// Sizes and data of one LSTM instance.
#[derive(Clone, Debug)]
pub struct LstmData {
    /// Layers.
    pub l: usize,
    /// Sequence length (characters).
    pub c: usize,
    /// Alphabet size = hidden size.
    pub b: usize,
    /// `l × 2 × 4b`.
    pub main_params: Vec<f64>,
    /// `3b`.
    pub extra_params: Vec<f64>,
    /// Initial state, `l × 2b`.
    pub state: Vec<f64>,
    /// `c × b`.
    pub sequence: Vec<f64>,
}

impl LstmData {
    /// A deterministic instance (ADBench draws parameters and data uniformly).
    pub fn new(l: usize, c: usize, b: usize) -> LstmData {
        let mut rng = crate::Lcg::new(0x1571_0000 + (l * 10_000 + c) as u64);
        let main_params = (0..l * 8 * b).map(|_| rng.uniform() - 0.5).collect();
        let extra_params = (0..3 * b).map(|_| rng.uniform() - 0.5).collect();
        let state = (0..l * 2 * b).map(|_| rng.uniform() - 0.5).collect();
        let sequence = (0..c * b).map(|_| rng.uniform()).collect();
        LstmData {
            l,
            c,
            b,
            main_params,
            extra_params,
            state,
            sequence,
        }
    }

    /// Number of differentiated inputs: `8 l b + 3 b`.
    pub fn n_inputs(&self) -> usize {
        self.main_params.len() + self.extra_params.len()
    }

    /// All differentiated inputs, flattened in parameter order.
    pub fn params(&self) -> Vec<f64> {
        let mut p = self.main_params.clone();
        p.extend_from_slice(&self.extra_params);
        p
    }

    /// The objective.
    pub fn primal(&self) -> f64 {
        lstm_objective(
            self.l,
            self.c,
            self.b,
            &self.main_params,
            &self.extra_params,
            &self.state,
            &self.sequence,
        )
    }

    /// Value and flattened gradient by the generated `lstm_objective_grad`.
    pub fn grad(&self) -> (f64, Vec<f64>) {
        let (v, (mut gm, ge)) = lstm_objective_grad(
            self.l,
            self.c,
            self.b,
            &self.main_params,
            &self.extra_params,
            &self.state,
            &self.sequence,
        );
        gm.extend(ge);
        (v, gm)
    }

    /// Value and flattened gradient by the hand-written adjoint.
    pub fn hand(&self) -> (f64, Vec<f64>) {
        let (v, mut gm, ge) = lstm_hand(self);
        gm.extend(ge);
        (v, gm)
    }

    /// The objective of the flattened parameters, in any [`Scalar`].
    pub fn generic<T: Scalar>(&self, p: &[T]) -> T {
        let (w, w2) = p.split_at(self.main_params.len());
        lstm_generic(self, w, w2)
    }
}

/// The ADBench LSTM objective, written once, differentiated by `#[differentiate]`.
// Element loops: slice methods such as `copy_from_slice` are outside what
// `#[differentiate]` accepts.
#[allow(clippy::manual_memcpy)]
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
    let mut st = state.to_vec();
    let mut xp = vec![0.0; b];
    let mut ypred = vec![0.0; b];
    let mut total = 0.0;
    for t in 0..c - 1 {
        // Input layer.
        for j in 0..b {
            xp[j] = sequence[t * b + j] * extra_params[j];
        }
        for i in 0..l {
            let wo = i * 8 * b;
            let bo = wo + 4 * b;
            let ho = i * 2 * b;
            let co = ho + b;
            for j in 0..b {
                let forget =
                    1.0 / (1.0 + (-(xp[j] * main_params[wo + j] + main_params[bo + j])).exp());
                let ingate = 1.0
                    / (1.0
                        + (-(st[ho + j] * main_params[wo + b + j] + main_params[bo + b + j]))
                            .exp());
                let outgate = 1.0
                    / (1.0
                        + (-(xp[j] * main_params[wo + 2 * b + j] + main_params[bo + 2 * b + j]))
                            .exp());
                let change =
                    (st[ho + j] * main_params[wo + 3 * b + j] + main_params[bo + 3 * b + j]).tanh();
                st[co + j] = st[co + j] * forget + ingate * change;
                st[ho + j] = outgate * st[co + j].tanh();
            }
            for j in 0..b {
                xp[j] = st[ho + j];
            }
        }
        // Output layer and log-softmax against the next character.
        for j in 0..b {
            ypred[j] = xp[j] * extra_params[b + j] + extra_params[2 * b + j];
        }
        let mut mx = ypred[0];
        for j in 1..b {
            mx = mx.max(ypred[j]);
        }
        let mut se = 0.0;
        for j in 0..b {
            se += (ypred[j] - mx).exp();
        }
        let lse = se.ln() + mx;
        for j in 0..b {
            total += sequence[(t + 1) * b + j] * (ypred[j] - lse);
        }
    }
    -total / (((c - 1) * b) as f64)
}

/// `σ(z)` (a helper of [`lstm_objective_port`]).
#[differentiate]
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// ADBench's `lstm_model`: one layer's step, updating its hidden state (at `ho`)
/// and cell (at `co`) of `state` in place. The layer's weights start at `wo` in
/// `params` and its biases at `bo` (the contract has no sub-slices, so a port
/// passes offsets where the C++ passes pointers).
#[allow(clippy::too_many_arguments)]
#[differentiate]
pub fn lstm_model(
    b: usize,
    params: &[f64],
    wo: usize,
    bo: usize,
    state: &mut [f64],
    ho: usize,
    co: usize,
    input: &[f64],
) {
    let mut gates = vec![0.0; 4 * b];
    for i in 0..b {
        gates[i] = sigmoid(input[i] * params[wo + i] + params[bo + i]);
        gates[b + i] = sigmoid(state[ho + i] * params[wo + b + i] + params[bo + b + i]);
        gates[2 * b + i] = sigmoid(input[i] * params[wo + 2 * b + i] + params[bo + 2 * b + i]);
        gates[3 * b + i] = (state[ho + i] * params[wo + 3 * b + i] + params[bo + 3 * b + i]).tanh();
    }
    for i in 0..b {
        state[co + i] = state[co + i] * gates[i] + gates[b + i] * gates[3 * b + i];
    }
    for i in 0..b {
        state[ho + i] = gates[2 * b + i] * state[co + i].tanh();
    }
}

/// ADBench's `lstm_predict`: the input layer, every LSTM layer (`lstm_model`) and
/// the output layer for the character at `xo` of `x`, writing the prediction into
/// `x2`.
#[allow(clippy::too_many_arguments)]
#[differentiate]
pub fn lstm_predict(
    l: usize,
    b: usize,
    w: &[f64],
    w2: &[f64],
    s: &mut [f64],
    x: &[f64],
    xo: usize,
    x2: &mut [f64],
) {
    let mut xp = vec![0.0; b];
    for i in 0..b {
        xp[i] = x[xo + i] * w2[i];
    }
    for i in 0..l {
        lstm_model(
            b,
            w,
            i * 8 * b,
            i * 8 * b + 4 * b,
            s,
            i * 2 * b,
            i * 2 * b + b,
            &xp,
        );
        for j in 0..b {
            xp[j] = s[i * 2 * b + j];
        }
    }
    for i in 0..b {
        x2[i] = xp[i] * w2[b + i] + w2[2 * b + i];
    }
}

/// The LSTM objective as a port of ADBench's C++ reference code would write it:
/// `lstm_predict` writing the state and the prediction through `&mut`, then
/// `logsumexp` (shared with the GMM port).
#[differentiate(wrt(main_params, extra_params))]
pub fn lstm_objective_port(
    l: usize,
    c: usize,
    b: usize,
    main_params: &[f64],
    extra_params: &[f64],
    state: &[f64],
    sequence: &[f64],
) -> f64 {
    let mut total = 0.0;
    let mut count = 0;
    let mut st = state.to_vec();
    let mut ypred = vec![0.0; b];
    let mut ynorm = vec![0.0; b];
    for t in 0..c - 1 {
        lstm_predict(
            l,
            b,
            main_params,
            extra_params,
            &mut st,
            sequence,
            t * b,
            &mut ypred,
        );
        let lse = crate::gmm::logsumexp(&ypred);
        for i in 0..b {
            ynorm[i] = ypred[i] - lse;
        }
        for i in 0..b {
            total += sequence[(t + 1) * b + i] * ynorm[i];
        }
        count += b;
    }
    -total / (count as f64)
}

variant!(
    /// An LSTM instance differentiated through [`lstm_objective_port`] (the report's
    /// "LSTM (ADBench port)" row); the hand adjoint and the peers are the same.
    LstmPort(LstmData), lstm_port_hand_saved_bytes = lstm_hand_saved_bytes,
    primal: |g| lstm_objective_port(
        g.l,
        g.c,
        g.b,
        &g.main_params,
        &g.extra_params,
        &g.state,
        &g.sequence,
    ),
    grad: |g| {
        let (v, (mut gm, ge)) = lstm_objective_port_grad(
            g.l,
            g.c,
            g.b,
            &g.main_params,
            &g.extra_params,
            &g.state,
            &g.sequence,
        );
        gm.extend(ge);
        (v, gm)
    },
);

fn sigmoid_generic<T: Scalar>(z: T) -> T {
    T::cst(1.0) / ((-z).exp() + 1.0)
}

/// The same objective over any [`Scalar`].
fn lstm_generic<T: Scalar>(g: &LstmData, w: &[T], w2: &[T]) -> T {
    let (l, c, b) = (g.l, g.c, g.b);
    let seq = &g.sequence;
    let zero = T::cst(0.0);
    let mut st: Vec<T> = g.state.iter().map(|&v| T::cst(v)).collect();
    let mut xp = vec![zero; b];
    let mut ypred = vec![zero; b];
    let mut total = zero;
    for t in 0..c - 1 {
        for j in 0..b {
            xp[j] = w2[j] * seq[t * b + j];
        }
        for i in 0..l {
            let wo = i * 8 * b;
            let bo = wo + 4 * b;
            let ho = i * 2 * b;
            let co = ho + b;
            for j in 0..b {
                let forget = sigmoid_generic(xp[j] * w[wo + j] + w[bo + j]);
                let ingate = sigmoid_generic(st[ho + j] * w[wo + b + j] + w[bo + b + j]);
                let outgate = sigmoid_generic(xp[j] * w[wo + 2 * b + j] + w[bo + 2 * b + j]);
                let change = (st[ho + j] * w[wo + 3 * b + j] + w[bo + 3 * b + j]).tanh();
                st[co + j] = st[co + j] * forget + ingate * change;
                st[ho + j] = outgate * st[co + j].tanh();
            }
            xp[..b].copy_from_slice(&st[ho..ho + b]);
        }
        for j in 0..b {
            ypred[j] = xp[j] * w2[b + j] + w2[2 * b + j];
        }
        let mut mx = ypred[0];
        for j in 1..b {
            mx = mx.max(ypred[j]);
        }
        let mut se = zero;
        for j in 0..b {
            se += (ypred[j] - mx).exp();
        }
        let lse = se.ln() + mx;
        for j in 0..b {
            total += (ypred[j] - lse) * seq[(t + 1) * b + j];
        }
    }
    -total * (1.0 / (((c - 1) * b) as f64))
}

/// Per (step, layer, unit) values the hand adjoint keeps: the layer input, the
/// previous hidden and cell, the four gates and `tanh(cell)`.
const SAVED_PER_UNIT: usize = 8;

/// Hand-written reverse-mode adjoint of [`lstm_objective`]: `(value, ∂main_params,
/// ∂extra_params)`.
///
/// The forward sweep records, for every step, layer and unit, the eight values the
/// reverse sweep needs (so no gate is recomputed), and for every step the softmax
/// of the prediction: `(c − 1)(8 l b + b)` values.
pub fn lstm_hand(g: &LstmData) -> (f64, Vec<f64>, Vec<f64>) {
    let (l, c, b) = (g.l, g.c, g.b);
    let (w, w2, seq) = (&g.main_params[..], &g.extra_params[..], &g.sequence[..]);
    let steps = c - 1;
    let per_step = l * b * SAVED_PER_UNIT + b;
    let mut tape = vec![0.0; steps * per_step];
    let mut st = g.state.clone();
    let mut xp = vec![0.0; b];
    let mut total = 0.0;
    for t in 0..steps {
        let rec = &mut tape[t * per_step..(t + 1) * per_step];
        for j in 0..b {
            xp[j] = seq[t * b + j] * w2[j];
        }
        for i in 0..l {
            let wo = i * 8 * b;
            let bo = wo + 4 * b;
            let ho = i * 2 * b;
            let co = ho + b;
            let r = &mut rec[i * b * SAVED_PER_UNIT..(i + 1) * b * SAVED_PER_UNIT];
            for j in 0..b {
                let x = xp[j];
                let h = st[ho + j];
                let cp = st[co + j];
                let f = 1.0 / (1.0 + (-(x * w[wo + j] + w[bo + j])).exp());
                let ig = 1.0 / (1.0 + (-(h * w[wo + b + j] + w[bo + b + j])).exp());
                let og = 1.0 / (1.0 + (-(x * w[wo + 2 * b + j] + w[bo + 2 * b + j])).exp());
                let ch = (h * w[wo + 3 * b + j] + w[bo + 3 * b + j]).tanh();
                let cn = cp * f + ig * ch;
                let tc = cn.tanh();
                st[co + j] = cn;
                st[ho + j] = og * tc;
                r[j * SAVED_PER_UNIT..(j + 1) * SAVED_PER_UNIT]
                    .copy_from_slice(&[x, h, cp, f, ig, og, ch, tc]);
            }
            xp.copy_from_slice(&st[ho..ho + b]);
        }
        let soft = &mut rec[l * b * SAVED_PER_UNIT..];
        let gold = &seq[(t + 1) * b..(t + 2) * b];
        let mut mx = 0.0;
        let mut gy = 0.0;
        let mut gsum = 0.0;
        for j in 0..b {
            let y = xp[j] * w2[b + j] + w2[2 * b + j];
            soft[j] = y;
            mx = if j == 0 { y } else { f64::max(mx, y) };
            gy += gold[j] * y;
            gsum += gold[j];
        }
        let mut se = 0.0;
        for s in soft.iter_mut() {
            *s = (*s - mx).exp();
            se += *s;
        }
        let lse = se.ln() + mx;
        for s in soft.iter_mut() {
            *s /= se;
        }
        total += gy - gsum * lse;
    }
    let count = (steps * b) as f64;
    let value = -total / count;

    let mut gw = vec![0.0; w.len()];
    let mut gw2 = vec![0.0; w2.len()];
    let total_bar = -1.0 / count;
    // Adjoints of the state carried from step t+1 back to step t.
    let mut h_bar = vec![0.0; l * b];
    let mut c_bar = vec![0.0; l * b];
    let mut xp_bar = vec![0.0; b];
    for t in (0..steps).rev() {
        let rec = &tape[t * per_step..(t + 1) * per_step];
        let soft = &rec[l * b * SAVED_PER_UNIT..];
        let gold = &seq[(t + 1) * b..(t + 2) * b];
        let gold_sum: f64 = gold.iter().sum();
        // total += Σ gold_j (ypred_j − lse): ypred_bar = total_bar (gold − softmax Σ gold).
        let last = &rec[(l - 1) * b * SAVED_PER_UNIT..l * b * SAVED_PER_UNIT];
        for j in 0..b {
            let yb = total_bar * (gold[j] - soft[j] * gold_sum);
            // ypred = hidden_last · w2[b + j] + w2[2b + j]; hidden_last = og · tanh(c).
            let hid = last[j * SAVED_PER_UNIT + 5] * last[j * SAVED_PER_UNIT + 7];
            gw2[b + j] += yb * hid;
            gw2[2 * b + j] += yb;
            xp_bar[j] = yb * w2[b + j];
        }
        for i in (0..l).rev() {
            let wo = i * 8 * b;
            let bo = wo + 4 * b;
            let r = &rec[i * b * SAVED_PER_UNIT..(i + 1) * b * SAVED_PER_UNIT];
            for j in 0..b {
                let s = &r[j * SAVED_PER_UNIT..(j + 1) * SAVED_PER_UNIT];
                let (x, h, cp, f, ig, og, ch, tc) =
                    (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
                let hn_bar = h_bar[i * b + j] + xp_bar[j];
                let og_bar = hn_bar * tc;
                let cn_bar = c_bar[i * b + j] + hn_bar * og * (1.0 - tc * tc);
                let zf = cn_bar * cp * f * (1.0 - f);
                let zi = cn_bar * ch * ig * (1.0 - ig);
                let zo = og_bar * og * (1.0 - og);
                let zc = cn_bar * ig * (1.0 - ch * ch);
                gw[wo + j] += zf * x;
                gw[bo + j] += zf;
                gw[wo + b + j] += zi * h;
                gw[bo + b + j] += zi;
                gw[wo + 2 * b + j] += zo * x;
                gw[bo + 2 * b + j] += zo;
                gw[wo + 3 * b + j] += zc * h;
                gw[bo + 3 * b + j] += zc;
                c_bar[i * b + j] = cn_bar * f;
                h_bar[i * b + j] = zi * w[wo + b + j] + zc * w[wo + 3 * b + j];
                // Adjoint of this layer's input, the layer below's new hidden state.
                xp_bar[j] = zf * w[wo + j] + zo * w[wo + 2 * b + j];
            }
        }
        for j in 0..b {
            gw2[j] += xp_bar[j] * seq[t * b + j];
        }
    }
    (value, gw, gw2)
}

/// Bytes of intermediate state the hand adjoint keeps: its tape, `(c − 1)(8 l b + b)`
/// values, plus the carried state and adjoints (`l × 2b`, `2 l b`, `b`).
pub fn lstm_hand_saved_bytes(g: &LstmData) -> usize {
    8 * ((g.c - 1) * (g.l * g.b * SAVED_PER_UNIT + g.b) + 4 * g.l * g.b + 2 * g.b)
}
