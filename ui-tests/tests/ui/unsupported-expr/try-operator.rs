// The `?` operator (the function then also returns a non-float type).
use autodiff_runtime::differentiate;

#[differentiate]
fn checked(x: f64, n: usize) -> Option<f64> {
    let m = n.checked_sub(1)?;
    Some(x * m as f64)
}

fn main() {}
