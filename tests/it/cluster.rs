//! The main job end to end in the container lab: fresh nodes to a highly available cluster with
//! its addons; runs killed locally and kubeadm killed on the nodes (a half-done init and
//! control-plane and worker joins), each completed by the next `up` and proven from that run's
//! own journal; a no-op second run checked from the run journal; the host lock (waiting, giving
//! up, two concurrent runs); the API server restart after a security file changed; addon
//! changes, VIP failover, two workers added (one of them stopped mid-run), remove-node of a
//! worker and a control plane, `reset --yes` checked file by file; and no secret of any run in
//! any output or journal.
//!
//! One lab for the whole story (each chapter starts from the previous one's cluster); the lab's
//! Kubernetes binaries are the strict stand-ins of lab/standins.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use otp_provision::lab::{self, LabOpts, UpParams};
use serde_json::Value;

use crate::support::lab::{Guard, ok, ssh};

fn name() -> String {
    format!("otp-cl-it{}", std::process::id())
}

const CPS: [&str; 3] = ["cp1", "cp2", "cp3"];
const LATE_WORKERS: [&str; 2] = ["w3", "w4"];

struct Lab {
    opts: LabOpts,
    dir: PathBuf,
    inventory: PathBuf,
    /// The inventory `lab up` wrote: every node.
    full: String,
    vip: String,
    addresses: BTreeMap<String, String>,
    /// Every otp-provision run's stdout and stderr are kept under `dir/outputs/` (killed runs'
    /// too) for the secrets scan; this numbers them.
    runs: Cell<usize>,
}

