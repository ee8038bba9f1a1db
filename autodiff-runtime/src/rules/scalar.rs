//! Scalar rules: arithmetic operators and the `f32`/`f64` methods, one `_vjp` and one `_jvp` each.

use super::Real;

#[inline]
fn two<T: Real>() -> T {
    T::ONE + T::ONE
}

/// Defines the reverse and forward rule of a unary method, with docs and a runnable example.
///
/// `deriv` is the derivative as shown to readers; `edge` documents domain and edge cases;
/// `at` is a point (inside the domain) that the doc example checks against finite
/// differences.
macro_rules! unary_rules {
    ($(
        $op:ident, $vjp:ident, $jvp:ident, deriv $deriv:literal, at $at:literal, edge $edge:literal;
        vjp($vx:ident, $vg:ident) $vbody:block
        jvp($jx:ident, $jdx:ident) $jbody:block
    )*) => {$(
        #[doc = concat!(
            "Reverse rule for [`f64::", stringify!($op), "`] (and `f32::", stringify!($op), "`): ",
            "given the input `x` and the adjoint `g` of `x.", stringify!($op), "()`, ",
            "returns the adjoint contribution `g · ", $deriv, "`.\n\n",
            "Derivative: `d/dx ", stringify!($op), "(x) = ", $deriv, "`. ", $edge, "\n\n",
            "The forward counterpart is [`", stringify!($jvp), "`].\n\n",
            "# Example\n\n",
            "```\n",
            "use autodiff_runtime::check::{close, fd_gradient, Tolerance};\n",
            "use autodiff_runtime::rules::{", stringify!($jvp), ", ", stringify!($vjp), "};\n\n",
            "let x = ", $at, "_f64;\n",
            "let fd = fd_gradient(|v| v[0].", stringify!($op), "(), &[x])[0];\n",
            "assert!(close(", stringify!($vjp), "(x, 1.0), fd, Tolerance::default()));\n",
            "let (y, dy) = ", stringify!($jvp), "(x, 1.0);\n",
            "assert_eq!(y, x.", stringify!($op), "());\n",
            "assert!(close(dy, fd, Tolerance::default()));\n",
            "```"
        )]
        #[inline]
        pub fn $vjp<T: Real>($vx: T, $vg: T) -> T $vbody

        #[doc = concat!(
            "Forward rule for [`f64::", stringify!($op), "`] (and `f32::", stringify!($op), "`): ",
            "given `x` and its tangent `dx`, returns `(x.", stringify!($op), "(), dx · ", $deriv, ")`; ",
            "the value is bit-identical to `x.", stringify!($op), "()`.\n\n",
            "Derivative: `d/dx ", stringify!($op), "(x) = ", $deriv, "`. ", $edge, "\n\n",
            "See [`", stringify!($vjp), "`] for an example."
        )]
        #[inline]
        pub fn $jvp<T: Real>($jx: T, $jdx: T) -> (T, T) $jbody
    )*};
}

/// Reverse rule for unary minus `-x`: returns `-g`.
///
/// Derivative: `d/dx (-x) = -1` everywhere.
///
/// ```
/// use autodiff_runtime::rules::neg_vjp;
/// assert_eq!(neg_vjp(3.0_f64, 2.0), -2.0);
/// ```
#[inline]
pub fn neg_vjp<T: Real>(x: T, g: T) -> T {
    let _ = x;
    -g
}

/// Forward rule for unary minus: returns `(-x, -dx)`.
///
/// ```
/// use autodiff_runtime::rules::neg_jvp;
/// assert_eq!(neg_jvp(3.0_f32, 0.5), (-3.0, -0.5));
/// ```
#[inline]
pub fn neg_jvp<T: Real>(x: T, dx: T) -> (T, T) {
    (-x, -dx)
}

