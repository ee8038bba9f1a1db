// A `loop` with `break value` as the value of a `let` (regression: the macro once
// overflowed its stack here, see FINDINGS.md). Alone in its file so a crash cannot
// hide other cases.
use autodiff_runtime::differentiate;

#[differentiate]
fn let_break_value(x: f64) -> f64 {
    let mut y = x;
    let z = loop {
        y = y * 0.5;
        if y < 1.0 {
            break y * 2.0;
        }
    };
    z + y
}

fn main() {}
