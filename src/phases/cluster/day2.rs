//! What the day-2 operations decide once before their planners run: `remove-node NAME`
//! (refuses to remove the last control plane or break etcd quorum unless forced) and
//! `reset --yes` (which hosts still hold Kubernetes, in which order they go).

use std::collections::BTreeMap;

use super::ClusterError;
use super::state::{ApiProbe, ClusterState};
use crate::inventory::{Host, Inventory, Role};

/// The decisions of `remove-node NAME`.
pub struct RemoveNodeContext<'a> {
    pub inv: &'a Inventory,
    pub state: &'a ClusterState,
    pub api: &'a ApiProbe,
    /// The node to remove.
    pub name: &'a str,
    pub is_cp: bool,
    /// The API lists it as a Node.
    pub listed: bool,
    /// Its host answered the probe, so it can be reset.
    pub reachable: bool,
    /// Another working control plane the cluster-side steps run from.
    pub from: String,
}

impl<'a> RemoveNodeContext<'a> {
    pub fn decide(
        inv: &'a Inventory,
        state: &'a ClusterState,
        name: &'a str,
        force: bool,
    ) -> Result<Self, ClusterError> {
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
        Ok(RemoveNodeContext {
            inv,
            state,
            api,
            name,
            is_cp,
            listed: node.is_some(),
            reachable: state.host(name).is_some(),
            from,
        })
    }
}

/// The decisions of `reset --yes`.
pub struct ResetContext<'a> {
    pub inv: &'a Inventory,
    pub state: &'a ClusterState,
    /// Workers (not control planes) that still hold Kubernetes.
    pub workers: Vec<&'a Host>,
    /// Control planes that still hold Kubernetes, in teardown order: the first one last.
    pub control_planes: Vec<&'a Host>,
    /// Per load-balancer host, the files the endpoint playbook writes there
    /// ([`crate::phases::written_files`]): reset takes back exactly what was written.
    pub lb_files: BTreeMap<String, Vec<String>>,
}

impl<'a> ResetContext<'a> {
    pub fn decide(
        inv: &'a Inventory,
        state: &'a ClusterState,
        lb_files: BTreeMap<String, Vec<String>>,
    ) -> Self {
        let present = |h: &&Host| {
            state
                .host(&h.name)
                .is_some_and(|f| f.leftovers() || f.kube_vip.is_some())
        };
        let workers = inv
            .workers()
            .filter(|h| !h.has_role(Role::ControlPlane))
            .filter(present)
            .collect();
        let mut control_planes: Vec<&Host> = inv.control_planes().filter(present).collect();
        control_planes.reverse();
        ResetContext {
            inv,
            state,
            workers,
            control_planes,
            lb_files,
        }
    }

    /// Workers go in wave 0, control planes one per wave after them, then the load balancers.
    pub fn lb_wave(&self) -> u32 {
        1 + self.control_planes.len() as u32
    }
}
