//! `&mut [f64]`, `&mut Vec<f64>`, `&mut [f64; N]` parameters: in `f_vjp` the shadow
//! enters as the seed on the final state and leaves as the adjoint of the initial
//! state; in `f_grad` the gradient is with respect to the initial contents. The primal
//! buffer always ends holding exactly what `f` leaves in it.
#![allow(clippy::needless_range_loop)]
// the macro differentiates index loops
// `&mut Vec<f64>` is a parameter kind under test; the generated `_vjp` / `_grad` copy it
// and do not carry a function-level allow (see tests/PENDING.md).
#![allow(clippy::ptr_arg)]

mod common;

use autodiff_runtime::check::{assert_gradient, assert_vjp, sample_points};
use autodiff_runtime::differentiate;
use common::*;

/// x[0] is overwritten completely, x[n-1] untouched, the middle updated in place.
#[differentiate]
fn partial_update(x: &mut [f64], k: f64) -> f64 {
    let n = x.len();
    let r = x[0] * x[1] + x[n - 1];
    x[0] = k * 2.0;
    for i in 1..n - 1 {
        x[i] = x[i] * k + x[i].sin();
    }
    r
}

/// The oracle: (initial x, k) -> (return value, final x...).
fn partial_update_o(p: &[Dual64]) -> Vec<Dual64> {
    let n = p.len() - 1;
    let k = p[n];
    let mut x = p[..n].to_vec();
    let r = x[0] * x[1] + x[n - 1];
    x[0] = k * 2.0;
    for xi in x.iter_mut().take(n - 1).skip(1) {
        *xi = *xi * k + xi.sin();
    }
    let mut out = vec![r];
    out.extend(x);
    out
}

#[test]
fn mut_slice_vjp_seed_semantics() {
    let x0 = vec![0.5, -1.2, 0.7, 2.0];
    let k = 1.3;
    let x_bar_in = vec![1.0, 2.0, -0.5, 3.0];
    for seed in [0.0, 1.0, -2.0] {
        let mut x = x0.clone();
        let mut x_bar = x_bar_in.clone();
        let (v, dk) = partial_update_vjp(&mut x, &mut x_bar, k, seed);
        // primal: same value, same final buffer
        let mut xf = x0.clone();
        assert_bits(v, partial_update(&mut xf, k));
        assert_bits_slice(&x, &xf);
        // oracle vjp with the seed on (return value, final x)
        let mut all = x0.clone();
        all.push(k);
        let mut s = vec![seed];
        s.extend(&x_bar_in);
        let e = dual_vjp(partial_update_o, &all, &s);
        let mut got = x_bar.clone();
        got.push(dk);
        assert_close_slice(&got, &e);
        // x[0] is overwritten completely: only the return value's dependence remains
        assert_close(x_bar[0], seed * x0[1]);
        // x[n-1] untouched: its seed passes through (plus the return value's share)
        assert_close(x_bar[3], x_bar_in[3] + seed);
    }
}

#[test]
fn mut_slice_grad_is_wrt_initial_contents() {
    let x0 = vec![0.5, -1.2, 0.7, 2.0];
    let mut x = x0.clone();
    let (v, (g, dk)) = partial_update_grad(&mut x, 1.3);
    let mut xf = x0.clone();
    assert_bits(v, partial_update(&mut xf, 1.3));
    assert_bits_slice(&x, &xf);
    assert_close_slice(&g, &[x0[1], x0[0], 0.0, 1.0]);
    assert_eq!(dk, 0.0);
}

#[differentiate]
fn overwrite_all(x: &mut [f64], a: f64) {
    for i in 0..x.len() {
        x[i] = a * (i as f64);
    }
}

#[test]
fn completely_overwritten_buffer_comes_out_zero() {
    let mut x = vec![1.0, 2.0, 3.0];
    let mut x_bar = vec![1.0, 1.0, 1.0];
    let ((), da) = overwrite_all_vjp(&mut x, &mut x_bar, 2.0);
    assert_eq!(x_bar, vec![0.0, 0.0, 0.0]);
    let mut xf = vec![1.0, 2.0, 3.0];
    overwrite_all(&mut xf, 2.0);
    assert_bits_slice(&x, &xf);
    assert_eq!(x, vec![0.0, 2.0, 4.0]);
    assert_close(da, 3.0);
}

