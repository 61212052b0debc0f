//! Files the cluster phases put on nodes, rendered from the embedded tera templates (strict:
//! an undefined variable is an error). Pure: no I/O, no facts beyond [`RenderOptions`].

use std::sync::OnceLock;

use serde::Serialize;
use serde_json::{Value, json};

use super::ClusterError;
use crate::inventory::{Cni, EndpointMode, Host, Inventory, Role};
use crate::runtime::RuntimeInput;
use crate::template::error_chain;

pub const CRI_SOCKET: &str = "unix:///var/run/containerd/containerd.sock";
pub const APISERVER_PORT: u16 = 6443;
/// Scratch directory for files that carry run-time secrets: tmpfs, removed after each step.
pub const RUN_DIR: &str = "/run/otp-provision";
pub const INIT_CONFIG: &str = "/run/otp-provision/kubeadm-init.yaml";
pub const JOIN_CONFIG: &str = "/run/otp-provision/kubeadm-join.yaml";
pub const AUDIT_POLICY: &str = "/etc/kubernetes/audit/policy.yaml";
pub const AUDIT_LOG_DIR: &str = "/var/log/kubernetes/audit";
pub const ENCRYPTION_CONFIG: &str = "/etc/kubernetes/enc/encryption-config.yaml";
pub const ADMISSION_CONFIG: &str = "/etc/kubernetes/admission/admission-config.yaml";
pub const AUTHN_CONFIG: &str = "/etc/kubernetes/auth/authentication-config.yaml";
pub const KUBE_VIP_MANIFEST: &str = "/etc/kubernetes/manifests/kube-vip.yaml";
/// Where cluster-wide manifests are kept on the control plane that applies them.
pub const MANIFEST_DIR: &str = "/etc/kubernetes/otp-provision";
pub const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";
pub const SUPER_ADMIN_CONF: &str = "/etc/kubernetes/super-admin.conf";

/// Description put on every bootstrap token this tool creates, so cleanup finds only its own.
pub const TOKEN_DESCRIPTION: &str = "otp-provision run token";
pub const TOKEN_TTL: &str = "1h0m0s";

/// TLS 1.2 suites accepted by CIS 1.2.29 / 4.2.12 (TLS 1.3 suites are not configurable in Go).
pub const TLS_CIPHER_SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// One file for a node, or for the cluster (applied from a control plane).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedFile {
    /// Absolute path on the node.
    pub path: String,
    pub content: String,
    /// Octal, e.g. `0600`.
    pub mode: String,
    /// Run-time values whose placeholders `content` holds; the writing script fills them from
    /// stdin on the node.
    pub secrets: Vec<RuntimeInput>,
    /// Written only for the duration of one step (kubeadm configs under [`RUN_DIR`]).
    pub transient: bool,
}

impl RenderedFile {
    fn new(path: &str, mut content: String, mode: &str) -> Self {
        // Exactly one final newline: what the node stores must hash like what was rendered,
        // or every run would see a change.
        while content.ends_with("\n\n") {
            content.pop();
        }
        if !content.ends_with('\n') {
            content.push('\n');
        }
        RenderedFile {
            secrets: RuntimeInput::referenced_by(&content),
            path: path.to_string(),
            content,
            mode: mode.to_string(),
            transient: path.starts_with(RUN_DIR),
        }
    }

    /// sha256 (hex) of the content; compared with the node's file to decide whether to write.
    /// Meaningless for files with secrets (the node holds the filled-in version).
    pub fn sha256(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(self.content.as_bytes()))
    }
}

/// What rendering needs beyond the inventory; `up` fills it from facts and cluster state,
/// `render` leaves the defaults.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// The control plane that runs (or ran) `kubeadm init`; default: the first in the inventory.
    pub init_node: Option<String>,
    /// Interface carrying the VIP on this host when the inventory does not name one
    /// (from `ip route get VIP` on the node).
    pub vip_interface: Option<String>,
    /// Render the kube-vip manifest with `super-admin.conf` (init node, before and during
    /// `kubeadm init` on Kubernetes >= 1.29).
    pub kube_vip_bootstrap: bool,
}

