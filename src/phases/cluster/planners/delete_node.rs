//! `remove-node`: the API forgets the Node last.

use super::{Steps, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::day2::RemoveNodeContext;
use crate::phases::cluster::render::ADMIN_CONF;
use crate::plan::StepKind;
use crate::shell::q;

pub fn plan(ctx: &RemoveNodeContext, steps: &mut Steps) -> Result<(), ClusterError> {
    if !ctx.listed {
        return Ok(());
    }
    let name = ctx.name;
    steps.push(
        3,
        &ctx.from,
        StepKind::DeleteNode,
        &format!("delete-node/{name}"),
        format!("delete Node {name}"),
        "the API must forget it".into(),
        script(
            format!(
                "set -eu\nkubectl --kubeconfig {ADMIN_CONF} delete node {} --ignore-not-found\n",
                q(name)
            ),
            vec![],
            None,
        ),
    );
    Ok(())
}
