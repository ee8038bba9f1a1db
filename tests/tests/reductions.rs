//! Running maxima and minima of read-only data (`m = m.max(v[i])` in a loop of
//! its own): the forward sweep saves only the value before the loop, and the
//! reverse sweep gives the adjoint to the element the result came from (see
//! `analysis::reduction`). Ties and NaNs are checked against the runtime's
//! `max_vjp`/`min_vjp` applied backwards through every step, the rest against
//! dual numbers.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use autodiff_runtime::rules::{max_vjp, min_vjp};
use common::*;

#[differentiate]
fn largest_squared(v: &[f64]) -> f64 {
    let mut m = v[0];
    for i in 1..v.len() {
        m = m.max(v[i]);
    }
    m * m
}

#[differentiate]
fn smallest_scaled(v: &[f64], scale: f64) -> f64 {
    let mut m = v[0];
    for i in 1..v.len() {
        m = m.min(v[i]);
    }
    (m * scale).sin()
}

/// The adjoint of every element of `v` when `g` reaches the result of
/// `m = v[0]; for i in 1..n { m = op(m, v[i]) }`, through each step's rule in
/// reverse: what a reverse sweep that saves every running value computes.
fn stepwise(
    v: &[f64],
    g: f64,
    op: fn(f64, f64) -> f64,
    rule: fn(f64, f64, f64) -> (f64, f64),
) -> Vec<f64> {
    let mut running = vec![v[0]];
    for i in 1..v.len() {
        running.push(op(running[i - 1], v[i]));
    }
    let mut bar = vec![0.0; v.len()];
    let mut m_bar = g;
    for i in (1..v.len()).rev() {
        let (before, element) = rule(running[i - 1], v[i], m_bar);
        bar[i] += element;
        m_bar = before;
    }
    bar[0] += m_bar;
    bar
}

/// Equal as numbers, or both NaN.
#[track_caller]
fn assert_same(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            a == b || a.is_nan() && b.is_nan(),
            "element {k}: {a} vs {b}"
        );
    }
}

/// What `m = v[0]; for i in 1..n { m = op(m, v[i]) }` leaves in `m`.
fn running(v: &[f64], op: fn(f64, f64) -> f64) -> f64 {
    v[1..].iter().fold(v[0], |m, x| op(m, *x))
}

/// The oracles' running maximum (or minimum) of dual numbers: an element takes
/// over when its value is greater (less), so ties keep the running value.
fn dual_running<F: PartialOrd, D: DualNum<F> + Copy>(xs: &[D], greater: bool) -> D {
    xs[1..].iter().fold(xs[0], |m, x| {
        let takes_over = if greater {
            x.re() > m.re()
        } else {
            x.re() < m.re()
        };
        if takes_over {
            *x
        } else {
            m
        }
    })
}

/// Ties go to the first element, NaN loses to any number, a NaN start with a
/// number after it is overtaken, an all-NaN input leaves the start.
const CASES: &[&[f64]] = &[
    &[0.3, -1.2, 2.5, 0.7, 1.9],
    &[2.5, -1.2, 2.5, 0.7, 2.5],
    &[1.0, 3.0, 2.0, 3.0],
    &[4.0, 4.0, 4.0],
    &[f64::NAN, 1.0, 3.0],
    &[3.0, f64::NAN, 1.0],
    &[1.0, f64::NAN, 4.0, 4.0],
    &[f64::NAN, f64::NAN, f64::NAN],
    &[-0.0, 0.0, -1.0],
    &[0.0, -0.0],
    &[f64::INFINITY, 2.0, f64::INFINITY],
    &[7.5],
];

#[test]
fn the_maximum_credits_the_element_each_step_would() {
    for v in CASES {
        let (value, grad) = largest_squared_grad(v);
        let m = running(v, f64::max);
        assert_same(&[value], &[m * m]);
        assert_same(&grad, &stepwise(v, 2.0 * m, f64::max, max_vjp));
    }
}

#[test]
fn the_minimum_credits_the_element_each_step_would() {
    for v in CASES {
        let scale = 0.8;
        let (value, (grad, dscale)) = smallest_scaled_grad(v, scale);
        let m = running(v, f64::min);
        assert_same(&[value], &[(m * scale).sin()]);
        let outer = (m * scale).cos();
        assert_same(&grad, &stepwise(v, outer * scale, f64::min, min_vjp));
        assert_same(&[dscale], &[outer * m]);
    }
}

/// ADBench's `arr_max`: the branch form.
#[differentiate]
fn arr_max(x: &[f64]) -> f64 {
    let mut m = x[0];
    for i in 1..x.len() {
        if x[i] > m {
            m = x[i];
        }
    }
    m * m
}

