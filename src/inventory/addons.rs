//! `[addons]`: the cluster add-ons otp-provision deploys (metrics, metrics-server, logging),
//! read from the spanned TOML tree like the rest of the inventory so every mistake is reported at
//! its FILE:LINE:COL.
//!
//! An addon is on when its table is present and `enabled` is not `false`; switching it off (or
//! deleting the table) makes the next `up` remove everything it deployed.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_spanned::Spanned;

use super::checks;
use super::reader::{Diags, TableReader, Value};

/// Image key (used in `[addons.images]` and in templates as `images.<key with _>`) and the
/// pinned default reference; `crate::addons::images` resolves them. Here rather than there
/// because reading `[addons.images]` checks its keys against this table. Bump versions here
/// only, together with the snapshots.
pub const PINNED_IMAGES: &[(&str, &str)] = &[
    ("prometheus", "quay.io/prometheus/prometheus:v3.5.0"),
    ("alertmanager", "quay.io/prometheus/alertmanager:v0.28.1"),
    ("node-exporter", "quay.io/prometheus/node-exporter:v1.9.1"),
    (
        "kube-state-metrics",
        "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0",
    ),
    (
        "metrics-server",
        "registry.k8s.io/metrics-server/metrics-server:v0.8.0",
    ),
    (
        "kubelet-csr-approver",
        "ghcr.io/postfinance/kubelet-csr-approver:v1.2.10",
    ),
    ("opensearch", "docker.io/opensearchproject/opensearch:3.1.0"),
    (
        "opensearch-dashboards",
        "docker.io/opensearchproject/opensearch-dashboards:3.1.0",
    ),
    ("fluent-bit", "cr.fluentbit.io/fluent/fluent-bit:4.0.3"),
];

/// Every image key, for validating `[addons.images]`.
fn image_keys() -> Vec<&'static str> {
    PINNED_IMAGES.iter().map(|(k, _)| *k).collect()
}

/// Resolved `[addons]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Addons {
    /// Registry host (optionally with a path) replacing the registry of every addon image, e.g.
    /// `registry.bank.example/mirror`: `quay.io/prometheus/prometheus:v3.5.0` becomes
    /// `registry.bank.example/mirror/prometheus/prometheus:v3.5.0`.
    pub registry_mirror: Option<String>,
    /// Full image references replacing the pinned default of one image key (used verbatim,
    /// the mirror is not applied to them).
    pub images: BTreeMap<String, String>,
    pub metrics: Option<MetricsAddon>,
    pub metrics_server: Option<MetricsServerAddon>,
    pub logging: Option<LoggingAddon>,
}

/// Persistent storage of a stateful addon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Storage {
    /// `false`: an emptyDir (data lost with the pod; labs without a volume provisioner).
    pub persistent: bool,
    /// Kubernetes quantity, e.g. `50Gi`.
    pub size: String,
    /// StorageClass of the claim; the cluster's default class when unset.
    pub class: Option<String>,
}

/// `[addons.metrics]`: Prometheus, Alertmanager, node-exporter, kube-state-metrics, alert rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricsAddon {
    /// Prometheus `--storage.tsdb.retention.time`, e.g. `15d`.
    pub retention: String,
    pub storage: Storage,
    pub scrape_interval: String,
    /// Scrape etcd's metrics listener on the control planes' node IPs (port 2381); needs etcd's
    /// `listen-metrics-urls` to include the node IP (cluster phase).
    pub scrape_etcd: bool,
    pub receiver: AlertReceiver,
}

/// Where Alertmanager sends notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AlertReceiver {
    /// Alerts are visible in Alertmanager's UI only.
    None,
    Webhook {
        url: String,
        send_resolved: bool,
    },
    Email {
        to: String,
        from: String,
        /// `host:port` of the SMTP relay.
        smarthost: String,
        auth_username: Option<String>,
        /// Secret in namespace `monitoring` (key `password`) holding the SMTP password; the
        /// operator creates it, so the password never passes through otp-provision.
        auth_password_secret: Option<String>,
        require_tls: bool,
    },
}

/// `[addons.metrics_server]`: the `metrics.k8s.io` API for HPAs and `kubectl top`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricsServerAddon {
    pub replicas: u32,
    /// Deploy kubelet-csr-approver so that rotated kubelet serving certificates of inventory
    /// nodes keep being approved between runs of `up`.
    pub csr_approver: bool,
}

