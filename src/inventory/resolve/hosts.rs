//! `[groups.NAME]`, `[[host]]` and `[[bastion]]` tables as written: roles, labels, taints,
//! addresses, each with its position.

use std::net::IpAddr;

use super::ssh::{RawSsh, misplaced_ssh_key, ssh_table};
use super::values::{Sp, required, sp};
use crate::inventory::checks::{self, AddrKind};
use crate::inventory::model::*;
use crate::inventory::reader::{Diags, Span, TableReader};

const ROLES: [&str; 3] = ["control-plane", "worker", "load-balancer"];

#[derive(Debug, Clone)]
pub(super) struct RawRoles {
    pub(super) span: Span,
    pub(super) roles: Vec<Role>,
    /// Some entry was not a role (already reported); do not also report "no roles".
    pub(super) invalid: bool,
}

pub(super) type RawLabels = Sp<crate::inventory::reader::StringPairs>;

#[derive(Debug, Clone, Default)]
pub(super) struct NodeAttrs {
    pub(super) roles: Option<RawRoles>,
    pub(super) labels: Option<RawLabels>,
    pub(super) taints: Option<Sp<Vec<Sp<String>>>>,
}

fn read_node_attrs(t: &mut TableReader<'_, '_>, d: &mut Diags) -> NodeAttrs {
    let roles = t.string_list(d, "roles").map(|list| {
        let span = list.span();
        let before = d.errors.len();
        let mut roles = Vec::new();
        for r in list.into_inner() {
            let role = match r.get_ref().as_str() {
                "control-plane" => Some(Role::ControlPlane),
                "worker" => Some(Role::Worker),
                "load-balancer" => Some(Role::LoadBalancer),
                other => {
                    d.error(
                        r.span(),
                        format!("unknown role `{other}`"),
                        checks::one_of_hint(other, &ROLES),
                    );
                    None
                }
            };
            roles.extend(role);
        }
        RawRoles {
            span,
            roles,
            invalid: d.errors.len() > before,
        }
    });
    let labels = t.string_map(d, "labels").map(|l| {
        let span = l.span();
        let good = l
            .into_inner()
            .into_iter()
            .filter(|(k, v)| {
                let key_ok =
                    checks::label_key(k.get_ref()).map_err(|(m, h)| d.error(k.span(), m, h));
                let val_ok =
                    checks::label_value(v.get_ref()).map_err(|(m, h)| d.error(v.span(), m, h));
                key_ok.is_ok() && val_ok.is_ok()
            })
            .collect();
        sp(span, good)
    });
    let taints = t.string_list(d, "taints").map(|l| {
        let span = l.span();
        let good = l
            .into_inner()
            .into_iter()
            .filter(|x| match checks::taint(x.get_ref()) {
                Ok(()) => true,
                Err((m, h)) => {
                    d.error(x.span(), m, h);
                    false
                }
            })
            .collect();
        sp(span, good)
    });
    NodeAttrs {
        roles,
        labels,
        taints,
    }
}

fn host_special(key: &str) -> Option<String> {
    match key {
        "groups" => Some("a host belongs to one group: group = \"NAME\"".into()),
        "role" => Some("write roles = [\"worker\"] (a list)".into()),
        "ip" | "internal_address" | "private_ip" => Some(
            "use address = \"...\" for SSH and node_ip = \"...\" if Kubernetes should use another IP"
                .into(),
        ),
        _ => misplaced_ssh_key(key),
    }
}

pub(super) struct RawGroup {
    pub(super) name: Sp<String>,
    pub(super) attrs: NodeAttrs,
    pub(super) ssh: RawSsh,
}

fn group_special(key: &str) -> Option<String> {
    match key {
        "address" | "name" | "node_ip" => {
            Some(format!("`{key}` is per host: set it in each [[host]]"))
        }
        _ => misplaced_ssh_key(key),
    }
}

pub(super) fn read_group(mut t: TableReader<'_, '_>, name: Sp<String>, d: &mut Diags) -> RawGroup {
    t = t.with_special(group_special);
    let attrs = read_node_attrs(&mut t, d);
    let ssh = ssh_table(&mut t, d, &format!("[groups.{}]", name.get_ref()), false);
    t.finish(d);
    RawGroup { name, attrs, ssh }
}

