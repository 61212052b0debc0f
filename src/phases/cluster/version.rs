//! Refuse a `kubernetes_version` other than the one the running cluster runs (issue 11 item 6).
//!
//! Until a rolling upgrade exists (drain, `kubeadm upgrade`, one node at a time), changing the
//! version would make `up` install new kubelet/kubeadm/kubectl packages on every node at once,
//! with no drain and no `kubeadm upgrade`; a kubelet newer than its API server breaks the
//! version skew policy. So `plan` and `up` stop before anything is applied.
//!
//! The running version is read from the facts every run already gathers: the installed kubelet
//! package on each host whose kubelet has joined a cluster (kubelet.conf present). Not from the
//! API probe: that one is skipped with `--limit` and when a host is unreachable, and exactly
//! then the node steps (which install the packages) still run. A host that has not joined runs
//! no Kubernetes yet and may get any version.

use std::collections::BTreeMap;

use crate::facts::{Facts, NodeState};

/// Step name used in the error, so it reads like every other planning error.
pub const STEP: &str = "cluster/version";

/// The inventory asks for another version than the running cluster's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: step {STEP}: {}", hosts_text(.differing), self.explain())]
pub struct VersionChange {
    /// `cluster.kubernetes_version` of the inventory.
    pub requested: String,
    /// Running version -> member hosts that run it (every member, also those that match).
    pub running: BTreeMap<String, Vec<String>>,
    /// Members whose version differs from the requested one.
    pub differing: Vec<String>,
}

impl VersionChange {
    fn explain(&self) -> String {
        let running = self
            .running
            .iter()
            .map(|(v, hosts)| format!("{v} on {}", hosts_text(hosts)))
            .collect::<Vec<_>>()
            .join(", ");
        let todo = match self.running.keys().collect::<Vec<_>>().as_slice() {
            [one] => format!(
                "set cluster.kubernetes_version back to \"{one}\" until upgrades are supported"
            ),
            _ => "the cluster already runs more than one version: bring its nodes to one \
                  version by hand, then set cluster.kubernetes_version to it"
                .to_string(),
        };
        format!(
            "the running cluster reports Kubernetes {running}, the inventory asks for {}; \
             otp-provision cannot upgrade a running cluster yet (it would replace the packages \
             on every node at once, without drain or kubeadm upgrade): {todo}. Nothing was changed.",
            self.requested
        )
    }
}

/// `1.33.4` from an inventory value (`v1.33.4`), a package version (`1.33.4-1.1`, `1:1.33.4-0`)
/// or a kubelet report (`v1.33.4`).
pub fn upstream_version(v: &str) -> &str {
    let v = v.trim();
    let v = v.split_once(':').map_or(v, |(_, rest)| rest);
    let v = v.split_once('-').map_or(v, |(up, _)| up);
    v.trim_start_matches('v')
}

/// Running version -> hosts, for every host whose kubelet has joined a cluster and whose
/// kubelet package is installed.
pub fn running_versions(facts: &BTreeMap<String, Facts>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (host, f) in facts {
        if !matches!(f.kube.state(), NodeState::Member | NodeState::ControlPlane) {
            continue;
        }
        if let Some(p) = f.packages.get("kubelet") {
            out.entry(upstream_version(&p.version).to_string())
                .or_default()
                .push(host.clone());
        }
    }
    out
}

/// The decision: every member must already run the requested version.
pub fn check(
    requested: &str,
    running: &BTreeMap<String, Vec<String>>,
) -> Result<(), VersionChange> {
    let want = upstream_version(requested);
    let differing: Vec<String> = running
        .iter()
        .filter(|(v, _)| v.as_str() != want)
        .flat_map(|(_, hosts)| hosts.iter().cloned())
        .collect();
    if differing.is_empty() {
        return Ok(());
    }
    Err(VersionChange {
        requested: want.to_string(),
        running: running.clone(),
        differing,
    })
}

/// [`check`] over gathered facts; called by `plan` and `up` before anything is planned.
pub fn check_facts(
    inv: &crate::inventory::Inventory,
    facts: &BTreeMap<String, Facts>,
) -> Result<(), VersionChange> {
    check(&inv.cluster.kubernetes_version, &running_versions(facts))
}