/// `[addons.logging]`: OpenSearch, OpenSearch Dashboards and Fluent Bit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggingAddon {
    /// OpenSearch nodes: 1 (single node) or 3 (HA).
    pub replicas: u32,
    pub storage: Storage,
    /// JVM heap (`-Xms`/`-Xmx`), e.g. `1g`; the container memory limit is twice this.
    pub heap: String,
    pub dashboards: bool,
    /// Index prefix: container logs go to `<prefix>-YYYY.MM.DD`, node journals to
    /// `<prefix>-node-...`, API server audit logs to `<prefix>-audit-...`.
    pub index_prefix: String,
    /// Labels selecting the nodes that may run OpenSearch (node preparation sets
    /// `vm.max_map_count` on the inventory hosts carrying them). Empty: any worker.
    pub node_selector: BTreeMap<String, String>,
}

type Sp<T> = Spanned<T>;

pub(crate) fn read_addons(d: &mut Diags, v: &Value<'_>) -> Addons {
    let Some(mut t) = TableReader::of(d, "addons", v, "[addons]") else {
        return Addons::default();
    };
    let registry_mirror = t.nonempty(d, "registry_mirror").and_then(|m| {
        let s = m.get_ref().trim().trim_end_matches('/');
        if s.contains("://") || s.chars().any(char::is_whitespace) || s.starts_with('/') {
            d.error(
                m.span(),
                format!("registry_mirror `{}` is not a registry host[/path]", m.get_ref()),
                "write the registry without a scheme, e.g. registry_mirror = \"registry.bank.example/mirror\"",
            );
            None
        } else {
            Some(s.to_string())
        }
    });
    let mut images = BTreeMap::new();
    if let Some(pairs) = t.string_map(d, "images") {
        let known = image_keys();
        for (k, v) in pairs.into_inner() {
            if !known.contains(&k.get_ref().as_str()) {
                d.error(
                    k.span(),
                    format!("unknown image `{}` in [addons.images]", k.get_ref()),
                    checks::one_of_hint(k.get_ref(), &known),
                );
                continue;
            }
            if !image_reference(v.get_ref()) {
                d.error(
                    v.span(),
                    format!("`{}` is not an image reference", v.get_ref()),
                    "write registry/path:tag or registry/path@sha256:digest",
                );
                continue;
            }
            images.insert(k.into_inner(), v.into_inner());
        }
    }
    let metrics = t
        .raw("metrics")
        .and_then(|(_, v)| TableReader::of(d, "metrics", v, "[addons.metrics]"))
        .and_then(|m| read_metrics(m, d));
    let metrics_server = t
        .raw("metrics_server")
        .and_then(|(_, v)| TableReader::of(d, "metrics_server", v, "[addons.metrics_server]"))
        .and_then(|m| read_metrics_server(m, d));
    let logging = t
        .raw("logging")
        .and_then(|(_, v)| TableReader::of(d, "logging", v, "[addons.logging]"))
        .and_then(|m| read_logging(m, d));
    t.finish(d);
    Addons {
        registry_mirror,
        images,
        metrics,
        metrics_server,
        logging,
    }
}

/// `registry/path:tag` or `...@sha256:hex`, no whitespace.
fn image_reference(s: &str) -> bool {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    if let Some((name, digest)) = s.split_once('@') {
        return !name.is_empty()
            && digest
                .strip_prefix("sha256:")
                .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()));
    }
    // The tag is after the last `:` that follows the last `/` (a registry port is not a tag).
    let last = s.rsplit('/').next().unwrap_or(s);
    matches!(last.split_once(':'), Some((n, tag)) if !n.is_empty() && !tag.is_empty())
}

fn enabled(t: &mut TableReader<'_, '_>, d: &mut Diags) -> bool {
    t.boolean(d, "enabled")
        .map(|b| b.into_inner())
        .unwrap_or(true)
}

/// Kubernetes quantity as used for volume sizes: digits with an optional binary/decimal suffix.
fn quantity(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[digits.len()..];
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && ["", "Ki", "Mi", "Gi", "Ti", "Pi", "k", "M", "G", "T", "P"].contains(&suffix)
}

