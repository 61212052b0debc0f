use super::*;
use crate::facts::{FactRequest, NodeState};

const DEBIAN_12: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"#;

const UBUNTU_2404: &str = r#"PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
"#;

const RHEL_9: &str = r#"NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
"#;

const ROCKY_9: &str = r#"NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
"#;

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn os_release_table() {
    // (sample, id, family, version, codename)
    let cases = [
        (DEBIAN_12, "debian", "debian", "12", "bookworm"),
        (UBUNTU_2404, "ubuntu", "debian", "24.04", "noble"),
        (RHEL_9, "rhel", "rhel", "9.4", ""),
        (ROCKY_9, "rocky", "rhel", "9.3", ""),
        (
            "ID=alpine\nVERSION_ID=3.20.0\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
            "alpine",
            "alpine",
            "3.20.0",
            "",
        ),
        (
            "ID=\"weird\"\nVERSION_ID='1'\nPRETTY_NAME=\"say \\\"hi\\\"\"\n",
            "weird",
            "weird",
            "1",
            "",
        ),
    ];
    for (text, id, family, version, codename) in cases {
        let os = os_release(&lines(text)).unwrap();
        assert_eq!(os.id, id);
        assert_eq!(os.family(), family, "{id}");
        assert_eq!(os.version_id, version, "{id}");
        assert_eq!(os.codename, codename, "{id}");
    }
    let os = os_release(&lines("ID=\"weird\"\nPRETTY_NAME=\"say \\\"hi\\\"\"\n")).unwrap();
    assert_eq!(os.pretty_name, "say \"hi\"");
}

