//! Gradient checking against central finite differences: the one checker every numeric test uses.
//!
//! * [`fd_gradient`], [`fd_jacobian`], [`fd_directional`] estimate derivatives by
//!   central differences with Richardson extrapolation (about 1e-10 relative accuracy
//!   on smooth functions of moderate scale).
//! * [`check_gradient`], [`check_vjp`], [`check_jvp`] compare an analytic result with
//!   those estimates and return a [`GradientMismatch`] table on failure;
//!   [`assert_gradient`], [`assert_vjp`], [`assert_jvp`] panic with that table.
//! * [`close`] is the comparison, [`Tolerance`] its knobs, [`sample_points`] a
//!   deterministic source of test inputs.
//!
//! Everything works in `f64`; check `f32` code by converting at the boundary.
//!
//! ```
//! use autodiff_runtime::check::{assert_gradient, check_vjp, Tolerance};
//!
//! // f(x, y) = x² y, ∇f = (2xy, x²)
//! let f = |v: &[f64]| v[0] * v[0] * v[1];
//! assert_gradient(f, &[3.0, 2.0], &[12.0, 9.0]);
//!
//! // g(x, y) = (x + y, x y); seedᵀ J for seed (1, 2) is (1 + 2y, 1 + 2x)
//! let g = |v: &[f64]| vec![v[0] + v[1], v[0] * v[1]];
//! assert!(check_vjp(g, &[3.0, 2.0], &[1.0, 2.0], &[5.0, 7.0], Tolerance::default()).is_ok());
//! ```

use std::fmt;

/// How close an analytic derivative must be to its finite-difference estimate:
/// `|a - b| <= abs + rel · max(|a|, |b|)` (see [`close`]).
///
/// ```
/// use autodiff_runtime::check::Tolerance;
/// let t = Tolerance::default();
/// assert_eq!((t.rel, t.abs), (1e-6, 1e-7));
/// let loose = Tolerance::new(1e-3, 1e-5); // for f32 code, say
/// assert_eq!(loose.rel, 1e-3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Relative part, scaled by the larger magnitude of the two values.
    pub rel: f64,
    /// Absolute part, for values near zero.
    pub abs: f64,
}

impl Tolerance {
    /// A tolerance with the given relative and absolute parts.
    ///
    /// ```
    /// use autodiff_runtime::check::Tolerance;
    /// assert_eq!(Tolerance::new(1e-4, 0.0).abs, 0.0);
    /// ```
    pub const fn new(rel: f64, abs: f64) -> Tolerance {
        Tolerance { rel, abs }
    }
}

impl Default for Tolerance {
    /// `rel = 1e-6`, `abs = 1e-7`: far above the finite-difference error on smooth
    /// `f64` functions, far below any real derivative bug.
    fn default() -> Tolerance {
        Tolerance::new(1e-6, 1e-7)
    }
}

/// Whether `a` and `b` agree within `tol`: `|a - b| <= abs + rel · max(|a|, |b|)`.
///
/// Non-finite values are compared exactly: two NaNs are close (both sides agree that
/// the derivative is undefined), a NaN and a number never are, and an infinity is close
/// only to the same infinity.
///
/// ```
/// use autodiff_runtime::check::{close, Tolerance};
/// let t = Tolerance::default();
/// assert!(close(1.0, 1.0 + 1e-9, t));
/// assert!(!close(1.0, 1.001, t));
/// assert!(close(f64::NAN, f64::NAN, t));
/// assert!(!close(f64::NAN, 0.0, t));
/// assert!(!close(f64::INFINITY, 1e300, t));
/// ```
pub fn close(a: f64, b: f64, tol: Tolerance) -> bool {
    close_within(a, b, tol, 0.0)
}

/// [`close`] with `extra` added to the allowance (the finite-difference noise estimate).
fn close_within(a: f64, b: f64, tol: Tolerance, extra: f64) -> bool {
    allowed_and_ok(a, b, tol, extra).1
}

