//! Stencils: loops whose reverse sweep adds into neighbouring elements of an
//! adjoint array (`x_bar[i - 1]`, `x_bar[i]`, `x_bar[i + 1]`). The generated code
//! sums each element's contributions in registers as the reverse loop runs down
//! and writes it once (see `transform::rotate`); the gradients are checked against
//! dual numbers, with boundaries, a wider stencil and arrays the caller does not
//! differentiate.
#![allow(clippy::needless_range_loop, clippy::manual_memcpy)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use common::*;

/// A chain of springs with fixed ends, stepped in time: the forces read
/// `x[i - 1]`, `x[i]` and `x[i + 1]` behind boundary branches.
#[differentiate(wrt(k, x0))]
fn chain(k: &[f64], x0: &[f64], steps: usize, dt: f64) -> f64 {
    let n = k.len();
    let mut x = x0.to_vec();
    let mut v = vec![0.0; n];
    let mut force = vec![0.0; n];
    for _ in 0..steps {
        for i in 0..n {
            let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
            let mut f = -k[i] * left;
            if i + 1 < n {
                f += k[i + 1] * (x[i + 1] - x[i]);
            }
            force[i] = f * x[i].cos();
        }
        for i in 0..n {
            v[i] += dt * force[i];
            x[i] += dt * v[i];
        }
    }
    let mut s = 0.0;
    for i in 0..n {
        s += x[i] * x[i] * (i as f64 + 1.0);
    }
    s
}

fn chain_o(p: &[Dual64], n: usize, steps: usize, dt: f64) -> Dual64 {
    let (k, x0) = p.split_at(n);
    let mut x = x0.to_vec();
    let mut v = vec![c(0.0); n];
    for _ in 0..steps {
        let force: Vec<Dual64> = (0..n)
            .map(|i| {
                let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
                let mut f = -k[i] * left;
                if i + 1 < n {
                    f += k[i + 1] * (x[i + 1] - x[i]);
                }
                f * x[i].cos()
            })
            .collect();
        for i in 0..n {
            v[i] += force[i] * dt;
            x[i] += v[i] * dt;
        }
    }
    (0..n).map(|i| x[i] * x[i] * (i as f64 + 1.0)).sum()
}

/// A five-point stencil over the interior, the ends left as they are.
#[differentiate]
fn smooth(u: &[f64], rounds: usize) -> f64 {
    let n = u.len();
    let mut cur = u.to_vec();
    let mut next = u.to_vec();
    for _ in 0..rounds {
        for i in 2..n - 2 {
            next[i] =
                (cur[i - 2] + 4.0 * cur[i - 1] + 6.0 * cur[i] + 4.0 * cur[i + 1] + cur[i + 2])
                    / 16.0
                    + 0.1 * cur[i].sin();
        }
        for i in 2..n - 2 {
            cur[i] = next[i];
        }
    }
    let mut s = 0.0;
    for i in 0..n {
        s += cur[i] * cur[i];
    }
    s
}

fn smooth_o(u: &[Dual64], rounds: usize) -> Dual64 {
    let n = u.len();
    let mut cur = u.to_vec();
    let mut next = u.to_vec();
    for _ in 0..rounds {
        for i in 2..n - 2 {
            next[i] =
                (cur[i - 2] + cur[i - 1] * 4.0 + cur[i] * 6.0 + cur[i + 1] * 4.0 + cur[i + 2])
                    / 16.0
                    + cur[i].sin() * 0.1;
        }
        cur[2..n - 2].copy_from_slice(&next[2..n - 2]);
    }
    cur.iter().map(|v| *v * *v).sum()
}

/// Differences of neighbours, called with data the caller does not
/// differentiate: the callee is handed no adjoint for it, and its rotated sums
/// have nowhere to go.
#[differentiate]
fn roughness(w: &[f64], data: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 1..data.len() {
        let d = data[i] - data[i - 1];
        s += w[i] * d * d;
    }
    s
}

#[differentiate(wrt(w))]
fn fit(w: &[f64], data: &[f64]) -> f64 {
    roughness(w, data) + roughness(data, w)
}

fn fit_o(w: &[Dual64], data: &[f64]) -> Dual64 {
    let mut s = c(0.0);
    for i in 1..data.len() {
        let d = data[i] - data[i - 1];
        s += w[i] * d * d;
        let e = w[i] - w[i - 1];
        s += e * e * data[i];
    }
    s
}

