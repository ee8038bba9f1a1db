// Parameters: raw pointers, structs, trait objects, tuples, destructuring, strings.
use autodiff_runtime::differentiate;

pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[differentiate]
fn raw_pointer(_x: *const f64, y: f64) -> f64 {
    y * 2.0
}

#[differentiate]
fn raw_pointer_mut(_x: *mut f64, y: f64) -> f64 {
    y * 2.0
}

#[differentiate]
fn struct_param(p: Point, y: f64) -> f64 {
    p.x * y
}

#[differentiate]
fn trait_object(f: &dyn Fn(f64) -> f64, y: f64) -> f64 {
    f(y)
}

#[differentiate]
fn tuple_param(t: (f64, f64)) -> f64 {
    t.0 * t.1
}

#[differentiate]
fn destructured_param((a, b): (f64, f64)) -> f64 {
    a * b
}

#[differentiate]
fn string_param(x: f64, name: &str) -> f64 {
    x * name.len() as f64
}

fn main() {}
