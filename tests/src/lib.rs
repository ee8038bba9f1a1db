//! Integration tests of `#[differentiate]` live in `tests/`.
