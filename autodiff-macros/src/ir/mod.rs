//! The IR of a function being differentiated: structured control flow, explicit
//! reads and writes, one float operation per statement.
//!
//! Float computations are in three-address form (`Stmt::Float`), because each of
//! them gets an adjoint. Passive values (integers, booleans, conditions, indices)
//! stay as small expression trees (`PExpr`) kept as already-renamed tokens plus the
//! list of variables they read: they never get adjoints, and the reverse sweep
//! re-evaluates indices and bounds from the variables they read.
//!
//! Every `return`, `break` and `continue` is rewritten during lowering into flag
//! variables and guarded blocks, so the IR has no jumps: loops exit only at the end
//! of their body, which lets the reverse sweep mirror them one to one.

#[cfg_attr(not(test), allow(dead_code))]
pub mod print;
pub mod verify;

use proc_macro2::{Span, TokenStream};

use crate::rules::Prim;
use crate::sig::Shape;

/// The identifier for a generated name; user names may be raw (`r#type`).
pub fn ident(name: &str, span: Span) -> proc_macro2::Ident {
    match name.strip_prefix("r#") {
        Some(raw) => proc_macro2::Ident::new_raw(raw, span),
        None => proc_macro2::Ident::new(name, span),
    }
}

/// A variable of the function, hoisted to function scope with a unique name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u32);

/// The type of a variable.
#[derive(Clone, Debug)]
pub enum Ty {
    /// The function's float type.
    Float,
    /// An integer; the tokens of its type when known.
    Int(Option<TokenStream>),
    Bool,
    /// A float array; locals are `Vec` or fixed arrays.
    FloatArray(Shape),
    /// A passive array of integers or booleans (parameters only).
    IntArray,
}

impl Ty {
    pub fn is_float(&self) -> bool {
        matches!(self, Ty::Float)
    }
    pub fn is_float_array(&self) -> bool {
        matches!(self, Ty::FloatArray(_))
    }
}

/// Where a variable comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The parameter at this position.
    Param(usize),
    /// A `let` binding or a value the lowering introduced.
    Local,
    /// A `for` loop index (bound by the loop in both sweeps, never hoisted).
    LoopIndex,
}

#[derive(Clone, Debug)]
pub struct Var {
    pub name: String,
    /// The name of its adjoint in generated code (unique like `name`).
    pub adjoint: String,
    pub ty: Ty,
    pub origin: Origin,
    pub span: Span,
}

/// A passive expression: tokens with variable names already resolved, plus the
/// variables it reads.
#[derive(Clone, Debug)]
pub struct PExpr {
    pub tokens: TokenStream,
    pub reads: Vec<VarId>,
}

/// An operand of a float operation.
#[derive(Clone, Debug)]
pub enum Operand {
    Var(VarId),
    /// A passive value: a literal, a constant, an integer cast to float.
    Const(PExpr),
}

impl Operand {
    pub fn var(&self) -> Option<VarId> {
        match self {
            Operand::Var(id) => Some(*id),
            Operand::Const(_) => None,
        }
    }
}

/// One float operation.
#[derive(Clone, Debug)]
pub enum FloatOp {
    Copy(Operand),
    Neg(Operand),
    Add(Operand, Operand),
    Sub(Operand, Operand),
    Mul(Operand, Operand),
    Div(Operand, Operand),
    /// A primitive from the rule table; `int_arg` is the exponent of `powi`.
    Prim {
        prim: Prim,
        args: Vec<Operand>,
        int_arg: Option<PExpr>,
    },
    /// `array[index]`.
    Read {
        array: VarId,
        index: PExpr,
    },
}

impl FloatOp {
    pub fn operands(&self) -> Vec<&Operand> {
        match self {
            FloatOp::Copy(a) | FloatOp::Neg(a) => vec![a],
            FloatOp::Add(a, b) | FloatOp::Sub(a, b) | FloatOp::Mul(a, b) | FloatOp::Div(a, b) => {
                vec![a, b]
            }
            FloatOp::Prim { args, .. } => args.iter().collect(),
            FloatOp::Read { .. } => Vec::new(),
        }
    }
}

/// How a local float array is created.
#[derive(Clone, Debug)]
pub enum ArrayInit {
    /// `vec![value; len]`.
    VecFill { value: Operand, len: PExpr },
    /// `[value; N]`.
    FixedFill { value: Operand, len: TokenStream },
    /// `vec![a, b, ..]` or `[a, b, ..]`.
    List { items: Vec<Operand>, fixed: bool },
    /// `src.to_vec()`, `src.clone()`, or a copy of a fixed array.
    CopyOf { src: VarId, to_vec: bool },
}

