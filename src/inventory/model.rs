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
    /// `[addons]`: which cluster add-ons are deployed and how (see `super::addons`).
    pub addons: super::addons::Addons,
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
    /// Hosts that run haproxy + keepalived for the API endpoint: the load-balancer hosts, or
    /// the control planes when there are none. Empty in the other endpoint modes. The one place
    /// this rule is written: playbook role selection, their template context and `reset` use it.
    pub fn lb_hosts(&self) -> Vec<&Host> {
        match self.cluster.endpoint.as_ref().map(|e| e.mode) {
            Some(EndpointMode::HaproxyKeepalived) => {
                let lbs: Vec<&Host> = self.load_balancers().collect();
                if lbs.is_empty() {
                    self.control_planes().collect()
                } else {
                    lbs
                }
            }
            _ => Vec::new(),
        }
    }
    /// Whether `host` plays `role`: its own roles, plus `load-balancer` on the control planes
    /// that carry the endpoint when there are no load-balancer hosts ([`Self::lb_hosts`]).
    pub fn plays(&self, host: &Host, role: Role) -> bool {
        host.has_role(role)
            || (role == Role::LoadBalancer && self.lb_hosts().iter().any(|h| h.name == host.name))
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
    /// Images the cluster phases deploy (kube-vip, CNI) and an optional registry mirror.
    pub images: ImageSettings,
    /// haproxy + keepalived details for the `haproxy-keepalived` endpoint mode.
    pub load_balancer: LoadBalancerSettings,
    /// Hardened defaults: audit log, encryption at rest, Pod Security Admission, kubelet.
    pub security: SecuritySettings,
    /// Optional OIDC login through the API server's structured authentication configuration.
    pub oidc: Option<OidcSettings>,
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
    /// Seconds a changing command waits for another otp-provision command's host lock.
    pub lock_wait_secs: u64,
}

/// `[run] lock_wait_secs` default: long enough for an interrupted run's kubeadm init or join
/// (kubeadm's own timeouts are 4-5 minutes) to finish.
pub const DEFAULT_LOCK_WAIT_SECS: u64 = 600;

/// `[cluster.images]`: pinned versions, overridable, and a mirror for air-gapped sites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageSettings {
    /// Registry host (optionally with a path) replacing `registry.k8s.io`, `docker.io`, `ghcr.io`
    /// and `quay.io` in every image the cluster phases deploy, e.g. `registry.bank.example/k8s`.
    /// Image paths below the registry are kept (`ghcr.io/kube-vip/kube-vip` becomes
    /// `MIRROR/kube-vip/kube-vip`); for kubeadm it becomes `imageRepository`.
    pub registry_mirror: Option<String>,
    pub kube_vip: String,
    pub calico: String,
    pub flannel: String,
    pub flannel_cni_plugin: String,
}

impl Default for ImageSettings {
    fn default() -> Self {
        ImageSettings {
            registry_mirror: None,
            kube_vip: "v0.9.2".into(),
            calico: "v3.30.7".into(),
            flannel: "v0.27.2".into(),
            flannel_cni_plugin: "v1.7.1-flannel1".into(),
        }
    }
}

/// `[cluster.load_balancer]`: keepalived/haproxy settings for `haproxy-keepalived`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadBalancerSettings {
    /// VRRP router id: identical on all keepalived hosts of this cluster, unique in the subnet.
    pub virtual_router_id: u8,
}

impl Default for LoadBalancerSettings {
    fn default() -> Self {
        LoadBalancerSettings {
            virtual_router_id: 51,
        }
    }
}

