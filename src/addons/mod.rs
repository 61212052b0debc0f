//! Cluster add-ons: metrics (Prometheus, Alertmanager, node-exporter, kube-state-metrics, alert
//! rules), metrics-server (+ kubelet-csr-approver) and logging (OpenSearch, Dashboards, Fluent Bit).
//!
//! Data flow (all pure; the lead's `up` runs the scripts on one control plane):
//!
//! 1. [`render`]: every enabled addon's tera templates (`templates/addons/<addon>/`) are rendered
//!    with a context built from the inventory; each YAML document becomes an [`Object`] carrying
//!    the ownership labels, in canonical form (keys sorted), hashed per object and per addon.
//!    Secret values are never rendered: secrets are [`GeneratedSecret`] specs whose values are
//!    produced on the control plane at apply time (`render` shows placeholders).
//! 2. [`probe_script`] lists every object carrying `app.kubernetes.io/managed-by=otp-provision`
//!    plus the hash record (ConfigMap `kube-system/otp-provision-addons`) in one `kubectl get`;
//!    [`LiveAddonState::parse`] reads its JSON.
//! 3. [`plan()`] compares both: per addon unchanged / objects to apply (new, changed, missing) /
//!    objects to prune / whole addon removed.
//! 4. [`AddonPlan::apply_script`]: server-side apply of the changed objects (manifest on stdin),
//!    secrets generated when absent, prune deletes, then the new hashes recorded.
//!
//! Wiring into `up` / `plan` (SSH side, not here), after the cluster phases:
//! 1. on one control plane with `/etc/kubernetes/admin.conf` (the cluster phases' API probe
//!    host): run [`probe_script`] as root; parse its stdout with [`LiveAddonState::parse`]. Before
//!    the cluster exists (or when the probe fails because the API is not up yet) use
//!    `LiveAddonState::default()` (`reachable = false`): everything is planned as new.
//! 2. [`plan()`]`(inv, &live)` -> one [`AddonPlan`] per addon, in apply
//!    order; `plan` prints [`AddonPlan::summary`] (or uses [`AddonPlan::to_step`]).
//! 3. `up`: run each [`AddonPlan::to_step`] that changes something (its script is
//!    [`AddonPlan::apply_script`]) as root on that control plane, one wave each after the cluster
//!    steps ([`crate::run::Prepared::addon_steps`]), stopping at the first failure (the record is written last,
//!    so a failed addon is re-planned next time). The scripts print only object and Secret names.
//! 4. Node preparation: hosts in [`opensearch_hosts`] need `vm.max_map_count = 262144`
//!    ([`OPENSEARCH_MAX_MAP_COUNT`]) before OpenSearch starts.
//! 5. `render`: write [`render_files`] below the output directory.

pub mod images;
pub mod logging;
pub(crate) mod plan;
mod render;
mod secrets;
mod state;

#[cfg(test)]
pub(crate) mod tests;

pub use logging::{LogParser, log_parsers};
pub use plan::{AddonChange, AddonPlan, ObjectChange, plan, plan_with};
pub use render::{Object, ObjectId, RenderedAddon, render, render_addon};
pub use secrets::{GeneratedSecret, SecretValue};
pub use state::{LiveAddonState, LiveObject, Record, probe_script};

/// Label every addon object carries; the probe selects on it.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "otp-provision";
/// Label naming the addon an object belongs to (pruning and removal key on it).
pub const ADDON_LABEL: &str = "otp-provision.io/addon";
/// Field manager of server-side apply.
pub const FIELD_MANAGER: &str = "otp-provision";
/// Namespace and name of the ConfigMap recording what was applied.
pub const RECORD_NAMESPACE: &str = "kube-system";
pub const RECORD_NAME: &str = "otp-provision-addons";
/// Kubeconfig the scripts use on the control plane.
pub const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";

/// The addons otp-provision knows, in apply order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddonName {
    MetricsServer,
    Metrics,
    Logging,
}

impl AddonName {
    pub const ALL: [AddonName; 3] = [
        AddonName::MetricsServer,
        AddonName::Metrics,
        AddonName::Logging,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AddonName::MetricsServer => "metrics-server",
            AddonName::Metrics => "metrics",
            AddonName::Logging => "logging",
        }
    }

    pub fn parse(s: &str) -> Option<AddonName> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether the inventory switches this addon on.
    pub fn enabled(self, inv: &crate::inventory::Inventory) -> bool {
        let a = &inv.addons;
        match self {
            AddonName::MetricsServer => a.metrics_server.is_some(),
            AddonName::Metrics => a.metrics.is_some(),
            AddonName::Logging => a.logging.is_some(),
        }
    }
}

impl std::fmt::Display for AddonName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AddonError {
    #[error("addon {addon}: template {template}: {message}")]
    Template {
        addon: &'static str,
        template: String,
        message: String,
    },
    #[error("addon {addon}: template {template}, document {index}: {message}")]
    Manifest {
        addon: &'static str,
        template: String,
        index: usize,
        message: String,
    },
    #[error("addon {addon}: {what} is rendered twice (also by {first})")]
    Duplicate {
        addon: &'static str,
        what: String,
        first: String,
    },
    #[error("addon probe on {host}: {message}")]
    Probe { host: String, message: String },
}

/// `vm.max_map_count` OpenSearch needs on the hosts that may run it (node preparation sets it).
pub const OPENSEARCH_MAX_MAP_COUNT: u64 = 262_144;

/// Hosts node preparation must give `vm.max_map_count >= 262144` (OpenSearch refuses to start
/// below it): with logging on, the hosts matching `[addons.logging] node_selector`, or every
/// schedulable node (role `worker`) when the selector is empty. Empty when logging is off.
pub fn opensearch_hosts(inv: &crate::inventory::Inventory) -> Vec<&crate::inventory::Host> {
    use crate::inventory::Role;
    let Some(l) = &inv.addons.logging else {
        return Vec::new();
    };
    inv.hosts
        .iter()
        .filter(|h| h.has_role(Role::ControlPlane) || h.has_role(Role::Worker))
        .filter(|h| {
            if l.node_selector.is_empty() {
                h.has_role(Role::Worker)
            } else {
                l.node_selector
                    .iter()
                    .all(|(k, v)| h.labels.get(k) == Some(v))
            }
        })
        .collect()
}

/// What `otp-provision render` writes for the addons, as `(relative path, content)`:
/// `addons/<addon>/manifest.yaml` (every object plus placeholder Secrets) and
/// `addons/<addon>/files/<name>` (Prometheus/Alertmanager/OpenSearch/Fluent Bit configuration
/// embedded in the ConfigMaps). `scripts/validate-addons OUT/addons` checks such a directory.
pub fn render_files(
    inv: &crate::inventory::Inventory,
    parsers: &[LogParser],
) -> Result<Vec<(std::path::PathBuf, String)>, AddonError> {
    let mut out = Vec::new();
    for r in render(inv, parsers)? {
        let dir = std::path::Path::new("addons").join(r.name.as_str());
        out.push((dir.join("manifest.yaml"), r.display_manifest()));
        for (name, text) in &r.files {
            out.push((dir.join("files").join(name), text.clone()));
        }
    }
    Ok(out)
}
