//! `otp-provision logs` through the binary: argument and inventory errors, and hosts that
//! cannot be reached (named on stderr, exit 1). Parsing, merging and the collection script are
//! tested in src/logs/tests.rs; real journals are read in the lab.

use std::net::TcpListener;

use predicates::prelude::*;

use crate::cli::bin;

/// A loopback port with nothing listening (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn inventory(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let port = closed_port();
    let text = format!(
        r#"[cluster]
name = "c"
kubernetes_version = "1.33.4"
[ssh]
user = "root"
port = {port}
connect_timeout_secs = 3
host_key_policy = "accept-new"
[[host]]
name = "node-a"
address = "127.0.0.1"
roles = ["control-plane", "worker"]
{extra}"#
    );
    let path = dir.join("cluster.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn unreachable_host_is_named_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), "");
    bin()
        .args(["logs", "--format", "ndjson", "-i"])
        .arg(&inv)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("node-a"))
        .stderr(predicate::str::contains("no logs from node-a"));
}

#[test]
fn bad_parser_definition_is_an_inventory_error_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(
        dir.path(),
        "[[log_parser]]\nname = \"app\"\nformat = \"regex\"\nregex = '^(?<time>\\S+'\nunits = [\"app\"]\n",
    );
    bin()
        .args(["logs", "-i"])
        .arg(&inv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cluster.toml:16:9: invalid regex in log parser `app`",
        ));
}

#[test]
fn bad_time_argument_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), "");
    bin()
        .args(["logs", "--since", "last tuesday", "-i"])
        .arg(&inv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--since"));
    bin()
        .args(["logs", "--file", "relative.log", "-i"])
        .arg(&inv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("absolute path"));
}

#[test]
fn help_lists_the_options() {
    bin().args(["logs", "--help"]).assert().success().stdout(
        predicate::str::contains("--lines")
            .and(predicate::str::contains("--unit"))
            .and(predicate::str::contains("--follow"))
            .and(predicate::str::contains("ndjson")),
    );
}