unary_rules! {
    sin, sin_vjp, sin_jvp, deriv "cos(x)", at "0.5", edge "Defined everywhere.";
    vjp(x, g) { g * x.cos() }
    jvp(x, dx) { (x.sin(), dx * x.cos()) }

    cos, cos_vjp, cos_jvp, deriv "-sin(x)", at "0.5", edge "Defined everywhere.";
    vjp(x, g) { -(g * x.sin()) }
    jvp(x, dx) { (x.cos(), -(dx * x.sin())) }

    tan, tan_vjp, tan_jvp, deriv "1 + tan²(x)", at "0.5",
        edge "Computed from `tan(x)` as `1 + t·t` (equal to `1/cos²(x)`); it grows without bound near the poles.";
    vjp(x, g) { let t = x.tan(); g * (T::ONE + t * t) }
    jvp(x, dx) { let t = x.tan(); (t, dx * (T::ONE + t * t)) }

    asin, asin_vjp, asin_jvp, deriv "1 / sqrt(1 - x²)", at "0.5",
        edge "Computed as `1 / sqrt((1 - x)(1 + x))` for accuracy near `|x| = 1`, where it is `+inf`; NaN for `|x| > 1`.";
    vjp(x, g) { g / ((T::ONE - x) * (T::ONE + x)).sqrt() }
    jvp(x, dx) { (x.asin(), dx / ((T::ONE - x) * (T::ONE + x)).sqrt()) }

    acos, acos_vjp, acos_jvp, deriv "-1 / sqrt(1 - x²)", at "0.5",
        edge "Computed as `-1 / sqrt((1 - x)(1 + x))`; `-inf` at `|x| = 1`, NaN for `|x| > 1`.";
    vjp(x, g) { -(g / ((T::ONE - x) * (T::ONE + x)).sqrt()) }
    jvp(x, dx) { (x.acos(), -(dx / ((T::ONE - x) * (T::ONE + x)).sqrt())) }

    atan, atan_vjp, atan_jvp, deriv "1 / (1 + x²)", at "0.5",
        edge "Defined everywhere; tends to 0 (exactly 0 once `x²` overflows).";
    vjp(x, g) { g / (T::ONE + x * x) }
    jvp(x, dx) { (x.atan(), dx / (T::ONE + x * x)) }

    sinh, sinh_vjp, sinh_jvp, deriv "cosh(x)", at "0.5", edge "Defined everywhere.";
    vjp(x, g) { g * x.cosh() }
    jvp(x, dx) { (x.sinh(), dx * x.cosh()) }

    cosh, cosh_vjp, cosh_jvp, deriv "sinh(x)", at "0.5", edge "Defined everywhere.";
    vjp(x, g) { g * x.sinh() }
    jvp(x, dx) { (x.cosh(), dx * x.sinh()) }

    tanh, tanh_vjp, tanh_jvp, deriv "1 - tanh²(x)", at "0.5",
        edge "Computed from `t = tanh(x)` as `(1 - t)(1 + t)`, which keeps its relative \
              precision as `tanh` saturates (`1 - t·t` loses it); exactly 0 once `t` is ±1.";
    vjp(x, g) { let t = x.tanh(); g * ((T::ONE - t) * (T::ONE + t)) }
    jvp(x, dx) { let t = x.tanh(); (t, dx * ((T::ONE - t) * (T::ONE + t))) }

    exp, exp_vjp, exp_jvp, deriv "exp(x)", at "0.5",
        edge "Uses the value `exp(x)` itself, so it is as accurate as the primal and overflows exactly when it does.";
    vjp(x, g) { g * x.exp() }
    jvp(x, dx) { let y = x.exp(); (y, dx * y) }

    exp2, exp2_vjp, exp2_jvp, deriv "2^x · ln 2", at "0.5",
        edge "Uses the value `2^x` itself.";
    vjp(x, g) { g * (x.exp2() * T::ln_2()) }
    jvp(x, dx) { let y = x.exp2(); (y, dx * (y * T::ln_2())) }

    exp_m1, exp_m1_vjp, exp_m1_jvp, deriv "exp(x)", at "0.5",
        edge "Computed as `exp(x)`, not `exp_m1(x) + 1`, which would cancel catastrophically for very negative `x`.";
    vjp(x, g) { g * x.exp() }
    jvp(x, dx) { (x.exp_m1(), dx * x.exp()) }

    ln, ln_vjp, ln_jvp, deriv "1 / x", at "0.5",
        edge "`±inf` at `x = ±0`, as the formula gives; for negative `x` the primal is NaN while `1/x` stays finite.";
    vjp(x, g) { g / x }
    jvp(x, dx) { (x.ln(), dx / x) }

    ln_1p, ln_1p_vjp, ln_1p_jvp, deriv "1 / (1 + x)", at "0.5",
        edge "`inf` at `x = -1`.";
    vjp(x, g) { g / (T::ONE + x) }
    jvp(x, dx) { (x.ln_1p(), dx / (T::ONE + x)) }

    log10, log10_vjp, log10_jvp, deriv "1 / (x · ln 10)", at "0.5",
        edge "`±inf` at `x = ±0`.";
    vjp(x, g) { g / (x * T::ln_10()) }
    jvp(x, dx) { (x.log10(), dx / (x * T::ln_10())) }

    log2, log2_vjp, log2_jvp, deriv "1 / (x · ln 2)", at "0.5",
        edge "`±inf` at `x = ±0`.";
    vjp(x, g) { g / (x * T::ln_2()) }
    jvp(x, dx) { (x.log2(), dx / (x * T::ln_2())) }

    sqrt, sqrt_vjp, sqrt_jvp, deriv "1 / (2·sqrt(x))", at "0.5",
        edge "At `x = 0` this is `+inf`, as the formula gives (so a zero adjoint or tangent there gives NaN); NaN for negative `x`.";
    vjp(x, g) { g / (two::<T>() * x.sqrt()) }
    jvp(x, dx) { let y = x.sqrt(); (y, dx / (two::<T>() * y)) }

    cbrt, cbrt_vjp, cbrt_jvp, deriv "1 / (3·cbrt(x)²)", at "0.5",
        edge "Defined for negative `x` too; `+inf` at `x = 0`, as the formula gives.";
    vjp(x, g) { let c = x.cbrt(); g / ((two::<T>() + T::ONE) * c * c) }
    jvp(x, dx) { let c = x.cbrt(); (c, dx / ((two::<T>() + T::ONE) * c * c)) }

    abs, abs_vjp, abs_jvp, deriv "signum(x)", at "0.5",
        edge "One-sided choice: `abs'(0) = 0` (for both `+0.0` and `-0.0`), so the rule returns exactly 0 there; NaN for NaN `x`.";
    vjp(x, g) { abs_scale(x, g) }
    jvp(x, dx) { (x.abs(), abs_scale(x, dx)) }

    signum, signum_vjp, signum_jvp, deriv "0", at "0.5",
        edge "Convention: 0 everywhere, including at the jump at 0 (and for NaN); the rule returns exactly 0 whatever `g` is.";
    vjp(x, g) { let _ = (x, g); T::ZERO }
    jvp(x, dx) { let _ = dx; (x.signum(), T::ZERO) }

    recip, recip_vjp, recip_jvp, deriv "-1 / x²", at "0.5",
        edge "Computed as `-r·r` with `r = 1/x`; `-inf` at `x = 0`.";
    vjp(x, g) { let r = x.recip(); -(g * r * r) }
    jvp(x, dx) { let r = x.recip(); (r, -(dx * r * r)) }

    floor, floor_vjp, floor_jvp, deriv "0", at "0.5",
        edge "Convention: 0 everywhere, including at the jumps (integers); the rule returns exactly 0 whatever `g` is.";
    vjp(x, g) { let _ = (x, g); T::ZERO }
    jvp(x, dx) { let _ = dx; (x.floor(), T::ZERO) }

    ceil, ceil_vjp, ceil_jvp, deriv "0", at "0.5",
        edge "Convention: 0 everywhere, including at the jumps (integers); the rule returns exactly 0 whatever `g` is.";
    vjp(x, g) { let _ = (x, g); T::ZERO }
    jvp(x, dx) { let _ = dx; (x.ceil(), T::ZERO) }

    round, round_vjp, round_jvp, deriv "0", at "0.25",
        edge "Convention: 0 everywhere, including at the jumps (half-integers); the rule returns exactly 0 whatever `g` is.";
    vjp(x, g) { let _ = (x, g); T::ZERO }
    jvp(x, dx) { let _ = dx; (x.round(), T::ZERO) }
}