#[test]
fn stencil_adjoints_match_dual_numbers() {
    let n = 9;
    let k: Vec<f64> = (0..n).map(|i| 2.0 + ((i as f64) * 1.7).sin()).collect();
    let x0: Vec<f64> = (0..n).map(|i| 0.3 * ((i as f64) * 0.8).cos()).collect();
    let (steps, dt) = (12, 0.05);
    let (value, (gk, gx)) = chain_grad(&k, &x0, steps, dt);
    assert_bits(value, chain(&k, &x0, steps, dt));
    let mut all = k.clone();
    all.extend(&x0);
    let mut got = gk.clone();
    got.extend(gx);
    assert_close_slice(&got, &dual_grad(|p| chain_o(p, n, steps, dt), &all));

    let u: Vec<f64> = (0..11).map(|i| ((i as f64) * 0.9).sin()).collect();
    let (value, g) = smooth_grad(&u, 4);
    assert_bits(value, smooth(&u, 4));
    assert_close_slice(&g, &dual_grad(|u| smooth_o(u, 4), &u));

    let w: Vec<f64> = (0..7).map(|i| 0.5 + 0.2 * (i as f64)).collect();
    let data: Vec<f64> = (0..7).map(|i| ((i as f64) * 1.3).cos()).collect();
    let (value, g) = fit_grad(&w, &data);
    assert_bits(value, fit(&w, &data));
    assert_close_slice(&g, &dual_grad(|w| fit_o(w, &data), &w));
}

#[test]
fn short_stencils_run_and_empty_ones_do_nothing() {
    // One element: the boundary branches only; none: the loops do not run.
    for n in [0usize, 1, 2] {
        let k = vec![1.5; n];
        let x0 = vec![0.25; n];
        let (value, (gk, gx)) = chain_grad(&k, &x0, 3, 0.1);
        assert_bits(value, chain(&k, &x0, 3, 0.1));
        let mut all = k.clone();
        all.extend(&x0);
        let mut got = gk.clone();
        got.extend(gx);
        assert_close_slice(&got, &dual_grad(|p| chain_o(p, n, 3, 0.1), &all));
    }
}

/// A stencil whose weights may be shorter than the loop's range: `w[i + 1]` and
/// `x[i + 1]` are read only where the weight exists. The loop is not sliced (its
/// offsets sit behind branches); it runs under a check of its arrays' lengths
/// (see `transform::lengths`), and as written where the check fails.
#[differentiate(wrt(x))]
fn weighted_stencil(x: &[f64], w: &[f64], n: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        let mut t = left * left;
        if i + 1 < w.len() {
            t += w[i + 1] * x[i] * x[i + 1];
        }
        s += t * x[i].sin();
    }
    s
}

/// Its weights plain (`f64`) or carrying derivatives too.
fn weighted_stencil_o<W: Copy + Into<Dual64>>(x: &[Dual64], w: &[W], n: usize) -> Dual64 {
    let mut s = c(0.0);
    for i in 0..n {
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        let mut t = left * left;
        if i + 1 < w.len() {
            t += x[i] * x[i + 1] * w[i + 1].into();
        }
        s += t * x[i].sin();
    }
    s
}

#[test]
fn length_checked_loops_match_dual_numbers_whichever_copy_runs() {
    let n = 8;
    let x: Vec<f64> = (0..=n)
        .map(|i| 0.4 + 0.3 * ((i as f64) * 1.1).sin())
        .collect();
    // Weights as long as the range and longer (the checked copy), and shorter
    // (the check fails on `w`: the loop as written runs).
    for len in [n + 1, n + 3, n / 2, 0] {
        let w: Vec<f64> = (0..len).map(|i| 1.0 + 0.1 * i as f64).collect();
        let (value, g) = weighted_stencil_grad(&x, &w, n);
        assert_bits(value, weighted_stencil(&x, &w, n));
        assert_close_slice(&g, &dual_grad(|x| weighted_stencil_o(x, &w, n), &x));
    }
}

#[test]
fn length_checked_loops_panic_as_the_function_does() {
    // `x` one short of the range: the last trip's `x[i]` is out of bounds; with
    // long weights, `x[i + 1]` fails a trip earlier.
    let x = vec![0.5; 6];
    for w in [vec![1.0; 3], vec![1.0; 10]] {
        let message = |payload: Box<dyn std::any::Any + Send>| {
            payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default()
        };
        let primal =
            std::panic::catch_unwind(|| weighted_stencil(&x, &w, 7)).expect_err("primal panics");
        let grad = std::panic::catch_unwind(|| weighted_stencil_grad(&x, &w, 7))
            .expect_err("gradient panics");
        let primal = message(primal);
        assert!(primal.contains("index out of bounds"), "{primal}");
        assert_eq!(message(grad), primal);
    }
}

/// Length-checked loops in other shapes: `f32`, a fixed-size local array, a loop
/// left by `break`, and a stencil whose adjoint the caller declines (passed to a
/// callee that is not asked for it).
#[differentiate]
fn shapes32(x: &[f32], w: &[f32]) -> f32 {
    let n = x.len();
    let mut taps = [0.25_f32, 0.5, 0.25, 0.0];
    let mut s = 0.0;
    for i in 0..n {
        let left = if i == 0 { x[0] } else { x[i - 1] };
        let mut t = taps[0] * left + taps[1] * x[i];
        if i + 1 < n {
            t += taps[2] * x[i + 1];
        }
        taps[3] += t;
        s += t * t * w[i % w.len()];
        if s > 40.0 {
            break;
        }
    }
    s + taps[3]
}

