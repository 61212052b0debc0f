//! Observed cluster state: per-host files and services (one probe script per host) plus a live
//! probe of the API and etcd from one control plane. Parsers are pure and table-tested.
//!
//! Idempotency comes from these probes, never from marker files: a host is "initialised",
//! "joined" or "partial" because of what kubeadm left on it and what the cluster reports.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ClusterError;
use super::render::{ADMIN_CONF, KUBE_VIP_MANIFEST, SUPER_ADMIN_CONF, TOKEN_DESCRIPTION};
use crate::inventory::{Host, Inventory, Role};

/// What one host reports about its kubeadm / load-balancer state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostClusterFacts {
    /// `/etc/kubernetes/kubelet.conf`: TLS bootstrap finished, the node is (or was) a member.
    pub kubelet_conf: bool,
    /// `/etc/kubernetes/bootstrap-kubelet.conf`: a join was interrupted mid TLS bootstrap.
    pub bootstrap_kubelet_conf: bool,
    /// `/etc/kubernetes/admin.conf`: written by init and control-plane joins.
    pub admin_conf: bool,
    /// `/etc/kubernetes/super-admin.conf`: this host ran `kubeadm init` (>= 1.29).
    pub super_admin_conf: bool,
    /// `/etc/kubernetes/manifests/kube-apiserver.yaml`.
    pub apiserver_manifest: bool,
    /// `/var/lib/etcd/member` exists.
    pub etcd_data: bool,
    /// `/etc/kubernetes/pki/ca.crt` exists.
    pub pki_ca: bool,
    /// `systemctl is-active kubelet` says active (meaningful only after init/join).
    pub kubelet_active: bool,
    /// Which kubeconfig the kube-vip static pod mounts, when the manifest exists.
    pub kube_vip: Option<KubeVipKubeconfig>,
    /// sha256 of managed files that exist (path -> hex).
    pub files: BTreeMap<String, String>,
    /// Modification time (Unix seconds) of managed files that exist.
    pub file_mtimes: BTreeMap<String, i64>,
    /// Start time (Unix seconds) of the running kube-apiserver process, if one runs.
    pub apiserver_started: Option<i64>,
    pub haproxy_active: bool,
    pub keepalived_active: bool,
    /// Interface of the route to the VIP (`ip route get`), for keepalived / kube-vip.
    pub vip_interface: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KubeVipKubeconfig {
    Admin,
    SuperAdmin,
    Other,
}

impl HostClusterFacts {
    /// A working control plane: kubeconfigs and static pods in place.
    pub fn control_plane_initialised(&self) -> bool {
        self.admin_conf && self.apiserver_manifest && self.kubelet_conf
    }

    /// kubeadm left something behind that makes init/join fail in preflight, without the
    /// node having finished joining (kubeadm.md 4.1 "partial_needs_reset").
    pub fn leftovers(&self) -> bool {
        self.bootstrap_kubelet_conf
            || self.apiserver_manifest
            || self.etcd_data
            || self.pki_ca
            || self.admin_conf
            || self.kubelet_conf
    }
}