const TEMPLATES: &[(&str, &str)] = &[
    (
        "kubeadm/_node_registration.tera",
        include_str!("../../../templates/kubeadm/_node_registration.tera"),
    ),
    (
        "kubeadm/init.yaml.tera",
        include_str!("../../../templates/kubeadm/init.yaml.tera"),
    ),
    (
        "kubeadm/cluster.yaml.tera",
        include_str!("../../../templates/kubeadm/cluster.yaml.tera"),
    ),
    (
        "kubeadm/kubelet.yaml.tera",
        include_str!("../../../templates/kubeadm/kubelet.yaml.tera"),
    ),
    (
        "kubeadm/join.yaml.tera",
        include_str!("../../../templates/kubeadm/join.yaml.tera"),
    ),
    (
        "lb/kube-vip.yaml.tera",
        include_str!("../../../templates/lb/kube-vip.yaml.tera"),
    ),
    (
        "security/audit-policy.yaml.tera",
        include_str!("../../../templates/security/audit-policy.yaml.tera"),
    ),
    (
        "security/encryption-config.yaml.tera",
        include_str!("../../../templates/security/encryption-config.yaml.tera"),
    ),
    (
        "security/admission-config.yaml.tera",
        include_str!("../../../templates/security/admission-config.yaml.tera"),
    ),
    (
        "security/authentication-config.yaml.tera",
        include_str!("../../../templates/security/authentication-config.yaml.tera"),
    ),
    (
        "cni/calico.yaml.tera",
        include_str!("../../../templates/cni/calico.yaml.tera"),
    ),
    (
        "cni/flannel.yaml.tera",
        include_str!("../../../templates/cni/flannel.yaml.tera"),
    ),
];

fn engine() -> Result<&'static tera::Tera, ClusterError> {
    static ENGINE: OnceLock<Result<tera::Tera, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut t = crate::template::engine();
            t.register_filter("q", crate::template::yaml_quote);
            t.add_raw_templates(TEMPLATES.iter().copied())
                .map_err(|e| error_chain(&e))?;
            Ok(t)
        })
        .as_ref()
        .map_err(|reason| ClusterError::Render {
            host: "-".into(),
            template: "(embedded templates)".into(),
            reason: reason.clone(),
        })
}

fn render(host: &str, template: &str, ctx: &Value) -> Result<String, ClusterError> {
    let err = |reason: String| ClusterError::Render {
        host: host.to_string(),
        template: template.to_string(),
        reason,
    };
    let ctx = tera::Context::from_value(ctx.clone()).map_err(|e| err(error_chain(&e)))?;
    engine()?
        .render(template, &ctx)
        .map_err(|e| err(error_chain(&e)))
}

/// `(major, minor)` of the inventory's Kubernetes version.
pub fn k8s_minor(inv: &Inventory) -> (u32, u32) {
    let mut it = inv
        .cluster
        .kubernetes_version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// kubeadm >= 1.29 writes `super-admin.conf` and makes `admin.conf` usable only after init.
pub fn uses_super_admin(inv: &Inventory) -> bool {
    k8s_minor(inv) >= (1, 29)
}

/// `host:port` clients and joining nodes use to reach the API server.
pub fn control_plane_endpoint(inv: &Inventory) -> Result<String, ClusterError> {
    let (addr, port) = match &inv.cluster.endpoint {
        Some(e) => (e.address.clone(), e.port),
        None => {
            let cp = inv
                .control_planes()
                .next()
                .ok_or_else(|| config_err("-", "the inventory has no control-plane host"))?;
            (cp.node_ip().to_string(), APISERVER_PORT)
        }
    };
    Ok(if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    })
}

fn config_err(host: &str, reason: impl Into<String>) -> ClusterError {
    ClusterError::Config {
        host: host.to_string(),
        reason: reason.into(),
    }
}

/// Endpoint rules the templates rely on; the inventory loader checks the same when it can.
pub fn check_endpoint(inv: &Inventory) -> Result<(), ClusterError> {
    let Some(e) = &inv.cluster.endpoint else {
        if inv.control_planes().count() > 1 {
            return Err(config_err(
                "-",
                "more than one control plane needs cluster.endpoint (a VIP or load balancer)",
            ));
        }
        return Ok(());
    };
    match e.mode {
        EndpointMode::KubeVip if e.port != APISERVER_PORT => Err(config_err(
            "-",
            format!(
                "kube-vip moves the VIP to the API server itself: endpoint.port must be {APISERVER_PORT}, not {}",
                e.port
            ),
        )),
        EndpointMode::HaproxyKeepalived
            if inv.load_balancers().next().is_none() && e.port == APISERVER_PORT =>
        {
            Err(config_err(
                "-",
                format!(
                    "haproxy runs on the control planes (no load-balancer hosts) and cannot share port {APISERVER_PORT} with the API server: set endpoint.port to e.g. 8443"
                ),
            ))
        }
        _ => Ok(()),
    }
}

