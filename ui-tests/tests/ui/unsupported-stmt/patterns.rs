// Patterns: `if let`, destructuring `let`, `let ... else`, `let` without a value,
// and `match` on floats.
use autodiff_runtime::differentiate;

#[differentiate]
fn if_let(x: f64, n: usize) -> f64 {
    if let 3 = n {
        x
    } else {
        2.0 * x
    }
}

#[differentiate]
fn destructuring(x: f64, y: f64) -> f64 {
    let (a, b) = (x * y, x + y);
    a * b
}

#[differentiate]
fn let_else(x: f64, n: usize) -> f64 {
    let 3 = n else {
        return x;
    };
    x * x
}

#[differentiate]
fn let_without_value(x: f64) -> f64 {
    let y;
    y = x * 2.0;
    y
}

#[differentiate]
fn match_on_float(x: f64) -> f64 {
    match x {
        0.0 => 1.0,
        _ => x * x,
    }
}

fn main() {}
