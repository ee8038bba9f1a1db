//! Scratch copies of a window of another array, passed whole to calls (the
//! contract has no sub-slices, so a port copies `icf[c * sz + d..][..m]` into
//! `ltri` before `qtimesx(&qd, &ltri, ..)`): the reverse sweep passes the window
//! itself and its adjoint to a callee that takes `&[f64]`, and skips the copy's
//! reverse and refill. A callee taking `&Vec<f64>` gets the copy as before.
//! Every case is checked against dual numbers, including those that must not
//! take the window (other readers, a source written later, aliasing arguments).
#![allow(clippy::needless_range_loop, clippy::manual_memcpy, clippy::ptr_arg)] // the macro differentiates index loops (no sub-slices), `&Vec` on purpose

mod common;

use autodiff_runtime::differentiate;
use common::*;
use num_dual::HyperDual64;

/// `out = L x`, `L` lower triangular with unit diagonal scaled by `diag`, its
/// strict lower part `lower` row by row (a split callee: it writes `out`).
#[differentiate]
fn tri_times(diag: &[f64], lower: &[f64], x: &[f64], out: &mut [f64]) {
    let d = x.len();
    for i in 0..d {
        out[i] = diag[i] * x[i];
    }
    let mut at = 0;
    for i in 0..d {
        for j in i + 1..d {
            out[j] += lower[at] * x[i];
            at += 1;
        }
    }
}

/// `Σ v²` (a joint callee).
#[differentiate]
fn squares(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i] * v[i];
    }
    s
}

/// `Σ v⁴`, taking `&Vec<f64>`: it cannot take a window, and gets the copy.
#[differentiate]
fn quartic(v: &Vec<f64>) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i] * v[i] * v[i] * v[i];
    }
    s
}

/// The GMM port's shape: per point and component, the component's factors
/// copied into scratch arrays (`diag` fused with the centring loop), then
/// passed to a split and a joint callee.
#[differentiate(wrt(scales, params))]
fn mixture_port(scales: &[f64], params: &[f64], x: &[f64], d: usize, k: usize, n: usize) -> f64 {
    let sz = d * (d + 1) / 2;
    let mut centred = vec![0.0; d];
    let mut diag = vec![0.0; d];
    let mut lower = vec![0.0; sz - d];
    let mut product = vec![0.0; d];
    let mut total = 0.0;
    for i in 0..n {
        let mut s = 0.0;
        for c in 0..k {
            for j in 0..d {
                centred[j] = x[i * d + j] - params[c * sz + j];
                diag[j] = scales[c * d + j];
            }
            for j in 0..sz - d {
                lower[j] = params[c * sz + d + j];
            }
            tri_times(&diag, &lower, &centred, &mut product);
            s += (-0.5 * squares(&product)).exp();
        }
        total += s.ln();
    }
    total
}

/// Both factors copied from one array: two windows of it in one call would
/// hand out its adjoint twice, so both stay copies.
#[differentiate(wrt(params))]
fn mixture_one_source(params: &[f64], x: &[f64], d: usize, k: usize, n: usize) -> f64 {
    let sz = d * (d + 1) / 2;
    let mut centred = vec![0.0; d];
    let mut diag = vec![0.0; d];
    let mut lower = vec![0.0; sz - d];
    let mut product = vec![0.0; d];
    let mut total = 0.0;
    for i in 0..n {
        for c in 0..k {
            for j in 0..d {
                centred[j] = x[i * d + j] - params[c * sz + j];
                diag[j] = params[c * sz + j];
            }
            for j in 0..sz - d {
                lower[j] = params[c * sz + d + j];
            }
            tri_times(&diag, &lower, &centred, &mut product);
            total += (-0.5 * squares(&product)).exp();
        }
    }
    total
}

fn tri_times_o(diag: &[Dual64], lower: &[Dual64], x: &[Dual64]) -> Vec<Dual64> {
    let d = x.len();
    let mut out: Vec<Dual64> = (0..d).map(|i| diag[i] * x[i]).collect();
    let mut at = 0;
    for i in 0..d {
        for j in i + 1..d {
            out[j] += lower[at] * x[i];
            at += 1;
        }
    }
    out
}