/// The per-host probe. `files`: managed files whose sha256 the planner compares;
/// `vip`: the endpoint address, to find the interface its route uses.
/// Output: `key=value` lines, `file <sha256> <path>` and `mtime <secs> <path>` lines; parsed by
/// [`parse_host_probe`].
pub fn host_probe_script(files: &[&str], vip: Option<&str>) -> String {
    use crate::shell::q;
    use std::fmt::Write;
    let mut s = String::from(
        "set -u\n\
         b() { if [ -e \"$2\" ]; then echo \"$1=1\"; else echo \"$1=0\"; fi; }\n\
         b kubelet_conf /etc/kubernetes/kubelet.conf\n\
         b bootstrap_kubelet_conf /etc/kubernetes/bootstrap-kubelet.conf\n\
         b admin_conf /etc/kubernetes/admin.conf\n\
         b super_admin_conf /etc/kubernetes/super-admin.conf\n\
         b apiserver_manifest /etc/kubernetes/manifests/kube-apiserver.yaml\n\
         b etcd_data /var/lib/etcd/member\n\
         b pki_ca /etc/kubernetes/pki/ca.crt\n\
         systemctl is-active kubelet haproxy keepalived 2>/dev/null | {\n  \
           read -r k; read -r h; read -r a\n  \
           echo \"active_kubelet=$k\"; echo \"active_haproxy=$h\"; echo \"active_keepalived=$a\"\n\
         }\n",
    );
    let _ = writeln!(
        s,
        "if [ -f {m} ]; then\n  \
           if grep -q 'path: \"\\?{sa}\"\\?$' {m}; then echo kube_vip=super-admin\n  \
           elif grep -q 'path: \"\\?{a}\"\\?$' {m}; then echo kube_vip=admin\n  \
           else echo kube_vip=other; fi\n\
         fi",
        m = KUBE_VIP_MANIFEST,
        sa = SUPER_ADMIN_CONF,
        a = ADMIN_CONF,
    );
    for f in files {
        let _ = writeln!(
            s,
            "if [ -f {p} ]; then echo \"file $(sha256sum < {p} | cut -d' ' -f1) \"{p}; echo \"mtime $(stat -c %Y {p}) \"{p}; fi",
            p = q(f)
        );
    }
    if let Some(vip) = vip {
        let _ = writeln!(
            s,
            "echo \"vip_interface=$(ip -o route get {} 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')\"",
            q(vip)
        );
    }
    // The API server reads its security files at start only: its start time tells whether a
    // file written later (a run killed before the restart) is in effect. Field 22 of
    // /proc/PID/stat is the start in clock ticks after boot (comm stripped: it may hold spaces).
    s.push_str(
        "pid=$(pgrep -of '^kube-apiserver( |$)' 2>/dev/null || true)\n\
         if [ -n \"$pid\" ]; then\n  \
           ticks=$(sed 's/.*) //' \"/proc/$pid/stat\" 2>/dev/null | cut -d' ' -f20)\n  \
           btime=$(sed -n 's/^btime //p' /proc/stat)\n  \
           hz=$(getconf CLK_TCK)\n  \
           if [ -n \"$ticks\" ] && [ -n \"$btime\" ]; then echo \"apiserver_started=$((btime + ticks / hz))\"; fi\n\
         fi\n",
    );
    s
}

/// Managed files whose sha256 the planner compares on `host` (argument for
/// [`host_probe_script`]).
pub fn probe_files(host: &crate::inventory::Host) -> Vec<String> {
    use super::render::*;
    let mut v = Vec::new();
    if host.has_role(Role::ControlPlane) {
        v.extend(
            [
                AUDIT_POLICY,
                ADMISSION_CONFIG,
                ENCRYPTION_CONFIG,
                AUTHN_CONFIG,
            ]
            .map(String::from),
        );
    }
    v
}

/// The address whose route tells the VIP interface (VIP modes only).
pub fn probe_vip(inv: &Inventory) -> Option<&str> {
    use crate::inventory::EndpointMode;
    inv.cluster
        .endpoint
        .as_ref()
        .filter(|e| e.mode != EndpointMode::External)
        .map(|e| e.address.as_str())
}

/// `server:` of the first cluster in a kubeconfig (the operator's local copy), for
/// [`ClusterState::local_kubeconfig_server`].
pub fn kubeconfig_server(kubeconfig: &str) -> Option<String> {
    kubeconfig
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("server:"))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
        .filter(|v| !v.is_empty())
}

fn parse_err(host: &str, what: &str, reason: impl Into<String>) -> ClusterError {
    ClusterError::Parse {
        host: host.to_string(),
        what: what.to_string(),
        reason: reason.into(),
    }
}

