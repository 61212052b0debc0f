//! kubelet serving certificates (serverTLSBootstrap) of new nodes and pending requests,
//! approved once every join is done.

use super::{Steps, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::scripts;
use crate::plan::StepKind;

const CSR_WAIT_SECS: u64 = 180;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    let mut nodes: Vec<&str> = ctx.joins().map(|h| h.name.as_str()).collect();
    if ctx.init_now {
        nodes.insert(0, ctx.init_node.as_str());
    }
    if let Some(api) = ctx.api {
        for (_, node) in &api.pending_serving_csrs {
            if ctx.inv.host(node).is_some() && !nodes.contains(&node.as_str()) {
                nodes.push(node.as_str());
            }
        }
    }
    if nodes.is_empty() {
        return Ok(());
    }
    steps.push(
        ctx.after_joins_wave(),
        &ctx.init_node,
        StepKind::ApproveCsrs,
        "approve-serving-csrs",
        "approve kubelet serving certificates".into(),
        format!("new or pending: {}", nodes.join(", ")),
        script(
            scripts::approve_serving_csrs(&nodes, CSR_WAIT_SECS),
            vec![],
            None,
        ),
    );
    Ok(())
}
