//! Classifies the parameters and the return type of the annotated function into
//! the kinds of the API table (active scalar, active array, `&mut` buffer, passive).

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Pat, ReturnType, Type};

use crate::args::Args;
use crate::diag::{self, Diagnostics};

/// The one float type a function computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatTy {
    F32,
    F64,
}

impl FloatTy {
    pub fn name(self) -> &'static str {
        match self {
            FloatTy::F32 => "f32",
            FloatTy::F64 => "f64",
        }
    }
}

/// How the elements of a float array are stored.
#[derive(Clone, Debug)]
pub enum Shape {
    /// `[f64]` behind a reference.
    Slice,
    /// `Vec<f64>`.
    Vec,
    /// `[f64; N]`, with `N` as written.
    Fixed(TokenStream),
}

/// How a float array parameter is passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `&[f64]`, `&Vec<f64>`, `&[f64; N]`: read only.
    Shared,
    /// `Vec<f64>`, `[f64; N]`: owned.
    Owned,
    /// `&mut [f64]`, `&mut Vec<f64>`, `&mut [f64; N]`: in/out state.
    Mut,
}

/// What kind of passive value a passive parameter holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassiveKind {
    Int,
    Bool,
    IntArray,
}

#[derive(Clone, Debug)]
pub enum ParamKind {
    Scalar,
    Array { shape: Shape, access: Access },
    Passive(PassiveKind),
}

#[derive(Clone, Debug)]
pub struct Param {
    pub ident: Ident,
    pub ty: Type,
    pub kind: ParamKind,
    /// Differentiated with respect to (float kind and selected by `wrt`).
    pub active: bool,
}

impl Param {
    pub fn is_float(&self) -> bool {
        !matches!(self.kind, ParamKind::Passive(_))
    }
    pub fn is_mut_buffer(&self) -> bool {
        matches!(
            self.kind,
            ParamKind::Array {
                access: Access::Mut,
                ..
            }
        )
    }
}

#[derive(Clone, Debug)]
pub enum RetKind {
    Unit,
    Scalar,
    Array(Shape),
}

#[derive(Clone, Debug)]
pub struct Signature {
    pub params: Vec<Param>,
    pub ret: RetKind,
    pub float: FloatTy,
}

impl Signature {
    pub fn float_tokens(&self) -> TokenStream {
        let ident = Ident::new(self.float.name(), Span::call_site());
        ident.into_token_stream()
    }
}

pub fn classify(func: &syn::ItemFn, args: &Args, diag: &mut Diagnostics) -> Signature {
    let sig = &func.sig;
    if let Some(token) = &sig.asyncness {
        diag.push(diag::async_code(token));
    }
    if let Some(token) = &sig.unsafety {
        diag.push(diag::unsafe_fn(token));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        diag.push(diag::generics(&sig.generics));
    }
    let mut floats: Vec<(FloatTy, Span)> = Vec::new();
    let mut params = Vec::new();
    for input in &sig.inputs {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                diag.push(diag::self_param(receiver));
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        let ident = match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
            other => {
                diag.push(diag::pattern(other, "patterns in parameters"));
                continue;
            }
        };
        let kind = match classify_type(&typed.ty) {
            Some((kind, float)) => {
                if let Some(float) = float {
                    floats.push((float, typed.ty.span()));
                }
                kind
            }
            None => {
                if let Type::Ptr(_) = &*typed.ty {
                    diag.push(diag::raw_pointer(&typed.ty));
                } else {
                    let what = describe_type(&typed.ty);
                    diag.push(diag::unsupported_param(&typed.ty, &what));
                }
                continue;
            }
        };
        params.push(Param {
            ident,
            ty: (*typed.ty).clone(),
            kind,
            active: false,
        });
    }
    let ret = match &sig.output {
        ReturnType::Default => RetKind::Unit,
        ReturnType::Type(_, ty) => match classify_type(ty) {
            Some((ParamKind::Scalar, Some(float))) => {
                floats.push((float, ty.span()));
                RetKind::Scalar
            }
            Some((
                ParamKind::Array {
                    shape,
                    access: Access::Owned,
                },
                Some(float),
            )) => {
                floats.push((float, ty.span()));
                RetKind::Array(shape)
            }
            _ if matches!(&**ty, Type::Tuple(tuple) if tuple.elems.is_empty()) => RetKind::Unit,
            _ => {
                diag.push(diag::return_type(ty));
                RetKind::Unit
            }
        },
    };
    let float = match floats.first() {
        Some((first, _)) => {
            if let Some((_, span)) = floats.iter().find(|(float, _)| float != first) {
                diag.push(diag::mixed_floats(*span));
            }
            *first
        }
        None => {
            if !diag.has_errors() {
                diag.push(diag::no_floats(&sig.ident));
            }
            FloatTy::F64
        }
    };
    match &args.wrt {
        None => {
            for param in &mut params {
                param.active = param.is_float();
            }
        }
        Some(names) => {
            for (position, name) in names.iter().enumerate() {
                if names[..position].contains(name) {
                    diag.push(syn::Error::new(
                        name.span(),
                        format!("`{name}` is listed twice in `wrt(..)`: list each parameter once"),
                    ));
                    continue;
                }
                match params.iter_mut().find(|param| param.ident == *name) {
                    Some(param) if param.is_float() => param.active = true,
                    Some(_) => diag.push(syn::Error::new(
                        name.span(),
                        format!("`wrt({name})` names a passive parameter: only `f32`/`f64` scalars, arrays and buffers can be differentiated; remove `{name}` from `wrt`"),
                    )),
                    None => diag.push(syn::Error::new(
                        name.span(),
                        format!("`wrt({name})` names no parameter of this function; list parameter names, e.g. `wrt({})`", params.first().map(|param| param.ident.to_string()).unwrap_or_else(|| "x".into())),
                    )),
                }
            }
        }
    }
    Signature { params, ret, float }
}

