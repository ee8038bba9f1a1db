use autodiff_runtime::differentiate;

// f_hvp needs a scalar function: the Hessian of a vector-valued function is not a matrix.
#[differentiate(hvp)]
fn vector_valued(x: &[f64]) -> Vec<f64> {
    x.to_vec()
}

// Nor for a function returning nothing: its outputs are buffers.
#[differentiate(hvp)]
fn in_place(x: &mut [f64]) {
    x[0] = x[0] * x[0];
}

fn main() {}
