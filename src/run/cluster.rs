//! The SSH side of the cluster phases (src/phases/cluster is pure): probing cluster state within
//! the facts round trip, and one API probe on one control plane. Cluster steps run in
//! [`crate::apply::apply_waves`], with node and addon steps.

use std::collections::BTreeMap;

use crate::apply::{self, Observer};
use crate::facts::{FactRequest, Facts};
use crate::inventory::Inventory;
use crate::phases::cluster::{self, ClusterState};
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

#[derive(Debug, thiserror::Error)]
pub enum ClusterRunError {
    #[error("{host}: cluster probe: {reason}")]
    Probe { host: String, reason: String },
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
