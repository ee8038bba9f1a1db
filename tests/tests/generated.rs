//! Property test over generated programs: `tests/build.rs` writes random programs
//! from the differentiable subset (straight-line code, loops, branches, array
//! writes, calls of a helper that writes through `&mut`), each also as a
//! `num_dual::Dual64` oracle; proptest draws the inputs.
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

/// A gradient entry beyond which no oracle settles the last digits: some generated
/// loops compound products and reach gradients of 1e10 to 1e19 (seed 44), where
/// two correct evaluation orders already differ by 1e-7. Such inputs are skipped.
const EXPLOSIVE: f64 = 1e8;

/// `tanh` for the oracles, its derivatives taken from `t = tanh(x)` as
/// `(1 - t)(1 + t)` and `-2t(1 - t)(1 + t)`. num-dual divides `sinh` by `cosh`, and
/// the quotient rule's difference of two squares loses about 1e-8 of relative
/// precision at |x| ≈ 10 (seed 44: `H·v` off by 1.4e-8 against a program whose
/// hyper-dual numbers with this `tanh` agree with `f_hvp` to 1e-16), and is NaN
/// once `cosh` overflows.
pub trait OracleTanh {
    fn tanh_exact(self) -> Self;
}

impl OracleTanh for Dual64 {
    fn tanh_exact(self) -> Self {
        let t = self.re.tanh();
        Dual64::new(t, self.eps * ((1.0 - t) * (1.0 + t)))
    }
}

impl OracleTanh for HyperDual64 {
    fn tanh_exact(self) -> Self {
        let t = self.re.tanh();
        let first = (1.0 - t) * (1.0 + t);
        let second = -2.0 * t * first;
        HyperDual64::new(
            t,
            self.eps1 * first,
            self.eps2 * first,
            self.eps1eps2 * first + self.eps1 * self.eps2 * second,
        )
    }
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
            prop_assert_eq!(value.to_bits(), primal(&x).to_bits(), "{}: value differs from the function's", name);
            // A loop-carried value can grow past where num-dual's own formulas
            // overflow: no oracle there.
            if !dual_gradient.iter().all(|d| d.is_finite()) {
                continue;
            }
            prop_assert!((value - dual_value).abs() <= 1e-12 * value.abs().max(1.0), "{}: value {} vs dual {}", name, value, dual_value);
            // A component can be the sum of terms as large as the largest one, which
            // cancel (seed 44: terms of 5e10 give 0.13): both sides round at the
            // scale of the terms.
            let terms = dual_gradient.iter().fold(1.0f64, |m, d| m.max(d.abs()));
            if terms > EXPLOSIVE {
                continue;
            }
            for (k, (g, d)) in gradient.iter().zip(&dual_gradient).enumerate() {
                let scale = g.abs().max(d.abs()).max(terms);
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
            let (value, gradient, hv) = hvp(&x, &v);
            prop_assert_eq!(value.to_bits(), primal(&x).to_bits(), "{}: hvp value", name);
            let (value, tangent) = jvp(&x, &v);
            prop_assert_eq!(value.to_bits(), primal(&x).to_bits(), "{}: jvp value", name);
            // `J·v` and `H·v` sum terms as large as the gradient, which may cancel
            // (seed 16: terms of ~470 give 1.27); both sides round at the scale of
            // the terms.
            let terms = gradient.iter().fold(1.0f64, |m, g| m.max(g.abs()));
            if terms > EXPLOSIVE {
                continue;
            }

            let seeded: Vec<Dual64> = x.iter().zip(&v).map(|(&x, &v)| Dual64::new(x, v)).collect();
            let expected = dual(&seeded).eps;
            if !expected.is_finite() {
                continue;
            }
            prop_assert!(
                (tangent - expected).abs() <= 1e-10 * terms.max(tangent.abs()).max(expected.abs()),
                "{}: jvp {} vs dual {}", name, tangent, expected
            );

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
