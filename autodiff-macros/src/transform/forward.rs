//! Forward mode as an IR-to-IR transformation: every active float variable gets a
//! tangent variable, and every float statement is preceded by the statements that
//! compute its tangent from the tangents of its operands (before the primal
//! assignment, which may overwrite an operand). Control flow is copied: tangents
//! travel beside the values, no stack is needed.
//!
//! Because the result is ordinary IR, it can be given to the reverse transformation:
//! reverse over forward differentiates `∇f·v` and yields the Hessian-vector product
//! (`f_hvp`) without a hand-written second-order mode.
//!
//! The tangent formulas below are the `<op>_jvp` rules of `autodiff_runtime::rules`
//! written with IR operations, and take the same one-sided choices.

use proc_macro2::{Literal, Span, TokenStream};
use quote::quote;

use crate::analysis::activity::Activity;
use crate::ir::{
    ArrayInit, Block, FloatOp, Function, Loop, Operand, Origin, PExpr, Stmt, Ty, Var, VarId,
};
use crate::rules::{self, Prim};
use crate::sig::{Param, Signature};

/// A function extended with tangents.
pub struct Tangent {
    /// Primal and tangent statements; `func.ret` is the tangent of the result.
    pub func: Function,
    /// The original parameters followed by one tangent parameter per active one.
    pub sig: Signature,
    /// The variable holding the primal result.
    pub value: Option<VarId>,
    /// For each original parameter, the index of its tangent parameter in `sig`.
    pub param_tangent: Vec<Option<usize>>,
}

pub fn transform(func: &Function, sig: &Signature, activity: &Activity) -> Tangent {
    let mut out = Builder {
        names: func
            .vars
            .iter()
            .flat_map(|var| [var.name.clone(), var.adjoint.clone()])
            .collect(),
        counter: 0,
        vars: func.vars.clone(),
        dot: vec![None; func.vars.len()],
        active: (0..func.vars.len())
            .map(|index| activity.is_active(VarId(index as u32)))
            .collect(),
        float: sig.float.name(),
        stmts: Vec::new(),
    };
    let mut tangent_sig = sig.clone();
    let mut param_tangent = vec![None; sig.params.len()];
    let mut zero_starts: Block = Vec::new();
    for (index, var) in func.vars.iter().enumerate() {
        let id = VarId(index as u32);
        // Every differentiated parameter gets a tangent, also one that turns out not
        // to influence the result: `f_jvp` takes one tangent per such parameter.
        let differentiated_param =
            matches!(var.origin, Origin::Param(position) if sig.params[position].active);
        if !activity.is_active(id) && !differentiated_param {
            continue;
        }
        // An active parameter the user does not differentiate (`s` under
        // `wrt(k)`, overwritten with values that depend on `k`): its tangent
        // starts at zero, a local rather than a parameter of `f_jvp`.
        let zero_start = matches!(var.origin, Origin::Param(_)) && !differentiated_param;
        let origin = match var.origin {
            Origin::Param(_) if zero_start => Origin::Local,
            Origin::Param(position) => {
                let param = &sig.params[position];
                let name = out.unique(&format!("{}_dot", param.ident));
                tangent_sig.params.push(Param {
                    ident: syn::Ident::new(&name, Span::call_site()),
                    ty: param.ty.clone(),
                    kind: param.kind.clone(),
                    active: false,
                });
                param_tangent[position] = Some(tangent_sig.params.len() - 1);
                Origin::Param(tangent_sig.params.len() - 1)
            }
            _ => Origin::Local,
        };
        let name = match &origin {
            Origin::Param(position) => tangent_sig.params[*position].ident.to_string(),
            _ => out.unique(&format!("{}_dot", var.name)),
        };
        let tangent = out.push_var(name, var.ty.clone(), origin, var.span);
        out.dot[index] = Some(tangent);
        if zero_start {
            zero_starts.push(out.zero_like(tangent, id, var.span));
        }
    }
    let mut body = zero_starts;
    body.extend(out.block(&func.body));
    out.stmts = body;
    let tangent_ret = match func.ret {
        Some(ret) => Some(match out.dot[ret.0 as usize] {
            Some(dot) => dot,
            None => {
                // The result does not depend on the differentiated inputs.
                let name = out.unique("__ad_ret_dot");
                let zero = out.push_var(
                    name,
                    func.var(ret).ty.clone(),
                    Origin::Local,
                    Span::call_site(),
                );
                let stmt = out.zero_like(zero, ret, Span::call_site());
                out.stmts.push(stmt);
                zero
            }
        }),
        None => None,
    };
    Tangent {
        func: Function {
            vars: out.vars,
            body: out.stmts,
            ret: tangent_ret,
            opaque: func.opaque.clone(),
        },
        sig: tangent_sig,
        value: func.ret,
        param_tangent,
    }
}

