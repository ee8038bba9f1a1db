// Errors in several annotated functions of one file are all reported, and a
// function with errors still gets `_grad` / `_vjp` stubs, so calling them adds no
// "cannot find function" errors.
use autodiff_runtime::differentiate;

#[differentiate]
fn first(x: f64) -> f64 {
    x.fract()
}

#[differentiate]
fn second(x: f64) -> f64 {
    let f = |v: f64| v + 1.0;
    f(x)
}

#[differentiate]
fn third(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in x.iter() {
        s += v;
    }
    s
}

fn main() {
    let (_value, _dx) = first_grad(1.0);
    let (_value, _dx) = second_vjp(1.0, 1.0);
    let (_value, _dx) = third_grad(&[1.0, 2.0]);
}
