//! Regressions found while writing the examples (examples/FINDINGS.md) and by the
//! generated-program property test.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

use autodiff_runtime::differentiate;

#[differentiate]
fn d(s: &[f64], ds: &mut [f64]) {
    ds[0] = (s[0] * s[0] + 1.0).sqrt();
    ds[1] = s[1].sqrt();
}

#[differentiate]
fn e1(s: &mut [f64]) {
    let mut k1 = [0.0; 2];
    d(&*s, &mut k1);
    for i in 0..2 {
        s[i] += 0.1 * k1[i];
    }
}

#[differentiate]
fn b(s: &mut [f64], dt: f64) {
    let mut k1 = [0.0; 2];
    d(s, &mut k1);
    s[0] += dt * k1[0];
}

/// A `&mut` parameter read by a callee and written afterwards (in a loop, or
/// passed bare): the callee's reverse sweep must see the state before the call,
/// and the buffer must end in its final state.
#[test]
fn mut_param_read_by_callee_then_written() {
    let expected = 1.0 + 0.1 * 0.5 / 1.25f64.sqrt();
    let mut s = vec![0.5, 2.0];
    let mut s_bar = vec![1.0, 0.0];
    e1_vjp(&mut s, &mut s_bar);
    let mut final_state = vec![0.5, 2.0];
    e1(&mut final_state);
    assert_eq!(s, final_state);
    approx::assert_relative_eq!(s_bar[0], expected, max_relative = 1e-14);
    assert_eq!(s_bar[1], 0.0);

    let mut s = vec![0.5, 2.0];
    let mut s_bar = vec![1.0, 0.0];
    b_vjp(&mut s, &mut s_bar, 0.1);
    approx::assert_relative_eq!(s_bar[0], expected, max_relative = 1e-14);
    assert_eq!(s_bar[1], 0.0);
}

const C: f64 = 2.0;

#[differentiate]
fn scale(x: f64, c: f64, n: usize) -> f64 {
    x * c * (n as f64)
}

#[differentiate]
fn caller(x: f64) -> f64 {
    scale(x, C, 3)
}

/// A named constant passed where the callee takes a float.
#[test]
fn constant_argument_to_a_differentiated_call() {
    let (v, g) = caller_grad(1.5);
    assert_eq!(v, 9.0);
    assert_eq!(g, 6.0);
}

/// Repeated element reads in one expression are loaded once; a block that shadows
/// the index inside the expression must not reuse the outer load.
#[differentiate]
fn repeated_reads(x: &[f64], j: usize) -> f64 {
    let v = {
        let j = j + 1;
        x[j] * x[j]
    } + x[j] * x[j];
    v + x[j]
}

#[test]
fn repeated_element_reads() {
    let x = [0.5, 1.5, -2.0];
    let (value, gradient) = repeated_reads_grad(&x, 0);
    assert_eq!(value, 1.5 * 1.5 + 0.25 + 0.5);
    assert_eq!(gradient, vec![2.0 * 0.5 + 1.0, 2.0 * 1.5, 0.0]);
}

/// A result whose only reverse reader is its own rule (`recip`'s derivative is
/// `-r * r`): the replay that recomputes it was dropped as unread, and it was not
/// saved either, so every iteration but the last used the last iteration's value
/// (found by the generated programs once they drew `recip`; before the fix the
/// gradient below was right only for the last element).
#[differentiate]
fn sum_of_recips(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let r = (1.0 + x[i] * x[i]).recip();
        s += r;
    }
    s
}

#[differentiate]
fn sum_of_gaussians(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let e = (-(x[i] * x[i])).exp();
        let r = (1.0 + x[i] * x[i]).sqrt();
        s += e + r;
    }
    s
}

#[test]
fn results_read_only_by_their_own_rule_in_a_loop() {
    let x = [0.3, -1.2, 2.0, 0.7];
    let (_, gradient) = sum_of_recips_grad(&x);
    for (g, x) in gradient.iter().zip(x) {
        let closed_form = -2.0 * x / (1.0 + x * x).powi(2);
        approx::assert_relative_eq!(*g, closed_form, max_relative = 1e-14);
    }
    let (_, gradient) = sum_of_gaussians_grad(&x);
    for (g, x) in gradient.iter().zip(x) {
        let closed_form = -2.0 * x * (-(x * x)).exp() + x / (1.0 + x * x).sqrt();
        approx::assert_relative_eq!(*g, closed_form, max_relative = 1e-14);
    }
}