/// `[cluster.security]`: the hardened defaults an auditor expects (CIS benchmark values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecuritySettings {
    pub encryption_provider: EncryptionProvider,
    /// Days to keep rotated audit logs (CIS >= 30).
    pub audit_log_max_age: u32,
    /// Rotated audit log files kept (CIS >= 10).
    pub audit_log_max_backup: u32,
    /// MB before an audit log is rotated (CIS >= 100).
    pub audit_log_max_size: u32,
    /// Pod Security Admission levels for namespaces without their own labels.
    pub psa_enforce: PsaLevel,
    pub psa_audit: PsaLevel,
    pub psa_warn: PsaLevel,
    /// Namespaces exempt from Pod Security Admission (system pods such as the CNI run there).
    pub psa_exempt_namespaces: Vec<String>,
    /// kubelet `protectKernelDefaults`: the node must then set the kernel tunables the kubelet
    /// expects (vm.overcommit_memory=1, vm.panic_on_oom=0, kernel.panic=10,
    /// kernel.panic_on_oops=1, kernel.keys.root_maxkeys=1000000, kernel.keys.root_maxbytes=25000000).
    pub kubelet_protect_kernel_defaults: bool,
    /// kubelet `podPidsLimit` (CIS 4.2.13).
    pub pod_pids_limit: i64,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            encryption_provider: EncryptionProvider::Aescbc,
            audit_log_max_age: 30,
            audit_log_max_backup: 10,
            audit_log_max_size: 100,
            psa_enforce: PsaLevel::Baseline,
            psa_audit: PsaLevel::Restricted,
            psa_warn: PsaLevel::Restricted,
            psa_exempt_namespaces: vec!["kube-system".into()],
            kubelet_protect_kernel_defaults: true,
            pod_pids_limit: 4096,
        }
    }
}

/// Providers CIS 1.2.28 accepts that need no external KMS plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncryptionProvider {
    Aescbc,
    Secretbox,
}

impl EncryptionProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptionProvider::Aescbc => "aescbc",
            EncryptionProvider::Secretbox => "secretbox",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PsaLevel {
    Privileged,
    Baseline,
    Restricted,
}

impl PsaLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            PsaLevel::Privileged => "privileged",
            PsaLevel::Baseline => "baseline",
            PsaLevel::Restricted => "restricted",
        }
    }
}

/// `[cluster.oidc]`: people log in with the bank's identity provider instead of certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OidcSettings {
    /// Must equal the tokens' `iss` claim.
    pub issuer_url: String,
    /// Accepted `aud` values (the OIDC client id).
    pub audiences: Vec<String>,
    /// PEM of the CA that signs the issuer's TLS certificate (the loader reads `ca_file`).
    pub certificate_authority: Option<String>,
    pub username_claim: String,
    pub username_prefix: String,
    pub groups_claim: Option<String>,
    pub groups_prefix: String,
    /// Require evidence of multi-factor authentication in the token.
    pub require_mfa: bool,
    /// CEL over `claims` deciding whether the token proves MFA; IdP-specific (`amr` per RFC 8176
    /// by default, Keycloak often uses `acr`).
    pub mfa_expression: String,
    /// Further CEL claim rules, each with the message shown when it fails.
    pub claim_rules: Vec<OidcClaimRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OidcClaimRule {
    pub expression: String,
    pub message: String,
}

impl OidcSettings {
    /// Default MFA rule: the IdP lists `mfa` among the authentication methods (RFC 8176 `amr`).
    pub const DEFAULT_MFA_EXPRESSION: &'static str =
        "has(claims.amr) && claims.amr.exists(x, x == 'mfa')";

    /// Settings with the documented defaults for everything but issuer and audience.
    pub fn new(issuer_url: impl Into<String>, audience: impl Into<String>) -> Self {
        OidcSettings {
            issuer_url: issuer_url.into(),
            audiences: vec![audience.into()],
            certificate_authority: None,
            username_claim: "email".into(),
            username_prefix: "oidc:".into(),
            groups_claim: Some("groups".into()),
            groups_prefix: "oidc:".into(),
            require_mfa: true,
            mfa_expression: Self::DEFAULT_MFA_EXPRESSION.into(),
            claim_rules: Vec::new(),
        }
    }
}

/// Kubernetes minor versions (`1.N`) this release of otp-provision can install.
pub const SUPPORTED_KUBERNETES_MINORS: std::ops::RangeInclusive<u32> = 31..=37;
