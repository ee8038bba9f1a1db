//! Runtime of the `#[differentiate]` source-to-source automatic differentiation: derivative rules, the saved-value stack, gradient checking.
//!
//! Add this one crate as a dependency and annotate a function:
//!
//! ```
//! use autodiff_runtime::differentiate;
//!
//! #[differentiate]
//! fn f(x: f64, y: f64) -> f64 {
//!     (x + y) * x.sin()
//! }
//!
//! let (value, (dx, dy)) = f_grad(1.0, 2.0);
//! assert_eq!(value, f(1.0, 2.0));
//! autodiff_runtime::check::assert_gradient(|v| f(v[0], v[1]), &[1.0, 2.0], &[dx, dy]);
//! ```
//!
//! # Modes
//!
//! * **Reverse mode** (`#[differentiate]`, generating `f_grad` and `f_vjp`) runs `f`
//!   forward, then walks its statements backwards, propagating adjoints with the
//!   `<op>_vjp` rules of [`rules`]. One reverse pass gives the gradient with respect to
//!   all inputs, or any vector-Jacobian product `seedᵀ·J`. Values that the backward
//!   walk needs but the forward walk overwrites (in loops) are saved on a
//!   [`stack::Stack`], whose memory is reused from call to call; loop-free code saves
//!   nothing.
//! * **Forward mode** (`#[differentiate(forward)]`, generating `f_jvp`) carries a tangent
//!   beside every value with the `<op>_jvp` rules, computing `J·v` in one pass.
//!
//! The generated functions compute values bit-identical to `f`, so branches and loop
//! counts fall the same way; the derivatives are those of the path that runs.
//! [`check`] verifies any of them against finite differences.
//!
//! # Which generated function to use
//!
//! | you need | call | cost |
//! | --- | --- | --- |
//! | the gradient of a scalar loss with respect to many inputs | `f_grad(params)` | one forward and one reverse sweep, whatever the number of inputs |
//! | `seedᵀ·J` for a vector result or in-place state (adjoint of a time step, backpropagating through a simulation you drive yourself) | `f_vjp(params, shadows, seed)` | the same |
//! | the gradient with respect to some parameters only | `#[differentiate(wrt(a, b))]` | less: nothing is computed for the others |
//! | a directional derivative `J·v`, or derivatives of a function with few inputs | `f_jvp(params, tangents)` (`forward`) | one forward pass with tangents, no stack |
//! | a Hessian-vector product (Newton-CG, trust regions) | `f_hvp(params, v)` (`hvp`) | one `f_grad` plus one reverse sweep of the tangent code |
//! | a small dense Jacobian or Hessian | `f_jacobian` (`jacobian`), `f_hessian` (`hvp`) | one sweep per input or per output, whichever is fewer |
//!
//! # What is saved, and why
//!
//! The reverse sweep needs, for every operation, the values its partial derivatives
//! read (`x` for `sin x`, both factors of a product). The forward sweep leaves most of
//! them in place; a value is saved only when the forward sweep overwrites it before
//! the reverse sweep gets there: a variable reassigned in a loop, an array element
//! written after it was read. Such a value is pushed on a [`stack::Stack`] just
//! before the overwrite and popped when the reverse sweep comes back to it; which
//! branch an `if` took is pushed as one bit, and a loop that can exit early pushes
//! its trip count (counted loops just run their index backwards). Reads of arrays
//! behind `&` are not saved at all: the data cannot change during the call, so the
//! reverse sweep reads them again. The same goes for cheap values computed from what
//! the reverse sweep can restore: when an array is overwritten in a loop, its old
//! elements are saved and put back, and the differences, copies and products read
//! from it are recomputed rather than saved. `exp`, `tanh`, `sqrt` and `1.0 / x` take
//! their derivative from their result (`*_vjp_from_output` in [`rules`]), so they are
//! not evaluated twice; so does the logistic idiom `1.0 / (1.0 + (-z).exp())`, one
//! primitive ([`rules::logistic`]) that keeps its value and nothing else. A call's
//! result stored into an array element is handed back to the callee's reverse sweep
//! from there, so a `sigmoid` helper whose gates its caller keeps saves nothing of
//! its own. A loop whose iterations meet only in
//! one sum is differentiated iteration by iteration, so the stack holds one
//! iteration: its contributions go straight into the gradient, scaled by the seed,
//! when the sum reaches the result through `+` and `-`, and otherwise into pooled
//! buffers scaled once the sum's adjoint is known. Outside loops the saves go to local
//! variables, so loop-free code touches neither the stack nor the heap. The stack's
//! memory comes from a per-thread pool and is reused from call to call; after the
//! first call a gradient allocates nothing but its result. A loop nest whose saves
//! can be counted before it runs (the inner bounds do not change in the loops
//! around them) reserves them all up front and pushes into a lane taken out of the
//! stack ([`stack::Stack::take_floats`], [`stack::Lane`]): no push in it can grow
//! the stack, so the loop holds no call, and LLVM keeps its accumulators in
//! registers as in `f`. Other top-level loops reserve their tape once their first
//! iteration has shown what one pushes ([`stack::Stack::reserve_repeat`]).
//! [`stack::last_bytes_pushed`] tells how much the last gradient call saved.
//!
//! # Non-differentiable points
//!
//! Where a primitive has no derivative, a fixed one-sided choice is used (each rule in
//! [`rules`] documents its own):
//!
//! | primitive | choice |
//! | --- | --- |
//! | `x.abs()` | derivative `0` at `x = ±0` |
//! | `x.signum()`, `x.floor()`, `x.ceil()`, `x.round()` | derivative `0` everywhere, jumps included |
//! | `a.max(b)` | the gradient goes to `a` when `a >= b` (ties to the first argument), else to `b` |
//! | `a.min(b)` | the gradient goes to `a` when `a <= b` (ties to the first argument), else to `b` |
//! | `max` / `min` with a NaN argument | `std` returns the other argument, and the gradient goes to it |
//! | `x.sqrt()` at `0`, `x.cbrt()` at `0` | `+inf`, as the formula gives |
//! | `x.powf(y)` | `∂/∂x = y·x^(y-1)`, taken as `0` when `y == 0`; `∂/∂y = x^y·ln x`, taken as `0` when `x == 0` (NaN for `x < 0`) |
//! | `x.powi(0)` | derivative `0` (even at `x = 0`) |
//! | `x.hypot(y)` at `(0, 0)` | gradient `(0, 0)` |
//! | `y.atan2(x)` at `(0, 0)` | gradient `(0, 0)` |
//!
//! Outside a function's domain (`ln` of a negative number, `asin(2)`) the derivative is
//! whatever the formula gives, typically NaN, just as the value is.
//!
//! # Modules
//!
//! * [`rules`]: the [`Real`] trait (`f32`, `f64`) and one `_vjp` / `_jvp` rule per
//!   primitive.
//! * [`stack`]: the typed stack of saved intermediates.
//! * [`check`]: finite-difference gradient checking for tests.

