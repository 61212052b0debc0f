//! The cluster step: what a planner of a cluster operation (`up`, `remove-node`, `reset`)
//! emits and `run::cluster::execute` runs wave by wave. Steps carry their scripts as data;
//! secrets reach them on stdin, never in the script.

use std::path::PathBuf;

use serde::Serialize;

use super::runtime::{Capture, RuntimeInput};
use crate::inventory::Inventory;

/// Host name used for steps that run on the operator's machine.
pub const LOCAL: &str = "(local)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    Generate,
    FetchEncryptionKey,
    Reset,
    RemoveEtcdMember,
    DeleteNode,
    SecurityFiles,
    KubeVip,
    Init,
    KubeVipAdminConf,
    Addons,
    Cni,
    BootstrapToken,
    UploadCerts,
    JoinControlPlane,
    JoinWorker,
    ApproveCsrs,
    Labels,
    CleanupTokens,
    Kubeconfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ClusterAction {
    /// Create a fresh random value on the operator's machine ([`super::RuntimeValues::generate`]).
    Generate(RuntimeInput),
    /// Run `script` as root; feed the listed values on stdin, one per line, in order; store
    /// the stdout's last line as `capture` when set.
    Script {
        script: String,
        stdin: Vec<RuntimeInput>,
        capture: Option<Capture>,
    },
    /// Run `script` (prints admin.conf; treat the output as secret) and write it to
    /// `local_path` with mode 0600.
    FetchKubeconfig {
        script: String,
        local_path: PathBuf,
        server: String,
    },
    /// Delete a file on the operator's machine (`reset --yes`: the kubeconfig).
    RemoveLocal { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterStep {
    /// Stable id, e.g. `cluster/join/cp-2`.
    pub id: String,
    /// Inventory host the step runs on, or [`LOCAL`].
    pub host: String,
    pub kind: StepKind,
    pub title: String,
    pub reason: String,
    /// Steps with the same wave may run in parallel; waves run in ascending order.
    pub wave: u32,
    pub action: ClusterAction,
}

/// Where the operator's admin kubeconfig goes.
pub fn kubeconfig_path(inv: &Inventory) -> PathBuf {
    inv.run
        .state_dir
        .join(format!("{}-admin.conf", inv.cluster.name))
}
