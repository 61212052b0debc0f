//! The inventory: a TOML file describing the cluster, its hosts and how to reach them.
//!
//! `model` is the validated, fully resolved shape every other module uses (group defaults and
//! top-level SSH settings already merged into each host). `load` parses and validates the file and
//! reports every problem as `FILE:LINE:COL: what is wrong (what would be right)`.
//! The file format is documented for operators in docs/inventory.md.

pub mod addons;
mod checks;
pub mod load;
pub mod log_parsers;
pub mod model;
mod reader;
mod resolve;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

pub use load::{Diagnostic, InventoryError, Loaded, load, load_str, load_with_home};
pub use model::*;
