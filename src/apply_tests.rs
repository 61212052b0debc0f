use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// The host lock's prelude, run by the local `sh` against a lock file of its own: a held lock
/// makes the command say that it waits, then either run (reporting how long it waited) or give
/// up with exit 75 and the lock named.
#[test]
fn host_lock_waits_reports_and_gives_up() {
    if std::process::Command::new("flock")
        .arg("-V")
        .output()
        .is_err()
    {
        panic!("flock (util-linux) is needed for this test");
    }
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("lock");
    let run = |wait: u64, script: &str| {
        let text = with_host_lock(script, true, Duration::from_secs(wait))
            .replace(HOST_LOCK, lock.to_str().unwrap());
        std::process::Command::new("sh")
            .arg("-c")
            .arg(text)
            .output()
            .unwrap()
    };
    // Free lock: no wait reported; when it was held is, and taken out of stderr, which then
    // holds the script's own output only (even without a final newline).
    let mut o = run(5, "echo ran; printf 'own' >&2; exit 3");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ran\n");
    assert_eq!(o.status.code(), Some(3), "the script's exit code is kept");
    assert_eq!(lock_wait_of(&o.stderr), None);
    let (from, to) = take_lock_marks(&mut o.stderr);
    assert_eq!(String::from_utf8_lossy(&o.stderr), "own");
    let (from, to) = (from.expect("held from"), to.expect("held to"));
    assert!(from > 0.0 && from <= to, "{from} {to}");

    let hold = |secs: &str| {
        let child = std::process::Command::new("flock")
            .args(["-x", lock.to_str().unwrap(), "sleep", secs])
            .spawn()
            .unwrap();
        // Held before the command under test starts.
        while std::process::Command::new("flock")
            .args(["-n", lock.to_str().unwrap(), "true"])
            .status()
            .unwrap()
            .success()
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    };
    let mut holder = hold("2");
    let started = uptime();
    let mut o = run(30, "echo ran");
    holder.wait().unwrap();
    let (from, _) = take_lock_marks(&mut o.stderr);
    assert!(
        from.expect("held from") >= started + 1.0,
        "held from {from:?}, asked at {started}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ran\n");
    assert!(err.contains(LOCK_WAITED), "{err}");
    let waited = lock_wait_of(&o.stderr).expect("the wait is reported");
    assert!(waited > Duration::from_millis(500), "{waited:?}: {err}");

    let mut holder = hold("5");
    let o = run(1, "echo ran");
    holder.kill().ok();
    holder.wait().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(i32::from(crate::exit::LOCKED)),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "the command ran without the lock");
    assert!(
        err.contains(LOCK_GAVE_UP) && err.contains(lock.to_str().unwrap()),
        "{err}"
    );
}

