//! Rendering: tera templates -> YAML documents -> labelled, canonical, hashed objects.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::logging::LogParser;
use super::secrets::{GeneratedSecret, SecretValue};
use super::{ADDON_LABEL, AddonError, AddonName, MANAGED_BY, MANAGED_BY_LABEL, images};
use crate::inventory::{Inventory, Role};
use crate::template::error_chain;

/// Pod-template annotation listing ConfigMaps (same namespace, comma-separated) whose content
/// the pods read at start; replaced by [`CONFIG_HASH`] so a config change rolls the pods.
const CONFIG_FROM: &str = "otp-provision.io/config-from";
const CONFIG_HASH: &str = "otp-provision.io/config-hash";

struct Tpl {
    addon: AddonName,
    /// Path below templates/addons/.
    path: &'static str,
    body: &'static str,
}

macro_rules! tpl {
    ($addon:expr, $dir:literal, $file:literal) => {
        Tpl {
            addon: $addon,
            path: concat!($dir, "/", $file),
            body: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/templates/addons/",
                $dir,
                "/",
                $file
            )),
        }
    };
}

/// Every addon template, in render (and apply) order. Files under `files/` are configuration
/// files: rendered first and handed to the manifests as `files.<name with _>`.
fn templates() -> Vec<Tpl> {
    use AddonName::*;
    vec![
        tpl!(MetricsServer, "metrics-server", "metrics-server.yaml.tera"),
        tpl!(
            MetricsServer,
            "metrics-server",
            "kubelet-csr-approver.yaml.tera"
        ),
        tpl!(Metrics, "metrics", "files/prometheus.yml.tera"),
        tpl!(Metrics, "metrics", "files/rules.yml.tera"),
        tpl!(Metrics, "metrics", "files/alertmanager.yml.tera"),
        tpl!(Metrics, "metrics", "namespaces.yaml.tera"),
        tpl!(Metrics, "metrics", "prometheus.yaml.tera"),
        tpl!(Metrics, "metrics", "alertmanager.yaml.tera"),
        tpl!(Metrics, "metrics", "node-exporter.yaml.tera"),
        tpl!(Metrics, "metrics", "kube-state-metrics.yaml.tera"),
        tpl!(Metrics, "metrics", "network-policies.yaml.tera"),
        tpl!(Logging, "logging", "files/opensearch.yml.tera"),
        tpl!(Logging, "logging", "files/security-config.yml.tera"),
        tpl!(Logging, "logging", "files/internal_users.yml.tera"),
        tpl!(Logging, "logging", "files/roles.yml.tera"),
        tpl!(Logging, "logging", "files/roles_mapping.yml.tera"),
        tpl!(Logging, "logging", "files/opensearch_dashboards.yml.tera"),
        tpl!(Logging, "logging", "files/fluent-bit.yaml.tera"),
        tpl!(Logging, "logging", "namespaces.yaml.tera"),
        tpl!(Logging, "logging", "opensearch.yaml.tera"),
        tpl!(Logging, "logging", "dashboards.yaml.tera"),
        tpl!(Logging, "logging", "fluent-bit.yaml.tera"),
        tpl!(Logging, "logging", "network-policies.yaml.tera"),
    ]
}

/// Identity of a Kubernetes object (the version is not part of it: the same object may be
/// served under several versions).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectId {
    /// API group, empty for the core group.
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectId {
    pub fn from_api_version(
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> ObjectId {
        let group = api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
            .to_string();
        ObjectId {
            group,
            kind: kind.to_string(),
            namespace: namespace.filter(|n| !n.is_empty()).map(str::to_string),
            name: name.to_string(),
        }
    }

    /// Key in the hash record: `group/Kind/namespace/name` (`core` and `-` for empty parts).
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            if self.group.is_empty() {
                "core"
            } else {
                &self.group
            },
            self.kind,
            self.namespace.as_deref().unwrap_or("-"),
            self.name
        )
    }

    pub fn parse_key(key: &str) -> Option<ObjectId> {
        let mut p = key.splitn(4, '/');
        let (g, k, ns, n) = (p.next()?, p.next()?, p.next()?, p.next()?);
        Some(ObjectId {
            group: if g == "core" { String::new() } else { g.into() },
            kind: k.into(),
            namespace: (ns != "-").then(|| ns.to_string()),
            name: n.into(),
        })
    }
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// One rendered object.
#[derive(Debug, Clone, Serialize)]
pub struct Object {
    pub id: ObjectId,
    pub api_version: String,
    /// The template it came from (errors and `render` name it).
    pub template: String,
    /// Canonical YAML (keys sorted), what is applied and hashed.
    pub yaml: String,
    /// sha256 of `yaml`, hex.
    pub hash: String,
}

