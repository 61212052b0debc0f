//! `facts`, `plan` and `up` through the real binary against real OpenSSH servers on loopback.
//! A playbook override keeps the changes inside a temp dir: the host running the tests must not
//! be turned into a Kubernetes node. The real node preparation runs on lab nodes (lab tests).

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::cli::bin;
use crate::support::sshd::{self, ROOT_USER, Sshd};

/// The loopback "hosts" of these tests are this machine, so every run's privileged commands
/// take its one host lock (/run/otp-provision.lock). A run that waited for another test's
/// command reads facts a second time, which the round-trip counts here would take for a
/// regression: runs against this machine take turns.
static THIS_MACHINE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn this_machine() -> std::sync::MutexGuard<'static, ()> {
    THIS_MACHINE.lock().unwrap_or_else(|p| p.into_inner())
}

struct Rig {
    _turn: std::sync::MutexGuard<'static, ()>,
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
    let turn = this_machine();
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
        _turn: turn,
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

/// A real run with every secret an operator hands over: keyboard-interactive OTP through an
/// askpass program, and sudo with a password. Neither the password nor any OTP answer may
/// appear in the run's stdout or stderr (at the highest verbosity) or in its journal.
#[test]
fn no_password_or_otp_in_any_output_or_journal() {
    if !sshd::available() {
        return;
    }
    let _turn = this_machine();
    sshd::ensure_sudo_users();
    let program = sshd::ensure_pam_otp();
    let s = Sshd::start_with(sshd::Options {
        program: Some(program),
        config: vec![
            "UsePAM yes".into(),
            "KbdInteractiveAuthentication yes".into(),
            "AuthenticationMethods publickey,keyboard-interactive".into(),
        ],
    });
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("otp-answers");
    let askpass = sshd::script(
        &dir.path().join("askpass"),
        &format!(
            "code=$(oathtool --totp -b {})\nprintf '%s\\n' \"$code\" >> {}\nprintf '%s\\n' \"$code\"",
            sshd::OTP_SECRET,
            answers.display()
        ),
    );
    let kh = dir.path().join("known_hosts");
    std::fs::write(&kh, s.known_hosts_line() + "\n").unwrap();
    let target_dir = dir.path().join("node-files");
    let playbooks = dir.path().join("playbooks");
    std::fs::create_dir_all(&playbooks).unwrap();
    std::fs::write(
        playbooks.join("prepare.toml"),
        format!(
            "phase = \"prepare\"\ndescription = \"test\"\n\n[[step]]\nid = \"marker\"\n\
             kind = \"command\"\nroles = [\"control-plane\"]\nrun = \"mkdir -p '{t}' && id -u > '{t}/uid' && {{ tty > '{t}/tty' || true; }}\"\n\
             unless = \"test -d '{t}'\"\n",
            t = target_dir.display()
        ),
    )
    .unwrap();
    std::fs::write(playbooks.join("endpoint.toml"), "phase = \"endpoint\"\n").unwrap();
    let inventory = dir.path().join("cluster.toml");
    std::fs::write(
        &inventory,
        format!(
            r#"[cluster]
name = "it"
kubernetes_version = "1.33.4"

[ssh]
user = "{user}"
key_files = ["{key}"]
agent = false
known_hosts = ["{kh}"]
sudo = true
sudo_password_env = "OTPT_IT_SUDO_PASSWORD"
keyboard_interactive = true
askpass = "{askpass}"

[run]
state_dir = "{state}"

[[host]]
name = "cp1"
address = "127.0.0.1"
roles = ["control-plane"]
ssh = {{ port = {port} }}
"#,
            user = sshd::SUDO_PW_USER,
            key = s.client_key.display(),
            kh = kh.display(),
            askpass = askpass.display(),
            state = dir.path().join("state").display(),
            port = s.port,
        ),
    )
    .unwrap();
    let mut outputs = Vec::new();
    for args in [
        &["-vv", "facts"][..],
        &["-vv", "plan"],
        &["-vv", "up", "--yes", "--limit", "cp1"],
        &["--output", "json", "up", "--yes", "--limit", "cp1"],
    ] {
        let o = bin()
            .env("OTPT_IT_SUDO_PASSWORD", sshd::SUDO_PW_PASSWORD)
            .arg("-i")
            .arg(&inventory)
            .arg("--playbooks")
            .arg(&playbooks)
            .args(args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // `plan` of a host that has no cluster yet may exit 1 for the cluster phase; what
        // matters is that every run got past both factors and sudo.
        assert!(
            !all.contains("unreachable: ") && !all.contains("refused"),
            "{args:?}: {all}"
        );
        outputs.push((format!("{args:?}"), all));
    }
    // The privileged step really ran through sudo with the password.
    assert_eq!(
        std::fs::read_to_string(target_dir.join("uid"))
            .unwrap()
            .trim(),
        "0"
    );
    // No PTY was asked for.
    assert_eq!(
        std::fs::read_to_string(target_dir.join("tty"))
            .unwrap()
            .trim(),
        "not a tty"
    );
    let codes: Vec<String> = std::fs::read_to_string(&answers)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert!(codes.len() >= 4, "one OTP answer per run: {codes:?}");
    for path in std::fs::read_dir(dir.path().join("state/runs")).unwrap() {
        let path = path.unwrap().path();
        outputs.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ));
    }
    for (what, text) in &outputs {
        assert!(
            !text.contains(sshd::SUDO_PW_PASSWORD),
            "the sudo password is in {what}"
        );
        for code in &codes {
            // A code as a number of its own (journal times are long digit runs).
            let found = text.match_indices(code.as_str()).any(|(i, _)| {
                let before = text[..i].chars().last();
                let after = text[i + code.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_digit())
                    && !after.is_some_and(|c| c.is_ascii_digit())
            });
            assert!(!found, "an OTP answer is in {what}");
        }
    }
}
