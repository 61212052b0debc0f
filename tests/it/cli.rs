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
        ));
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
