//! Addon rendering snapshots and planner tables.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::state::PROBED;
use super::*;
use crate::inventory::{Inventory, load_with_home};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/inventory/example.toml");

pub(crate) fn example() -> Inventory {
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    load_with_home(Path::new(EXAMPLE), &text, Some(PathBuf::from("/home/op")))
        .unwrap_or_else(|e| panic!("example inventory: {e}"))
        .inventory
}

/// The example inventory with its `[addons]` section replaced.
fn with_addons(addons: &str) -> Inventory {
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let base = &text[..text.find("\n[addons]\n").unwrap() + 1];
    let text = format!("{base}{addons}");
    load_with_home(Path::new(EXAMPLE), &text, Some(PathBuf::from("/home/op")))
        .unwrap_or_else(|e| panic!("inventory: {e}\n{text}"))
        .inventory
}

pub(crate) fn sample_parsers() -> Vec<LogParser> {
    vec![
        LogParser {
            name: "bank_app".into(),
            regex: r"^(?<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) +(?<level>[A-Z]+) +\[(?<thread>[^\]]*)\] +txn=(?<txn_id>[A-Za-z0-9-]+) +(?<logger>[\w.$]+) - (?<message>.*)$".into(),
            time_key: Some("time".into()),
            time_format: Some("%Y-%m-%dT%H:%M:%S.%LZ".into()),
            time_keep: true,
            namespaces: vec!["payments".into()],
            containers: vec![],
        },
        LogParser {
            name: "nginx_access".into(),
            regex: r#"^(?<remote>[^ ]*) - (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+) (?<path>[^"]*) HTTP/[0-9.]+" (?<code>\d{3}) (?<size>\d+)"#.into(),
            time_key: Some("time".into()),
            time_format: Some("%d/%b/%Y:%H:%M:%S %z".into()),
            time_keep: false,
            namespaces: vec!["web".into(), "edge".into()],
            containers: vec!["nginx".into()],
        },
    ]
}

/// scripts/validate-addons reads the rendered set from `$OTP_ADDONS_RENDER_OUT/<case>/`.
fn export(d: &Path, r: &RenderedAddon) {
    std::fs::create_dir_all(d.join("files")).unwrap();
    std::fs::write(d.join("manifest.yaml"), r.display_manifest()).unwrap();
    for (name, text) in &r.files {
        std::fs::write(d.join("files").join(name), text).unwrap();
    }
}

