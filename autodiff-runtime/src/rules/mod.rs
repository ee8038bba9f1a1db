//! Primitive derivative rules: the [`Real`] scalar trait and one `<op>_jvp` / `<op>_vjp` pair per primitive.
//!
//! Generated code calls these rules by absolute path
//! (`::autodiff_runtime::rules::sin_vjp(x, g)`); they are ordinary functions and may be
//! called by hand as well.
//!
//! * A **reverse rule** (`<op>_vjp`, vector-Jacobian product) takes the primal *inputs*
//!   of the operation and the adjoint `g` of its output, and returns the contribution to
//!   the adjoint of each input (a tuple for several inputs, in argument order).
//! * A **forward rule** (`<op>_jvp`, Jacobian-vector product) takes each input followed
//!   by its tangent and returns `(value, tangent)`. The value is computed with exactly
//!   the same operation as the primal code, so it is bit-identical to the `std` method
//!   or operator.
//!
//! All rules are generic over [`Real`] (`f32` and `f64`), `#[inline]`, allocation-free
//! and free of global state. The conventions at non-differentiable points are listed in
//! the [crate documentation](crate#non-differentiable-points) and repeated on each rule.
//!
//! ```
//! use autodiff_runtime::rules::{mul_vjp, sin_jvp, sin_vjp};
//!
//! // d/dx sin(x) = cos(x)
//! assert_eq!(sin_vjp(0.25_f64, 1.0), 0.25_f64.cos());
//! let (y, dy) = sin_jvp(0.25_f32, 2.0);
//! assert_eq!((y, dy), (0.25_f32.sin(), 2.0 * 0.25_f32.cos()));
//!
//! // z = a * b: the adjoint g flows to a as g * b and to b as g * a.
//! assert_eq!(mul_vjp(3.0_f64, 4.0, 1.0), (4.0, 3.0));
//! ```

mod real;
mod scalar;

pub use real::Real;
pub use scalar::*;

#[cfg(test)]
mod tests;
