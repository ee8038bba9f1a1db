//! The primitive table: every float method or `f64::` function the macro can
//! differentiate, its arity, and the runtime rules that differentiate it.
//!
//! The derivative formulas themselves live in `autodiff_runtime::rules`, one
//! `<name>_vjp` / `<name>_jvp` pair per entry here.

/// A differentiable primitive with a rule in `autodiff_runtime::rules`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prim {
    /// The method name, which is also the rule name prefix.
    pub name: &'static str,
    /// Number of float arguments including the receiver.
    pub floats: usize,
    /// Whether an `i32` exponent follows the receiver (`powi`).
    pub int_arg: bool,
}

const fn unary(name: &'static str) -> Prim {
    Prim {
        name,
        floats: 1,
        int_arg: false,
    }
}

const fn binary(name: &'static str) -> Prim {
    Prim {
        name,
        floats: 2,
        int_arg: false,
    }
}

/// The table, in the order the documentation lists the methods.
pub const PRIMS: &[Prim] = &[
    unary("sin"),
    unary("cos"),
    unary("tan"),
    unary("asin"),
    unary("acos"),
    unary("atan"),
    binary("atan2"),
    unary("sinh"),
    unary("cosh"),
    unary("tanh"),
    unary("exp"),
    unary("exp2"),
    unary("exp_m1"),
    unary("ln"),
    unary("ln_1p"),
    unary("log10"),
    unary("log2"),
    unary("sqrt"),
    unary("cbrt"),
    Prim {
        name: "powi",
        floats: 1,
        int_arg: true,
    },
    binary("powf"),
    unary("abs"),
    unary("signum"),
    binary("max"),
    binary("min"),
    binary("hypot"),
    unary("recip"),
    Prim {
        name: "mul_add",
        floats: 3,
        int_arg: false,
    },
    unary("floor"),
    unary("ceil"),
    unary("round"),
];

/// The logistic function `1 / (1 + e^(-x))`, which no float type has as a
/// method: the lowering recognises the idiom `1.0 / (1.0 + (-x).exp())` and
/// computes it as written (`autodiff_runtime::rules::logistic`). As one
/// primitive its derivative comes from its output, `y (1 - y)` (JAX's
/// `logistic` rule), so the reverse sweep keeps `y`, which callers often hold
/// anyway (a gate stored into an array), instead of the exponential.
pub const LOGISTIC: Prim = unary("logistic");

/// `e as f32` in an `f64` function: rounds to `f32` precision
/// (`autodiff_runtime::rules::to_f32_precision`), derivative one.
pub const TO_F32: Prim = unary("to_f32_precision");

/// Looks a primitive up by method name.
pub fn lookup(name: &str) -> Option<Prim> {
    PRIMS.iter().copied().find(|prim| prim.name == name)
}

/// Looks a primitive up by rule name, including those that are not methods
/// ([`LOGISTIC`]).
pub fn lookup_rule(name: &str) -> Option<Prim> {
    lookup(name)
        .or((name == LOGISTIC.name).then_some(LOGISTIC))
        .or((name == TO_F32.name).then_some(TO_F32))
}

impl Prim {
    /// Whether the derivative is zero everywhere (piecewise constant functions):
    /// the reverse sweep then needs nothing from them.
    pub fn is_piecewise_constant(self) -> bool {
        matches!(self.name, "signum" | "floor" | "ceil" | "round")
    }

    /// Whether the primitive compiles to a call into the maths library (`sin`,
    /// `exp`, and on the default x86-64 target `floor` and `mul_add`), after
    /// which no float register holds what it held, rather than to instructions.
    pub fn calls_library(self) -> bool {
        !matches!(
            self.name,
            "sqrt" | "abs" | "signum" | "max" | "min" | "recip" | "powi" | "to_f32_precision"
        )
    }

    /// Whether the primitive is a method of `f32` and `f64` (`x.exp()`,
    /// `f64::exp(x)`); the others are functions of `autodiff_runtime::rules`.
    pub fn is_method(self) -> bool {
        self != LOGISTIC && self != TO_F32
    }

    pub fn vjp_name(self) -> String {
        format!("{}_vjp", self.name)
    }

    /// Whether the reverse rule is taken from the primitive's output
    /// (`<name>_vjp_from_output`): the derivative is cheapest from the value it
    /// returns (`exp' = y`, `tanh' = 1 - y²`), so the reverse sweep keeps `y`
    /// instead of evaluating the function again.
    pub fn uses_output(self) -> bool {
        matches!(
            self.name,
            "tanh" | "exp" | "exp2" | "sqrt" | "cbrt" | "recip" | "logistic"
        )
    }
}
