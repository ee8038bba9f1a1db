//! Activity analysis: a variable is active when it depends on a differentiated
//! input (varied) and influences a differentiated output (useful). Only active
//! variables get adjoints; statements writing inactive ones get no reverse code.
//!
//! The analysis is flow-insensitive over the hoisted variables, which is exact
//! enough here because every variable has one type and one purpose.

use crate::ir::{walk, ArrayInit, CallArg, FloatOp, Function, Operand, Stmt, VarId};
use crate::sig::Signature;

/// The activity of every variable of a function.
#[derive(Debug, Clone)]
pub struct Activity {
    active: Vec<bool>,
}

impl Activity {
    /// Nothing active: code generation then emits the primal statements only.
    pub fn none(count: usize) -> Activity {
        Activity {
            active: vec![false; count],
        }
    }

    pub fn is_active(&self, id: VarId) -> bool {
        self.active[id.0 as usize]
    }

    pub fn operand(&self, operand: &Operand) -> Option<VarId> {
        operand.var().filter(|id| self.is_active(*id))
    }
}

/// Data-flow edges `from -> to`: the value of `to` depends on `from`.
fn edges(func: &Function) -> Vec<(VarId, VarId)> {
    let mut edges = Vec::new();
    walk(&func.body, false, &mut |stmt, _| match stmt {
        Stmt::Float { dst, op, .. } => {
            for operand in op.operands() {
                if let Some(var) = operand.var() {
                    edges.push((var, *dst));
                }
            }
            if let FloatOp::Read { array, .. } = op {
                edges.push((*array, *dst));
            }
        }
        Stmt::Store { array, value, .. } => {
            if let Some(var) = value.var() {
                edges.push((var, *array));
            }
        }
        Stmt::NewArray { dst, init, .. } => match init {
            ArrayInit::VecFill { value, .. } | ArrayInit::FixedFill { value, .. } => {
                if let Some(var) = value.var() {
                    edges.push((var, *dst));
                }
            }
            ArrayInit::List { items, .. } => {
                for item in items {
                    if let Some(var) = item.var() {
                        edges.push((var, *dst));
                    }
                }
            }
            ArrayInit::CopyOf { src, .. } => edges.push((*src, *dst)),
        },
        Stmt::Call {
            dst, args, tangent, ..
        } => {
            let mut inputs: Vec<VarId> = args.iter().filter_map(call_input).collect();
            let mut outputs: Vec<VarId> = args
                .iter()
                .filter_map(|arg| match arg {
                    CallArg::MutArray { var, .. } => Some(*var),
                    _ => None,
                })
                .collect();
            outputs.extend(*dst);
            if let Some(tangent) = tangent {
                inputs.extend(tangent.args.iter().filter_map(tangent_input));
                outputs.extend(tangent.dst);
                outputs.extend(tangent.args.iter().filter_map(|arg| match arg {
                    crate::ir::ArgTangent::MutArray(var) => *var,
                    _ => None,
                }));
            }
            for input in &inputs {
                for output in &outputs {
                    edges.push((*input, *output));
                }
            }
        }
        _ => {}
    });
    edges
}

/// The float variable a call argument passes in, if any.
pub fn call_input(arg: &CallArg) -> Option<VarId> {
    match arg {
        CallArg::Float(operand) => operand.var(),
        CallArg::Array { var, .. } | CallArg::MutArray { var, .. } => Some(*var),
        CallArg::Passive(_) => None,
    }
}

/// The tangent variable passed beside a call argument, if any.
pub fn tangent_input(arg: &crate::ir::ArgTangent) -> Option<VarId> {
    use crate::ir::ArgTangent;
    match arg {
        ArgTangent::Float(operand) => operand.var(),
        ArgTangent::Array(var) | ArgTangent::MutArray(var) => *var,
        ArgTangent::Passive => None,
    }
}

/// Computes which variables are active.
pub fn analyze(func: &Function, sig: &Signature) -> Activity {
    let count = func.vars.len();
    let edges = edges(func);
    let mut varied = vec![false; count];
    let mut useful = vec![false; count];
    for (id, var) in func.vars.iter().enumerate() {
        if let crate::ir::Origin::Param(index) = var.origin {
            let param = &sig.params[index];
            varied[id] = param.active;
            useful[id] = param.active && param.is_mut_buffer();
        }
    }
    if let Some(ret) = func.ret {
        useful[ret.0 as usize] = true;
    }
    // Both closures over the same edge list, to a fixpoint: varied flows with the
    // program order and useful against it, so straight-line code takes one pass
    // each (loops add a pass per level of carried dependence).
    let mut changed = true;
    while changed {
        changed = false;
        for (from, to) in &edges {
            let (from, to) = (from.0 as usize, to.0 as usize);
            if varied[from] && !varied[to] {
                varied[to] = true;
                changed = true;
            }
        }
        for (from, to) in edges.iter().rev() {
            let (from, to) = (from.0 as usize, to.0 as usize);
            if useful[to] && !useful[from] {
                useful[from] = true;
                changed = true;
            }
        }
    }
    let active = varied
        .iter()
        .zip(&useful)
        .map(|(varied, useful)| *varied && *useful)
        .collect();
    Activity { active }
}
