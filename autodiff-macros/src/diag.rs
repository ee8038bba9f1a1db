//! The error collector and the catalogue of messages for unsupported constructs.
//!
//! Every message names the construct, says why it is refused and what to write
//! instead. Errors are collected, never thrown, so that a function reports all of
//! its problems at once.

use proc_macro2::Span;
use quote::ToTokens;

/// Where an error points: a syntax node (its whole extent, first to last token,
/// which is what stable rustc can underline) or a bare span.
pub trait At {
    fn error(self, message: String) -> syn::Error;
}

impl At for Span {
    fn error(self, message: String) -> syn::Error {
        syn::Error::new(self, message)
    }
}

impl<T: ToTokens> At for &T {
    fn error(self, message: String) -> syn::Error {
        syn::Error::new_spanned(self, message)
    }
}

/// Collects spanned errors during expansion.
#[derive(Default)]
pub struct Diagnostics {
    errors: Vec<syn::Error>,
}

impl Diagnostics {
    pub fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// All collected errors combined into one, or `None`.
    pub fn take(&mut self) -> Option<syn::Error> {
        let mut errors = std::mem::take(&mut self.errors).into_iter();
        let mut first = errors.next()?;
        for error in errors {
            first.combine(error);
        }
        Some(first)
    }
}

fn unsupported(at: impl At, what: &str, why: &str, instead: &str) -> syn::Error {
    at.error(format!(
        "#[differentiate] does not support {what}: {why}; {instead}"
    ))
}

pub fn closure(span: impl At) -> syn::Error {
    unsupported(
        span,
        "closures",
        "a closure's body cannot be differentiated through",
        "write the computation inline or as a separate #[differentiate] function",
    )
}

pub fn unsafe_block(span: impl At) -> syn::Error {
    unsupported(
        span,
        "`unsafe` blocks",
        "their memory effects cannot be differentiated",
        "write safe indexing code, or move the unsafe part into a function of passive values",
    )
}

pub fn unsafe_fn(span: impl At) -> syn::Error {
    unsupported(
        span,
        "`unsafe fn`",
        "the generated derivative functions would inherit unchecked preconditions",
        "make the function safe and keep unsafe code outside it",
    )
}

pub fn async_code(span: impl At) -> syn::Error {
    unsupported(
        span,
        "`async` functions or blocks",
        "the derivative of a future is not defined",
        "differentiate a synchronous function and call it from async code",
    )
}

pub fn raw_pointer(span: impl At) -> syn::Error {
    unsupported(
        span,
        "raw pointers",
        "writes through them cannot be tracked",
        "use slices (`&[f64]`, `&mut [f64]`) and indexing",
    )
}

pub fn try_operator(span: impl At) -> syn::Error {
    unsupported(
        span,
        "the `?` operator",
        "early exits through `Result`/`Option` are not differentiable values",
        "handle the error before calling the differentiated function, or use `if` and `return`",
    )
}

pub fn unknown_method(span: impl At, name: &str) -> syn::Error {
    unsupported(
        span,
        &format!("the method `.{name}()`"),
        "it has no derivative rule",
        "use one of the supported methods (sin cos tan asin acos atan atan2 sinh cosh tanh exp exp2 exp_m1 ln ln_1p log10 log2 sqrt cbrt powi powf abs signum max min hypot recip mul_add floor ceil round, and `.len()` on arrays)",
    )
}

pub fn unknown_float_function(span: impl At, path: &str) -> syn::Error {
    unsupported(
        span,
        &format!("the function `{path}`"),
        "it has no derivative rule",
        "use one of the supported `f64::` functions (the same names as the supported methods), or a #[differentiate] function",
    )
}

pub fn library_function(span: impl At, path: &str) -> syn::Error {
    let instead = if path.ends_with("::swap") || path.ends_with("::replace") {
        "exchange or copy the values element by element in a loop (`for i in 0..n { let t = a[i]; a[i] = b[i]; b[i] = t; }`), or keep one array and copy into it"
    } else {
        "write the computation out with the supported operations, or call a #[differentiate] function"
    };
    unsupported(
        span,
        &format!("the library function `{path}` on floats"),
        "only `#[differentiate]` functions have derivative code, and only calls whose arguments are all passive (integers) run as written",
        instead,
    )
}

pub fn widening_cast(span: impl At) -> syn::Error {
    unsupported(
        span,
        "`as f64` on a float in an `f32` function",
        "the function and its derivatives compute in `f32` throughout, so the value would not be what the `f64` arithmetic gives",
        "compute in `f32`, or make the function `f64` (casting to `f32` where you want `f32` precision)",
    )
}

pub fn unsupported_param(span: impl At, what: &str) -> syn::Error {
    unsupported(
        span,
        &format!("parameters of type {what}"),
        "only floats, float slices, vectors and arrays, and passive integer or boolean data can be parameters",
        "pass the fields you need as `f64`, `&[f64]` or `&mut [f64]` parameters",
    )
}

pub fn self_param(span: impl At) -> syn::Error {
    unsupported(
        span,
        "methods with a `self` parameter",
        "the fields of `self` cannot be differentiated",
        "write a free function that takes the fields you need as `f64` / `&[f64]` parameters",
    )
}

pub fn generics(span: impl At) -> syn::Error {
    unsupported(
        span,
        "generic functions",
        "derivative code is generated for concrete float types",
        "write the function for `f64` (or `f32`)",
    )
}

