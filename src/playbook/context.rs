//! The one place that builds the Tera context for a host. Every template and every playbook
//! string sees exactly these keys:
//!
//! | key | value |
//! |---|---|
//! | `cluster.{name, kubernetes_version, minor, pod_subnet, service_subnet, dns_domain, cni, kubelet_protect_kernel_defaults, opensearch_node}` | from the inventory (`minor` = `v1.33`) |
//! | `kube_version`, `kube_minor` | shortcuts: `1.33.4`, `v1.33` |
//! | `pause_image` | sandbox image kubeadm of that minor expects (table in [`pause_image`]) |
//! | `endpoint.{mode, address, port, interface}` | `mode` is `none` without an endpoint; `interface` from the inventory, else the facts (interface holding the node IP, else the default route) |
//! | `apiserver_port` | 6443, where kube-apiserver listens on control planes |
//! | `host.{name, address, node_ip, roles, labels, is_control_plane, is_worker, is_load_balancer}` | this host |
//! | `roles` | this host's roles (`"load-balancer" in roles`), with `load-balancer` on control planes that carry the endpoint |
//! | `control_planes` | `[{name, address}]`, address = node IP |
//! | `load_balancers` | `[{name, address, priority, state}]`: the hosts running haproxy + keepalived (load-balancer hosts, else the control planes) |
//! | `lb.{priority, state, router_id, check_weight}` | VRRP settings of this host (MASTER/101 on the first load balancer, BACKUP/100-n after; `router_id` from `[cluster.load_balancer] virtual_router_id`) |
//! | `packages.{kind, url, key_url, debian, kubernetes_repo, kubernetes_key_url, kubernetes_signed_by}` | package source; `kubernetes_key_url` empty when the mirror is trusted without a key |
//! | `os.{id, family, version_id, codename}`, `node_state` | from facts; without facts (render) `os.family` is `debian` and the rest are `MISSING(...)` placeholders, each reported as a note |
//!
//! Values that only facts can give are never invented: [`context`] returns a note for each
//! placeholder it used.

use serde_json::json;

use crate::facts::Facts;
use crate::inventory::{EndpointMode, Host, Inventory, PackageSource, Role};

/// Keyring path of the Kubernetes apt repository (ASCII-armoured: apt reads `.asc` directly,
/// so nodes need no gpg).
pub const KUBERNETES_KEYRING: &str = "/etc/apt/keyrings/kubernetes-apt-keyring.asc";

/// Sandbox (pause) image kubeadm of a minor version expects (`kubeadm config images list`).
/// Pinning it in containerd avoids the "sandbox image inconsistent" preflight warning and a pull
/// of a second pause image.
pub fn pause_image(kube_version: &str) -> &'static str {
    let minor: u32 = kube_version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    match minor {
        0..=26 => "registry.k8s.io/pause:3.9",
        27..=30 => "registry.k8s.io/pause:3.9",
        31..=33 => "registry.k8s.io/pause:3.10",
        _ => "registry.k8s.io/pause:3.10.1",
    }
}

/// A value only facts can give, replaced by the placeholder `MISSING(what)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub host: String,
    pub what: String,
    pub why: String,
}

impl Missing {
    pub fn placeholder(&self) -> String {
        format!("MISSING({})", self.what)
    }
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} unknown without facts ({})",
            self.host, self.what, self.why
        )
    }
}

fn missing(notes: &mut Vec<Missing>, host: &str, what: &str, why: &str) -> String {
    let m = Missing {
        host: host.to_string(),
        what: what.to_string(),
        why: why.to_string(),
    };
    let p = m.placeholder();
    notes.push(m);
    p
}

