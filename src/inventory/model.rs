//! Validated inventory model. CONTRACT: other modules use these names; add fields freely,
//! do not rename or remove without updating every user.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Serialize;

pub use super::log_parsers::{FieldKind, FieldType, LogFormat, LogParser};

#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// The file this inventory was loaded from (relative paths inside it are resolved against its dir).
    pub source: PathBuf,
    pub cluster: Cluster,
    /// Hosts in file order, with group defaults and top-level SSH settings merged in.
    pub hosts: Vec<Host>,
    /// Jump hosts, referenced by name from `Host::ssh.bastion`.
    pub bastions: Vec<Bastion>,
    pub packages: PackageSource,
    pub run: RunSettings,
    /// Addon settings; free-form until the addon issues define them.
    pub addons: toml::Table,
    /// `[[log_parser]]` definitions in file order (Fluent Bit and `otp-provision logs`).
    pub log_parsers: Vec<LogParser>,
}

impl Inventory {
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }
    pub fn bastion(&self, name: &str) -> Option<&Bastion> {
        self.bastions.iter().find(|b| b.name == name)
    }
    pub fn control_planes(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.has_role(Role::ControlPlane))
    }
    pub fn workers(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.has_role(Role::Worker))
    }
    pub fn load_balancers(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.has_role(Role::LoadBalancer))
    }
    /// Directory relative paths in the inventory are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        self.source
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    pub name: String,
    /// Full version without a leading `v`, e.g. `1.33.4`.
    pub kubernetes_version: String,
    pub endpoint: Option<Endpoint>,
    pub pod_subnet: IpNet,
    pub service_subnet: IpNet,
    /// DNS domain of the cluster, `cluster.local` unless set.
    pub dns_domain: String,
    pub cni: Cni,
}

impl Cluster {
    /// `v1.33` style minor, as used by the package repository layout.
    pub fn minor(&self) -> String {
        let mut parts = self.kubernetes_version.split('.');
        format!(
            "v{}.{}",
            parts.next().unwrap_or("0"),
            parts.next().unwrap_or("0")
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cni {
    Calico,
    Flannel,
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub mode: EndpointMode,
    /// VIP or DNS name clients use to reach the API server.
    pub address: String,
    pub port: u16,
    /// Interface the VIP lives on (haproxy-keepalived, kube-vip); detected from facts when unset.
    pub interface: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointMode {
    HaproxyKeepalived,
    KubeVip,
    External,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    ControlPlane,
    Worker,
    LoadBalancer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ControlPlane => "control-plane",
            Role::Worker => "worker",
            Role::LoadBalancer => "load-balancer",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub name: String,
    /// IP address or DNS name used for SSH and, unless `node_ip` is set, as the node IP.
    pub address: String,
    /// Address Kubernetes advertises for this node when it differs from the SSH address.
    pub node_ip: Option<String>,
    pub roles: BTreeSet<Role>,
    pub labels: BTreeMap<String, String>,
    /// `key=value:Effect` strings.
    pub taints: Vec<String>,
    pub ssh: SshSettings,
}

impl Host {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
    pub fn node_ip(&self) -> &str {
        self.node_ip.as_deref().unwrap_or(&self.address)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Bastion {
    pub name: String,
    pub address: String,
    pub ssh: SshSettings,
}

/// How to reach one host. Resolved: top-level `[ssh]`, then group defaults, then the host's own.
#[derive(Debug, Clone, Serialize)]
pub struct SshSettings {
    pub user: String,
    pub port: u16,
    /// Private key files to try, in order (absolute after loading).
    pub key_files: Vec<PathBuf>,
    /// OpenSSH certificate to present with the key (`id_ed25519-cert.pub`).
    pub certificate: Option<PathBuf>,
    /// Try identities from `SSH_AUTH_SOCK`.
    pub agent: bool,
    /// Allow password authentication (password from a prompt or askpass, never from the file).
    pub password: bool,
    /// Allow keyboard-interactive (OTP / two-factor) prompts.
    pub keyboard_interactive: bool,
    /// Program answering prompts, OpenSSH SSH_ASKPASS convention: prompt as argv[1], answer on stdout.
    pub askpass: Option<PathBuf>,
    /// Name of an entry in `[[bastion]]`.
    pub bastion: Option<String>,
    /// known_hosts files to check (absolute after loading). Default `~/.ssh/known_hosts`.
    pub known_hosts: Vec<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    /// Pinned host keys in OpenSSH public key format (`ssh-ed25519 AAAA...`); when set they are
    /// the only keys accepted for this host.
    pub host_keys: Vec<String>,
    /// Run privileged commands through `sudo` (users other than root).
    pub sudo: bool,
    /// Environment variable holding the sudo password; otherwise prompted when sudo asks.
    pub sudo_password_env: Option<String>,
    pub connect_timeout_secs: u64,
    pub command_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    /// Unknown or changed keys are refused.
    Strict,
    /// Unknown hosts are recorded in the first known_hosts file; changed keys are refused.
    AcceptNew,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PackageSource {
    /// pkgs.k8s.io and the distribution's own archive.
    Upstream,
    /// One mirror laid out like pkgs.k8s.io (`{url}/kubernetes/{minor}/deb/`) plus a Debian
    /// archive mirror at `{url}/debian` when `debian` is true.
    Mirror {
        url: String,
        /// Optional ASCII-armoured signing key URL; without it the mirror is trusted (`trusted=yes`).
        key_url: Option<String>,
        /// Also replace the distribution archive (air-gapped sites).
        debian: bool,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSettings {
    /// Hosts worked on at once.
    pub parallel_hosts: usize,
    /// Concurrent SSH sessions per connection (OpenSSH MaxSessions defaults to 10).
    pub sessions_per_host: usize,
    /// Where run journals and fetched kubeconfigs go (absolute after loading).
    pub state_dir: PathBuf,
}

/// Kubernetes minor versions (`1.N`) this release of otp-provision can install.
pub const SUPPORTED_KUBERNETES_MINORS: std::ops::RangeInclusive<u32> = 31..=37;
