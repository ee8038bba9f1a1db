//! Heap allocations made by generated code, counted by a global allocator that counts
//! per thread (so the test harness's other threads do not interfere).
//!
//! What is asserted, exactly:
//! 1. `f_grad` and `f_vjp` of loop-free scalar code make **zero** allocations, from the
//!    very first call.
//! 2. After one warm-up call, a loop over `&[f64]` whose reverse sweep needs saved
//!    values: `f_grad` makes **exactly one** allocation (the returned `Vec<f64>`
//!    gradient), and `f_vjp` of a scalar-parameter loop and of an in-place `&mut [f64]`
//!    loop (which return no `Vec`) make **zero**; calls on smaller inputs after the
//!    warm-up make zero (or one, for the gradient `Vec`) as well.
//!
//! 3. A top-level loop of known trip count whose iterations push alike reserves its
//!    tape after the first iteration: on a fresh thread, the heap held at the peak
//!    is what the loop pushes plus the gradient, not the next power of two.
//!
//! 4. A split callee with a scratch vector, called in a loop, takes it from the
//!    thread's pool and refills it in place: after a warm-up, a gradient with 200
//!    such calls allocates as often as one with 10.
//!
//! The checks of 1 and 2 run inside one `#[test]` so they happen in sequence on one
//! thread; 3 runs on a thread of its own.
#![allow(clippy::needless_range_loop)] // the macro differentiates index loops

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use autodiff_runtime::differentiate;

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated and not yet freed on this thread, and their maximum.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + delta);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        track(layout.size() as isize);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        track(layout.size() as isize);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        track(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations (alloc, alloc_zeroed, realloc) made on this thread while running `f`.
fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = COUNT.with(Cell::get);
    let r = f();
    let after = COUNT.with(Cell::get);
    (after - before, r)
}

/// The most heap bytes held at once on this thread while running `f`, above the
/// level when it started.
fn peak_heap<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    let r = f();
    ((PEAK.with(Cell::get) - base) as usize, r)
}

#[differentiate]
fn loop_free(x: f64, y: f64) -> f64 {
    let a = (x * y).sin() + x.exp() / (1.0 + y * y);
    let b = if a > 0.5 { a.sqrt() } else { a * a };
    b * x.atan2(y) + y.powi(3)
}

#[differentiate]
fn loopy_slice(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s = (s + x[i]).sin() * x[i];
    }
    s
}

#[differentiate]
fn loopy_scalar(x: f64, n: usize) -> f64 {
    let mut y = x;
    for _ in 0..n {
        y = y.sin() * y + 0.1;
    }
    y
}

#[differentiate]
fn loopy_buffer(u: &mut [f64], k: f64) {
    for _ in 0..20 {
        for i in 0..u.len() {
            u[i] = u[i].sin() * k + u[i];
        }
    }
}

#[test]
fn allocation_counts() {
    // 1. loop-free: zero allocations, first call included.
    let (n, r) = allocations(|| loop_free_grad(0.3, 1.2));
    assert_eq!(n, 0, "loop-free f_grad allocated {n} times");
    assert_eq!(r.0.to_bits(), loop_free(0.3, 1.2).to_bits());
    let (n, _) = allocations(|| loop_free_vjp(0.3, 1.2, 2.0));
    assert_eq!(n, 0, "loop-free f_vjp allocated {n} times");
    let (n, _) = allocations(|| loop_free_grad(-2.0, 0.1));
    assert_eq!(n, 0, "loop-free f_grad (other branch) allocated {n} times");

    // 2. loops over a slice: after a warm-up, only the returned gradient Vec.
    let x: Vec<f64> = (0..200).map(|i| (i as f64 * 0.37).sin()).collect();
    let warm = loopy_slice_grad(&x);
    assert_eq!(warm.0.to_bits(), loopy_slice(&x).to_bits());
    let (n, r) = allocations(|| loopy_slice_grad(&x));
    assert_eq!(
        n, 1,
        "loopy f_grad after warm-up allocated {n} times (expected: the gradient Vec only)"
    );
    assert_eq!(r.1, warm.1);
    let (n, _) = allocations(|| loopy_slice_grad(&x[..50]));
    assert_eq!(n, 1, "loopy f_grad on a smaller input allocated {n} times");

    // scalar parameters, loop: f_grad returns no Vec, so zero after warm-up.
    let _ = loopy_scalar_grad(0.7, 500);
    let (n, r) = allocations(|| loopy_scalar_grad(0.7, 500));
    assert_eq!(n, 0, "scalar loop f_grad after warm-up allocated {n} times");
    assert_eq!(r.0.to_bits(), loopy_scalar(0.7, 500).to_bits());
    let (n, _) = allocations(|| loopy_scalar_vjp(0.9, 100, 1.0));
    assert_eq!(n, 0, "scalar loop f_vjp after warm-up allocated {n} times");

    // in-place buffer through f_vjp: zero after warm-up (caller owns the shadow).
    let mut u = vec![0.5; 64];
    let mut u_bar = vec![1.0; 64];
    let _ = loopy_buffer_vjp(&mut u, &mut u_bar, 0.3);
    let mut expected = u.clone();
    loopy_buffer(&mut expected, 0.3);
    let (n, _) = allocations(|| loopy_buffer_vjp(&mut u, &mut u_bar, 0.3));
    assert_eq!(n, 0, "in-place f_vjp after warm-up allocated {n} times");
    assert_eq!(u, expected);
}