fn uptime() -> f64 {
    let text = std::fs::read_to_string("/proc/uptime").unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn lock_wait_is_read_from_the_prelude_line() {
    for (stderr, want) in [
        ("", None),
        (
            "otp-provision: host lock acquired after 1234 ms\n",
            Some(1234),
        ),
        (
            "warning\notp-provision: host lock acquired after 0 ms\nx\n",
            Some(0),
        ),
        ("otp-provision: host lock acquired after ms\n", None),
        ("otp-provision: host lock acquired after 12 s\n", None),
    ] {
        assert_eq!(
            lock_wait_of(stderr.as_bytes()),
            want.map(Duration::from_millis),
            "{stderr:?}"
        );
    }
}

fn st(id: &str, change: bool) -> Step {
    Step {
        phase: "prepare".into(),
        id: id.into(),
        host: String::new(),
        wave: 0,
        kind: StepKind::Node,
        title: format!("title of {id}"),
        change,
        reason: "test".into(),
        action: Action::script(format!("echo {id}")),
    }
}

fn plan(hosts: &[(&str, Vec<Step>)]) -> Plan {
    Plan {
        hosts: hosts
            .iter()
            .map(|(h, steps)| HostPlan {
                host: h.to_string(),
                steps: steps.clone(),
            })
            .collect(),
    }
}

#[derive(Default)]
struct Fake {
    fail: BTreeSet<(String, String)>,
    calls: Mutex<Vec<(String, String)>>,
    inflight: AtomicUsize,
    max_inflight: AtomicUsize,
}

impl StepRunner for Fake {
    async fn run(&self, host: &str, step: &Step) -> StepResult {
        {
            let now = self.inflight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_inflight.fetch_max(now, Ordering::SeqCst);
            // Give other hosts' futures a chance to run, like a real remote command would.
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            self.inflight.fetch_sub(1, Ordering::SeqCst);
            self.calls
                .lock()
                .unwrap()
                .push((host.to_string(), step.id.clone()));
            let ok = !self.fail.contains(&(host.to_string(), step.id.clone()));
            StepResult {
                ok,
                code: Some(if ok { 0 } else { 100 }),
                duration: Duration::ZERO,
                stderr_tail: if ok {
                    String::new()
                } else {
                    "E: Unable to locate package kubelet".into()
                },
                error: None,
                commands: Vec::new(),
            }
        }
    }
}

#[derive(Default)]
struct Events(Mutex<Vec<String>>);

impl Observer for Events {
    fn host_started(&self, host: &str, steps: usize) {
        self.0.lock().unwrap().push(format!("{host} start {steps}"));
    }
    fn step_started(&self, host: &str, step: &Step) {
        self.0.lock().unwrap().push(format!("{host} > {}", step.id));
    }
    fn step_finished(&self, host: &str, step: &Step, r: &StepResult) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{host} < {} ok={}", step.id, r.ok));
    }
    fn host_finished(&self, host: &str, ok: bool) {
        self.0.lock().unwrap().push(format!("{host} done ok={ok}"));
    }
}

#[tokio::test]
async fn failed_step_stops_its_host_only() {
    let p = plan(&[
        (
            "a",
            vec![
                st("s1", true),
                st("s2", false),
                st("s3", true),
                st("s4", true),
            ],
        ),
        ("b", vec![st("s1", true), st("s2", true)]),
        ("c", vec![st("s1", false)]),
    ]);
    let fake = Fake {
        fail: [("a".to_string(), "s3".to_string())].into(),
        ..Fake::default()
    };
    let ev = Events::default();
    let report = apply_with(&p, &fake, &ev, ApplyOptions { parallel_hosts: 4 }).await;

    let calls = fake.calls.lock().unwrap().clone();
    let of = |h: &str| -> Vec<String> {
        calls
            .iter()
            .filter(|(x, _)| x == h)
            .map(|(_, s)| s.clone())
            .collect()
    };
    // Unchanged steps never run; nothing runs after the failure.
    assert_eq!(of("a"), ["s1", "s3"]);
    assert_eq!(of("b"), ["s1", "s2"]);
    assert!(of("c").is_empty());

    assert!(!report.ok());
    let hosts: Vec<&str> = report.hosts.iter().map(|h| h.host.as_str()).collect();
    assert_eq!(hosts, ["a", "b", "c"]);
    let a = &report.hosts[0];
    assert_eq!((a.ok, a.applied, a.skipped), (false, 1, 1));
    let f = a.failed.as_ref().unwrap();
    assert_eq!(f.step_id, "s3");
    assert_eq!(f.code, Some(100));
    assert_eq!(
        f.to_string(),
        "step s3 (title of s3): exit code 100\nE: Unable to locate package kubelet"
    );
    assert!(report.hosts[1].ok && report.hosts[1].applied == 2);
    assert!(report.hosts[2].ok && report.hosts[2].applied == 0);
    assert_eq!(report.failures().count(), 1);

    let events = ev.0.lock().unwrap().clone();
    let a_events: Vec<&String> = events.iter().filter(|e| e.starts_with("a ")).collect();
    assert_eq!(
        a_events,
        [
            "a start 3",
            "a > s1",
            "a < s1 ok=true",
            "a > s3",
            "a < s3 ok=false",
            "a done ok=false"
        ]
    );
    // A host with nothing to change gets no progress events (the plan already said so).
    assert!(!events.iter().any(|e| e.starts_with("c ")), "{events:?}");
}

