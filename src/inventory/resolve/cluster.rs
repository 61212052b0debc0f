//! `[cluster]`: name, version, subnets, CNI, and its sub-tables (`settings`, `endpoint`).

use ipnet::IpNet;

use super::endpoint::{RawEndpoint, endpoint_mode_name, read_endpoint};
use super::settings;
use super::values::{Env, Sp, choice, required, sp};
use crate::inventory::checks;
use crate::inventory::model::*;
use crate::inventory::reader::{Diags, Span, TableReader};

pub(super) const DEFAULT_POD_SUBNET: &str = "10.244.0.0/16";
pub(super) const DEFAULT_SERVICE_SUBNET: &str = "10.96.0.0/12";

pub(super) struct RawCluster {
    pub(super) span: Span,
    pub(super) name: Option<String>,
    pub(super) kubernetes_version: Option<String>,
    pub(super) pod_subnet: Option<Sp<IpNet>>,
    pub(super) service_subnet: Option<Sp<IpNet>>,
    pub(super) dns_domain: String,
    pub(super) cni: Cni,
    pub(super) endpoint: Option<RawEndpoint>,
    pub(super) images: ImageSettings,
    pub(super) load_balancer: LoadBalancerSettings,
    pub(super) security: SecuritySettings,
    /// `Some(None)`: a [cluster.oidc] table whose problems were reported.
    pub(super) oidc: Option<Option<OidcSettings>>,
}

fn cluster_special(key: &str) -> Option<String> {
    match key {
        "vip" | "control_plane_endpoint" | "api_server" => {
            Some("the API endpoint is [cluster.endpoint] with mode, address, port".into())
        }
        "version" => Some("write kubernetes_version = \"1.33.4\"".into()),
        "registry_mirror" | "kube_vip" | "calico" | "flannel" | "flannel_cni_plugin" => {
            Some(format!("`{key}` belongs in [cluster.images]"))
        }
        "virtual_router_id" => {
            Some("`virtual_router_id` belongs in [cluster.load_balancer]".into())
        }
        k if k.starts_with("audit_log_") || k.starts_with("psa_") || k == "encryption_provider" => {
            Some(format!("`{key}` belongs in [cluster.security]"))
        }
        "issuer_url" | "audiences" | "require_mfa" => {
            Some(format!("`{key}` belongs in [cluster.oidc]"))
        }
        _ => None,
    }
}

fn cidr_value(d: &mut Diags, v: Option<Sp<String>>, default: &str) -> Option<Sp<IpNet>> {
    match v {
        None => Some(sp(0..0, default.parse().expect("valid default CIDR"))),
        Some(s) => match checks::cidr(s.get_ref()) {
            Ok(n) => Some(sp(s.span(), n)),
            Err((m, h)) => {
                d.error(s.span(), m, h);
                None
            }
        },
    }
}

pub(super) fn read_cluster(mut t: TableReader<'_, '_>, d: &mut Diags, env: &Env) -> RawCluster {
    t = t.with_special(cluster_special);
    let name = t.nonempty(d, "name");
    let name = match name {
        None => {
            if t.key_span("name").is_none() {
                required(d, &t, "name", "\"otp-prod\"");
            }
            None
        }
        Some(n) if !checks::dns_label(n.get_ref()) => {
            d.error(
                n.span(),
                format!("cluster name `{}` is not a DNS label", n.get_ref()),
                format!(
                    "use lowercase letters, digits and '-', at most 63 characters, e.g. \"{}\"",
                    checks::suggest_label(n.get_ref())
                ),
            );
            None
        }
        Some(n) => Some(n.into_inner()),
    };
    let version = t.nonempty(d, "kubernetes_version");
    let kubernetes_version = match version {
        None => {
            if t.key_span("kubernetes_version").is_none() {
                required(d, &t, "kubernetes_version", "\"1.33.4\"");
            }
            None
        }
        Some(v) => {
            let supported: Vec<u32> = SUPPORTED_KUBERNETES_MINORS.collect();
            match checks::kubernetes_version(v.get_ref(), &supported) {
                Ok(v) => Some(v),
                Err((m, h)) => {
                    d.error(v.span(), m, h);
                    None
                }
            }
        }
    };
    let pod = t.nonempty(d, "pod_subnet");
    let pod_subnet = cidr_value(d, pod, DEFAULT_POD_SUBNET);
    let svc = t.nonempty(d, "service_subnet");
    let service_subnet = cidr_value(d, svc, DEFAULT_SERVICE_SUBNET);
    let dns_domain = match t.nonempty(d, "dns_domain") {
        Some(dd) if checks::dns_subdomain(dd.get_ref()) => dd.into_inner(),
        Some(dd) => {
            d.error(
                dd.span(),
                format!("dns_domain `{}` is not a DNS name", dd.get_ref()),
                "lowercase labels separated by dots, e.g. \"cluster.local\"",
            );
            "cluster.local".into()
        }
        None => "cluster.local".into(),
    };
    let cni_s = t.string(d, "cni");
    let cni = choice(
        d,
        "cni",
        cni_s,
        &[
            ("calico", Cni::Calico),
            ("flannel", Cni::Flannel),
            ("none", Cni::None),
        ],
    )
    .map(|c| c.into_inner())
    .unwrap_or(Cni::Calico);
    let endpoint = t
        .table(d, "endpoint", "[cluster.endpoint]")
        .map(|e| read_endpoint(e, d));
    let images = t
        .table(d, "images", "[cluster.images]")
        .map(|x| settings::read_images(x, d))
        .unwrap_or_default();
    let lb_table = t.key_span("load_balancer");
    let load_balancer = t
        .table(d, "load_balancer", "[cluster.load_balancer]")
        .map(|x| settings::read_load_balancer(x, d))
        .unwrap_or_default();
    // keepalived is the only user of the VRRP settings.
    let mode = endpoint
        .as_ref()
        .map(|e| e.mode.as_ref().map(|m| *m.get_ref()));
    if let Some(span) = lb_table
        && matches!(
            mode,
            None | Some(Some(EndpointMode::KubeVip | EndpointMode::External))
        )
    {
        let why = match mode {
            Some(Some(m)) => format!("with endpoint mode \"{}\"", endpoint_mode_name(m)),
            _ => "without [cluster.endpoint]".into(),
        };
        d.warn(
            span,
            format!("[cluster.load_balancer] is unused {why}"),
            "it configures keepalived for mode = \"haproxy-keepalived\"; remove it otherwise",
        );
    }
    let security = t
        .table(d, "security", "[cluster.security]")
        .map(|x| settings::read_security(x, d))
        .unwrap_or_default();
    let oidc = t
        .table(d, "oidc", "[cluster.oidc]")
        .map(|x| settings::read_oidc(x, d, env));
    let span = t.span.clone();
    t.finish(d);
    RawCluster {
        span,
        name,
        kubernetes_version,
        pod_subnet,
        service_subnet,
        dns_domain,
        cni,
        endpoint,
        images,
        load_balancer,
        security,
        oidc,
    }
}
