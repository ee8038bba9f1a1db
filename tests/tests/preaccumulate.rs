//! Loops whose iterations meet only in one sum are differentiated iteration by
//! iteration (preaccumulation): the gradient is unchanged, the stack holds one
//! iteration at a time, and loops that do not qualify (an iteration reading what
//! an earlier one left in a scratch array, a scratch array used after the loop,
//! two sums) are recorded as before. Every gradient is checked against dual
//! numbers, every value bit for bit.
#![allow(
    clippy::needless_range_loop,
    clippy::useless_vec,
    clippy::explicit_counter_loop
)]

mod common;

use approx::assert_relative_eq;
use autodiff_runtime::differentiate;
use autodiff_runtime::stack::{last_bytes_pushed, last_peak_bytes};
use common::*;

fn check(grad: &[f64], oracle: &[f64]) {
    assert_eq!(grad.len(), oracle.len());
    for (g, o) in grad.iter().zip(oracle) {
        assert_relative_eq!(*g, *o, max_relative = 1e-11, epsilon = 1e-14);
    }
}

/// GMM-shaped: per point, scratch arrays filled then read (by loop index and at
/// the constant index 0), a log-sum-exp, one sum; then a second preaccumulated
/// loop over the same weights.
#[differentiate(wrt(w))]
fn mixture(w: &[f64], x: &[f64], d: usize, k: usize, n: usize) -> f64 {
    let mut centered = vec![0.0; d];
    let mut scores = vec![0.0; k];
    let mut total = 0.0;
    for i in 0..n {
        for c in 0..k {
            for j in 0..d {
                centered[j] = x[i * d + j] - w[c * d + j];
            }
            let mut q = 0.0;
            for a in 0..d {
                for b in a..d {
                    q += centered[a] * centered[b] * w[(c + a + b) % (k * d)];
                }
            }
            scores[c] = -0.5 * q;
        }
        let mut top = scores[0];
        for c in 1..k {
            top = top.max(scores[c]);
        }
        let mut sum = 0.0;
        for c in 0..k {
            sum += (scores[c] - top).exp();
        }
        total += sum.ln() + top;
    }
    let mut prior = 0.0;
    for c in 0..k * d {
        prior += w[c] * w[c];
    }
    total - 0.1 * prior
}

fn mixture_o(w: &[Dual64], x: &[f64], d: usize, k: usize, n: usize) -> Dual64 {
    let mut total = c(0.0);
    for i in 0..n {
        let mut scores = vec![c(0.0); k];
        for cc in 0..k {
            let centered: Vec<Dual64> = (0..d).map(|j| -w[cc * d + j] + x[i * d + j]).collect();
            let mut q = c(0.0);
            for a in 0..d {
                for b in a..d {
                    q += centered[a] * centered[b] * w[(cc + a + b) % (k * d)];
                }
            }
            scores[cc] = q * -0.5;
        }
        let mut top = scores[0];
        for cc in 1..k {
            if scores[cc].re > top.re {
                top = scores[cc];
            }
        }
        let mut sum = c(0.0);
        for cc in 0..k {
            sum += (scores[cc] - top).exp();
        }
        total += sum.ln() + top;
    }
    let mut prior = c(0.0);
    for cc in 0..k * d {
        prior += w[cc] * w[cc];
    }
    total - prior * 0.1
}

#[test]
fn independent_iterations_are_differentiated_as_they_run() {
    let (d, k, n) = (3, 4, 60);
    let w: Vec<f64> = (0..k * d).map(|i| 0.3 * ((i as f64) * 1.3).sin()).collect();
    let x: Vec<f64> = (0..n * d).map(|i| ((i as f64) * 0.7).cos()).collect();
    let (value, grad) = mixture_grad(&w, &x, d, k, n);
    assert_bits(value, mixture(&w, &x, d, k, n));
    check(&grad, &dual_grad(|w| mixture_o(w, &x, d, k, n), &w));
    // One point's tape at a time: the most held at once is a small fraction of
    // everything pushed (n points' worth), and stays so as n grows.
    let (pushed, peak) = (last_bytes_pushed(), last_peak_bytes());
    println!("n = {n}: pushed {pushed} bytes, at most {peak} held at once");
    assert!(peak * 20 < pushed, "{peak} of {pushed} bytes held at once");
    let _ = mixture_grad(&w, &vec![0.5; 4 * n * d], d, k, 4 * n);
    assert_eq!(
        last_peak_bytes(),
        peak,
        "peak independent of the number of points"
    );
}

