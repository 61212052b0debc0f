//! Per-kind planners: desired state + facts -> steps with `change`, `reason` and the action.
//! Pure functions; every remote value is quoted with [`q`].

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::Resolved;
use crate::facts::Facts;
use crate::plan::{Action, Step, StepKind};
use crate::playbook::{ServiceState, parse_mode};
use crate::shell::{q, words};

fn step(
    r_phase: &str,
    id: String,
    title: String,
    change: bool,
    reason: String,
    action: Action,
) -> Step {
    Step {
        phase: r_phase.to_string(),
        id,
        // Set by the host's plan (`phases::plan_host`); node steps run in list order.
        host: String::new(),
        wave: 0,
        kind: StepKind::Node,
        title,
        change,
        reason,
        action: if change { action } else { Action::None },
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(8)]
}

/// `*` matches any run of characters; everything else literally (apt version patterns).
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// One package-manager call for everything of this step that is missing, wrong or unheld.
pub fn package(
    r: &Resolved,
    names: &[(String, Option<String>)],
    hold: bool,
    family: &str,
    facts: &Facts,
) -> Step {
    let mut install = Vec::new();
    let mut to_hold = Vec::new();
    let mut why = Vec::new();
    let mut ok = Vec::new();
    for (name, version) in names {
        match (facts.packages.get(name), version) {
            (None, _) => {
                why.push(format!("{name} not installed"));
                install.push((name, version));
            }
            (Some(p), Some(want)) if !glob_match(want, &p.version) => {
                why.push(format!("{name} {} installed, want {want}", p.version));
                install.push((name, version));
            }
            (Some(p), _) => {
                if hold && !p.held && family == "debian" {
                    why.push(format!("{name} not held"));
                    to_hold.push(name);
                } else {
                    ok.push(format!(
                        "{name} {}{}",
                        p.version,
                        if p.held { " (held)" } else { "" }
                    ));
                }
            }
        }
    }
    let title = r.title.clone().unwrap_or_else(|| {
        format!(
            "packages {}",
            names
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    let change = !install.is_empty() || !to_hold.is_empty();
    let reason = if change {
        why.join("; ")
    } else {
        format!("installed: {}", ok.join(", "))
    };
    let mut script = String::from("set -e\n");
    if family == "debian" {
        script.push_str("export DEBIAN_FRONTEND=noninteractive\n");
        if !install.is_empty() {
            // Only refresh indexes when something must be installed: a converged host runs
            // nothing, and a stale index cannot break a no-op.
            let specs: Vec<String> = install
                .iter()
                .map(|(n, v)| match v {
                    Some(v) => format!("{n}={v}"),
                    None => n.to_string(),
                })
                .collect();
            // A run killed mid-install leaves packages unpacked but not configured, and
            // apt-get refuses to install anything until that is finished. dpkg has no lock
            // timeout of its own: retry while another apt holds the lock.
            script.push_str(
                "i=0; until dpkg --configure -a --force-confdef --force-confold; do \
                 i=$((i + 1)); [ \"$i\" -lt 60 ] || exit 1; sleep 5; done\n",
            );
            script.push_str("apt-get -q -o DPkg::Lock::Timeout=300 update\n");
            script.push_str(&format!(
                "apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef \
                 -o Dpkg::Options::=--force-confold --allow-downgrades --allow-change-held-packages \
                 install {}\n",
                words(&specs)
            ));
        }
        if hold {
            let all: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
            script.push_str(&format!("apt-mark hold {} >/dev/null\n", words(&all)));
        }
    } else {
        // RPM family: `name-version*` patterns; holding is the repo file's `exclude=` line.
        let specs: Vec<String> = install
            .iter()
            .map(|(n, v)| match v {
                Some(v) => format!("{n}-{v}"),
                None => n.to_string(),
            })
            .collect();
        if !specs.is_empty() {
            script.push_str(&format!(
                "dnf install -y --disableexcludes=all {}\n",
                words(&specs)
            ));
        }
    }
    step(
        &r.phase,
        r.id.clone(),
        title,
        change,
        reason,
        Action::script(script),
    )
}

/// A whole file, compared by sha256, mode and owner; written atomically when anything differs.
#[allow(clippy::too_many_arguments)]
pub fn file(
    phase: &str,
    id: &str,
    title: Option<String>,
    path: &str,
    content: &[u8],
    mode: &str,
    owner: &str,
    facts: &Facts,
) -> Result<Step, String> {
    let want_sha = hex::encode(Sha256::digest(content));
    let want_mode = parse_mode(mode).ok_or_else(|| format!("bad mode {mode:?}"))?;
    let name = path.rsplit('/').next().unwrap_or(path);
    let (change, reason) = match facts.files.get(path) {
        None if facts.files_missing.contains(path) => (true, format!("{path} missing")),
        None => {
            return Err(format!(
                "{path} was not part of the gathered facts (does its path depend on facts?)"
            ));
        }
        Some(f) => {
            let mut why = Vec::new();
            if f.sha256 != want_sha {
                why.push(format!(
                    "{name} differs (sha256 {}.. != {}..)",
                    short(&f.sha256),
                    short(&want_sha)
                ));
            }
            if parse_mode(&f.mode) != Some(want_mode) {
                why.push(format!("mode {} != {:o}", f.mode, want_mode));
            }
            if f.owner != owner {
                why.push(format!("owner {} != {owner}", f.owner));
            }
            if why.is_empty() {
                (false, "up to date".to_string())
            } else {
                (true, why.join("; "))
            }
        }
    };
    Ok(step(
        phase,
        id.to_string(),
        title.unwrap_or_else(|| format!("file {path}")),
        change,
        reason,
        Action::WriteFile {
            path: path.to_string(),
            content: content.to_vec(),
            mode: format!("{want_mode:04o}"),
            then: None,
            owner: owner.to_string(),
        },
    ))
}

/// Content of the persisted sysctl.d file.
pub fn sysctl_content(values: &BTreeMap<String, String>) -> String {
    let mut content = String::from("# Managed by otp-provision.\n");
    for (k, v) in values {
        content.push_str(&format!("{k} = {v}\n"));
    }
    content
}

/// Content of the persisted modules-load.d file.
pub fn module_content(names: &[String]) -> String {
    let mut content = String::from("# Managed by otp-provision.\n");
    for n in names {
        content.push_str(n);
        content.push('\n');
    }
    content
}

/// The persisted sysctl file, then one live step per key.
pub fn sysctl(
    r: &Resolved,
    values: &BTreeMap<String, String>,
    path: &str,
    facts: &Facts,
) -> Result<Vec<Step>, String> {
    let content = sysctl_content(values);
    let mut out = vec![file(
        &r.phase,
        &format!("{}/file", r.id),
        None,
        path,
        content.as_bytes(),
        "0644",
        "root:root",
        facts,
    )?];
    for (k, v) in values {
        let want = v.split_whitespace().collect::<Vec<_>>().join(" ");
        let (change, reason) = match facts.sysctls.get(k) {
            Some(cur) if *cur == want => (false, format!("already {want}")),
            Some(cur) => (true, format!("{k} is {cur}, want {want}")),
            None if facts.sysctls_missing.contains(k) => (
                true,
                format!("{k} does not exist yet (module not loaded?), want {want}"),
            ),
            None => return Err(format!("sysctl {k} was not part of the gathered facts")),
        };
        let proc = format!("/proc/sys/{}", k.replace('.', "/"));
        out.push(step(
            &r.phase,
            format!("{}/{k}", r.id),
            format!("sysctl {k} = {want}"),
            change,
            reason,
            // Written straight to /proc: no dependency on procps' sysctl binary.
            Action::script(format!("printf '%s\\n' {} > {}\n", q(&want), q(&proc))),
        ));
    }
    Ok(out)
}

/// The persisted modules-load.d file, then one `modprobe` step per module.
pub fn module(
    r: &Resolved,
    names: &[String],
    path: &str,
    facts: &Facts,
) -> Result<Vec<Step>, String> {
    let content = module_content(names);
    let mut out = vec![file(
        &r.phase,
        &format!("{}/file", r.id),
        None,
        path,
        content.as_bytes(),
        "0644",
        "root:root",
        facts,
    )?];
    for n in names {
        // /proc/modules and /sys/module spell names with `_`.
        let loaded = facts.modules.contains(&n.replace('-', "_"));
        let (change, reason) = match (loaded, facts.modules_loadable) {
            (true, _) => (false, "loaded".to_string()),
            // Nothing modprobe could do; a missing feature shows up in the sysctl steps.
            (false, false) => (
                false,
                "kernel without loadable modules: built in or unavailable".to_string(),
            ),
            (false, true) => (true, format!("{n} not loaded")),
        };
        out.push(step(
            &r.phase,
            format!("{}/{n}", r.id),
            format!("module {n}"),
            change,
            reason,
            Action::script(format!("modprobe {}\n", q(n))),
        ));
    }
    Ok(out)
}

/// Enable/start/stop a service; restart it when a notifying file changed in this run or was
/// written after the service last started (a previous run stopped before its restart).
pub fn service(
    r: &Resolved,
    name: &str,
    enabled: Option<bool>,
    state: Option<ServiceState>,
    restart: Option<String>,
    facts: &Facts,
) -> Step {
    let cur = facts.services.get(name).cloned().unwrap_or_default();
    let known = facts.services.contains_key(name) && cur.enabled != "not-found";
    let mut why = Vec::new();
    let mut cmds = Vec::new();
    if !known {
        why.push(format!("{name} not installed yet"));
        cmds.push("systemctl daemon-reload".to_string());
    }
    match enabled {
        Some(true) if !known || !cur.is_enabled() => {
            if known {
                why.push(format!("{name} is {}, want enabled", cur.enabled));
            }
            cmds.push(format!("systemctl enable {}", q(name)));
        }
        Some(false) if known && cur.is_enabled() => {
            why.push(format!("{name} is enabled, want disabled"));
            cmds.push(format!("systemctl disable {}", q(name)));
        }
        _ => {}
    }
    if let Some(because) = &restart {
        why.push(format!("restart: {because}"));
        cmds.push(format!("systemctl restart {}", q(name)));
    } else {
        match state {
            Some(ServiceState::Running) if !known || !cur.is_active() => {
                if known {
                    why.push(format!("{name} is {}, want running", cur.active));
                }
                cmds.push(format!("systemctl start {}", q(name)));
            }
            Some(ServiceState::Stopped) if known && cur.is_active() => {
                why.push(format!("{name} is active, want stopped"));
                cmds.push(format!("systemctl stop {}", q(name)));
            }
            _ => {}
        }
    }
    let change = !cmds.is_empty();
    let reason = if change {
        why.join("; ")
    } else {
        format!("{name} {}, {}", cur.enabled, cur.active)
    };
    step(
        &r.phase,
        r.id.clone(),
        r.title.clone().unwrap_or_else(|| format!("service {name}")),
        change,
        reason,
        Action::script(format!("set -e\n{}\n", cmds.join("\n"))),
    )
}

/// Synthetic handler: restart a notified service that has no service step of its own.
pub fn restart(phase: &str, name: &str, because: &str) -> Step {
    step(
        phase,
        format!("{phase}/restart/{name}"),
        format!("restart {name}"),
        true,
        because.to_string(),
        Action::script(format!("systemctl restart {}\n", q(name))),
    )
}

pub const SWAP_OFF_SCRIPT: &str = r#"set -e
swapoff -a
# Comment out fstab swap lines so swap stays off after a reboot.
if [ -f /etc/fstab ]; then sed -ri '/^[^#].*\sswap\s/ s/^/#/' /etc/fstab; fi
# systemd may still activate swap units (generators, GPT auto-discovery): mask them.
for u in $(systemctl list-units --type=swap --all --plain --no-legend 2>/dev/null | awk '{print $1}'); do
  systemctl mask "$u" >/dev/null
done
"#;

pub fn swap(r: &Resolved, facts: &Facts) -> Step {
    let mut why = Vec::new();
    if facts.swap_active {
        why.push(format!("swap active on {}", facts.swaps.join(", ")));
    }
    if !facts.fstab_swap.is_empty() {
        why.push(format!(
            "/etc/fstab has swap on {}",
            facts.fstab_swap.join(", ")
        ));
    }
    let change = !why.is_empty();
    step(
        &r.phase,
        r.id.clone(),
        r.title.clone().unwrap_or_else(|| "swap off".into()),
        change,
        if change {
            why.join("; ")
        } else {
            "no active swap, none in /etc/fstab".into()
        },
        Action::script(SWAP_OFF_SCRIPT.into()),
    )
}

pub fn command(r: &Resolved, run: &str, facts: &Facts) -> Result<Step, String> {
    let code = facts
        .probes
        .get(&r.id)
        .ok_or_else(|| "its `unless` probe was not part of the gathered facts".to_string())?;
    let change = *code != 0;
    Ok(step(
        &r.phase,
        r.id.clone(),
        r.title
            .clone()
            .unwrap_or_else(|| format!("command {}", r.id)),
        change,
        if change {
            format!("unless probe exited {code}")
        } else {
            "unless probe succeeded".into()
        },
        Action::script(run.to_string()),
    ))
}

/// A check, not an action: busy ports fail planning, naming them.
pub fn ports_free(r: &Resolved, ports: &[u16], facts: &Facts) -> Result<Step, String> {
    let busy: Vec<String> = ports
        .iter()
        .filter(|p| facts.listening_tcp.contains(p))
        .map(|p| p.to_string())
        .collect();
    let list = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if !busy.is_empty() {
        return Err(format!(
            "TCP port(s) {} already in use (kubeadm preflight would fail); free them first",
            busy.join(", ")
        ));
    }
    Ok(step(
        &r.phase,
        r.id.clone(),
        r.title
            .clone()
            .unwrap_or_else(|| format!("ports {list} free")),
        false,
        "free".into(),
        Action::None,
    ))
}

/// Why `service` must restart, if it must: a notifying file changes in this run, or one was
/// written after the running service started.
pub fn restart_reason(
    service: &str,
    changed: &[String],
    notifiers: &[String],
    facts: &Facts,
) -> Option<String> {
    if !changed.is_empty() {
        return Some(format!("{} changed", changed.join(", ")));
    }
    let since = facts.services.get(service)?.active_since?;
    let stale: Vec<&str> = notifiers
        .iter()
        .filter(|p| facts.files.get(*p).is_some_and(|f| f.mtime > since))
        .map(String::as_str)
        .collect();
    (!stale.is_empty()).then(|| {
        format!(
            "{service} started before {} was last written",
            stale.join(", ")
        )
    })
}