fn rendered(inv: &Inventory) -> Vec<RenderedAddon> {
    render(inv, &sample_parsers()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn snapshot_every_addon_of_the_example() {
    let inv = example();
    let all = rendered(&inv);
    assert_eq!(
        all.iter().map(|r| r.name).collect::<Vec<_>>(),
        AddonName::ALL.to_vec()
    );
    let out = std::env::var_os("OTP_ADDONS_RENDER_OUT").map(PathBuf::from);
    for r in &all {
        insta::assert_snapshot!(format!("example_{}", r.name), r.display_manifest());
        for (name, text) in &r.files {
            insta::assert_snapshot!(format!("example_{}_file_{name}", r.name), text);
        }
        if let Some(dir) = &out {
            export(&dir.join(r.name.as_str()), r);
        }
    }
}

#[test]
fn variants_render_single_node_email_and_mirror() {
    let inv = with_addons(
        r#"[addons]
registry_mirror = "registry.bank.example/mirror/"
images = { fluent-bit = "registry.bank.example/fb:4.0.3-patched" }
[addons.metrics]
persistent = false
storage_size = "10Gi"
scrape_etcd = false
[addons.metrics.alertmanager]
receiver = "email"
to = "ops@bank.example"
from = "alertmanager@bank.example"
smarthost = "smtp.bank.example:587"
auth_username = "alertmanager"
auth_password_secret = "alertmanager-smtp"
[addons.metrics_server]
replicas = 1
csr_approver = false
[addons.logging]
replicas = 1
persistent = false
heap = "512m"
dashboards = false
"#,
    );
    let all = render(&inv, &[]).unwrap();
    let out = std::env::var_os("OTP_ADDONS_RENDER_OUT").map(PathBuf::from);
    for r in &all {
        insta::assert_snapshot!(format!("variant_{}", r.name), r.display_manifest());
        if let Some(dir) = &out {
            export(&dir.join(format!("variant-{}", r.name)), r);
        }
    }
    let metrics = all.iter().find(|r| r.name == AddonName::Metrics).unwrap();
    insta::assert_snapshot!(
        "variant_alertmanager_yml",
        metrics.files["alertmanager.yml"].as_str()
    );
    assert!(!metrics.files["prometheus.yml"].contains("job_name: etcd"));
    let text: String = all.iter().map(|r| r.display_manifest()).collect();
    assert!(text.contains("registry.bank.example/mirror/prometheus/prometheus:v3.5.0"));
    assert!(text.contains("registry.bank.example/fb:4.0.3-patched"));
    assert!(!text.contains("quay.io") && !text.contains("docker.io"));
    assert!(!text.contains("kubelet-csr-approver"));
    assert!(!text.contains("opensearch-dashboards-config"));
    assert!(text.contains("discovery.type: single-node"));
}

#[test]
fn every_object_is_labelled_and_every_kind_is_probed() {
    let inv = example();
    let probed: BTreeSet<(String, String)> = PROBED
        .iter()
        .map(|(g, k)| (g.to_string(), k.to_string()))
        .collect();
    for r in rendered(&inv) {
        for o in &r.objects {
            let v: serde_json::Value = serde_norway::from_str(&o.yaml).unwrap();
            let labels = &v["metadata"]["labels"];
            assert_eq!(labels[MANAGED_BY_LABEL], MANAGED_BY, "{}", o.id);
            assert_eq!(labels[ADDON_LABEL], r.name.as_str(), "{}", o.id);
            assert!(
                probed.contains(&(o.id.group.clone(), o.id.kind.clone())),
                "{} is rendered but the probe does not list its kind: it could never be pruned",
                o.id
            );
            assert_eq!(o.hash.len(), 64);
        }
        for s in &r.secrets {
            assert!(
                s.namespace == "kube-system"
                    || r.objects
                        .iter()
                        .any(|o| o.id.kind == "Namespace" && o.id.name == s.namespace),
                "secret {}/{} lives in a namespace its addon does not create",
                s.namespace,
                s.name
            );
        }
    }
}

#[test]
fn no_secret_value_is_rendered() {
    let inv = example();
    for r in rendered(&inv) {
        let text = r.display_manifest();
        assert!(
            !text.contains("BEGIN "),
            "{}: PEM material in the manifest",
            r.name
        );
        for s in &r.secrets {
            let v = s.placeholder(r.name.as_str());
            for (k, val) in v["stringData"].as_object().unwrap() {
                let val = val.as_str().unwrap();
                assert!(
                    val.starts_with("<generated at apply time") || k == "username",
                    "{}/{} key {k} = {val}",
                    s.namespace,
                    s.name
                );
            }
        }
    }
}

#[test]
fn hashes_are_stable_and_follow_content() {
    let inv = example();
    let a = rendered(&inv);
    let b = rendered(&inv);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.hash, y.hash);
    }
    // A parser change touches only the Fluent Bit ConfigMap and (through the config hash) the
    // DaemonSet's pod template.
    let mut parsers = sample_parsers();
    parsers[0].regex.push('x');
    let c = render(&inv, &parsers).unwrap();
    for (x, y) in a.iter().zip(&c) {
        let changed: Vec<String> = x
            .objects
            .iter()
            .zip(&y.objects)
            .filter(|(o, p)| o.hash != p.hash)
            .map(|(o, _)| o.id.to_string())
            .collect();
        if x.name == AddonName::Logging {
            assert_ne!(x.hash, y.hash);
            assert_eq!(
                changed,
                [
                    "ConfigMap logging-agents/fluent-bit-config",
                    "DaemonSet logging-agents/fluent-bit"
                ]
            );
        } else {
            assert_eq!(x.hash, y.hash, "{}", x.name);
            assert!(changed.is_empty());
        }
    }
}

