//! Joins: control planes one at a time (etcd admits a single learner), then the workers
//! together.

use super::{Steps, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::render;
use crate::phases::cluster::scripts;
use crate::plan::StepKind;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    let mut wave = ctx.join_wave();
    for h in &ctx.cp_joins {
        let cfg = render::join_config(ctx.inv, h)?;
        let kv = if ctx.kube_vip {
            Some(render::kube_vip_manifest(
                ctx.inv,
                h,
                &ctx.opts(&h.name),
                false,
            )?)
        } else {
            None
        };
        let (s, stdin) = scripts::join(&h.name, &cfg, true, kv.as_ref());
        steps.push(
            wave,
            &h.name,
            StepKind::JoinControlPlane,
            &format!("join/{}", h.name),
            format!("join {} as control plane", h.name),
            reason(ctx, &h.name),
            script(s, stdin, None),
        );
        wave += 1;
    }
    for h in &ctx.worker_joins {
        let cfg = render::join_config(ctx.inv, h)?;
        let (s, stdin) = scripts::join(&h.name, &cfg, false, None);
        steps.push(
            wave,
            &h.name,
            StepKind::JoinWorker,
            &format!("join/{}", h.name),
            format!("join {} as worker", h.name),
            reason(ctx, &h.name),
            script(s, stdin, None),
        );
    }
    Ok(())
}

fn reason(ctx: &UpContext, name: &str) -> String {
    let in_api = ctx
        .state
        .api
        .as_ref()
        .is_some_and(|a| a.node(name).is_some());
    match (ctx.is_reset(name), in_api) {
        (true, _) => "an earlier join did not finish (reset first)".into(),
        (false, true) => "listed by the API but not joined on the host".into(),
        (false, false) => "not a member of the cluster".into(),
    }
}