struct Builder {
    /// Every name in use, so that new ones are unique in constant time.
    names: std::collections::HashSet<String>,
    counter: usize,
    vars: Vec<Var>,
    dot: Vec<Option<VarId>>,
    /// The activity of the function's own variables: a differentiated
    /// parameter has a tangent even when inactive (`f_jvp` takes one), but a
    /// call is not differentiated through it.
    active: Vec<bool>,
    float: &'static str,
    stmts: Block,
}

impl Builder {
    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        while self.names.contains(&name) {
            self.counter += 1;
            name = format!("{base}{}", self.counter);
        }
        self.names.insert(name.clone());
        name
    }

    fn push_var(&mut self, name: String, ty: Ty, origin: Origin, span: Span) -> VarId {
        let adjoint = self.unique(&format!("{name}_bar"));
        let id = VarId(self.vars.len() as u32);
        self.vars.push(Var {
            name,
            adjoint,
            ty,
            origin,
            span,
        });
        self.dot.push(None);
        self.active.push(true);
        id
    }

    /// `dst = 0` shaped like `like` (a float, `[0.0; N]`, or `vec![0.0;
    /// like.len()]`): a tangent that starts at zero.
    fn zero_like(&self, dst: VarId, like: VarId, span: Span) -> Stmt {
        let value = self.konst(0.0);
        match &self.vars[like.0 as usize].ty {
            Ty::Float => Stmt::Float {
                dst,
                op: FloatOp::Copy(value),
                span,
            },
            Ty::FloatArray(crate::sig::Shape::Fixed(len)) => Stmt::NewArray {
                dst,
                init: ArrayInit::FixedFill {
                    value,
                    len: len.clone(),
                },
                span,
            },
            _ => {
                let name = self.ident(like);
                Stmt::NewArray {
                    dst,
                    init: ArrayInit::VecFill {
                        value,
                        len: PExpr {
                            tokens: quote!(#name.len()),
                            reads: vec![like],
                        },
                    },
                    span,
                }
            }
        }
    }

    fn ident(&self, id: VarId) -> proc_macro2::Ident {
        crate::ir::ident(&self.vars[id.0 as usize].name, Span::call_site())
    }

    fn konst(&self, value: f64) -> Operand {
        Operand::Const(PExpr {
            tokens: proc_macro2::TokenTree::Literal(Literal::f64_unsuffixed(value)).into(),
            reads: Vec::new(),
        })
    }

    fn float_const(&self, tokens: TokenStream) -> Operand {
        let float = syn::Ident::new(self.float, Span::call_site());
        Operand::Const(PExpr {
            tokens: quote!(::core::#float::consts::#tokens),
            reads: Vec::new(),
        })
    }

    /// Only for primitives missing from the table, which lowering never produces.
    fn nan(&self) -> Operand {
        let float = syn::Ident::new(self.float, Span::call_site());
        Operand::Const(PExpr {
            tokens: quote!(#float::NAN),
            reads: Vec::new(),
        })
    }

    fn dot_of(&self, operand: &Operand) -> Option<VarId> {
        operand.var().and_then(|var| self.dot[var.0 as usize])
    }

    /// A new float temporary holding `op`.
    fn op(&mut self, op: FloatOp) -> Operand {
        let name = self.unique("__ad_d");
        let dst = self.push_var(name, Ty::Float, Origin::Local, Span::call_site());
        self.stmts.push(Stmt::Float {
            dst,
            op,
            span: Span::call_site(),
        });
        Operand::Var(dst)
    }

    fn prim(&mut self, name: &str, args: Vec<Operand>) -> Operand {
        match rules::lookup_rule(name) {
            Some(prim) => self.op(FloatOp::Prim {
                prim,
                args,
                int_arg: None,
            }),
            None => self.nan(),
        }
    }

    fn mul(&mut self, a: Operand, b: Operand) -> Operand {
        self.op(FloatOp::Mul(a, b))
    }

    fn add(&mut self, a: Operand, b: Operand) -> Operand {
        self.op(FloatOp::Add(a, b))
    }

    fn sub(&mut self, a: Operand, b: Operand) -> Operand {
        self.op(FloatOp::Sub(a, b))
    }

    fn div(&mut self, a: Operand, b: Operand) -> Operand {
        self.op(FloatOp::Div(a, b))
    }

    /// `Σ factor_k · tangent_k` over the operands that have tangents.
    fn combine(&mut self, terms: Vec<(Operand, Option<VarId>)>) -> Operand {
        let mut total: Option<Operand> = None;
        for (factor, tangent) in terms {
            let Some(tangent) = tangent else { continue };
            let term = self.mul(factor, Operand::Var(tangent));
            total = Some(match total {
                Some(sum) => self.add(sum, term),
                None => term,
            });
        }
        total.unwrap_or_else(|| self.konst(0.0))
    }

    /// `cond ? then : else` into a new temporary, each side built by a closure.
    fn select(
        &mut self,
        cond: PExpr,
        then_value: impl FnOnce(&mut Self) -> Operand,
        else_value: impl FnOnce(&mut Self) -> Operand,
    ) -> Operand {
        let name = self.unique("__ad_d");
        let dst = self.push_var(name, Ty::Float, Origin::Local, Span::call_site());
        let outer = std::mem::take(&mut self.stmts);
        let value = then_value(self);
        self.stmts.push(Stmt::Float {
            dst,
            op: FloatOp::Copy(value),
            span: Span::call_site(),
        });
        let then_block = std::mem::take(&mut self.stmts);
        let value = else_value(self);
        self.stmts.push(Stmt::Float {
            dst,
            op: FloatOp::Copy(value),
            span: Span::call_site(),
        });
        let else_block = std::mem::replace(&mut self.stmts, outer);
        self.stmts.push(Stmt::If {
            cond,
            then_block,
            else_block,
        });
        Operand::Var(dst)
    }

    fn operand_tokens(&self, operand: &Operand) -> (TokenStream, Vec<VarId>) {
        match operand {
            Operand::Var(id) => {
                let name = self.ident(*id);
                (quote!(#name), vec![*id])
            }
            Operand::Const(value) => {
                // Typed, so that `c.is_nan()` on a literal resolves.
                let tokens = &value.tokens;
                let float = syn::Ident::new(self.float, Span::call_site());
                (quote!(((#tokens) as #float)), value.reads.clone())
            }
        }
    }

    /// A condition over operands, e.g. `a >= b || b.is_nan()`.
    fn cond(
        &self,
        build: impl FnOnce(&[TokenStream]) -> TokenStream,
        operands: &[&Operand],
    ) -> PExpr {
        let mut tokens = Vec::new();
        let mut reads = Vec::new();
        for operand in operands {
            let (t, r) = self.operand_tokens(operand);
            tokens.push(t);
            reads.extend(r);
        }
        PExpr {
            tokens: build(&tokens),
            reads,
        }
    }

    /// The tangent of a primitive applied to `args`.
    fn prim_tangent(&mut self, prim: Prim, args: &[Operand], int_arg: Option<&PExpr>) -> Operand {
        let dots: Vec<Option<VarId>> = args.iter().map(|a| self.dot_of(a)).collect();
        let x = args[0].clone();
        let unary = |this: &mut Self, factor: Operand| this.combine(vec![(factor, dots[0])]);
        let one = self.konst(1.0);
        match prim.name {
            "sin" => {
                let f = self.prim("cos", vec![x]);
                unary(self, f)
            }
            "cos" => {
                let s = self.prim("sin", vec![x]);
                let f = self.op(FloatOp::Neg(s));
                unary(self, f)
            }
            "tan" => {
                let t = self.prim("tan", vec![x]);
                let t2 = self.mul(t.clone(), t);
                let f = self.add(one, t2);
                unary(self, f)
            }
            "asin" | "acos" => {
                let x2 = self.mul(x.clone(), x);
                let rest = self.sub(one, x2);
                let root = self.prim("sqrt", vec![rest]);
                let mut f = self.prim("recip", vec![root]);
                if prim.name == "acos" {
                    f = self.op(FloatOp::Neg(f));
                }
                unary(self, f)
            }
            "atan" => {
                let x2 = self.mul(x.clone(), x);
                let den = self.add(one, x2);
                let f = self.prim("recip", vec![den]);
                unary(self, f)
            }
            "sinh" => {
                let f = self.prim("cosh", vec![x]);
                unary(self, f)
            }
            "cosh" => {
                let f = self.prim("sinh", vec![x]);
                unary(self, f)
            }
            "tanh" => {
                // (1 - t)(1 + t), not 1 - t²: precise where tanh saturates.
                let t = self.prim("tanh", vec![x]);
                let below = self.sub(one.clone(), t.clone());
                let above = self.add(one, t);
                let f = self.mul(below, above);
                unary(self, f)
            }
            "exp" | "exp_m1" => {
                let f = self.prim("exp", vec![x]);
                unary(self, f)
            }
            "to_f32_precision" => unary(self, one),
            "logistic" => {
                // y (1 - y), from the value as the reverse rule takes it.
                let y = self.prim("logistic", vec![x]);
                let rest = self.sub(one, y.clone());
                let f = self.mul(y, rest);
                unary(self, f)
            }
            "exp2" => {
                let e = self.prim("exp2", vec![x]);
                let ln2 = self.float_const(quote!(LN_2));
                let f = self.mul(e, ln2);
                unary(self, f)
            }
            "ln" => {
                let f = self.prim("recip", vec![x]);
                unary(self, f)
            }
            "ln_1p" => {
                let den = self.add(one, x);
                let f = self.prim("recip", vec![den]);
                unary(self, f)
            }
            "log10" | "log2" => {
                let base = self.float_const(if prim.name == "log10" {
                    quote!(LN_10)
                } else {
                    quote!(LN_2)
                });
                let den = self.mul(x, base);
                let f = self.prim("recip", vec![den]);
                unary(self, f)
            }
            "sqrt" => {
                let root = self.prim("sqrt", vec![x]);
                let half = self.konst(0.5);
                let f = self.div(half, root);
                unary(self, f)
            }
            "cbrt" => {
                let c = self.prim("cbrt", vec![x]);
                let c2 = self.mul(c.clone(), c);
                let three = self.konst(3.0);
                let den = self.mul(three, c2);
                let f = self.prim("recip", vec![den]);
                unary(self, f)
            }
            "abs" => {
                // abs'(0) = 0, as the runtime rule.
                let cond = self.cond(
                    |t| {
                        let x = &t[0];
                        quote!(#x == 0.0)
                    },
                    &[&x],
                );
                let f = self.select(
                    cond,
                    |this| this.konst(0.0),
                    |this| this.prim("signum", vec![x.clone()]),
                );
                unary(self, f)
            }
            "signum" | "floor" | "ceil" | "round" => self.konst(0.0),
            "recip" => {
                let r = self.prim("recip", vec![x]);
                let r2 = self.mul(r.clone(), r);
                let f = self.op(FloatOp::Neg(r2));
                unary(self, f)
            }
            "powi" => {
                let n = int_arg.cloned().unwrap_or(PExpr {
                    tokens: quote!(0),
                    reads: Vec::new(),
                });
                let n_tokens = n.tokens.clone();
                let float = syn::Ident::new(self.float, Span::call_site());
                let cond = PExpr {
                    tokens: quote!((#n_tokens) == 0),
                    reads: n.reads.clone(),
                };
                let f = self.select(
                    cond,
                    |this| this.konst(0.0),
                    |this| {
                        let lowered = PExpr {
                            tokens: quote!((#n_tokens) - 1),
                            reads: n.reads.clone(),
                        };
                        let power = match rules::lookup("powi") {
                            Some(powi) => this.op(FloatOp::Prim {
                                prim: powi,
                                args: vec![x.clone()],
                                int_arg: Some(lowered),
                            }),
                            None => this.nan(),
                        };
                        let count = Operand::Const(PExpr {
                            tokens: quote!(((#n_tokens) as #float)),
                            reads: n.reads.clone(),
                        });
                        this.mul(count, power)
                    },
                );
                unary(self, f)
            }
            "powf" => {
                let y = args[1].clone();
                // ∂/∂x = y·x^(y-1) (0 when y == 0); ∂/∂y = x^y·ln x (0 when x == 0).
                let cond_y = self.cond(
                    |t| {
                        let y = &t[0];
                        quote!(#y == 0.0)
                    },
                    &[&y],
                );
                let dx = self.select(
                    cond_y,
                    |this| this.konst(0.0),
                    |this| {
                        let one = this.konst(1.0);
                        let ym1 = this.sub(y.clone(), one);
                        let p = this.prim("powf", vec![x.clone(), ym1]);
                        this.mul(y.clone(), p)
                    },
                );
                let cond_x = self.cond(
                    |t| {
                        let x = &t[0];
                        quote!(#x == 0.0)
                    },
                    &[&x],
                );
                let dy = self.select(
                    cond_x,
                    |this| this.konst(0.0),
                    |this| {
                        let p = this.prim("powf", vec![x.clone(), y.clone()]);
                        let l = this.prim("ln", vec![x.clone()]);
                        this.mul(p, l)
                    },
                );
                self.combine(vec![(dx, dots[0]), (dy, dots[1])])
            }
            "atan2" => {
                // atan2(y, x): (x·ẏ − y·ẋ) / (x² + y²), 0 at the origin.
                let y = x;
                let xx = args[1].clone();
                let cond = self.cond(
                    |t| {
                        let (y, x) = (&t[0], &t[1]);
                        quote!(#y == 0.0 && #x == 0.0)
                    },
                    &[&y, &xx],
                );
                let y2 = self.mul(y.clone(), y.clone());
                let x2 = self.mul(xx.clone(), xx.clone());
                let den = self.add(x2, y2);
                let fy = self.select(
                    cond.clone(),
                    |this| this.konst(0.0),
                    |this| this.div(xx.clone(), den.clone()),
                );
                let fx = self.select(
                    cond,
                    |this| this.konst(0.0),
                    |this| {
                        let q = this.div(y.clone(), den.clone());
                        this.op(FloatOp::Neg(q))
                    },
                );
                self.combine(vec![(fy, dots[0]), (fx, dots[1])])
            }
            "hypot" => {
                let yy = args[1].clone();
                let h = self.prim("hypot", vec![x.clone(), yy.clone()]);
                let cond = self.cond(
                    |t| {
                        let h = &t[0];
                        quote!(#h == 0.0)
                    },
                    &[&h],
                );
                let fx = self.select(
                    cond.clone(),
                    |this| this.konst(0.0),
                    |this| this.div(x.clone(), h.clone()),
                );
                let fy = self.select(
                    cond,
                    |this| this.konst(0.0),
                    |this| this.div(yy.clone(), h.clone()),
                );
                self.combine(vec![(fx, dots[0]), (fy, dots[1])])
            }
            "max" | "min" => {
                // The tangent of the argument returned; ties to the first, NaN to the other.
                let b = args[1].clone();
                let is_max = prim.name == "max";
                let cond = self.cond(
                    |t| {
                        let (a, b) = (&t[0], &t[1]);
                        if is_max {
                            quote!(#a >= #b || #b.is_nan())
                        } else {
                            quote!(#a <= #b || #b.is_nan())
                        }
                    },
                    &[&x, &b],
                );
                let (da, db) = (dots[0], dots[1]);
                self.select(
                    cond,
                    |this| da.map(Operand::Var).unwrap_or_else(|| this.konst(0.0)),
                    |this| db.map(Operand::Var).unwrap_or_else(|| this.konst(0.0)),
                )
            }
            "mul_add" => {
                let (a, b) = (x, args[1].clone());
                self.combine(vec![(b, dots[0]), (a, dots[1]), (one, dots[2])])
            }
            _ => self.nan(),
        }
    }

    fn float_tangent(&mut self, op: &FloatOp) -> Operand {
        match op {
            FloatOp::Copy(a) => match self.dot_of(a) {
                Some(t) => Operand::Var(t),
                None => self.konst(0.0),
            },
            FloatOp::Neg(a) => match self.dot_of(a) {
                Some(t) => self.op(FloatOp::Neg(Operand::Var(t))),
                None => self.konst(0.0),
            },
            FloatOp::Add(a, b) | FloatOp::Sub(a, b) => {
                let minus = matches!(op, FloatOp::Sub(..));
                match (self.dot_of(a), self.dot_of(b)) {
                    (Some(ta), Some(tb)) if minus => self.sub(Operand::Var(ta), Operand::Var(tb)),
                    (Some(ta), Some(tb)) => self.add(Operand::Var(ta), Operand::Var(tb)),
                    (Some(ta), None) => Operand::Var(ta),
                    (None, Some(tb)) if minus => self.op(FloatOp::Neg(Operand::Var(tb))),
                    (None, Some(tb)) => Operand::Var(tb),
                    (None, None) => self.konst(0.0),
                }
            }
            FloatOp::Mul(a, b) => {
                let terms = vec![(b.clone(), self.dot_of(a)), (a.clone(), self.dot_of(b))];
                self.combine(terms)
            }
            FloatOp::Div(a, b) => {
                // (ȧ − (a/b)·ḃ) / b
                let (ta, tb) = (self.dot_of(a), self.dot_of(b));
                let numerator = match tb {
                    Some(tb) => {
                        let q = self.div(a.clone(), b.clone());
                        let qb = self.mul(q, Operand::Var(tb));
                        match ta {
                            Some(ta) => self.sub(Operand::Var(ta), qb),
                            None => self.op(FloatOp::Neg(qb)),
                        }
                    }
                    None => match ta {
                        Some(ta) => Operand::Var(ta),
                        None => return self.konst(0.0),
                    },
                };
                self.div(numerator, b.clone())
            }
            FloatOp::Prim {
                prim,
                args,
                int_arg,
            } => self.prim_tangent(*prim, args, int_arg.as_ref()),
            FloatOp::Read { array, index } => match self.dot[array.0 as usize] {
                Some(tangent) => self.op(FloatOp::Read {
                    array: tangent,
                    index: index.clone(),
                }),
                None => self.konst(0.0),
            },
        }
    }

    fn block(&mut self, block: &Block) -> Block {
        let outer = std::mem::take(&mut self.stmts);
        for stmt in block {
            self.stmt(stmt);
        }
        std::mem::replace(&mut self.stmts, outer)
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Float { dst, op, span } => {
                if let Some(tangent) = self.dot[dst.0 as usize] {
                    let value = self.float_tangent(op);
                    self.stmts.push(Stmt::Float {
                        dst: tangent,
                        op: FloatOp::Copy(value),
                        span: *span,
                    });
                }
                self.stmts.push(stmt.clone());
            }
            Stmt::Store {
                array,
                index,
                value,
                span,
            } => {
                if let Some(tangent) = self.dot[array.0 as usize] {
                    let value = match self.dot_of(value) {
                        Some(t) => Operand::Var(t),
                        None => self.konst(0.0),
                    };
                    self.stmts.push(Stmt::Store {
                        array: tangent,
                        index: index.clone(),
                        value,
                        span: *span,
                    });
                }
                self.stmts.push(stmt.clone());
            }
            Stmt::NewArray { dst, init, span } => {
                if let Some(tangent) = self.dot[dst.0 as usize] {
                    let dot_or_zero = |this: &Self, operand: &Operand| match this.dot_of(operand) {
                        Some(t) => Operand::Var(t),
                        None => this.konst(0.0),
                    };
                    let init = match init {
                        ArrayInit::VecFill { value, len } => ArrayInit::VecFill {
                            value: dot_or_zero(self, value),
                            len: len.clone(),
                        },
                        ArrayInit::FixedFill { value, len } => ArrayInit::FixedFill {
                            value: dot_or_zero(self, value),
                            len: len.clone(),
                        },
                        ArrayInit::List { items, fixed } => ArrayInit::List {
                            items: items.iter().map(|item| dot_or_zero(self, item)).collect(),
                            fixed: *fixed,
                        },
                        ArrayInit::CopyOf { src, to_vec } => match self.dot[src.0 as usize] {
                            Some(src_dot) => ArrayInit::CopyOf {
                                src: src_dot,
                                to_vec: *to_vec,
                            },
                            None => {
                                let name = self.ident(*src);
                                ArrayInit::VecFill {
                                    value: self.konst(0.0),
                                    len: PExpr {
                                        tokens: quote!(#name.len()),
                                        reads: vec![*src],
                                    },
                                }
                            }
                        },
                    };
                    self.stmts.push(Stmt::NewArray {
                        dst: tangent,
                        init,
                        span: *span,
                    });
                }
                self.stmts.push(stmt.clone());
            }
            Stmt::Call {
                dst,
                func,
                args,
                span,
                ..
            } => {
                use crate::ir::{ArgTangent, CallArg, CallTangent};
                let tangents = args
                    .iter()
                    .map(|arg| match arg {
                        CallArg::Float(operand) => ArgTangent::Float(
                            match self.dot_of(operand).filter(|_| {
                                operand.var().is_some_and(|var| self.active[var.0 as usize])
                            }) {
                                Some(dot) => Operand::Var(dot),
                                None => self.konst(0.0),
                            },
                        ),
                        CallArg::Array { var, .. } => ArgTangent::Array(
                            self.dot[var.0 as usize].filter(|_| self.active[var.0 as usize]),
                        ),
                        CallArg::MutArray { var, .. } => {
                            ArgTangent::MutArray(self.dot[var.0 as usize])
                        }
                        CallArg::Passive(_) => ArgTangent::Passive,
                    })
                    .collect::<Vec<_>>();
                let dst_tangent = dst.and_then(|d| self.dot[d.0 as usize]);
                let carries_tangent = |arg: &ArgTangent| match arg {
                    ArgTangent::Float(operand) => operand.var().is_some(),
                    ArgTangent::Array(dot) | ArgTangent::MutArray(dot) => dot.is_some(),
                    ArgTangent::Passive => false,
                };
                if dst_tangent.is_none() && !tangents.iter().any(carries_tangent) {
                    // Nothing differentiated goes in or comes out (`lgamma(0.5 *
                    // n as f64)`): the call runs as written, and its callee need
                    // not be a `#[differentiate]` function.
                    self.stmts.push(stmt.clone());
                    return;
                }
                self.stmts.push(Stmt::Call {
                    dst: *dst,
                    func: func.clone(),
                    args: args.clone(),
                    span: *span,
                    tangent: Some(CallTangent {
                        dst: dst.and_then(|d| self.dot[d.0 as usize]),
                        args: tangents,
                    }),
                });
            }
            Stmt::Passive { .. } | Stmt::Effect(_) => self.stmts.push(stmt.clone()),
            Stmt::If {
                cond,
                then_block,
                else_block,
            } => {
                let then_block = self.block(then_block);
                let else_block = self.block(else_block);
                self.stmts.push(Stmt::If {
                    cond: cond.clone(),
                    then_block,
                    else_block,
                });
            }
            Stmt::Loop(looped) => {
                let body = self.block(&looped.body);
                self.stmts.push(Stmt::Loop(Box::new(Loop {
                    kind: looped.kind.clone(),
                    body,
                    exit: looped.exit.clone(),
                    reset: looped.reset.clone(),
                    body_vars: looped.body_vars.clone(),
                })));
            }
        }
    }
}

/// The tangent function made scalar for the reverse transformation: every float
/// parameter (primal and tangent) differentiated, and the result
/// `s_value · value + s_tangent · tangent` with the two seeds as extra passive
/// parameters. Its reverse core, `__reverse_forward`, is what a caller's `f_hvp`
/// calls to differentiate through this function's `__forward`. `None` for
/// functions returning arrays (which callers cannot call as values).
pub fn seeded(tangent: &Tangent) -> Option<(Function, Signature)> {
    use crate::sig::{ParamKind, RetKind};
    if matches!(tangent.sig.ret, RetKind::Array(_)) {
        return None;
    }
    let mut func = tangent.func.clone();
    let mut sig = tangent.sig.clone();
    for param in &mut sig.params {
        param.active = param.is_float();
    }
    // Interleave: each parameter, then its tangent (or a `()` placeholder for
    // passive ones), so that a caller passes four things per argument without
    // knowing the callee's parameter types (constants are passed that way).
    let primal_count = tangent.param_tangent.len();
    let mut order: Vec<Param> = Vec::new();
    let mut new_index = vec![0usize; sig.params.len()];
    for k in 0..primal_count {
        new_index[k] = order.len();
        order.push(sig.params[k].clone());
        match tangent.param_tangent[k] {
            Some(t) => {
                new_index[t] = order.len();
                order.push(sig.params[t].clone());
            }
            None => order.push(Param {
                ident: syn::Ident::new(&format!("__ad_no_tangent{k}"), Span::call_site()),
                ty: syn::parse_quote!(()),
                kind: ParamKind::Passive(crate::sig::PassiveKind::Int),
                active: false,
            }),
        }
    }
    for var in &mut func.vars {
        if let Origin::Param(index) = var.origin {
            var.origin = Origin::Param(new_index[index]);
        }
    }
    sig.params = order;
    let taken: std::collections::HashSet<String> = func
        .vars
        .iter()
        .flat_map(|var| [var.name.clone(), var.adjoint.clone()])
        .collect();
    let fresh = |base: &str, func: &mut Function, origin: Origin| {
        let mut name = base.to_string();
        while taken.contains(&name) || func.vars.iter().any(|var| var.name == name) {
            name.push('_');
        }
        let id = VarId(func.vars.len() as u32);
        func.vars.push(Var {
            adjoint: format!("{name}_bar"),
            name,
            ty: Ty::Float,
            origin,
            span: Span::call_site(),
        });
        id
    };
    let float = syn::Ident::new(sig.float.name(), Span::call_site());
    let seed_param = |base: &str, func: &mut Function, sig: &mut Signature| {
        let id = fresh(base, func, Origin::Param(sig.params.len()));
        sig.params.push(Param {
            ident: syn::Ident::new(&func.var(id).name, Span::call_site()),
            ty: syn::parse_quote!(#float),
            kind: ParamKind::Scalar,
            active: false,
        });
        id
    };
    let seed_value = seed_param("__ad_seed_value", &mut func, &mut sig);
    let seed_tangent = seed_param("__ad_seed_tangent", &mut func, &mut sig);
    let combined = fresh("__ad_combined", &mut func, Origin::Local);
    let span = Span::call_site();
    match (tangent.value, func.ret) {
        (Some(value), Some(dot)) => {
            let first = fresh("__ad_seeded_value", &mut func, Origin::Local);
            let second = fresh("__ad_seeded_tangent", &mut func, Origin::Local);
            func.body.push(Stmt::Float {
                dst: first,
                op: FloatOp::Mul(Operand::Var(seed_value), Operand::Var(value)),
                span,
            });
            func.body.push(Stmt::Float {
                dst: second,
                op: FloatOp::Mul(Operand::Var(seed_tangent), Operand::Var(dot)),
                span,
            });
            func.body.push(Stmt::Float {
                dst: combined,
                op: FloatOp::Add(Operand::Var(first), Operand::Var(second)),
                span,
            });
        }
        _ => func.body.push(Stmt::Float {
            dst: combined,
            op: FloatOp::Copy(Operand::Const(PExpr {
                tokens: quote!(0.0),
                reads: Vec::new(),
            })),
            span,
        }),
    }
    func.ret = Some(combined);
    sig.ret = RetKind::Scalar;
    Some((func, sig))
}
