use std::collections::BTreeSet;

use super::testutil::*;
use super::*;
use crate::facts::{FileFact, Package, Service};
use crate::inventory::{EndpointMode, PackageSource, Role};
use crate::plan::Action;

fn plan_one(inv: &Inventory, name: &str, f: &Facts) -> HostPlan {
    plan_host(inv, inv.host(name).unwrap(), f, &books()).unwrap()
}

fn find<'a>(hp: &'a HostPlan, id: &str) -> &'a Step {
    hp.steps.iter().find(|s| s.id == id).unwrap_or_else(|| {
        panic!(
            "no step {id} in {:#?}",
            hp.steps.iter().map(|s| &s.id).collect::<Vec<_>>()
        )
    })
}

fn script(s: &Step) -> String {
    match &s.action {
        Action::Script { script, .. } => script.clone(),
        Action::WriteFile {
            path, mode, owner, ..
        } => format!("<write {path} mode {mode} owner {owner}>"),
        Action::None => "<none>".into(),
        // Cluster actions; playbooks never plan them.
        other => format!("<{other:?}>"),
    }
}

/// Plan text plus every action, as operators and reviewers see them.
fn dump(hp: &HostPlan) -> String {
    let mut out = String::new();
    for s in &hp.steps {
        out.push_str(&format!(
            "## {} [{}] change={} ({})\n",
            s.title, s.id, s.change, s.reason
        ));
        if s.change {
            out.push_str(&script(s));
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn fresh_hosts_snapshot() {
    let inv = inventory();
    for name in ["cp1", "w1", "lb1"] {
        let hp = plan_one(&inv, name, &fresh(&inv, name));
        assert!(hp.steps.iter().all(|s| !s.reason.is_empty()));
        insta::assert_snapshot!(format!("plan_fresh_{name}"), dump(&hp));
    }
}

#[test]
fn converged_hosts_change_nothing() {
    let inv = inventory();
    let plan = plan(&inv, &all(&inv, converged), &books()).unwrap();
    assert_eq!(plan.hosts.len(), 7);
    assert_eq!(plan.changes(), 0, "{plan}");
    insta::assert_snapshot!("plan_converged", plan.to_string());
}

/// (description, facts mutation on a converged cp1, step id, want change, want reason)
type Case = (
    &'static str,
    fn(&mut Facts),
    &'static str,
    bool,
    &'static str,
);

#[test]
fn step_kinds_table() {
    let cases: &[Case] = &[
        (
            "sysctl converged",
            |_| {},
            "prepare/sysctl/net.ipv4.ip_forward",
            false,
            "already 1",
        ),
        (
            "sysctl wrong",
            |f| {
                f.sysctls.insert("net.ipv4.ip_forward".into(), "0".into());
            },
            "prepare/sysctl/net.ipv4.ip_forward",
            true,
            "net.ipv4.ip_forward is 0, want 1",
        ),
        (
            "sysctl missing",
            |f| {
                f.sysctls.remove("net.bridge.bridge-nf-call-iptables");
                f.sysctls_missing
                    .insert("net.bridge.bridge-nf-call-iptables".into());
            },
            "prepare/sysctl/net.bridge.bridge-nf-call-iptables",
            true,
            "net.bridge.bridge-nf-call-iptables does not exist yet (module not loaded?), want 1",
        ),
        (
            "sysctl file missing",
            |f| {
                f.files.remove("/etc/sysctl.d/99-kubernetes.conf");
                f.files_missing
                    .insert("/etc/sysctl.d/99-kubernetes.conf".into());
            },
            "prepare/sysctl/file",
            true,
            "/etc/sysctl.d/99-kubernetes.conf missing",
        ),
        (
            "module converged",
            |_| {},
            "prepare/modules/br_netfilter",
            false,
            "loaded",
        ),
        (
            "module unloaded",
            |f| {
                f.modules.remove("br_netfilter");
            },
            "prepare/modules/br_netfilter",
            true,
            "br_netfilter not loaded",
        ),
        (
            "module in a kernel without modules",
            |f| {
                f.modules.remove("br_netfilter");
                f.modules_loadable = false;
            },
            "prepare/modules/br_netfilter",
            false,
            "kernel without loadable modules: built in or unavailable",
        ),
        (
            "file converged",
            |_| {},
            "prepare/containerd-config",
            false,
            "up to date",
        ),
        (
            "file differs",
            |f| {
                f.files
                    .get_mut("/etc/containerd/config.toml")
                    .unwrap()
                    .sha256 = "ab".repeat(32);
            },
            "prepare/containerd-config",
            true,
            "config.toml differs (sha256 abababab.. != ",
        ),
        (
            "file mode",
            |f| {
                f.files.get_mut("/etc/crictl.yaml").unwrap().mode = "600".into();
            },
            "prepare/crictl-config",
            true,
            "mode 600 != 644",
        ),
        (
            "file owner",
            |f| {
                f.files.get_mut("/etc/crictl.yaml").unwrap().owner = "ops:ops".into();
            },
            "prepare/crictl-config",
            true,
            "owner ops:ops != root:root",
        ),
        (
            "notify restarts at the service step",
            |f| {
                f.files
                    .get_mut("/etc/containerd/config.toml")
                    .unwrap()
                    .sha256 = "ab".repeat(32);
            },
            "prepare/containerd",
            true,
            "restart: /etc/containerd/config.toml changed",
        ),
        (
            "restart lost by an interrupted run",
            |f| {
                f.files
                    .get_mut("/etc/containerd/config.toml")
                    .unwrap()
                    .mtime = 1_700_000_200
            },
            "prepare/containerd",
            true,
            "restart: containerd started before /etc/containerd/config.toml was last written",
        ),
        (
            "package converged",
            |_| {},
            "prepare/kubernetes-packages",
            false,
            "installed: kubelet 1.33.4-1.1 (held), kubeadm 1.33.4-1.1 (held)",
        ),
        (
            "package wrong version",
            |f| {
                f.packages.insert(
                    "kubelet".into(),
                    Package {
                        version: "1.32.1-1.1".into(),
                        held: true,
                    },
                );
            },
            "prepare/kubernetes-packages",
            true,
            "kubelet 1.32.1-1.1 installed, want 1.33.4-*",
        ),
        (
            "package not held",
            |f| f.packages.get_mut("kubeadm").unwrap().held = false,
            "prepare/kubernetes-packages",
            true,
            "kubeadm not held",
        ),
        (
            "package missing",
            |f| {
                f.packages.remove("socat");
            },
            "prepare/host-packages",
            true,
            "socat not installed",
        ),
        (
            "service converged",
            |_| {},
            "prepare/kubelet",
            false,
            "kubelet enabled, active",
        ),
        (
            "service disabled",
            |f| {
                f.services.insert(
                    "kubelet".into(),
                    Service {
                        active: "activating".into(),
                        enabled: "disabled".into(),
                        active_since: None,
                    },
                );
            },
            "prepare/kubelet",
            true,
            "kubelet is disabled, want enabled",
        ),
        (
            "service stopped",
            |f| f.services.get_mut("containerd").unwrap().active = "failed".into(),
            "prepare/containerd",
            true,
            "containerd is failed, want running",
        ),
        (
            "swap converged",
            |_| {},
            "prepare/swap",
            false,
            "no active swap, none in /etc/fstab",
        ),
        (
            "swap active",
            |f| {
                f.swap_active = true;
                f.swaps = vec!["/dev/sda2".into()];
            },
            "prepare/swap",
            true,
            "swap active on /dev/sda2",
        ),
        (
            "swap in fstab only",
            |f| f.fstab_swap = vec!["UUID=1234".into()],
            "prepare/swap",
            true,
            "/etc/fstab has swap on UUID=1234",
        ),
        (
            "command probe ok",
            |_| {},
            "prepare/debian-sources-others",
            false,
            "unless probe succeeded",
        ),
        (
            "command probe fails",
            |f| {
                f.probes.insert("prepare/debian-sources-others".into(), 1);
            },
            "prepare/debian-sources-others",
            true,
            "unless probe exited 1",
        ),
        (
            "ports free",
            |_| {},
            "prepare/control-plane-ports",
            false,
            "free",
        ),
    ];
    let inv = inventory();
    let base = converged(&inv, "cp1");
    for (what, mutate, id, change, reason) in cases {
        let mut f = base.clone();
        mutate(&mut f);
        let hp = plan_one(&inv, "cp1", &f);
        let s = find(&hp, id);
        assert_eq!(s.change, *change, "{what}: {}", s.reason);
        assert!(
            s.reason.starts_with(reason),
            "{what}: {:?} !~ {reason:?}",
            s.reason
        );
        // A step with nothing to do carries no action: apply cannot run it by mistake.
        assert_eq!(matches!(s.action, Action::None), !s.change, "{what}");
        // Exactly the mutated step changes (plus the containerd restart after its config).
        let others: Vec<&str> = hp
            .steps
            .iter()
            .filter(|o| o.change && o.id != *id)
            .map(|o| o.id.as_str())
            .collect();
        assert!(
            others.is_empty()
                || others == ["prepare/containerd"]
                || others == ["prepare/containerd-config"],
            "{what}: also changed {others:?}"
        );
    }
}

#[test]
fn package_scripts() {
    let inv = inventory();
    let mut f = converged(&inv, "cp1");
    f.packages.get_mut("kubeadm").unwrap().held = false;
    let s = script(find(
        &plan_one(&inv, "cp1", &f),
        "prepare/kubernetes-packages",
    ));
    // Only a hold is missing: no index refresh, no install.
    assert!(!s.contains("apt-get"), "{s}");
    assert!(s.contains("apt-mark hold kubelet kubeadm kubectl cri-tools kubernetes-cni"));

    f.packages.remove("kubelet");
    let s = script(find(
        &plan_one(&inv, "cp1", &f),
        "prepare/kubernetes-packages",
    ));
    assert!(
        s.contains("apt-get -q -o DPkg::Lock::Timeout=300 update"),
        "{s}"
    );
    // Only the missing package is installed, pinned and quoted.
    assert!(s.contains("install 'kubelet=1.33.4-*'\n"), "{s}");
}

#[test]
fn notify_without_service_step_adds_a_restart() {
    let inv = inventory();
    let mut f = converged(&inv, "lb1");
    f.files.get_mut("/etc/haproxy/haproxy.cfg").unwrap().sha256 = "00".repeat(32);
    let hp = plan_one(&inv, "lb1", &f);
    assert_eq!(
        find(&hp, "endpoint/haproxy").reason,
        "restart: /etc/haproxy/haproxy.cfg changed"
    );

    // Same change with an override playbook that has no haproxy service step.
    let dir = tempfile::tempdir().unwrap();
    let text = include_str!("../../playbooks/endpoint.toml");
    let cut = text.split("[[step]]\nid = \"haproxy\"").next().unwrap();
    std::fs::write(dir.path().join("endpoint.toml"), cut).unwrap();
    let books = Playbooks::load(Some(dir.path())).unwrap();
    let hp = plan_host(&inv, inv.host("lb1").unwrap(), &f, &books).unwrap();
    let last = hp.steps.last().unwrap();
    assert_eq!(last.id, "endpoint/restart/haproxy");
    assert!(last.change);
    assert_eq!(script(last), "systemctl restart haproxy\n");
}

#[test]
fn roles_and_conditions_select_steps() {
    let mut inv = inventory();
    let ids = |inv: &Inventory, name: &str| -> Vec<String> {
        plan_one(inv, name, &fresh(inv, name))
            .steps
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    let lb = ids(&inv, "lb1");
    assert!(
        lb.iter()
            .all(|i| i.starts_with("endpoint/") || i.starts_with("prepare/debian-sources")),
        "{lb:?}"
    );
    let w = ids(&inv, "w1");
    assert!(w.contains(&"prepare/worker-ports".to_string()));
    assert!(
        !w.iter()
            .any(|i| i.starts_with("endpoint/") || i == "prepare/control-plane-ports")
    );
    // Trusted mirror: no key to fetch.
    assert!(!w.contains(&"prepare/kubernetes-key".to_string()));

    // Upstream packages: key fetched (with curl installed first), no Debian mirror.
    inv.packages = PackageSource::Upstream;
    let w = ids(&inv, "w1");
    let pos = |id: &str| {
        w.iter()
            .position(|i| i == id)
            .unwrap_or_else(|| panic!("{id} in {w:?}"))
    };
    assert!(pos("prepare/key-tools") < pos("prepare/kubernetes-key"));
    assert!(pos("prepare/kubernetes-key") < pos("prepare/kubernetes-repo"));
    assert!(pos("prepare/kubernetes-repo") < pos("prepare/kubernetes-packages"));
    assert!(!w.iter().any(|i| i.starts_with("prepare/debian-sources")));

    // External endpoint: nothing for load balancers to do.
    inv.cluster.endpoint.as_mut().unwrap().mode = EndpointMode::External;
    assert!(ids(&inv, "lb1").is_empty());

    // Ubuntu with a Debian mirror: the Debian archive must not replace Ubuntu's.
    let mut inv = inventory();
    inv.packages = PackageSource::Mirror {
        url: "http://m".into(),
        key_url: None,
        debian: true,
    };
    let mut f = fresh(&inv, "w1");
    f.os.id = "ubuntu".into();
    f.os.id_like = "debian".into();
    let hp = plan_one(&inv, "w1", &f);
    assert!(
        !hp.steps
            .iter()
            .any(|s| s.id.starts_with("prepare/debian-sources"))
    );
    assert!(
        hp.steps
            .iter()
            .any(|s| s.id == "prepare/kubernetes-packages")
    );

    // A control plane that is also a worker checks the control-plane ports only.
    let mut both = inventory();
    both.hosts[0].roles.insert(Role::Worker);
    let ids_both = ids(&both, "cp1");
    assert!(ids_both.contains(&"prepare/control-plane-ports".to_string()));
    assert!(!ids_both.contains(&"prepare/worker-ports".to_string()));

    // An initialised control plane does not check its own (busy) ports.
    let mut f = converged(&inv, "cp1");
    f.kube.kubelet_conf = true;
    f.listening_tcp.insert(6443);
    let hp = plan_one(&inv, "cp1", &f);
    assert!(
        !hp.steps
            .iter()
            .any(|s| s.id == "prepare/control-plane-ports")
    );
}

#[test]
fn busy_port_on_fresh_node_fails_naming_host_and_port() {
    let inv = inventory();
    let mut f = fresh(&inv, "cp2");
    f.listening_tcp.insert(2379);
    let e = plan_host(&inv, inv.host("cp2").unwrap(), &f, &books()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cp2: step prepare/control-plane-ports cannot run: TCP port(s) 2379 already in use \
         (kubeadm preflight would fail); free them first"
    );
}

#[test]
fn every_failing_host_is_reported() {
    let inv = inventory();
    let mut facts = all(&inv, fresh);
    facts.get_mut("cp2").unwrap().listening_tcp.insert(2379);
    facts.get_mut("w2").unwrap().listening_tcp.insert(10250);
    let e = plan(&inv, &facts, &books()).unwrap_err().to_string();
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 2, "{e}");
    assert!(
        lines[0].starts_with("cp2: step prepare/control-plane-ports cannot run: TCP port(s) 2379")
    );
    assert!(lines[1].starts_with("w2: step prepare/worker-ports cannot run: TCP port(s) 10250"));
}

#[test]
fn fact_request_covers_what_planners_read() {
    let inv = inventory();
    let req = fact_request(&inv, inv.host("cp1").unwrap(), &books()).unwrap();
    assert_eq!(
        req.packages,
        set([
            "containerd",
            "conntrack",
            "socat",
            "ebtables",
            "ethtool",
            "iptables",
            "iproute2",
            "curl",
            "ca-certificates",
            "kubelet",
            "kubeadm",
            "kubectl",
            "cri-tools",
            "kubernetes-cni"
        ])
    );
    assert_eq!(req.services, set(["containerd", "kubelet"]));
    assert_eq!(
        req.sysctls,
        set([
            "net.ipv4.ip_forward",
            "net.bridge.bridge-nf-call-iptables",
            "net.bridge.bridge-nf-call-ip6tables",
            "vm.overcommit_memory",
            "vm.panic_on_oom",
            "kernel.panic",
            "kernel.panic_on_oops",
            "kernel.keys.root_maxkeys",
            "kernel.keys.root_maxbytes",
            "vm.max_map_count"
        ])
    );
    assert!(req.files.contains("/etc/containerd/config.toml"));
    assert!(req.files.contains("/etc/sysctl.d/99-kubernetes.conf"));
    assert!(req.files.contains("/etc/modules-load.d/k8s.conf"));
    assert_eq!(
        req.probes.keys().cloned().collect::<BTreeSet<_>>(),
        set(["prepare/debian-sources-others", "prepare/kubernetes-key"])
    );
    assert_eq!(
        req.probes["prepare/kubernetes-key"],
        "test -s /etc/apt/keyrings/kubernetes-apt-keyring.asc"
    );
    let lb = fact_request(&inv, inv.host("lb1").unwrap(), &books()).unwrap();
    assert_eq!(lb.services, set(["haproxy", "keepalived"]));
}

#[test]
fn plan_errors_name_host_and_step() {
    let inv = inventory();
    // A file the facts never looked at (e.g. facts from another request).
    let mut f = converged(&inv, "w1");
    f.files.remove("/etc/crictl.yaml");
    let e = plan_host(&inv, inv.host("w1").unwrap(), &f, &books()).unwrap_err();
    assert!(
        e.to_string().starts_with(
            "w1: prepare.toml: step prepare/crictl-config: /etc/crictl.yaml was not part"
        ),
        "{e}"
    );

    // Hosts without facts are skipped (e.g. --limit); the plan has only the others.
    let mut facts = all(&inv, converged);
    facts.remove("w2");
    let p = plan(&inv, &facts, &books()).unwrap();
    assert!(p.host("w2").is_none() && p.host("w1").is_some());
}

#[test]
fn asserts_fail_planning_with_their_message() {
    let inv = inventory();
    let mut f = fresh(&inv, "w1");
    f.os.id = "rocky".into();
    f.os.id_like = "rhel centos fedora".into();
    f.os.version_id = "9.3".into();
    let e = plan_host(&inv, inv.host("w1").unwrap(), &f, &books()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "w1: step prepare/supported-os cannot run: rocky 9.3: the embedded playbooks install \
         packages on Debian and Ubuntu only; for the RHEL family bring your own playbooks \
         (--playbooks DIR)"
    );

    // haproxy on the control planes themselves must not take the apiserver's port.
    let mut inv = inventory();
    inv.hosts[0].roles.insert(Role::LoadBalancer);
    let f = fresh(&inv, "cp1");
    let e = plan_host(&inv, inv.host("cp1").unwrap(), &f, &books()).unwrap_err();
    assert!(e.to_string().starts_with("cp1: step endpoint/frontend-port cannot run: haproxy on a control plane cannot listen on port 6443"), "{e}");
    inv.cluster.endpoint.as_mut().unwrap().port = 8443;
    let hp = plan_host(&inv, inv.host("cp1").unwrap(), &f, &books()).unwrap();
    assert!(hp.steps.iter().any(|s| s.id == "endpoint/haproxy-config"));
    // A passing assertion is a guard, not a step.
    assert!(!hp.steps.iter().any(|s| s.id.ends_with("supported-os")));
}

#[test]
fn rpm_family_installs_with_dnf() {
    let inv = inventory();
    let mut f = fresh(&inv, "w1");
    f.os.id = "rocky".into();
    f.os.id_like = "rhel centos fedora".into();
    let r = Resolved {
        phase: "prepare".into(),
        id: "prepare/p".into(),
        title: None,
        kind: ResolvedKind::Swap,
    };
    let s = steps::package(
        &r,
        &[
            ("kubelet".into(), Some("1.33.4-*".into())),
            ("socat".into(), None),
        ],
        true,
        "rhel",
        &f,
    );
    assert_eq!(
        script(&s),
        "set -e\ndnf install -y --disableexcludes=all 'kubelet-1.33.4-*' socat\n"
    );
}

#[test]
fn glob_table() {
    for (p, s, want) in [
        ("1.33.4-*", "1.33.4-1.1", true),
        ("1.33.4-*", "1.33.40-1.1", false),
        ("1.33.4-*", "1.33.4-", true),
        ("*", "", true),
        ("1.*.4", "1.33.4", true),
        ("1.33.4", "1.33.4-1", false),
    ] {
        assert_eq!(steps::glob_match(p, s), want, "{p} {s}");
    }
}

#[test]
fn file_fact_with_leading_zero_mode_matches() {
    let inv = inventory();
    let mut f = converged(&inv, "w1");
    let ff: &mut FileFact = f.files.get_mut("/etc/crictl.yaml").unwrap();
    ff.mode = "0644".into();
    assert!(!find(&plan_one(&inv, "w1", &f), "prepare/crictl-config").change);
}

#[test]
fn plan_phase_helpers() {
    let inv = inventory();
    let p = plan(&inv, &all(&inv, fresh), &books()).unwrap();
    let prep = p.only_phases(&["prepare"]);
    let ep = p.only_phases(&["endpoint"]);
    assert_eq!(prep.hosts.len(), 7); // load balancers have apt source steps too
    assert_eq!(
        ep.hosts.iter().map(|h| h.host.as_str()).collect::<Vec<_>>(),
        ["lb1", "lb2"]
    );
    assert_eq!(prep.changes() + ep.changes(), p.changes());
    let mut joined = prep.clone();
    joined.extend(ep);
    assert_eq!(joined.changes(), p.changes());
    assert_eq!(
        joined.host("lb1").unwrap().steps.len(),
        p.host("lb1").unwrap().steps.len()
    );
}

#[test]
fn duplicate_identities_are_warned() {
    let inv = inventory();
    let mut facts = all(&inv, fresh);
    assert!(warnings(&facts).is_empty());
    facts.get_mut("w1").unwrap().machine_id = "abc".into();
    facts.get_mut("w2").unwrap().machine_id = "abc".into();
    facts.get_mut("cp3").unwrap().hostname = "cp1".into();
    assert_eq!(
        warnings(&facts),
        [
            "hosts cp1, cp3 share the hostname cp1 (cloned image?); give each node its own",
            "hosts w1, w2 share the machine-id abc (cloned image?); give each node its own",
        ]
    );
}
