//! Sample inventories for the cluster-phase tests (built directly: the loader is another module).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::inventory::*;

fn ssh() -> SshSettings {
    SshSettings {
        user: "root".into(),
        port: 22,
        key_files: vec![],
        certificate: None,
        agent: false,
        password: false,
        keyboard_interactive: false,
        askpass: None,
        bastion: None,
        known_hosts: vec![],
        host_key_policy: HostKeyPolicy::Strict,
        host_keys: vec![],
        sudo: false,
        sudo_password_env: None,
        connect_timeout_secs: 10,
        command_timeout_secs: 600,
    }
}

pub fn host(name: &str, address: &str, roles: &[Role]) -> Host {
    Host {
        name: name.into(),
        address: address.into(),
        node_ip: None,
        roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        labels: BTreeMap::new(),
        taints: vec![],
        ssh: ssh(),
    }
}

/// 3 control planes, 2 workers, 2 load balancers, haproxy-keepalived, Calico, OIDC with MFA.
pub fn ha() -> Inventory {
    let mut hosts = vec![
        host("cp-1", "10.0.0.11", &[Role::ControlPlane]),
        host("cp-2", "10.0.0.12", &[Role::ControlPlane]),
        host("cp-3", "10.0.0.13", &[Role::ControlPlane]),
        host("w-1", "10.0.0.21", &[Role::Worker]),
        host("w-2", "10.0.0.22", &[Role::Worker]),
        host("lb-1", "10.0.0.31", &[Role::LoadBalancer]),
        host("lb-2", "10.0.0.32", &[Role::LoadBalancer]),
    ];
    hosts[4].taints = vec!["dedicated=batch:NoSchedule".into()];
    let mut oidc = OidcSettings::new("https://idp.bank.example/realms/k8s", "kubernetes-prod");
    oidc.certificate_authority =
        Some("-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n".into());
    Inventory {
        source: PathBuf::from("inventory/cluster.toml"),
        cluster: Cluster {
            name: "prod-bank".into(),
            kubernetes_version: "1.33.4".into(),
            endpoint: Some(Endpoint {
                mode: EndpointMode::HaproxyKeepalived,
                address: "10.0.0.100".into(),
                port: 6443,
                interface: Some("eth0".into()),
            }),
            pod_subnet: "10.244.0.0/16".parse().unwrap(),
            service_subnet: "10.96.0.0/12".parse().unwrap(),
            dns_domain: "cluster.local".into(),
            cni: Cni::Calico,
            images: ImageSettings::default(),
            load_balancer: LoadBalancerSettings::default(),
            security: SecuritySettings::default(),
            oidc: Some(oidc),
        },
        hosts,
        bastions: vec![],
        packages: PackageSource::Upstream,
        run: RunSettings {
            parallel_hosts: 20,
            sessions_per_host: 4,
            state_dir: PathBuf::from("/tmp/otp-state"),
            lock_wait_secs: crate::inventory::DEFAULT_LOCK_WAIT_SECS,
        },
        addons: Default::default(),
        log_parsers: Vec::new(),
    }
}

/// 3 control planes (kube-vip), 2 workers, Flannel, a registry mirror, no OIDC, Kubernetes 1.34.
pub fn kube_vip() -> Inventory {
    let mut inv = ha();
    inv.hosts.retain(|h| !h.has_role(Role::LoadBalancer));
    inv.cluster.kubernetes_version = "1.34.1".into();
    let ep = inv.cluster.endpoint.as_mut().unwrap();
    ep.mode = EndpointMode::KubeVip;
    ep.interface = Some("ens192".into());
    inv.cluster.cni = Cni::Flannel;
    inv.cluster.oidc = None;
    inv.cluster.images.registry_mirror = Some("registry.bank.example/k8s".into());
    inv.cluster.security.encryption_provider = EncryptionProvider::Secretbox;
    inv
}

/// External load balancer at a DNS name, Kubernetes 1.31 (no anonymous limits, OIDC v1beta1).
pub fn external() -> Inventory {
    let mut inv = ha();
    inv.hosts.retain(|h| !h.has_role(Role::LoadBalancer));
    inv.cluster.kubernetes_version = "1.31.9".into();
    inv.cluster.endpoint = Some(Endpoint {
        mode: EndpointMode::External,
        address: "k8s-api.bank.example".into(),
        port: 443,
        interface: None,
    });
    inv
}

/// haproxy-keepalived on the control planes themselves (no load-balancer hosts), port 8443.
pub fn lb_on_control_planes() -> Inventory {
    let mut inv = ha();
    inv.hosts.retain(|h| !h.has_role(Role::LoadBalancer));
    inv.cluster.endpoint.as_mut().unwrap().port = 8443;
    inv
}

/// Day-2 state: `(name, control plane, ready)` per node, every one joined, the API answering
/// from cp-1.
pub fn api_state(ready: &[(&str, bool, bool)]) -> crate::phases::cluster::ClusterState {
    let mut st = crate::phases::cluster::ClusterState::default();
    let mut nodes = vec![];
    let mut members = vec![];
    for (i, (name, cp, ok)) in ready.iter().enumerate() {
        st.hosts.insert(
            name.to_string(),
            crate::phases::cluster::HostClusterFacts {
                kubelet_conf: true,
                admin_conf: *cp,
                apiserver_manifest: *cp,
                ..Default::default()
            },
        );
        nodes.push(crate::phases::cluster::state::NodeStatus {
            name: name.to_string(),
            ready: *ok,
            control_plane: *cp,
            ..Default::default()
        });
        if *cp {
            members.push(crate::phases::cluster::state::EtcdMember {
                id: format!("{i:x}"),
                name: name.to_string(),
                ..Default::default()
            });
        }
    }
    st.api = Some(crate::phases::cluster::ApiProbe {
        from: "cp-1".into(),
        nodes,
        etcd_members: Some(members),
        init_complete: true,
        ..Default::default()
    });
    st
}

/// `wave host id` of each step, for table assertions.
pub fn ids(steps: &[crate::plan::Step]) -> Vec<String> {
    steps
        .iter()
        .map(|s| format!("{} {} {}", s.wave, s.host, s.id))
        .collect()
}
