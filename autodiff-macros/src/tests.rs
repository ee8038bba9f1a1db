//! Snapshots of the IR after lowering and of the generated code, for the
//! representative shapes: a change in generated code shows up as a reviewed diff.

use proc_macro2::TokenStream;
use quote::quote;

fn expansion(attr: TokenStream, item: TokenStream) -> String {
    let tokens = crate::expand::differentiate(attr, item);
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => tokens.to_string(),
    }
}

fn ir(item: TokenStream) -> String {
    match crate::expand::lower_for_test(item) {
        Ok(func) => crate::ir::print::print(&func),
        Err(error) => format!("error: {error}"),
    }
}

macro_rules! snapshot {
    ($name:ident, $attr:expr, $item:expr) => {
        #[test]
        fn $name() {
            let item: TokenStream = $item;
            insta::assert_snapshot!(concat!(stringify!($name), "_ir"), ir(item.clone()));
            insta::assert_snapshot!(
                concat!(stringify!($name), "_expanded"),
                expansion($attr, item)
            );
        }
    };
}

snapshot!(
    straight_line,
    quote!(),
    quote! {
        fn f(x: f64, y: f64) -> f64 {
            (x + y) * x.sin()
        }
    }
);

snapshot!(
    loop_with_overwrite,
    quote!(),
    quote! {
        fn sum_sin(x: &[f64], n: usize) -> f64 {
            let mut s = 0.0;
            for i in 0..n {
                let t = x[i] * s;
                s = t.sin() + s;
            }
            s
        }
    }
);

snapshot!(
    branch_in_loop_with_early_return,
    quote!(),
    quote! {
        fn search(x: f64, limit: f64) -> f64 {
            let mut y = x;
            let mut k = 0;
            while k < 100 {
                if y > limit {
                    return y * 2.0;
                }
                y = y * y + 0.1;
                k += 1;
            }
            y
        }
    }
);

snapshot!(
    mut_buffer_step,
    quote!(wrt(state)),
    quote! {
        pub fn step(state: &mut [f64], k: f64, dt: f64) {
            for i in 0..state.len() {
                state[i] = state[i] - dt * k * state[i].powi(3);
            }
        }
    }
);

snapshot!(
    call_other_function,
    quote!(),
    quote! {
        fn energy(x: &[f64], k: f64) -> f64 {
            let mut v = vec![0.0; x.len()];
            step(&mut v, k, 0.1);
            let e = norm2(&v) + square(k);
            e
        }
    }
);

snapshot!(
    logistic_keeps_only_its_value,
    quote!(),
    quote! {
        fn sigmoid(z: f64) -> f64 {
            1.0 / (1.0 + (-z).exp())
        }
    }
);

snapshot!(
    split_call_result_handed_over,
    quote!(wrt(w)),
    quote! {
        fn gates(w: &[f64], x: &[f64], b: usize) -> f64 {
            let mut gate = vec![0.0; 2 * b];
            for i in 0..b {
                gate[i] = sigmoid(w[i] * x[i]);
                gate[b + i] = sigmoid(w[b + i] * x[i]);
            }
            let mut total = 0.0;
            for i in 0..b {
                total += gate[i] * gate[b + i];
            }
            total
        }
    }
);

#[test]
fn errors_are_all_reported() {
    let out = expansion(
        quote!(),
        quote! {
            fn bad(x: f64) -> f64 {
                let c = |t: f64| t * 2.0;
                let y = x.fract();
                unsafe { y }
            }
        },
    );
    assert_eq!(out.matches("compile_error").count(), 3, "{out}");
}

/// Feeds mutated versions of valid functions (tokens dropped, duplicated or
/// swapped) through the whole pipeline: every input must give tokens, never a
/// panic.
#[test]
fn never_panics_on_mutated_input() {
    let seeds: Vec<TokenStream> = vec![
        quote! {
            fn f(x: &[f64], n: usize, k: f64) -> f64 {
                let mut s = 0.0;
                'outer: for i in (0..n).rev().step_by(2) {
                    let t = x[i] * k;
                    if t > 1.0 { s += t.sin(); continue 'outer; } else { s -= t * t; }
                    match i { 0 => { break; } 1 | 2 => s *= 2.0, _ => {} }
                }
                while s > 10.0 { s = s.sqrt(); }
                let mut v = vec![0.0; n];
                v[0] = s;
                step(&mut v, k);
                return v[0] + f64::max(s, k);
            }
        },
        quote! {
            fn g(state: &mut [f64], k: [f64; 3]) {
                let mut a = [0.0; 3];
                loop {
                    a[0] = state[0] * k[1];
                    if a[0] > 2.0 { break; }
                    state[0] = a[0].exp();
                }
            }
        },
    ];
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut expanded = 0;
    for seed in &seeds {
        let tokens = flatten(seed.clone());
        for _ in 0..4000 {
            let mut mutated = tokens.clone();
            let at = (next() as usize) % mutated.len();
            match next() % 3 {
                0 => {
                    mutated.remove(at);
                }
                1 => {
                    let copy = mutated[at].clone();
                    mutated.insert(at, copy);
                }
                _ => {
                    let other = (next() as usize) % mutated.len();
                    mutated.swap(at, other);
                }
            }
            let text: String = mutated.iter().map(|t| format!("{t} ")).collect();
            let Ok(item) = text.parse::<TokenStream>() else {
                continue;
            };
            eprintln!("INPUT {text}");
            let result = std::panic::catch_unwind(|| {
                crate::expand::differentiate(TokenStream::new(), item.clone()).to_string()
            });
            assert!(result.is_ok(), "macro panicked on: {text}");
            expanded += 1;
        }
    }
    assert!(
        expanded > 1500,
        "only {expanded} mutated inputs were well-formed token streams"
    );
}

