// `#[differentiate]` on a method with a `self` receiver.
use autodiff_runtime::differentiate;

pub struct Model {
    pub w: f64,
}

impl Model {
    #[differentiate]
    fn predict(&self, x: f64) -> f64 {
        x * 2.0
    }
}

fn main() {}
