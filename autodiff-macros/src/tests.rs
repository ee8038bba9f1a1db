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
