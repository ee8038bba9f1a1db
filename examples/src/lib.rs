//! Runnable examples live in `examples/`; shared helpers here.