fn allowed(a: f64, b: f64, tol: Tolerance, extra: f64) -> f64 {
    tol.abs + extra + tol.rel * a.abs().max(b.abs())
}

fn allowed_and_ok(a: f64, b: f64, tol: Tolerance, extra: f64) -> (f64, bool) {
    if a.is_nan() || b.is_nan() {
        return (f64::NAN, a.is_nan() && b.is_nan());
    }
    if a.is_infinite() || b.is_infinite() {
        return (0.0, a == b);
    }
    let allowed = allowed(a, b, tol, extra);
    (allowed, (a - b).abs() <= allowed)
}

/// A finite-difference derivative estimate with an estimate of its rounding noise.
struct Estimate {
    values: Vec<f64>,
    noise: Vec<f64>,
}

/// Derivative at `t = 0` of `phi(t)` (vector-valued, `m` outputs) by central differences
/// at steps `h` and `h/2` (made exact around `base`), combined by Richardson
/// extrapolation to cancel the `O(h²)` term.
fn richardson<P: FnMut(f64) -> Vec<f64>>(mut phi: P, base: f64, h: f64, m: usize) -> Estimate {
    let exact = |h: f64| (base + h) - base;
    let (h1, h2) = (exact(h), exact(h / 2.0));
    let mut eval = |t: f64| {
        let y = phi(t);
        assert_eq!(
            y.len(),
            m,
            "finite differences: the function returned {} outputs at a perturbed input, but {m} at the base point",
            y.len()
        );
        y
    };
    let (p1, m1, p2, m2) = (eval(h1), eval(-h1), eval(h2), eval(-h2));
    let r2 = (h1 / h2) * (h1 / h2);
    let mut values = Vec::with_capacity(m);
    let mut noise = Vec::with_capacity(m);
    for k in 0..m {
        let d1 = (p1[k] - m1[k]) / (2.0 * h1);
        let d2 = (p2[k] - m2[k]) / (2.0 * h2);
        values.push((r2 * d2 - d1) / (r2 - 1.0));
        // Rounding in f itself (a few ulps of its magnitude), amplified by 1/h.
        let scale = p1[k]
            .abs()
            .max(m1[k].abs())
            .max(p2[k].abs())
            .max(m2[k].abs());
        noise.push(16.0 * f64::EPSILON * scale / h2);
    }
    Estimate { values, noise }
}

/// The base step for coordinate value `x`: `cbrt(ε) · max(1, |x|)`.
fn step_for(x: f64) -> f64 {
    f64::EPSILON.cbrt() * x.abs().max(1.0)
}

/// One [`Estimate`] per input coordinate (the Jacobian's columns).
fn fd_columns<F: FnMut(&[f64]) -> Vec<f64>>(mut f: F, x: &[f64]) -> Vec<Estimate> {
    let m = f(x).len();
    let mut buf = x.to_vec();
    (0..x.len())
        .map(|i| {
            let xi = x[i];
            let est = richardson(
                |t| {
                    buf[i] = xi + t;
                    f(&buf)
                },
                xi,
                step_for(xi),
                m,
            );
            buf[i] = xi;
            est
        })
        .collect()
}

fn scalar_columns<F: FnMut(&[f64]) -> f64>(mut f: F, x: &[f64]) -> Vec<(f64, f64)> {
    fd_columns(|v| vec![f(v)], x)
        .into_iter()
        .map(|e| (e.values[0], e.noise[0]))
        .collect()
}

/// The gradient of a scalar function by central finite differences.
///
/// Coordinate `i` uses the step `h = cbrt(ε) · max(1, |x_i|)` (made exactly
/// representable as `(x_i + h) - x_i`) and `h/2`, combined by Richardson extrapolation.
/// `f` is evaluated `4·n + 1` times; make sure `x_i ± h` stays inside its domain.
///
/// ```
/// use autodiff_runtime::check::fd_gradient;
/// let g = fd_gradient(|v| v[0].sin() * v[1], &[0.5, 2.0]);
/// assert!((g[0] - 2.0 * 0.5_f64.cos()).abs() < 1e-10);
/// assert!((g[1] - 0.5_f64.sin()).abs() < 1e-10);
/// ```
pub fn fd_gradient<F: FnMut(&[f64]) -> f64>(f: F, x: &[f64]) -> Vec<f64> {
    scalar_columns(f, x).into_iter().map(|(d, _)| d).collect()
}

