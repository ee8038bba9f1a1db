//! Scratch arrays refilled in every iteration of a loop from data that does not
//! change: the reverse sweep runs the filling loop again before the reverse of
//! the statements that read them, instead of saving every store (plain reads) or
//! copying the arrays at every call (calls that read them whole). A filling loop
//! whose stores move with an outer loop (a sliding window) leaves in the array
//! what earlier iterations wrote, which running it again cannot give back: such
//! arrays are saved as before.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use autodiff_runtime::stack::last_bytes_pushed;
use common::*;

#[differentiate]
fn sum_squares(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i] * v[i];
    }
    s
}

/// Per point, `centered` refilled from parameters, then read element by element
/// (`centered[a] * centered[b]` needs both in the reverse sweep). The running
/// value is not a sum, so the loop is recorded, not preaccumulated.
#[differentiate(wrt(w))]
fn quadratic_forms(w: &[f64], x: &[f64], d: usize, n: usize) -> f64 {
    let mut centered = vec![0.0; d];
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..d {
            centered[j] = x[i * d + j] - w[j];
        }
        let mut q = 0.0;
        for a in 0..d {
            for b in a..d {
                q += centered[a] * centered[b] * w[d + a];
            }
        }
        total = (total + q).sin();
    }
    total
}

fn quadratic_forms_o(w: &[Dual64], x: &[f64], d: usize, n: usize) -> Dual64 {
    let mut total = c(0.0);
    for i in 0..n {
        let centered: Vec<Dual64> = (0..d).map(|j| -w[j] + x[i * d + j]).collect();
        let mut q = c(0.0);
        for a in 0..d {
            for b in a..d {
                q += centered[a] * centered[b] * w[d + a];
            }
        }
        total = (total + q).sin();
    }
    total
}

#[test]
fn arrays_refilled_for_plain_reads_are_recomputed_not_saved() {
    let (d, n) = (4, 5);
    let w: Vec<f64> = (0..2 * d).map(|i| 0.3 * ((i as f64) * 1.1).cos()).collect();
    let x: Vec<f64> = (0..n * d).map(|i| ((i as f64) * 0.7).sin()).collect();
    let (value, g) = quadratic_forms_grad(&w, &x, d, n);
    assert_bits(value, quadratic_forms(&w, &x, d, n));
    assert_close_slice(&g, &dual_grad(|w| quadratic_forms_o(w, &x, d, n), &w));
    let pushed = last_bytes_pushed();
    assert_eq!(
        pushed,
        n * 8,
        "`total` once per point, and `centered` not at all (it was 200 bytes when \
         each store saved the element it overwrote)"
    );
}

/// A window that moves with the outer loop: iteration `c` writes one half of `r`
/// (`c % 2`), and the other half keeps what the iteration before wrote. The
/// reverse sweep of iteration `c` must see that half as it was then, not as the
/// iteration after left it.
#[differentiate]
fn sliding_reads(x: &[f64], k: usize) -> f64 {
    let n = x.len();
    let mut r = vec![0.0; 2 * n];
    let mut s = 0.0;
    for c in 0..k {
        for j in 0..n {
            r[(c % 2) * n + j] = x[j] * (c as f64 + 1.0);
        }
        for j in 0..2 * n {
            s = (s + r[j] * r[j] * (j as f64 + 0.5)).sin();
        }
    }
    s
}

fn sliding_reads_o(x: &[Dual64], k: usize) -> Dual64 {
    let n = x.len();
    let mut r = vec![c(0.0); 2 * n];
    let mut s = c(0.0);
    for cc in 0..k {
        for j in 0..n {
            r[(cc % 2) * n + j] = x[j] * (cc as f64 + 1.0);
        }
        for (j, v) in r.iter().enumerate() {
            s = (s + *v * *v * (j as f64 + 0.5)).sin();
        }
    }
    s
}

/// The same window read whole by a call.
#[differentiate]
fn sliding_calls(x: &[f64], k: usize) -> f64 {
    let n = x.len();
    let mut r = vec![0.0; 2 * n];
    let mut s = 0.0;
    for c in 0..k {
        for j in 0..n {
            r[(c % 2) * n + j] = x[j] * (c as f64 + 1.0);
        }
        s = (s + sum_squares(&r)).sin();
    }
    s
}

fn sliding_calls_o(x: &[Dual64], k: usize) -> Dual64 {
    let n = x.len();
    let mut r = vec![c(0.0); 2 * n];
    let mut s = c(0.0);
    for cc in 0..k {
        for j in 0..n {
            r[(cc % 2) * n + j] = x[j] * (cc as f64 + 1.0);
        }
        s = (s + r.iter().map(|v| *v * *v).sum::<Dual64>()).sin();
    }
    s
}

/// The window's length moving with the outer loop instead: it shrinks, so the
/// elements an iteration leaves hold what earlier iterations wrote.
#[differentiate]
fn growing_calls(x: &[f64]) -> f64 {
    let n = x.len();
    let mut r = vec![0.0; n];
    let mut s = 0.0;
    for c in 0..n {
        for j in 0..n - c {
            r[j] = x[j] * (c as f64 + 1.0);
        }
        s = (s + sum_squares(&r)).sin();
    }
    s
}

fn growing_calls_o(x: &[Dual64]) -> Dual64 {
    let n = x.len();
    let mut r = vec![c(0.0); n];
    let mut s = c(0.0);
    for cc in 0..n {
        for j in 0..n - cc {
            r[j] = x[j] * (cc as f64 + 1.0);
        }
        s = (s + r.iter().map(|v| *v * *v).sum::<Dual64>()).sin();
    }
    s
}

#[test]
fn windows_that_move_with_an_outer_loop_are_not_refilled() {
    let x: Vec<f64> = (0..5).map(|i| 0.4 + ((i as f64) * 0.9).sin()).collect();
    let k = 4;
    let (value, g) = sliding_reads_grad(&x, k);
    assert_bits(value, sliding_reads(&x, k));
    assert_close_slice(&g, &dual_grad(|x| sliding_reads_o(x, k), &x));
    let (value, g) = sliding_calls_grad(&x, k);
    assert_bits(value, sliding_calls(&x, k));
    assert_close_slice(&g, &dual_grad(|x| sliding_calls_o(x, k), &x));
    let (value, g) = growing_calls_grad(&x);
    assert_bits(value, growing_calls(&x));
    assert_close_slice(&g, &dual_grad(growing_calls_o, &x));
}
