//! Calls to other `#[differentiate]` functions: in the same file, in a module, across
//! crates (`autodiff_tests`), passing scalars, slices, local `Vec`s as `&v`, `&mut`
//! buffers, and calls whose arguments and result are all passive.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::check::{assert_gradient, assert_vjp, sample_points};
use autodiff_runtime::differentiate;
use common::*;

#[differentiate]
fn sq(x: f64) -> f64 {
    x * x
}

#[differentiate]
fn sum_sin(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i].sin();
    }
    s
}

#[differentiate]
fn scale_in_place(x: &mut [f64], k: f64) {
    for i in 0..x.len() {
        x[i] *= k;
    }
}

mod inner {
    use autodiff_runtime::differentiate;

    #[differentiate]
    pub fn cube_plus(x: f64, y: f64) -> f64 {
        x * x * x + y
    }

    pub mod deeper {
        use autodiff_runtime::differentiate;

        #[differentiate]
        pub fn weighted(x: &[f64], w: f64) -> f64 {
            let mut s = 0.0;
            for i in 0..x.len() {
                s += x[i] * w;
            }
            s
        }
    }
}

#[differentiate]
fn scalar_calls(x: f64, y: f64) -> f64 {
    let a = sq(x) + sq(y * x);
    let b = inner::cube_plus(a, x);
    let c = autodiff_tests::poly(b * 0.1);
    sq(c) + autodiff_tests::softplus(y)
}

fn scalar_calls_o(p: &[Dual64]) -> Dual64 {
    let (x, y) = (p[0], p[1]);
    let sqd = |v: Dual64| v * v;
    let a = sqd(x) + sqd(y * x);
    let b = a * a * a + x;
    let bb = b * 0.1;
    let c = bb * bb * bb - bb * 2.0 + bb.sin();
    sqd(c) + y.exp().ln_1p()
}

#[test]
fn scalar_arguments_same_file_module_and_crate() {
    for (x, y) in [(0.5, 0.3), (-0.7, 1.2), (1.1, -0.4)] {
        let (v, (dx, dy)) = scalar_calls_grad(x, y);
        assert_bits(v, scalar_calls(x, y));
        assert_close_slice(&[dx, dy], &dual_grad(scalar_calls_o, &[x, y]));
    }
}

#[differentiate]
fn slice_calls(x: &[f64], y: &[f64]) -> f64 {
    let d = autodiff_tests::dot(x, y);
    let n = autodiff_tests::norm(x);
    let s = sum_sin(y);
    let w = inner::deeper::weighted(x, s);
    d * n + w
}

#[test]
fn slice_arguments() {
    let x = sample_points(31, 4, -1.0, 1.0);
    let y = sample_points(32, 4, -1.0, 1.0);
    let (v, (gx, gy)) = slice_calls_grad(&x, &y);
    assert_bits(v, slice_calls(&x, &y));
    let mut all = x.clone();
    all.extend(&y);
    let mut g = gx.clone();
    g.extend(&gy);
    assert_gradient(|p| slice_calls(&p[..4], &p[4..]), &all, &g);
    let o = |p: &[Dual64]| {
        let (x, y) = p.split_at(4);
        let d: Dual64 = (0..4).map(|i| x[i] * y[i]).sum();
        let n = (0..4).map(|i| x[i] * x[i]).sum::<Dual64>().sqrt();
        let s: Dual64 = y.iter().map(|v| v.sin()).sum();
        let w: Dual64 = x.iter().map(|&v| v * s).sum();
        d * n + w
    };
    assert_close_slice(&g, &dual_grad(o, &all));
}

#[differentiate]
fn local_vec_args(x: &[f64], k: f64) -> f64 {
    let mut v = vec![0.0; x.len()];
    for i in 0..x.len() {
        v[i] = x[i] * k;
    }
    let mut arr = [0.0; 3];
    arr[0] = k;
    arr[1] = x[0];
    arr[2] = k * x[0];
    scale_in_place(&mut v, 2.0);
    autodiff_tests::axpy(&mut v, k, x);
    sum_sin(&v) + autodiff_tests::dot(&v, x) + sum_sin(&arr)
}

fn local_vec_args_o(p: &[Dual64]) -> Dual64 {
    let n = p.len() - 1;
    let (x, k) = (&p[..n], p[n]);
    let v: Vec<Dual64> = (0..n).map(|i| x[i] * k * 2.0 + k * x[i]).collect();
    let s1: Dual64 = v.iter().map(|a| a.sin()).sum();
    let d: Dual64 = (0..n).map(|i| v[i] * x[i]).sum();
    s1 + d + k.sin() + x[0].sin() + (k * x[0]).sin()
}

#[test]
fn local_vec_and_array_passed_by_reference() {
    let x = vec![0.3, -0.6, 0.9];
    let k = 0.7;
    let (v, (g, dk)) = local_vec_args_grad(&x, k);
    assert_bits(v, local_vec_args(&x, k));
    let mut all = x.clone();
    all.push(k);
    let mut got = g.clone();
    got.push(dk);
    assert_close_slice(&got, &dual_grad(local_vec_args_o, &all));
}

#[differentiate]
fn mut_buffer_calls(state: &mut [f64], x: &[f64], a: f64) -> f64 {
    for _ in 0..3 {
        autodiff_tests::axpy(state, a, x);
        scale_in_place(state, 0.5);
    }
    let r = autodiff_tests::dot(state, x);
    r + sum_sin(state)
}