/// The Jacobian of a vector function by central finite differences, as rows (one per
/// output, each with one entry per input). Same steps as [`fd_gradient`].
///
/// # Panics
///
/// If `f` returns outputs of different lengths at different points.
///
/// ```
/// use autodiff_runtime::check::fd_jacobian;
/// let j = fd_jacobian(|v| vec![v[0] * v[1], v[0] + 2.0 * v[1], 1.0], &[3.0, 4.0]);
/// assert_eq!(j.len(), 3);
/// assert!((j[0][0] - 4.0).abs() < 1e-9 && (j[0][1] - 3.0).abs() < 1e-9);
/// assert!((j[1][1] - 2.0).abs() < 1e-9);
/// assert_eq!(j[2], [0.0, 0.0]);
/// ```
pub fn fd_jacobian<F: FnMut(&[f64]) -> Vec<f64>>(mut f: F, x: &[f64]) -> Vec<Vec<f64>> {
    let m = f(x).len();
    let cols = fd_columns(f, x);
    (0..m)
        .map(|k| cols.iter().map(|c| c.values[k]).collect())
        .collect()
}

/// Estimates `J·v` for `t ↦ f(x + t·v)` by central differences with Richardson
/// extrapolation; the step is `cbrt(ε) · max(1, maxᵢ|x_i|) / maxᵢ|v_i|`. A zero `v`
/// gives zeros.
///
/// # Panics
///
/// If `v.len() != x.len()`, or `f` returns outputs of different lengths.
///
/// ```
/// use autodiff_runtime::check::fd_directional;
/// let jv = fd_directional(|p| vec![p[0] * p[1], p[0].exp()], &[1.0, 2.0], &[1.0, -1.0]);
/// assert!((jv[0] - 1.0).abs() < 1e-9); // y·1 + x·(-1)
/// assert!((jv[1] - 1.0_f64.exp()).abs() < 1e-9);
/// ```
pub fn fd_directional<F: FnMut(&[f64]) -> Vec<f64>>(f: F, x: &[f64], v: &[f64]) -> Vec<f64> {
    fd_directional_estimate(f, x, v).values
}

fn fd_directional_estimate<F: FnMut(&[f64]) -> Vec<f64>>(
    mut f: F,
    x: &[f64],
    v: &[f64],
) -> Estimate {
    assert_eq!(
        v.len(),
        x.len(),
        "fd_directional: direction has {} entries but the input has {}",
        v.len(),
        x.len()
    );
    let m = f(x).len();
    let vmax = v.iter().fold(0.0_f64, |a, b| a.max(b.abs()));
    if vmax == 0.0 {
        return Estimate {
            values: vec![0.0; m],
            noise: vec![0.0; m],
        };
    }
    let xmax = x.iter().fold(1.0_f64, |a, b| a.max(b.abs()));
    let h = f64::EPSILON.cbrt() * xmax / vmax;
    let mut buf = x.to_vec();
    richardson(
        |t| {
            for ((b, xi), vi) in buf.iter_mut().zip(x).zip(v) {
                *b = xi + t * vi;
            }
            f(&buf)
        },
        0.0,
        h,
        m,
    )
}

/// One compared entry of a [`GradientMismatch`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entry {
    /// Position in the gradient (or output, for [`check_jvp`]).
    pub index: usize,
    /// The value under test (NaN if it was missing).
    pub analytic: f64,
    /// The finite-difference estimate (NaN if it was missing).
    pub numeric: f64,
    /// The largest accepted `|analytic - numeric|` (tolerance plus estimated
    /// finite-difference noise).
    pub allowed: f64,
    /// Whether the entry passed.
    pub ok: bool,
}

