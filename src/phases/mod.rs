//! Phases of `up`: each turns inventory + facts into plan steps. STUB.
pub mod cluster;
