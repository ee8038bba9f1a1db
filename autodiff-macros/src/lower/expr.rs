//! Float expressions to three-address statements; array creation; calls into other
//! differentiated functions.

use proc_macro2::Span;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;

use super::passive::{float_function, path_string};
use super::{Kind, Lowerer};
use crate::diag;
use crate::ir::{ArgPass, ArrayInit, CallArg, FloatOp, Operand, Stmt, Ty, VarId};
use crate::rules::{self, Prim};
use crate::sig::Shape;

impl Lowerer<'_> {
    /// What kind of value `expr` has.
    pub(super) fn kind_of(&self, expr: &syn::Expr) -> Kind {
        use syn::Expr as E;
        match expr {
            E::Lit(lit) => match &lit.lit {
                syn::Lit::Float(float) => match float.suffix() {
                    "" | "f64" | "f32" => Kind::Float,
                    _ => Kind::Unknown,
                },
                syn::Lit::Int(int) => match int.suffix() {
                    "f64" | "f32" => Kind::Float,
                    _ => Kind::Int,
                },
                syn::Lit::Bool(_) => Kind::Bool,
                _ => Kind::Unknown,
            },
            E::Path(path) => {
                if let Some(ident) = path.path.get_ident() {
                    if let Some(id) = self.lookup(&ident.to_string()) {
                        return self.kind_of_var(id);
                    }
                }
                let text = path_string(&path.path);
                if text.starts_with("f64::")
                    || text.starts_with("f32::")
                    || text.contains("consts::")
                {
                    Kind::Float
                } else {
                    Kind::Unknown
                }
            }
            E::Paren(paren) => self.kind_of(&paren.expr),
            E::Group(group) => self.kind_of(&group.expr),
            E::Unary(unary) => match unary.op {
                syn::UnOp::Not(_) => match self.kind_of(&unary.expr) {
                    Kind::Int => Kind::Int,
                    _ => Kind::Bool,
                },
                _ => self.kind_of(&unary.expr),
            },
            E::Binary(binary) => {
                use syn::BinOp as B;
                match binary.op {
                    B::Eq(_)
                    | B::Ne(_)
                    | B::Lt(_)
                    | B::Le(_)
                    | B::Gt(_)
                    | B::Ge(_)
                    | B::And(_)
                    | B::Or(_) => Kind::Bool,
                    _ => {
                        let left = self.kind_of(&binary.left);
                        let right = self.kind_of(&binary.right);
                        if left == Kind::Float || right == Kind::Float {
                            Kind::Float
                        } else if left == Kind::Unknown {
                            right
                        } else {
                            left
                        }
                    }
                }
            }
            E::Cast(cast) => match &*cast.ty {
                syn::Type::Path(path) if path.path.is_ident("f64") || path.path.is_ident("f32") => {
                    Kind::Float
                }
                ty if crate::sig::is_int(ty) => Kind::Int,
                _ => Kind::Unknown,
            },
            E::Index(index) => match self.kind_of(&index.expr) {
                Kind::FloatArray => Kind::Float,
                Kind::IntArray => Kind::Int,
                _ => Kind::Unknown,
            },
            E::MethodCall(call) => {
                let name = call.method.to_string();
                match name.as_str() {
                    "len" => Kind::Int,
                    "is_empty" | "is_nan" | "is_finite" | "is_infinite" | "is_sign_positive"
                    | "is_sign_negative" | "contains" => Kind::Bool,
                    "to_vec" | "clone" if self.kind_of(&call.receiver) == Kind::FloatArray => {
                        Kind::FloatArray
                    }
                    _ => match self.kind_of(&call.receiver) {
                        Kind::Unknown if rules::lookup(&name).is_some() => Kind::Float,
                        kind => kind,
                    },
                }
            }
            E::Call(call) => {
                if let E::Path(path) = &*call.func {
                    if float_function(&path.path).is_some() {
                        return Kind::Float;
                    }
                }
                // A call with float arguments is a call into a differentiated function.
                if call.args.iter().any(|arg| {
                    matches!(self.kind_of(strip_ref(arg)), Kind::Float | Kind::FloatArray)
                }) {
                    Kind::Float
                } else {
                    Kind::Unknown
                }
            }
            E::If(if_expr) => {
                let then_kind = self.block_kind(&if_expr.then_branch);
                if then_kind != Kind::Unknown {
                    return then_kind;
                }
                match &if_expr.else_branch {
                    Some((_, else_expr)) => self.kind_of(else_expr),
                    None => Kind::Unit,
                }
            }
            E::Block(block) => self.block_kind(&block.block),
            E::Match(matched) => matched
                .arms
                .iter()
                .map(|arm| self.kind_of(&arm.body))
                .find(|kind| *kind != Kind::Unknown)
                .unwrap_or(Kind::Unknown),
            E::Macro(mac) if mac.mac.path.is_ident("vec") => Kind::FloatArray,
            E::Array(_) | E::Repeat(_) => Kind::FloatArray,
            _ => Kind::Unknown,
        }
    }

    fn block_kind(&self, block: &syn::Block) -> Kind {
        match block.stmts.last() {
            Some(syn::Stmt::Expr(expr, None)) => self.kind_of(expr),
            _ => Kind::Unit,
        }
    }

    /// Lowers a float-valued expression to an operand, emitting its operations.
    pub(super) fn float(&mut self, expr: &syn::Expr) -> Operand {
        if self.is_constant(expr) {
            return Operand::Const(self.passive(expr));
        }
        if let syn::Expr::Path(path) = expr {
            if let Some(id) = path
                .path
                .get_ident()
                .and_then(|i| self.lookup(&i.to_string()))
            {
                if self.ty(id).is_float() {
                    return Operand::Var(id);
                }
                if self.ty(id).is_float_array() {
                    self.diag.push(syn::Error::new(
                        expr.span(),
                        "expected a float here, found an array; index it (`x[i]`) to use one element",
                    ));
                }
                // Integers and booleans are passive values; rustc reports a type mismatch.
                return Operand::Const(self.passive(expr));
            }
        }
        if let syn::Expr::Paren(paren) = expr {
            return self.float(&paren.expr);
        }
        let element = self.element_key(expr);
        if let Some(loaded) = element.as_ref().and_then(|key| self.loaded.get(key)) {
            return Operand::Var(*loaded);
        }
        let dst = self.temp(Ty::Float, expr.span());
        self.float_into(expr, dst);
        if let Some(key) = element {
            self.loaded.insert(key, dst);
        }
        Operand::Var(dst)
    }

    /// `(array, index)` for a read of a float array element by a plain index.
    fn element_key(&self, expr: &syn::Expr) -> Option<(VarId, String)> {
        let syn::Expr::Index(index) = expr else {
            return None;
        };
        let syn::Expr::Path(path) = &*index.expr else {
            return None;
        };
        let array = self.lookup(&path.path.get_ident()?.to_string())?;
        if !self.ty(array).is_float_array() || matches!(&*index.index, syn::Expr::Range(_)) {
            return None;
        }
        Some((
            array,
            quote::ToTokens::to_token_stream(&index.index).to_string(),
        ))
    }

    /// Whether an expression reads no float variable (and so is a passive constant).
    fn is_constant(&self, expr: &syn::Expr) -> bool {
        use syn::Expr as E;
        match expr {
            E::Lit(_) => true,
            E::Path(path) => match path.path.get_ident() {
                Some(ident) => self.lookup(&ident.to_string()).is_none(),
                None => true,
            },
            E::Paren(paren) => self.is_constant(&paren.expr),
            E::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => {
                self.is_constant(&unary.expr)
            }
            E::Binary(binary) => self.is_constant(&binary.left) && self.is_constant(&binary.right),
            E::Cast(cast) => !matches!(self.kind_of(&cast.expr), Kind::Float),
            _ => false,
        }
    }

    /// Lowers a float-valued expression, writing its value into `dst`.
    pub(super) fn float_into(&mut self, expr: &syn::Expr, dst: VarId) {
        use syn::Expr as E;
        let span = expr.span();
        let op = match expr {
            E::Paren(paren) => return self.float_into(&paren.expr, dst),
            E::Group(group) => return self.float_into(&group.expr, dst),
            E::Unary(unary) => match unary.op {
                syn::UnOp::Neg(_) => FloatOp::Neg(self.float(&unary.expr)),
                syn::UnOp::Deref(_) => FloatOp::Copy(self.float(&unary.expr)),
                _ => {
                    self.report_unsupported(expr);
                    return;
                }
            },
            E::Binary(binary) => {
                use syn::BinOp as B;
                if !matches!(binary.op, B::Add(_) | B::Sub(_) | B::Mul(_) | B::Div(_)) {
                    let op = binary.op.to_token_stream().to_string();
                    self.diag.push(diag::float_operator(&binary.op, &op));
                    return;
                }
                if let (B::Div(_), true, Some(arg)) = (
                    binary.op,
                    is_one_literal(&binary.left),
                    logistic_arg(&binary.right),
                ) {
                    // `1.0 / (1.0 + (-x).exp())`: the logistic function, as one
                    // primitive (see `rules::LOGISTIC`).
                    let arg = self.float(arg);
                    FloatOp::Prim {
                        prim: rules::LOGISTIC,
                        args: vec![arg],
                        int_arg: None,
                    }
                } else {
                    let left = self.float(&binary.left);
                    let right = self.float(&binary.right);
                    arithmetic(binary.op, left, right)
                }
            }
            E::MethodCall(call) => {
                let name = call.method.to_string();
                if name == "clone" && call.args.is_empty() {
                    FloatOp::Copy(self.float(&call.receiver))
                } else {
                    match rules::lookup(&name) {
                        Some(prim) => {
                            let mut args = vec![&*call.receiver];
                            args.extend(call.args.iter());
                            match self.prim(prim, &args, call.method.span()) {
                                Some(op) => op,
                                None => return,
                            }
                        }
                        None => {
                            self.diag.push(diag::unknown_method(&call.method, &name));
                            return;
                        }
                    }
                }
            }
            E::Call(call) => {
                let path = match &*call.func {
                    E::Path(path) => &path.path,
                    other => {
                        self.diag.push(diag::expression(
                            other.span(),
                            "calling a computed function",
                        ));
                        return;
                    }
                };
                if float_function(path).as_deref() == Some("from") {
                    // `f64::from(n)`: a conversion of a passive integer.
                    FloatOp::Copy(Operand::Const(self.passive(expr)))
                } else if let Some(name) = float_function(path) {
                    match rules::lookup(&name) {
                        Some(prim) => {
                            let args: Vec<&syn::Expr> = call.args.iter().collect();
                            match self.prim(prim, &args, path.span()) {
                                Some(op) => op,
                                None => return,
                            }
                        }
                        None => {
                            self.diag.push(diag::unknown_float_function(
                                path.span(),
                                &path_string(path),
                            ));
                            return;
                        }
                    }
                } else {
                    self.call(call, Some(dst));
                    return;
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
                    FloatOp::Copy(Operand::Const(self.passive(expr)))
                } else {
                    FloatOp::Read {
                        array,
                        index: self.passive(&index.index),
                    }
                }
            }
            E::Cast(cast) => {
                if self.kind_of(&cast.expr) == Kind::Float {
                    let to = |name: &str| matches!(&*cast.ty, syn::Type::Path(path) if path.path.is_ident(name));
                    match (self.sig.float, to("f32"), to("f64")) {
                        // `e as f32` in an `f64` function rounds.
                        (crate::sig::FloatTy::F64, true, _) => {
                            let value = self.float(&cast.expr);
                            self.emit(Stmt::Float {
                                dst,
                                op: FloatOp::Prim {
                                    prim: crate::rules::TO_F32,
                                    args: vec![value],
                                    int_arg: None,
                                },
                                span,
                            });
                        }
                        // Computing in `f64` inside an `f32` function would need
                        // values of both types.
                        (crate::sig::FloatTy::F32, _, true) => {
                            self.diag.push(diag::widening_cast(cast));
                        }
                        // `(x as f64) as f32` in an `f32` function is `x`.
                        (crate::sig::FloatTy::F32, true, _) => match unparen(&cast.expr) {
                            E::Cast(inner) if self.kind_of(&inner.expr) == Kind::Float => {
                                self.float_into(&inner.expr, dst)
                            }
                            _ => self.float_into(&cast.expr, dst),
                        },
                        _ => self.float_into(&cast.expr, dst),
                    }
                    return;
                }
                FloatOp::Copy(Operand::Const(self.passive(expr)))
            }
            E::If(_) | E::Match(_) | E::Block(_) => {
                self.value_control(expr, dst);
                return;
            }
            E::Lit(_) | E::Path(_) => FloatOp::Copy(self.float(expr)),
            other => {
                self.report_unsupported(other);
                return;
            }
        };
        self.emit(Stmt::Float { dst, op, span });
    }

    /// A primitive applied to `args` (receiver first for method calls).
    fn prim(&mut self, prim: Prim, args: &[&syn::Expr], span: Span) -> Option<FloatOp> {
        let expected = prim.floats + usize::from(prim.int_arg);
        if args.len() != expected {
            self.diag.push(syn::Error::new(
                span,
                format!(
                    "`{}` takes {} argument(s) here, found {}",
                    prim.name,
                    expected,
                    args.len()
                ),
            ));
            return None;
        }
        let mut floats = Vec::new();
        let mut int_arg = None;
        for (position, arg) in args.iter().enumerate() {
            if prim.int_arg && position == 1 {
                int_arg = Some(self.passive(arg));
            } else {
                floats.push(self.float(arg));
            }
        }
        Some(FloatOp::Prim {
            prim,
            args: floats,
            int_arg,
        })
    }

    /// Lowers an array-valued expression into `dst` (a `let` or assignment).
    pub(super) fn array_into(&mut self, expr: &syn::Expr, dst: VarId) {
        use syn::Expr as E;
        let span = expr.span();
        let init = match expr {
            E::Paren(paren) => return self.array_into(&paren.expr, dst),
            E::Macro(mac) if mac.mac.path.is_ident("vec") => {
                match syn::parse2::<VecMacro>(mac.mac.tokens.clone()) {
                    Ok(VecMacro::Fill(value, len)) => ArrayInit::VecFill {
                        value: self.float(&value),
                        len: self.passive(&len),
                    },
                    Ok(VecMacro::List(items)) => ArrayInit::List {
                        items: items.iter().map(|item| self.float(item)).collect(),
                        fixed: false,
                    },
                    Err(error) => {
                        self.diag.push(error);
                        return;
                    }
                }
            }
            E::Repeat(repeat) => ArrayInit::FixedFill {
                value: self.float(&repeat.expr),
                len: repeat.len.to_token_stream(),
            },
            E::Array(array) => ArrayInit::List {
                items: array.elems.iter().map(|item| self.float(item)).collect(),
                fixed: true,
            },
            E::MethodCall(call)
                if (call.method == "to_vec" || call.method == "clone") && call.args.is_empty() =>
            {
                let Some(src) = self.array_var(&call.receiver) else {
                    return;
                };
                ArrayInit::CopyOf {
                    src,
                    to_vec: call.method == "to_vec",
                }
            }
            E::Path(_) => {
                let Some(src) = self.array_var(expr) else {
                    return;
                };
                ArrayInit::CopyOf { src, to_vec: false }
            }
            other => {
                self.diag.push(diag::construct(
                    other,
                    "this array expression",
                    "create arrays with `vec![v; n]`, `vec![a, b]`, `[v; N]`, `[a, b]`, `.to_vec()` or `.clone()`",
                ));
                return;
            }
        };
        self.emit(Stmt::NewArray { dst, init, span });
    }

    /// The shape a new local array gets from its initializer.
    pub(super) fn array_shape(&self, expr: &syn::Expr) -> Shape {
        match expr {
            syn::Expr::Repeat(repeat) => Shape::Fixed(repeat.len.to_token_stream()),
            syn::Expr::Array(array) => {
                let len = array.elems.len();
                Shape::Fixed(quote!(#len))
            }
            syn::Expr::Paren(paren) => self.array_shape(&paren.expr),
            syn::Expr::Path(path) => {
                let id = path
                    .path
                    .get_ident()
                    .and_then(|i| self.lookup(&i.to_string()));
                match id.map(|id| self.ty(id)) {
                    Some(Ty::FloatArray(Shape::Fixed(len))) => Shape::Fixed(len.clone()),
                    _ => Shape::Vec,
                }
            }
            _ => Shape::Vec,
        }
    }

    /// A call to another `#[differentiate]` function, or a passive call.
    pub(super) fn call(&mut self, call: &syn::ExprCall, dst: Option<VarId>) {
        let span = call.span();
        let syn::Expr::Path(path) = &*call.func else {
            self.diag.push(diag::expression(
                call.func.span(),
                "calling a computed function",
            ));
            return;
        };
        let mut args = Vec::new();
        for arg in &call.args {
            args.push(self.call_arg(arg));
        }
        let func = path.to_token_stream();
        let any_float = args.iter().any(|arg| !matches!(arg, CallArg::Passive(_)));
        let library = path.path.segments.first().is_some_and(|first| {
            ["std", "core", "alloc"].contains(&first.ident.to_string().as_str())
        });
        if any_float && library {
            let written = func.to_string().replace(' ', "");
            self.diag.push(diag::library_function(&call.func, &written));
            return;
        }
        if !any_float {
            // All passive: the call is run as written.
            let value = self.passive(&syn::Expr::Call(call.clone()));
            match dst {
                Some(dst) => self.emit(Stmt::Float {
                    dst,
                    op: FloatOp::Copy(Operand::Const(value)),
                    span,
                }),
                None => self.emit(Stmt::Effect(value)),
            }
            return;
        }
        self.emit(Stmt::Call {
            dst,
            func,
            args,
            span,
            tangent: None,
        });
    }

    fn call_arg(&mut self, arg: &syn::Expr) -> CallArg {
        use syn::Expr as E;
        let written = match self.kind_of(strip_ref(arg)) {
            Kind::FloatArray => self.passive(arg).tokens,
            _ => proc_macro2::TokenStream::new(),
        };
        match arg {
            E::Reference(reference) => {
                let inner = strip_deref(&reference.expr);
                match self.kind_of(inner) {
                    Kind::FloatArray => match self.array_var(inner) {
                        Some(var) if reference.mutability.is_some() => {
                            CallArg::MutArray { var, written }
                        }
                        Some(var) => CallArg::Array {
                            var,
                            by: ArgPass::Ref,
                            written,
                        },
                        None => CallArg::Passive(self.passive(arg)),
                    },
                    Kind::Float => {
                        self.diag.push(diag::call_argument(arg));
                        CallArg::Passive(self.passive(arg))
                    }
                    _ => CallArg::Passive(self.passive(arg)),
                }
            }
            _ => match self.kind_of(arg) {
                Kind::Float => CallArg::Float(self.float(arg)),
                Kind::FloatArray => match self.array_var(arg) {
                    Some(var) => {
                        let by_ref = matches!(
                            &self.vars[var.0 as usize].origin,
                            crate::ir::Origin::Param(_)
                        ) && self.is_ref_param(var);
                        if by_ref && self.is_mut_param(var) {
                            CallArg::MutArray { var, written }
                        } else if by_ref {
                            CallArg::Array {
                                var,
                                by: ArgPass::Ref,
                                written,
                            }
                        } else {
                            CallArg::Array {
                                var,
                                by: ArgPass::Value,
                                written,
                            }
                        }
                    }
                    None => CallArg::Passive(self.passive(arg)),
                },
                _ => CallArg::Passive(self.passive(arg)),
            },
        }
    }

    fn param_access(&self, var: VarId) -> Option<crate::sig::Access> {
        match &self.vars[var.0 as usize].origin {
            crate::ir::Origin::Param(index) => match &self.sig.params[*index].kind {
                crate::sig::ParamKind::Array { access, .. } => Some(*access),
                _ => None,
            },
            _ => None,
        }
    }

    fn is_ref_param(&self, var: VarId) -> bool {
        matches!(
            self.param_access(var),
            Some(crate::sig::Access::Shared | crate::sig::Access::Mut)
        )
    }

    fn is_mut_param(&self, var: VarId) -> bool {
        self.param_access(var) == Some(crate::sig::Access::Mut)
    }
}

fn strip_ref(expr: &syn::Expr) -> &syn::Expr {
    match expr {
        syn::Expr::Reference(reference) => strip_deref(&reference.expr),
        other => other,
    }
}

fn strip_deref(expr: &syn::Expr) -> &syn::Expr {
    match expr {
        syn::Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => &unary.expr,
        other => other,
    }
}

/// The two forms of `vec![..]` the subset accepts.
enum VecMacro {
    Fill(Box<syn::Expr>, Box<syn::Expr>),
    List(Vec<syn::Expr>),
}

impl syn::parse::Parse for VecMacro {
    fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Ok(VecMacro::List(Vec::new()));
        }
        let first: syn::Expr = input.parse()?;
        if input.peek(syn::Token![;]) {
            input.parse::<syn::Token![;]>()?;
            let len: syn::Expr = input.parse()?;
            return Ok(VecMacro::Fill(Box::new(first), Box::new(len)));
        }
        let mut items = vec![first];
        while input.peek(syn::Token![,]) {
            input.parse::<syn::Token![,]>()?;
            if input.is_empty() {
                break;
            }
            items.push(input.parse()?);
        }
        Ok(VecMacro::List(items))
    }
}

