//! Documented process exit codes (README "Exit codes"), and the error that carries one. Below
//! every command, so that a command's module (e.g. `logs`) can fail with a code without
//! depending on `commands`.

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

/// An error that already carries its exit code (invalid input vs. failed run).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: u8,
    pub message: String,
}