pub fn parse_host_probe(host: &str, out: &str) -> Result<HostClusterFacts, ClusterError> {
    let mut f = HostClusterFacts::default();
    let mut seen = BTreeSet::new();
    for (n, line) in out.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("file ") {
            let (sha, path) = rest.split_once(' ').ok_or_else(|| {
                parse_err(host, "host probe", format!("line {}: {line:?}", n + 1))
            })?;
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(parse_err(
                    host,
                    "host probe",
                    format!("line {}: bad sha256 for {path}", n + 1),
                ));
            }
            f.files.insert(path.to_string(), sha.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("mtime ") {
            let (secs, path) = rest
                .split_once(' ')
                .and_then(|(t, p)| Some((t.parse::<i64>().ok()?, p)))
                .ok_or_else(|| {
                    parse_err(host, "host probe", format!("line {}: {line:?}", n + 1))
                })?;
            f.file_mtimes.insert(path.to_string(), secs);
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| parse_err(host, "host probe", format!("line {}: {line:?}", n + 1)))?;
        let flag = || match v {
            "1" => Ok(true),
            "0" => Ok(false),
            _ => Err(parse_err(
                host,
                "host probe",
                format!("line {}: {k} must be 0 or 1, got {v:?}", n + 1),
            )),
        };
        match k {
            "kubelet_conf" => f.kubelet_conf = flag()?,
            "bootstrap_kubelet_conf" => f.bootstrap_kubelet_conf = flag()?,
            "admin_conf" => f.admin_conf = flag()?,
            "super_admin_conf" => f.super_admin_conf = flag()?,
            "apiserver_manifest" => f.apiserver_manifest = flag()?,
            "etcd_data" => f.etcd_data = flag()?,
            "pki_ca" => f.pki_ca = flag()?,
            "active_kubelet" => f.kubelet_active = v == "active",
            "active_haproxy" => f.haproxy_active = v == "active",
            "active_keepalived" => f.keepalived_active = v == "active",
            "kube_vip" => {
                f.kube_vip = Some(match v {
                    "admin" => KubeVipKubeconfig::Admin,
                    "super-admin" => KubeVipKubeconfig::SuperAdmin,
                    _ => KubeVipKubeconfig::Other,
                })
            }
            "vip_interface" => f.vip_interface = (!v.is_empty()).then(|| v.to_string()),
            "apiserver_started" => {
                f.apiserver_started = Some(v.parse().map_err(|_| {
                    parse_err(
                        host,
                        "host probe",
                        format!(
                            "line {}: apiserver_started must be seconds, got {v:?}",
                            n + 1
                        ),
                    )
                })?)
            }
            // Newer probes may report more; an old parser must not fail on them.
            _ => {}
        }
        seen.insert(k.to_string());
    }
    for required in ["kubelet_conf", "admin_conf", "apiserver_manifest"] {
        if !seen.contains(required) {
            return Err(parse_err(
                host,
                "host probe",
                format!("{required} missing: the probe did not run to the end"),
            ));
        }
    }
    Ok(f)
}

/// One node as the API reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub ready: bool,
    pub control_plane: bool,
    pub labels: BTreeMap<String, String>,
}

/// One etcd member (`etcdctl member list -w json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EtcdMember {
    /// Hex, as `etcdctl member remove` wants it.
    pub id: String,
    /// Empty while an added member has not started.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub learner: bool,
}

/// What the cluster itself says, probed from one control plane with admin.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApiProbe {
    /// The control plane the probe ran on.
    pub from: String,
    pub nodes: Vec<NodeStatus>,
    /// `None` when etcd could not be asked (no etcd container on that host yet).
    pub etcd_members: Option<Vec<EtcdMember>>,
    /// Ids of bootstrap tokens this tool created and did not delete yet.
    pub run_tokens: Vec<String>,
    /// Pending kubelet-serving CSRs: `(csr name, node name)`.
    pub pending_serving_csrs: Vec<(String, String)>,
    /// DaemonSets of the known CNIs that exist (`calico-node`, `kube-flannel-ds`).
    pub cni_daemonsets: BTreeSet<String>,
    /// `kubeadm init` got past its cluster-state phases: the kubeadm-config and cluster-info
    /// ConfigMaps exist. False means an init was interrupted before the cluster was usable.
    pub init_complete: bool,
    /// kubeadm's addons (CoreDNS Deployment, kube-proxy DaemonSet) exist; missing after an
    /// init interrupted in its last phase.
    pub addons_present: bool,
}

