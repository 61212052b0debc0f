//! User authentication on an already host-verified transport.
//!
//! Order: public key (agent identities, then key files with their certificate), password,
//! keyboard-interactive. Servers that demand several methods (`AuthenticationMethods
//! publickey,keyboard-interactive`) answer the first with `partial_success`; the loop then moves
//! on to the methods the server still lists. Every secret is asked at most once per connection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::MethodKind;
use russh::client::{AuthResult, Handle, KeyboardInteractiveAuthResponse};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::ssh_key::Certificate;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg};

use super::handler::ClientHandler;
use super::prompt::Prompter;
use super::{SshError, Target};
use crate::secret::Secret;

/// Keyboard-interactive servers may send several info requests (PAM conversations); more than
/// this many rounds means something loops.
const MAX_KBD_ROUNDS: usize = 16;

/// Decrypted private keys by path, shared by every connection of a connector, so an encrypted
/// key's passphrase is asked once per run rather than once per host (what ssh-agent gives
/// `ssh`). Held in memory only.
pub(crate) type KeyCache = tokio::sync::Mutex<HashMap<PathBuf, Arc<PrivateKey>>>;

pub(crate) struct AuthContext<'a> {
    pub prompter: &'a Prompter,
    pub keys: &'a KeyCache,
    /// `None`: use `SSH_AUTH_SOCK`.
    pub agent_socket: Option<&'a Path>,
}

enum Step {
    Success,
    Partial,
    Failed,
}

struct Session<'a, 'b> {
    handle: &'a mut Handle<ClientHandler>,
    target: &'a Target,
    ctx: &'a AuthContext<'b>,
    /// Methods the server still accepts; `None` until its first answer.
    remaining: Option<Vec<MethodKind>>,
    /// What was tried, for the error message (never contains secrets).
    tried: Vec<String>,
    rsa_hash: Option<Option<HashAlg>>,
    password: Option<Secret>,
}

