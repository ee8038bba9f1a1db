//! Every method's gradient against the hand adjoint, and both against finite
//! differences, on small sizes.

use autodiff_runtime::check::{check_gradient, Tolerance};

use super::*;

/// Rebuilds an objective of the same shape with different inputs, for finite
/// differences: each objective evaluates its generic `f64` copy.
fn fd_check(obj: &dyn Objective, grad: &[f64], what: &str) {
    let p = obj.params();
    let f = |x: &[f64]| -> f64 {
        let xd: Vec<Dual64> = x.iter().map(|&v| Dual64::from(v)).collect();
        obj.dual(&xd).re
    };
    if let Err(e) = check_gradient(f, &p, grad, Tolerance::default()) {
        panic!(
            "{} {what}: gradient disagrees with finite differences:\n{e}",
            obj.name()
        );
    }
}

#[test]
fn generic_copies_compute_the_same_value() {
    for obj in small_objectives() {
        let p: Vec<Dual64> = obj.params().iter().map(|&v| Dual64::from(v)).collect();
        let v = obj.dual(&p).re;
        let v0 = obj.primal();
        assert!(((v - v0) / v0).abs() < 1e-12, "{}: {v} vs {v0}", obj.name());
    }
}

#[test]
fn f_grad_matches_hand_adjoint_and_finite_differences() {
    for obj in small_objectives() {
        let (v, g) = obj.grad();
        let (vh, gh) = obj.hand();
        assert_eq!(
            v,
            obj.primal(),
            "{}: f_grad value is not the primal's",
            obj.name()
        );
        assert!(((v - vh) / v).abs() < 1e-12, "{}: {v} vs {vh}", obj.name());
        let e = max_rel_diff(&g, &gh);
        assert!(
            e < 1e-8,
            "{}: f_grad vs hand adjoint, max rel diff {e:e}",
            obj.name()
        );
        fd_check(obj.as_ref(), &g, "f_grad");
        fd_check(obj.as_ref(), &gh, "hand adjoint");
    }
}

#[test]
fn peers_match_hand_adjoint() {
    for obj in small_objectives() {
        let (_, gh) = obj.hand();
        let gt = obj.tape_grad();
        let e = max_rel_diff(&gt, &gh);
        assert!(
            e < 1e-8,
            "{}: echidna vs hand adjoint, max rel diff {e:e}",
            obj.name()
        );
        let n = obj.n_inputs();
        for dir in directions(n, 3) {
            let dd = dual_directional(obj.as_ref(), &dir);
            let dh: f64 = dir.iter().zip(&gh).map(|(a, b)| a * b).sum();
            assert!(
                (dd - dh).abs() <= 1e-9 * dh.abs().max(1e-6),
                "{}: num-dual directional {dd} vs hand {dh}",
                obj.name()
            );
        }
    }
}

#[test]
fn reference_sizes_agree() {
    // The report checks this too; here at the reference sizes, f_grad vs hand only,
    // in the test profile (opt-level 1) this takes a few seconds.
    for obj in reference_objectives() {
        let (_, g) = obj.grad();
        let (_, gh) = obj.hand();
        let e = max_rel_diff(&g, &gh);
        assert!(
            e < 1e-8,
            "{}: f_grad vs hand adjoint, max rel diff {e:e}",
            obj.name()
        );
    }
}

#[test]
fn f_hvp_matches_finite_differences_of_f_grad_and_is_symmetric() {
    use autodiff_runtime::check::sample_points;
    for case in second_order::small_cases() {
        let x = case.x();
        let v = case.v();
        let (value, g, hv) = case.hvp();
        assert_eq!(value, case.value_at(x), "{}: f_hvp value", case.name());
        assert_eq!(
            (value, g.clone()),
            case.grad(),
            "{}: f_hvp gradient is not f_grad's",
            case.name()
        );
        if let Err(e) = check_gradient(|p| case.value_at(p), x, &g, Tolerance::default()) {
            panic!("{}: f_grad vs finite differences:\n{e}", case.name());
        }
        if let Err(e) = case.check_hvp() {
            panic!("{e}");
        }
        // uᵀ(H v) == vᵀ(H u)
        let u = sample_points(3, x.len(), -1.0, 1.0);
        let (_, _, hu) = case.hvp_at(x, &u);
        let uhv: f64 = u.iter().zip(&hv).map(|(a, b)| a * b).sum();
        let vhu: f64 = v.iter().zip(&hu).map(|(a, b)| a * b).sum();
        assert!(
            (uhv - vhu).abs() <= 1e-12 * uhv.abs().max(vhu.abs()),
            "{}: u.Hv = {uhv} but v.Hu = {vhu}",
            case.name()
        );
    }
}

#[test]
fn f_hvp_at_reference_sizes_matches_finite_differences_of_f_grad() {
    for case in second_order::reference_cases() {
        if let Err(e) = case.check_hvp() {
            panic!("{e}");
        }
    }
}
