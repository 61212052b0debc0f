//! Cluster steps are [`crate::plan::Step`]s (the one step type) that planners of a cluster
//! operation (`up`, `remove-node`, `reset`) emit with a wave; [`crate::apply::apply_waves`]
//! runs them wave by wave. Steps carry their scripts as data; secrets reach them on stdin,
//! never in the script. Here: where the operator's kubeconfig goes.

use std::path::PathBuf;

use crate::inventory::Inventory;

/// Where the operator's admin kubeconfig goes.
pub fn kubeconfig_path(inv: &Inventory) -> PathBuf {
    inv.run
        .state_dir
        .join(format!("{}-admin.conf", inv.cluster.name))
}
