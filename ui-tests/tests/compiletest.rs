//! The one trybuild run: every `tests/ui/<category>/*.rs` must fail to compile with
//! exactly its `.stderr`, every `tests/pass/*.rs` must compile. One `TestCases` so
//! that trybuild builds the dependencies once (two cores).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
    t.pass("tests/pass/*.rs");
}
