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

// ---------------------------------------------------------------------------------------------
// Against real OpenSSH servers on loopback (skipped where sshd tests cannot run, see support).

use crate::support::sshd::{self, ROOT_USER, Sshd};

/// Two servers as `cp1` and `w1`, and `w2` on a closed port; the hosts' "log files" are a
/// temp dir of this machine (both servers are this machine).
fn sshd_rig() -> Option<(Vec<Sshd>, tempfile::TempDir, std::path::PathBuf)> {
    if !sshd::available() {
        return None;
    }
    let servers = vec![Sshd::start(), Sshd::start()];
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    let lines: Vec<String> = servers.iter().map(|s| s.known_hosts_line()).collect();
    std::fs::write(&kh, lines.join("\n") + "\n").unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("app.log"),
        "2024-05-01T10:00:02.000Z WARN disk 91% used\n\
         not an app line\n\
         2024-05-01T10:00:04.000Z INFO disk 80% used\n",
    )
    .unwrap();
    std::fs::write(
        logs.join("other.log"),
        "2024-05-01T10:00:03.000Z ERROR boom\n",
    )
    .unwrap();
    let mut inv = format!(
        r#"[cluster]
name = "it"
kubernetes_version = "1.33.4"

[ssh]
user = "{ROOT_USER}"
key_files = ["{key}"]
agent = false
known_hosts = ["{kh}"]
connect_timeout_secs = 30

[[log_parser]]
name = "app"
format = "regex"
regex = '^(?<time>\S+) (?<level>[A-Z]+) (?<message>.*)$'
time_key = "time"
time_format = "%Y-%m-%dT%H:%M:%S.%LZ"
files = ["{logs}/*.log"]
"#,
        key = servers[0].client_key.display(),
        kh = kh.display(),
        logs = logs.display(),
    );
    // One sshd each on loopback, told apart by port; every node has its own (documentation
    // range) node IP, as the inventory requires.
    for (s, (name, role, node_ip)) in servers.iter().zip([
        ("cp1", "control-plane", "192.0.2.1"),
        ("w1", "worker", "192.0.2.2"),
    ]) {
        std::fs::copy(
            servers[0].client_key.with_extension("pub"),
            s.dir.path().join("authorized_keys"),
        )
        .unwrap();
        inv.push_str(&format!(
            "\n[[host]]\nname = \"{name}\"\naddress = \"127.0.0.1\"\nnode_ip = \"{node_ip}\"\nroles = [\"{role}\"]\nssh = {{ port = {} }}\n",
            s.port
        ));
    }
    inv.push_str(&format!(
        "\n[[host]]\nname = \"w2\"\naddress = \"127.0.0.1\"\nnode_ip = \"192.0.2.3\"\nroles = [\"worker\"]\nssh = {{ port = {} }}\n",
        closed_port()
    ));
    let path = dir.path().join("cluster.toml");
    std::fs::write(&path, inv).unwrap();
    Some((servers, dir, path))
}

#[test]
fn loopback_hosts_are_read_parsed_and_merged_in_time_order() {
    let Some((_servers, dir, inv)) = sshd_rig() else {
        return;
    };
    let glob = format!("{}/logs/*.log", dir.path().display());
    let out = bin()
        .args([
            "logs",
            "--format",
            "ndjson",
            "--file",
            &glob,
            "--since",
            "2024-05-01T10:00:00Z",
            "-i",
        ])
        .arg(&inv)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no logs from w2"))
        .get_output()
        .stdout
        .clone();
    let recs: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<String> = recs
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["ts"].as_str().unwrap_or("-"),
                r["host"].as_str().unwrap(),
                r["parser"].as_str().unwrap(),
                r.get("message")
                    .or(r.get("raw"))
                    .and_then(|m| m.as_str())
                    .unwrap()
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "2024-05-01T10:00:02.000000000Z cp1 app disk 91% used",
            "2024-05-01T10:00:02.000000000Z cp1 raw not an app line",
            "2024-05-01T10:00:02.000000000Z w1 app disk 91% used",
            "2024-05-01T10:00:02.000000000Z w1 raw not an app line",
            "2024-05-01T10:00:03.000000000Z cp1 app boom",
            "2024-05-01T10:00:03.000000000Z w1 app boom",
            "2024-05-01T10:00:04.000000000Z cp1 app disk 80% used",
            "2024-05-01T10:00:04.000000000Z w1 app disk 80% used",
        ]
    );

    // The default sources (journal units, audit log, pod logs) on a machine that has none of
    // them: the script runs cleanly and nothing is reported missing.
    bin()
        .args(["logs", "--limit", "cp1", "--format", "ndjson", "-i"])
        .arg(&inv)
        .assert()
        .success()
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("journalctl").not())
        .stderr(predicate::str::contains("0 records from 1 of 1 hosts"));

    // Each format, one host, the last line only.
    for (format, want) in [
        (
            "text",
            "2024-05-01T10:00:04.000Z cp1 LOGS/app.log: [INFO] disk 80% used",
        ),
        (
            "csv",
            "2024-05-01T10:00:04.000000000Z,cp1,LOGS/app.log,app,INFO,disk 80% used,{}",
        ),
        (
            "logfmt",
            "ts=2024-05-01T10:00:04.000000000Z host=cp1 source=LOGS/app.log parser=app level=INFO message=\"disk 80% used\"",
        ),
        (
            "ndjson",
            r#"{"ts":"2024-05-01T10:00:04.000000000Z","host":"cp1","source":"LOGS/app.log","parser":"app","level":"INFO","message":"disk 80% used"}"#,
        ),
    ] {
        let out = bin()
            .args([
                "logs", "--limit", "cp1", "--format", format, "-n", "1", "--file",
            ])
            .arg(dir.path().join("logs/app.log"))
            .arg("-i")
            .arg(&inv)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let out = String::from_utf8(out).unwrap();
        let want = want.replace("LOGS", &dir.path().join("logs").display().to_string());
        assert_eq!(out.lines().last(), Some(want.as_str()), "{format}: {out}");
        if format == "csv" {
            assert_eq!(
                out.lines().next(),
                Some("ts,host,source,parser,level,message,fields")
            );
        }
    }
}

/// `--follow` over SSH: the first round prints the tail, later rounds only what was appended;
/// Ctrl-C (SIGINT) ends it cleanly.
#[test]
fn follow_prints_appended_lines_until_interrupted() {
    use std::io::{BufRead as _, Write as _};
    use std::time::{Duration, Instant};

    let Some((_servers, dir, inv)) = sshd_rig() else {
        return;
    };
    let file = dir.path().join("logs/app.log");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("otp-provision"))
        .env_remove("OTP_INVENTORY")
        .args([
            "logs",
            "--follow",
            "--interval",
            "0.3",
            "--limit",
            "cp1",
            "-n",
            "1",
        ])
        .arg("--file")
        .arg(&file)
        .arg("-i")
        .arg(&inv)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no output line for {what}"))
    };
    assert!(next("the tail").ends_with("[INFO] disk 80% used"));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    f.write_all(b"2024-05-01T10:00:05.000Z ERROR disk full\n2024-05-01T10:00:06.000Z INFO half")
        .unwrap();
    assert!(next("the appended line").ends_with("[ERROR] disk full"));
    // The unfinished line waits for its newline.
    std::thread::sleep(Duration::from_millis(900));
    assert!(rx.try_recv().is_err(), "a partial line was printed");
    f.write_all(b" done\n").unwrap();
    assert!(next("the completed line").ends_with("[INFO] half done"));

    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "logs --follow did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