impl ApiProbe {
    pub fn node(&self, name: &str) -> Option<&NodeStatus> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

const ETCDCTL: &str = "crictl exec \"$cid\" etcdctl --endpoints=https://127.0.0.1:2379 \
--cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
--key=/etc/kubernetes/pki/etcd/healthcheck-client.key";

/// The API probe, run as root on a control plane with admin.conf. Sections start with `@@name`;
/// no token secret is printed (only ids and base64 descriptions).
///
/// The questions are independent, so they are asked at once (a no-op run waits for this probe
/// more than for anything else). Only when one of them fails, e.g. an API server restarting
/// after a security-file change, does the probe wait for /readyz (up to a minute) and ask again.
pub fn api_probe_script() -> String {
    format!(
        "set -u\n\
         export KUBECONFIG={ADMIN_CONF}\n\
         t=$(mktemp -d) || exit 1\n\
         trap 'rm -rf \"$t\"' EXIT\n\
         ask() {{\n\
         (kubectl get nodes -o json --request-timeout=20s || echo '!failed') >\"$t/nodes\" 2>/dev/null &\n\
         (cid=$(crictl ps -q --name '^etcd$' 2>/dev/null | head -n1)\n \
          if [ -n \"$cid\" ]; then {ETCDCTL} member list -w json || echo '!failed'; else echo '!no-etcd'; fi) >\"$t/etcd\" 2>/dev/null &\n\
         (kubectl -n kube-system get secrets --field-selector type=bootstrap.kubernetes.io/token \
-o jsonpath='{{range .items[*]}}{{.data.token-id}}{{\" \"}}{{.data.description}}{{\"\\n\"}}{{end}}' || echo '!failed') >\"$t/tokens\" 2>/dev/null &\n\
         (kubectl get csr -o jsonpath='{{range .items[*]}}{{.metadata.name}}{{\" \"}}{{.spec.signerName}}{{\" \"}}{{.spec.username}}{{\" \"}}{{.status.conditions[*].type}}{{\"\\n\"}}{{end}}' || echo '!failed') >\"$t/csr\" 2>/dev/null &\n\
         kubectl -n kube-system get ds/calico-node ds/kube-proxy deploy/coredns cm/kubeadm-config -o name --ignore-not-found >\"$t/system\" 2>/dev/null &\n\
         kubectl -n kube-flannel get ds/kube-flannel-ds -o name --ignore-not-found >\"$t/flannel\" 2>/dev/null &\n\
         kubectl -n kube-public get cm/cluster-info -o name --ignore-not-found >\"$t/public\" 2>/dev/null &\n\
         wait\n\
         }}\n\
         ask\n\
         if grep -qx '!failed' \"$t/nodes\" \"$t/tokens\" \"$t/csr\"; then\n  \
           i=0; until kubectl get --raw=/readyz --request-timeout=5s >/dev/null 2>&1 || [ $i -ge 12 ]; do i=$((i+1)); sleep 5; done\n  \
           ask\n\
         fi\n\
         echo @@nodes; cat \"$t/nodes\"\n\
         echo @@etcd; cat \"$t/etcd\"\n\
         echo @@tokens; cat \"$t/tokens\"\n\
         echo @@csr; cat \"$t/csr\"\n\
         echo @@cni; grep -x 'daemonset.apps/calico-node' \"$t/system\"; cat \"$t/flannel\"\n\
         echo @@init; grep -vx 'daemonset.apps/calico-node' \"$t/system\"; cat \"$t/public\"\n\
         echo @@end\n"
    )
}

#[derive(Deserialize)]
struct NodeList {
    items: Vec<NodeItem>,
}
#[derive(Deserialize)]
struct NodeItem {
    metadata: NodeMeta,
    #[serde(default)]
    status: NodeStatusJson,
}
#[derive(Deserialize)]
struct NodeMeta {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}
#[derive(Deserialize, Default)]
struct NodeStatusJson {
    #[serde(default)]
    conditions: Vec<Condition>,
}
#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
}
#[derive(Deserialize)]
struct MemberList {
    #[serde(default)]
    members: Vec<MemberJson>,
}
#[derive(Deserialize)]
struct MemberJson {
    #[serde(rename = "ID")]
    id: u64,
    #[serde(default)]
    name: String,
    #[serde(rename = "peerURLs", default)]
    peer_urls: Vec<String>,
    #[serde(rename = "isLearner", default)]
    is_learner: bool,
}

fn b64_decode(s: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    String::from_utf8(bytes).ok()
}

