//! What `up` decides once from the inventory and the probed [`ClusterState`], before any
//! planner runs: the init node, whether to init now, who joins, who is reset first, which
//! security files change where. Planners only read it, so two planners can never disagree
//! about, say, the init node.

use super::ClusterError;
use super::render::{self, ENCRYPTION_CONFIG, RenderOptions, RenderedFile};
use super::state::{ApiProbe, ClusterState, HostClusterFacts};
use super::waves::{W_CP_JOIN, W_ROLLING};
use crate::inventory::{EndpointMode, Host, Inventory, Role};

/// Security files a control plane needs written (or only loaded).
#[derive(Debug, Clone)]
pub struct SecurityUpdate<'a> {
    pub host: &'a Host,
    /// Missing or different files; empty when the files are right but not loaded yet.
    pub files: Vec<RenderedFile>,
    pub reason: String,
    /// A running API server reads them at start only: written one host at a time, with a
    /// restart (the `restarts` planner); otherwise written before init/join.
    pub rolling: bool,
}

/// The decisions of `up`, shared by its planners.
pub struct UpContext<'a> {
    pub inv: &'a Inventory,
    pub state: &'a ClusterState,
    /// Control planes, inventory order.
    pub cps: Vec<&'a Host>,
    /// The API probe, unless the cluster is being initialised (again).
    pub api: Option<&'a ApiProbe>,
    /// The control plane that runs (or ran) `kubeadm init`.
    pub init_node: String,
    pub init_host: &'a Host,
    /// `kubeadm init` runs in this plan (fresh cluster, or an interrupted init redone).
    pub init_now: bool,
    pub kube_vip: bool,
    pub cp_joins: Vec<&'a Host>,
    pub worker_joins: Vec<&'a Host>,
    /// Hosts with kubeadm leftovers of an unfinished init/join, reset before it.
    pub to_reset: Vec<&'a Host>,
    /// Init was interrupted in its addon phase: CoreDNS / kube-proxy are installed in place.
    pub repair_addons: bool,
    pub need_token: bool,
    pub need_cert_key: bool,
    /// Control planes whose security files change, inventory order.
    pub security: Vec<SecurityUpdate<'a>>,
}

impl<'a> UpContext<'a> {
    /// Decide. Never plans a second `kubeadm init`: once any control plane has admin.conf, the
    /// cluster exists and the API must answer (else an error says so).
    pub fn decide(inv: &'a Inventory, state: &'a ClusterState) -> Result<Self, ClusterError> {
        render::check_endpoint(inv)?;
        for h in &inv.hosts {
            facts(state, &h.name)?;
        }
        let cps: Vec<&Host> = inv.control_planes().collect();
        let Some(first_cp) = cps.first().copied() else {
            return Err(ClusterError::Config {
                host: "-".into(),
                reason: "the inventory has no control-plane host".into(),
            });
        };

        // The init node: a control plane that already runs one (prefer the one the API was
        // probed from), else the first control plane of the inventory.
        let initialised = state.initialised_control_planes(inv);
        let any_admin = cps
            .iter()
            .any(|h| state.host(&h.name).is_some_and(|f| f.admin_conf));
        let cluster_exists = !initialised.is_empty() || any_admin;
        // An interrupted `kubeadm init` is the one state that is reset and redone: nothing
        // else has joined, and either the API proves init did not finish or etcd never stored
        // data.
        let failed_init: Option<&Host> = match (&state.api, state.lone_control_plane_holder(inv)) {
            (Some(a), Some(h)) if !a.init_complete => Some(h),
            (None, Some(_)) => state
                .unfinished_init_without_data(inv)
                .and_then(|name| inv.host(name)),
            _ => None,
        };
        let api = match (&state.api, cluster_exists) {
            (_, true) if failed_init.is_some() => None,
            (Some(api), _) => Some(api),
            (None, true) => {
                let host = state
                    .api_probe_host(inv)
                    .or(initialised.first().copied())
                    .unwrap_or("-");
                return Err(ClusterError::Config {
                    host: host.to_string(),
                    reason: "a control plane is initialised but the API could not be probed; \
                             refusing to plan (a second kubeadm init would split the cluster)"
                        .into(),
                });
            }
            (None, false) => None,
        };
        let init_node: String = if let Some(h) = failed_init {
            h.name.clone()
        } else {
            match api {
                Some(a) if initialised.contains(&a.from.as_str()) => a.from.clone(),
                _ => initialised
                    .first()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| first_cp.name.clone()),
            }
        };
        let init_now = !cluster_exists || failed_init.is_some();
        let kube_vip = inv.cluster.endpoint.as_ref().map(|e| e.mode) == Some(EndpointMode::KubeVip);

        // Which hosts still have to join, and which of them need cleaning first.
        let mut cp_joins: Vec<&Host> = Vec::new();
        let mut worker_joins: Vec<&Host> = Vec::new();
        for h in &inv.hosts {
            let is_cp = h.has_role(Role::ControlPlane);
            if !is_cp && !h.has_role(Role::Worker) {
                continue;
            }
            if h.name == init_node || (!init_now && state.joined(inv, &h.name)) {
                continue;
            }
            if is_cp {
                cp_joins.push(h);
            } else {
                worker_joins.push(h);
            }
        }
        let joins_pending = !cp_joins.is_empty() || !worker_joins.is_empty();