#[test]
fn mut_buffers_passed_through_calls() {
    let s0 = vec![1.0, -0.5, 0.25];
    let x = vec![0.2, 0.4, -0.9];
    let a = 1.3;
    // f_vjp
    let mut s = s0.clone();
    let seed_state = vec![0.5, -1.0, 2.0];
    let mut s_bar = seed_state.clone();
    let (v, (gx, ga)) = mut_buffer_calls_vjp(&mut s, &mut s_bar, &x, a, 1.0);
    let mut sf = s0.clone();
    assert_bits(v, mut_buffer_calls(&mut sf, &x, a));
    assert_bits_slice(&s, &sf);
    let mut all = s0.clone();
    all.extend(&x);
    all.push(a);
    let mut seed = vec![1.0];
    seed.extend(&seed_state);
    let mut got = s_bar.clone();
    got.extend(&gx);
    got.push(ga);
    assert_vjp(
        |p| {
            let mut st = p[..3].to_vec();
            let r = mut_buffer_calls(&mut st, &p[3..6], p[6]);
            let mut out = vec![r];
            out.extend(st);
            out
        },
        &all,
        &seed,
        &got,
    );
    // f_grad
    let mut s = s0.clone();
    let (v, (gs, gx, ga)) = mut_buffer_calls_grad(&mut s, &x, a);
    assert_bits(v, mut_buffer_calls(&mut s0.clone(), &x, a));
    assert_bits_slice(&s, &sf);
    let mut got = gs.clone();
    got.extend(&gx);
    got.push(ga);
    assert_gradient(
        |p| mut_buffer_calls(&mut p[..3].to_vec(), &p[3..6], p[6]),
        &all,
        &got,
    );
}

#[differentiate]
fn reborrow_as_slice(state: &mut [f64], k: f64) -> f64 {
    scale_in_place(state, k);
    let n = autodiff_tests::norm(state);
    state[0] = n;
    // A bare tail call with `&mut` arguments (the value was lost once).
    sum_sin(state)
}

#[test]
fn mut_buffer_reborrowed_as_shared_slice() {
    let s0 = vec![0.3, 0.4, -1.2];
    let mut s = s0.clone();
    let mut s_bar = vec![1.0, 0.0, 0.5];
    let (v, dk) = reborrow_as_slice_vjp(&mut s, &mut s_bar, 1.5, 2.0);
    let mut sf = s0.clone();
    assert_bits(v, reborrow_as_slice(&mut sf, 1.5));
    assert_bits_slice(&s, &sf);
    let mut all = s0.clone();
    all.push(1.5);
    let mut got = s_bar.clone();
    got.push(dk);
    assert_vjp(
        |p| {
            let mut st = p[..3].to_vec();
            let r = reborrow_as_slice(&mut st, p[3]);
            let mut out = vec![r];
            out.extend(st);
            out
        },
        &all,
        &[2.0, 1.0, 0.0, 0.5],
        &got,
    );
}

fn passive_helper(n: usize, k: i32) -> usize {
    n * (k.unsigned_abs() as usize) + 1
}

#[differentiate]
fn passive_calls(x: &[f64], k: i32) -> f64 {
    let m = passive_helper(x.len(), k);
    let mut s = 0.0;
    for i in 0..m {
        let j = autodiff_tests::wrap(i, x.len());
        s += x[j] * (i as f64);
    }
    s
}

#[test]
fn calls_with_all_passive_arguments() {
    let x = [1.0, 2.0, 3.0];
    for k in [0, 1, -2] {
        let (v, g) = passive_calls_grad(&x, k);
        assert_bits(v, passive_calls(&x, k));
        let m = 3 * k.unsigned_abs() as usize + 1;
        let mut e = vec![0.0; 3];
        for i in 0..m {
            e[i % 3] += i as f64;
        }
        assert_close_slice(&g, &e);
    }
}

#[differentiate]
fn call_in_loop_and_branch(x: f64, n: usize) -> f64 {
    let mut y = x;
    for i in 0..n {
        if i % 2 == 0 {
            y = autodiff_tests::poly(y) * 0.3;
        } else {
            y = sq(y) + inner::cube_plus(y, x) * 0.1;
        }
    }
    y
}

#[test]
fn calls_inside_loops_and_branches() {
    for n in [0, 1, 4, 7] {
        for x in [0.3, -0.5] {
            let (v, d) = call_in_loop_and_branch_grad(x, n);
            assert_bits(v, call_in_loop_and_branch(x, n));
            let o = |p: &[Dual64]| {
                let x = p[0];
                let mut y = x;
                for i in 0..n {
                    if i % 2 == 0 {
                        y = (y * y * y - y * 2.0 + y.sin()) * 0.3;
                    } else {
                        y = y * y + (y * y * y + x) * 0.1;
                    }
                }
                y
            };
            assert_close(d, dual_grad(o, &[x])[0]);
        }
    }
}

#[test]
fn cross_crate_generated_functions_are_public() {
    let (v, d) = autodiff_tests::poly_grad(0.5);
    assert_bits(v, autodiff_tests::poly(0.5));
    assert_close(d, 3.0 * 0.25 - 2.0 + 0.5_f64.cos());
    let mut y = vec![1.0, 2.0];
    let mut y_bar = vec![1.0, 1.0];
    let ((), (da, gx)) = autodiff_tests::axpy_vjp(&mut y, &mut y_bar, 2.0, &[3.0, 4.0]);
    assert_eq!(y, vec![7.0, 10.0]);
    assert_eq!(y_bar, vec![1.0, 1.0]);
    assert_close(da, 7.0);
    assert_close_slice(&gx, &[2.0, 2.0]);
}

