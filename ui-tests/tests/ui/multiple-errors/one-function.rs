// One function with many independent mistakes: every one must be reported in the
// same compile, each at its own span, the signature's and the body's together.
use autodiff_runtime::differentiate;

#[differentiate(foo)]
fn everything_wrong<T>(x: &[f64], p: *const f64, t: T) -> usize {
    println!("start");
    let square = |v: f64| v * v;
    let a = x[0].fract();
    let tail = &x[1..];
    let (b, c) = (a, a);
    for v in x.iter() {
        let w = v * 2.0;
    }
    let s = loop {
        break 1.0;
    };
    x.len()
}

fn main() {}
