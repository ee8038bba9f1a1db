//! `cargo run --release -p autodiff-benches --bin report`: checks every method's
//! gradient against the hand-written adjoint, then times each (median of `RUNS`
//! calls, all in this one run) and prints medians, ratios, the bytes `f_grad` pushed
//! on its stack next to the hand adjoint's saved state, and the peak heap of one
//! call of each, measured by a counting allocator in a fresh thread (so `f_grad`'s
//! stack starts empty and its growth is counted).
//!
//! A second table gives the cost of a Hessian-vector product (`f_hvp`, checked
//! against finite differences of `f_grad`) over one gradient (`f_grad`).
//!
//! `REPORT_RUNS=n` changes the number of timed calls (default 21). The primal, `f_grad`
//! and the hand adjoint are called in turn, round after round, so their ratios hold on
//! a machine whose speed drifts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use autodiff_benches::second_order::{self, HvpCase};
use autodiff_benches::{
    agreement, dual_directional, gmm::GmmData, max_rel_diff, reference_objectives, Objective,
};
use autodiff_runtime::check::fd_directional;

/// The system allocator, counting live bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// The only unsafe code of the crate: forwarding to the system allocator.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Peak heap bytes above the starting level during one call of `f`, in a fresh
/// thread (empty thread-local stack pools). Returns the value too.
fn peak_heap<R: Send>(f: impl FnOnce() -> R + Send) -> (usize, R) {
    std::thread::scope(|s| {
        s.spawn(|| {
            let base = LIVE.load(Ordering::Relaxed);
            PEAK.store(base, Ordering::Relaxed);
            let r = f();
            (PEAK.load(Ordering::Relaxed) - base, r)
        })
        .join()
        .expect("measured call panicked")
    })
}

/// Median seconds of `runs` calls of each of `fs`, called in turn (one round calls
/// each once), so that a slow spell of a shared machine slows all of them alike and
/// their ratios hold (after one warm-up round).
fn interleaved_medians<const N: usize>(runs: usize, fs: [&dyn Fn(); N]) -> [f64; N] {
    for f in &fs {
        f();
    }
    let mut times: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(runs));
    for _ in 0..runs {
        for (f, t) in fs.iter().zip(times.iter_mut()) {
            let s = Instant::now();
            f();
            t.push(s.elapsed().as_secs_f64());
        }
    }
    times.map(median)
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// Median seconds of `runs` calls of `f` (after one warm-up call).
fn median_secs<R>(runs: usize, mut f: impl FnMut() -> R) -> f64 {
    std::hint::black_box(f());
    median(
        (0..runs)
            .map(|_| {
                let s = Instant::now();
                std::hint::black_box(f());
                s.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn fmt_time(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} us", s * 1e6)
    }
}

fn fmt_bytes(b: usize) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b:.0} B")
    }
}

/// Directions the forward-mode peer runs; its time is scaled to all inputs.
const DUAL_DIRECTIONS: usize = 4;
/// Largest relative gradient difference accepted against the hand adjoint.
const TOL: f64 = 1e-8;

struct Row {
    name: String,
    inputs: usize,
    primal: f64,
    grad: f64,
    hand: f64,
    dual_full: f64,
    tape: f64,
    pushed: usize,
    hand_saved: usize,
    peak_grad: usize,
    peak_hand: usize,
    peak_tape: usize,
}

/// Checks every method against the hand adjoint; panics on disagreement.
fn check(obj: &dyn Objective) {
    let a = agreement(obj, DUAL_DIRECTIONS);
    let name = obj.name();
    println!(
        "  check {name:<22} f_grad vs hand: value rel diff {:.1e}, gradient max rel diff {:.1e}",
        a.value, a.grad
    );
    assert!(
        a.grad < TOL,
        "{name}: f_grad disagrees with the hand adjoint"
    );
    println!(
        "  check {name:<22} echidna vs hand: gradient max rel diff {:.1e}",
        a.tape
    );
    assert!(
        a.tape < TOL,
        "{name}: echidna disagrees with the hand adjoint"
    );
    assert!(
        a.dual <= TOL,
        "{name}: num-dual directional derivatives differ from the hand adjoint's by {:.1e}",
        a.dual
    );
    println!("  check {name:<22} num-dual: {DUAL_DIRECTIONS} directions agree");
}