#[derive(Serialize)]
struct Taint {
    key: String,
    value: String,
    effect: String,
}

fn parse_taint(host: &str, s: &str) -> Result<Taint, ClusterError> {
    let bad = || {
        config_err(
            host,
            format!("taint {s:?} is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute"),
        )
    };
    let (kv, effect) = s.rsplit_once(':').ok_or_else(bad)?;
    if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
        return Err(bad());
    }
    let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
    if key.is_empty() {
        return Err(bad());
    }
    Ok(Taint {
        key: key.into(),
        value: value.into(),
        effect: effect.into(),
    })
}

fn node_ctx(host: &Host) -> Result<Value, ClusterError> {
    let taints = host
        .taints
        .iter()
        .map(|t| parse_taint(&host.name, t))
        .collect::<Result<Vec<_>, _>>()?;
    let cp = host.has_role(Role::ControlPlane);
    Ok(json!({
        "name": host.name,
        "ip": host.node_ip(),
        "cri_socket": CRI_SOCKET,
        "control_plane": cp,
        "taints": taints,
        // A control plane that also runs workloads: drop kubeadm's default control-plane taint.
        "no_taints": cp && host.has_role(Role::Worker) && host.taints.is_empty(),
    }))
}

fn placeholders() -> Value {
    json!({
        "bootstrap_token": RuntimeInput::BootstrapToken.placeholder(),
        "certificate_key": RuntimeInput::CertificateKey.placeholder(),
        "ca_cert_hash": RuntimeInput::CaCertHash.placeholder(),
        "encryption_key": RuntimeInput::EncryptionKey.placeholder(),
    })
}

/// `MIRROR/path` for an image normally pulled from `registry/path`.
fn image(inv: &Inventory, registry: &str, path: &str, tag: &str) -> String {
    let reg = inv
        .cluster
        .images
        .registry_mirror
        .as_deref()
        .map(|m| m.trim_end_matches('/'))
        .unwrap_or(registry);
    format!("{reg}/{path}:{tag}")
}

/// Whether the API server gets an AuthenticationConfiguration file: for OIDC, and from 1.32
/// on also to limit anonymous access to the health endpoints.
pub fn has_authn_config(inv: &Inventory) -> bool {
    inv.cluster.oidc.is_some() || k8s_minor(inv) >= (1, 32)
}

fn apiserver_args(inv: &Inventory) -> Vec<Value> {
    let s = &inv.cluster.security;
    let mut args: Vec<(&str, String)> = vec![
        ("profiling", "false".into()),
        ("audit-policy-file", AUDIT_POLICY.into()),
        ("audit-log-path", format!("{AUDIT_LOG_DIR}/audit.log")),
        ("audit-log-maxage", s.audit_log_max_age.to_string()),
        ("audit-log-maxbackup", s.audit_log_max_backup.to_string()),
        ("audit-log-maxsize", s.audit_log_max_size.to_string()),
        ("encryption-provider-config", ENCRYPTION_CONFIG.into()),
        ("admission-control-config-file", ADMISSION_CONFIG.into()),
        // Replaces kubeadm's list, so NodeRestriction must be named again.
        (
            "enable-admission-plugins",
            "NodeRestriction,EventRateLimit".into(),
        ),
        ("tls-min-version", "VersionTLS12".into()),
        ("tls-cipher-suites", TLS_CIPHER_SUITES.join(",")),
        // kubelet serving certificates come from the cluster CA (serverTLSBootstrap).
        (
            "kubelet-certificate-authority",
            "/etc/kubernetes/pki/ca.crt".into(),
        ),
        ("service-account-extend-token-expiration", "false".into()),
    ];
    if has_authn_config(inv) {
        args.push(("authentication-config", AUTHN_CONFIG.into()));
    }
    args.into_iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect()
}

fn apiserver_volumes(inv: &Inventory) -> Vec<Value> {
    let dir = |p: &str| {
        p.rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default()
    };
    let mut v = vec![
        json!({"name": "audit-policy", "path": dir(AUDIT_POLICY), "read_only": true}),
        json!({"name": "audit-log", "path": AUDIT_LOG_DIR, "read_only": false}),
        json!({"name": "encryption", "path": dir(ENCRYPTION_CONFIG), "read_only": true}),
        json!({"name": "admission", "path": dir(ADMISSION_CONFIG), "read_only": true}),
    ];
    if has_authn_config(inv) {
        v.push(json!({"name": "authentication", "path": dir(AUTHN_CONFIG), "read_only": true}));
    }
    v
}

