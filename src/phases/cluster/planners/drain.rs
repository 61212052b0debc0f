//! `remove-node`: drain the node first, honouring PodDisruptionBudgets, bounded in time.

use super::{Steps, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::day2::RemoveNodeContext;
use crate::phases::cluster::render::ADMIN_CONF;
use crate::plan::StepKind;
use crate::shell::q;

/// How long a drain may wait for PodDisruptionBudgets before the step fails.
pub const DRAIN_TIMEOUT_SECS: u64 = 300;

pub fn plan(ctx: &RemoveNodeContext, steps: &mut Steps) -> Result<(), ClusterError> {
    if !ctx.listed {
        return Ok(());
    }
    let name = ctx.name;
    steps.push(
        0,
        &ctx.from,
        StepKind::DeleteNode,
        &format!("drain/{name}"),
        format!("drain {name}"),
        format!("evict its pods, honouring PodDisruptionBudgets (timeout {DRAIN_TIMEOUT_SECS}s)"),
        script(
            format!(
                "set -eu\nkubectl --kubeconfig {ADMIN_CONF} drain {} --ignore-daemonsets --delete-emptydir-data --timeout={DRAIN_TIMEOUT_SECS}s\n",
                q(name)
            ),
            vec![],
            None,
        ),
    );
    Ok(())
}
