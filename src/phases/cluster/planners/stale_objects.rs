//! Stale cluster objects of hosts about to re-join (their Node, their etcd member), removed
//! from the init node before the re-join.

use super::{Steps, W_CLEANUP_STALE, script};
use crate::inventory::Role;
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::scripts;
use crate::plan::StepKind;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    let Some(api) = ctx.api else {
        return Ok(());
    };
    for h in ctx.joins() {
        let f = ctx.facts(&h.name)?;
        if api.node(&h.name).is_some() && !ctx.state.joined(ctx.inv, &h.name) {
            steps.push(
                W_CLEANUP_STALE,
                &ctx.init_node,
                StepKind::DeleteNode,
                &format!("delete-node/{}", h.name),
                format!("delete stale Node {}", h.name),
                if f.kubelet_conf {
                    "the API lists it without a complete control plane on the host".into()
                } else {
                    "the API lists it but the host has no kubelet credentials".into()
                },
                script(scripts::delete_node(&h.name), vec![], None),
            );
        }
        if h.has_role(Role::ControlPlane)
            && let Some(members) = &api.etcd_members
        {
            let peer = format!("https://{}:2380", h.node_ip());
            for m in members
                .iter()
                .filter(|m| m.name == h.name || m.peer_urls.contains(&peer))
            {
                steps.push(
                    W_CLEANUP_STALE,
                    &ctx.init_node,
                    StepKind::RemoveEtcdMember,
                    &format!("etcd-member-remove/{}", h.name),
                    format!("remove stale etcd member {} ({})", m.id, h.name),
                    "left by an unfinished control-plane join; it would break quorum math and the re-join".into(),
                    script(scripts::remove_etcd_member(&m.id), vec![], None),
                );
            }
        }
    }
    Ok(())
}