#[allow(clippy::ptr_arg)] // `&Vec<f64>` is the parameter kind under test
#[differentiate]
fn vec_ref_to_callee(x: &Vec<f64>) -> f64 {
    sum_sin(x) * 2.0
}

#[test]
fn vec_ref_coerced_to_slice_in_call() {
    let x = vec![0.5, 1.0, -0.2];
    let (v, g) = vec_ref_to_callee_grad(&x);
    assert_bits(v, vec_ref_to_callee(&x));
    let e: Vec<f64> = x.iter().map(|a| 2.0 * a.cos()).collect();
    assert_close_slice(&g, &e);
}

#[differentiate]
fn fixed_callee(s: &mut [f64; 2], k: f64) {
    s[0] *= k;
    s[1] += s[0];
}

#[differentiate]
fn fixed_local_to_callee(s: &mut [f64; 2], k: f64) -> f64 {
    let mut local = [s[0], s[1]];
    fixed_callee(&mut local, k);
    local[0] + local[1] * s[0]
}

#[test]
fn local_fixed_array_passed_as_mut() {
    let s0 = [1.0, 2.0];
    let k = 3.0;
    let mut s = s0;
    let (v, (gs, dk)) = fixed_local_to_callee_grad(&mut s, k);
    assert_bits(v, fixed_local_to_callee(&mut s0.clone(), k));
    assert_eq!(s, s0);
    // local = [k s0, s1 + k s0]; r = k s0 + (s1 + k s0) s0
    let (a, b) = (s0[0], s0[1]);
    assert_close_slice(&[gs[0], gs[1], dk], &[k + b + 2.0 * k * a, a, a + a * a]);
}