fn cert_sans(inv: &Inventory) -> Vec<String> {
    let mut sans: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !sans.iter().any(|x| x == s) {
            sans.push(s.to_string());
        }
    };
    if let Some(e) = &inv.cluster.endpoint {
        push(&e.address);
    }
    for cp in inv.control_planes() {
        push(&cp.name);
        push(cp.node_ip());
    }
    sans
}

fn kubeadm_ctx(inv: &Inventory, host: &Host) -> Result<Value, ClusterError> {
    let c = &inv.cluster;
    Ok(json!({
        "cluster_name": c.name,
        "kubernetes_version": format!("v{}", c.kubernetes_version.trim_start_matches('v')),
        "control_plane_endpoint": control_plane_endpoint(inv)?,
        "image_repository": c.images.registry_mirror.clone().unwrap_or_default(),
        "pod_subnet": c.pod_subnet.to_string(),
        "service_subnet": c.service_subnet.to_string(),
        "dns_domain": c.dns_domain,
        "apiserver_port": APISERVER_PORT,
        "cert_sans": cert_sans(inv),
        "apiserver_args": apiserver_args(inv),
        "apiserver_volumes": apiserver_volumes(inv),
        "security": c.security,
        "kubelet_tls_cipher_suites": TLS_CIPHER_SUITES,
        "node": node_ctx(host)?,
        "placeholders": placeholders(),
        "token_description": TOKEN_DESCRIPTION,
        "token_ttl": TOKEN_TTL,
    }))
}

/// The `kubeadm init` configuration (Init + Cluster + Kubelet + KubeProxy) for `host`.
pub fn init_config(inv: &Inventory, host: &Host) -> Result<RenderedFile, ClusterError> {
    let ctx = kubeadm_ctx(inv, host)?;
    let text = render(&host.name, "kubeadm/init.yaml.tera", &ctx)?;
    Ok(RenderedFile::new(INIT_CONFIG, text, "0600"))
}

/// The `kubeadm join` configuration for `host` (control plane or worker).
pub fn join_config(inv: &Inventory, host: &Host) -> Result<RenderedFile, ClusterError> {
    let ctx = kubeadm_ctx(inv, host)?;
    let text = render(&host.name, "kubeadm/join.yaml.tera", &ctx)?;
    Ok(RenderedFile::new(JOIN_CONFIG, text, "0600"))
}

fn vip_interface(
    inv: &Inventory,
    host: &Host,
    opts: &RenderOptions,
) -> Result<String, ClusterError> {
    inv.cluster
        .endpoint
        .as_ref()
        .and_then(|e| e.interface.clone())
        .or_else(|| opts.vip_interface.clone())
        .ok_or_else(|| {
            config_err(
                &host.name,
                "the VIP interface is unknown: set endpoint.interface in the inventory (up detects it from the route to the VIP)",
            )
        })
}

/// The kube-vip static pod for one control plane. `bootstrap`: mount `super-admin.conf`
/// (init node during `kubeadm init` on >= 1.29), else `admin.conf`.
pub fn kube_vip_manifest(
    inv: &Inventory,
    host: &Host,
    opts: &RenderOptions,
    bootstrap: bool,
) -> Result<RenderedFile, ClusterError> {
    check_endpoint(inv)?;
    let e = inv
        .cluster
        .endpoint
        .as_ref()
        .ok_or_else(|| config_err(&host.name, "kube-vip needs cluster.endpoint"))?;
    let (kubeconfig, note) = if bootstrap && uses_super_admin(inv) {
        (
            SUPER_ADMIN_CONF,
            "super-admin.conf while kubeadm init runs: admin.conf gets its RBAC binding only during init",
        )
    } else {
        (ADMIN_CONF, "admin.conf (written by kubeadm init/join)")
    };
    let ctx = json!({
        "image": image(inv, "ghcr.io", "kube-vip/kube-vip", &inv.cluster.images.kube_vip),
        "apiserver_port": APISERVER_PORT,
        "interface": vip_interface(inv, host, opts)?,
        "vip": e.address,
        "kubeconfig": kubeconfig,
        "kubeconfig_note": note,
    });
    Ok(RenderedFile::new(
        KUBE_VIP_MANIFEST,
        render(&host.name, "lb/kube-vip.yaml.tera", &ctx)?,
        "0600",
    ))
}