#[test]
fn run_time_check_falls_back_to_recording() {
    // k = 0: `scores[0]` is not written by the point's own iteration, so the
    // constant-index check fails and the loop is recorded; `scores` has length 0
    // and the read panics exactly as in the function itself.
    let x = vec![0.5; 6];
    let primal = std::panic::catch_unwind(|| mixture(&[], &x, 3, 0, 2));
    let grad = std::panic::catch_unwind(|| mixture_grad(&[], &x, 3, 0, 2));
    assert!(primal.is_err() && grad.is_err());
    // No points: neither version runs an iteration.
    let w = [0.2, -0.4, 0.1];
    let (value, grad) = mixture_grad(&w, &[], 3, 1, 0);
    assert_bits(value, mixture(&w, &[], 3, 1, 0));
    check(&grad, &dual_grad(|w| mixture_o(w, &[], 3, 1, 0), &w));
}

/// Reads `buf[0]` without writing it in the iteration: iteration `i` sees what
/// iteration `i - 1` left, so the loop must not be preaccumulated.
#[differentiate]
fn carried(x: &[f64]) -> f64 {
    let n = x.len();
    let mut buf = vec![0.0; 2];
    let mut total = 0.0;
    for i in 0..n {
        let prev = buf[0];
        for j in 1..2 {
            buf[j] = x[i] * prev + 1.0;
        }
        buf[0] = buf[1] * 0.5 + x[i];
        total += buf[0] * buf[1];
    }
    total
}

fn carried_o(x: &[Dual64]) -> Dual64 {
    let mut buf = [c(0.0), c(0.0)];
    let mut total = c(0.0);
    for xi in x {
        let prev = buf[0];
        buf[1] = *xi * prev + 1.0;
        buf[0] = buf[1] * 0.5 + *xi;
        total += buf[0] * buf[1];
    }
    total
}

/// A scratch array used after the loop, and a second sum: recorded as before.
#[differentiate]
fn used_after(x: &[f64]) -> f64 {
    let n = x.len();
    let mut tmp = vec![0.0; 3];
    let mut s = 0.0;
    let mut p = 0.0;
    for i in 0..n {
        for j in 0..3 {
            tmp[j] = x[i] * (j as f64 + 1.0);
        }
        s += tmp[0] * tmp[2];
        p -= tmp[1];
    }
    s + p * tmp[1]
}

fn used_after_o(x: &[Dual64]) -> Dual64 {
    let mut tmp = [c(0.0); 3];
    let mut s = c(0.0);
    let mut p = c(0.0);
    for xi in x {
        for j in 0..3 {
            tmp[j] = *xi * (j as f64 + 1.0);
        }
        s += tmp[0] * tmp[2];
        p -= tmp[1];
    }
    s + p * tmp[1]
}

#[test]
fn dependent_iterations_are_recorded() {
    let x = [0.3, -0.8, 1.1, 0.45, -0.2];
    let (value, grad) = carried_grad(&x);
    assert_bits(value, carried(&x));
    check(&grad, &dual_grad(carried_o, &x));
    let (value, grad) = used_after_grad(&x);
    assert_bits(value, used_after(&x));
    check(&grad, &dual_grad(used_after_o, &x));
}