#[test]
fn reentrant_across_threads() {
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let x: Vec<f64> = (0..500).map(|i| (i + 7 * t) as f64 * 0.003).collect();
                for _ in 0..100 {
                    let (v, g) = sum_sin_grad(&x);
                    assert_bits(v, sum_sin(&x));
                    let e: Vec<f64> = x.iter().map(|a| a.cos()).collect();
                    assert_bits_slice(&g, &e);
                    let (v, _) = call_in_loop_and_branch_grad(x[1], 5);
                    assert_bits(v, call_in_loop_and_branch(x[1], 5));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// An array refilled in every iteration and read whole by a call: the call copies
/// it to the stack (one copy per call) instead of every later store saving the
/// element it overwrites; a fixed-size array too.
#[differentiate]
fn refilled_args(x: &[f64], k: f64, rounds: usize) -> f64 {
    let n = x.len();
    let mut v = vec![0.0; n];
    let mut fixed = [0.0; 2];
    let mut total = 0.0;
    for r in 0..rounds {
        for i in 0..n {
            v[i] = (x[i] * k + r as f64).sin();
        }
        for i in 1..n {
            v[i] += v[i - 1] * 0.5;
        }
        fixed[0] = total;
        fixed[1] = k * (r as f64);
        total = 0.9 * total + sum_sin(&v) + sum_sin(&fixed) * v[0];
    }
    total
}

fn refilled_args_o(p: &[Dual64], rounds: usize) -> Dual64 {
    let n = p.len() - 1;
    let (x, k) = (&p[..n], p[n]);
    let mut v = vec![c(0.0); n];
    let mut total = c(0.0);
    for r in 0..rounds {
        for i in 0..n {
            v[i] = (x[i] * k + r as f64).sin();
        }
        for i in 1..n {
            let prev = v[i - 1];
            v[i] += prev * 0.5;
        }
        let s: Dual64 = v.iter().map(|a| a.sin()).sum();
        let f = total.sin() + (k * (r as f64)).sin();
        total = total * 0.9 + s + f * v[0];
    }
    total
}

#[test]
fn arrays_refilled_before_a_call_are_copied_at_the_call() {
    let x = vec![0.3, -0.6, 0.9, 1.4, -0.2];
    let (k, rounds) = (0.7, 6);
    let (value, (g, dk)) = refilled_args_grad(&x, k, rounds);
    assert_bits(value, refilled_args(&x, k, rounds));
    let mut all = x.clone();
    all.push(k);
    let mut got = g.clone();
    got.push(dk);
    assert_close_slice(&got, &dual_grad(|p| refilled_args_o(p, rounds), &all));
    // Per round: `v` (5 values and its length) and `fixed` (2) copied at their
    // calls, and `total`; without the copies each of the 9 stores to `v` and the
    // 2 to `fixed` would save the element it overwrites instead. Each call also
    // records what `sum_sin`'s reverse sweep reads of its final state (its loop
    // bounds and last element: 3 words).
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    println!("pushed {pushed} bytes");
    assert!(
        pushed <= rounds * 8 * (5 + 1 + 2 + 1 + 4 + 2 * 3),
        "{pushed}"
    );
}

#[differentiate]
fn bump(buf: &mut [f64], y: f64) -> f64 {
    for i in 0..buf.len() {
        buf[i] = buf[i] * y + 0.1;
    }
    (y * buf[0]).sin()
}

/// A call that both overwrites its result's variable (`y = bump(&mut buf, y)`, in a
/// loop, so the old `y` is saved) and snapshots a `&mut` argument: the two saves
/// come back off the stack in the reverse order they went on.
#[differentiate]
fn repeated_bumps(x: &[f64], y0: f64) -> f64 {
    let mut buf = x.to_vec();
    let mut y = y0;
    for _ in 0..3 {
        y = bump(&mut buf, y);
    }
    y + buf[1]
}

fn repeated_bumps_o(p: &[Dual64]) -> Dual64 {
    let n = p.len() - 1;
    let mut buf = p[..n].to_vec();
    let mut y = p[n];
    for _ in 0..3 {
        for b in buf.iter_mut() {
            *b = *b * y + 0.1;
        }
        y = (y * buf[0]).sin();
    }
    y + buf[1]
}

#[test]
fn saved_result_and_mut_snapshot_of_one_call() {
    let x = vec![0.4, -0.3, 0.8];
    let y0 = 0.9;
    let (value, (g, dy)) = repeated_bumps_grad(&x, y0);
    assert_bits(value, repeated_bumps(&x, y0));
    let mut all = x.clone();
    all.push(y0);
    let mut got = g.clone();
    got.push(dy);
    assert_close_slice(&got, &dual_grad(repeated_bumps_o, &all));
}

#[differentiate]
fn weighted_dist(x: &[f64], data: &[f64], offset: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let d = x[i] - data[offset + i];
        s += d * d * data[i];
    }
    s
}

/// Calls a helper with an array it does not differentiate itself (a local of
/// constants) and passes it on: the inner call's adjoint of it goes to the sink.
#[differentiate]
fn relaxed_dist(x: &[f64], data: &[f64], offset: usize) -> f64 {
    let mut half = vec![0.5; x.len()];
    half[0] = 0.25;
    weighted_dist(x, data, offset) + weighted_dist(&half, x, 0)
}

/// `data` is not differentiated (`wrt(x)`), nor is `ones`: every call's adjoint of
/// them goes to the stack's sink, which keeps what earlier calls added (never
/// cleared) without changing the gradient.
#[differentiate(wrt(x))]
fn fit_to_data(x: &[f64], data: &[f64], steps: usize) -> f64 {
    let n = x.len();
    let mut y = x.to_vec();
    let ones = vec![1.0; 2 * n];
    let mut total = 0.0;
    for t in 0..steps {
        total += weighted_dist(&y, data, t * n) + relaxed_dist(&y, &ones, n);
        for i in 0..n {
            y[i] = y[i] * 0.9 + 0.05 * (t as f64);
        }
    }
    total
}

fn fit_to_data_o(x: &[Dual64], data: &[f64], steps: usize) -> Dual64 {
    let n = x.len();
    let dist = |y: &[Dual64], d: &[Dual64], offset: usize| -> Dual64 {
        y.iter()
            .enumerate()
            .map(|(i, v)| (*v - d[offset + i]) * (*v - d[offset + i]) * d[i])
            .sum()
    };
    let data: Vec<Dual64> = data.iter().map(|v| c(*v)).collect();
    let ones = vec![c(1.0); 2 * n];
    let mut y = x.to_vec();
    let mut total = c(0.0);
    for t in 0..steps {
        let mut half = vec![c(0.5); n];
        half[0] = c(0.25);
        total += dist(&y, &data, t * n) + dist(&y, &ones, n) + dist(&half, &y, 0);
        for v in y.iter_mut() {
            *v = *v * 0.9 + 0.05 * (t as f64);
        }
    }
    total
}

#[test]
fn arrays_the_caller_does_not_differentiate_go_to_the_sink() {
    let x = vec![0.3, -0.6, 0.9];
    let steps = 4;
    let data: Vec<f64> = (0..(steps + 1) * x.len())
        .map(|i| (i as f64 * 0.37).sin())
        .collect();
    for _ in 0..3 {
        let (value, g) = fit_to_data_grad(&x, &data, steps);
        assert_bits(value, fit_to_data(&x, &data, steps));
        assert_close_slice(&g, &dual_grad(|p| fit_to_data_o(p, &data, steps), &x));
    }
}

#[differentiate]
fn pair_forces(k: &[f64], x: &[f64], v: &[f64], force: &mut [f64]) {
    for i in 0..x.len() {
        let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        force[i] = -k[i] * left.sin() - 0.1 * v[i] * v[i];
    }
}

#[differentiate]
fn kick_drift(x: &mut [f64], v: &mut [f64], force: &[f64], dt: f64) {
    for i in 0..x.len() {
        v[i] += dt * force[i];
        x[i] *= 1.0 + dt * v[i];
    }
}

#[differentiate]
fn misfit(x: &[f64], target: &[f64], offset: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let d = x[i] - target[offset + i];
        s += d * d;
    }
    s
}

/// A time-stepping loop of helpers: `x` and `v` are read by `pair_forces` and
/// `misfit` and rewritten only by `kick_drift(&mut x, &mut v, ..)`, `force` written
/// only by `pair_forces(.., &mut force)`. Each `&mut` call's reverse puts back the
/// state before it, so the readers need no copies of their own, and the two
/// snapshots of `kick_drift` are read in place by its reverse.
#[differentiate(wrt(k, x0))]
fn stepped_helpers(k: &[f64], x0: &[f64], target: &[f64], steps: usize) -> f64 {
    let n = k.len();
    let mut x = x0.to_vec();
    let mut v = vec![0.0; n];
    let mut force = vec![0.0; n];
    let mut err = 0.0;
    for t in 0..steps {
        pair_forces(k, &x, &v, &mut force);
        kick_drift(&mut x, &mut v, &force, 0.05);
        err += misfit(&x, target, t * n) * force[t % n];
    }
    err
}