/// Audit policy, admission (PSA + EventRateLimit), encryption and authentication configs:
/// the files every control plane needs before `kubeadm init/join`.
pub fn security_files(inv: &Inventory, host: &Host) -> Result<Vec<RenderedFile>, ClusterError> {
    let s = &inv.cluster.security;
    let ctx = json!({
        "placeholders": placeholders(),
        "provider": s.encryption_provider.as_str(),
        "psa": {
            "enforce": s.psa_enforce.as_str(),
            "audit": s.psa_audit.as_str(),
            "warn": s.psa_warn.as_str(),
            "exempt_namespaces": s.psa_exempt_namespaces,
        },
    });
    let mut files = vec![
        RenderedFile::new(
            AUDIT_POLICY,
            render(&host.name, "security/audit-policy.yaml.tera", &ctx)?,
            "0600",
        ),
        RenderedFile::new(
            ADMISSION_CONFIG,
            render(&host.name, "security/admission-config.yaml.tera", &ctx)?,
            "0600",
        ),
        RenderedFile::new(
            ENCRYPTION_CONFIG,
            render(&host.name, "security/encryption-config.yaml.tera", &ctx)?,
            "0600",
        ),
    ];
    if has_authn_config(inv) {
        files.push(authn_config(inv, host)?);
    }
    Ok(files)
}

fn authn_config(inv: &Inventory, host: &Host) -> Result<RenderedFile, ClusterError> {
    let mut rules = Vec::new();
    if let Some(o) = &inv.cluster.oidc {
        if o.require_mfa {
            rules.push(json!({
                "expression": o.mfa_expression,
                "message": "multi-factor authentication is required",
            }));
        }
        for r in &o.claim_rules {
            rules.push(json!({"expression": r.expression, "message": r.message}));
        }
    }
    let ctx = json!({
        "auth_api_version": if k8s_minor(inv) >= (1, 34) {
            "apiserver.config.k8s.io/v1"
        } else {
            "apiserver.config.k8s.io/v1beta1"
        },
        "oidc": inv.cluster.oidc,
        "claim_rules": rules,
        "anonymous_health_only": k8s_minor(inv) >= (1, 32),
    });
    Ok(RenderedFile::new(
        AUTHN_CONFIG,
        render(&host.name, "security/authentication-config.yaml.tera", &ctx)?,
        "0600",
    ))
}

/// Every file the cluster phases write to `host`, in the order they are needed (haproxy and
/// keepalived are node steps: playbooks/endpoint.toml).
/// Equivalent to [`render_files_with`] with default options (init node = first control plane,
/// VIP interface only from the inventory).
pub fn render_files(inv: &Inventory, host: &Host) -> Result<Vec<RenderedFile>, ClusterError> {
    render_files_with(inv, host, &RenderOptions::default())
}

pub fn render_files_with(
    inv: &Inventory,
    host: &Host,
    opts: &RenderOptions,
) -> Result<Vec<RenderedFile>, ClusterError> {
    check_endpoint(inv)?;
    let mut files = Vec::new();
    let mode = inv.cluster.endpoint.as_ref().map(|e| e.mode);
    let is_cp = host.has_role(Role::ControlPlane);
    if is_cp {
        files.extend(security_files(inv, host)?);
        if mode == Some(EndpointMode::KubeVip) {
            files.push(kube_vip_manifest(inv, host, opts, opts.kube_vip_bootstrap)?);
        }
    }
    if is_cp || host.has_role(Role::Worker) {
        let init_node = opts
            .init_node
            .clone()
            .or_else(|| inv.control_planes().next().map(|h| h.name.clone()));
        if is_cp && init_node.as_deref() == Some(host.name.as_str()) {
            files.push(init_config(inv, host)?);
        } else {
            files.push(join_config(inv, host)?);
        }
    }
    Ok(files)
}

