//! `up`: bring the cluster to what the inventory describes (node preparation is the playbooks'
//! part, see src/run; this is the cluster part: kubeadm, CNI, tokens, kubeconfig).

use super::{Operation, Request};
use crate::inventory::Inventory;
use crate::phases::cluster::context::UpContext;
use crate::phases::cluster::planners::{self, Planner};
use crate::phases::cluster::planners::{
    cleanup, cni, csr, encryption_key, init, join_credentials, joins, kube_vip, kubeconfig, labels,
    reset_partial, restarts, security_files, stale_objects, tokens,
};
use crate::phases::cluster::{ClusterError, ClusterState};
use crate::plan::Step;

pub const OPERATION: Operation = Operation {
    name: "up",
    needs_yes: false,
    plan: |inv, state, _: &Request| plan(inv, state),
};

/// The planners of `up`, in the order their steps are listed (waves order the run).
pub fn planners<'a>() -> [(&'static str, Planner<UpContext<'a>>); 16] {
    [
        ("tokens", tokens::plan),
        ("encryption-key", encryption_key::plan),
        ("stale-objects", stale_objects::plan),
        ("reset-partial", reset_partial::plan),
        ("security-files", security_files::plan),
        ("kube-vip-bootstrap", kube_vip::bootstrap),
        ("init", init::plan),
        ("kube-vip", kube_vip::converge),
        ("cni", cni::plan),
        ("join-credentials", join_credentials::plan),
        ("joins", joins::plan),
        ("csr", csr::plan),
        ("labels", labels::plan),
        ("restarts", restarts::plan),
        ("cleanup", cleanup::plan),
        ("kubeconfig", kubeconfig::fetch),
    ]
}

/// The cluster steps of `up`. Never plans a second `kubeadm init` (see [`UpContext::decide`]).
pub fn plan(inv: &Inventory, state: &ClusterState) -> Result<Vec<Step>, ClusterError> {
    let ctx = UpContext::decide(inv, state)?;
    planners::run(&ctx, "cluster/", &planners())
}

#[cfg(test)]
mod tests {
    use super::plan as plan_cluster;
    use crate::inventory::{EndpointMode, Inventory, Role};
    use crate::phases::cluster::fixtures;
    use crate::phases::cluster::render::{
        self, ENCRYPTION_CONFIG, control_plane_endpoint, security_files,
    };
    use crate::phases::cluster::state::{
        ApiProbe, ClusterState, EtcdMember, HostClusterFacts, KubeVipKubeconfig, NodeStatus,
    };
    use crate::phases::cluster::{Capture, RuntimeInput};
    use crate::plan::{Action, Step, StepKind};

    /// Facts of a finished control plane: kubeadm files, security files as rendered.
    fn cp_done(inv: &Inventory, name: &str) -> HostClusterFacts {
        let mut f = HostClusterFacts {
            kubelet_conf: true,
            admin_conf: true,
            apiserver_manifest: true,
            etcd_data: true,
            pki_ca: true,
            kubelet_active: true,
            super_admin_conf: name == "cp-1",
            vip_interface: Some("eth0".into()),
            ..Default::default()
        };
        for file in security_files(inv, inv.host(name).unwrap()).unwrap() {
            f.files.insert(file.path.clone(), file.sha256());
        }
        if inv.cluster.endpoint.as_ref().unwrap().mode == EndpointMode::KubeVip {
            f.kube_vip = Some(KubeVipKubeconfig::Admin);
        }
        f
    }

    fn worker_done() -> HostClusterFacts {
        HostClusterFacts {
            kubelet_conf: true,
            pki_ca: true,
            kubelet_active: true,
            ..Default::default()
        }
    }

    fn lb_done() -> HostClusterFacts {
        HostClusterFacts {
            haproxy_active: true,
            keepalived_active: true,
            ..Default::default()
        }
    }

    fn node(name: &str, cp: bool) -> NodeStatus {
        let mut labels = std::collections::BTreeMap::new();
        if cp {
            labels.insert(
                "node-role.kubernetes.io/control-plane".into(),
                String::new(),
            );
        }
        NodeStatus {
            name: name.into(),
            ready: true,
            control_plane: cp,
            labels,
        }
    }

