//! Pure parsers for the facts script output. Each section parser takes the section's lines and
//! returns a value or a reason; [`parse`] adds the host name and section to every error.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Address, Facts, FactsError, FileFact, KubeFacts, NetFacts, OsRelease, Package, Service,
};

/// Sections the script always prints; a missing one means the output was cut short.
const REQUIRED: &[&str] = &[
    "os-release",
    "uname",
    "nproc",
    "meminfo",
    "swaps",
    "fstab-swap",
    "modules",
    "sysctl",
    "dpkg",
    "rpm",
    "services",
    "files",
    "kube-files",
    "kube-manifests",
    "kube-ca",
    "kube-servers",
    "ident",
    "versions",
    "route",
    "addr",
    "listen",
    "probes",
    "end",
];

/// Split `@@section NAME` blocks. Text before the first marker is ignored (login banners,
/// motd from a misconfigured shell profile).
pub fn sections(text: &str) -> BTreeMap<&str, Vec<&str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut current: Option<&str> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("@@section ") {
            let name = name.trim();
            out.entry(name).or_default();
            current = Some(name);
        } else if let Some(name) = current {
            out.entry(name).or_default().push(line);
        }
    }
    out
}

/// Parse the whole script output of `host`.
pub fn parse(host: &str, text: &str) -> Result<Facts, FactsError> {
    let secs = sections(text);
    let err = |section: &str, reason: String| FactsError::Parse {
        host: host.to_string(),
        reason: format!("section {section}: {reason}"),
    };
    for name in REQUIRED {
        if !secs.contains_key(name) {
            return Err(FactsError::Parse {
                host: host.to_string(),
                reason: format!("section {name} missing (output cut short?)"),
            });
        }
    }
    let s = |name: &str| secs[name].as_slice();

    let os = os_release(s("os-release")).map_err(|e| err("os-release", e))?;
    let (hostname, kernel, arch) = uname(s("uname")).map_err(|e| err("uname", e))?;
    let cpus = nproc(s("nproc")).map_err(|e| err("nproc", e))?;
    let mem_total_kib = meminfo(s("meminfo")).map_err(|e| err("meminfo", e))?;
    let swaps = swaps(s("swaps"));
    let (sysctls, sysctls_missing) = sysctl(s("sysctl")).map_err(|e| err("sysctl", e))?;
    let mut packages = dpkg(s("dpkg")).map_err(|e| err("dpkg", e))?;
    packages.extend(rpm(s("rpm")).map_err(|e| err("rpm", e))?);
    let services = services(s("services")).map_err(|e| err("services", e))?;
    let (files, files_missing) = files(s("files")).map_err(|e| err("files", e))?;
    let mut kube = kube_files(s("kube-files"));
    kube.manifests = nonempty(s("kube-manifests"));
    kube_ca(s("kube-ca"), &mut kube).map_err(|e| err("kube-ca", e))?;
    kube_servers(s("kube-servers"), &mut kube);
    let (machine_id, product_uuid) = ident(s("ident"));
    versions(s("versions"), &mut kube);
    let net = net(s("route"), s("addr"));
    let listening_tcp = listen(s("listen"));
    let probes = probes(s("probes")).map_err(|e| err("probes", e))?;
    // Optional so output of an older script (no reports) still parses.
    let reports = match secs.get("reports") {
        Some(lines) => reports(lines).map_err(|e| err("reports", e))?,
        None => BTreeMap::new(),
    };

    Ok(Facts {
        hostname,
        machine_id,
        product_uuid,
        os,
        kernel,
        arch,
        cpus,
        mem_total_kib,
        swap_active: !swaps.is_empty(),
        modules_loadable: !s("modules").contains(&"!no-loadable-modules"),
        modules: nonempty(s("modules"))
            .into_iter()
            .filter(|m| !m.starts_with('!'))
            .collect(),
        sysctls,
        packages,
        services,
        files,
        swaps,
        fstab_swap: nonempty(s("fstab-swap")).into_iter().collect(),
        sysctls_missing,
        files_missing,
        kube,
        net,
        listening_tcp,
        probes,
        reports,
        waited_for_lock: false,
    })
}