#[differentiate]
fn rows_of_sines(x: &[f64], steps: usize) -> f64 {
    let mut s = 0.0;
    for _ in 0..steps {
        for i in 0..x.len() {
            s = (s * 0.5 + x[i]).sin();
        }
    }
    s
}

#[test]
fn a_loop_of_known_trip_count_reserves_its_tape() {
    // A fresh thread: its stack pool is empty, as on a program's first call.
    std::thread::spawn(|| {
        let x: Vec<f64> = (0..100).map(|i| (i as f64 * 0.37).sin()).collect();
        // 33,000 values: doubling would end at 65,536 (524 kB for 264 kB pushed).
        let steps = 330;
        let (peak, (value, grad)) = peak_heap(|| rows_of_sines_grad(&x, steps));
        assert_eq!(value.to_bits(), rows_of_sines(&x, steps).to_bits());
        assert_eq!(grad.len(), x.len());
        let pushed = autodiff_runtime::stack::last_bytes_pushed();
        assert_eq!(pushed, 8 * x.len() * steps);
        let gradient = 8 * x.len();
        assert!(
            peak <= pushed + gradient + 2048,
            "{peak} bytes held at the peak for {pushed} pushed"
        );
    })
    .join()
    .expect("the measured thread panicked");
}

/// `Σ (x_i − data[offset + i])²`: a joint call's callee.
#[differentiate]
fn distance_to(x: &[f64], data: &[f64], offset: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let d = x[i] - data[offset + i];
        s += d * d;
    }
    s
}

/// Calls `distance_to` with data it does not differentiate.
#[differentiate(wrt(x))]
fn fit_to_rows(x: &[f64], data: &[f64], rows: usize) -> f64 {
    let n = x.len();
    let mut total = 0.0;
    for r in 0..rows {
        total += distance_to(x, data, r * n);
    }
    total
}

#[test]
fn data_passed_to_a_callee_gets_no_adjoint_buffer() {
    std::thread::spawn(|| {
        let n = 10;
        let rows = 2000;
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let data: Vec<f64> = (0..n * rows).map(|i| (i as f64 * 0.11).cos()).collect();
        let (peak, (value, grad)) = peak_heap(|| fit_to_rows_grad(&x, &data, rows));
        assert_eq!(value.to_bits(), fit_to_rows(&x, &data, rows).to_bits());
        // ∂/∂x_i = Σ_r 2 (x_i − data[r n + i]).
        for i in 0..n {
            let expected: f64 = (0..rows).map(|r| 2.0 * (x[i] - data[r * n + i])).sum();
            assert!((grad[i] - expected).abs() <= 1e-9 * expected.abs().max(1.0));
        }
        // The data is 160 kB: an adjoint buffer for it (the callee adds into
        // `data_bar`) would be held at the peak.
        assert!(
            peak < 8 * data.len() / 4,
            "{peak} bytes held at the peak for {} bytes of data",
            8 * data.len()
        );
    })
    .join()
    .expect("the measured thread panicked");
}

/// A helper with a scratch vector, writing through `&mut` (a split call): its
/// recording makes the vector at every call.
#[differentiate]
fn smooth(u: &mut [f64], k: f64) {
    let n = u.len();
    let mut scratch = vec![0.0; n];
    for i in 0..n {
        scratch[i] = (u[i] * k).sin();
    }
    for i in 1..n {
        u[i] = scratch[i] + 0.5 * scratch[i - 1];
    }
}

#[differentiate(wrt(x, k))]
fn smoothed(x: &[f64], k: f64, rounds: usize) -> f64 {
    let mut u = x.to_vec();
    for _ in 0..rounds {
        smooth(&mut u, k);
    }
    let mut s = 0.0;
    for i in 0..u.len() {
        s += u[i] * u[i];
    }
    s
}

#[test]
fn scratch_vectors_of_recorded_calls_are_reused() {
    // 4. After a warm-up, the calls' scratch vectors come from the thread's pool
    // and are refilled in place: the allocations do not grow with the calls.
    let x: Vec<f64> = (0..32).map(|i| (i as f64 * 0.41).cos()).collect();
    let warm = smoothed_grad(&x, 0.8, 200);
    assert_eq!(warm.0.to_bits(), smoothed(&x, 0.8, 200).to_bits());
    let (few, _) = allocations(|| smoothed_grad(&x, 0.8, 10));
    let (longer, r) = allocations(|| smoothed_grad(&x, 0.8, 200));
    assert_eq!(r, warm);
    assert_eq!(few, longer, "allocations grow with the recorded calls");
    assert!(longer <= 4, "{longer} allocations for 200 recorded calls");
}
