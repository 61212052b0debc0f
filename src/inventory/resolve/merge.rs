//! Defaults merged into each host and bastion (built-in < `[ssh]` < group < host), and the
//! per-host checks that need every host seen so far (duplicate names, addresses, node IPs).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use super::hosts::{RawBastion, RawGroup, RawHost};
use super::ssh::{RawSsh, check_auth, resolve_ssh};
use super::values::Env;
use crate::inventory::checks::{self, AddrKind};
use crate::inventory::model::*;
use crate::inventory::reader::{Diags, Span};

/// Bastions resolved against `[ssh]`, and the span of each (first) name.
pub(super) fn resolve_bastions(
    d: &mut Diags,
    env: &Env,
    top_ssh: &RawSsh,
    bastions: &[RawBastion],
) -> (Vec<Bastion>, HashMap<String, Span>) {
    let mut models = Vec::new();
    let mut names: HashMap<String, Span> = HashMap::new();
    // A bastion inherits [ssh] but never its `bastion`: one hop only.
    let base = RawSsh {
        bastion: None,
        ..top_ssh.clone()
    };
    for b in bastions {
        let merged = base.overlay(&b.ssh);
        let settings = resolve_ssh(&merged, env, d);
        let Some(name) = &b.name else { continue };
        if let Some(first) = names.get(name.get_ref()) {
            d.error(
                name.span(),
                format!("bastion name `{}` is used twice", name.get_ref()),
                format!(
                    "bastion names must be unique (first at {})",
                    d.line_of(first)
                ),
            );
            continue;
        }
        names.insert(name.get_ref().clone(), name.span());
        let who = format!("bastion `{}`", name.get_ref());
        check_auth(d, &merged, &settings, &who, name.span());
        if let Some(addr) = &b.address {
            models.push(Bastion {
                name: name.get_ref().clone(),
                address: addr.get_ref().clone(),
                ssh: settings,
            });
        }
    }
    (models, names)
}

/// What every host is resolved against.
pub(super) struct HostContext<'a> {
    pub(super) env: &'a Env,
    pub(super) top_ssh: &'a RawSsh,
    pub(super) groups: &'a [RawGroup],
    pub(super) bastions: &'a [RawBastion],
    pub(super) bastion_names: &'a HashMap<String, Span>,
}

/// The pass over `[[host]]` entries: the resolved hosts, and what was seen so far for duplicate
/// detection and for the cluster-level checks that follow.
#[derive(Default)]
pub(super) struct HostPass {
    pub(super) models: Vec<Host>,
    pub(super) used_groups: BTreeSet<String>,
    pub(super) used_bastions: BTreeSet<String>,
    pub(super) names: HashMap<String, Span>,
    /// (normalised address, SSH port) -> first host using it.
    pub(super) endpoints: HashMap<(String, u16), (String, Span)>,
    /// Node IP of Kubernetes nodes -> first node using it.
    pub(super) node_ips: HashMap<IpAddr, (String, Span)>,
    /// Some host's roles were unusable (already reported): topology checks would only echo it.
    pub(super) role_errors: bool,
    pub(super) cp_spans: Vec<Span>,
    pub(super) lb_spans: Vec<Span>,
    pub(super) host_ips: Vec<(String, IpAddr, Span)>,
}

