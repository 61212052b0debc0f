//! The SSH side of the cluster phases (src/phases/cluster is pure): probing cluster state within
//! the facts round trip, one API probe on one control plane, and executing cluster steps wave by
//! wave with run-time values (token, certificate key, CA hash, encryption key) fed on stdin.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crate::apply::{self, Observer, StepResult};
use crate::facts::{FactRequest, Facts};
use crate::inventory::Inventory;
use crate::phases::cluster::{
    self, ClusterAction, ClusterState, ClusterStep, RuntimeValues, step::LOCAL,
};
use crate::plan::{Action, Step};
use crate::ssh::{Command, Connection};

/// Name of the facts report carrying the cluster host probe.
pub const HOST_REPORT: &str = "cluster/host";
/// Reports run on control planes that hold admin.conf: the API probe and the addon probe. They
/// ride in the facts round trip so a converged cluster costs no extra round trip to check.
pub const API_REPORT: &str = "cluster/api";
pub const ADDONS_REPORT: &str = "addons/live";

fn when_admin_conf(script: &str) -> String {
    format!("[ -f /etc/kubernetes/admin.conf ] || exit 0\n{script}")
}

/// Bounds one cluster step (a control-plane join waits for etcd and the API server).
const STEP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20 * 60);

#[derive(Debug, thiserror::Error)]
pub enum ClusterRunError {
    #[error("{host}: cluster probe: {reason}")]
    Probe { host: String, reason: String },
    #[error("{host}: step {step} failed: {reason}")]
    Step {
        host: String,
        step: String,
        reason: String,
    },
}

/// Add the cluster host probe to every host's facts request (no extra round trip). The API and
/// addon probes ride on the first control plane only: on a converged cluster it is the API
/// host, and every other control plane would only repeat the same kubectl queries.
pub fn add_probe_reports(inv: &Inventory, reqs: &mut BTreeMap<String, FactRequest>) {
    let vip = cluster::probe_vip(inv);
    let first_cp = inv.control_planes().next().map(|h| h.name.as_str());
    for (name, req) in reqs.iter_mut() {
        if let Some(h) = inv.host(name) {
            let files = cluster::probe_files(h);
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            req.reports.insert(
                HOST_REPORT.to_string(),
                cluster::host_probe_script(&files, vip),
            );
            if Some(name.as_str()) == first_cp {
                req.reports.insert(
                    API_REPORT.to_string(),
                    when_admin_conf(&cluster::api_probe_script()),
                );
                req.reports.insert(
                    ADDONS_REPORT.to_string(),
                    when_admin_conf(&crate::addons::probe_script()),
                );
            }
        }
    }
}

/// What the probes found: the cluster state and, from the API host, the addon probe's output.
pub struct Probed {
    pub state: ClusterState,
    pub addons_report: Option<String>,
}

/// Build the cluster state from the gathered facts. The API host's probes come from its facts
/// report; only when the API host is not the first control plane (that one is fresh or was
/// reset) do they cost one extra command there.
pub async fn state(
    inv: &Inventory,
    facts: &BTreeMap<String, Facts>,
    conns: &BTreeMap<String, Connection>,
    observer: &dyn Observer,
) -> Result<Probed, ClusterRunError> {
    let mut st = ClusterState::default();
    for (name, f) in facts {
        let Some(out) = f.reports.get(HOST_REPORT) else {
            continue;
        };
        let hf = cluster::parse_host_probe(name, out).map_err(|e| ClusterRunError::Probe {
            host: name.clone(),
            reason: e.to_string(),
        })?;
        st.hosts.insert(name.clone(), hf);
    }
    let local = cluster::step::kubeconfig_path(inv);
    if let Ok(text) = std::fs::read_to_string(&local) {
        st.local_kubeconfig_server = cluster::kubeconfig_server(&text);
    }
    let mut addons_report = None;
    if let Some(host) = st.api_probe_host(inv) {
        let report = |name: &str| {
            facts
                .get(host)
                .and_then(|f| f.reports.get(name))
                .filter(|out| !out.trim().is_empty())
                .cloned()
        };
        let (api_out, addons_out) = match report(API_REPORT) {
            Some(out) => (out, report(ADDONS_REPORT)),
            None => {
                let api = probe_on(host, conns, observer, cluster::api_probe_script()).await?;
                let addons = probe_on(host, conns, observer, crate::addons::probe_script()).await?;
                (api, Some(addons))
            }
        };
        match cluster::parse_api_probe(host, &api_out) {
            Ok(api) => {
                st.api = Some(api);
                addons_report = addons_out;
            }
            // An init killed before its API server ever answered: the planner resets and
            // redoes it (no API is what it expects then).
            Err(_) if st.unfinished_init_without_data(inv) == Some(host) => {}
            Err(e) => {
                return Err(ClusterRunError::Probe {
                    host: host.to_string(),
                    reason: format!(
                        "{e}. {host} holds admin.conf but its API server did not answer, so no \
                         cluster step can be planned safely (check `journalctl -u kubelet` on \
                         {host}; if `kubeadm init` failed there and nothing has joined, \
                         `otp-provision reset --yes` starts over)"
                    ),
                });
            }
        }
    }
    Ok(Probed {
        state: st,
        addons_report,
    })
}