fn float_of(ty: &Type) -> Option<FloatTy> {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            let ident = path.path.get_ident()?;
            if ident == "f64" {
                Some(FloatTy::F64)
            } else if ident == "f32" {
                Some(FloatTy::F32)
            } else {
                None
            }
        }
        Type::Paren(inner) => float_of(&inner.elem),
        _ => None,
    }
}

pub fn is_int(ty: &Type) -> bool {
    const INTS: [&str; 12] = [
        "usize", "isize", "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128",
    ];
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .get_ident()
            .is_some_and(|ident| INTS.iter().any(|name| ident == name)),
        _ => false,
    }
}

fn is_bool(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.path.is_ident("bool"))
}

/// The element type of `Vec<T>`, if `ty` is one.
fn vec_elem(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Vec" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(elem) if args.args.len() == 1 => Some(elem),
        _ => None,
    }
}

/// The storage shape and element type of an array-like type (without reference).
fn array_of(ty: &Type) -> Option<(Shape, &Type)> {
    match ty {
        Type::Slice(slice) => Some((Shape::Slice, &slice.elem)),
        Type::Array(array) => Some((Shape::Fixed(array.len.to_token_stream()), &array.elem)),
        _ => vec_elem(ty).map(|elem| (Shape::Vec, elem)),
    }
}

/// Classifies a parameter type; `None` if it is not supported.
pub fn classify_type(ty: &Type) -> Option<(ParamKind, Option<FloatTy>)> {
    if let Some(float) = float_of(ty) {
        return Some((ParamKind::Scalar, Some(float)));
    }
    if is_int(ty) {
        return Some((ParamKind::Passive(PassiveKind::Int), None));
    }
    if is_bool(ty) {
        return Some((ParamKind::Passive(PassiveKind::Bool), None));
    }
    let (inner, access) = match ty {
        Type::Reference(reference) => (
            &*reference.elem,
            if reference.mutability.is_some() {
                Access::Mut
            } else {
                Access::Shared
            },
        ),
        other => (other, Access::Owned),
    };
    let (shape, elem) = array_of(inner)?;
    if let Some(float) = float_of(elem) {
        if access == Access::Owned && matches!(shape, Shape::Slice) {
            return None;
        }
        return Some((ParamKind::Array { shape, access }, Some(float)));
    }
    if (is_int(elem) || is_bool(elem)) && access == Access::Shared {
        return Some((ParamKind::Passive(PassiveKind::IntArray), None));
    }
    None
}

fn describe_type(ty: &Type) -> String {
    match ty {
        Type::TraitObject(_) => "trait object".into(),
        Type::ImplTrait(_) => "`impl Trait`".into(),
        Type::Tuple(_) => "tuple".into(),
        Type::Reference(reference) if matches!(&*reference.elem, Type::TraitObject(_)) => {
            "trait object".into()
        }
        _ => format!("`{}`", ty.to_token_stream()),
    }
}