impl HostPass {
    pub(super) fn add(&mut self, cx: &HostContext<'_>, d: &mut Diags, h: &RawHost) {
        let who = h
            .name
            .as_ref()
            .map(|n| format!("host `{}`", n.get_ref()))
            .unwrap_or_else(|| "this host".into());
        let at = h
            .name
            .as_ref()
            .map(|n| n.span())
            .unwrap_or(h.header.clone());
        let (group, group_broken) = self.group_of(cx, d, h);

        let empty = RawSsh::default();
        let merged = cx
            .top_ssh
            .overlay(group.map(|g| &g.ssh).unwrap_or(&empty))
            .overlay(&h.ssh);
        let settings = resolve_ssh(&merged, cx.env, d);
        check_auth(d, &merged, &settings, &who, at.clone());
        self.check_bastion_ref(cx, d, &merged);
        // A non-root user without sudo cannot install packages or write /etc.
        if !settings.sudo && settings.user != "root" {
            let span = merged.user.as_ref().map(|u| u.span()).unwrap_or(at.clone());
            d.warn(
                span,
                format!(
                    "user `{}` is not root and sudo is off: privileged steps will fail",
                    settings.user
                ),
                "set sudo = true in the same ssh settings, or log in as root",
            );
        }

        // Roles: the host's own list replaces the group's.
        let roles_src = h
            .attrs
            .roles
            .as_ref()
            .or(group.and_then(|g| g.attrs.roles.as_ref()));
        let roles: BTreeSet<Role> = roles_src
            .map(|r| r.roles.iter().copied().collect())
            .unwrap_or_default();
        match roles_src {
            Some(r) if r.invalid => self.role_errors = true,
            Some(r) if r.roles.is_empty() => {
                d.error(
                    r.span.clone(),
                    format!("{who} has an empty roles list"),
                    "roles are any of \"control-plane\", \"worker\", \"load-balancer\"",
                );
                self.role_errors = true;
            }
            Some(_) => {}
            // The group that would have given the roles is already reported as undefined.
            None if group_broken => self.role_errors = true,
            None => {
                d.error(
                    at.clone(),
                    format!("{who} has no roles"),
                    "add roles = [\"worker\"] (control-plane, worker, load-balancer), or group = \"NAME\" of a group that sets roles",
                );
                self.role_errors = true;
            }
        }
        let is_node = roles.contains(&Role::ControlPlane) || roles.contains(&Role::Worker);
        if !is_node && !roles.is_empty() {
            for (key, present) in [
                ("labels", h.attrs.labels.as_ref().map(|l| l.span())),
                ("taints", h.attrs.taints.as_ref().map(|t| t.span())),
            ] {
                if let Some(span) = present {
                    d.warn(
                        span,
                        format!("{who} is not a Kubernetes node: its {key} are ignored"),
                        "labels and taints apply to control-plane and worker hosts",
                    );
                }
            }
        }
        if roles.contains(&Role::ControlPlane) {
            self.cp_spans.push(at.clone());
        }
        if roles.contains(&Role::LoadBalancer) {
            self.lb_spans
                .push(roles_src.map(|r| r.span.clone()).unwrap_or(at.clone()));
        }

        // Labels: group labels, then the host's (host wins per key). Taints: host's or group's.
        let mut labels = BTreeMap::new();
        for src in [
            group.and_then(|g| g.attrs.labels.as_ref()),
            h.attrs.labels.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            for (k, v) in src.get_ref() {
                labels.insert(k.get_ref().clone(), v.get_ref().clone());
            }
        }
        let taints: Vec<String> = h
            .attrs
            .taints
            .as_ref()
            .or(group.and_then(|g| g.attrs.taints.as_ref()))
            .map(|t| t.get_ref().iter().map(|x| x.get_ref().clone()).collect())
            .unwrap_or_default();

        let address_clash = self.check_duplicates(d, h, &who, settings.port);
        if is_node && !address_clash {
            self.check_node_ip(d, h, &who);
        }
        if let (Some(a), Some(AddrKind::Ip(ip))) = (&h.address, h.address_kind) {
            self.host_ips.push((who.clone(), ip, a.span()));
        }
        if let Some(n) = &h.node_ip
            && h.address_kind != Some(AddrKind::Ip(*n.get_ref()))
        {
            self.host_ips.push((who.clone(), *n.get_ref(), n.span()));
        }

        if let (Some(n), Some(a)) = (&h.name, &h.address) {
            self.models.push(Host {
                name: n.get_ref().clone(),
                address: a.get_ref().clone(),
                node_ip: h.node_ip.as_ref().map(|ip| ip.get_ref().to_string()),
                roles,
                labels,
                taints,
                ssh: settings,
            });
        }
    }

