//! The [`Real`] trait: the floating-point operations the rules need, implemented for `f32` and `f64`.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A floating-point scalar that derivatives can be computed in: `f32` or `f64`.
///
/// Every method forwards to the inherent method of the same name on the primitive type,
/// so generic code computes bit-for-bit what `f64::sin` (or `f32::sin`) computes. The
/// trait exists so that each derivative rule is written once for both precisions;
/// derivatives of `f32` code are computed in `f32`.
///
/// ```
/// use autodiff_runtime::Real;
///
/// fn square_plus_one<T: Real>(x: T) -> T {
///     x * x + T::ONE
/// }
/// assert_eq!(square_plus_one(3.0_f64), 10.0);
/// assert_eq!(square_plus_one(0.5_f32).sqrt(), 1.25_f32.sqrt());
/// ```
pub trait Real:
    Copy
    + PartialOrd
    + Debug
    + Default
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// Additive identity, `0.0`.
    const ZERO: Self;
    /// Multiplicative identity, `1.0`.
    const ONE: Self;

    /// Converts from `f64` with `as` semantics (rounds to nearest for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` (exact for both `f32` and `f64`).
    fn to_f64(self) -> f64;
    /// The natural logarithm of 2, `consts::LN_2`.
    fn ln_2() -> Self;
    /// The natural logarithm of 10, `consts::LN_10`.
    fn ln_10() -> Self;
    /// Whether `self` is NaN, as the inherent `is_nan`.
    fn is_nan(self) -> bool;

    /// Sine, as the inherent `sin`.
    fn sin(self) -> Self;
    /// Cosine, as the inherent `cos`.
    fn cos(self) -> Self;
    /// Tangent, as the inherent `tan`.
    fn tan(self) -> Self;
    /// Arcsine, as the inherent `asin`.
    fn asin(self) -> Self;
    /// Arccosine, as the inherent `acos`.
    fn acos(self) -> Self;
    /// Arctangent, as the inherent `atan`.
    fn atan(self) -> Self;
    /// Four-quadrant arctangent of `self` (y) and `other` (x), as the inherent `atan2`.
    fn atan2(self, other: Self) -> Self;
    /// Hyperbolic sine, as the inherent `sinh`.
    fn sinh(self) -> Self;
    /// Hyperbolic cosine, as the inherent `cosh`.
    fn cosh(self) -> Self;
    /// Hyperbolic tangent, as the inherent `tanh`.
    fn tanh(self) -> Self;
    /// `e^self`, as the inherent `exp`.
    fn exp(self) -> Self;
    /// `2^self`, as the inherent `exp2`.
    fn exp2(self) -> Self;
    /// `e^self - 1`, as the inherent `exp_m1`.
    fn exp_m1(self) -> Self;
    /// Natural logarithm, as the inherent `ln`.
    fn ln(self) -> Self;
    /// `ln(1 + self)`, as the inherent `ln_1p`.
    fn ln_1p(self) -> Self;
    /// Base-10 logarithm, as the inherent `log10`.
    fn log10(self) -> Self;
    /// Base-2 logarithm, as the inherent `log2`.
    fn log2(self) -> Self;
    /// Square root, as the inherent `sqrt`.
    fn sqrt(self) -> Self;
    /// Cube root, as the inherent `cbrt`.
    fn cbrt(self) -> Self;
    /// Integer power, as the inherent `powi`.
    fn powi(self, n: i32) -> Self;
    /// Real power, as the inherent `powf`.
    fn powf(self, n: Self) -> Self;
    /// Absolute value, as the inherent `abs`.
    fn abs(self) -> Self;
    /// Sign (`1.0`, `-1.0` or NaN), as the inherent `signum`.
    fn signum(self) -> Self;
    /// Maximum (NaN-ignoring), as the inherent `max`.
    fn max(self, other: Self) -> Self;
    /// Minimum (NaN-ignoring), as the inherent `min`.
    fn min(self, other: Self) -> Self;
    /// `sqrt(self² + other²)` without undue overflow, as the inherent `hypot`.
    fn hypot(self, other: Self) -> Self;
    /// `1 / self`, as the inherent `recip`.
    fn recip(self) -> Self;
    /// Fused `self * a + b` (one rounding), as the inherent `mul_add`.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Round down, as the inherent `floor`.
    fn floor(self) -> Self;
    /// Round up, as the inherent `ceil`.
    fn ceil(self) -> Self;
    /// Round half away from zero, as the inherent `round`.
    fn round(self) -> Self;
}

macro_rules! forward_real {
    ($t:ident) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;

            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            #[inline]
            fn ln_2() -> Self {
                std::$t::consts::LN_2
            }
            #[inline]
            fn ln_10() -> Self {
                std::$t::consts::LN_10
            }
            #[inline]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
            forward_real!(@unary $t: sin cos tan asin acos atan sinh cosh tanh exp exp2 exp_m1
                ln ln_1p log10 log2 sqrt cbrt abs signum recip floor ceil round);
            forward_real!(@binary $t: atan2 powf max min hypot);
            #[inline]
            fn powi(self, n: i32) -> Self {
                $t::powi(self, n)
            }
            #[inline]
            fn mul_add(self, a: Self, b: Self) -> Self {
                $t::mul_add(self, a, b)
            }
        }
    };
    (@unary $t:ident: $($m:ident)*) => {$(
        #[inline]
        fn $m(self) -> Self {
            $t::$m(self)
        }
    )*};
    (@binary $t:ident: $($m:ident)*) => {$(
        #[inline]
        fn $m(self, other: Self) -> Self {
            $t::$m(self, other)
        }
    )*};
}

forward_real!(f32);
forward_real!(f64);
