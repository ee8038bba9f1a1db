use autodiff_runtime::differentiate;

// f_hvp needs a scalar function: the Hessian of a vector-valued function is not a matrix.
#[differentiate(hvp)]
fn vector_valued(x: &[f64]) -> Vec<f64> {
    x.to_vec()
}

// f_hvp evaluates f twice; in-place state is refused.
#[differentiate(hvp)]
fn in_place(x: &mut [f64]) -> f64 {
    x[0] = x[0] * 2.0;
    x[0]
}

fn main() {}
