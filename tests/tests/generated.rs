//! Property test over generated programs: `tests/build.rs` writes random programs
//! from the differentiable subset (straight-line code, loops, branches, array
//! writes), each also as a `num_dual::Dual64` oracle; proptest draws the inputs.
//! `f_grad` must match the dual-number gradient and its value must be
//! bit-identical to the function's (num-dual's own value may differ in the last
//! bit: it evaluates some primitives through other formulas).

use autodiff_runtime::differentiate;
use num_dual::{Dual64, DualNum, HyperDual64};
use proptest::prelude::*;

/// `(value, gradient, H·v)` from `(x, v)`.
type Hvp = fn(&[f64], &[f64]) -> (f64, Vec<f64>, Vec<f64>);

/// One generated program: its generated derivatives and its dual-number oracles.
pub struct Entry {
    pub name: &'static str,
    pub primal: fn(&[f64]) -> f64,
    pub grad: fn(&[f64]) -> (f64, Vec<f64>),
    pub jvp: fn(&[f64], &[f64]) -> (f64, f64),
    pub hvp: Hvp,
    pub dual: fn(&[Dual64]) -> Dual64,
    pub hyper: fn(&[HyperDual64]) -> HyperDual64,
}

type Oracle = fn(&[Dual64]) -> Dual64;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-10 * a.abs().max(b.abs()).max(1.0)
}

/// The generated programs, as written by `build.rs` (parenthesized freely).
#[allow(unused_parens, unused_assignments, clippy::all)]
mod programs {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/generated_programs.rs"));
}
use programs::PROGRAMS;

/// The gradient by forward-mode dual numbers, one direction per input.
fn dual_gradient(oracle: Oracle, x: &[f64]) -> (f64, Vec<f64>) {
    let mut gradient = Vec::with_capacity(x.len());
    let mut value = 0.0;
    for direction in 0..x.len() {
        let seeded: Vec<Dual64> = x
            .iter()
            .enumerate()
            .map(|(k, &xk)| Dual64::new(xk, if k == direction { 1.0 } else { 0.0 }))
            .collect();
        let out = oracle(&seeded);
        value = out.re();
        gradient.push(out.eps);
    }
    (value, gradient)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn generated_programs_match_dual_numbers(x in prop::collection::vec(-2.0f64..2.0, 4)) {
        for Entry { name, primal, grad, dual, .. } in PROGRAMS {
            let (value, gradient) = grad(&x);
            let (dual_value, dual_gradient) = dual_gradient(*dual, &x);
            // A loop-carried value can grow past where num-dual's own formulas
            // overflow (its `tanh` divides `sinh` by `cosh`): no oracle there.
            if !dual_gradient.iter().all(|d| d.is_finite()) {
                continue;
            }
            prop_assert_eq!(value.to_bits(), primal(&x).to_bits(), "{}: value differs from the function's", name);
            prop_assert!((value - dual_value).abs() <= 1e-12 * value.abs().max(1.0), "{}: value {} vs dual {}", name, value, dual_value);
            for (k, (g, d)) in gradient.iter().zip(&dual_gradient).enumerate() {
                let scale = g.abs().max(d.abs()).max(1.0);
                prop_assert!((g - d).abs() <= 1e-10 * scale, "{}: d/dx{} = {} but dual numbers give {}", name, k, g, d);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// `f_jvp` against dual numbers and `f_hvp` against hyper-dual numbers, along
    /// random directions.
    #[test]
    fn generated_programs_forward_and_second_order(
        x in prop::collection::vec(-2.0f64..2.0, 4),
        v in prop::collection::vec(-1.0f64..1.0, 4),
    ) {
        for Entry { name, primal, jvp, hvp, dual, hyper, .. } in PROGRAMS {
            let (value, tangent) = jvp(&x, &v);
            prop_assert_eq!(value.to_bits(), primal(&x).to_bits(), "{}: jvp value", name);
            let seeded: Vec<Dual64> = x.iter().zip(&v).map(|(&x, &v)| Dual64::new(x, v)).collect();
            let expected = dual(&seeded).eps;
            if !expected.is_finite() {
                continue;
            }
            prop_assert!(close(tangent, expected), "{}: jvp {} vs dual {}", name, tangent, expected);

            let (value, gradient, hv) = hvp(&x, &v);
            prop_assert_eq!(value.to_bits(), primal(&x).to_bits(), "{}: hvp value", name);
            // `H·v` sums terms as large as the gradient that may cancel (seed 16:
            // terms of ~470 give 1.27); both sides round at the scale of the terms.
            let terms = gradient.iter().fold(1.0f64, |m, g| m.max(g.abs()));
            for (i, hv_i) in hv.iter().enumerate() {
                let seeded: Vec<HyperDual64> = (0..x.len())
                    .map(|k| HyperDual64::new(x[k], if k == i { 1.0 } else { 0.0 }, v[k], 0.0))
                    .collect();
                let expected = hyper(&seeded).eps1eps2;
                if !expected.is_finite() {
                    continue;
                }
                prop_assert!(
                    (hv_i - expected).abs() <= 1e-10 * terms.max(hv_i.abs()).max(expected.abs()),
                    "{}: (Hv)[{}] = {} but hyper-dual numbers give {}", name, i, hv_i, expected
                );
            }
        }
    }
}
