//! Container lab end to end: nodes come up, strict-host-key SSH works with the generated files,
//! packages come from the lab repository only, faults work and `lab down` cleans up.
//!
//! Needs a Docker engine and root (debootstrap, chroot). Outside CI the test skips with a
//! message when Docker is missing; with CI set it fails instead.

use std::path::Path;
use std::process::{Command, Output};

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

    // Key-only login: a real password is offered and refused. The account gets a password
    // first (a locked one would be refused whatever sshd allows), then sshpass offers it by
    // password and keyboard-interactive with public keys off: sshd must refuse, offering only
    // publickey. Control: with password authentication switched on in the node's sshd, the same
    // command gets in, so the refusal is the server's policy and not a client that never tried.
    password_login_is_refused(dir, &addr("w1"));

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

    // A real systemd node converges, and drift is repaired (formerly the opt-in docker_node
    // engine test, now through the binary and SSH): an extra playbook with a service, its config
    // file (notify), a held package, a sysctl, a module, swap off and a guarded command.
    let cluster = inv["cluster"]["name"].as_str().unwrap();
    site_playbook_converges_and_repairs_drift(dir, &inventory, &addr("w1"), cluster);

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

/// `sshpass -p PASSWORD ssh` as the lab user with password/keyboard-interactive only.
fn password_login(dir: &Path, address: &str, password: &str) -> Output {
    Command::new("sshpass")
        .args(["-p", password, "ssh"])
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "ConnectTimeout=5",
            "-o",
        ])
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.join("known_hosts").display()
        ))
        .arg(format!("otp@{address}"))
        .arg("echo logged-in")
        .output()
        .expect("run sshpass")
}

fn password_login_is_refused(dir: &Path, address: &str) {
    if Command::new("sshpass").arg("-V").output().is_err() {
        crate::support::skip(
            "sshpass missing (apt-get install sshpass): password refusal not proven",
        );
        return;
    }
    let password = format!("otp-lab-Pw-{}", std::process::id());
    ok(&ssh(
        dir,
        address,
        &format!("printf '%s\\n' 'otp:{password}' | sudo chpasswd"),
    ));
    let o = password_login(dir, address, &password);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && !String::from_utf8_lossy(&o.stdout).contains("logged-in"),
        "password login must be refused: {stderr}"
    );
    assert!(
        stderr.contains("Permission denied (publickey)"),
        "sshd must offer publickey only: {stderr}"
    );
    // Control: the node's sshd allowing passwords lets the same login in. (A reload of sshd
    // may close the session that asks for it: its exit status is not the test.)
    let allow = "/etc/ssh/sshd_config.d/00-otp-test-password.conf";
    ok(&ssh(
        dir,
        address,
        &format!("printf 'PasswordAuthentication yes\\n' | sudo tee {allow} >/dev/null"),
    ));
    let _ = ssh(dir, address, "sudo systemctl reload ssh");
    let mut control = password_login(dir, address, &password);
    for _ in 0..40 {
        if control.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        control = password_login(dir, address, &password);
    }
    assert!(ok(&control).contains("logged-in"));
    // Back to key-only, account locked again, for the rest of the test.
    ok(&ssh(
        dir,
        address,
        &format!("sudo rm {allow} && sudo passwd -q -l otp"),
    ));
    let _ = ssh(dir, address, "sudo systemctl reload ssh");
    let mut restored = ssh(dir, address, "true");
    for _ in 0..40 {
        if restored.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        restored = ssh(dir, address, "true");
    }
    ok(&restored);
    assert!(!password_login(dir, address, &password).status.success());
}

const SITE: &str = r#"
phase = "site"

[[step]]
id = "swap"
kind = "swap"
off = true

[[step]]
id = "modules"
kind = "module"
names = ["overlay"]
file = "/etc/modules-load.d/otp-test.conf"

[[step]]
id = "sysctl"
kind = "sysctl"
file = "/etc/sysctl.d/99-otp-test.conf"
values = { "net.ipv4.ip_forward" = "1" }