/// `scales = None`: the diagonal is the component's first `d` parameters.
fn mixture_o(
    scales: Option<&[Dual64]>,
    params: &[Dual64],
    x: &[f64],
    (d, k, n): (usize, usize, usize),
    log: bool,
) -> Dual64 {
    let sz = d * (d + 1) / 2;
    let mut total = c(0.0);
    for i in 0..n {
        let mut s = c(0.0);
        for comp in 0..k {
            let block = &params[comp * sz..(comp + 1) * sz];
            let diag = match scales {
                Some(scales) => &scales[comp * d..(comp + 1) * d],
                None => &block[..d],
            };
            let centred: Vec<Dual64> = (0..d).map(|j| -block[j] + x[i * d + j]).collect();
            let product = tri_times_o(diag, &block[d..], &centred);
            let sq = product.iter().fold(c(0.0), |a, p| a + *p * *p);
            s += (sq * -0.5).exp();
        }
        total += if log { s.ln() } else { s };
    }
    total
}

fn sample(count: usize, seed: f64) -> Vec<f64> {
    (0..count)
        .map(|i| 0.4 * ((i as f64) * seed + 0.3).sin())
        .collect()
}

#[test]
fn windows_of_parameters_passed_to_split_and_joint_callees() {
    for (d, k, n) in [(3, 2, 3), (1, 1, 2), (4, 3, 1), (2, 2, 0)] {
        let sz = d * (d + 1) / 2;
        let scales = sample(k * d, 0.5);
        let params = sample(k * sz, 1.3);
        let x = sample(n * d, 0.7);
        let (value, (gs, gp)) = mixture_port_grad(&scales, &params, &x, d, k, n);
        assert_bits(value, mixture_port(&scales, &params, &x, d, k, n));
        let mut all = scales.clone();
        all.extend(&params);
        let expected = dual_grad(
            |p| {
                let (s, q) = p.split_at(k * d);
                mixture_o(Some(s), q, &x, (d, k, n), true)
            },
            &all,
        );
        assert_close_slice(&gs, &expected[..k * d]);
        assert_close_slice(&gp, &expected[k * d..]);
        let (value, g) = mixture_one_source_grad(&params, &x, d, k, n);
        assert_bits(value, mixture_one_source(&params, &x, d, k, n));
        let expected = dual_grad(|q| mixture_o(None, q, &x, (d, k, n), false), &params);
        assert_close_slice(&g, &expected);
    }
}

/// The same model one level down: the window's source is a parameter of a
/// callee whose caller may decline its adjoint (`data` is not differentiated by
/// `outer`), and then the window of the adjoint is not taken either. (The
/// running value is not a sum, so the loop is recorded, not preaccumulated,
/// and the callee's reverse adds into `source_bar` only if it is kept.)
#[differentiate]
fn window_energy(source: &[f64], weights: &[f64], m: usize, blocks: usize) -> f64 {
    let mut copy = vec![0.0; m];
    let mut e = 0.0;
    for b in 0..blocks {
        for j in 0..m {
            copy[j] = source[b * m + j];
        }
        e = (e + weights[b] * squares(&copy)).sin();
    }
    e
}

fn window_energy_o(source: &[Dual64], weights: &[Dual64], m: usize, blocks: usize) -> Dual64 {
    let mut e = c(0.0);
    for b in 0..blocks {
        let sq = (0..m).fold(c(0.0), |a, j| a + source[b * m + j] * source[b * m + j]);
        e = (e + weights[b] * sq).sin();
    }
    e
}

#[differentiate(wrt(w))]
fn outer(w: &[f64], data: &[f64], m: usize) -> f64 {
    let blocks = w.len();
    window_energy(data, w, m, blocks) + window_energy(w, data, 1, blocks)
}

#[test]
fn windows_in_a_callee_whose_caller_declines_the_source_adjoint() {
    let (m, blocks) = (3, 4);
    let w = sample(blocks, 0.9);
    let data = sample(m * blocks, 1.7);
    let (value, g) = outer_grad(&w, &data, m);
    assert_bits(value, outer(&w, &data, m));
    let constant: Vec<Dual64> = data.iter().map(|v| c(*v)).collect();
    let expected = dual_grad(
        |w| window_energy_o(&constant, w, m, blocks) + window_energy_o(w, &constant, 1, blocks),
        &w,
    );
    assert_close_slice(&g, &expected);
    // Both arrays differentiated: the window of `source`'s adjoint is taken.
    let (value, (gs, gw)) = window_energy_grad(&data, &w, m, blocks);
    assert_bits(value, window_energy(&data, &w, m, blocks));
    let mut all = data.clone();
    all.extend(&w);
    let expected = dual_grad(
        |p| {
            let (s, w) = p.split_at(m * blocks);
            window_energy_o(s, w, m, blocks)
        },
        &all,
    );
    assert_close_slice(&gs, &expected[..m * blocks]);
    assert_close_slice(&gw, &expected[m * blocks..]);
}

