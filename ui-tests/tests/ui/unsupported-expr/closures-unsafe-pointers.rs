// Closures, `unsafe` blocks and raw pointers in the body.
use autodiff_runtime::differentiate;

#[differentiate]
fn closure(x: f64) -> f64 {
    let square = |v: f64| v * v;
    square(x)
}

#[differentiate]
fn unsafe_block(x: f64) -> f64 {
    unsafe { x }
}

#[differentiate]
fn pointer_from_slice(x: &[f64], n: usize) -> f64 {
    let p = x.as_ptr() as usize;
    x[0] * (n + p) as f64
}

#[differentiate]
fn pointer_cast(x: f64) -> f64 {
    let y = x;
    let p = &y as *const f64;
    y + p as usize as f64
}

#[differentiate]
fn raw_borrow(x: f64) -> f64 {
    let y = x;
    let p = &raw const y;
    y
}

fn main() {}