/// Whether an operand is the float literal one (`1.0`, `1.`, `1f64`, `1.0_f32`).
/// The operation of `left op right` for `+ - * /`.
fn arithmetic(op: syn::BinOp, left: Operand, right: Operand) -> FloatOp {
    use syn::BinOp as B;
    match op {
        B::Add(_) => FloatOp::Add(left, right),
        B::Sub(_) => FloatOp::Sub(left, right),
        B::Mul(_) => FloatOp::Mul(left, right),
        _ => match rules::lookup("recip").filter(|_| is_one(&left)) {
            // `1.0 / b` is `b.recip()` bit for bit, and its adjoint needs
            // only the result (`-y²`), not `b`.
            Some(prim) => FloatOp::Prim {
                prim,
                args: vec![right],
                int_arg: None,
            },
            None => FloatOp::Div(left, right),
        },
    }
}

fn is_one(operand: &Operand) -> bool {
    match operand {
        Operand::Const(value) => is_one_text(&value.tokens.to_string()),
        Operand::Var(_) => false,
    }
}

/// Whether a literal reads `1`, `1.0`, `1.0_f64` or the like.
fn is_one_text(text: &str) -> bool {
    let text: String = text.chars().filter(|c| *c != '_').collect();
    let digits = text.trim_end_matches("f64").trim_end_matches("f32");
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.parse::<f64>() == Ok(1.0)
}