    /// The host's group, and whether it names one that does not exist (already reported).
    fn group_of<'c>(
        &mut self,
        cx: &HostContext<'c>,
        d: &mut Diags,
        h: &RawHost,
    ) -> (Option<&'c RawGroup>, bool) {
        let Some(g) = &h.group else {
            return (None, false);
        };
        if let Some(x) = cx.groups.iter().find(|x| x.name.get_ref() == g.get_ref()) {
            self.used_groups.insert(g.get_ref().clone());
            return (Some(x), false);
        }
        let names: Vec<&str> = cx
            .groups
            .iter()
            .map(|x| x.name.get_ref().as_str())
            .collect();
        let hint = if names.is_empty() {
            format!("define [groups.{}] or remove `group`", g.get_ref())
        } else {
            checks::one_of_hint(g.get_ref(), &names)
        };
        d.error(
            g.span(),
            format!("group `{}` is not defined in [groups]", g.get_ref()),
            hint,
        );
        (None, true)
    }

    fn check_bastion_ref(&mut self, cx: &HostContext<'_>, d: &mut Diags, merged: &RawSsh) {
        let Some(b) = &merged.bastion else { return };
        if cx.bastion_names.contains_key(b.get_ref()) {
            self.used_bastions.insert(b.get_ref().clone());
            return;
        }
        let names: Vec<&str> = cx
            .bastions
            .iter()
            .filter_map(|x| x.name.as_ref().map(|n| n.get_ref().as_str()))
            .collect();
        let hint = if names.is_empty() {
            format!(
                "add a [[bastion]] with name = \"{}\" and its address",
                b.get_ref()
            )
        } else {
            checks::one_of_hint(b.get_ref(), &names)
        };
        d.error(
            b.span(),
            format!(
                "bastion `{}` is not defined by any [[bastion]]",
                b.get_ref()
            ),
            hint,
        );
    }

    /// Duplicate names and (address, port) pairs; returns whether the address clashed.
    fn check_duplicates(&mut self, d: &mut Diags, h: &RawHost, who: &str, port: u16) -> bool {
        if let Some(n) = &h.name {
            if let Some(first) = self.names.get(n.get_ref()) {
                d.error(
                    n.span(),
                    format!("host name `{}` is used twice", n.get_ref()),
                    format!("host names must be unique (first at {})", d.line_of(first)),
                );
            } else {
                self.names.insert(n.get_ref().clone(), n.span());
            }
        }
        let (Some(a), Some(kind)) = (&h.address, h.address_kind) else {
            return false;
        };
        let norm = match kind {
            AddrKind::Ip(ip) => ip.to_string(),
            AddrKind::Dns => a.get_ref().trim_end_matches('.').to_ascii_lowercase(),
        };
        if let Some((first, fspan)) = self.endpoints.get(&(norm.clone(), port)) {
            d.error(
                a.span(),
                format!("address {}:{port} is already used by {first}", a.get_ref()),
                format!(
                    "each host needs its own address or SSH port (first at {})",
                    d.line_of(fspan)
                ),
            );
            return true;
        }
        self.endpoints
            .insert((norm, port), (who.to_string(), a.span()));
        false
    }

    /// Two nodes cannot advertise the same IP (two hosts behind one NATed address need node_ip).
    fn check_node_ip(&mut self, d: &mut Diags, h: &RawHost, who: &str) {
        let node_ip: Option<(IpAddr, Span)> = match (&h.node_ip, h.address_kind) {
            (Some(n), _) => Some((*n.get_ref(), n.span())),
            (None, Some(AddrKind::Ip(ip))) => h.address.as_ref().map(|a| (ip, a.span())),
            _ => None,
        };
        let Some((ip, span)) = node_ip else { return };
        if let Some((first, fspan)) = self.node_ips.get(&ip) {
            d.error(
                span,
                format!("node IP {ip} is already used by {first}"),
                format!(
                    "every node needs its own IP: set node_ip (first at {})",
                    d.line_of(fspan)
                ),
            );
        } else {
            self.node_ips.insert(ip, (who.to_string(), span));
        }
    }
}