/// The logistic function `1 / (1 + e^(-x))`, computed as the idiom
/// `1.0 / (1.0 + (-x).exp())` reads, so bit for bit what code written that way
/// computes. `#[differentiate]` lowers that idiom (and `1.0 / (f64::exp(-x) + 1.0)`)
/// to this function, differentiated by [`logistic_vjp_from_output`].
///
/// ```
/// use autodiff_runtime::rules::logistic;
///
/// let z = 0.3_f64;
/// assert_eq!(logistic(z), 1.0 / (1.0 + (-z).exp()));
/// assert_eq!(logistic(0.0_f32), 0.5);
/// ```
#[inline]
pub fn logistic<T: Real>(x: T) -> T {
    T::ONE / (T::ONE + (-x).exp())
}

/// Reverse rule for [`logistic`]: returns `g · y (1 - y)` with `y = logistic(x)`.
///
/// Derivative: `d/dx logistic(x) = y (1 - y)`, the rule JAX's `logistic` uses. Where
/// `y` rounds to 1 (`x` above about 36.8 in `f64`) it is exactly 0, like `tanh`'s where `tanh`
/// saturates; the true derivative there is below `e^(-37)`.
///
/// ```
/// use autodiff_runtime::check::{close, fd_gradient, Tolerance};
/// use autodiff_runtime::rules::{logistic, logistic_jvp, logistic_vjp};
///
/// let x = 0.5_f64;
/// let fd = fd_gradient(|v| logistic(v[0]), &[x])[0];
/// assert!(close(logistic_vjp(x, 1.0), fd, Tolerance::default()));
/// let (y, dy) = logistic_jvp(x, 1.0);
/// assert_eq!(y, logistic(x));
/// assert!(close(dy, fd, Tolerance::default()));
/// ```
#[inline]
pub fn logistic_vjp<T: Real>(x: T, g: T) -> T {
    logistic_vjp_from_output(logistic(x), g)
}