/// Copies that must stay copies: read by a `&Vec<f64>` callee as well (the
/// condition is and-ed), read element by element, a source written after the
/// copy, the source passed beside its window, two windows of one source in one
/// call.
#[differentiate]
fn kept_copies(a: &[f64], m: usize) -> f64 {
    let mut first = vec![0.0; m];
    let mut second = vec![0.0; m];
    let mut scratch = a.to_vec();
    let mut e = 0.0;
    for r in 0..2 {
        for j in 0..m {
            first[j] = a[r * m + j];
        }
        // A `&[f64]` callee and a `&Vec<f64>` one read the same copy.
        e += squares(&first) + quartic(&first);
        for j in 0..m {
            second[j] = a[r * m + j];
        }
        // Read element by element too.
        e += second[0] * squares(&second);
    }
    let mut third = vec![0.0; m];
    for j in 0..m {
        third[j] = scratch[m + j];
    }
    // The source written after the copy (and before the reader).
    scratch[m] *= 2.0;
    e += squares(&third) * scratch[m];
    let mut fourth = vec![0.0; m];
    let mut fifth = vec![0.0; m];
    for j in 0..m {
        fourth[j] = a[j];
        fifth[j] = a[m + j];
    }
    // The source beside its window, and two windows of one source.
    e += dot(&fourth, a) + dot(&fourth, &fifth);
    e
}

#[differentiate]
fn dot(u: &[f64], v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..u.len() {
        s += u[i] * v[i];
    }
    s
}

fn kept_copies_o(a: &[Dual64], m: usize) -> Dual64 {
    let sq = |v: &[Dual64]| v.iter().fold(c(0.0), |s, x| s + *x * *x);
    let quart = |v: &[Dual64]| v.iter().fold(c(0.0), |s, x| s + *x * *x * *x * *x);
    let mut e = c(0.0);
    for r in 0..2 {
        let w = &a[r * m..(r + 1) * m];
        e += sq(w) + quart(w);
        e += w[0] * sq(w);
    }
    let third = &a[m..2 * m];
    e += sq(third) * (a[m] * 2.0);
    let dot = |u: &[Dual64], v: &[Dual64]| (0..u.len()).fold(c(0.0), |s, i| s + u[i] * v[i]);
    e += dot(&a[..m], a) + dot(&a[..m], &a[m..2 * m]);
    e
}

#[test]
fn copies_with_other_readers_or_aliases_stay_copies() {
    let m = 3;
    let a = sample(2 * m + 1, 1.1);
    let (value, g) = kept_copies_grad(&a, m);
    assert_bits(value, kept_copies(&a, m));
    assert_close_slice(&g, &dual_grad(|a| kept_copies_o(a, m), &a));
}

/// `f32`, and a copy at offset zero (`w[j] = a[j]`).
#[differentiate]
fn window_f32(a: &[f32], m: usize) -> f32 {
    let mut w = vec![0.0f32; m];
    let mut e = 0.0f32;
    for r in 0..2 {
        for j in 0..m {
            w[j] = a[j];
        }
        e = e * 0.5 + squares32(&w) * (r as f32 + 1.0);
    }
    e
}

#[differentiate]
fn squares32(v: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for i in 0..v.len() {
        s += v[i] * v[i];
    }
    s
}

#[test]
fn f32_windows_at_offset_zero() {
    let a: Vec<f32> = [0.3f32, -0.7, 1.1, 0.2].to_vec();
    let m = 3;
    let (value, g) = window_f32_grad(&a, m);
    assert_bits32(value, window_f32(&a, m));
    let expected = dual_grad32(
        |a| {
            let sq = (0..m).fold(Dual32::from(0.0), |s, j| s + a[j] * a[j]);
            (sq * 0.5) + sq * 2.0
        },
        &a,
    );
    for (got, want) in g.iter().zip(&expected) {
        assert!(
            (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
            "{got} vs {want}"
        );
    }
}

/// A window past the end of its source: the copy panics in the user's function,
/// and at the same place, with the same message, in the gradient.
#[test]
fn a_window_out_of_bounds_panics_as_the_function_does() {
    let data = sample(5, 1.7);
    let w = sample(2, 0.9);
    let message = |e: Box<dyn std::any::Any + Send>| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    };
    let primal = std::panic::catch_unwind(|| window_energy(&data, &w, 3, 2)).expect_err("panics");
    let grad =
        std::panic::catch_unwind(|| window_energy_grad(&data, &w, 3, 2)).expect_err("panics");
    assert_eq!(message(primal), message(grad));
}

