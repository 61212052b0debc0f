//! `[run]`: how a run goes (parallelism, sessions per host, state directory, lock wait).

use super::values::Sp;
use crate::inventory::reader::{Diags, TableReader};

pub(super) struct RawRun {
    pub(super) parallel_hosts: usize,
    pub(super) sessions_per_host: usize,
    pub(super) state_dir: Option<Sp<String>>,
    pub(super) lock_wait_secs: u64,
}

pub(super) fn read_run(mut t: TableReader<'_, '_>, d: &mut Diags) -> RawRun {
    let parallel_hosts = t
        .integer(d, "parallel_hosts", 1, 100_000, "at least 1 (default 256)")
        .map(|n| n.into_inner() as usize)
        .unwrap_or(256);
    let sessions_per_host = t
        .integer(
            d,
            "sessions_per_host",
            1,
            10,
            "1-10: OpenSSH's MaxSessions defaults to 10 sessions per connection (default 8)",
        )
        .map(|n| n.into_inner() as usize)
        .unwrap_or(8);
    let state_dir = t.nonempty(d, "state_dir");
    let lock_wait_secs = t
        .integer(
            d,
            "lock_wait_secs",
            1,
            86_400,
            "1-86400 seconds (default 600: an interrupted run's kubeadm may need minutes)",
        )
        .map(|n| n.into_inner() as u64)
        .unwrap_or(crate::inventory::model::DEFAULT_LOCK_WAIT_SECS);
    t.finish(d);
    RawRun {
        parallel_hosts,
        sessions_per_host,
        state_dir,
        lock_wait_secs,
    }
}