pub fn parse_api_probe(host: &str, out: &str) -> Result<ApiProbe, ClusterError> {
    let mut sections: BTreeMap<&str, String> = BTreeMap::new();
    let mut cur: Option<&str> = None;
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            cur = Some(name.trim());
            sections.entry(name.trim()).or_default();
            continue;
        }
        if let Some(c) = cur {
            let s = sections.entry(c).or_default();
            s.push_str(line);
            s.push('\n');
        }
    }
    if !sections.contains_key("end") {
        return Err(parse_err(host, "API probe", "output ends early (no @@end)"));
    }
    let section = |name: &str| sections.get(name).map(String::as_str).unwrap_or("");

    let nodes_text = section("nodes");
    if nodes_text.trim() == "!failed" || nodes_text.trim().is_empty() {
        return Err(parse_err(host, "API probe", "kubectl get nodes failed"));
    }
    let list: NodeList = serde_json::from_str(nodes_text)
        .map_err(|e| parse_err(host, "API probe nodes", e.to_string()))?;
    let nodes = list
        .items
        .into_iter()
        .map(|i| NodeStatus {
            ready: i
                .status
                .conditions
                .iter()
                .any(|c| c.kind == "Ready" && c.status == "True"),
            control_plane: i
                .metadata
                .labels
                .contains_key("node-role.kubernetes.io/control-plane"),
            name: i.metadata.name,
            labels: i.metadata.labels,
        })
        .collect();

    let etcd_text = section("etcd").trim();
    let etcd_members = if etcd_text.starts_with('!') || etcd_text.is_empty() {
        None
    } else {
        let list: MemberList = serde_json::from_str(etcd_text)
            .map_err(|e| parse_err(host, "API probe etcd members", e.to_string()))?;
        Some(
            list.members
                .into_iter()
                .map(|m| EtcdMember {
                    id: format!("{:x}", m.id),
                    name: m.name,
                    peer_urls: m.peer_urls,
                    learner: m.is_learner,
                })
                .collect(),
        )
    };

    let mut run_tokens = Vec::new();
    for line in section("tokens").lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with('!') {
            return Err(parse_err(
                host,
                "API probe",
                "listing bootstrap tokens failed",
            ));
        }
        let mut it = line.split_whitespace();
        let (Some(id), desc) = (it.next().and_then(b64_decode), it.next()) else {
            continue;
        };
        if desc.and_then(b64_decode).as_deref() == Some(TOKEN_DESCRIPTION) {
            run_tokens.push(id);
        }
    }

    let mut pending_serving_csrs = Vec::new();
    for line in section("csr").lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with('!') {
            return Err(parse_err(host, "API probe", "listing CSRs failed"));
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() == 3
            && parts[1] == "kubernetes.io/kubelet-serving"
            && let Some(node) = parts[2].strip_prefix("system:node:")
        {
            pending_serving_csrs.push((parts[0].to_string(), node.to_string()));
        }
    }

    let cni_daemonsets = section("cni")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("daemonset.apps/"))
        .map(str::to_string)
        .collect();

    let init_objects: BTreeSet<&str> = section("init").lines().map(str::trim).collect();
    let init_complete = ["configmap/kubeadm-config", "configmap/cluster-info"]
        .iter()
        .all(|o| init_objects.contains(o));
    let addons_present = ["deployment.apps/coredns", "daemonset.apps/kube-proxy"]
        .iter()
        .all(|o| init_objects.contains(o));

    Ok(ApiProbe {
        init_complete,
        addons_present,
        from: host.to_string(),
        nodes,
        etcd_members,
        run_tokens,
        pending_serving_csrs,
        cni_daemonsets,
    })
}

/// Everything the planner knows about the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterState {
    /// Per inventory host; a host missing here was not reachable.
    pub hosts: BTreeMap<String, HostClusterFacts>,
    /// `None` when no control plane has admin.conf (nothing to ask yet).
    pub api: Option<ApiProbe>,
    /// The server URL of the operator's local admin kubeconfig, when it exists.
    pub local_kubeconfig_server: Option<String>,
}

impl ClusterState {
    pub fn host(&self, name: &str) -> Option<&HostClusterFacts> {
        self.hosts.get(name)
    }

