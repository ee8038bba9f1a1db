//! Passive expressions (integers, booleans, conditions, indices): checked against
//! the supported subset and rewritten to the hoisted variable names.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use super::{Kind, Lowerer};
use crate::diag;
use crate::ir::{PExpr, VarId};
use crate::rules;

/// Methods allowed in passive expressions besides the float primitives.
const PASSIVE_METHODS: &[&str] = &[
    "len",
    "is_empty",
    "pow",
    "rem_euclid",
    "div_euclid",
    "abs_diff",
    "is_nan",
    "is_finite",
    "is_infinite",
    "is_sign_positive",
    "is_sign_negative",
    "clamp",
    "contains",
    "min",
    "max",
    "abs",
    "signum",
];

impl Lowerer<'_> {
    /// Lowers an expression whose value is not differentiated.
    pub(super) fn passive(&mut self, expr: &syn::Expr) -> PExpr {
        let mut reads = Vec::new();
        let tokens = self.passive_tokens(expr, &mut reads);
        PExpr { tokens, reads }
    }

    pub(super) fn var_tokens(&self, id: VarId, span: proc_macro2::Span) -> TokenStream {
        let ident = crate::ir::ident(&self.vars[id.0 as usize].name, span);
        ident.into_token_stream()
    }

    fn passive_tokens(&mut self, expr: &syn::Expr, reads: &mut Vec<VarId>) -> TokenStream {
        use syn::Expr as E;
        match expr {
            E::Lit(lit) => lit.to_token_stream(),
            E::Path(path) => {
                if let Some(ident) = path.path.get_ident() {
                    if path.qself.is_none() {
                        if let Some(id) = self.lookup(&ident.to_string()) {
                            reads.push(id);
                            return self.var_tokens(id, ident.span());
                        }
                    }
                }
                path.to_token_stream()
            }
            E::Paren(paren) => {
                let inner = self.passive_tokens(&paren.expr, reads);
                quote_spanned!(paren.paren_token.span.join()=> (#inner))
            }
            E::Group(group) => self.passive_tokens(&group.expr, reads),
            E::Unary(unary) => {
                let op = unary.op;
                let inner = self.passive_tokens(&unary.expr, reads);
                quote!(#op #inner)
            }
            E::Binary(binary) => {
                let left = self.passive_tokens(&binary.left, reads);
                let right = self.passive_tokens(&binary.right, reads);
                let op = binary.op;
                quote!(#left #op #right)
            }
            E::Cast(cast) => {
                if let syn::Type::Ptr(_) = &*cast.ty {
                    self.diag.push(diag::raw_pointer(&cast.ty));
                }
                let inner = self.passive_tokens(&cast.expr, reads);
                let ty = &cast.ty;
                quote!(#inner as #ty)
            }
            E::Index(index) => {
                if let E::Range(range) = &*index.index {
                    self.diag.push(diag::slicing(range));
                    return quote!(0);
                }
                let array = self.array_var(&index.expr);
                let position = self.passive_tokens(&index.index, reads);
                match array {
                    Some(id) => {
                        reads.push(id);
                        let name = self.var_tokens(id, index.expr.span());
                        quote!(#name[#position])
                    }
                    None => quote!(0),
                }
            }
            E::MethodCall(call) => {
                let name = call.method.to_string();
                if rules::lookup(&name).is_none() && !PASSIVE_METHODS.contains(&name.as_str()) {
                    self.diag.push(diag::unknown_method(&call.method, &name));
                    return quote!(0);
                }
                let receiver = self.passive_tokens(&call.receiver, reads);
                let method = &call.method;
                let args: Vec<TokenStream> = call
                    .args
                    .iter()
                    .map(|arg| self.passive_tokens(arg, reads))
                    .collect();
                quote!(#receiver.#method(#(#args),*))
            }
            E::Call(call) => {
                let func = match &*call.func {
                    E::Path(path) => path,
                    other => {
                        self.diag.push(diag::expression(
                            other.span(),
                            "calling a computed function",
                        ));
                        return quote!(0);
                    }
                };
                if let Some(name) = float_function(&func.path) {
                    if rules::lookup(&name).is_none() && name != "from" {
                        self.diag.push(diag::unknown_float_function(
                            func.span(),
                            &path_string(&func.path),
                        ));
                        return quote!(0);
                    }
                }
                let args: Vec<TokenStream> = call
                    .args
                    .iter()
                    .map(|arg| self.passive_tokens(arg, reads))
                    .collect();
                quote!(#func(#(#args),*))
            }
            E::Reference(reference) => {
                let inner = self.passive_tokens(&reference.expr, reads);
                let mutability = reference.mutability;
                quote!(&#mutability #inner)
            }
            E::Range(range) => {
                let start = range
                    .start
                    .as_ref()
                    .map(|start| self.passive_tokens(start, reads));
                let end = range
                    .end
                    .as_ref()
                    .map(|end| self.passive_tokens(end, reads));
                let limits = range.limits;
                quote!(#start #limits #end)
            }
            other => {
                self.report_unsupported(other);
                quote!(0)
            }
        }
    }

    /// The array variable an expression names (`x`, `*x`, `(x)`), reporting an
    /// error otherwise.
    pub(super) fn array_var(&mut self, expr: &syn::Expr) -> Option<VarId> {
        match expr {
            syn::Expr::Path(path) if path.qself.is_none() => {
                let id = path
                    .path
                    .get_ident()
                    .and_then(|ident| self.lookup(&ident.to_string()));
                match id {
                    Some(id)
                        if matches!(self.kind_of_var(id), Kind::FloatArray | Kind::IntArray) =>
                    {
                        Some(id)
                    }
                    _ => {
                        self.diag.push(diag::float_index(expr));
                        None
                    }
                }
            }
            syn::Expr::Paren(paren) => self.array_var(&paren.expr),
            syn::Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => {
                self.array_var(&unary.expr)
            }
            syn::Expr::Field(field) => {
                self.diag.push(diag::field_access(field));
                None
            }
            _ => {
                self.diag.push(diag::float_index(expr));
                None
            }
        }
    }

    /// Reports the catalogue error for an expression outside the subset.
    pub(super) fn report_unsupported(&mut self, expr: &syn::Expr) {
        use syn::Expr as E;
        let span = expr.span();
        let error = match expr {
            E::Closure(_) => diag::closure(span),
            E::Unsafe(_) => diag::unsafe_block(span),
            E::Async(_) | E::Await(_) => diag::async_code(span),
            E::Try(_) => diag::try_operator(span),
            E::Macro(mac) if mac.mac.path.is_ident("vec") => diag::construct(
                expr,
                "`vec![...]` inside another expression",
                "bind it to a variable first (`let v = vec![...];`) and pass `&v`",
            ),
            E::Macro(mac) => {
                let name = path_string(&mac.mac.path);
                diag::macro_call(&mac.mac.path, &name)
            }
            E::Field(_) | E::Tuple(_) => diag::field_access(span),
            E::RawAddr(_) => diag::raw_pointer(span),
            E::Struct(_) => diag::expression(span, "struct literals"),
            E::Array(_) | E::Repeat(_) => {
                diag::expression(span, "an array literal in this position")
            }
            E::Let(_) => diag::if_let(span),
            E::Block(_) | E::If(_) | E::Match(_) => diag::expression(
                span,
                "a block, `if` or `match` nested inside an integer or boolean expression",
            ),
            E::Loop(_) | E::While(_) | E::ForLoop(_) => diag::construct(
                span,
                "a loop used as a value",
                "assign the result to a variable declared before the loop, then `break`",
            ),
            E::Assign(_) => diag::expression(span, "an assignment used as a value"),
            E::Break(_) | E::Continue(_) | E::Return(_) => {
                diag::expression(span, "a jump inside an expression")
            }
            _ => diag::expression(span, "this expression"),
        };
        self.diag.push(error);
    }
}

/// `f64::name` / `f32::name` paths: the function name.
pub(super) fn float_function(path: &syn::Path) -> Option<String> {
    let segments: Vec<String> = path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    match segments.as_slice() {
        [ty, name] if ty == "f64" || ty == "f32" => Some(name.clone()),
        [std, ty, name] if (std == "std" || std == "core") && (ty == "f64" || ty == "f32") => {
            // `std::f64::consts` is a module path, not a function.
            Some(name.clone())
        }
        _ => None,
    }
}

pub(super) fn path_string(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
