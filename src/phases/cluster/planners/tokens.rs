//! Run-time values generated on the operator's machine: the bootstrap token and the
//! certificate key, when this plan inits or joins.

use super::{Steps, W_GENERATE};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::plan::{Action, LOCAL, StepKind};
use crate::runtime::RuntimeInput;

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    if ctx.need_token {
        steps.push(
            W_GENERATE,
            LOCAL,
            StepKind::Generate,
            "generate/bootstrap-token",
            "generate a bootstrap token for this run".into(),
            if ctx.init_now {
                "kubeadm init registers it (TTL 1h) for the joins".into()
            } else {
                format!("{} host(s) to join", ctx.joins().count())
            },
            Action::Generate(RuntimeInput::BootstrapToken),
        );
    }
    if ctx.need_cert_key {
        steps.push(
            W_GENERATE,
            LOCAL,
            StepKind::Generate,
            "generate/certificate-key",
            "generate the certificate key for control-plane joins".into(),
            "control-plane certificates are uploaded encrypted with it (valid 2h)".into(),
            Action::Generate(RuntimeInput::CertificateKey),
        );
    }
    Ok(())
}
