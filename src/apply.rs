//! The one executor of [`Step`]s, with two schedules:
//! - node steps ([`apply`]): steps with `change = true` in order per host, hosts in parallel
//!   (bounded). A failed step stops its host; other hosts carry on.
//! - cluster and addon steps ([`apply_waves`]): wave by wave, steps of one wave in parallel; a
//!   failure stops the run after its wave (later waves build on earlier ones).
//!
//! Both run a remote step through [`run_step`], so every step has the same journal path.
//!
//! Every remote command of a run (facts included) goes through [`exec`], which times it and
//! reports a [`CommandRecord`] to the [`Observer`]: the journal sees everything that ran where,
//! and never stdin (file contents may be secret).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;

use crate::plan::{Action, HostPlan, LOCAL, Plan, Step, StepKind};
use crate::runtime::{RuntimeError, RuntimeValues};
use crate::shell::q;
use crate::ssh::{Command, Connection, Output, SshError, StderrWatch};

/// What the report and journal modules implement to follow a run.
pub trait Observer: Send + Sync {
    fn host_started(&self, host: &str, steps: usize);
    fn step_started(&self, host: &str, step: &Step);
    fn step_finished(&self, host: &str, step: &Step, result: &StepResult);
    fn host_finished(&self, host: &str, ok: bool);
    /// A command on `host` found [`HOST_LOCK`] held by another otp-provision command and waits.
    fn lock_waiting(&self, host: &str, step_id: &str) {
        let _ = (host, step_id);
    }
    /// Every remote command (facts gathering included), after it finished or failed.
    fn command_finished(&self, record: &CommandRecord) {
        let _ = record;
    }
}

/// Observer that ignores everything (tests, callers without a journal).
pub struct NoopObserver;

impl Observer for NoopObserver {
    fn host_started(&self, _: &str, _: usize) {}
    fn step_started(&self, _: &str, _: &Step) {}
    fn step_finished(&self, _: &str, _: &Step, _: &StepResult) {}
    fn host_finished(&self, _: &str, _: bool) {}
}

/// One remote command as the journal records it. Holds no script text and no stdin: step id and
/// label say what ran, and scripts may carry tokens.
#[derive(Debug, Clone, Serialize)]
pub struct CommandRecord {
    pub host: String,
    /// Step id, or `facts` for a gather.
    pub step_id: String,
    /// Short description: `script`, `write /etc/containerd/config.toml`, `gather facts`.
    pub label: String,
    pub code: Option<u32>,
    pub signal: Option<String>,
    #[serde(with = "duration_ms")]
    pub duration: Duration,
    /// Part of `duration` spent waiting for [`HOST_LOCK`], when the command had to wait.
    #[serde(rename = "lock_wait_ms", serialize_with = "opt_ms")]
    pub lock_wait: Option<Duration>,
    /// When the command held [`HOST_LOCK`], in the host's uptime (seconds): from, and to
    /// unless the command did not end normally.
    pub lock_held: Option<(f64, Option<f64>)>,
    /// Transport error, when the command did not complete.
    pub error: Option<String>,
    /// Size of stdin sent (content never recorded).
    pub stdin_bytes: usize,
}

fn opt_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&(d.as_millis() as u64)),
        None => s.serialize_none(),
    }
}