/// The token trees of a stream, flattened to text pieces (groups as their
/// delimiters and contents), so that mutations can break nesting too.
fn flatten(tokens: TokenStream) -> Vec<String> {
    let mut out = Vec::new();
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Brace => ("{", "}"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                out.push(open.to_string());
                out.extend(flatten(group.stream()));
                out.push(close.to_string());
            }
            other => out.push(other.to_string()),
        }
    }
    out
}

// A buffer refilled per iteration from what the loop computes and read whole by
// a call: its copy at the call is counted (`push_slice_reserved`), so the loop
// takes the stack's lanes, and the callee's reverse runs on the stack while they
// are out.
snapshot!(
    call_copies_counted_in_loop,
    quote!(),
    quote! {
        fn f(x: &[f64], k: usize) -> f64 {
            let mut q = vec![0.0; x.len()];
            let mut total = 0.0;
            for c in 0..k {
                for j in 0..x.len() {
                    q[j] = x[j] * total;
                }
                total += norm2(&q);
            }
            total
        }
    }
);

// A buffer refilled per iteration from data that does not change (a parameter,
// the loop index) and read whole by a call: nothing is saved for it; the reverse
// sweep runs the refilling loop again before the call's reverse.
snapshot!(
    call_arrays_refilled_in_reverse,
    quote!(),
    quote! {
        fn f(x: &[f64], k: usize) -> f64 {
            let mut q = vec![0.0; x.len()];
            let mut total = 0.0;
            for c in 0..k {
                for j in 0..x.len() {
                    q[j] = x[j] * (c as f64);
                }
                total += 0.5 * norm2(&q);
            }
            total
        }
    }
);

// The same loop with the call's result added to the sum as it is: the loop is
// preaccumulated and the call runs its reverse where it runs (`norm2::__reverse`
// in the forward sweep, with the sum's adjoint), so `q` is neither copied nor
// refilled and `norm2` runs once per iteration.
snapshot!(
    joint_call_fused_into_sum,
    quote!(),
    quote! {
        fn f(x: &[f64], k: usize) -> f64 {
            let mut q = vec![0.0; x.len()];
            let mut total = 0.0;
            for c in 0..k {
                for j in 0..x.len() {
                    q[j] = x[j] * (c as f64);
                }
                total += norm2(&q);
            }
            total
        }
    }
);

snapshot!(
    mut_param_read_by_callee_then_written,
    quote!(),
    quote! {
        fn e1(s: &mut [f64]) {
            let mut k1 = [0.0; 2];
            d(&*s, &mut k1);
            for i in 0..2 {
                s[i] += 0.1 * k1[i];
            }
        }
    }
);

snapshot!(
    forward_and_hvp,
    quote!(forward, hvp),
    quote! {
        fn f(x: f64, y: f64) -> f64 {
            (x + y) * x.sin()
        }
    }
);

/// A function of about `statements` statements: straight-line, or the same body
/// inside a loop.
fn generated_function(statements: usize, looped: bool) -> TokenStream {
    let mut body = String::new();
    for k in 0..statements {
        let previous = if k == 0 {
            "x[0]".to_string()
        } else {
            format!("t{}", k - 1)
        };
        let line = match k % 4 {
            0 => format!("let t{k} = {previous} * y + x[{}];", k % 3),
            1 => format!("let t{k} = ({previous}).sin() - y;"),
            2 => format!("let t{k} = if {previous} > 0.5 {{ {previous} * 0.5 }} else {{ {previous} + 1.0 }};"),
            _ => format!("let t{k} = {previous} / (1.0 + y * y);"),
        };
        body.push_str(&line);
    }
    let last = statements - 1;
    let text = if looped {
        format!(
            "fn f(x: &[f64], y: f64, n: usize) -> f64 {{ let mut s = 0.0; for i in 0..n {{ let x0 = x[i % 3] + s; {body} s = s + t{last} * x0; }} s }}"
        )
    } else {
        format!("fn f(x: &[f64], y: f64) -> f64 {{ {body} t{last} }}")
    };
    text.parse().unwrap_or_default()
}

