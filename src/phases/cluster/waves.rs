//! Wave numbers of `up`: steps of one wave may run in parallel, waves run in ascending order.
//! Fixed bands; control-plane joins take one wave each from [`W_CP_JOIN`] on (or later, after
//! the rolling security updates: `UpContext::join_wave`).

pub const W_GENERATE: u32 = 0;
pub const W_CLEANUP_STALE: u32 = 1;
pub const W_RESET: u32 = 2;
pub const W_FILES: u32 = 3;
pub const W_INIT: u32 = 4;
pub const W_AFTER_INIT: u32 = 5;
pub const W_TOKEN: u32 = 6;
/// Rolling updates of running control planes' security files, one host per wave, before any
/// join: a join may depend on them (anonymous discovery of cluster-info) and a control plane
/// that joins later must not meet an older configuration.
pub const W_ROLLING: u32 = 7;
pub const W_CP_JOIN: u32 = 10;
