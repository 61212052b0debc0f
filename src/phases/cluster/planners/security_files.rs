//! API server security files on control planes that do not run an API server yet: written
//! before their init/join, which mounts them. Running ones: [`super::restarts`].

use super::{Steps, W_FILES, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::scripts;
use crate::plan::StepKind;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    for u in ctx.security.iter().filter(|u| !u.rolling) {
        let (s, stdin) = scripts::write_files(&u.files);
        steps.push(
            W_FILES,
            &u.host.name,
            StepKind::SecurityFiles,
            &format!("security-files/{}", u.host.name),
            "write API server security configuration".into(),
            u.reason.clone(),
            script(s, stdin, None),
        );
    }
    Ok(())
}
