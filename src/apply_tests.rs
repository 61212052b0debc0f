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
    // Free lock: no word about it, and no wait reported.
    let o = run(5, "echo ran");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ran\n");
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(lock_wait_of(&o.stderr), None);

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
    let o = run(30, "echo ran");
    holder.wait().unwrap();
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

/// End to end on a real systemd node without SSH: facts, plan, apply, re-plan through
/// `docker exec`. Opt-in (needs Docker and a running systemd container, e.g. one started from
/// the lab image): `OTP_ENGINE_DOCKER_NODE=<container> cargo test -- --ignored docker_node`.
mod docker_node {
    use super::*;
    use crate::facts::{FactRequest, Facts};
    use crate::phases::testutil;
    use crate::playbook::Playbooks;

    fn container() -> String {
        std::env::var("OTP_ENGINE_DOCKER_NODE").expect("set OTP_ENGINE_DOCKER_NODE")
    }

    async fn docker_exec(script: &str, stdin: Option<&[u8]>) -> std::process::Output {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new("docker")
            .args(["exec", "-i", &container(), "sh", "-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(data) = stdin {
            input.write_all(data).await.unwrap();
        }
        drop(input);
        child.wait_with_output().await.unwrap()
    }

    struct DockerRunner;

    impl StepRunner for DockerRunner {
        async fn run(&self, _host: &str, step: &Step) -> StepResult {
            let (_, cmd) = command_for(step).unwrap();
            let out = docker_exec(&cmd.script, cmd.stdin.as_deref()).await;
            StepResult {
                ok: out.status.success(),
                code: out.status.code().map(|c| c as u32),
                duration: Duration::ZERO,
                stderr_tail: tail(&String::from_utf8_lossy(&out.stderr), 20),
                error: None,
                commands: Vec::new(),
            }
        }
    }

    async fn facts(req: &FactRequest) -> Facts {
        let out = docker_exec(&crate::facts::script(req), None).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        crate::facts::parse("node1", &String::from_utf8_lossy(&out.stdout)).unwrap()
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

    async fn plan_once(inv: &crate::inventory::Inventory, books: &Playbooks) -> Plan {
        let req = crate::phases::fact_request(inv, &inv.hosts[0], books).unwrap();
        let f = facts(&req).await;
        let mut all = BTreeMap::new();
        all.insert("node1".to_string(), f);
        crate::phases::plan(inv, &all, books).unwrap()
    }

    #[tokio::test]
    #[ignore]
    async fn docker_node_converges() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("prepare.toml"), "phase = \"prepare\"\n").unwrap();
        std::fs::write(dir.path().join("endpoint.toml"), "phase = \"endpoint\"\n").unwrap();
        std::fs::write(dir.path().join("site.toml"), SITE).unwrap();
        let books = Playbooks::load(Some(dir.path())).unwrap();
        let mut inv = testutil::inventory();
        inv.hosts = vec![testutil::host(
            "node1",
            "192.0.2.10",
            &[crate::inventory::Role::ControlPlane],
        )];
        docker_exec("apt-mark unhold procps; rm -rf /etc/otp-test /var/lib/otp-test-marker; systemctl disable --now otp-test 2>/dev/null; echo 0 > /proc/sys/net/ipv4/ip_forward", None).await;

        let first = plan_once(&inv, &books).await;
        println!("{first}");
        assert!(first.changes() >= 4, "{first}");
        let report = apply_with(
            &first,
            &DockerRunner,
            &NoopObserver,
            ApplyOptions::default(),
        )
        .await;
        assert!(report.ok(), "{report:?}");

        let second = plan_once(&inv, &books).await;
        println!("{second}");
        assert_eq!(second.changes(), 0, "{second}");

        // Drift: the config is edited on the node; the plan rewrites it and restarts the service.
        docker_exec("echo drift > /etc/otp-test/app.conf", None).await;
        let third = plan_once(&inv, &books).await;
        println!("{third}");
        let ids: Vec<&str> = third.hosts[0]
            .steps
            .iter()
            .filter(|s| s.change)
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(ids, ["site/app-config", "site/service"]);
        assert!(
            apply_with(
                &third,
                &DockerRunner,
                &NoopObserver,
                ApplyOptions::default()
            )
            .await
            .ok()
        );
        assert_eq!(plan_once(&inv, &books).await.changes(), 0);

        // Interrupted run: the file was rewritten but the restart never happened.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        docker_exec(
            "printf 'node node1 in prod\\n' > /etc/otp-test/app.conf",
            None,
        )
        .await;
        let fourth = plan_once(&inv, &books).await;
        println!("{fourth}");
        let ids: Vec<&str> = fourth.hosts[0]
            .steps
            .iter()
            .filter(|s| s.change)
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(ids, ["site/service"], "{fourth}");
    }

    /// The embedded node preparation on a real node from a local mirror laid out like the
    /// lab's: `OTP_ENGINE_MIRROR=http://HOST:PORT` serving `debian/` and `kubernetes/v1.33/deb/`.
    /// Roles from `OTP_ENGINE_ROLE` (control-plane by default).
    #[tokio::test]
    #[ignore]
    async fn docker_node_prepare() {
        let books = Playbooks::embedded().unwrap();
        let mut inv = testutil::inventory();
        let role = match std::env::var("OTP_ENGINE_ROLE").as_deref() {
            Ok("load-balancer") => crate::inventory::Role::LoadBalancer,
            Ok("worker") => crate::inventory::Role::Worker,
            _ => crate::inventory::Role::ControlPlane,
        };
        inv.hosts = vec![testutil::host("node1", "172.31.251.11", &[role])];
        inv.packages = crate::inventory::PackageSource::Mirror {
            url: std::env::var("OTP_ENGINE_MIRROR").expect("set OTP_ENGINE_MIRROR"),
            key_url: None,
            debian: true,
        };
        let first = plan_once(&inv, &books).await;
        println!("{first}");
        let report = apply_with(
            &first,
            &DockerRunner,
            &NoopObserver,
            ApplyOptions::default(),
        )
        .await;
        assert!(report.ok(), "{:#?}", report.failures().collect::<Vec<_>>());
        let second = plan_once(&inv, &books).await;
        println!("{second}");
        assert_eq!(second.changes(), 0, "{second}");
    }
}