/// Forward rule for [`logistic`]: returns `(logistic(x), dx · y (1 - y))`. See
/// [`logistic_vjp`].
#[inline]
pub fn logistic_jvp<T: Real>(x: T, dx: T) -> (T, T) {
    let y = logistic(x);
    (y, dx * (y * (T::ONE - y)))
}

/// Reverse rule for [`logistic`] from its output: given `y = logistic(x)` and the
/// adjoint `g` of `y`, returns `g · y (1 - y)`, equal to [`logistic_vjp`]`(x, g)`
/// without evaluating the exponential again.
///
/// ```
/// use autodiff_runtime::rules::{logistic, logistic_vjp, logistic_vjp_from_output};
///
/// let x = 0.5_f64;
/// assert_eq!(logistic_vjp_from_output(logistic(x), 0.75), logistic_vjp(x, 0.75));
/// ```
#[inline]
pub fn logistic_vjp_from_output<T: Real>(y: T, g: T) -> T {
    g * (y * (T::ONE - y))
}

/// `x as f32`, in an `f64` computation: `x` rounded to the nearest `f32`, as an
/// `f64` again (`(x as f32) as f64`, what `x as f32` followed by any use in `f64`
/// computes). The macro lowers `e as f32` in an `f64` function to it.
///
/// ```
/// use autodiff_runtime::rules::to_f32_precision;
///
/// assert_eq!(to_f32_precision(0.33), (0.33_f32) as f64);
/// ```
#[inline]
pub fn to_f32_precision(x: f64) -> f64 {
    (x as f32) as f64
}

/// Reverse rule for [`to_f32_precision`]: `g`. A cast's derivative is taken as
/// one (JAX's `convert_element_type` passes the cotangent through likewise), not
/// as that of the step function rounding is.
///
/// ```
/// use autodiff_runtime::rules::to_f32_precision_vjp;
///
/// assert_eq!(to_f32_precision_vjp(0.33, 2.5), 2.5);
/// ```
#[inline]
pub fn to_f32_precision_vjp(x: f64, g: f64) -> f64 {
    let _ = x;
    g
}

/// Forward rule for [`to_f32_precision`]: `(to_f32_precision(x), dx)`.
#[inline]
pub fn to_f32_precision_jvp(x: f64, dx: f64) -> (f64, f64) {
    (to_f32_precision(x), dx)
}

/// `signum(x) · g` with the convention `abs'(±0) = 0` (and NaN for NaN `x`).
#[inline]
fn abs_scale<T: Real>(x: T, g: T) -> T {
    if x > T::ZERO {
        g
    } else if x < T::ZERO {
        -g
    } else if x == T::ZERO {
        T::ZERO
    } else {
        x
    }
}

/// Reverse rule for `a + b`: returns `(g, g)`.
///
/// ```
/// use autodiff_runtime::rules::add_vjp;
/// assert_eq!(add_vjp(1.0_f64, 2.0, 3.0), (3.0, 3.0));
/// ```
#[inline]
pub fn add_vjp<T: Real>(a: T, b: T, g: T) -> (T, T) {
    let _ = (a, b);
    (g, g)
}

/// Forward rule for `a + b`: returns `(a + b, da + db)`.
///
/// ```
/// use autodiff_runtime::rules::add_jvp;
/// assert_eq!(add_jvp(1.0_f64, 0.5, 2.0, 0.25), (3.0, 0.75));
/// ```
#[inline]
pub fn add_jvp<T: Real>(a: T, da: T, b: T, db: T) -> (T, T) {
    (a + b, da + db)
}