/// Every request to the server is answered within the connect timeout (prompts happen between
/// requests and are not limited): a server that hangs mid-authentication fails the host.
async fn bounded<T, E: std::fmt::Display>(
    t: &Target,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, SshError> {
    match tokio::time::timeout(t.connect_timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(SshError::Disconnected {
            host: t.name.clone(),
            reason: format!("during authentication: {e}"),
        }),
        Err(_) => Err(SshError::Auth {
            host: t.name.clone(),
            user: t.user.clone(),
            reason: format!(
                "the server did not answer within {}s",
                t.connect_timeout.as_secs()
            ),
        }),
    }
}

pub(crate) async fn authenticate(
    handle: &mut Handle<ClientHandler>,
    target: &Target,
    ctx: &AuthContext<'_>,
) -> Result<(), SshError> {
    let mut s = Session {
        handle,
        target,
        ctx,
        remaining: None,
        tried: Vec::new(),
        rsa_hash: None,
        password: None,
    };
    s.run().await
}

impl Session<'_, '_> {
    fn err(&self, reason: impl Into<String>) -> SshError {
        SshError::Auth {
            host: self.target.name.clone(),
            user: self.target.user.clone(),
            reason: reason.into(),
        }
    }

    fn transport_err(&self, e: impl std::fmt::Display) -> SshError {
        SshError::Disconnected {
            host: self.target.name.clone(),
            reason: format!("during authentication: {e}"),
        }
    }

    fn enabled(&self, m: MethodKind) -> bool {
        let t = self.target;
        match m {
            MethodKind::PublicKey => t.agent || !t.key_files.is_empty() || t.certificate.is_some(),
            MethodKind::Password => t.password,
            MethodKind::KeyboardInteractive => t.keyboard_interactive,
            _ => false,
        }
    }

    fn allowed(&self, m: MethodKind) -> bool {
        self.remaining.as_ref().is_none_or(|r| r.contains(&m))
    }

    async fn run(&mut self) -> Result<(), SshError> {
        let order = [
            MethodKind::PublicKey,
            MethodKind::Password,
            MethodKind::KeyboardInteractive,
        ];
        let mut passed: Vec<MethodKind> = Vec::new();
        let mut failed: Vec<MethodKind> = Vec::new();
        loop {
            let next = order.iter().copied().find(|m| {
                self.enabled(*m) && self.allowed(*m) && !passed.contains(m) && !failed.contains(m)
            });
            let Some(method) = next else {
                let offered = match &self.remaining {
                    Some(r) => r
                        .iter()
                        .map(|m| <&str>::from(m).to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    None => "?".into(),
                };
                let tried = if self.tried.is_empty() {
                    "nothing (no method enabled for this host)".to_string()
                } else {
                    self.tried.join("; ")
                };
                return Err(self.err(format!(
                    "no method left (server accepts: {offered}; tried: {tried})"
                )));
            };
            let step = match method {
                MethodKind::PublicKey => self.publickey().await?,
                MethodKind::Password => self.password().await?,
                _ => self.keyboard_interactive().await?,
            };
            match step {
                Step::Success => {
                    tracing::debug!(host = %self.target.name, "authenticated ({})", self.tried.join("; "));
                    return Ok(());
                }
                Step::Partial => {
                    // A new stage begins: methods refused in the previous stage may be wanted now.
                    passed.push(method);
                    failed.clear();
                }
                Step::Failed => failed.push(method),
            }
        }
    }

    fn record(&mut self, what: String, r: &AuthResult) -> Step {
        match r {
            AuthResult::Success => {
                self.tried.push(format!("{what}: accepted"));
                Step::Success
            }
            AuthResult::Failure {
                remaining_methods,
                partial_success,
            } => {
                self.remaining = Some(remaining_methods.iter().copied().collect());
                if *partial_success {
                    self.tried.push(format!("{what}: accepted, more required"));
                    Step::Partial
                } else {
                    self.tried.push(format!("{what}: refused"));
                    Step::Failed
                }
            }
        }
    }

    async fn rsa_hash(&mut self) -> Result<Option<HashAlg>, SshError> {
        if let Some(h) = self.rsa_hash {
            return Ok(h);
        }
        let h = bounded(self.target, self.handle.best_supported_rsa_hash())
            .await?
            .flatten();
        self.rsa_hash = Some(h);
        Ok(h)
    }

    async fn publickey(&mut self) -> Result<Step, SshError> {
        let cert = self.load_certificate()?;
        if self.target.agent {
            match self.agent(cert.as_ref()).await? {
                Step::Failed => {}
                done => return Ok(done),
            }
        }
        let mut files = self.target.key_files.clone();
        if files.is_empty()
            && let Some(c) = &self.target.certificate
        {
            // `id_ed25519-cert.pub` belongs to `id_ed25519`, as ssh assumes.
            let s = c.to_string_lossy();
            if let Some(stem) = s.strip_suffix("-cert.pub") {
                files.push(PathBuf::from(stem));
            }
        }
        for file in files {
            let Some(key) = self.load_key(&file).await? else {
                continue;
            };
            let hash = if key.algorithm().is_rsa() {
                self.rsa_hash().await?
            } else {
                None
            };
            if let Some(cert) = cert
                .as_ref()
                .filter(|c| c.public_key() == key.public_key().key_data())
            {
                let r = bounded(
                    self.target,
                    self.handle.authenticate_openssh_cert(
                        self.target.user.clone(),
                        key.clone(),
                        cert.clone(),
                    ),
                )
                .await?;
                match self.record(format!("certificate {}", file.display()), &r) {
                    Step::Failed => {}
                    done => return Ok(done),
                }
            }
            let r = bounded(
                self.target,
                self.handle.authenticate_publickey(
                    self.target.user.clone(),
                    PrivateKeyWithHashAlg::new(key, hash),
                ),
            )
            .await?;
            match self.record(format!("key {}", file.display()), &r) {
                Step::Failed => {}
                done => return Ok(done),
            }
            if !self.allowed(MethodKind::PublicKey) {
                break;
            }
        }
        Ok(Step::Failed)
    }

    fn load_certificate(&self) -> Result<Option<Certificate>, SshError> {
        let Some(path) = &self.target.certificate else {
            return Ok(None);
        };
        russh::keys::load_openssh_certificate(path)
            .map(Some)
            .map_err(|e| self.err(format!("cannot read certificate {}: {e}", path.display())))
    }

    async fn agent(&mut self, cert: Option<&Certificate>) -> Result<Step, SshError> {
        let conn = match self.ctx.agent_socket {
            Some(p) => AgentClient::connect_uds(p).await,
            None => AgentClient::connect_env().await,
        };
        let mut agent = match conn {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(host = %self.target.name, "ssh-agent unavailable: {e}");
                self.tried.push(format!("agent: unavailable ({e})"));
                return Ok(Step::Failed);
            }
        };
        let ids = match agent.request_identities().await {
            Ok(ids) => ids,
            Err(e) => {
                self.tried
                    .push(format!("agent: cannot list identities ({e})"));
                return Ok(Step::Failed);
            }
        };
        if ids.is_empty() {
            self.tried.push("agent: no identities".into());
        }
        for id in ids {
            let public = id.public_key().into_owned();
            let hash = if public.algorithm().is_rsa() {
                self.rsa_hash().await?
            } else {
                None
            };
            let label = format!("agent key {}", public.fingerprint(Default::default()));
            let user = self.target.user.clone();
            // A configured certificate whose key is in the agent is presented as a certificate.
            let as_cert = match (&id, cert) {
                (AgentIdentity::Certificate { certificate, .. }, _) => Some(certificate.clone()),
                (_, Some(c)) if c.public_key() == public.key_data() => Some(c.clone()),
                _ => None,
            };
            let limit = self.target.connect_timeout;
            let r = match as_cert {
                Some(c) => {
                    tokio::time::timeout(
                        limit,
                        self.handle
                            .authenticate_certificate_with(user, c, hash, &mut agent),
                    )
                    .await
                }
                None => {
                    tokio::time::timeout(
                        limit,
                        self.handle
                            .authenticate_publickey_with(user, public, hash, &mut agent),
                    )
                    .await
                }
            };
            let Ok(r) = r else {
                return Err(self.err(format!("no answer within {}s to {label}", limit.as_secs())));
            };
            match r {
                Ok(r) => match self.record(label, &r) {
                    Step::Failed => {}
                    done => return Ok(done),
                },
                Err(e) => self
                    .tried
                    .push(format!("{label}: agent could not sign ({e})")),
            }
            if self.handle.is_closed() {
                return Err(self.transport_err("server closed the connection"));
            }
            if !self.allowed(MethodKind::PublicKey) {
                break;
            }
        }
        Ok(Step::Failed)
    }

    /// Load a private key, asking for its passphrase when it is encrypted. `None`: skip it.
    async fn load_key(&mut self, file: &Path) -> Result<Option<Arc<PrivateKey>>, SshError> {
        // Held across the prompt: hosts connecting at once wait for the first one's answer
        // instead of all asking for the same passphrase.
        let mut cache = self.ctx.keys.lock().await;
        if let Some(k) = cache.get(file) {
            return Ok(Some(k.clone()));
        }
        let key = match russh::keys::load_secret_key(file, None) {
            Ok(k) => k,
            Err(russh::keys::Error::KeyIsEncrypted) => {
                let prompt = format!("Enter passphrase for key '{}': ", file.display());
                let secret = self
                    .ctx
                    .prompter
                    .ask(self.target.askpass.as_deref(), &prompt, false)
                    .await
                    .map_err(|e| self.err(e.to_string()))?;
                match russh::keys::load_secret_key(file, Some(secret.expose())) {
                    Ok(k) => k,
                    Err(e) => {
                        self.tried
                            .push(format!("key {}: cannot decrypt ({e})", file.display()));
                        return Ok(None);
                    }
                }
            }
            Err(e) => {
                tracing::debug!(host = %self.target.name, file = %file.display(), "key unusable: {e}");
                self.tried
                    .push(format!("key {}: unusable ({e})", file.display()));
                return Ok(None);
            }
        };
        let key = Arc::new(key);
        cache.insert(file.to_path_buf(), key.clone());
        Ok(Some(key))
    }

    fn label(&self) -> String {
        format!("({}@{})", self.target.user, self.target.name)
    }

    async fn password(&mut self) -> Result<Step, SshError> {
        if self.password.is_none() {
            let prompt = format!("{} Password: ", self.label());
            let s = self
                .ctx
                .prompter
                .ask(self.target.askpass.as_deref(), &prompt, false)
                .await
                .map_err(|e| self.err(e.to_string()))?;
            self.password = Some(s);
        }
        let pw = self.password.as_ref().map(|s| s.expose().to_string());
        let r = bounded(
            self.target,
            self.handle
                .authenticate_password(self.target.user.clone(), pw.unwrap_or_default()),
        )
        .await?;
        Ok(self.record("password".into(), &r))
    }

    async fn keyboard_interactive(&mut self) -> Result<Step, SshError> {
        let mut resp = bounded(
            self.target,
            self.handle
                .authenticate_keyboard_interactive_start(self.target.user.clone(), None),
        )
        .await?;
        let mut answered = 0usize;
        for _ in 0..MAX_KBD_ROUNDS {
            match resp {
                KeyboardInteractiveAuthResponse::Success => {
                    return Ok(self.record(
                        format!("keyboard-interactive ({answered} answers)"),
                        &AuthResult::Success,
                    ));
                }
                KeyboardInteractiveAuthResponse::Failure {
                    remaining_methods,
                    partial_success,
                } => {
                    return Ok(self.record(
                        format!("keyboard-interactive ({answered} answers)"),
                        &AuthResult::Failure {
                            remaining_methods,
                            partial_success,
                        },
                    ));
                }
                KeyboardInteractiveAuthResponse::InfoRequest {
                    name,
                    instructions,
                    prompts,
                } => {
                    let askpass = self.target.askpass.as_deref();
                    let header = [name.trim(), instructions.trim()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join("\n");
                    if !prompts.is_empty() {
                        self.ctx.prompter.inform(askpass, &header).await;
                    }
                    let mut answers: Vec<Secret> = Vec::with_capacity(prompts.len());
                    for p in &prompts {
                        // OpenSSH prefixes prompts with (user@host) so the operator knows who asks.
                        let prompt = format!("{} {}", self.label(), p.prompt);
                        let a = self
                            .ctx
                            .prompter
                            .ask(askpass, &prompt, p.echo)
                            .await
                            .map_err(|e| self.err(e.to_string()))?;
                        answers.push(a);
                    }
                    answered += answers.len();
                    // russh wants owned Strings; they live only until the packet is encrypted.
                    let plain: Vec<String> =
                        answers.iter().map(|a| a.expose().to_string()).collect();
                    resp = bounded(
                        self.target,
                        self.handle.authenticate_keyboard_interactive_respond(plain),
                    )
                    .await?;
                }
            }
        }
        Err(self.err(format!(
            "keyboard-interactive did not finish after {MAX_KBD_ROUNDS} rounds"
        )))
    }
}
