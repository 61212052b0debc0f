//! Tearing Kubernetes off a host: the removed node (`remove-node`), or every node (`reset`:
//! workers first, then control planes one at a time, the first one last).

use super::{Steps, script};
use crate::phases::cluster::ClusterError;
use crate::phases::cluster::day2::{RemoveNodeContext, ResetContext};
use crate::phases::cluster::render::{CRI_SOCKET, KUBE_VIP_MANIFEST, RUN_DIR};
use crate::plan::StepKind;

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

/// `remove-node`: the removed host, when it answers.
pub fn removed_node(ctx: &RemoveNodeContext, steps: &mut Steps) -> Result<(), ClusterError> {
    if !ctx.reachable {
        return Ok(());
    }
    let name = ctx.name;
    steps.push(
        1,
        name,
        StepKind::Reset,
        &format!("reset/{name}"),
        format!("kubeadm reset {name}"),
        if ctx.is_cp {
            "removes its etcd member while etcd has quorum, then its kubeadm state".into()
        } else {
            "removes its kubeadm state".into()
        },
        script(teardown_script(), vec![], None),
    );
    Ok(())
}

/// `reset`: every worker at once.
pub fn workers(ctx: &ResetContext, steps: &mut Steps) -> Result<(), ClusterError> {
    for h in &ctx.workers {
        reset_host(steps, 0, &h.name);
    }
    Ok(())
}

/// `reset`: control planes one per wave, the first one last.
pub fn control_planes(ctx: &ResetContext, steps: &mut Steps) -> Result<(), ClusterError> {
    for (i, h) in ctx.control_planes.iter().enumerate() {
        reset_host(steps, 1 + i as u32, &h.name);
    }
    Ok(())
}

fn reset_host(steps: &mut Steps, wave: u32, name: &str) {
    steps.push(
        wave,
        name,
        StepKind::Reset,
        &format!("reset/{name}"),
        format!("tear down Kubernetes on {name}"),
        "reset --yes".into(),
        script(teardown_script(), vec![], None),
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn teardown_is_valid_sh() {
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(super::teardown_script())
            .output()
            .unwrap();
        assert!(out.status.success());
    }
}