/// A failed derivative check: every compared entry, for a readable report.
///
/// Its `Display` is a table of index, analytic value, finite-difference value, error
/// and allowance, marking the entries that failed.
///
/// ```
/// use autodiff_runtime::check::{check_gradient, Tolerance};
/// let err = check_gradient(|v| v[0] * v[0], &[3.0], &[5.0], Tolerance::default()).unwrap_err();
/// assert_eq!(err.failures().count(), 1);
/// assert!(err.to_string().contains("finite-difference"));
/// ```
#[derive(Clone, Debug)]
pub struct GradientMismatch {
    what: &'static str,
    entries: Vec<Entry>,
    tol: Tolerance,
    note: Option<String>,
}

impl GradientMismatch {
    /// All compared entries, passing ones included.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !e.ok)
    }

    /// The tolerance that was used.
    pub fn tolerance(&self) -> Tolerance {
        self.tol
    }
}

/// At most this many rows are shown; beyond it only failures are.
const MAX_ROWS: usize = 40;

impl fmt::Display for GradientMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        write!(
            f,
            "{} check failed: {failed} of {} entries differ from central finite differences \
             (tolerance rel {:e}, abs {:e})",
            self.what,
            self.entries.len(),
            self.tol.rel,
            self.tol.abs
        )?;
        if let Some(note) = &self.note {
            write!(f, "\n{note}")?;
        }
        write!(
            f,
            "\n{:>6}  {:>24}  {:>24}  {:>10}  {:>10}",
            "index", "analytic", "finite-difference", "error", "allowed"
        )?;
        let only_failures = self.entries.len() > MAX_ROWS;
        let mut shown = 0;
        for e in &self.entries {
            if only_failures && e.ok {
                continue;
            }
            if shown == MAX_ROWS {
                write!(f, "\n   ... ({} more rows not shown)", failed - shown)?;
                break;
            }
            shown += 1;
            write!(
                f,
                "\n{:>6}  {:>24.16e}  {:>24.16e}  {:>10.3e}  {:>10.3e}{}",
                e.index,
                e.analytic,
                e.numeric,
                (e.analytic - e.numeric).abs(),
                e.allowed,
                if e.ok { "" } else { "  <-- mismatch" }
            )?;
        }
        if only_failures {
            write!(f, "\n(passing rows omitted)")?;
        }
        Ok(())
    }
}

impl std::error::Error for GradientMismatch {}

/// Compares `analytic` with `numeric` entry by entry (lengths may differ: missing
/// entries are NaN and fail).
fn compare(
    what: &'static str,
    analytic: &[f64],
    numeric: &[(f64, f64)],
    tol: Tolerance,
    note: Option<String>,
) -> Result<(), GradientMismatch> {
    let n = analytic.len().max(numeric.len());
    let entries: Vec<Entry> = (0..n)
        .map(|index| {
            let a = analytic.get(index).copied();
            let (num, noise) = numeric.get(index).copied().unzip();
            let (a, num) = (a.unwrap_or(f64::NAN), num.unwrap_or(f64::NAN));
            let (allowed, ok) = allowed_and_ok(a, num, tol, noise.unwrap_or(0.0));
            let ok = ok && index < analytic.len() && index < numeric.len();
            Entry {
                index,
                analytic: a,
                numeric: num,
                allowed,
                ok,
            }
        })
        .collect();
    if note.is_none() && entries.iter().all(|e| e.ok) {
        return Ok(());
    }
    Err(GradientMismatch {
        what,
        entries,
        tol,
        note,
    })
}

fn length_note(what: &str, got: usize, expected: usize, of: &str) -> Option<String> {
    (got != expected).then(|| format!("{what} has {got} entries but {of} has {expected}"))
}