fn measure(obj: &dyn Objective, runs: usize) -> Row {
    let [primal, grad, hand] = interleaved_medians(
        runs,
        [
            &|| {
                std::hint::black_box(obj.primal());
            },
            &|| {
                std::hint::black_box(obj.grad());
            },
            &|| {
                std::hint::black_box(obj.hand());
            },
        ],
    );
    let _ = obj.grad();
    let pushed = autodiff_runtime::stack::last_bytes_pushed();
    let dirs = autodiff_benches::directions(obj.n_inputs(), DUAL_DIRECTIONS);
    let dual_all = median_secs(runs.min(5), || {
        dirs.iter().map(|d| dual_directional(obj, d)).sum::<f64>()
    });
    let dual_full = dual_all / DUAL_DIRECTIONS as f64 * obj.n_inputs() as f64;
    let tape = median_secs(runs.min(5), || obj.tape_grad());
    let (peak_grad, _) = peak_heap(|| obj.grad());
    let (peak_hand, _) = peak_heap(|| obj.hand());
    let (peak_tape, _) = peak_heap(|| obj.tape_grad());
    Row {
        name: obj.name(),
        inputs: obj.n_inputs(),
        primal,
        grad,
        hand,
        dual_full,
        tape,
        pushed,
        hand_saved: obj.hand_saved_bytes(),
        peak_grad,
        peak_hand,
        peak_tape,
    }
}

fn main() {
    let runs: usize = std::env::var("REPORT_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(21);
    // `REPORT_ONLY=GMM` measures only the objectives whose name contains it
    // (and skips the second-order table and the large GMM).
    let only = std::env::var("REPORT_ONLY").ok();
    let objectives: Vec<_> = reference_objectives()
        .into_iter()
        .filter(|o| {
            only.as_ref()
                .is_none_or(|only| o.name().contains(only.as_str()))
        })
        .collect();
    println!("Checking gradients against the hand-written adjoints (max rel diff < {TOL:e}):");
    for obj in &objectives {
        check(obj.as_ref());
    }
    println!();
    println!(
        "Timing: median of {runs} calls, primal, f_grad and hand adjoint interleaved (num-dual and echidna: median of {}).",
        runs.min(5)
    );
    let rows: Vec<Row> = objectives
        .iter()
        .map(|o| measure(o.as_ref(), runs))
        .collect();

    println!();
    println!(
        "| objective | inputs | primal | f_grad | hand adjoint | num-dual (est. full) | echidna | f_grad/primal | f_grad/hand | num-dual/f_grad | echidna/f_grad |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.0} | {:.1} |",
            r.name,
            r.inputs,
            fmt_time(r.primal),
            fmt_time(r.grad),
            fmt_time(r.hand),
            fmt_time(r.dual_full),
            fmt_time(r.tape),
            r.grad / r.primal,
            r.grad / r.hand,
            r.dual_full / r.grad,
            r.tape / r.grad,
        );
    }
    println!();
    println!(
        "num-dual: {DUAL_DIRECTIONS} directions timed, scaled to one pass per input. Targets: f_grad/hand <= 1.15, echidna/f_grad >= 10."
    );
    println!();
    println!(
        "| objective | f_grad bytes pushed | hand saved state | pushed/saved | peak heap f_grad | peak heap hand | peak f_grad/hand | peak heap echidna |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.2} | {} | {} | {:.2} | {} |",
            r.name,
            fmt_bytes(r.pushed),
            fmt_bytes(r.hand_saved),
            r.pushed as f64 / r.hand_saved as f64,
            fmt_bytes(r.peak_grad),
            fmt_bytes(r.peak_hand),
            r.peak_grad as f64 / r.peak_hand as f64,
            fmt_bytes(r.peak_tape),
        );
    }
    println!();
    println!("Target: peak heap of f_grad <= 1.2 x the hand adjoint's.");

    if only.is_some() {
        return;
    }
    second_order_table(runs);

    // The large GMM: must run. One call each, f_grad then hand, checked against each other.
    println!();
    let big = GmmData::new(64, 100, 1000);
    println!(
        "GMM d=64 K=100 n=1000 ({} inputs), one call each:",
        big.n_inputs()
    );
    let s = Instant::now();
    let (peak_grad, (g, pushed)) = peak_heap(|| {
        let (_, g) = big.grad();
        (g, autodiff_runtime::stack::last_bytes_pushed())
    });
    let t_grad = s.elapsed().as_secs_f64();
    let s = Instant::now();
    let (peak_hand, (_, gh)) = peak_heap(|| big.hand());
    let t_hand = s.elapsed().as_secs_f64();
    let s = Instant::now();
    std::hint::black_box(big.primal());
    let t_primal = s.elapsed().as_secs_f64();
    let e = max_rel_diff(&g, &gh);
    println!(
        "  primal {}, f_grad {} (peak heap {}, {} pushed), hand adjoint {} (peak heap {}); f_grad/hand {:.2}, gradient max rel diff {e:.1e}",
        fmt_time(t_primal),
        fmt_time(t_grad),
        fmt_bytes(peak_grad),
        fmt_bytes(pushed),
        fmt_time(t_hand),
        fmt_bytes(peak_hand),
        t_grad / t_hand
    );
    assert!(e < TOL, "large GMM: f_grad disagrees with the hand adjoint");
}