#[test]
fn parser_filters_select_namespace_and_container() {
    let p = &sample_parsers()[1];
    let re = p.match_regex();
    assert_eq!(
        re,
        r"^kube\.var\.log\.containers\.[^_]+_(web|edge)_(nginx)-[0-9a-f]{64}\.log$"
    );
    let any = LogParser {
        namespaces: vec![],
        containers: vec![],
        ..p.clone()
    };
    assert_eq!(
        any.match_regex(),
        r"^kube\.var\.log\.containers\.[^_]+_[^_]+_[^_]+-[0-9a-f]{64}\.log$"
    );
}

// ------------------------------------------------------------------------------------------
// Planner

fn live_from(
    addons: &[RenderedAddon],
    extra: &[(&str, &str, &str, Option<&str>, &str)],
) -> LiveAddonState {
    let mut s = LiveAddonState {
        reachable: true,
        ..Default::default()
    };
    for r in addons {
        for o in &r.objects {
            s.objects.push(LiveObject {
                id: o.id.clone(),
                api_version: o.api_version.clone(),
                addon: Some(r.name.as_str().into()),
            });
        }
        for id in r.owned_ids().into_iter().filter(|i| i.kind == "Secret") {
            if !s.objects.iter().any(|o| o.id == id) {
                s.objects.push(LiveObject {
                    id,
                    api_version: "v1".into(),
                    addon: Some(r.name.as_str().into()),
                });
            }
        }
        s.records.insert(
            r.name.as_str().into(),
            Record {
                hash: r.hash.clone(),
                objects: r
                    .objects
                    .iter()
                    .map(|o| (o.id.key(), o.hash.clone()))
                    .collect(),
            },
        );
    }
    for (addon, api, kind, ns, name) in extra {
        s.objects.push(LiveObject {
            id: render::ObjectId::from_api_version(api, kind, *ns, name),
            api_version: api.to_string(),
            addon: Some(addon.to_string()),
        });
    }
    s
}

fn kinds(steps: &[AddonPlan]) -> Vec<(AddonName, AddonChange)> {
    steps.iter().map(|s| (s.addon, s.kind)).collect()
}

