//! Orchestration shared by `facts`, `plan` and `up`: connect every host once, gather facts in one
//! round trip per host, plan, and (for `up`) apply that same plan. `plan` is `up` stopped after
//! planning — both call [`prepare`].

use std::collections::BTreeMap;
use std::time::Instant;

use futures::StreamExt;

pub mod cluster;

use crate::apply::{self, CommandRecord, Observer, StepResult};
use crate::facts::{self, FactRequest, Facts};
use crate::inventory::Inventory;
use crate::journal::{Event, Journal};
use crate::phases;
use crate::plan::{Plan, Step};
use crate::playbook::Playbooks;
use crate::report::Reporter;
use crate::ssh::{Connection, Connector, SshError, Target};

/// Follows a run: progress to the reporter, every remote command to the journal.
pub struct RunObserver<'a> {
    pub rep: &'a Reporter,
    pub journal: &'a Journal,
}

impl Observer for RunObserver<'_> {
    fn host_started(&self, host: &str, steps: usize) {
        self.rep.host_start(host, steps as u64, "applying");
    }
    fn step_started(&self, host: &str, step: &Step) {
        self.rep.host_step(host, &step.title);
    }
    fn step_finished(&self, host: &str, step: &Step, result: &StepResult) {
        self.journal.record(&Event::StepFinished {
            host,
            step: &step.id,
            ok: result.ok,
            ms: result.duration.as_millis() as u64,
        });
        self.rep
            .host_step_done(host, &step.title, result.ok, result.duration.as_secs_f64());
    }
    fn host_finished(&self, host: &str, ok: bool) {
        self.rep.host_done(
            host,
            ok,
            if ok {
                "converged"
            } else {
                "stopped at a failed step"
            },
        );
    }
    fn command_finished(&self, r: &CommandRecord) {
        self.journal.record(&Event::Exec {
            host: &r.host,
            step: &r.step_id,
            code: r.code,
            ms: r.duration.as_millis() as u64,
            changes: !crate::apply::read_only(&r.step_id),
            lock_wait_ms: r.lock_wait.map(|d| d.as_millis() as u64),
            lock_from: r.lock_held.map(|(from, _)| from),
            lock_to: r.lock_held.and_then(|(_, to)| to),
        });
    }
    fn lock_waiting(&self, host: &str, step_id: &str) {
        self.journal.record(&Event::LockWait {
            host,
            step: step_id,
        });
        self.rep.warn(format!(
            "{host}: {step_id}: waiting for {} (held by another otp-provision command: an \
             interrupted run's kubeadm or another operator's run)",
            crate::apply::HOST_LOCK
        ));
    }
}

/// A host that could not be worked on, and why (connection or facts).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unreachable {
    pub host: String,
    pub error: String,
}

/// Everything known after connecting and gathering.
pub struct Gathered {
    pub conns: BTreeMap<String, Connection>,
    pub facts: BTreeMap<String, Facts>,
    pub unreachable: Vec<Unreachable>,
}

/// Connect to `hosts` (bounded by `run.parallel_hosts`), one connection each.
pub async fn connect(
    inv: &Inventory,
    hosts: &[String],
    journal: &Journal,
) -> (BTreeMap<String, Connection>, Vec<Unreachable>) {
    let connector = Connector::new();
    let futs: Vec<_> = hosts
        .iter()
        .filter_map(|name| inv.host(name))
        .map(|host| {
            let target = Target::for_host(inv, host);
            let connector = connector.clone();
            async move {
                let start = Instant::now();
                let res = connector.connect(&target).await;
                (target.name.clone(), res, start.elapsed())
            }
        })
        .collect();
    let results: Vec<(String, Result<Connection, SshError>, std::time::Duration)> =
        futures::stream::iter(futs)
            .buffer_unordered(inv.run.parallel_hosts.max(1))
            .collect()
            .await;
    let mut conns = BTreeMap::new();
    let mut failed = Vec::new();
    for (name, res, took) in results {
        let err = res.as_ref().err().map(|e| e.to_string());
        journal.record(&Event::Connect {
            host: &name,
            ok: res.is_ok(),
            ms: took.as_millis() as u64,
            error: err.as_deref(),
        });
        match res {
            Ok(c) => {
                conns.insert(name, c);
            }
            Err(e) => failed.push(Unreachable {
                host: name,
                error: e.to_string(),
            }),
        }
    }
    failed.sort_by(|a, b| a.host.cmp(&b.host));
    (conns, failed)
}

