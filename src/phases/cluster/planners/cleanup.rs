//! Bootstrap tokens of this (or an earlier, killed) run, deleted once the joins are done.

use super::{Steps, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::scripts;
use crate::plan::StepKind;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    let stale = ctx.api.map(|a| a.run_tokens.clone()).unwrap_or_default();
    if !ctx.need_token && stale.is_empty() {
        return Ok(());
    }
    steps.push(
        ctx.final_wave(),
        &ctx.init_node,
        StepKind::CleanupTokens,
        "cleanup-tokens",
        "delete this tool's bootstrap tokens".into(),
        if ctx.need_token {
            "the joins are done; tokens must not outlive the run".into()
        } else {
            format!("left by an earlier run: {}", stale.join(", "))
        },
        script(scripts::delete_run_tokens(), vec![], None),
    );
    Ok(())
}