/// Prometheus duration: `<number><unit>` pairs, e.g. `15d`, `1h30m`.
fn duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let n = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if n == 0 {
            return false;
        }
        rest = &rest[n..];
        let unit = ["ms", "s", "m", "h", "d", "w", "y"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

fn checked(
    d: &mut Diags,
    v: Option<Sp<String>>,
    ok: fn(&str) -> bool,
    what: &str,
    hint: &str,
) -> Option<String> {
    let v = v?;
    if ok(v.get_ref()) {
        Some(v.into_inner())
    } else {
        d.error(
            v.span(),
            format!("`{}` is not {what}", v.get_ref()),
            hint.to_string(),
        );
        None
    }
}

fn read_storage(t: &mut TableReader<'_, '_>, d: &mut Diags, default_size: &str) -> Storage {
    let persistent = t
        .boolean(d, "persistent")
        .map(|b| b.into_inner())
        .unwrap_or(true);
    let size = t.nonempty(d, "storage_size");
    let size = checked(
        d,
        size,
        quantity,
        "a volume size",
        "write a Kubernetes quantity, e.g. storage_size = \"50Gi\"",
    )
    .unwrap_or_else(|| default_size.to_string());
    let class = t.nonempty(d, "storage_class");
    let class = checked(
        d,
        class,
        checks::dns_subdomain,
        "a StorageClass name",
        "StorageClass names are lowercase DNS names, e.g. \"local-path\"",
    );
    Storage {
        persistent,
        size,
        class,
    }
}

fn read_metrics(mut t: TableReader<'_, '_>, d: &mut Diags) -> Option<MetricsAddon> {
    let on = enabled(&mut t, d);
    let retention = t.nonempty(d, "retention");
    let retention = checked(
        d,
        retention,
        duration,
        "a Prometheus duration",
        "write e.g. retention = \"15d\" (units ms, s, m, h, d, w, y)",
    )
    .unwrap_or_else(|| "15d".into());
    let storage = read_storage(&mut t, d, "50Gi");
    let scrape_interval = t.nonempty(d, "scrape_interval");
    let scrape_interval = checked(
        d,
        scrape_interval,
        duration,
        "a Prometheus duration",
        "write e.g. scrape_interval = \"30s\"",
    )
    .unwrap_or_else(|| "30s".into());
    let scrape_etcd = t
        .boolean(d, "scrape_etcd")
        .map(|b| b.into_inner())
        .unwrap_or(true);
    let receiver = match t.table(d, "alertmanager", "[addons.metrics.alertmanager]") {
        Some(a) => read_receiver(a, d),
        None => AlertReceiver::None,
    };
    t.finish(d);
    on.then_some(MetricsAddon {
        retention,
        storage,
        scrape_interval,
        scrape_etcd,
        receiver,
    })
}

fn read_receiver(mut t: TableReader<'_, '_>, d: &mut Diags) -> AlertReceiver {
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        None,
        Webhook,
        Email,
    }
    let kind_s = t.string(d, "receiver");
    let kind_span = kind_s.as_ref().map(|s| s.span()).unwrap_or(t.span.clone());
    let kind = match kind_s {
        None => Some(Kind::None),
        Some(k) => match k.get_ref().as_str() {
            "none" => Some(Kind::None),
            "webhook" => Some(Kind::Webhook),
            "email" => Some(Kind::Email),
            other => {
                d.error(
                    k.span(),
                    format!("unknown alert receiver `{other}`"),
                    checks::one_of_hint(other, &["none", "webhook", "email"]),
                );
                None
            }
        },
    };
    let url = t.nonempty(d, "url");
    let send_resolved = t
        .boolean(d, "send_resolved")
        .map(|b| b.into_inner())
        .unwrap_or(true);
    let to = t.nonempty(d, "to");
    let from = t.nonempty(d, "from");
    let smarthost = t.nonempty(d, "smarthost");
    let auth_username = t.nonempty(d, "auth_username");
    let auth_password_secret = t.nonempty(d, "auth_password_secret");
    let require_tls = t
        .boolean(d, "require_tls")
        .map(|b| b.into_inner())
        .unwrap_or(true);
    let webhook_keys = ["url", "send_resolved"];
    let email_keys = [
        "to",
        "from",
        "smarthost",
        "auth_username",
        "auth_password_secret",
        "require_tls",
    ];
    let misplaced = |d: &mut Diags, t: &TableReader<'_, '_>, keys: &[&str], which: &str| {
        for k in keys {
            if let Some(s) = t.key_span(k) {
                d.error(
                    s,
                    format!("`{k}` is only used with receiver = \"{which}\""),
                    format!("set receiver = \"{which}\", or remove this key"),
                );
            }
        }
    };
    let missing = |d: &mut Diags, key: &str, example: &str| {
        d.error(
            kind_span.clone(),
            format!("this alert receiver needs `{key}`"),
            format!("add {key} = {example} to [addons.metrics.alertmanager]"),
        );
    };
    let result = match kind {
        Some(Kind::None) => {
            misplaced(d, &t, &webhook_keys, "webhook");
            misplaced(d, &t, &email_keys, "email");
            AlertReceiver::None
        }
        Some(Kind::Webhook) => {
            misplaced(d, &t, &email_keys, "email");
            let url = url.filter(|u| match checks::http_url(u.get_ref()) {
                Ok(()) => true,
                Err((m, h)) => {
                    d.error(u.span(), m, h);
                    false
                }
            });
            match url {
                Some(u) => AlertReceiver::Webhook {
                    url: u.into_inner(),
                    send_resolved,
                },
                None => {
                    if t.key_span("url").is_none() {
                        missing(d, "url", "\"https://alerts.example.com/hook\"");
                    }
                    AlertReceiver::None
                }
            }
        }
        Some(Kind::Email) => {
            misplaced(d, &t, &webhook_keys[..1], "webhook");
            for (v, key, ex) in [
                (&to, "to", "\"ops@example.com\""),
                (&from, "from", "\"alertmanager@example.com\""),
                (&smarthost, "smarthost", "\"smtp.example.com:587\""),
            ] {
                if v.is_none() && t.key_span(key).is_none() {
                    missing(d, key, ex);
                }
            }
            if let Some(h) = &smarthost
                && !h
                    .get_ref()
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
            {
                d.error(
                    h.span(),
                    format!("smarthost `{}` is not host:port", h.get_ref()),
                    "write smarthost = \"smtp.example.com:587\"",
                );
            }
            let secret = checked(
                d,
                auth_password_secret,
                checks::dns_subdomain,
                "a Secret name",
                "name a Secret in namespace monitoring with key `password`, e.g. \"alertmanager-smtp\"",
            );
            match (to, from, smarthost) {
                (Some(to), Some(from), Some(smarthost)) => AlertReceiver::Email {
                    to: to.into_inner(),
                    from: from.into_inner(),
                    smarthost: smarthost.into_inner(),
                    auth_username: auth_username.map(Spanned::into_inner),
                    auth_password_secret: secret,
                    require_tls,
                },
                _ => AlertReceiver::None,
            }
        }
        None => AlertReceiver::None,
    };
    t.finish(d);
    result
}