fn stepped_helpers_o(p: &[Dual64], target: &[f64], steps: usize) -> Dual64 {
    let n = p.len() / 2;
    let (k, x0) = p.split_at(n);
    let mut x = x0.to_vec();
    let mut v = vec![c(0.0); n];
    let mut force = vec![c(0.0); n];
    let mut err = c(0.0);
    for t in 0..steps {
        for i in 0..n {
            let left = if i == 0 { x[0] } else { x[i] - x[i - 1] };
            force[i] = -k[i] * left.sin() - v[i] * v[i] * 0.1;
        }
        for i in 0..n {
            v[i] += force[i] * 0.05;
            x[i] *= v[i] * 0.05 + 1.0;
        }
        let mut s = c(0.0);
        for i in 0..n {
            let d = x[i] - target[t * n + i];
            s += d * d;
        }
        err += s * force[t % n];
    }
    err
}

#[test]
fn arrays_rewritten_only_by_mut_calls_are_not_copied_for_their_readers() {
    let (n, steps) = (4, 6);
    let k = vec![1.5, 0.7, 2.2, 1.1];
    let x0 = vec![0.3, -0.2, 0.5, 0.1];
    let target: Vec<f64> = (0..steps * n)
        .map(|i| 0.2 * (i as f64 * 0.7).cos())
        .collect();
    let (value, (gk, gx)) = stepped_helpers_grad(&k, &x0, &target, steps);
    // Per step: the snapshots of `force` (for `pair_forces`) and of `x` and `v`
    // (for `kick_drift`) with their lengths, two scalars of the sum, what the
    // callees record (`left` in `pair_forces`, three values per element in
    // `kick_drift`) and the scalars of their final states (22 words). Copies of
    // `x` and `v` for `pair_forces`, of `force` for `kick_drift` and of `x` for
    // `misfit` would add `4n + 4` more.
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    assert!(
        pushed <= steps * 8 * ((3 * n + 3) + 2 + n + 3 * n + 22),
        "{pushed}"
    );
    assert_bits(value, stepped_helpers(&k, &x0, &target, steps));
    let mut all = k.clone();
    all.extend(&x0);
    let mut got = gk.clone();
    got.extend(gx);
    assert_close_slice(
        &got,
        &dual_grad(|p| stepped_helpers_o(p, &target, steps), &all),
    );
}

#[differentiate]
fn weighted_norm(a: &[f64], b: &[f64], w: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += (a[i] * b[i] * w).sin();
    }
    s
}

/// A port's inner loop: for every pair `(p, c)`, scratch arrays are refilled from
/// parameters and from an array written before the loops (`scale`), then read
/// whole by a call. The reverse sweep runs the refilling loops again before the
/// call's reverse instead of copying the arrays at every call; a scratch array
/// filled through a running sum (`run`) is still copied.
#[differentiate(wrt(x, means))]
fn refilled_from_data(x: &[f64], means: &[f64], d: usize, k: usize, n: usize) -> f64 {
    let mut scale = vec![0.0; k * d];
    for c in 0..k {
        for j in 0..d {
            scale[c * d + j] = (means[c * d + j] * 0.5).exp();
        }
    }
    let mut centered = vec![0.0; d];
    let mut scaled = vec![0.0; d];
    let mut run = vec![0.0; d];
    let mut total = 0.0;
    for p in 0..n {
        for c in 0..k {
            for j in 0..d {
                centered[j] = x[p * d + j] - means[c * d + j];
                scaled[j] = scale[c * d + j] * 2.0;
            }
            let mut acc = 0.0;
            for j in 0..d {
                acc += x[p * d + j];
                run[j] = acc * means[c * d + j];
            }
            total += weighted_norm(&centered, &scaled, 0.3) + weighted_norm(&run, &centered, 0.1);
        }
    }
    total
}

fn refilled_from_data_o(p: &[Dual64], x_len: usize, d: usize, k: usize, n: usize) -> Dual64 {
    let (x, means) = p.split_at(x_len);
    let norm = |a: &[Dual64], b: &[Dual64], w: f64| -> Dual64 {
        a.iter().zip(b).map(|(u, v)| (*u * *v * w).sin()).sum()
    };
    let mut total = c(0.0);
    for q in 0..n {
        for m in 0..k {
            let centered: Vec<Dual64> = (0..d).map(|j| x[q * d + j] - means[m * d + j]).collect();
            let scaled: Vec<Dual64> = (0..d)
                .map(|j| (means[m * d + j] * 0.5).exp() * 2.0)
                .collect();
            let mut acc = c(0.0);
            let run: Vec<Dual64> = (0..d)
                .map(|j| {
                    acc += x[q * d + j];
                    acc * means[m * d + j]
                })
                .collect();
            total += norm(&centered, &scaled, 0.3) + norm(&run, &centered, 0.1);
        }
    }
    total
}

#[test]
fn arrays_refilled_from_data_are_recomputed_not_copied() {
    let (d, k, n) = (3, 2, 4);
    let x: Vec<f64> = (0..n * d).map(|i| ((i as f64) * 0.9).sin()).collect();
    let means: Vec<f64> = (0..k * d).map(|i| ((i as f64) * 0.4).cos() * 0.5).collect();
    let (value, (gx, gm)) = refilled_from_data_grad(&x, &means, d, k, n);
    assert_bits(value, refilled_from_data(&x, &means, d, k, n));
    let mut all = x.clone();
    all.extend(&means);
    let mut got = gx.clone();
    got.extend(gm);
    assert_close_slice(
        &got,
        &dual_grad(|p| refilled_from_data_o(p, x.len(), d, k, n), &all),
    );
    // Per pair: the copy of `run` (3 values and its length) and at most 4 scalars,
    // and 8 words besides; the copies of `centered` and `scaled` would add 8 words
    // per pair.
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    println!("pushed {pushed} bytes");
    assert!(pushed <= n * k * 8 * (4 + 4) + 8 * 8, "{pushed}");
}

