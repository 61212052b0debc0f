//! `[cluster.images]`, `[cluster.load_balancer]`, `[cluster.security]` and `[cluster.oidc]`: what
//! the cluster phases render into kubeadm, haproxy/keepalived and API server configuration.
//! Keys left out keep the model's `Default` (the values the cluster phases were written for), so
//! the defaults live in one place.

use std::collections::HashMap;

use serde_spanned::Spanned;

use super::values::{Env, choice, required, resolve_path};
use crate::inventory::checks;
use crate::inventory::model::*;
use crate::inventory::reader::{Diags, Span, TableReader};

const PSA_LEVELS: [(&str, PsaLevel); 3] = [
    ("privileged", PsaLevel::Privileged),
    ("baseline", PsaLevel::Baseline),
    ("restricted", PsaLevel::Restricted),
];

fn images_special(key: &str) -> Option<String> {
    match key {
        "registry" | "mirror" | "image_repository" => {
            Some("write registry_mirror = \"registry.bank.example/k8s\"".into())
        }
        "kube-vip" | "kubevip" | "kube_vip_version" => {
            Some("write kube_vip = \"v0.9.2\" (the tag only)".into())
        }
        _ => None,
    }
}

pub(super) fn read_images(mut t: TableReader<'_, '_>, d: &mut Diags) -> ImageSettings {
    t = t.with_special(images_special);
    let mut s = ImageSettings::default();
    if let Some(m) = t.nonempty(d, "registry_mirror") {
        match checks::registry_mirror(m.get_ref()) {
            Ok(norm) => s.registry_mirror = Some(norm),
            Err((msg, hint)) => d.error(m.span(), msg, hint),
        }
    }
    for (key, field) in [
        ("kube_vip", &mut s.kube_vip),
        ("calico", &mut s.calico),
        ("flannel", &mut s.flannel),
        ("flannel_cni_plugin", &mut s.flannel_cni_plugin),
    ] {
        if let Some(v) = t.nonempty(d, key) {
            match checks::image_tag(v.get_ref()) {
                Ok(()) => *field = v.into_inner(),
                Err((msg, hint)) => d.error(v.span(), format!("{key}: {msg}"), hint),
            }
        }
    }
    t.finish(d);
    s
}

pub(super) fn read_load_balancer(
    mut t: TableReader<'_, '_>,
    d: &mut Diags,
) -> LoadBalancerSettings {
    let mut s = LoadBalancerSettings::default();
    if let Some(id) = t.integer(
        d,
        "virtual_router_id",
        1,
        255,
        "a VRRP router id is 1-255, unique among the VRRP groups of the hosts' network",
    ) {
        s.virtual_router_id = id.into_inner() as u8;
    }
    t.finish(d);
    s
}

fn security_special(key: &str) -> Option<String> {
    match key {
        "psa_exemptions" | "exempt_namespaces" => {
            Some("write psa_exempt_namespaces = [\"kube-system\"]".into())
        }
        "protect_kernel_defaults" => Some("write kubelet_protect_kernel_defaults = true".into()),
        _ => None,
    }
}