/// Second order through the windows: `f_hvp` against hyper-dual numbers. (The
/// diagonal's source is not differentiated: its window passes no adjoint.)
#[differentiate(hvp, wrt(params))]
fn window_hvp(params: &[f64], scales: &[f64], x: &[f64], d: usize, k: usize) -> f64 {
    let sz = d * (d + 1) / 2;
    let mut centred = vec![0.0; d];
    let mut lower = vec![0.0; sz - d];
    let mut diag = vec![0.0; d];
    let mut product = vec![0.0; d];
    let mut total = 0.0;
    for c in 0..k {
        for j in 0..d {
            centred[j] = x[j] - params[c * sz + j];
            diag[j] = scales[c * d + j];
        }
        for j in 0..sz - d {
            lower[j] = params[c * sz + d + j];
        }
        tri_times(&diag, &lower, &centred, &mut product);
        total += squares(&product).sin();
    }
    total
}

fn window_hvp_hyper(
    params: &[HyperDual64],
    scales: &[f64],
    x: &[f64],
    d: usize,
    k: usize,
) -> HyperDual64 {
    let sz = d * (d + 1) / 2;
    let mut total = HyperDual64::from(0.0);
    for comp in 0..k {
        let block = &params[comp * sz..(comp + 1) * sz];
        let centred: Vec<HyperDual64> = (0..d).map(|j| -block[j] + x[j]).collect();
        let mut out: Vec<HyperDual64> = (0..d).map(|i| centred[i] * scales[comp * d + i]).collect();
        let mut at = d;
        for i in 0..d {
            for j in i + 1..d {
                out[j] += block[at] * centred[i];
                at += 1;
            }
        }
        let sq = out.iter().fold(HyperDual64::from(0.0), |a, p| a + *p * *p);
        total += sq.sin();
    }
    total
}

#[test]
fn hvp_through_windows_matches_hyper_dual_numbers() {
    let (d, k) = (3, 2);
    let sz = d * (d + 1) / 2;
    let params = sample(k * sz, 1.3);
    let scales = sample(k * d, 0.5);
    let x = sample(d, 0.7);
    let v = sample(k * sz, 2.1);
    let (value, gradient, hv) = window_hvp_hvp(&params, &scales, &x, d, k, &v);
    assert_bits(value, window_hvp(&params, &scales, &x, d, k));
    assert_eq!(gradient, window_hvp_grad(&params, &scales, &x, d, k).1);
    for i in 0..params.len() {
        let hp: Vec<HyperDual64> = (0..params.len())
            .map(|q| HyperDual64::new(params[q], if q == i { 1.0 } else { 0.0 }, v[q], 0.0))
            .collect();
        let out = window_hvp_hyper(&hp, &scales, &x, d, k);
        assert_close(gradient[i], out.eps1);
        assert_close(hv[i], out.eps1eps2);
    }
}

/// An empty copy whose window starts past the end of its source: the function
/// does not panic (its copying loop runs no iteration), and neither does the
/// gradient, which passes an empty window.
#[differentiate]
fn empty_window(source: &[f64], base: usize, m: usize) -> f64 {
    let mut copy = vec![0.0; m];
    for j in 0..m {
        copy[j] = source[base + j];
    }
    squares(&copy) + source[0] * source[1]
}

#[test]
fn an_empty_window_past_the_end_does_not_panic() {
    let source = [0.5, -1.5, 2.0];
    let (value, g) = empty_window_grad(&source, 10, 0);
    assert_bits(value, empty_window(&source, 10, 0));
    assert_close_slice(&g, &[-1.5, 0.5, 0.0]);
    let (value, g) = empty_window_grad(&source, 1, 2);
    assert_bits(value, empty_window(&source, 1, 2));
    assert_close_slice(&g, &[-1.5, 0.5 + 2.0 * -1.5, 4.0]);
}
