// Items declared inside the body: `static mut`, nested `fn`, `const`, `struct`.
use autodiff_runtime::differentiate;

#[differentiate]
fn static_mut_item(x: f64) -> f64 {
    static mut CALLS: usize = 0;
    x * 2.0
}

#[differentiate]
fn nested_fn(x: f64) -> f64 {
    fn square(v: f64) -> f64 {
        v * v
    }
    x + 1.0
}

#[differentiate]
fn const_item(x: f64) -> f64 {
    const SCALE: f64 = 3.0;
    x * SCALE
}

#[differentiate]
fn struct_item(x: f64) -> f64 {
    struct Point {
        x: f64,
    }
    x - 1.0
}

fn main() {}
