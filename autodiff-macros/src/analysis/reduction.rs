//! Running extremum reductions: loops that only take the maximum (or minimum) of
//! data that does not change during the call,
//!
//! ```text
//! for i in lo..hi { t = a[index(i)]; m = m.max(t); }
//! ```
//!
//! the shift of a log-sum-exp or a softmax, or its branch form
//! `if a[index(i)] > m { m = a[index(i)]; }` (`<` for a minimum: ADBench's
//! `arr_max`). Recorded like any loop, such a loop saves the running value `m`
//! (or the branch taken) at every iteration, so that the reverse sweep knows which
//! argument each step kept. But the whole adjoint of `m` goes to exactly one
//! place. Under `max`'s rule (`rules::max_vjp`: a tie goes to the running value, a
//! NaN loses to a number), as under a strict `>`, an element takes over only when
//! it exceeds the running value, so the last element to take over is the first
//! one, in iteration order, equal to the result; and if none took over, the result
//! is `m`'s value before the loop (also when the result is NaN, which only a NaN
//! start leaves: `max` lets a number take over from it, and then the result is
//! not NaN; `>` never does). `min` and `<` are the mirror image. So the forward
//! sweep saves only `m`'s values before and after the loop, and the reverse sweep
//! compares them and, if they differ, scans `a` for the first element equal to the
//! result: nothing per iteration, and the scan stops at the element found.
//!
//! Written the other way round, `m = t.max(m)` or `if a[idx] >= m { m = a[idx]; }`
//! (`<=`), a tie goes to the element: then the element credited is the *last* one
//! equal to the result, found scanning backwards. `t.max(m)` also hands a NaN
//! running value over to the element (and, both being NaN, to the element too), so
//! a NaN result comes from the last element; `>=` never takes a NaN, so a NaN
//! result is the start's.
//!
//! Only loops whose body is exactly that qualify, and only when the reverse sweep
//! finds `a` and the index as the loop read them: the scan reads them again.
//! That holds when every write of `a` comes before the loop and outside the loops
//! around it (a parameter behind `&`, or a local array filled before it: the
//! log-sum-exp of a vector computed just before), and the index reads only loop
//! indices and values set once for the call. A loop whose iterations are each
//! reversed before the next one runs (preaccumulated, or checkpointed) does not
//! count as a loop around it: GMM's per-point `main_term`, filled by the loop
//! over the components and then reduced, qualifies inside the loop over points.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::quote;

use crate::analysis::activity::Activity;
use crate::analysis::tbr::{count, nested_blocks, StmtPos};
use crate::ir::{Block, FloatOp, Function, LoopKind, Operand, Origin, PExpr, Stmt, Ty, VarId};

/// A loop found to be a running extremum reduction.
#[derive(Clone, Debug)]
pub struct Reduction {
    /// The running value (`m`), a local float.
    pub acc: VarId,
    /// The array read (`a`), which nothing writes between the loop and its
    /// reverse.
    pub array: VarId,
    /// The index of the read, of values that do not change over the loop.
    pub index: PExpr,
    /// The branch form (`if a[i] > m { m = a[i]; }`), whose condition the
    /// forward sweep then need not save.
    pub branch: bool,
    /// Which element the adjoint goes to.
    pub credit: Credit,
    /// The positions of the loop's body, whose saves the scan replaces.
    pub body: std::ops::Range<StmtPos>,
}

/// The element a running extremum's adjoint goes to (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credit {
    /// The first element equal to the result, unless the start is the result or
    /// the result is NaN (`m.max(t)`, `>`, `<`: ties keep the running value).
    First,
    /// The last element equal to the result, if any (`>=`, `<=`).
    Last,
    /// The last element equal to the result, or the last element if the result is
    /// NaN (`t.max(m)`).
    LastOrNan,
}

/// The loops of `func` shaped as reductions, by their position (pre-order, as
/// `ir::walk` visits statements). Only loops whose running value is active: the
/// reverse sweep of another loop is empty anyway. Whether the scan would find
/// what the loop read is `tbr`'s to decide (`Tbr::reduction`): it knows which
/// writes of the array and of the index's variables the reverse sweep has undone
/// when it gets there.
pub fn analyze(func: &Function, activity: &Activity) -> HashMap<StmtPos, Reduction> {
    let mut out = HashMap::new();
    visit(&func.body, 0, &mut |stmt, pos| {
        if let Some(reduction) = reduction(func, activity, stmt, pos) {
            out.insert(pos, reduction);
        }
    });
    out
}

