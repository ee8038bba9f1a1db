//! Regressions found by a second independent port (a stress test of the contract
//! written from `API.md` alone): each was a compile error inside the contract or
//! a wrong number, checked here against closed forms.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

mod common;

use autodiff_runtime::differentiate;
use common::*;

/// An ordinary function: its result's type is invisible to the macro.
fn doubled(i: usize) -> f64 {
    2.0 * i as f64
}

/// `let c = doubled(i)` in a loop: a value of a type the macro does not know,
/// read by the reverse rule of `s * c`. It was left at its last value (the
/// gradient came out 432 where it is 216 at 1.5).
#[differentiate(reverse, forward, hvp)]
fn passive_call_in_loop(x: f64) -> f64 {
    let mut s = x;
    for i in 1..3 {
        let c = doubled(i);
        s = s * s * c;
    }
    s
}

/// The same through a `while` loop.
#[differentiate]
fn passive_call_in_while(x: f64, n: usize) -> f64 {
    let mut s = x;
    let mut i = 1;
    while i <= n {
        let c = doubled(i);
        s = s * c + x * s;
        i += 1;
    }
    s
}

#[test]
fn passive_values_of_unknown_type_are_restored() {
    let x = 1.5;
    // s = 16 x^4.
    let (value, grad) = passive_call_in_loop_grad(x);
    assert_bits(value, passive_call_in_loop(x));
    assert_close(grad, 64.0 * x * x * x);
    assert_close(passive_call_in_loop_jvp(x, 1.0).1, 64.0 * x * x * x);
    let (_, g, hv) = passive_call_in_loop_hvp(x, 0.5);
    assert_close(g, 64.0 * x * x * x);
    assert_close(hv, 192.0 * x * x * 0.5);
    // s_{i} = s_{i-1} (2 i + x): s = x (2 + x)(4 + x)(6 + x).
    let (value, grad) = passive_call_in_while_grad(x, 3);
    assert_bits(value, passive_call_in_while(x, 3));
    // = x^4 + 12 x^3 + 44 x^2 + 48 x.
    assert_close(grad, 4.0 * x * x * x + 36.0 * x * x + 88.0 * x + 48.0);
    let oracle = |p: &[Dual64]| {
        let x = p[0];
        x * (x + 2.0) * (x + 4.0) * (x + 6.0).powi(1)
    };
    assert_close(grad, dual_grad(oracle, &[x])[0]);
}

/// `x as f32` in an `f64` function rounds: the value must be the function's.
#[differentiate(reverse, forward, hvp)]
fn narrowed(x: f64) -> f64 {
    (x as f32) as f64 * x
}

/// In an `f32` function, `(x as f64) as f32` is `x`.
#[differentiate(reverse, forward)]
fn round_trip32(x: f32) -> f32 {
    (x as f64) as f32 * x
}

#[test]
fn casts_to_f32_round_as_written() {
    let x = 0.33;
    let (value, grad) = narrowed_grad(x);
    assert_bits(value, narrowed(x));
    assert_eq!(narrowed_jvp(x, 1.0).0.to_bits(), narrowed(x).to_bits());
    // The cast's derivative is one: d/dx (round(x) x) = round(x) + x.
    assert_close(grad, (x as f32) as f64 + x);
    let (_, _, hv) = narrowed_hvp(x, 1.0);
    assert_close(hv, 2.0);
    let (value, grad) = round_trip32_grad(0.33);
    assert_eq!(value.to_bits(), round_trip32(0.33).to_bits());
    assert_eq!(grad, 0.66);
}

/// A `mut` scalar parameter beside a slice (its adjoint was missing in the core
/// that takes scalars as constants), and a `mut` integer parameter counted down
/// (the cores declared it without `mut`).
#[differentiate]
fn mut_scalar(mut x: f64, v: &[f64]) -> f64 {
    x *= v[0];
    x
}

#[differentiate]
fn mut_count(x: f64, mut n: usize) -> f64 {
    let mut s = x;
    while n > 0 {
        n -= 1;
        s *= x;
    }
    s
}

/// Calls `mut_scalar` with a constant for `x`: through `__reverse_c`.
#[differentiate]
fn calls_mut_scalar(v: &[f64]) -> f64 {
    mut_scalar(2.5, v) * v[1]
}

#[test]
fn mut_parameters_compile_and_differentiate() {
    let (value, (dx, dv)) = mut_scalar_grad(1.5, &[2.0]);
    assert_bits(value, 3.0);
    assert_close(dx, 2.0);
    assert_close_slice(&dv, &[1.5]);
    let (value, dx) = mut_count_grad(1.5, 3);
    assert_bits(value, mut_count(1.5, 3));
    assert_close(dx, 4.0 * 1.5 * 1.5 * 1.5);
    let (_, dv) = calls_mut_scalar_grad(&[2.0, 3.0]);
    assert_close_slice(&dv, &[2.5 * 3.0, 2.5 * 2.0]);
}

/// `hvp` on `&mut [f64; N]` and `&mut Vec<f64>` buffers (the direction was
/// handed to the core as a slice).
#[differentiate(hvp)]
fn product_of_array(s: &mut [f64; 2]) -> f64 {
    s[0] * s[1]
}