/// Checks the gradient `grad` of the scalar function `f` at `x` against
/// [`fd_gradient`]-style estimates.
///
/// An entry passes when [`close`] holds, with the estimated rounding noise of the finite
/// differences (tiny unless `|f|` is much larger than its derivatives) added to the
/// absolute tolerance. A length mismatch between `grad` and `x` fails.
///
/// ```
/// use autodiff_runtime::check::{check_gradient, Tolerance};
/// let f = |v: &[f64]| v[0].exp() + v[1].ln();
/// let x = [0.3, 2.0];
/// assert!(check_gradient(f, &x, &[0.3_f64.exp(), 0.5], Tolerance::default()).is_ok());
/// assert!(check_gradient(f, &x, &[0.3_f64.exp(), 0.6], Tolerance::default()).is_err());
/// ```
pub fn check_gradient<F: FnMut(&[f64]) -> f64>(
    f: F,
    x: &[f64],
    grad: &[f64],
    tol: Tolerance,
) -> Result<(), GradientMismatch> {
    let numeric = scalar_columns(f, x);
    let note = length_note("the gradient", grad.len(), x.len(), "the input");
    compare("gradient", grad, &numeric, tol, note)
}

/// Panics with the [`GradientMismatch`] table unless [`check_gradient`] passes with the
/// default [`Tolerance`].
///
/// ```
/// use autodiff_runtime::check::assert_gradient;
/// assert_gradient(|v| v[0] * v[1], &[2.0, 5.0], &[5.0, 2.0]);
/// ```
#[track_caller]
pub fn assert_gradient<F: FnMut(&[f64]) -> f64>(f: F, x: &[f64], grad: &[f64]) {
    assert_gradient_tol(f, x, grad, Tolerance::default());
}

/// [`assert_gradient`] with an explicit tolerance.
///
/// # Panics
///
/// With the mismatch table when the check fails.
///
/// ```
/// use autodiff_runtime::check::{assert_gradient_tol, Tolerance};
/// // an f32 gradient, checked loosely
/// let g32 = 2.0_f32 * 1.1_f32;
/// assert_gradient_tol(|v| v[0] * v[0], &[1.1], &[g32 as f64], Tolerance::new(1e-5, 1e-6));
/// ```
#[track_caller]
pub fn assert_gradient_tol<F: FnMut(&[f64]) -> f64>(f: F, x: &[f64], grad: &[f64], tol: Tolerance) {
    if let Err(e) = check_gradient(f, x, grad, tol) {
        panic!("{e}");
    }
}

/// Checks a vector-Jacobian product: `vjp` should be `seedᵀ·J` where `J` is the
/// Jacobian of `f` at `x` (estimated as in [`fd_jacobian`]).
///
/// Fails when `seed` does not have one entry per output or `vjp` one per input.
///
/// ```
/// use autodiff_runtime::check::{check_vjp, Tolerance};
/// let f = |v: &[f64]| vec![v[0] * v[1], v[1].sin()];
/// let (x, y) = (2.0_f64, 0.5_f64);
/// let seed = [1.0, 3.0];
/// let vjp = [y, x + 3.0 * y.cos()];
/// assert!(check_vjp(f, &[x, y], &seed, &vjp, Tolerance::default()).is_ok());
/// ```
pub fn check_vjp<F: FnMut(&[f64]) -> Vec<f64>>(
    mut f: F,
    x: &[f64],
    seed: &[f64],
    vjp: &[f64],
    tol: Tolerance,
) -> Result<(), GradientMismatch> {
    let m = f(x).len();
    let cols = fd_columns(f, x);
    let numeric: Vec<(f64, f64)> = cols
        .iter()
        .map(|c| {
            let value = c.values.iter().zip(seed).map(|(d, s)| d * s).sum();
            let noise = c.noise.iter().zip(seed).map(|(n, s)| n * s.abs()).sum();
            (value, noise)
        })
        .collect();
    let note = length_note("the seed", seed.len(), m, "the output")
        .or_else(|| length_note("the vjp", vjp.len(), x.len(), "the input"));
    compare("vector-Jacobian product", vjp, &numeric, tol, note)
}