/// The sum's adjoint comes from code after the loop (`acc` squared, scaled):
/// each iteration's contributions are scaled by it when the reverse sweep gets
/// there. Inputs are an array, a scalar parameter and a local computed before.
#[differentiate]
fn scaled_sum(x: &[f64], a: f64) -> f64 {
    let n = x.len();
    let b = a * a;
    let mut sq = vec![0.0; 2];
    let mut acc = 1.0;
    for i in 0..n {
        for j in 0..2 {
            sq[j] = x[i] * a + (j as f64) * b;
        }
        acc += (sq[0] * sq[1]).sin() - b * x[i];
    }
    acc * acc * 0.5 + a
}

fn scaled_sum_o(p: &[Dual64]) -> Dual64 {
    let (x, a) = (&p[..p.len() - 1], p[p.len() - 1]);
    let b = a * a;
    let mut acc = c(1.0);
    for xi in x {
        let sq0 = *xi * a;
        let sq1 = *xi * a + b;
        acc += (sq0 * sq1).sin() - b * *xi;
    }
    acc * acc * 0.5 + a
}

#[test]
fn contributions_are_scaled_by_the_sum_adjoint() {
    let x = [0.3, -0.8, 1.1, 0.45];
    let a = 0.7;
    let (value, (gx, ga)) = scaled_sum_grad(&x, a);
    assert_bits(value, scaled_sum(&x, a));
    let mut point = x.to_vec();
    point.push(a);
    let oracle = dual_grad(scaled_sum_o, &point);
    check(&gx, &oracle[..4]);
    check(&[ga], &oracle[4..]);
    // The vjp with a seed other than one scales every contribution.
    let (value, (vx, va)) = scaled_sum_vjp(&x, a, 2.5);
    assert_bits(value, scaled_sum(&x, a));
    let scaled: Vec<f64> = oracle.iter().map(|g| 2.5 * g).collect();
    check(&vx, &scaled[..4]);
    check(&[va], &scaled[4..]);
}

/// The sum reaches the result through `-` and negation only (`u = -(3 - acc)`), so
/// its adjoint is the seed while the loop runs: each iteration adds into the
/// inputs' adjoints directly, with no buffers to scale later. The inputs (an
/// array, a parameter, a local made before the loop) are read again after it.
#[differentiate]
fn seeded_sum(x: &[f64], a: f64) -> f64 {
    let b = a * 0.5;
    let mut sq = vec![0.0; 2];
    let mut acc = 0.0;
    for i in 0..x.len() {
        for j in 0..2 {
            sq[j] = x[i] * b + j as f64;
        }
        acc -= (sq[0] * sq[1]).sin() * a;
    }
    let t = 3.0 - acc;
    let u = -t;
    u + b * b + x[0]
}

fn seeded_sum_o(p: &[Dual64]) -> Dual64 {
    let (x, a) = (&p[..p.len() - 1], p[p.len() - 1]);
    let b = a * 0.5;
    let mut acc = c(0.0);
    for xi in x {
        let sq0 = *xi * b;
        let sq1 = *xi * b + 1.0;
        acc -= (sq0 * sq1).sin() * a;
    }
    -(c(3.0) - acc) + b * b + x[0]
}

#[test]
fn a_sum_whose_adjoint_is_the_seed_needs_no_buffers() {
    let x = [0.3, -0.8, 1.1, 0.45, 2.0];
    let a = 0.7;
    let (value, (gx, ga)) = seeded_sum_grad(&x, a);
    assert_bits(value, seeded_sum(&x, a));
    let mut point = x.to_vec();
    point.push(a);
    let oracle = dual_grad(seeded_sum_o, &point);
    check(&gx, &oracle[..5]);
    check(&[ga], &oracle[5..]);
    let (value, (vx, va)) = seeded_sum_vjp(&x, a, -1.5);
    assert_bits(value, seeded_sum(&x, a));
    let scaled: Vec<f64> = oracle.iter().map(|g| -1.5 * g).collect();
    check(&vx, &scaled[..5]);
    check(&[va], &scaled[5..]);
}

/// Each iteration is reversed before the next one runs, so a value that only the
/// next iteration overwrites needs no save: the exponential each gate's rule reads
/// stays in place until its own iteration is reversed, and nothing is pushed.
#[differentiate]
fn gated_sum(x: &[f64], w: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let gate = 1.0 / (1.0 + (-(w * x[i])).exp());
        s += gate * gate.tanh() * x[i];
    }
    s
}