pub fn return_type(span: impl At) -> syn::Error {
    unsupported(
        span,
        "this return type",
        "the derivative of a function is only defined for float results",
        "return `f64`/`f32` (for `_grad`), `Vec<f64>` or `[f64; N]` (for `_vjp`), or nothing and write results into a `&mut [f64]` parameter",
    )
}

pub fn mixed_floats(span: impl At) -> syn::Error {
    unsupported(
        span,
        "mixing `f32` and `f64`",
        "derivatives are computed in one float type per function",
        "use one float type in the signature and convert with `as` at the call site",
    )
}

pub fn no_floats(span: impl At) -> syn::Error {
    span.error(
        "#[differentiate] needs at least one `f32`/`f64` parameter or a float result: this function has nothing to differentiate".to_string(),
    )
}

pub fn item_in_body(span: impl At, what: &str) -> syn::Error {
    unsupported(
        span,
        &format!("{what} inside the function body"),
        "items declared in the body are not part of the differentiated computation",
        "move the item out of the function",
    )
}

pub fn static_mut(span: impl At) -> syn::Error {
    unsupported(
        span,
        "`static mut`",
        "global mutable state makes the gradient depend on hidden inputs and is not thread-safe",
        "pass the state as a `&mut [f64]` parameter",
    )
}

pub fn macro_call(span: impl At, name: &str) -> syn::Error {
    unsupported(
        span,
        &format!("the macro `{name}!`"),
        "macros are opaque to the differentiation",
        "use `vec![0.0; n]` or `vec![a, b, ...]` for buffers and write other code without macros",
    )
}

pub fn iterator_loop(span: impl At) -> syn::Error {
    unsupported(
        span,
        "`for` loops over iterators",
        "only integer ranges can be reversed for the adjoint sweep",
        "loop over indices: `for i in 0..x.len() { ... x[i] ... }`",
    )
}

pub fn slicing(span: impl At) -> syn::Error {
    unsupported(
        span,
        "slicing with a range",
        "sub-slices would alias the buffer's adjoint",
        "pass the whole buffer and an offset, or index element by element",
    )
}

pub fn if_let(span: impl At) -> syn::Error {
    unsupported(
        span,
        "`if let` / `while let`",
        "pattern matching on `Option`/`Result` values has no derivative",
        "test a number or boolean with `if` / `while` (`if x > 0.0`, `while k < n`)",
    )
}

pub fn float_operator(span: impl At, op: &str) -> syn::Error {
    unsupported(
        span,
        &format!("the `{op}` operator on floats"),
        "it has no derivative rule",
        "use `+ - * /` and the supported float methods",
    )
}

pub fn pattern(span: impl At, what: &str) -> syn::Error {
    unsupported(
        span,
        what,
        "only plain variable bindings can be differentiated",
        "bind one variable per `let` (`let a = ...; let b = ...;`)",
    )
}

pub fn match_pattern(span: impl At) -> syn::Error {
    unsupported(
        span,
        "this `match` pattern",
        "only integer and boolean literals, ranges of integers, `|` and `_` can be matched",
        "match on an integer or boolean, or use `if` / `else if` for floats",
    )
}

pub fn field_access(span: impl At) -> syn::Error {
    unsupported(
        span,
        "structs, tuples and field access",
        "structs and tuples cannot carry adjoints",
        "use separate `f64` variables or array elements",
    )
}

pub fn loop_value(span: impl At) -> syn::Error {
    unsupported(
        span,
        "`break` with a value",
        "loops used as expressions are not supported",
        "assign the value to a variable declared before the loop, then `break`",
    )
}

pub fn mut_loop_var(span: impl At) -> syn::Error {
    unsupported(
        span,
        "a `mut` loop variable",
        "the reverse sweep replays the loop index and needs it unchanged",
        "copy it into a new variable inside the loop: `let mut j = i;`",
    )
}

pub fn expression(span: impl At, what: &str) -> syn::Error {
    unsupported(
        span,
        what,
        "it is outside the differentiable subset",
        "use arithmetic, the supported float methods, `if`/`match`/loops, and array indexing",
    )
}

/// An unsupported construct with specific advice.
pub fn construct(span: impl At, what: &str, instead: &str) -> syn::Error {
    unsupported(
        span,
        what,
        "it is outside the differentiable subset",
        instead,
    )
}

pub fn undeclared_let(span: impl At) -> syn::Error {
    unsupported(
        span,
        "`let` without a value",
        "every variable needs an initial value for the reverse sweep",
        "give it an initial value: `let mut x = 0.0;`",
    )
}

pub fn assign_target(span: impl At) -> syn::Error {
    unsupported(
        span,
        "assigning to this place",
        "only local variables, parameters and array elements can be assigned",
        "assign to a variable or to `a[i]`",
    )
}

pub fn float_index(span: impl At) -> syn::Error {
    span.error(
        "this value is used as an array but is not a float or integer array known to #[differentiate]; index parameters and locals declared with `vec![...]`, `[x; N]` or `.to_vec()`".to_string(),
    )
}

pub fn call_argument(span: impl At) -> syn::Error {
    unsupported(
        span,
        "this argument to a differentiated function",
        "call arguments must be floats, integers, or arrays passed by name",
        "pass `x`, `&a`, `&mut a` or a scalar expression",
    )
}

pub fn mut_param_reassign(span: impl At) -> syn::Error {
    unsupported(
        span,
        "assigning a whole array to a parameter",
        "the buffer's adjoint is tied to its storage",
        "write elements one by one (`x[i] = ...`)",
    )
}

pub fn internal(span: impl At, what: &str) -> syn::Error {
    span.error(
        format!("internal error in #[differentiate] ({what}); please report this with the function that triggered it"),
    )
}
