//! SSH transport on russh: one connection per host, no PTY, bounded sessions per connection.
//!
//! CONTRACT used by facts/apply/lab: [`Target`], [`Connector`], [`Connection::exec`], [`Output`],
//! [`SshError`]. The ssh helper owns the implementation files under this folder.
//!
//! Implementation: `client` (connections, exec), `auth` (methods and prompts order),
//! `known_hosts` (OpenSSH file format), `prompt` (askpass / terminal), `sudo`.

mod auth;
mod client;
mod handler;
mod known_hosts;
mod prompt;
mod sudo;

use std::path::PathBuf;
use std::time::Duration;

use crate::inventory::{HostKeyPolicy, Inventory};

/// Everything needed to open one authenticated connection, resolved from the inventory.
#[derive(Debug, Clone)]
pub struct Target {
    /// Inventory name, used in every error and log line.
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub key_files: Vec<PathBuf>,
    pub certificate: Option<PathBuf>,
    pub agent: bool,
    pub password: bool,
    pub keyboard_interactive: bool,
    pub askpass: Option<PathBuf>,
    pub known_hosts: Vec<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    pub host_keys: Vec<String>,
    pub sudo: bool,
    pub sudo_password_env: Option<String>,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    /// How long a changing command waits for the host lock held by another otp-provision
    /// command (`[run] lock_wait_secs`); reads wait half as long.
    pub lock_wait: Duration,
    /// Jump host to tunnel through (direct-tcpip), itself without a further hop.
    pub via: Option<Box<Target>>,
}

impl Target {
    /// Targets for every host of the inventory (bastions resolved).
    pub fn for_host(inv: &Inventory, host: &crate::inventory::Host) -> Target {
        let s = &host.ssh;
        let via = s
            .bastion
            .as_deref()
            .and_then(|b| inv.bastion(b))
            .map(|b| Box::new(Target::from_settings(&b.name, &b.address, &b.ssh, None)));
        Target {
            lock_wait: Duration::from_secs(inv.run.lock_wait_secs),
            ..Target::from_settings(&host.name, &host.address, s, via)
        }
    }

    pub fn from_settings(
        name: &str,
        address: &str,
        s: &crate::inventory::SshSettings,
        via: Option<Box<Target>>,
    ) -> Target {
        Target {
            name: name.to_string(),
            address: address.to_string(),
            port: s.port,
            user: s.user.clone(),
            key_files: s.key_files.clone(),
            certificate: s.certificate.clone(),
            agent: s.agent,
            password: s.password,
            keyboard_interactive: s.keyboard_interactive,
            askpass: s.askpass.clone(),
            known_hosts: s.known_hosts.clone(),
            host_key_policy: s.host_key_policy,
            host_keys: s.host_keys.clone(),
            sudo: s.sudo,
            sudo_password_env: s.sudo_password_env.clone(),
            connect_timeout: Duration::from_secs(s.connect_timeout_secs),
            command_timeout: Duration::from_secs(s.command_timeout_secs),
            lock_wait: Duration::from_secs(crate::inventory::DEFAULT_LOCK_WAIT_SECS),
            via,
        }
    }
}

/// Result of one remote command. Exit status is data; transport failures are [`SshError`].
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `None` when the command died from a signal (see `signal`).
    pub code: Option<u32>,
    pub signal: Option<String>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// One command to run.
#[derive(Debug, Clone, Default)]
pub struct Command {
    /// Shell text run by the remote user's shell (`sh -c` semantics). Quote every value.
    pub script: String,
    /// Run as root (through sudo when the target says so).
    pub privileged: bool,
    /// Bytes streamed to stdin, then EOF.
    pub stdin: Option<Vec<u8>>,
    /// Overrides the target's command timeout.
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    #[error("{host}: cannot connect to {addr}: {reason}")]
    Connect {
        host: String,
        addr: String,
        reason: String,
    },
    #[error(
        "{host}: host key changed: {file}:{line} holds a different key for {addr}; nothing was sent. \
         If the change is expected, remove that line (ssh-keygen -R) and reconnect"
    )]
    HostKeyChanged {
        host: String,
        addr: String,
        file: String,
        line: usize,
    },
    #[error(
        "{host}: host key {fingerprint} of {addr} is not one of the keys pinned in the inventory \
         (ssh.host_keys); nothing was sent"
    )]
    HostKeyNotPinned {
        host: String,
        addr: String,
        fingerprint: String,
    },
    #[error("{host}: host key for {addr} is not known ({detail})")]
    HostKeyUnknown {
        host: String,
        addr: String,
        detail: String,
    },
    #[error("{host}: authentication failed for user {user}: {reason}")]
    Auth {
        host: String,
        user: String,
        reason: String,
    },
    #[error("{host}: command timed out after {secs}s: {what}")]
    Timeout {
        host: String,
        secs: u64,
        what: String,
    },
    #[error("{host}: connection lost: {reason}")]
    Disconnected { host: String, reason: String },
    #[error("{host}: {reason}")]
    Other { host: String, reason: String },
}

impl SshError {
    pub fn host(&self) -> &str {
        match self {
            SshError::Connect { host, .. }
            | SshError::HostKeyChanged { host, .. }
            | SshError::HostKeyUnknown { host, .. }
            | SshError::HostKeyNotPinned { host, .. }
            | SshError::Auth { host, .. }
            | SshError::Timeout { host, .. }
            | SshError::Disconnected { host, .. }
            | SshError::Other { host, .. } => host,
        }
    }
}

pub use client::{
    Connection, Connector, DEFAULT_SESSIONS_PER_HOST, PRELUDE_END, StderrWatch, connect_all,
};
pub use prompt::TerminalGuard;
