//! Calls that write through `&mut` are split: the caller's forward sweep runs the
//! callee's forward sweep with its saves (`__record`), and its reverse sweep later
//! reverses it from what that left (`__unrecord`), instead of running the callee
//! again. These check the state a split callee hands from one to the other (its
//! locals, a parameter it reassigns, an owned array it changes), a callee that
//! cannot be split (it preaccumulates, so it runs again behind the same calls),
//! and nesting, each against dual numbers.
#![allow(clippy::needless_range_loop)]

mod common;

use autodiff_runtime::differentiate;
use common::*;

/// Reassigns its scalar parameter and overwrites the buffer: the reverse sweep
/// reads the final `k` and the saved old elements.
#[differentiate]
fn squash(buf: &mut [f64], mut k: f64) {
    k = k * k + 0.5;
    let n = buf.len();
    for i in 0..n {
        buf[i] = (buf[i] * k).sin() + 0.1 * buf[(i + 1) % n];
    }
}

/// Changes the array it owns, then adds into `out` from it.
#[differentiate]
fn pour(out: &mut [f64], mut src: Vec<f64>, w: f64) {
    for i in 0..src.len() {
        src[i] = src[i] * w + 0.2;
    }
    for i in 0..out.len() {
        out[i] += (src[i] * out[i]).tanh();
    }
}

/// Two levels of split calls in a loop, with a scalar result written over its
/// own argument.
#[differentiate]
fn stage(buf: &mut [f64], src: &[f64], k: f64) -> f64 {
    squash(buf, k);
    let copy = src.to_vec();
    pour(buf, copy, k);
    buf[0] * k
}

#[differentiate(wrt(x, k))]
fn staged(x: &[f64], k: f64, rounds: usize) -> f64 {
    let mut buf = x.to_vec();
    let mut y = k;
    for r in 0..rounds {
        y = stage(&mut buf, x, y) + 0.1 * (r as f64);
    }
    let mut s = y;
    for i in 0..buf.len() {
        s += buf[i] * buf[i];
    }
    s
}

fn squash_o(buf: &mut [Dual64], k: Dual64) {
    let k = k * k + 0.5;
    let n = buf.len();
    let old = buf.to_vec();
    for i in 0..n {
        // `buf[(i + 1) % n]` is read after `buf[i]` is written, as in the loop above.
        let next = if i + 1 < n { old[i + 1] } else { buf[0] };
        buf[i] = (old[i] * k).sin() + next * 0.1;
    }
}

fn staged_o(p: &[Dual64], rounds: usize) -> Dual64 {
    let n = p.len() - 1;
    let (x, k) = (&p[..n], p[n]);
    let mut buf = x.to_vec();
    let mut y = k;
    for r in 0..rounds {
        squash_o(&mut buf, y);
        let src: Vec<Dual64> = x.iter().map(|v| *v * y + 0.2).collect();
        for i in 0..n {
            let b = buf[i];
            buf[i] = b + (src[i] * b).tanh();
        }
        y = buf[0] * y + 0.1 * (r as f64);
    }
    let mut s = y;
    for v in &buf {
        s += *v * *v;
    }
    s
}

#[test]
fn split_callees_hand_over_their_final_state() {
    let x = vec![0.4, -0.7, 0.2, 0.9];
    let (k, rounds) = (0.8, 5);
    let (value, (gx, gk)) = staged_grad(&x, k, rounds);
    assert_bits(value, staged(&x, k, rounds));
    let mut all = x.clone();
    all.push(k);
    let mut got = gx.clone();
    got.push(gk);
    assert_close_slice(&got, &dual_grad(|p| staged_o(p, rounds), &all));
}

/// A plain function: its result's type is not known to `#[differentiate]`.
fn period(d: usize) -> usize {
    d
}