impl Lab {
    fn otp(&self, args: &[&str]) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("otp-provision"));
        c.env("NO_COLOR", "1")
            .arg("-i")
            .arg(&self.inventory)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let o = self.otp(args).output().expect("run otp-provision");
        let (out, err) = self.output_files(&args.join("-"));
        std::fs::write(out, &o.stdout).unwrap();
        std::fs::write(err, &o.stderr).unwrap();
        o
    }

    /// Files for one run's stdout and stderr, kept for the secrets scan.
    fn output_files(&self, what: &str) -> (PathBuf, PathBuf) {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let dir = self.dir.join("outputs");
        std::fs::create_dir_all(&dir).unwrap();
        let base: String = format!("{n:03}-{what}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(60)
            .collect();
        (
            dir.join(format!("{base}.out")),
            dir.join(format!("{base}.err")),
        )
    }

    /// Start `up --yes` in the background, its output kept for the secrets scan.
    fn spawn_up(&self, what: &str) -> (Child, PathBuf, PathBuf) {
        let (out, err) = self.output_files(what);
        let child = self
            .otp(&["up", "--yes"])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        (child, out, err)
    }

    /// `docker exec` as root on a node: the test looks at nodes as their administrator would.
    /// Bounded in time: a hung Docker engine must fail the test, not hang CI.
    fn exec(&self, node: &str, script: &str) -> Output {
        Command::new("timeout")
            .args([
                "120",
                "docker",
                "exec",
                &format!("{}-{node}", self.opts.name),
                "sh",
                "-c",
                script,
            ])
            .output()
            .expect("docker exec")
    }

    /// Run `script` on `node` in the background (`docker exec -d`).
    fn exec_detached(&self, node: &str, script: &str) {
        let o = Command::new("timeout")
            .args([
                "60",
                "docker",
                "exec",
                "-d",
                &format!("{}-{node}", self.opts.name),
                "sh",
                "-c",
                script,
            ])
            .output()
            .expect("docker exec -d");
        ok(&o);
    }

    /// Kill `kubeadm <what>` (SIGKILL, like a crash) on `node` as soon as `trigger` exists
    /// there: a watcher on the node itself, so the kill lands at that point of kubeadm's work
    /// whatever the test process is doing. Leaves `/tmp/otp-it-killed-<what>` once it killed.
    /// `also` runs right after the kill.
    fn kill_kubeadm_when(&self, node: &str, what: &str, trigger: &str, also: &str) {
        self.exec_detached(
            node,
            &format!(
                "rm -f /tmp/otp-it-killed-{what}; \
                 while [ ! -e {trigger} ]; do sleep 0.05; done; \
                 if pkill -9 -f '^([^ ]*python3[^ ]* )?[^ ]*kubeadm(\\.py)? {what} '; then \
                   {also} touch /tmp/otp-it-killed-{what}; fi"
            ),
        );
    }

    /// Whether the watcher of [`Lab::kill_kubeadm_when`] killed kubeadm on `node`.
    fn killed_kubeadm(&self, node: &str, what: &str) -> bool {
        self.exec(node, &format!("test -e /tmp/otp-it-killed-{what}"))
            .status
            .success()
    }

    fn kubectl(&self, cp: &str, args: &str) -> String {
        ok(&self.exec(
            cp,
            &format!("kubectl --kubeconfig /etc/kubernetes/admin.conf {args}"),
        ))
    }

    /// `up --yes` that must succeed and report nothing to do.
    fn up_nothing_to_do(&self) {
        let o = self.run(&["up", "--yes"]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("up: nothing to do"),
            "{}",
            text(&o)
        );
    }

    /// Nodes the API lists, as `cp` sees them; None while its API does not answer.
    fn registered(&self, cp: &str) -> Option<BTreeSet<String>> {
        let o = self.exec(
            cp,
            "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o name --request-timeout=5s",
        );
        o.status.success().then(|| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.strip_prefix("node/"))
                .map(String::from)
                .collect()
        })
    }

    /// Hold the host lock on `node` for `secs` as another otp-provision command would, and
    /// return once it is held.
    fn hold_lock(&self, node: &str, secs: u32) {
        self.exec_detached(
            node,
            &format!("flock -x /run/otp-provision.lock sleep {secs}.01"),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while self
            .exec(node, "flock -n /run/otp-provision.lock true")
            .status
            .success()
        {
            assert!(Instant::now() < deadline, "the lock holder never started");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// End every holder of [`Lab::hold_lock`] on `node`.
    fn release_lock(&self, node: &str) {
        self.exec(node, "pkill -f 'sleep [0-9]+[.]01$'");
    }

    /// The running kube-apiserver's pid and start time (clock ticks after boot) on `cp`,
    /// waiting for one to run.
    fn apiserver_start(&self, cp: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let o = self.exec(
                cp,
                "pid=$(pgrep -of '^kube-apiserver( |$)') && \
                 echo \"$pid $(sed 's/.*) //' /proc/$pid/stat | cut -d' ' -f20)\"",
            );
            let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if o.status.success() && out.split(' ').count() == 2 {
                return out;
            }
            assert!(Instant::now() < deadline, "{cp}: no kube-apiserver runs");
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// `etcdctl member list` lines, asked on `cp` (id, status, name, peer, client, learner).
    fn etcd_members(&self, cp: &str) -> Vec<String> {
        ok(&self.exec(
            cp,
            "cid=$(crictl ps -q --name '^etcd$' | head -n1); crictl exec \"$cid\" etcdctl \
             --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt \
             --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
             --key=/etc/kubernetes/pki/etcd/healthcheck-client.key member list",
        ))
        .lines()
        .map(String::from)
        .collect()
    }

    /// Names of the Ready nodes as `cp` sees them.
    fn ready_nodes(&self, cp: &str) -> BTreeSet<String> {
        ready_in(&self.kubectl(cp, "get nodes --no-headers"))
    }

    /// Write the inventory: the lab's hosts except `without`, plus `extra` TOML.
    fn write_inventory(&self, without: &[&str], extra: &str) {
        let mut parts = self.full.split("\n[[host]]\n");
        let mut text = parts.next().unwrap().to_string();
        for host in parts {
            let skip = without
                .iter()
                .any(|n| host.contains(&format!("name = \"{n}\"\n")));
            if !skip {
                text.push_str("\n[[host]]\n");
                text.push_str(host);
            }
        }
        text.push_str(extra);
        std::fs::write(&self.inventory, text).unwrap();
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.join(".otp-provision")
    }

    fn journals(&self) -> BTreeSet<PathBuf> {
        std::fs::read_dir(self.state_dir().join("runs"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    /// `up --yes` killed (SIGKILL, like a lost terminal) as soon as `point` holds; `point`
    /// sees the run's journal events so far. Returns the journal of the killed run.
    fn up_killed_when(&self, what: &str, point: impl Fn(&Lab, &[Value]) -> bool) -> Vec<Value> {
        let before = self.journals();
        let (mut child, log, _) = self.spawn_up(&format!("killed {what}"));
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "up ended ({status}) before the kill point {what:?}:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            let events = self.new_journal(&before);
            if point(self, &events) {
                child.kill().unwrap();
                child.wait().unwrap();
                eprintln!(
                    "killed up at {what:?} after {:?}; nodes registered then: {:?}",
                    started.elapsed(),
                    self.registered("cp1")
                );
                return events;
            }
            assert!(
                started.elapsed() < Duration::from_secs(900),
                "kill point {what:?} not reached in 15 min"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Events of the run that started after `before` was listed (empty until it exists).
    fn new_journal(&self, before: &BTreeSet<PathBuf>) -> Vec<Value> {
        let Some(path) = self.journals().into_iter().find(|p| !before.contains(p)) else {
            return Vec::new();
        };
        read_journal(&path)
    }

    /// Whether `kubeadm <what>` runs on `node` now.
    fn running(&self, node: &str, what: &str) -> bool {
        let o = self.exec(
            node,
            "for p in /proc/[0-9]*; do tr '\\0' ' ' < \"$p/cmdline\" 2>/dev/null; echo; done",
        );
        String::from_utf8_lossy(&o.stdout).lines().any(|l| {
            // The process itself (`kubeadm join ...`, or through an interpreter), not a
            // shell script whose text mentions it.
            let argv: Vec<&str> = l.split_whitespace().take(3).collect();
            argv.windows(2).any(|w| {
                (w[0].ends_with("kubeadm") || w[0].ends_with("kubeadm.py")) && w[1] == what
            })
        })
    }

    /// Which load balancer holds the VIP now.
    fn vip_holder(&self) -> Vec<String> {
        ["lb1", "lb2"]
            .into_iter()
            .filter(|lb| {
                let o = self.exec(lb, "ip -o addr show");
                String::from_utf8_lossy(&o.stdout).contains(&format!(" {}/", self.vip))
            })
            .map(String::from)
            .collect()
    }

    fn endpoint_ready(&self, from: &str) -> bool {
        let o = ssh(
            &self.dir,
            &self.addresses[from],
            &format!("curl -sk -m 5 https://{}:6443/readyz", self.vip),
        );
        o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "ok"
    }
}

/// Ready node names in `kubectl get nodes --no-headers` output.
fn ready_in(table: &str) -> BTreeSet<String> {
    table
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 1 && f[1] == "Ready").then(|| f[0].to_string())
        })
        .collect()
}

/// Per host, when each changing command of a run held the host lock, from the journal (the
/// host's uptime in seconds: one clock for both runs). A command without an end (killed) holds
/// it for ever.
fn changing_spans(events: &[Value]) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut spans: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for e in events {
        if e["event"] != "exec" || e["changes"] != true {
            continue;
        }
        let from = e["lock_from"]
            .as_f64()
            .unwrap_or_else(|| panic!("a changing command without lock times: {e}"));
        let to = e["lock_to"].as_f64().unwrap_or(f64::INFINITY);
        spans
            .entry(e["host"].as_str().unwrap().to_string())
            .or_default()
            .push((from, to));
    }
    spans
}

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether the journal holds a command of `step` on `host` that succeeded (`ok`) or failed.
fn has_exec(events: &[Value], host: &str, step: &str, ok: bool) -> bool {
    events.iter().any(|e| {
        e["event"] == "exec" && e["host"] == host && e["step"] == step && (e["code"] == 0) == ok
    })
}

/// `step` on `host` ran and failed in this journal.
fn assert_failed(events: &[Value], host: &str, step: &str) {
    assert!(
        has_exec(events, host, step, false),
        "no failed {step} on {host} in {events:#?}"
    );
}

/// Each `(host, step)` ran and succeeded, in this order.
fn assert_in_order(events: &[Value], steps: &[(&str, &str)]) {
    let mut from = 0;
    for (host, step) in steps {
        let at = events[from..].iter().position(|e| {
            e["event"] == "exec" && e["host"] == *host && e["step"] == *step && e["code"] == 0
        });
        let Some(at) = at else {
            panic!("{step} on {host} did not succeed after event {from}: {events:#?}");
        };
        from += at + 1;
    }
}

fn read_journal(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        // The line being written when the run was killed may be cut short.
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The last run's journal.
fn last_journal(lab: &Lab) -> Vec<Value> {
    let newest = lab
        .journals()
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .expect("a run journal");
    read_journal(&newest)
}

fn plan_json(lab: &Lab) -> Value {
    let o = lab.run(&["--output", "json", "plan"]);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `(host, step id)` of every node and cluster step a JSON plan would run.
fn planned_hosts(plan: &Value) -> BTreeSet<String> {
    let mut hosts = BTreeSet::new();
    for h in plan["hosts"].as_array().unwrap() {
        let changing = h["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["change"] == true);
        if changing {
            hosts.insert(h["host"].as_str().unwrap().to_string());
        }
    }
    for s in plan["cluster"].as_array().unwrap() {
        hosts.insert(s["host"].as_str().unwrap().to_string());
    }
    hosts
}

const ADDONS: &str = r#"
[addons.metrics_server]
replicas = 1

[addons.metrics]
retention = "2d"
storage_size = "1Gi"

[addons.logging]
replicas = 1
storage_size = "1Gi"
heap = "512m"
"#;

fn parser(level: &str) -> String {
    format!(
        r#"
[[log_parser]]
name = "bank_app"
format = "regex"
regex = '^(?<time>\S+) +(?<level>{level}) +(?<message>.*)$'
time_key = "time"
time_format = "%Y-%m-%dT%H:%M:%S.%LZ"
namespaces = ["payments"]
"#
    )
}

#[test]
fn cluster_lifecycle() {
    let tmp = tempfile::tempdir().unwrap();
    // OTP_TEST_KEEP_LAB=1 keeps the lab and its directory (inventory, key) for a post-mortem.
    let (dir, _tmp) = if std::env::var_os("OTP_TEST_KEEP_LAB").is_some() {
        (tmp.keep(), None)
    } else {
        (tmp.path().to_path_buf(), Some(tmp))
    };
    let dir = dir.as_path();
    let Some(opts) = crate::support::lab::opts(&name(), dir) else {
        return;
    };
    lab::down(&opts).unwrap();
    let _guard = Guard(opts.clone());
    let report = lab::up(
        &opts,
        &UpParams {
            control_planes: 3,
            workers: 4,
            load_balancers: 2,
            kubernetes_version: "1.33.4".into(),
            subnet: None,
        },
    )
    .unwrap();
    assert!(
        report.kubernetes_packages,
        "the stand-in debs were not built"
    );
    let inventory = dir.join("inventory.toml");
    let full = std::fs::read_to_string(&inventory).unwrap();
    let inv: toml::Table = toml::from_str(&full).unwrap();
    let addresses = inv["host"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_string(),
                h["address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let lab = Lab {
        opts: opts.clone(),
        dir: dir.to_path_buf(),
        inventory,
        full,
        vip: report.vip.clone(),
        addresses,
        runs: Cell::new(0),
    };
    let base = |extra: &str| format!("{ADDONS}{extra}");
    lab.write_inventory(&LATE_WORKERS, &parser("[A-Z]+"));

    // 1. Interrupted runs, each completed by the next `up` and proven from that run's own
    //    journal: the local process killed (a lost terminal), and kubeadm killed on the node
    //    (a crash) mid init, mid control-plane join and mid worker join.
    lab.up_killed_when("mid node prep", |_, ev| {
        ev.iter()
            .filter(|e| e["event"] == "exec" && e["changes"] == true)
            .count()
            >= 4
    });

    // kubeadm init dies on cp1 once it wrote its certificates and first kubeconfig, before any
    // static pod ran: the run fails and names cp1; the cluster never became usable and etcd
    // never stored data. (Killed later, once etcd holds data but before the API answers, the
    // next run rightly refuses: a lone control plane whose API is down may be a real
    // single-node cluster. The kubelet is stopped with kubeadm so that a slow watcher on a
    // loaded machine cannot let it start the static pods first.)
    lab.kill_kubeadm_when(
        "cp1",
        "init",
        "/etc/kubernetes/admin.conf",
        "systemctl stop kubelet;",
    );
    let o = lab.run(&["up", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(lab.killed_kubeadm("cp1", "init"), "{}", text(&o));
    assert!(stderr_of(&o).contains("cp1"), "{}", text(&o));
    let ev = last_journal(&lab);
    assert_failed(&ev, "cp1", "cluster/init/cp1");

    // The next run resets cp1 and initialises it again; kubeadm join then dies on cp2 right
    // after its etcd member was added (a learner) and its Node registered.
    lab.kill_kubeadm_when("cp2", "join", "/etc/kubernetes/manifests/etcd.yaml", "");
    let o = lab.run(&["up", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(lab.killed_kubeadm("cp2", "join"), "{}", text(&o));
    let ev = last_journal(&lab);
    assert_in_order(
        &ev,
        &[("cp1", "cluster/reset/cp1"), ("cp1", "cluster/init/cp1")],
    );
    assert_failed(&ev, "cp2", "cluster/join/cp2");
    let cp2_ip = lab.addresses["cp2"].clone();
    let members = lab.etcd_members("cp1");
    assert!(
        members
            .iter()
            .any(|m| m.contains(&format!("https://{cp2_ip}:2380"))),
        "cp2's half-joined etcd member: {members:?}"
    );

    // The next run removes the stale Node and etcd member of cp2 (from cp1), resets cp2 and
    // joins it and cp3; kubeadm join then dies on w1 mid TLS bootstrap, and w1's kubelet with
    // it (a kubelet left running finishes the bootstrap on its own while its token is valid,
    // and the next run then finds w1 joined; one that cannot leaves w1 half-joined).
    let stale_node = lab.registered("cp1").is_some_and(|n| n.contains("cp2"));
    lab.kill_kubeadm_when(
        "w1",
        "join",
        "/etc/kubernetes/bootstrap-kubelet.conf",
        "systemctl stop kubelet;",
    );
    let o = lab.run(&["up", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(lab.killed_kubeadm("w1", "join"), "{}", text(&o));
    let ev = last_journal(&lab);
    // The stale objects go first (in either order), then the reset and the joins.
    let rejoin = [
        ("cp2", "cluster/reset/cp2"),
        ("cp2", "cluster/join/cp2"),
        ("cp3", "cluster/join/cp3"),
    ];
    let mut stale = vec![("cp1", "cluster/etcd-member-remove/cp2")];
    if stale_node {
        stale.push(("cp1", "cluster/delete-node/cp2"));
    }
    for cleanup in stale {
        assert_in_order(&ev, &[&[cleanup][..], &rejoin].concat());
    }
    assert_failed(&ev, "w1", "cluster/join/w1");
    ok(&lab.exec(
        "w1",
        "test -e /etc/kubernetes/bootstrap-kubelet.conf && test ! -e /etc/kubernetes/kubelet.conf",
    ));
    eprintln!("half-joined cp2 had a stale Node: {stale_node}");

    // The next run resets w1 and joins it; the local process is killed while that join runs.
    // The join goes on on w1 and the run after waits for it under the host lock.
    let ev = lab.up_killed_when("mid worker join", |lab, ev| {
        has_exec(ev, "w1", "cluster/reset/w1", true) && lab.running("w1", "join")
    });
    assert!(has_exec(&ev, "w1", "cluster/reset/w1", true));
    let o = lab.run(&["up", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    eprintln!(
        "run after the killed worker join waited for the host lock: {}",
        last_journal(&lab).iter().any(|e| e["event"] == "lock-wait")
    );

    // 2. Every control plane's own API server lists the five nodes Ready, and etcd has three
    //    voting members (no learner left from the killed join).
    let five: BTreeSet<String> = ["cp1", "cp2", "cp3", "w1", "w2"].map(String::from).into();
    for cp in CPS {
        let own = format!(
            "get nodes --no-headers --server https://{}:6443",
            lab.addresses[cp]
        );
        assert_eq!(
            ready_in(&lab.kubectl(cp, &own)),
            five,
            "as {cp}'s API server sees it"
        );
    }
    let members = lab.etcd_members("cp1");
    assert_eq!(members.len(), 3, "{members:?}");
    for m in &members {
        let f: Vec<&str> = m.split(", ").collect();
        assert_eq!(f.get(1), Some(&"started"), "{m}");
        assert_eq!(f.last(), Some(&"false"), "a learner is left: {m}");
    }
    let members = lab.kubectl("cp1", "get nodes -o name");
    assert_eq!(members.lines().count(), 5, "{members}");

    // The operator's kubeconfig: 0600, server = the VIP, and it works from another machine.
    let kubeconfig = std::fs::read_dir(lab.state_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-admin.conf"))
        .expect("admin kubeconfig in the state dir");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let kc = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(
        kc.contains(&format!("server: https://{}:6443", lab.vip)),
        "{kc}"
    );
    let o = Command::new("timeout")
        .args([
            "120",
            "docker",
            "exec",
            "-i",
            &format!("{}-w1", name()),
            "sh",
            "-c",
            "cat > /tmp/operator.conf && kubectl --kubeconfig /tmp/operator.conf get nodes --no-headers; rm -f /tmp/operator.conf",
        ])
        .stdin(std::fs::File::open(&kubeconfig).unwrap())
        .output()
        .unwrap();
    assert_eq!(ok(&o).lines().count(), 5);

    // 3. The second run changes nothing: one command per host, none of them changing.
    lab.up_nothing_to_do();
    let events = last_journal(&lab);
    let execs: Vec<&Value> = events.iter().filter(|e| e["event"] == "exec").collect();
    assert!(
        execs.iter().all(|e| e["changes"] == false),
        "a changing command in a no-op run: {execs:?}"
    );
    let mut per_host: BTreeMap<String, usize> = BTreeMap::new();
    for e in &execs {
        *per_host
            .entry(e["host"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_host.len(), 7, "{per_host:?}");
    assert!(per_host.values().all(|n| *n == 1), "{per_host:?}");
    let o = lab.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // 3b. The host lock, held on w2 as a command of another otp-provision run would hold it:
    //     the run says that it waits, waits, and then goes on.
    lab.hold_lock("w2", 10);
    let o = lab.run(&["up", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stderr_of(&o).contains("w2: facts: waiting for /run/otp-provision.lock"),
        "{}",
        text(&o)
    );
    let ev = last_journal(&lab);
    assert!(
        ev.iter()
            .any(|e| e["event"] == "lock-wait" && e["host"] == "w2"),
        "{ev:#?}"
    );
    let waited = ev
        .iter()
        .filter(|e| e["event"] == "exec" && e["host"] == "w2")
        .filter_map(|e| e["lock_wait_ms"].as_u64())
        .max();
    assert!(waited.is_some_and(|ms| ms >= 1000), "{waited:?}: {ev:#?}");
    lab.release_lock("w2");

    // It gives up after `[run] lock_wait_secs` (facts wait half of it) with exit 75 and a
    // message naming the host and the lock; nothing is changed.
    lab.write_inventory(
        &LATE_WORKERS,
        &format!("{}\n[run]\nlock_wait_secs = 2\n", parser("[A-Z]+")),
    );
    lab.hold_lock("w2", 120);
    let o = lab.run(&["up", "--yes"]);
    lab.release_lock("w2");
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    let err = stderr_of(&o);
    assert!(
        err.contains("w2")
            && err.contains("gave up waiting for the host lock /run/otp-provision.lock"),
        "{}",
        text(&o)
    );
    assert!(
        last_journal(&lab)
            .iter()
            .all(|e| e["event"] != "exec" || e["changes"] == false),
        "a changing command ran"
    );
    lab.write_inventory(&LATE_WORKERS, &parser("[A-Z]+"));

    // Two operators' runs at once, both with work on every Kubernetes node (a drifted
    // /etc/crictl.yaml): from both journals, their changing commands never overlap on a host.
    for node in &five {
        ok(&lab.exec(node, "echo '# drift' >> /etc/crictl.yaml"));
    }
    let before = lab.journals();
    let (a, ..) = lab.spawn_up("concurrent-a");
    let (b, ..) = lab.spawn_up("concurrent-b");
    for mut child in [a, b] {
        assert!(child.wait().unwrap().success(), "a concurrent up failed");
    }
    let runs: Vec<Vec<Value>> = lab
        .journals()
        .difference(&before)
        .map(|p| read_journal(p))
        .collect();
    assert_eq!(runs.len(), 2);
    let spans: Vec<BTreeMap<String, Vec<(f64, f64)>>> =
        runs.iter().map(|r| changing_spans(r)).collect();
    let mut both = 0;
    for (host, mine) in &spans[0] {
        let Some(theirs) = spans[1].get(host) else {
            continue;
        };
        both += 1;
        for (s1, e1) in mine {
            for (s2, e2) in theirs {
                assert!(
                    e1 <= s2 || e2 <= s1,
                    "{host}: changing commands of two runs overlap: {s1}-{e1} and {s2}-{e2}"
                );
            }
        }
    }
    assert!(
        both > 0,
        "the two runs never changed the same host: {spans:?}"
    );
    eprintln!("concurrent runs both changed {both} host(s), never at once");
    let o = lab.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // 3c. Security files changed behind running API servers: cp2's audit policy edited, cp3's
    //     only touched. The next `up` rewrites cp2's file and restarts those two API servers
    //     (new start times), one at a time; cp1's keeps running.
    let before: BTreeMap<&str, String> = CPS
        .iter()
        .map(|cp| (*cp, lab.apiserver_start(cp)))
        .collect();
    // The start time has a resolution of clock ticks; a touched file must be newer than it.
    std::thread::sleep(Duration::from_millis(1100));
    ok(&lab.exec(
        "cp2",
        "echo '# changed by hand' >> /etc/kubernetes/audit/policy.yaml",
    ));
    ok(&lab.exec("cp3", "touch /etc/kubernetes/audit/policy.yaml"));
    let o = lab.run(&["up", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    let ev = last_journal(&lab);
    assert_in_order(
        &ev,
        &[
            ("cp2", "cluster/security-files/cp2"),
            ("cp3", "cluster/security-files/cp3"),
        ],
    );
    let after: BTreeMap<&str, String> = CPS
        .iter()
        .map(|cp| (*cp, lab.apiserver_start(cp)))
        .collect();
    assert_eq!(
        before["cp1"], after["cp1"],
        "cp1's API server was restarted"
    );
    assert_ne!(
        before["cp2"], after["cp2"],
        "cp2's API server was not restarted"
    );
    assert_ne!(
        before["cp3"], after["cp3"],
        "cp3's API server was not restarted"
    );
    let policy = ok(&lab.exec("cp2", "cat /etc/kubernetes/audit/policy.yaml"));
    assert!(!policy.contains("changed by hand"), "{policy}");
    let o = lab.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // 4. Logs: real kubelet journal entries from every Kubernetes node, merged in time order,
    // in each output format.
    let o = lab.run(&[
        "logs", "--unit", "kubelet", "-n", "20", "--format", "ndjson",
    ]);
    let records: Vec<Value> = ok(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let from: BTreeSet<&str> = records.iter().filter_map(|r| r["host"].as_str()).collect();
    for node in &five {
        assert!(
            from.contains(node.as_str()),
            "no kubelet entries from {node}"
        );
    }
    let times: Vec<&str> = records.iter().filter_map(|r| r["ts"].as_str()).collect();
    assert_eq!(times.len(), records.len(), "every entry has a time");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "not in time order");
    for format in ["csv", "logfmt", "text"] {
        let o = lab.run(&["logs", "--unit", "kubelet", "-n", "5", "--format", format]);
        let out = ok(&o);
        assert!(out.contains("cp3") && out.contains("w2"), "{format}: {out}");
    }

    // 5. Addons switched on: `plan` shows every addon to apply, `up` applies them all, and the
    // next `up` applies nothing.
    lab.write_inventory(&LATE_WORKERS, &base(&parser("[A-Z]+")));
    let plan = plan_json(&lab);
    let to_apply: Vec<&str> = plan["addons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["changes"] == true)
        .filter_map(|a| a["summary"].as_str())
        .collect();
    assert_eq!(to_apply.len(), 3, "{plan:#}");
    let o = lab.run(&["up", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    let record = lab.kubectl("cp1", "-n kube-system get cm otp-provision-addons -o json");
    for addon in ["metrics", "metrics-server", "logging"] {
        assert!(record.contains(addon), "{addon} missing in {record}");
    }
    lab.kubectl("cp1", "-n monitoring get deployment prometheus");
    lab.kubectl("cp1", "-n logging-agents get daemonset fluent-bit");
    let fluent_config = lab.kubectl("cp1", "-n logging-agents get cm fluent-bit-config -o yaml");
    assert!(fluent_config.contains("bank_app"), "{fluent_config}");

    lab.up_nothing_to_do();

    // 6. One parser changes: only Fluent Bit's configuration is applied again.
    lab.write_inventory(&LATE_WORKERS, &base(&parser("[A-Za-z]+")));
    let template_before = lab.kubectl(
        "cp1",
        "-n logging-agents get daemonset fluent-bit -o jsonpath={.spec.template.metadata.annotations}",
    );
    let plan = plan_json(&lab);
    assert_eq!(planned_hosts(&plan), BTreeSet::new(), "{plan:#}");
    let changed: Vec<&Value> = plan["addons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["changes"] == true)
        .collect();
    assert_eq!(changed.len(), 1, "{plan:#}");
    let summary = changed[0]["summary"].as_str().unwrap();
    // Only Fluent Bit: its configuration and the DaemonSet whose pod template carries the
    // configuration's hash (so its pods restart).
    assert!(summary.starts_with("logging: 2 to apply:"), "{summary}");
    assert!(
        summary.contains("ConfigMap logging-agents/fluent-bit-config (changed)")
            && summary.contains("DaemonSet logging-agents/fluent-bit (changed)"),
        "{summary}"
    );
    let o = lab.run(&["up", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    let fluent_config = lab.kubectl("cp1", "-n logging-agents get cm fluent-bit-config -o yaml");
    assert!(fluent_config.contains("[A-Za-z]+"), "{fluent_config}");
    let template_after = lab.kubectl(
        "cp1",
        "-n logging-agents get daemonset fluent-bit -o jsonpath={.spec.template.metadata.annotations}",
    );
    assert_ne!(
        template_before, template_after,
        "the pod template must change so the DaemonSet restarts its pods"
    );
    let o = lab.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // 7. Logging switched off: every logging object is pruned.
    lab.write_inventory(
        &LATE_WORKERS,
        &format!(
            "{}{}",
            ADDONS.split("[addons.logging]").next().unwrap(),
            parser("[A-Za-z]+")
        ),
    );
    let plan = plan_json(&lab);
    let pruning = plan["addons"].as_array().unwrap().iter().any(|a| {
        a["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("logging: switched off"))
    });
    assert!(pruning, "{plan:#}");
    let o = lab.run(&["up", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    for kind in [
        "namespaces",
        "statefulsets",
        "deployments",
        "daemonsets",
        "services",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "roles",
        "rolebindings",
        "clusterroles",
        "clusterrolebindings",
        "networkpolicies",
    ] {
        // Deletion is asynchronous (--wait=false; namespaces terminate in the background).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = lab.kubectl(
                "cp1",
                &format!("get {kind} -A -l otp-provision.io/addon=logging -o name"),
            );
            if left.trim().is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "logging {kind} left: {left}");
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    let o = lab.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // 8. VIP failover: the load balancer holding the VIP stops; the endpoint keeps answering.
    let holder = lab.vip_holder();
    assert_eq!(holder.len(), 1, "exactly one load balancer holds the VIP");
    lab::stop(&opts, &holder[0]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lab.endpoint_ready("w1") {
        assert!(
            Instant::now() < deadline,
            "endpoint down after stopping {}",
            holder[0]
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    // A node that is down is named; the others' logs still come.
    let o = lab.run(&["logs", "--unit", "kubelet", "-n", "5", "--format", "logfmt"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("no logs from {}", holder[0])),
        "{}",
        text(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("host=cp1"),
        "{}",
        text(&o)
    );
    let other = if holder[0] == "lb1" { "lb2" } else { "lb1" };
    assert_eq!(lab.vip_holder(), [other.to_string()]);
    lab::start(&opts, &holder[0]).unwrap();

    // 9. Two workers added: the plan touches only them and one control plane (the token);
    //    w4 stops mid-run, the run names it, w3's work stays, and the next `up` converges.
    let no_logging = format!(
        "{}{}",
        ADDONS.split("[addons.logging]").next().unwrap(),
        parser("[A-Za-z]+")
    );
    // w3 carries a package that an interrupted dpkg left unpacked but not configured (its
    // configuration script never ran): apt refuses to install until it is finished.
    ok(&lab.exec("w3", HALF_INSTALLED_PACKAGE));
    lab.write_inventory(&[], &no_logging);
    let plan = plan_json(&lab);
    let hosts = planned_hosts(&plan);
    let cp_hosts: Vec<&String> = hosts.iter().filter(|h| h.starts_with("cp")).collect();
    assert_eq!(cp_hosts.len(), 1, "{hosts:?}");
    let others: BTreeSet<&str> = hosts
        .iter()
        .filter(|h| !h.starts_with("cp"))
        .map(String::as_str)
        .collect();
    assert!(
        others.iter().all(|h| ["w3", "w4", "(local)"].contains(h)),
        "{hosts:?}"
    );
    assert!(others.contains("w3") && others.contains("w4"), "{hosts:?}");
    let token_steps: Vec<&Value> = plan["cluster"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["host"].as_str().unwrap().starts_with("cp"))
        .filter(|s| s["id"].as_str().unwrap().contains("token"))
        .collect();
    assert!(!token_steps.is_empty(), "{plan:#}");

    let before = lab.journals();
    let (mut child, out, err) = lab.spawn_up("add workers w4 stopped");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let events = lab.new_journal(&before);
        if events
            .iter()
            .any(|e| e["event"] == "exec" && e["host"] == "w4" && e["changes"] == true)
        {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "up ended early");
        assert!(Instant::now() < deadline, "w4 never started changing");
        std::thread::sleep(Duration::from_millis(200));
    }
    lab::stop(&opts, "w4").unwrap();
    let status = child.wait().unwrap();
    let all = format!(
        "{}{}",
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&err).unwrap()
    );
    assert_eq!(status.code(), Some(1), "{all}");
    assert!(all.contains("w4"), "the failure must name w4: {all}");
    lab::start(&opts, "w4").unwrap();
    let o = lab.run(&["up", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    let seven: BTreeSet<String> = five
        .iter()
        .cloned()
        .chain(LATE_WORKERS.map(String::from))
        .collect();
    assert_eq!(lab.ready_nodes("cp2"), seven);
    let o = lab.exec(
        "w3",
        "dpkg-query -W -f='${db:Status-Status}' otp-it-halfdone; echo; cat /var/lib/otp-it-configured",
    );
    assert_eq!(
        ok(&o).lines().collect::<Vec<_>>(),
        ["installed", "configured"],
        "the half-installed package was not finished"
    );
    let o = lab.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // 9b. A changed kubernetes_version on the converged cluster is refused until upgrades
    //     exist: `plan` and `up` exit 2, nothing on any host changes.
    version_change_is_refused(&lab);

    // 10. remove-node of a worker and of a control plane leaves a healthy cluster.
    let o = lab.run(&["remove-node", "w4", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = lab.run(&["remove-node", "cp3", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    let left: BTreeSet<String> = ["cp1", "cp2", "w1", "w2", "w3"].map(String::from).into();
    // Connections that reach cp3's API server through the VIP just before it goes end with it,
    // as on real servers; clients retry, and haproxy's health check drops cp3 within seconds.
    for cp in ["cp1", "cp2"] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let o = lab.exec(
                cp,
                "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers",
            );
            if o.status.success() && ready_in(&String::from_utf8_lossy(&o.stdout)) == left {
                break;
            }
            assert!(Instant::now() < deadline, "{cp}: {}", text(&o));
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let etcd = ok(&lab.exec(
        "cp1",
        "cid=$(crictl ps -q --name '^etcd$' | head -n1); crictl exec \"$cid\" etcdctl \
         --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt \
         --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
         --key=/etc/kubernetes/pki/etcd/healthcheck-client.key member list",
    ));
    assert_eq!(etcd.lines().count(), 2, "{etcd}");
    assert!(!etcd.contains("cp3"), "{etcd}");
    let o = lab.exec(
        "cp3",
        "test -e /etc/kubernetes/admin.conf || test -e /var/lib/etcd/member",
    );
    assert!(!o.status.success(), "cp3 still holds cluster state");
    assert!(lab.endpoint_ready("w1"));
    // The operator takes them out of the inventory; `up` drops cp3 from the load balancers'
    // backends and then nothing is left to do.
    lab.write_inventory(&["w4", "cp3"], &no_logging);
    let plan = plan_json(&lab);
    assert_eq!(
        planned_hosts(&plan),
        ["lb1", "lb2"].map(String::from).into(),
        "{plan:#}"
    );
    let o = lab.run(&["up", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(lab.endpoint_ready("w1"));
    let o = lab.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The secrets this story's runs handed to the nodes: every bootstrap token and certificate
    // key the stand-in kubeadm was given (it notes them, lab only), and the encryption key.
    let mut secrets: BTreeSet<String> = BTreeSet::new();
    for node in lab.addresses.keys().filter(|n| !n.starts_with("lb")) {
        let o = lab.exec(
            node,
            "cat /var/lib/otp-lab/secrets-seen 2>/dev/null || true",
        );
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            // A token's secret half is what grants access; its id is public.
            let secret = line.split_once('.').map_or(line, |(_, s)| s).trim();
            if !secret.is_empty() {
                secrets.insert(secret.to_string());
            }
        }
    }
    let tokens_and_keys = secrets.len();
    let enc = ok(&lab.exec("cp1", "cat /etc/kubernetes/enc/encryption-config.yaml"));
    for line in enc.lines() {
        if let Some(key) = line.trim().strip_prefix("secret:") {
            secrets.insert(key.trim().trim_matches('"').to_string());
        }
    }
    assert!(
        tokens_and_keys >= 2 && secrets.len() > tokens_and_keys,
        "too few secrets to search for: {} tokens/keys, {} in all",
        tokens_and_keys,
        secrets.len()
    );

    // 11. reset --yes: every node back to "prepared" as the README says, file by file and
    //     service by service; the operator's kubeconfig gone.
    let o = lab.run(&["reset", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    for node in ["cp1", "cp2", "w1", "w2", "w3"] {
        let o = lab.exec(node, RESET_CHECK_NODE);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success() && out.trim() == "checked",
            "{node} after reset:\n{}",
            text(&o)
        );
    }
    for lb in ["lb1", "lb2"] {
        let o = lab.exec(lb, RESET_CHECK_LB);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success() && out.trim() == "checked",
            "{lb} after reset:\n{}",
            text(&o)
        );
    }
    assert!(!kubeconfig.exists(), "the operator kubeconfig must go");

    // 12. No secret of any run in any run's stdout, stderr or journal (the killed runs' too).
    let mut searched = 0;
    let dirs = [lab.dir.join("outputs"), lab.state_dir().join("runs")];
    for dir in &dirs {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret ({}...) is in {}",
                    &secret[..4],
                    path.display()
                );
            }
            searched += 1;
        }
    }
    eprintln!(
        "searched {searched} outputs and journals for {} secrets",
        secrets.len()
    );
}

/// A package unpacked but never configured, as a dpkg killed between the two leaves it.
const HALF_INSTALLED_PACKAGE: &str = r#"
set -e
d=$(mktemp -d)
mkdir -p "$d/DEBIAN"
printf 'Package: otp-it-halfdone\nVersion: 1\nArchitecture: all\nMaintainer: otp-provision tests <root@localhost>\nDescription: left unconfigured by an interrupted dpkg\n' > "$d/DEBIAN/control"
printf '#!/bin/sh\nset -e\n[ "$1" = configure ] && echo configured > /var/lib/otp-it-configured\nexit 0\n' > "$d/DEBIAN/postinst"
chmod 755 "$d/DEBIAN/postinst"
dpkg-deb --build "$d" /tmp/otp-it-halfdone.deb >/dev/null
dpkg --unpack /tmp/otp-it-halfdone.deb >/dev/null
test "$(dpkg-query -W -f='${db:Status-Status}' otp-it-halfdone)" = unpacked
"#;

/// After `reset`, on a Kubernetes node: what the README says goes is gone, what it says stays
/// is there. Prints `checked`, or one line per difference and fails.
const RESET_CHECK_NODE: &str = r#"
bad=0
gone() { for p in "$@"; do if [ -e "$p" ] && [ -n "$(ls -A "$p" 2>/dev/null || echo file)" ]; then echo "left: $p"; bad=1; fi; done; }
kept() { for p in "$@"; do if [ ! -s "$p" ]; then echo "lost: $p"; bad=1; fi; done; }
gone /etc/kubernetes/manifests /var/lib/etcd /etc/kubernetes/pki      /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/kubelet.conf      /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/controller-manager.conf      /etc/kubernetes/scheduler.conf /etc/cni/net.d /var/lib/cni /run/otp-provision      /etc/kubernetes/audit /etc/kubernetes/enc /etc/kubernetes/admission /etc/kubernetes/auth      /etc/kubernetes/otp-provision
kept /etc/containerd/config.toml /etc/crictl.yaml /etc/modules-load.d/k8s.conf      /etc/sysctl.d/99-kubernetes.conf /etc/apt/sources.list.d/kubernetes.list
for p in kubeadm kubelet kubectl containerd; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || { echo "not installed: $p"; bad=1; }
done
for p in kubeadm kubelet kubectl; do
  apt-mark showhold | grep -qx "$p" || { echo "not held: $p"; bad=1; }
done
[ "$(systemctl is-active containerd)" = active ] || { echo "containerd not running"; bad=1; }
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || { echo "sysctl ip_forward lost"; bad=1; }
[ $bad = 0 ] && echo checked
"#;

/// After `reset`, on a load balancer: haproxy and keepalived stopped, not started at boot, their
/// packages kept, and exactly the files the endpoint playbook wrote gone (no VIP may come back).
const RESET_CHECK_LB: &str = r#"
bad=0
for s in haproxy keepalived; do
  [ "$(systemctl is-active "$s")" != active ] || { echo "$s still running"; bad=1; }
  [ "$(systemctl is-enabled "$s" 2>/dev/null)" != enabled ] || { echo "$s still enabled"; bad=1; }
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$s" 2>/dev/null)" = installed ] || { echo "not installed: $s"; bad=1; }
done
for f in /etc/keepalived/keepalived.conf /etc/keepalived/check_apiserver.sh /etc/haproxy/haproxy.cfg; do
  [ ! -e "$f" ] || { echo "left: $f"; bad=1; }
done
[ $bad = 0 ] && echo checked
"#;

/// A changed `kubernetes_version` on a converged cluster (issue 11 item 6): `plan` and
/// `up --yes` exit 2 naming the running and the requested version and what to do, and no
/// command that changes a host runs (the facts are still read).
fn version_change_is_refused(lab: &Lab) {
    let current = std::fs::read_to_string(&lab.inventory).unwrap();
    let from = "kubernetes_version = \"1.33.4\"";
    assert!(current.contains(from), "{current}");
    std::fs::write(
        &lab.inventory,
        current.replace(from, "kubernetes_version = \"1.34.1\""),
    )
    .unwrap();
    for args in [&["plan"][..], &["up", "--yes"]] {
        let before = lab.journals();
        let o = lab.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        for want in [
            "step cluster/version",
            "the running cluster reports Kubernetes 1.33.4 on",
            "the inventory asks for 1.34.1",
            "set cluster.kubernetes_version back to \"1.33.4\" until upgrades are supported",
        ] {
            assert!(
                err.contains(want),
                "{args:?}: missing {want:?}: {}",
                text(&o)
            );
        }
        let events = lab.new_journal(&before);
        assert!(
            events.iter().any(|e| e["event"] == "exec"),
            "{args:?}: the facts were not read: {events:?}"
        );
        let changing: Vec<&Value> = events
            .iter()
            .filter(|e| e["event"] == "exec" && e["changes"] == true)
            .collect();
        assert!(changing.is_empty(), "{args:?} changed hosts: {changing:?}");
    }
    for node in ["cp1", "w1", "w3"] {
        let v = ok(&lab.exec(node, "dpkg-query -W -f='${Version}\\n' kubelet kubeadm"));
        assert!(
            v.lines().all(|l| l.starts_with("1.33.4")),
            "{node}: packages changed: {v}"
        );
    }
    std::fs::write(&lab.inventory, current).unwrap();
    let o = lab.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