/// Build the context of `host`. `facts` is `None` for `render` (no SSH); then every value that
/// only the host can tell is a visible `MISSING(...)` placeholder and a note explains it.
pub fn context(
    inv: &Inventory,
    host: &Host,
    facts: Option<&Facts>,
) -> (tera::Context, Vec<Missing>) {
    let mut notes = Vec::new();
    let c = &inv.cluster;

    let (os, node_state) = match facts {
        Some(f) => (
            json!({
                "id": f.os.id,
                "family": f.os.family(),
                "version_id": f.os.version_id,
                "codename": f.os.codename,
            }),
            serde_json::to_value(f.kube.state())
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        ),
        None => {
            let codename = missing(
                &mut notes,
                &host.name,
                "os.codename",
                "Debian release name, needed by the Debian mirror sources",
            );
            (
                json!({
                    "id": "debian",
                    "family": "debian",
                    "version_id": "MISSING(os.version_id)",
                    "codename": codename,
                }),
                "fresh".to_string(),
            )
        }
    };

    let endpoint = match &c.endpoint {
        None => json!({"mode": "none", "address": "", "port": 6443, "interface": ""}),
        Some(e) => {
            let mode = match e.mode {
                EndpointMode::HaproxyKeepalived => "haproxy-keepalived",
                EndpointMode::KubeVip => "kube-vip",
                EndpointMode::External => "external",
            };
            let needs_iface = match e.mode {
                EndpointMode::HaproxyKeepalived => inv.plays(host, Role::LoadBalancer),
                EndpointMode::KubeVip => host.has_role(Role::ControlPlane),
                EndpointMode::External => false,
            };
            let interface = match (&e.interface, facts) {
                (Some(i), _) => i.clone(),
                (None, Some(f)) => f
                    .net
                    .interface_of(host.node_ip())
                    .map(str::to_string)
                    .or_else(|| f.net.default_interface.clone())
                    .unwrap_or_default(),
                (None, None) if needs_iface => missing(
                    &mut notes,
                    &host.name,
                    "endpoint.interface",
                    "set cluster.endpoint.interface in the inventory",
                ),
                (None, None) => String::new(),
            };
            json!({"mode": mode, "address": e.address, "port": e.port, "interface": interface})
        }
    };

    let lbs: Vec<&Host> = inv.lb_hosts();
    let lb_entry = |i: usize, h: &Host| {
        let (state, priority) = if i == 0 {
            ("MASTER", 101)
        } else {
            ("BACKUP", 100 - i.min(90) as i64)
        };
        json!({"name": h.name, "address": h.node_ip(), "state": state, "priority": priority})
    };
    let load_balancers: Vec<_> = lbs
        .iter()
        .enumerate()
        .map(|(i, h)| lb_entry(i, h))
        .collect();
    let mut lb = lbs
        .iter()
        .position(|h| h.name == host.name)
        .map(|i| lb_entry(i, lbs[i]))
        .unwrap_or_else(|| json!({"state": "", "priority": 0}));
    lb["router_id"] = json!(c.load_balancer.virtual_router_id);
    // Priorities fall from 101 by host order; a failing check must drop a host below every
    // healthy one, so the check weight exceeds their spread.
    lb["check_weight"] = json!(lbs.len() + 10);

    let minor = c.minor();
    let packages = match &inv.packages {
        PackageSource::Upstream => {
            let base = format!("https://pkgs.k8s.io/core:/stable:/{minor}/deb/");
            json!({
                "kind": "upstream", "url": "", "key_url": "", "debian": false,
                "kubernetes_repo": base,
                "kubernetes_key_url": format!("{base}Release.key"),
            })
        }
        PackageSource::Mirror {
            url,
            key_url,
            debian,
        } => {
            let url = url.trim_end_matches('/');
            json!({
                "kind": "mirror", "url": url, "key_url": key_url.clone().unwrap_or_default(),
                "debian": debian,
                "kubernetes_repo": format!("{url}/kubernetes/{minor}/deb/"),
                "kubernetes_key_url": key_url.clone().unwrap_or_default(),
            })
        }
    };

    let roles: Vec<&str> = [Role::ControlPlane, Role::Worker, Role::LoadBalancer]
        .into_iter()
        .filter(|r| inv.plays(host, *r))
        .map(|r| r.as_str())
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert(
        "cluster",
        &json!({
            "name": c.name,
            "kubernetes_version": c.kubernetes_version,
            "minor": minor,
            "pod_subnet": c.pod_subnet.to_string(),
            "service_subnet": c.service_subnet.to_string(),
            "dns_domain": c.dns_domain,
            "cni": c.cni,
            "kubelet_protect_kernel_defaults": c.security.kubelet_protect_kernel_defaults,
            "opensearch_node": crate::addons::opensearch_hosts(inv).iter().any(|h| h.name == host.name),
        }),
    );
    ctx.insert("kube_version", &c.kubernetes_version);
    ctx.insert("kube_minor", &minor);
    ctx.insert("pause_image", pause_image(&c.kubernetes_version));
    ctx.insert("endpoint", &endpoint);
    ctx.insert("apiserver_port", &6443);
    ctx.insert(
        "host",
        &json!({
            "name": host.name,
            "address": host.address,
            "node_ip": host.node_ip(),
            "roles": roles,
            "labels": host.labels,
            "is_control_plane": host.has_role(Role::ControlPlane),
            "is_worker": host.has_role(Role::Worker),
            "is_load_balancer": inv.plays(host, Role::LoadBalancer),
        }),
    );
    ctx.insert("roles", &roles);
    let cps: Vec<_> = inv
        .control_planes()
        .map(|h| json!({"name": h.name, "address": h.node_ip()}))
        .collect();
    ctx.insert("control_planes", &cps);
    ctx.insert("load_balancers", &load_balancers);
    ctx.insert("lb", &lb);
    ctx.insert("packages", &packages);
    ctx.insert("kubernetes_keyring", KUBERNETES_KEYRING);
    ctx.insert("os", &os);
    ctx.insert("node_state", &node_state);
    (ctx, notes)
}