/// Reverse rule for `a - b`: returns `(g, -g)`.
///
/// ```
/// use autodiff_runtime::rules::sub_vjp;
/// assert_eq!(sub_vjp(1.0_f64, 2.0, 3.0), (3.0, -3.0));
/// ```
#[inline]
pub fn sub_vjp<T: Real>(a: T, b: T, g: T) -> (T, T) {
    let _ = (a, b);
    (g, -g)
}

/// Forward rule for `a - b`: returns `(a - b, da - db)`.
///
/// ```
/// use autodiff_runtime::rules::sub_jvp;
/// assert_eq!(sub_jvp(1.0_f64, 0.5, 2.0, 0.25), (-1.0, 0.25));
/// ```
#[inline]
pub fn sub_jvp<T: Real>(a: T, da: T, b: T, db: T) -> (T, T) {
    (a - b, da - db)
}

/// Reverse rule for `a * b`: returns `(g·b, g·a)`.
///
/// ```
/// use autodiff_runtime::rules::mul_vjp;
/// assert_eq!(mul_vjp(3.0_f64, 4.0, 0.5), (2.0, 1.5));
/// ```
#[inline]
pub fn mul_vjp<T: Real>(a: T, b: T, g: T) -> (T, T) {
    (g * b, g * a)
}

/// Forward rule for `a * b`: returns `(a * b, da·b + a·db)` (no fused multiply-add).
///
/// ```
/// use autodiff_runtime::rules::mul_jvp;
/// assert_eq!(mul_jvp(3.0_f64, 1.0, 4.0, 0.0), (12.0, 4.0));
/// ```
#[inline]
pub fn mul_jvp<T: Real>(a: T, da: T, b: T, db: T) -> (T, T) {
    (a * b, da * b + a * db)
}

/// Reverse rule for `a / b`: returns `(g/b, -(g/b)·(a/b))`.
///
/// Partial derivatives `1/b` and `-a/b²`; the second is computed through the quotient
/// `a/b` so that it does not overflow or underflow where `b²` would. At `b = 0` both are
/// infinite or NaN, as the formula gives.
///
/// ```
/// use autodiff_runtime::rules::div_vjp;
/// assert_eq!(div_vjp(3.0_f64, 2.0, 1.0), (0.5, -0.75));
/// ```
#[inline]
pub fn div_vjp<T: Real>(a: T, b: T, g: T) -> (T, T) {
    let ga = g / b;
    (ga, -(ga * (a / b)))
}

/// Forward rule for `a / b`: returns `(q, (da - q·db) / b)` with `q = a / b`.
///
/// ```
/// use autodiff_runtime::rules::div_jvp;
/// assert_eq!(div_jvp(3.0_f64, 1.0, 2.0, 1.0), (1.5, -0.25));
/// ```
#[inline]
pub fn div_jvp<T: Real>(a: T, da: T, b: T, db: T) -> (T, T) {
    let q = a / b;
    (q, (da - q * db) / b)
}

/// Reverse rule for `y.atan2(x)`: returns `(g·x/r², -g·y/r²)` with `r = hypot(x, y)`.
///
/// Computed as `(x/r)/r` and `(y/r)/r` to avoid overflow of `x² + y²`. At the origin,
/// where `atan2` is discontinuous, the convention is a zero gradient `(0, 0)`.
///
/// ```
/// use autodiff_runtime::rules::atan2_vjp;
/// assert_eq!(atan2_vjp(0.0_f64, 2.0, 1.0), (0.5, 0.0));
/// assert_eq!(atan2_vjp(0.0_f64, 0.0, 1.0), (0.0, 0.0));
/// ```
#[inline]
pub fn atan2_vjp<T: Real>(y: T, x: T, g: T) -> (T, T) {
    let r = x.hypot(y);
    if r == T::ZERO {
        return (T::ZERO, T::ZERO);
    }
    (g * (x / r / r), -(g * (y / r / r)))
}

