//! `[cluster.endpoint]`: how the API is reached (mode, address, port, interface).

use super::values::{Sp, choice, required};
use crate::inventory::checks::{self, AddrKind};
use crate::inventory::model::*;
use crate::inventory::reader::{Diags, TableReader};

pub(super) struct RawEndpoint {
    pub(super) mode: Option<Sp<EndpointMode>>,
    pub(super) address: Option<Sp<String>>,
    pub(super) address_kind: Option<AddrKind>,
    pub(super) port: u16,
    pub(super) interface: Option<String>,
}

pub(super) fn read_endpoint(mut t: TableReader<'_, '_>, d: &mut Diags) -> RawEndpoint {
    let mode_s = t.string(d, "mode");
    let mode_missing = mode_s.is_none() && t.key_span("mode").is_none();
    let mode = choice(
        d,
        "endpoint mode",
        mode_s,
        &[
            ("haproxy-keepalived", EndpointMode::HaproxyKeepalived),
            ("kube-vip", EndpointMode::KubeVip),
            ("external", EndpointMode::External),
        ],
    );
    if mode_missing {
        required(
            d,
            &t,
            "mode",
            "\"haproxy-keepalived\" (or \"kube-vip\", \"external\")",
        );
    }
    let address = t.nonempty(d, "address");
    if address.is_none() && t.key_span("address").is_none() {
        required(
            d,
            &t,
            "address",
            "\"10.0.0.100\" (the VIP or DNS name clients use)",
        );
    }
    let mut address_kind = None;
    let address = address.filter(|a| match checks::address(a.get_ref()) {
        Ok(k) => {
            address_kind = Some(k);
            true
        }
        Err((m, h)) => {
            d.error(a.span(), m, h);
            false
        }
    });
    let port = t.port(d, "port").map(|p| p.into_inner()).unwrap_or(6443);
    let interface = t.nonempty(d, "interface").and_then(|i| {
        if checks::interface_name(i.get_ref()) {
            Some(i.into_inner())
        } else {
            d.error(
                i.span(),
                format!("`{}` is not a network interface name", i.get_ref()),
                "1-15 characters without '/', ':' or spaces, e.g. \"eth0\"",
            );
            None
        }
    });
    t.finish(d);
    RawEndpoint {
        mode,
        address,
        address_kind,
        port,
        interface,
    }
}

pub(super) fn endpoint_mode_name(m: EndpointMode) -> &'static str {
    match m {
        EndpointMode::HaproxyKeepalived => "haproxy-keepalived",
        EndpointMode::KubeVip => "kube-vip",
        EndpointMode::External => "external",
    }
}
