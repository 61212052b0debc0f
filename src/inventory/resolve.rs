//! From the parsed TOML tree to the resolved [`Inventory`]: read every section into "raw" values
//! that keep their positions, merge defaults (built-in < `[ssh]` < group < host), then check what
//! only the whole inventory can tell (references, duplicates, topology, subnets).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde_spanned::Spanned;
use toml::de::DeTable;

use super::checks::{self, AddrKind};
use super::model::*;
use super::reader::{Diags, Span, TableReader};
use super::settings;

/// What resolution needs from the outside world (injected so tests do not depend on `$HOME`).
pub(crate) struct Env {
    pub home: Option<PathBuf>,
    /// Absolute directory of the inventory file.
    pub base_dir: PathBuf,
}

const DEFAULT_POD_SUBNET: &str = "10.244.0.0/16";
const DEFAULT_SERVICE_SUBNET: &str = "10.96.0.0/12";
const DEFAULT_KNOWN_HOSTS: &str = "~/.ssh/known_hosts";
const ROLES: [&str; 3] = ["control-plane", "worker", "load-balancer"];

type Sp<T> = Spanned<T>;

fn sp<T>(span: Span, v: T) -> Sp<T> {
    Spanned::new(span, v)
}

/// Parses a string against a fixed set of spellings; reports the closest one otherwise.
pub(super) fn choice<T: Copy>(
    d: &mut Diags,
    key: &str,
    value: Option<Sp<String>>,
    options: &[(&str, T)],
) -> Option<Sp<T>> {
    let value = value?;
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    match options.iter().find(|(n, _)| *n == value.get_ref().as_str()) {
        Some((_, v)) => Some(sp(value.span(), *v)),
        None => {
            d.error(
                value.span(),
                format!("unknown {key} `{}`", value.get_ref()),
                checks::one_of_hint(value.get_ref(), &names),
            );
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SSH settings

/// One `ssh` table as written; `None` means "not set here, inherit".
#[derive(Debug, Clone, Default)]
struct RawSsh {
    user: Option<Sp<String>>,
    port: Option<Sp<u16>>,
    key_files: Option<Sp<Vec<Sp<String>>>>,
    certificate: Option<Sp<String>>,
    agent: Option<Sp<bool>>,
    password: Option<Sp<bool>>,
    keyboard_interactive: Option<Sp<bool>>,
    askpass: Option<Sp<String>>,
    bastion: Option<Sp<String>>,
    known_hosts: Option<Sp<Vec<Sp<String>>>>,
    host_key_policy: Option<Sp<HostKeyPolicy>>,
    host_keys: Option<Sp<Vec<Sp<String>>>>,
    sudo: Option<Sp<bool>>,
    sudo_password_env: Option<Sp<String>>,
    connect_timeout_secs: Option<Sp<i64>>,
    command_timeout_secs: Option<Sp<i64>>,
}

const SSH_KEYS: [&str; 16] = [
    "user",
    "port",
    "key_files",
    "certificate",
    "agent",
    "password",
    "keyboard_interactive",
    "askpass",
    "bastion",
    "known_hosts",
    "host_key_policy",
    "host_keys",
    "sudo",
    "sudo_password_env",
    "connect_timeout_secs",
    "command_timeout_secs",
];

impl RawSsh {
    /// `over`'s settings win where set. Lists replace, they do not append: a host that names its
    /// own key_files wants exactly those.
    fn overlay(&self, over: &RawSsh) -> RawSsh {
        macro_rules! pick {
            ($($f:ident),*) => { RawSsh { $($f: over.$f.clone().or_else(|| self.$f.clone()),)* } };
        }
        pick!(
            user,
            port,
            key_files,
            certificate,
            agent,
            password,
            keyboard_interactive,
            askpass,
            bastion,
            known_hosts,
            host_key_policy,
            host_keys,
            sudo,
            sudo_password_env,
            connect_timeout_secs,
            command_timeout_secs
        )
    }
}

fn read_ssh(mut t: TableReader<'_, '_>, d: &mut Diags, in_bastion: bool) -> RawSsh {
    let user = t.nonempty(d, "user").and_then(|u| {
        if checks::user_name(u.get_ref()) {
            Some(u)
        } else {
            d.error(
                u.span(),
                format!("`{}` is not a valid SSH user name", u.get_ref()),
                "a user name has no spaces, '@' or ':', e.g. user = \"ops\"",
            );
            None
        }
    });
    let port = t.port(d, "port");
    let key_files = t.string_list(d, "key_files");
    let certificate = t.nonempty(d, "certificate");
    let agent = t.boolean(d, "agent");
    let password = t.boolean(d, "password");
    let keyboard_interactive = t.boolean(d, "keyboard_interactive");
    let askpass = t.nonempty(d, "askpass");
    let bastion = t.nonempty(d, "bastion");
    if in_bastion && let Some(b) = &bastion {
        d.error(
            b.span(),
            "a bastion cannot itself go through a bastion",
            "remove `bastion` here: otp-provision tunnels through one hop, which connects directly",
        );
    }
    let bastion = bastion.filter(|_| !in_bastion);
    let known_hosts = t.string_list(d, "known_hosts");
    let policy_str = t.string(d, "host_key_policy");
    let host_key_policy = choice(
        d,
        "host_key_policy",
        policy_str,
        &[
            ("strict", HostKeyPolicy::Strict),
            ("accept-new", HostKeyPolicy::AcceptNew),
        ],
    );
    let host_keys = t.string_list(d, "host_keys").map(|keys| {
        let span = keys.span();
        let good: Vec<Sp<String>> = keys
            .into_inner()
            .into_iter()
            .filter(|k| match checks::host_key(k.get_ref()) {
                Ok(()) => true,
                Err((m, h)) => {
                    d.error(k.span(), m, h);
                    false
                }
            })
            .collect();
        sp(span, good)
    });
    if let (Some(keys), Some(policy)) = (&host_keys, &host_key_policy)
        && *policy.get_ref() == HostKeyPolicy::AcceptNew
        && !keys.get_ref().is_empty()
    {
        d.warn(
            policy.span(),
            "host_key_policy = \"accept-new\" has no effect next to pinned host_keys",
            "pinned keys are the only keys accepted; remove host_key_policy or host_keys",
        );
    }
    let sudo = t.boolean(d, "sudo");
    let sudo_password_env = t.nonempty(d, "sudo_password_env").and_then(|e| {
        if checks::env_name(e.get_ref()) {
            Some(e)
        } else {
            d.error(
                e.span(),
                format!("`{}` is not an environment variable name", e.get_ref()),
                "name the variable, not its value: letters, digits and '_', e.g. \"OTP_SUDO_PASSWORD\"",
            );
            None
        }
    });
    let timeout_hint = "seconds, at least 1";
    let connect_timeout_secs = t.integer(d, "connect_timeout_secs", 1, 3600, timeout_hint);
    let command_timeout_secs = t.integer(d, "command_timeout_secs", 1, 7 * 24 * 3600, timeout_hint);
    t.finish(d);
    RawSsh {
        user,
        port,
        key_files,
        certificate,
        agent,
        password,
        keyboard_interactive,
        askpass,
        bastion,
        known_hosts,
        host_key_policy,
        host_keys,
        sudo,
        sudo_password_env,
        connect_timeout_secs,
        command_timeout_secs,
    }
}

/// Reads `key` as an ssh table if present.
fn ssh_table(t: &mut TableReader<'_, '_>, d: &mut Diags, owner: &str, in_bastion: bool) -> RawSsh {
    match t.table(d, "ssh", format!("the ssh settings of {owner}")) {
        Some(s) => read_ssh(s, d, in_bastion),
        None => RawSsh::default(),
    }
}

/// Expands `~`, resolves relative paths against the inventory's directory.
pub(super) fn resolve_path(env: &Env, d: &mut Diags, p: &Sp<String>) -> Option<PathBuf> {
    let s = p.get_ref();
    let home_rel = if s == "~" {
        Some("")
    } else {
        s.strip_prefix("~/")
    };
    if let Some(rest) = home_rel {
        let Some(home) = &env.home else {
            d.error(
                p.span(),
                format!("cannot expand `~` in `{s}`: HOME is not set"),
                "write an absolute path or set HOME",
            );
            return None;
        };
        return Some(home.join(rest));
    }
    if s.starts_with('~') {
        d.error(
            p.span(),
            format!("`{s}`: only `~` and `~/` are expanded"),
            "write the full path of the other user's home",
        );
        return None;
    }
    Some(env.base_dir.join(s))
}

fn warn_missing(d: &mut Diags, p: &Sp<String>, path: &Path, what: &str, hint: &str) {
    if !path.exists() {
        d.warn(
            p.span(),
            format!("{what} `{}` does not exist", path.display()),
            hint,
        );
    }
}

/// Merged raw settings -> resolved [`SshSettings`] (defaults filled in, paths absolute).
fn resolve_ssh(raw: &RawSsh, env: &Env, d: &mut Diags) -> SshSettings {
    let key_files = raw
        .key_files
        .as_ref()
        .map(|l| {
            l.get_ref()
                .iter()
                .filter_map(|p| {
                    let path = resolve_path(env, d, p)?;
                    warn_missing(
                        d,
                        p,
                        &path,
                        "key file",
                        "fix the path, or remove it and rely on the ssh agent",
                    );
                    Some(path)
                })
                .collect()
        })
        .unwrap_or_default();
    let certificate = raw.certificate.as_ref().and_then(|p| {
        let path = resolve_path(env, d, p)?;
        warn_missing(
            d,
            p,
            &path,
            "certificate",
            "point at the -cert.pub file signed for your key",
        );
        Some(path)
    });
    // A bare program name is looked up in PATH when run, like OpenSSH's SSH_ASKPASS.
    let askpass = raw.askpass.as_ref().and_then(|p| {
        if !p.get_ref().contains('/') && !p.get_ref().starts_with('~') {
            return Some(PathBuf::from(p.get_ref()));
        }
        let path = resolve_path(env, d, p)?;
        warn_missing(
            d,
            p,
            &path,
            "askpass program",
            "give the path of an executable that prints the answer to the prompt in argv[1]",
        );
        Some(path)
    });
    let host_keys: Vec<String> = raw
        .host_keys
        .as_ref()
        .map(|l| l.get_ref().iter().map(|k| k.get_ref().clone()).collect())
        .unwrap_or_default();
    let host_key_policy = raw
        .host_key_policy
        .as_ref()
        .map(|p| *p.get_ref())
        .unwrap_or(HostKeyPolicy::Strict);
    let known_hosts = match &raw.known_hosts {
        Some(l) => l
            .get_ref()
            .iter()
            .filter_map(|p| {
                let path = resolve_path(env, d, p)?;
                if host_key_policy == HostKeyPolicy::Strict && host_keys.is_empty() {
                    warn_missing(
                        d,
                        p,
                        &path,
                        "known_hosts file",
                        "create it (ssh-keyscan), pin host_keys, or use host_key_policy = \"accept-new\"",
                    );
                }
                Some(path)
            })
            .collect(),
        None => env
            .home
            .as_ref()
            .map(|h| {
                vec![h.join(
                    DEFAULT_KNOWN_HOSTS
                        .strip_prefix("~/")
                        .unwrap_or(DEFAULT_KNOWN_HOSTS),
                )]
            })
            .unwrap_or_default(),
    };
    let b =
        |v: &Option<Sp<bool>>, default: bool| v.as_ref().map(|x| *x.get_ref()).unwrap_or(default);
    SshSettings {
        user: raw
            .user
            .as_ref()
            .map(|u| u.get_ref().clone())
            .unwrap_or_else(|| "root".into()),
        port: raw.port.as_ref().map(|p| *p.get_ref()).unwrap_or(22),
        key_files,
        certificate,
        agent: b(&raw.agent, true),
        password: b(&raw.password, false),
        keyboard_interactive: b(&raw.keyboard_interactive, false),
        askpass,
        bastion: raw.bastion.as_ref().map(|s| s.get_ref().clone()),
        known_hosts,
        host_key_policy,
        host_keys,
        sudo: b(&raw.sudo, false),
        sudo_password_env: raw.sudo_password_env.as_ref().map(|s| s.get_ref().clone()),
        connect_timeout_secs: raw
            .connect_timeout_secs
            .as_ref()
            .map(|n| *n.get_ref() as u64)
            .unwrap_or(10),
        command_timeout_secs: raw
            .command_timeout_secs
            .as_ref()
            .map(|n| *n.get_ref() as u64)
            .unwrap_or(900),
    }
}

/// A host or bastion nobody could log in to is an error now rather than at connect time.
fn check_auth(d: &mut Diags, raw: &RawSsh, s: &SshSettings, who: &str, at: Span) {
    if !s.agent && s.key_files.is_empty() && !s.password && !s.keyboard_interactive {
        let span = raw.agent.as_ref().map(|a| a.span()).unwrap_or(at);
        d.error(
            span,
            format!("{who} has no SSH authentication method (agent = false and no key_files)"),
            "set agent = true, list key_files, or allow password / keyboard_interactive",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Node attributes shared by groups and hosts

#[derive(Debug, Clone)]
struct RawRoles {
    span: Span,
    roles: Vec<Role>,
    /// Some entry was not a role (already reported); do not also report "no roles".
    invalid: bool,
}

type RawLabels = Sp<super::reader::StringPairs>;

#[derive(Debug, Clone, Default)]
struct NodeAttrs {
    roles: Option<RawRoles>,
    labels: Option<RawLabels>,
    taints: Option<Sp<Vec<Sp<String>>>>,
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

/// Keys that belong in a host's (or bastion's) ssh table rather than the host itself.
fn misplaced_ssh_key(key: &str) -> Option<String> {
    SSH_KEYS.contains(&key).then(|| {
        format!(
            "SSH settings go in the ssh table: ssh = {{ {key} = ... }}, or in [ssh] for all hosts"
        )
    })
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

// ---------------------------------------------------------------------------------------------
// Sections

struct RawCluster {
    span: Span,
    name: Option<String>,
    kubernetes_version: Option<String>,
    pod_subnet: Option<Sp<IpNet>>,
    service_subnet: Option<Sp<IpNet>>,
    dns_domain: String,
    cni: Cni,
    endpoint: Option<RawEndpoint>,
    images: ImageSettings,
    load_balancer: LoadBalancerSettings,
    security: SecuritySettings,
    /// `Some(None)`: a [cluster.oidc] table whose problems were reported.
    oidc: Option<Option<OidcSettings>>,
}

struct RawEndpoint {
    mode: Option<Sp<EndpointMode>>,
    address: Option<Sp<String>>,
    address_kind: Option<AddrKind>,
    port: u16,
    interface: Option<String>,
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

pub(super) fn required(d: &mut Diags, t: &TableReader<'_, '_>, key: &str, example: &str) {
    if t.has_misspelling_of(key) {
        return;
    }
    d.error(
        t.span.clone(),
        format!("{} has no `{key}`", t.path),
        format!("add {key} = {example}"),
    );
}

fn read_cluster(mut t: TableReader<'_, '_>, d: &mut Diags, env: &Env) -> RawCluster {
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

fn read_endpoint(mut t: TableReader<'_, '_>, d: &mut Diags) -> RawEndpoint {
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

fn read_packages(mut t: TableReader<'_, '_>, d: &mut Diags) -> Option<PackageSource> {
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Upstream,
        Mirror,
    }
    let source_s = t.string(d, "source");
    let source_span = source_s.as_ref().map(|s| s.span());
    let kind = match source_s {
        None if t.key_span("source").is_none() => Some(Kind::Upstream),
        other => choice(
            d,
            "package source",
            other,
            &[("upstream", Kind::Upstream), ("mirror", Kind::Mirror)],
        )
        .map(|k| k.into_inner()),
    };
    let check_url = |d: &mut Diags, u: Option<Sp<String>>| {
        u.filter(|u| match checks::http_url(u.get_ref()) {
            Ok(()) => true,
            Err((m, h)) => {
                d.error(u.span(), m, h);
                false
            }
        })
    };
    let url = t.nonempty(d, "url");
    let url = check_url(d, url);
    let key_url = t.nonempty(d, "key_url");
    let key_url = check_url(d, key_url);
    let debian = t.boolean(d, "debian");
    let result = match kind {
        Some(Kind::Mirror) => match url {
            Some(u) => Some(PackageSource::Mirror {
                // `{url}/kubernetes/...` is appended later; a trailing slash would double it.
                url: u.get_ref().trim_end_matches('/').to_string(),
                key_url: key_url.map(|k| k.into_inner()),
                debian: debian.map(|b| b.into_inner()).unwrap_or(false),
            }),
            None => {
                if t.key_span("url").is_none() {
                    d.error(
                        source_span.unwrap_or(t.span.clone()),
                        "source = \"mirror\" needs a `url`",
                        "add url = \"https://mirror.example.com/k8s\" (laid out like pkgs.k8s.io)",
                    );
                }
                None
            }
        },
        Some(Kind::Upstream) => {
            for k in ["url", "key_url", "debian"] {
                if let Some(s) = t.key_span(k) {
                    d.error(
                        s,
                        format!("`{k}` is only used with source = \"mirror\""),
                        "set source = \"mirror\" in [packages], or remove this key",
                    );
                }
            }
            Some(PackageSource::Upstream)
        }
        None => None,
    };
    t.finish(d);
    result
}

struct RawRun {
    parallel_hosts: usize,
    sessions_per_host: usize,
    state_dir: Option<Sp<String>>,
    lock_wait_secs: u64,
}

fn read_run(mut t: TableReader<'_, '_>, d: &mut Diags) -> RawRun {
    let parallel_hosts = t
        .integer(d, "parallel_hosts", 1, 100_000, "at least 1 (default 256)")
        .map(|n| n.into_inner() as usize)
        .unwrap_or(256);
    let sessions_per_host = t
        .integer(
            d,
            "sessions_per_host",
            1,
            10,
            "1-10: OpenSSH's MaxSessions defaults to 10 sessions per connection (default 8)",
        )
        .map(|n| n.into_inner() as usize)
        .unwrap_or(8);
    let state_dir = t.nonempty(d, "state_dir");
    let lock_wait_secs = t
        .integer(
            d,
            "lock_wait_secs",
            1,
            86_400,
            "1-86400 seconds (default 600: an interrupted run's kubeadm may need minutes)",
        )
        .map(|n| n.into_inner() as u64)
        .unwrap_or(super::model::DEFAULT_LOCK_WAIT_SECS);
    t.finish(d);
    RawRun {
        parallel_hosts,
        sessions_per_host,
        state_dir,
        lock_wait_secs,
    }
}

struct RawGroup {
    name: Sp<String>,
    attrs: NodeAttrs,
    ssh: RawSsh,
}

fn group_special(key: &str) -> Option<String> {
    match key {
        "address" | "name" | "node_ip" => {
            Some(format!("`{key}` is per host: set it in each [[host]]"))
        }
        _ => misplaced_ssh_key(key),
    }
}

fn read_group(mut t: TableReader<'_, '_>, name: Sp<String>, d: &mut Diags) -> RawGroup {
    t = t.with_special(group_special);
    let attrs = read_node_attrs(&mut t, d);
    let ssh = ssh_table(&mut t, d, &format!("[groups.{}]", name.get_ref()), false);
    t.finish(d);
    RawGroup { name, attrs, ssh }
}

struct RawHost {
    header: Span,
    name: Option<Sp<String>>,
    address: Option<Sp<String>>,
    address_kind: Option<AddrKind>,
    node_ip: Option<Sp<IpAddr>>,
    group: Option<Sp<String>>,
    attrs: NodeAttrs,
    ssh: RawSsh,
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

fn read_host(mut t: TableReader<'_, '_>, d: &mut Diags) -> RawHost {
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

struct RawBastion {
    name: Option<Sp<String>>,
    address: Option<Sp<String>>,
    ssh: RawSsh,
}

fn bastion_special(key: &str) -> Option<String> {
    match key {
        "roles" | "labels" | "taints" | "group" => Some(format!(
            "a bastion is not a cluster node: `{key}` applies to [[host]] only"
        )),
        _ => misplaced_ssh_key(key),
    }
}

fn read_bastion(mut t: TableReader<'_, '_>, d: &mut Diags) -> RawBastion {
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

// ---------------------------------------------------------------------------------------------
// The whole inventory

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
        .map(|(_, v)| super::addons::read_addons(d, v))
        .unwrap_or_default();
    let log_parsers = super::log_parsers::read(&mut top, d);
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
        lock_wait_secs: super::model::DEFAULT_LOCK_WAIT_SECS,
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

/// Bastions resolved against `[ssh]`, and the span of each (first) name.
fn resolve_bastions(
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
struct HostContext<'a> {
    env: &'a Env,
    top_ssh: &'a RawSsh,
    groups: &'a [RawGroup],
    bastions: &'a [RawBastion],
    bastion_names: &'a HashMap<String, Span>,
}

/// The pass over `[[host]]` entries: the resolved hosts, and what was seen so far for duplicate
/// detection and for the cluster-level checks that follow.
#[derive(Default)]
struct HostPass {
    models: Vec<Host>,
    used_groups: BTreeSet<String>,
    used_bastions: BTreeSet<String>,
    names: HashMap<String, Span>,
    /// (normalised address, SSH port) -> first host using it.
    endpoints: HashMap<(String, u16), (String, Span)>,
    /// Node IP of Kubernetes nodes -> first node using it.
    node_ips: HashMap<IpAddr, (String, Span)>,
    /// Some host's roles were unusable (already reported): topology checks would only echo it.
    role_errors: bool,
    cp_spans: Vec<Span>,
    lb_spans: Vec<Span>,
    host_ips: Vec<(String, IpAddr, Span)>,
}

impl HostPass {
    fn add(&mut self, cx: &HostContext<'_>, d: &mut Diags, h: &RawHost) {
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

/// Where the cluster-level checks point: control-plane hosts' names, load-balancer hosts' roles,
/// and every host IP (address or node_ip) with its owner.
struct TopologySpans<'a> {
    cps: &'a [Span],
    lbs: &'a [Span],
    host_ips: &'a [(String, IpAddr, Span)],
}

fn check_topology(
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

fn endpoint_mode_name(m: EndpointMode) -> &'static str {
    match m {
        EndpointMode::HaproxyKeepalived => "haproxy-keepalived",
        EndpointMode::KubeVip => "kube-vip",
        EndpointMode::External => "external",
    }
}