fn gated_sum_o(p: &[Dual64]) -> Dual64 {
    let (x, w) = (&p[..p.len() - 1], p[p.len() - 1]);
    let mut s = c(0.0);
    for xi in x {
        let gate = (c(1.0) + (-(w * *xi)).exp()).recip();
        s += gate * gate.tanh() * *xi;
    }
    s
}

#[test]
fn iterations_reversed_as_they_run_save_nothing_for_the_next() {
    let x = [0.3, -1.7, 2.2, 0.05, 4.0];
    let w = 0.8;
    let (value, (gx, gw)) = gated_sum_grad(&x, w);
    assert_bits(value, gated_sum(&x, w));
    let mut point = x.to_vec();
    point.push(w);
    let oracle = dual_grad(gated_sum_o, &point);
    check(&gx, &oracle[..5]);
    check(&[gw], &oracle[5..]);
    assert_eq!(last_bytes_pushed(), 0);
}

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

#[differentiate]
fn squared_norm(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i] * v[i];
    }
    s
}

/// GMM written with helper functions, as ADBench's reference code is: the scratch
/// arrays are read whole by the calls (`squared_norm(&q)`, `log_sum_exp(&scores)`),
/// each after the iteration has written all of it, so the loop over points is
/// still preaccumulated; `q` is refilled for every component, so each call copies
/// it rather than every store of the next component saving what it overwrites.
#[differentiate(wrt(w))]
fn mixture_calls(w: &[f64], x: &[f64], d: usize, k: usize, n: usize) -> f64 {
    let mut centered = vec![0.0; d];
    let mut q = vec![0.0; d];
    let mut scores = vec![0.0; k];
    let mut total = 0.0;
    for i in 0..n {
        for c in 0..k {
            for j in 0..d {
                centered[j] = x[i * d + j] - w[c * d + j];
            }
            for j in 0..d {
                q[j] = 0.5 * centered[j];
            }
            for a in 0..d {
                for b in a + 1..d {
                    q[b] += w[(c + a + b) % (k * d)] * centered[a];
                }
            }
            scores[c] = -0.5 * squared_norm(&q);
        }
        total += log_sum_exp(&scores);
    }
    total - log_sum_exp(w)
}

fn mixture_calls_o(w: &[Dual64], x: &[f64], d: usize, k: usize, n: usize) -> Dual64 {
    let lse = |v: &[Dual64]| {
        let mx = v.iter().fold(v[0], |m, a| if a.re > m.re { *a } else { m });
        let s: Dual64 = v.iter().map(|a| (*a - mx).exp()).sum();
        s.ln() + mx
    };
    let mut total = c(0.0);
    for i in 0..n {
        let mut scores = Vec::new();
        for cc in 0..k {
            let centered: Vec<Dual64> = (0..d).map(|j| -w[cc * d + j] + x[i * d + j]).collect();
            let mut q: Vec<Dual64> = centered.iter().map(|v| *v * 0.5).collect();
            for a in 0..d {
                for b in a + 1..d {
                    q[b] += w[(cc + a + b) % (k * d)] * centered[a];
                }
            }
            let sq: Dual64 = q.iter().map(|v| *v * *v).sum();
            scores.push(sq * -0.5);
        }
        total += lse(&scores);
    }
    total - lse(w)
}

#[test]
fn helper_calls_reading_whole_scratch_arrays_are_preaccumulated() {
    let (d, k, n) = (3, 4, 60);
    let w: Vec<f64> = (0..k * d).map(|i| 0.3 * ((i as f64) * 1.3).sin()).collect();
    let x: Vec<f64> = (0..n * d).map(|i| ((i as f64) * 0.7).cos()).collect();
    let (value, grad) = mixture_calls_grad(&w, &x, d, k, n);
    assert_bits(value, mixture_calls(&w, &x, d, k, n));
    check(&grad, &dual_grad(|w| mixture_calls_o(w, &x, d, k, n), &w));
    let (pushed, peak) = (last_bytes_pushed(), last_peak_bytes());
    println!("n = {n}: pushed {pushed} bytes, at most {peak} held at once");
    assert!(peak * 20 < pushed, "{peak} of {pushed} bytes held at once");
}

