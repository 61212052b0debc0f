//! The addon planner: rendered set vs. cluster state -> one step per addon.

use std::collections::BTreeSet;

use serde::Serialize;

use super::render::{Object, ObjectId, RenderedAddon};
use super::secrets::{self, q};
use super::state::{LiveAddonState, Record};
use super::{
    ADMIN_CONF, AddonError, AddonName, FIELD_MANAGER, LogParser, MANAGED_BY, MANAGED_BY_LABEL,
    RECORD_NAME, RECORD_NAMESPACE, render,
};
use crate::inventory::Inventory;

/// What an addon's plan does (not a step kind: every addon step is
/// [`crate::plan::StepKind::Addon`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddonChange {
    /// Off in the inventory and nothing of it in the cluster.
    Off,
    /// Rendered set hash equals the record, every object present, nothing to prune.
    Unchanged,
    /// Some objects to apply and/or prune.
    Apply,
    /// Switched off: every object carrying its label is deleted.
    Remove,
}

/// Why an object is (re-)applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectChange {
    pub id: ObjectId,
    /// `new`, `changed` or `missing` (recorded as applied but absent in the cluster).
    pub reason: &'static str,
}

/// What `up` does for one addon: the planner's verdict, turned into the one step type by
/// [`AddonPlan::to_step`].
#[derive(Debug, Clone, Serialize)]
pub struct AddonPlan {
    pub addon: AddonName,
    pub kind: AddonChange,
    pub apply: Vec<ObjectChange>,
    pub prune: Vec<ObjectId>,
    /// Generated Secrets not in the cluster yet (created by the apply script).
    pub secrets_to_create: Vec<ObjectId>,
    /// The rendered addon (None when it is off).
    #[serde(skip)]
    pub rendered: Option<RenderedAddon>,
    /// Live objects to delete, with their served apiVersion (for the delete manifest).
    #[serde(skip)]
    prune_versions: Vec<(ObjectId, String)>,
}

/// Plans every addon: enabled ones are compared with the record and the live objects, disabled
/// ones with leftovers in the cluster. Log parsers come from the inventory.
pub fn plan(inv: &Inventory, live: &LiveAddonState) -> Result<Vec<AddonPlan>, AddonError> {
    plan_with(inv, &super::log_parsers(inv), live)
}

/// [`plan`] with explicit log parser definitions.
pub fn plan_with(
    inv: &Inventory,
    parsers: &[LogParser],
    live: &LiveAddonState,
) -> Result<Vec<AddonPlan>, AddonError> {
    let rendered = render(inv, parsers)?;
    Ok(AddonName::ALL
        .into_iter()
        .map(|a| plan_one(a, rendered.iter().find(|r| r.name == a).cloned(), live))
        .collect())
}

pub(crate) fn plan_one(
    addon: AddonName,
    rendered: Option<RenderedAddon>,
    live: &LiveAddonState,
) -> AddonPlan {
    let name = addon.as_str();
    let live_objs: Vec<_> = live.objects_of(name).collect();
    let record = live.records.get(name);
    let mut step = AddonPlan {
        addon,
        kind: AddonChange::Off,
        apply: Vec::new(),
        prune: Vec::new(),
        secrets_to_create: Vec::new(),
        rendered: None,
        prune_versions: Vec::new(),
    };
    let Some(r) = rendered else {
        if !live_objs.is_empty() || record.is_some() {
            step.kind = AddonChange::Remove;
            for o in live_objs {
                step.prune.push(o.id.clone());
                step.prune_versions
                    .push((o.id.clone(), o.api_version.clone()));
            }
        }
        return step;
    };
    let live_ids: BTreeSet<&ObjectId> = live_objs.iter().map(|o| &o.id).collect();
    let empty = Record::default();
    let rec = record.unwrap_or(&empty);
    for o in &r.objects {
        let reason = match rec.objects.get(&o.id.key()) {
            None => "new",
            Some(h) if h != &o.hash => "changed",
            Some(_) if live.reachable && !live_ids.contains(&o.id) => "missing",
            Some(_) => continue,
        };
        step.apply.push(ObjectChange {
            id: o.id.clone(),
            reason,
        });
    }
    let owned: BTreeSet<ObjectId> = r.owned_ids().into_iter().collect();
    for o in &live_objs {
        if !owned.contains(&o.id) {
            step.prune.push(o.id.clone());
            step.prune_versions
                .push((o.id.clone(), o.api_version.clone()));
        }
    }
    for s in &r.secrets {
        let id = ObjectId {
            group: String::new(),
            kind: "Secret".into(),
            namespace: Some(s.namespace.clone()),
            name: s.name.clone(),
        };
        if !live_ids.contains(&id) {
            step.secrets_to_create.push(id);
        }
    }
    step.kind = if rec.hash == r.hash
        && step.apply.is_empty()
        && step.prune.is_empty()
        && step.secrets_to_create.is_empty()
    {
        AddonChange::Unchanged
    } else {
        AddonChange::Apply
    };
    step.rendered = Some(r);
    step
}

