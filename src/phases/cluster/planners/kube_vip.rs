//! kube-vip static pods (endpoint mode `kube-vip`): on the init node before init (the VIP must
//! answer during it), then switched to admin.conf, and on joined control planes that lack it.

use super::{Steps, W_AFTER_INIT, W_FILES, script};
use crate::inventory::Host;
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::render::{self, uses_super_admin};
use crate::phases::cluster::scripts;
use crate::phases::cluster::state::KubeVipKubeconfig;
use crate::plan::StepKind;

/// Before `kubeadm init`: the bootstrap manifest on the init node.
pub fn bootstrap(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    if !(ctx.kube_vip && ctx.init_now) {
        return Ok(());
    }
    let m = render::kube_vip_manifest(ctx.inv, ctx.init_host, &ctx.opts(&ctx.init_node), true)?;
    let (s, _) = scripts::write_files(std::slice::from_ref(&m));
    steps.push(
        W_FILES,
        &ctx.init_node,
        StepKind::KubeVip,
        &format!("kube-vip/{}", ctx.init_node),
        "install the kube-vip static pod for init".into(),
        if uses_super_admin(ctx.inv) {
            "the VIP must answer during kubeadm init; super-admin.conf until init made admin.conf usable".into()
        } else {
            "the VIP must answer during kubeadm init".into()
        },
        script(s, vec![], None),
    );
    Ok(())
}

/// After init: admin.conf instead of super-admin.conf, and manifests that are missing.
pub fn converge(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    if !ctx.kube_vip {
        return Ok(());
    }
    let init_facts = ctx.facts(&ctx.init_node)?;
    let on_super = init_facts.kube_vip == Some(KubeVipKubeconfig::SuperAdmin);
    if uses_super_admin(ctx.inv) && (ctx.init_now || on_super) {
        steps.push(
            W_AFTER_INIT,
            &ctx.init_node,
            StepKind::KubeVipAdminConf,
            &format!("kube-vip-admin-conf/{}", ctx.init_node),
            "switch kube-vip to admin.conf".into(),
            "init has created admin.conf's RBAC binding; super-admin.conf is for bootstrap only"
                .into(),
            script(scripts::kube_vip_to_admin_conf(), vec![], None),
        );
    } else if !ctx.init_now && init_facts.kube_vip.is_none() {
        manifest(ctx, steps, ctx.init_host, "kube-vip manifest missing")?;
    }
    // Joined control planes without a manifest (e.g. killed right after their join).
    for h in &ctx.cps {
        if h.name != ctx.init_node
            && ctx.state.joined(ctx.inv, &h.name)
            && ctx.facts(&h.name)?.kube_vip.is_none()
        {
            manifest(
                ctx,
                steps,
                h,
                "joined, but the kube-vip manifest is missing",
            )?;
        }
    }
    Ok(())
}

fn manifest(
    ctx: &UpContext,
    steps: &mut Steps,
    h: &Host,
    reason: &str,
) -> Result<(), ClusterError> {
    let m = render::kube_vip_manifest(ctx.inv, h, &ctx.opts(&h.name), false)?;
    let (s, _) = scripts::write_files(std::slice::from_ref(&m));
    steps.push(
        W_AFTER_INIT,
        &h.name,
        StepKind::KubeVip,
        &format!("kube-vip/{}", h.name),
        "install the kube-vip static pod".into(),
        reason.into(),
        script(s, vec![], None),
    );
    Ok(())
}
