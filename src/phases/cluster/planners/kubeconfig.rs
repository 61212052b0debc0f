//! The operator's admin kubeconfig: fetched by `up` when missing or pointing elsewhere,
//! removed by `reset`.

use super::Steps;
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::day2::ResetContext;
use crate::phases::cluster::render::control_plane_endpoint;
use crate::phases::cluster::scripts;
use crate::phases::cluster::step::kubeconfig_path;
use crate::plan::{Action, LOCAL, StepKind};

pub fn fetch(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    let server = format!("https://{}", control_plane_endpoint(ctx.inv)?);
    let local = &ctx.state.local_kubeconfig_server;
    if local.as_deref() == Some(server.as_str()) {
        return Ok(());
    }
    steps.push(
        ctx.final_wave(),
        &ctx.init_node,
        StepKind::Kubeconfig,
        "kubeconfig",
        format!(
            "fetch the admin kubeconfig to {}",
            kubeconfig_path(ctx.inv).display()
        ),
        match local {
            None => "no local kubeconfig yet".into(),
            Some(s) => format!("local kubeconfig points at {s}, want {server}"),
        },
        Action::FetchKubeconfig {
            script: scripts::read_admin_conf(),
            local_path: kubeconfig_path(ctx.inv),
            server,
        },
    );
    Ok(())
}

pub fn remove(ctx: &ResetContext, steps: &mut Steps) -> Result<(), ClusterError> {
    steps.push(
        ctx.lb_wave() + 1,
        LOCAL,
        StepKind::Kubeconfig,
        "reset/kubeconfig",
        format!("remove {}", kubeconfig_path(ctx.inv).display()),
        "its cluster is gone".into(),
        Action::RemoveLocal {
            path: kubeconfig_path(ctx.inv),
        },
    );
    Ok(())
}
