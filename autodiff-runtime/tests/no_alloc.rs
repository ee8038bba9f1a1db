//! Steady-state use of the saved-value stack makes no heap allocation (counted with a global allocator).

use std::alloc::System;

use autodiff_runtime::rules;
use autodiff_runtime::stack::{last_bytes_pushed, Stack};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// What a generated gradient of a loop does: save on the way forward, restore backwards.
fn gradient_like(x: &mut [f64], depth: u32) -> f64 {
    let mut stack = Stack::acquire();
    let mut acc = 0.0;
    for (i, v) in x.iter().enumerate() {
        stack.push(acc);
        stack.push_bit(*v > 0.0);
        stack.push(i);
        stack.push(*v as f32);
        acc = acc * 0.5 + v.sin();
    }
    stack.push_slice(x);
    if depth > 0 {
        // A nested gradient call (recursion) takes a second stack from the pool.
        acc += gradient_like(x, depth - 1);
    }
    x.iter_mut().for_each(|v| *v *= 2.0);
    stack.pop_slice_into(x);
    let mut g = 1.0;
    for _ in 0..x.len() {
        let _ = stack.pop::<f32>();
        let i = stack.pop::<usize>();
        let positive = stack.pop_bit();
        let old = stack.pop::<f64>();
        g = rules::sin_vjp(x[i], g) + rules::mul_vjp(old, 0.5, g).0;
        if positive {
            g += 1.0;
        }
    }
    assert!(stack.is_empty());
    acc + g
}

fn main() {
    let mut x: Vec<f64> = (0..200).map(|i| (i as f64 * 0.37).sin()).collect();

    // Warm-up: the pool's stacks grow to the needed capacity.
    let first = gradient_like(&mut x, 2);
    let saved = last_bytes_pushed();
    assert!(saved > 200 * (8 + 8 + 4));

    let region = Region::new(GLOBAL);
    let mut same = true;
    for _ in 0..100 {
        same &= gradient_like(&mut x, 2).to_bits() == first.to_bits();
    }
    let bytes = last_bytes_pushed();
    let change = region.change();

    assert!(same, "deterministic");
    assert_eq!(bytes, saved);
    assert_eq!(
        change.allocations, 0,
        "allocations in steady state: {change:?}"
    );
    assert_eq!(
        change.reallocations, 0,
        "reallocations in steady state: {change:?}"
    );
    println!("no_alloc: 1 passed, 0 failed");
}