    /// Control planes with a working kubeadm control plane on disk, inventory order.
    pub fn initialised_control_planes<'a>(&self, inv: &'a Inventory) -> Vec<&'a str> {
        inv.control_planes()
            .filter(|h| {
                self.host(&h.name)
                    .is_some_and(HostClusterFacts::control_plane_initialised)
            })
            .map(|h| h.name.as_str())
            .collect()
    }

    /// The only host holding kubeadm credentials (admin.conf or kubelet.conf), when it is a
    /// control plane: what an interrupted `kubeadm init` leaves, before anything joined.
    pub fn lone_control_plane_holder<'a>(&self, inv: &'a Inventory) -> Option<&'a Host> {
        let mut holders = inv.hosts.iter().filter(|h| {
            self.host(&h.name)
                .is_some_and(|f| f.admin_conf || f.kubelet_conf)
        });
        let (Some(h), None) = (holders.next(), holders.next()) else {
            return None;
        };
        h.has_role(Role::ControlPlane).then_some(h)
    }

    /// The control plane of an interrupted `kubeadm init` whose API never answered: the lone
    /// holder, and etcd never stored data there. Nothing can be lost by resetting it, so a
    /// failed API probe there is not a reason to refuse planning.
    pub fn unfinished_init_without_data<'a>(&self, inv: &'a Inventory) -> Option<&'a str> {
        let h = self.lone_control_plane_holder(inv)?;
        (!self.host(&h.name)?.etcd_data).then_some(h.name.as_str())
    }

    /// Where to run the API probe: the first control plane that has admin.conf.
    pub fn api_probe_host<'a>(&self, inv: &'a Inventory) -> Option<&'a str> {
        inv.control_planes()
            .find(|h| self.host(&h.name).is_some_and(|f| f.admin_conf))
            .map(|h| h.name.as_str())
    }

    /// Whether `name` is a finished member: its kubelet has credentials and the API lists it;
    /// a control plane also has its static pods and kubeconfigs on disk and a started,
    /// promoted (not learner) etcd member when etcd could be asked. The node-role label is
    /// not required: losing a label must never make a healthy control plane look partial.
    pub fn joined(&self, inv: &Inventory, name: &str) -> bool {
        let (Some(f), Some(api)) = (self.host(name), &self.api) else {
            return false;
        };
        if !f.kubelet_conf || api.node(name).is_none() {
            return false;
        }
        if !inv
            .host(name)
            .is_some_and(|h| h.has_role(Role::ControlPlane))
        {
            return true;
        }
        f.control_plane_initialised()
            && api
                .etcd_members
                .as_ref()
                .is_none_or(|members| members.iter().any(|m| m.name == name && !m.learner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_init_without_data_is_the_lone_control_plane_holder() {
        let inv = super::super::fixtures::ha();
        let cp = |admin: bool, kubelet: bool, etcd: bool| HostClusterFacts {
            admin_conf: admin,
            kubelet_conf: kubelet,
            etcd_data: etcd,
            ..Default::default()
        };
        let state = |hosts: &[(&str, HostClusterFacts)]| ClusterState {
            hosts: hosts
                .iter()
                .map(|(n, f)| (n.to_string(), f.clone()))
                .collect(),
            ..Default::default()
        };
        for (what, st, want) in [
            (
                "nothing yet",
                state(&[("cp-1", cp(false, false, false))]),
                None,
            ),
            (
                "init killed before etcd stored data",
                state(&[("cp-1", cp(true, true, false))]),
                Some("cp-1"),
            ),
            (
                "admin.conf only",
                state(&[("cp-1", cp(true, false, false))]),
                Some("cp-1"),
            ),
            (
                "etcd holds data: never reset without the API's word",
                state(&[("cp-1", cp(true, true, true))]),
                None,
            ),
            (
                "another host holds credentials: something joined",
                state(&[
                    ("cp-1", cp(true, true, false)),
                    ("w-1", cp(false, true, false)),
                ]),
                None,
            ),
            (
                "the holder is a worker",
                state(&[("w-1", cp(false, true, false))]),
                None,
            ),
        ] {
            assert_eq!(st.unfinished_init_without_data(&inv), want, "{what}");
        }
    }

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn host_probe_parses_a_control_plane() {
        let out = format!(
            "kubelet_conf=1\nbootstrap_kubelet_conf=0\nadmin_conf=1\nsuper_admin_conf=1\n\
             apiserver_manifest=1\netcd_data=1\npki_ca=1\nactive_kubelet=active\n\
             active_haproxy=inactive\nactive_keepalived=unknown\nkube_vip=super-admin\n\
             file {SHA} /etc/kubernetes/audit/policy.yaml\n\
             mtime 1764230400 /etc/kubernetes/audit/policy.yaml\nvip_interface=eth0\n\
             apiserver_started=1764230500\nca_cert_hash=sha256:{SHA}\nfuture_key=whatever\n"
        );
        let f = parse_host_probe("cp-1", &out).unwrap();
        assert!(f.control_plane_initialised() && f.super_admin_conf && f.kubelet_active);
        assert!(!f.haproxy_active && !f.keepalived_active);
        assert_eq!(f.kube_vip, Some(KubeVipKubeconfig::SuperAdmin));
        assert_eq!(f.files["/etc/kubernetes/audit/policy.yaml"], SHA);
        assert_eq!(f.vip_interface.as_deref(), Some("eth0"));
        assert_eq!(
            f.file_mtimes["/etc/kubernetes/audit/policy.yaml"],
            1764230400
        );
        assert_eq!(f.apiserver_started, Some(1764230500));
    }

    #[test]
    fn host_probe_rejects_garbage_and_truncation() {
        let cases: &[(&str, &str)] = &[
            (
                "kubelet_conf=yes\nadmin_conf=0\napiserver_manifest=0\n",
                "must be 0 or 1",
            ),
            ("kubelet_conf=0\n", "admin_conf missing"),
            (
                "kubelet_conf=0\nadmin_conf=0\napiserver_manifest=0\nfile abc /x\n",
                "bad sha256",
            ),
            ("no equals sign\n", "line 1"),
            (
                "kubelet_conf=0\nadmin_conf=0\napiserver_manifest=0\nmtime soon /x\n",
                "line 4",
            ),
            (
                "kubelet_conf=0\nadmin_conf=0\napiserver_manifest=0\napiserver_started=\n",
                "apiserver_started must be seconds",
            ),
        ];
        for (out, want) in cases {
            let err = parse_host_probe("w-1", out).unwrap_err().to_string();
            assert!(err.starts_with("w-1: cannot parse host probe"), "{err}");
            assert!(err.contains(want), "{out:?}: {err}");
        }
        // An empty interface is "unknown", not an error; keys an older probe reported
        // (ca_cert_hash) are ignored.
        let f = parse_host_probe(
            "w-1",
            "kubelet_conf=0\nadmin_conf=0\napiserver_manifest=0\nvip_interface=\nca_cert_hash=sha256:\n",
        )
        .unwrap();
        assert_eq!(f.vip_interface, None);
        assert!(!f.leftovers());
    }

    fn b64(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn api_probe_parses_nodes_members_tokens_csrs_and_cni() {
        let out = format!(
            r#"@@nodes
{{"items":[
 {{"metadata":{{"name":"cp-1","labels":{{"node-role.kubernetes.io/control-plane":""}}}},
   "status":{{"conditions":[{{"type":"MemoryPressure","status":"False"}},{{"type":"Ready","status":"True"}}]}}}},
 {{"metadata":{{"name":"w-1"}},"status":{{"conditions":[{{"type":"Ready","status":"False"}}]}}}}
]}}
@@etcd
{{"header":{{"cluster_id":1}},"members":[
 {{"ID":12345678901234567890,"name":"cp-1","peerURLs":["https://10.0.0.11:2380"]}},
 {{"ID":255,"peerURLs":["https://10.0.0.12:2380"],"isLearner":true}}]}}
@@tokens
{} {}
{} {}
@@csr
csr-abc kubernetes.io/kubelet-serving system:node:w-1 
csr-def kubernetes.io/kubelet-serving system:node:cp-1 Approved
csr-ghi kubernetes.io/kube-apiserver-client-kubelet system:bootstrap:abcdef 
@@cni
daemonset.apps/calico-node
@@init
configmap/kubeadm-config
configmap/cluster-info
deployment.apps/coredns
daemonset.apps/kube-proxy
@@end
"#,
            b64("abcdef"),
            b64(TOKEN_DESCRIPTION),
            b64("zzzzzz"),
            b64("someone else's token"),
        );
        let p = parse_api_probe("cp-1", &out).unwrap();
        assert_eq!(p.nodes.len(), 2);
        assert!(p.node("cp-1").unwrap().ready && p.node("cp-1").unwrap().control_plane);
        assert!(!p.node("w-1").unwrap().ready && !p.node("w-1").unwrap().control_plane);
        let m = p.etcd_members.as_ref().unwrap();
        assert_eq!(m[0].id, "ab54a98ceb1f0ad2");
        assert_eq!(
            (m[1].id.as_str(), m[1].name.as_str(), m[1].learner),
            ("ff", "", true)
        );
        assert_eq!(p.run_tokens, vec!["abcdef"]);
        assert_eq!(
            p.pending_serving_csrs,
            vec![("csr-abc".into(), "w-1".into())]
        );
        assert!(p.cni_daemonsets.contains("calico-node"));
        assert!(p.init_complete && p.addons_present);
    }

    #[test]
    fn api_probe_failures_are_errors_or_unknowns() {
        let err = parse_api_probe("cp-1", "@@nodes\n!failed\n@@end\n").unwrap_err();
        assert!(
            err.to_string().contains("kubectl get nodes failed"),
            "{err}"
        );
        let err = parse_api_probe("cp-1", "@@nodes\n{\"items\":[]}\n").unwrap_err();
        assert!(err.to_string().contains("no @@end"), "{err}");
        let p = parse_api_probe(
            "cp-1",
            "@@nodes\n{\"items\":[]}\n@@etcd\n!no-etcd\n@@tokens\n@@csr\n@@cni\n@@end\n",
        )
        .unwrap();
        assert_eq!(p.etcd_members, None);
        assert!(p.cni_daemonsets.is_empty());
        // Interrupted init: the API answers but kubeadm's last phases never ran.
        assert!(!p.init_complete && !p.addons_present);
    }

    #[test]
    fn helpers_for_the_probe_and_the_local_kubeconfig() {
        use crate::phases::cluster::fixtures;
        let inv = fixtures::ha();
        // haproxy/keepalived files are node facts of the endpoint playbook, not probed here.
        assert!(probe_files(inv.host("lb-1").unwrap()).is_empty());
        assert_eq!(probe_files(inv.host("cp-1").unwrap()).len(), 4);
        assert!(probe_files(inv.host("w-1").unwrap()).is_empty());
        let inv = fixtures::lb_on_control_planes();
        assert_eq!(probe_files(inv.host("cp-2").unwrap()).len(), 4);
        assert_eq!(probe_vip(&inv), Some("10.0.0.100"));
        assert_eq!(probe_vip(&fixtures::external()), None);
        let kc = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: X\n    server: https://10.0.0.100:6443\n  name: k\n";
        assert_eq!(
            kubeconfig_server(kc).as_deref(),
            Some("https://10.0.0.100:6443")
        );
        assert_eq!(kubeconfig_server("apiVersion: v1\n"), None);
    }

    /// The real host probe under the local shell, with a fake systemctl: one call answers for
    /// the three units, in order, and a file's hash and mtime come back.
    #[test]
    fn host_probe_script_runs_locally() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let sc = bin.join("systemctl");
        let log = dir.path().join("calls");
        std::fs::write(
            &sc,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nprintf 'active\\ninactive\\nfailed\\n'\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&sc, std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = dir.path().join("policy.yaml");
        std::fs::write(&file, "x\n").unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(host_probe_script(&[file.to_str().unwrap()], None))
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let f = parse_host_probe("w-1", &String::from_utf8_lossy(&out.stdout)).unwrap();
        assert!(f.kubelet_active && !f.haproxy_active && !f.keepalived_active);
        use sha2::Digest;
        let want = format!("{:x}", sha2::Sha256::digest(b"x\n"));
        assert_eq!(f.files[file.to_str().unwrap()], want);
        assert!(f.file_mtimes[file.to_str().unwrap()] > 0);
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(calls, "is-active kubelet haproxy keepalived\n");
    }

    /// The real API probe against a fake kubectl and crictl: the questions run side by side,
    /// a failed answer (API server restarting) makes the probe wait for /readyz and ask again,
    /// and each answer lands in its own section.
    #[test]
    fn api_probe_script_runs_against_a_fake_kubectl() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        let kubectl = format!(
            r#"#!/bin/sh
echo "$*" >> "{log}"
case "$*" in
  "get nodes "*)
    if [ ! -e "{state}" ]; then : > "{state}"; echo 'connection refused' >&2; exit 1; fi
    echo '{{"items":[{{"metadata":{{"name":"cp-1","labels":{{"node-role.kubernetes.io/control-plane":""}}}},"status":{{"conditions":[{{"type":"Ready","status":"True"}}]}}}}]}}' ;;
  "get --raw=/readyz"*) echo ok ;;
  "-n kube-system get secrets"*) echo "{id} {desc}" ;;
  "get csr"*) echo "csr-1 kubernetes.io/kubelet-serving system:node:cp-1 " ;;
  "-n kube-system get ds/calico-node"*)
    printf 'daemonset.apps/calico-node\ndaemonset.apps/kube-proxy\ndeployment.apps/coredns\nconfigmap/kubeadm-config\n' ;;
  "-n kube-flannel "*) ;;
  "-n kube-public get cm/cluster-info"*) echo configmap/cluster-info ;;
  *) echo "unexpected: $*" >&2; exit 9 ;;