#[test]
fn planner_table() {
    use AddonChange::*;
    use AddonName::*;
    let inv = example();
    let parsers = sample_parsers();
    let now = rendered(&inv);
    let only_metrics = with_addons("[addons]\n[addons.metrics]\n");
    let nothing = with_addons("[addons]\n");

    struct Case {
        name: &'static str,
        inv: Inventory,
        live: LiveAddonState,
        want: Vec<(AddonName, AddonChange)>,
        /// (addon, objects to apply, objects to prune, secrets to create)
        counts: Vec<(AddonName, usize, usize, usize)>,
    }
    let fresh_counts: Vec<_> = now
        .iter()
        .map(|r| (r.name, r.objects.len(), 0, r.secrets.len()))
        .collect();
    let mut drifted = live_from(&now, &[]);
    // Someone deleted the Prometheus Service; a stale object of an older release lingers.
    drifted
        .objects
        .retain(|o| !(o.id.kind == "Service" && o.id.name == "prometheus"));
    drifted.objects.push(LiveObject {
        id: render::ObjectId::from_api_version("v1", "ConfigMap", Some("monitoring"), "old-rules"),
        api_version: "v1".into(),
        addon: Some("metrics".into()),
    });
    let mut changed_parser = live_from(&now, &[]);
    {
        let mut p2 = parsers.clone();
        p2[1].containers.push("envoy".into());
        let before = render(&inv, &p2).unwrap();
        changed_parser.records.insert(
            "logging".into(),
            Record {
                hash: before[2].hash.clone(),
                objects: before[2]
                    .objects
                    .iter()
                    .map(|o| (o.id.key(), o.hash.clone()))
                    .collect(),
            },
        );
    }
    let mut secret_lost = live_from(&now, &[]);
    secret_lost
        .objects
        .retain(|o| !(o.id.kind == "Secret" && o.id.name == "opensearch-admin"));
    let logging_objects = now[2].objects.len() + now[2].secrets.len();

    let cases = vec![
        Case {
            name: "fresh cluster: everything new",
            inv: inv.clone(),
            live: LiveAddonState {
                reachable: true,
                ..Default::default()
            },
            want: vec![(MetricsServer, Apply), (Metrics, Apply), (Logging, Apply)],
            counts: fresh_counts,
        },
        Case {
            name: "second run: nothing to do",
            inv: inv.clone(),
            live: live_from(&now, &[]),
            want: vec![
                (MetricsServer, Unchanged),
                (Metrics, Unchanged),
                (Logging, Unchanged),
            ],
            counts: vec![
                (MetricsServer, 0, 0, 0),
                (Metrics, 0, 0, 0),
                (Logging, 0, 0, 0),
            ],
        },
        Case {
            name: "deleted object re-applied, stale object pruned",
            inv: inv.clone(),
            live: drifted,
            want: vec![
                (MetricsServer, Unchanged),
                (Metrics, Apply),
                (Logging, Unchanged),
            ],
            counts: vec![(Metrics, 1, 1, 0)],
        },
        Case {
            name: "one parser changed: Fluent Bit config and DaemonSet only",
            inv: inv.clone(),
            live: changed_parser,
            want: vec![
                (MetricsServer, Unchanged),
                (Metrics, Unchanged),
                (Logging, Apply),
            ],
            counts: vec![(Logging, 2, 0, 0)],
        },
        Case {
            name: "a generated secret was deleted: regenerated, nothing re-applied",
            inv: inv.clone(),
            live: secret_lost,
            want: vec![
                (MetricsServer, Unchanged),
                (Metrics, Unchanged),
                (Logging, Apply),
            ],
            counts: vec![(Logging, 0, 0, 1)],
        },
        Case {
            name: "logging and metrics-server switched off: removed",
            inv: only_metrics.clone(),
            live: live_from(&now, &[]),
            want: vec![(MetricsServer, Remove), (Metrics, Apply), (Logging, Remove)],
            counts: vec![(Logging, 0, logging_objects, 0)],
        },
        Case {
            name: "all off, cluster clean",
            inv: nothing.clone(),
            live: LiveAddonState {
                reachable: true,
                ..Default::default()
            },
            want: vec![(MetricsServer, Off), (Metrics, Off), (Logging, Off)],
            counts: vec![],
        },
        Case {
            name: "all off, only a record left: removed (record dropped)",
            inv: nothing,
            live: {
                let mut l = LiveAddonState {
                    reachable: true,
                    ..Default::default()
                };
                l.records.insert("metrics".into(), Record::default());
                l
            },
            want: vec![(MetricsServer, Off), (Metrics, Remove), (Logging, Off)],
            counts: vec![(Metrics, 0, 0, 0)],
        },
        Case {
            name: "API not reachable yet: records unknown, everything new",
            inv: only_metrics,
            live: LiveAddonState::default(),
            want: vec![(MetricsServer, Off), (Metrics, Apply), (Logging, Off)],
            counts: vec![],
        },
    ];
    for c in cases {
        let steps =
            plan_with(&c.inv, &parsers, &c.live).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(kinds(&steps), c.want, "{}", c.name);
        for (addon, apply, prune, secrets) in c.counts {
            let s = steps.iter().find(|s| s.addon == addon).unwrap();
            assert_eq!(
                (s.apply.len(), s.prune.len(), s.secrets_to_create.len()),
                (apply, prune, secrets),
                "{}: {} -> {}",
                c.name,
                addon,
                s.summary()
            );
        }
        for s in &steps {
            assert_eq!(
                s.apply_script().is_some(),
                s.changes(),
                "{}: {}",
                c.name,
                s.addon
            );
        }
    }
}

