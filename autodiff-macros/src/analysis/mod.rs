//! Analyses over the IR. Each produces a side table keyed by variable id.

pub mod activity;
pub mod increment;
pub mod interface;
pub mod preacc;
pub mod reduction;
pub mod tbr;
pub mod windows;
