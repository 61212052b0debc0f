//! CLI behaviour that needs no remote host.

use assert_cmd::Command;
use predicates::prelude::*;

pub fn bin() -> Command {
    let mut c = Command::cargo_bin("otp-provision").expect("binary built");
    c.env_remove("OTP_INVENTORY").env("NO_COLOR", "1");
    c
}

#[test]
fn missing_inventory_is_invalid_input_with_position() {
    bin()
        .args(["check", "-i", "does/not/exist.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "does/not/exist.toml:1:1: cannot read inventory",
        ));
}

#[test]
fn inventory_comes_from_env_when_no_flag() {
    bin()
        .env("OTP_INVENTORY", "from/env.toml")
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("from/env.toml"));
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        bin()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("otp-provision"));
    }
}

#[test]
fn help_documents_exit_codes() {
    bin()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Exit codes: 0 ok; 1 the run failed; 2 invalid input",
        ))
        .stdout(predicate::str::contains("75 a host's lock stayed held"));
}

#[test]
fn check_accepts_the_example_inventory() {
    let home = tempfile::tempdir().unwrap();
    bin()
        .env("HOME", home.path())
        .args(["check", "-i", "inventory/example.toml"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "3 control planes, 3 workers, 2 load balancers",
        ));
}

#[test]
fn check_reports_every_error_with_position_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[cluster]\nname = \"x\"\nkubernetes_version = \"1.20.0\"\nfoo = 1\n",
    )
    .unwrap();
    let p = path.display().to_string();
    bin()
        .args(["check", "-i", &p])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{p}:3:22: Kubernetes 1.20.0 is not supported"
        )))
        .stderr(predicate::str::contains(format!(
            "{p}:4:1: unknown key `foo` in [cluster]"
        )));
}

#[test]
fn check_json_output_is_machine_readable() {
    let home = tempfile::tempdir().unwrap();
    let out = bin()
        .env("HOME", home.path())
        .args(["check", "-i", "inventory/example.toml", "--output", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["control_planes"], 3);
    assert_eq!(v["hosts"], 8);
}

#[test]
fn render_writes_node_cluster_and_addon_files_without_ssh() {
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    bin()
        .env("HOME", home.path())
        .args(["render", "-i", "inventory/example.toml", "--out"])
        .arg(out.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("file(s) written under"));
    let read = |rel: &str| std::fs::read_to_string(out.path().join(rel)).unwrap();
    assert!(read("hosts/cp1/etc/containerd/config.toml").contains("SystemdCgroup = true"));
    let init = read("hosts/cp1/run/otp-provision/kubeadm-init.yaml");
    assert!(init.contains("kind: InitConfiguration"));
    let join = read("hosts/cp2/run/otp-provision/kubeadm-join.yaml");
    // Run-time secrets are placeholders in rendered files, never values.
    assert!(
        join.contains("token: \"@@OTP:bootstrap-token@@\""),
        "{join}"
    );
    assert!(
        join.contains("certificateKey: \"@@OTP:certificate-key@@\""),
        "{join}"
    );
    assert!(read("hosts/lb1/etc/haproxy/haproxy.cfg").contains("6443"));
    assert!(out.path().join("cluster").read_dir().unwrap().count() > 0);
    assert!(read("addons/metrics/manifest.yaml").contains("kind: "));
}