impl AddonPlan {
    pub fn changes(&self) -> bool {
        matches!(self.kind, AddonChange::Apply | AddonChange::Remove)
    }

    /// One line for `plan`: `metrics: 3 to apply (prometheus-config changed, ...), 1 to prune`.
    pub fn summary(&self) -> String {
        let list = |ids: Vec<String>| {
            if ids.len() > 6 {
                format!("{}, ... ({} more)", ids[..6].join(", "), ids.len() - 6)
            } else {
                ids.join(", ")
            }
        };
        let name = self.addon.as_str();
        match self.kind {
            AddonChange::Off => format!("{name}: off"),
            AddonChange::Unchanged => format!("{name}: unchanged"),
            AddonChange::Remove => format!(
                "{name}: switched off, {} object(s) to remove: {}",
                self.prune.len(),
                list(self.prune.iter().map(|i| i.to_string()).collect())
            ),
            AddonChange::Apply => {
                let mut parts = Vec::new();
                if !self.apply.is_empty() {
                    parts.push(format!(
                        "{} to apply: {}",
                        self.apply.len(),
                        list(
                            self.apply
                                .iter()
                                .map(|c| format!("{} ({})", c.id, c.reason))
                                .collect()
                        )
                    ));
                }
                if !self.secrets_to_create.is_empty() {
                    parts.push(format!(
                        "{} secret(s) to generate: {}",
                        self.secrets_to_create.len(),
                        list(
                            self.secrets_to_create
                                .iter()
                                .map(|i| i.to_string())
                                .collect()
                        )
                    ));
                }
                if !self.prune.is_empty() {
                    parts.push(format!(
                        "{} to prune: {}",
                        self.prune.len(),
                        list(self.prune.iter().map(|i| i.to_string()).collect())
                    ));
                }
                if parts.is_empty() {
                    parts.push("record out of date".into());
                }
                format!("{name}: {}", parts.join("; "))
            }
        }
    }

