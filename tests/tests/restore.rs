//! Recompute instead of store: arrays overwritten inside loops are restored element
//! by element in the reverse sweep so that reads of them can be replayed, whole
//! `if`s of cheap statements are replayed, and integer counters are undone by
//! their inverse instead of saved. Each function is checked against dual numbers,
//! bit-identical values and the bytes the stack receives.
#![allow(clippy::needless_range_loop)]

mod common;

use approx::assert_relative_eq;
use autodiff_runtime::differentiate;
use autodiff_runtime::stack::last_bytes_pushed;
use common::*;

/// A spring chain: forces read the positions (`left` by an `if`, differences of
/// neighbours), then the positions are overwritten. Only the overwritten positions
/// need saving: one `f64` per mass and step, what a hand-written adjoint keeps.
#[differentiate(wrt(k))]
fn chain(k: &[f64], x0: &[f64], steps: usize) -> f64 {
    let n = k.len();
    let mut x = x0.to_vec();
    let mut v = vec![0.0; n];
    let mut force = vec![0.0; n];
    let mut err = 0.0;
    for t in 0..steps {
        for i in 0..n {
            let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
            let mut f = -k[i] * left - 0.1 * v[i];
            if i + 1 < n {
                f += k[i + 1] * (x[i + 1] - x[i]);
            }
            force[i] = f;
        }
        for i in 0..n {
            v[i] += 0.05 * force[i];
            x[i] += 0.05 * v[i];
            let d = x[i] - (t as f64) * 0.01;
            err += d * d;
        }
    }
    err
}

fn chain_o(k: &[Dual64], x0: &[f64], steps: usize) -> Dual64 {
    let n = k.len();
    let mut x: Vec<Dual64> = x0.iter().map(|&v| c(v)).collect();
    let mut v = vec![c(0.0); n];
    let mut force = vec![c(0.0); n];
    let mut err = c(0.0);
    for t in 0..steps {
        for i in 0..n {
            let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
            let mut f = -k[i] * left - v[i] * 0.1;
            if i + 1 < n {
                f += k[i + 1] * (x[i + 1] - x[i]);
            }
            force[i] = f;
        }
        for i in 0..n {
            v[i] += force[i] * 0.05;
            x[i] += v[i] * 0.05;
            let d = x[i] - (t as f64) * 0.01;
            err += d * d;
        }
    }
    err
}

#[test]
fn overwritten_positions_are_restored_not_their_differences() {
    let k = [3.0, 5.0, 2.5, 4.0, 6.0];
    let x0 = [0.1, -0.2, 0.3, 0.05, -0.1];
    let steps = 7;
    let (value, grad) = chain_grad(&k, &x0, steps);
    assert_bits(value, chain(&k, &x0, steps));
    let oracle = dual_grad(|k| chain_o(k, &x0, steps), &k);
    for (g, o) in grad.iter().zip(&oracle) {
        assert_relative_eq!(*g, *o, max_relative = 1e-12);
    }
    // One saved position per mass and step: nothing for `left`, the neighbour
    // differences or the misfit, which the reverse sweep recomputes.
    assert_eq!(last_bytes_pushed(), 8 * k.len() * steps);
}

/// Reads before and after a store in the same iteration, a store that follows a
/// read in the read's own block (that read must be saved, not replayed), and a
/// store inside a branch.
#[differentiate]
fn read_store_orders(x: &[f64], steps: usize) -> f64 {
    let n = x.len();
    let mut u = x.to_vec();
    let mut acc = 0.0;
    for _ in 0..steps {
        for i in 0..n {
            let before = u[i];
            u[i] = before * before * 0.5 + 0.1;
            let after = u[i];
            acc += before * after;
            if after > 0.3 {
                u[i] = after.sin();
            }
            let last = u[i];
            acc += last * last * last;
        }
        for i in 1..n {
            u[i] *= u[i - 1];
        }
    }
    acc
}

fn read_store_orders_o(x: &[Dual64], steps: usize) -> Dual64 {
    let n = x.len();
    let mut u = x.to_vec();
    let mut acc = c(0.0);
    for _ in 0..steps {
        for i in 0..n {
            let before = u[i];
            u[i] = before * before * 0.5 + 0.1;
            let after = u[i];
            acc += before * after;
            if after.re > 0.3 {
                u[i] = after.sin();
            }
            let last = u[i];
            acc += last * last * last;
        }
        for i in 1..n {
            u[i] = u[i] * u[i - 1];
        }
    }
    acc
}

