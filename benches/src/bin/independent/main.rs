//! `cargo run --release -p autodiff-benches --bin independent [-- --check]`: an
//! independent port of the four objectives (written from the issue's
//! descriptions by a separate author who did not read `benches/src`), each with
//! its own hand-written adjoint, annotated with `#[differentiate]` as its author
//! wrote it. `--check` compares the gradients with the hand adjoints and central
//! differences; without it, primal, `f_grad` and hand adjoint are timed in turn
//! (31 rounds, medians). Its spring-chain adjoint fuses each step's three loops
//! into one forward and one reverse loop; `benches/FINDINGS.md` has the figures.
// Kept as its author wrote it (index loops are what `#[differentiate]` reads).
#![allow(
    clippy::needless_range_loop,
    clippy::too_many_arguments,
    clippy::excessive_precision,
    clippy::type_complexity
)]

mod gmm;
mod heat;
mod lstm;
mod spring;

use std::hint::black_box;
use std::time::Instant;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
    fn unif(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.next()
    }
    fn vec(&mut self, n: usize, a: f64, b: f64) -> Vec<f64> {
        (0..n).map(|_| self.unif(a, b)).collect()
    }
}

fn cmp(name: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut norm = 0.0f64;
    let mut elem = 0.0f64;
    for i in 0..a.len() {
        let d = (a[i] - b[i]).abs();
        norm = norm.max(d / scale);
        let den = a[i].abs().max(b[i].abs());
        if den > 1e-8 * scale {
            elem = elem.max(d / den);
        }
    }
    println!(
        "  {name:>14}: max|diff|/max|hand| = {norm:.2e}, max elementwise rel = {elem:.2e} (n={})",
        a.len()
    );
    assert!(
        elem <= 1e-10,
        "{name}: f_grad and the hand adjoint disagree"
    );
}

