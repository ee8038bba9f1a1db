//! Criterion benchmarks of the four objectives at their reference sizes: the primal,
//! `f_grad`, the hand-written adjoint, num-dual on 4 directions and echidna's tape.
//! Each method's gradient is checked against the hand adjoint before it is timed.
//! Then the second-order cases: `f_grad` and `f_hvp` (checked against finite
//! differences of `f_grad` first).
//!
//! `cargo bench -p autodiff-benches` (a few minutes). The table of medians and ratios
//! comes from `cargo run --release -p autodiff-benches --bin report`.

use std::hint::black_box;
use std::time::Duration;

use autodiff_benches::second_order;
use autodiff_benches::{agreement, dual_directional, reference_objectives, Objective};
use criterion::{criterion_group, criterion_main, Criterion};

const DUAL_DIRECTIONS: usize = 4;

fn check(obj: &dyn Objective) {
    let a = agreement(obj, DUAL_DIRECTIONS);
    assert!(a.grad < 1e-8, "{}: f_grad vs hand adjoint", obj.name());
    assert!(a.tape < 1e-8, "{}: echidna vs hand adjoint", obj.name());
    assert!(a.dual <= 1e-8, "{}: num-dual vs hand adjoint", obj.name());
}

fn objectives(c: &mut Criterion) {
    for obj in reference_objectives() {
        check(obj.as_ref());
        let mut group = c.benchmark_group(obj.name());
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        group.bench_function("primal", |b| b.iter(|| black_box(obj.primal())));
        group.bench_function("f_grad", |b| b.iter(|| black_box(obj.grad())));
        group.bench_function("hand_adjoint", |b| b.iter(|| black_box(obj.hand())));
        let dirs = autodiff_benches::directions(obj.n_inputs(), DUAL_DIRECTIONS);
        group.bench_function("num_dual_4_directions", |b| {
            b.iter(|| {
                dirs.iter()
                    .map(|d| dual_directional(obj.as_ref(), d))
                    .sum::<f64>()
            })
        });
        group.bench_function("echidna_tape", |b| b.iter(|| black_box(obj.tape_grad())));
        group.finish();
    }
}

fn hessian_vector_products(c: &mut Criterion) {
    for case in second_order::reference_cases() {
        if let Err(e) = case.check_hvp() {
            panic!("{e}");
        }
        let mut group = c.benchmark_group(format!("{} (second order)", case.name()));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        group.bench_function("primal", |b| b.iter(|| black_box(case.value_at(case.x()))));
        group.bench_function("f_grad", |b| b.iter(|| black_box(case.grad())));
        group.bench_function("f_hvp", |b| b.iter(|| black_box(case.hvp())));
        group.finish();
    }
}

criterion_group!(benches, objectives, hessian_vector_products);
criterion_main!(benches);