/// A constant-index read of a scratch array longer than the range written: with
/// `m = 0` nothing is written and `best[0]` keeps what was there (the loop is
/// recorded); with `m ≥ 1` the check passes and the loop is preaccumulated.
#[differentiate]
fn best_of(x: &[f64], m: usize) -> f64 {
    let n = x.len();
    let mut best = vec![0.5; 4];
    let mut acc = 0.0;
    for i in 0..n {
        for c in 0..m {
            best[c] = x[i] * (c as f64 + 1.0);
        }
        acc += best[0] * x[i];
    }
    acc
}

fn best_of_o(x: &[Dual64], m: usize) -> Dual64 {
    let mut best = vec![c(0.5); 4];
    let mut acc = c(0.0);
    for xi in x {
        for (cc, slot) in best.iter_mut().enumerate().take(m) {
            *slot = *xi * (cc as f64 + 1.0);
        }
        acc += best[0] * *xi;
    }
    acc
}

#[test]
fn run_time_check_picks_the_version() {
    let x = [0.3, -0.8, 1.1];
    for m in 0..3 {
        let (value, grad) = best_of_grad(&x, m);
        assert_bits(value, best_of(&x, m));
        check(&grad, &dual_grad(|x| best_of_o(x, m), &x));
    }
}

/// Found by the generated programs: `x[0]` and `a1` are read in every iteration, so
/// the read of `x[0]` is hoisted out of the preaccumulated loop. It is then one of
/// the loop's inputs, its adjoint scaled by the sum's, not a local of the body.
#[differentiate]
fn hoisted_input(x: &[f64]) -> f64 {
    let a1 = x[1] + x[2];
    let v = x.to_vec();
    let mut w = vec![0.0; 3];
    let mut acc = 0.0;
    for r in 0..3 {
        let mut idx = r;
        for j in 0..3 {
            w[j] = (v[0] + v[3] + x[3] / (1.0 + a1 * a1)) * x[idx % 4] + (j as f64) * 0.1;
            idx += 1;
        }
        let mut top = w[0];
        for j in 1..3 {
            top = top.max(w[j]);
        }
        acc += ((x[0] * x[0] + 1.0).sqrt() * (v[3] * v[3]) - top).tanh() + w[2] * x[2].tanh();
    }
    let a = a1 * 0.5 + acc.tanh();
    a * (a + v[1])
}

#[test]
fn inputs_hoisted_out_of_the_loop_are_scaled() {
    for x in [
        [0.0, 0.0, 0.0, 0.0],
        [0.3, -0.2, 0.5, 0.7],
        [1.1, 0.4, -0.9, 0.2],
    ] {
        let (value, grad) = hoisted_input_grad(&x);
        assert_bits(value, hoisted_input(&x));
        autodiff_runtime::check::assert_gradient(hoisted_input, &x, &grad);
    }
}

/// `f32`: the separate accumulators are `f32` buffers too.
#[differentiate]
fn soft_best(x: &[f32]) -> f32 {
    let n = x.len();
    let mut best = vec![0.0; 3];
    let mut acc = 0.0;
    for i in 0..n {
        for c in 0..3 {
            best[c] = x[i] * (c as f32 + 1.0) - x[(i + c) % n];
        }
        let mut top = best[0];
        for c in 1..3 {
            top = top.max(best[c]);
        }
        acc += (top - best[1]).exp();
    }
    acc
}

fn soft_best_o(x: &[Dual32]) -> Dual32 {
    let n = x.len();
    let mut acc = Dual32::from_re(0.0);
    for i in 0..n {
        let best: Vec<Dual32> = (0..3)
            .map(|c| x[i] * (c as f32 + 1.0) - x[(i + c) % n])
            .collect();
        let mut top = best[0];
        for b in &best[1..] {
            if b.re > top.re {
                top = *b;
            }
        }
        acc += (top - best[1]).exp();
    }
    acc
}