#[differentiate]
fn arr_min(x: &[f64]) -> f64 {
    let mut m = x[0];
    for i in 1..x.len() {
        if x[i] < m {
            m = x[i];
        }
    }
    m.exp()
}

#[test]
fn the_branch_forms_credit_the_element_each_step_would() {
    let greater = |before: f64, x: f64, g: f64| if x > before { (0.0, g) } else { (g, 0.0) };
    let less = |before: f64, x: f64, g: f64| if x < before { (0.0, g) } else { (g, 0.0) };
    for v in CASES {
        let m = running(v, |m, x| if x > m { x } else { m });
        let (value, grad) = arr_max_grad(v);
        assert_same(&[value], &[m * m]);
        assert_same(
            &grad,
            &stepwise(v, 2.0 * m, |m, x| if x > m { x } else { m }, greater),
        );
        let m = running(v, |m, x| if x < m { x } else { m });
        let (value, grad) = arr_min_grad(v);
        assert_same(&[value], &[m.exp()]);
        assert_same(
            &grad,
            &stepwise(v, m.exp(), |m, x| if x < m { x } else { m }, less),
        );
    }
    // No branch bits either.
    let v: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).cos()).collect();
    let _ = arr_max_grad(&v);
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    assert!(pushed <= 16, "{pushed}");
}

/// Ties handed to the element: `t.max(m)`, `t.min(m)`, `>=`, `<=`.
#[differentiate]
fn element_first(v: &[f64]) -> f64 {
    let mut m = v[0];
    for i in 1..v.len() {
        m = v[i].max(m);
    }
    let mut n = v[0];
    for i in 1..v.len() {
        n = v[i].min(n);
    }
    m * m + n.sin()
}

#[differentiate]
fn ties_taken(v: &[f64]) -> f64 {
    let mut m = v[0];
    for i in 1..v.len() {
        if v[i] >= m {
            m = v[i];
        }
    }
    let mut n = v[0];
    for i in 1..v.len() {
        if v[i] <= n {
            n = v[i];
        }
    }
    m * m + n.sin()
}

#[test]
fn ties_handed_to_the_element_credit_the_last_equal_one() {
    for v in CASES {
        let max = |m: f64, x: f64| x.max(m);
        let min = |m: f64, x: f64| x.min(m);
        let (m, n) = (running(v, max), running(v, min));
        // The rules with the element as the first argument.
        let element_max = |m: f64, x: f64, g: f64| {
            let (element, running) = max_vjp(x, m, g);
            (running, element)
        };
        let element_min = |n: f64, x: f64, g: f64| {
            let (element, running) = min_vjp(x, n, g);
            (running, element)
        };
        let want: Vec<f64> = stepwise(v, 2.0 * m, max, element_max)
            .iter()
            .zip(stepwise(v, n.cos(), min, element_min))
            .map(|(a, b)| a + b)
            .collect();
        let (value, grad) = element_first_grad(v);
        assert_same(&[value], &[m * m + n.sin()]);
        assert_same(&grad, &want);

        let ge = |m: f64, x: f64| if x >= m { x } else { m };
        let le = |n: f64, x: f64| if x <= n { x } else { n };
        let (m, n) = (running(v, ge), running(v, le));
        let took_ge = |m: f64, x: f64, g: f64| if x >= m { (0.0, g) } else { (g, 0.0) };
        let took_le = |n: f64, x: f64, g: f64| if x <= n { (0.0, g) } else { (g, 0.0) };
        let want: Vec<f64> = stepwise(v, 2.0 * m, ge, took_ge)
            .iter()
            .zip(stepwise(v, n.cos(), le, took_le))
            .map(|(a, b)| a + b)
            .collect();
        let (value, grad) = ties_taken_grad(v);
        assert_same(&[value], &[m * m + n.sin()]);
        assert_same(&grad, &want);
    }
}

#[test]
fn distinct_values_match_dual_numbers() {
    let v: Vec<f64> = (0..40)
        .map(|i| ((i * 37 % 23) as f64 * 0.61).sin())
        .collect();
    let (_, grad) = largest_squared_grad(&v);
    let oracle = |p: &[Dual64]| {
        let m = dual_running(p, true);
        m * m
    };
    assert_close_slice(&grad, &dual_grad(oracle, &v));
}

#[test]
fn only_the_start_is_saved() {
    let v: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).cos()).collect();
    let _ = largest_squared_grad(&v);
    // The values before and after the loop, where a recorded loop pushes 999
    // running values.
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    assert!(pushed <= 16, "{pushed}");
}