/// Run one read-only probe script on `host` (the rare path: API host is not the first control
/// plane). A non-zero exit is left to the parser, which names what is missing.
async fn probe_on(
    host: &str,
    conns: &BTreeMap<String, Connection>,
    observer: &dyn Observer,
    script: String,
) -> Result<String, ClusterRunError> {
    let conn = conns.get(host).ok_or_else(|| ClusterRunError::Probe {
        host: host.to_string(),
        reason: "not connected".into(),
    })?;
    let cmd = Command {
        script,
        privileged: true,
        stdin: None,
        timeout: Some(std::time::Duration::from_secs(120)),
    };
    let (res, _) = apply::exec(conn, "cluster/probe", "probe the API", cmd, observer).await;
    res.map(|out| out.stdout_str())
        .map_err(|e| ClusterRunError::Probe {
            host: host.to_string(),
            reason: e.to_string(),
        })
}

/// The addon side of the cluster, from the API host's addon probe; empty (everything planned
/// as new) before the cluster exists.
pub fn addon_state(
    inv: &Inventory,
    probed: &Probed,
) -> Result<crate::addons::LiveAddonState, ClusterRunError> {
    let Some(host) = probed.state.api_probe_host(inv) else {
        return Ok(Default::default());
    };
    match &probed.addons_report {
        Some(out) if !out.trim().is_empty() => crate::addons::LiveAddonState::parse(host, out)
            .map_err(|e| ClusterRunError::Probe {
                host: host.to_string(),
                reason: e.to_string(),
            }),
        _ => Ok(Default::default()),
    }
}

/// Apply the addon steps on `host` in order, stopping at the first failure. Returns how many
/// were applied.
pub async fn apply_addons(
    steps: &[crate::addons::AddonStep],
    host: &str,
    conns: &BTreeMap<String, Connection>,
    observer: &dyn Observer,
) -> Result<usize, ClusterRunError> {
    let mut applied = 0;
    for s in steps {
        let Some(script) = s.apply_script() else {
            continue;
        };
        let step = s.to_step();
        let fail = |reason: String| ClusterRunError::Step {
            host: host.to_string(),
            step: step.id.clone(),
            reason,
        };
        let conn = conns
            .get(host)
            .ok_or_else(|| fail("host is not connected".into()))?;
        observer.step_started(host, &step);
        let start = Instant::now();
        let cmd = Command {
            script,
            privileged: true,
            stdin: None,
            timeout: Some(STEP_TIMEOUT),
        };
        let (res, record) = apply::exec(conn, &step.id, &step.title, cmd, observer).await;
        let outcome = match res {
            Err(e) => Err(fail(e.to_string())),
            Ok(out) if !out.success() => Err(fail(format!(
                "exit {:?}: {}",
                out.code,
                apply::tail(&out.stderr_str(), 15)
            ))),
            Ok(_) => Ok(()),
        };
        observer.step_finished(
            host,
            &step,
            &StepResult {
                ok: outcome.is_ok(),
                code: record.code,
                duration: start.elapsed(),
                stderr_tail: String::new(),
                error: outcome.as_ref().err().map(|e| e.to_string()),
                commands: vec![record],
            },
        );
        outcome?;
        applied += 1;
    }
    Ok(applied)
}

