//! What only the whole inventory can tell: roles against the endpoint mode, load-balancer
//! and control-plane counts, subnets against each other and against host IPs.

use std::net::IpAddr;

use ipnet::IpNet;

use super::cluster::{DEFAULT_POD_SUBNET, DEFAULT_SERVICE_SUBNET, RawCluster};
use super::endpoint::endpoint_mode_name;
use super::hosts::RawHost;
use crate::inventory::checks::AddrKind;
use crate::inventory::model::*;
use crate::inventory::reader::{Diags, Span};

/// Where the cluster-level checks point: control-plane hosts' names, load-balancer hosts' roles,
/// and every host IP (address or node_ip) with its owner.
pub(super) struct TopologySpans<'a> {
    pub(super) cps: &'a [Span],
    pub(super) lbs: &'a [Span],
    pub(super) host_ips: &'a [(String, IpAddr, Span)],
}

pub(super) fn check_topology(
    d: &mut Diags,
    c: &RawCluster,
    hosts: &[RawHost],
    models: &[Host],
    spans: &TopologySpans<'_>,
    role_errors: bool,
) {
    let cp_spans = spans.cps;
    let host_ips = spans.host_ips;
    let cps = cp_spans.len();
    if cps == 0 && !role_errors && !hosts.is_empty() {
        d.error(
            hosts[0].header.clone(),
            "no host has the control-plane role",
            "give one host (or three, for HA) roles = [\"control-plane\"]",
        );
    }
    if cps >= 2 && cps.is_multiple_of(2) {
        d.warn(
            cp_spans[cps - 1].clone(),
            format!(
                "{cps} control planes: stacked etcd tolerates {} failed member(s), no more than {} would",
                (cps - 1) / 2,
                cps - 1
            ),
            format!("use an odd number: {} or {}", cps - 1, cps + 1),
        );
    }
    let workers = models.iter().filter(|h| h.has_role(Role::Worker)).count();
    if workers == 0 && cps > 0 && !role_errors {
        d.warn(
            c.span.clone(),
            "no host has the worker role: ordinary workloads have no node to run on",
            "add worker hosts, or give control planes roles = [\"control-plane\", \"worker\"] to schedule on them",
        );
    }
    let lb_count = spans.lbs.len();
    let lb_span = spans.lbs.first().cloned().unwrap_or(c.span.clone());

    match &c.endpoint {
        None => {
            if cps > 1 {
                d.error(
                    c.span.clone(),
                    format!("{cps} control planes need a shared API endpoint"),
                    "add [cluster.endpoint] with mode = \"haproxy-keepalived\" (or \"kube-vip\", \"external\") and address = the VIP or DNS name",
                );
            }
            if lb_count > 0 {
                d.warn(
                    lb_span.clone(),
                    "load-balancer hosts are unused without [cluster.endpoint]",
                    "add [cluster.endpoint] with mode = \"haproxy-keepalived\", or drop the load-balancer role",
                );
            }
        }
        Some(e) => {
            let mode = e.mode.as_ref().map(|m| *m.get_ref());
            if let (Some(m), Some(a), Some(kind)) = (mode, &e.address, e.address_kind) {
                if m != EndpointMode::External && kind == AddrKind::Dns {
                    d.error(
                        a.span(),
                        format!(
                            "the {} VIP must be an IP address, not the DNS name `{}`",
                            endpoint_mode_name(m),
                            a.get_ref()
                        ),
                        "give the free IP the VIP should live on, or use mode = \"external\" for a load balancer you run yourself",
                    );
                }
                if let AddrKind::Ip(vip) = kind {
                    // An external load balancer may well sit on an inventory host; a VIP may not.
                    if m != EndpointMode::External
                        && let Some((who, _, _)) = host_ips.iter().find(|(_, ip, _)| *ip == vip)
                    {
                        d.error(
                            a.span(),
                            format!("the VIP {vip} is already {who}'s address"),
                            "the VIP must be an unused IP in the hosts' network",
                        );
                    }
                    for (key, net) in [
                        ("pod_subnet", &c.pod_subnet),
                        ("service_subnet", &c.service_subnet),
                    ] {
                        if let Some(net) = net
                            && net.get_ref().contains(&vip)
                        {
                            d.error(
                                a.span(),
                                format!("endpoint address {vip} is inside {key} {}", net.get_ref()),
                                format!("choose a {key} that does not overlap the hosts' network"),
                            );
                        }
                    }
                }
            }
            match mode {
                Some(EndpointMode::HaproxyKeepalived) if lb_count == 1 => {
                    d.warn(
                        lb_span.clone(),
                        "a single load-balancer host is a single point of failure",
                        "add a second load-balancer host; keepalived moves the VIP between them",
                    );
                }
                Some(m @ (EndpointMode::KubeVip | EndpointMode::External)) if lb_count > 0 => {
                    d.warn(
                        lb_span.clone(),
                        format!(
                            "load-balancer hosts are unused with endpoint mode \"{}\"",
                            endpoint_mode_name(m)
                        ),
                        "use mode = \"haproxy-keepalived\", or drop the load-balancer role",
                    );
                }
                _ => {}
            }
        }
    }

    // --- subnets
    if let (Some(pod), Some(svc)) = (&c.pod_subnet, &c.service_subnet) {
        let (p, s) = (pod.get_ref(), svc.get_ref());
        // Whichever was written last in the file is reported; a default has span 0..0.
        let later = if svc.span().start >= pod.span().start {
            svc
        } else {
            pod
        };
        if p.contains(&s.network()) || s.contains(&p.network()) {
            d.error(
                later.span(),
                format!("pod_subnet {p} and service_subnet {s} overlap"),
                format!(
                    "choose disjoint ranges, e.g. pod_subnet = \"{DEFAULT_POD_SUBNET}\", service_subnet = \"{DEFAULT_SERVICE_SUBNET}\""
                ),
            );
        } else if matches!(p, IpNet::V4(_)) != matches!(s, IpNet::V4(_)) {
            d.error(
                later.span(),
                "pod_subnet and service_subnet are of different IP families",
                "use IPv4 for both (dual-stack is not supported)",
            );
        }
    }
    if let Some(svc) = &c.service_subnet {
        let (min, bits) = match svc.get_ref() {
            IpNet::V4(_) => (12, 32),
            IpNet::V6(_) => (108, 128),
        };
        if svc.get_ref().prefix_len() < min {
            d.error(
                svc.span(),
                format!("service_subnet {} is too large", svc.get_ref()),
                format!(
                    "kube-apiserver allows at most {} host bits: use /{min} or smaller, e.g. \"{DEFAULT_SERVICE_SUBNET}\"",
                    bits - min
                ),
            );
        }
    }
    if let Some(pod) = &c.pod_subnet
        && let IpNet::V6(p) = pod.get_ref()
        && !(48..=64).contains(&p.prefix_len())
    {
        // Nodes get a /64 each, and kube-controller-manager allows at most 16 bits between the
        // cluster prefix and the node prefix.
        d.error(
            pod.span(),
            format!("IPv6 pod_subnet {p} must be a /48 to /64"),
            "each node gets a /64 of it, e.g. \"fd00:10:244::/56\"",
        );
    }
    if let Some(pod) = &c.pod_subnet
        && let IpNet::V4(p) = pod.get_ref()
    {
        // kube-controller-manager hands each node a /24 from the pod range.
        let nodes = models
            .iter()
            .filter(|h| h.has_role(Role::ControlPlane) || h.has_role(Role::Worker))
            .count();
        let capacity: u64 = if p.prefix_len() > 24 {
            0
        } else {
            1u64 << (24 - p.prefix_len())
        };
        if capacity < nodes.max(1) as u64 {
            d.error(
                pod.span(),
                format!(
                    "pod_subnet {p} holds {capacity} node ranges (/24 each) for {} nodes",
                    nodes.max(1)
                ),
                "use a larger range, e.g. \"10.244.0.0/16\" (256 nodes)",
            );
        }
    }
    for (who, ip, span) in host_ips {
        for (key, net) in [
            ("pod_subnet", &c.pod_subnet),
            ("service_subnet", &c.service_subnet),
        ] {
            if let Some(net) = net
                && net.get_ref().contains(ip)
            {
                d.error(
                    span.clone(),
                    format!("{who}'s IP {ip} is inside {key} {}", net.get_ref()),
                    format!("choose a {key} that does not overlap the hosts' network"),
                );
            }
        }
    }
}