/// Calico's own CRDs: `(plural, kind, namespaced)`.
const CALICO_CRDS: &[(&str, &str, bool)] = &[
    ("bgpconfigurations", "BGPConfiguration", false),
    ("bgpfilters", "BGPFilter", false),
    ("bgppeers", "BGPPeer", false),
    ("blockaffinities", "BlockAffinity", false),
    ("caliconodestatuses", "CalicoNodeStatus", false),
    ("clusterinformations", "ClusterInformation", false),
    ("felixconfigurations", "FelixConfiguration", false),
    ("globalnetworkpolicies", "GlobalNetworkPolicy", false),
    ("globalnetworksets", "GlobalNetworkSet", false),
    ("hostendpoints", "HostEndpoint", false),
    ("ipamblocks", "IPAMBlock", false),
    ("ipamconfigs", "IPAMConfig", false),
    ("ipamhandles", "IPAMHandle", false),
    ("ippools", "IPPool", false),
    ("ipreservations", "IPReservation", false),
    (
        "kubecontrollersconfigurations",
        "KubeControllersConfiguration",
        false,
    ),
    ("networkpolicies", "NetworkPolicy", true),
    ("networksets", "NetworkSet", true),
    (
        "stagedglobalnetworkpolicies",
        "StagedGlobalNetworkPolicy",
        false,
    ),
    (
        "stagedkubernetesnetworkpolicies",
        "StagedKubernetesNetworkPolicy",
        true,
    ),
    ("stagednetworkpolicies", "StagedNetworkPolicy", true),
    ("tiers", "Tier", false),
];

fn calico_crds() -> Vec<Value> {
    let mut v: Vec<Value> = CALICO_CRDS
        .iter()
        .map(|(plural, kind, namespaced)| {
            json!({
                "plural": plural, "kind": kind, "group": "crd.projectcalico.org", "version": "v1",
                "scope": if *namespaced { "Namespaced" } else { "Cluster" },
                "status": false, "approval": "",
            })
        })
        .collect();
    // Calico watches the sig-network admin policies; CRDs in a *.k8s.io group need the
    // api-approved annotation or the API server rejects them.
    for (plural, kind) in [
        ("adminnetworkpolicies", "AdminNetworkPolicy"),
        ("baselineadminnetworkpolicies", "BaselineAdminNetworkPolicy"),
    ] {
        v.push(json!({
            "plural": plural, "kind": kind, "group": "policy.networking.k8s.io",
            "version": "v1alpha1", "scope": "Cluster", "status": true,
            "approval": "https://github.com/kubernetes-sigs/network-policy-api/pull/30",
        }));
    }
    v
}