/// Panics with the [`GradientMismatch`] table unless [`check_vjp`] passes with the
/// default [`Tolerance`].
///
/// # Panics
///
/// With the mismatch table when the check fails.
///
/// ```
/// use autodiff_runtime::check::assert_vjp;
/// assert_vjp(|v| vec![2.0 * v[0], v[0] * v[1]], &[1.0, 3.0], &[1.0, 1.0], &[5.0, 1.0]);
/// ```
#[track_caller]
pub fn assert_vjp<F: FnMut(&[f64]) -> Vec<f64>>(f: F, x: &[f64], seed: &[f64], vjp: &[f64]) {
    if let Err(e) = check_vjp(f, x, seed, vjp, Tolerance::default()) {
        panic!("{e}");
    }
}

/// Checks a Jacobian-vector product: `jvp` should be `J·v` for the Jacobian `J` of `f`
/// at `x`, estimated as in [`fd_directional`].
///
/// ```
/// use autodiff_runtime::check::{check_jvp, Tolerance};
/// let f = |p: &[f64]| vec![p[0] * p[1]];
/// assert!(check_jvp(f, &[2.0, 3.0], &[1.0, 1.0], &[5.0], Tolerance::default()).is_ok());
/// ```
pub fn check_jvp<F: FnMut(&[f64]) -> Vec<f64>>(
    f: F,
    x: &[f64],
    v: &[f64],
    jvp: &[f64],
    tol: Tolerance,
) -> Result<(), GradientMismatch> {
    let est = fd_directional_estimate(f, x, v);
    let numeric: Vec<(f64, f64)> = est.values.into_iter().zip(est.noise).collect();
    let note = length_note("the jvp", jvp.len(), numeric.len(), "the output");
    compare("Jacobian-vector product", jvp, &numeric, tol, note)
}

/// Panics with the [`GradientMismatch`] table unless [`check_jvp`] passes with the
/// default [`Tolerance`].
///
/// # Panics
///
/// With the mismatch table when the check fails.
///
/// ```
/// use autodiff_runtime::check::assert_jvp;
/// assert_jvp(|p| vec![p[0].sin()], &[0.0], &[2.0], &[2.0]);
/// ```
#[track_caller]
pub fn assert_jvp<F: FnMut(&[f64]) -> Vec<f64>>(f: F, x: &[f64], v: &[f64], jvp: &[f64]) {
    if let Err(e) = check_jvp(f, x, v, jvp, Tolerance::default()) {
        panic!("{e}");
    }
}