#[test]
fn reads_around_stores_in_one_iteration() {
    for x in [
        [0.9, -0.4, 0.7, 0.2],
        [0.1, 0.2, 0.3, 0.4],
        [1.2, 0.8, -1.1, 0.5],
    ] {
        let (value, grad) = read_store_orders_grad(&x, 3);
        assert_bits(value, read_store_orders(&x, 3));
        let oracle = dual_grad(|x| read_store_orders_o(x, 3), &x);
        for (g, o) in grad.iter().zip(&oracle) {
            assert_relative_eq!(*g, *o, max_relative = 1e-12);
        }
    }
}

/// A counter advanced by `+=` inside a doubly nested loop and used as an index
/// (GMM's packed lower triangle): undone by `-=` in the reverse sweep, and a
/// counter moved by `-=` as well.
#[differentiate]
fn packed(l: &[f64], x: &[f64]) -> f64 {
    let d = x.len();
    let mut y = vec![0.0; d];
    let mut s = 0.0;
    for rep in 0..3 {
        let mut idx = 0;
        let mut back = l.len();
        for a in 0..d {
            for b in a..d {
                y[b] += l[idx] * x[a] + (rep as f64) * l[back - 1];
                idx += 1;
                back -= 1;
            }
        }
        for j in 0..d {
            s += y[j] * y[j];
        }
    }
    s
}

fn packed_o(l: &[Dual64], x: &[f64]) -> Dual64 {
    let d = x.len();
    let mut y = vec![c(0.0); d];
    let mut s = c(0.0);
    for rep in 0..3 {
        let mut idx = 0;
        let mut back = l.len();
        for a in 0..d {
            for b in a..d {
                y[b] += l[idx] * x[a] + l[back - 1] * (rep as f64);
                idx += 1;
                back -= 1;
            }
        }
        for j in 0..d {
            s += y[j] * y[j];
        }
    }
    s
}

#[test]
fn counters_are_undone() {
    let x = [0.5, -1.0, 2.0, 0.25];
    let l: Vec<f64> = (0..10).map(|i| 0.1 * i as f64 - 0.3).collect();
    let (value, (grad_l, _)) = packed_grad(&l, &x);
    assert_bits(value, packed(&l, &x));
    let oracle = dual_grad(|l| packed_o(l, &x), &l);
    for (g, o) in grad_l.iter().zip(&oracle) {
        assert_relative_eq!(*g, *o, max_relative = 1e-12);
    }
    // Neither `idx` nor `back` is saved per inner iteration, and `l[idx]` is read
    // again rather than saved: what is pushed is the elements of `y` the adjoint
    // needs and the counters' values per repetition, far fewer than the three
    // words per inner iteration that saving `idx`, `back` and `l[idx]` takes
    // (1,008 bytes before counters were undone, 288 now).
    let inner = 3 * x.len() * (x.len() + 1) / 2;
    println!(
        "{} bytes pushed for {inner} inner iterations",
        last_bytes_pushed()
    );
    assert!(
        last_bytes_pushed() < 8 * 3 * inner,
        "{} bytes pushed for {inner} inner iterations",
        last_bytes_pushed()
    );
}

/// A `&mut` state buffer stepped in place: restored element by element, the
/// primal buffer still ends as `f` leaves it.
#[differentiate]
fn stepped_state(u: &mut [f64], r: f64, steps: usize) -> f64 {
    let n = u.len();
    let mut energy = 0.0;
    for _ in 0..steps {
        for i in 1..n {
            u[i] = u[i] + r * (u[i - 1] - u[i]);
        }
        for i in 0..n {
            energy += u[i] * u[i];
        }
    }
    energy
}

fn stepped_state_o(p: &[Dual64], steps: usize) -> Dual64 {
    let n = p.len() - 1;
    let r = p[n];
    let mut u = p[..n].to_vec();
    let mut energy = c(0.0);
    for _ in 0..steps {
        for i in 1..n {
            u[i] = u[i] + r * (u[i - 1] - u[i]);
        }
        for i in 0..n {
            energy += u[i] * u[i];
        }
    }
    energy
}

#[test]
fn mut_state_restored_in_place() {
    let start = [1.0, 0.5, -0.25, 0.75];
    let r = 0.3;
    let mut u = start;
    let (value, (grad_u, grad_r)) = stepped_state_grad(&mut u, r, 4);
    let mut primal = start;
    assert_bits(value, stepped_state(&mut primal, r, 4));
    assert_eq!(u, primal, "the buffer ends as f leaves it");
    let mut point = start.to_vec();
    point.push(r);
    let oracle = dual_grad(|p| stepped_state_o(p, 4), &point);
    for (g, o) in grad_u.iter().chain([&grad_r]).zip(&oracle) {
        assert_relative_eq!(*g, *o, max_relative = 1e-12);
    }
}