    fn member(name: &str, ip: &str, id: &str) -> EtcdMember {
        EtcdMember {
            id: id.into(),
            name: name.into(),
            peer_urls: vec![format!("https://{ip}:2380")],
            learner: false,
        }
    }

    /// Every host finished, the API lists everyone, CNI running, local kubeconfig present.
    fn converged(inv: &Inventory) -> ClusterState {
        let mut st = ClusterState::default();
        let mut nodes = Vec::new();
        let mut members = Vec::new();
        for h in &inv.hosts {
            let f = if h.has_role(Role::ControlPlane) {
                members.push(member(
                    &h.name,
                    h.node_ip(),
                    &format!("{:x}", members.len() + 1),
                ));
                nodes.push(node(&h.name, true));
                let mut f = cp_done(inv, &h.name);
                if inv.lb_hosts().iter().any(|l| l.name == h.name) {
                    f.haproxy_active = true;
                    f.keepalived_active = true;
                }
                f
            } else if h.has_role(Role::Worker) {
                nodes.push(node(&h.name, false));
                worker_done()
            } else {
                lb_done()
            };
            st.hosts.insert(h.name.clone(), f);
        }
        st.api = Some(ApiProbe {
            from: "cp-1".into(),
            nodes,
            etcd_members: Some(members),
            cni_daemonsets: ["calico-node".to_string(), "kube-flannel-ds".to_string()].into(),
            init_complete: true,
            addons_present: true,
            ..Default::default()
        });
        st.local_kubeconfig_server =
            Some(format!("https://{}", control_plane_endpoint(inv).unwrap()));
        st
    }

    fn fresh(inv: &Inventory) -> ClusterState {
        let mut st = ClusterState::default();
        for h in &inv.hosts {
            st.hosts.insert(h.name.clone(), HostClusterFacts::default());
        }
        st
    }

