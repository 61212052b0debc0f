//! Connections and command execution (the host key check is in `handler`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::{ChannelMsg, Disconnect, Sig};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::{Instant, timeout, timeout_at};

use super::auth::{self, AuthContext};
use super::handler::{ClientHandler, HandlerState};
use super::known_hosts;
use super::prompt::Prompter;
use super::sudo::{self, SudoMode};
use super::{Command, Output, SshError, Target};
use crate::secret::Secret;

/// OpenSSH allows 10 sessions per connection (MaxSessions); stay below it.
pub const DEFAULT_SESSIONS_PER_HOST: usize = 8;

/// After the exit status, wait this long without traffic for EOF/close: a background child that
/// inherited stdout would otherwise hold the channel open until it exits.
const EXIT_GRACE_IDLE: Duration = Duration::from_millis(300);
/// ...and never longer than this in total, even if that child keeps writing.
const EXIT_GRACE_MAX: Duration = Duration::from_secs(5);

fn ssh_config(target: &Target) -> client::Config {
    let mut preferred = russh::Preferred::default();
    if let Ok(entries) = known_hosts::entries_for(&target.known_hosts, &target.address, target.port)
    {
        let mut recorded: Vec<_> = entries.iter().map(|e| e.key.algorithm()).collect();
        recorded.extend(
            target
                .host_keys
                .iter()
                .filter_map(|k| known_hosts::parse_pinned(k))
                .map(|k| k.algorithm()),
        );
        if !recorded.is_empty() {
            preferred.key = known_hosts::preferred_key_algorithms(&recorded).into();
        }
    }
    client::Config {
        nodelay: true,
        window_size: 16 << 20,
        maximum_packet_size: 65535,
        // An inactivity timeout kills quiet long commands (russh #538); keepalives detect dead
        // peers instead: 3 unanswered probes 15 s apart.
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 3,
        preferred,
        ..Default::default()
    }
}

#[derive(Clone)]
struct ConnectorConfig {
    sessions_per_host: usize,
    agent_socket: Option<PathBuf>,
}

type BastionSlot = Arc<Mutex<Option<Result<Connection, SshError>>>>;

struct Shared {
    prompter: Prompter,
    keys: auth::KeyCache,
    bastions: Mutex<HashMap<String, BastionSlot>>,
}

/// Opens connections; owns what is shared across hosts (prompt serialisation, bastion
/// connections, the agent socket). Cheap to clone.
#[derive(Clone)]
pub struct Connector {
    cfg: Arc<ConnectorConfig>,
    shared: Arc<Shared>,
}

