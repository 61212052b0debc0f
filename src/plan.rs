//! The plan: per host, the steps of each phase, whether each needs to run and why.
//! CONTRACT: used by report (printing), apply (running) and commands.

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub hosts: Vec<HostPlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostPlan {
    pub host: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub phase: String,
    /// Stable id, e.g. `prepare/sysctl/net.ipv4.ip_forward`.
    pub id: String,
    /// Human title, e.g. `sysctl net.ipv4.ip_forward = 1`.
    pub title: String,
    /// Whether the probe says a change is needed.
    pub change: bool,
    /// Why (or why not): `net.ipv4.ip_forward is 0, want 1` / `already 1`.
    pub reason: String,
    #[serde(skip)]
    pub action: Action,
}

/// What applying a step does on the host.
#[derive(Debug, Clone, Default)]
pub enum Action {
    #[default]
    None,
    /// Run a shell script as root.
    Script { script: String },
    /// Write a file atomically (temp + rename), then run `then` (if any).
    WriteFile {
        path: String,
        content: Vec<u8>,
        mode: String,
        then: Option<String>,
    },
}

impl Plan {
    pub fn changes(&self) -> usize {
        self.hosts
            .iter()
            .map(|h| h.steps.iter().filter(|s| s.change).count())
            .sum()
    }
}
