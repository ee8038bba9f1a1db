// An `unsafe` block as the value of a `let` (regression: the macro once overflowed
// its stack here, see FINDINGS.md). Alone in its file so a crash cannot hide
// other cases.
use autodiff_runtime::differentiate;

#[differentiate]
fn let_unsafe_block(x: &[f64]) -> f64 {
    let first = unsafe { *x.get_unchecked(0) };
    first * 2.0
}

fn main() {}
