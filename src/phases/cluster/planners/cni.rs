//! The CNI, applied from the init node before any join (upstream: pick a network plugin
//! before moving on).

use super::{Steps, W_AFTER_INIT, script};
use crate::inventory::Cni;
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::render;
use crate::phases::cluster::scripts;
use crate::plan::StepKind;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    let ds = match ctx.inv.cluster.cni {
        Cni::Calico => "calico-node",
        Cni::Flannel => "kube-flannel-ds",
        Cni::None => return Ok(()),
    };
    if ctx.api.is_some_and(|a| a.cni_daemonsets.contains(ds)) {
        return Ok(());
    }
    for f in render::render_cluster_files(ctx.inv)? {
        steps.push(
            W_AFTER_INIT,
            &ctx.init_node,
            StepKind::Cni,
            &format!("cni/{}", f.path.rsplit('/').next().unwrap_or("cni")),
            format!("apply {ds} ({:?})", ctx.inv.cluster.cni).to_lowercase(),
            format!("DaemonSet {ds} not found"),
            script(scripts::apply_manifest(&f), vec![], None),
        );
    }
    Ok(())
}