/// Calls `found` with every statement and its pre-order position.
fn visit(block: &Block, mut pos: StmtPos, found: &mut dyn FnMut(&Stmt, StmtPos)) {
    for stmt in block {
        found(stmt, pos);
        for (nested, start) in nested_blocks(stmt, pos) {
            visit(nested, start, found);
        }
        pos += count(stmt);
    }
}

fn reduction(func: &Function, activity: &Activity, stmt: &Stmt, pos: StmtPos) -> Option<Reduction> {
    let Stmt::Loop(looped) = stmt else {
        return None;
    };
    let LoopKind::For { index: Some(_), .. } = &looped.kind else {
        return None;
    };
    if looped.exit.is_some() || !looped.reset.is_empty() {
        return None;
    }
    let found = match looped.body.as_slice() {
        // `t = a[idx]; m = m.max(t)`, or `t.max(m)` (a tie goes to the first
        // argument).
        [Stmt::Float {
            dst: element,
            op: FloatOp::Read { array, index },
            ..
        }, Stmt::Float {
            dst: acc,
            op:
                FloatOp::Prim {
                    prim,
                    args,
                    int_arg: None,
                },
            ..
        }] => {
            let [Operand::Var(first), Operand::Var(second)] = args.as_slice() else {
                return None;
            };
            let credit = if (first, second) == (acc, element) {
                Credit::First
            } else if (first, second) == (element, acc) {
                Credit::LastOrNan
            } else {
                return None;
            };
            let qualifies = matches!(prim.name, "max" | "min")
                && acc != element
                && looped.body_vars.contains(&element.0);
            qualifies.then_some((*acc, *array, index, false, credit))
        }
        // `if a[idx] > m { m = a[idx]; }`, or `<`: ties keep `m`; `>=` and `<=`
        // hand them to the element.
        [Stmt::If {
            cond,
            then_block,
            else_block,
        }] if else_block.is_empty() => {
            let [Stmt::Float {
                dst: acc,
                op: FloatOp::Read { array, index },
                ..
            }] = then_block.as_slice()
            else {
                return None;
            };
            let (a, m) = (
                crate::ir::ident(&func.var(*array).name, Span::call_site()),
                crate::ir::ident(&func.var(*acc).name, Span::call_site()),
            );
            let read = &index.tokens;
            let condition = cond.tokens.to_string();
            let strict = [quote!(#a[#read] > #m), quote!(#a[#read] < #m)];
            let ties_taken = [quote!(#a[#read] >= #m), quote!(#a[#read] <= #m)];
            let credit = if strict.iter().any(|form| form.to_string() == condition) {
                Credit::First
            } else if ties_taken.iter().any(|form| form.to_string() == condition) {
                Credit::Last
            } else {
                return None;
            };
            Some((*acc, *array, index, true, credit))
        }
        _ => None,
    };
    let (acc, array, index, branch, credit) = found?;
    let qualifies = matches!(func.var(acc).ty, Ty::Float)
        && func.var(acc).origin == Origin::Local
        && activity.is_active(acc)
        && matches!(func.var(array).ty, Ty::FloatArray(_));
    qualifies.then(|| Reduction {
        acc,
        array,
        index: index.clone(),
        branch,
        credit,
        body: pos + 1..pos + count(stmt),
    })
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    /// Whether the expansion of `item` scans for the extremum's element.
    fn scans(item: TokenStream) -> bool {
        crate::expand::differentiate(TokenStream::new(), item)
            .to_string()
            .contains("__ad_before")
    }

    #[test]
    fn running_extrema_of_unwritten_parameters_are_scanned() {
        assert!(scans(quote! {
            fn f(v: &[f64]) -> f64 {
                let mut m = v[0];
                for i in 1..v.len() { m = m.max(v[i]); }
                m * m
            }
        }));
        assert!(scans(quote! {
            fn f(v: &[f64], rows: usize, cols: usize) -> f64 {
                let mut s = 0.0;
                for r in 0..rows {
                    let mut m = v[r * cols];
                    for j in 1..cols { m = m.min(v[r * cols + j]); }
                    s += m.sin();
                }
                s
            }
        }));
        assert!(scans(quote! {
            fn f(v: &[f64]) -> f64 {
                let mut m = v[0];
                for i in 1..v.len() { m = v[i].max(m); }
                m * m
            }
        }));
        for compare in [quote!(>), quote!(<), quote!(>=), quote!(<=)] {
            assert!(scans(quote! {
                fn f(v: &[f64]) -> f64 {
                    let mut m = v[0];
                    for i in 1..v.len() { if v[i] #compare m { m = v[i]; } }
                    m * m
                }
            }));
        }
    }

    #[test]
    fn running_extrema_of_arrays_filled_before_the_loop_are_scanned() {
        // A local array filled before the loop, an index offset set once.
        assert!(scans(quote! {
            fn f(x: &[f64], n: usize) -> f64 {
                let off = n / 2;
                let mut w = vec![0.0; n];
                for j in 0..n { w[j] = x[j] * x[j]; }
                let mut m = w[off];
                for i in off..n { m = m.max(w[i]); }
                m * m
            }
        }));
        // Refilled in every iteration of a loop whose iterations are each
        // reversed as they end (preaccumulated; `w[0]` as the start would make
        // that depend on a run-time check).
        assert!(scans(quote! {
            fn f(x: &[f64], rows: usize, cols: usize) -> f64 {
                let mut w = vec![0.0; cols];
                let mut s = 0.0;
                for r in 0..rows {
                    for j in 0..cols { w[j] = x[r * cols + j].sin(); }
                    let mut m = x[0];
                    for j in 0..cols { m = m.max(w[j]); }
                    s += m * m;
                }
                s
            }
        }));
    }

    #[test]
    fn other_loops_are_recorded() {
        let declined = [
            // Another comparison.
            quote! {
                fn f(v: &[f64]) -> f64 {
                    let mut m = v[0];
                    for i in 1..v.len() { if v[i] != m { m = v[i]; } }
                    m * m
                }
            },
            // The running value compared with another element than it takes.
            quote! {
                fn f(v: &[f64], w: &[f64]) -> f64 {
                    let mut m = v[0];
                    for i in 1..v.len() { if w[i] > m { m = v[i]; } }
                    m * m
                }
            },
            // The array changes during the call.
            quote! {
                fn f(v: &mut [f64]) -> f64 {
                    let mut m = v[0];
                    for i in 1..v.len() { m = m.max(v[i]); }
                    v[0] = m;
                    m * m
                }
            },
            // The index reads a local that changes in a loop around it (whose
            // iterations are recorded: the product is not a sum).
            quote! {
                fn f(v: &[f64], n: usize) -> f64 {
                    let mut off = 0;
                    let mut p = 1.0;
                    for r in 0..n {
                        let mut m = v[off];
                        for i in 1..n { m = m.max(v[i + off]); }
                        p = p * m.sin();
                        off += n;
                    }
                    p
                }
            },
            // A local array refilled in a recorded loop around it.
            quote! {
                fn f(x: &[f64], rows: usize, cols: usize) -> f64 {
                    let mut w = vec![0.0; cols];
                    let mut p = 1.0;
                    for r in 0..rows {
                        for j in 0..cols { w[j] = x[r * cols + j].sin(); }
                        let mut m = w[0];
                        for j in 1..cols { m = m.max(w[j]); }
                        p = p * m;
                    }
                    p
                }
            },
            // A local array written after the loop.
            quote! {
                fn f(x: &[f64], n: usize) -> f64 {
                    let mut w = x.to_vec();
                    let mut m = w[0];
                    for i in 1..n { m = m.max(w[i]); }
                    w[0] = m * 2.0;
                    m * w[0]
                }
            },
            // The loop does more.
            quote! {
                fn f(v: &[f64]) -> f64 {
                    let mut m = v[0];
                    let mut s = 0.0;
                    for i in 1..v.len() { m = m.max(v[i]); s += m; }
                    s
                }
            },
        ];
        for item in declined {
            assert!(!scans(item.clone()), "{item}");
        }
    }
}