fn nonempty(lines: &[&str]) -> BTreeSet<String> {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// os-release(5): `KEY=value`, value optionally in double or single quotes, with `\` escapes
/// inside double quotes.
pub fn os_release(lines: &[&str]) -> Result<OsRelease, String> {
    let mut map = BTreeMap::new();
    for (n, line) in lines.iter().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=value, got {line:?}", n + 1));
        };
        map.insert(k.trim().to_string(), unquote(v.trim()));
    }
    let get = |k: &str| map.get(k).cloned().unwrap_or_default();
    let id = get("ID");
    if id.is_empty() {
        return Err("no ID= line (is /etc/os-release missing?)".into());
    }
    let codename = match get("VERSION_CODENAME") {
        c if !c.is_empty() => c,
        _ => get("UBUNTU_CODENAME"),
    };
    Ok(OsRelease {
        id,
        id_like: get("ID_LIKE"),
        version_id: get("VERSION_ID"),
        codename,
        pretty_name: get("PRETTY_NAME"),
    })
}

fn unquote(v: &str) -> String {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let inner = &v[1..v.len() - 1];
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        out
    } else if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

pub fn uname(lines: &[&str]) -> Result<(String, String, String), String> {
    let l: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    match l.as_slice() {
        [n, r, m, ..] if !n.is_empty() && !r.is_empty() && !m.is_empty() => {
            Ok((n.to_string(), r.to_string(), m.to_string()))
        }
        _ => Err(format!(
            "expected 3 lines (uname -n, -r, -m), got {:?}",
            lines
        )),
    }
}

pub fn nproc(lines: &[&str]) -> Result<u32, String> {
    let first = lines.iter().map(|l| l.trim()).find(|l| !l.is_empty());
    first
        .and_then(|l| l.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("expected a CPU count, got {first:?}"))
}

/// `MemTotal:       16318412 kB`
pub fn meminfo(lines: &[&str]) -> Result<u64, String> {
    for line in lines {
        if let Some(rest) = line.strip_prefix("MemTotal:") {
            let mut it = rest.split_whitespace();
            let n = it.next().and_then(|n| n.parse::<u64>().ok());
            return match (n, it.next()) {
                (Some(n), Some("kB")) => Ok(n),
                _ => Err(format!("cannot read {line:?}")),
            };
        }
    }
    Err("no MemTotal line".into())
}

/// /proc/swaps: a header line, then one line per active swap area.
pub fn swaps(lines: &[&str]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Filename"))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

type SysctlFacts = (BTreeMap<String, String>, BTreeSet<String>);

/// `key=value` (whitespace inside values collapsed to one space) or `!key` for a missing key.
pub fn sysctl(lines: &[&str]) -> Result<SysctlFacts, String> {
    let mut values = BTreeMap::new();
    let mut missing = BTreeSet::new();
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        if let Some(k) = line.strip_prefix('!') {
            missing.insert(k.trim().to_string());
        } else if let Some((k, v)) = line.split_once('=') {
            values.insert(
                k.trim().to_string(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            );
        } else {
            return Err(format!("expected key=value, got {line:?}"));
        }
    }
    Ok((values, missing))
}

/// `dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n'`. Status-Abbrev is
/// desired/status/error: `ii ` installed, `hi ` installed and held, `rc ` removed with config
/// left (not installed), `un ` unknown.
pub fn dpkg(lines: &[&str]) -> Result<BTreeMap<String, Package>, String> {
    let mut out = BTreeMap::new();
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 3 || f[0].is_empty() {
            return Err(format!(
                "expected package<TAB>version<TAB>status, got {line:?}"
            ));
        }
        let status: Vec<char> = f[2].chars().collect();
        if status.len() < 2 {
            return Err(format!("bad status {:?} for {}", f[2], f[0]));
        }
        if status[1] != 'i' {
            continue;
        }
        out.insert(
            f[0].to_string(),
            Package {
                version: f[1].to_string(),
                held: status[0] == 'h',
            },
        );
    }
    Ok(out)
}

/// `rpm -q --qf '%{NAME}\t%{VERSION}-%{RELEASE}\n'`. RPM holds live in repo `exclude=` lines
/// or versionlock, not in the package database, so `held` stays false here.
pub fn rpm(lines: &[&str]) -> Result<BTreeMap<String, Package>, String> {
    let mut out = BTreeMap::new();
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let Some((name, version)) = line.split_once('\t') else {
            return Err(format!("expected name<TAB>version-release, got {line:?}"));
        };
        out.insert(
            name.to_string(),
            Package {
                version: version.to_string(),
                held: false,
            },
        );
    }
    Ok(out)
}