#[test]
fn changed_objects_are_named_with_reasons() {
    let inv = example();
    let now = rendered(&inv);
    let mut live = live_from(
        &now,
        &[(
            "metrics",
            "apps/v1",
            "Deployment",
            Some("monitoring"),
            "grafana",
        )],
    );
    live.records.get_mut("metrics").unwrap().objects.insert(
        "core/ConfigMap/monitoring/prometheus-config".into(),
        "old".into(),
    );
    let steps = plan_with(&inv, &sample_parsers(), &live).unwrap();
    let m = steps
        .iter()
        .find(|s| s.addon == AddonName::Metrics)
        .unwrap();
    assert_eq!(
        m.summary(),
        "metrics: 1 to apply: ConfigMap monitoring/prometheus-config (changed); 1 to prune: Deployment monitoring/grafana"
    );
    let step = m.to_step();
    assert!(step.change);
    assert_eq!(step.id, "addons/metrics");
}

#[test]
fn apply_scripts() {
    let inv = example();
    let now = rendered(&inv);
    // Metrics: one changed ConfigMap and one object to prune.
    let mut live = live_from(
        &now,
        &[(
            "metrics",
            "apps/v1",
            "Deployment",
            Some("monitoring"),
            "grafana",
        )],
    );
    live.records.get_mut("metrics").unwrap().objects.insert(
        "core/ConfigMap/monitoring/alertmanager-config".into(),
        "old".into(),
    );
    let steps = plan_with(&inv, &sample_parsers(), &live).unwrap();
    let script = steps[1].apply_script().unwrap();
    insta::assert_snapshot!("apply_metrics_changed_and_pruned", script);
    // Fresh logging: manifests, secrets generated on the node, record.
    let fresh = plan_with(&inv, &sample_parsers(), &LiveAddonState::default()).unwrap();
    let logging = fresh[2].apply_script().unwrap();
    let secrets_part = &logging[logging.find("sec=$(mktemp -d)").unwrap()
        ..logging
            .find("kubectl apply --server-side --field-manager='otp-provision-logging'")
            .unwrap()];
    insta::assert_snapshot!("apply_logging_secrets", secrets_part);
    let ms = fresh[0].apply_script().unwrap();
    assert!(ms.contains("kubectl patch apiservice v1beta1.metrics.k8s.io"));
    // Removal of logging.
    let off = with_addons("[addons]\n[addons.metrics]\n");
    let steps = plan_with(&off, &[], &live_from(&now, &[])).unwrap();
    insta::assert_snapshot!("apply_logging_removed", steps[2].apply_script().unwrap());
    for s in [&script, &logging, &ms] {
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", s])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs the logging secret generation against a fake kubectl backed by a directory, twice: the
/// second run must create nothing and reuse every value; copies of one password agree; the CA
/// signs the node certificate; nothing secret is printed.
#[test]
fn secret_generation_runs_and_is_idempotent() {
    if !crate::test_skip::have("openssl", "version", "apt-get install openssl") {
        return;
    }
    let inv = example();
    let logging = rendered(&inv)
        .into_iter()
        .find(|r| r.name == AddonName::Logging)
        .unwrap();
    let script = format!(
        "set -eu\n{}",
        secrets::ensure_script("logging", &logging.secrets)
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = root.join("store");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(&store).unwrap();
    // Fake kubectl: `-n NS get secret NAME [-o jsonpath={.data.KEY}]`, `-n NS create secret
    // generic NAME --from-file=K=F... --dry-run=client -o json` (prints NS/NAME + files),
    // `label --local` (cat), `create -f -` (stores).
    let fake = format!(
        r#"#!/bin/sh
S={store}
if [ "$1" = label ]; then cat; exit 0; fi
if [ "$1" = create ] && [ "$2" = -f ]; then
  read -r ns name; mkdir -p "$S/$ns/$name"
  while read -r k f; do cp "$f" "$S/$ns/$name/$k"; done
  exit 0
fi
ns=$2; verb=$3
case "$verb" in
  get)
    name=$5; [ -d "$S/$ns/$name" ] || exit 1
    case "$7" in
      jsonpath=*) key=$(printf '%s' "$7" | sed 's/^jsonpath={{.data.//; s/}}$//; s/\\//g')
        [ -f "$S/$ns/$name/$key" ] || exit 0
        base64 -w0 "$S/$ns/$name/$key";;
    esac;;
  create)
    name=$6; shift 6; echo "$ns $name"
    for a in "$@"; do case "$a" in --from-file=*) kv=${{a#--from-file=}}; echo "${{kv%%=*}} ${{kv#*=}}";; esac; done;;
esac
"#,
        store = store.display()
    );
    let kubectl = root.join("bin/kubectl");
    std::fs::write(&kubectl, fake).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = || {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    root.join("bin").display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (first, first_err) = run();
    assert_eq!(first.lines().count(), logging.secrets.len(), "{first}");
    let read = |ns: &str, n: &str, k: &str| {
        std::fs::read_to_string(store.join(ns).join(n).join(k)).unwrap()
    };
    let pw = read("logging", "opensearch-admin", "password");
    assert_eq!(pw.len(), 32);
    assert!(pw.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        read("logging", "opensearch-credentials", "admin-password"),
        pw
    );
    assert_eq!(
        read("logging-agents", "opensearch-fluentbit", "password"),
        read("logging", "opensearch-credentials", "fluentbit-password")
    );
    assert_ne!(
        read("logging", "opensearch-credentials", "dashboards-password"),
        pw
    );
    assert_eq!(
        read("logging-agents", "opensearch-fluentbit", "ca.crt"),
        read("logging", "opensearch-ca", "ca.crt")
    );
    assert!(read("logging", "opensearch-certs", "node.key").contains("BEGIN PRIVATE KEY"));
    for s in [&first, &first_err] {
        assert!(
            !s.contains(&pw) && !s.contains("BEGIN"),
            "secret material printed"
        );
    }
    // The node certificate verifies against the CA and names the headless service.
    let verify = std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(store.join("logging/opensearch-ca/ca.crt"))
        .arg(store.join("logging/opensearch-certs/node.crt"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(store.join("logging/opensearch-certs/node.crt"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("DNS:*.opensearch-headless.logging.svc"),
        "{text}"
    );
    // Second run: nothing created, values kept.
    let (second, _) = run();
    assert_eq!(second, "");
    assert_eq!(read("logging", "opensearch-admin", "password"), pw);
    // One copy lost: recreated from the surviving one, not regenerated.
    std::fs::remove_dir_all(store.join("logging-agents/opensearch-fluentbit")).unwrap();
    let (third, _) = run();
    assert_eq!(
        third.trim(),
        "created secret logging-agents/opensearch-fluentbit"
    );
    assert_eq!(
        read("logging-agents", "opensearch-fluentbit", "password"),
        read("logging", "opensearch-credentials", "fluentbit-password")
    );
    assert_eq!(
        read("logging-agents", "opensearch-fluentbit", "ca.crt"),
        read("logging", "opensearch-ca", "ca.crt")
    );
}

#[test]
fn opensearch_hosts_follow_the_node_selector() {
    let names = |inv: &Inventory| -> Vec<String> {
        opensearch_hosts(inv)
            .iter()
            .map(|h| h.name.clone())
            .collect()
    };
    // Example: selector example.com/tier=general (the workers' group label).
    assert_eq!(names(&example()), ["worker1", "worker2", "worker3"]);
    let sel =
        with_addons("[addons.logging]\nnode_selector = { \"example.com/disk\" = \"nvme\" }\n");
    assert_eq!(names(&sel), ["worker3"]);
    let any = with_addons("[addons.logging]\n");
    assert_eq!(names(&any), ["worker1", "worker2", "worker3"]);
    let off = with_addons("[addons]\n");
    assert!(names(&off).is_empty());
}

#[test]
fn security_config_change_is_pushed_with_securityadmin() {
    let inv = example();
    let now = rendered(&inv);
    let mut live = live_from(&now, &[]);
    live.records.get_mut("logging").unwrap().objects.insert(
        "core/ConfigMap/logging/opensearch-security".into(),
        "old".into(),
    );
    let steps = plan_with(&inv, &sample_parsers(), &live).unwrap();
    let script = steps[2].apply_script().unwrap();
    assert!(script.contains("rollout status statefulset/opensearch"));
    assert!(script.contains("securityadmin.sh"));
    // A first install relies on the default init instead.
    let fresh = plan_with(&inv, &sample_parsers(), &LiveAddonState::default()).unwrap();
    assert!(
        !fresh[2]
            .apply_script()
            .unwrap()
            .contains("securityadmin.sh")
    );
}

#[test]
fn render_files_lay_out_manifests_and_config_files() {
    let files = render_files(&example(), &sample_parsers()).unwrap();
    let paths: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    for want in [
        "addons/metrics-server/manifest.yaml",
        "addons/metrics/manifest.yaml",
        "addons/metrics/files/prometheus.yml",
        "addons/metrics/files/rules.yml",
        "addons/logging/files/fluent-bit.yaml",
    ] {
        assert!(paths.iter().any(|p| p == want), "{want} not in {paths:?}");
    }
    let logging = &files
        .iter()
        .find(|(p, _)| p.ends_with("logging/manifest.yaml"))
        .unwrap()
        .1;
    assert!(logging.contains("<generated at apply time: password opensearch-admin>"));
}

/// The whole metrics-server apply script against a recording kubectl: objects applied first
/// (server-side, manifest on stdin), then the serving certificate generated, the CA patched into
/// the APIService, and the record written last with the addon's own field manager.
#[test]
fn apply_script_runs_in_order_with_a_recording_kubectl() {
    if !crate::test_skip::have("openssl", "version", "apt-get install openssl") {
        return;
    }
    let inv = example();
    let steps = plan_with(&inv, &[], &LiveAddonState::default()).unwrap();
    let script = steps[0].apply_script().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = format!(
        r#"#!/bin/sh
L={log}
echo "ARGS $*" >>"$L"
case "$*" in
  *"get secret metrics-server-tls -o jsonpath"*) printf 'Q0FCVU5ETEU=';;
  *" get secret "*) exit 1;;
  "label --local"*) cat;;
  *" -f -"*|*"-f - "*) sed 's/^/STDIN /' >>"$L";;
esac
exit 0
"#,
        log = log.display()
    );
    let kubectl = bin.join("kubectl");
    std::fs::write(&kubectl, fake).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(&log).unwrap();
    let args: Vec<&str> = log.lines().filter(|l| l.starts_with("ARGS ")).collect();
    let pos = |needle: &str| {
        args.iter()
            .position(|a| a.contains(needle))
            .unwrap_or_else(|| panic!("no kubectl call with {needle:?} in\n{log}"))
    };
    let apply = pos("apply --server-side --field-manager=otp-provision --force-conflicts -f -");
    let create = pos("create secret generic metrics-server-tls");
    let patch = pos(
        "patch apiservice v1beta1.metrics.k8s.io --type merge -p {\"spec\":{\"caBundle\":\"Q0FCVU5ETEU=\"}}",
    );
    let record = pos("--field-manager=otp-provision-metrics-server");
    assert!(apply < create && create < patch && patch < record, "{log}");
    assert!(log.contains("STDIN kind: APIService"));
    assert!(log.contains("STDIN   metrics-server: \"{\\\"hash\\\":"));
    assert!(
        !log.contains("BEGIN"),
        "key material reached kubectl's argv or stdin log"
    );
}

/// Fluent Bit's configuration is self-consistent: every parser filter names a defined parser,
/// every input's tag reaches an OpenSearch output over verified TLS, and the ConfigMap carries
/// exactly the rendered file.
#[test]
fn fluent_bit_pipeline_is_consistent() {
    let inv = example();
    let logging = render_addon(&inv, AddonName::Logging, &sample_parsers()).unwrap();
    let text = &logging.files["fluent-bit.yaml"];
    let cfg: serde_json::Value = serde_norway::from_str(text).unwrap();
    let parsers: BTreeSet<&str> = cfg["parsers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(parsers, BTreeSet::from(["bank_app", "nginx_access"]));
    let filters = cfg["pipeline"]["filters"].as_array().unwrap();
    let parser_filters: Vec<_> = filters.iter().filter(|f| f["name"] == "parser").collect();
    assert_eq!(parser_filters.len(), 2);
    for f in parser_filters {
        assert!(parsers.contains(f["parser"].as_str().unwrap()));
        assert_eq!(f["reserve_data"], "on", "unparsed fields must be kept");
    }
    let outputs = cfg["pipeline"]["outputs"].as_array().unwrap();
    for input in cfg["pipeline"]["inputs"].as_array().unwrap() {
        let tag = input["tag"].as_str().unwrap();
        let out = outputs
            .iter()
            .find(|o| o["match"].as_str() == Some(tag))
            .unwrap_or_else(|| panic!("no output for {tag}"));
        assert_eq!(out["name"], "opensearch");
        assert_eq!(
            (&out["tls"], &out["tls.verify"], &out["tls.verify_hostname"]),
            (&"on".into(), &"on".into(), &"on".into())
        );
    }
    let cm = logging
        .objects
        .iter()
        .find(|o| o.id.name == "fluent-bit-config")
        .unwrap();
    let cm: serde_json::Value = serde_norway::from_str(&cm.yaml).unwrap();
    assert_eq!(cm["data"]["fluent-bit.yaml"].as_str(), Some(text.as_str()));
}

#[test]
fn csr_approver_pins_names_and_ips_when_known() {
    let inv = example();
    let ms = render_addon(&inv, AddonName::MetricsServer, &[]).unwrap();
    let text = ms.display_manifest();
    assert!(text.contains("PROVIDER_IP_PREFIXES"));
    // worker3 reached by DNS name: no IP to pin, so the IP check is dropped, names stay.
    let src = std::fs::read_to_string(EXAMPLE).unwrap().replace(
        "address = \"10.0.0.23\"",
        "address = \"worker3.example.com\"",
    );
    let inv = load_with_home(Path::new(EXAMPLE), &src, Some(PathBuf::from("/home/op")))
        .unwrap()
        .inventory;
    let text = render_addon(&inv, AddonName::MetricsServer, &[])
        .unwrap()
        .display_manifest();
    assert!(!text.contains("PROVIDER_IP_PREFIXES"));
    assert!(text.contains("^(cp1|cp2|cp3|worker1|worker2|worker3)$"));
}

/// A StatefulSet whose volume claim templates changed cannot be updated in place: the apply
/// script re-creates it with --cascade=orphan and applies again; other errors still fail.
#[test]
fn statefulset_with_immutable_changes_is_recreated_orphaning_pods() {
    let inv = example();
    let now = rendered(&inv);
    let mut live = live_from(&now, &[]);
    live.records
        .get_mut("logging")
        .unwrap()
        .objects
        .insert("apps/StatefulSet/logging/opensearch".into(), "old".into());
    let steps = plan_with(&inv, &sample_parsers(), &live).unwrap();
    let script = steps[2].apply_script().unwrap();
    assert!(plan::APPLY_FLAGS.contains(FIELD_MANAGER));
    let run = |fail_with: &str| {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        // The first apply of a file fails with `fail_with`; later ones succeed.
        let fake = format!(
            r#"#!/bin/sh
echo "ARGS $*" >>{log}
case "$*" in
  *"apply"*"-f /"*)
    if [ ! -e {log}.once ]; then : >{log}.once; echo {msg} >&2; exit 1; fi;;
  *" -f -"*) cat >/dev/null;;
esac
exit 0
"#,
            log = log.display(),
            msg = secrets::q(fail_with),
        );
        let kubectl = bin.join("kubectl");
        std::fs::write(&kubectl, fake).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .output()
            .unwrap();
        (out.status.success(), std::fs::read_to_string(&log).unwrap())
    };
    let (ok, log) = run(
        "The StatefulSet \"opensearch\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas' ... are forbidden",
    );
    assert!(ok, "{log}");
    assert!(
        log.contains("ARGS -n logging delete statefulset opensearch --cascade=orphan"),
        "{log}"
    );
    assert_eq!(log.matches("--force-conflicts -f /").count(), 2, "{log}");
    let (ok, log) = run("Unauthorized");
    assert!(!ok, "{log}");
    assert!(!log.contains("delete statefulset"), "{log}");
    assert!(
        !log.contains("otp-provision-logging"),
        "record written after a failure: {log}"
    );
}