/// Host names for a message; a long list is cut (50 nodes would bury the advice).
fn hosts_text(hosts: &[String]) -> String {
    const SHOWN: usize = 5;
    if hosts.len() <= SHOWN {
        return hosts.join(", ");
    }
    format!(
        "{} and {} more",
        hosts[..SHOWN].join(", "),
        hosts.len() - SHOWN
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Package;

    fn running(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(v, hosts)| (v.to_string(), hosts.iter().map(|h| h.to_string()).collect()))
            .collect()
    }

    #[test]
    fn decision_table() {
        type Case = (
            &'static str,
            &'static str,
            &'static [(&'static str, &'static [&'static str])],
            Option<&'static [&'static str]>,
        );
        let cases: &[Case] = &[
            ("fresh hosts: any version", "1.34.1", &[], None),
            (
                "same version",
                "1.33.4",
                &[("1.33.4", &["cp-1", "w-1"])],
                None,
            ),
            (
                "inventory with a leading v",
                "v1.33.4",
                &[("1.33.4", &["cp-1"])],
                None,
            ),
            (
                "minor upgrade refused on every member",
                "1.34.1",
                &[("1.33.4", &["cp-1", "cp-2", "w-1"])],
                Some(&["cp-1", "cp-2", "w-1"]),
            ),
            (
                "patch upgrade refused",
                "1.33.5",
                &[("1.33.4", &["cp-1"])],
                Some(&["cp-1"]),
            ),
            (
                "downgrade refused",
                "1.32.8",
                &[("1.33.4", &["w-1"])],
                Some(&["w-1"]),
            ),
            (
                "half-upgraded cluster: the hosts behind are named",
                "1.34.1",
                &[("1.33.4", &["w-2"]), ("1.34.1", &["cp-1", "w-1"])],
                Some(&["w-2"]),
            ),
        ];
        for (name, requested, run, want) in cases {
            let got = check(requested, &running(run)).err().map(|e| e.differing);
            let want = want.map(|w| w.iter().map(|h| h.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "case: {name}");
        }
    }

    #[test]
    fn message_names_running_requested_and_what_to_do() {
        let e = check("1.34.1", &running(&[("1.33.4", &["cp-1", "cp-2"])])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cp-1, cp-2: step cluster/version: the running cluster reports Kubernetes 1.33.4 on \
             cp-1, cp-2, the inventory asks for 1.34.1; otp-provision cannot upgrade a running \
             cluster yet (it would replace the packages on every node at once, without drain or \
             kubeadm upgrade): set cluster.kubernetes_version back to \"1.33.4\" until upgrades \
             are supported. Nothing was changed."
        );
        let hosts: Vec<String> = (1..=7).map(|i| format!("w-{i}")).collect();
        let e = check("1.34.1", &BTreeMap::from([("1.33.4".to_string(), hosts)])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("w-1, w-2, w-3, w-4, w-5 and 2 more: step cluster/version:"),
            "{e}"
        );
        let e = check(
            "1.35.0",
            &running(&[("1.33.4", &["w-1"]), ("1.34.1", &["cp-1"])]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("more than one version"), "{e}");
    }

    #[test]
    fn upstream_versions() {
        for (raw, want) in [
            ("1.33.4-1.1", "1.33.4"),
            ("1:1.33.4-00", "1.33.4"),
            ("v1.33.4", "1.33.4"),
            ("1.33.4", "1.33.4"),
        ] {
            assert_eq!(upstream_version(raw), want, "{raw}");
        }
    }

    #[test]
    fn only_joined_hosts_with_kubelet_count() {
        let with = |kubelet_conf: bool, pkg: Option<&str>| {
            let mut f = Facts::default();
            f.kube.kubelet_conf = kubelet_conf;
            if let Some(v) = pkg {
                f.packages.insert(
                    "kubelet".into(),
                    Package {
                        version: v.into(),
                        held: true,
                    },
                );
            }
            f
        };
        let facts = BTreeMap::from([
            ("cp-1".to_string(), with(true, Some("1.33.4-1.1"))),
            ("w-1".to_string(), with(true, Some("1.33.4-1.1"))),
            // Prepared but not joined: its packages may still change.
            ("w-2".to_string(), with(false, Some("1.32.0-1.1"))),
            ("lb-1".to_string(), with(false, None)),
        ]);
        assert_eq!(
            running_versions(&facts),
            running(&[("1.33.4", &["cp-1", "w-1"])])
        );
    }
}