/// `1.0 / b` becomes `b.recip()` (the same bits) with an adjoint from the result;
/// other numerators stay divisions. A sigmoid keeps one value per evaluation (see
/// `logistic_keeps_its_exponential`).
#[differentiate]
fn reciprocals(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let z = x[i];
        let gate = 1.0 / (1.0 + (-z).exp());
        s += gate * (1. / (z + 3.0)) + 2.0 / (z * z + 1.0) + 1f64 / (gate + 0.5);
    }
    s
}

fn reciprocals_o(x: &[Dual64]) -> Dual64 {
    let mut s = c(0.0);
    for z in x {
        let gate = (c(1.0) + (-*z).exp()).recip();
        s += gate * (*z + 3.0).recip() + (*z * *z + 1.0).recip() * 2.0 + (gate + 0.5).recip();
    }
    s
}

#[test]
fn one_over_b_is_a_reciprocal() {
    let x = [0.3, -1.7, 2.2, 0.05, -40.0, 35.0];
    let (value, grad) = reciprocals_grad(&x);
    assert_bits(value, reciprocals(&x));
    let oracle = dual_grad(reciprocals_o, &x);
    for (g, o) in grad.iter().zip(&oracle) {
        assert_relative_eq!(*g, *o, max_relative = 1e-12, epsilon = 1e-300);
    }
    // Per element: the exp output and the gate, the other reciprocal and the
    // division's inputs are replayed or restored; no more than four values.
    assert!(
        last_bytes_pushed() <= 8 * 4 * x.len(),
        "{}",
        last_bytes_pushed()
    );
}

/// An invariant read hoisted out of its loop runs only when the loop runs: here
/// `x[a + 2]` is out of bounds exactly when the inner loop is empty.
#[differentiate]
fn hoisted(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for a in 0..n {
        for b in a..n - 2 {
            s += x[a + 2] * x[b] + x[a + 2];
        }
    }
    s
}

fn hoisted_o(x: &[Dual64]) -> Dual64 {
    let n = x.len();
    let mut s = c(0.0);
    for a in 0..n {
        for b in a..n - 2 {
            s += x[a + 2] * x[b] + x[a + 2];
        }
    }
    s
}

#[test]
fn hoisted_reads_run_only_when_their_loop_does() {
    let x = [0.5, -1.5, 2.0, 0.25, 3.0];
    let (value, grad) = hoisted_grad(&x);
    assert_bits(value, hoisted(&x));
    let oracle = dual_grad(hoisted_o, &x);
    for (g, o) in grad.iter().zip(&oracle) {
        assert_relative_eq!(*g, *o, max_relative = 1e-12);
    }
}

/// A logistic keeps one value per evaluation: the exponential, whose rule reads its
/// result; `1.0 + e` and the reciprocal are recomputed from it by the reverse sweep
/// (a division), where a hand-written adjoint would keep the gate itself. (The
/// running value is discounted so that the loop is recorded, not preaccumulated:
/// a preaccumulated iteration saves nothing at all.)
#[differentiate]
fn logistic_sum(x: &[f64], w: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let gate = 1.0 / (1.0 + (-(w * x[i])).exp());
        s = 0.9 * s + gate * gate * x[i];
    }
    s
}

fn logistic_sum_o(p: &[Dual64]) -> Dual64 {
    let (w, x) = (p[0], &p[1..]);
    let mut s = c(0.0);
    for xi in x {
        let gate = (c(1.0) + (-(w * *xi)).exp()).recip();
        s = s * 0.9 + gate * gate * *xi;
    }
    s
}

#[test]
fn logistic_keeps_its_exponential() {
    let x = [0.3, -1.7, 2.2, 0.05, -40.0, 35.0, 0.9];
    let w = 1.3;
    let (value, (gx, gw)) = logistic_sum_grad(&x, w);
    assert_bits(value, logistic_sum(&x, w));
    let mut p = vec![w];
    p.extend_from_slice(&x);
    let oracle = dual_grad(logistic_sum_o, &p);
    assert_relative_eq!(gw, oracle[0], max_relative = 1e-12);
    for (g, o) in gx.iter().zip(&oracle[1..]) {
        assert_relative_eq!(*g, *o, max_relative = 1e-12, epsilon = 1e-300);
    }
    assert_eq!(last_bytes_pushed(), 8 * x.len());
}

