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

// `let y; y = x * 2.0;` is accepted (a float starting at zero); an array is not.
#[allow(unused)]
#[differentiate]
fn let_without_value(x: f64) -> f64 {
    let v;
    v = vec![x, 2.0 * x];
    x * 2.0
}

#[differentiate]
fn match_on_float(x: f64) -> f64 {
    match x {
        0.0 => 1.0,
        _ => x * x,
    }
}

fn main() {}
