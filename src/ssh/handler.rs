//! The russh client handler: the host key check during the key exchange and the disconnect
//! reason. Its own file so that `auth` (which drives a handle of it) and `client` (which opens
//! connections with it) both depend on it without depending on each other.

use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};

use russh::client;
use russh::keys::PublicKeyOrCertificate;
use russh::keys::ssh_key::PublicKey;

use super::known_hosts::{self, Verdict};
use super::{SshError, Target};
use crate::inventory::HostKeyPolicy;

#[derive(Default)]
pub(crate) struct HandlerState {
    pub(super) host_key_error: Option<SshError>,
    pub(super) disconnect: Option<String>,
}

/// russh callbacks for one connection: host key check and disconnect bookkeeping.
pub(crate) struct ClientHandler {
    host: String,
    address: String,
    port: u16,
    known_hosts: Vec<PathBuf>,
    pinned: Vec<String>,
    policy: HostKeyPolicy,
    state: Arc<StdMutex<HandlerState>>,
}

impl ClientHandler {
    pub(super) fn new(target: &Target, state: Arc<StdMutex<HandlerState>>) -> Self {
        ClientHandler {
            host: target.name.clone(),
            address: target.address.clone(),
            port: target.port,
            known_hosts: target.known_hosts.clone(),
            pinned: target.host_keys.clone(),
            policy: target.host_key_policy,
            state,
        }
    }

    fn addr(&self) -> String {
        known_hosts::host_key_name(&self.address, self.port)
    }

    /// Ok: trusted. Runs inside the key exchange, before any authentication is sent.
    fn verify(&self, key: &PublicKey) -> Result<(), SshError> {
        let fp = key.fingerprint(Default::default());
        if !self.pinned.is_empty() {
            let pinned: Vec<PublicKey> = self
                .pinned
                .iter()
                .filter_map(|k| known_hosts::parse_pinned(k))
                .collect();
            if pinned.iter().any(|p| p.key_data() == key.key_data()) {
                tracing::debug!(host = %self.host, %fp, "host key matches a pinned key");
                return Ok(());
            }
            return Err(SshError::HostKeyNotPinned {
                host: self.host.clone(),
                addr: self.addr(),
                fingerprint: fp.to_string(),
            });
        }
        let other = |reason: String| SshError::Other {
            host: self.host.clone(),
            reason,
        };
        let entries = known_hosts::entries_for(&self.known_hosts, &self.address, self.port)
            .map_err(|e| other(e.to_string()))?;
        match known_hosts::verdict(&entries, key) {
            Verdict::Trusted { file, line } => {
                tracing::debug!(host = %self.host, %fp, file = %file.display(), line, "host key known");
                Ok(())
            }
            Verdict::Changed { file, line } => Err(SshError::HostKeyChanged {
                host: self.host.clone(),
                addr: self.addr(),
                file: file.display().to_string(),
                line,
            }),
            Verdict::Revoked { file, line } => Err(other(format!(
                "host key {fp} of {} is marked @revoked at {}:{line}; nothing was sent",
                self.addr(),
                file.display()
            ))),
            Verdict::OtherAlgorithms { recorded } => Err(SshError::HostKeyUnknown {
                host: self.host.clone(),
                addr: self.addr(),
                detail: format!(
                    "server offered {} {fp}, but known_hosts records only {} keys for it; \
                     not learning a second key type automatically",
                    key.algorithm().as_str(),
                    recorded.join(", ")
                ),
            }),
            Verdict::Unknown => match (self.policy, self.known_hosts.first()) {
                (HostKeyPolicy::AcceptNew, Some(file)) => {
                    let line = known_hosts::learn(file, &self.address, self.port, key)
                        .map_err(|e| other(e.to_string()))?;
                    tracing::info!(
                        host = %self.host, %fp, file = %file.display(), line = ?line,
                        "recorded new host key (accept-new)"
                    );
                    Ok(())
                }
                (HostKeyPolicy::AcceptNew, None) => Err(SshError::HostKeyUnknown {
                    host: self.host.clone(),
                    addr: self.addr(),
                    detail: format!("{fp}; accept-new needs a known_hosts file to record it in"),
                }),
                (HostKeyPolicy::Strict, _) => Err(SshError::HostKeyUnknown {
                    host: self.host.clone(),
                    addr: self.addr(),
                    detail: format!(
                        "server offered {fp}; not in {}. Add it (ssh-keyscan), pin it in \
                         host_keys, or use host_key_policy = \"accept-new\"",
                        if self.known_hosts.is_empty() {
                            "any known_hosts file (none configured)".to_string()
                        } else {
                            self.known_hosts
                                .iter()
                                .map(|p| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                }),
            },
        }
    }
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(c) => {
                let e = SshError::HostKeyUnknown {
                    host: self.host.clone(),
                    addr: self.addr(),
                    detail: format!(
                        "server presented a host certificate ({}); only plain keys are verified",
                        c.key_id()
                    ),
                };
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .host_key_error = Some(e);
                return Ok(false);
            }
        };
        match self.verify(key) {
            Ok(()) => Ok(true),
            Err(e) => {
                tracing::debug!(host = %self.host, "host key rejected: {e}");
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .host_key_error = Some(e);
                Ok(false)
            }
        }
    }

    async fn disconnected(
        &mut self,
        reason: client::DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let text = match &reason {
            client::DisconnectReason::ReceivedDisconnect(info) => {
                format!(
                    "server disconnected: {:?} {}",
                    info.reason_code, info.message
                )
            }
            client::DisconnectReason::Error(e) => e.to_string(),
        };
        tracing::debug!(host = %self.host, "{text}");
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .disconnect = Some(text);
        match reason {
            client::DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            client::DisconnectReason::Error(e) => Err(e),
        }
    }
}
