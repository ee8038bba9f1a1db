//! Transformations of the IR into derivative code.

pub mod reverse;
