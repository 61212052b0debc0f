//! What the cluster holds: every object labelled as ours, and the hash record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::render::ObjectId;
use super::{
    ADDON_LABEL, ADMIN_CONF, AddonError, AddonName, MANAGED_BY, MANAGED_BY_LABEL, RECORD_NAME,
    RECORD_NAMESPACE,
};

/// Resource types the probe lists. Every kind any addon template renders must be here, or its
/// objects could never be pruned (a test checks this against the rendered set).
pub(crate) const PROBED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "ServiceAccount"),
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "Service"),
    ("", "PersistentVolumeClaim"),
    ("apps", "Deployment"),
    ("apps", "DaemonSet"),
    ("apps", "StatefulSet"),
    ("policy", "PodDisruptionBudget"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("apiregistration.k8s.io", "APIService"),
    ("networking.k8s.io", "NetworkPolicy"),
];

/// `kubectl get` resource argument for the probed kinds (`deployments.apps`, ...).
fn resource_list() -> String {
    PROBED
        .iter()
        .map(|(g, k)| {
            let lower = k.to_ascii_lowercase();
            let plural = if lower.ends_with('y') {
                format!("{}ies", &lower[..lower.len() - 1])
            } else if lower.ends_with('s') {
                format!("{lower}es")
            } else {
                format!("{lower}s")
            };
            if g.is_empty() {
                plural
            } else {
                format!("{plural}.{g}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Probe, run on a control plane: one `kubectl get` of every object carrying our managed-by
/// label (the hash record carries it too), as a JSON List on stdout.
pub fn probe_script() -> String {
    format!(
        "set -eu\nexport KUBECONFIG={ADMIN_CONF}\nkubectl get {} --all-namespaces -l {MANAGED_BY_LABEL}={MANAGED_BY} -o json\n",
        resource_list()
    )
}

/// An object found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveObject {
    pub id: ObjectId,
    pub api_version: String,
    /// Value of the addon label (None: managed by us but not an addon object, e.g. the record).
    pub addon: Option<String>,
}

/// What was applied last time for one addon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The addon's hash (`RenderedAddon::hash`).
    pub hash: String,
    /// Object key (`ObjectId::key`) -> object hash.
    pub objects: BTreeMap<String, String>,
}

/// The cluster side of the addon plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LiveAddonState {
    /// Whether the API answered (a cluster not yet up has no state: everything is applied).
    pub reachable: bool,
    pub objects: Vec<LiveObject>,
    /// Addon name -> record (from ConfigMap kube-system/otp-provision-addons).
    pub records: BTreeMap<String, Record>,
}

impl LiveAddonState {
    /// Parses the probe's stdout. `host` names the control plane in errors.
    pub fn parse(host: &str, stdout: &str) -> Result<LiveAddonState, AddonError> {
        let err = |message: String| AddonError::Probe {
            host: host.to_string(),
            message,
        };
        let v: Value = serde_json::from_str(stdout)
            .map_err(|e| err(format!("kubectl output is not JSON: {e}")))?;
        let items = v["items"]
            .as_array()
            .ok_or_else(|| err("kubectl output has no `items` list".into()))?;
        let mut state = LiveAddonState {
            reachable: true,
            ..Default::default()
        };
        for item in items {
            let api_version = item["apiVersion"].as_str().unwrap_or_default();
            let kind = item["kind"].as_str().unwrap_or_default();
            let meta = &item["metadata"];
            let name = meta["name"].as_str().unwrap_or_default();
            if kind.is_empty() || name.is_empty() {
                return Err(err(format!(
                    "an item without kind or name: {}",
                    truncate(&item.to_string())
                )));
            }
            let id =
                ObjectId::from_api_version(api_version, kind, meta["namespace"].as_str(), name);
            if kind == "ConfigMap"
                && id.namespace.as_deref() == Some(RECORD_NAMESPACE)
                && name == RECORD_NAME
            {
                if let Some(data) = item["data"].as_object() {
                    for (addon, text) in data {
                        if AddonName::parse(addon).is_none() {
                            continue; // written by a newer otp-provision: not ours to judge
                        }
                        let rec: Record = serde_json::from_str(text.as_str().unwrap_or(""))
                            .map_err(|e| {
                                err(format!(
                                    "{RECORD_NAMESPACE}/{RECORD_NAME} key `{addon}` is not a record: {e}"
                                ))
                            })?;
                        state.records.insert(addon.clone(), rec);
                    }
                }
                continue;
            }
            state.objects.push(LiveObject {
                id,
                api_version: api_version.to_string(),
                addon: meta["labels"][ADDON_LABEL].as_str().map(str::to_string),
            });
        }
        Ok(state)
    }

    pub fn objects_of<'a>(&'a self, addon: &'a str) -> impl Iterator<Item = &'a LiveObject> + 'a {
        self.objects
            .iter()
            .filter(move |o| o.addon.as_deref() == Some(addon))
    }
}

fn truncate(s: &str) -> String {
    if s.len() > 200 {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_are_plural_and_grouped() {
        let r = resource_list();
        for want in [
            "namespaces,",
            "configmaps,",
            "deployments.apps",
            "poddisruptionbudgets.policy",
            "networkpolicies.networking.k8s.io",
            "apiservices.apiregistration.k8s.io",
            "clusterrolebindings.rbac.authorization.k8s.io",
        ] {
            assert!(r.contains(want), "{want} missing in {r}");
        }
        assert!(probe_script().contains("-l app.kubernetes.io/managed-by=otp-provision -o json"));
    }

    #[test]
    fn parse_reads_objects_and_records() {
        let out = r#"{"apiVersion":"v1","kind":"List","items":[
          {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"otp-provision-addons","namespace":"kube-system",
             "labels":{"app.kubernetes.io/managed-by":"otp-provision"}},
           "data":{"metrics":"{\"hash\":\"abc\",\"objects\":{\"apps/Deployment/monitoring/prometheus\":\"h1\"}}",
                   "future-addon":"whatever"}},
          {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"prometheus","namespace":"monitoring",
             "labels":{"app.kubernetes.io/managed-by":"otp-provision","otp-provision.io/addon":"metrics"}}},
          {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"x",
             "labels":{"app.kubernetes.io/managed-by":"otp-provision"}}}
        ]}"#;
        let s = LiveAddonState::parse("cp1", out).unwrap();
        assert!(s.reachable);
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.records["metrics"].hash, "abc");
        assert_eq!(s.objects.len(), 2);
        assert_eq!(s.objects_of("metrics").count(), 1);
        assert_eq!(s.objects[1].addon, None);
        assert_eq!(
            s.objects[1].id.key(),
            "rbac.authorization.k8s.io/ClusterRole/-/x"
        );
    }

    #[test]
    fn parse_errors_name_the_host() {
        for (out, want) in [
            ("not json", "cp9: kubectl output is not JSON"),
            ("{}", "cp9: kubectl output has no `items` list"),
            (
                r#"{"items":[{"kind":"Pod"}]}"#,
                "cp9: an item without kind or name",
            ),
            (
                r#"{"items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"otp-provision-addons","namespace":"kube-system"},"data":{"logging":"{"}}]}"#,
                "key `logging` is not a record",
            ),
        ] {
            let e = LiveAddonState::parse("cp9", out).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
