//! Test fixtures of the inventory model, built without a file: the sample HA inventory the
//! engine's unit tests plan against. Here, below every user of it, so that tests of lower modules
//! (e.g. `playbook`) need not import `phases` (which re-exports these with its facts fixtures).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;

pub fn ssh() -> SshSettings {
    SshSettings {
        user: "ops".into(),
        port: 22,
        key_files: vec![],
        certificate: None,
        agent: true,
        password: false,
        keyboard_interactive: false,
        askpass: None,
        bastion: None,
        known_hosts: vec![],
        host_key_policy: HostKeyPolicy::Strict,
        host_keys: vec![],
        sudo: true,
        sudo_password_env: None,
        connect_timeout_secs: 10,
        command_timeout_secs: 60,
    }
}

pub fn host(name: &str, address: &str, roles: &[Role]) -> Host {
    Host {
        name: name.into(),
        address: address.into(),
        node_ip: None,
        roles: roles.iter().copied().collect(),
        labels: BTreeMap::new(),
        taints: vec![],
        ssh: ssh(),
    }
}

/// 3 control planes, 2 workers, 2 load balancers; haproxy-keepalived VIP; air-gapped mirror.
pub fn inventory() -> Inventory {
    Inventory {
        source: PathBuf::from("/tmp/inventory/cluster.toml"),
        cluster: Cluster {
            name: "prod".into(),
            kubernetes_version: "1.33.4".into(),
            endpoint: Some(Endpoint {
                mode: EndpointMode::HaproxyKeepalived,
                address: "10.0.0.100".into(),
                port: 6443,
                interface: None,
            }),
            pod_subnet: "10.244.0.0/16".parse().unwrap(),
            service_subnet: "10.96.0.0/12".parse().unwrap(),
            dns_domain: "cluster.local".into(),
            cni: Cni::Calico,
            // Cluster-phase settings (issue 4): defaults until the loader reads [cluster.*].
            images: Default::default(),
            load_balancer: Default::default(),
            security: Default::default(),
            oidc: None,
        },
        hosts: vec![
            host("cp1", "10.0.0.11", &[Role::ControlPlane]),
            host("cp2", "10.0.0.12", &[Role::ControlPlane]),
            host("cp3", "10.0.0.13", &[Role::ControlPlane]),
            host("w1", "10.0.0.21", &[Role::Worker]),
            host("w2", "10.0.0.22", &[Role::Worker]),
            host("lb1", "10.0.0.31", &[Role::LoadBalancer]),
            host("lb2", "10.0.0.32", &[Role::LoadBalancer]),
        ],
        bastions: vec![],
        packages: PackageSource::Mirror {
            url: "http://10.0.0.5:8080/".into(),
            key_url: None,
            debian: true,
        },
        run: RunSettings {
            parallel_hosts: 10,
            sessions_per_host: 4,
            state_dir: PathBuf::from("/tmp/state"),
            lock_wait_secs: crate::inventory::DEFAULT_LOCK_WAIT_SECS,
        },
        addons: Default::default(),
        log_parsers: Vec::new(),
    }
}
