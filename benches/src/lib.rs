//! Benchmarks of `#[differentiate]` (issue #5): four objectives, each written once
//! as a plain function annotated with `#[differentiate]`, beside a hand-written
//! reverse-mode adjoint (the limit) and generic copies run by the peers, num-dual
//! (forward mode) and echidna (a reverse-mode tape).
//!
//! * [`gmm`]: ADBench's Gaussian mixture model objective, written inline and again
//!   with helper functions (`sqnorm`, `log_sum_exp`) as ADBench's reference code is;
//! * [`lstm`]: ADBench's LSTM objective, written inline and again as a port of
//!   ADBench's C++ code (`lstm_predict` and `lstm_model` updating the state
//!   through `&mut`);
//! * [`spring`]: a damped spring chain integrated by semi-implicit Euler, inline
//!   and with helper functions (`spring_forces`, `euler_step` through `&mut`);
//! * [`heat`]: the 1-D heat equation with a `sin(u)` source, explicit steps,
//!   inline and with helper functions (`heat_step`, `copy_interior`);
//! * [`second_order`]: `f_hvp` against `f_grad` (`#[differentiate(hvp)]`) on the
//!   1,000-dimensional Rosenbrock function and a nonlinear spring-chain energy.
//!
//! `cargo bench -p autodiff-benches` runs the criterion benchmarks;
//! `cargo run --release -p autodiff-benches --bin report` prints the table of medians
//! and ratios.

// The differentiated objectives use index loops (what `#[differentiate]` accepts);
// the generic and hand-written copies mirror them line for line.
#![allow(clippy::needless_range_loop)]