fn shapes32_o(x: &[Dual32], w: &[f32]) -> Dual32 {
    let n = x.len();
    let taps = [0.25_f32, 0.5, 0.25];
    let mut acc = Dual32::from(0.0);
    let mut s = Dual32::from(0.0);
    for i in 0..n {
        let left = if i == 0 { x[0] } else { x[i - 1] };
        let mut t = left * taps[0] + x[i] * taps[1];
        if i + 1 < n {
            t += x[i + 1] * taps[2];
        }
        acc += t;
        s += t * t * w[i % w.len()];
        if s.re > 40.0 {
            break;
        }
    }
    s + acc
}

#[differentiate(wrt(k))]
fn declined(k: &[f64], x: &[f64]) -> f64 {
    weighted_stencil(x, k, x.len() - 1) + weighted_stencil(k, x, k.len() - 1)
}

fn declined_o(k: &[Dual64], x: &[f64]) -> Dual64 {
    let xs: Vec<Dual64> = x.iter().map(|&v| c(v)).collect();
    weighted_stencil_o(&xs, k, x.len() - 1) + weighted_stencil_o(k, x, k.len() - 1)
}

#[test]
fn length_checked_loops_in_other_shapes() {
    let x: Vec<f32> = (0..9)
        .map(|i| 0.3 + 0.2 * ((i as f32) * 0.7).sin())
        .collect();
    for w in [vec![1.0_f32, 0.5, 2.0], vec![30.0; 2]] {
        let (value, g) = shapes32_grad(&x, &w);
        assert_eq!(value.to_bits(), shapes32(&x, &w).to_bits());
        let expected = dual_grad32(|x| shapes32_o(x, &w), &x);
        for (a, b) in g.0.iter().zip(&expected) {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + a.abs().max(b.abs())),
                "{a} vs {b}"
            );
        }
        assert!(g.1.iter().all(|v| v.is_finite()));
    }
    let k: Vec<f64> = (0..7).map(|i| 0.8 + 0.1 * i as f64).collect();
    let x: Vec<f64> = (0..7).map(|i| ((i as f64) * 0.9).cos()).collect();
    let (value, g) = declined_grad(&k, &x);
    assert_bits(value, declined(&k, &x));
    assert_close_slice(&g, &dual_grad(|k| declined_o(k, &x), &k));
}

/// Second order through a length-checked, rotated stencil: `f_hvp` (reverse over
/// the tangent sweep, whose loops are checked too) and `f_jvp` against hyper-dual
/// and dual numbers.
#[differentiate(reverse, forward, hvp, wrt(x))]
fn stencil_energy(x: &[f64], w: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        let mut t = left * left * w[i];
        if i + 1 < n {
            t += (x[i + 1] - x[i]).sin() * x[i];
        }
        s += t * t;
    }
    s
}

fn stencil_energy_o<D: DualNum<f64> + Copy>(x: &[D], w: &[f64]) -> D {
    let n = x.len();
    let mut s = D::from(0.0);
    for i in 0..n {
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        let mut t = left * left * w[i];
        if i + 1 < n {
            t += (x[i + 1] - x[i]).sin() * x[i];
        }
        s += t * t;
    }
    s
}

#[test]
fn second_order_through_length_checked_stencils() {
    let x: Vec<f64> = (0..8)
        .map(|i| 0.4 + 0.3 * ((i as f64) * 1.3).sin())
        .collect();
    let v: Vec<f64> = (0..8).map(|i| 0.5 - 0.1 * i as f64).collect();
    let w: Vec<f64> = (0..8).map(|i| 1.0 + 0.05 * i as f64).collect();
    let (value, g, hv) = stencil_energy_hvp(&x, &w, &v);
    assert_bits(value, stencil_energy(&x, &w));
    assert_close_slice(&g, &dual_grad(|x| stencil_energy_o(x, &w), &x));
    let expected: Vec<f64> = (0..x.len())
        .map(|i| {
            let hx: Vec<num_dual::HyperDual64> = (0..x.len())
                .map(|k| {
                    num_dual::HyperDual64::new(x[k], if k == i { 1.0 } else { 0.0 }, v[k], 0.0)
                })
                .collect();
            stencil_energy_o(&hx, &w).eps1eps2
        })
        .collect();
    assert_close_slice(&hv, &expected);
    let (jv, tangent) = stencil_energy_jvp(&x, &w, &v);
    assert_bits(jv, value);
    let dual: Vec<Dual64> = x.iter().zip(&v).map(|(&a, &b)| Dual64::new(a, b)).collect();
    assert_close(tangent, stencil_energy_o(&dual, &w).eps);
}
