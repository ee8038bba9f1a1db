// A call that passes an active float to a function that is not #[differentiate].
// (Its own file: rustc reports it only after expansion, so macro errors elsewhere
// in the file would hide it.)
use autodiff_runtime::differentiate;

fn plain(x: f64) -> f64 {
    x * 3.0
}

fn plain_passive(n: usize) -> usize {
    n + 1
}

#[differentiate]
fn calls_plain(x: f64, n: usize) -> f64 {
    let m = plain_passive(n);
    plain(x) * m as f64
}

fn main() {}