/// A callee whose reverse sweep reads a local of a type the macro does not know
/// (`m`, from a plain function) is not split: `__record` keeps its buffer's state
/// before the call and `__unrecord` puts it back and runs `__reverse`.
#[differentiate]
fn spread(w: &[f64], out: &mut [f64], n: usize) {
    let d = w.len();
    let m = period(d);
    let mut scratch = vec![0.0; d];
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..d {
            scratch[j] = (w[j] * (i as f64 + 1.0)).sin();
        }
        let mut q = 0.0;
        for j in 0..d {
            q += scratch[j] * scratch[j];
        }
        total += (q + 1.0).ln();
    }
    for j in 0..out.len() {
        out[j] = out[j] * total + w[j % m];
    }
}

#[differentiate(wrt(w))]
fn spread_twice(w: &[f64], n: usize) -> f64 {
    let mut out = vec![0.5; w.len() + 1];
    let mut s = 0.0;
    for _ in 0..2 {
        spread(w, &mut out, n);
        s += out[1] * out[0];
    }
    s
}

fn spread_o(w: &[Dual64], out: &mut [Dual64], n: usize) {
    let d = w.len();
    let mut total = c(0.0);
    for i in 0..n {
        let q: Dual64 = w
            .iter()
            .map(|v| (*v * (i as f64 + 1.0)).sin().powi(2))
            .sum();
        total += (q + 1.0).ln();
    }
    for j in 0..out.len() {
        out[j] = out[j] * total + w[j % d];
    }
}

fn spread_twice_o(w: &[Dual64], n: usize) -> Dual64 {
    let mut out = vec![c(0.5); w.len() + 1];
    let mut s = c(0.0);
    for _ in 0..2 {
        spread_o(w, &mut out, n);
        s += out[1] * out[0];
    }
    s
}

#[test]
fn callees_that_cannot_be_split_run_again_behind_the_same_calls() {
    let w = vec![0.3, -0.5, 0.8];
    let n = 4;
    let (value, g) = spread_twice_grad(&w, n);
    assert_bits(value, spread_twice(&w, n));
    assert_close_slice(&g, &dual_grad(|p| spread_twice_o(p, n), &w));
}

#[differentiate]
fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// ADBench's LSTM cell (`lstm_model`): gates from the input and the hidden state,
/// then the cell and the hidden state updated in place. Every element it
/// overwrites is read before (the hidden state by the gates, the cell by its own
/// update), so its reverse sweep restores them as it goes and gives `state` back
/// as it found it.
#[differentiate]
fn lstm_cell(b: usize, params: &[f64], state: &mut [f64], input: &[f64]) {
    let mut gates = vec![0.0; 4 * b];
    for i in 0..b {
        gates[i] = logistic(input[i] * params[i] + params[4 * b + i]);
        gates[b + i] = logistic(state[i] * params[b + i] + params[5 * b + i]);
        gates[2 * b + i] = logistic(input[i] * params[2 * b + i] + params[6 * b + i]);
        gates[3 * b + i] = (state[i] * params[3 * b + i] + params[7 * b + i]).tanh();
    }
    for i in 0..b {
        state[b + i] = state[b + i] * gates[i] + gates[b + i] * gates[3 * b + i];
    }
    for i in 0..b {
        state[i] = gates[2 * b + i] * state[b + i].tanh();
    }
}

#[differentiate(wrt(params))]
fn lstm_cells(params: &[f64], state0: &[f64], inputs: &[f64], b: usize) -> f64 {
    let mut state = state0.to_vec();
    let mut input = vec![0.0; b];
    let mut s = 0.0;
    for t in 0..inputs.len() / b {
        for i in 0..b {
            input[i] = inputs[t * b + i];
        }
        lstm_cell(b, params, &mut state, &input);
        s += state[0] * state[b - 1];
    }
    s
}