/// `n` deterministic pseudo-random points, uniform in `[lo, hi)`, from a splitmix64
/// stream seeded with `seed`; the same arguments give the same points on every platform.
///
/// ```
/// use autodiff_runtime::check::sample_points;
/// let xs = sample_points(42, 5, -1.0, 1.0);
/// assert_eq!(xs.len(), 5);
/// assert!(xs.iter().all(|&x| (-1.0..1.0).contains(&x)));
/// assert_eq!(xs, sample_points(42, 5, -1.0, 1.0));
/// ```
pub fn sample_points(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let u = (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            let x = lo + u * (hi - lo);
            // Rounding may land exactly on `hi`; keep the interval half-open.
            if x < hi {
                x
            } else {
                lo
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_accuracy_on_smooth_functions() {
        type Case = (fn(f64) -> f64, fn(f64) -> f64, f64);
        let cases: [Case; 5] = [
            (f64::sin, f64::cos, 0.7),
            (f64::exp, f64::exp, 3.0),
            (f64::ln, f64::recip, 0.01),
            (|x| x.powi(5), |x| 5.0 * x.powi(4), 123.0),
            (f64::atan, |x| 1.0 / (1.0 + x * x), -30.0),
        ];
        for (f, df, x) in cases {
            let g = fd_gradient(|v| f(v[0]), &[x])[0];
            let rel = (g - df(x)).abs() / df(x).abs();
            assert!(rel < 1e-8, "x = {x}: fd {g} vs {} (rel {rel:e})", df(x));
        }
    }

    #[test]
    fn jacobian_and_directional_agree() {
        let f = |p: &[f64]| vec![p[0] * p[1].cos(), p[2].exp() - p[0], p[1] * p[2] * p[0]];
        let x = [0.3, -1.2, 0.8];
        let v = [0.5, 1.0, -2.0];
        let j = fd_jacobian(f, &x);
        let jv = fd_directional(f, &x, &v);
        for k in 0..3 {
            let expect: f64 = (0..3).map(|i| j[k][i] * v[i]).sum();
            assert!(close(jv[k], expect, Tolerance::new(1e-8, 1e-9)));
        }
        assert_eq!(fd_directional(f, &x, &[0.0; 3]), vec![0.0; 3]);
    }

    #[test]
    fn check_detects_wrong_entry_and_reports_it() {
        let f = |v: &[f64]| v[0] * v[1] + v[2];
        let err = check_gradient(f, &[1.0, 2.0, 3.0], &[2.0, 1.5, 1.0], Tolerance::default())
            .unwrap_err();
        let failed: Vec<usize> = err.failures().map(|e| e.index).collect();
        assert_eq!(failed, [1]);
        let text = err.to_string();
        assert!(text.contains("1 of 3 entries"), "{text}");
        assert!(text.contains("<-- mismatch"), "{text}");
        assert_eq!(text.matches("<-- mismatch").count(), 1, "{text}");
    }

    #[test]
    fn check_rejects_length_mismatch() {
        let f = |v: &[f64]| v[0] + v[1];
        let err = check_gradient(f, &[1.0, 2.0], &[1.0], Tolerance::default()).unwrap_err();
        assert!(err
            .to_string()
            .contains("the gradient has 1 entries but the input has 2"));
        let g = |v: &[f64]| vec![v[0], v[1]];
        assert!(check_vjp(g, &[1.0, 2.0], &[1.0], &[1.0, 0.0], Tolerance::default()).is_err());
        assert!(check_jvp(g, &[1.0, 2.0], &[1.0, 0.0], &[1.0], Tolerance::default()).is_err());
    }

    #[test]
    fn large_values_small_gradients_do_not_fail_spuriously() {
        let f = |v: &[f64]| 1e8 + 1e-3 * v[0];
        assert_gradient(f, &[0.5], &[1e-3]);
    }

    #[test]
    #[should_panic(expected = "gradient check failed")]
    fn assert_gradient_panics() {
        assert_gradient(|v| v[0] * v[0], &[1.0], &[3.0]);
    }

    #[test]
    fn long_tables_show_only_failures() {
        let n = 100;
        let x = vec![1.0; n];
        let mut grad = vec![1.0; n];
        grad[57] = 2.0;
        let err = check_gradient(|v| v.iter().sum(), &x, &grad, Tolerance::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("passing rows omitted"));
        assert_eq!(text.lines().count(), 4, "{text}");
    }

    #[test]
    fn close_semantics() {
        let t = Tolerance::new(1e-3, 0.0);
        assert!(close(1000.0, 1000.9, t));
        assert!(!close(1000.0, 1001.1, t));
        assert!(close(f64::INFINITY, f64::INFINITY, t));
        assert!(!close(f64::INFINITY, f64::NEG_INFINITY, t));
        assert!(close(0.0, -0.0, t));
        assert!(!close(0.0, 1e-300, t));
    }

    #[test]
    fn sample_points_are_spread_and_deterministic() {
        let xs = sample_points(7, 1000, 2.0, 3.0);
        assert!(xs.iter().all(|&x| (2.0..3.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / 1000.0;
        assert!((mean - 2.5).abs() < 0.05);
        assert_ne!(sample_points(8, 3, 0.0, 1.0), sample_points(7, 3, 0.0, 1.0));
    }
}
