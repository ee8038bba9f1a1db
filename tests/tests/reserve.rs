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
/// saved on the word lane; its type is not written out, so two words are reserved
/// per save.
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

/// Integers of written-out types: a `u32` takes one word of the reservation, an
/// `i128` two (a reservation one word short would panic).
#[differentiate]
fn typed_hops(x: &[f64], reps: usize) -> f64 {
    let n = x.len();
    let mut idx: u32 = 0;
    let mut wide: i128 = 1;
    let mut s = 1.0;
    for _ in 0..reps {
        for _ in 0..n {
            idx = (idx * 7 + 3) % (n as u32);
            wide = (wide * 5 + 1) % (n as i128);
            s = s * x[idx as usize] + (s * 0.5).sin() * x[wide as usize];
        }
    }
    s
}

fn typed_hops_o(x: &[Dual64], reps: usize) -> Dual64 {
    let n = x.len();
    let (mut idx, mut wide) = (0usize, 1usize);
    let mut s = c(1.0);
    for _ in 0..reps {
        for _ in 0..n {
            idx = (idx * 7 + 3) % n;
            wide = (wide * 5 + 1) % n;
            s = s * x[idx] + (s * 0.5).sin() * x[wide];
        }
    }
    s
}

#[test]
fn integer_saves_of_written_out_types() {
    let x = [0.9, 1.1, -0.4, 0.7, 1.3];
    for reps in [0, 1, 3] {
        let (v, g) = typed_hops_grad(&x, reps);
        assert_bits(v, typed_hops(&x, reps));
        assert_close_slice(&g, &dual_grad(|p| typed_hops_o(p, reps), &x));
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

/// Log-sum-exp: its reverse sweep pushes on the stack (the running maximum, the
/// exponentials), so it is a callee that uses the stack.
#[differentiate]
fn lse(v: &[f64]) -> f64 {
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

#[differentiate]
fn sumsq(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i] * v[i];
    }
    s
}

fn lse_o(v: &[Dual64]) -> Dual64 {
    let mut mx = v[0];
    for &a in &v[1..] {
        if a.re > mx.re {
            mx = a;
        }
    }
    let s: Dual64 = v.iter().map(|&a| (a - mx).exp()).sum();
    s.ln() + mx
}

/// GMM's shape with helper functions: per point and component a `Vec` and a fixed
/// array are refilled (from what the loop computes, so they cannot simply be
/// refilled again in the reverse sweep) and read whole by calls, so each call
/// copies them to the stack. Their lengths do not change in the loops, so the copies are counted: the
/// loop over points takes the stack's lanes once, and the callees (one of which
/// pushes) run on the stack while the lanes are out.
#[differentiate(wrt(means))]
fn mixture(x: &[f64], means: &[f64], d: usize, k: usize, n: usize) -> f64 {
    let mut centred = vec![0.0; d];
    let mut pair = [0.0; 2];
    let mut terms = vec![0.0; k];
    let mut total = 0.0;
    for i in 0..n {
        for c in 0..k {
            for j in 0..d {
                centred[j] = x[i * d + j] - means[c * d + j] + 0.1 * total;
            }
            pair[0] = centred[0];
            pair[1] = means[c * d] * 0.5;
            terms[c] = lse(&pair) - 0.5 * sumsq(&centred);
        }
        total += lse(&terms);
    }
    total
}

fn mixture_o(x: &[f64], means: &[Dual64], d: usize, k: usize, n: usize) -> Dual64 {
    let mut total = c(0.0);
    for i in 0..n {
        let mut terms = Vec::new();
        for cc in 0..k {
            let centred: Vec<Dual64> = (0..d)
                .map(|j| -means[cc * d + j] + x[i * d + j] + total * 0.1)
                .collect();
            let pair = [centred[0], means[cc * d] * 0.5];
            let sq: Dual64 = centred.iter().map(|&a| a * a).sum();
            terms.push(lse_o(&pair) - sq * 0.5);
        }
        total += lse_o(&terms);
    }
    total
}

#[test]
fn counted_copies_for_calls_and_callees_that_push_while_lanes_are_out() {
    let (d, k) = (3, 4);
    let means: Vec<f64> = (0..k * d).map(|t| (t as f64 * 0.37).sin()).collect();
    for n in [0, 1, 5] {
        let x: Vec<f64> = (0..n * d).map(|t| (t as f64 * 0.61).cos()).collect();
        let (v, g) = mixture_grad(&x, &means, d, k, n);
        assert_bits(v, mixture(&x, &means, d, k, n));
        assert_close_slice(&g, &dual_grad(|p| mixture_o(&x, p, d, k, n), &means));
        // Per point and component: `centred` and `pair` copied (d + 2 values);
        // per point, what the loop over points saves itself. Run again to check
        // that the count is the same: the stack's memory is reused.
        let pushed = last_bytes_pushed();
        let _ = mixture_grad(&x, &means, d, k, n);
        assert_eq!(last_bytes_pushed(), pushed);
        assert!(pushed >= n * k * (d + 2) * 8, "{pushed}");
    }
}

/// An array created anew in every iteration, with a length that changes: its
/// copies at the call cannot be counted before the loop, so they are pushed with
/// their lengths (a miscount would panic with "reservation exceeded").
#[differentiate]
fn regrown(x: &[f64], rounds: usize) -> f64 {
    let mut total = 0.0;
    for r in 0..rounds {
        let mut v = vec![0.0; r % 3 + 1];
        for i in 0..v.len() {
            v[i] = x[i] * (r as f64 + 1.0) + total;
        }
        total = 0.5 * total + lse(&v);
        v[0] = total * total;
        total += v[0].sin();
    }
    total
}

fn regrown_o(x: &[Dual64], rounds: usize) -> Dual64 {
    let mut total = c(0.0);
    for r in 0..rounds {
        let v: Vec<Dual64> = (0..r % 3 + 1)
            .map(|i| x[i] * (r as f64 + 1.0) + total)
            .collect();
        total = total * 0.5 + lse_o(&v);
        total += (total * total).sin();
    }
    total
}

#[test]
fn arrays_created_in_the_loop_are_copied_uncounted() {
    let x = [0.3, -0.5, 0.8];
    for rounds in [0, 1, 2, 7] {
        let (v, g) = regrown_grad(&x, rounds);
        assert_bits(v, regrown(&x, rounds));
        assert_close_slice(&g, &dual_grad(|p| regrown_o(p, rounds), &x));
    }
}

/// A `&mut [f64]` parameter read whole by a call and then overwritten, in a loop
/// (a counted copy, restored into the slice in place) and after it (a plain one).
#[differentiate]
fn refreshed(state: &mut [f64], rate: f64, rounds: usize) -> f64 {
    let mut total = 0.0;
    for _ in 0..rounds {
        total += lse(state);
        for i in 0..state.len() {
            state[i] = state[i] * rate + 0.1 * total;
        }
    }
    let last = lse(state);
    state[0] = last * rate;
    total + last * state[0]
}

fn refreshed_o(p: &[Dual64], rounds: usize) -> Dual64 {
    let n = p.len() - 1;
    let (mut state, rate) = (p[..n].to_vec(), p[n]);
    let mut total = c(0.0);
    for _ in 0..rounds {
        total += lse_o(&state);
        for s in state.iter_mut() {
            *s = *s * rate + total * 0.1;
        }
    }
    let last = lse_o(&state);
    state[0] = last * rate;
    total + last * state[0]
}

#[test]
fn mut_slice_parameters_copied_at_calls() {
    let s0 = [0.4, -0.2, 0.9, 0.1];
    for rounds in [0, 1, 4] {
        let mut s = s0.to_vec();
        let (v, (g, grate)) = refreshed_grad(&mut s, 0.8, rounds);
        let mut sf = s0.to_vec();
        assert_bits(v, refreshed(&mut sf, 0.8, rounds));
        let mut all = s0.to_vec();
        all.push(0.8);
        let mut got = g.clone();
        got.push(grate);
        assert_close_slice(&got, &dual_grad(|p| refreshed_o(p, rounds), &all));
    }
}