impl Default for Connector {
    fn default() -> Self {
        Connector {
            cfg: Arc::new(ConnectorConfig {
                sessions_per_host: DEFAULT_SESSIONS_PER_HOST,
                agent_socket: None,
            }),
            shared: Arc::new(Shared {
                prompter: Prompter::default(),
                keys: Default::default(),
                bastions: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl Connector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Concurrent session channels per connection (`run.sessions_per_host`).
    pub fn with_sessions_per_host(mut self, n: usize) -> Self {
        Arc::make_mut(&mut self.cfg).sessions_per_host = n.max(1);
        self
    }

    /// Agent socket to use instead of `SSH_AUTH_SOCK`.
    pub fn with_agent_socket(mut self, path: impl Into<PathBuf>) -> Self {
        Arc::make_mut(&mut self.cfg).agent_socket = Some(path.into());
        self
    }

    /// Run terminal prompts (passphrase, password, OTP, sudo) inside `guard`, typically to
    /// suspend progress bars while the operator types.
    pub fn with_terminal_guard(self, guard: super::prompt::TerminalGuard) -> Self {
        self.shared.prompter.set_guard(guard);
        self
    }

    /// Connect and authenticate (through the bastion when `target.via` is set).
    pub async fn connect(&self, target: &Target) -> Result<Connection, SshError> {
        let bastion = match &target.via {
            Some(b) => Some(self.bastion(b).await?),
            None => None,
        };
        self.connect_inner(target, bastion).await
    }

    /// One authenticated connection per bastion name, shared by every target behind it.
    async fn bastion(&self, b: &Target) -> Result<Connection, SshError> {
        let slot = {
            let mut map = self.shared.bastions.lock().await;
            map.entry(b.name.clone()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        match &*slot {
            Some(Ok(c)) if !c.inner.handle.is_closed() => return Ok(c.clone()),
            // A failed bastion (bad key, refused OTP) fails every host behind it the same way
            // instead of prompting once per host.
            Some(Err(e)) => return Err(e.clone()),
            _ => {}
        }
        tracing::debug!(bastion = %b.name, "connecting to bastion");
        let r = Box::pin(self.connect_inner(b, None)).await;
        *slot = Some(r.clone());
        r
    }

    async fn connect_inner(
        &self,
        target: &Target,
        bastion: Option<Connection>,
    ) -> Result<Connection, SshError> {
        let state = Arc::new(StdMutex::new(HandlerState::default()));
        let handler = ClientHandler::new(target, state.clone());
        let config = Arc::new(ssh_config(target));
        let addr = known_hosts::host_key_name(&target.address, target.port);
        let connect_err = |reason: String| SshError::Connect {
            host: target.name.clone(),
            addr: addr.clone(),
            reason,
        };
        let started = Instant::now();
        tracing::debug!(host = %target.name, %addr, via = ?bastion.as_ref().map(|b| b.host().to_string()), "connecting");
        let fut = async {
            match &bastion {
                None => {
                    client::connect(config, (target.address.as_str(), target.port), handler).await
                }
                Some(b) => {
                    let ch = b
                        .inner
                        .handle
                        .channel_open_direct_tcpip(
                            target.address.clone(),
                            target.port as u32,
                            "127.0.0.1",
                            0,
                        )
                        .await?;
                    client::connect_stream(config, ch.into_stream(), handler).await
                }
            }
        };
        let handle = match timeout(target.connect_timeout, fut).await {
            Err(_) => {
                return Err(connect_err(format!(
                    "timed out after {}s",
                    target.connect_timeout.as_secs()
                )));
            }
            Ok(Err(e)) => {
                if let Some(hk) = state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .host_key_error
                    .take()
                {
                    return Err(hk);
                }
                let via = bastion
                    .as_ref()
                    .map(|b| format!(" (through bastion {})", b.host()))
                    .unwrap_or_default();
                return Err(connect_err(format!("{e}{via}")));
            }
            Ok(Ok(h)) => h,
        };
        let mut handle = handle;
        let ctx = AuthContext {
            prompter: &self.shared.prompter,
            keys: &self.shared.keys,
            agent_socket: self.cfg.agent_socket.as_deref(),
        };
        auth::authenticate(&mut handle, target, &ctx).await?;
        tracing::debug!(host = %target.name, ms = started.elapsed().as_millis() as u64, "connected");
        Ok(Connection {
            target: Arc::new(target.clone()),
            inner: Arc::new(Inner {
                handle,
                sessions: Semaphore::new(self.cfg.sessions_per_host),
                state,
                sudo: Mutex::new(None),
                shared: self.shared.clone(),
                _bastion: bastion,
            }),
        })
    }
}

pub(crate) struct Inner {
    handle: Handle<ClientHandler>,
    sessions: Semaphore,
    state: Arc<StdMutex<HandlerState>>,
    sudo: Mutex<Option<SudoMode>>,
    shared: Arc<Shared>,
    /// Keeps the tunnel's carrier alive as long as this connection.
    _bastion: Option<Connection>,
}

/// One authenticated connection; cheap to clone, safe to use from many tasks at once.
#[derive(Clone)]
pub struct Connection {
    pub target: Arc<Target>,
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("host", &self.target.name)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A marker to look for in a running command's stderr, and whom to tell when it appears.
#[derive(Debug, Clone)]
pub struct StderrWatch {
    pub marker: &'static str,
    pub tell: tokio::sync::mpsc::UnboundedSender<()>,
}

impl StderrWatch {
    fn seen(&self, stderr: &[u8]) -> bool {
        let m = self.marker.as_bytes();
        !m.is_empty() && stderr.windows(m.len()).any(|w| w == m)
    }
}

/// Last line of a prelude wrapped around scripts (the host lock of `apply::with_host_lock`):
/// error messages quote the script's own first line, not the prelude.
pub const PRELUDE_END: &str = "# end of otp-provision prelude\n";

fn first_line(script: &str) -> String {
    let script = script
        .split_once(PRELUDE_END)
        .map_or(script, |(_, rest)| rest);
    let line = script.trim_start().lines().next().unwrap_or("").trim_end();
    let mut s: String = line.chars().take(120).collect();
    if s.len() < line.len() || script.trim().lines().nth(1).is_some() {
        s.push_str(" …");
    }
    s
}

impl Connection {
    pub fn host(&self) -> &str {
        &self.target.name
    }

    /// True once the transport is gone (server closed, keepalive failed, killed).
    pub fn is_closed(&self) -> bool {
        self.inner.handle.is_closed()
    }

    /// Run a command in its own session channel (no PTY).
    pub async fn exec(&self, cmd: Command) -> Result<Output, SshError> {
        self.exec_watched(cmd, None).await
    }

    /// [`Connection::exec`], telling `watch` once as soon as the command's stderr holds the
    /// watch's marker: the caller learns what a command says while it still runs (a command
    /// waiting for the host lock says so before it waits).
    pub async fn exec_watched(
        &self,
        cmd: Command,
        watch: Option<StderrWatch>,
    ) -> Result<Output, SshError> {
        let what = first_line(&cmd.script);
        let limit = cmd.timeout.unwrap_or(self.target.command_timeout);
        let known = if cmd.privileged {
            self.known_sudo_mode().await
        } else {
            None
        };
        tracing::debug!(host = %self.target.name, privileged = cmd.privileged, stdin = cmd.stdin.as_ref().map(|s| s.len()), "exec: {what}");
        let started = Instant::now();
        let out = if cmd.privileged && known.is_none() {
            // First privileged command: try it the common way (uid 0 or passwordless sudo); only
            // when sudo refused does the connection resolve its mode the full way and run again.
            let stdin = cmd.stdin.clone();
            let mut first = self
                .run(
                    &sudo::optimistic(&cmd.script),
                    None,
                    stdin,
                    limit,
                    &what,
                    watch.clone(),
                )
                .await?;
            if let Some(mode) = sudo::take_marker(&mut first.stderr) {
                let mut slot = self.inner.sudo.lock().await;
                slot.get_or_insert(mode);
                Ok(first)
            } else {
                let mode = self.sudo_mode(limit).await?;
                let (line, prefix) = sudo::wrap(&mode, &cmd.script);
                self.run(&line, prefix, cmd.stdin, limit, &what, watch)
                    .await
            }
        } else {
            let (line, prefix) = match &known {
                Some(mode) => sudo::wrap(mode, &cmd.script),
                None => (cmd.script.clone(), None),
            };
            self.run(&line, prefix, cmd.stdin, limit, &what, watch)
                .await
        };
        match &out {
            Ok(o) => {
                tracing::debug!(host = %self.target.name, code = ?o.code, signal = ?o.signal, ms = started.elapsed().as_millis() as u64, "done: {what}")
            }
            Err(e) => tracing::debug!(host = %self.target.name, "failed: {e}"),
        }
        out
    }

    /// How privileged commands run here, when already known without asking the host: a root
    /// login or sudo switched off, or the mode an earlier command found.
    async fn known_sudo_mode(&self) -> Option<SudoMode> {
        let t = &self.target;
        if t.user == "root" || !t.sudo {
            return Some(SudoMode::Direct);
        }
        self.inner.sudo.lock().await.clone()
    }

    /// Decide (once per connection) how privileged commands run.
    async fn sudo_mode(&self, limit: Duration) -> Result<SudoMode, SshError> {
        let t = &self.target;
        if t.user == "root" || !t.sudo {
            return Ok(SudoMode::Direct);
        }
        let mut slot = self.inner.sudo.lock().await;
        if let Some(m) = &*slot {
            return Ok(m.clone());
        }
        let other = |reason: String| SshError::Other {
            host: t.name.clone(),
            reason,
        };
        let probe = self
            .run(sudo::PROBE, None, None, limit, "sudo probe", None)
            .await?;
        let mode = if probe.success() && probe.stdout_str().trim() == "uid0" {
            SudoMode::Direct
        } else if probe.success() {
            SudoMode::NoPassword
        } else if sudo::needs_password(&probe.stderr_str()) {
            let (pw, source) = match &t.sudo_password_env {
                Some(var) => match std::env::var(var) {
                    Ok(v) => (Secret::new(v), format!("environment variable {var}")),
                    Err(_) => {
                        return Err(other(format!(
                            "sudo needs a password for {}, but environment variable {var} \
                             (sudo_password_env) is not set",
                            t.user
                        )));
                    }
                },
                None => {
                    let prompt = format!("[sudo] password for {}@{}: ", t.user, t.name);
                    let pw = self
                        .inner
                        .shared
                        .prompter
                        .ask(t.askpass.as_deref(), &prompt, false)
                        .await
                        .map_err(|e| other(e.to_string()))?;
                    (pw, "prompt".to_string())
                }
            };
            let line = Secret::new(format!("{}\n", pw.expose()));
            let check = self
                .run(
                    sudo::PROBE_PASSWORD,
                    Some(line),
                    None,
                    limit,
                    "sudo password check",
                    None,
                )
                .await?;
            if !check.success() {
                return Err(SshError::Auth {
                    host: t.name.clone(),
                    user: t.user.clone(),
                    reason: format!("sudo refused the password from the {source}"),
                });
            }
            SudoMode::Password(pw)
        } else {
            let why = probe.stderr_str();
            return Err(other(format!(
                "cannot run privileged commands as {} through sudo: {}",
                t.user,
                why.lines().next().unwrap_or("sudo -n failed").trim()
            )));
        };
        tracing::debug!(host = %t.name, mode = match mode { SudoMode::Direct => "direct", SudoMode::NoPassword => "nopasswd", SudoMode::Password(_) => "password" }, "sudo mode");
        *slot = Some(mode.clone());
        Ok(mode)
    }

    fn lost(&self, what: &str, detail: &str) -> SshError {
        let transport = self
            .inner
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .disconnect
            .clone();
        let reason = match (self.inner.handle.is_closed(), transport) {
            (_, Some(t)) => format!("{detail} while running `{what}` ({t})"),
            (true, None) => format!("{detail} while running `{what}` (connection closed)"),
            (false, None) => format!("{detail} while running `{what}`"),
        };
        SshError::Disconnected {
            host: self.target.name.clone(),
            reason,
        }
    }

    async fn run(
        &self,
        line: &str,
        prefix: Option<Secret>,
        stdin: Option<Vec<u8>>,
        limit: Duration,
        what: &str,
        mut watch: Option<StderrWatch>,
    ) -> Result<Output, SshError> {
        // Waiting for a free session slot does not count against the command's timeout.
        let _permit = self
            .inner
            .sessions
            .acquire()
            .await
            .map_err(|_| self.lost(what, "session limiter closed"))?;
        let deadline = Instant::now() + limit;
        let timed_out = || SshError::Timeout {
            host: self.target.name.clone(),
            secs: limit.as_secs(),
            what: what.to_string(),
        };
        let channel = self.open_session(deadline, limit, what).await?;
        let (mut reader, writer) = channel.split();
        // Drain in a task of its own: russh blocks the whole connection when one channel's
        // queue is full (head-of-line blocking).
        let drain = tokio::spawn(async move {
            let mut out = Output::default();
            let mut refused = false;
            let mut exited_at: Option<Instant> = None;
            loop {
                let msg = match exited_at {
                    None => reader.wait().await,
                    Some(at) => {
                        let idle = Instant::now() + EXIT_GRACE_IDLE;
                        match timeout_at(idle.min(at + EXIT_GRACE_MAX), reader.wait()).await {
                            Ok(m) => m,
                            Err(_) => break,
                        }
                    }
                };
                match msg {
                    Some(ChannelMsg::Data { data }) => out.stdout.extend_from_slice(&data),
                    Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                        out.stderr.extend_from_slice(&data);
                        if watch.as_ref().is_some_and(|w| w.seen(&out.stderr)) {
                            // Told once; the receiver may be gone already.
                            let _ = watch.take().map(|w| w.tell.send(()));
                        }
                    }
                    Some(ChannelMsg::ExitStatus { exit_status }) => {
                        out.code = Some(exit_status);
                        exited_at.get_or_insert_with(Instant::now);
                    }
                    Some(ChannelMsg::ExitSignal {
                        signal_name,
                        error_message,
                        ..
                    }) => {
                        out.signal = Some(signal_text(&signal_name));
                        if !error_message.is_empty() {
                            out.stderr.extend_from_slice(error_message.as_bytes());
                        }
                        exited_at.get_or_insert_with(Instant::now);
                    }
                    Some(ChannelMsg::Failure) if exited_at.is_none() => {
                        refused = true;
                        break;
                    }
                    // After EOF keep reading until the server's CLOSE (it follows at once): OpenSSH
                    // frees the session slot (MaxSessions) only when both sides closed.
                    Some(ChannelMsg::Eof) => {}
                    Some(ChannelMsg::Close) | None => break,
                    Some(_) => {}
                }
            }
            (out, exited_at.is_some(), refused)
        });
        let writer = Arc::new(writer);
        let w = writer.clone();
        let line = line.to_string();
        let feed = tokio::spawn(async move {
            w.exec(true, line).await?;
            if prefix.is_some() || stdin.is_some() {
                let mut sink = w.make_writer();
                if let Some(p) = &prefix {
                    sink.write_all(p.expose().as_bytes()).await?;
                }
                if let Some(data) = &stdin {
                    sink.write_all(data).await?;
                }
                sink.flush().await?;
                // Shutting the writer down sends the EOF.
                sink.shutdown().await?;
            } else {
                w.eof().await?;
            }
            Ok::<(), russh::Error>(())
        });
        let mut drain = drain;
        let result = timeout_at(deadline, &mut drain).await;
        match result {
            Err(_) => {
                drain.abort();
                feed.abort();
                // Ask the remote side to stop, then drop the channel; OpenSSH delivers the signal
                // to the command's process.
                let _ = writer.signal(Sig::TERM).await;
                let _ = writer.close().await;
                Err(timed_out())
            }
            Ok(Err(join)) => Err(self.lost(what, &format!("reader task failed ({join})"))),
            Ok(Ok((out, exited, refused))) => {
                feed.abort();
                let _ = writer.close().await;
                if refused {
                    return Err(SshError::Other {
                        host: self.target.name.clone(),
                        reason: format!("server refused to run `{what}`"),
                    });
                }
                if !exited {
                    return Err(self.lost(what, "no exit status received"));
                }
                Ok(out)
            }
        }
    }

    /// Open a session channel. A refusal (OpenSSH's MaxSessions, counted until the server has
    /// finished tearing down earlier channels, or sessions of other clients) is retried with
    /// backoff until the command's deadline.
    async fn open_session(
        &self,
        deadline: Instant,
        limit: Duration,
        what: &str,
    ) -> Result<russh::Channel<client::Msg>, SshError> {
        let mut backoff = Duration::from_millis(20);
        loop {
            match timeout_at(deadline, self.inner.handle.channel_open_session()).await {
                Err(_) => {
                    return Err(SshError::Timeout {
                        host: self.target.name.clone(),
                        secs: limit.as_secs(),
                        what: format!("{what} (waiting for a session channel)"),
                    });
                }
                Ok(Ok(c)) => return Ok(c),
                Ok(Err(russh::Error::ChannelOpenFailure(f)))
                    if Instant::now() + backoff < deadline && !self.inner.handle.is_closed() =>
                {
                    tracing::debug!(host = %self.target.name, "session refused ({f:?}), retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Ok(Err(e)) => return Err(self.lost(what, &format!("cannot open a session ({e})"))),
            }
        }
    }

    /// Close the connection politely.
    pub async fn close(&self) {
        let _ = self
            .inner
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
    }
}

fn signal_text(s: &Sig) -> String {
    match s {
        Sig::Custom(name) => name.clone(),
        other => format!("{other:?}"),
    }
}

/// Connect to many hosts at once, at most `parallel` handshakes in flight. Results come back in
/// the order of `targets`.
pub async fn connect_all(
    connector: &Connector,
    targets: &[Target],
    parallel: usize,
) -> Vec<(String, Result<Connection, SshError>)> {
    let limit = Arc::new(Semaphore::new(parallel.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let (c, t, limit) = (connector.clone(), t.clone(), limit.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let r = c.connect(&t).await;
            (i, t.name, r)
        });
    }
    let mut out: Vec<Option<(String, Result<Connection, SshError>)>> =
        (0..targets.len()).map(|_| None).collect();
    while let Some(j) = set.join_next().await {
        match j {
            Ok((i, name, r)) => out[i] = Some((name, r)),
            Err(e) => tracing::error!("connect task failed: {e}"),
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.unwrap_or_else(|| {
                let name = targets[i].name.clone();
                let e = SshError::Other {
                    host: name.clone(),
                    reason: "connect task panicked".into(),
                };
                (name, Err(e))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn first_line_table() {
        let cases = [
            ("true", "true"),
            ("  apt-get update\napt-get install x", "apt-get update …"),
            ("\n\nset -e\n", "set -e"),
            ("", ""),
            (
                "if command -v flock; then\n  exec 9>>/run/x\nfi\n# end of otp-provision prelude\nset -e\napt-get update",
                "set -e …",
            ),
        ];
        for (script, want) in cases {
            assert_eq!(first_line(script), want, "{script:?}");
        }
        assert_eq!(first_line(&"x".repeat(200)).chars().count(), 122);
    }
}