    /// Script for a control plane (`sh`, as root): apply the objects to apply (manifest on
    /// kubectl's stdin), create absent secrets, delete pruned objects, then record the hashes.
    /// None when there is nothing to do.
    pub fn apply_script(&self) -> Option<String> {
        if !self.changes() {
            return None;
        }
        let name = self.addon.as_str();
        let mut s = format!("set -eu\nexport KUBECONFIG={ADMIN_CONF}\n");
        if let Some(r) = &self.rendered {
            let todo: BTreeSet<&ObjectId> = self.apply.iter().map(|c| &c.id).collect();
            let (sts, objs): (Vec<&Object>, Vec<&Object>) = r
                .objects
                .iter()
                .filter(|o| todo.contains(&o.id))
                .partition(|o| o.id.kind == "StatefulSet");
            if !objs.is_empty() {
                let manifest = RenderedAddon::manifest(objs);
                s.push_str(&format!(
                    "kubectl apply {APPLY_FLAGS} -f - <<'{eof}'\n{manifest}{eof}\n",
                    eof = heredoc_end(&manifest),
                ));
            }
            if !sts.is_empty() {
                s.push_str(STS_APPLY);
            }
            for o in sts {
                let manifest = RenderedAddon::manifest([o]);
                s.push_str(&format!(
                    "sts_apply {} {} <<'{eof}'\n{manifest}{eof}\n",
                    q(o.id.namespace.as_deref().unwrap_or("default")),
                    q(&o.id.name),
                    eof = heredoc_end(&manifest),
                ));
            }
            s.push_str(&secrets::ensure_script(name, &r.secrets));
            if self.addon == AddonName::MetricsServer {
                // The API server verifies metrics-server with the generated CA (no
                // insecureSkipTLSVerify). A merge patch owns only caBundle, so later server-side
                // applies of the APIService leave it alone. The value is public (a CA certificate).
                s.push_str(
                    "ca=$(kubectl -n kube-system get secret metrics-server-tls -o 'jsonpath={.data.ca\\.crt}')\n\
                     kubectl patch apiservice v1beta1.metrics.k8s.io --type merge -p \"{\\\"spec\\\":{\\\"caBundle\\\":\\\"$ca\\\"}}\" >/dev/null\n",
                );
            }
        }
        if self.addon == AddonName::Logging
            && self.apply.iter().any(|c| {
                c.reason == "changed"
                    && c.id.kind == "ConfigMap"
                    && c.id.name == "opensearch-security"
            })
        {
            // OpenSearch reads its security files only to create the security index on the very
            // first start; later changes (users, roles, mappings) must be pushed with
            // securityadmin.sh and the admin certificate, once the restarted pods run.
            s.push_str(
                "kubectl -n logging rollout status statefulset/opensearch --timeout=15m\n\
                 kubectl -n logging exec opensearch-0 -c opensearch -- /usr/share/opensearch/plugins/opensearch-security/tools/securityadmin.sh \
                 -cd /usr/share/opensearch/config/opensearch-security -icl -nhnv \
                 -cacert /usr/share/opensearch/config/certs/ca.crt \
                 -cert /usr/share/opensearch/config/certs/admin.crt \
                 -key /usr/share/opensearch/config/certs/admin.key >/dev/null\n",
            );
        }
        if !self.prune_versions.is_empty() {
            // Minimal objects are enough for `delete -f`; namespaces last (their deletion
            // takes the rest with it, and we want every object reported).
            let mut victims = self.prune_versions.clone();
            victims.sort_by_key(|(id, _)| id.kind == "Namespace");
            let mut m = String::new();
            for (id, api_version) in &victims {
                m.push_str(&format!(
                    "---\napiVersion: {api_version}\nkind: {}\nmetadata:\n  name: {}\n",
                    id.kind, id.name
                ));
                if let Some(ns) = &id.namespace {
                    m.push_str(&format!("  namespace: {ns}\n"));
                }
            }
            s.push_str(&format!(
                "kubectl delete --ignore-not-found --wait=false -f - <<'{eof}'\n{m}{eof}\n",
                eof = heredoc_end(&m),
            ));
        }
        // The record, last: only a complete apply is remembered. One field manager per addon, so
        // applying this addon's key leaves the other addons' keys alone (and an empty `data`
        // drops the key of a removed addon).
        let data = match &self.rendered {
            Some(r) => {
                let rec = super::state::Record {
                    hash: r.hash.clone(),
                    objects: r
                        .objects
                        .iter()
                        .map(|o| (o.id.key(), o.hash.clone()))
                        .collect(),
                };
                let json = serde_json::to_string(&rec).unwrap_or_default();
                format!("data:\n  {name}: {}\n", serde_json::Value::String(json))
            }
            None => "data: {}\n".to_string(),
        };
        let record = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {RECORD_NAME}\n  namespace: {RECORD_NAMESPACE}\n  labels:\n    {MANAGED_BY_LABEL}: {MANAGED_BY}\n{data}"
        );
        s.push_str(&format!(
            "kubectl apply --server-side --field-manager={} --force-conflicts -f - <<'{eof}'\n{record}{eof}\n",
            q(&format!("{FIELD_MANAGER}-{name}")),
            eof = heredoc_end(&record),
        ));
        Some(s)
    }

    /// The step that applies this addon (action: the apply script); `up` sets the control
    /// plane it runs on and its wave ([`crate::run::Prepared::addon_steps`]).
    pub fn to_step(&self) -> crate::plan::Step {
        crate::plan::Step {
            phase: "addons".into(),
            id: format!("addons/{}", self.addon),
            host: String::new(),
            wave: 0,
            kind: crate::plan::StepKind::Addon,
            title: format!("addon {}", self.addon),
            change: self.changes(),
            reason: self.summary(),
            action: match self.apply_script() {
                Some(script) => crate::plan::Action::script(script),
                None => crate::plan::Action::None,
            },
        }
    }
}

pub(crate) const APPLY_FLAGS: &str =
    "--server-side --field-manager=otp-provision --force-conflicts";

/// StatefulSets are applied one by one: a change of a field the API server refuses to update
/// (volume claim templates: `storage_size`, `storage_class`) re-creates the StatefulSet with
/// `--cascade=orphan`, so its pods keep running and are adopted; existing volumes keep their
/// size (resizing a bound claim is the StorageClass' business).
const STS_APPLY: &str = r#"sts_apply() {
  f=$(mktemp)
  cat >"$f"
  if ! out=$(kubectl apply --server-side --field-manager=otp-provision --force-conflicts -f "$f" 2>&1); then
    case "$out" in
      *"updates to statefulset spec for fields other than"*)
        echo "statefulset $1/$2: fields that cannot be updated changed; re-creating it (pods and volumes kept)"
        kubectl -n "$1" delete statefulset "$2" --cascade=orphan
        kubectl apply --server-side --field-manager=otp-provision --force-conflicts -f "$f" ;;
      *) echo "$out" >&2; rm -f "$f"; return 1 ;;
    esac
  fi
  rm -f "$f"
}
"#;

/// A heredoc terminator that does not occur as a line of `body`.
fn heredoc_end(body: &str) -> String {
    let mut end = "OTP_PROVISION_EOF".to_string();
    while body.lines().any(|l| l == end) {
        end.push('_');
    }
    end
}
