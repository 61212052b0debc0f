//! Facts: one remote script per host per gather, parsed by pure functions.
//! CONTRACT: [`Facts`], [`FactRequest`], [`gather`]. Engine helper owns this folder.
//!
//! The script (`gather.sh`, embedded) prints `@@section NAME` blocks; [`script`] prepends the
//! requested names (quoted) and the `unless` probes; [`parse::parse`] turns the output into
//! [`Facts`]. Splitting "run" from "parse" keeps every parser testable without a host.

pub mod parse;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::ssh::{Command, Connection, SshError};

pub use parse::parse;

/// What to look at beyond the fixed set (files whose sha256 the planner needs, packages,
/// services and sysctls the playbooks manage). Built by the planner before gathering.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FactRequest {
    pub files: BTreeSet<String>,
    pub packages: BTreeSet<String>,
    pub services: BTreeSet<String>,
    pub sysctls: BTreeSet<String>,
    /// `unless` probes of command steps: step id -> shell command. Each runs inside the facts
    /// script (so probing costs no extra round trip); its exit code lands in [`Facts::probes`].
    pub probes: BTreeMap<String, String>,
    /// Read-only report scripts: name -> shell script. Each runs inside the facts script (no
    /// extra round trip); its stdout lands in [`Facts::reports`] for a phase's own parser.
    pub reports: BTreeMap<String, String>,
    /// Also gather what only the `facts` command shows: the binaries' own versions (`kubeadm
    /// version`, `kubelet --version`, `containerd --version`) and the cluster CA's public-key
    /// hash. Planners go by the package database and the token step's hash, so `up` does not
    /// pay for five program starts per host.
    pub display: bool,
}

