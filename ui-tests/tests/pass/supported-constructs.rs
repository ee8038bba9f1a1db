// A function using most of the supported body constructs compiles, and its
// generated functions have the documented signatures.
use autodiff_runtime::differentiate;

#[differentiate]
fn everything(x: &[f64], y: f64, n: usize, flag: bool) -> f64 {
    let mut s = 0.0;
    let mut buf = vec![0.0; n];
    let mut fixed = [0.0; 3];
    let copy = x.to_vec();
    let len = x.len();
    for i in 0..n {
        buf[i] = x[i % len] * y;
    }
    for i in (0..3).rev() {
        fixed[i] = copy[i % len].sin() + f64::cos(y);
    }
    for i in (0..=n).step_by(2) {
        if i < n {
            s += buf[i];
        }
    }
    let mut k = 0;
    while k < n && !(s > 1e6) {
        s *= 1.0 + 0.01 * y.tanh();
        k += 1;
    }
    'outer: loop {
        for j in 0..len {
            if x[j] > 10.0 || j > 100 {
                break 'outer;
            }
            if j % 2 == 1 {
                continue;
            }
            s -= x[j].exp().ln_1p() / 2.0;
        }
        break;
    }
    let t = match n {
        0 => y,
        1 | 2 => y * 2.0,
        3..=5 => y.powi(2),
        _ => y.abs().sqrt(),
    };
    let u = if flag { t.max(s) } else if s > 0.0 { t.min(s) } else { -t };
    let v = match flag {
        true => u.hypot(y).atan2(1.0),
        false => u.mul_add(2.0, y).powf(1.5),
    };
    if v > 1e300 {
        return 0.0;
    }
    let w = v + fixed[0] * fixed[1] - fixed[2] + std::f64::consts::PI * (n as f64);
    w / 3.0
}

fn main() {
    let x = [1.0, 2.0, 3.0];
    let (_value, (_dx, _dy)): (f64, (Vec<f64>, f64)) = everything_grad(&x, 0.5, 4, true);
    let (_value, (_dx, _dy)): (f64, (Vec<f64>, f64)) = everything_vjp(&x, 0.5, 4, false, 1.0);
}