#[test]
fn preaccumulation_in_f32() {
    let x = [0.3_f32, -0.8, 1.1, 0.45, -0.2];
    let (value, grad) = soft_best_grad(&x);
    assert_eq!(value.to_bits(), soft_best(&x).to_bits());
    let oracle = dual_grad32(soft_best_o, &x);
    for (g, o) in grad.iter().zip(&oracle) {
        assert_relative_eq!(*g, *o, max_relative = 1e-5);
    }
}

/// `out = L x` for a unit lower-triangular `L` stored row by row (ADBench's
/// `Qtimesx`): writes `out[0..x.len()]` before it reads any of it.
#[allow(clippy::manual_memcpy)] // the macro differentiates index loops
#[differentiate]
fn lower_times(l: &[f64], x: &[f64], out: &mut [f64]) {
    let d = x.len();
    for i in 0..d {
        out[i] = x[i];
    }
    let mut idx = 0;
    for i in 0..d {
        for j in i + 1..d {
            out[j] += l[idx] * x[i];
            idx += 1;
        }
    }
}

/// Adds `x` into `out`: reads what `out` held before the call.
#[differentiate]
fn add_into(x: &[f64], out: &mut [f64]) {
    for i in 0..x.len() {
        out[i] += x[i];
    }
}

/// An ADBench-style port: per point and component, scratch arrays copied into,
/// then a helper writing a scratch array through `&mut`, then helpers reading it.
#[differentiate(wrt(w, l))]
fn port(w: &[f64], l: &[f64], x: &[f64], d: usize, k: usize, n: usize) -> f64 {
    let tri = d * (d - 1) / 2;
    let mut centered = vec![0.0; d];
    let mut lk = vec![0.0; tri];
    let mut q = vec![0.0; d];
    let mut scores = vec![0.0; k];
    let mut total = 0.0;
    for i in 0..n {
        for c in 0..k {
            for j in 0..d {
                centered[j] = x[i * d + j] - w[c * d + j];
            }
            for j in 0..tri {
                lk[j] = l[c * tri + j];
            }
            lower_times(&lk, &centered, &mut q);
            scores[c] = -0.5 * squared_norm(&q);
        }
        total += log_sum_exp(&scores);
    }
    total
}

fn port_o(p: &[Dual64], x: &[f64], d: usize, k: usize, n: usize) -> Dual64 {
    let (w, l) = p.split_at(k * d);
    let tri = d * (d - 1) / 2;
    let lse = |v: &[Dual64]| {
        let mx = v.iter().fold(v[0], |m, a| if a.re > m.re { *a } else { m });
        let s: Dual64 = v.iter().map(|a| (*a - mx).exp()).sum();
        s.ln() + mx
    };
    let mut total = c(0.0);
    for i in 0..n {
        let mut scores = Vec::new();
        for cc in 0..k {
            let centered: Vec<Dual64> = (0..d).map(|j| -w[cc * d + j] + x[i * d + j]).collect();
            let mut q = centered.clone();
            let mut idx = 0;
            for a in 0..d {
                for b in a + 1..d {
                    q[b] += l[cc * tri + idx] * centered[a];
                    idx += 1;
                }
            }
            let sq: Dual64 = q.iter().map(|v| *v * *v).sum();
            scores.push(sq * -0.5);
        }
        total += lse(&scores);
    }
    total
}

/// `port(w, l, x, d, k, n)`, however written, and its `_grad`.
type PortFn = fn(&[f64], &[f64], &[f64], usize, usize, usize) -> f64;
type PortGrad = fn(&[f64], &[f64], &[f64], usize, usize, usize) -> (f64, (Vec<f64>, Vec<f64>));

