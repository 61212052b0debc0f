//! `remove-node` of a control plane: its etcd member goes too, from another control plane
//! (kubeadm reset removes it when the host answers; this covers when it could not).

use super::{Steps, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::day2::RemoveNodeContext;
use crate::plan::StepKind;
use crate::shell::q;

pub fn plan(ctx: &RemoveNodeContext, steps: &mut Steps) -> Result<(), ClusterError> {
    if !ctx.is_cp {
        return Ok(());
    }
    let name = ctx.name;
    steps.push(
        2,
        &ctx.from,
        StepKind::RemoveEtcdMember,
        &format!("etcd-member-remove/{name}"),
        format!("remove etcd member {name} if still listed"),
        if ctx.reachable {
            "kubeadm reset removes it; this covers a reset that could not".into()
        } else {
            "the host is unreachable, so reset cannot remove it".into()
        },
        script(
            format!(
                "set -eu\ncid=$(crictl ps -q --name '^etcd$' | head -n1)\n\
                 e() {{ crictl exec \"$cid\" etcdctl --endpoints=https://127.0.0.1:2379 \
--cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
--key=/etc/kubernetes/pki/etcd/healthcheck-client.key \"$@\"; }}\n\
                 id=$(e member list | awk -F', ' -v n={} '$3==n {{print $1}}')\n\
                 if [ -n \"$id\" ]; then e member remove \"$id\"; fi\n",
                q(name)
            ),
            vec![],
            None,
        ),
    );
    Ok(())
}
