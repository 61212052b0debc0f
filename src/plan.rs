//! The plan: per host, the steps of each phase, whether each needs to run and why.
//! CONTRACT: used by report (printing), apply (running) and commands.
//!
//! [`Step`] is the one step type of every operation: node steps (playbooks), cluster steps
//! (kubeadm, tokens, kubeconfig) and addon steps share it, and the executor in
//! [`crate::apply`] runs them all.

use std::path::PathBuf;

use serde::Serialize;

use crate::runtime::{Capture, RuntimeInput};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub hosts: Vec<HostPlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostPlan {
    pub host: String,
    pub steps: Vec<Step>,
}

/// Host name of steps that run on the operator's machine (generated values, the local
/// kubeconfig).
pub const LOCAL: &str = "(local)";

/// What a step is about. Node steps say it with their `phase` (from the playbooks); cluster
/// steps with the variant; addon steps are [`StepKind::Addon`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// A playbook step on one host.
    Node,
    Generate,
    FetchEncryptionKey,
    Reset,
    RemoveEtcdMember,
    DeleteNode,
    SecurityFiles,
    KubeVip,
    Init,
    KubeVipAdminConf,
    Addons,
    Cni,
    BootstrapToken,
    UploadCerts,
    JoinControlPlane,
    JoinWorker,
    ApproveCsrs,
    Labels,
    CleanupTokens,
    Kubeconfig,
    /// Server-side apply of one addon from a control plane.
    Addon,
}

// The serialized fields are the node-step shape of `plan -o json` (`hosts[].steps[]`), which
// operators' scripts read; the unified `steps` array of that document carries the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub phase: String,
    /// Stable id, e.g. `prepare/sysctl/net.ipv4.ip_forward`, `cluster/join/cp-2`.
    pub id: String,
    /// Inventory host the step runs on, or [`LOCAL`].
    #[serde(skip)]
    pub host: String,
    /// Cluster and addon steps: steps with the same wave may run in parallel; waves run in
    /// ascending order. Node steps run in list order per host and leave it 0.
    #[serde(skip)]
    pub wave: u32,
    #[serde(skip)]
    pub kind: StepKind,
    /// Human title, e.g. `sysctl net.ipv4.ip_forward = 1`.
    pub title: String,
    /// Whether the probe says a change is needed.
    pub change: bool,
    /// Why (or why not): `net.ipv4.ip_forward is 0, want 1` / `already 1`.
    pub reason: String,
    #[serde(skip)]
    pub action: Action,
}

/// What applying a step does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub enum Action {
    #[default]
    None,
    /// Run `script` as root; feed the listed run-time values on stdin, one per line, in order
    /// (node steps list none); store the stdout's last line as `capture` when set.
    Script {
        script: String,
        stdin: Vec<RuntimeInput>,
        capture: Option<Capture>,
    },
    /// Write a file atomically (temp + rename), then run `then` (if any).
    WriteFile {
        path: String,
        content: Vec<u8>,
        mode: String,
        then: Option<String>,
        /// `user:group` the file belongs to (added by the engine; `root:root` when unsure).
        owner: String,
    },
    /// Create a fresh random value on the operator's machine ([`crate::runtime::RuntimeValues::generate`]).
    Generate(RuntimeInput),
    /// Run `script` (prints admin.conf; treat the output as secret) and write it to
    /// `local_path` with mode 0600.
    FetchKubeconfig {
        script: String,
        local_path: PathBuf,
        server: String,
    },
    /// Delete a file on the operator's machine (`reset --yes`: the kubeconfig).
    RemoveLocal { path: PathBuf },
}

impl Action {
    /// A script that needs no run-time value (every node step's script).
    pub fn script(script: String) -> Action {
        Action::Script {
            script,
            stdin: Vec::new(),
            capture: None,
        }
    }
}

impl Plan {
    /// Steps of `host`, or `None` when the host is not in the plan.
    pub fn host(&self, host: &str) -> Option<&HostPlan> {
        self.hosts.iter().find(|h| h.host == host)
    }

    /// A plan with only the steps of `phases` (hosts left without steps are dropped), to apply
    /// phase by phase when later phases depend on earlier ones across hosts.
    pub fn only_phases(&self, phases: &[&str]) -> Plan {
        Plan {
            hosts: self
                .hosts
                .iter()
                .map(|h| HostPlan {
                    host: h.host.clone(),
                    steps: h
                        .steps
                        .iter()
                        .filter(|s| phases.contains(&s.phase.as_str()))
                        .cloned()
                        .collect(),
                })
                .filter(|h| !h.steps.is_empty())
                .collect(),
        }
    }

    /// Append another plan's steps (per host, in order), e.g. phases planned separately.
    pub fn extend(&mut self, other: Plan) {
        for hp in other.hosts {
            match self.hosts.iter_mut().find(|h| h.host == hp.host) {
                Some(h) => h.steps.extend(hp.steps),
                None => self.hosts.push(hp),
            }
        }
    }

    /// Hosts with at least one step to apply.
    pub fn hosts_with_changes(&self) -> impl Iterator<Item = &HostPlan> {
        self.hosts.iter().filter(|h| h.changes() > 0)
    }

    pub fn changes(&self) -> usize {
        self.hosts
            .iter()
            .map(|h| h.steps.iter().filter(|s| s.change).count())
            .sum()
    }
}

impl Step {
    /// The step's line in `plan`/`up`/day-2 output: `+` to change, `=` up to date. Node steps
    /// are listed under their host; cluster steps name their wave and host; addon steps are
    /// listed under the control plane they apply from and say it all in their reason.
    pub fn line(&self) -> String {
        let mark = if self.change { '+' } else { '=' };
        match self.kind {
            StepKind::Node => format!("  {mark} {}: {}", self.title, self.reason),
            StepKind::Addon => format!("  {mark} {}", self.reason),
            _ => format!(
                "  {mark} [{}] {}: {}: {}",
                self.wave, self.host, self.title, self.reason
            ),
        }
    }

    /// The step in the `steps` array of `plan -o json` / `up -o json`: one shape for node,
    /// cluster and addon steps (never the action: scripts may be long, file contents secret).
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "host": self.host,
            "wave": self.wave,
            "kind": self.kind,
            "phase": self.phase,
            "title": self.title,
            "reason": self.reason,
            "change": self.change,
        })
    }
}

impl HostPlan {
    pub fn changes(&self) -> usize {
        self.steps.iter().filter(|s| s.change).count()
    }
}

impl std::fmt::Display for Plan {
    /// Terse text form: one line per step, `+` for a change, `=` for nothing to do.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for h in &self.hosts {
            writeln!(f, "{} ({} to change)", h.host, h.changes())?;
            for s in &h.steps {
                let mark = if s.change { '+' } else { '=' };
                writeln!(f, "  {mark} {} [{}]: {}", s.title, s.id, s.reason)?;
            }
        }
        Ok(())
    }
}