esac
"#,
            log = dir.path().join("calls").display(),
            state = dir.path().join("failed-once").display(),
            id = b64("abcdef"),
            desc = b64(TOKEN_DESCRIPTION),
        );
        for (name, text) in [
            ("kubectl", kubectl.as_str()),
            ("crictl", "#!/bin/sh\nexit 0\n"),
        ] {
            let p = bin.join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(api_probe_script())
            .env("PATH", path)
            .env("TMPDIR", &tmp)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let p = parse_api_probe("cp-1", &String::from_utf8_lossy(&out.stdout)).unwrap();
        assert_eq!(p.nodes.len(), 1);
        assert!(p.node("cp-1").unwrap().ready);
        assert_eq!(p.etcd_members, None);
        assert_eq!(p.run_tokens, ["abcdef"]);
        assert_eq!(p.pending_serving_csrs, [("csr-1".into(), "cp-1".into())]);
        assert_eq!(
            p.cni_daemonsets,
            BTreeSet::from(["calico-node".to_string()])
        );
        assert!(p.init_complete && p.addons_present);
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
        assert_eq!(calls.matches("get nodes").count(), 2, "{calls}");
        assert_eq!(calls.matches("/readyz").count(), 1, "{calls}");
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    }

    #[test]
    fn probe_scripts_quote_paths_and_print_no_token_secret() {
        let s = host_probe_script(
            &["/etc/haproxy/haproxy.cfg", "/tmp/a b"],
            Some("10.0.0.100"),
        );
        assert!(s.contains("'/tmp/a b'"));
        assert!(s.contains("ip -o route get 10.0.0.100"));
        let a = api_probe_script();
        assert!(a.contains(".data.token-id") && !a.contains("token-secret"));
        assert!(!a.contains("kubeadm token list"));
    }
}
