//! Cluster phases (issue 4): kubeadm init/join, CNI, kube-vip, security files, kubeconfig,
//! tokens, and the day-2 teardowns.
//!
//! Pure parts only: [`render`] turns the inventory into the files nodes get, [`state`] parses
//! what the probes report into a [`ClusterState`], [`context`] and [`day2`] decide once what an
//! operation does, and the [`planners`] turn that into [`crate::plan::Step`]s. The
//! operations that list the planners are in src/operations. Steps carry their scripts as data;
//! secrets reach them on stdin from [`RuntimeValues`], never in argv or in a file kept on disk.
//!
//! Wiring into `up` (SSH side, not here):
//! 1. per host: run [`host_probe_script`]`(&`[`probe_files`]`(h), `[`probe_vip`]`(inv))`
//!    as root, parse with [`parse_host_probe`];
//! 2. on [`ClusterState::api_probe_host`] (if any): run [`api_probe_script`], parse with
//!    [`parse_api_probe`]; read the local kubeconfig with [`kubeconfig_server`];
//! 3. an operation's plan -> steps; [`crate::apply::apply_waves`] runs them by ascending `wave`
//!    (steps of one wave may run in parallel): `Generate(i)` -> [`RuntimeValues::generate`]; `Script` -> stdin from
//!    [`RuntimeValues::stdin_for`], then [`RuntimeValues::record`] the stdout when `capture`
//!    is set; `FetchKubeconfig` -> write stdout to `local_path` with mode 0600.
//! 4. Never log the stdout of a step with `capture = EncryptionKey` or of `FetchKubeconfig`;
//!    kubeadm's own output is redacted by the scripts (it prints join commands).

pub mod context;
pub mod day2;
pub mod planners;
pub mod render;
pub mod scripts;
pub mod state;
pub mod step;
pub mod version;
pub mod waves;

#[cfg(test)]
pub(crate) mod fixtures;

pub use crate::runtime::{Capture, RuntimeInput, RuntimeValues};
pub use render::{
    RenderOptions, RenderedFile, render_cluster_files, render_files, render_files_with,
};
pub use state::{
    ApiProbe, ClusterState, HostClusterFacts, api_probe_script, host_probe_script,
    kubeconfig_server, parse_api_probe, parse_host_probe, probe_files, probe_vip,
};
pub use version::VersionChange;

/// Errors of the cluster phases; each names the host (`-` for cluster-wide) and the file/step.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{host}: cannot render {template}: {reason}")]
    Render {
        host: String,
        template: String,
        reason: String,
    },
    #[error("{host}: {reason}")]
    Config { host: String, reason: String },
    #[error("{host}: cannot parse {what}: {reason}")]
    Parse {
        host: String,
        what: String,
        reason: String,
    },
    /// A playbook the operation reads (names host, file and step itself).
    #[error(transparent)]
    Playbook(#[from] crate::phases::PlanError),
}
