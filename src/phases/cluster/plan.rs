//! The cluster planner: inventory + observed [`ClusterState`] -> ordered [`ClusterStep`]s.
//! Pure; `up` runs the steps wave by wave (steps of one wave may run in parallel, waves in
//! order), re-probing is not needed in between because later steps take what earlier ones
//! produce (token, certificate key, CA hash) from [`super::RuntimeValues`].

use std::path::PathBuf;

use serde::Serialize;

use super::ClusterError;
use super::render::{
    self, ADMIN_CONF, ENCRYPTION_CONFIG, RenderOptions, RenderedFile, control_plane_endpoint,
    uses_super_admin,
};
use super::runtime::{Capture, RuntimeInput};
use super::scripts;
use super::state::{ClusterState, HostClusterFacts, KubeVipKubeconfig};
use crate::inventory::{Cni, EndpointMode, Host, Inventory, Role};

/// Host name used for steps that run on the operator's machine.
pub const LOCAL: &str = "(local)";
const TOKEN_TTL_SECS: u64 = 3600;
const CSR_WAIT_SECS: u64 = 180;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    Generate,
    FetchEncryptionKey,
    Reset,
    RemoveEtcdMember,
    DeleteNode,
    SecurityFiles,
    KubeVip,
    Init,
    KubeVipAdminConf,
    Addons,
    Cni,
    BootstrapToken,
    UploadCerts,
    JoinControlPlane,
    JoinWorker,
    ApproveCsrs,
    Labels,
    CleanupTokens,
    Kubeconfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ClusterAction {
    /// Create a fresh random value on the operator's machine ([`super::RuntimeValues::generate`]).
    Generate(RuntimeInput),
    /// Run `script` as root; feed the listed values on stdin, one per line, in order; store
    /// the stdout's last line as `capture` when set.
    Script {
        script: String,
        stdin: Vec<RuntimeInput>,
        capture: Option<Capture>,
    },
    /// Run `script` (prints admin.conf; treat the output as secret) and write it to
    /// `local_path` with mode 0600.
    FetchKubeconfig {
        script: String,
        local_path: PathBuf,
        server: String,
    },
    /// Delete a file on the operator's machine (`reset --yes`: the kubeconfig).
    RemoveLocal { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterStep {
    /// Stable id, e.g. `cluster/join/cp-2`.
    pub id: String,
    /// Inventory host the step runs on, or [`LOCAL`].
    pub host: String,
    pub kind: StepKind,
    pub title: String,
    pub reason: String,
    /// Steps with the same wave may run in parallel; waves run in ascending order.
    pub wave: u32,
    pub action: ClusterAction,
}

/// Where the operator's admin kubeconfig goes.
pub fn kubeconfig_path(inv: &Inventory) -> PathBuf {
    inv.run
        .state_dir
        .join(format!("{}-admin.conf", inv.cluster.name))
}

struct Planner<'a> {
    inv: &'a Inventory,
    state: &'a ClusterState,
    steps: Vec<ClusterStep>,
}

// Wave numbers: fixed bands, control-plane joins take one wave each from W_CP_JOIN on.
const W_GENERATE: u32 = 0;
const W_CLEANUP_STALE: u32 = 1;
const W_RESET: u32 = 2;
const W_FILES: u32 = 3;
const W_INIT: u32 = 4;
const W_AFTER_INIT: u32 = 5;
const W_TOKEN: u32 = 6;
/// Rolling updates of running control planes' security files, one host per wave, before any
/// join: a join may depend on them (anonymous discovery of cluster-info) and a control plane
/// that joins later must not meet an older configuration.
const W_ROLLING: u32 = 7;
const W_CP_JOIN: u32 = 10;

impl<'a> Planner<'a> {
    // One argument per field of the step: call sites read like the step they create.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        wave: u32,
        host: &str,
        kind: StepKind,
        id: &str,
        title: String,
        reason: String,
        action: ClusterAction,
    ) {
        self.steps.push(ClusterStep {
            id: format!("cluster/{id}"),
            host: host.to_string(),
            kind,
            title,
            reason,
            wave,
            action,
        });
    }

    fn script(script: String, stdin: Vec<RuntimeInput>, capture: Option<Capture>) -> ClusterAction {
        ClusterAction::Script {
            script,
            stdin,
            capture,
        }
    }

    fn facts(&self, host: &str) -> Result<&'a HostClusterFacts, ClusterError> {
        self.state.host(host).ok_or_else(|| ClusterError::Config {
            host: host.to_string(),
            reason: "no probe result: the host was not reachable, so the cluster cannot be planned"
                .into(),
        })
    }

    fn opts(&self, host: &str, init_node: &str) -> RenderOptions {
        RenderOptions {
            init_node: Some(init_node.to_string()),
            vip_interface: self.state.host(host).and_then(|f| f.vip_interface.clone()),
            kube_vip_bootstrap: false,
        }
    }
}

