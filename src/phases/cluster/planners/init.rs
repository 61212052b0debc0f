//! `kubeadm init` on the init node when no control plane is initialised (or an interrupted
//! init is redone), and the repair of an init killed in its addon phase.

use super::{Steps, W_AFTER_INIT, W_INIT, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::render;
use crate::phases::cluster::scripts;
use crate::plan::StepKind;
use crate::runtime::Capture;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    let node = &ctx.init_node;
    if ctx.init_now {
        let cfg = render::init_config(ctx.inv, ctx.init_host)?;
        let (s, stdin) = scripts::init(&cfg);
        steps.push(
            W_INIT,
            node,
            StepKind::Init,
            &format!("init/{node}"),
            format!("kubeadm init on {node}"),
            if ctx.is_reset(node) {
                "an earlier init did not finish; no control plane is initialised".into()
            } else {
                "no control plane is initialised".into()
            },
            script(s, stdin, Some(Capture::CaCertHash)),
        );
    }
    if ctx.repair_addons {
        let cfg = render::init_config(ctx.inv, ctx.init_host)?;
        let (s, stdin) = scripts::init_addons(&cfg);
        steps.push(
            W_AFTER_INIT,
            node,
            StepKind::Addons,
            &format!("addons/{node}"),
            "install kubeadm's addons (CoreDNS, kube-proxy)".into(),
            "kubeadm init was interrupted before its addon phase".into(),
            script(s, stdin, None),
        );
    }
    Ok(())
}