/// Cluster-wide manifests (the CNI), kept under [`MANIFEST_DIR`] on the control plane that
/// applies them.
pub fn render_cluster_files(inv: &Inventory) -> Result<Vec<RenderedFile>, ClusterError> {
    let c = &inv.cluster;
    match c.cni {
        Cni::None => Ok(Vec::new()),
        Cni::Calico => {
            let v = &c.images.calico;
            // Calico hands out /26 blocks; a smaller pod subnet needs blocks of its own size.
            let block_size = c.pod_subnet.prefix_len().max(26);
            let ctx = json!({
                "cluster_name": c.name,
                "version": v,
                "pod_subnet": c.pod_subnet.to_string(),
                "block_size": block_size,
                "crds": calico_crds(),
                "images": {
                    "cni": image(inv, "docker.io", "calico/cni", v),
                    "node": image(inv, "docker.io", "calico/node", v),
                    "kube_controllers": image(inv, "docker.io", "calico/kube-controllers", v),
                },
            });
            Ok(vec![RenderedFile::new(
                &format!("{MANIFEST_DIR}/cni-calico.yaml"),
                render("-", "cni/calico.yaml.tera", &ctx)?,
                "0600",
            )])
        }
        Cni::Flannel => {
            let ctx = json!({
                "cluster_name": c.name,
                "version": c.images.flannel,
                "pod_subnet": c.pod_subnet.to_string(),
                "images": {
                    "flannel": image(inv, "ghcr.io", "flannel-io/flannel", &c.images.flannel),
                    "cni_plugin": image(inv, "ghcr.io", "flannel-io/flannel-cni-plugin", &c.images.flannel_cni_plugin),
                },
            });
            Ok(vec![RenderedFile::new(
                &format!("{MANIFEST_DIR}/cni-flannel.yaml"),
                render("-", "cni/flannel.yaml.tera", &ctx)?,
                "0600",
            )])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::cluster::fixtures;

    /// Every file of every host plus the cluster manifests, keyed `host:path`.
    fn all_files(inv: &Inventory) -> Vec<(String, RenderedFile)> {
        let mut out = Vec::new();
        for h in &inv.hosts {
            for f in render_files(inv, h).unwrap() {
                out.push((h.name.clone(), f));
            }
        }
        for f in render_cluster_files(inv).unwrap() {
            out.push(("cluster".to_string(), f));
        }
        out
    }

    /// Writes the rendered files to `$OTP_RENDER_OUT/<case>/<host>/<path>` for
    /// scripts/validate-manifests; a no-op otherwise.
    fn export(case: &str, files: &[(String, RenderedFile)]) {
        let Ok(dir) = std::env::var("OTP_RENDER_OUT") else {
            return;
        };
        for (host, f) in files {
            let p = std::path::Path::new(&dir)
                .join(case)
                .join(host)
                .join(f.path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, &f.content).unwrap();
        }
    }

    fn snapshot_case(case: &str, inv: &Inventory) {
        let files = all_files(inv);
        export(case, &files);
        let index: Vec<String> = files
            .iter()
            .map(|(h, f)| {
                format!(
                    "{h} {} {} secrets={:?} transient={}",
                    f.path, f.mode, f.secrets, f.transient
                )
            })
            .collect();
        insta::assert_snapshot!(format!("{case}__index"), index.join("\n"));
        for (h, f) in &files {
            let name = format!(
                "{case}__{h}__{}",
                f.path.trim_start_matches('/').replace('/', "_")
            );
            insta::assert_snapshot!(name, f.content);
        }
    }

    #[test]
    fn snapshot_ha_haproxy_keepalived() {
        snapshot_case("ha", &fixtures::ha());
    }

    #[test]
    fn snapshot_kube_vip() {
        let inv = fixtures::kube_vip();
        snapshot_case("kube_vip", &inv);
        let cp1 = inv.host("cp-1").unwrap();
        let boot = kube_vip_manifest(&inv, cp1, &RenderOptions::default(), true).unwrap();
        insta::assert_snapshot!("kube_vip__cp-1__bootstrap_manifest", boot.content);
    }

    #[test]
    fn snapshot_external() {
        snapshot_case("external", &fixtures::external());
    }

    #[test]
    fn snapshot_lb_on_control_planes() {
        snapshot_case("lb_on_cp", &fixtures::lb_on_control_planes());
    }

    /// Every file under the cluster template folders is embedded (a new one must be listed).
    #[test]
    fn every_template_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut on_disk = Vec::new();
        for dir in ["kubeadm", "lb", "security", "cni"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                on_disk.push(format!(
                    "{dir}/{}",
                    e.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = TEMPLATES.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn which_host_gets_which_file() {
        let inv = fixtures::ha();
        let paths = |name: &str| -> Vec<String> {
            render_files(&inv, inv.host(name).unwrap())
                .unwrap()
                .into_iter()
                .map(|f| f.path)
                .collect()
        };
        assert_eq!(
            paths("cp-1"),
            [
                AUDIT_POLICY,
                ADMISSION_CONFIG,
                ENCRYPTION_CONFIG,
                AUTHN_CONFIG,
                INIT_CONFIG
            ]
        );
        assert_eq!(
            paths("cp-2"),
            [
                AUDIT_POLICY,
                ADMISSION_CONFIG,
                ENCRYPTION_CONFIG,
                AUTHN_CONFIG,
                JOIN_CONFIG
            ]
        );
        assert_eq!(paths("w-1"), [JOIN_CONFIG]);
        // haproxy and keepalived are written by the endpoint playbook.
        assert!(paths("lb-2").is_empty());
        // Another init node (one that already has admin.conf) gets the init config instead.
        let opts = RenderOptions {
            init_node: Some("cp-2".into()),
            ..Default::default()
        };
        let cp2 = render_files_with(&inv, inv.host("cp-2").unwrap(), &opts).unwrap();
        assert_eq!(cp2.last().unwrap().path, INIT_CONFIG);
    }

    #[test]
    fn secrets_are_placeholders_only_and_flagged() {
        for inv in [fixtures::ha(), fixtures::kube_vip(), fixtures::external()] {
            for (h, f) in all_files(&inv) {
                let want: Vec<RuntimeInput> = match f.path.as_str() {
                    INIT_CONFIG => vec![RuntimeInput::BootstrapToken, RuntimeInput::CertificateKey],
                    JOIN_CONFIG if inv.host(&h).unwrap().has_role(Role::ControlPlane) => vec![
                        RuntimeInput::BootstrapToken,
                        RuntimeInput::CertificateKey,
                        RuntimeInput::CaCertHash,
                    ],
                    JOIN_CONFIG => vec![RuntimeInput::BootstrapToken, RuntimeInput::CaCertHash],
                    ENCRYPTION_CONFIG => vec![RuntimeInput::EncryptionKey],
                    _ => vec![],
                };
                assert_eq!(f.secrets, want, "{h} {}", f.path);
                assert_eq!(f.transient, f.path.starts_with(RUN_DIR));
                if !f.secrets.is_empty() {
                    assert_eq!(f.mode, "0600", "{h} {}", f.path);
                }
            }
        }
    }

    #[test]
    fn endpoint_port_reaches_the_kubeadm_config() {
        let inv = fixtures::lb_on_control_planes();
        let init = render_files(&inv, inv.host("cp-1").unwrap()).unwrap();
        assert!(
            init.last()
                .unwrap()
                .content
                .contains("controlPlaneEndpoint: \"10.0.0.100:8443\"")
        );
    }

    #[test]
    fn endpoint_rules_are_enforced_with_the_reason() {
        let mut inv = fixtures::lb_on_control_planes();
        inv.cluster.endpoint.as_mut().unwrap().port = 6443;
        let err = render_files(&inv, inv.host("cp-1").unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("set endpoint.port to e.g. 8443"),
            "{err}"
        );

        let mut inv = fixtures::kube_vip();
        inv.cluster.endpoint.as_mut().unwrap().port = 8443;
        let err = render_files(&inv, inv.host("cp-2").unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("endpoint.port must be 6443"),
            "{err}"
        );

        let mut inv = fixtures::kube_vip();
        inv.cluster.endpoint.as_mut().unwrap().interface = None;
        let err = render_files(&inv, inv.host("cp-2").unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cp-2: the VIP interface is unknown"),
            "{err}"
        );
        let opts = RenderOptions {
            vip_interface: Some("bond0".into()),
            ..Default::default()
        };
        let files = render_files_with(&inv, inv.host("cp-2").unwrap(), &opts).unwrap();
        let kv = files.iter().find(|f| f.path == KUBE_VIP_MANIFEST).unwrap();
        assert!(kv.content.contains("value: \"bond0\""), "{}", kv.content);

        let mut inv = fixtures::ha();
        inv.cluster.endpoint = None;
        let err = render_files(&inv, inv.host("w-1").unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("more than one control plane"),
            "{err}"
        );
    }

    #[test]
    fn bad_taints_name_the_host() {
        let mut inv = fixtures::ha();
        inv.hosts[3].taints = vec!["nokey:Sometimes".into()];
        let err = render_files(&inv, inv.host("w-1").unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("w-1: taint \"nokey:Sometimes\""),
            "{err}"
        );
    }

    #[test]
    fn inventory_values_cannot_break_the_yaml() {
        let mut inv = fixtures::ha();
        inv.cluster.name = "evil\"\n  injected: true".into();
        let f = init_config(&inv, inv.host("cp-1").unwrap()).unwrap();
        assert!(
            f.content
                .contains(r#"clusterName: "evil\"\n  injected: true""#)
        );
    }

    #[test]
    fn registry_mirror_rewrites_every_image() {
        let inv = fixtures::kube_vip();
        for (_, f) in all_files(&inv) {
            for line in f
                .content
                .lines()
                .filter(|l| l.trim_start().starts_with("image:"))
            {
                assert!(
                    line.contains("registry.bank.example/k8s/"),
                    "{}: {line}",
                    f.path
                );
            }
        }
        let init = init_config(&inv, inv.host("cp-1").unwrap()).unwrap();
        assert!(
            init.content
                .contains("imageRepository: \"registry.bank.example/k8s\"")
        );
    }

    #[test]
    fn mfa_rule_and_api_version_follow_the_inventory() {
        let inv = fixtures::ha();
        let a = authn_config(&inv, inv.host("cp-1").unwrap()).unwrap();
        assert!(a.content.contains("apiserver.config.k8s.io/v1beta1"));
        assert!(a.content.contains("claims.amr.exists(x, x == 'mfa')"));
        assert!(a.content.contains("anonymous:"));
        let mut inv = fixtures::ha();
        inv.cluster.oidc.as_mut().unwrap().require_mfa = false;
        inv.cluster.kubernetes_version = "1.34.0".into();
        let a = authn_config(&inv, inv.host("cp-1").unwrap()).unwrap();
        assert!(!a.content.contains("mfa"));
        assert!(a.content.contains("apiserver.config.k8s.io/v1\""));
        // Before 1.32 and without OIDC there is no authentication config at all.
        let mut inv = fixtures::external();
        inv.cluster.oidc = None;
        assert!(!has_authn_config(&inv));
        let init = init_config(&inv, inv.host("cp-1").unwrap()).unwrap();
        assert!(!init.content.contains("authentication-config"));
    }
}