/// Forward rule for `y.atan2(x)`: returns `(y.atan2(x), (x·dy - y·dx) / r²)`.
///
/// Same scaling and origin convention (zero tangent) as [`atan2_vjp`].
///
/// ```
/// use autodiff_runtime::rules::atan2_jvp;
/// let (v, dv) = atan2_jvp(1.0_f64, 1.0, 1.0, 0.0);
/// assert_eq!(v, 1.0_f64.atan2(1.0));
/// assert!((dv - 0.5).abs() < 1e-15);
/// ```
#[inline]
pub fn atan2_jvp<T: Real>(y: T, dy: T, x: T, dx: T) -> (T, T) {
    let v = y.atan2(x);
    let r = x.hypot(y);
    if r == T::ZERO {
        return (v, T::ZERO);
    }
    (v, ((x / r) * dy - (y / r) * dx) / r)
}

/// `∂/∂x x^y = y·x^(y-1)`, with 0 for `y == 0` (the derivative of the constant 1).
#[inline]
fn powf_dx<T: Real>(x: T, y: T) -> T {
    if y == T::ZERO {
        T::ZERO
    } else {
        y * x.powf(y - T::ONE)
    }
}

/// `∂/∂y x^y = x^y·ln x` given `z = x^y`, with 0 for `x == 0`.
#[inline]
fn powf_dy<T: Real>(x: T, z: T) -> T {
    if x == T::ZERO {
        T::ZERO
    } else {
        z * x.ln()
    }
}

/// Reverse rule for `x.powf(y)`: returns `(g·y·x^(y-1), g·x^y·ln x)`.
///
/// Conventions: the `x` part is 0 when `y == 0` (`x^0` is constant, even at `x = 0`);
/// the `y` part is 0 when `x == 0`. For negative `x` the `y` part is NaN (`ln x`), as
/// the mathematics says; the `x` part is still correct for integer `y`. At `x = 0` with
/// `0 < y < 1` the `x` part is `+inf`, as the formula gives.
///
/// ```
/// use autodiff_runtime::rules::powf_vjp;
/// let (dx, dy) = powf_vjp(2.0_f64, 3.0, 1.0);
/// assert_eq!(dx, 12.0);
/// assert!((dy - 8.0 * 2.0_f64.ln()).abs() < 1e-14);
/// assert_eq!(powf_vjp(0.0_f64, 2.0, 1.0), (0.0, 0.0));
/// ```
#[inline]
pub fn powf_vjp<T: Real>(x: T, y: T, g: T) -> (T, T) {
    (g * powf_dx(x, y), g * powf_dy(x, x.powf(y)))
}

/// Forward rule for `x.powf(y)`: returns `(x^y, dx·y·x^(y-1) + dy·x^y·ln x)`.
///
/// Same conventions as [`powf_vjp`]; a term whose tangent is zero is left out, so a
/// constant exponent with a negative base does not produce NaN.
///
/// ```
/// use autodiff_runtime::rules::powf_jvp;
/// assert_eq!(powf_jvp(-2.0_f64, 1.0, 3.0, 0.0), (-8.0, 12.0));
/// ```
#[inline]
pub fn powf_jvp<T: Real>(x: T, dx: T, y: T, dy: T) -> (T, T) {
    let z = x.powf(y);
    let mut t = T::ZERO;
    if dx != T::ZERO {
        t = dx * powf_dx(x, y);
    }
    if dy != T::ZERO {
        t += dy * powf_dy(x, z);
    }
    (z, t)
}

/// Reverse rule for `x.powi(n)`: returns `g·n·x^(n-1)`, and 0 when `n == 0`.
///
/// ```
/// use autodiff_runtime::rules::powi_vjp;
/// assert_eq!(powi_vjp(2.0_f64, 3, 1.0), 12.0);
/// assert_eq!(powi_vjp(0.0_f64, 0, 1.0), 0.0);
/// ```
#[inline]
pub fn powi_vjp<T: Real>(x: T, n: i32, g: T) -> T {
    g * powi_dx(x, n)
}

/// Forward rule for `x.powi(n)`: returns `(x.powi(n), dx·n·x^(n-1))`, tangent 0 when
/// `n == 0`.
///
/// ```
/// use autodiff_runtime::rules::powi_jvp;
/// assert_eq!(powi_jvp(2.0_f32, 0.5, 3), (8.0, 6.0));
/// ```
#[inline]
pub fn powi_jvp<T: Real>(x: T, dx: T, n: i32) -> (T, T) {
    (x.powi(n), dx * powi_dx(x, n))
}

#[inline]
fn powi_dx<T: Real>(x: T, n: i32) -> T {
    match n {
        0 => T::ZERO,
        1 => T::ONE,
        // `n - 1` would overflow; x^(n-1) = x^n / x.
        i32::MIN => T::from_f64(f64::from(n)) * (x.powi(n) / x),
        _ => T::from_f64(f64::from(n)) * x.powi(n - 1),
    }
}