    fn summary(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| format!("{} {} {}", s.wave, s.host, s.id))
            .collect()
    }

    fn drop_host(st: &mut ClusterState, name: &str) {
        st.hosts.insert(name.into(), HostClusterFacts::default());
        let api = st.api.as_mut().unwrap();
        api.nodes.retain(|n| n.name != name);
        if let Some(m) = api.etcd_members.as_mut() {
            m.retain(|m| m.name != name);
        }
    }

    #[test]
    fn table() {
        type Case = (
            &'static str,
            fn() -> (Inventory, ClusterState),
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            (
                "fresh HA cluster",
                || {
                    let inv = fixtures::ha();
                    let st = fresh(&inv);
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 (local) cluster/generate/encryption-key",
                    "3 cp-1 cluster/security-files/cp-1",
                    "3 cp-2 cluster/security-files/cp-2",
                    "3 cp-3 cluster/security-files/cp-3",
                    "4 cp-1 cluster/init/cp-1",
                    "5 cp-1 cluster/cni/cni-calico.yaml",
                    "10 cp-2 cluster/join/cp-2",
                    "11 cp-3 cluster/join/cp-3",
                    "12 w-1 cluster/join/w-1",
                    "12 w-2 cluster/join/w-2",
                    "13 cp-1 cluster/approve-serving-csrs",
                    "14 cp-1 cluster/cleanup-tokens",
                    "14 cp-1 cluster/kubeconfig",
                ],
            ),
            (
                "everything joined: nothing to do",
                || {
                    let inv = fixtures::ha();
                    let st = converged(&inv);
                    (inv, st)
                },
                &[],
            ),
            (
                "init done, killed before the joins",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    for h in ["cp-2", "cp-3", "w-1", "w-2"] {
                        drop_host(&mut st, h);
                    }
                    let api = st.api.as_mut().unwrap();
                    api.cni_daemonsets.clear();
                    api.nodes[0].ready = false;
                    st.local_kubeconfig_server = None;
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 cp-1 cluster/encryption-key/read",
                    "3 cp-2 cluster/security-files/cp-2",
                    "3 cp-3 cluster/security-files/cp-3",
                    "5 cp-1 cluster/cni/cni-calico.yaml",
                    "6 cp-1 cluster/bootstrap-token",
                    "6 cp-1 cluster/upload-certs",
                    "10 cp-2 cluster/join/cp-2",
                    "11 cp-3 cluster/join/cp-3",
                    "12 w-1 cluster/join/w-1",
                    "12 w-2 cluster/join/w-2",
                    "13 cp-1 cluster/approve-serving-csrs",
                    "14 cp-1 cluster/cleanup-tokens",
                    "14 cp-1 cluster/kubeconfig",
                ],
            ),
            (
                "one new worker: only it plus a token on one control plane",
                || {
                    let mut inv = fixtures::ha();
                    let st0 = converged(&inv);
                    inv.hosts
                        .push(fixtures::host("w-3", "10.0.0.23", &[Role::Worker]));
                    let mut st = st0;
                    st.hosts.insert("w-3".into(), HostClusterFacts::default());
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "6 cp-1 cluster/bootstrap-token",
                    "10 w-3 cluster/join/w-3",
                    "11 cp-1 cluster/approve-serving-csrs",
                    "12 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "control plane with kubelet.conf but not in the node list: reset, then join",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    let api = st.api.as_mut().unwrap();
                    api.nodes.retain(|n| n.name != "cp-2");
                    api.etcd_members.as_mut().unwrap()[1].learner = true;
                    let f = st.hosts.get_mut("cp-2").unwrap();
                    f.admin_conf = false;
                    f.apiserver_manifest = false;
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "1 cp-1 cluster/etcd-member-remove/cp-2",
                    "2 cp-2 cluster/reset/cp-2",
                    "6 cp-1 cluster/bootstrap-token",
                    "6 cp-1 cluster/upload-certs",
                    "10 cp-2 cluster/join/cp-2",
                    "11 cp-1 cluster/approve-serving-csrs",
                    "12 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "control plane listed, files complete, etcd member still a learner",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    st.api.as_mut().unwrap().etcd_members.as_mut().unwrap()[2].learner = true;
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "1 cp-1 cluster/delete-node/cp-3",
                    "1 cp-1 cluster/etcd-member-remove/cp-3",
                    "2 cp-3 cluster/reset/cp-3",
                    "6 cp-1 cluster/bootstrap-token",
                    "6 cp-1 cluster/upload-certs",
                    "10 cp-3 cluster/join/cp-3",
                    "11 cp-1 cluster/approve-serving-csrs",
                    "12 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "audit policy changed on a running cluster: one API server at a time",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    for h in ["cp-1", "cp-2", "cp-3"] {
                        st.hosts
                            .get_mut(h)
                            .unwrap()
                            .files
                            .insert(render::AUDIT_POLICY.into(), "0".repeat(64));
                    }
                    (inv, st)
                },
                &[
                    "7 cp-1 cluster/security-files/cp-1",
                    "8 cp-2 cluster/security-files/cp-2",
                    "9 cp-3 cluster/security-files/cp-3",
                ],
            ),
            (
                "files right but newer than the running API server (run killed before the restart)",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    for (h, started) in [("cp-1", 2000), ("cp-2", 500), ("cp-3", 1000)] {
                        let f = st.hosts.get_mut(h).unwrap();
                        f.apiserver_started = Some(started);
                        f.file_mtimes.insert(render::AUDIT_POLICY.into(), 1000);
                    }
                    (inv, st)
                },
                // cp-3 started in the same second the file was written: in effect.
                &["7 cp-2 cluster/security-files/cp-2"],
            ),
            (
                "a control plane that lost its role label is left alone",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    let n = &mut st.api.as_mut().unwrap().nodes[1];
                    n.control_plane = false;
                    n.labels.clear();
                    (inv, st)
                },
                &[],
            ),
            (
                "worker in the API without kubelet.conf: delete the Node, reset, re-join",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    let f = st.hosts.get_mut("w-2").unwrap();
                    f.kubelet_conf = false;
                    f.bootstrap_kubelet_conf = true;
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "1 cp-1 cluster/delete-node/w-2",
                    "2 w-2 cluster/reset/w-2",
                    "6 cp-1 cluster/bootstrap-token",
                    "10 w-2 cluster/join/w-2",
                    "11 cp-1 cluster/approve-serving-csrs",
                    "12 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "killed mid-init (API up, kubeadm-config missing): reset and init again",
                || {
                    let inv = fixtures::ha();
                    let mut st = fresh(&inv);
                    for lb in ["lb-1", "lb-2"] {
                        st.hosts.insert(lb.into(), lb_done());
                    }
                    st.hosts.insert("cp-1".into(), cp_done(&inv, "cp-1"));
                    st.api = Some(ApiProbe {
                        from: "cp-1".into(),
                        nodes: vec![node("cp-1", false)],
                        init_complete: false,
                        ..Default::default()
                    });
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 cp-1 cluster/encryption-key/read",
                    "2 cp-1 cluster/reset/cp-1",
                    "3 cp-2 cluster/security-files/cp-2",
                    "3 cp-3 cluster/security-files/cp-3",
                    "4 cp-1 cluster/init/cp-1",
                    "5 cp-1 cluster/cni/cni-calico.yaml",
                    "10 cp-2 cluster/join/cp-2",
                    "11 cp-3 cluster/join/cp-3",
                    "12 w-1 cluster/join/w-1",
                    "12 w-2 cluster/join/w-2",
                    "13 cp-1 cluster/approve-serving-csrs",
                    "14 cp-1 cluster/cleanup-tokens",
                    "14 cp-1 cluster/kubeconfig",
                ],
            ),
            (
                "killed in init's addon phase: repair the addons, no reset",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    st.api.as_mut().unwrap().addons_present = false;
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "5 cp-1 cluster/addons/cp-1",
                    "11 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "killed between control-plane joins, stale tokens left",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    for h in ["cp-3", "w-1", "w-2"] {
                        drop_host(&mut st, h);
                    }
                    st.api.as_mut().unwrap().run_tokens = vec!["abcdef".into()];
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 cp-1 cluster/encryption-key/read",
                    "3 cp-3 cluster/security-files/cp-3",
                    "6 cp-1 cluster/bootstrap-token",
                    "6 cp-1 cluster/upload-certs",
                    "10 cp-3 cluster/join/cp-3",
                    "11 w-1 cluster/join/w-1",
                    "11 w-2 cluster/join/w-2",
                    "12 cp-1 cluster/approve-serving-csrs",
                    "13 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "kube-vip fresh: bootstrap manifest, init, switch to admin.conf",
                || {
                    let inv = fixtures::kube_vip();
                    let st = fresh(&inv);
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 (local) cluster/generate/encryption-key",
                    "3 cp-1 cluster/security-files/cp-1",
                    "3 cp-2 cluster/security-files/cp-2",
                    "3 cp-3 cluster/security-files/cp-3",
                    "3 cp-1 cluster/kube-vip/cp-1",
                    "4 cp-1 cluster/init/cp-1",
                    "5 cp-1 cluster/kube-vip-admin-conf/cp-1",
                    "5 cp-1 cluster/cni/cni-flannel.yaml",
                    "10 cp-2 cluster/join/cp-2",
                    "11 cp-3 cluster/join/cp-3",
                    "12 w-1 cluster/join/w-1",
                    "12 w-2 cluster/join/w-2",
                    "13 cp-1 cluster/approve-serving-csrs",
                    "14 cp-1 cluster/cleanup-tokens",
                    "14 cp-1 cluster/kubeconfig",
                ],
            ),
            (
                "kube-vip still on super-admin.conf after a killed run; pending CSR; labels",
                || {
                    let mut inv = fixtures::kube_vip();
                    inv.hosts[3].labels.insert("zone".into(), "a".into());
                    let mut st = converged(&inv);
                    st.hosts.get_mut("cp-1").unwrap().kube_vip =
                        Some(KubeVipKubeconfig::SuperAdmin);
                    st.hosts.get_mut("cp-3").unwrap().kube_vip = None;
                    st.api.as_mut().unwrap().pending_serving_csrs =
                        vec![("csr-1".into(), "w-2".into())];
                    (inv, st)
                },
                &[
                    "5 cp-1 cluster/kube-vip-admin-conf/cp-1",
                    "5 cp-3 cluster/kube-vip/cp-3",
                    "10 cp-1 cluster/approve-serving-csrs",
                    "10 cp-1 cluster/labels/w-1",
                ],
            ),
            (
                "a new control plane: its files, join and the token (haproxy is a node step)",
                || {
                    let inv0 = fixtures::ha();
                    let st = converged(&inv0);
                    let mut inv = inv0;
                    inv.hosts.insert(
                        3,
                        fixtures::host("cp-4", "10.0.0.14", &[Role::ControlPlane]),
                    );
                    let mut st = st;
                    st.hosts.insert("cp-4".into(), HostClusterFacts::default());
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 cp-1 cluster/encryption-key/read",
                    "3 cp-4 cluster/security-files/cp-4",
                    "6 cp-1 cluster/bootstrap-token",
                    "6 cp-1 cluster/upload-certs",
                    "10 cp-4 cluster/join/cp-4",
                    "11 cp-1 cluster/approve-serving-csrs",
                    "12 cp-1 cluster/cleanup-tokens",
                ],
            ),
        ];
        for (name, build, want) in cases {
            let (inv, st) = build();
            let got = summary(&plan_cluster(&inv, &st).unwrap_or_else(|e| panic!("{name}: {e}")));
            assert_eq!(got, *want, "case: {name}");
        }
    }

    /// The second `up` of every endpoint mode and CNI plans nothing.
    #[test]
    fn converged_clusters_plan_nothing() {
        for inv in [
            fixtures::ha(),
            fixtures::kube_vip(),
            fixtures::external(),
            fixtures::lb_on_control_planes(),
        ] {
            let steps = plan_cluster(&inv, &converged(&inv)).unwrap();
            assert!(
                steps.is_empty(),
                "{:?}: {:?}",
                inv.cluster.endpoint,
                summary(&steps)
            );
        }
    }

    #[test]
    fn never_reinitialises_when_the_api_cannot_be_asked() {
        let inv = fixtures::ha();
        let mut st = converged(&inv);
        st.api = None;
        let err = plan_cluster(&inv, &st).unwrap_err().to_string();
        assert!(
            err.starts_with("cp-1: a control plane is initialised but the API could not be probed"),
            "{err}"
        );
        // Even a lone control plane with etcd data is not reset on a guess.
        let mut st = fresh(&inv);
        st.hosts.insert("cp-1".into(), cp_done(&inv, "cp-1"));
        assert!(plan_cluster(&inv, &st).is_err());
        // Without etcd data nothing can be lost: the interrupted init is redone.
        st.hosts.get_mut("cp-1").unwrap().etcd_data = false;
        let steps = plan_cluster(&inv, &st).unwrap();
        assert!(steps.iter().any(|s| s.id == "cluster/reset/cp-1"));
        assert!(steps.iter().any(|s| s.id == "cluster/init/cp-1"));
    }

    #[test]
    fn diverging_encryption_keys_stop_the_plan() {
        let inv = fixtures::ha();
        let mut st = converged(&inv);
        st.hosts
            .get_mut("cp-3")
            .unwrap()
            .files
            .insert(ENCRYPTION_CONFIG.into(), "0".repeat(64));
        let err = plan_cluster(&inv, &st).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "cp-3: /etc/kubernetes/enc/encryption-config.yaml differs from the one on cp-1"
            ),
            "{err}"
        );
    }

    #[test]
    fn unreachable_host_is_named() {
        let inv = fixtures::ha();
        let mut st = fresh(&inv);
        st.hosts.remove("w-2");
        let err = plan_cluster(&inv, &st).unwrap_err().to_string();
        assert!(err.starts_with("w-2: no probe result"), "{err}");
    }

    #[test]
    fn init_node_is_the_initialised_control_plane_not_the_first() {
        let inv = fixtures::ha();
        let mut st = converged(&inv);
        for h in ["cp-1", "cp-3"] {
            drop_host(&mut st, h);
        }
        st.api.as_mut().unwrap().from = "cp-2".into();
        let steps = plan_cluster(&inv, &st).unwrap();
        let token = steps
            .iter()
            .find(|s| s.kind == StepKind::BootstrapToken)
            .unwrap();
        assert_eq!(token.host, "cp-2");
        assert!(!steps.iter().any(|s| s.kind == StepKind::Init));
        assert!(steps.iter().any(|s| s.id == "cluster/join/cp-1"));
    }

    #[test]
    fn secrets_go_through_stdin_and_never_into_scripts() {
        let inv = fixtures::ha();
        let steps = plan_cluster(&inv, &fresh(&inv)).unwrap();
        let by_id = |id: &str| steps.iter().find(|s| s.id == id).unwrap();
        let stdin = |id: &str| match &by_id(id).action {
            Action::Script { stdin, .. } => stdin.clone(),
            other => panic!("{id}: {other:?}"),
        };
        use RuntimeInput::*;
        assert_eq!(
            stdin("cluster/init/cp-1"),
            vec![BootstrapToken, CertificateKey]
        );
        assert_eq!(
            stdin("cluster/join/cp-2"),
            vec![BootstrapToken, CertificateKey, CaCertHash]
        );
        assert_eq!(stdin("cluster/join/w-1"), vec![BootstrapToken, CaCertHash]);
        assert_eq!(stdin("cluster/security-files/cp-1"), vec![EncryptionKey]);
        assert!(matches!(
            &by_id("cluster/init/cp-1").action,
            Action::Script {
                capture: Some(Capture::CaCertHash),
                ..
            }
        ));
        for s in &steps {
            if let Action::Script { script, .. } = &s.action {
                for line in script.lines() {
                    assert!(
                        !(line.starts_with("kubeadm") && line.contains("--token")),
                        "{}: secret-bearing flag in argv: {line}",
                        s.id
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod snapshots {
    use super::plan as plan_cluster;
    use crate::phases::cluster::fixtures;
    use crate::phases::cluster::state::{ClusterState, HostClusterFacts};
    use crate::plan::{Action, Step, StepKind};

    fn render_plan(steps: &[Step]) -> String {
        let mut out = String::new();
        for s in steps {
            out.push_str(&format!(
                "### [{}] {} @ {} ({:?})\n# {}\n",
                s.wave, s.id, s.host, s.kind, s.title
            ));
            out.push_str(&format!("# why: {}\n", s.reason));
            match &s.action {
                Action::Generate(i) => out.push_str(&format!("generate {}\n", i.name())),
                Action::Script {
                    script,
                    stdin,
                    capture,
                } => {
                    let names: Vec<&str> = stdin.iter().map(|i| i.name()).collect();
                    out.push_str(&format!(
                        "# stdin: {names:?} capture: {capture:?}\n{script}"
                    ));
                }
                Action::FetchKubeconfig {
                    script,
                    local_path,
                    server,
                } => out.push_str(&format!(
                    "# fetch to {} (server {server})\n{script}",
                    local_path.display()
                )),
                Action::RemoveLocal { path } => {
                    out.push_str(&format!("remove {}\n", path.display()))
                }
                // Node actions; cluster planners never emit them.
                other => out.push_str(&format!("{other:?}\n")),
            }
            out.push('\n');
        }
        out
    }

    /// Writes every step script to `$OTP_SCRIPTS_OUT/<id>.sh` for shellcheck in
    /// scripts/validate-manifests; a no-op otherwise.
    fn export_scripts(steps: &[Step]) {
        let Ok(dir) = std::env::var("OTP_SCRIPTS_OUT") else {
            return;
        };
        std::fs::create_dir_all(&dir).unwrap();
        for s in steps {
            let script = match &s.action {
                Action::Script { script, .. } | Action::FetchKubeconfig { script, .. } => script,
                _ => continue,
            };
            let name = s.id.replace('/', "_");
            std::fs::write(format!("{dir}/{name}.sh"), script).unwrap();
        }
    }

    /// The scripts of a fresh HA cluster (the whole `up` of an empty lab), as reviewed text.
    #[test]
    fn fresh_ha_plan_scripts() {
        let inv = fixtures::ha();
        let mut st = ClusterState::default();
        for h in &inv.hosts {
            st.hosts.insert(h.name.clone(), HostClusterFacts::default());
        }
        // CNI manifests and kubeadm configs are snapshotted by the render tests; here the
        // step scripts around them matter, so keep the plan readable.
        let all = plan_cluster(&inv, &st).unwrap();
        export_scripts(&all);
        let steps: Vec<Step> = all
            .into_iter()
            .filter(|s| s.kind != StepKind::Cni)
            .collect();
        insta::assert_snapshot!(render_plan(&steps));
    }
}
