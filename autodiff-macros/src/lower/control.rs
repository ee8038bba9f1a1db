//! Statements and control flow: `let`, assignments, `if`, `match`, loops, and the
//! rewriting of `break`, `continue` and `return` into flags and guarded blocks.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;

use super::{bool_expr, split_tail, Kind, LoopCtx, Lowerer};
use crate::diag;
use crate::ir::{
    FloatOp, Loop, LoopKind, Operand, Origin, PExpr, RangeSeq, SeqOp, Stmt, Ty, VarId,
};

impl Lowerer<'_> {
    /// `let z;` (or `let z: f64;`) assigned later: Rust proves every read comes
    /// after an assignment, so the variable may start from a zero of the type of
    /// its first assignment (`z = x * 2.0` anywhere after it in the block), which
    /// it never shows. `None` for other statements, and when no assignment tells
    /// the type (the `let` is then refused).
    fn deferred_init(
        &self,
        stmt: &syn::Stmt,
        rest: &[syn::Stmt],
        tail: Option<&syn::Expr>,
    ) -> Option<syn::Stmt> {
        let syn::Stmt::Local(local) = stmt else {
            return None;
        };
        if local.init.is_some() {
            return None;
        }
        let (ident, annotated) = match &local.pat {
            syn::Pat::Ident(pat) if pat.subpat.is_none() => (&pat.ident, None),
            syn::Pat::Type(typed) => match &*typed.pat {
                syn::Pat::Ident(pat) if pat.subpat.is_none() => (&pat.ident, Some(&*typed.ty)),
                _ => return None,
            },
            _ => return None,
        };
        let kind = match annotated {
            Some(ty) => match crate::sig::classify_type(ty) {
                Some((crate::sig::ParamKind::Scalar, _)) => Kind::Float,
                Some((crate::sig::ParamKind::Passive(crate::sig::PassiveKind::Int), _)) => {
                    Kind::Int
                }
                Some((crate::sig::ParamKind::Passive(crate::sig::PassiveKind::Bool), _)) => {
                    Kind::Bool
                }
                _ => return None,
            },
            None => {
                let mut first = FirstAssignment {
                    name: ident.to_string(),
                    value: None,
                };
                for later in rest {
                    syn::visit::Visit::visit_stmt(&mut first, later);
                }
                if let Some(tail) = tail {
                    syn::visit::Visit::visit_expr(&mut first, tail);
                }
                self.kind_of(first.value?)
            }
        };
        let zero: syn::Expr = match kind {
            Kind::Float => syn::parse_quote!(0.0),
            Kind::Int => syn::parse_quote!(0),
            Kind::Bool => syn::parse_quote!(false),
            _ => return None,
        };
        let mut with_value = local.clone();
        if let syn::Pat::Ident(pat) = &mut with_value.pat {
            pat.mutability = Some(Default::default());
        }
        if let syn::Pat::Type(typed) = &mut with_value.pat {
            if let syn::Pat::Ident(pat) = &mut *typed.pat {
                pat.mutability = Some(Default::default());
            }
        }
        with_value.init = Some(syn::LocalInit {
            eq_token: Default::default(),
            expr: Box::new(zero),
            diverge: None,
        });
        Some(syn::Stmt::Local(with_value))
    }

    /// Lowers statements in a new scope, then the block's value into `dst`.
    ///
    /// When a statement may leave the block (`return`, `break`, `continue` inside
    /// it), the statements after it are lowered into `if !(flags) { ... }`.
    pub(super) fn lower_stmts(
        &mut self,
        stmts: &[syn::Stmt],
        tail: Option<&syn::Expr>,
        dst: Option<VarId>,
    ) {
        // Loaded elements are keyed by the names of the index: not across scopes.
        self.loaded.clear();
        self.scopes.push(Default::default());
        for (position, stmt) in stmts.iter().enumerate() {
            let outer = std::mem::take(&mut self.exits);
            match self.deferred_init(stmt, &stmts[position + 1..], tail) {
                Some(with_value) => self.lower_stmt(&with_value),
                None => self.lower_stmt(stmt),
            }
            let set = std::mem::replace(&mut self.exits, outer);
            self.exits.extend(set.iter().copied());
            let rest = &stmts[position + 1..];
            if !set.is_empty() && (!rest.is_empty() || tail.is_some()) {
                let cond = self.none_set(&set);
                let then_block = self.in_block(|this| this.lower_stmts(rest, tail, dst));
                self.emit(Stmt::If {
                    cond,
                    then_block,
                    else_block: Vec::new(),
                });
                self.scopes.pop();
                self.loaded.clear();
                return;
            }
        }
        if let Some(tail) = tail {
            match dst {
                Some(dst) => self.value_control(tail, dst),
                None => self.lower_expr_stmt(tail),
            }
        }
        self.scopes.pop();
        self.loaded.clear();
    }

    /// `!(f1 || f2 || ..)` over exit flags.
    fn none_set(&mut self, flags: &std::collections::BTreeSet<VarId>) -> PExpr {
        let names: Vec<TokenStream> = flags
            .iter()
            .map(|id| self.var_tokens(*id, Span::call_site()))
            .collect();
        PExpr {
            tokens: quote!(!(#(#names)||*)),
            reads: flags.iter().copied().collect(),
        }
    }

    fn any_set(&mut self, flags: &[VarId]) -> PExpr {
        let names: Vec<TokenStream> = flags
            .iter()
            .map(|id| self.var_tokens(*id, Span::call_site()))
            .collect();
        PExpr {
            tokens: quote!(#(#names)||*),
            reads: flags.to_vec(),
        }
    }

    /// Writes the value of `expr` into `dst`, whatever its kind.
    pub(super) fn value_into(&mut self, expr: &syn::Expr, dst: VarId) {
        match self.ty(dst).clone() {
            Ty::Float => self.float_into(expr, dst),
            Ty::FloatArray(_) => match expr {
                syn::Expr::If(_) | syn::Expr::Match(_) | syn::Expr::Block(_) => {
                    self.value_control(expr, dst)
                }
                _ => self.array_into(expr, dst),
            },
            _ => match expr {
                syn::Expr::If(_) | syn::Expr::Match(_) | syn::Expr::Block(_) => {
                    self.value_control(expr, dst)
                }
                _ => {
                    let value = self.passive(expr);
                    self.emit(Stmt::Passive {
                        dst,
                        value,
                        undo: None,
                    });
                }
            },
        }
    }

    fn lower_stmt(&mut self, stmt: &syn::Stmt) {
        self.loaded.clear();
        match stmt {
            syn::Stmt::Local(local) => self.lower_let(local),
            syn::Stmt::Expr(expr, _) => self.lower_expr_stmt(expr),
            syn::Stmt::Item(item) => {
                let error = match item {
                    syn::Item::Static(item)
                        if matches!(item.mutability, syn::StaticMutability::Mut(_)) =>
                    {
                        diag::static_mut(&item.mutability)
                    }
                    syn::Item::Fn(item) => diag::item_in_body(&item.sig.ident, "a nested function"),
                    syn::Item::Const(item) => diag::item_in_body(&item.ident, "a `const` item"),
                    syn::Item::Static(item) => diag::item_in_body(&item.ident, "a `static` item"),
                    other => diag::item_in_body(other, "an item"),
                };
                self.diag.push(error);
            }
            syn::Stmt::Macro(mac) => {
                let name = super::passive::path_string(&mac.mac.path);
                self.diag.push(diag::macro_call(&mac.mac.path, &name));
            }
        }
    }

    fn lower_let(&mut self, local: &syn::Local) {
        let (ident, annotated) = match &local.pat {
            syn::Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                (&pat.ident, None)
            }
            syn::Pat::Type(typed) => match &*typed.pat {
                syn::Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                    (&pat.ident, Some(&*typed.ty))
                }
                other => {
                    self.diag
                        .push(diag::pattern(other, "destructuring patterns"));
                    return;
                }
            },
            syn::Pat::Wild(_) => {
                if let Some(init) = &local.init {
                    self.lower_expr_stmt(&init.expr);
                }
                return;
            }
            other => {
                self.diag
                    .push(diag::pattern(other, "destructuring patterns"));
                return;
            }
        };
        let Some(init) = &local.init else {
            self.diag.push(diag::undeclared_let(local));
            self.refused_lets.insert(ident.to_string());
            return;
        };
        if let Some((else_token, _)) = &init.diverge {
            self.diag.push(diag::pattern(else_token, "`let ... else`"));
            return;
        }
        let mut opaque = false;
        let ty = match annotated {
            Some(ty) => match crate::sig::classify_type(ty) {
                Some((crate::sig::ParamKind::Scalar, _)) => Ty::Float,
                Some((
                    crate::sig::ParamKind::Array {
                        shape,
                        access: crate::sig::Access::Owned,
                    },
                    _,
                )) => Ty::FloatArray(shape),
                Some((crate::sig::ParamKind::Passive(crate::sig::PassiveKind::Int), _)) => {
                    Ty::Int(Some(ty.to_token_stream()))
                }
                Some((crate::sig::ParamKind::Passive(crate::sig::PassiveKind::Bool), _)) => {
                    Ty::Bool
                }
                _ => {
                    self.diag.push(diag::unsupported_param(
                        ty.span(),
                        &format!("`{}` (as a local variable)", ty.to_token_stream()),
                    ));
                    return;
                }
            },
            None => match self.kind_of(&init.expr) {
                Kind::Float => Ty::Float,
                Kind::FloatArray => Ty::FloatArray(self.array_shape(&init.expr)),
                Kind::Bool => Ty::Bool,
                Kind::IntArray => {
                    self.diag
                        .push(diag::expression(&init.expr, "local integer arrays"));
                    return;
                }
                Kind::Int => Ty::Int(None),
                Kind::Unknown | Kind::Unit => {
                    opaque = true;
                    Ty::Int(None)
                }
            },
        };
        // The initializer sees the previous binding of a shadowed name.
        let span = ident.span();
        self.scopes.push(Default::default());
        let dst = {
            let unique = self.names.for_user(&ident.to_string());
            let adjoint = self.names.fresh(&format!("{unique}_bar"));
            self.push_var(crate::ir::Var {
                name: unique,
                adjoint,
                ty,
                origin: Origin::Local,
                span,
            })
        };
        if opaque {
            self.opaque.push(dst);
        }
        self.scopes.pop();
        self.value_into(&init.expr, dst);
        self.bind(ident.to_string(), dst);
    }

    /// An expression in statement position.
    pub(super) fn lower_expr_stmt(&mut self, expr: &syn::Expr) {
        use syn::Expr as E;
        match expr {
            E::Assign(assign) => self.assign(&assign.left, &assign.right, None, assign.span()),
            E::Binary(binary) if is_compound(&binary.op) => {
                self.assign(&binary.left, &binary.right, Some(binary.op), binary.span())
            }
            E::If(if_expr) => self.lower_if(if_expr, None),
            E::Match(matched) => self.lower_match(matched, None),
            E::Block(block) => {
                if let Some(label) = &block.label {
                    // Its `break 'label` would add false follow-on errors.
                    self.diag.push(diag::construct(
                        label,
                        "labelled blocks (`'a: { ... }`)",
                        "use a labelled `loop` that ends with `break`",
                    ));
                    return;
                }
                self.lower_stmts(&block.block.stmts, None, None);
            }
            E::Unsafe(_) => self.report_unsupported(expr),
            E::ForLoop(for_loop) => self.lower_for(for_loop),
            E::While(while_loop) => self.lower_while(while_loop),
            E::Loop(loop_expr) => self.lower_loop(loop_expr),
            E::Break(brk) => {
                if brk.expr.is_some() {
                    self.diag.push(diag::loop_value(brk));
                }
                if let Some(ctx) = self.find_loop(brk.label.as_ref(), brk.span()) {
                    let flag = self.loops[ctx].brk;
                    self.set_flag(flag);
                }
            }
            E::Continue(cont) => {
                if let Some(ctx) = self.find_loop(cont.label.as_ref(), cont.span()) {
                    let flag = match self.loops[ctx].cont {
                        Some(flag) => flag,
                        None => {
                            let flag = self.new_var("__ad_continue", Ty::Bool, cont.span());
                            self.loops[ctx].cont = Some(flag);
                            flag
                        }
                    };
                    self.set_flag(flag);
                }
            }
            E::Return(ret) => {
                match (&ret.expr, self.ret) {
                    (Some(value), Some(dst)) => self.value_into(value, dst),
                    (Some(value), None) => self.lower_expr_stmt(value),
                    (None, Some(_)) => self.diag.push(diag::expression(
                        ret.span(),
                        "`return` without a value in a function that returns one",
                    )),
                    (None, None) => {}
                }
                let flag = match self.ret_flag {
                    Some(flag) => flag,
                    None => {
                        let flag = self.new_var("__ad_returned", Ty::Bool, ret.span());
                        self.ret_flag = Some(flag);
                        flag
                    }
                };
                self.set_flag(flag);
            }
            E::Call(call) => {
                if self.kind_of(expr) == Kind::Float {
                    self.call(call, None)
                } else {
                    let value = self.passive(expr);
                    self.emit(Stmt::Effect(value));
                }
            }
            E::Paren(paren) => self.lower_expr_stmt(&paren.expr),
            E::Lit(_) | E::Path(_) => {}
            E::Macro(mac) => {
                let name = super::passive::path_string(&mac.mac.path);
                self.diag.push(diag::macro_call(&mac.mac.path, &name));
            }
            E::MethodCall(_) => {
                // A value computed and dropped: checked like any passive expression.
                let value = self.passive(expr);
                self.emit(Stmt::Effect(value));
            }
            other => self.report_unsupported(other),
        }
    }

    fn set_flag(&mut self, flag: VarId) {
        self.emit(Stmt::Passive {
            dst: flag,
            value: bool_expr(true),
            undo: None,
        });
        self.exits.insert(flag);
    }

    fn find_loop(&mut self, label: Option<&syn::Lifetime>, span: Span) -> Option<usize> {
        match label {
            None => {
                if self.loops.is_empty() {
                    self.diag
                        .push(diag::expression(span, "`break`/`continue` outside a loop"));
                }
                self.loops.len().checked_sub(1)
            }
            Some(label) => {
                let name = label.ident.to_string();
                let found = self
                    .loops
                    .iter()
                    .rposition(|ctx| ctx.label.as_deref() == Some(name.as_str()));
                if found.is_none() {
                    self.diag.push(syn::Error::new(
                        label.span(),
                        format!("no enclosing loop is labelled `'{name}`"),
                    ));
                }
                found
            }
        }
    }

    /// `place = value` or `place op= value`.
    fn assign(&mut self, place: &syn::Expr, value: &syn::Expr, op: Option<syn::BinOp>, span: Span) {
        use syn::Expr as E;
        match place {
            E::Path(path) => {
                let Some(dst) = path
                    .path
                    .get_ident()
                    .and_then(|i| self.lookup(&i.to_string()))
                else {
                    // A `let` refused already needs no second error here.
                    let refused = path
                        .path
                        .get_ident()
                        .is_some_and(|i| self.refused_lets.contains(&i.to_string()));
                    if !refused {
                        self.diag.push(diag::assign_target(place));
                    }
                    return;
                };
                match (self.ty(dst).clone(), op) {
                    (Ty::Float, None) => self.float_into(value, dst),
                    (Ty::Float, Some(op)) => {
                        let right = self.float(value);
                        let left = Operand::Var(dst);
                        let op = match op {
                            syn::BinOp::AddAssign(_) => FloatOp::Add(left, right),
                            syn::BinOp::SubAssign(_) => FloatOp::Sub(left, right),
                            syn::BinOp::MulAssign(_) => FloatOp::Mul(left, right),
                            syn::BinOp::DivAssign(_) => FloatOp::Div(left, right),
                            other => {
                                self.diag.push(diag::expression(
                                    other.span(),
                                    "this compound assignment on floats",
                                ));
                                return;
                            }
                        };
                        self.emit(Stmt::Float { dst, op, span });
                    }
                    (Ty::FloatArray(_), None) => {
                        if matches!(self.vars[dst.0 as usize].origin, Origin::Param(_)) {
                            self.diag.push(diag::mut_param_reassign(place));
                            return;
                        }
                        self.array_into(value, dst)
                    }
                    (dst_ty @ (Ty::Int(_) | Ty::Bool), _) => {
                        let (value, undo) = match op {
                            None => (self.passive(value), None),
                            Some(op) => {
                                // `a += b` as `a = a + (b)`.
                                let current = self.var_tokens(dst, place.span());
                                let right = self.passive(value);
                                let tokens = &right.tokens;
                                // Integer `+=`/`-=` by an amount that does not read
                                // `a` can be undone exactly: `a - (b)`.
                                let undo = match op {
                                    syn::BinOp::AddAssign(_) => Some(quote!(-)),
                                    syn::BinOp::SubAssign(_) => Some(quote!(+)),
                                    _ => None,
                                }
                                .filter(|_| {
                                    matches!(dst_ty, Ty::Int(_)) && !right.reads.contains(&dst)
                                })
                                .map(|inverse| PExpr {
                                    tokens: quote!(#current #inverse (#tokens)),
                                    reads: right.reads.iter().copied().chain([dst]).collect(),
                                });
                                let bin = binary_of(op);
                                let value = PExpr {
                                    tokens: quote!(#current #bin (#tokens)),
                                    reads: right.reads.iter().copied().chain([dst]).collect(),
                                };
                                (value, undo)
                            }
                        };
                        self.emit(Stmt::Passive { dst, value, undo });
                    }
                    _ => self.diag.push(diag::assign_target(place)),
                }
            }
            E::Index(index) => {
                if let E::Range(range) = &*index.index {
                    self.diag.push(diag::slicing(range));
                    return;
                }
                let Some(array) = self.array_var(&index.expr) else {
                    return;
                };
                if !self.ty(array).is_float_array() {
                    self.diag.push(diag::assign_target(place));
                    return;
                }
                let position = self.passive(&index.index);
                let stored = match op {
                    None => self.float(value),
                    Some(op) => {
                        let right = self.float(value);
                        let current = self.temp(Ty::Float, span);
                        self.emit(Stmt::Float {
                            dst: current,
                            op: FloatOp::Read {
                                array,
                                index: position.clone(),
                            },
                            span,
                        });
                        let left = Operand::Var(current);
                        let float_op = match op {
                            syn::BinOp::AddAssign(_) => FloatOp::Add(left, right),
                            syn::BinOp::SubAssign(_) => FloatOp::Sub(left, right),
                            syn::BinOp::MulAssign(_) => FloatOp::Mul(left, right),
                            syn::BinOp::DivAssign(_) => FloatOp::Div(left, right),
                            other => {
                                self.diag.push(diag::expression(
                                    other.span(),
                                    "this compound assignment on floats",
                                ));
                                return;
                            }
                        };
                        let result = self.temp(Ty::Float, span);
                        self.emit(Stmt::Float {
                            dst: result,
                            op: float_op,
                            span,
                        });
                        Operand::Var(result)
                    }
                };
                self.loaded.clear();
                self.emit(Stmt::Store {
                    array,
                    index: position,
                    value: stored,
                    span,
                });
            }
            E::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => {
                self.diag.push(diag::assign_target(place));
            }
            E::Field(_) | E::Tuple(_) => self.diag.push(diag::field_access(place)),
            _ => self.diag.push(diag::assign_target(place)),
        }
    }

    /// `if`, `match` or a block used as a value, written into `dst`.
    pub(super) fn value_control(&mut self, expr: &syn::Expr, dst: VarId) {
        match expr {
            syn::Expr::If(if_expr) => self.lower_if(if_expr, Some(dst)),
            syn::Expr::Match(matched) => self.lower_match(matched, Some(dst)),
            syn::Expr::Block(block) => {
                let (stmts, tail) = split_tail(&block.block.stmts);
                self.lower_stmts(stmts, tail, Some(dst));
            }
            // An arm or branch that leaves (`0 => return x,`) gives no value:
            // the jump, as the statement it is.
            syn::Expr::Return(_) | syn::Expr::Break(_) | syn::Expr::Continue(_) => {
                self.lower_expr_stmt(expr)
            }
            other => self.value_into(other, dst),
        }
    }

    fn lower_condition(&mut self, cond: &syn::Expr) -> PExpr {
        if let syn::Expr::Let(_) = cond {
            self.diag.push(diag::if_let(cond));
            return bool_expr(false);
        }
        self.passive(cond)
    }

    fn lower_if(&mut self, if_expr: &syn::ExprIf, dst: Option<VarId>) {
        let cond = self.lower_condition(&if_expr.cond);
        let then_block = self.in_block(|this| {
            let (stmts, tail) = split_tail(&if_expr.then_branch.stmts);
            this.lower_stmts(stmts, tail, dst);
        });
        let else_block = self.in_block(|this| match &if_expr.else_branch {
            Some((_, else_expr)) => match dst {
                Some(dst) => this.value_control(else_expr, dst),
                None => this.lower_expr_stmt(else_expr),
            },
            None => {
                if dst.is_some() {
                    this.diag.push(diag::expression(
                        if_expr.span(),
                        "`if` without `else` used as a value",
                    ));
                }
            }
        });
        self.emit(Stmt::If {
            cond,
            then_block,
            else_block,
        });
    }

    /// `match` on an integer or boolean: an `if` chain over a saved scrutinee.
    fn lower_match(&mut self, matched: &syn::ExprMatch, dst: Option<VarId>) {
        let kind = self.kind_of(&matched.expr);
        let scrutinee_ty = match kind {
            Kind::Bool => Ty::Bool,
            Kind::Int | Kind::Unknown => Ty::Int(None),
            _ => {
                self.diag.push(diag::match_pattern(&matched.expr));
                return;
            }
        };
        let scrutinee = self.new_var("__ad_match", scrutinee_ty, matched.expr.span());
        if matches!(kind, Kind::Unknown) {
            self.opaque.push(scrutinee);
        }
        let value = self.passive(&matched.expr);
        self.emit(Stmt::Passive {
            dst: scrutinee,
            value,
            undo: None,
        });
        let name = self.var_tokens(scrutinee, matched.expr.span());
        let mut arms: Vec<(Option<PExpr>, &syn::Expr, Option<String>)> = Vec::new();
        for arm in &matched.arms {
            // `n => ..` and `n @ 1..=5 => ..` bind the scrutinee's value to `n`.
            let (pat, binding) = match &arm.pat {
                syn::Pat::Ident(pat) if pat.by_ref.is_none() && pat.mutability.is_none() => {
                    let pattern = pat.subpat.as_ref().map(|(_, sub)| &**sub);
                    (pattern, Some(pat.ident.to_string()))
                }
                other => (Some(other), None),
            };
            let test = match pat {
                Some(pat) => self.pattern_test(pat, &name),
                None => Some(PExpr {
                    tokens: TokenStream::new(),
                    reads: Vec::new(),
                }),
            };
            let Some(mut test) = test else {
                continue;
            };
            if let Some((_, guard)) = &arm.guard {
                self.scopes
                    .push(binding.iter().map(|b| (b.clone(), scrutinee)).collect());
                let guard = self.passive(guard);
                self.scopes.pop();
                let left = test.tokens.clone();
                let right = guard.tokens;
                test.tokens = match left.is_empty() {
                    true => right,
                    false => quote!((#left) && (#right)),
                };
                test.reads.extend(guard.reads);
            }
            test.reads.push(scrutinee);
            let test = if test.tokens.is_empty() {
                None
            } else {
                Some(test)
            };
            arms.push((test, &arm.body, binding));
        }
        let block = self.match_chain(&arms, dst, scrutinee);
        self.out.extend(block);
    }

    fn match_chain(
        &mut self,
        arms: &[(Option<PExpr>, &syn::Expr, Option<String>)],
        dst: Option<VarId>,
        scrutinee: VarId,
    ) -> Vec<Stmt> {
        let Some(((test, body, binding), rest)) = arms.split_first() else {
            return Vec::new();
        };
        self.scopes
            .push(binding.iter().map(|b| (b.clone(), scrutinee)).collect());
        let then_block = self.in_block(|this| match dst {
            Some(dst) => this.value_control(body, dst),
            None => this.lower_expr_stmt(body),
        });
        self.scopes.pop();
        match test {
            None => then_block,
            Some(cond) => {
                let else_block = self.match_chain(rest, dst, scrutinee);
                vec![Stmt::If {
                    cond: cond.clone(),
                    then_block,
                    else_block,
                }]
            }
        }
    }

    /// The condition under which `pat` matches `name`; empty tokens for `_`.
    fn pattern_test(&mut self, pat: &syn::Pat, name: &TokenStream) -> Option<PExpr> {
        let tokens = match pat {
            syn::Pat::Wild(_) => TokenStream::new(),
            syn::Pat::Lit(lit) => quote!(#name == #lit),
            syn::Pat::Range(range) => {
                let start = &range.start;
                let end = &range.end;
                let limits = &range.limits;
                quote!((#start #limits #end).contains(&#name))
            }
            syn::Pat::Or(or) => {
                let mut parts = Vec::new();
                for case in &or.cases {
                    let test = self.pattern_test(case, name)?;
                    if test.tokens.is_empty() {
                        return Some(PExpr {
                            tokens: TokenStream::new(),
                            reads: Vec::new(),
                        });
                    }
                    parts.push(test.tokens);
                }
                quote!(#((#parts))||*)
            }
            syn::Pat::Paren(paren) => return self.pattern_test(&paren.pat, name),
            other => {
                self.diag.push(diag::match_pattern(other));
                return None;
            }
        };
        Some(PExpr {
            tokens,
            reads: Vec::new(),
        })
    }

    fn lower_for(&mut self, for_loop: &syn::ExprForLoop) {
        let index_name = match &*for_loop.pat {
            syn::Pat::Ident(pat) if pat.mutability.is_some() => {
                self.diag.push(diag::mut_loop_var(pat));
                return;
            }
            syn::Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                Some(pat.ident.clone())
            }
            syn::Pat::Wild(_) => None,
            other => {
                self.diag
                    .push(diag::pattern(other, "patterns in `for` loops"));
                return;
            }
        };
        let Some(seq) = self.range_seq(&for_loop.expr) else {
            return;
        };
        let label = for_loop
            .label
            .as_ref()
            .map(|label| label.name.ident.to_string());
        self.scopes.push(Default::default());
        let index = index_name.map(|ident| {
            let ty = self.ty(seq.lo).clone();
            self.user_var(&ident.to_string(), ty, Origin::LoopIndex, ident.span())
        });
        self.build_loop(
            LoopKind::For { index, seq },
            label,
            for_loop.span(),
            |this| {
                this.lower_stmts(&for_loop.body.stmts, None, None);
            },
        );
        self.scopes.pop();
    }

    fn lower_while(&mut self, while_loop: &syn::ExprWhile) {
        let label = while_loop
            .label
            .as_ref()
            .map(|label| label.name.ident.to_string());
        self.build_loop(LoopKind::Infinite, label, while_loop.span(), |this| {
            // while c { b }  ==  loop { if !c { break } b }
            let cond = this.lower_condition(&while_loop.cond);
            let ctx = this.loops.len() - 1;
            let brk = this.loops[ctx].brk;
            let body = this.in_block(|inner| inner.lower_stmts(&while_loop.body.stmts, None, None));
            let stop = this.in_block(|inner| inner.set_flag(brk));
            this.emit(Stmt::If {
                cond,
                then_block: body,
                else_block: stop,
            });
        });
    }

    fn lower_loop(&mut self, loop_expr: &syn::ExprLoop) {
        let label = loop_expr
            .label
            .as_ref()
            .map(|label| label.name.ident.to_string());
        self.build_loop(LoopKind::Infinite, label, loop_expr.span(), |this| {
            this.lower_stmts(&loop_expr.body.stmts, None, None);
        });
    }

    /// Lowers a loop body with its own break/continue flags, and wires its exit.
    fn build_loop(
        &mut self,
        kind: LoopKind,
        label: Option<String>,
        span: Span,
        body: impl FnOnce(&mut Self),
    ) {
        let brk = self.new_var("__ad_break", Ty::Bool, span);
        self.loops.push(LoopCtx {
            label,
            brk,
            cont: None,
        });
        let outer_exits = std::mem::take(&mut self.exits);
        let first_body_var = self.vars.len() as u32;
        let body = self.in_block(body);
        let body_vars = first_body_var..self.vars.len() as u32;
        let ctx = self.loops.pop();
        let mut set = std::mem::replace(&mut self.exits, outer_exits);
        let cont = ctx.and_then(|ctx| ctx.cont);
        if let Some(cont) = cont {
            set.remove(&cont);
        }
        let mut exit_flags: Vec<VarId> = set.iter().copied().collect();
        if matches!(kind, LoopKind::Infinite) && !exit_flags.contains(&brk) {
            exit_flags.push(brk);
        }
        let exit = if exit_flags.is_empty() {
            None
        } else {
            Some(self.any_set(&exit_flags))
        };
        if exit_flags.contains(&brk) {
            // Reset before the loop: an enclosing loop may run it again.
            self.emit(Stmt::Passive {
                dst: brk,
                value: bool_expr(false),
                undo: None,
            });
        }
        // Flags other than this loop's own break leave enclosing blocks too.
        set.remove(&brk);
        self.exits.extend(set);
        self.emit(Stmt::Loop(Box::new(Loop {
            kind,
            body,
            exit,
            reset: cont.into_iter().collect(),
            body_vars,
        })));
    }

    /// `a..b`, `a..=b`, with any chain of `.rev()` and `.step_by(k)`.
    fn range_seq(&mut self, expr: &syn::Expr) -> Option<RangeSeq> {
        let mut chain = Vec::new();
        let mut current = expr;
        loop {
            match current {
                syn::Expr::MethodCall(call) if call.method == "rev" && call.args.is_empty() => {
                    chain.push(None);
                    current = &call.receiver;
                }
                syn::Expr::MethodCall(call) if call.method == "step_by" && call.args.len() == 1 => {
                    chain.push(Some(&call.args[0]));
                    current = &call.receiver;
                }
                syn::Expr::Paren(paren) => current = &paren.expr,
                _ => break,
            }
        }
        let syn::Expr::Range(range) = current else {
            self.diag.push(diag::iterator_loop(expr));
            return None;
        };
        let (Some(start), Some(end)) = (&range.start, &range.end) else {
            self.diag.push(diag::expression(
                range.span(),
                "open-ended ranges in `for` loops",
            ));
            return None;
        };
        let ty = match (self.int_type_of(start), self.int_type_of(end)) {
            (Some(ty), _) | (None, Some(ty)) => Ty::Int(Some(ty)),
            _ => Ty::Int(None),
        };
        let lo = self.new_var("__ad_lo", ty.clone(), start.span());
        let value = self.passive(start);
        self.emit(Stmt::Passive {
            dst: lo,
            value,
            undo: None,
        });
        let hi = self.new_var("__ad_hi", ty, end.span());
        let value = self.passive(end);
        self.emit(Stmt::Passive {
            dst: hi,
            value,
            undo: None,
        });
        let mut ops = Vec::new();
        for step in chain.into_iter().rev() {
            match step {
                None => ops.push(SeqOp::Rev),
                Some(step) => {
                    let var = self.new_var("__ad_step", Ty::Int(Some(quote!(usize))), step.span());
                    let value = self.passive(step);
                    self.emit(Stmt::Passive {
                        dst: var,
                        value,
                        undo: None,
                    });
                    ops.push(SeqOp::StepBy(var));
                }
            }
        }
        Some(RangeSeq {
            lo,
            hi,
            inclusive: matches!(range.limits, syn::RangeLimits::Closed(_)),
            chain: ops,
        })
    }

    /// The integer type of a range bound, when it is evident.
    fn int_type_of(&self, expr: &syn::Expr) -> Option<TokenStream> {
        match expr {
            syn::Expr::MethodCall(call) if call.method == "len" => Some(quote!(usize)),
            syn::Expr::Path(path) => {
                let id = path
                    .path
                    .get_ident()
                    .and_then(|i| self.lookup(&i.to_string()))?;
                match self.ty(id) {
                    Ty::Int(ty) => ty.clone(),
                    _ => None,
                }
            }
            syn::Expr::Lit(lit) => match &lit.lit {
                syn::Lit::Int(int) if !int.suffix().is_empty() => {
                    let ident = syn::Ident::new(int.suffix(), Span::call_site());
                    Some(quote!(#ident))
                }
                _ => None,
            },
            syn::Expr::Binary(binary) => self
                .int_type_of(&binary.left)
                .or_else(|| self.int_type_of(&binary.right)),
            syn::Expr::Paren(paren) => self.int_type_of(&paren.expr),
            syn::Expr::Cast(cast) if crate::sig::is_int(&cast.ty) => {
                Some(cast.ty.to_token_stream())
            }
            _ => None,
        }
    }
}

fn is_compound(op: &syn::BinOp) -> bool {
    use syn::BinOp as B;
    matches!(
        op,
        B::AddAssign(_)
            | B::SubAssign(_)
            | B::MulAssign(_)
            | B::DivAssign(_)
            | B::RemAssign(_)
            | B::BitAndAssign(_)
            | B::BitOrAssign(_)
            | B::BitXorAssign(_)
            | B::ShlAssign(_)
            | B::ShrAssign(_)
    )
}

/// The binary operator of a compound assignment (`+=` → `+`).
fn binary_of(op: syn::BinOp) -> TokenStream {
    use syn::BinOp as B;
    match op {
        B::AddAssign(_) => quote!(+),
        B::SubAssign(_) => quote!(-),
        B::MulAssign(_) => quote!(*),
        B::DivAssign(_) => quote!(/),
        B::RemAssign(_) => quote!(%),
        B::BitAndAssign(_) => quote!(&),
        B::BitOrAssign(_) => quote!(|),
        B::BitXorAssign(_) => quote!(^),
        B::ShlAssign(_) => quote!(<<),
        B::ShrAssign(_) => quote!(>>),
        other => other.to_token_stream(),
    }
}

/// Finds the value of the first assignment `name = value` in what it visits.
struct FirstAssignment<'a> {
    name: String,
    value: Option<&'a syn::Expr>,
}

impl<'a> syn::visit::Visit<'a> for FirstAssignment<'a> {
    fn visit_expr_assign(&mut self, assign: &'a syn::ExprAssign) {
        if self.value.is_none() {
            if let syn::Expr::Path(path) = &*assign.left {
                if path.path.is_ident(&self.name) {
                    self.value = Some(&assign.right);
                    return;
                }
            }
        }
        syn::visit::visit_expr_assign(self, assign);
    }
}