/// Cluster and addon steps: local steps of a wave run first, a failed wave stops the run
/// naming host and step, and no later wave starts.
#[tokio::test]
async fn waves_stop_after_the_first_failed_wave() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let later = dir.path().join("later");
    std::fs::write(&first, "x").unwrap();
    std::fs::write(&later, "x").unwrap();
    let step = |id: &str, host: &str, wave: u32, action: Action| Step {
        phase: "cluster".into(),
        id: id.into(),
        host: host.into(),
        wave,
        kind: StepKind::Init,
        title: format!("title of {id}"),
        change: true,
        reason: "test".into(),
        action,
    };
    let steps = [
        step(
            "cluster/later",
            LOCAL,
            2,
            Action::RemoveLocal {
                path: later.clone(),
            },
        ),
        step(
            "cluster/generate",
            LOCAL,
            0,
            Action::Generate(crate::runtime::RuntimeInput::BootstrapToken),
        ),
        step("cluster/init/cp1", "cp1", 1, Action::script("true".into())),
        step(
            "cluster/first",
            LOCAL,
            1,
            Action::RemoveLocal {
                path: first.clone(),
            },
        ),
    ];
    let err = apply_waves(&steps, &BTreeMap::new(), &NoopObserver)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cp1: step cluster/init/cp1 failed: host is not connected"
    );
    assert!(!first.exists(), "the failed wave's local step ran");
    assert!(later.exists(), "no wave after the failed one");
}

/// Run-time values reach a cluster step on stdin only, one per line, never in its script.
#[test]
fn cluster_commands_read_run_time_values_on_stdin() {
    use crate::runtime::RuntimeInput::{BootstrapToken, CertificateKey};
    let mut s = st("cluster/join/cp2", true);
    s.kind = StepKind::JoinControlPlane;
    s.action = Action::Script {
        script: "read -r t; read -r k".into(),
        stdin: vec![BootstrapToken, CertificateKey],
        capture: None,
    };
    let mut rt = RuntimeValues::default();
    rt.generate(BootstrapToken);
    assert!(
        command_with(&s, &rt).is_err(),
        "certificate key not known yet"
    );
    rt.generate(CertificateKey);
    let (_, cmd) = command_with(&s, &rt).unwrap().unwrap();
    let want = format!(
        "{}\n{}\n",
        rt.get(BootstrapToken).unwrap(),
        rt.get(CertificateKey).unwrap()
    );
    assert_eq!(cmd.stdin.as_deref(), Some(want.as_bytes()));
    assert_eq!(cmd.script, "read -r t; read -r k");
    assert_eq!(cmd.timeout, Some(CLUSTER_STEP_TIMEOUT));
}