/// A value whose rule reads its own result (`a = a.tanh()`) just before a loop that
/// overwrites it as a running sum. The loop's saves were dropped as unread (its old
/// values are all partial sums), on the grounds that the save of `a = a.tanh()`
/// gives back the value before the loop; but that save gives back the value before
/// `tanh`, and the rule needs the value after it, which the loop had overwritten.
/// Found by the generated programs (seed 41), reduced to this.
#[differentiate]
fn squashed_then_summed(x: &[f64]) -> f64 {
    let mut a = (x[0] * 0.5).tanh();
    a = a.tanh();
    for i in 0..2 {
        a = a * 0.5 + (x[3] * x[i]).tanh();
    }
    a
}

#[test]
fn own_result_read_before_a_loop_that_overwrites_it() {
    use num_dual::{Dual64, DualNum};
    let x = [0.22, 0.0, -0.94, 0.0];
    let (_, gradient) = squashed_then_summed_grad(&x);
    for (i, g) in gradient.iter().enumerate() {
        let seeded: Vec<Dual64> = (0..4)
            .map(|k| Dual64::new(x[k], if k == i { 1.0 } else { 0.0 }))
            .collect();
        let mut a = (seeded[0] * 0.5).tanh();
        a = a.tanh();
        for k in 0..2 {
            a = a * 0.5 + (seeded[3] * seeded[k]).tanh();
        }
        approx::assert_relative_eq!(*g, a.eps, max_relative = 1e-13, epsilon = 1e-15);
    }
}

/// Shapes around the two fixes above, in outer loops: `tanh` then a running sum in
/// an inner loop, and a chain of rules reading their own results (`exp`, `recip`,
/// `sqrt`) whose variables the next iteration overwrites, one of them in a branch.
#[differentiate]
fn squashed_in_an_outer_loop(x: &[f64]) -> f64 {
    let mut a = x[0];
    let mut s = 0.0;
    for k in 0..3 {
        a = (a + x[k]).tanh();
        for i in 0..4 {
            a = a * 0.5 + (x[i] * a).sin();
        }
        s += a * x[3];
        a = a.exp();
    }
    s + a
}

fn squashed_in_an_outer_loop_dual<D: num_dual::DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut a = x[0];
    let mut s = D::from(0.0);
    for k in 0..3 {
        a = (a + x[k]).tanh();
        for i in 0..4 {
            a = a * 0.5 + (x[i] * a).sin();
        }
        s += a * x[3];
        a = a.exp();
    }
    s + a
}

#[differentiate]
fn own_results_overwritten(x: &[f64]) -> f64 {
    let mut a = x[1];
    let mut b = x[3];
    for k in 0..4 {
        let e = (a * b).exp();
        a = e.recip() + x[k];
        b = (b * b + a).sqrt();
        if k == 2 {
            a = a.tanh();
        }
    }
    a * b
}

fn own_results_overwritten_dual<D: num_dual::DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut a = x[1];
    let mut b = x[3];
    for k in 0..4 {
        let e = (a * b).exp();
        a = e.recip() + x[k];
        b = (b * b + a).sqrt();
        if k == 2 {
            a = a.tanh();
        }
    }
    a * b
}

#[test]
fn rules_reading_their_results_in_nested_and_chained_loops() {
    use num_dual::Dual64;
    type Pair = (fn(&[f64]) -> (f64, Vec<f64>), fn(&[Dual64]) -> Dual64);
    let pairs: [Pair; 2] = [
        (
            squashed_in_an_outer_loop_grad,
            squashed_in_an_outer_loop_dual,
        ),
        (own_results_overwritten_grad, own_results_overwritten_dual),
    ];
    let x = [0.22, 0.61, -0.94, 0.35];
    for (grad, dual) in pairs {
        let (_, gradient) = grad(&x);
        for (i, g) in gradient.iter().enumerate() {
            let seeded: Vec<Dual64> = (0..4)
                .map(|k| Dual64::new(x[k], if k == i { 1.0 } else { 0.0 }))
                .collect();
            approx::assert_relative_eq!(*g, dual(&seeded).eps, max_relative = 1e-13);
        }
    }
}