/// A sum reset before an inner loop and read by the reverse sweep only after it
/// (`se.ln()`) is saved once per row, at the reset: the partial sums the inner loop
/// overwrites are never read back. A running maximum is different: its rule reads
/// every old value, so each is saved.
#[differentiate]
fn row_log_sums(x: &[f64], rows: usize) -> f64 {
    let cols = x.len() / rows;
    let mut total = 0.0;
    let mut se = 0.0;
    for r in 0..rows {
        se = 0.0;
        for j in 0..cols {
            se += x[r * cols + j] * x[r * cols + j];
        }
        let mut mx = x[r * cols];
        for j in 1..cols {
            mx = mx.max(x[r * cols + j]);
        }
        total += se.ln() + mx;
    }
    total + se
}

fn row_log_sums_o(x: &[Dual64], rows: usize) -> Dual64 {
    let cols = x.len() / rows;
    let mut total = c(0.0);
    let mut se = c(0.0);
    for r in 0..rows {
        se = c(0.0);
        for j in 0..cols {
            se += x[r * cols + j] * x[r * cols + j];
        }
        let mut mx = x[r * cols];
        for j in 1..cols {
            if x[r * cols + j].re > mx.re {
                mx = x[r * cols + j];
            }
        }
        total += se.ln() + mx;
    }
    total + se
}

#[test]
fn a_reset_sum_is_saved_once_per_row() {
    let (rows, cols) = (5, 4);
    let x: Vec<f64> = (0..rows * cols)
        .map(|i| ((i as f64) * 1.7).sin() + 0.1)
        .collect();
    let (value, grad) = row_log_sums_grad(&x, rows);
    assert_bits(value, row_log_sums(&x, rows));
    let oracle = dual_grad(|x| row_log_sums_o(x, rows), &x);
    for (g, o) in grad.iter().zip(&oracle) {
        assert_relative_eq!(*g, *o, max_relative = 1e-12);
    }
    // Per row: `se` once (at `se = 0.0`), `mx` at its first write, and the
    // running maximum's values before and after its loop (`analysis::reduction`),
    // in place of its `cols - 1` running values.
    assert_eq!(last_bytes_pushed(), 8 * rows * (1 + 1 + 2));
}

/// In-place increments (`a[i] += e`, `a[i] -= e`, `a[i] = e + a[i]`) reverse as
/// one accumulation into `e`'s adjoint; look-alikes that are not increments (another
/// element read, the old value used twice) keep the general reverse. A `&mut`
/// state and a local array, both overwritten in a loop.
#[allow(clippy::assign_op_pattern)] // the spelled-out forms are what is tested
#[differentiate]
fn increments(u: &mut [f64], w: &[f64], steps: usize) -> f64 {
    let n = u.len();
    let mut acc = vec![0.0; n];
    for _ in 0..steps {
        for i in 0..n {
            acc[i] += u[i] * w[i];
            u[i] -= 0.1 * acc[i].sin();
            acc[i] = 0.5 * w[i] + acc[i];
            if i > 0 {
                u[i] = u[i - 1] * 0.25 + u[i];
                acc[i] += acc[i] * 0.5;
            }
        }
    }
    let mut total = 0.0;
    for i in 0..n {
        total += u[i] * acc[i];
    }
    total
}

fn increments_o(p: &[Dual64], n: usize, steps: usize) -> Dual64 {
    let (mut u, w) = (p[..n].to_vec(), &p[n..]);
    let mut acc = vec![c(0.0); n];
    for _ in 0..steps {
        for i in 0..n {
            acc[i] += u[i] * w[i];
            u[i] -= (acc[i]).sin() * 0.1;
            acc[i] = w[i] * 0.5 + acc[i];
            if i > 0 {
                u[i] = u[i - 1] * 0.25 + u[i];
                acc[i] = acc[i] + acc[i] * 0.5;
            }
        }
    }
    let mut total = c(0.0);
    for i in 0..n {
        total += u[i] * acc[i];
    }
    total
}

#[test]
fn increments_pass_the_element_adjoint_through() {
    let u0 = [0.3, -0.7, 1.2, 0.4];
    let w = [0.9, -0.2, 0.5, 1.1];
    let steps = 3;
    let n = u0.len();
    let mut u = u0.to_vec();
    let mut u_bar = vec![0.0; n];
    let (value, w_bar) = increments_vjp(&mut u, &mut u_bar, &w, steps, 1.0);
    let mut primal = u0.to_vec();
    assert_bits(value, increments(&mut primal, &w, steps));
    assert_bits_slice(&u, &primal);
    let mut p = u0.to_vec();
    p.extend_from_slice(&w);
    let oracle = dual_grad(|p| increments_o(p, n, steps), &p);
    for (g, o) in u_bar.iter().chain(&w_bar).zip(&oracle) {
        assert_relative_eq!(*g, *o, max_relative = 1e-12);
    }
}
