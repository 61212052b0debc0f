//! Day-2 planners: `remove-node NAME` and `reset --yes`. Pure, like [`super::plan_cluster`];
//! they refuse to remove the last control plane or break etcd quorum unless forced.

use std::collections::BTreeMap;

use super::ClusterError;
use super::plan::{ClusterAction, ClusterStep, LOCAL, StepKind, kubeconfig_path};
use super::render::{ADMIN_CONF, CRI_SOCKET, KUBE_VIP_MANIFEST, RUN_DIR};
use super::state::ClusterState;
use crate::inventory::{Inventory, Role};

/// How long a drain may wait for PodDisruptionBudgets before the step fails.
pub const DRAIN_TIMEOUT_SECS: u64 = 300;

fn q(s: &str) -> String {
    shell_escape::unix::escape(s.into()).into_owned()
}

fn script(s: String) -> ClusterAction {
    ClusterAction::Script {
        script: s,
        stdin: vec![],
        capture: None,
    }
}

fn step(
    wave: u32,
    host: &str,
    kind: StepKind,
    id: String,
    title: String,
    reason: String,
    action: ClusterAction,
) -> ClusterStep {
    ClusterStep {
        id: format!("remove/{id}"),
        host: host.to_string(),
        kind,
        title,
        reason,
        wave,
        action,
    }
}

/// Full node cleanup after `kubeadm reset` (kubeadm.md 4.4): what reset leaves on purpose.
/// Kept: packages, containerd and its images, node preparation (sysctls, modules, swap off).
pub fn teardown_script() -> String {
    format!(
        "set -eu\n\
         rm -f {KUBE_VIP_MANIFEST}\n\
         if command -v kubeadm >/dev/null; then kubeadm reset -f --cri-socket {CRI_SOCKET}; fi\n\
         rm -rf /etc/cni/net.d /var/lib/cni /var/lib/etcd {RUN_DIR} /etc/kubernetes/audit \
/etc/kubernetes/enc /etc/kubernetes/admission /etc/kubernetes/auth /etc/kubernetes/otp-provision\n\
         for t in iptables ip6tables; do\n  \
           if command -v $t >/dev/null; then $t -F; $t -t nat -F; $t -t mangle -F; $t -X; fi\n\
         done\n\
         if command -v ipvsadm >/dev/null; then ipvsadm -C; fi\n\
         for l in cni0 flannel.1 vxlan.calico tunl0; do ip link delete $l 2>/dev/null || true; done\n\
         systemctl restart containerd\n"
    )
}