/// Whether `a.max(b)` returned `a` (ties and a NaN `b` count as `a`).
#[inline]
fn max_picks_first<T: Real>(a: T, b: T) -> bool {
    a >= b || b.is_nan()
}

/// Whether `a.min(b)` returned `a` (ties and a NaN `b` count as `a`).
#[inline]
fn min_picks_first<T: Real>(a: T, b: T) -> bool {
    a <= b || b.is_nan()
}

/// Reverse rule for `a.max(b)`: the whole adjoint goes to the argument that was returned.
///
/// One-sided choices: on a tie (`a == b`, including `0.0` against `-0.0`) the gradient
/// goes to the first argument `a`. When one argument is NaN, `max` returns the other
/// one, and so does the gradient; when both are NaN it goes to `a`.
///
/// ```
/// use autodiff_runtime::rules::max_vjp;
/// assert_eq!(max_vjp(1.0_f64, 2.0, 1.0), (0.0, 1.0));
/// assert_eq!(max_vjp(2.0_f64, 2.0, 1.0), (1.0, 0.0)); // tie: first argument
/// assert_eq!(max_vjp(f64::NAN, 2.0, 1.0), (0.0, 1.0)); // NaN: the returned one
/// ```
#[inline]
pub fn max_vjp<T: Real>(a: T, b: T, g: T) -> (T, T) {
    if max_picks_first(a, b) {
        (g, T::ZERO)
    } else {
        (T::ZERO, g)
    }
}

/// Forward rule for `a.max(b)`: returns `(a.max(b), tangent of the returned argument)`.
///
/// Same one-sided choices as [`max_vjp`].
///
/// ```
/// use autodiff_runtime::rules::max_jvp;
/// assert_eq!(max_jvp(1.0_f64, 0.1, 2.0, 0.2), (2.0, 0.2));
/// ```
#[inline]
pub fn max_jvp<T: Real>(a: T, da: T, b: T, db: T) -> (T, T) {
    (a.max(b), if max_picks_first(a, b) { da } else { db })
}

/// Reverse rule for `a.min(b)`: the whole adjoint goes to the argument that was returned.
///
/// One-sided choices: on a tie (`a == b`) the gradient goes to the first argument `a`.
/// When one argument is NaN, `min` returns the other one, and so does the gradient;
/// when both are NaN it goes to `a`.
///
/// ```
/// use autodiff_runtime::rules::min_vjp;
/// assert_eq!(min_vjp(1.0_f64, 2.0, 1.0), (1.0, 0.0));
/// assert_eq!(min_vjp(2.0_f64, 2.0, 1.0), (1.0, 0.0)); // tie: first argument
/// assert_eq!(min_vjp(1.0_f64, f64::NAN, 1.0), (1.0, 0.0));
/// ```
#[inline]
pub fn min_vjp<T: Real>(a: T, b: T, g: T) -> (T, T) {
    if min_picks_first(a, b) {
        (g, T::ZERO)
    } else {
        (T::ZERO, g)
    }
}

/// Forward rule for `a.min(b)`: returns `(a.min(b), tangent of the returned argument)`.
///
/// Same one-sided choices as [`min_vjp`].
///
/// ```
/// use autodiff_runtime::rules::min_jvp;
/// assert_eq!(min_jvp(1.0_f64, 0.1, 2.0, 0.2), (1.0, 0.1));
/// ```
#[inline]
pub fn min_jvp<T: Real>(a: T, da: T, b: T, db: T) -> (T, T) {
    (a.min(b), if min_picks_first(a, b) { da } else { db })
}

/// Reverse rule for `x.hypot(y)`: returns `(g·x/h, g·y/h)` with `h = hypot(x, y)`.
///
/// Convention: at the origin, where `hypot` has a cone point, the gradient is `(0, 0)`.
///
/// ```
/// use autodiff_runtime::rules::hypot_vjp;
/// assert_eq!(hypot_vjp(3.0_f64, 4.0, 1.0), (0.6, 0.8));
/// assert_eq!(hypot_vjp(0.0_f64, 0.0, 1.0), (0.0, 0.0));
/// ```
#[inline]
pub fn hypot_vjp<T: Real>(x: T, y: T, g: T) -> (T, T) {
    let h = x.hypot(y);
    if h == T::ZERO {
        return (T::ZERO, T::ZERO);
    }
    (g * (x / h), g * (y / h))
}