#[test]
fn os_release_errors() {
    for bad in ["", "NAME=Foo\n", "ID=debian\nthis is not a pair\n"] {
        assert!(os_release(&lines(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn small_sections() {
    assert_eq!(
        uname(&["node1", "6.1.0-25-amd64", "x86_64"]).unwrap(),
        ("node1".into(), "6.1.0-25-amd64".into(), "x86_64".into())
    );
    assert!(uname(&["node1", "6.1.0"]).is_err());
    assert_eq!(nproc(&["4"]).unwrap(), 4);
    for bad in [&[][..], &["four"][..], &["0"][..]] {
        assert!(nproc(bad).is_err(), "{bad:?}");
    }
    assert_eq!(meminfo(&["MemTotal:       16318412 kB"]).unwrap(), 16318412);
    assert!(meminfo(&["MemTotal: lots"]).is_err());
    assert!(meminfo(&["MemFree: 1 kB"]).is_err());
    let sw = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swapfile                               file\t\t2097148\t\t0\t\t-2\n/dev/dm-1                               partition\t999420\t\t0\t\t-3\n";
    assert_eq!(swaps(&lines(sw)), vec!["/swapfile", "/dev/dm-1"]);
    assert!(swaps(&["Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority"]).is_empty());
}

#[test]
fn sysctl_values_and_missing() {
    let (v, m) = sysctl(&[
        "net.ipv4.ip_forward=1",
        "net.ipv4.tcp_rmem=4096 131072  6291456 ",
        "!net.bridge.bridge-nf-call-iptables",
    ])
    .unwrap();
    assert_eq!(v["net.ipv4.ip_forward"], "1");
    assert_eq!(v["net.ipv4.tcp_rmem"], "4096 131072 6291456");
    assert!(m.contains("net.bridge.bridge-nf-call-iptables"));
    assert!(sysctl(&["garbage"]).is_err());
}

#[test]
fn dpkg_table() {
    let out = "containerd\t1.6.20~ds1-1+b1\tii \nkubelet\t1.33.4-1.1\thi \nkubeadm\t1.33.4-1.1\thi \nhaproxy\t2.6.12-1+deb12u1\trc \nsocat\t\tun \n";
    let p = dpkg(&lines(out)).unwrap();
    // (name, version, held); removed (rc) and unknown (un) packages are absent.
    let want = [
        ("containerd", "1.6.20~ds1-1+b1", false),
        ("kubelet", "1.33.4-1.1", true),
        ("kubeadm", "1.33.4-1.1", true),
    ];
    assert_eq!(p.len(), want.len());
    for (name, version, held) in want {
        assert_eq!(p[name].version, version);
        assert_eq!(p[name].held, held, "{name}");
    }
    for bad in ["containerd 1.6.20", "containerd\t1.6\t", "\t1.0\tii "] {
        assert!(dpkg(&[bad]).is_err(), "{bad:?}");
    }
}

#[test]
fn rpm_table() {
    let p = rpm(&[
        "containerd.io\t1.7.27-3.1.el9",
        "kubelet\t1.33.4-150500.1.1",
    ])
    .unwrap();
    assert_eq!(p["kubelet"].version, "1.33.4-150500.1.1");
    assert!(!p["kubelet"].held);
    assert!(rpm(&["package kubelet"]).is_err());
}

#[test]
fn services_table() {
    let out = "@@unit containerd\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\nActiveEnterTimestamp=@1732690000\n\
@@unit kubelet\nActiveState=activating\nLoadState=loaded\nUnitFileState=disabled\n\
@@unit haproxy\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n\
@@unit swap.target\nLoadState=loaded\nActiveState=active\nUnitFileState=static\n\
@@unit nosystemd\n";
    let s = services(&lines(out)).unwrap();
    let want = [
        ("containerd", "active", "enabled"),
        ("kubelet", "activating", "disabled"),
        ("haproxy", "inactive", "not-found"),
        ("swap.target", "active", "static"),
        // systemctl printed nothing (no systemd as PID 1).
        ("nosystemd", "unknown", "not-found"),
    ];
    for (name, active, enabled) in want {
        assert_eq!(s[name].active, active, "{name}");
        assert_eq!(s[name].enabled, enabled, "{name}");
    }
    assert!(s["containerd"].is_active() && s["containerd"].is_enabled());
    assert_eq!(s["containerd"].active_since, Some(1732690000));
    assert_eq!(s["kubelet"].active_since, None);
    assert!(!s["kubelet"].is_active() && !s["kubelet"].is_enabled());
    assert!(services(&["LoadState=loaded"]).is_err());
    assert!(services(&["@@unit x", "what"]).is_err());
}

#[test]
fn files_table() {
    let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let ok = format!("/etc/crictl.yaml\t{sha}\t644\troot:root\t1732690000");
    let (p, m) = files(&[ok.as_str(), "/etc/containerd/config.toml\t-"]).unwrap();
    assert_eq!(p["/etc/crictl.yaml"].sha256, sha);
    assert_eq!(p["/etc/crictl.yaml"].mode, "644");
    assert_eq!(p["/etc/crictl.yaml"].owner, "root:root");
    assert_eq!(p["/etc/crictl.yaml"].mtime, 1732690000);
    assert!(m.contains("/etc/containerd/config.toml"));
    let bad_sha = "/etc/x\tnothex\t644\troot:root\t1".to_string();
    let bad_mode = format!("/etc/x\t{sha}\trw-r--r--\troot:root\t1");
    let bad_mtime = format!("/etc/x\t{sha}\t644\troot:root\tyesterday");
    let no_mtime = format!("/etc/x\t{sha}\t644\troot:root");
    for bad in [
        bad_sha.as_str(),
        bad_mode.as_str(),
        bad_mtime.as_str(),
        no_mtime.as_str(),
        "/etc/x",
    ] {
        assert!(files(&[bad]).is_err(), "{bad:?}");
    }
}

#[test]
fn network_and_ports() {
    let n = net(
        &["default via 10.0.0.1 dev ens192 proto static metric 100"],
        &[
            "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
            "2: ens192    inet 10.0.0.11/24 brd 10.0.0.255 scope global ens192\\       valid_lft forever preferred_lft forever",
            "2: ens192    inet 10.0.0.100/32 scope global ens192\\       valid_lft forever preferred_lft forever",
            "5: eth1@if6    inet6 fd00::11/64 scope global \\       valid_lft forever preferred_lft forever",
        ],
    );
    assert_eq!(n.default_interface.as_deref(), Some("ens192"));
    assert_eq!(n.default_gateway.as_deref(), Some("10.0.0.1"));
    assert_eq!(n.addresses.len(), 3);
    assert_eq!(n.interface_of("10.0.0.11"), Some("ens192"));
    assert_eq!(n.interface_of("fd00::11"), Some("eth1"));
    assert_eq!(n.interface_of("10.0.0.99"), None);

    let tcp = [
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
        "   0: 00000000:1A0B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21 1 0 100 0 0 10 0",
        "   1: 0100007F:2AFA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22 1 0 100 0 0 10 0",
        "   2: 0B00000A:0016 0200000A:C350 01 00000000:00000000 02:000A7B2D 00000000     0        0 23 4 0 20 4 30 10 -1",
        "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 24 1 0 100 0 0 10 0",
    ];
    // 0x1A0B = 6667, 0x2AFA = 11002, 0x0016 = 22 (listening on v6; the v4 :22 line is a connection).
    assert_eq!(
        listen(&tcp).into_iter().collect::<Vec<_>>(),
        vec![22, 6667, 11002]
    );
}

#[test]
fn probes_table() {
    let p = probes(&["prepare/kubernetes-key\t0", "prepare/odd\tid\t1"]).unwrap();
    assert_eq!(p["prepare/kubernetes-key"], 0);
    assert_eq!(p["prepare/odd\tid"], 1);
    assert!(probes(&["prepare/x\tnope"]).is_err());
    assert!(probes(&["no tab"]).is_err());
}

/// A full gather from a Debian 12 control plane that already ran `kubeadm init`.
pub(crate) const SAMPLE: &str = "Welcome to node cp1!\n\
@@section os-release\n\
PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n\
@@section uname\ncp1\n6.1.0-25-amd64\nx86_64\n\
@@section nproc\n4\n\
@@section meminfo\nMemTotal:        8131260 kB\n\
@@section swaps\nFilename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
@@section fstab-swap\n\
@@section modules\noverlay\nbr_netfilter\nnf_conntrack\nkernel\n\
@@section sysctl\nnet.ipv4.ip_forward=1\nnet.bridge.bridge-nf-call-iptables=1\n\
@@section dpkg\ncontainerd\t1.6.20~ds1-1+b1\tii \nkubelet\t1.33.4-1.1\thi \n\
@@section rpm\n\
@@section services\n@@unit containerd\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\nActiveEnterTimestamp=Fri 2026-11-27 06:00:00 UTC\n\
@@section files\n/etc/crictl.yaml\t9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\t644\troot:root\t1732690000\n/etc/containerd/config.toml\t-\n\
@@section kube-files\n/etc/kubernetes/admin.conf\n/etc/kubernetes/super-admin.conf\n/etc/kubernetes/kubelet.conf\n/var/lib/etcd/member\n\
@@section kube-manifests\netcd.yaml\nkube-apiserver.yaml\nkube-controller-manager.yaml\nkube-scheduler.yaml\n\
@@section kube-ca\nsha256=2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\npubkey-sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
@@section kube-servers\n/etc/kubernetes/admin.conf\thttps://10.0.0.11:6443\n/etc/kubernetes/kubelet.conf\thttps://10.0.0.100:6443\n\
@@section ident\nmachine-id=4f2c1b9e0a8d4c53a1e6f7b8c9d0e1f2\nproduct-uuid=9A2B3C4D-0000-1111-2222-333344445555\n\
@@section versions\nkubeadm=v1.33.4\nkubelet=Kubernetes v1.33.4\ncontainerd=containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1\n\
@@section route\ndefault via 10.0.0.1 dev ens192 proto static\n\
@@section addr\n2: ens192    inet 10.0.0.11/24 brd 10.0.0.255 scope global ens192\\       valid_lft forever preferred_lft forever\n\
@@section listen\n   0: 00000000:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21 1 0 100 0 0 10 0\n\
@@section probes\nprepare/kubernetes-key\t0\n\
@@section end\n";

#[test]
fn full_sample() {
    let f = parse("cp1", SAMPLE).unwrap();
    assert_eq!(f.hostname, "cp1");
    assert_eq!(f.os.codename, "bookworm");
    assert_eq!(f.cpus, 4);
    assert!(!f.swap_active);
    assert!(f.modules.contains("br_netfilter"));
    assert!(f.modules_loadable);
    assert!(f.packages["kubelet"].held);
    assert_eq!(f.kube.state(), NodeState::ControlPlane);
    assert!(f.kube.super_admin_conf && f.kube.etcd_member && !f.kube.bootstrap_kubelet_conf);
    assert_eq!(f.kube.kubeadm_version.as_deref(), Some("v1.33.4"));
    assert_eq!(
        f.kube.kubelet_conf_server.as_deref(),
        Some("https://10.0.0.100:6443")
    );
    assert_eq!(
        f.kube.admin_conf_server.as_deref(),
        Some("https://10.0.0.11:6443")
    );
    assert_eq!(f.product_uuid, "9a2b3c4d-0000-1111-2222-333344445555");
    assert_eq!(f.kube.kubelet_version.as_deref(), Some("v1.33.4"));
    assert_eq!(f.kube.containerd_version.as_deref(), Some("1.6.20~ds1"));
    // The pipeline hashed empty input: openssl could not read the CA, so no discovery hash.
    assert_eq!(f.kube.ca_pubkey_sha256, None);
    assert!(f.kube.ca_crt_sha256.is_some());
    assert!(f.listening_tcp.contains(&6443));
    assert_eq!(f.net.default_interface.as_deref(), Some("ens192"));
    assert_eq!(f.probes["prepare/kubernetes-key"], 0);
    insta::assert_yaml_snapshot!("facts_full_sample", f);
}

#[test]
fn malformed_output_names_host_and_section() {
    let cut = SAMPLE.split("@@section end").next().unwrap();
    let e = parse("cp1", cut).unwrap_err().to_string();
    assert_eq!(
        e,
        "cp1: cannot parse facts: section end missing (output cut short?)"
    );

    let table = [
        (
            "@@section nproc\n4\n",
            "@@section nproc\nlots\n",
            "section nproc",
        ),
        (
            "kubelet\t1.33.4-1.1\thi \n",
            "kubelet 1.33.4-1.1\n",
            "section dpkg",
        ),
        ("ID=debian\n", "", "section os-release: no ID="),
        (
            "prepare/kubernetes-key\t0\n",
            "prepare/kubernetes-key\tX\n",
            "section probes",
        ),
    ];
    for (from, to, want) in table {
        let text = SAMPLE.replace(from, to);
        assert_ne!(text, SAMPLE, "{from:?} not in sample");
        let e = parse("w7", &text).unwrap_err();
        assert!(matches!(e, FactsError::Parse { ref host, .. } if host == "w7"));
        assert!(e.to_string().contains(want), "{e} !~ {want}");
    }
}

#[test]
fn kube_state_table() {
    let mut k = KubeFacts::default();
    assert_eq!(k.state(), NodeState::Fresh);
    k.manifests.insert("kube-apiserver.yaml".into());
    assert_eq!(k.state(), NodeState::PartialNeedsReset);
    k.bootstrap_kubelet_conf = true;
    assert_eq!(k.state(), NodeState::JoinInterrupted);
    k.kubelet_conf = true;
    assert_eq!(k.state(), NodeState::Member);
    k.admin_conf = true;
    assert_eq!(k.state(), NodeState::ControlPlane);
}

fn request() -> FactRequest {
    let mut req = FactRequest::default();
    req.files.insert("/etc/hostname".into());
    req.files.insert("/nonexistent/otp file".into());
    req.packages.insert("dpkg".into());
    req.packages.insert("no-such-package-otp".into());
    req.services.insert("no-such-service-otp".into());
    req.sysctls.insert("kernel.ostype".into());
    req.sysctls.insert("net.nosuch.otp".into());
    req.probes.insert("p/true".into(), "true".into());
    req.probes.insert("p/quote's".into(), "exit 3".into());
    req.probes.insert(
        "p/out".into(),
        "echo noise; echo more >&2; test -e /".into(),
    );
    req.reports.insert(
        "r/markers".into(),
        "printf '@@section end\\nline two\\n'; echo err >&2".into(),
    );
    // Reports run side by side: a slow one must still land under its own name.
    req.reports
        .insert("r/slow".into(), "sleep 0.3; echo slow".into());
    req.display = true;
    req
}

#[test]
fn reports_table() {
    let r = reports(&["a\taGkK", "empty\t", ""]).unwrap();
    assert_eq!(r["a"], "hi\n");
    assert_eq!(r["empty"], "");
    assert!(reports(&["no tab"]).is_err());
    assert!(reports(&["x\t!!!"]).is_err());
}

#[test]
fn script_snapshot() {
    insta::assert_snapshot!("facts_script", crate::facts::script(&request()));
}

/// Runs the real script with the local /bin/sh (dash on Debian): catches bashisms and checks
/// the parsers against real command output, without SSH.
#[test]
fn real_script_runs_locally() {
    let tmp = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let spaced = files.path().join("a b.conf");
    std::fs::write(&spaced, "x\n").unwrap();
    let mut req = request();
    req.files.insert(spaced.display().to_string());
    // A value with a tab inside.
    req.sysctls.insert("net.ipv4.ip_local_port_range".into());
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(crate::facts::script(&req))
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = parse("local", &String::from_utf8_lossy(&out.stdout)).unwrap();
    assert!(!f.os.id.is_empty());
    assert!(f.cpus >= 1);
    assert!(f.mem_total_kib > 0);
    assert_eq!(
        f.modules_loadable,
        std::path::Path::new("/proc/modules").exists()
    );
    assert!(!f.modules.iter().any(|m| m.starts_with('!')));
    if let Ok(id) = std::fs::read_to_string("/etc/machine-id") {
        assert_eq!(f.machine_id, id.trim());
    }
    assert_eq!(f.sysctls["kernel.ostype"], "Linux");
    assert!(f.sysctls_missing.contains("net.nosuch.otp"));
    assert!(f.files.contains_key("/etc/hostname"));
    let sp = &f.files[&spaced.display().to_string()];
    use sha2::Digest;
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(sp.sha256, format!("{:x}", sha2::Sha256::digest(b"x\n")));
    let mode = std::fs::metadata(&spaced).unwrap().permissions().mode() & 0o7777;
    assert_eq!(sp.mode, format!("{mode:o}"));
    let range = &f.sysctls["net.ipv4.ip_local_port_range"];
    assert_eq!(range.split(' ').count(), 2, "{range:?}");
    assert!(f.files_missing.contains("/nonexistent/otp file"));
    if std::path::Path::new("/usr/bin/dpkg-query").exists() {
        assert!(f.packages.contains_key("dpkg"));
    }
    assert!(!f.packages.contains_key("no-such-package-otp"));
    assert_eq!(f.probes["p/true"], 0);
    assert_eq!(f.probes["p/quote's"], 3);
    assert_eq!(f.probes["p/out"], 0);
    // A report's output comes back verbatim, even lines that look like section markers.
    assert_eq!(f.reports["r/markers"], "@@section end\nline two\n");
    assert_eq!(f.reports["r/slow"], "slow\n");
    // The background jobs' scratch directory is gone again.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    if let Some(s) = f.services.get("no-such-service-otp") {
        assert_eq!(s.enabled, "not-found");
    }
}