/// A second way of writing an objective, over the same data (`$data`) and
/// against the same hand adjoint: a wrapper type whose `primal` and `grad` go
/// through this version's functions, everything else delegated to the data, and
/// `$saved`, what the hand adjoint keeps for it.
macro_rules! variant {
    (
        $(#[$doc:meta])*
        $name:ident($data:ty), $saved:ident = $data_saved:path,
        primal: |$p:ident| $primal:expr,
        grad: |$g:ident| $grad:expr $(,)?
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name(pub $data);

        impl $name {
            /// Number of differentiated inputs.
            pub fn n_inputs(&self) -> usize {
                self.0.n_inputs()
            }

            /// All differentiated inputs, flattened in parameter order.
            pub fn params(&self) -> Vec<f64> {
                self.0.params()
            }

            /// The objective through this version.
            pub fn primal(&self) -> f64 {
                let $p = &self.0;
                $primal
            }

            /// Value and gradient (flattened) by this version's generated `_grad`.
            pub fn grad(&self) -> (f64, Vec<f64>) {
                let $g = &self.0;
                $grad
            }

            /// The hand-written adjoint.
            pub fn hand(&self) -> (f64, Vec<f64>) {
                self.0.hand()
            }

            /// The objective in any [`Scalar`](crate::scalar::Scalar).
            pub fn generic<T: crate::scalar::Scalar>(&self, p: &[T]) -> T {
                self.0.generic(p)
            }
        }

        /// What the hand adjoint keeps.
        pub fn $saved(v: &$name) -> usize {
            $data_saved(&v.0)
        }
    };
}

pub mod gmm;
pub mod heat;
pub mod lstm;
pub mod scalar;
pub mod second_order;
pub mod spring;

use num_dual::Dual64;

/// A small deterministic generator (64-bit LCG, top 53 bits) for reproducible data.
#[derive(Clone, Debug)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One benchmark objective at one size, with every way to evaluate it.
pub trait Objective: Sync {
    /// A short name for tables.
    fn name(&self) -> String;
    /// Number of differentiated inputs.
    fn n_inputs(&self) -> usize;
    /// The differentiated inputs, flattened in parameter order.
    fn params(&self) -> Vec<f64>;
    /// The plain function.
    fn primal(&self) -> f64;
    /// `f_grad`, the gradient flattened in parameter order.
    fn grad(&self) -> (f64, Vec<f64>);
    /// The hand-written adjoint.
    fn hand(&self) -> (f64, Vec<f64>);
    /// Bytes of intermediate state the hand adjoint keeps.
    fn hand_saved_bytes(&self) -> usize;
    /// The objective at flattened inputs `p` in forward mode (`Dual64`).
    fn dual(&self, p: &[Dual64]) -> Dual64;
    /// The objective's gradient by echidna's tape.
    fn tape_grad(&self) -> Vec<f64>;
}

macro_rules! impl_objective {
    ($ty:ty, $saved:path, $name:expr) => {
        impl Objective for $ty {
            fn name(&self) -> String {
                let f: fn(&$ty) -> String = $name;
                f(self)
            }
            fn n_inputs(&self) -> usize {
                <$ty>::n_inputs(self)
            }
            fn params(&self) -> Vec<f64> {
                <$ty>::params(self)
            }
            fn primal(&self) -> f64 {
                <$ty>::primal(self)
            }
            fn grad(&self) -> (f64, Vec<f64>) {
                <$ty>::grad(self)
            }
            fn hand(&self) -> (f64, Vec<f64>) {
                <$ty>::hand(self)
            }
            fn hand_saved_bytes(&self) -> usize {
                $saved(self)
            }
            fn dual(&self, p: &[Dual64]) -> Dual64 {
                self.generic(p)
            }
            fn tape_grad(&self) -> Vec<f64> {
                scalar::echidna_grad(&self.params(), |p| self.generic(p))
            }
        }
    };
}

impl_objective!(gmm::GmmData, gmm::gmm_hand_saved_bytes, |g| format!(
    "GMM d={} K={} n={}",
    g.d, g.k, g.n
));
impl_objective!(gmm::GmmCalls, gmm::gmm_calls_hand_saved_bytes, |g| format!(
    "GMM (helper fns) d={} K={} n={}",
    g.0.d, g.0.k, g.0.n
));
impl_objective!(gmm::GmmPort, gmm::gmm_port_hand_saved_bytes, |g| format!(
    "GMM (ADBench port) d={} K={} n={}",
    g.0.d, g.0.k, g.0.n
));
impl_objective!(lstm::LstmData, lstm::lstm_hand_saved_bytes, |g| format!(
    "LSTM l={} c={}",
    g.l, g.c
));
impl_objective!(
    lstm::LstmPort,
    lstm::lstm_port_hand_saved_bytes,
    |g| format!("LSTM (ADBench port) l={} c={}", g.0.l, g.0.c)
);
impl_objective!(
    spring::SpringData,
    spring::spring_hand_saved_bytes,
    |s| format!("spring N={} T={}", s.k.len(), s.steps)
);
impl_objective!(
    spring::SpringPort,
    spring::spring_port_hand_saved_bytes,
    |s| format!("spring (helper fns) N={} T={}", s.0.k.len(), s.0.steps)
);
impl_objective!(heat::HeatData, heat::heat_hand_saved_bytes, |h| format!(
    "heat M={} T={}",
    h.u0.len(),
    h.steps
));
impl_objective!(
    heat::HeatPort,
    heat::heat_port_hand_saved_bytes,
    |h| format!("heat (helper fns) M={} T={}", h.0.u0.len(), h.0.steps)
);

/// The four objectives at ADBench / issue #5 reference sizes, each written inline
/// and again as a port with helper functions would be (GMM twice more: with
/// helper functions that only read, and as a port of ADBench's C++ code; LSTM as
/// a port of ADBench's C++ code).
pub fn reference_objectives() -> Vec<Box<dyn Objective>> {
    vec![
        Box::new(gmm::GmmData::new(10, 25, 1000)),
        Box::new(gmm::GmmCalls(gmm::GmmData::new(10, 25, 1000))),
        Box::new(gmm::GmmPort(gmm::GmmData::new(10, 25, 1000))),
        Box::new(lstm::LstmData::new(2, 1024, 14)),
        Box::new(lstm::LstmPort(lstm::LstmData::new(2, 1024, 14))),
        Box::new(spring::SpringData::new(1000, 1000)),
        Box::new(spring::SpringPort(spring::SpringData::new(1000, 1000))),
        Box::new(heat::HeatData::new(1000, 1000)),
        Box::new(heat::HeatPort(heat::HeatData::new(1000, 1000))),
    ]
}

/// The same objectives at small sizes, for tests.
pub fn small_objectives() -> Vec<Box<dyn Objective>> {
    vec![
        Box::new(gmm::GmmData::new(3, 4, 7)),
        Box::new(gmm::GmmCalls(gmm::GmmData::new(3, 4, 7))),
        Box::new(gmm::GmmPort(gmm::GmmData::new(3, 4, 7))),
        Box::new(lstm::LstmData::new(2, 6, 5)),
        Box::new(lstm::LstmPort(lstm::LstmData::new(2, 6, 5))),
        Box::new(spring::SpringData::new(6, 30)),
        Box::new(spring::SpringPort(spring::SpringData::new(6, 30))),
        Box::new(heat::HeatData::new(9, 12)),
        Box::new(heat::HeatPort(heat::HeatData::new(9, 12))),
    ]
}

/// The largest relative difference `|a − b| / max(|a|, |b|, floor)` over two vectors,
/// with `floor` a fraction of the largest magnitude (entries far below the gradient's
/// scale are compared absolutely at that scale).
pub fn max_rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "gradient lengths differ");
    let scale = a.iter().chain(b).fold(0.0_f64, |m, v| m.max(v.abs()));
    let floor = 1e-6 * scale;
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(floor).max(f64::MIN_POSITIVE))
        .fold(0.0, f64::max)
}

