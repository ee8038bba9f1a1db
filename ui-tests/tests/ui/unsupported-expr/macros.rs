// Macros other than `vec!`.
use autodiff_runtime::differentiate;

#[differentiate]
fn print_statement(x: f64) -> f64 {
    println!("x = {x}");
    x * x
}

#[differentiate]
fn assert_statement(x: f64) -> f64 {
    assert!(x > 0.0);
    x.sqrt()
}

#[differentiate]
fn macro_value(x: f64, n: usize) -> f64 {
    let m = line!() as usize;
    x * (m + n) as f64
}

fn main() {}