pub(super) fn read_security(mut t: TableReader<'_, '_>, d: &mut Diags) -> SecuritySettings {
    t = t.with_special(security_special);
    let mut s = SecuritySettings::default();

    if let Some(p) = t.string(d, "encryption_provider") {
        match p.get_ref().as_str() {
            "aescbc" => s.encryption_provider = EncryptionProvider::Aescbc,
            "secretbox" => s.encryption_provider = EncryptionProvider::Secretbox,
            other => {
                // The providers left out are each wrong for an unattended install, say why.
                let why = match other {
                    "identity" => "`identity` stores Secrets unencrypted; ",
                    "aesgcm" => "`aesgcm` needs a key rotation every 200k writes; ",
                    "kms" => "`kms` needs an external KMS plugin; ",
                    _ => "",
                };
                d.error(
                    p.span(),
                    format!("unknown encryption_provider `{other}`"),
                    format!(
                        "{why}{}",
                        checks::one_of_hint(other, &["aescbc", "secretbox"])
                    ),
                );
            }
        }
    }

    for (key, field, cis, unit) in [
        ("audit_log_max_age", &mut s.audit_log_max_age, 30, "days"),
        (
            "audit_log_max_backup",
            &mut s.audit_log_max_backup,
            10,
            "files",
        ),
        ("audit_log_max_size", &mut s.audit_log_max_size, 100, "MB"),
    ] {
        let Some(n) = t.integer(d, key, 1, i64::from(u32::MAX), "a positive whole number") else {
            continue;
        };
        if *n.get_ref() < i64::from(cis) {
            d.warn(
                n.span(),
                format!(
                    "`{key}` = {} is below the CIS benchmark minimum of {cis} {unit}",
                    n.get_ref()
                ),
                format!("auditors expect {key} = {cis} or more"),
            );
        }
        *field = *n.get_ref() as u32;
    }

    for (key, field) in [
        ("psa_enforce", &mut s.psa_enforce),
        ("psa_audit", &mut s.psa_audit),
        ("psa_warn", &mut s.psa_warn),
    ] {
        let v = t.string(d, key);
        if let Some(level) = choice(d, key, v, &PSA_LEVELS) {
            *field = level.into_inner();
        }
    }

    if let Some(list) = t.string_list(d, "psa_exempt_namespaces") {
        let span = list.span();
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut names = Vec::new();
        for ns in list.into_inner() {
            if !checks::dns_label(ns.get_ref()) {
                d.error(
                    ns.span(),
                    format!("`{}` is not a namespace name", ns.get_ref()),
                    format!(
                        "namespaces are DNS labels: lowercase letters, digits and '-', e.g. \"{}\"",
                        checks::suggest_label(ns.get_ref())
                    ),
                );
            } else if let Some(first) = seen.get(ns.get_ref()) {
                d.error(
                    ns.span(),
                    format!("namespace `{}` is listed twice", ns.get_ref()),
                    format!(
                        "the API server rejects duplicate exemptions (first at {})",
                        d.line_of(first)
                    ),
                );
            } else {
                seen.insert(ns.get_ref().clone(), ns.span());
                names.push(ns.into_inner());
            }
        }
        s.psa_exempt_namespaces = names;
        // The CNI (calico-node) and kube-proxy run privileged in kube-system; a list that replaces
        // the default without it leaves the cluster without a pod network.
        if s.psa_enforce != PsaLevel::Privileged
            && !s.psa_exempt_namespaces.iter().any(|n| n == "kube-system")
        {
            d.warn(
                span,
                format!(
                    "kube-system is not exempt: psa_enforce = \"{}\" rejects the privileged CNI and kube-proxy pods there",
                    s.psa_enforce.as_str()
                ),
                "add \"kube-system\" to psa_exempt_namespaces (the list replaces the default)",
            );
        }
    }

    if let Some(b) = t.boolean(d, "kubelet_protect_kernel_defaults") {
        if !*b.get_ref() {
            d.warn(
                b.span(),
                "kubelet_protect_kernel_defaults = false departs from the CIS benchmark",
                "keep it true: otp-provision sets the kernel tunables the kubelet checks",
            );
        }
        s.kubelet_protect_kernel_defaults = b.into_inner();
    }

    // Linux caps pid_max at 2^22, so a larger limit could never bind.
    if let Some(n) = t.integer(
        d,
        "pod_pids_limit",
        -1,
        1 << 22,
        "a positive number of processes per pod (at most 4194304, Linux's pid_max), or -1 for no limit",
    ) {
        match *n.get_ref() {
            0 => d.error(
                n.span(),
                "`pod_pids_limit` = 0 would stop every pod from starting a process",
                "give a positive limit such as 4096, or -1 for no limit",
            ),
            -1 => {
                d.warn(
                    n.span(),
                    "pod_pids_limit = -1 leaves pods without a PID limit (CIS 4.2.13)",
                    "set a limit such as 4096 so one pod cannot exhaust the node's PIDs",
                );
                s.pod_pids_limit = -1;
            }
            v => s.pod_pids_limit = v,
        }
    }
    t.finish(d);
    s
}

fn oidc_special(key: &str) -> Option<String> {
    match key {
        "issuer" | "url" | "issuer_uri" => {
            Some("write issuer_url = \"https://idp.bank.example/realms/k8s\"".into())
        }
        "client_id" | "audience" | "client_ids" => {
            Some("the client id goes in audiences = [\"...\"] (a list)".into())
        }
        "client_secret" => Some(
            "the API server needs no client secret; only the users' login tool does, keep it out of the inventory"
                .into(),
        ),
        "ca" | "ca_cert" | "certificate_authority" | "ca_pem" => {
            Some("write ca_file = \"path/to/idp-ca.pem\"; the PEM is read from the file".into())
        }
        "rules" | "claim_validation_rules" => Some(
            "write [[cluster.oidc.claim_rules]] sections with expression and message".into(),
        ),
        _ => None,
    }
}

/// A claim prefix starting `system:` would turn IdP users into Kubernetes system identities
/// (and the rendered `userValidationRules` would then reject every token).
fn check_prefix(d: &mut Diags, key: &str, p: &Spanned<String>) -> bool {
    if p.get_ref().starts_with("system:") {
        d.error(
            p.span(),
            format!("{key} `{}` starts with the reserved `system:`", p.get_ref()),
            "use a prefix of your own such as \"oidc:\"; the API server reserves system: for itself",
        );
        return false;
    }
    true
}

fn read_cel(
    t: &mut TableReader<'_, '_>,
    d: &mut Diags,
    key: &'static str,
) -> Option<Spanned<String>> {
    let e = t.nonempty(d, key)?;
    match checks::cel_claims_expression(e.get_ref()) {
        Ok(()) => Some(e),
        Err((msg, hint)) => {
            d.error(e.span(), format!("{key}: {msg}"), hint);
            None
        }
    }
}