/// One addon, rendered.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedAddon {
    pub name: AddonName,
    pub objects: Vec<Object>,
    /// Secrets created on the control plane when absent (values never rendered).
    pub secrets: Vec<GeneratedSecret>,
    /// Rendered configuration files (`files/...` templates), for validation tools.
    pub files: BTreeMap<String, String>,
    /// sha256 over every object's key and hash and the secrets' specs.
    pub hash: String,
}

impl RenderedAddon {
    /// Ids of every object the addon owns, generated secrets included.
    pub fn owned_ids(&self) -> Vec<ObjectId> {
        let mut ids: Vec<ObjectId> = self.objects.iter().map(|o| o.id.clone()).collect();
        ids.extend(self.secrets.iter().map(|s| ObjectId {
            group: String::new(),
            kind: "Secret".into(),
            namespace: Some(s.namespace.clone()),
            name: s.name.clone(),
        }));
        ids
    }

    /// Multi-document YAML of `objects` (or all objects), namespaces first.
    pub fn manifest<'a>(objects: impl IntoIterator<Item = &'a Object>) -> String {
        let mut objs: Vec<&Object> = objects.into_iter().collect();
        // Namespaces before what lives in them; otherwise template order (stable sort).
        objs.sort_by_key(|o| o.id.kind != "Namespace");
        let mut out = String::new();
        for o in objs {
            out.push_str("---\n");
            out.push_str(&o.yaml);
        }
        out
    }

    /// What `otp-provision render` shows: every object plus placeholder Secrets.
    pub fn display_manifest(&self) -> String {
        let mut out = Self::manifest(&self.objects);
        for s in &self.secrets {
            out.push_str("---\n");
            out.push_str(&to_yaml(&s.placeholder(self.name.as_str())));
        }
        out
    }
}

/// Renders every enabled addon, in apply order.
pub fn render(inv: &Inventory, parsers: &[LogParser]) -> Result<Vec<RenderedAddon>, AddonError> {
    AddonName::ALL
        .into_iter()
        .filter(|a| a.enabled(inv))
        .map(|a| render_addon(inv, a, parsers))
        .collect()
}

fn hex_sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Recursively sorted keys, so the text (and hash) depends only on content.
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect::<Map<_, _>>())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

fn to_yaml(v: &Value) -> String {
    // Serialising a JSON value cannot fail.
    serde_norway::to_string(v).unwrap_or_default()
}

/// Kubernetes nodes of the inventory (load-balancer-only hosts are not nodes).
fn nodes(inv: &Inventory) -> Vec<Value> {
    inv.hosts
        .iter()
        .filter(|h| h.has_role(Role::ControlPlane) || h.has_role(Role::Worker))
        .map(|h| {
            json!({
                "name": h.name,
                "ip": h.node_ip(),
                "control_plane": h.has_role(Role::ControlPlane),
                "labels": h.labels,
            })
        })
        .collect()
}