impl FactRequest {
    pub fn merge(&mut self, other: FactRequest) {
        self.display |= other.display;
        self.files.extend(other.files);
        self.packages.extend(other.packages);
        self.services.extend(other.services);
        self.sysctls.extend(other.sysctls);
        self.probes.extend(other.probes);
        self.reports.extend(other.reports);
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Facts {
    pub hostname: String,
    /// /etc/machine-id (empty when unreadable).
    pub machine_id: String,
    /// /sys/class/dmi/id/product_uuid, lowercase (empty when absent, e.g. in containers).
    pub product_uuid: String,
    pub os: OsRelease,
    pub kernel: String,
    pub arch: String,
    pub cpus: u32,
    pub mem_total_kib: u64,
    pub swap_active: bool,
    pub modules: BTreeSet<String>,
    /// False when the kernel has no loadable module support (no /proc/modules): then every
    /// module is built in or absent, and `modprobe` cannot change that.
    pub modules_loadable: bool,
    pub sysctls: BTreeMap<String, String>,
    pub packages: BTreeMap<String, Package>,
    pub services: BTreeMap<String, Service>,
    pub files: BTreeMap<String, FileFact>,
    /// Active swap devices/files from /proc/swaps.
    pub swaps: Vec<String>,
    /// Uncommented swap entries in /etc/fstab (would come back at boot).
    pub fstab_swap: Vec<String>,
    /// Requested sysctls that do not exist (yet) on the host, e.g. net.bridge.* before
    /// br_netfilter is loaded.
    pub sysctls_missing: BTreeSet<String>,
    /// Requested files that do not exist.
    pub files_missing: BTreeSet<String>,
    pub kube: KubeFacts,
    pub net: NetFacts,
    /// TCP ports something listens on (any address, IPv4 and IPv6).
    pub listening_tcp: BTreeSet<u16>,
    /// Exit code of each requested `unless` probe (step id -> code).
    pub probes: BTreeMap<String, i32>,
    /// Stdout of each requested report script (name -> text).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reports: BTreeMap<String, String>,
    /// The script had to wait for a command of another (possibly killed) run on the host: what
    /// it saw is current for this host, but other hosts may have been read before that command
    /// ended, so the run gathers again.
    #[serde(skip)]
    pub waited_for_lock: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OsRelease {
    pub id: String,
    pub id_like: String,
    pub version_id: String,
    pub codename: String,
    pub pretty_name: String,
}

impl OsRelease {
    /// `debian` (Debian, Ubuntu and derivatives), `rhel` (RHEL, Rocky, Alma, Fedora, CentOS) or
    /// the plain id for anything else. Playbook `when` conditions test this.
    pub fn family(&self) -> String {
        let words: Vec<&str> = std::iter::once(self.id.as_str())
            .chain(self.id_like.split_whitespace())
            .collect();
        if words.iter().any(|w| matches!(*w, "debian" | "ubuntu")) {
            "debian".into()
        } else if words
            .iter()
            .any(|w| matches!(*w, "rhel" | "fedora" | "centos" | "rocky" | "almalinux"))
        {
            "rhel".into()
        } else {
            self.id.clone()
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Package {
    pub version: String,
    pub held: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Service {
    /// `active`, `inactive`, `failed`, ...
    pub active: String,
    /// `enabled`, `disabled`, `masked`, `not-found`, ...
    pub enabled: String,
    /// When the unit last entered the active state (Unix seconds); `None` when inactive or
    /// systemd is too old for `--timestamp=unix`. Lets a run that was killed between writing a
    /// config file and restarting its service finish the restart next time.
    pub active_since: Option<i64>,
}

impl Service {
    pub fn is_active(&self) -> bool {
        self.active == "active"
    }
    pub fn is_enabled(&self) -> bool {
        // `enabled-runtime`, `static` and `alias` start anyway; only these are "will start at boot".
        matches!(self.enabled.as_str(), "enabled" | "alias" | "static")
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FileFact {
    pub sha256: String,
    /// Octal mode, e.g. `644`.
    pub mode: String,
    pub owner: String,
    /// Modification time (Unix seconds).
    pub mtime: i64,
}

/// Kubernetes state left on the node by kubeadm and the packages (kubeadm.md 4.1). Presence
/// only; the planners of `up` derive "fresh / member / control plane / partial" from it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct KubeFacts {
    pub admin_conf: bool,
    pub super_admin_conf: bool,
    pub kubelet_conf: bool,
    /// Present only while a join is in progress (kubeadm deletes it after TLS bootstrap).
    pub bootstrap_kubelet_conf: bool,
    pub controller_manager_conf: bool,
    pub scheduler_conf: bool,
    pub ca_key: bool,
    pub sa_key: bool,
    pub etcd_ca_key: bool,
    pub kubelet_config: bool,
    pub kubeadm_flags_env: bool,
    pub kubelet_client_cert: bool,
    /// /var/lib/etcd/member exists (stacked etcd data).
    pub etcd_member: bool,
    /// Names in /etc/kubernetes/manifests (dot files such as `.kubelet-keep` excluded).
    pub manifests: BTreeSet<String>,
    /// sha256 of /etc/kubernetes/pki/ca.crt (file bytes).
    pub ca_crt_sha256: Option<String>,
    /// sha256 of the CA public key (DER), i.e. the discovery-token-ca-cert-hash without `sha256:`.
    pub ca_pubkey_sha256: Option<String>,
    /// `server:` of /etc/kubernetes/admin.conf, e.g. `https://10.0.0.100:6443`.
    pub admin_conf_server: Option<String>,
    /// `server:` of /etc/kubernetes/kubelet.conf: the endpoint this node joined through.
    pub kubelet_conf_server: Option<String>,
    /// `kubeadm version -o short`, e.g. `v1.33.4`.
    pub kubeadm_version: Option<String>,
    /// From `kubelet --version`, e.g. `v1.33.4`.
    pub kubelet_version: Option<String>,
    /// From `containerd --version`, e.g. `1.6.20~ds1`.
    pub containerd_version: Option<String>,
}

/// Coarse node state from [`KubeFacts`], following kubeadm.md 4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeState {
    /// Nothing kubeadm-made on disk.
    Fresh,
    /// A join stopped before TLS bootstrap finished.
    JoinInterrupted,
    /// kubelet.conf present: joined (or initialised) node.
    Member,
    /// Member with control-plane static pods and admin.conf.
    ControlPlane,
    /// PKI, manifests or etcd data but no kubelet.conf: a failed init/join, needs `kubeadm reset`.
    PartialNeedsReset,
}

impl KubeFacts {
    pub fn state(&self) -> NodeState {
        if !self.kubelet_conf {
            if self.bootstrap_kubelet_conf {
                return NodeState::JoinInterrupted;
            }
            if self.ca_crt_sha256.is_some()
                || self.manifests.contains("kube-apiserver.yaml")
                || self.etcd_member
            {
                return NodeState::PartialNeedsReset;
            }
            return NodeState::Fresh;
        }
        if self.admin_conf && self.manifests.contains("kube-apiserver.yaml") {
            NodeState::ControlPlane
        } else {
            NodeState::Member
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NetFacts {
    /// Interface of the IPv4 default route.
    pub default_interface: Option<String>,
    pub default_gateway: Option<String>,
    /// Global and host addresses (loopback excluded).
    pub addresses: Vec<Address>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Address {
    pub interface: String,
    /// `10.0.0.11/24` or `fd00::11/64`.
    pub cidr: String,
}

impl NetFacts {
    /// Interface that carries `ip` (first match), for VIP placement next to the node address.
    pub fn interface_of(&self, ip: &str) -> Option<&str> {
        self.addresses
            .iter()
            .find(|a| a.cidr.split('/').next() == Some(ip))
            .map(|a| a.interface.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("{host}: facts script failed (exit {code:?}): {stderr}")]
    Script {
        host: String,
        code: Option<u32>,
        stderr: String,
    },
    #[error("{host}: cannot parse facts: {reason}")]
    Parse { host: String, reason: String },
}

/// The exact script sent for `req`: quoted request variables + probe function + gather.sh.
pub fn script(req: &FactRequest) -> String {
    use std::fmt::Write;
    let q = crate::shell::q;
    let list = |set: &BTreeSet<String>| {
        q(&set
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n"))
    };
    let mut s = String::new();
    let _ = writeln!(s, "OTP_SYSCTLS={}", list(&req.sysctls));
    let _ = writeln!(s, "OTP_PACKAGES={}", list(&req.packages));
    let _ = writeln!(s, "OTP_SERVICES={}", list(&req.services));
    let _ = writeln!(s, "OTP_FILES={}", list(&req.files));
    let _ = writeln!(s, "OTP_DISPLAY={}", if req.display { "1" } else { "''" });
    s.push_str("otp_probes() {\n");
    if req.probes.is_empty() {
        s.push_str("  :\n");
    }
    for (id, cmd) in &req.probes {
        // A hanging probe must not hang the whole gather; stdin closed so it cannot eat ours.
        let _ = writeln!(
            s,
            "  timeout 60 sh -c {} </dev/null >/dev/null 2>&1; printf '%s\\t%s\\n' {} \"$?\"",
            q(cmd),
            q(id)
        );
    }
    s.push_str("}\n");
    // Reports start in the background at the top of gather.sh (`otp_reports_start`), so the
    // cluster and addon probes on a control plane run side by side with the host's own facts;
    // `otp_reports` prints them in order once they have finished.
    let mut start = String::from("otp_reports_start() {\n  :\n");
    let mut print = String::from("otp_reports() {\n  :\n");
    for (i, (name, cmd)) in req.reports.iter().enumerate() {
        // base64 keeps a report's own lines from looking like section markers. The API probe
        // waits up to a minute for a restarting API server, then asks it several questions:
        // its budget must exceed that wait even on a loaded control plane.
        let _ = writeln!(
            s,
            "otp_report_{i}() {{ timeout {REPORT_TIMEOUT_SECS} sh -c {} </dev/null 2>/dev/null | base64 -w0; }}",
            q(cmd)
        );
        let _ = writeln!(start, "  early report-{i} otp_report_{i}");
        let _ = writeln!(
            print,
            "  printf '%s\\t%s\\n' {} \"$(late report-{i} otp_report_{i})\"",
            q(name)
        );
    }
    s.push_str(&start);
    s.push_str("}\n");
    s.push_str(&print);
    s.push_str("}\n");
    s.push_str(include_str!("gather.sh"));
    s
}

/// Time budget of one report script inside the facts script.
const REPORT_TIMEOUT_SECS: u64 = 180;

/// Time budget for one gather; a healthy host answers in well under a second, a control plane
/// carrying the cluster and addon reports in a few seconds.
pub const GATHER_TIMEOUT: Duration = Duration::from_secs(60 + 2 * REPORT_TIMEOUT_SECS);

/// Run the facts script once on `conn` and parse it.
pub async fn gather(conn: &Connection, req: &FactRequest) -> Result<Facts, FactsError> {
    gather_observed(conn, req, &crate::apply::NoopObserver).await
}

/// [`gather`], reporting the remote command to `observer` (journal) like every other command.
pub async fn gather_observed(
    conn: &Connection,
    req: &FactRequest,
    observer: &dyn crate::apply::Observer,
) -> Result<Facts, FactsError> {
    let cmd = Command {
        script: script(req),
        privileged: true,
        stdin: None,
        timeout: Some(GATHER_TIMEOUT),
    };
    let out = crate::apply::exec(conn, "facts", "gather facts", cmd, observer)
        .await
        .0?;
    if !out.success() {
        return Err(FactsError::Script {
            host: conn.host().to_string(),
            code: out.code,
            stderr: crate::apply::tail(&out.stderr_str(), 20),
        });
    }
    let mut facts = parse(conn.host(), &out.stdout_str())?;
    facts.waited_for_lock = out.stderr_str().contains(crate::apply::LOCK_WAITED);
    Ok(facts)
}

/// Gather every host of `reqs` over its connection, `parallel` hosts at a time. A host without
/// a connection gets an error naming it; one host failing never stops the others.
pub async fn gather_all(
    conns: &std::collections::BTreeMap<String, Connection>,
    reqs: &BTreeMap<String, FactRequest>,
    observer: &dyn crate::apply::Observer,
    parallel: usize,
) -> BTreeMap<String, Result<Facts, FactsError>> {
    use futures::StreamExt;
    // Futures collected first so the returned future stays `Send` (see apply::apply_with).
    let futs: Vec<_> = reqs
        .iter()
        .map(|(host, req)| async move {
            let res = match conns.get(host) {
                Some(conn) => gather_observed(conn, req, observer).await,
                None => Err(FactsError::Ssh(SshError::Other {
                    host: host.clone(),
                    reason: "not connected".into(),
                })),
            };
            (host.clone(), res)
        })
        .collect();
    futures::stream::iter(futs)
        .buffer_unordered(parallel.max(1))
        .collect()
        .await
}
