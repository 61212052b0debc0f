//! Container lab end to end: nodes come up, strict-host-key SSH works with the generated files,
//! packages come from the lab repository only, faults work and `lab down` cleans up.
//!
//! Needs a Docker engine and root (debootstrap, chroot). Outside CI the test skips with a
//! message when Docker is missing; with CI set it fails instead.

use std::process::Command;

use otp_provision::lab::{self, UpParams};

use crate::support::lab::{Guard, ok, ssh};

/// Lab name of this test process: two test runs on one machine (a developer's and CI's) must
/// not tear down each other's nodes.
fn name() -> String {
    format!("otp-lab-it{}", std::process::id())
}

fn labelled(kind: &[&str]) -> String {
    let mut args = kind.to_vec();
    let filter = format!("label=otp-lab.name={}", name());
    args.extend(["-q", "--filter", &filter]);
    let o = Command::new("docker").args(&args).output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn lab_lifecycle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(opts) = crate::support::lab::opts(&name(), dir) else {
        return;
    };
    // A leftover from an interrupted run would make `up` refuse.
    lab::down(&opts).unwrap();
    let guard = Guard(opts.clone());

    let report = lab::up(
        &opts,
        &UpParams {
            control_planes: 1,
            workers: 1,
            load_balancers: 1,
            kubernetes_version: "1.33.4".into(),
            subnet: None,
        },
    )
    .unwrap();

    // Inventory: the three nodes with their roles, paths relative to the inventory.
    let inv: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.join("inventory.toml")).unwrap()).unwrap();
    let hosts = inv["host"].as_array().unwrap();
    let names: Vec<_> = hosts.iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cp1", "w1", "lb1"]);
    assert_eq!(inv["ssh"]["host_key_policy"].as_str(), Some("strict"));
    assert_eq!(
        inv["packages"]["url"].as_str(),
        Some(report.repo_url.as_str())
    );
    assert_eq!(
        inv["cluster"]["endpoint"]["address"].as_str(),
        Some(report.vip.as_str())
    );
    let addr = |name: &str| -> String {
        hosts
            .iter()
            .find(|h| h["name"].as_str() == Some(name))
            .unwrap()["address"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Plain OpenSSH, strict host key checking against the generated known_hosts only; every
    // node is itself (hostname) and has its own host key.
    let mut ed25519 = Vec::new();
    for h in &names {
        let out = ok(&ssh(
            dir,
            &addr(h),
            "hostname && sudo -n true && echo sudo-ok",
        ));
        assert_eq!(out, format!("{h}\nsudo-ok\n"));
        let known = std::fs::read_to_string(dir.join("known_hosts")).unwrap();
        let key = known
            .lines()
            .find(|l| l.starts_with(&format!("{} ssh-ed25519 ", addr(h))))
            .unwrap_or_else(|| panic!("no ed25519 key for {h} in known_hosts"))
            .to_string();
        ed25519.push(key.split_whitespace().nth(2).unwrap().to_string());
    }
    ed25519.sort();
    ed25519.dedup();
    assert_eq!(ed25519.len(), 3, "host keys must differ per node");

    // Key-only login: the lab key removed, nothing else gets in.
    let o = Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
        ])
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.join("known_hosts").display()
        ))
        .arg(format!("otp@{}", addr("w1")))
        .arg("true")
        .output()
        .unwrap();
    assert!(!o.status.success(), "password login must be refused");

    // Packages: only the lab repository. The node cannot reach the Debian archive...
    let o = ssh(
        dir,
        &addr("w1"),
        "curl -sS -m 5 -o /dev/null http://deb.debian.org/debian/",
    );
    assert!(!o.status.success(), "nodes must have no outside network");
    // ...and installs containerd with the mirror the inventory names.
    let url = &report.repo_url;
    let script = format!(
        "set -e; echo 'deb [trusted=yes] {url}/debian bookworm main' | sudo tee /etc/apt/sources.list >/dev/null; \
         echo 'deb [trusted=yes] {url}/kubernetes/v1.33/deb/ /' | sudo tee /etc/apt/sources.list.d/kubernetes.list >/dev/null; \
         sudo apt-get -qq update; \
         sudo DEBIAN_FRONTEND=noninteractive apt-get -qq -y install containerd >/dev/null; \
         apt-cache policy containerd | grep -F '{url}/debian'; \
         sudo systemctl is-active containerd"
    );
    let out = ok(&ssh(dir, &addr("w1"), &script));
    assert!(out.trim_end().ends_with("active"), "{out}");

    // otp-provision itself: facts from every node through strict host key checking (the
    // generated known_hosts only), one round trip each.
    let inventory = dir.join("inventory.toml");
    let otp = |args: &[&str]| {
        let mut c = assert_cmd::Command::cargo_bin("otp-provision").unwrap();
        c.env("NO_COLOR", "1").arg("-i").arg(&inventory).args(args);
        c
    };
    let o = otp(&["facts"]).output().unwrap();
    let text = ok(&o);
    for h in &names {
        assert!(
            text.contains(&format!("{h}: Debian GNU/Linux 12 (bookworm)")),
            "{text}"
        );
    }

    // Real node preparation from the lab repository, twice: the second run changes nothing.
    // --limit keeps it to node preparation (no kubeadm here: that is the cluster test's job).
    let o = otp(&["up", "--yes", "--limit", "cp1,w1"]).output().unwrap();
    let text = ok(&o);
    assert!(
        text.contains("cp1: ") && text.contains("to change"),
        "{text}"
    );
    let o = otp(&["up", "--yes", "--limit", "cp1,w1"]).output().unwrap();
    let text = ok(&o);
    assert!(text.contains("cp1: nothing to do"), "{text}");
    assert!(text.contains("w1: nothing to do"), "{text}");
    assert!(text.contains("up: nothing to do"), "{text}");
    let o = ok(&ssh(
        dir,
        &addr("w1"),
        "systemctl is-active containerd; dpkg-query -W -f='${Version}' kubeadm; apt-mark showhold",
    ));
    assert!(o.starts_with("active\n1.33.4-"), "{o}");
    assert!(o.contains("kubeadm"), "{o}");

    // Faults: a stopped node is unreachable, and comes back with the same host key.
    lab::stop(&opts, "w1").unwrap();
    let o = otp(&["facts"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("w1: unreachable"), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("cp1: ") && stdout.contains("lb1: "),
        "{stdout}"
    );
    let st = lab::status(&opts).unwrap();
    assert_eq!(st.iter().find(|n| n.node == "w1").unwrap().state, "exited");
    assert!(!ssh(dir, &addr("w1"), "true").status.success());
    lab::start(&opts, "w1").unwrap();
    assert_eq!(ok(&ssh(dir, &addr("w1"), "hostname")), "w1\n");

    lab::cut(&opts, "lb1").unwrap();
    let st = lab::status(&opts).unwrap();
    assert_eq!(st.iter().find(|n| n.node == "lb1").unwrap().state, "cut");
    assert!(!ssh(dir, &addr("lb1"), "true").status.success());
    lab::heal(&opts, "lb1").unwrap();
    assert_eq!(ok(&ssh(dir, &addr("lb1"), "hostname")), "lb1\n");

    // The CLI path: status as JSON names every node and the repository.
    let o = assert_cmd::Command::cargo_bin("otp-provision")
        .unwrap()
        .args(["--output", "json", "lab", "status", "--name", &name()])
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&ok(&o).into_bytes()).unwrap();
    let nodes: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(nodes, ["cp1", "w1", "lb1", "repo"]);

    // Down removes exactly what the lab made.
    let removed = lab::down(&opts).unwrap();
    assert_eq!(removed.containers, 4);
    assert_eq!(removed.networks, 1);
    assert_eq!(labelled(&["ps", "-a"]), "");
    assert_eq!(labelled(&["network", "ls"]), "");
    assert!(!dir.join("inventory.toml").exists());
    drop(guard);
}
