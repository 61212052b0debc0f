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
        /// `user:group` the file belongs to (added by the engine; `root:root` when unsure).
        owner: String,
    },
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
