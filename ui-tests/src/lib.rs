//! Compile-fail (trybuild) tests of `#[differentiate]` live in `tests/ui/`.