#[differentiate]
fn touch_nothing(x: &mut [f64], a: f64) -> f64 {
    x[0] * a
}

#[test]
fn untouched_buffer_passes_seed_through() {
    let mut x = vec![2.0, 5.0];
    let mut x_bar = vec![0.25, -4.0];
    let (v, da) = touch_nothing_vjp(&mut x, &mut x_bar, 3.0, 1.0);
    assert_bits(v, touch_nothing(&mut [2.0, 5.0], 3.0));
    assert_eq!(x, vec![2.0, 5.0]);
    assert_close_slice(&x_bar, &[0.25 + 3.0, -4.0]);
    assert_close(da, 2.0);
}

#[differentiate]
fn vec_buffer(v: &mut Vec<f64>, c: f64) {
    let n = v.len();
    let mut prev = v[n - 1];
    for i in 0..n {
        let cur = v[i];
        v[i] = cur * prev * c + cur;
        prev = cur;
    }
}

fn vec_buffer_o(p: &[Dual64]) -> Vec<Dual64> {
    let n = p.len() - 1;
    let c = p[n];
    let mut v = p[..n].to_vec();
    let mut prev = v[n - 1];
    for vi in v.iter_mut() {
        let cur = *vi;
        *vi = cur * prev * c + cur;
        prev = cur;
    }
    v
}

#[test]
fn mut_vec_buffer_vjp() {
    let v0 = vec![0.3, -0.8, 1.1, 0.5, 2.0];
    let cst = 0.7;
    let seed = vec![1.0, -1.0, 0.5, 2.0, 0.0];
    let mut v = v0.clone();
    let mut v_bar = seed.clone();
    let ((), dc) = vec_buffer_vjp(&mut v, &mut v_bar, cst);
    let mut vf = v0.clone();
    vec_buffer(&mut vf, cst);
    assert_bits_slice(&v, &vf);
    let mut all = v0.clone();
    all.push(cst);
    let mut got = v_bar.clone();
    got.push(dc);
    assert_close_slice(&got, &dual_vjp(vec_buffer_o, &all, &seed));
    assert_vjp(
        |p| {
            let mut b = p[..5].to_vec();
            vec_buffer(&mut b, p[5]);
            b
        },
        &all,
        &seed,
        &got,
    );
}

#[differentiate]
fn rotate(s: &mut [f64; 2], theta: f64) -> f64 {
    let c = theta.cos();
    let sn = theta.sin();
    let x = s[0];
    s[0] = c * x - sn * s[1];
    s[1] = sn * x + c * s[1];
    s[0] * s[1]
}

#[test]
fn mut_fixed_array_vjp_and_grad() {
    let s0 = [1.5, -0.5];
    let th = 0.4;
    let mut s = s0;
    let mut s_bar = [2.0, -1.0];
    let seed = 0.5;
    let (v, dth) = rotate_vjp(&mut s, &mut s_bar, th, seed);
    let mut sf = s0;
    assert_bits(v, rotate(&mut sf, th));
    assert_bits_slice(&s, &sf);
    let f = |p: &[f64]| {
        let mut b = [p[0], p[1]];
        let r = rotate(&mut b, p[2]);
        vec![r, b[0], b[1]]
    };
    assert_vjp(
        f,
        &[s0[0], s0[1], th],
        &[seed, 2.0, -1.0],
        &[s_bar[0], s_bar[1], dth],
    );

    let mut s = s0;
    let (v, (g, dth)): (f64, ([f64; 2], f64)) = rotate_grad(&mut s, th);
    assert_bits(v, rotate(&mut s0.clone(), th));
    assert_bits_slice(&s, &sf);
    assert_gradient(
        |p| rotate(&mut [p[0], p[1]], p[2]),
        &[s0[0], s0[1], th],
        &[g[0], g[1], dth],
    );
}

/// A nonlinear pendulum with damping, 50 explicit (symplectic) Euler steps, updated in place.
#[differentiate]
fn integrate(state: &mut [f64], dt: f64, damping: f64) {
    for _ in 0..50 {
        let theta = state[0];
        state[1] -= dt * (theta.sin() + damping * state[1]);
        state[0] += dt * state[1];
        state[2] += dt * 0.5 * state[1] * state[1];
    }
}