/// A maximum per row, inside a loop over rows: the start is saved per row.
#[differentiate(wrt(a))]
fn weighted_row_maxima(a: &[f64], rows: usize, cols: usize) -> f64 {
    let mut total = 0.0;
    for r in 0..rows {
        let mut m = a[r * cols];
        for j in 1..cols {
            m = m.max(a[r * cols + j]);
        }
        total += m * m * (r as f64 + 1.0);
    }
    total
}

#[test]
fn a_maximum_per_row_credits_each_rows_element() {
    let (rows, cols) = (5, 4);
    let mut a: Vec<f64> = (0..rows * cols)
        .map(|k| ((k * 13 % 7) as f64 * 0.9).sin())
        .collect();
    a[6] = f64::NAN; // row 1: NaN loses
    a[8] = a[10]; // row 2: a tie between its first and third elements
    let (_, grad) = weighted_row_maxima_grad(&a, rows, cols);
    for r in 0..rows {
        let row = &a[r * cols..(r + 1) * cols];
        let m = running(row, f64::max);
        let want = stepwise(row, 2.0 * m * (r as f64 + 1.0), f64::max, max_vjp);
        assert_same(&grad[r * cols..(r + 1) * cols], &want);
    }
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    assert!(pushed <= 8 * 3 * rows, "{pushed}");
}

/// The same running maximum again in every iteration of a loop around it, its
/// start overwriting the last iteration's result: nothing but the reduction's
/// own save keeps the result for the scan (found by the generated programs: the
/// scan read the start instead, and credited it).
#[differentiate]
fn repeated_maximum(x: &[f64], rounds: usize) -> f64 {
    let mut total = 0.0;
    for _ in 0..rounds {
        let mut m = x[0];
        for j in 1..x.len() {
            if x[j] > m {
                m = x[j];
            }
        }
        let mut n = x[0];
        for j in 1..x.len() {
            n = n.min(x[j]);
        }
        total = total * 0.5 + m.tanh() + n.sin();
    }
    total
}

fn repeated_maximum_o(x: &[Dual64], rounds: usize) -> Dual64 {
    let mut total = c(0.0);
    for _ in 0..rounds {
        let m = dual_running(x, true);
        let n = dual_running(x, false);
        total = total * 0.5 + m.tanh() + n.sin();
    }
    total
}

#[test]
fn a_maximum_taken_again_in_a_loop_credits_its_element_every_time() {
    for x in [
        [0.3, 0.1, 0.7, 0.2],
        [0.0, 0.0, 0.0, 1.5678],
        [0.9, -0.4, 0.2, 0.5],
    ] {
        let (value, grad) = repeated_maximum_grad(&x, 3);
        assert_close(value, repeated_maximum(&x, 3));
        assert_close_slice(&grad, &dual_grad(|p| repeated_maximum_o(p, 3), &x));
    }
}