/// Reads `v` only for the adjoint of `c`: its core for a constant `c` does not
/// read `v` in its reverse sweep (`__READS_C_ARG1` is false).
#[differentiate]
fn damp(x: &[f64], v: &[f64], c: f64, f: &mut [f64]) {
    for i in 0..x.len() {
        f[i] = x[i].sin() * 0.5 - c * v[i];
    }
}

/// `damp` is split and reads `x` and `v`, which the loop after it overwrites:
/// `x` is copied for it, `v` is not, since the callee never reads it back.
#[differentiate(wrt(x0))]
fn damped(x0: &[f64], c: f64, steps: usize) -> f64 {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut v = vec![0.0; n];
    let mut f = vec![0.0; n];
    for _ in 0..steps {
        damp(&x, &v, c, &mut f);
        for i in 0..n {
            v[i] += 0.1 * f[i];
            x[i] += 0.1 * v[i];
        }
    }
    let mut s = 0.0;
    for i in 0..n {
        s += x[i] * x[i];
    }
    s
}

fn damped_o(x0: &[Dual64], c: f64, steps: usize) -> Dual64 {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut v = vec![Dual64::from(0.0); n];
    for _ in 0..steps {
        let f: Vec<Dual64> = (0..n).map(|i| x[i].sin() * 0.5 - v[i] * c).collect();
        for i in 0..n {
            v[i] += f[i] * 0.1;
            x[i] += v[i] * 0.1;
        }
    }
    x.iter().map(|xi| *xi * *xi).sum()
}

#[test]
fn split_calls_copy_only_the_arrays_their_callees_read_back() {
    const { assert!(damp::__READS_C_ARG0 && !damp::__READS_C_ARG1) };
    let x0 = vec![0.4, -0.7, 1.1, 0.2, -0.3, 0.9];
    let (c, steps) = (0.3, 6);
    let (value, g) = damped_grad(&x0, c, steps);
    assert_bits(value, damped(&x0, c, steps));
    assert_close_slice(&g, &dual_grad(|p| damped_o(p, c, steps), &x0));
    // Per step: the copy of `x` (6 values and its length) and a few words of
    // frame; a copy of `v` would add 7 words.
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    println!("pushed {pushed} bytes");
    assert!(pushed <= steps * 8 * (7 + 5) + 8 * 8, "{pushed}");
}

#[differentiate]
fn inner_distance(x: &[f64], data: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let d = x[i] - data[i];
        s += d * d;
    }
    s
}

/// Passes `data` on to a call: its adjoint cannot be skipped here, so a caller's
/// empty one is replaced by a buffer of its own.
#[differentiate]
fn outer_distance(x: &[f64], data: &[f64]) -> f64 {
    inner_distance(x, data) * 0.5 + x[0] * data[1].sin()
}

#[differentiate(wrt(x))]
fn fit_outer(x: &[f64], data: &[f64]) -> f64 {
    let mut total = 0.0;
    for k in 0..3 {
        total += outer_distance(x, data) * (k as f64 + 1.0);
    }
    total
}

#[differentiate]
fn fit_outer_both(x: &[f64], data: &[f64]) -> f64 {
    let mut total = 0.0;
    for k in 0..3 {
        total += outer_distance(x, data) * (k as f64 + 1.0);
    }
    total
}

fn fit_outer_o(x: &[Dual64], data: &[Dual64]) -> Dual64 {
    let mut total = Dual64::from(0.0);
    for k in 0..3 {
        let mut s = Dual64::from(0.0);
        for i in 0..x.len() {
            let d = x[i] - data[i];
            s += d * d;
        }
        total += (s * 0.5 + x[0] * data[1].sin()) * (k as f64 + 1.0);
    }
    total
}

#[test]
fn data_passed_through_calls_is_differentiated_only_where_asked() {
    let x = vec![0.3, -0.8, 1.2, 0.5];
    let data = vec![0.1, 0.9, -0.4, 0.7];
    let (value, gx) = fit_outer_grad(&x, &data);
    assert_bits(value, fit_outer(&x, &data));
    let constant: Vec<Dual64> = data.iter().map(|v| Dual64::from(*v)).collect();
    assert_close_slice(&gx, &dual_grad(|p| fit_outer_o(p, &constant), &x));
    let (value, (gx2, gd)) = fit_outer_both_grad(&x, &data);
    assert_bits(value, fit_outer(&x, &data));
    let mut all = x.clone();
    all.extend(&data);
    let mut got = gx2.clone();
    got.extend(&gd);
    assert_close_slice(&got, &dual_grad(|p| fit_outer_o(&p[..4], &p[4..]), &all));
}

/// Reads `x` in its reverse sweep (for `cos`); split, since it writes `f`.
#[differentiate]
fn pull_sines(x: &[f64], w: &[f64], f: &mut [f64]) {
    for i in 0..x.len() {
        f[i] = (x[i] * w[i]).sin();
    }
}

/// `Σ x²`: a joint call.
#[differentiate]
fn square_sum(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i];
    }
    s
}