fn integrate_o(p: &[Dual64]) -> Vec<Dual64> {
    let mut s = p[..3].to_vec();
    let (dt, damping) = (p[3], p[4]);
    for _ in 0..50 {
        let theta = s[0];
        let w = s[1];
        s[1] = w - dt * (theta.sin() + damping * w);
        let w = s[1];
        s[0] += dt * w;
        s[2] += dt * 0.5 * w * w;
    }
    s
}

#[test]
fn time_stepping_50_steps() {
    let s0 = vec![1.0, 0.0, 0.0];
    let (dt, damping) = (0.05, 0.1);
    for seed in [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.3, -0.7, 2.0]] {
        let mut s = s0.clone();
        let mut s_bar = seed.to_vec();
        let ((), (ddt, ddamp)) = integrate_vjp(&mut s, &mut s_bar, dt, damping);
        let mut sf = s0.clone();
        integrate(&mut sf, dt, damping);
        assert_bits_slice(&s, &sf);
        let mut all = s0.clone();
        all.extend([dt, damping]);
        let mut got = s_bar.clone();
        got.extend([ddt, ddamp]);
        assert_close_slice(&got, &dual_vjp(integrate_o, &all, &seed));
    }
}

#[differentiate]
fn integrate_energy(state: &mut [f64], dt: f64) -> f64 {
    for _ in 0..50 {
        let theta = state[0];
        state[1] -= dt * theta.sin();
        state[0] += dt * state[1];
    }
    0.5 * state[1] * state[1] - state[0].cos()
}

#[test]
fn time_stepping_grad_of_final_energy() {
    for s0 in [vec![0.5, 0.0], vec![-1.0, 0.8], vec![2.5, -0.3]] {
        let mut s = s0.clone();
        let (v, (g, ddt)) = integrate_energy_grad(&mut s, 0.02);
        let mut sf = s0.clone();
        assert_bits(v, integrate_energy(&mut sf, 0.02));
        assert_bits_slice(&s, &sf);
        let o = |p: &[Dual64]| {
            let mut st = [p[0], p[1]];
            for _ in 0..50 {
                let theta = st[0];
                st[1] -= p[2] * theta.sin();
                let w = st[1];
                st[0] += p[2] * w;
            }
            st[1] * st[1] * 0.5 - st[0].cos()
        };
        let e = dual_grad(o, &[s0[0], s0[1], 0.02]);
        assert_close_slice(&[g[0], g[1], ddt], &e);
    }
}

#[differentiate]
fn two_buffers(a: &mut [f64], b: &mut [f64], w: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        let t = a[i];
        a[i] = b[i] * w[i];
        b[i] = t + b[i] * b[i];
        s += a[i] * b[i];
    }
    s
}

#[test]
fn two_mut_buffers_and_a_slice() {
    let a0 = sample_points(21, 3, -1.0, 1.0);
    let b0 = sample_points(22, 3, -1.0, 1.0);
    let w = sample_points(23, 3, -1.0, 1.0);
    let (mut a, mut b) = (a0.clone(), b0.clone());
    let (mut a_bar, mut b_bar) = (vec![1.0, 0.0, -1.0], vec![0.5, 0.5, 2.0]);
    let seed_a = a_bar.clone();
    let seed_b = b_bar.clone();
    let (v, gw) = two_buffers_vjp(&mut a, &mut a_bar, &mut b, &mut b_bar, &w, 1.5);
    let (mut af, mut bf) = (a0.clone(), b0.clone());
    assert_bits(v, two_buffers(&mut af, &mut bf, &w));
    assert_bits_slice(&a, &af);
    assert_bits_slice(&b, &bf);
    let mut all = a0.clone();
    all.extend(&b0);
    all.extend(&w);
    let mut seed = vec![1.5];
    seed.extend(&seed_a);
    seed.extend(&seed_b);
    let mut got = a_bar.clone();
    got.extend(&b_bar);
    got.extend(&gw);
    assert_vjp(
        |p| {
            let (mut a, mut b) = (p[0..3].to_vec(), p[3..6].to_vec());
            let r = two_buffers(&mut a, &mut b, &p[6..9]);
            let mut out = vec![r];
            out.extend(a);
            out.extend(b);
            out
        },
        &all,
        &seed,
        &got,
    );
}

#[test]
#[should_panic]
fn shadow_length_mismatch_panics() {
    let mut x = vec![1.0, 2.0, 3.0];
    let mut x_bar = vec![1.0, 1.0];
    let _ = overwrite_all_vjp(&mut x, &mut x_bar, 1.0);
}
