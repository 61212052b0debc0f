//! Inventory labels on nodes (new ones after they joined).

use super::{Steps, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::scripts;
use crate::plan::StepKind;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    for h in ctx.inv.hosts.iter().filter(|h| !h.labels.is_empty()) {
        let current = ctx.api.and_then(|a| a.node(&h.name)).map(|n| &n.labels);
        let missing: Vec<(String, String)> = h
            .labels
            .iter()
            .filter(|(k, v)| current.and_then(|c| c.get(*k)) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if missing.is_empty() {
            continue;
        }
        steps.push(
            ctx.after_joins_wave(),
            &ctx.init_node,
            StepKind::Labels,
            &format!("labels/{}", h.name),
            format!("label node {}", h.name),
            format!(
                "{} not set",
                missing
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            script(scripts::label_node(&h.name, &missing), vec![], None),
        );
    }
    Ok(())
}