fn lstm_cells_o(params: &[Dual64], state0: &[f64], inputs: &[f64], b: usize) -> Dual64 {
    let sig = |z: Dual64| ((-z).exp() + 1.0).recip();
    let p = params;
    let mut state: Vec<Dual64> = state0.iter().map(|v| c(*v)).collect();
    let mut s = c(0.0);
    for t in 0..inputs.len() / b {
        let x = &inputs[t * b..(t + 1) * b];
        let mut gates = vec![c(0.0); 4 * b];
        for i in 0..b {
            gates[i] = sig(p[i] * x[i] + p[4 * b + i]);
            gates[b + i] = sig(state[i] * p[b + i] + p[5 * b + i]);
            gates[2 * b + i] = sig(p[2 * b + i] * x[i] + p[6 * b + i]);
            gates[3 * b + i] = (state[i] * p[3 * b + i] + p[7 * b + i]).tanh();
        }
        for i in 0..b {
            state[b + i] = state[b + i] * gates[i] + gates[b + i] * gates[3 * b + i];
        }
        for i in 0..b {
            state[i] = gates[2 * b + i] * state[b + i].tanh();
        }
        s += state[0] * state[b - 1];
    }
    s
}

#[test]
fn callers_keep_no_snapshot_of_a_buffer_the_callee_restores() {
    // The cell says so (a constant its callers' generated code reads).
    const { assert!(lstm_cell::__RESTORES_ARG2) };
    let b = 3;
    let params: Vec<f64> = (0..8 * b).map(|i| 0.3 * ((i as f64) * 0.7).sin()).collect();
    let state0 = vec![0.1, -0.2, 0.3, 0.05, -0.1, 0.2];
    let inputs: Vec<f64> = (0..6 * b).map(|i| ((i as f64) * 1.3).cos()).collect();
    let (value, g) = lstm_cells_grad(&params, &state0, &inputs, b);
    assert_bits(value, lstm_cells(&params, &state0, &inputs, b));
    assert_close_slice(
        &g,
        &dual_grad(|p| lstm_cells_o(p, &state0, &inputs, b), &params),
    );
}

#[differentiate]
fn drift(x: &mut [f64], v: &[f64], dt: f64) {
    for i in 0..x.len() {
        x[i] += dt * (v[i] * x[i]).sin();
    }
}

/// `dt` differentiated: `drift`'s reverse needs what `dt`'s adjoint reads.
#[differentiate]
fn drifted(x0: &[f64], v: &[f64], dt: f64, steps: usize) -> f64 {
    let mut x = x0.to_vec();
    for _ in 0..steps {
        drift(&mut x, v, dt);
    }
    x[0] * x[1]
}

/// `dt` a constant here: the call uses `drift`'s core with its scalars taken as
/// constants (`__record_c`), which saves nothing for `dt`'s adjoint.
#[differentiate(wrt(x0, v))]
fn drifted_fixed_step(x0: &[f64], v: &[f64], dt: f64, steps: usize) -> f64 {
    let mut x = x0.to_vec();
    for _ in 0..steps {
        drift(&mut x, v, dt);
    }
    x[0] * x[1]
}

fn drifted_o(p: &[Dual64], n: usize, steps: usize) -> Dual64 {
    let (x0, rest) = p.split_at(n);
    let (v, dt) = rest.split_at(n);
    let dt = dt[0];
    let mut x = x0.to_vec();
    for _ in 0..steps {
        for i in 0..n {
            let xi = x[i];
            x[i] = xi + dt * (v[i] * xi).sin();
        }
    }
    x[0] * x[1]
}