mod duration_ms {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

/// Lock file on every host that serialises this tool's privileged commands across runs. A run
/// killed mid-command leaves that command running on the host (kubeadm does not stop when the
/// SSH connection drops), and the next run must neither plan from its half-done state nor run
/// beside it: changing commands hold the lock exclusively (kubeadm inherits it), reads share it.
pub const HOST_LOCK: &str = "/run/otp-provision.lock";

/// Steps whose commands only read: facts and the cluster probe. Everything else may change the
/// host (the run journal's `changes`).
pub fn read_only(step_id: &str) -> bool {
    matches!(step_id, "facts" | "cluster/probe")
}

/// Printed on stderr by a command that found [`HOST_LOCK`] held, before it waits.
pub const LOCK_WAITED: &str = "otp-provision: waited for the host lock";
/// Printed on stderr once the lock is held after a wait, followed by the milliseconds waited.
const LOCK_ACQUIRED: &str = "otp-provision: host lock acquired after ";
/// Printed on stderr by a command that gave up waiting (and exited [`crate::exit::LOCKED`]).
pub const LOCK_GAVE_UP: &str = "otp-provision: gave up waiting for the host lock";

/// Printed on stderr once the lock is held, followed by the host's uptime (seconds).
const LOCK_HELD: &str = "otp-provision: host lock held from ";
/// Printed on stderr when the script is done, just before the lock is let go.
const LOCK_RELEASED: &str = "otp-provision: host lock released at ";

/// `script` run under [`HOST_LOCK`], giving up after `wait` with a message naming the lock.
/// Only a command that has to wait spends processes on timing its wait. The script runs in a
/// subshell so that, whatever it does, the moments the lock was taken and let go are reported
/// in the host's uptime: one clock for every run on that host, read without a process.
pub fn with_host_lock(script: &str, exclusive: bool, wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    format!(
        "if command -v flock >/dev/null 2>&1; then\n  \
           exec 9>>{HOST_LOCK}\n  \
           if ! flock {mode} -n 9; then\n    \
             echo '{LOCK_WAITED}' >&2\n    \
             otp_t0=$(date +%s%N)\n    \
             if ! flock {mode} -w {secs} 9; then\n      \
               echo \"{LOCK_GAVE_UP} {HOST_LOCK} after {secs} s: another otp-provision command holds it (an interrupted run's kubeadm still running, or another operator's run); retry when it has finished\" >&2\n      \
               exit {code}\n    \
             fi\n    \
             echo \"{LOCK_ACQUIRED}$(( ($(date +%s%N) - otp_t0) / 1000000 )) ms\" >&2\n  \
           fi\n  \
           otp_up=; [ -r /proc/uptime ] && read -r otp_up otp_idle < /proc/uptime\n  \
           echo \"{LOCK_HELD}$otp_up\" >&2\n\
         fi\n(\n{end}{script}\n)\notp_rc=$?\n\
         if [ -n \"${{otp_up+set}}\" ]; then\n  \
           [ -r /proc/uptime ] && read -r otp_up otp_idle < /proc/uptime\n  \
           echo \"{LOCK_RELEASED}$otp_up\" >&2\n\
         fi\nexit $otp_rc\n",
        mode = if exclusive { "-x" } else { "-s" },
        code = crate::exit::LOCKED,
        end = crate::ssh::PRELUDE_END,
    )
}

/// When the command held [`HOST_LOCK`] (host uptime, seconds): the prelude's two lines, taken
/// out of `stderr` so that the command's own output is what error messages show.
pub fn take_lock_marks(stderr: &mut Vec<u8>) -> (Option<f64>, Option<f64>) {
    let mut take = |marker: &str| -> Option<f64> {
        let m = marker.as_bytes();
        let at = stderr.windows(m.len()).position(|w| w == m)?;
        let end = stderr[at..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(stderr.len(), |i| at + i + 1);
        let value = String::from_utf8_lossy(&stderr[at + m.len()..end])
            .trim()
            .parse::<f64>()
            .ok();
        stderr.drain(at..end);
        value
    };
    (take(LOCK_HELD), take(LOCK_RELEASED))
}

/// How long the command waited for [`HOST_LOCK`], from its stderr.
pub fn lock_wait_of(stderr: &[u8]) -> Option<Duration> {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().find_map(|l| l.strip_prefix(LOCK_ACQUIRED))?;
    let ms = line.strip_suffix(" ms")?.trim().parse::<u64>().ok()?;
    Some(Duration::from_millis(ms))
}

/// Set once any command of this process gave up waiting for a host lock: the run then exits
/// [`crate::exit::LOCKED`] (try again later) rather than a plain failure.
static GAVE_UP_ON_LOCK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn gave_up_on_lock() -> bool {
    GAVE_UP_ON_LOCK.load(std::sync::atomic::Ordering::Relaxed)
}

/// THE function every remote command goes through.
pub async fn exec(
    conn: &Connection,
    step_id: &str,
    label: &str,
    mut cmd: Command,
    observer: &dyn Observer,
) -> (Result<Output, SshError>, CommandRecord) {
    let (tell, mut told) = tokio::sync::mpsc::unbounded_channel();
    let mut watch = None;
    let privileged = cmd.privileged;
    if privileged {
        let full = conn.target.lock_wait;
        let (exclusive, wait) = if read_only(step_id) {
            (false, full / 2)
        } else {
            (true, full)
        };
        cmd.script = with_host_lock(&cmd.script, exclusive, wait);
        // The wait must not eat into the command's own time limit.
        cmd.timeout = Some(cmd.timeout.unwrap_or(conn.target.command_timeout) + wait);
        watch = Some(StderrWatch {
            marker: LOCK_WAITED,
            tell,
        });
    }
    let stdin_bytes = cmd.stdin.as_ref().map_or(0, Vec::len);
    let start = Instant::now();
    let run = conn.exec_watched(cmd, watch);
    tokio::pin!(run);
    let mut res = loop {
        tokio::select! {
            res = &mut run => break res,
            Some(()) = told.recv() => observer.lock_waiting(conn.host(), step_id),
        }
    };
    let (held_from, held_to) = match res.as_mut() {
        Ok(o) if privileged => take_lock_marks(&mut o.stderr),
        _ => (None, None),
    };
    let stderr = res.as_ref().map(|o| o.stderr.as_slice()).unwrap_or(&[]);
    let gave_up = res.as_ref().is_ok_and(|o| {
        o.code == Some(crate::exit::LOCKED as u32)
            && String::from_utf8_lossy(&o.stderr).contains(LOCK_GAVE_UP)
    });
    if gave_up {
        GAVE_UP_ON_LOCK.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let record = CommandRecord {
        host: conn.host().to_string(),
        step_id: step_id.to_string(),
        label: label.to_string(),
        code: res.as_ref().ok().and_then(|o| o.code),
        signal: res.as_ref().ok().and_then(|o| o.signal.clone()),
        duration: start.elapsed(),
        lock_wait: lock_wait_of(stderr),
        lock_held: held_from.map(|from| (from, held_to)),
        error: res.as_ref().err().map(|e| e.to_string()),
        stdin_bytes,
    };
    observer.command_finished(&record);
    (res, record)
}

/// Last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub ok: bool,
    /// Exit code of the command that decided the result.
    pub code: Option<u32>,
    #[serde(with = "duration_ms")]
    pub duration: Duration,
    pub stderr_tail: String,
    /// Transport or setup error (no exit code then).
    pub error: Option<String>,
    pub commands: Vec<CommandRecord>,
}

impl StepResult {
    fn failed(error: String) -> StepResult {
        StepResult {
            ok: false,
            code: None,
            duration: Duration::ZERO,
            stderr_tail: String::new(),
            error: Some(error),
            commands: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// Hosts worked on at once.
    pub parallel_hosts: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { parallel_hosts: 32 }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    /// In plan order.
    pub hosts: Vec<HostReport>,
}

impl ApplyReport {
    pub fn ok(&self) -> bool {
        self.hosts.iter().all(|h| h.ok)
    }
    pub fn failures(&self) -> impl Iterator<Item = &HostReport> {
        self.hosts.iter().filter(|h| !h.ok)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub host: String,
    pub ok: bool,
    /// Steps applied successfully.
    pub applied: usize,
    /// Steps not attempted because an earlier one failed.
    pub skipped: usize,
    pub failed: Option<StepFailure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepFailure {
    pub step_id: String,
    pub title: String,
    pub code: Option<u32>,
    pub stderr_tail: String,
    pub error: Option<String>,
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {} ({})", self.step_id, self.title)?;
        match (&self.error, self.code) {
            (Some(e), _) => write!(f, ": {e}")?,
            (None, Some(c)) => write!(f, ": exit code {c}")?,
            (None, None) => write!(f, ": killed by a signal")?,
        }
        if !self.stderr_tail.is_empty() {
            write!(f, "\n{}", self.stderr_tail)?;
        }
        Ok(())
    }
}

/// Runs one step on one host. The SSH implementation is [`SshRunner`]; tests use fakes.
pub trait StepRunner: Sync {
    fn run<'a>(
        &'a self,
        host: &'a str,
        step: &'a Step,
    ) -> impl Future<Output = StepResult> + Send + 'a;
}

/// Package installs and similar scripts can take minutes; this bounds a hung one.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Remote script that writes stdin to `path` atomically: a temp file in the same directory (so
/// the rename cannot cross file systems), owner and mode set before the rename, so readers see
/// either the old file or the complete new one, never a partial or wrongly-permissioned file.
pub fn write_file_script(path: &str, mode: &str, owner: &str, then: Option<&str>) -> String {
    let dir = match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((d, _)) => d.to_string(),
    };
    let mut s = format!(
        "set -e\nmkdir -p {dir}\ntmp=$(mktemp {tmpl})\ntrap 'rm -f \"$tmp\"' EXIT\ncat > \"$tmp\"\n\
         chown {owner} \"$tmp\"\nchmod {mode} \"$tmp\"\nmv -f \"$tmp\" {path}\ntrap - EXIT\n",
        dir = q(&dir),
        tmpl = q(&format!("{path}.otp-tmp.XXXXXX")),
        owner = q(owner),
        mode = q(mode),
        path = q(path),
    );
    if let Some(t) = then {
        s.push_str(t);
        s.push('\n');
    }
    s
}

/// Bounds one cluster or addon step (a control-plane join waits for etcd and the API server).
pub const CLUSTER_STEP_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The remote command for a step's action (`None` for steps without one), for steps that read
/// no run-time value (every node step).
pub fn command_for(step: &Step) -> Option<(String, Command)> {
    command_with(step, &RuntimeValues::default()).ok().flatten()
}

/// The remote command for a step's action, with the run-time values it reads on stdin (they
/// never reach the script text or argv). `None` for steps without a remote command.
pub fn command_with(
    step: &Step,
    rt: &RuntimeValues,
) -> Result<Option<(String, Command)>, RuntimeError> {
    let timeout = Some(if step.kind == StepKind::Node {
        SCRIPT_TIMEOUT
    } else {
        CLUSTER_STEP_TIMEOUT
    });
    let script = |script: &str, stdin: Option<Vec<u8>>| Command {
        script: script.to_string(),
        privileged: true,
        stdin,
        timeout,
    };
    Ok(match &step.action {
        Action::None | Action::Generate(_) | Action::RemoveLocal { .. } => None,
        Action::Script {
            script: text,
            stdin,
            ..
        } => {
            let input = if stdin.is_empty() {
                None
            } else {
                Some(rt.stdin_for(stdin)?.expose().as_bytes().to_vec())
            };
            Some(("script".into(), script(text, input)))
        }
        Action::FetchKubeconfig { script: text, .. } => {
            Some(("fetch kubeconfig".into(), script(text, None)))
        }
        Action::WriteFile {
            path,
            content,
            mode,
            then,
            owner,
        } => Some((
            format!("write {path}"),
            script(
                &write_file_script(path, mode, owner, then.as_deref()),
                Some(content.clone()),
            ),
        )),
    })
}

/// What a step would run, for `plan -v` / JSON: the script, and for file writes the size of the
/// content sent on stdin (never the content: it may be secret).
pub fn preview(step: &Step) -> Option<String> {
    let (_, cmd) = command_for(step)?;
    Some(match &cmd.stdin {
        Some(data) => format!("{}# stdin: {} bytes\n", cmd.script, data.len()),
        None => cmd.script,
    })
}

/// Runs steps over the hosts' SSH connections.
pub struct SshRunner<'a> {
    pub conns: &'a BTreeMap<String, Connection>,
    pub observer: &'a dyn Observer,
}

impl StepRunner for SshRunner<'_> {
    async fn run(&self, host: &str, step: &Step) -> StepResult {
        let Some(conn) = self.conns.get(host) else {
            return StepResult::failed(format!("{host}: no connection"));
        };
        // Node steps read no run-time value.
        run_step(conn, step, &RuntimeValues::default(), self.observer)
            .await
            .0
    }
}

/// Run one step's remote command on `conn`: the one path of node, cluster and addon steps
/// (through [`exec`]: host lock, journal). Returns the result and, when the command ran, its
/// output (captures and the kubeconfig are read from it).
pub async fn run_step(
    conn: &Connection,
    step: &Step,
    rt: &RuntimeValues,
    observer: &dyn Observer,
) -> (StepResult, Option<Output>) {
    let (label, cmd) = match command_with(step, rt) {
        Err(e) => return (StepResult::failed(e.to_string()), None),
        Ok(None) => {
            return (
                StepResult {
                    ok: true,
                    code: Some(0),
                    duration: Duration::ZERO,
                    stderr_tail: String::new(),
                    error: None,
                    commands: Vec::new(),
                },
                None,
            );
        }
        Ok(Some(c)) => c,
    };
    let (res, record) = exec(conn, &step.id, &label, cmd, observer).await;
    let duration = record.duration;
    match res {
        Ok(out) => (
            StepResult {
                ok: out.success(),
                code: out.code,
                duration,
                stderr_tail: tail(&out.stderr_str(), 20),
                error: out.signal.as_ref().map(|s| format!("killed by signal {s}")),
                commands: vec![record],
            },
            Some(out),
        ),
        Err(e) => (
            StepResult {
                ok: false,
                code: None,
                duration,
                stderr_tail: String::new(),
                error: Some(e.to_string()),
                commands: vec![record],
            },
            None,
        ),
    }
}

/// A cluster or addon step that failed; the run stops after its wave.
#[derive(Debug, thiserror::Error)]
#[error("{host}: step {step} failed: {reason}")]
pub struct WaveError {
    pub host: String,
    pub step: String,
    pub reason: String,
}

/// Run `steps` wave by wave; steps of one wave run in parallel. Stops after the first wave with
/// a failure (later waves depend on earlier ones). Run-time values (bootstrap token,
/// certificate key, CA hash, encryption key) live only in this run's memory: generated by local
/// steps, captured from steps' stdout, fed to later steps on stdin. Returns how many steps were
/// applied.
pub async fn apply_waves(
    steps: &[Step],
    conns: &BTreeMap<String, Connection>,
    observer: &dyn Observer,
) -> Result<usize, WaveError> {
    let mut rt = RuntimeValues::default();
    let mut waves: BTreeMap<u32, Vec<&Step>> = BTreeMap::new();
    for s in steps {
        waves.entry(s.wave).or_default().push(s);
    }
    let mut applied = 0;
    for (_, wave) in waves {
        // Local actions first: later remote steps of the same wave may need generated values.
        for s in wave.iter().filter(|s| s.host == LOCAL) {
            match &s.action {
                Action::Generate(input) => rt.generate(*input),
                Action::RemoveLocal { path } => remove_local(path),
                _ => {}
            }
            applied += 1;
        }
        let remote: Vec<&Step> = wave.into_iter().filter(|s| s.host != LOCAL).collect();
        let futs: Vec<_> = remote
            .iter()
            .map(|s| run_wave_step(s, conns, &rt, observer))
            .collect();
        let results = futures::future::join_all(futs).await;
        let mut first_error = None;
        for (s, res) in remote.iter().zip(results) {
            match res {
                Ok(stdout) => {
                    applied += 1;
                    if let (
                        Action::Script {
                            capture: Some(c), ..
                        },
                        Some(out),
                    ) = (&s.action, stdout)
                        && let Err(e) = rt.record(*c, &out)
                    {
                        first_error.get_or_insert(WaveError {
                            host: s.host.clone(),
                            step: s.id.clone(),
                            reason: e.to_string(),
                        });
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    Ok(applied)
}

fn remove_local(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("cannot remove {}: {e}", path.display());
    }
}

/// Run one remote step of a wave; returns its stdout when the step captures a value.
async fn run_wave_step(
    s: &Step,
    conns: &BTreeMap<String, Connection>,
    rt: &RuntimeValues,
    observer: &dyn Observer,
) -> Result<Option<String>, WaveError> {
    let fail = |reason: String| WaveError {
        host: s.host.clone(),
        step: s.id.clone(),
        reason,
    };
    let conn = conns
        .get(&s.host)
        .ok_or_else(|| fail("host is not connected".into()))?;
    observer.step_started(&s.host, s);
    let start = Instant::now();
    let (mut result, out) = run_step(conn, s, rt, observer).await;
    let outcome = match out {
        None if !result.ok => Err(fail(result.error.clone().unwrap_or_default())),
        None => Ok(None),
        Some(out) if !out.success() => Err(fail(format!(
            "exit {:?}: {}",
            out.code,
            tail(&out.stderr_str(), 15)
        ))),
        Some(out) => match &s.action {
            Action::FetchKubeconfig { local_path, .. } => write_private(local_path, &out.stdout)
                .map(|_| None)
                .map_err(fail),
            Action::Script {
                capture: Some(_), ..
            } => Ok(Some(out.stdout_str())),
            _ => Ok(None),
        },
    };
    result.ok = outcome.is_ok();
    result.duration = start.elapsed();
    result.error = outcome.as_ref().err().map(|e| e.to_string());
    observer.step_finished(&s.host, s, &result);
    outcome
}

/// Write the admin kubeconfig with mode 0600 from the start (never world-readable, not even
/// briefly), atomically.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Apply `plan` over SSH.
pub async fn apply(
    plan: &Plan,
    conns: &BTreeMap<String, Connection>,
    observer: &dyn Observer,
    opts: ApplyOptions,
) -> ApplyReport {
    let runner = SshRunner { conns, observer };
    apply_with(plan, &runner, observer, opts).await
}

/// The ordering / stop-on-failure / parallelism logic, over any [`StepRunner`].
pub async fn apply_with<R: StepRunner>(
    plan: &Plan,
    runner: &R,
    observer: &dyn Observer,
    opts: ApplyOptions,
) -> ApplyReport {
    // Futures collected first: a stream over a mapping closure trips the compiler's
    // higher-ranked `Send` check, and callers need this future to be `Send`.
    let futs: Vec<_> = plan
        .hosts
        .iter()
        .enumerate()
        .map(|(i, hp)| async move { (i, run_host(hp, runner, observer).await) })
        .collect();
    let mut reports: Vec<(usize, HostReport)> = futures::stream::iter(futs)
        .buffer_unordered(opts.parallel_hosts.max(1))
        .collect()
        .await;
    reports.sort_by_key(|(i, _)| *i);
    ApplyReport {
        hosts: reports.into_iter().map(|(_, r)| r).collect(),
    }
}

async fn run_host<R: StepRunner>(hp: &HostPlan, runner: &R, observer: &dyn Observer) -> HostReport {
    let todo: Vec<&Step> = hp.steps.iter().filter(|s| s.change).collect();
    let mut report = HostReport {
        host: hp.host.clone(),
        ok: true,
        applied: 0,
        skipped: 0,
        failed: None,
    };
    // A host with nothing to change was already reported by the plan ("nothing to do").
    if todo.is_empty() {
        return report;
    }
    observer.host_started(&hp.host, todo.len());
    for (i, step) in todo.iter().enumerate() {
        observer.step_started(&hp.host, step);
        let res = runner.run(&hp.host, step).await;
        observer.step_finished(&hp.host, step, &res);
        if !res.ok {
            report.ok = false;
            report.skipped = todo.len() - i - 1;
            report.failed = Some(StepFailure {
                step_id: step.id.clone(),
                title: step.title.clone(),
                code: res.code,
                stderr_tail: res.stderr_tail,
                error: res.error,
            });
            break;
        }
        report.applied += 1;
    }
    observer.host_finished(&hp.host, report.ok);
    report
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