/// An argument of a call to another differentiated function.
#[derive(Clone, Debug)]
pub enum CallArg {
    /// A float scalar.
    Float(Operand),
    /// A float array passed by shared reference (or by value for `Vec`/arrays);
    /// `written` is the argument as the user wrote it (names resolved).
    Array {
        var: VarId,
        by: ArgPass,
        written: TokenStream,
    },
    /// A float array passed as `&mut`.
    MutArray { var: VarId, written: TokenStream },
    /// Passive data, passed through as written.
    Passive(PExpr),
}

/// The tangent side of a call in tangent IR.
#[derive(Clone, Debug)]
pub struct CallTangent {
    /// Receives the tangent of the result.
    pub dst: Option<VarId>,
    /// One per argument, beside it.
    pub args: Vec<ArgTangent>,
}

/// The tangent passed beside one call argument.
#[derive(Clone, Debug)]
pub enum ArgTangent {
    /// A scalar's tangent (a constant zero when it has none).
    Float(Operand),
    /// An array's tangent array, or `None` for zeros.
    Array(Option<VarId>),
    /// A `&mut` array's tangent array, or `None` for scratch zeros.
    MutArray(Option<VarId>),
    /// Nothing (passive argument; the callee's slot is `()` or ignored).
    Passive,
}

/// How an array argument is written at the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgPass {
    /// `&a` or a reference parameter by name.
    Ref,
    /// By value (`a.clone()` for a `Vec`, a copy for a fixed array).
    Value,
}

/// An arithmetic sequence of loop indices: `lo..hi` or `lo..=hi`, then `.rev()` and
/// `.step_by(k)` in the order written. Bounds are variables set just before the loop.
#[derive(Clone, Debug)]
pub struct RangeSeq {
    pub lo: VarId,
    pub hi: VarId,
    pub inclusive: bool,
    pub chain: Vec<SeqOp>,
}

#[derive(Clone, Debug)]
pub enum SeqOp {
    Rev,
    StepBy(VarId),
}

#[derive(Clone, Debug)]
pub enum LoopKind {
    /// `for index in seq`; `index` is `None` for `_`.
    For { index: Option<VarId>, seq: RangeSeq },
    /// `loop` (and lowered `while`).
    Infinite,
}

/// A loop. If `exit` is set, the loop leaves (with `break`) after any iteration in
/// which that passive condition holds, and the reverse sweep needs the trip count.
#[derive(Clone, Debug)]
pub struct Loop {
    pub kind: LoopKind,
    pub body: Block,
    pub exit: Option<PExpr>,
    /// Flags reset to `false` at the start of each iteration (`continue` flags).
    pub reset: Vec<VarId>,
    /// Variables declared inside the body (`let`s and temporaries): each iteration
    /// writes them before reading them, so a checkpoint need not save them.
    pub body_vars: std::ops::Range<u32>,
}

#[derive(Clone, Debug)]
pub enum Stmt {
    /// `dst = op`, one float operation.
    Float {
        dst: VarId,
        op: FloatOp,
        span: Span,
    },
    /// `dst = value` for an integer or boolean.
    Passive {
        dst: VarId,
        value: PExpr,
        /// For `dst += e` / `dst -= e` on an integer: the old value computed from
        /// the new one (`dst - (e)`), so the reverse sweep can undo the update
        /// instead of saving `dst`.
        undo: Option<PExpr>,
    },
    /// `array[index] = value`.
    Store {
        array: VarId,
        index: PExpr,
        value: Operand,
        span: Span,
    },
    /// `dst = <new array>`.
    NewArray {
        dst: VarId,
        init: ArrayInit,
        span: Span,
    },
    /// `dst = func(args)` for another `#[differentiate]` function.
    Call {
        dst: Option<VarId>,
        func: TokenStream,
        args: Vec<CallArg>,
        span: Span,
        /// In tangent IR: the call goes to `func::__forward`, which also returns the
        /// tangent of the result and updates the tangents of `&mut` arguments.
        tangent: Option<CallTangent>,
    },
    /// A statement run for its effect only in the forward sweep (e.g. `assert!`).
    Effect(PExpr),
    If {
        cond: PExpr,
        then_block: Block,
        else_block: Block,
    },
    Loop(Box<Loop>),
}

pub type Block = Vec<Stmt>;