#[test]
fn calls_with_constant_scalars_use_the_callees_core_for_constants() {
    let x0 = vec![0.3, -0.4, 0.8];
    let v = vec![1.1, 0.6, -0.9];
    let (dt, steps) = (0.2, 5);
    let (value, (gx, gv, gdt)) = drifted_grad(&x0, &v, dt, steps);
    let all_pushed = autodiff_runtime::stack::last_bytes_pushed();
    assert_bits(value, drifted(&x0, &v, dt, steps));
    let mut all = x0.clone();
    all.extend(&v);
    all.push(dt);
    let mut got = gx.clone();
    got.extend(&gv);
    got.push(gdt);
    let expected = dual_grad(|p| drifted_o(p, 3, steps), &all);
    assert_close_slice(&got, &expected);
    let (fixed_value, (fx, fv)) = drifted_fixed_step_grad(&x0, &v, dt, steps);
    let fixed_pushed = autodiff_runtime::stack::last_bytes_pushed();
    println!("pushed {fixed_pushed} bytes with dt constant, {all_pushed} with dt differentiated");
    assert_bits(fixed_value, value);
    let mut fixed = fx.clone();
    fixed.extend(&fv);
    assert_close_slice(&fixed, &expected[..6]);
    // `dt`'s adjoint reads `sin(v x)` of every element and step; without it
    // `drift` saves one value per element less.
    assert!(
        fixed_pushed + steps * 3 * 8 <= all_pushed,
        "{fixed_pushed} vs {all_pushed}"
    );
}

#[differentiate]
fn diffuse(cur: &[f64], next: &mut [f64], r: f64) {
    let m = cur.len();
    for i in 1..m - 1 {
        next[i] = cur[i] + r * (cur[i - 1] - 2.0 * cur[i] + cur[i + 1]) + 0.1 * cur[i].sin();
    }
}

// An element loop: slice methods are outside what `#[differentiate]` accepts.
#[allow(clippy::manual_memcpy)]
#[differentiate]
fn copy_inner(src: &[f64], dst: &mut [f64]) {
    for i in 1..src.len() - 1 {
        dst[i] = src[i];
    }
}

/// The heat equation as helper functions: `copy_inner`'s reverse never reads
/// `src`, and `diffuse`'s never reads what it writes, so neither `&mut` call keeps
/// the state before it for them (`__READS_ARGn`, constants of the callees); the
/// snapshot of `cur` before `copy_inner` stays, since `diffuse`'s reverse reads
/// `cur`.
#[differentiate(wrt(u0))]
fn diffused(u0: &[f64], r: f64, steps: usize) -> f64 {
    let mut cur = u0.to_vec();
    let mut next = vec![0.0; u0.len()];
    for _ in 0..steps {
        diffuse(&cur, &mut next, r);
        copy_inner(&next, &mut cur);
    }
    let mut s = 0.0;
    for i in 0..cur.len() {
        s += cur[i] * cur[i] * (i as f64 + 1.0);
    }
    s
}

fn diffused_o(u0: &[Dual64], r: f64, steps: usize) -> Dual64 {
    let m = u0.len();
    let mut cur = u0.to_vec();
    for _ in 0..steps {
        let mut next = cur.clone();
        for i in 1..m - 1 {
            next[i] = cur[i] + (cur[i - 1] - cur[i] * 2.0 + cur[i + 1]) * r + cur[i].sin() * 0.1;
        }
        cur = next;
    }
    cur.iter()
        .enumerate()
        .map(|(i, v)| *v * *v * (i as f64 + 1.0))
        .sum()
}

#[test]
fn split_calls_keep_only_the_snapshots_their_callees_read() {
    const { assert!(!copy_inner::__READS_ARG0 && !diffuse::__READS_C_ARG1) };
    let u0 = vec![0.2, 0.5, -0.3, 0.8, 0.1, -0.6];
    let (r, steps) = (0.2, 7);
    let (value, g) = diffused_grad(&u0, r, steps);
    assert_bits(value, diffused(&u0, r, steps));
    assert_close_slice(&g, &dual_grad(|p| diffused_o(p, r, steps), &u0));
    // Per step: the snapshot of `cur` (6 values and its length) and the two
    // callees' final states (at most 12 words); snapshots of `next` would add 7.
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    assert!(pushed <= steps * 8 * (7 + 12), "{pushed}");
}

/// A linear update: its reverse needs no old element, so it does not put `x`
/// back (`__RESTORES_ARG0` is false) and its callers snapshot `x` for readers.
#[differentiate]
fn kick(x: &mut [f64], f: &[f64], dt: f64) {
    for i in 0..x.len() {
        x[i] += dt * f[i];
    }
}