/// `@@unit NAME` followed by `systemctl show -p LoadState -p ActiveState -p UnitFileState`.
pub fn services(lines: &[&str]) -> Result<BTreeMap<String, Service>, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, BTreeMap<String, String>)> = None;
    let finish = |cur: Option<(String, BTreeMap<String, String>)>,
                  out: &mut BTreeMap<String, Service>| {
        if let Some((name, props)) = cur {
            let get = |k: &str| props.get(k).cloned().unwrap_or_default();
            let load = get("LoadState");
            let enabled = if load == "not-found" || load.is_empty() {
                "not-found".to_string()
            } else {
                match get("UnitFileState") {
                    s if s.is_empty() => "unknown".to_string(),
                    s => s,
                }
            };
            let active = match get("ActiveState") {
                s if s.is_empty() => "unknown".to_string(),
                s => s,
            };
            // `@1732690000` with --timestamp=unix; empty or `n/a` when never active.
            let active_since = get("ActiveEnterTimestamp")
                .strip_prefix('@')
                .and_then(|t| t.parse::<i64>().ok())
                .filter(|_| active == "active");
            out.insert(
                name,
                Service {
                    active,
                    enabled,
                    active_since,
                },
            );
        }
    };
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        if let Some(name) = line.strip_prefix("@@unit ") {
            finish(current.take(), &mut out);
            current = Some((name.trim().to_string(), BTreeMap::new()));
        } else if let Some((k, v)) = line.split_once('=') {
            let Some((_, props)) = current.as_mut() else {
                return Err(format!("property {line:?} before any unit"));
            };
            props.insert(k.to_string(), v.trim().to_string());
        } else {
            return Err(format!("expected Property=value, got {line:?}"));
        }
    }
    finish(current, &mut out);
    Ok(out)
}

type FileFacts = (BTreeMap<String, FileFact>, BTreeSet<String>);

/// `path<TAB>sha256<TAB>mode<TAB>user:group<TAB>mtime` or `path<TAB>-` for a missing file.
pub fn files(lines: &[&str]) -> Result<FileFacts, String> {
    let mut present = BTreeMap::new();
    let mut missing = BTreeSet::new();
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            [path, "-"] => {
                missing.insert(path.to_string());
            }
            [path, sha, mode, owner, mtime]
                if sha.len() == 64
                    && sha.bytes().all(|b| b.is_ascii_hexdigit())
                    && !mode.is_empty()
                    && mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) =>
            {
                present.insert(
                    path.to_string(),
                    FileFact {
                        sha256: sha.to_string(),
                        mode: mode.to_string(),
                        owner: owner.to_string(),
                        mtime: mtime
                            .parse()
                            .map_err(|_| format!("bad mtime {mtime:?} for {path}"))?,
                    },
                );
            }
            _ => {
                return Err(format!(
                    "expected path<TAB>sha256<TAB>mode<TAB>owner<TAB>mtime, got {line:?}"
                ));
            }
        }
    }
    Ok((present, missing))
}

pub fn kube_files(lines: &[&str]) -> KubeFacts {
    let present = nonempty(lines);
    let has = |p: &str| present.contains(p);
    KubeFacts {
        admin_conf: has("/etc/kubernetes/admin.conf"),
        super_admin_conf: has("/etc/kubernetes/super-admin.conf"),
        kubelet_conf: has("/etc/kubernetes/kubelet.conf"),
        bootstrap_kubelet_conf: has("/etc/kubernetes/bootstrap-kubelet.conf"),
        controller_manager_conf: has("/etc/kubernetes/controller-manager.conf"),
        scheduler_conf: has("/etc/kubernetes/scheduler.conf"),
        ca_key: has("/etc/kubernetes/pki/ca.key"),
        sa_key: has("/etc/kubernetes/pki/sa.key"),
        etcd_ca_key: has("/etc/kubernetes/pki/etcd/ca.key"),
        kubelet_config: has("/var/lib/kubelet/config.yaml"),
        kubeadm_flags_env: has("/var/lib/kubelet/kubeadm-flags.env"),
        kubelet_client_cert: has("/var/lib/kubelet/pki/kubelet-client-current.pem"),
        etcd_member: has("/var/lib/etcd/member"),
        ..KubeFacts::default()
    }
}