fn context(inv: &Inventory, parsers: &[LogParser]) -> Value {
    let a = &inv.addons;
    let images: Map<String, Value> = images::PINNED
        .iter()
        .map(|(k, _)| {
            (
                k.replace('-', "_"),
                Value::String(
                    images::resolve(a, inv.cluster.images.registry_mirror.as_deref(), k)
                        .unwrap_or_default(),
                ),
            )
        })
        .collect();
    let nodes = nodes(inv);
    // kubelet-csr-approver: only inventory node names and IPs are approved.
    let provider_regex = format!(
        "^({})$",
        inv.hosts
            .iter()
            .filter(|h| h.has_role(Role::ControlPlane) || h.has_role(Role::Worker))
            .map(|h| h.name.replace('.', "\\."))
            .collect::<Vec<_>>()
            .join("|")
    );
    // Node IPs as /32 (/128) prefixes. A node known only by DNS name has no IP to pin: then the
    // IP check is dropped for all (names stay pinned), rather than refusing that node forever.
    let ips: Option<Vec<String>> = inv
        .hosts
        .iter()
        .filter(|h| h.has_role(Role::ControlPlane) || h.has_role(Role::Worker))
        .map(|h| {
            h.node_ip()
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| match ip {
                    std::net::IpAddr::V4(_) => format!("{ip}/32"),
                    std::net::IpAddr::V6(_) => format!("{ip}/128"),
                })
        })
        .collect();
    let ip_prefixes = ips.map(|v| v.join(",")).unwrap_or_default();
    let parsers: Vec<Value> = parsers
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
            v["match_regex"] = Value::String(p.match_regex());
            v
        })
        .collect();
    json!({
        "cluster": {
            "name": inv.cluster.name,
            "dns_domain": inv.cluster.dns_domain,
            "kubernetes_version": inv.cluster.kubernetes_version,
        },
        "images": images,
        "nodes": nodes,
        "enabled": {
            "metrics": a.metrics.is_some(),
            "metrics_server": a.metrics_server.is_some(),
            "logging": a.logging.is_some(),
        },
        "metrics": a.metrics,
        "metrics_server": a.metrics_server,
        "logging": a.logging,
        "parsers": parsers,
        "csr_approver": {"provider_regex": provider_regex, "ip_prefixes": ip_prefixes},
        "labels": {"managed_by": MANAGED_BY},
    })
}

/// Secrets of an addon (specs only).
fn secrets(inv: &Inventory, addon: AddonName) -> Vec<GeneratedSecret> {
    let text = |v: &str| SecretValue::Text { value: v.into() };
    let pw = |g: &str| SecretValue::Password { group: g.into() };
    let secret = |ns: &str, name: &str, keys: Vec<(&str, SecretValue)>| GeneratedSecret {
        namespace: ns.into(),
        name: name.into(),
        keys: keys.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    };
    let domain = &inv.cluster.dns_domain;
    match addon {
        AddonName::MetricsServer => {
            let svc = "metrics-server.kube-system.svc";
            vec![secret(
                "kube-system",
                "metrics-server-tls",
                vec![
                    (
                        "ca.crt",
                        SecretValue::CaCert {
                            ca: "metrics-server".into(),
                        },
                    ),
                    (
                        "ca.key",
                        SecretValue::CaKey {
                            ca: "metrics-server".into(),
                        },
                    ),
                    (
                        "tls.crt",
                        SecretValue::Cert {
                            ca: "metrics-server".into(),
                            profile: "metrics-server".into(),
                            subject: format!("/O=otp-provision/CN={svc}"),
                            dns_names: vec![svc.into(), format!("{svc}.{domain}")],
                        },
                    ),
                    (
                        "tls.key",
                        SecretValue::CertKey {
                            profile: "metrics-server".into(),
                        },
                    ),
                ],
            )]
        }
        AddonName::Metrics => Vec::new(),
        AddonName::Logging => {
            let mut dns = Vec::new();
            for base in [
                "opensearch-headless.logging.svc".to_string(),
                format!("opensearch-headless.logging.svc.{domain}"),
            ] {
                dns.push(format!("*.{base}"));
                dns.push(base);
            }
            for svc in ["opensearch", "opensearch-dashboards"] {
                dns.push(svc.to_string());
                dns.push(format!("{svc}.logging.svc"));
                dns.push(format!("{svc}.logging.svc.{domain}"));
            }
            let ca = || "opensearch".to_string();
            let node_cert = SecretValue::Cert {
                ca: ca(),
                profile: "opensearch-node".into(),
                subject: "/O=otp-provision/CN=opensearch-node".into(),
                dns_names: dns,
            };
            let admin_cert = SecretValue::Cert {
                ca: ca(),
                profile: "opensearch-admin".into(),
                subject: "/O=otp-provision/CN=opensearch-admin".into(),
                dns_names: Vec::new(),
            };
            vec![
                secret(
                    "logging",
                    "opensearch-ca",
                    vec![
                        ("ca.crt", SecretValue::CaCert { ca: ca() }),
                        ("ca.key", SecretValue::CaKey { ca: ca() }),
                    ],
                ),
                secret(
                    "logging",
                    "opensearch-certs",
                    vec![
                        ("ca.crt", SecretValue::CaCert { ca: ca() }),
                        ("node.crt", node_cert),
                        (
                            "node.key",
                            SecretValue::CertKey {
                                profile: "opensearch-node".into(),
                            },
                        ),
                        ("admin.crt", admin_cert),
                        (
                            "admin.key",
                            SecretValue::CertKey {
                                profile: "opensearch-admin".into(),
                            },
                        ),
                    ],
                ),
                secret(
                    "logging",
                    "opensearch-credentials",
                    vec![
                        ("admin-password", pw("opensearch-admin")),
                        ("dashboards-password", pw("opensearch-dashboards")),
                        ("fluentbit-password", pw("opensearch-fluentbit")),
                    ],
                ),
                secret(
                    "logging",
                    "opensearch-admin",
                    vec![
                        ("username", text("admin")),
                        ("password", pw("opensearch-admin")),
                    ],
                ),
                secret(
                    "logging",
                    "opensearch-dashboards",
                    vec![
                        ("username", text("kibanaserver")),
                        ("password", pw("opensearch-dashboards")),
                    ],
                ),
                secret(
                    "logging-agents",
                    "opensearch-fluentbit",
                    vec![
                        ("username", text("fluentbit")),
                        ("password", pw("opensearch-fluentbit")),
                        ("ca.crt", SecretValue::CaCert { ca: ca() }),
                    ],
                ),
            ]
        }
    }
}