/// `pull_sines(&x, ..)` copies `x` after it, the loop then overwrites `x`, and
/// `square_sum(&x)` reads it: the next iteration's copy for `pull_sines` holds
/// what `square_sum` read, so `square_sum` takes no copy of its own (unless
/// `pull_sines`'s is not taken).
#[differentiate(wrt(x0, w))]
fn pulled(x0: &[f64], w: &[f64], steps: usize) -> f64 {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut f = vec![0.0; n];
    let mut total = 0.0;
    for _ in 0..steps {
        pull_sines(&x, w, &mut f);
        for i in 0..n {
            x[i] += 0.1 * f[i];
        }
        total += square_sum(&x);
    }
    total
}

fn pulled_o(p: &[Dual64], steps: usize) -> Dual64 {
    let n = p.len() / 2;
    let (x0, w) = p.split_at(n);
    let mut x = x0.to_vec();
    let mut total = Dual64::from(0.0);
    for _ in 0..steps {
        let f: Vec<Dual64> = (0..n).map(|i| (x[i] * w[i]).sin()).collect();
        for i in 0..n {
            x[i] += f[i] * 0.1;
        }
        total += x.iter().map(|xi| *xi * *xi).sum::<Dual64>();
    }
    total
}

#[test]
fn a_copy_for_a_reading_call_is_shared_with_the_next_iterations_copy() {
    const { assert!(pull_sines::__READS_ARG0) };
    let x0 = vec![0.4, -0.7, 1.1, 0.2, -0.3, 0.9, 0.5, -1.2];
    let w = vec![0.8, 1.3, -0.6, 0.9, 1.1, -0.4, 0.7, 0.2];
    let steps = 5;
    let (value, (gx, gw)) = pulled_grad(&x0, &w, steps);
    assert_bits(value, pulled(&x0, &w, steps));
    let mut all = x0.clone();
    all.extend(&w);
    let mut got = gx.clone();
    got.extend(&gw);
    assert_close_slice(&got, &dual_grad(|p| pulled_o(p, steps), &all));
    // Per step: one copy of `x` (8 values and its length) and a few words of
    // frame; a second copy for `square_sum` would add 9 words.
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    println!("pushed {pushed} bytes");
    assert!(pushed <= steps * 8 * (9 + 6) + 8 * 8, "{pushed}");
}

/// As `pulled`, but the earlier call (`damp`, with `c` constant) does not read
/// `v` back, so takes no copy of it: `square_sum` takes its own.
#[differentiate(wrt(x0))]
fn damped_energy(x0: &[f64], c: f64, steps: usize) -> f64 {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut v = x0.to_vec();
    let mut f = vec![0.0; n];
    let mut total = 0.0;
    for _ in 0..steps {
        damp(&x, &v, c, &mut f);
        for i in 0..n {
            v[i] += 0.1 * f[i];
            x[i] += 0.1 * v[i];
        }
        total += square_sum(&v);
    }
    total
}

fn damped_energy_o(x0: &[Dual64], c: f64, steps: usize) -> Dual64 {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut v = x0.to_vec();
    let mut total = Dual64::from(0.0);
    for _ in 0..steps {
        let f: Vec<Dual64> = (0..n).map(|i| x[i].sin() * 0.5 - v[i] * c).collect();
        for i in 0..n {
            v[i] += f[i] * 0.1;
            x[i] += v[i] * 0.1;
        }
        total += v.iter().map(|vi| *vi * *vi).sum::<Dual64>();
    }
    total
}

#[test]
fn a_copy_is_taken_when_the_copy_that_would_serve_is_not() {
    const { assert!(!damp::__READS_C_ARG1) };
    let x0 = vec![0.4, -0.7, 1.1, 0.2, -0.3, 0.9];
    let (c, steps) = (0.3, 5);
    let (value, g) = damped_energy_grad(&x0, c, steps);
    assert_bits(value, damped_energy(&x0, c, steps));
    assert_close_slice(&g, &dual_grad(|p| damped_energy_o(p, c, steps), &x0));
}

/// Two joint calls read `x`, before and after the loop overwrites it: the first
/// one's copy (always taken) in the next iteration serves the second.
#[differentiate]
fn read_twice(x0: &[f64], steps: usize) -> f64 {
    let mut x = x0.to_vec();
    let mut total = 0.0;
    for _ in 0..steps {
        total += square_sum(&x);
        for i in 0..x.len() {
            x[i] = 0.9 * x[i] + 0.1;
        }
        total += 0.5 * square_sum(&x);
    }
    total
}

fn read_twice_o(x0: &[Dual64], steps: usize) -> Dual64 {
    let mut x = x0.to_vec();
    let mut total = Dual64::from(0.0);
    for _ in 0..steps {
        total += x.iter().map(|xi| *xi * *xi).sum::<Dual64>();
        for xi in x.iter_mut() {
            *xi = *xi * 0.9 + 0.1;
        }
        total += x.iter().map(|xi| *xi * *xi).sum::<Dual64>() * 0.5;
    }
    total
}

#[test]
fn a_joint_calls_copy_serves_a_later_reader() {
    let x0 = vec![0.4, -0.7, 1.1, 0.2, -0.3, 0.9];
    let steps = 5;
    let (value, g) = read_twice_grad(&x0, steps);
    assert_bits(value, read_twice(&x0, steps));
    assert_close_slice(&g, &dual_grad(|p| read_twice_o(p, steps), &x0));
    // One copy of `x` per step (6 values and its length), not two.
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    println!("pushed {pushed} bytes");
    assert!(pushed <= steps * 8 * (7 + 4) + 8 * 8, "{pushed}");
}