/// Connect and gather facts for the hosts the requests name.
pub async fn gather(
    inv: &Inventory,
    reqs: &BTreeMap<String, FactRequest>,
    rep: &Reporter,
    journal: &Journal,
) -> Gathered {
    let names: Vec<String> = reqs.keys().cloned().collect();
    rep.info(format!("connecting to {} host(s)", names.len()));
    let (conns, mut unreachable) = connect(inv, &names, journal).await;
    let obs = RunObserver { rep, journal };
    let mut got = facts::gather_all(&conns, reqs, &obs, inv.run.parallel_hosts).await;
    // A host whose facts waited for an earlier run's command (still running after that run was
    // killed) was read after the others: the cluster view could mix before and after that
    // command. Read everything again (rare: only after an interrupted run).
    for _ in 0..3 {
        let waited: Vec<&str> = got
            .iter()
            .filter(|(_, r)| r.as_ref().is_ok_and(|f| f.waited_for_lock))
            .map(|(h, _)| h.as_str())
            .collect();
        if waited.is_empty() {
            break;
        }
        rep.info(format!(
            "{}: waited for a command of an earlier run to finish; gathering facts again",
            waited.join(", ")
        ));
        got = facts::gather_all(&conns, reqs, &obs, inv.run.parallel_hosts).await;
    }
    let mut facts = BTreeMap::new();
    for (host, res) in got {
        if !conns.contains_key(&host) {
            continue; // already reported as unreachable
        }
        match res {
            Ok(f) => {
                facts.insert(host, f);
            }
            Err(e) => unreachable.push(Unreachable {
                host,
                error: e.to_string(),
            }),
        }
    }
    unreachable.sort_by(|a, b| a.host.cmp(&b.host));
    Gathered {
        conns,
        facts,
        unreachable,
    }
}

/// The planning half of `up`, shared with `plan`.
pub struct Prepared {
    pub gathered: Gathered,
    /// Node-level steps (playbooks).
    pub plan: Plan,
    /// Cluster steps (kubeadm init/join, CNI, tokens, kubeconfig), in waves.
    pub cluster: Vec<Step>,
    /// Why the cluster phase was not planned, when it was not.
    pub cluster_skipped: Option<String>,
    /// Addon steps (one per addon) and the control plane they run on.
    pub addons: Vec<crate::addons::AddonPlan>,
    pub addon_host: Option<String>,
}

impl Prepared {
    pub fn changes(&self) -> usize {
        self.plan.changes()
            + self.cluster.len()
            + self.addons.iter().filter(|a| a.changes()).count()
    }

    /// What runs once every node step succeeded: the cluster steps, then the addons that
    /// change.
    pub fn waves(&self) -> Vec<Step> {
        let mut steps = self.cluster.clone();
        if self.addon_host.is_some() {
            steps.extend(self.addon_steps().into_iter().filter(|s| s.change));
        }
        steps
    }

    /// The addons that are on or have something to remove, as steps on the control plane they
    /// apply from (`-` when there is none), one wave each after the cluster's: they apply in
    /// order and the first failure stops the rest (an addon may need the one before it).
    pub fn addon_steps(&self) -> Vec<Step> {
        let host = self.addon_host.as_deref().unwrap_or("-");
        let first = self.cluster.iter().map(|s| s.wave + 1).max().unwrap_or(0);
        self.addons
            .iter()
            .filter(|a| a.kind != crate::addons::AddonChange::Off)
            .zip(first..)
            .map(|(a, wave)| Step {
                host: host.to_string(),
                wave,
                ..a.to_step()
            })
            .collect()
    }

    /// Every step of the plan, node steps first (per host, in order), then cluster and addon
    /// steps by wave.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps: Vec<Step> = self
            .plan
            .hosts
            .iter()
            .flat_map(|h| h.steps.iter().cloned())
            .collect();
        let mut later = self.cluster.clone();
        later.extend(self.addon_steps());
        // Stable: steps of one wave keep the order their planners emitted.
        later.sort_by_key(|s| s.wave);
        steps.extend(later);
        steps
    }
}

