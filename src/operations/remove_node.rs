//! `remove-node NAME`: drain (PDBs honoured, bounded), reset the host when it is reachable,
//! drop its etcd member if it is still listed, delete the Node object.

use super::{Operation, Request};
use crate::inventory::Inventory;
use crate::phases::cluster::day2::RemoveNodeContext;
use crate::phases::cluster::planners::{self, Planner};
use crate::phases::cluster::planners::{delete_node, drain, etcd_member, teardown};
use crate::phases::cluster::{ClusterError, ClusterState};
use crate::plan::Step;

pub const OPERATION: Operation = Operation {
    name: "remove-node",
    needs_yes: false,
    plan: |inv, state, req: &Request| plan(inv, state, req.node.unwrap_or_default(), req.force),
};

pub fn planners<'a>() -> [(&'static str, Planner<RemoveNodeContext<'a>>); 4] {
    [
        ("drain", drain::plan),
        ("teardown", teardown::removed_node),
        ("etcd-member", etcd_member::plan),
        ("delete-node", delete_node::plan),
    ]
}

pub fn plan(
    inv: &Inventory,
    state: &ClusterState,
    name: &str,
    force: bool,
) -> Result<Vec<Step>, ClusterError> {
    let ctx = RemoveNodeContext::decide(inv, state, name, force)?;
    planners::run(&ctx, "remove/", &planners())
}

#[cfg(test)]
mod tests {
    use super::plan as plan_remove_node;
    use crate::phases::cluster::fixtures::{self, api_state as state, ids};

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
}
