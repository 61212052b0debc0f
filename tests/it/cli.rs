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