/// A log-sum-exp helper called on rows a caller fills (as GMM's per-point
/// log-sum-exp over its components), jointly and with the result discarded.
#[differentiate]
fn log_sum_exp(v: &[f64]) -> f64 {
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

#[differentiate(wrt(x))]
fn rows_log_sum_exp(x: &[f64], rows: usize, cols: usize) -> f64 {
    let mut row = vec![0.0; cols];
    let mut total = 0.0;
    for r in 0..rows {
        for j in 0..cols {
            row[j] = (x[r * cols + j] * 1.3).sin() * (r as f64 + 2.0);
        }
        total += log_sum_exp(&row) * (0.5 + r as f64);
    }
    total
}

fn rows_log_sum_exp_o(x: &[Dual64], rows: usize, cols: usize) -> Dual64 {
    let mut total = c(0.0);
    for r in 0..rows {
        let row: Vec<Dual64> = (0..cols)
            .map(|j| (x[r * cols + j] * 1.3).sin() * (r as f64 + 2.0))
            .collect();
        let mx = dual_running(&row, true);
        let s = row.iter().fold(c(0.0), |s, v| s + (*v - mx).exp());
        total += (s.ln() + mx) * (0.5 + r as f64);
    }
    total
}

#[test]
fn a_log_sum_exp_helper_matches_dual_numbers() {
    let (rows, cols) = (6, 7);
    let x: Vec<f64> = (0..rows * cols)
        .map(|k| ((k * 29 % 17) as f64 * 0.43).cos())
        .collect();
    let (value, grad) = rows_log_sum_exp_grad(&x, rows, cols);
    assert_close(value, rows_log_sum_exp(&x, rows, cols));
    assert_close_slice(&grad, &dual_grad(|p| rows_log_sum_exp_o(p, rows, cols), &x));
}

/// A split callee (it writes through `&mut`) that takes the maximum of what it
/// reads: the start and the result cross from its forward sweep to its reverse.
#[differentiate]
fn shift_by_max(src: &[f64], out: &mut [f64]) {
    let mut m = src[0];
    for i in 1..src.len() {
        m = m.max(src[i]);
    }
    for i in 0..out.len() {
        out[i] = (src[i] - m).exp();
    }
}

#[differentiate(wrt(x))]
fn shifted_sum(x: &[f64], steps: usize) -> f64 {
    let n = x.len();
    let mut state = x.to_vec();
    let mut shifted = vec![0.0; n];
    let mut total = 0.0;
    for t in 0..steps {
        shift_by_max(&state, &mut shifted);
        for i in 0..n {
            state[i] = state[i] * 0.7 + shifted[i] * (t as f64 + 1.0);
            total += state[i] * (i as f64 - 1.5);
        }
    }
    total
}

fn shifted_sum_o(x: &[Dual64], steps: usize) -> Dual64 {
    let n = x.len();
    let mut state = x.to_vec();
    let mut total = c(0.0);
    for t in 0..steps {
        let m = dual_running(&state, true);
        let shifted: Vec<Dual64> = state.iter().map(|v| (*v - m).exp()).collect();
        for i in 0..n {
            state[i] = state[i] * 0.7 + shifted[i] * (t as f64 + 1.0);
            total += state[i] * (i as f64 - 1.5);
        }
    }
    total
}

#[test]
fn a_split_callee_with_a_maximum_matches_dual_numbers() {
    let x = vec![0.4, -0.3, 1.1, 0.2, -0.8];
    let (value, grad) = shifted_sum_grad(&x, 4);
    assert_close(value, shifted_sum(&x, 4));
    assert_close_slice(&grad, &dual_grad(|p| shifted_sum_o(p, 4), &x));
}

#[differentiate]
fn largest32(v: &[f32]) -> f32 {
    let mut m = v[0];
    for i in 1..v.len() {
        m = m.max(v[i]);
    }
    m.sin()
}

#[test]
fn f32_maximum_matches_dual_numbers() {
    let v: Vec<f32> = vec![0.2, 1.3, -0.4, 1.1, 0.9];
    let (_, grad) = largest32_grad(&v);
    let oracle = |p: &[Dual32]| dual_running(p, true).sin();
    assert_eq!(grad, dual_grad32(oracle, &v));
}

/// A running maximum of a local array the function fills before the loop, from
/// an offset set once: the reverse sweep finds the array as the loop read it.
#[differentiate]
fn log_sum_exp_of_squares(x: &[f64], skip: usize) -> f64 {
    let n = x.len();
    let mut w = vec![0.0; n];
    for j in 0..n {
        w[j] = x[j] * x[j] - 0.3 * x[j];
    }
    let mut m = w[skip];
    for i in skip + 1..n {
        m = m.max(w[i]);
    }
    let mut s = 0.0;
    for i in skip..n {
        s += (w[i] - m).exp();
    }
    s.ln() + m
}

fn log_sum_exp_of_squares_o(x: &[Dual64], skip: usize) -> Dual64 {
    let w: Vec<Dual64> = x.iter().map(|v| *v * *v - *v * 0.3).collect();
    let m = dual_running(&w[skip..], true);
    let s = w[skip..].iter().fold(c(0.0), |s, v| s + (*v - m).exp());
    s.ln() + m
}

#[test]
fn a_maximum_of_a_local_array_filled_before_the_loop_matches_dual_numbers() {
    let x: Vec<f64> = (0..300).map(|i| (i as f64 * 0.71).sin() * 2.0).collect();
    let (value, grad) = log_sum_exp_of_squares_grad(&x, 3);
    assert_close(value, log_sum_exp_of_squares(&x, 3));
    assert_close_slice(&grad, &dual_grad(|p| log_sum_exp_of_squares_o(p, 3), &x));
    // The scan needs nothing per element: the loops' records are the squares'
    // and exponentials' own, not the 296 running values.
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    assert!(pushed <= 8 * 2 * 300, "{pushed}");
}

/// ADBench's GMM log-sum-exp, written inline: a per-point array filled by the
/// loop over components, then reduced, in a loop over points whose iterations
/// are each reversed as they end. Its start is `main_term[0]`.
#[differentiate(wrt(means, alphas))]
fn mixture_log_likelihood(x: &[f64], means: &[f64], alphas: &[f64], n: usize) -> f64 {
    let k = alphas.len();
    let mut main_term = vec![0.0; k];
    let mut total = 0.0;
    for i in 0..n {
        for c in 0..k {
            let d = x[i] - means[c];
            main_term[c] = alphas[c] - 0.5 * d * d;
        }
        let mut mx = main_term[0];
        for c in 1..k {
            mx = mx.max(main_term[c]);
        }
        let mut se = 0.0;
        for c in 0..k {
            se += (main_term[c] - mx).exp();
        }
        total += se.ln() + mx;
    }
    total
}

fn mixture_log_likelihood_o(x: &[f64], p: &[Dual64], k: usize) -> Dual64 {
    let (means, alphas) = p.split_at(k);
    let mut total = c(0.0);
    for xi in x {
        let main_term: Vec<Dual64> = (0..k)
            .map(|c| {
                let d = means[c] * -1.0 + *xi;
                alphas[c] - d * d * 0.5
            })
            .collect();
        let mx = dual_running(&main_term, true);
        let se = main_term.iter().fold(c(0.0), |s, v| s + (*v - mx).exp());
        total += se.ln() + mx;
    }
    total
}

#[test]
fn an_inline_mixture_log_sum_exp_matches_dual_numbers() {
    let k = 6;
    let x: Vec<f64> = (0..40).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
    let means: Vec<f64> = (0..k).map(|c| c as f64 - 2.5).collect();
    let mut alphas: Vec<f64> = (0..k).map(|c| (c as f64 * 1.7).cos()).collect();
    // Components 1 and 4 tie wherever their terms do.
    alphas[4] = alphas[1];
    let (value, (g_means, g_alphas)) = mixture_log_likelihood_grad(&x, &means, &alphas, x.len());
    assert_close(value, mixture_log_likelihood(&x, &means, &alphas, x.len()));
    let p: Vec<f64> = means.iter().chain(&alphas).copied().collect();
    let want = dual_grad(|p| mixture_log_likelihood_o(&x, p, k), &p);
    assert_close_slice(&g_means, &want[..k]);
    assert_close_slice(&g_alphas, &want[k..]);
}

/// A split callee's local array, reduced: the array crosses from its forward
/// sweep to its reverse with the rest of what the reverse reads.
#[differentiate]
fn softmax_of_doubled(src: &[f64], out: &mut [f64]) {
    let n = src.len();
    let mut e = vec![0.0; n];
    for i in 0..n {
        e[i] = 2.0 * src[i] + 0.1 * (i as f64);
    }
    let mut m = e[0];
    for i in 1..n {
        if e[i] > m {
            m = e[i];
        }
    }
    let mut s = 0.0;
    for i in 0..n {
        out[i] = (e[i] - m).exp();
        s += out[i];
    }
    for i in 0..n {
        out[i] /= s;
    }
}

#[differentiate(wrt(x))]
fn softmax_steps(x: &[f64], steps: usize) -> f64 {
    let n = x.len();
    let mut state = x.to_vec();
    let mut p = vec![0.0; n];
    let mut total = 0.0;
    for t in 0..steps {
        softmax_of_doubled(&state, &mut p);
        for i in 0..n {
            state[i] = state[i] * 0.8 + p[i] * (t as f64 + 1.0);
            total += p[i] * (i as f64 - 1.5);
        }
    }
    total
}

fn softmax_steps_o(x: &[Dual64], steps: usize) -> Dual64 {
    let n = x.len();
    let mut state = x.to_vec();
    let mut total = c(0.0);
    for t in 0..steps {
        let e: Vec<Dual64> = (0..n).map(|i| state[i] * 2.0 + 0.1 * i as f64).collect();
        let m = dual_running(&e, true);
        let ex: Vec<Dual64> = e.iter().map(|v| (*v - m).exp()).collect();
        let s = ex.iter().fold(c(0.0), |s, v| s + *v);
        for i in 0..n {
            let p = ex[i] / s;
            state[i] = state[i] * 0.8 + p * (t as f64 + 1.0);
            total += p * (i as f64 - 1.5);
        }
    }
    total
}

#[test]
fn a_split_callee_reducing_a_local_array_matches_dual_numbers() {
    let x = vec![0.4, -0.3, 1.1, 0.2, -0.8, 0.9];
    let (value, grad) = softmax_steps_grad(&x, 5);
    assert_close(value, softmax_steps(&x, 5));
    assert_close_slice(&grad, &dual_grad(|p| softmax_steps_o(p, 5), &x));
}
