//! `facts`, `plan` and `up` through the real binary against real OpenSSH servers on loopback.
//! A playbook override keeps the changes inside a temp dir: the host running the tests must not
//! be turned into a Kubernetes node. The real node preparation runs on lab nodes (lab tests).

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::cli::bin;
use crate::support::sshd::{self, ROOT_USER, Sshd};

struct Rig {
    servers: Vec<Sshd>,
    dir: tempfile::TempDir,
    inventory: PathBuf,
    playbooks: PathBuf,
    target_dir: PathBuf,
}

/// Two loopback servers as `cp1` and `w1`, an inventory with strict host key checking, and a
/// node playbook writing into a temp dir.
fn rig() -> Option<Rig> {
    if !sshd::available() {
        return None;
    }
    let servers = vec![Sshd::start(), Sshd::start()];
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    let lines: Vec<String> = servers.iter().map(|s| s.known_hosts_line()).collect();
    std::fs::write(&kh, lines.join("\n") + "\n").unwrap();
    let target_dir = dir.path().join("node-files");
    let names = ["cp1", "w1"];
    let roles = ["control-plane", "worker"];
    let mut inv = format!(
        r#"[cluster]
name = "it"
kubernetes_version = "1.33.4"

[ssh]
user = "{ROOT_USER}"
key_files = ["{key}"]
agent = false
known_hosts = ["{kh}"]

[run]
state_dir = "{state}"
"#,
        key = servers[0].client_key.display(),
        kh = kh.display(),
        state = dir.path().join("state").display(),
    );
    for (i, s) in servers.iter().enumerate() {
        // Both servers accept the first server's client key.
        std::fs::copy(
            servers[0].client_key.with_extension("pub"),
            s.dir.path().join("authorized_keys"),
        )
        .unwrap();
        // One sshd each on loopback, told apart by port; every node has its own (documentation
        // range) node IP, as the inventory requires.
        inv.push_str(&format!(
            "\n[[host]]\nname = \"{}\"\naddress = \"127.0.0.1\"\nnode_ip = \"192.0.2.{}\"\nroles = [\"{}\"]\nssh = {{ port = {} }}\n",
            names[i],
            i + 1,
            roles[i],
            s.port
        ));
    }
    let inventory = dir.path().join("cluster.toml");
    std::fs::write(&inventory, inv).unwrap();
    let playbooks = dir.path().join("playbooks");
    std::fs::create_dir_all(&playbooks).unwrap();
    // Same names as the embedded playbooks, so they are replaced, not added to.
    std::fs::write(
        playbooks.join("prepare.toml"),
        format!(
            r#"phase = "prepare"
description = "test node playbook"

[[step]]
id = "marker-dir"
title = "marker directory"
kind = "command"
roles = ["control-plane", "worker"]
run = "mkdir -p '{t}'"
unless = "test -d '{t}'"

[[step]]
id = "greeting"
kind = "file"
roles = ["control-plane", "worker"]
path = "{t}/{{{{ host.name }}}}.conf"
template = "test-greeting.conf"
"#,
            t = target_dir.display()
        ),
    )
    .unwrap();
    std::fs::write(playbooks.join("endpoint.toml"), "phase = \"endpoint\"\n").unwrap();
    std::fs::create_dir_all(playbooks.join("templates")).unwrap();
    std::fs::write(
        playbooks.join("templates/test-greeting.conf"),
        "# written by otp-provision tests\nhost {{ host.name }}\n",
    )
    .unwrap();
    Some(Rig {
        servers,
        dir,
        inventory,
        playbooks,
        target_dir,
    })
}

