//! The logistic idiom `1.0 / (1.0 + (-z).exp())` is one primitive, differentiated
//! from its value (`y (1 - y)`), and a split call's result stored into an array
//! element is handed back to the callee's reverse (`g::__unrecord_v`): a callee
//! whose reverse needs only its result (`sigmoid`) then keeps nothing, as a
//! hand-written LSTM adjoint keeps its gates and nothing per gate. Checked
//! against dual and hyper-dual numbers, the bytes pushed, and callees whose
//! reverse needs more than their result (which keep it as before).
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use autodiff_runtime::stack::last_bytes_pushed;
use common::*;
use num_dual::HyperDual64;

#[differentiate(reverse, forward, hvp)]
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The same function written the other way round.
#[differentiate]
fn sigmoid_flipped(z: f64) -> f64 {
    1.0_f64 / (f64::exp(-z) + 1.0)
}

#[differentiate]
fn sigmoid32(z: f32) -> f32 {
    1.0 / (1.0 + (-(2.0 * z)).exp())
}

/// Not the idiom (the exponent is not negated): plain arithmetic, keeping its
/// exponential.
#[differentiate]
fn not_logistic(z: f64) -> f64 {
    1.0 / (1.0 + z.exp())
}

fn sigmoid_o<D: DualNum<f64> + Copy>(z: D) -> D {
    ((-z).exp() + 1.0).recip()
}

#[test]
fn the_logistic_idiom_keeps_its_value_and_derivative() {
    for z in [-30.0, -3.0, -0.4, 0.0, 0.7, 2.5, 12.0] {
        let (value, g) = sigmoid_grad(z);
        assert_bits(value, sigmoid(z));
        assert_close(g, dual_grad(|p| sigmoid_o(p[0]), &[z])[0]);
        let (value, g) = sigmoid_flipped_grad(z);
        assert_bits(value, sigmoid_flipped(z));
        assert_close(g, dual_grad(|p| sigmoid_o(p[0]), &[z])[0]);
        let (value, dy) = sigmoid_jvp(z, 0.75);
        assert_bits(value, sigmoid(z));
        assert_close(dy, 0.75 * dual_grad(|p| sigmoid_o(p[0]), &[z])[0]);
        // Second order: e1 along z, e2 along v.
        let v = -1.25;
        let hyper = sigmoid_o(HyperDual64::new(z, 1.0, v, 0.0));
        let (value, g, hv) = sigmoid_hvp(z, v);
        assert_bits(value, sigmoid(z));
        assert_close(g, hyper.eps1);
        assert_close(hv, hyper.eps1eps2);
        let (value, g) = not_logistic_grad(z);
        assert_bits(value, not_logistic(z));
        assert_close(g, dual_grad(|p| (p[0].exp() + 1.0).recip(), &[z])[0]);
    }
    for z in [-3.0_f32, 0.25, 4.0] {
        let (value, g) = sigmoid32_grad(z);
        assert_bits32(value, sigmoid32(z));
        let expected = dual_grad32(|p| ((-(p[0] * 2.0)).exp() + 1.0).recip(), &[z])[0];
        // `y (1 - y)` from the rounded `y`: accurate to `y`'s rounding (an
        // absolute error of a few `f32::EPSILON`), as `tanh`'s `(1 - t)(1 + t)`.
        assert!(
            (g - expected).abs() <= 1e-6 * expected.abs() + 4.0 * f32::EPSILON,
            "{g} vs {expected}"
        );
    }
    // Where the value rounds to 1 the derivative is exactly 0, as `tanh`'s is
    // where it saturates; where it is tiny it keeps its relative accuracy.
    assert_eq!(sigmoid_grad(40.0).1, 0.0);
    assert_close(
        sigmoid_grad(-40.0).1,
        dual_grad(|p| sigmoid_o(p[0]), &[-40.0])[0],
    );
}

/// `softplus` needs its exponential in the reverse: handed its result, it keeps
/// what it kept before.
#[differentiate]
fn softplus(z: f64) -> f64 {
    (1.0 + z.exp()).ln()
}

/// Writes through `&mut` and returns a float: split, its reverse needs its
/// buffer's saved elements.
#[differentiate]
fn damp(buf: &mut [f64], k: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..buf.len() {
        buf[i] = (buf[i] * k).sin();
        s += buf[i];
    }
    s
}