#[tokio::test]
async fn hosts_run_in_parallel_up_to_the_bound() {
    let hosts: Vec<(String, Vec<Step>)> = (0..10)
        .map(|i| (format!("h{i}"), vec![st("s1", true), st("s2", true)]))
        .collect();
    let refs: Vec<(&str, Vec<Step>)> = hosts.iter().map(|(h, s)| (h.as_str(), s.clone())).collect();
    let p = plan(&refs);
    for bound in [1, 3] {
        let fake = Fake::default();
        let report = apply_with(
            &p,
            &fake,
            &NoopObserver,
            ApplyOptions {
                parallel_hosts: bound,
            },
        )
        .await;
        assert!(report.ok());
        assert_eq!(fake.calls.lock().unwrap().len(), 20);
        assert_eq!(fake.max_inflight.load(Ordering::SeqCst), bound);
        // Per host, steps stay in plan order whatever the interleaving.
        let calls = fake.calls.lock().unwrap().clone();
        for (h, _) in &hosts {
            let order: Vec<&str> = calls
                .iter()
                .filter(|(x, _)| x == h)
                .map(|(_, s)| s.as_str())
                .collect();
            assert_eq!(order, ["s1", "s2"]);
        }
    }
}

#[test]
fn commands_for_actions() {
    let (label, cmd) = command_for(&st("x", true)).unwrap();
    assert_eq!(label, "script");
    assert!(cmd.privileged && cmd.stdin.is_none());
    assert_eq!(cmd.timeout, Some(SCRIPT_TIMEOUT));

    let mut w = st("w", true);
    w.action = Action::WriteFile {
        path: "/etc/containerd/config.toml".into(),
        content: b"version = 2\n".to_vec(),
        mode: "0644".into(),
        then: None,
        owner: "root:root".into(),
    };
    let (label, cmd) = command_for(&w).unwrap();
    assert_eq!(label, "write /etc/containerd/config.toml");
    assert_eq!(cmd.stdin.as_deref(), Some(&b"version = 2\n"[..]));
    insta::assert_snapshot!("write_file_script", cmd.script);
    assert!(
        preview(&w)
            .unwrap()
            .ends_with("trap - EXIT\n# stdin: 12 bytes\n")
    );
    assert_eq!(preview(&st("x", true)).unwrap(), "echo x");

    let mut n = st("n", false);
    n.action = Action::None;
    assert!(command_for(&n).is_none());
}

/// The atomic write script, run for real with the local sh into a temp dir.
#[test]
fn write_file_script_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub dir/it's.conf");
    let who = |flag: &str| {
        let o = std::process::Command::new("id").arg(flag).output().unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    let owner = format!("{}:{}", who("-un"), who("-gn"));
    for content in ["first\n", "second, longer content\n"] {
        let script = write_file_script(
            path.to_str().unwrap(),
            "0640",
            &owner,
            Some("echo then-ran"),
        );
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(content.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "then-ran\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        // No temp file left behind.
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}

#[test]
fn tail_keeps_last_lines() {
    assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
    assert_eq!(tail("a", 5), "a");
    assert_eq!(tail("", 5), "");
}

/// Callers spawn these futures on a multi-threaded runtime: they must stay `Send`.
#[allow(dead_code)]
fn futures_are_send(
    plan: &Plan,
    conns: &BTreeMap<String, Connection>,
    req: &crate::facts::FactRequest,
) {
    fn send<T: Send>(_: T) {}
    send(apply(plan, conns, &NoopObserver, ApplyOptions::default()));
    send(crate::facts::gather(&conns["x"], req));
    let reqs = BTreeMap::new();
    send(crate::facts::gather_all(conns, &reqs, &NoopObserver, 4));
}
