//! Loop nests whose pushes are counted and reserved before they run (see the
//! macro's `transform::reserve`): nested loops with invariant and with varying
//! bounds, pushes in branches, early exits, integer saves, bounds that must not be
//! evaluated where the user's code would not, preaccumulated and checkpointed
//! loops. Each gradient is checked against dual numbers; a miscounted reservation
//! would panic ("reservation exceeded") rather than return.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use autodiff_runtime::stack::last_bytes_pushed;
use common::*;

/// Spring-chain shape: the inner bound `n` does not change in the outer loop, so
/// the whole nest is reserved before it (`steps × n` values).
#[differentiate]
fn relax(x: &[f64], steps: usize, rate: f64) -> f64 {
    let n = x.len();
    let mut u = x.to_vec();
    let mut err = 0.0;
    for _ in 0..steps {
        for i in 0..n {
            u[i] = u[i] - rate * u[i].sin() * u[i];
            err += u[i] * u[i];
        }
    }
    err
}

fn relax_o(x: &[Dual64], steps: usize, rate: Dual64) -> Dual64 {
    let mut u = x.to_vec();
    let mut err = c(0.0);
    for _ in 0..steps {
        for i in 0..u.len() {
            u[i] = u[i] - u[i].sin() * u[i] * rate;
            err += u[i] * u[i];
        }
    }
    err
}

#[test]
fn invariant_inner_bound() {
    let x = [0.3, -0.7, 1.1, 0.05];
    for steps in [0, 1, 3, 40] {
        let (v, (gx, grate)) = relax_grad(&x, steps, 0.1);
        assert_bits(v, relax(&x, steps, 0.1));
        let mut all = x.to_vec();
        all.push(0.1);
        let expected = dual_grad(|p| relax_o(&p[..4], steps, p[4]), &all);
        assert_close_slice(&gx, &expected[..4]);
        assert_close(grate, expected[4]);
        // The old `u[i]` and two intermediates per inner iteration, no more.
        assert_eq!(last_bytes_pushed(), 3 * 8 * steps * x.len());
    }
}

/// The inner bound depends on the outer index: the inner loop reserves for itself
/// on each outer iteration.
#[differentiate]
fn triangle(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.5;
    for i in 0..n {
        for j in i..n {
            s = (s * x[j]).sin() + x[i];
        }
    }
    s
}

fn triangle_o(x: &[Dual64]) -> Dual64 {
    let n = x.len();
    let mut s = c(0.5);
    for i in 0..n {
        for j in i..n {
            s = (s * x[j]).sin() + x[i];
        }
    }
    s
}

#[test]
fn inner_bound_varies_with_outer_index() {
    for x in [vec![], vec![0.4], vec![0.4, -1.2, 0.9, 0.3, 2.0]] {
        let (v, g) = triangle_grad(&x);
        assert_bits(v, triangle(&x));
        assert_close_slice(&g, &dual_grad(triangle_o, &x));
    }
}

/// Saves in one arm only: both arms are counted (an upper bound).
#[differentiate]
fn branchy(x: &[f64], reps: usize) -> f64 {
    let mut s = 0.2;
    for _ in 0..reps {
        for i in 0..x.len() {
            if x[i] > 0.0 {
                s = s.sin() * x[i];
            } else {
                s = s * s + x[i];
            }
        }
    }
    s
}

fn branchy_o(x: &[Dual64], reps: usize) -> Dual64 {
    let mut s = c(0.2);
    for _ in 0..reps {
        for i in 0..x.len() {
            if x[i].re > 0.0 {
                s = s.sin() * x[i];
            } else {
                s = s * s + x[i];
            }
        }
    }
    s
}

#[test]
fn pushes_in_branches() {
    let x = [0.5, -0.3, 0.8, -1.5, 0.1];
    for reps in [0, 1, 4] {
        let (v, g) = branchy_grad(&x, reps);
        assert_bits(v, branchy(&x, reps));
        assert_close_slice(&g, &dual_grad(|p| branchy_o(p, reps), &x));
    }
}

/// A loop that can leave early reserves for its whole range.
#[differentiate]
fn until(x: &[f64], limit: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s = (s + x[i]).sin() + s;
        if s > limit {
            break;
        }
    }
    s
}

fn until_o(x: &[Dual64], limit: f64) -> Dual64 {
    let mut s = c(0.0);
    for i in 0..x.len() {
        s = (s + x[i]).sin() + s;
        if s.re > limit {
            break;
        }
    }
    s
}

#[test]
fn early_exit() {
    let x = [0.3, 0.4, 0.9, 0.2, 0.7, 0.1];
    for limit in [-1.0, 0.5, 1.5, 100.0] {
        let (v, (g, glimit)) = until_grad(&x, limit);
        assert_eq!(glimit, 0.0);
        assert_bits(v, until(&x, limit));
        assert_close_slice(&g, &dual_grad(|p| until_o(p, limit), &x));
    }
}