/// Reads `x` in its reverse sweep (for `cos`).
#[differentiate]
fn pull(x: &[f64], w: &[f64], f: &mut [f64]) {
    for i in 0..x.len() {
        f[i] = (x[i] * w[i]).sin();
    }
}

/// Reads `x` in a plain loop after the call that overwrites it: the distance is
/// recomputed in the reverse sweep from `x` as the calls' reverses leave it (the
/// snapshot `kick`'s caller takes for `pull`), instead of saved.
#[differentiate(wrt(x0, w))]
fn tracked(x0: &[f64], w: &[f64], observed: &[f64], dt: f64, steps: usize) -> f64 {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut f = vec![0.0; n];
    let mut err = 0.0;
    for t in 0..steps {
        pull(&x, w, &mut f);
        kick(&mut x, &f, dt);
        for i in 0..n {
            let d = x[i] - observed[t * n + i];
            err += d * d;
        }
    }
    err
}

fn tracked_o(p: &[Dual64], observed: &[f64], dt: f64, steps: usize) -> Dual64 {
    let n = p.len() / 2;
    let (x0, w) = p.split_at(n);
    let mut x = x0.to_vec();
    let mut err = Dual64::from(0.0);
    for t in 0..steps {
        let f: Vec<Dual64> = (0..n).map(|i| (x[i] * w[i]).sin()).collect();
        for i in 0..n {
            x[i] += f[i] * dt;
        }
        for i in 0..n {
            let d = x[i] - observed[t * n + i];
            err += d * d;
        }
    }
    err
}

#[test]
fn plain_reads_after_mut_calls_are_recomputed_from_the_calls_restored_arrays() {
    const { assert!(!kick::__RESTORES_C_ARG0 && pull::__READS_ARG0) };
    let n = 8;
    let steps = 6;
    let x0: Vec<f64> = (0..n).map(|i| 0.3 - 0.17 * i as f64).collect();
    let w: Vec<f64> = (0..n).map(|i| 0.5 + 0.21 * i as f64).collect();
    let observed: Vec<f64> = (0..n * steps).map(|k| (k as f64 * 0.7).cos()).collect();
    let dt = 0.3;
    let (value, (gx, gw)) = tracked_grad(&x0, &w, &observed, dt, steps);
    assert_bits(value, tracked(&x0, &w, &observed, dt, steps));
    let mut all = x0.clone();
    all.extend(&w);
    let mut got = gx.clone();
    got.extend(&gw);
    assert_close_slice(
        &got,
        &dual_grad(|p| tracked_o(p, &observed, dt, steps), &all),
    );
    // Per step: the snapshot of `x` (n values and its length) and the frames (a
    // few words); saving the loop's `d` as well would add n.
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    println!("pushed {pushed} bytes");
    assert!(pushed <= steps * 8 * (n + 1 + 6), "{pushed}");
}

/// Calls `logistic` for every element: a split scalar call, whose frame keeps
/// only `exp(-z)` (one value); `1.0 + e` and its reciprocal are computed again
/// from it in the reverse sweep.
#[differentiate]
fn logistic_sum(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += logistic(x[i] * 0.5) * x[i];
    }
    s
}

fn logistic_sum_o(x: &[Dual64]) -> Dual64 {
    x.iter().map(|xi| *xi / ((-(*xi * 0.5)).exp() + 1.0)).sum()
}

#[test]
fn split_frames_compute_cheap_values_again() {
    let x: Vec<f64> = (0..40).map(|i| (i as f64 * 0.7).sin() * 3.0).collect();
    let (value, g) = logistic_sum_grad(&x);
    assert_bits(value, logistic_sum(&x));
    assert_close_slice(&g, &dual_grad(logistic_sum_o, &x));
    // One value per call (the exponential; the caller computes the argument and
    // reads the result from `x` again): keeping the reciprocal too would double
    // it (640 bytes).
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    println!("pushed {pushed} bytes");
    assert!(pushed <= x.len() * 8 + 64, "{pushed}");
}
