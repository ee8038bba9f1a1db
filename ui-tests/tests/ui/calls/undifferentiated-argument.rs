// A callee that does not differentiate a parameter (it leaves it out of `wrt`
// and passes it to an ordinary function), given a value with a derivative.
// (Its own file: rustc reports it only after expansion, so macro errors elsewhere
// in the file would hide it.)
use autodiff_runtime::differentiate;

fn log_gamma(a: f64, p: usize) -> f64 {
    a * p as f64
}

#[differentiate(wrt(x))]
fn prior(x: &[f64], m: f64, p: usize) -> f64 {
    x[0] * x[0] - log_gamma(0.5 * m, p)
}

#[differentiate]
fn objective(x: &[f64], m: f64) -> f64 {
    prior(x, m * m, 3) * 2.0
}

fn main() {}