impl Stmt {
    /// The variables this statement writes itself (not its nested statements): a
    /// call writes its result and its `&mut` arguments, and in tangent IR theirs.
    pub fn writes(&self) -> Vec<VarId> {
        match self {
            Stmt::Float { dst, .. } | Stmt::Passive { dst, .. } | Stmt::NewArray { dst, .. } => {
                vec![*dst]
            }
            Stmt::Store { array, .. } => vec![*array],
            Stmt::Call {
                dst, args, tangent, ..
            } => {
                let mut out: Vec<VarId> = dst.iter().copied().collect();
                out.extend(args.iter().filter_map(|arg| match arg {
                    CallArg::MutArray { var, .. } => Some(*var),
                    _ => None,
                }));
                if let Some(tangent) = tangent {
                    out.extend(tangent.dst);
                    out.extend(tangent.args.iter().filter_map(|arg| match arg {
                        ArgTangent::MutArray(var) => *var,
                        _ => None,
                    }));
                }
                out
            }
            Stmt::Effect(_) | Stmt::If { .. } | Stmt::Loop(_) => Vec::new(),
        }
    }

    /// The variables this statement reads itself (not its nested statements): its
    /// operands, the variables its index and passive expressions mention, a loop's
    /// bounds and exit condition, an `if`'s condition, a call's arguments.
    pub fn reads(&self) -> Vec<VarId> {
        let operand = |op: &Operand| op.var();
        match self {
            Stmt::Float { op, .. } => {
                let mut out: Vec<VarId> = op.operands().into_iter().filter_map(operand).collect();
                for op_operand in op.operands() {
                    if let Operand::Const(value) = op_operand {
                        out.extend(value.reads.iter().copied());
                    }
                }
                match op {
                    FloatOp::Read { array, index } => {
                        out.push(*array);
                        out.extend(index.reads.iter().copied());
                    }
                    FloatOp::Prim {
                        int_arg: Some(arg), ..
                    } => out.extend(arg.reads.iter().copied()),
                    _ => {}
                }
                out
            }
            Stmt::Passive { value, .. } | Stmt::Effect(value) => value.reads.clone(),
            Stmt::Store { index, value, .. } => {
                let mut out = index.reads.clone();
                out.extend(operand(value));
                out
            }
            Stmt::NewArray { init, .. } => match init {
                ArrayInit::VecFill { value, len } => {
                    let mut out: Vec<VarId> = operand(value).into_iter().collect();
                    out.extend(len.reads.iter().copied());
                    out
                }
                ArrayInit::FixedFill { value, .. } => operand(value).into_iter().collect(),
                ArrayInit::List { items, .. } => items.iter().filter_map(operand).collect(),
                ArrayInit::CopyOf { src, .. } => vec![*src],
            },
            Stmt::Call { args, tangent, .. } => {
                let mut out = Vec::new();
                for arg in args {
                    match arg {
                        CallArg::Float(value) => out.extend(operand(value)),
                        CallArg::Array { var, .. } | CallArg::MutArray { var, .. } => {
                            out.push(*var)
                        }
                        CallArg::Passive(value) => out.extend(value.reads.iter().copied()),
                    }
                }
                if let Some(tangent) = tangent {
                    for arg in &tangent.args {
                        match arg {
                            ArgTangent::Float(value) => out.extend(operand(value)),
                            ArgTangent::Array(var) | ArgTangent::MutArray(var) => out.extend(*var),
                            ArgTangent::Passive => {}
                        }
                    }
                }
                out
            }
            Stmt::If { cond, .. } => cond.reads.clone(),
            Stmt::Loop(looped) => {
                let mut out = Vec::new();
                if let LoopKind::For { seq, .. } = &looped.kind {
                    out.extend([seq.lo, seq.hi]);
                    for op in &seq.chain {
                        if let SeqOp::StepBy(step) = op {
                            out.push(*step);
                        }
                    }
                }
                if let Some(exit) = &looped.exit {
                    out.extend(exit.reads.iter().copied());
                }
                out
            }
        }
    }
}

/// A lowered function.
#[derive(Clone, Debug)]
pub struct Function {
    pub vars: Vec<Var>,
    pub body: Block,
    /// The variable holding the returned value, if the function returns one.
    pub ret: Option<VarId>,
    /// Locals of a type the lowering cannot tell (`let c = data.config;`), typed
    /// `Int(None)` for want of better: never pushed whole (they may not be
    /// integers).
    pub opaque: Vec<VarId>,
}

impl Function {
    pub fn var(&self, id: VarId) -> &Var {
        &self.vars[id.0 as usize]
    }
}

/// Visits every statement of a block, depth first, with whether it is inside a loop.
pub fn walk<'a>(block: &'a Block, in_loop: bool, visit: &mut dyn FnMut(&'a Stmt, bool)) {
    for stmt in block {
        visit(stmt, in_loop);
        match stmt {
            Stmt::If {
                then_block,
                else_block,
                ..
            } => {
                walk(then_block, in_loop, visit);
                walk(else_block, in_loop, visit);
            }
            Stmt::Loop(looped) => walk(&looped.body, true, visit),
            _ => {}
        }
    }
}