/// Renders one addon (whether or not the inventory enables it: tests render all).
pub fn render_addon(
    inv: &Inventory,
    addon: AddonName,
    parsers: &[LogParser],
) -> Result<RenderedAddon, AddonError> {
    let name = addon.as_str();
    let tpls: Vec<Tpl> = templates()
        .into_iter()
        .filter(|t| t.addon == addon)
        .collect();
    let mut tera = crate::template::engine();
    tera.add_raw_templates(tpls.iter().map(|t| (t.path, t.body)))
        .map_err(|e| AddonError::Template {
            addon: name,
            template: "(parse)".into(),
            message: error_chain(&e),
        })?;
    let mut ctx_value = context(inv, parsers);
    let mut files = BTreeMap::new();
    let render_one = |ctx_value: &Value, path: &str| -> Result<String, AddonError> {
        let ctx =
            tera::Context::from_value(ctx_value.clone()).map_err(|e| AddonError::Template {
                addon: name,
                template: path.into(),
                message: error_chain(&e),
            })?;
        tera.render(path, &ctx).map_err(|e| AddonError::Template {
            addon: name,
            template: path.into(),
            message: error_chain(&e),
        })
    };
    let mut file_values = Map::new();
    for t in tpls.iter().filter(|t| t.path.contains("/files/")) {
        let text = render_one(&ctx_value, t.path)?;
        let fname = t
            .path
            .rsplit('/')
            .next()
            .unwrap_or(t.path)
            .trim_end_matches(".tera")
            .to_string();
        file_values.insert(fname.replace(['.', '-'], "_"), Value::String(text.clone()));
        files.insert(fname, text);
    }
    ctx_value["files"] = Value::Object(file_values);

    let mut values: Vec<(String, Value)> = Vec::new();
    for t in tpls.iter().filter(|t| !t.path.contains("/files/")) {
        let text = render_one(&ctx_value, t.path)?;
        for (index, doc) in split_documents(&text).into_iter().enumerate() {
            let err = |message: String| AddonError::Manifest {
                addon: name,
                template: t.path.into(),
                index: index + 1,
                message,
            };
            let v: Value = serde_norway::from_str(&doc).map_err(|e| err(e.to_string()))?;
            match v {
                Value::Null => continue,
                Value::Object(_) => values.push((t.path.to_string(), v)),
                _ => return Err(err("a document must be a mapping".into())),
            }
        }
    }
    stamp_config_hashes(&mut values);

    let mut objects: Vec<Object> = Vec::new();
    for (template, mut v) in values {
        let api_version = v["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = v["kind"].as_str().unwrap_or_default().to_string();
        let obj_name = v["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if api_version.is_empty() || kind.is_empty() || obj_name.is_empty() {
            return Err(AddonError::Manifest {
                addon: name,
                template,
                index: objects.len() + 1,
                message: "apiVersion, kind and metadata.name are required".into(),
            });
        }
        let labels = &mut v["metadata"]["labels"];
        if labels.is_null() {
            *labels = json!({});
        }
        labels[MANAGED_BY_LABEL] = Value::String(MANAGED_BY.into());
        labels[ADDON_LABEL] = Value::String(name.into());
        let id = ObjectId::from_api_version(
            &api_version,
            &kind,
            v["metadata"]["namespace"].as_str(),
            &obj_name,
        );
        if let Some(first) = objects.iter().find(|o| o.id == id) {
            return Err(AddonError::Duplicate {
                addon: name,
                what: id.to_string(),
                first: first.template.clone(),
            });
        }
        let yaml = to_yaml(&canonical(v));
        let hash = hex_sha(yaml.as_bytes());
        objects.push(Object {
            id,
            api_version,
            template,
            yaml,
            hash,
        });
    }
    let secrets = secrets(inv, addon);
    let mut lines: Vec<String> = objects
        .iter()
        .map(|o| format!("{} {}\n", o.id.key(), o.hash))
        .collect();
    lines.sort();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
    }
    h.update(serde_json::to_vec(&secrets).unwrap_or_default());
    Ok(RenderedAddon {
        name: addon,
        objects,
        secrets,
        files,
        hash: hex::encode(h.finalize()),
    })
}

