// `#[differentiate]` on items that are not functions.
use autodiff_runtime::differentiate;

#[differentiate]
struct NotAFunction {
    x: f64,
}

#[differentiate]
const NOT_A_FUNCTION: f64 = 1.0;

fn main() {}
