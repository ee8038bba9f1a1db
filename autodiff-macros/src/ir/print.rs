//! A compact, stable text dump of the IR, used by snapshot tests and debugging.

use std::fmt::Write;

use super::{ArrayInit, Block, CallArg, FloatOp, Function, LoopKind, Operand, PExpr, SeqOp, Stmt};

/// Renders a function's IR, one statement per line.
pub fn print(func: &Function) -> String {
    let mut out = String::new();
    for (index, var) in func.vars.iter().enumerate() {
        let _ = writeln!(
            out,
            "v{index} {} : {:?} ({:?})",
            var.name,
            ty_name(&var.ty),
            var.origin
        );
    }
    block(func, &func.body, 0, &mut out);
    if let Some(ret) = func.ret {
        let _ = writeln!(out, "return {}", func.var(ret).name);
    }
    out
}

fn ty_name(ty: &super::Ty) -> &'static str {
    match ty {
        super::Ty::Float => "float",
        super::Ty::Int(_) => "int",
        super::Ty::Bool => "bool",
        super::Ty::FloatArray(_) => "float[]",
        super::Ty::IntArray => "int[]",
    }
}

fn pexpr(value: &PExpr) -> String {
    value.tokens.to_string()
}

fn operand(func: &Function, value: &Operand) -> String {
    match value {
        Operand::Var(id) => func.var(*id).name.clone(),
        Operand::Const(value) => pexpr(value),
    }
}

fn block(func: &Function, stmts: &Block, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let name = |id: super::VarId| func.var(id).name.clone();
    for stmt in stmts {
        match stmt {
            Stmt::Float { dst, op, .. } => {
                let rhs = match op {
                    FloatOp::Copy(a) => operand(func, a),
                    FloatOp::Neg(a) => format!("-{}", operand(func, a)),
                    FloatOp::Add(a, b) => format!("{} + {}", operand(func, a), operand(func, b)),
                    FloatOp::Sub(a, b) => format!("{} - {}", operand(func, a), operand(func, b)),
                    FloatOp::Mul(a, b) => format!("{} * {}", operand(func, a), operand(func, b)),
                    FloatOp::Div(a, b) => format!("{} / {}", operand(func, a), operand(func, b)),
                    FloatOp::Prim {
                        prim,
                        args,
                        int_arg,
                    } => {
                        let mut parts: Vec<String> =
                            args.iter().map(|a| operand(func, a)).collect();
                        if let Some(int_arg) = int_arg {
                            parts.push(pexpr(int_arg));
                        }
                        format!("{}({})", prim.name, parts.join(", "))
                    }
                    FloatOp::Read { array, index } => format!("{}[{}]", name(*array), pexpr(index)),
                };
                let _ = writeln!(out, "{pad}{} = {rhs}", name(*dst));
            }
            Stmt::Passive { dst, value, .. } => {
                let _ = writeln!(out, "{pad}{} := {}", name(*dst), pexpr(value));
            }
            Stmt::Store {
                array,
                index,
                value,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "{pad}{}[{}] = {}",
                    name(*array),
                    pexpr(index),
                    operand(func, value)
                );
            }
            Stmt::NewArray { dst, init, .. } => {
                let rhs = match init {
                    ArrayInit::VecFill { value, len } => {
                        format!("vec[{}; {}]", operand(func, value), pexpr(len))
                    }
                    ArrayInit::FixedFill { value, len } => {
                        format!("[{}; {}]", operand(func, value), len)
                    }
                    ArrayInit::List { items, .. } => format!(
                        "[{}]",
                        items
                            .iter()
                            .map(|i| operand(func, i))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    ArrayInit::CopyOf { src, .. } => format!("copy {}", name(*src)),
                };
                let _ = writeln!(out, "{pad}{} = {rhs}", name(*dst));
            }
            Stmt::Call {
                dst,
                func: callee,
                args,
                ..
            } => {
                let args: Vec<String> = args
                    .iter()
                    .map(|arg| match arg {
                        CallArg::Float(value) => operand(func, value),
                        CallArg::Array { var, .. } => format!("&{}", name(*var)),
                        CallArg::MutArray { var, .. } => format!("&mut {}", name(*var)),
                        CallArg::Passive(value) => pexpr(value),
                    })
                    .collect();
                let target = dst.map(|d| format!("{} = ", name(d))).unwrap_or_default();
                let _ = writeln!(out, "{pad}{target}call {}({})", callee, args.join(", "));
            }
            Stmt::Effect(value) => {
                let _ = writeln!(out, "{pad}effect {}", pexpr(value));
            }
            Stmt::If {
                cond,
                then_block,
                else_block,
            } => {
                let _ = writeln!(out, "{pad}if {} {{", pexpr(cond));
                block(func, then_block, depth + 1, out);
                if !else_block.is_empty() {
                    let _ = writeln!(out, "{pad}}} else {{");
                    block(func, else_block, depth + 1, out);
                }
                let _ = writeln!(out, "{pad}}}");
            }
            Stmt::Loop(looped) => {
                let head = match &looped.kind {
                    LoopKind::For { index, seq } => {
                        let mut range = format!(
                            "{}{}{}",
                            name(seq.lo),
                            if seq.inclusive { "..=" } else { ".." },
                            name(seq.hi)
                        );
                        for op in &seq.chain {
                            match op {
                                SeqOp::Rev => range.push_str(".rev()"),
                                SeqOp::StepBy(step) => {
                                    let _ = write!(range, ".step_by({})", name(*step));
                                }
                            }
                        }
                        format!(
                            "for {} in {range}",
                            index.map(name).unwrap_or_else(|| "_".into())
                        )
                    }
                    LoopKind::Infinite => "loop".into(),
                };
                let _ = writeln!(out, "{pad}{head} {{");
                block(func, &looped.body, depth + 1, out);
                if let Some(exit) = &looped.exit {
                    let _ = writeln!(out, "{pad}  exit if {}", pexpr(exit));
                }
                let _ = writeln!(out, "{pad}}}");
            }
        }
    }
}
