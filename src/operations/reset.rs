//! `reset --yes`: every node torn down (workers first, then control planes one at a time, the
//! first one last), load balancers stopped, the local kubeconfig removed.

use std::collections::BTreeMap;

use super::{Operation, Request};
use crate::inventory::Inventory;
use crate::phases::cluster::day2::ResetContext;
use crate::phases::cluster::planners::{self, Planner};
use crate::phases::cluster::planners::{kubeconfig, load_balancers, teardown};
use crate::phases::cluster::{ClusterError, ClusterState};
use crate::phases::written_files;
use crate::plan::Step;

pub const OPERATION: Operation = Operation {
    name: "reset",
    needs_yes: true,
    plan: |inv, state, req: &Request| {
        let mut lb_files = BTreeMap::new();
        for h in inv.lb_hosts() {
            let files = written_files(inv, h, req.books, "endpoint")?;
            lb_files.insert(h.name.clone(), files);
        }
        plan(inv, state, lb_files)
    },
};

pub fn planners<'a>() -> [(&'static str, Planner<ResetContext<'a>>); 4] {
    [
        ("teardown-workers", teardown::workers),
        ("teardown-control-planes", teardown::control_planes),
        ("load-balancers", load_balancers::stop),
        ("kubeconfig", kubeconfig::remove),
    ]
}

/// `lb_files`: per load-balancer host, the files the endpoint playbook writes there.
pub fn plan(
    inv: &Inventory,
    state: &ClusterState,
    lb_files: BTreeMap<String, Vec<String>>,
) -> Result<Vec<Step>, ClusterError> {
    let ctx = ResetContext::decide(inv, state, lb_files);
    planners::run(&ctx, "", &planners())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::plan;
    use crate::phases::cluster::fixtures::{self, api_state as state, ids};
    use crate::phases::cluster::{ClusterState, HostClusterFacts};
    use crate::plan::Action;

    fn plan_reset(
        inv: &crate::inventory::Inventory,
        st: &ClusterState,
        lb_files: &BTreeMap<String, Vec<String>>,
    ) -> Vec<crate::plan::Step> {
        plan(inv, st, lb_files.clone()).unwrap()
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
            let Action::Script { script, .. } = &step.action else {
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
}
