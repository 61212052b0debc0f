//! Cluster phases of `up` (issue 4): load balancer, kubeadm init/join, CNI, kubeconfig, tokens.
//!
//! Pure parts only: [`render`] turns the inventory into the files nodes get, [`state`] parses
//! what the probes report into a [`ClusterState`], and [`plan`] decides the steps. Steps carry
//! their scripts as data; secrets reach them on stdin from [`RuntimeValues`], never in argv or
//! in a file kept on disk.

pub mod day2;
pub mod plan;
pub mod render;
pub mod runtime;
pub mod scripts;
pub mod state;

#[cfg(test)]
pub(crate) mod fixtures;

pub use day2::{plan_remove_node, plan_reset};
pub use plan::{ClusterAction, ClusterStep, StepKind, plan_cluster};
pub use render::{
    RenderOptions, RenderedFile, render_cluster_files, render_files, render_files_with,
};
pub use runtime::{Capture, RuntimeInput, RuntimeValues};
pub use state::{
    ApiProbe, ClusterState, HostClusterFacts, api_probe_script, host_probe_script,
    kubeconfig_server, parse_api_probe, parse_host_probe, probe_files, probe_vip,
};

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
}