#[allow(clippy::ptr_arg)] // the parameter kind under test
#[differentiate(hvp)]
fn product_of_vec(s: &mut Vec<f64>) -> f64 {
    s[0] * s[1] * s[1]
}

#[test]
fn hessian_vector_products_of_fixed_and_vec_buffers() {
    let mut a = [1.5, 2.0];
    let (value, grad, hv) = product_of_array_hvp(&mut a, &[1.0, 0.0]);
    assert_close(value, 3.0);
    assert_close_slice(&grad, &[2.0, 1.5]);
    assert_close_slice(&hv, &[0.0, 1.0]);
    let mut v = vec![1.5, 2.0];
    let (value, grad, hv) = product_of_vec_hvp(&mut v, &[0.0, 1.0]);
    assert_close(value, 6.0);
    assert_close_slice(&grad, &[4.0, 6.0]);
    assert_close_slice(&hv, &[4.0, 3.0]);
}

/// `jacobian` with `wrt` leaving out a `&mut` buffer that the function updates:
/// `f_jvp` took a tangent for it, and the sweeps did not start from its
/// initial state.
#[differentiate(jacobian, forward, wrt(k))]
fn scaled_state(s: &mut [f64], k: f64) -> Vec<f64> {
    s[0] *= k;
    vec![s[0] * k, s[0] + k]
}

/// The same with a fixed-size buffer (its zero tangent is an array).
#[differentiate(jacobian, wrt(k))]
fn scaled_pair(s: &mut [f64; 2], k: f64) -> Vec<f64> {
    s[0] *= k;
    vec![s[0] * k * s[1]]
}

#[test]
fn jacobians_restart_buffers_left_out_of_wrt() {
    let mut pair = [2.0, 0.5];
    let (value, jac) = scaled_pair_jacobian(&mut pair, 3.0);
    assert_close_slice(&value, &[9.0]);
    assert_close(jac[(0, 0)], 2.0 * 2.0 * 3.0 * 0.5);
    assert_close_slice(&pair, &[6.0, 0.5]);
    let mut s = vec![2.0];
    // Outputs s0 k² and s0 k + k; d/dk = 2 s0 k and s0 + 1.
    let (value, jac) = scaled_state_jacobian(&mut s, 3.0);
    assert_close_slice(&value, &[18.0, 9.0]);
    assert_close(jac[(0, 0)], 12.0);
    assert_close(jac[(1, 0)], 3.0);
    assert_close_slice(&s, &[6.0]);
    let mut s = vec![2.0];
    let (_, tangent) = scaled_state_jvp(&mut s, 3.0, 1.0);
    assert_close_slice(&tangent, &[12.0, 3.0]);
}

/// A match arm that returns, as a value (`0 => return x,`), and a branch that
/// breaks: the jump is a statement, the other arms give the value.
#[differentiate]
fn arm_returns(x: f64, k: usize) -> f64 {
    let y = match k {
        0 => return x,
        1 => x * 3.0,
        _ => x * x,
    };
    y + 1.0
}

#[differentiate]
fn branch_breaks(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let t = if x[i] > 10.0 { break } else { x[i] * x[i] };
        s += t;
    }
    s
}

/// `let z;` assigned later, untyped and typed.
#[allow(clippy::needless_late_init)] // the form under test
#[differentiate]
fn deferred(x: f64, k: usize) -> f64 {
    let z;
    let n: usize;
    if k > 1 {
        z = x * x;
        n = 2;
    } else {
        z = x.sin();
        n = 3;
    }
    let w: f64;
    w = z * n as f64;
    w + z
}

#[test]
fn jumps_as_values_and_deferred_lets() {
    let x = 1.5;
    assert_eq!(arm_returns_grad(x, 0), (1.5, 1.0));
    assert_eq!(arm_returns_grad(x, 1), (5.5, 3.0));
    assert_eq!(arm_returns_grad(x, 2), (3.25, 3.0));
    let (value, grad) = branch_breaks_grad(&[1.0, 2.0, 11.0, 3.0]);
    assert_eq!(value, 5.0);
    assert_close_slice(&grad, &[2.0, 4.0, 0.0, 0.0]);
    let (value, grad) = deferred_grad(x, 2);
    assert_bits(value, deferred(x, 2));
    assert_close(grad, 3.0 * 2.0 * x);
    let (value, grad) = deferred_grad(x, 0);
    assert_bits(value, deferred(x, 0));
    assert_close(grad, 4.0 * x.cos());
}

/// A fixed-size result that does not depend on the differentiated input: its
/// tangent is `[0.0; 2]`, of the result's own type.
#[differentiate(forward, wrt(k))]
fn fixed_constant_result(s: &[f64], k: f64) -> [f64; 2] {
    let _ = k;
    [s[0], s[1]]
}

#[test]
fn a_result_independent_of_the_inputs_has_a_zero_tangent() {
    let (value, tangent) = fixed_constant_result_jvp(&[1.5, 2.5], 3.0, 1.0);
    assert_eq!(value, [1.5, 2.5]);
    assert_eq!(tangent, [0.0, 0.0]);
}