/// `expr` without the parentheses (and invisible groups) around it.
fn unparen(mut expr: &syn::Expr) -> &syn::Expr {
    loop {
        match expr {
            syn::Expr::Paren(paren) => expr = &paren.expr,
            syn::Expr::Group(group) => expr = &group.expr,
            _ => return expr,
        }
    }
}

/// Whether `expr` is the float literal one (`1.0`, `1.0_f64`, `(1.0)`).
fn is_one_literal(expr: &syn::Expr) -> bool {
    match unparen(expr) {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(lit),
            ..
        }) => is_one_text(&lit.to_string()),
        _ => false,
    }
}

/// `x` if `expr` is the denominator of the logistic function, `1.0 + e` or
/// `e + 1.0` with `e` one of `(-x).exp()`, `f64::exp(-x)`, `f32::exp(-x)`.
/// Addition is commutative in floating point, so both orders compute what
/// `autodiff_runtime::rules::logistic` computes.
fn logistic_arg(expr: &syn::Expr) -> Option<&syn::Expr> {
    let syn::Expr::Binary(sum) = unparen(expr) else {
        return None;
    };
    if !matches!(sum.op, syn::BinOp::Add(_)) {
        return None;
    }
    let exp = if is_one_literal(&sum.left) {
        &sum.right
    } else if is_one_literal(&sum.right) {
        &sum.left
    } else {
        return None;
    };
    let exponent = match unparen(exp) {
        syn::Expr::MethodCall(call) if call.method == "exp" && call.args.is_empty() => {
            &*call.receiver
        }
        syn::Expr::Call(call) if call.args.len() == 1 => match &*call.func {
            syn::Expr::Path(path) if float_function(&path.path).as_deref() == Some("exp") => {
                &call.args[0]
            }
            _ => return None,
        },
        _ => return None,
    };
    match unparen(exponent) {
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => Some(expr),
        _ => None,
    }
}
