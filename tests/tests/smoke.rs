#![allow(clippy::needless_range_loop)] // the macro differentiates index loops
use autodiff_runtime::differentiate;

#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    (x + y) * x.sin()
}

#[differentiate]
fn sum_sq(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i];
    }
    s
}

#[differentiate]
fn branchy(x: f64, n: usize) -> f64 {
    let mut y = x;
    for _ in 0..n {
        if y > 1.0 {
            y = y.sqrt();
        } else {
            y = y * y + 0.5;
        }
    }
    y
}

#[differentiate]
fn step(x: &mut [f64], k: f64) {
    for i in 0..x.len() {
        x[i] = x[i] * k + x[i].sin();
    }
}

#[test]
fn smoke() {
    let (v, (dx, dy)) = f_grad(1.0, 2.0);
    assert_eq!(v, f(1.0, 2.0));
    autodiff_runtime::check::assert_gradient(|v| f(v[0], v[1]), &[1.0, 2.0], &[dx, dy]);
    let x = [1.0, 2.0, 3.0];
    let (v, g) = sum_sq_grad(&x);
    assert_eq!(v, 14.0);
    assert_eq!(v, sum_sq(&x));
    assert_eq!(g, vec![2.0, 4.0, 6.0]);
    let (v, g) = branchy_grad(3.0, 5);
    assert_eq!(v, branchy(3.0, 5));
    autodiff_runtime::check::assert_gradient(|v| branchy(v[0], 5), &[3.0], &[g]);
    let mut x = vec![0.5, 1.0];
    let mut x_bar = vec![1.0, 1.0];
    let ((), dk) = step_vjp(&mut x, &mut x_bar, 2.0);
    let mut expected = vec![0.5, 1.0];
    step(&mut expected, 2.0);
    assert_eq!(x, expected);
    println!("{x:?} {x_bar:?} {dk}");
}