/// Build cost: expansion time and generated code size for 50, 500 and 5,000
/// statements, straight-line and looped. Both must grow linearly; the size check is
/// exact, the time check leaves room for a noisy machine (a quadratic pass would
/// still show up as a 10× jump per decade).
#[test]
fn expansion_cost_grows_linearly() {
    for looped in [false, true] {
        let mut per_statement = Vec::new();
        for statements in [50usize, 500, 5000] {
            let item = generated_function(statements, looped);
            let start = std::time::Instant::now();
            let output = crate::expand::differentiate(TokenStream::new(), item);
            let elapsed = start.elapsed().as_secs_f64();
            let size = output.to_string().len();
            assert!(
                !output.to_string().contains("compile_error"),
                "generated function must be valid"
            );
            println!(
                "{} {statements:>5} statements: expansion {:>8.2} ms, generated {:>9} bytes ({:.0} bytes/statement)",
                if looped { "looped  " } else { "straight" },
                elapsed * 1e3,
                size,
                size as f64 / statements as f64
            );
            per_statement.push((elapsed / statements as f64, size as f64 / statements as f64));
        }
        let (time_500, size_500) = per_statement[1];
        let (time_5000, size_5000) = per_statement[2];
        assert!(
            size_5000 < 1.3 * size_500,
            "generated code grows faster than linearly: {per_statement:?}"
        );
        assert!(
            time_5000 < 4.0 * time_500,
            "expansion time grows faster than linearly: {per_statement:?}"
        );
    }
}

snapshot!(
    read_only_loop,
    quote!(),
    quote! {
        fn rosen(x: &[f64]) -> f64 {
            let mut s = 0.0;
            for i in 0..x.len() - 1 {
                let a = 1.0 - x[i];
                let b = x[i + 1] - x[i] * x[i];
                s += a * a + 100.0 * b * b;
            }
            s
        }
    }
);

snapshot!(
    independent_iterations,
    quote!(wrt(w)),
    quote! {
        fn fit(w: &[f64], x: &[f64], n: usize) -> f64 {
            let d = w.len();
            let mut r = vec![0.0; d];
            let mut loss = 0.0;
            for i in 0..n {
                for j in 0..d {
                    r[j] = x[i * d + j] - w[j];
                }
                let mut top = r[0];
                for j in 1..d {
                    top = top.max(r[j]);
                }
                loss += top.exp();
            }
            loss
        }
    }
);

snapshot!(
    spring_step_restored,
    quote!(wrt(k)),
    quote! {
        fn chain(k: &[f64], x: &mut [f64], steps: usize) -> f64 {
            let n = k.len();
            let mut err = 0.0;
            for _ in 0..steps {
                for i in 1..n {
                    let left = if i == 1 { x[1] } else { x[i] - x[i - 1] };
                    x[i] += 0.01 * k[i] * left;
                }
                let mut idx = 0;
                for i in 0..n {
                    err += x[idx] * x[i];
                    idx += 1;
                }
            }
            err
        }
    }
);

snapshot!(
    invariant_read_hoisted,
    quote!(),
    quote! {
        fn tri(l: &[f64], x: &[f64]) -> f64 {
            let d = x.len();
            let mut y = vec![0.0; d];
            let mut k = 0;
            for a in 0..d {
                for b in a..d {
                    y[b] += l[k] * x[a];
                    k += 1;
                }
            }
            let mut s = 0.0;
            for j in 0..d {
                s += y[j] * y[j];
            }
            s
        }
    }
);

snapshot!(
    stencil_reverse_in_registers,
    quote!(wrt(k)),
    quote! {
        fn relax(k: &[f64], x: &[f64]) -> f64 {
            let n = x.len();
            let mut e = 0.0;
            for i in 1..n - 1 {
                let f = k[i] * (x[i - 1] - 2.0 * x[i] + x[i + 1]);
                e += f * f;
            }
            e
        }
    }
);

snapshot!(
    copy_passed_as_window,
    quote!(wrt(p)),
    quote! {
        fn blocks(p: &[f64], m: usize, n: usize) -> f64 {
            let mut block = vec![0.0; m];
            let mut e = 0.0;
            for b in 0..n {
                for j in 0..m {
                    block[j] = p[b * m + j];
                }
                e = (e + sqnorm(&block)).sin();
            }
            e
        }
    }
);

snapshot!(
    running_maximum_scanned,
    quote!(),
    quote! {
        fn log_sum_exp(v: &[f64]) -> f64 {
            let mut m = v[0];
            for i in 1..v.len() {
                m = m.max(v[i]);
            }
            let mut s = 0.0;
            for i in 0..v.len() {
                s += (v[i] - m).exp();
            }
            s.ln() + m
        }
    }
);
