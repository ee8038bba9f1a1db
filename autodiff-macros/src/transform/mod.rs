//! Transformations of the IR into derivative code.

pub mod forward;
pub mod hoist;
pub mod lengths;
pub mod reserve;
pub mod reverse;
pub mod rotate;
pub mod slices;
pub mod tokens;