/// A layer of gates stored side by side, then mixed (an LSTM cell's shape).
#[differentiate(wrt(w))]
fn gate_layer(w: &[f64], x: &[f64]) -> f64 {
    let b = x.len();
    let mut gate = vec![0.0; 3 * b];
    for i in 0..b {
        gate[i] = sigmoid(w[i] * x[i] + w[3 * b + i]);
        gate[b + i] = sigmoid(w[b + i] * x[i]);
        gate[2 * b + i] = softplus(w[2 * b + i] - x[i]);
    }
    let mut total = 0.0;
    for i in 0..b {
        total += gate[i] * gate[b + i] + gate[2 * b + i] * x[i];
    }
    total
}

fn gate_layer_o(w: &[Dual64], x: &[f64]) -> Dual64 {
    let b = x.len();
    let softplus = |z: Dual64| (z.exp() + 1.0).ln();
    let mut total = c(0.0);
    for i in 0..b {
        let g0 = sigmoid_o(w[i] * x[i] + w[3 * b + i]);
        let g1 = sigmoid_o(w[b + i] * x[i]);
        let g2 = softplus(w[2 * b + i] - x[i]);
        total += g0 * g1 + g2 * x[i];
    }
    total
}

/// The same gates kept in locals: nothing to read them back from, so each
/// `sigmoid` keeps its value on the stack.
#[differentiate(wrt(w))]
fn gate_sum(w: &[f64], x: &[f64]) -> f64 {
    let b = x.len();
    let mut total = 0.0;
    for i in 0..b {
        let g0 = sigmoid(w[i] * x[i] + w[3 * b + i]);
        let g1 = sigmoid(w[b + i] * x[i]);
        total += g0 * g1;
    }
    total
}

/// Results of a `&mut`-writing callee stored into an array.
#[differentiate(wrt(x, k))]
fn damped_rows(x: &[f64], k: f64, rounds: usize) -> f64 {
    let mut buf = x.to_vec();
    let mut sums = vec![0.0; rounds];
    for r in 0..rounds {
        sums[r] = damp(&mut buf, k);
    }
    let mut total = 0.0;
    for r in 0..rounds {
        total += sums[r] * sums[r];
    }
    total
}

fn damped_rows_o(p: &[Dual64], rounds: usize) -> Dual64 {
    let (x, k) = (&p[..p.len() - 1], p[p.len() - 1]);
    let mut buf = x.to_vec();
    let mut total = c(0.0);
    for _ in 0..rounds {
        let mut s = c(0.0);
        for v in buf.iter_mut() {
            *v = (*v * k).sin();
            s += *v;
        }
        total += s * s;
    }
    total
}

#[test]
fn results_stored_into_arrays_are_handed_to_the_callees_reverse() {
    let b = 6;
    let x: Vec<f64> = (0..b).map(|i| 0.7 * ((i as f64) * 1.1).sin()).collect();
    let w: Vec<f64> = (0..4 * b)
        .map(|i| 0.4 + 0.5 * ((i as f64) * 0.8).cos())
        .collect();
    let (value, g) = gate_layer_grad(&w, &x);
    assert_bits(value, gate_layer(&w, &x));
    assert_close_slice(&g, &dual_grad(|p| gate_layer_o(p, &x), &w));
    // Of the calls, only each `softplus` keeps something (its exponential); the
    // gates stay in their array, which nothing overwrites.
    assert_eq!(last_bytes_pushed(), 8 * b);

    let (value, g) = gate_sum_grad(&w, &x);
    assert_bits(value, gate_sum(&w, &x));
    let expected = dual_grad(
        |p| {
            (0..b)
                .map(|i| sigmoid_o(p[i] * x[i] + p[3 * b + i]) * sigmoid_o(p[b + i] * x[i]))
                .sum()
        },
        &w,
    );
    assert_close_slice(&g, &expected);
    assert_eq!(
        last_bytes_pushed(),
        8 * 2 * b,
        "each sigmoid keeps its value"
    );

    let rounds = 3;
    let (value, (gx, gk)) = damped_rows_grad(&x, 0.9, rounds);
    assert_bits(value, damped_rows(&x, 0.9, rounds));
    let mut all = x.clone();
    all.push(0.9);
    let mut got = gx.clone();
    got.push(gk);
    assert_close_slice(&got, &dual_grad(|p| damped_rows_o(p, rounds), &all));
}