/// sha256 of empty input: what the pipeline prints when openssl could not read the CA.
const SHA256_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn kube_ca(lines: &[&str], kube: &mut KubeFacts) -> Result<(), String> {
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("expected key=sha256, got {line:?}"))?;
        let v = v.trim();
        let ok = v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) && v != SHA256_EMPTY;
        let v = ok.then(|| v.to_string());
        match k {
            "sha256" => kube.ca_crt_sha256 = v,
            "pubkey-sha256" => kube.ca_pubkey_sha256 = v,
            _ => return Err(format!("unknown key {k:?}")),
        }
    }
    Ok(())
}

/// `/etc/kubernetes/kubelet.conf<TAB>https://10.0.0.100:6443`
fn kube_servers(lines: &[&str], kube: &mut KubeFacts) {
    for line in lines {
        let Some((file, server)) = line.split_once('\t') else {
            continue;
        };
        let server = Some(server.trim().to_string()).filter(|s| !s.is_empty());
        match file {
            "/etc/kubernetes/admin.conf" => kube.admin_conf_server = server,
            "/etc/kubernetes/kubelet.conf" => kube.kubelet_conf_server = server,
            _ => {}
        }
    }
}

fn ident(lines: &[&str]) -> (String, String) {
    let mut machine_id = String::new();
    let mut product_uuid = String::new();
    for line in lines {
        if let Some(v) = line.strip_prefix("machine-id=") {
            machine_id = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("product-uuid=") {
            product_uuid = v.trim().to_lowercase();
        }
    }
    (machine_id, product_uuid)
}

/// `kubeadm=v1.33.4`, `kubelet=Kubernetes v1.33.4`,
/// `containerd=containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1`.
fn versions(lines: &[&str], kube: &mut KubeFacts) {
    for line in lines {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let some = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
        match k {
            "kubeadm" => kube.kubeadm_version = some(Some(v)),
            "kubelet" => kube.kubelet_version = some(v.split_whitespace().last()),
            "containerd" => kube.containerd_version = some(v.split_whitespace().nth(2)),
            _ => {}
        }
    }
}

/// `ip -o -4 route show default` and `ip -o addr show`.
pub fn net(route: &[&str], addr: &[&str]) -> NetFacts {
    let mut n = NetFacts::default();
    if let Some(line) = route.iter().find(|l| l.starts_with("default")) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let after = |key: &str| {
            w.iter()
                .position(|x| *x == key)
                .and_then(|i| w.get(i + 1))
                .map(|s| s.to_string())
        };
        n.default_interface = after("dev");
        n.default_gateway = after("via");
    }
    for line in addr {
        let w: Vec<&str> = line.split_whitespace().collect();
        // `2: eth0    inet 10.0.0.11/24 brd ... scope global eth0\ valid_lft ...`
        if w.len() < 4 || !matches!(w[2], "inet" | "inet6") {
            continue;
        }
        let iface = w[1].split('@').next().unwrap_or(w[1]);
        if iface == "lo" {
            continue;
        }
        n.addresses.push(Address {
            interface: iface.to_string(),
            cidr: w[3].to_string(),
        });
    }
    n
}

/// /proc/net/tcp{,6}: `sl local_address rem_address st ...`; state 0A is LISTEN.
pub fn listen(lines: &[&str]) -> BTreeSet<u16> {
    lines
        .iter()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() < 4 || w[3] != "0A" {
                return None;
            }
            let port = w[1].rsplit_once(':')?.1;
            u16::from_str_radix(port, 16).ok()
        })
        .collect()
}

pub fn probes(lines: &[&str]) -> Result<BTreeMap<String, i32>, String> {
    let mut out = BTreeMap::new();
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let (id, code) = line
            .rsplit_once('\t')
            .ok_or_else(|| format!("expected id<TAB>exit code, got {line:?}"))?;
        let code = code
            .trim()
            .parse::<i32>()
            .map_err(|_| format!("bad exit code in {line:?}"))?;
        out.insert(id.to_string(), code);
    }
    Ok(out)
}

/// `name<TAB>base64(stdout)` lines.
pub fn reports(lines: &[&str]) -> Result<BTreeMap<String, String>, String> {
    use base64::Engine;
    let mut out = BTreeMap::new();
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let (name, b64) = line
            .split_once('\t')
            .ok_or_else(|| format!("expected name<TAB>base64, got {line:?}"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("report {name}: bad base64: {e}"))?;
        out.insert(
            name.to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        );
    }
    Ok(out)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
