//! From the parsed TOML tree to the resolved [`Inventory`]: read every section into "raw" values
//! that keep their positions, merge defaults (built-in < `[ssh]` < group < host), then check what
//! only the whole inventory can tell (references, duplicates, topology, subnets).
//!
//! One file per concern; this one reads the top level and puts the resolved parts together.

mod cluster;
mod endpoint;
mod hosts;
mod merge;
mod packages;
mod run;
mod settings;
mod ssh;
mod topology;
mod values;

use std::path::PathBuf;

use toml::de::DeTable;

use crate::inventory::model::*;
use crate::inventory::reader::{Diags, TableReader};

use cluster::read_cluster;
use hosts::{RawBastion, RawGroup, RawHost, read_bastion, read_group, read_host};
use merge::{HostContext, HostPass, resolve_bastions};
use packages::read_packages;
use run::{RawRun, read_run};
use ssh::{RawSsh, SSH_KEYS, read_ssh};
use topology::{TopologySpans, check_topology};
pub(crate) use values::Env;
use values::resolve_path;

fn top_special(key: &str) -> Option<String> {
    match key {
        "hosts" | "nodes" | "node" => Some("hosts are [[host]] sections, one per host".into()),
        "bastions" | "jump" => Some("bastions are [[bastion]] sections".into()),
        "group" => Some("group defaults are [groups.NAME] sections".into()),
        "name" | "kubernetes_version" | "pod_subnet" | "service_subnet" | "dns_domain" | "cni"
        | "endpoint" => Some(format!("`{key}` belongs in [cluster]")),
        "images" | "load_balancer" | "security" | "oidc" => {
            Some(format!("write it as [cluster.{key}]"))
        }
        k if SSH_KEYS.contains(&k) => Some(format!("`{key}` belongs in [ssh]")),
        _ => None,
    }
}

pub(crate) fn resolve(
    root: &DeTable<'_>,
    source: PathBuf,
    env: &Env,
    d: &mut Diags,
) -> Option<Inventory> {
    let mut top = TableReader::new(root, 0..0, "the inventory").with_special(top_special);

    let cluster = top
        .table(d, "cluster", "[cluster]")
        .map(|t| read_cluster(t, d, env));
    if top.key_span("cluster").is_none() {
        d.error(
            0..0,
            "the inventory has no [cluster] section",
            "add [cluster] with name = \"...\" and kubernetes_version = \"1.33.4\"",
        );
    }
    let packages = match top.table(d, "packages", "[packages]") {
        Some(t) => read_packages(t, d),
        None => Some(PackageSource::Upstream),
    };
    let run = top.table(d, "run", "[run]").map(|t| read_run(t, d));
    let top_ssh = match top.table(d, "ssh", "[ssh]") {
        Some(t) => read_ssh(t, d, false),
        None => RawSsh::default(),
    };
    let mut groups: Vec<RawGroup> = Vec::new();
    if let Some(g) = top.table(d, "groups", "[groups]") {
        for (name, v) in g.entries() {
            let path = format!("[groups.{}]", name.get_ref());
            if let Some(t) = TableReader::of(d, name.get_ref(), v, path) {
                groups.push(read_group(t, name, d));
            }
        }
    }
    let bastions: Vec<RawBastion> = top
        .array_of_tables(d, "bastion")
        .unwrap_or_default()
        .into_iter()
        .map(|t| read_bastion(t, d))
        .collect();
    let errors_before_hosts = d.errors.len();
    let host_tables = top.array_of_tables(d, "host");
    // `[host]` (single brackets) was already reported as the wrong shape.
    let hosts_misshapen = host_tables.is_none() && d.errors.len() > errors_before_hosts;
    let hosts: Vec<RawHost> = host_tables
        .unwrap_or_default()
        .into_iter()
        .map(|t| read_host(t, d))
        .collect();
    let addons = top
        .raw("addons")
        .map(|(_, v)| crate::inventory::addons::read_addons(d, v))
        .unwrap_or_default();
    let log_parsers = crate::inventory::log_parsers::read(&mut top, d);
    let top_host_span = top.key_span("host");
    top.finish(d);

    let (bastion_models, bastion_names) = resolve_bastions(d, env, &top_ssh, &bastions);
    let cx = HostContext {
        env,
        top_ssh: &top_ssh,
        groups: &groups,
        bastions: &bastions,
        bastion_names: &bastion_names,
    };
    let mut pass = HostPass::default();
    for h in &hosts {
        pass.add(&cx, d, h);
    }
    let HostPass {
        models: host_models,
        used_groups,
        used_bastions,
        role_errors,
        cp_spans,
        lb_spans,
        host_ips,
        ..
    } = pass;

    for g in &groups {
        if !used_groups.contains(g.name.get_ref()) {
            d.warn(
                g.name.span(),
                format!("group `{}` is not used by any host", g.name.get_ref()),
                "set group = \"NAME\" on hosts, or remove the group",
            );
        }
    }
    for b in &bastions {
        if let Some(n) = &b.name
            && !used_bastions.contains(n.get_ref())
            && bastion_names.get(n.get_ref()) == Some(&n.span())
        {
            d.warn(
                n.span(),
                format!("bastion `{}` is not used by any host", n.get_ref()),
                "set bastion = \"NAME\" in [ssh], a group's or a host's ssh settings, or remove it",
            );
        }
    }

    // --- cluster topology
    if hosts.is_empty() && !hosts_misshapen {
        d.error(
            top_host_span.unwrap_or(0..0),
            "the inventory has no [[host]] sections",
            "add one [[host]] per server with name, address and roles",
        );
    }
    if let Some(c) = &cluster {
        let spans = TopologySpans {
            cps: &cp_spans,
            lbs: &lb_spans,
            host_ips: &host_ips,
        };
        check_topology(d, c, &hosts, &host_models, &spans, role_errors);
    }

    let cluster = cluster?;
    let run = run.unwrap_or(RawRun {
        parallel_hosts: 256,
        sessions_per_host: 8,
        state_dir: None,
        lock_wait_secs: crate::inventory::model::DEFAULT_LOCK_WAIT_SECS,
    });
    let state_dir = match &run.state_dir {
        Some(s) => resolve_path(env, d, s),
        None => Some(env.base_dir.join(".otp-provision")),
    };
    if !d.errors.is_empty() {
        return None;
    }
    // Every `None` below was reported as an error above, so with no errors all are set.
    let endpoint = match &cluster.endpoint {
        Some(e) => Some(Endpoint {
            mode: *e.mode.as_ref()?.get_ref(),
            address: e.address.as_ref()?.get_ref().clone(),
            port: e.port,
            interface: e.interface.clone(),
        }),
        None => None,
    };
    Some(Inventory {
        source,
        cluster: Cluster {
            name: cluster.name?,
            kubernetes_version: cluster.kubernetes_version?,
            endpoint,
            pod_subnet: *cluster.pod_subnet?.get_ref(),
            service_subnet: *cluster.service_subnet?.get_ref(),
            dns_domain: cluster.dns_domain,
            cni: cluster.cni,
            images: cluster.images,
            load_balancer: cluster.load_balancer,
            security: cluster.security,
            oidc: match cluster.oidc {
                Some(o) => Some(o?),
                None => None,
            },
        },
        hosts: host_models,
        bastions: bastion_models,
        packages: packages?,
        run: RunSettings {
            parallel_hosts: run.parallel_hosts,
            sessions_per_host: run.sessions_per_host,
            state_dir: state_dir?,
            lock_wait_secs: run.lock_wait_secs,
        },
        addons,
        log_parsers,
    })
}
