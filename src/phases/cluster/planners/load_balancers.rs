//! `reset`: haproxy and keepalived stopped and disabled where they run, and the files the
//! endpoint playbook wrote removed (the packages stay).

use super::{Steps, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::day2::ResetContext;
use crate::plan::StepKind;
use crate::shell::q;

pub fn stop(ctx: &ResetContext, steps: &mut Steps) -> Result<(), ClusterError> {
    for h in ctx.inv.lb_hosts() {
        let f = ctx.state.host(&h.name);
        if !f.is_some_and(|f| f.haproxy_active || f.keepalived_active) {
            continue;
        }
        let mut s = String::from("set -eu\nsystemctl disable --now keepalived haproxy\n");
        let files = ctx
            .lb_files
            .get(&h.name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if !files.is_empty() {
            let quoted: Vec<String> = files.iter().map(|f| q(f)).collect();
            s.push_str(&format!("rm -f {}\n", quoted.join(" ")));
        }
        steps.push(
            ctx.lb_wave(),
            &h.name,
            StepKind::Reset,
            &format!("reset/load-balancer/{}", h.name),
            "stop haproxy and keepalived".into(),
            "reset --yes (packages stay installed)".into(),
            script(s, vec![], None),
        );
    }
    Ok(())
}
