//! Changed security files on running control planes: one host per wave (W_ROLLING..), each
//! waiting for its API server to be ready again, so the API never goes down as a whole when
//! there is more than one control plane.

use super::{Steps, W_ROLLING, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::scripts;
use crate::plan::StepKind;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    for (i, u) in ctx.rolling().enumerate() {
        // Always restart: the API server reloads JWT authenticators from the authentication
        // config but not its `anonymous` section, and every other file is read at start only.
        let (mut s, stdin) = scripts::write_files(&u.files);
        s.push_str(&scripts::restart_apiserver(u.host.node_ip()));
        steps.push(
            W_ROLLING + i as u32,
            &u.host.name,
            StepKind::SecurityFiles,
            &format!("security-files/{}", u.host.name),
            if u.files.is_empty() {
                "restart the API server to load its security configuration".into()
            } else {
                "update API server security configuration and restart it".into()
            },
            u.reason.clone(),
            script(s, stdin, None),
        );
    }
    Ok(())
}