/// Decide the cluster steps. Never plans a second `kubeadm init`: once any control plane has
/// admin.conf, the cluster exists and the API must answer (else an error says so).
pub fn plan_cluster(
    inv: &Inventory,
    state: &ClusterState,
) -> Result<Vec<ClusterStep>, ClusterError> {
    render::check_endpoint(inv)?;
    let mut p = Planner {
        inv,
        state,
        steps: Vec::new(),
    };
    for h in &inv.hosts {
        p.facts(&h.name)?;
    }
    let cps: Vec<&Host> = inv.control_planes().collect();
    let Some(first_cp) = cps.first() else {
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
    // An interrupted `kubeadm init` is the one state that is reset and redone: nothing else
    // has joined, and either the API proves init did not finish or etcd never stored data.
    let holders: Vec<&Host> = inv
        .hosts
        .iter()
        .filter(|h| {
            state
                .host(&h.name)
                .is_some_and(|f| f.admin_conf || f.kubelet_conf)
        })
        .collect();
    let lone = (holders.len() == 1 && holders[0].has_role(Role::ControlPlane)).then(|| holders[0]);
    let failed_init: Option<&Host> = match (&state.api, lone) {
        (Some(a), Some(h)) if !a.init_complete => Some(h),
        (None, Some(h)) if !p.facts(&h.name)?.etcd_data => Some(h),
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

    // Partial hosts: kubeadm leftovers without a finished membership -> reset before init/join.
    let mut to_reset: Vec<&Host> = Vec::new();
    if init_now {
        let f = p.facts(&init_node)?;
        if f.leftovers() {
            to_reset.push(inv.host(&init_node).unwrap_or(first_cp));
        }
    }
    for h in cp_joins.iter().chain(worker_joins.iter()) {
        if p.facts(&h.name)?.leftovers() {
            to_reset.push(h);
        }
    }

    // An init interrupted in its last phase leaves a usable cluster without CoreDNS or
    // kube-proxy: repaired in place, never by a reset.
    let repair_addons = !init_now && api.is_some_and(|a| !a.addons_present);

    // Run-time values this plan needs (the addon phase reads the full init config).
    let need_token = init_now || joins_pending || repair_addons;
    let need_cert_key = init_now || !cp_joins.is_empty() || repair_addons;
    if need_token {
        p.push(
            W_GENERATE,
            LOCAL,
            StepKind::Generate,
            "generate/bootstrap-token",
            "generate a bootstrap token for this run".into(),
            if init_now {
                "kubeadm init registers it (TTL 1h) for the joins".into()
            } else {
                format!("{} host(s) to join", cp_joins.len() + worker_joins.len())
            },
            ClusterAction::Generate(RuntimeInput::BootstrapToken),
        );
    }
    if need_cert_key {
        p.push(
            W_GENERATE,
            LOCAL,
            StepKind::Generate,
            "generate/certificate-key",
            "generate the certificate key for control-plane joins".into(),
            "control-plane certificates are uploaded encrypted with it (valid 2h)".into(),
            ClusterAction::Generate(RuntimeInput::CertificateKey),
        );
    }
    // Encryption at rest: one key for the whole cluster, generated once, then copied between
    // control planes only.
    let missing_enc: Vec<&Host> = cps
        .iter()
        .copied()
        .filter(|h| {
            !state
                .host(&h.name)
                .is_some_and(|f| f.files.contains_key(ENCRYPTION_CONFIG))
        })
        .collect();
    // Control planes with different encryption configs cannot read each other's Secrets;
    // copying either key over the other would lose data, so a human decides.
    let mut enc_shas = cps.iter().filter_map(|h| {
        state
            .host(&h.name)
            .and_then(|f| f.files.get(ENCRYPTION_CONFIG))
            .map(|sha| (h.name.as_str(), sha))
    });
    if let Some((first, sha)) = enc_shas.next()
        && let Some((other, _)) = enc_shas.find(|(_, s)| *s != sha)
    {
        return Err(ClusterError::Config {
            host: other.to_string(),
            reason: format!(
                "{ENCRYPTION_CONFIG} differs from the one on {first}; all control planes must share one encryption key"
            ),
        });
    }
    if !missing_enc.is_empty() {
        let holder = cps.iter().find(|h| {
            state
                .host(&h.name)
                .is_some_and(|f| f.files.contains_key(ENCRYPTION_CONFIG))
        });
        match holder {
            Some(h) => p.push(
                W_GENERATE,
                &h.name,
                StepKind::FetchEncryptionKey,
                "encryption-key/read",
                "read the encryption-at-rest key".into(),
                format!(
                    "{} lack(s) it; all control planes must share one key",
                    names(&missing_enc)
                ),
                Planner::script(
                    scripts::read_encryption_key(),
                    vec![],
                    Some(Capture::EncryptionKey),
                ),
            ),
            None => p.push(
                W_GENERATE,
                LOCAL,
                StepKind::Generate,
                "generate/encryption-key",
                "generate the encryption-at-rest key".into(),
                "no control plane has one yet".into(),
                ClusterAction::Generate(RuntimeInput::EncryptionKey),
            ),
        }
    }

    // Stale cluster objects of hosts about to re-join, removed from the init node.
    if let Some(api) = api {
        for h in cp_joins.iter().chain(worker_joins.iter()) {
            let f = p.facts(&h.name)?;
            if api.node(&h.name).is_some() && !state.joined(inv, &h.name) {
                p.push(
                    W_CLEANUP_STALE,
                    &init_node,
                    StepKind::DeleteNode,
                    &format!("delete-node/{}", h.name),
                    format!("delete stale Node {}", h.name),
                    if f.kubelet_conf {
                        "the API lists it without a complete control plane on the host".into()
                    } else {
                        "the API lists it but the host has no kubelet credentials".into()
                    },
                    Planner::script(scripts::delete_node(&h.name), vec![], None),
                );
            }
            if h.has_role(Role::ControlPlane)
                && let Some(members) = &api.etcd_members
            {
                let peer = format!("https://{}:2380", h.node_ip());
                for m in members
                    .iter()
                    .filter(|m| m.name == h.name || m.peer_urls.contains(&peer))
                {
                    p.push(
                        W_CLEANUP_STALE,
                        &init_node,
                        StepKind::RemoveEtcdMember,
                        &format!("etcd-member-remove/{}", h.name),
                        format!("remove stale etcd member {} ({})", m.id, h.name),
                        "left by an unfinished control-plane join; it would break quorum math and the re-join".into(),
                        Planner::script(scripts::remove_etcd_member(&m.id), vec![], None),
                    );
                }
            }
        }
    }
    for h in &to_reset {
        p.push(
            W_RESET,
            &h.name,
            StepKind::Reset,
            &format!("reset/{}", h.name),
            format!("kubeadm reset {}", h.name),
            "kubeadm left files from an unfinished init/join; init/join would fail in preflight"
                .into(),
            Planner::script(scripts::reset(), vec![], None),
        );
    }
    let reset_names: Vec<&str> = to_reset.iter().map(|h| h.name.as_str()).collect();

    // Security files on every control plane (before its init/join: the API server mounts them).
    let mut running_cp_updates: Vec<(&Host, Vec<RenderedFile>, String)> = Vec::new();
    for h in &cps {
        let f = p.facts(&h.name)?;
        let all = render::security_files(inv, h)?;
        let running = f.control_plane_initialised() && !init_now;
        // Files already right but written after the running API server started (a run killed
        // between writing them and the restart) are not in effect yet: restart only.
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
        if files.is_empty() {
            if !not_loaded.is_empty() {
                running_cp_updates.push((
                    *h,
                    files,
                    format!(
                        "{} changed after the running API server started (read at start only)",
                        not_loaded.join(", ")
                    ),
                ));
            }
            continue;
        }
        // A running API server reads audit, admission and encryption config only at start:
        // those hosts are updated later, one at a time, with a restart (see below).
        if running {
            let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
            let reason = format!("{} different on a running control plane", paths.join(", "));
            running_cp_updates.push((*h, files, reason));
            continue;
        }
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let (script, stdin) = scripts::write_files(&files);
        p.push(
            W_FILES,
            &h.name,
            StepKind::SecurityFiles,
            &format!("security-files/{}", h.name),
            "write API server security configuration".into(),
            format!("{} missing or different", paths.join(", ")),
            Planner::script(script, stdin, None),
        );
    }

    let init_host = inv.host(&init_node).unwrap_or(first_cp);
    if init_now {
        if kube_vip {
            let m =
                render::kube_vip_manifest(inv, init_host, &p.opts(&init_node, &init_node), true)?;
            let (script, _) = scripts::write_files(std::slice::from_ref(&m));
            p.push(
                W_FILES,
                &init_node,
                StepKind::KubeVip,
                &format!("kube-vip/{init_node}"),
                "install the kube-vip static pod for init".into(),
                if uses_super_admin(inv) {
                    "the VIP must answer during kubeadm init; super-admin.conf until init made admin.conf usable".into()
                } else {
                    "the VIP must answer during kubeadm init".into()
                },
                Planner::script(script, vec![], None),
            );
        }
        let cfg = render::init_config(inv, init_host)?;
        let (script, stdin) = scripts::init(&cfg);
        p.push(
            W_INIT,
            &init_node,
            StepKind::Init,
            &format!("init/{init_node}"),
            format!("kubeadm init on {init_node}"),
            if reset_names.contains(&init_node.as_str()) {
                "an earlier init did not finish; no control plane is initialised".into()
            } else {
                "no control plane is initialised".into()
            },
            Planner::script(script, stdin, Some(Capture::CaCertHash)),
        );
    }
    if repair_addons {
        let cfg = render::init_config(inv, init_host)?;
        let (script, stdin) = scripts::init_addons(&cfg);
        p.push(
            W_AFTER_INIT,
            &init_node,
            StepKind::Addons,
            &format!("addons/{init_node}"),
            "install kubeadm's addons (CoreDNS, kube-proxy)".into(),
            "kubeadm init was interrupted before its addon phase".into(),
            Planner::script(script, stdin, None),
        );
    }
    if kube_vip {
        let init_facts = p.facts(&init_node)?;
        let on_super = init_facts.kube_vip == Some(KubeVipKubeconfig::SuperAdmin);
        if uses_super_admin(inv) && (init_now || on_super) {
            p.push(
                W_AFTER_INIT,
                &init_node,
                StepKind::KubeVipAdminConf,
                &format!("kube-vip-admin-conf/{init_node}"),
                "switch kube-vip to admin.conf".into(),
                "init has created admin.conf's RBAC binding; super-admin.conf is for bootstrap only".into(),
                Planner::script(scripts::kube_vip_to_admin_conf(), vec![], None),
            );
        } else if !init_now && init_facts.kube_vip.is_none() {
            push_kube_vip(&mut p, init_host, &init_node, "kube-vip manifest missing")?;
        }
        // Joined control planes without a manifest (e.g. killed right after their join).
        for h in &cps {
            if h.name != init_node
                && state.joined(inv, &h.name)
                && p.facts(&h.name)?.kube_vip.is_none()
            {
                push_kube_vip(
                    &mut p,
                    h,
                    &init_node,
                    "joined, but the kube-vip manifest is missing",
                )?;
            }
        }
    }

    // CNI before any join (upstream: pick a network plugin before moving on).
    let cni_ds = match inv.cluster.cni {
        Cni::Calico => Some("calico-node"),
        Cni::Flannel => Some("kube-flannel-ds"),
        Cni::None => None,
    };
    if let Some(ds) = cni_ds {
        let installed = api.is_some_and(|a| a.cni_daemonsets.contains(ds));
        if !installed {
            for f in render::render_cluster_files(inv)? {
                p.push(
                    W_AFTER_INIT,
                    &init_node,
                    StepKind::Cni,
                    &format!("cni/{}", f.path.rsplit('/').next().unwrap_or("cni")),
                    format!("apply {ds} ({:?})", inv.cluster.cni).to_lowercase(),
                    format!("DaemonSet {ds} not found"),
                    Planner::script(scripts::apply_manifest(&f), vec![], None),
                );
            }
        }
    }

    // Join credentials on the init node, only when someone joins and init did not just make them.
    if joins_pending && !init_now {
        let (script, stdin) = scripts::create_token(TOKEN_TTL_SECS);
        p.push(
            W_TOKEN,
            &init_node,
            StepKind::BootstrapToken,
            "bootstrap-token",
            "create a bootstrap token for this run (TTL 1h)".into(),
            format!(
                "to join: {}",
                names_of(cp_joins.iter().chain(worker_joins.iter()))
            ),
            Planner::script(script, stdin, Some(Capture::CaCertHash)),
        );
        if !cp_joins.is_empty() {
            let cfg = render::init_config(inv, init_host)?;
            let (script, stdin) = scripts::upload_certs(&cfg);
            p.push(
                W_TOKEN,
                &init_node,
                StepKind::UploadCerts,
                "upload-certs",
                "upload control-plane certificates (encrypted, expire in 2h)".into(),
                format!("control planes to join: {}", names(&cp_joins)),
                Planner::script(script, stdin, None),
            );
        }
    }

    // Control planes one at a time (etcd admits a single learner), then workers together.
    let mut wave = W_CP_JOIN.max(W_ROLLING + running_cp_updates.len() as u32);
    for h in &cp_joins {
        let cfg = render::join_config(inv, h)?;
        let kv = if kube_vip {
            Some(render::kube_vip_manifest(
                inv,
                h,
                &p.opts(&h.name, &init_node),
                false,
            )?)
        } else {
            None
        };
        let (script, stdin) = scripts::join(&h.name, &cfg, true, kv.as_ref());
        p.push(
            wave,
            &h.name,
            StepKind::JoinControlPlane,
            &format!("join/{}", h.name),
            format!("join {} as control plane", h.name),
            join_reason(state, &h.name, reset_names.contains(&h.name.as_str())),
            Planner::script(script, stdin, None),
        );
        wave += 1;
    }
    for h in &worker_joins {
        let cfg = render::join_config(inv, h)?;
        let (script, stdin) = scripts::join(&h.name, &cfg, false, None);
        p.push(
            wave,
            &h.name,
            StepKind::JoinWorker,
            &format!("join/{}", h.name),
            format!("join {} as worker", h.name),
            join_reason(state, &h.name, reset_names.contains(&h.name.as_str())),
            Planner::script(script, stdin, None),
        );
    }
    if !worker_joins.is_empty() {
        wave += 1;
    }

    // kubelet serving certificates (serverTLSBootstrap) for new nodes and pending requests.
    let mut csr_nodes: Vec<&str> = cp_joins
        .iter()
        .chain(worker_joins.iter())
        .map(|h| h.name.as_str())
        .collect();
    if init_now {
        csr_nodes.insert(0, init_node.as_str());
    }
    if let Some(api) = api {
        for (_, node) in &api.pending_serving_csrs {
            if inv.host(node).is_some() && !csr_nodes.contains(&node.as_str()) {
                csr_nodes.push(node.as_str());
            }
        }
    }
    if !csr_nodes.is_empty() {
        p.push(
            wave,
            &init_node,
            StepKind::ApproveCsrs,
            "approve-serving-csrs",
            "approve kubelet serving certificates".into(),
            format!("new or pending: {}", csr_nodes.join(", ")),
            Planner::script(
                scripts::approve_serving_csrs(&csr_nodes, CSR_WAIT_SECS),
                vec![],
                None,
            ),
        );
    }

    // Inventory labels on nodes (new ones after they joined).
    for h in inv.hosts.iter().filter(|h| !h.labels.is_empty()) {
        let current = api.and_then(|a| a.node(&h.name)).map(|n| &n.labels);
        let missing: Vec<(String, String)> = h
            .labels
            .iter()
            .filter(|(k, v)| current.and_then(|c| c.get(*k)) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !missing.is_empty() {
            p.push(
                wave,
                &init_node,
                StepKind::Labels,
                &format!("labels/{}", h.name),
                format!("label node {}", h.name),
                format!(
                    "{} not set",
                    missing
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Planner::script(scripts::label_node(&h.name, &missing), vec![], None),
            );
        }
    }
    wave += 1;

    // Changed security files on running control planes: one host per wave (W_ROLLING..), each
    // waiting for its API server to be ready again, so the API never goes down as a whole
    // when there is more than one control plane.
    for (i, (h, files, reason)) in running_cp_updates.iter().enumerate() {
        // Always restart: the API server reloads JWT authenticators from the authentication
        // config but not its `anonymous` section, and every other file is read at start only.
        let (mut script, stdin) = scripts::write_files(files);
        script.push_str(&scripts::restart_apiserver(h.node_ip()));
        p.push(
            W_ROLLING + i as u32,
            &h.name,
            StepKind::SecurityFiles,
            &format!("security-files/{}", h.name),
            if files.is_empty() {
                "restart the API server to load its security configuration".into()
            } else {
                "update API server security configuration and restart it".into()
            },
            reason.clone(),
            Planner::script(script, stdin, None),
        );
    }

    // Tokens of this (or an earlier, killed) run are deleted once the joins are done.
    let stale_tokens = api.map(|a| a.run_tokens.clone()).unwrap_or_default();
    if need_token || !stale_tokens.is_empty() {
        p.push(
            wave,
            &init_node,
            StepKind::CleanupTokens,
            "cleanup-tokens",
            "delete this tool's bootstrap tokens".into(),
            if need_token {
                "the joins are done; tokens must not outlive the run".into()
            } else {
                format!("left by an earlier run: {}", stale_tokens.join(", "))
            },
            Planner::script(scripts::delete_run_tokens(), vec![], None),
        );
    }

    // The operator's kubeconfig.
    let server = format!("https://{}", control_plane_endpoint(inv)?);
    if state.local_kubeconfig_server.as_deref() != Some(server.as_str()) {
        p.push(
            wave,
            &init_node,
            StepKind::Kubeconfig,
            "kubeconfig",
            format!(
                "fetch the admin kubeconfig to {}",
                kubeconfig_path(inv).display()
            ),
            match &state.local_kubeconfig_server {
                None => "no local kubeconfig yet".into(),
                Some(s) => format!("local kubeconfig points at {s}, want {server}"),
            },
            ClusterAction::FetchKubeconfig {
                script: scripts::read_admin_conf(),
                local_path: kubeconfig_path(inv),
                server,
            },
        );
    }
    let _ = ADMIN_CONF;
    Ok(p.steps)
}

fn push_kube_vip(
    p: &mut Planner,
    h: &Host,
    init_node: &str,
    reason: &str,
) -> Result<(), ClusterError> {
    let m = render::kube_vip_manifest(p.inv, h, &p.opts(&h.name, init_node), false)?;
    let (script, _) = scripts::write_files(std::slice::from_ref(&m));
    p.push(
        W_AFTER_INIT,
        &h.name,
        StepKind::KubeVip,
        &format!("kube-vip/{}", h.name),
        "install the kube-vip static pod".into(),
        reason.into(),
        Planner::script(script, vec![], None),
    );
    Ok(())
}

fn join_reason(state: &ClusterState, name: &str, reset: bool) -> String {
    let in_api = state.api.as_ref().is_some_and(|a| a.node(name).is_some());
    match (reset, in_api) {
        (true, _) => "an earlier join did not finish (reset first)".into(),
        (false, true) => "listed by the API but not joined on the host".into(),
        (false, false) => "not a member of the cluster".into(),
    }
}

fn names(hosts: &[&Host]) -> String {
    names_of(hosts.iter())
}

fn names_of<'h>(hosts: impl Iterator<Item = &'h &'h Host>) -> String {
    hosts
        .map(|h| h.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::cluster::fixtures;
    use crate::phases::cluster::render::security_files;
    use crate::phases::cluster::state::{ApiProbe, EtcdMember, NodeStatus};

    /// Facts of a finished control plane: kubeadm files, security files as rendered.
    fn cp_done(inv: &Inventory, name: &str) -> HostClusterFacts {
        let mut f = HostClusterFacts {
            kubelet_conf: true,
            admin_conf: true,
            apiserver_manifest: true,
            etcd_data: true,
            pki_ca: true,
            kubelet_active: true,
            super_admin_conf: name == "cp-1",
            vip_interface: Some("eth0".into()),
            ..Default::default()
        };
        for file in security_files(inv, inv.host(name).unwrap()).unwrap() {
            f.files.insert(file.path.clone(), file.sha256());
        }
        if inv.cluster.endpoint.as_ref().unwrap().mode == EndpointMode::KubeVip {
            f.kube_vip = Some(KubeVipKubeconfig::Admin);
        }
        f
    }

    fn worker_done() -> HostClusterFacts {
        HostClusterFacts {
            kubelet_conf: true,
            pki_ca: true,
            kubelet_active: true,
            ..Default::default()
        }
    }

    fn lb_done() -> HostClusterFacts {
        HostClusterFacts {
            haproxy_active: true,
            keepalived_active: true,
            ..Default::default()
        }
    }

    fn node(name: &str, cp: bool) -> NodeStatus {
        let mut labels = std::collections::BTreeMap::new();
        if cp {
            labels.insert(
                "node-role.kubernetes.io/control-plane".into(),
                String::new(),
            );
        }
        NodeStatus {
            name: name.into(),
            ready: true,
            control_plane: cp,
            labels,
        }
    }

    fn member(name: &str, ip: &str, id: &str) -> EtcdMember {
        EtcdMember {
            id: id.into(),
            name: name.into(),
            peer_urls: vec![format!("https://{ip}:2380")],
            learner: false,
        }
    }

    /// Every host finished, the API lists everyone, CNI running, local kubeconfig present.
    fn converged(inv: &Inventory) -> ClusterState {
        let mut st = ClusterState::default();
        let mut nodes = Vec::new();
        let mut members = Vec::new();
        for h in &inv.hosts {
            let f = if h.has_role(Role::ControlPlane) {
                members.push(member(
                    &h.name,
                    h.node_ip(),
                    &format!("{:x}", members.len() + 1),
                ));
                nodes.push(node(&h.name, true));
                let mut f = cp_done(inv, &h.name);
                if inv.lb_hosts().iter().any(|l| l.name == h.name) {
                    f.haproxy_active = true;
                    f.keepalived_active = true;
                }
                f
            } else if h.has_role(Role::Worker) {
                nodes.push(node(&h.name, false));
                worker_done()
            } else {
                lb_done()
            };
            st.hosts.insert(h.name.clone(), f);
        }
        st.api = Some(ApiProbe {
            from: "cp-1".into(),
            nodes,
            etcd_members: Some(members),
            cni_daemonsets: ["calico-node".to_string(), "kube-flannel-ds".to_string()].into(),
            init_complete: true,
            addons_present: true,
            ..Default::default()
        });
        st.local_kubeconfig_server =
            Some(format!("https://{}", control_plane_endpoint(inv).unwrap()));
        st
    }

    fn fresh(inv: &Inventory) -> ClusterState {
        let mut st = ClusterState::default();
        for h in &inv.hosts {
            st.hosts.insert(h.name.clone(), HostClusterFacts::default());
        }
        st
    }

    fn summary(steps: &[ClusterStep]) -> Vec<String> {
        steps
            .iter()
            .map(|s| format!("{} {} {}", s.wave, s.host, s.id))
            .collect()
    }

    fn drop_host(st: &mut ClusterState, name: &str) {
        st.hosts.insert(name.into(), HostClusterFacts::default());
        let api = st.api.as_mut().unwrap();
        api.nodes.retain(|n| n.name != name);
        if let Some(m) = api.etcd_members.as_mut() {
            m.retain(|m| m.name != name);
        }
    }

    #[test]
    fn table() {
        type Case = (
            &'static str,
            fn() -> (Inventory, ClusterState),
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            (
                "fresh HA cluster",
                || {
                    let inv = fixtures::ha();
                    let st = fresh(&inv);
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 (local) cluster/generate/encryption-key",
                    "3 cp-1 cluster/security-files/cp-1",
                    "3 cp-2 cluster/security-files/cp-2",
                    "3 cp-3 cluster/security-files/cp-3",
                    "4 cp-1 cluster/init/cp-1",
                    "5 cp-1 cluster/cni/cni-calico.yaml",
                    "10 cp-2 cluster/join/cp-2",
                    "11 cp-3 cluster/join/cp-3",
                    "12 w-1 cluster/join/w-1",
                    "12 w-2 cluster/join/w-2",
                    "13 cp-1 cluster/approve-serving-csrs",
                    "14 cp-1 cluster/cleanup-tokens",
                    "14 cp-1 cluster/kubeconfig",
                ],
            ),
            (
                "everything joined: nothing to do",
                || {
                    let inv = fixtures::ha();
                    let st = converged(&inv);
                    (inv, st)
                },
                &[],
            ),
            (
                "init done, killed before the joins",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    for h in ["cp-2", "cp-3", "w-1", "w-2"] {
                        drop_host(&mut st, h);
                    }
                    let api = st.api.as_mut().unwrap();
                    api.cni_daemonsets.clear();
                    api.nodes[0].ready = false;
                    st.local_kubeconfig_server = None;
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 cp-1 cluster/encryption-key/read",
                    "3 cp-2 cluster/security-files/cp-2",
                    "3 cp-3 cluster/security-files/cp-3",
                    "5 cp-1 cluster/cni/cni-calico.yaml",
                    "6 cp-1 cluster/bootstrap-token",
                    "6 cp-1 cluster/upload-certs",
                    "10 cp-2 cluster/join/cp-2",
                    "11 cp-3 cluster/join/cp-3",
                    "12 w-1 cluster/join/w-1",
                    "12 w-2 cluster/join/w-2",
                    "13 cp-1 cluster/approve-serving-csrs",
                    "14 cp-1 cluster/cleanup-tokens",
                    "14 cp-1 cluster/kubeconfig",
                ],
            ),
            (
                "one new worker: only it plus a token on one control plane",
                || {
                    let mut inv = fixtures::ha();
                    let st0 = converged(&inv);
                    inv.hosts
                        .push(fixtures::host("w-3", "10.0.0.23", &[Role::Worker]));
                    let mut st = st0;
                    st.hosts.insert("w-3".into(), HostClusterFacts::default());
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "6 cp-1 cluster/bootstrap-token",
                    "10 w-3 cluster/join/w-3",
                    "11 cp-1 cluster/approve-serving-csrs",
                    "12 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "control plane with kubelet.conf but not in the node list: reset, then join",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    let api = st.api.as_mut().unwrap();
                    api.nodes.retain(|n| n.name != "cp-2");
                    api.etcd_members.as_mut().unwrap()[1].learner = true;
                    let f = st.hosts.get_mut("cp-2").unwrap();
                    f.admin_conf = false;
                    f.apiserver_manifest = false;
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "1 cp-1 cluster/etcd-member-remove/cp-2",
                    "2 cp-2 cluster/reset/cp-2",
                    "6 cp-1 cluster/bootstrap-token",
                    "6 cp-1 cluster/upload-certs",
                    "10 cp-2 cluster/join/cp-2",
                    "11 cp-1 cluster/approve-serving-csrs",
                    "12 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "control plane listed, files complete, etcd member still a learner",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    st.api.as_mut().unwrap().etcd_members.as_mut().unwrap()[2].learner = true;
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "1 cp-1 cluster/delete-node/cp-3",
                    "1 cp-1 cluster/etcd-member-remove/cp-3",
                    "2 cp-3 cluster/reset/cp-3",
                    "6 cp-1 cluster/bootstrap-token",
                    "6 cp-1 cluster/upload-certs",
                    "10 cp-3 cluster/join/cp-3",
                    "11 cp-1 cluster/approve-serving-csrs",
                    "12 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "audit policy changed on a running cluster: one API server at a time",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    for h in ["cp-1", "cp-2", "cp-3"] {
                        st.hosts
                            .get_mut(h)
                            .unwrap()
                            .files
                            .insert(render::AUDIT_POLICY.into(), "0".repeat(64));
                    }
                    (inv, st)
                },
                &[
                    "7 cp-1 cluster/security-files/cp-1",
                    "8 cp-2 cluster/security-files/cp-2",
                    "9 cp-3 cluster/security-files/cp-3",
                ],
            ),
            (
                "files right but newer than the running API server (run killed before the restart)",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    for (h, started) in [("cp-1", 2000), ("cp-2", 500), ("cp-3", 1000)] {
                        let f = st.hosts.get_mut(h).unwrap();
                        f.apiserver_started = Some(started);
                        f.file_mtimes.insert(render::AUDIT_POLICY.into(), 1000);
                    }
                    (inv, st)
                },
                // cp-3 started in the same second the file was written: in effect.
                &["7 cp-2 cluster/security-files/cp-2"],
            ),
            (
                "a control plane that lost its role label is left alone",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    let n = &mut st.api.as_mut().unwrap().nodes[1];
                    n.control_plane = false;
                    n.labels.clear();
                    (inv, st)
                },
                &[],
            ),
            (
                "worker in the API without kubelet.conf: delete the Node, reset, re-join",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    let f = st.hosts.get_mut("w-2").unwrap();
                    f.kubelet_conf = false;
                    f.bootstrap_kubelet_conf = true;
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "1 cp-1 cluster/delete-node/w-2",
                    "2 w-2 cluster/reset/w-2",
                    "6 cp-1 cluster/bootstrap-token",
                    "10 w-2 cluster/join/w-2",
                    "11 cp-1 cluster/approve-serving-csrs",
                    "12 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "killed mid-init (API up, kubeadm-config missing): reset and init again",
                || {
                    let inv = fixtures::ha();
                    let mut st = fresh(&inv);
                    for lb in ["lb-1", "lb-2"] {
                        st.hosts.insert(lb.into(), lb_done());
                    }
                    st.hosts.insert("cp-1".into(), cp_done(&inv, "cp-1"));
                    st.api = Some(ApiProbe {
                        from: "cp-1".into(),
                        nodes: vec![node("cp-1", false)],
                        init_complete: false,
                        ..Default::default()
                    });
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 cp-1 cluster/encryption-key/read",
                    "2 cp-1 cluster/reset/cp-1",
                    "3 cp-2 cluster/security-files/cp-2",
                    "3 cp-3 cluster/security-files/cp-3",
                    "4 cp-1 cluster/init/cp-1",
                    "5 cp-1 cluster/cni/cni-calico.yaml",
                    "10 cp-2 cluster/join/cp-2",
                    "11 cp-3 cluster/join/cp-3",
                    "12 w-1 cluster/join/w-1",
                    "12 w-2 cluster/join/w-2",
                    "13 cp-1 cluster/approve-serving-csrs",
                    "14 cp-1 cluster/cleanup-tokens",
                    "14 cp-1 cluster/kubeconfig",
                ],
            ),
            (
                "killed in init's addon phase: repair the addons, no reset",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    st.api.as_mut().unwrap().addons_present = false;
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "5 cp-1 cluster/addons/cp-1",
                    "11 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "killed between control-plane joins, stale tokens left",
                || {
                    let inv = fixtures::ha();
                    let mut st = converged(&inv);
                    for h in ["cp-3", "w-1", "w-2"] {
                        drop_host(&mut st, h);
                    }
                    st.api.as_mut().unwrap().run_tokens = vec!["abcdef".into()];
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 cp-1 cluster/encryption-key/read",
                    "3 cp-3 cluster/security-files/cp-3",
                    "6 cp-1 cluster/bootstrap-token",
                    "6 cp-1 cluster/upload-certs",
                    "10 cp-3 cluster/join/cp-3",
                    "11 w-1 cluster/join/w-1",
                    "11 w-2 cluster/join/w-2",
                    "12 cp-1 cluster/approve-serving-csrs",
                    "13 cp-1 cluster/cleanup-tokens",
                ],
            ),
            (
                "kube-vip fresh: bootstrap manifest, init, switch to admin.conf",
                || {
                    let inv = fixtures::kube_vip();
                    let st = fresh(&inv);
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 (local) cluster/generate/encryption-key",
                    "3 cp-1 cluster/security-files/cp-1",
                    "3 cp-2 cluster/security-files/cp-2",
                    "3 cp-3 cluster/security-files/cp-3",
                    "3 cp-1 cluster/kube-vip/cp-1",
                    "4 cp-1 cluster/init/cp-1",
                    "5 cp-1 cluster/kube-vip-admin-conf/cp-1",
                    "5 cp-1 cluster/cni/cni-flannel.yaml",
                    "10 cp-2 cluster/join/cp-2",
                    "11 cp-3 cluster/join/cp-3",
                    "12 w-1 cluster/join/w-1",
                    "12 w-2 cluster/join/w-2",
                    "13 cp-1 cluster/approve-serving-csrs",
                    "14 cp-1 cluster/cleanup-tokens",
                    "14 cp-1 cluster/kubeconfig",
                ],
            ),
            (
                "kube-vip still on super-admin.conf after a killed run; pending CSR; labels",
                || {
                    let mut inv = fixtures::kube_vip();
                    inv.hosts[3].labels.insert("zone".into(), "a".into());
                    let mut st = converged(&inv);
                    st.hosts.get_mut("cp-1").unwrap().kube_vip =
                        Some(KubeVipKubeconfig::SuperAdmin);
                    st.hosts.get_mut("cp-3").unwrap().kube_vip = None;
                    st.api.as_mut().unwrap().pending_serving_csrs =
                        vec![("csr-1".into(), "w-2".into())];
                    (inv, st)
                },
                &[
                    "5 cp-1 cluster/kube-vip-admin-conf/cp-1",
                    "5 cp-3 cluster/kube-vip/cp-3",
                    "10 cp-1 cluster/approve-serving-csrs",
                    "10 cp-1 cluster/labels/w-1",
                ],
            ),
            (
                "a new control plane: its files, join and the token (haproxy is a node step)",
                || {
                    let inv0 = fixtures::ha();
                    let st = converged(&inv0);
                    let mut inv = inv0;
                    inv.hosts.insert(
                        3,
                        fixtures::host("cp-4", "10.0.0.14", &[Role::ControlPlane]),
                    );
                    let mut st = st;
                    st.hosts.insert("cp-4".into(), HostClusterFacts::default());
                    (inv, st)
                },
                &[
                    "0 (local) cluster/generate/bootstrap-token",
                    "0 (local) cluster/generate/certificate-key",
                    "0 cp-1 cluster/encryption-key/read",
                    "3 cp-4 cluster/security-files/cp-4",
                    "6 cp-1 cluster/bootstrap-token",
                    "6 cp-1 cluster/upload-certs",
                    "10 cp-4 cluster/join/cp-4",
                    "11 cp-1 cluster/approve-serving-csrs",
                    "12 cp-1 cluster/cleanup-tokens",
                ],
            ),
        ];
        for (name, build, want) in cases {
            let (inv, st) = build();
            let got = summary(&plan_cluster(&inv, &st).unwrap_or_else(|e| panic!("{name}: {e}")));
            assert_eq!(got, *want, "case: {name}");
        }
    }

    /// The second `up` of every endpoint mode and CNI plans nothing.
    #[test]
    fn converged_clusters_plan_nothing() {
        for inv in [
            fixtures::ha(),
            fixtures::kube_vip(),
            fixtures::external(),
            fixtures::lb_on_control_planes(),
        ] {
            let steps = plan_cluster(&inv, &converged(&inv)).unwrap();
            assert!(
                steps.is_empty(),
                "{:?}: {:?}",
                inv.cluster.endpoint,
                summary(&steps)
            );
        }
    }

    #[test]
    fn never_reinitialises_when_the_api_cannot_be_asked() {
        let inv = fixtures::ha();
        let mut st = converged(&inv);
        st.api = None;
        let err = plan_cluster(&inv, &st).unwrap_err().to_string();
        assert!(
            err.starts_with("cp-1: a control plane is initialised but the API could not be probed"),
            "{err}"
        );
        // Even a lone control plane with etcd data is not reset on a guess.
        let mut st = fresh(&inv);
        st.hosts.insert("cp-1".into(), cp_done(&inv, "cp-1"));
        assert!(plan_cluster(&inv, &st).is_err());
        // Without etcd data nothing can be lost: the interrupted init is redone.
        st.hosts.get_mut("cp-1").unwrap().etcd_data = false;
        let steps = plan_cluster(&inv, &st).unwrap();
        assert!(steps.iter().any(|s| s.id == "cluster/reset/cp-1"));
        assert!(steps.iter().any(|s| s.id == "cluster/init/cp-1"));
    }

    #[test]
    fn diverging_encryption_keys_stop_the_plan() {
        let inv = fixtures::ha();
        let mut st = converged(&inv);
        st.hosts
            .get_mut("cp-3")
            .unwrap()
            .files
            .insert(ENCRYPTION_CONFIG.into(), "0".repeat(64));
        let err = plan_cluster(&inv, &st).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "cp-3: /etc/kubernetes/enc/encryption-config.yaml differs from the one on cp-1"
            ),
            "{err}"
        );
    }

    #[test]
    fn unreachable_host_is_named() {
        let inv = fixtures::ha();
        let mut st = fresh(&inv);
        st.hosts.remove("w-2");
        let err = plan_cluster(&inv, &st).unwrap_err().to_string();
        assert!(err.starts_with("w-2: no probe result"), "{err}");
    }

    #[test]
    fn init_node_is_the_initialised_control_plane_not_the_first() {
        let inv = fixtures::ha();
        let mut st = converged(&inv);
        for h in ["cp-1", "cp-3"] {
            drop_host(&mut st, h);
        }
        st.api.as_mut().unwrap().from = "cp-2".into();
        let steps = plan_cluster(&inv, &st).unwrap();
        let token = steps
            .iter()
            .find(|s| s.kind == StepKind::BootstrapToken)
            .unwrap();
        assert_eq!(token.host, "cp-2");
        assert!(!steps.iter().any(|s| s.kind == StepKind::Init));
        assert!(steps.iter().any(|s| s.id == "cluster/join/cp-1"));
    }

    #[test]
    fn secrets_go_through_stdin_and_never_into_scripts() {
        let inv = fixtures::ha();
        let steps = plan_cluster(&inv, &fresh(&inv)).unwrap();
        let by_id = |id: &str| steps.iter().find(|s| s.id == id).unwrap();
        let stdin = |id: &str| match &by_id(id).action {
            ClusterAction::Script { stdin, .. } => stdin.clone(),
            other => panic!("{id}: {other:?}"),
        };
        use RuntimeInput::*;
        assert_eq!(
            stdin("cluster/init/cp-1"),
            vec![BootstrapToken, CertificateKey]
        );
        assert_eq!(
            stdin("cluster/join/cp-2"),
            vec![BootstrapToken, CertificateKey, CaCertHash]
        );
        assert_eq!(stdin("cluster/join/w-1"), vec![BootstrapToken, CaCertHash]);
        assert_eq!(stdin("cluster/security-files/cp-1"), vec![EncryptionKey]);
        assert!(matches!(
            &by_id("cluster/init/cp-1").action,
            ClusterAction::Script {
                capture: Some(Capture::CaCertHash),
                ..
            }
        ));
        for s in &steps {
            if let ClusterAction::Script { script, .. } = &s.action {
                for line in script.lines() {
                    assert!(
                        !(line.starts_with("kubeadm") && line.contains("--token")),
                        "{}: secret-bearing flag in argv: {line}",
                        s.id
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod snapshots {
    use super::*;
    use crate::phases::cluster::fixtures;
    use crate::phases::cluster::state::HostClusterFacts;

    fn render_plan(steps: &[ClusterStep]) -> String {
        let mut out = String::new();
        for s in steps {
            out.push_str(&format!(
                "### [{}] {} @ {} ({:?})\n# {}\n",
                s.wave, s.id, s.host, s.kind, s.title
            ));
            out.push_str(&format!("# why: {}\n", s.reason));
            match &s.action {
                ClusterAction::Generate(i) => out.push_str(&format!("generate {}\n", i.name())),
                ClusterAction::Script {
                    script,
                    stdin,
                    capture,
                } => {
                    let names: Vec<&str> = stdin.iter().map(|i| i.name()).collect();
                    out.push_str(&format!(
                        "# stdin: {names:?} capture: {capture:?}\n{script}"
                    ));
                }
                ClusterAction::FetchKubeconfig {
                    script,
                    local_path,
                    server,
                } => out.push_str(&format!(
                    "# fetch to {} (server {server})\n{script}",
                    local_path.display()
                )),
                ClusterAction::RemoveLocal { path } => {
                    out.push_str(&format!("remove {}\n", path.display()))
                }
            }
            out.push('\n');
        }
        out
    }

    /// Writes every step script to `$OTP_SCRIPTS_OUT/<id>.sh` for shellcheck in
    /// scripts/validate-manifests; a no-op otherwise.
    fn export_scripts(steps: &[ClusterStep]) {
        let Ok(dir) = std::env::var("OTP_SCRIPTS_OUT") else {
            return;
        };
        std::fs::create_dir_all(&dir).unwrap();
        for s in steps {
            let script = match &s.action {
                ClusterAction::Script { script, .. }
                | ClusterAction::FetchKubeconfig { script, .. } => script,
                _ => continue,
            };
            let name = s.id.replace('/', "_");
            std::fs::write(format!("{dir}/{name}.sh"), script).unwrap();
        }
    }

    /// The scripts of a fresh HA cluster (the whole `up` of an empty lab), as reviewed text.
    #[test]
    fn fresh_ha_plan_scripts() {
        let inv = fixtures::ha();
        let mut st = ClusterState::default();
        for h in &inv.hosts {
            st.hosts.insert(h.name.clone(), HostClusterFacts::default());
        }
        // CNI manifests and kubeadm configs are snapshotted by the render tests; here the
        // step scripts around them matter, so keep the plan readable.
        let all = plan_cluster(&inv, &st).unwrap();
        export_scripts(&all);
        let steps: Vec<ClusterStep> = all
            .into_iter()
            .filter(|s| s.kind != StepKind::Cni)
            .collect();
        insta::assert_snapshot!(render_plan(&steps));
    }
}
