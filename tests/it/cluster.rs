//! The main job end to end in the container lab: fresh nodes to a highly available cluster with
//! its addons, runs killed at five points and completed by the next `up`, a no-op second run
//! checked from the run journal, addon changes, VIP failover, two workers added (one of them
//! stopped mid-run), remove-node of a worker and a control plane, and `reset --yes`.
//!
//! One lab for the whole story (each chapter starts from the previous one's cluster); the lab's
//! Kubernetes binaries are the strict stand-ins of lab/standins.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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
        self.otp(args).output().expect("run otp-provision")
    }

    /// `docker exec` as root on a node: the test looks at nodes as their administrator would.
    fn exec(&self, node: &str, script: &str) -> Output {
        Command::new("docker")
            .args([
                "exec",
                &format!("{}-{node}", self.opts.name),
                "sh",
                "-c",
                script,
            ])
            .output()
            .expect("docker exec")
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
        let log = self
            .dir
            .join(format!("killed-{}.log", what.replace(' ', "-")));
        let mut child: Child = self
            .otp(&["up", "--yes"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
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
    };
    let base = |extra: &str| format!("{ADDONS}{extra}");
    lab.write_inventory(&LATE_WORKERS, &parser("[A-Z]+"));

    // 1. Killed at five points; each next `up` gets past the previous point.
    lab.up_killed_when("mid node prep", |_, ev| {
        ev.iter()
            .filter(|e| e["event"] == "exec" && e["changes"] == true)
            .count()
            >= 4
    });
    lab.up_killed_when("mid init", |lab, _| lab.running("cp1", "init"));
    // A killed command goes on running on its host and the next run waits for it (host lock):
    // the later kill points are therefore states of the cluster, not steps of one run.
    lab.up_killed_when("after init", |lab, ev| {
        let gathered = ev
            .iter()
            .filter(|e| e["event"] == "exec" && e["step"] == "facts")
            .count()
            >= 7;
        gathered && lab.registered("cp1").is_some_and(|n| n.len() == 1)
    });
    lab.up_killed_when("between control-plane joins", |lab, _| {
        lab.registered("cp1")
            .is_some_and(|n| n.iter().filter(|n| n.starts_with("cp")).count() == 2)
    });
    lab.up_killed_when("mid worker joins", |lab, _| {
        lab.running("w1", "join") || lab.running("w2", "join")
    });
    let o = lab.run(&["up", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));

    // 2. Every control plane sees the five nodes Ready.
    let five: BTreeSet<String> = ["cp1", "cp2", "cp3", "w1", "w2"].map(String::from).into();
    for cp in CPS {
        assert_eq!(lab.ready_nodes(cp), five, "as seen from {cp}");
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
    let o = Command::new("docker")
        .args([
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
    let mut child = lab
        .otp(&["up", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
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
    let o = lab.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

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

    // 11. reset --yes: every node back to "prepared", packages kept, the kubeconfig gone.
    let o = lab.run(&["reset", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    for node in ["cp1", "cp2", "w1", "w2", "w3"] {
        let o = lab.exec(
            node,
            "ls /etc/kubernetes/manifests /var/lib/etcd 2>/dev/null; \
             for f in admin.conf kubelet.conf super-admin.conf pki/ca.crt; do \
               test -e /etc/kubernetes/$f && echo left: $f; done; \
             dpkg-query -W -f='${db:Status-Status}\\n' kubeadm kubelet containerd",
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!out.contains("left:"), "{node}: {out}");
        assert_eq!(
            out.lines().filter(|l| *l == "installed").count(),
            3,
            "{node} lost packages: {out}"
        );
    }
    assert!(!kubeconfig.exists(), "the operator kubeconfig must go");
}
