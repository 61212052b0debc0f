//! Join credentials on the init node (a bootstrap token, the uploaded control-plane
//! certificates), only when someone joins and init did not just make them.

use super::{Steps, W_TOKEN, names, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::render;
use crate::phases::cluster::scripts;
use crate::plan::StepKind;
use crate::runtime::Capture;

const TOKEN_TTL_SECS: u64 = 3600;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    if ctx.init_now || ctx.joins().next().is_none() {
        return Ok(());
    }
    let (s, stdin) = scripts::create_token(TOKEN_TTL_SECS);
    let joining: Vec<_> = ctx.joins().copied().collect();
    steps.push(
        W_TOKEN,
        &ctx.init_node,
        StepKind::BootstrapToken,
        "bootstrap-token",
        "create a bootstrap token for this run (TTL 1h)".into(),
        format!("to join: {}", names(&joining)),
        script(s, stdin, Some(Capture::CaCertHash)),
    );
    if !ctx.cp_joins.is_empty() {
        let cfg = render::init_config(ctx.inv, ctx.init_host)?;
        let (s, stdin) = scripts::upload_certs(&cfg);
        steps.push(
            W_TOKEN,
            &ctx.init_node,
            StepKind::UploadCerts,
            "upload-certs",
            "upload control-plane certificates (encrypted, expire in 2h)".into(),
            format!("control planes to join: {}", names(&ctx.cp_joins)),
            script(s, stdin, None),
        );
    }
    Ok(())
}