        // Partial hosts: kubeadm leftovers without a finished membership -> reset before
        // init/join.
        let mut to_reset: Vec<&Host> = Vec::new();
        if init_now && facts(state, &init_node)?.leftovers() {
            to_reset.push(inv.host(&init_node).unwrap_or(first_cp));
        }
        for h in cp_joins.iter().chain(worker_joins.iter()) {
            if facts(state, &h.name)?.leftovers() {
                to_reset.push(h);
            }
        }

        // An init interrupted in its last phase leaves a usable cluster without CoreDNS or
        // kube-proxy: repaired in place, never by a reset.
        let repair_addons = !init_now && api.is_some_and(|a| !a.addons_present);

        let mut ctx = UpContext {
            inv,
            state,
            init_host: inv.host(&init_node).unwrap_or(first_cp),
            cps,
            api,
            init_node,
            init_now,
            kube_vip,
            // Run-time values this plan needs (the addon phase reads the full init config).
            need_token: init_now || joins_pending || repair_addons,
            need_cert_key: init_now || !cp_joins.is_empty() || repair_addons,
            cp_joins,
            worker_joins,
            to_reset,
            repair_addons,
            security: Vec::new(),
        };
        ctx.security = ctx.security_updates()?;
        Ok(ctx)
    }

    /// Security files on every control plane: missing or different ones, and ones written
    /// after the running API server started (a run killed before the restart).
    fn security_updates(&self) -> Result<Vec<SecurityUpdate<'a>>, ClusterError> {
        let mut out = Vec::new();
        for h in self.cps.iter().copied() {
            let f = self.facts(&h.name)?;
            let all = render::security_files(self.inv, h)?;
            let running = f.control_plane_initialised() && !self.init_now;
            // Files already right but written after the running API server started are not
            // in effect yet: restart only.
            let not_loaded: Vec<&str> = match f.apiserver_started {
                Some(started) if running => all
                    .iter()
                    .map(|file| file.path.as_str())
                    .filter(|path| f.file_mtimes.get(*path).is_some_and(|m| *m > started))
                    .collect(),
                _ => Vec::new(),
            };
            let files: Vec<RenderedFile> = all
                .iter()
                .filter(|file| {
                    if file.path == ENCRYPTION_CONFIG {
                        // The key is never rendered, so only presence can be compared.
                        !f.files.contains_key(ENCRYPTION_CONFIG)
                    } else {
                        f.files.get(&file.path) != Some(&file.sha256())
                    }
                })
                .cloned()
                .collect();
            let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
            let (reason, rolling) = if files.is_empty() {
                if not_loaded.is_empty() {
                    continue;
                }
                (
                    format!(
                        "{} changed after the running API server started (read at start only)",
                        not_loaded.join(", ")
                    ),
                    true,
                )
            } else if running {
                // A running API server reads audit, admission and encryption config only at
                // start: those hosts are updated one at a time, with a restart.
                (
                    format!("{} different on a running control plane", paths.join(", ")),
                    true,
                )
            } else {
                (format!("{} missing or different", paths.join(", ")), false)
            };
            out.push(SecurityUpdate {
                host: h,
                files,
                reason,
                rolling,
            });
        }
        Ok(out)
    }

    /// The probe result of `host`; every inventory host has one (checked by [`Self::decide`]).
    pub fn facts(&self, host: &str) -> Result<&'a HostClusterFacts, ClusterError> {
        facts(self.state, host)
    }

    /// Rendering options of `host` in this plan.
    pub fn opts(&self, host: &str) -> RenderOptions {
        RenderOptions {
            init_node: Some(self.init_node.clone()),
            vip_interface: self.state.host(host).and_then(|f| f.vip_interface.clone()),
            kube_vip_bootstrap: false,
        }
    }

    pub fn is_reset(&self, host: &str) -> bool {
        self.to_reset.iter().any(|h| h.name == host)
    }

    pub fn joins(&self) -> impl Iterator<Item = &&'a Host> {
        self.cp_joins.iter().chain(self.worker_joins.iter())
    }

    pub fn rolling(&self) -> impl Iterator<Item = &SecurityUpdate<'a>> {
        self.security.iter().filter(|u| u.rolling)
    }

    /// First control-plane join: after the rolling security updates.
    pub fn join_wave(&self) -> u32 {
        W_CP_JOIN.max(W_ROLLING + self.rolling().count() as u32)
    }

    /// After every join: control planes one wave each, then the workers together.
    pub fn after_joins_wave(&self) -> u32 {
        self.join_wave() + self.cp_joins.len() as u32 + u32::from(!self.worker_joins.is_empty())
    }

    /// Last wave: token cleanup and the kubeconfig.
    pub fn final_wave(&self) -> u32 {
        self.after_joins_wave() + 1
    }
}

fn facts<'s>(state: &'s ClusterState, host: &str) -> Result<&'s HostClusterFacts, ClusterError> {
    state.host(host).ok_or_else(|| ClusterError::Config {
        host: host.to_string(),
        reason: "no probe result: the host was not reachable, so the cluster cannot be planned"
            .into(),
    })
}