/// Generates the derivatives of a function: `f_grad` and `f_vjp` beside `f`.
///
/// ```
/// use autodiff_runtime::differentiate;
///
/// /// Explicit Euler steps of `x' = -k x³`, in place.
/// #[differentiate]
/// fn relax(x: &mut [f64], k: f64, steps: usize) {
///     for _ in 0..steps {
///         for i in 0..x.len() {
///             x[i] -= 0.01 * k * x[i].powi(3);
///         }
///     }
/// }
///
/// #[differentiate(wrt(x))]
/// fn energy(x: &[f64], k: f64) -> f64 {
///     let mut e = 0.0;
///     for i in 0..x.len() {
///         e += 0.25 * k * x[i].powi(4);
///     }
///     e
/// }
///
/// // f_grad: exactly f's parameters, returns (value, gradient in parameter order).
/// let (e, de_dx) = energy_grad(&[1.0, 2.0], 3.0);
/// assert_eq!(e, energy(&[1.0, 2.0], 3.0));
/// assert_eq!(de_dx, vec![3.0, 24.0]);
///
/// // f_vjp on in-place state: the shadow comes in as the adjoint of the final state
/// // and goes out as the adjoint of the initial state; other gradients are returned.
/// let mut x = vec![1.0, 0.5];
/// let mut x_bar = vec![1.0, 0.0];
/// let ((), dk) = relax_vjp(&mut x, &mut x_bar, 2.0, 10);
/// let mut y = vec![1.0, 0.5];
/// relax(&mut y, 2.0, 10);
/// assert_eq!(x, y); // the buffer ends as `relax` leaves it
/// autodiff_runtime::check::assert_gradient(
///     |v| { let mut s = vec![v[0], 0.5]; relax(&mut s, v[1], 10); s[0] },
///     &[1.0, 2.0],
///     &[x_bar[0], dk],
/// );
/// ```
///
/// # Options
///
/// * `#[differentiate]` / `#[differentiate(reverse)]`: `f_grad` (for functions
///   returning `f64` or `f32`) and `f_vjp` (for any float result, or none).
/// * `forward`: `f_jvp(params..., tangents...) -> (value, value_tangent)`, one
///   tangent per differentiated parameter in parameter order (a `&mut` buffer's
///   tangent is `&mut` and ends holding the tangent of its final state).
/// * `hvp` (scalar functions): also `f_hvp(params...,
///   v...) -> (value, gradient, H·v)`, reverse mode over forward mode, and
///   `f_hessian(params) -> (value, Matrix)` by one `f_hvp` per input.
/// * `jacobian`: `f_jacobian(params) -> (value, Matrix)`, the dense Jacobian of the
///   returned value and the final `&mut` buffers (rows, in that order) with respect
///   to the differentiated inputs flattened in parameter order (columns), by forward
///   sweeps when there are fewer inputs than outputs and reverse sweeps otherwise.
/// * `wrt(a, b)`: differentiate with respect to these parameters only; the others
///   are passive (a `&mut` buffer left out gets no shadow, and is still updated).
///
/// All modes reach other `#[differentiate]` functions the code calls: each one also
/// carries hidden reverse (`__reverse`), forward (`__forward`) and second-order
/// (`__reverse_forward`) cores for its callers, which differentiate every float
/// parameter, or only `wrt`'s if one it leaves out reaches a call of an ordinary
/// function (`log_gamma(0.5 * m)`); passing a value that carries a derivative to
/// a parameter a callee does not differentiate is a compile error at the call.
/// Ordinary functions may be called with any arguments that carry no
/// derivative: integers, and floats computed from integers and constants.
///
/// With `AUTODIFF_EXPAND_DIR=dir` in the environment of a build, the macro writes
/// the code it generates for each function to `dir/<name>.rs`.
pub use autodiff_macros::differentiate;

pub mod check;
pub mod matrix;
pub mod rules;
pub mod stack;

#[doc(hidden)]
pub mod __private;

pub use matrix::Matrix;
pub use rules::Real;