/// Splits multi-document YAML at `---` lines (templates never put `---` inside block scalars).
fn split_documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(d) = docs.last_mut() {
            d.push_str(line);
            d.push('\n');
        }
    }
    docs.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

/// Replaces `config-from` annotations on pod templates by the hash of the named ConfigMaps.
fn stamp_config_hashes(values: &mut [(String, Value)]) {
    let configmaps: BTreeMap<(String, String), String> = values
        .iter()
        .filter(|(_, v)| v["kind"] == "ConfigMap")
        .map(|(_, v)| {
            (
                (
                    v["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    v["metadata"]["name"].as_str().unwrap_or("").to_string(),
                ),
                hex_sha(to_yaml(&canonical(v["data"].clone())).as_bytes()),
            )
        })
        .collect();
    for (_, v) in values.iter_mut() {
        let ns = v["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let Some(ann) = v
            .pointer_mut("/spec/template/metadata/annotations")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let Some(from) = ann.remove(CONFIG_FROM) else {
            continue;
        };
        let mut h = Sha256::new();
        for cm in from.as_str().unwrap_or("").split(',').map(str::trim) {
            let sum = configmaps
                .get(&(ns.clone(), cm.to_string()))
                .cloned()
                .unwrap_or_else(|| format!("missing:{cm}"));
            h.update(sum.as_bytes());
        }
        ann.insert(
            CONFIG_HASH.into(),
            Value::String(hex::encode(h.finalize())[..16].to_string()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_round_trip() {
        for (api, kind, ns, name, key) in [
            (
                "v1",
                "ConfigMap",
                Some("kube-system"),
                "x",
                "core/ConfigMap/kube-system/x",
            ),
            (
                "rbac.authorization.k8s.io/v1",
                "ClusterRole",
                None,
                "prometheus",
                "rbac.authorization.k8s.io/ClusterRole/-/prometheus",
            ),
            ("apps/v1", "DaemonSet", Some(""), "a", "apps/DaemonSet/-/a"),
        ] {
            let id = ObjectId::from_api_version(api, kind, ns, name);
            assert_eq!(id.key(), key);
            assert_eq!(ObjectId::parse_key(key).unwrap(), id);
        }
        assert_eq!(ObjectId::parse_key("a/b"), None);
    }

    #[test]
    fn canonical_form_ignores_key_order() {
        let a: Value = serde_norway::from_str("b: 1\na: {d: 2, c: [x, y]}\n").unwrap();
        let b: Value = serde_norway::from_str("a: {c: [x, y], d: 2}\nb: 1\n").unwrap();
        assert_eq!(to_yaml(&canonical(a)), to_yaml(&canonical(b)));
    }

    #[test]
    fn documents_split_at_separator_lines_only() {
        let docs = split_documents("---\na: 1\n---\n\n---\nb: |\n  x --- y\n");
        assert_eq!(docs, vec!["a: 1\n", "b: |\n  x --- y\n"]);
    }
}