/// An integer overwritten in the loop and needed by the reverse sweep (an index):
/// saved on the word lane, two words reserved per save.
#[differentiate]
fn hops(x: &[f64], reps: usize) -> f64 {
    let n = x.len();
    let mut idx = 0;
    let mut s = 1.0;
    for _ in 0..reps {
        for _ in 0..n {
            idx = (idx * 7 + 3) % n;
            s = s * x[idx] + (s * 0.5).sin();
        }
    }
    s
}

fn hops_o(x: &[Dual64], reps: usize) -> Dual64 {
    let n = x.len();
    let mut idx = 0;
    let mut s = c(1.0);
    for _ in 0..reps {
        for _ in 0..n {
            idx = (idx * 7 + 3) % n;
            s = s * x[idx] + (s * 0.5).sin();
        }
    }
    s
}

#[test]
fn integer_saves() {
    let x = [0.9, 1.1, -0.4, 0.7, 1.3];
    for reps in [0, 1, 3] {
        let (v, g) = hops_grad(&x, reps);
        assert_bits(v, hops(&x, reps));
        assert_close_slice(&g, &dual_grad(|p| hops_o(p, reps), &x));
    }
}

/// The inner bound `n / m` would panic for `m == 0`, but the branch around the
/// loop never runs it then: a reservation hoisted out of the outer loop must not
/// evaluate it.
#[differentiate]
fn guarded(x: &[f64], n: usize, m: usize, go: bool) -> f64 {
    let mut s = 0.1;
    for t in 0..x.len() {
        if go {
            for _ in 0..n / m {
                s = (s * x[t]).cos();
            }
        }
        s = s * x[t] + 0.3;
    }
    s
}

fn guarded_o(x: &[Dual64], n: usize, m: usize, go: bool) -> Dual64 {
    let mut s = c(0.1);
    for t in 0..x.len() {
        if go {
            for _ in 0..n / m {
                s = (s * x[t]).cos();
            }
        }
        s = s * x[t] + 0.3;
    }
    s
}

#[test]
fn skipped_bounds_are_not_evaluated() {
    let x = [0.6, -0.2, 1.4];
    let (v, g) = guarded_grad(&x, 5, 0, false);
    assert_bits(v, guarded(&x, 5, 0, false));
    assert_close_slice(&g, &dual_grad(|p| guarded_o(p, 5, 0, false), &x));
    let (v, g) = guarded_grad(&x, 7, 2, true);
    assert_bits(v, guarded(&x, 7, 2, true));
    assert_close_slice(&g, &dual_grad(|p| guarded_o(p, 7, 2, true), &x));
}

/// Independent iterations (preaccumulated): each pops what it pushed, so room for
/// one iteration is reserved before the loop.
#[differentiate]
fn independent(x: &[f64], depth: usize) -> f64 {
    let mut total = 0.0;
    for i in 0..x.len() {
        let mut y = x[i];
        for _ in 0..depth {
            y = y.sin() * y + 0.25;
        }
        total += y;
    }
    total
}

fn independent_o(x: &[Dual64], depth: usize) -> Dual64 {
    let mut total = c(0.0);
    for i in 0..x.len() {
        let mut y = x[i];
        for _ in 0..depth {
            y = y.sin() * y + 0.25;
        }
        total += y;
    }
    total
}

#[test]
fn preaccumulated_iterations() {
    let x = [0.3, 1.2, -0.5, 2.2];
    for depth in [0, 1, 6] {
        let (v, g) = independent_grad(&x, depth);
        assert_bits(v, independent(&x, depth));
        assert_close_slice(&g, &dual_grad(|p| independent_o(p, depth), &x));
    }
}

/// A checkpointed loop (a doubly nested body): every reversed iteration records
/// and pops its own tape.
#[differentiate]
fn layered(w: &[f64], steps: usize, layers: usize) -> f64 {
    let units = w.len() / layers;
    let mut state = vec![0.5; units];
    for _ in 0..steps {
        for l in 0..layers {
            for u in 0..units {
                state[u] = (state[u] * w[l * units + u] + 0.1).tanh();
            }
        }
    }
    let mut s = 0.0;
    for u in 0..units {
        s += state[u];
    }
    s
}

fn layered_o(w: &[Dual64], steps: usize, layers: usize) -> Dual64 {
    let units = w.len() / layers;
    let mut state = vec![c(0.5); units];
    for _ in 0..steps {
        for l in 0..layers {
            for u in 0..units {
                state[u] = (state[u] * w[l * units + u] + 0.1).tanh();
            }
        }
    }
    let mut s = c(0.0);
    for u in 0..units {
        s += state[u];
    }
    s
}

#[test]
fn checkpointed_iterations() {
    let w = [0.4, -0.9, 1.3, 0.2, 0.7, -0.1];
    for steps in [0, 1, 5] {
        let (v, g) = layered_grad(&w, steps, 2);
        assert_bits(v, layered(&w, steps, 2));
        assert_close_slice(&g, &dual_grad(|p| layered_o(p, steps, 2), &w));
    }
}
