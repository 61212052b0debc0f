//! otp-provision: inventory-driven bare-metal Kubernetes provisioner over SSH.
//!
//! Layout mirrors the data flow of `up`:
//! inventory -> ssh (connect) -> facts (one script per host) -> phases (plan) -> apply -> report.

pub mod addons;
pub mod apply;
pub mod cli;
pub mod commands;
pub mod exit;
pub mod facts;
pub mod inventory;
pub mod journal;
pub mod lab;
pub mod logs;
pub mod operations;
pub mod phases;
pub mod plan;
pub mod playbook;
pub mod render;
pub mod report;
pub mod run;
pub mod runtime;
pub mod secret;
pub mod shell;
pub mod ssh;
pub mod template;
#[cfg(test)]
mod test_skip;
pub mod timestamp;