/// Steps of `remove-node NAME`: drain (PDBs honoured, bounded), reset the host when it is
/// reachable, drop its etcd member if it is still listed, delete the Node object.
pub fn plan_remove_node(
    inv: &Inventory,
    state: &ClusterState,
    name: &str,
    force: bool,
) -> Result<Vec<ClusterStep>, ClusterError> {
    let err = |reason: String| ClusterError::Config {
        host: name.to_string(),
        reason,
    };
    let api = state.api.as_ref().ok_or_else(|| {
        err("the cluster API could not be probed; nothing can be removed safely".into())
    })?;
    let node = api.node(name);
    let host = inv.host(name);
    let is_cp = node.is_some_and(|n| n.control_plane)
        || host.is_some_and(|h| h.has_role(Role::ControlPlane));
    if node.is_none() && !is_cp {
        return Err(err("not a node of this cluster".into()));
    }
    if is_cp {
        let cps = api.nodes.iter().filter(|n| n.control_plane).count();
        if cps <= 1 && !force {
            return Err(err("it is the last control plane; removing it destroys the cluster (use reset, or force)".into()));
        }
        if let Some(members) = &api.etcd_members {
            let listed = members.iter().any(|m| m.name == name);
            let after = members.len() - usize::from(listed);
            let healthy_after = members
                .iter()
                .filter(|m| m.name != name && !m.name.is_empty() && !m.learner)
                .filter(|m| api.node(&m.name).is_some_and(|n| n.ready))
                .count();
            let quorum = after / 2 + 1;
            if healthy_after < quorum && !force {
                return Err(err(format!(
                    "etcd would keep {healthy_after} healthy of {after} members, quorum needs {quorum}; \
                     bring members back first (or force)"
                )));
            }
        }
    }

    // Run cluster-side steps from another control plane that still works.
    let from = inv
        .control_planes()
        .map(|h| h.name.as_str())
        .chain(std::iter::once(api.from.as_str()))
        .find(|c| *c != name && state.host(c).is_some_and(|f| f.admin_conf))
        .ok_or_else(|| {
            err("no other control plane with admin.conf to run the removal from".into())
        })?
        .to_string();

    let mut steps = Vec::new();
    let reachable = state.host(name).is_some();
    if node.is_some() {
        steps.push(step(
            0,
            &from,
            StepKind::DeleteNode,
            format!("drain/{name}"),
            format!("drain {name}"),
            format!("evict its pods, honouring PodDisruptionBudgets (timeout {DRAIN_TIMEOUT_SECS}s)"),
            script(format!(
                "set -eu\nkubectl --kubeconfig {ADMIN_CONF} drain {} --ignore-daemonsets --delete-emptydir-data --timeout={DRAIN_TIMEOUT_SECS}s\n",
                q(name)
            )),
        ));
    }
    if reachable {
        steps.push(step(
            1,
            name,
            StepKind::Reset,
            format!("reset/{name}"),
            format!("kubeadm reset {name}"),
            if is_cp {
                "removes its etcd member while etcd has quorum, then its kubeadm state".into()
            } else {
                "removes its kubeadm state".into()
            },
            script(teardown_script()),
        ));
    }
    if is_cp {
        steps.push(step(
            2,
            &from,
            StepKind::RemoveEtcdMember,
            format!("etcd-member-remove/{name}"),
            format!("remove etcd member {name} if still listed"),
            if reachable {
                "kubeadm reset removes it; this covers a reset that could not".into()
            } else {
                "the host is unreachable, so reset cannot remove it".into()
            },
            script(format!(
                "set -eu\ncid=$(crictl ps -q --name '^etcd$' | head -n1)\n\
                 e() {{ crictl exec \"$cid\" etcdctl --endpoints=https://127.0.0.1:2379 \
--cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
--key=/etc/kubernetes/pki/etcd/healthcheck-client.key \"$@\"; }}\n\
                 id=$(e member list | awk -F', ' -v n={} '$3==n {{print $1}}')\n\
                 if [ -n \"$id\" ]; then e member remove \"$id\"; fi\n",
                q(name)
            )),
        ));
    }
    if node.is_some() {
        steps.push(step(
            3,
            &from,
            StepKind::DeleteNode,
            format!("delete-node/{name}"),
            format!("delete Node {name}"),
            "the API must forget it".into(),
            script(format!(
                "set -eu\nkubectl --kubeconfig {ADMIN_CONF} delete node {} --ignore-not-found\n",
                q(name)
            )),
        ));
    }
    Ok(steps)
}