pub(super) struct RawHost {
    pub(super) header: Span,
    pub(super) name: Option<Sp<String>>,
    pub(super) address: Option<Sp<String>>,
    pub(super) address_kind: Option<AddrKind>,
    pub(super) node_ip: Option<Sp<IpAddr>>,
    pub(super) group: Option<Sp<String>>,
    pub(super) attrs: NodeAttrs,
    pub(super) ssh: RawSsh,
}

fn read_address(
    t: &mut TableReader<'_, '_>,
    d: &mut Diags,
    example: &str,
) -> (Option<Sp<String>>, Option<AddrKind>) {
    let a = t.nonempty(d, "address");
    if a.is_none() && t.key_span("address").is_none() {
        required(d, t, "address", example);
    }
    match a {
        Some(a) => match checks::address(a.get_ref()) {
            Ok(k) => (Some(a), Some(k)),
            Err((m, h)) => {
                d.error(a.span(), m, h);
                (None, None)
            }
        },
        None => (None, None),
    }
}

pub(super) fn read_host(mut t: TableReader<'_, '_>, d: &mut Diags) -> RawHost {
    t = t.with_special(host_special);
    let header = t.span.clone();
    let name = t.nonempty(d, "name");
    if name.is_none() && t.key_span("name").is_none() {
        required(d, &t, "name", "\"node1\"");
    }
    let name = name.filter(|n| {
        let ok = checks::dns_subdomain(n.get_ref());
        if !ok {
            d.error(
                n.span(),
                format!(
                    "host name `{}` is not a valid Kubernetes node name",
                    n.get_ref()
                ),
                format!(
                    "lowercase letters, digits, '-' and '.', e.g. \"{}\"",
                    checks::suggest_label(n.get_ref())
                ),
            );
        }
        ok
    });
    if let Some(n) = &name {
        t.path = format!("host `{}`", n.get_ref());
    }
    let (address, address_kind) = read_address(&mut t, d, "\"10.0.0.11\"");
    let node_ip = t
        .nonempty(d, "node_ip")
        .and_then(|n| match n.get_ref().parse() {
            Ok(ip) => Some(sp(n.span(), ip)),
            Err(_) => {
                d.error(
                    n.span(),
                    format!("node_ip `{}` is not an IP address", n.get_ref()),
                    "node_ip is the IP Kubernetes advertises for this node, e.g. \"10.0.1.11\"",
                );
                None
            }
        });
    let group = t.nonempty(d, "group");
    let attrs = read_node_attrs(&mut t, d);
    let owner = t.path.clone();
    let ssh = ssh_table(&mut t, d, &owner, false);
    t.finish(d);
    RawHost {
        header,
        name,
        address,
        address_kind,
        node_ip,
        group,
        attrs,
        ssh,
    }
}

pub(super) struct RawBastion {
    pub(super) name: Option<Sp<String>>,
    pub(super) address: Option<Sp<String>>,
    pub(super) ssh: RawSsh,
}

fn bastion_special(key: &str) -> Option<String> {
    match key {
        "roles" | "labels" | "taints" | "group" => Some(format!(
            "a bastion is not a cluster node: `{key}` applies to [[host]] only"
        )),
        _ => misplaced_ssh_key(key),
    }
}

pub(super) fn read_bastion(mut t: TableReader<'_, '_>, d: &mut Diags) -> RawBastion {
    t = t.with_special(bastion_special);
    let name = t.nonempty(d, "name");
    if name.is_none() && t.key_span("name").is_none() {
        required(d, &t, "name", "\"jump1\"");
    }
    if let Some(n) = &name {
        t.path = format!("bastion `{}`", n.get_ref());
    }
    let (address, _) = read_address(&mut t, d, "\"203.0.113.10\"");
    let owner = t.path.clone();
    let ssh = ssh_table(&mut t, d, &owner, true);
    t.finish(d);
    RawBastion { name, address, ssh }
}