fn as_plan_step(s: &ClusterStep) -> Step {
    Step {
        phase: "cluster".into(),
        id: s.id.clone(),
        title: s.title.clone(),
        change: true,
        reason: s.reason.clone(),
        action: Action::None,
    }
}

/// Run `steps` wave by wave; steps of one wave run in parallel. Stops after the first wave with
/// a failure (later waves depend on earlier ones). Returns how many steps were applied.
pub async fn execute(
    steps: &[ClusterStep],
    conns: &BTreeMap<String, Connection>,
    observer: &dyn Observer,
) -> Result<usize, ClusterRunError> {
    let mut rt = RuntimeValues::default();
    let mut waves: BTreeMap<u32, Vec<&ClusterStep>> = BTreeMap::new();
    for s in steps {
        waves.entry(s.wave).or_default().push(s);
    }
    let mut applied = 0;
    for (_, wave) in waves {
        // Local actions first: later remote steps of the same wave may need generated values.
        for s in wave.iter().filter(|s| s.host == LOCAL) {
            match &s.action {
                ClusterAction::Generate(input) => rt.generate(*input),
                ClusterAction::RemoveLocal { path } => remove_local(path),
                _ => {}
            }
            applied += 1;
        }
        let remote: Vec<&ClusterStep> = wave.into_iter().filter(|s| s.host != LOCAL).collect();
        let futs: Vec<_> = remote
            .iter()
            .map(|s| run_remote(s, conns, &rt, observer))
            .collect();
        let results = futures::future::join_all(futs).await;
        let mut first_error = None;
        for (s, res) in remote.iter().zip(results) {
            match res {
                Ok(stdout) => {
                    applied += 1;
                    if let (
                        ClusterAction::Script {
                            capture: Some(c), ..
                        },
                        Some(out),
                    ) = (&s.action, stdout)
                        && let Err(e) = rt.record(*c, &out)
                    {
                        first_error.get_or_insert(ClusterRunError::Step {
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

/// Run one remote step; returns its stdout when the step captures a value.
async fn run_remote(
    s: &ClusterStep,
    conns: &BTreeMap<String, Connection>,
    rt: &RuntimeValues,
    observer: &dyn Observer,
) -> Result<Option<String>, ClusterRunError> {
    let fail = |reason: String| ClusterRunError::Step {
        host: s.host.clone(),
        step: s.id.clone(),
        reason,
    };
    let conn = conns
        .get(&s.host)
        .ok_or_else(|| fail("host is not connected".into()))?;
    let plan_step = as_plan_step(s);
    observer.step_started(&s.host, &plan_step);
    let start = Instant::now();
    let (script, stdin) = match &s.action {
        ClusterAction::Script { script, stdin, .. } => {
            let input = rt.stdin_for(stdin).map_err(|e| fail(e.to_string()))?;
            (script.clone(), Some(input.expose().as_bytes().to_vec()))
        }
        ClusterAction::FetchKubeconfig { script, .. } => (script.clone(), None),
        _ => return Ok(None),
    };
    let cmd = Command {
        script,
        privileged: true,
        stdin,
        timeout: Some(STEP_TIMEOUT),
    };
    let (res, record) = apply::exec(conn, &s.id, &s.title, cmd, observer).await;
    let outcome = match res {
        Err(e) => Err(fail(e.to_string())),
        Ok(out) if !out.success() => Err(fail(format!(
            "exit {:?}: {}",
            out.code,
            apply::tail(&out.stderr_str(), 15)
        ))),
        Ok(out) => match &s.action {
            ClusterAction::FetchKubeconfig { local_path, .. } => {
                write_private(local_path, &out.stdout)
                    .map(|_| None)
                    .map_err(fail)
            }
            ClusterAction::Script {
                capture: Some(_), ..
            } => Ok(Some(out.stdout_str())),
            _ => Ok(None),
        },
    };
    let result = StepResult {
        ok: outcome.is_ok(),
        code: record.code,
        duration: start.elapsed(),
        stderr_tail: String::new(),
        error: outcome.as_ref().err().map(|e| e.to_string()),
        commands: vec![record],
    };
    observer.step_finished(&s.host, &plan_step, &result);
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
