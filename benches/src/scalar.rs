//! One number trait for the generic copies of the objectives that the peers run:
//! `f64` (a sanity check), `num_dual::Dual64` (forward mode, one direction a pass) and
//! `echidna::Reverse<f64>` (the reverse-mode tape peer).
//!
//! Only the operations the four objectives use are here. `max` compares primal
//! values and picks one operand, ties to the first, as `f64::max` does for
//! `#[differentiate]`.

use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};

use num_dual::{Dual64, DualNum};

/// The arithmetic the generic objectives need.
pub trait Scalar:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
{
    /// A constant (passive) value.
    fn cst(v: f64) -> Self;
    /// The primal value.
    fn re(&self) -> f64;
    /// `e^self`.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// The larger operand by primal value, ties to `self`.
    fn max(self, other: Self) -> Self {
        if self.re() >= other.re() {
            self
        } else {
            other
        }
    }
}

impl Scalar for f64 {
    fn cst(v: f64) -> Self {
        v
    }
    fn re(&self) -> f64 {
        *self
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    fn sin(self) -> Self {
        f64::sin(self)
    }
}

impl Scalar for Dual64 {
    fn cst(v: f64) -> Self {
        Dual64::from_re(v)
    }
    fn re(&self) -> f64 {
        self.re
    }
    fn exp(self) -> Self {
        DualNum::exp(&self)
    }
    fn ln(self) -> Self {
        DualNum::ln(&self)
    }
    fn tanh(self) -> Self {
        DualNum::tanh(&self)
    }
    fn sin(self) -> Self {
        DualNum::sin(&self)
    }
}

impl Scalar for echidna::Reverse<f64> {
    fn cst(v: f64) -> Self {
        echidna::Reverse::constant(v)
    }
    fn re(&self) -> f64 {
        num_traits::ToPrimitive::to_f64(self).unwrap_or(f64::NAN)
    }
    fn exp(self) -> Self {
        num_traits::Float::exp(self)
    }
    fn ln(self) -> Self {
        num_traits::Float::ln(self)
    }
    fn tanh(self) -> Self {
        num_traits::Float::tanh(self)
    }
    fn sin(self) -> Self {
        num_traits::Float::sin(self)
    }
}

/// Runs `f` on `Dual64` copies of `x` with tangent `dir`, returning the directional
/// derivative.
pub fn dual_directional(x: &[f64], dir: &[f64], f: impl FnOnce(&[Dual64]) -> Dual64) -> f64 {
    let xd: Vec<Dual64> = x
        .iter()
        .zip(dir)
        .map(|(&a, &t)| Dual64::new(a, t))
        .collect();
    f(&xd).eps
}

/// The gradient of `f` at `x` by echidna's reverse-mode tape.
pub fn echidna_grad(
    x: &[f64],
    f: impl FnOnce(&[echidna::Reverse<f64>]) -> echidna::Reverse<f64>,
) -> Vec<f64> {
    echidna::grad(f, x)
}
