//! otp-provision: inventory-driven bare-metal Kubernetes provisioner over SSH.
//!
//! Layout mirrors the data flow of `up`:
//! inventory -> ssh (connect) -> facts (one script per host) -> phases (plan) -> apply -> report.

pub mod addons;
pub mod apply;
pub mod cli;
pub mod commands;
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
#[cfg(test)]
mod test_skip;

/// Documented process exit codes (README "Exit codes").
pub mod exit {
    /// Success; for `plan --detailed-exitcode`: nothing to do.
    pub const OK: u8 = 0;
    /// The run failed (a host was unreachable, a step failed, ...).
    pub const FAILED: u8 = 1;
    /// Invalid input (inventory, arguments); for `plan --detailed-exitcode`: changes pending.
    pub const INVALID: u8 = 2;
    /// `plan --detailed-exitcode`: changes are pending.
    pub const CHANGES: u8 = 2;
    /// A host's lock stayed held by another otp-provision command (an interrupted run's
    /// kubeadm, another operator's run) past `[run] lock_wait_secs`: try again later
    /// (sysexits' EX_TEMPFAIL).
    pub const LOCKED: u8 = 75;
}