/// Steps of `reset --yes`: every node torn down (workers first, then control planes one at a
/// time, the first one last), load balancers stopped, the local kubeconfig removed.
/// `lb_files`: per load-balancer host, the files the endpoint playbook writes there
/// ([`crate::phases::written_files`]), removed so that reset takes back exactly what was written.
pub fn plan_reset(
    inv: &Inventory,
    state: &ClusterState,
    lb_files: &BTreeMap<String, Vec<String>>,
) -> Vec<ClusterStep> {
    let mut steps = Vec::new();
    let reset_step = |wave: u32, name: &str| ClusterStep {
        id: format!("reset/{name}"),
        host: name.to_string(),
        kind: StepKind::Reset,
        title: format!("tear down Kubernetes on {name}"),
        reason: "reset --yes".into(),
        wave,
        action: script(teardown_script()),
    };
    let present = |name: &str| {
        state
            .host(name)
            .is_some_and(|f| f.leftovers() || f.kube_vip.is_some())
    };
    for h in inv.workers().filter(|h| !h.has_role(Role::ControlPlane)) {
        if present(&h.name) {
            steps.push(reset_step(0, &h.name));
        }
    }
    let mut wave = 1;
    for h in inv.control_planes().collect::<Vec<_>>().into_iter().rev() {
        if present(&h.name) {
            steps.push(reset_step(wave, &h.name));
            wave += 1;
        }
    }
    for h in inv.lb_hosts() {
        let f = state.host(&h.name);
        if f.is_some_and(|f| f.haproxy_active || f.keepalived_active) {
            let mut s = String::from("set -eu\nsystemctl disable --now keepalived haproxy\n");
            let files = lb_files.get(&h.name).map(Vec::as_slice).unwrap_or_default();
            if !files.is_empty() {
                let quoted: Vec<String> = files.iter().map(|f| q(f)).collect();
                s.push_str(&format!("rm -f {}\n", quoted.join(" ")));
            }
            steps.push(ClusterStep {
                id: format!("reset/load-balancer/{}", h.name),
                host: h.name.clone(),
                kind: StepKind::Reset,
                title: "stop haproxy and keepalived".into(),
                reason: "reset --yes (packages stay installed)".into(),
                wave,
                action: script(s),
            });
        }
    }
    steps.push(ClusterStep {
        id: "reset/kubeconfig".into(),
        host: LOCAL.into(),
        kind: StepKind::Kubeconfig,
        title: format!("remove {}", kubeconfig_path(inv).display()),
        reason: "its cluster is gone".into(),
        wave: wave + 1,
        action: ClusterAction::RemoveLocal {
            path: kubeconfig_path(inv),
        },
    });
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::cluster::fixtures;
    use crate::phases::cluster::state::{ApiProbe, EtcdMember, HostClusterFacts, NodeStatus};

    fn state(ready: &[(&str, bool, bool)]) -> ClusterState {
        let mut st = ClusterState::default();
        let mut nodes = vec![];
        let mut members = vec![];
        for (i, (name, cp, ok)) in ready.iter().enumerate() {
            st.hosts.insert(
                name.to_string(),
                HostClusterFacts {
                    kubelet_conf: true,
                    admin_conf: *cp,
                    apiserver_manifest: *cp,
                    ..Default::default()
                },
            );
            nodes.push(NodeStatus {
                name: name.to_string(),
                ready: *ok,
                control_plane: *cp,
                ..Default::default()
            });
            if *cp {
                members.push(EtcdMember {
                    id: format!("{i:x}"),
                    name: name.to_string(),
                    ..Default::default()
                });
            }
        }
        st.api = Some(ApiProbe {
            from: "cp-1".into(),
            nodes,
            etcd_members: Some(members),
            init_complete: true,
            ..Default::default()
        });
        st
    }

    fn ids(steps: &[ClusterStep]) -> Vec<String> {
        steps
            .iter()
            .map(|s| format!("{} {} {}", s.wave, s.host, s.id))
            .collect()
    }

    #[test]
    fn remove_worker_and_control_plane() {
        let inv = fixtures::ha();
        let st = state(&[
            ("cp-1", true, true),
            ("cp-2", true, true),
            ("cp-3", true, true),
            ("w-1", false, true),
        ]);
        assert_eq!(
            ids(&plan_remove_node(&inv, &st, "w-1", false).unwrap()),
            [
                "0 cp-1 remove/drain/w-1",
                "1 w-1 remove/reset/w-1",
                "3 cp-1 remove/delete-node/w-1"
            ]
        );
        assert_eq!(
            ids(&plan_remove_node(&inv, &st, "cp-1", false).unwrap()),
            [
                "0 cp-2 remove/drain/cp-1",
                "1 cp-1 remove/reset/cp-1",
                "2 cp-2 remove/etcd-member-remove/cp-1",
                "3 cp-2 remove/delete-node/cp-1"
            ]
        );
        // Unreachable host: no reset, the member is removed from another control plane.
        let mut st2 = st.clone();
        st2.hosts.remove("cp-3");
        assert_eq!(
            ids(&plan_remove_node(&inv, &st2, "cp-3", false).unwrap()),
            [
                "0 cp-1 remove/drain/cp-3",
                "2 cp-1 remove/etcd-member-remove/cp-3",
                "3 cp-1 remove/delete-node/cp-3"
            ]
        );
    }

    #[test]
    fn refuses_last_control_plane_and_quorum_loss_unless_forced() {
        let inv = fixtures::ha();
        let st = state(&[("cp-1", true, true), ("w-1", false, true)]);
        let mut inv1 = inv.clone();
        inv1.hosts.retain(|h| h.name != "cp-2" && h.name != "cp-3");
        // Another control plane to run from is needed even when forced.
        let e = plan_remove_node(&inv1, &st, "cp-1", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("last control plane") || e.contains("no other control plane"),
            "{e}"
        );

        // 3 members, one already down: removing a healthy one leaves 1 healthy of 2 (quorum 2).
        let st = state(&[
            ("cp-1", true, true),
            ("cp-2", true, true),
            ("cp-3", true, false),
        ]);
        let e = plan_remove_node(&inv, &st, "cp-2", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cp-2: etcd would keep 1 healthy of 2 members, quorum needs 2"),
            "{e}"
        );
        assert!(plan_remove_node(&inv, &st, "cp-2", true).is_ok());
        // Removing the broken one is what restores safety, so it is allowed.
        assert!(plan_remove_node(&inv, &st, "cp-3", false).is_ok());
        let e = plan_remove_node(&inv, &st, "nope", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a node of this cluster"), "{e}");
    }

    #[test]
    fn reset_order_workers_then_control_planes_first_last() {
        let inv = fixtures::ha();
        let mut st = state(&[
            ("cp-1", true, true),
            ("cp-2", true, true),
            ("cp-3", true, true),
            ("w-1", false, true),
            ("w-2", false, true),
        ]);
        st.hosts.insert(
            "lb-1".into(),
            HostClusterFacts {
                haproxy_active: true,
                ..Default::default()
            },
        );
        st.hosts.insert("lb-2".into(), HostClusterFacts::default());
        assert_eq!(
            ids(&plan_reset(&inv, &st, &BTreeMap::new())),
            [
                "0 w-1 reset/w-1",
                "0 w-2 reset/w-2",
                "1 cp-3 reset/cp-3",
                "2 cp-2 reset/cp-2",
                "3 cp-1 reset/cp-1",
                "4 lb-1 reset/load-balancer/lb-1",
                "5 (local) reset/kubeconfig"
            ]
        );
    }

    /// reset takes back exactly the files the endpoint playbook writes, on the load-balancer
    /// hosts or, without them, on the control planes.
    #[test]
    fn reset_removes_what_the_endpoint_playbook_wrote() {
        let books = crate::playbook::Playbooks::load(None).unwrap();
        for (inv, host) in [
            (fixtures::ha(), "lb-2"),
            (fixtures::lb_on_control_planes(), "cp-3"),
        ] {
            let mut st = ClusterState::default();
            let mut lb_files = BTreeMap::new();
            for h in inv.lb_hosts() {
                let files = crate::phases::written_files(&inv, h, &books, "endpoint").unwrap();
                lb_files.insert(h.name.clone(), files);
                st.hosts.insert(
                    h.name.clone(),
                    HostClusterFacts {
                        keepalived_active: true,
                        ..Default::default()
                    },
                );
            }
            assert_eq!(
                lb_files[host],
                [
                    "/etc/haproxy/haproxy.cfg",
                    "/etc/keepalived/check_apiserver.sh",
                    "/etc/keepalived/keepalived.conf"
                ]
            );
            let steps = plan_reset(&inv, &st, &lb_files);
            let step = steps
                .iter()
                .find(|s| s.id == format!("reset/load-balancer/{host}"))
                .unwrap();
            let ClusterAction::Script { script, .. } = &step.action else {
                panic!("{step:?}");
            };
            assert_eq!(
                script,
                "set -eu\nsystemctl disable --now keepalived haproxy\n\
                 rm -f /etc/haproxy/haproxy.cfg /etc/keepalived/check_apiserver.sh \
                 /etc/keepalived/keepalived.conf\n"
            );
        }
    }

    #[test]
    fn teardown_is_valid_sh() {
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(teardown_script())
            .output()
            .unwrap();
        assert!(out.status.success());
    }
}