pub async fn prepare(
    inv: &Inventory,
    books: &Playbooks,
    limit: &[String],
    rep: &Reporter,
    journal: &Journal,
) -> anyhow::Result<Prepared> {
    let mut reqs = phases::fact_requests(inv, books, limit)?;
    cluster::add_probe_reports(inv, &mut reqs);
    let gathered = gather(inv, &reqs, rep, journal).await;
    for w in phases::warnings(&gathered.facts) {
        rep.warn(w);
    }
    // Before any planning: a refused version must stop `up` with nothing applied.
    phases::cluster::version::check_facts(inv, &gathered.facts)?;
    let plan = phases::plan(inv, &gathered.facts, books)?;
    let mut addons = Vec::new();
    let mut addon_host = None;
    let (cluster, cluster_skipped) = if !limit.is_empty() {
        // Cluster steps need every host's state (tokens on a control plane, joins in order);
        // a partial view could plan a second init. --limit is for node preparation only.
        (
            Vec::new(),
            Some("--limit restricts the run to node preparation".to_string()),
        )
    } else if !gathered.unreachable.is_empty() {
        (Vec::new(), Some("some hosts are unreachable".to_string()))
    } else {
        let obs = RunObserver { rep, journal };
        let probed = cluster::state(inv, &gathered.facts, &gathered.conns, &obs).await?;
        let state = &probed.state;
        let steps = crate::operations::up::plan(inv, state)?;
        let live = cluster::addon_state(inv, &probed)?;
        addons = crate::addons::plan(inv, &live)?;
        addon_host = state
            .api_probe_host(inv)
            .or_else(|| inv.control_planes().next().map(|h| h.name.as_str()))
            .map(str::to_string);
        (steps, None)
    };
    Ok(Prepared {
        gathered,
        plan,
        cluster,
        cluster_skipped,
        addons,
        addon_host,
    })
}

/// Apply `plan` over the open connections.
pub async fn apply(
    inv: &Inventory,
    plan: &Plan,
    conns: &BTreeMap<String, Connection>,
    rep: &Reporter,
    journal: &Journal,
) -> apply::ApplyReport {
    let obs = RunObserver { rep, journal };
    apply::apply(
        plan,
        conns,
        &obs,
        apply::ApplyOptions {
            parallel_hosts: inv.run.parallel_hosts,
        },
    )
    .await
}

/// Close every connection politely (a dropped russh handle just resets the TCP stream).
pub async fn close_all(conns: &BTreeMap<String, Connection>) {
    let futs: Vec<_> = conns.values().map(|c| c.close()).collect();
    futures::future::join_all(futs).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, LOCAL, StepKind};

    fn prepared(cluster: Vec<Step>, addon_host: Option<&str>) -> Prepared {
        let inv = crate::addons::tests::example();
        let parsers = crate::addons::tests::sample_parsers();
        Prepared {
            gathered: Gathered {
                conns: BTreeMap::new(),
                facts: BTreeMap::new(),
                unreachable: Vec::new(),
            },
            plan: Plan::default(),
            cluster,
            cluster_skipped: None,
            addons: crate::addons::plan_with(&inv, &parsers, &Default::default()).unwrap(),
            addon_host: addon_host.map(str::to_string),
        }
    }

    fn cluster_step(id: &str, host: &str, wave: u32) -> Step {
        Step {
            phase: "cluster".into(),
            id: id.into(),
            host: host.into(),
            wave,
            kind: StepKind::Init,
            title: format!("title of {id}"),
            change: true,
            reason: "test".into(),
            action: Action::script("true".into()),
        }
    }

    #[test]
    fn addons_apply_after_the_cluster_one_wave_each_from_one_control_plane() {
        let p = prepared(
            vec![
                cluster_step("cluster/kubeconfig", LOCAL, 12),
                cluster_step("cluster/init/cp1", "cp1", 4),
            ],
            Some("cp1"),
        );
        let waves = p.waves();
        assert_eq!(
            waves.len(),
            2 + p.addons.iter().filter(|a| a.changes()).count()
        );
        let addons: Vec<&Step> = waves.iter().filter(|s| s.kind == StepKind::Addon).collect();
        assert!(!addons.is_empty());
        assert!(addons.iter().all(|s| s.host == "cp1" && s.change));
        assert!(addons.windows(2).all(|w| w[0].wave < w[1].wave));
        assert!(addons[0].wave > 12);
        // Printed and JSON order: by wave, addons last.
        let all: Vec<String> = p.steps().iter().map(|s| s.id.clone()).collect();
        assert_eq!(all[..2], ["cluster/init/cp1", "cluster/kubeconfig"]);
        // No control plane to apply from: the addons are shown, never run.
        let none = prepared(Vec::new(), None);
        assert!(none.waves().is_empty());
        assert!(none.addon_steps().iter().all(|s| s.host == "-"));
    }

    #[test]
    fn one_line_per_step_kind() {
        let mut node = cluster_step("prepare/swap", "cp1", 0);
        node.kind = StepKind::Node;
        assert_eq!(node.line(), "  + title of prepare/swap: test");
        node.change = false;
        assert_eq!(node.line(), "  = title of prepare/swap: test");
        assert_eq!(
            cluster_step("cluster/init/cp1", "cp1", 4).line(),
            "  + [4] cp1: title of cluster/init/cp1: test"
        );
        let p = prepared(Vec::new(), Some("cp1"));
        let a = &p.addon_steps()[0];
        assert_eq!(a.line(), format!("  + {}", p.addons[0].summary()));
        assert_eq!(a.json()["kind"], "addon");
        assert_eq!(a.json()["host"], "cp1");
    }
}