/// `None` when the table is unusable (every reason already reported as an error).
pub(super) fn read_oidc(
    mut t: TableReader<'_, '_>,
    d: &mut Diags,
    env: &Env,
) -> Option<OidcSettings> {
    t = t.with_special(oidc_special);
    let before = d.errors.len();

    let issuer = t.nonempty(d, "issuer_url");
    if issuer.is_none() && t.key_span("issuer_url").is_none() {
        required(
            d,
            &t,
            "issuer_url",
            "\"https://idp.bank.example/realms/k8s\"",
        );
    }
    let issuer = issuer.filter(|i| match checks::issuer_url(i.get_ref()) {
        Ok(()) => true,
        Err((msg, hint)) => {
            d.error(i.span(), msg, hint);
            false
        }
    });

    let mut audiences = Vec::new();
    match t.string_list(d, "audiences") {
        None if t.key_span("audiences").is_none() => {
            required(d, &t, "audiences", "[\"kubernetes\"] (the OIDC client id)");
        }
        None => {}
        Some(list) if list.get_ref().is_empty() => d.error(
            list.span(),
            "`audiences` in [cluster.oidc] is empty",
            "list the OIDC client id the tokens are issued for, e.g. audiences = [\"kubernetes\"]",
        ),
        Some(list) => {
            let mut seen: HashMap<String, Span> = HashMap::new();
            for a in list.into_inner() {
                if a.get_ref().trim().is_empty() {
                    d.error(a.span(), "an audience is empty", "give the OIDC client id");
                } else if let Some(first) = seen.get(a.get_ref()) {
                    d.error(
                        a.span(),
                        format!("audience `{}` is listed twice", a.get_ref()),
                        format!(
                            "the API server rejects duplicate audiences (first at {})",
                            d.line_of(first)
                        ),
                    );
                } else {
                    seen.insert(a.get_ref().clone(), a.span());
                    audiences.push(a.into_inner());
                }
            }
        }
    }

    let certificate_authority = t.nonempty(d, "ca_file").and_then(|p| {
        let path = resolve_path(env, d, &p)?;
        let hint =
            "point at the PEM file of the CA that signs the identity provider's TLS certificate";
        match std::fs::read_to_string(&path) {
            Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => Some(pem),
            Ok(_) => {
                d.error(
                    p.span(),
                    format!("ca_file `{}` holds no PEM certificate", path.display()),
                    hint,
                );
                None
            }
            Err(e) => {
                d.error(
                    p.span(),
                    format!("cannot read ca_file `{}`: {e}", path.display()),
                    hint,
                );
                None
            }
        }
    });

    let mut s = OidcSettings::new("", "");
    s.audiences = audiences;
    s.certificate_authority = certificate_authority;
    if let Some(c) = t.nonempty(d, "username_claim") {
        s.username_claim = c.into_inner();
    }
    // Prefixes may be empty (no prefix), so they are plain strings.
    if let Some(p) = t.string(d, "username_prefix")
        && check_prefix(d, "username_prefix", &p)
    {
        s.username_prefix = p.into_inner();
    }
    // An empty groups_claim means: map no groups from the token.
    if let Some(g) = t.string(d, "groups_claim") {
        s.groups_claim = Some(g.into_inner()).filter(|g| !g.trim().is_empty());
    }
    if let Some(p) = t.string(d, "groups_prefix")
        && check_prefix(d, "groups_prefix", &p)
    {
        s.groups_prefix = p.into_inner();
    }
    if let Some(b) = t.boolean(d, "require_mfa") {
        s.require_mfa = b.into_inner();
    }
    if let Some(e) = read_cel(&mut t, d, "mfa_expression") {
        if !s.require_mfa {
            d.warn(
                e.span(),
                "mfa_expression is unused with require_mfa = false",
                "set require_mfa = true, or remove mfa_expression",
            );
        }
        s.mfa_expression = e.into_inner();
    }

    for (i, mut r) in t
        .array_of_tables(d, "claim_rules")
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        r.path = format!("[[cluster.oidc.claim_rules]] #{}", i + 1);
        let expression = read_cel(&mut r, d, "expression");
        if expression.is_none() && r.key_span("expression").is_none() {
            required(d, &r, "expression", "\"claims.email_verified == true\"");
        }
        let message = r.nonempty(d, "message");
        if message.is_none() && r.key_span("message").is_none() {
            required(d, &r, "message", "\"the e-mail address must be verified\"");
        }
        r.finish(d);
        if let (Some(expression), Some(message)) = (expression, message) {
            s.claim_rules.push(OidcClaimRule {
                expression: expression.into_inner(),
                message: message.into_inner(),
            });
        }
    }
    t.finish(d);

    s.issuer_url = issuer?.into_inner();
    (d.errors.len() == before).then_some(s)
}