/// Checks a port's value and gradient for 15 and 60 points against `port_o`,
/// and returns the stack's peak for each.
fn port_peaks(primal: PortFn, grad: PortGrad) -> Vec<usize> {
    let (d, k) = (3, 4);
    let w: Vec<f64> = (0..k * d).map(|i| 0.3 * ((i as f64) * 1.3).sin()).collect();
    let l: Vec<f64> = (0..k * 3).map(|i| 0.2 * ((i as f64) * 0.9).cos()).collect();
    let mut params = w.clone();
    params.extend(&l);
    let mut peaks = Vec::new();
    for n in [15, 60] {
        let x: Vec<f64> = (0..n * d).map(|i| ((i as f64) * 0.7).cos()).collect();
        let (value, (gw, gl)) = grad(&w, &l, &x, d, k, n);
        assert_bits(value, primal(&w, &l, &x, d, k, n));
        let mut all = gw;
        all.extend(gl);
        check(&all, &dual_grad(|p| port_o(p, &x, d, k, n), &params));
        peaks.push(last_peak_bytes());
    }
    peaks
}

#[test]
fn helpers_writing_scratch_arrays_whole_are_preaccumulated() {
    let peaks = port_peaks(port, port_grad);
    // One point at a time: the stack holds as much for 60 points as for 15.
    assert_eq!(
        peaks[0], peaks[1],
        "peak independent of the number of points"
    );
}

/// The helper adds into the scratch array, so an iteration reads what the one
/// before left there: recorded, not preaccumulated.
#[differentiate]
fn added_into(x: &[f64], n: usize) -> f64 {
    let d = x.len();
    let mut acc = vec![0.0; d];
    let mut total = 0.0;
    for i in 0..n {
        add_into(x, &mut acc);
        total += squared_norm(&acc) * (i as f64 + 1.0);
    }
    total
}

fn added_into_o(x: &[Dual64], n: usize) -> Dual64 {
    let mut acc = vec![c(0.0); x.len()];
    let mut total = c(0.0);
    for i in 0..n {
        for (a, v) in acc.iter_mut().zip(x) {
            *a += *v;
        }
        let sq: Dual64 = acc.iter().map(|v| *v * *v).sum();
        total += sq * (i as f64 + 1.0);
    }
    total
}

#[test]
fn helpers_reading_scratch_arrays_before_writing_them_are_recorded() {
    let x = [0.4, -0.3, 0.8];
    for n in [1, 4] {
        let (value, grad) = added_into_grad(&x, n);
        assert_bits(value, added_into(&x, n));
        check(&grad, &dual_grad(|p| added_into_o(p, n), &x));
    }
}

/// The helper writes `out[0..x.len()]`, and `out` is one longer: its last
/// element is not written in the iteration, so the run-time check (the
/// helper's `__fills_arg2`) fails and the loop is recorded, which shows as a
/// stack peak that grows with the number of iterations.
#[differentiate]
fn partly_filled(x: &[f64], n: usize) -> f64 {
    let d = x.len();
    let mut q = vec![0.25; d + 1];
    let mut scaled = vec![0.0; d];
    let lk = vec![0.5; d * (d - 1) / 2];
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..d {
            scaled[j] = x[j] * (i as f64 + 1.0);
        }
        lower_times(&lk, &scaled, &mut q);
        total += squared_norm(&q);
    }
    total
}

fn partly_filled_o(x: &[Dual64], n: usize) -> Dual64 {
    let d = x.len();
    let mut total = c(0.0);
    for i in 0..n {
        let scaled: Vec<Dual64> = x.iter().map(|v| *v * (i as f64 + 1.0)).collect();
        let mut q = scaled.clone();
        for a in 0..d {
            for b in a + 1..d {
                q[b] += scaled[a] * 0.5;
            }
        }
        let sq: Dual64 = q.iter().map(|v| *v * *v).sum();
        total += sq + 0.25 * 0.25;
    }
    total
}