impl Rig {
    fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = bin();
        c.arg("-i")
            .arg(&self.inventory)
            .arg("--playbooks")
            .arg(&self.playbooks)
            .args(args);
        c
    }

    fn journals(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("state/runs"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

fn journal_events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn facts_from_every_host_in_one_round_trip_each() {
    let Some(rig) = rig() else { return };
    let out = rig
        .cmd(&["facts", "--output", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["ok"], true);
    for h in ["cp1", "w1"] {
        let f = &v["hosts"][h];
        assert!(f["kernel"].as_str().is_some_and(|k| !k.is_empty()), "{f}");
        assert!(f["cpus"].as_u64().unwrap() >= 1);
    }
    let j = rig.journals();
    let events = journal_events(j.last().unwrap());
    let execs: Vec<_> = events.iter().filter(|e| e["event"] == "exec").collect();
    assert_eq!(execs.len(), 2, "one facts command per host: {execs:?}");
    assert!(
        execs
            .iter()
            .all(|e| e["step"] == "facts" && e["changes"] == false)
    );
}

#[test]
fn up_twice_second_run_changes_nothing() {
    let Some(rig) = rig() else { return };
    let first = rig
        .cmd(&["up", "--yes", "--limit", "cp1,w1"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("cp1: 2 to change"), "{stdout}");
    assert!(stdout.contains("w1: 2 to change"), "{stdout}");
    for h in ["cp1", "w1"] {
        let body = std::fs::read_to_string(rig.target_dir.join(format!("{h}.conf"))).unwrap();
        assert!(body.contains(&format!("host {h}")), "{body}");
    }

    rig.cmd(&["up", "--yes", "--limit", "cp1,w1"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "cp1: nothing to do (2 steps up to date)",
        ))
        .stdout(predicate::str::contains(
            "w1: nothing to do (2 steps up to date)",
        ))
        .stdout(predicate::str::contains("up: nothing to do"));
    // The journal of the second run holds only read-only commands: one facts gather per host.
    let j = rig.journals();
    let events = journal_events(j.last().unwrap());
    let execs: Vec<_> = events.iter().filter(|e| e["event"] == "exec").collect();
    assert_eq!(execs.len(), 2, "{execs:?}");
    assert!(execs.iter().all(|e| e["changes"] == false), "{execs:?}");

    rig.cmd(&["plan", "--detailed-exitcode", "--limit", "cp1,w1"])
        .assert()
        .code(0);
    // Drift on one host: plan names exactly that file, detailed exit code says changes pending.
    std::fs::write(rig.target_dir.join("w1.conf"), "drift\n").unwrap();
    rig.cmd(&["plan", "--detailed-exitcode", "--limit", "cp1,w1"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("cp1: nothing to do"))
        .stdout(predicate::str::contains("w1: 1 to change"));
}

#[test]
fn up_refuses_without_yes_when_not_interactive() {
    let Some(rig) = rig() else { return };
    rig.cmd(&["up", "--limit", "cp1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("re-run with --yes"));
    assert!(!rig.target_dir.exists(), "nothing may change without --yes");
}

#[test]
fn changed_host_key_is_refused_naming_host_file_and_line() {
    let Some(rig) = rig() else { return };
    let kh = rig.dir.path().join("known_hosts");
    let other = Sshd::start();
    // Line 2 now holds another server's key for w1's address and port.
    let text = std::fs::read_to_string(&kh).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[1] = format!("[127.0.0.1]:{} {}", rig.servers[1].port, other.host_key);
    std::fs::write(&kh, lines.join("\n") + "\n").unwrap();
    rig.cmd(&["up", "--yes", "--limit", "cp1,w1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "w1: unreachable: w1: host key changed: {}:2",
            kh.display()
        )));
    // cp1 was still converged; w1 got nothing.
    assert!(rig.target_dir.join("cp1.conf").exists());
    assert!(!rig.target_dir.join("w1.conf").exists());
}

#[test]
fn a_stopped_server_is_reported_by_name_while_others_answer() {
    let Some(mut rig) = rig() else { return };
    let w1 = rig.servers.pop().unwrap();
    drop(w1);
    rig.cmd(&["facts"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("cp1: "))
        .stderr(predicate::str::contains("w1: unreachable"));
}