/// An ordinary function (not `#[differentiate]`), as ADBench's GMM calls
/// `log_gamma_distrib` for the Wishart prior's constant.
fn log_gamma_like(a: f64, p: usize) -> f64 {
    let mut s = 0.0;
    for j in 0..p {
        s += (a - 0.5 * j as f64).ln();
    }
    s
}

/// Calls it with a float computed from integers only: no derivative flows
/// through it, in any mode.
#[differentiate(reverse, forward, hvp)]
fn wishart_like(x: &[f64], n: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i] * x[i];
    }
    s - log_gamma_like(0.5 * n as f64, 3)
}

#[test]
fn calls_of_ordinary_functions_with_constant_floats_run_as_written() {
    let x = [0.7, -1.2, 2.0];
    let value = wishart_like(&x, 9);
    let want: Vec<f64> = x.iter().map(|v| 3.0 * v * v).collect();
    let (v, grad) = wishart_like_grad(&x, 9);
    assert_eq!(v.to_bits(), value.to_bits());
    assert_close_slice(&grad, &want);
    let dir = [0.3, 0.1, -0.5];
    let (v, tangent) = wishart_like_jvp(&x, 9, &dir);
    assert_eq!(v.to_bits(), value.to_bits());
    assert_close(tangent, want.iter().zip(&dir).map(|(g, d)| g * d).sum());
    let (_, _, hv) = wishart_like_hvp(&x, 9, &dir);
    let want_hv: Vec<f64> = x.iter().zip(&dir).map(|(v, d)| 6.0 * v * d).collect();
    assert_close_slice(&hv, &want_hv);
}

/// A parameter left out of `wrt` and passed to an ordinary function: the
/// callers' cores do not differentiate it either (`__DIFF_ARG1` is false), so
/// no derivative code of `log_gamma_like` is called.
#[differentiate(reverse, forward, hvp, wrt(x))]
fn prior_with_shape(x: &[f64], shape: f64, p: usize) -> f64 {
    x[0] * x[1] + (x[2] * shape).sin() - log_gamma_like(shape, p)
}

/// Passes a constant to `shape` (through every core: `__reverse`, `__forward`,
/// `__reverse_forward`).
#[differentiate(reverse, forward, hvp)]
fn prior_at_fixed_shape(x: &[f64]) -> f64 {
    prior_with_shape(x, 4.5, 3) * 2.0
}

/// Passes its own parameter left out of `wrt`.
#[differentiate(wrt(x))]
fn prior_at_shape(x: &[f64], shape: f64) -> f64 {
    prior_with_shape(x, shape + 1.0, 2).powi(2)
}

#[test]
fn a_parameter_left_out_of_wrt_may_reach_ordinary_functions() {
    // d/dx of `x0 x1 + sin(x2 shape)`, times `scale`.
    let check = |shape: f64, x: &[f64], grad: &[f64], scale: f64| {
        let want = [x[1], x[0], shape * (x[2] * shape).cos()];
        let want: Vec<f64> = want.iter().map(|g| g * scale).collect();
        assert_close_slice(grad, &want);
    };
    let x = [0.4, 1.3, -0.6];
    let (_, grad) = prior_with_shape_grad(&x, 3.5, 3);
    check(3.5, &x, &grad, 1.0);
    let (_, grad) = prior_at_fixed_shape_grad(&x);
    check(4.5, &x, &grad, 2.0);
    let (value, grad) = prior_at_shape_grad(&x, 2.0);
    assert_eq!(value.to_bits(), prior_at_shape(&x, 2.0).to_bits());
    check(3.0, &x, &grad, 2.0 * prior_with_shape(&x, 3.0, 2));
    const { assert!(prior_with_shape::__DIFF_ARG0) };
    const { assert!(!prior_with_shape::__DIFF_ARG1) };
    // `prior_at_shape` passes `shape` on to a parameter `prior_with_shape` does
    // not differentiate: its callers' cores drop that derivative, and say so.
    const { assert!(!prior_at_shape::__DIFF_ARG1) };
    assert_gradient(prior_at_fixed_shape, &x, &prior_at_fixed_shape_grad(&x).1);
    // Forward mode and Hessian-vector products, directly and through a caller:
    // the Hessian of `2 (x0 x1 + sin(4.5 x2))` is `2 [[0, 1, 0], [1, 0, 0], [0,
    // 0, -4.5² sin(4.5 x2)]]`.
    let v = [0.3, -0.2, 0.5];
    let (_, tangent) = prior_with_shape_jvp(&x, 4.5, 3, &v);
    let grad = prior_with_shape_grad(&x, 4.5, 3).1;
    assert_close(tangent, grad.iter().zip(&v).map(|(g, d)| g * d).sum());
    let hessian_v = |scale: f64| {
        let curvature = -4.5 * 4.5 * (4.5 * x[2]).sin();
        [scale * v[1], scale * v[0], scale * curvature * v[2]]
    };
    let (_, _, hv) = prior_with_shape_hvp(&x, 4.5, 3, &v);
    assert_close_slice(&hv, &hessian_v(1.0));
    let (_, tangent) = prior_at_fixed_shape_jvp(&x, &v);
    let grad = prior_at_fixed_shape_grad(&x).1;
    assert_close(tangent, grad.iter().zip(&v).map(|(g, d)| g * d).sum());
    let (_, _, hv) = prior_at_fixed_shape_hvp(&x, &v);
    assert_close_slice(&hv, &hessian_v(2.0));
}