#[test]
fn helpers_filling_part_of_a_scratch_array_are_recorded() {
    let x = [0.4, -0.3, 0.8];
    let mut peaks = Vec::new();
    for n in [2, 8] {
        let (value, grad) = partly_filled_grad(&x, n);
        assert_bits(value, partly_filled(&x, n));
        check(&grad, &dual_grad(|p| partly_filled_o(p, n), &x));
        peaks.push(last_peak_bytes());
    }
    assert!(peaks[1] > peaks[0], "recorded: {peaks:?}");
}

/// `lower_times` with the factor read at an offset into the whole table (as a
/// port without sub-slices writes ADBench's `Qtimesx(.., ltri + off, ..)`): the
/// offset changes with the component, inside the loop, but the helper's answer
/// to whether it fills `out` does not read it (`__FILLS_ARG3_READS[1]` is
/// false), so the caller checks it with a placeholder before the loop.
#[allow(clippy::manual_memcpy)] // the macro differentiates index loops
#[differentiate]
fn lower_times_at(l: &[f64], off: usize, x: &[f64], out: &mut [f64]) {
    let d = x.len();
    for i in 0..d {
        out[i] = x[i];
    }
    let mut idx = off;
    for i in 0..d {
        for j in i + 1..d {
            out[j] += l[idx] * x[i];
            idx += 1;
        }
    }
}

/// `port` without the copy of the factor: `lower_times_at(l, c * tri, ..)`.
#[differentiate(wrt(w, l))]
fn offset_port(w: &[f64], l: &[f64], x: &[f64], d: usize, k: usize, n: usize) -> f64 {
    let tri = d * (d - 1) / 2;
    let mut centered = vec![0.0; d];
    let mut q = vec![0.0; d];
    let mut scores = vec![0.0; k];
    let mut total = 0.0;
    for i in 0..n {
        for c in 0..k {
            for j in 0..d {
                centered[j] = x[i * d + j] - w[c * d + j];
            }
            lower_times_at(l, c * tri, &centered, &mut q);
            scores[c] = -0.5 * squared_norm(&q);
        }
        total += log_sum_exp(&scores);
    }
    total
}

/// Writes `out[0..out.len() - skip]`: whether it fills `out` depends on the
/// offset, which the caller computes in its loop, so the loop is recorded.
#[differentiate]
fn fill_but(skip: usize, x: &[f64], out: &mut [f64]) {
    for j in 0..out.len() - skip {
        out[j] = x[j] * x[j];
    }
}

#[differentiate]
fn fill_but_caller(x: &[f64], n: usize) -> f64 {
    let mut q = vec![0.0; x.len()];
    let mut total = 0.0;
    for i in 0..n {
        fill_but(i % 2, x, &mut q);
        total += squared_norm(&q) * (i as f64 + 1.0);
    }
    total
}

fn fill_but_caller_o(x: &[Dual64], n: usize) -> Dual64 {
    let mut q = vec![c(0.0); x.len()];
    let mut total = c(0.0);
    for i in 0..n {
        for j in 0..x.len() - i % 2 {
            q[j] = x[j] * x[j];
        }
        let sq: Dual64 = q.iter().map(|v| *v * *v).sum();
        total += sq * (i as f64 + 1.0);
    }
    total
}

#[test]
fn offsets_computed_in_the_loop_do_not_stop_preaccumulation() {
    const { assert!(!lower_times_at::__FILLS_ARG3_READS[1]) };
    const { assert!(fill_but::__FILLS_ARG2_READS[0]) };
    let peaks = port_peaks(offset_port, offset_port_grad);
    assert_eq!(peaks[0], peaks[1], "one point at a time: {peaks:?}");
    // An offset the answer reads: recorded, and right.
    let x = [0.4, -0.3, 0.8];
    let mut peaks = Vec::new();
    for n in [2, 8] {
        let (value, grad) = fill_but_caller_grad(&x, n);
        assert_bits(value, fill_but_caller(&x, n));
        check(&grad, &dual_grad(|p| fill_but_caller_o(p, n), &x));
        peaks.push(last_peak_bytes());
    }
    assert!(peaks[1] > peaks[0], "recorded: {peaks:?}");
}