fn fd_check<F: Fn(&[f64]) -> f64>(name: &str, f: F, x: &[f64], g: &[f64], idx: &[usize]) {
    let mut worst = 0.0f64;
    for &i in idx {
        let h = 1e-6 * x[i].abs().max(1.0);
        let mut xp = x.to_vec();
        xp[i] += h;
        let fp = f(&xp);
        xp[i] = x[i] - h;
        let fm = f(&xp);
        let fd = (fp - fm) / (2.0 * h);
        let rel = (fd - g[i]).abs() / g[i].abs().max(1e-8);
        worst = worst.max(rel);
        println!(
            "    fd {name}[{i}]: grad {:+.10e} fd {:+.10e} rel {:.1e}",
            g[i], fd, rel
        );
    }
    println!("  {name}: worst FD rel diff {worst:.1e}");
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// interleaved rounds: primal, grad, hand; each batched `batch` times. Returns medians per call (s).
fn time3(
    rounds: usize,
    batch: usize,
    mut p: impl FnMut(),
    mut g: impl FnMut(),
    mut h: impl FnMut(),
) -> (f64, f64, f64) {
    let (mut tp, mut tg, mut th) = (vec![], vec![], vec![]);
    // warm-up
    p();
    g();
    h();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..batch {
            p();
        }
        tp.push(t.elapsed().as_secs_f64() / batch as f64);
        let t = Instant::now();
        for _ in 0..batch {
            g();
        }
        tg.push(t.elapsed().as_secs_f64() / batch as f64);
        let t = Instant::now();
        for _ in 0..batch {
            h();
        }
        th.push(t.elapsed().as_secs_f64() / batch as f64);
    }
    (median(&mut tp), median(&mut tg), median(&mut th))
}

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let mut rng = Rng(12345);
    let mut rows: Vec<(String, f64, f64, f64)> = vec![];

    // ---------------- GMM ----------------
    {
        let (d, k, n) = (10usize, 25usize, 1000usize);
        let icf_sz = d * (d + 1) / 2;
        let alphas = rng.vec(k, -1.0, 1.0);
        let means = rng.vec(k * d, 0.0, 1.0);
        let icf = rng.vec(k * icf_sz, -0.5, 0.5);
        let x = rng.vec(n * d, 0.0, 1.0);
        let (gamma, m) = (1.0, 2usize);
        let f0 = gmm::gmm_objective(d, k, n, &alphas, &means, &icf, &x, gamma, m);
        let (v, (ga, gm, gi)) =
            gmm::gmm_objective_grad(d, k, n, &alphas, &means, &icf, &x, gamma, m);
        let (vh, (ha, hm, hi)) = gmm::gmm_hand(d, k, n, &alphas, &means, &icf, &x, gamma, m);
        if check {
            println!("GMM: primal {f0:.15e} grad-value {v:.15e} hand-value {vh:.15e} (bit-identical primal/grad: {})", f0.to_bits() == v.to_bits());
            cmp("alphas", &ga, &ha);
            cmp("means", &gm, &hm);
            cmp("icf", &gi, &hi);
            fd_check(
                "alphas",
                |a| gmm::gmm_objective(d, k, n, a, &means, &icf, &x, gamma, m),
                &alphas,
                &ga,
                &[0, 7, 24],
            );
            fd_check(
                "means",
                |mm| gmm::gmm_objective(d, k, n, &alphas, mm, &icf, &x, gamma, m),
                &means,
                &gm,
                &[0, 101, 249],
            );
            fd_check(
                "icf",
                |ic| gmm::gmm_objective(d, k, n, &alphas, &means, ic, &x, gamma, m),
                &icf,
                &gi,
                &[0, 9, 10, 54, 1000, 1374],
            );
        } else {
            let (tp, tg, th) = time3(
                31,
                4,
                || {
                    black_box(gmm::gmm_objective(
                        d,
                        k,
                        n,
                        black_box(&alphas),
                        &means,
                        &icf,
                        &x,
                        gamma,
                        m,
                    ));
                },
                || {
                    black_box(gmm::gmm_objective_grad(
                        d,
                        k,
                        n,
                        black_box(&alphas),
                        &means,
                        &icf,
                        &x,
                        gamma,
                        m,
                    ));
                },
                || {
                    black_box(gmm::gmm_hand(
                        d,
                        k,
                        n,
                        black_box(&alphas),
                        &means,
                        &icf,
                        &x,
                        gamma,
                        m,
                    ));
                },
            );
            rows.push(("GMM d10 K25 n1000".into(), tp, tg, th));
        }
    }

    // ---------------- LSTM ----------------
    {
        let (l, c, b) = (2usize, 1024usize, 14usize);
        let mp = rng.vec(2 * l * 4 * b, -1.0, 1.0);
        let ep = rng.vec(3 * b, -1.0, 1.0);
        let st = rng.vec(2 * l * b, -1.0, 1.0);
        let seq = rng.vec(c * b, -1.0, 1.0);
        let f0 = lstm::lstm_objective(l, c, b, &mp, &ep, &st, &seq);
        let (v, (gmp, gep)) = lstm::lstm_objective_grad(l, c, b, &mp, &ep, &st, &seq);
        let (vh, (hmp, hep)) = lstm::lstm_hand(l, c, b, &mp, &ep, &st, &seq);
        if check {
            println!("LSTM: primal {f0:.15e} grad-value {v:.15e} hand-value {vh:.15e} (bit-identical primal/grad: {})", f0.to_bits() == v.to_bits());
            cmp("main_params", &gmp, &hmp);
            cmp("extra_params", &gep, &hep);
            fd_check(
                "main",
                |p| lstm::lstm_objective(l, c, b, p, &ep, &st, &seq),
                &mp,
                &gmp,
                &[0, 20, 100, 200, 223],
            );
            fd_check(
                "extra",
                |p| lstm::lstm_objective(l, c, b, &mp, p, &st, &seq),
                &ep,
                &gep,
                &[0, 15, 41],
            );
        } else {
            let (tp, tg, th) = time3(
                31,
                10,
                || {
                    black_box(lstm::lstm_objective(
                        l,
                        c,
                        b,
                        black_box(&mp),
                        &ep,
                        &st,
                        &seq,
                    ));
                },
                || {
                    black_box(lstm::lstm_objective_grad(
                        l,
                        c,
                        b,
                        black_box(&mp),
                        &ep,
                        &st,
                        &seq,
                    ));
                },
                || {
                    black_box(lstm::lstm_hand(l, c, b, black_box(&mp), &ep, &st, &seq));
                },
            );
            rows.push(("LSTM l2 c1024 b14".into(), tp, tg, th));
        }
    }

    // ---------------- Spring ----------------
    {
        let (n, steps) = (1000usize, 1000usize);
        let k = rng.vec(n, 1.0, 1.5);
        let ktrue: Vec<f64> = k
            .iter()
            .map(|&v| v * (1.0 + 0.1 * (rng.next() - 0.5)))
            .collect();
        let x0: Vec<f64> = (0..n)
            .map(|i| 0.3 * (0.07 * i as f64).sin() + rng.unif(-0.05, 0.05))
            .collect();
        let v0 = vec![0.0; n];
        let obs = spring::spring_simulate(&ktrue, &x0, &v0, n, steps);
        let f0 = spring::spring_objective(&k, &x0, &v0, &obs, n, steps);
        let (v, g) = spring::spring_objective_grad(&k, &x0, &v0, &obs, n, steps);
        let (vh, hg) = spring::spring_hand(&k, &x0, &v0, &obs, n, steps);
        if check {
            println!("Spring: primal {f0:.15e} grad-value {v:.15e} hand-value {vh:.15e} (bit-identical primal/grad: {})", f0.to_bits() == v.to_bits());
            cmp("k", &g, &hg);
            fd_check(
                "k",
                |kk| spring::spring_objective(kk, &x0, &v0, &obs, n, steps),
                &k,
                &g,
                &[0, 1, 500, 998, 999],
            );
        } else {
            let (tp, tg, th) = time3(
                31,
                3,
                || {
                    black_box(spring::spring_objective(
                        black_box(&k),
                        &x0,
                        &v0,
                        &obs,
                        n,
                        steps,
                    ));
                },
                || {
                    black_box(spring::spring_objective_grad(
                        black_box(&k),
                        &x0,
                        &v0,
                        &obs,
                        n,
                        steps,
                    ));
                },
                || {
                    black_box(spring::spring_hand(black_box(&k), &x0, &v0, &obs, n, steps));
                },
            );
            rows.push(("Spring N1000 T1000".into(), tp, tg, th));
        }
    }

    // ---------------- Heat ----------------
    {
        let (m, steps, r, dt) = (1000usize, 1000usize, 0.25, 0.01);
        let u0: Vec<f64> = (0..m)
            .map(|i| (3.0 * std::f64::consts::PI * i as f64 / m as f64).sin() + rng.unif(-0.1, 0.1))
            .collect();
        let utrue: Vec<f64> = u0.iter().map(|&v| v + rng.unif(-0.05, 0.05)).collect();
        let obs = heat::heat_simulate(&utrue, m, steps, r, dt);
        let f0 = heat::heat_objective(&u0, &obs, m, steps, r, dt);
        let (v, g) = heat::heat_objective_grad(&u0, &obs, m, steps, r, dt);
        let (vh, hg) = heat::heat_hand(&u0, &obs, m, steps, r, dt);
        if check {
            println!("Heat: primal {f0:.15e} grad-value {v:.15e} hand-value {vh:.15e} (bit-identical primal/grad: {})", f0.to_bits() == v.to_bits());
            cmp("u0", &g, &hg);
            fd_check(
                "u0",
                |u| heat::heat_objective(u, &obs, m, steps, r, dt),
                &u0,
                &g,
                &[0, 1, 500, 998, 999],
            );
        } else {
            let (tp, tg, th) = time3(
                31,
                1,
                || {
                    black_box(heat::heat_objective(black_box(&u0), &obs, m, steps, r, dt));
                },
                || {
                    black_box(heat::heat_objective_grad(
                        black_box(&u0),
                        &obs,
                        m,
                        steps,
                        r,
                        dt,
                    ));
                },
                || {
                    black_box(heat::heat_hand(black_box(&u0), &obs, m, steps, r, dt));
                },
            );
            rows.push(("Heat M1000 T1000".into(), tp, tg, th));
        }
    }

    if !check {
        println!(
            "{:<20} {:>11} {:>11} {:>11} {:>13} {:>11}",
            "objective", "primal ms", "f_grad ms", "hand ms", "grad/primal", "grad/hand"
        );
        for (name, tp, tg, th) in rows {
            println!(
                "{:<20} {:>11.3} {:>11.3} {:>11.3} {:>13.2} {:>11.2}",
                name,
                tp * 1e3,
                tg * 1e3,
                th * 1e3,
                tg / tp,
                tg / th
            );
        }
    }
}