/// Deterministic unit directions for the forward-mode peer: direction `j` has ones on
/// the inputs `≡ j (mod count)` (so `count` passes touch every input once).
pub fn directions(n: usize, count: usize) -> Vec<Vec<f64>> {
    (0..count)
        .map(|j| {
            (0..n)
                .map(|i| if i % count == j { 1.0 } else { 0.0 })
                .collect()
        })
        .collect()
}

/// How far each method is from the hand adjoint on one objective.
#[derive(Clone, Copy, Debug)]
pub struct Agreement {
    /// `|f_grad value − hand value| / |hand value|`.
    pub value: f64,
    /// [`max_rel_diff`] of `f_grad`'s gradient from the hand adjoint's.
    pub grad: f64,
    /// [`max_rel_diff`] of the tape crate's gradient from the hand adjoint's.
    pub tape: f64,
    /// The largest `|num-dual − hand|` directional derivative over the directions,
    /// relative to `Σ |dir_i · g_i|`.
    pub dual: f64,
}

/// Compares `f_grad`, the tape crate and num-dual (on `count` [`directions`]) with
/// the hand adjoint: the check every benchmark runs before it times anything.
pub fn agreement(obj: &dyn Objective, count: usize) -> Agreement {
    let (vh, gh) = obj.hand();
    let (v, g) = obj.grad();
    let dual = directions(obj.n_inputs(), count)
        .iter()
        .map(|dir| {
            let dd = dual_directional(obj, dir);
            let dh: f64 = dir.iter().zip(&gh).map(|(a, b)| a * b).sum();
            let scale: f64 = dir.iter().zip(&gh).map(|(a, b)| (a * b).abs()).sum();
            (dd - dh).abs() / scale.max(f64::MIN_POSITIVE)
        })
        .fold(0.0, f64::max);
    Agreement {
        value: ((v - vh) / vh).abs(),
        grad: max_rel_diff(&g, &gh),
        tape: max_rel_diff(&obj.tape_grad(), &gh),
        dual,
    }
}

/// `Σ_i dir_i · p_i` of `obj`'s inputs `p`, by num-dual (one forward pass).
pub fn dual_directional(obj: &dyn Objective, dir: &[f64]) -> f64 {
    scalar::dual_directional(&obj.params(), dir, |p| obj.dual(p))
}

#[cfg(test)]
mod tests;
