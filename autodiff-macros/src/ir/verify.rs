//! IR invariants, checked after lowering: every variable referenced exists, float
//! operations write float variables, stores write float arrays.

use super::{walk, CallArg, FloatOp, Function, Stmt, Ty, VarId};

/// Returns the list of broken invariants, if any.
pub fn verify(func: &Function) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let count = func.vars.len();
    let check = |id: VarId, what: &str, problems: &mut Vec<String>| {
        if id.0 as usize >= count {
            problems.push(format!("{what} refers to unknown variable v{}", id.0));
        }
    };
    walk(&func.body, false, &mut |stmt, _| match stmt {
        Stmt::Float { dst, op, .. } => {
            check(*dst, "float statement", &mut problems);
            if (dst.0 as usize) < count && !func.var(*dst).ty.is_float() {
                problems.push(format!("float operation writes non-float v{}", dst.0));
            }
            for operand in op.operands() {
                if let Some(var) = operand.var() {
                    check(var, "operand", &mut problems);
                }
            }
            if let FloatOp::Read { array, .. } = op {
                check(*array, "array read", &mut problems);
            }
        }
        Stmt::Store { array, .. } => {
            check(*array, "store", &mut problems);
            if (array.0 as usize) < count && !matches!(func.var(*array).ty, Ty::FloatArray(_)) {
                problems.push(format!("store into non-float-array v{}", array.0));
            }
        }
        Stmt::Call { args, .. } => {
            for arg in args {
                if let CallArg::Array { var, .. } | CallArg::MutArray { var, .. } = arg {
                    check(*var, "call argument", &mut problems);
                }
            }
        }
        _ => {}
    });
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
