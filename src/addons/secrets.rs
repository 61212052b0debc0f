//! Secrets an addon needs (OpenSearch PKI and passwords, metrics-server serving certificate).
//!
//! Their values never pass through otp-provision: the apply script generates them on the control
//! plane with openssl when the Secret is absent (a re-run keeps existing values), inside a
//! `umask 077` temp dir removed on exit, and hands them to kubectl as files — never in argv, never
//! printed. `render` shows placeholder Secrets instead.

use serde::Serialize;

use super::{ADDON_LABEL, MANAGED_BY, MANAGED_BY_LABEL};

/// How one key of a generated Secret gets its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SecretValue {
    /// A fixed, non-secret value (a user name).
    Text { value: String },
    /// 32 random alphanumerics; every key with the same `group` gets the same value (copies of
    /// one credential in several namespaces).
    Password { group: String },
    /// PEM certificate of the self-signed CA `ca` (10 years).
    CaCert { ca: String },
    /// PKCS#8 PEM key of CA `ca` (kept so certificates can be re-issued).
    CaKey { ca: String },
    /// PEM certificate `profile` signed by CA `ca` (825 days, serverAuth + clientAuth).
    Cert {
        ca: String,
        profile: String,
        subject: String,
        dns_names: Vec<String>,
    },
    /// PKCS#8 PEM key of certificate `profile`.
    CertKey { profile: String },
}

/// A Secret created on the control plane when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedSecret {
    pub namespace: String,
    pub name: String,
    pub keys: Vec<(String, SecretValue)>,
}

impl GeneratedSecret {
    /// What `render` prints for it: the Secret with placeholders instead of values.
    pub fn placeholder(&self, addon: &str) -> serde_json::Value {
        let data: serde_json::Map<String, serde_json::Value> = self
            .keys
            .iter()
            .map(|(k, v)| {
                let shown = match v {
                    SecretValue::Text { value } => value.clone(),
                    SecretValue::Password { group } => {
                        format!("<generated at apply time: password {group}>")
                    }
                    SecretValue::CaCert { ca } => {
                        format!("<generated at apply time: CA {ca} certificate>")
                    }
                    SecretValue::CaKey { ca } => format!("<generated at apply time: CA {ca} key>"),
                    SecretValue::Cert { profile, .. } => {
                        format!("<generated at apply time: certificate {profile}>")
                    }
                    SecretValue::CertKey { profile } => {
                        format!("<generated at apply time: key of certificate {profile}>")
                    }
                };
                (k.clone(), serde_json::Value::String(shown))
            })
            .collect();
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": { MANAGED_BY_LABEL: MANAGED_BY, ADDON_LABEL: addon },
            },
            "type": "Opaque",
            "stringData": data,
        })
    }
}

