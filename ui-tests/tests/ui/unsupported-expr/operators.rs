// Float operators without a derivative rule and places that cannot be assigned.
use autodiff_runtime::differentiate;

#[differentiate]
fn float_remainder(x: f64) -> f64 {
    let mut y = x % 2.0;
    y %= 3.0;
    y
}

#[differentiate]
fn whole_buffer_assignment(x: &mut Vec<f64>) {
    *x = vec![0.0; 3];
}

#[differentiate]
fn labelled_block(x: f64) -> f64 {
    let mut y = x;
    'done: {
        if x > 1.0 {
            break 'done;
        }
        y = y * 2.0;
    }
    y
}

#[differentiate]
fn widened_in_f32(x: f32) -> f32 {
    ((x as f64) * 0.1) as f32
}

fn main() {}