/// Checks `f_hvp` against finite differences of `f_grad`; panics on disagreement.
fn check_hvp(case: &dyn HvpCase) {
    let fd = fd_directional(|p: &[f64]| case.grad_at(p).1, case.x(), case.v());
    println!(
        "  check {:<26} f_hvp vs finite differences of f_grad: max rel diff {:.1e}",
        case.name(),
        max_rel_diff(&case.hvp().2, &fd)
    );
    if let Err(e) = case.check_hvp() {
        panic!("{e}");
    }
}

/// The second-order table: primal, `f_grad` and `f_hvp` medians and the ratio
/// `f_hvp / f_grad`.
fn second_order_table(runs: usize) {
    // Sub-microsecond-scale calls: time batches so the clock's resolution does not
    // dominate.
    const BATCH: usize = 100;
    let cases = second_order::reference_cases();
    println!();
    println!("Second order: checking f_hvp against finite differences of f_grad:");
    for case in &cases {
        check_hvp(case.as_ref());
    }
    println!();
    println!("Timing: median of {runs} batches of {BATCH} calls.");
    println!("| function | inputs | primal | f_grad | f_hvp | f_grad/primal | f_hvp/f_grad |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for case in &cases {
        let x = case.x();
        let batch = |f: &dyn Fn()| {
            median_secs(runs, || {
                for _ in 0..BATCH {
                    f();
                }
            }) / BATCH as f64
        };
        let primal = batch(&|| {
            std::hint::black_box(case.value_at(std::hint::black_box(x)));
        });
        let grad = batch(&|| {
            std::hint::black_box(case.grad());
        });
        let hvp = batch(&|| {
            std::hint::black_box(case.hvp());
        });
        println!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.2} |",
            case.name(),
            x.len(),
            fmt_time(primal),
            fmt_time(grad),
            fmt_time(hvp),
            grad / primal,
            hvp / grad,
        );
    }
    println!();
    println!("f_hvp returns the value, the gradient and H*v in one reverse-over-forward sweep.");
}