/// Forward rule for `x.hypot(y)`: returns `(h, (x·dx + y·dy) / h)`, tangent 0 at the origin.
///
/// ```
/// use autodiff_runtime::rules::hypot_jvp;
/// assert_eq!(hypot_jvp(3.0_f64, 1.0, 4.0, 0.0), (5.0, 0.6));
/// ```
#[inline]
pub fn hypot_jvp<T: Real>(x: T, dx: T, y: T, dy: T) -> (T, T) {
    let h = x.hypot(y);
    if h == T::ZERO {
        return (h, T::ZERO);
    }
    (h, (x / h) * dx + (y / h) * dy)
}

/// Reverse rule for `a.mul_add(b, c)` (`a·b + c` with one rounding): returns `(g·b, g·a, g)`.
///
/// ```
/// use autodiff_runtime::rules::mul_add_vjp;
/// assert_eq!(mul_add_vjp(2.0_f64, 3.0, 4.0, 1.0), (3.0, 2.0, 1.0));
/// ```
#[inline]
pub fn mul_add_vjp<T: Real>(a: T, b: T, c: T, g: T) -> (T, T, T) {
    let _ = c;
    (g * b, g * a, g)
}

/// Forward rule for `a.mul_add(b, c)`: returns `(a.mul_add(b, c), da·b + a·db + dc)`.
///
/// The value is the fused `mul_add` itself; the tangent uses plain (unfused) arithmetic.
///
/// ```
/// use autodiff_runtime::rules::mul_add_jvp;
/// assert_eq!(mul_add_jvp(2.0_f64, 1.0, 3.0, 0.0, 4.0, 1.0), (10.0, 4.0));
/// ```
#[inline]
pub fn mul_add_jvp<T: Real>(a: T, da: T, b: T, db: T, c: T, dc: T) -> (T, T) {
    (a.mul_add(b, c), da * b + a * db + dc)
}

/// Defines reverse rules that take the primitive's *output* `y` instead of its input:
/// for functions whose derivative is cheapest from the value they return, the reverse
/// sweep keeps `y` (which it often keeps anyway) and does not evaluate the function a
/// second time. Each gives bit for bit what the input-based rule gives for the same
/// `x`, since it applies the same formula to the same `y`.
macro_rules! output_rules {
    ($(
        $op:ident, $vjp:ident, $input_rule:ident, deriv $deriv:literal, at $at:literal;
        vjp($y:ident, $g:ident) $body:block
    )*) => {$(
        #[doc = concat!(
            "Reverse rule for [`f64::", stringify!($op), "`] from its output: given ",
            "`y = x.", stringify!($op), "()` and the adjoint `g` of `y`, returns the adjoint ",
            "contribution `g · ", $deriv, "`, equal to [`", stringify!($input_rule), "`]`(x, g)` ",
            "without evaluating `", stringify!($op), "` again.\n\n",
            "# Example\n\n",
            "```\n",
            "use autodiff_runtime::rules::{", stringify!($input_rule), ", ", stringify!($vjp), "};\n\n",
            "let x = ", $at, "_f64;\n",
            "assert_eq!(", stringify!($vjp), "(x.", stringify!($op), "(), 0.75), ",
            stringify!($input_rule), "(x, 0.75));\n",
            "```"
        )]
        #[inline]
        pub fn $vjp<T: Real>($y: T, $g: T) -> T $body
    )*};
}

output_rules! {
    tanh, tanh_vjp_from_output, tanh_vjp, deriv "(1 - y)(1 + y)", at "0.5";
    vjp(t, g) { g * ((T::ONE - t) * (T::ONE + t)) }

    exp, exp_vjp_from_output, exp_vjp, deriv "y", at "0.5";
    vjp(y, g) { g * y }

    exp2, exp2_vjp_from_output, exp2_vjp, deriv "y · ln 2", at "0.5";
    vjp(y, g) { g * (y * T::ln_2()) }

    sqrt, sqrt_vjp_from_output, sqrt_vjp, deriv "1 / (2·y)", at "0.5";
    vjp(y, g) { g / (two::<T>() * y) }

    cbrt, cbrt_vjp_from_output, cbrt_vjp, deriv "1 / (3·y²)", at "0.5";
    vjp(c, g) { g / ((two::<T>() + T::ONE) * c * c) }

    recip, recip_vjp_from_output, recip_vjp, deriv "-y²", at "0.5";
    vjp(r, g) { -(g * r * r) }
}
