// Calls between #[differentiate] functions with slices, `&mut` buffers and `wrt`,
// and the documented `_grad` / `_vjp` signatures.
use autodiff_runtime::differentiate;

#[differentiate]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += a[i] * b[i];
    }
    s
}

#[differentiate]
fn step(x: &mut [f64], k: f64) {
    for i in 0..x.len() {
        x[i] = x[i] * k + x[i].sin();
    }
}

#[differentiate(wrt(x))]
pub fn energy(x: &mut Vec<f64>, k: f64, n: usize) -> f64 {
    let mut local = x.to_vec();
    for _ in 0..n {
        step(x, k);
        step(&mut local, 0.5);
    }
    dot(x, &local)
}

#[differentiate]
fn scaled(x: [f32; 3], k: f32) -> f32 {
    x[0] * x[1] * x[2] * k
}

fn main() {
    let (_value, (_da, _db)): (f64, (Vec<f64>, Vec<f64>)) = dot_grad(&[1.0], &[2.0]);
    let mut x = vec![1.0, 2.0];
    let mut x_bar = vec![1.0, 1.0];
    let ((), _dk): ((), f64) = step_vjp(&mut x, &mut x_bar, 2.0);
    let (_value, _dx): (f64, Vec<f64>) = energy_grad(&mut x, 0.5, 3);
    let (_value, _dx): (f64, ()) = energy_vjp(&mut x, &mut x_bar, 0.5, 3, 1.0);
    let (_value, (_dx, _dk)): (f32, ([f32; 3], f32)) = scaled_grad([1.0, 2.0, 3.0], 2.0);
}