/// Single-quoted shell word.
pub(crate) fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// File-name-safe form of a group/profile name.
fn fname(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Shell fragment (run with `set -eu`, `KUBECONFIG` exported) creating every absent secret of
/// `addon`. Values come from an existing Secret holding the same material first, so copies stay
/// identical and existing credentials survive re-runs.
pub(crate) fn ensure_script(addon: &str, secrets: &[GeneratedSecret]) -> String {
    if secrets.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    s.push_str(
        "sec=$(mktemp -d)\n\
         trap 'rm -rf \"$sec\"' EXIT\n\
         umask 077\n\
         # Reads key $3 of Secret $1/$2 into file $4; fails when absent or empty.\n\
         from_secret() { kubectl -n \"$1\" get secret \"$2\" -o \"jsonpath={.data.$3}\" 2>/dev/null | base64 -d >\"$4\" && [ -s \"$4\" ]; }\n",
    );
    // Holders of each piece of material, so it can be read back instead of regenerated.
    let holders = |pred: &dyn Fn(&SecretValue) -> bool| -> Vec<(String, String, String)> {
        secrets
            .iter()
            .flat_map(|g| {
                g.keys
                    .iter()
                    .filter(|(_, v)| pred(v))
                    .map(|(k, _)| (g.namespace.clone(), g.name.clone(), k.clone()))
            })
            .collect()
    };
    let read_back = |hs: &[(String, String, String)], file: &str| -> String {
        let tries: String = hs
            .iter()
            .map(|(ns, n, k)| {
                format!(
                    "from_secret {} {} {} \"{file}\" || ",
                    q(ns),
                    q(n),
                    q(&k.replace('.', "\\."))
                )
            })
            .collect();
        format!("{{ {tries}false; }}")
    };
    let mut groups = Vec::new();
    let mut cas = Vec::new();
    let mut profiles: Vec<(String, String, String, Vec<String>)> = Vec::new();
    for g in secrets {
        for (_, v) in &g.keys {
            match v {
                SecretValue::Password { group } if !groups.contains(group) => {
                    groups.push(group.clone())
                }
                SecretValue::CaCert { ca } | SecretValue::CaKey { ca } if !cas.contains(ca) => {
                    cas.push(ca.clone())
                }
                SecretValue::Cert {
                    ca,
                    profile,
                    subject,
                    dns_names,
                } if !profiles.iter().any(|p| &p.0 == profile) => {
                    if !cas.contains(ca) {
                        cas.push(ca.clone());
                    }
                    profiles.push((
                        profile.clone(),
                        ca.clone(),
                        subject.clone(),
                        dns_names.clone(),
                    ))
                }
                _ => {}
            }
        }
    }
    for group in &groups {
        let f = format!("$sec/pw-{}", fname(group));
        let hs = holders(&|v| matches!(v, SecretValue::Password { group: g } if g == group));
        s.push_str(&format!(
            "pw_{fg}() {{ [ -s \"{f}\" ] || {rb} || {{ openssl rand -base64 48 | tr -dc 'A-Za-z0-9' | head -c 32 >\"{f}\"; }}; }}\n",
            fg = fname(group),
            rb = read_back(&hs, &f),
        ));
    }
    for ca in &cas {
        let crt = format!("$sec/ca-{}.crt", fname(ca));
        let key = format!("$sec/ca-{}.key", fname(ca));
        let hc = holders(&|v| matches!(v, SecretValue::CaCert { ca: c } if c == ca));
        let hk = holders(&|v| matches!(v, SecretValue::CaKey { ca: c } if c == ca));
        s.push_str(&format!(
            "ca_{fc}() {{\n  [ -s \"{crt}\" ] && [ -s \"{key}\" ] && return 0\n  if {rc}; then {rk} || {{ echo \"CA {ca}: certificate found but no key; delete its Secrets to re-issue\" >&2; exit 1; }}\n  else\n    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out \"{key}\" 2>/dev/null\n    openssl req -x509 -new -key \"{key}\" -sha256 -days 3650 -subj {subj} -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' -out \"{crt}\"\n  fi\n}}\n",
            fc = fname(ca),
            rc = read_back(&hc, &crt),
            rk = read_back(&hk, &key),
            subj = q(&format!("/O=otp-provision/CN=otp-provision {ca} CA")),
        ));
    }
    for (profile, ca, subject, dns) in &profiles {
        let fp = fname(profile);
        let crt = format!("$sec/cert-{fp}.crt");
        let key = format!("$sec/cert-{fp}.key");
        let hc = holders(&|v| matches!(v, SecretValue::Cert { profile: p, .. } if p == profile));
        let hk = holders(&|v| matches!(v, SecretValue::CertKey { profile: p } if p == profile));
        let san = if dns.is_empty() {
            String::new()
        } else {
            format!(
                "subjectAltName={}\n",
                dns.iter()
                    .map(|d| format!("DNS:{d}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        s.push_str(&format!(
            "cert_{fp}() {{\n  [ -s \"{crt}\" ] && [ -s \"{key}\" ] && return 0\n  if {rc} && {rk}; then return 0; fi\n  ca_{fc}\n  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out \"{key}\" 2>/dev/null\n  openssl req -new -key \"{key}\" -subj {subj} -out \"$sec/cert-{fp}.csr\"\n  printf '%s' {ext} >\"$sec/cert-{fp}.ext\"\n  openssl x509 -req -in \"$sec/cert-{fp}.csr\" -CA \"$sec/ca-{fc}.crt\" -CAkey \"$sec/ca-{fc}.key\" -CAcreateserial -sha256 -days 825 -extfile \"$sec/cert-{fp}.ext\" -out \"{crt}\" 2>/dev/null\n}}\n",
            fc = fname(ca),
            rc = read_back(&hc, &crt),
            rk = read_back(&hk, &key),
            subj = q(subject),
            ext = q(&format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n{san}"
            )),
        ));
    }
    for g in secrets {
        let mut prep = Vec::new();
        let mut from = Vec::new();
        for (k, v) in &g.keys {
            let (p, file) = match v {
                SecretValue::Text { value } => {
                    let f = format!("$sec/text-{}-{}", fname(&g.name), fname(k));
                    (format!("printf '%s' {} >\"{f}\"", q(value)), f)
                }
                SecretValue::Password { group } => (
                    format!("pw_{}", fname(group)),
                    format!("$sec/pw-{}", fname(group)),
                ),
                SecretValue::CaCert { ca } => (
                    format!("ca_{}", fname(ca)),
                    format!("$sec/ca-{}.crt", fname(ca)),
                ),
                SecretValue::CaKey { ca } => (
                    format!("ca_{}", fname(ca)),
                    format!("$sec/ca-{}.key", fname(ca)),
                ),
                SecretValue::Cert { profile, .. } => (
                    format!("cert_{}", fname(profile)),
                    format!("$sec/cert-{}.crt", fname(profile)),
                ),
                SecretValue::CertKey { profile } => (
                    format!("cert_{}", fname(profile)),
                    format!("$sec/cert-{}.key", fname(profile)),
                ),
            };
            prep.push(p);
            from.push(format!("--from-file={}=\"{file}\"", q(k)));
        }
        s.push_str(&format!(
            "if ! kubectl -n {ns} get secret {n} >/dev/null 2>&1; then\n  {prep}\n  kubectl -n {ns} create secret generic {n} {from} --dry-run=client -o json \\\n    | kubectl label --local -f - -o json {ml}={mv} {al}={av} \\\n    | kubectl create -f - >/dev/null\n  echo \"created secret {ns_raw}/{n_raw}\"\nfi\n",
            ns = q(&g.namespace),
            n = q(&g.name),
            ns_raw = g.namespace,
            n_raw = g.name,
            prep = prep.join("; "),
            from = from.join(" "),
            ml = MANAGED_BY_LABEL,
            mv = MANAGED_BY,
            al = ADDON_LABEL,
            av = addon,
        ));
    }
    s
}
