//! Encryption at rest: one key for the whole cluster, generated once, then copied between
//! control planes only.

use super::{Steps, W_GENERATE, names, script};
use crate::inventory::Host;
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::render::ENCRYPTION_CONFIG;
use crate::phases::cluster::scripts;
use crate::plan::{Action, LOCAL, StepKind};
use crate::runtime::{Capture, RuntimeInput};

pub fn plan(ctx: &UpContext, steps: &mut Steps) -> Result<(), ClusterError> {
    let has_key = |h: &Host| {
        ctx.state
            .host(&h.name)
            .is_some_and(|f| f.files.contains_key(ENCRYPTION_CONFIG))
    };
    let missing: Vec<&Host> = ctx.cps.iter().copied().filter(|h| !has_key(h)).collect();
    // Control planes with different encryption configs cannot read each other's Secrets;
    // copying either key over the other would lose data, so a human decides.
    let mut shas = ctx.cps.iter().filter_map(|h| {
        ctx.state
            .host(&h.name)
            .and_then(|f| f.files.get(ENCRYPTION_CONFIG))
            .map(|sha| (h.name.as_str(), sha))
    });
    if let Some((first, sha)) = shas.next()
        && let Some((other, _)) = shas.find(|(_, s)| *s != sha)
    {
        return Err(ClusterError::Config {
            host: other.to_string(),
            reason: format!(
                "{ENCRYPTION_CONFIG} differs from the one on {first}; all control planes must share one encryption key"
            ),
        });
    }
    if missing.is_empty() {
        return Ok(());
    }
    match ctx.cps.iter().find(|h| has_key(h)) {
        Some(h) => steps.push(
            W_GENERATE,
            &h.name,
            StepKind::FetchEncryptionKey,
            "encryption-key/read",
            "read the encryption-at-rest key".into(),
            format!(
                "{} lack(s) it; all control planes must share one key",
                names(&missing)
            ),
            script(
                scripts::read_encryption_key(),
                vec![],
                Some(Capture::EncryptionKey),
            ),
        ),
        None => steps.push(
            W_GENERATE,
            LOCAL,
            StepKind::Generate,
            "generate/encryption-key",
            "generate the encryption-at-rest key".into(),
            "no control plane has one yet".into(),
            Action::Generate(RuntimeInput::EncryptionKey),
        ),
    }
    Ok(())
}