[[step]]
id = "procps"
kind = "package"
names = ["procps"]
hold = true

[[step]]
id = "unit"
kind = "file"
path = "/etc/systemd/system/otp-test.service"
content = "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n"

[[step]]
id = "app-config"
kind = "file"
path = "/etc/otp-test/app.conf"
content = "node {{ host.name }} in {{ cluster.name }}\n"
mode = "0600"
notify = ["otp-test"]

[[step]]
id = "service"
kind = "service"
name = "otp-test"
enabled = true
state = "running"

[[step]]
id = "marker"
kind = "command"
run = "touch /var/lib/otp-test-marker"
unless = "test -e /var/lib/otp-test-marker"
"#;

/// Ids of the site steps `plan` says must change on `host`.
fn site_changes(otp: &dyn Fn(&[&str]) -> Output, host: &str) -> Vec<String> {
    let o = otp(&["--output", "json", "plan", "--limit", host]);
    let v: serde_json::Value = serde_json::from_slice(ok(&o).as_bytes()).unwrap();
    v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["host"] == host)
        .flat_map(|h| h["steps"].as_array().unwrap().iter())
        .filter(|s| s["change"] == true)
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

fn site_playbook_converges_and_repairs_drift(
    dir: &Path,
    inventory: &Path,
    address: &str,
    cluster: &str,
) {
    let books = dir.join("site-playbooks");
    std::fs::create_dir_all(&books).unwrap();
    std::fs::write(books.join("site.toml"), SITE).unwrap();
    let otp = |args: &[&str]| -> Output {
        assert_cmd::Command::cargo_bin("otp-provision")
            .unwrap()
            .env("NO_COLOR", "1")
            .arg("-i")
            .arg(inventory)
            .arg("--playbooks")
            .arg(&books)
            .args(args)
            .output()
            .unwrap()
    };
    let first = site_changes(&otp, "w1");
    for id in [
        "site/app-config",
        "site/service",
        "site/marker",
        "site/unit",
    ] {
        assert!(first.iter().any(|c| c == id), "{id} not in {first:?}");
    }
    let text = ok(&otp(&["up", "--yes", "--limit", "w1"]));
    assert!(
        text.contains("w1: ") && text.contains("to change"),
        "{text}"
    );
    assert_eq!(site_changes(&otp, "w1"), Vec::<String>::new());
    let state = ok(&ssh(
        dir,
        address,
        "systemctl is-active otp-test; systemctl is-enabled otp-test; apt-mark showhold; \
         cat /proc/sys/net/ipv4/ip_forward; test -e /var/lib/otp-test-marker && echo marker",
    ));
    assert!(state.starts_with("active\nenabled\n"), "{state}");
    assert!(
        state.contains("procps\n") && state.ends_with("1\nmarker\n"),
        "{state}"
    );

    // Drift: the config is edited on the node; the plan rewrites it and restarts the service.
    ok(&ssh(
        dir,
        address,
        "echo drift | sudo tee /etc/otp-test/app.conf >/dev/null",
    ));
    assert_eq!(
        site_changes(&otp, "w1"),
        ["site/app-config", "site/service"]
    );
    let pid = || {
        ok(&ssh(
            dir,
            address,
            "systemctl show -p MainPID --value otp-test",
        ))
        .trim()
        .to_string()
    };
    let before = pid();
    ok(&otp(&["up", "--yes", "--limit", "w1"]));
    assert_ne!(pid(), before, "the service must have been restarted");
    assert_eq!(site_changes(&otp, "w1"), Vec::<String>::new());

    // Interrupted run: the file was rewritten but the restart never happened; the next plan
    // restarts the service only (the config is newer than the running service).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(&ssh(
        dir,
        address,
        &format!("printf 'node w1 in {cluster}\\n' | sudo tee /etc/otp-test/app.conf >/dev/null"),
    ));
    assert_eq!(site_changes(&otp, "w1"), ["site/service"]);
    ok(&otp(&["up", "--yes", "--limit", "w1"]));
    assert_eq!(site_changes(&otp, "w1"), Vec::<String>::new());
}
