//! Lowers the `syn` body of the annotated function into the IR. This is the only
//! module that matches on `syn::Expr` and `syn::Stmt`. Unsupported input becomes a
//! diagnostic and a placeholder, and lowering continues so that every error of the
//! function is reported.

mod control;
mod expr;
mod names;
mod passive;

use std::collections::{BTreeSet, HashMap};

use proc_macro2::Span;
use quote::quote;

use crate::diag::Diagnostics;
use crate::ir::{self, Block, Origin, Stmt, Ty, Var, VarId};
use crate::sig::{ParamKind, PassiveKind, RetKind, Signature};

use names::Names;

/// What kind of value an expression produces, as far as lowering can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Float,
    Int,
    Bool,
    FloatArray,
    IntArray,
    Unit,
    Unknown,
}

struct LoopCtx {
    label: Option<String>,
    brk: VarId,
    cont: Option<VarId>,
}

struct Lowerer<'a> {
    diag: &'a mut Diagnostics,
    sig: &'a Signature,
    vars: Vec<Var>,
    /// Bindings by scope; a later `let` of a name replaces the earlier one.
    scopes: Vec<HashMap<String, VarId>>,
    names: Names,
    loops: Vec<LoopCtx>,
    ret: Option<VarId>,
    ret_flag: Option<VarId>,
    /// Exit flags set by the statements lowered since the last reset.
    exits: BTreeSet<VarId>,
    /// Statements of the block being lowered.
    out: Block,
    /// Element reads already loaded into a temporary in the current statement
    /// (`q[j] * q[j]` reads once, so the reverse sweep saves one value, not two).
    loaded: HashMap<(VarId, String), VarId>,
    /// See `ir::Function::opaque`.
    opaque: Vec<VarId>,
    /// Names of `let`s refused (without a value the macro could type), whose
    /// assignments need no error of their own.
    refused_lets: std::collections::HashSet<String>,
}

/// Lowers the body of `func` (whose signature is already classified).
pub fn lower_fn(func: &syn::ItemFn, sig: &Signature, diag: &mut Diagnostics) -> ir::Function {
    let mut lowerer = Lowerer {
        diag,
        sig,
        vars: Vec::new(),
        scopes: vec![HashMap::new()],
        names: Names::new(func),
        loops: Vec::new(),
        ret: None,
        ret_flag: None,
        exits: BTreeSet::new(),
        out: Vec::new(),
        loaded: HashMap::new(),
        opaque: Vec::new(),
        refused_lets: Default::default(),
    };
    for (index, param) in sig.params.iter().enumerate() {
        let ty = match &param.kind {
            ParamKind::Scalar => Ty::Float,
            ParamKind::Array { shape, .. } => Ty::FloatArray(shape.clone()),
            ParamKind::Passive(PassiveKind::Int) => {
                Ty::Int(Some(quote::ToTokens::to_token_stream(&param.ty)))
            }
            ParamKind::Passive(PassiveKind::Bool) => Ty::Bool,
            ParamKind::Passive(PassiveKind::IntArray) => Ty::IntArray,
        };
        let name = param.ident.to_string();
        let name = lowerer.names.for_user(&name);
        let adjoint = lowerer.names.fresh(&format!("{name}_bar"));
        let id = lowerer.push_var(Var {
            name: name.clone(),
            adjoint,
            ty,
            origin: Origin::Param(index),
            span: param.ident.span(),
        });
        lowerer.scopes[0].insert(name, id);
    }
    lowerer.ret = match &sig.ret {
        RetKind::Unit => None,
        RetKind::Scalar => Some(lowerer.new_var("__ad_ret", Ty::Float, Span::call_site())),
        RetKind::Array(shape) => {
            Some(lowerer.new_var("__ad_ret", Ty::FloatArray(shape.clone()), Span::call_site()))
        }
    };
    let body = lowerer.lower_fn_body(&func.block);
    ir::Function {
        vars: lowerer.vars,
        body,
        ret: lowerer.ret,
        opaque: lowerer.opaque,
    }
}

impl Lowerer<'_> {
    fn push_var(&mut self, var: Var) -> VarId {
        let id = VarId(self.vars.len() as u32);
        self.vars.push(var);
        id
    }

    /// A new hoisted variable with a unique name derived from `base`.
    fn new_var(&mut self, base: &str, ty: Ty, span: Span) -> VarId {
        let name = self.names.fresh(base);
        let adjoint = self.names.fresh(&format!("{name}_bar"));
        self.push_var(Var {
            name,
            adjoint,
            ty,
            origin: Origin::Local,
            span,
        })
    }

    /// A variable for a user `let` binding (or loop index) named `name`.
    fn user_var(&mut self, name: &str, ty: Ty, origin: Origin, span: Span) -> VarId {
        let unique = self.names.for_user(name);
        let adjoint = self.names.fresh(&format!("{unique}_bar"));
        let id = self.push_var(Var {
            name: unique,
            adjoint,
            ty,
            origin,
            span,
        });
        self.bind(name.to_string(), id);
        id
    }

    fn temp(&mut self, ty: Ty, span: Span) -> VarId {
        self.new_var("__ad_t", ty, span)
    }

    fn ty(&self, id: VarId) -> &Ty {
        &self.vars[id.0 as usize].ty
    }

    fn lookup(&self, name: &str) -> Option<VarId> {
        self.scopes
            .iter()
            .rev()
            .find_map(|scope| scope.get(name).copied())
    }

    fn bind(&mut self, name: String, id: VarId) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name, id);
        }
    }

    fn emit(&mut self, stmt: Stmt) {
        self.out.push(stmt);
    }

    /// Lowers statements into a fresh block and returns it.
    fn in_block(&mut self, lower: impl FnOnce(&mut Self)) -> Block {
        // A temporary loaded in one branch is not set in the other.
        self.loaded.clear();
        let saved = std::mem::take(&mut self.out);
        lower(self);
        self.loaded.clear();
        std::mem::replace(&mut self.out, saved)
    }

    fn kind_of_var(&self, id: VarId) -> Kind {
        match self.ty(id) {
            Ty::Float => Kind::Float,
            Ty::Int(_) => Kind::Int,
            Ty::Bool => Kind::Bool,
            Ty::FloatArray(_) => Kind::FloatArray,
            Ty::IntArray => Kind::IntArray,
        }
    }

    fn lower_fn_body(&mut self, block: &syn::Block) -> Block {
        let ret = self.ret;
        self.in_block(|this| {
            // A final `return e;` is the function's value, like a tail `e`.
            let (stmts, tail) = match block.stmts.split_last() {
                Some((syn::Stmt::Expr(syn::Expr::Return(value), Some(_)), rest))
                    if value.expr.is_some() =>
                {
                    (rest, value.expr.as_deref())
                }
                _ => split_tail(&block.stmts),
            };
            this.lower_stmts(stmts, tail, ret);
        })
    }
}

/// Splits a block into its statements and its value (the tail expression).
fn split_tail(stmts: &[syn::Stmt]) -> (&[syn::Stmt], Option<&syn::Expr>) {
    match stmts.split_last() {
        Some((syn::Stmt::Expr(expr, None), rest)) => (rest, Some(expr)),
        _ => (stmts, None),
    }
}

/// Tokens for a boolean literal, used for flags.
fn bool_expr(value: bool) -> ir::PExpr {
    ir::PExpr {
        tokens: if value { quote!(true) } else { quote!(false) },
        reads: Vec::new(),
    }
}