fn read_metrics_server(mut t: TableReader<'_, '_>, d: &mut Diags) -> Option<MetricsServerAddon> {
    let on = enabled(&mut t, d);
    let replicas = t
        .integer(
            d,
            "replicas",
            1,
            5,
            "1-5 (2 keeps the metrics API up during node drains)",
        )
        .map(|n| n.into_inner() as u32)
        .unwrap_or(2);
    let csr_approver = t
        .boolean(d, "csr_approver")
        .map(|b| b.into_inner())
        .unwrap_or(true);
    t.finish(d);
    on.then_some(MetricsServerAddon {
        replicas,
        csr_approver,
    })
}

fn heap(s: &str) -> bool {
    let n = s.trim_end_matches(['m', 'g']);
    n.len() + 1 == s.len() && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
}

fn read_logging(mut t: TableReader<'_, '_>, d: &mut Diags) -> Option<LoggingAddon> {
    let on = enabled(&mut t, d);
    let replicas = match t.integer(d, "replicas", 1, 3, "1 (single node) or 3 (HA)") {
        Some(n) if *n.get_ref() == 2 => {
            d.error(
                n.span(),
                "OpenSearch with 2 nodes cannot elect a cluster manager when one is down",
                "use replicas = 1 (single node) or 3 (HA)",
            );
            1
        }
        Some(n) => n.into_inner() as u32,
        None => 1,
    };
    let storage = read_storage(&mut t, d, "20Gi");
    let heap_v = t.nonempty(d, "heap");
    let heap_v = checked(
        d,
        heap_v,
        heap,
        "a JVM heap size",
        "write e.g. heap = \"1g\" or heap = \"512m\"",
    )
    .unwrap_or_else(|| "1g".into());
    let dashboards = t
        .boolean(d, "dashboards")
        .map(|b| b.into_inner())
        .unwrap_or(true);
    let prefix = t.nonempty(d, "index_prefix");
    let index_prefix = checked(
        d,
        prefix,
        checks::dns_label,
        "an index prefix",
        "lowercase letters, digits and '-', e.g. index_prefix = \"k8s\"",
    )
    .unwrap_or_else(|| "k8s".into());
    let mut node_selector = BTreeMap::new();
    if let Some(pairs) = t.string_map(d, "node_selector") {
        for (k, v) in pairs.into_inner() {
            let mut ok = true;
            if let Err((m, h)) = checks::label_key(k.get_ref()) {
                d.error(k.span(), m, h);
                ok = false;
            }
            if let Err((m, h)) = checks::label_value(v.get_ref()) {
                d.error(v.span(), m, h);
                ok = false;
            }
            if ok {
                node_selector.insert(k.into_inner(), v.into_inner());
            }
        }
    }
    t.finish(d);
    on.then_some(LoggingAddon {
        replicas,
        storage,
        heap: heap_v,
        dashboards,
        index_prefix,
        node_selector,
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::inventory::load_with_home;

    /// A valid inventory on lines 1-7; `[addons]` text starts on line 8.
    fn inventory(addons: &str) -> String {
        format!(
            "[cluster]\nname = \"c\"\nkubernetes_version = \"1.33.4\"\n[[host]]\nname = \"cp1\"\naddress = \"10.0.0.11\"\nroles = [\"control-plane\"]\n{addons}"
        )
    }

    fn load(addons: &str) -> Result<Addons, Vec<String>> {
        let text = inventory(addons);
        load_with_home(
            Path::new("inv.toml"),
            &text,
            Some(PathBuf::from("/home/op")),
        )
        .map(|l| l.inventory.addons)
        .map_err(|e| e.diagnostics.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn malformed_addons_are_reported_at_their_position() {
        let cases: &[(&str, &[&str])] = &[
            (
                "[addons]\nmetrix = {}\n",
                &["inv.toml:9:1: unknown key `metrix` in [addons]", "metrics"],
            ),
            (
                "[addons]\nregistry_mirror = \"https://r.example\"\n",
                &["inv.toml:9:19: registry_mirror `https://r.example` is not a registry"],
            ),
            (
                "[addons]\nimages = { prometeus = \"a/b:1\" }\n",
                &["inv.toml:9:12: unknown image `prometeus`", "prometheus"],
            ),
            (
                "[addons]\nimages = { prometheus = \"a/b\" }\n",
                &["inv.toml:9:25: `a/b` is not an image reference"],
            ),
            (
                "[addons.metrics]\nretention = \"15 days\"\n",
                &["inv.toml:9:13: `15 days` is not a Prometheus duration"],
            ),
            (
                "[addons.metrics]\nstorage_size = \"50GB\"\n",
                &["inv.toml:9:16: `50GB` is not a volume size"],
            ),
            (
                "[addons.metrics]\nenabled = \"yes\"\n",
                &["inv.toml:9:11: `enabled` in [addons.metrics] must be a boolean"],
            ),
            (
                "[addons.metrics.alertmanager]\nreceiver = \"slack\"\n",
                &["inv.toml:9:12: unknown alert receiver `slack`"],
            ),
            (
                "[addons.metrics.alertmanager]\nreceiver = \"webhook\"\n",
                &["inv.toml:9:12: this alert receiver needs `url`"],
            ),
            (
                "[addons.metrics.alertmanager]\nreceiver = \"webhook\"\nurl = \"ftp://x\"\n",
                &["inv.toml:10:7:"],
            ),
            (
                "[addons.metrics.alertmanager]\nreceiver = \"webhook\"\nurl = \"https://x.example\"\nto = \"a@b\"\n",
                &["inv.toml:11:1: `to` is only used with receiver = \"email\""],
            ),
            (
                "[addons.metrics.alertmanager]\nreceiver = \"email\"\nto = \"a@b\"\nfrom = \"c@d\"\n",
                &["inv.toml:9:12: this alert receiver needs `smarthost`"],
            ),
            (
                "[addons.metrics.alertmanager]\nreceiver = \"email\"\nto = \"a@b\"\nfrom = \"c@d\"\nsmarthost = \"smtp\"\n",
                &["inv.toml:12:13: smarthost `smtp` is not host:port"],
            ),
            (
                "[addons.metrics_server]\nreplicas = 0\n",
                &["inv.toml:9:12: `replicas` = 0 is out of range"],
            ),
            (
                "[addons.logging]\nreplicas = 2\n",
                &["inv.toml:9:12: OpenSearch with 2 nodes"],
            ),
            (
                "[addons.logging]\nheap = \"1G\"\n",
                &["inv.toml:9:8: `1G` is not a JVM heap size"],
            ),
            (
                "[addons.logging]\nindex_prefix = \"K8s\"\n",
                &["inv.toml:9:16: `K8s` is not an index prefix"],
            ),
            (
                "[addons.logging]\nnode_selector = { \"bad key!\" = \"x\" }\n",
                &["inv.toml:9:19:"],
            ),
            (
                "[addons.logging]\nstorage_class = \"Fast_SSD\"\n",
                &["inv.toml:9:17: `Fast_SSD` is not a StorageClass name"],
            ),
        ];
        for (text, wants) in cases {
            let errors = load(text).expect_err(text);
            let all = errors.join("\n");
            for want in *wants {
                assert!(all.contains(want), "{text:?}: want {want:?} in\n{all}");
            }
        }
    }

    #[test]
    fn addons_must_be_a_table() {
        let text = format!("addons = 3\n{}", inventory(""));
        let e = load_with_home(Path::new("inv.toml"), &text, None).unwrap_err();
        assert_eq!(e.diagnostics.len(), 1, "{e}");
        assert!(
            e.diagnostics[0]
                .to_string()
                .starts_with("inv.toml:1:10: `addons` must be a table"),
            "{e}"
        );
    }

    #[test]
    fn addons_resolve_with_defaults() {
        assert_eq!(load("").unwrap(), Addons::default());
        let a = load("[addons]\n[addons.metrics]\n[addons.metrics_server]\n[addons.logging]\nenabled = false\n").unwrap();
        let m = a.metrics.unwrap();
        assert_eq!(
            (m.retention.as_str(), m.scrape_interval.as_str()),
            ("15d", "30s")
        );
        assert_eq!(
            m.storage,
            Storage {
                persistent: true,
                size: "50Gi".into(),
                class: None
            }
        );
        assert!(m.scrape_etcd);
        assert_eq!(m.receiver, AlertReceiver::None);
        assert_eq!(
            a.metrics_server,
            Some(MetricsServerAddon {
                replicas: 2,
                csr_approver: true
            })
        );
        assert_eq!(a.logging, None);
        let a = load("[addons]\nregistry_mirror = \"reg.example/m/\"\n[addons.logging]\nreplicas = 3\n[addons.metrics.alertmanager]\nreceiver = \"email\"\nto = \"a@b\"\nfrom = \"c@d\"\nsmarthost = \"smtp.example:25\"\nrequire_tls = false\n").unwrap();
        assert_eq!(a.registry_mirror.as_deref(), Some("reg.example/m"));
        let l = a.logging.unwrap();
        assert_eq!(
            (
                l.replicas,
                l.heap.as_str(),
                l.index_prefix.as_str(),
                l.dashboards
            ),
            (3, "1g", "k8s", true)
        );
        assert_eq!(
            a.metrics.unwrap().receiver,
            AlertReceiver::Email {
                to: "a@b".into(),
                from: "c@d".into(),
                smarthost: "smtp.example:25".into(),
                auth_username: None,
                auth_password_secret: None,
                require_tls: false
            }
        );
    }

    #[test]
    fn value_shapes() {
        for (s, ok) in [
            ("quay.io/prometheus/prometheus:v3.5.0", true),
            ("registry:5000/x/y:1", true),
            ("registry:5000/x/y", false),
            ("x@sha256:".to_string().as_str(), false),
            ("", false),
            ("a b:1", false),
        ] {
            assert_eq!(image_reference(s), ok, "{s}");
        }
        let digest = format!("r.io/x@sha256:{}", "a".repeat(64));
        assert!(image_reference(&digest));
        for (s, ok) in [
            ("50Gi", true),
            ("1", true),
            ("10G", true),
            ("Gi", false),
            ("5.5Gi", false),
            ("5gb", false),
        ] {
            assert_eq!(quantity(s), ok, "{s}");
        }
        for (s, ok) in [
            ("15d", true),
            ("1h30m", true),
            ("500ms", true),
            ("d", false),
            ("15", false),
            ("15days", false),
            ("", false),
        ] {
            assert_eq!(duration(s), ok, "{s}");
        }
        for (s, ok) in [
            ("1g", true),
            ("512m", true),
            ("1", false),
            ("g", false),
            ("1gb", false),
        ] {
            assert_eq!(heap(s), ok, "{s}");
        }
    }
}
