//! `kubeadm reset` of hosts holding a half-done init or join, before it is redone.

use super::{Steps, W_RESET, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::scripts;
use crate::plan::StepKind;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    for h in &ctx.to_reset {
        steps.push(
            W_RESET,
            &h.name,
            StepKind::Reset,
            &format!("reset/{}", h.name),
            format!("kubeadm reset {}", h.name),
            "kubeadm left files from an unfinished init/join; init/join would fail in preflight"
                .into(),
            script(scripts::reset(), vec![], None),
        );
    }
    Ok(())
}
