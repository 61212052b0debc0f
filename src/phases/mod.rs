//! Phases of `up`: each turns inventory + facts into plan steps.
//!
//! Node-level phases come from playbooks (prepare, endpoint, ...). For every host: pick the
//! steps whose `roles`/`when` match, render their strings with the host's context, and let the
//! per-kind planners in [`steps`] compare desired state with the facts. [`fact_request`] walks
//! the same steps first to ask the facts script for exactly what the planners will look at.

pub mod cluster;
pub mod steps;

use std::collections::BTreeMap;

use crate::facts::{FactRequest, Facts};
use crate::inventory::{Host, Inventory};
use crate::plan::{HostPlan, Plan, Step};
use crate::playbook::{Playbooks, ServiceState, SpecKind, context};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{host}: no facts were gathered for this host")]
    NoFacts { host: String },
    #[error("{host}: {file}: step {step}: {reason}")]
    Step {
        host: String,
        file: String,
        step: String,
        reason: String,
    },
    #[error("{host}: step {step} cannot run: {reason}")]
    Precondition {
        host: String,
        step: String,
        reason: String,
    },
    /// Several hosts failed to plan; every one is reported, not just the first.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Hosts(Vec<PlanError>),
}

/// A playbook step after `roles`/`when` selection and template rendering.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub phase: String,
    /// `{phase}/{step id}`; sub-steps append `/{target}`.
    pub id: String,
    pub title: Option<String>,
    pub kind: ResolvedKind,
}

#[derive(Debug, Clone)]
pub enum ResolvedKind {
    /// (name, version pattern)
    Package {
        names: Vec<(String, Option<String>)>,
        hold: bool,
    },
    File {
        path: String,
        /// Empty in [`Mode::Request`] (contents are not needed to ask for facts).
        content: Vec<u8>,
        mode: String,
        owner: String,
        notify: Vec<String>,
    },
    Sysctl {
        values: BTreeMap<String, String>,
        file: String,
    },
    Module {
        names: Vec<String>,
        file: String,
    },
    Service {
        name: String,
        enabled: Option<bool>,
        state: Option<ServiceState>,
    },
    Swap,
    Command {
        run: String,
        unless: String,
    },
    PortsFree {
        ports: Vec<u16>,
    },
    /// Evaluated already (only in [`Mode::Full`]); `ok = false` fails planning.
    Assert {
        ok: bool,
        message: String,
    },
}

/// How much of a step to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Before facts: `when` is not evaluated (it may test facts), so every step of the host's
    /// roles is included and the request is a superset; file contents are not rendered.
    Request,
    /// With facts (plan) or without (render): `when` evaluated, contents rendered.
    Full,
}

/// Select and render the playbook steps of `host`. Returns the steps and notes about values
/// that had to be left as placeholders (only when `facts` is `None`).
pub fn resolve(
    inv: &Inventory,
    host: &Host,
    facts: Option<&Facts>,
    books: &Playbooks,
    mode: Mode,
) -> Result<(Vec<Resolved>, Vec<context::Missing>), PlanError> {
    let (ctx, notes) = context::context(inv, host, facts);
    let mut r = books.renderer(ctx);
    let mut out = Vec::new();
    for book in &books.books {
        for (i, spec) in book.steps.iter().enumerate() {
            let local_id = spec
                .id
                .clone()
                .unwrap_or_else(|| format!("{}{}", spec.kind.kind_name(), i + 1));
            let id = format!("{}/{}", book.phase, local_id);
            let err = |reason: String| PlanError::Step {
                host: host.name.clone(),
                file: book.file.clone(),
                step: id.clone(),
                reason,
            };
            if !spec.roles.is_empty() && !spec.roles.iter().any(|role| inv.plays(host, *role)) {
                continue;
            }
            if mode == Mode::Full
                && let Some(when) = &spec.when
                && !r
                    .condition(when)
                    .map_err(|e| err(format!("when {when:?}: {e}")))?
            {
                continue;
            }
            let kind = resolve_kind(&spec.kind, &mut r, mode, &err)?;
            let title = match &spec.title {
                Some(t) => Some(r.string(t).map_err(|e| err(format!("title: {e}")))?),
                None => None,
            };
            out.push(Resolved {
                phase: book.phase.clone(),
                id,
                title,
                kind,
            });
        }
    }
    Ok((out, notes))
}

/// One playbook step's kind, its strings rendered for the host (contents only in
/// [`Mode::Full`]).
fn resolve_kind(
    kind: &SpecKind,
    r: &mut crate::playbook::Renderer,
    mode: Mode,
    err: &dyn Fn(String) -> PlanError,
) -> Result<ResolvedKind, PlanError> {
    let mut s = |what: &str, v: &str| r.string(v).map_err(|e| err(format!("{what}: {e}")));
    Ok(match kind {
        SpecKind::Package { names, hold } => {
            let mut parsed = Vec::new();
            for n in names {
                let n = s("names", n)?;
                let (name, version) = match n.split_once('=') {
                    Some((a, b)) => (a.to_string(), Some(b.to_string())),
                    None => (n.clone(), None),
                };
                if !valid_package_name(&name) {
                    return Err(err(format!("invalid package name {name:?}")));
                }
                parsed.push((name, version));
            }
            ResolvedKind::Package {
                names: parsed,
                hold: *hold,
            }
        }
        SpecKind::File {
            path,
            template,
            content,
            mode: fmode,
            owner,
            notify,
        } => {
            let path = s("path", path)?;
            let body = match (mode, template, content) {
                (Mode::Request, _, _) => Vec::new(),
                (Mode::Full, Some(t), _) => r
                    .template(t)
                    .map_err(|e| err(format!("template {t}: {e}")))?
                    .into_bytes(),
                (Mode::Full, None, Some(c)) => s("content", c)?.into_bytes(),
                (Mode::Full, None, None) => Vec::new(),
            };
            ResolvedKind::File {
                path: absolute(&path).map_err(err)?,
                content: body,
                mode: fmode.clone(),
                owner: owner.clone(),
                notify: notify.clone(),
            }
        }
        SpecKind::Sysctl { values, file } => {
            let mut v = BTreeMap::new();
            for (k, val) in values {
                if !k
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                {
                    return Err(err(format!("invalid sysctl key {k:?}")));
                }
                v.insert(k.clone(), s(k, val)?);
            }
            ResolvedKind::Sysctl {
                values: v,
                file: absolute(&s("file", file)?).map_err(err)?,
            }
        }
        SpecKind::Module { names, file } => {
            for n in names {
                if !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
                {
                    return Err(err(format!("invalid module name {n:?}")));
                }
            }
            ResolvedKind::Module {
                names: names.clone(),
                file: absolute(&s("file", file)?).map_err(err)?,
            }
        }
        SpecKind::Service {
            name,
            enabled,
            state,
        } => ResolvedKind::Service {
            name: s("name", name)?,
            enabled: *enabled,
            state: *state,
        },
        SpecKind::Swap { .. } => ResolvedKind::Swap,
        SpecKind::Command { run, unless } => ResolvedKind::Command {
            run: s("run", run)?,
            unless: s("unless", unless)?,
        },
        SpecKind::Assert { that, message } => ResolvedKind::Assert {
            ok: mode == Mode::Request
                || r.condition(that)
                    .map_err(|e| err(format!("that {that:?}: {e}")))?,
            message: r
                .string(message)
                .map_err(|e| err(format!("message: {e}")))?,
        },
        SpecKind::PortsFree { ports } => {
            let mut p = Vec::new();
            for port in ports {
                let v = s("ports", port)?;
                p.push(
                    v.trim()
                        .parse::<u16>()
                        .map_err(|_| err(format!("port {v:?} is not a number")))?,
                );
            }
            ResolvedKind::PortsFree { ports: p }
        }
    })
}

fn absolute(path: &str) -> Result<String, String> {
    if path.starts_with('/') && !path.contains("/../") && !path.ends_with('/') {
        Ok(path.to_string())
    } else {
        Err(format!("path {path:?} must be absolute and name a file"))
    }
}

/// Debian/RPM package names: lowercase letters, digits, `+ - . _`. Names are word-split inside
/// the facts script, so this check is also what keeps them inert there.
fn valid_package_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-._".contains(&b))
}

/// What the facts script must look at for `host` (files, packages, services, sysctls, probes).
pub fn fact_request(
    inv: &Inventory,
    host: &Host,
    books: &Playbooks,
) -> Result<FactRequest, PlanError> {
    let (steps, _) = resolve(inv, host, None, books, Mode::Request)?;
    let mut req = FactRequest::default();
    for st in steps {
        match st.kind {
            ResolvedKind::Package { names, .. } => {
                req.packages.extend(names.into_iter().map(|(n, _)| n))
            }
            ResolvedKind::File { path, .. } => {
                req.files.insert(path);
            }
            ResolvedKind::Sysctl { values, file } => {
                req.sysctls.extend(values.into_keys());
                req.files.insert(file);
            }
            ResolvedKind::Module { file, .. } => {
                req.files.insert(file);
            }
            ResolvedKind::Service { name, .. } => {
                req.services.insert(name);
            }
            ResolvedKind::Command { unless, .. } => {
                req.probes.insert(st.id, unless);
            }
            ResolvedKind::Swap | ResolvedKind::PortsFree { .. } | ResolvedKind::Assert { .. } => {}
        }
    }
    Ok(req)
}

/// Paths the file steps of playbook phase `phase` write on `host` (what `reset` removes again).
pub fn written_files(
    inv: &Inventory,
    host: &Host,
    books: &Playbooks,
    phase: &str,
) -> Result<Vec<String>, PlanError> {
    let (steps, _) = resolve(inv, host, None, books, Mode::Request)?;
    Ok(steps
        .into_iter()
        .filter(|st| st.phase == phase)
        .filter_map(|st| match st.kind {
            ResolvedKind::File { path, .. } => Some(path),
            _ => None,
        })
        .collect())
}

/// [`fact_request`] for every host of the inventory (or only `limit`, when not empty).
pub fn fact_requests(
    inv: &Inventory,
    books: &Playbooks,
    limit: &[String],
) -> Result<BTreeMap<String, FactRequest>, PlanError> {
    inv.hosts
        .iter()
        .filter(|h| limit.is_empty() || limit.contains(&h.name))
        .map(|h| Ok((h.name.clone(), fact_request(inv, h, books)?)))
        .collect()
}

/// Cross-host findings that do not stop a run but deserve the operator's eye: kubeadm needs a
/// unique hostname, MAC and product_uuid per node, and cloned images often share machine-ids.
/// Empty identifiers (containers have no DMI product_uuid) are ignored.
pub fn warnings(facts: &BTreeMap<String, Facts>) -> Vec<String> {
    let mut out = Vec::new();
    type Field = fn(&Facts) -> &str;
    let checks: [(&str, Field); 3] = [
        ("hostname", |f| f.hostname.as_str()),
        ("machine-id", |f| f.machine_id.as_str()),
        ("product_uuid", |f| f.product_uuid.as_str()),
    ];
    for (what, get) in checks {
        let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (host, f) in facts {
            let v = get(f);
            if !v.is_empty() {
                seen.entry(v).or_default().push(host.as_str());
            }
        }
        for (v, hosts) in seen {
            if hosts.len() > 1 {
                out.push(format!(
                    "hosts {} share the {what} {v} (cloned image?); give each node its own",
                    hosts.join(", ")
                ));
            }
        }
    }
    out
}

/// Plan every host of the inventory that has facts in `facts` (hosts left out, e.g. by
/// `--limit`, are skipped; callers decide whether that is an error).
pub fn plan(
    inv: &Inventory,
    facts: &BTreeMap<String, Facts>,
    books: &Playbooks,
) -> Result<Plan, PlanError> {
    let mut plan = Plan::default();
    let mut errors = Vec::new();
    for host in &inv.hosts {
        let Some(f) = facts.get(&host.name) else {
            continue;
        };
        match plan_host(inv, host, f, books) {
            Ok(hp) => plan.hosts.push(hp),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(plan),
        1 => Err(errors.remove(0)),
        _ => Err(PlanError::Hosts(errors)),
    }
}

/// Files that notify services, within one phase.
#[derive(Default)]
struct Handlers {
    /// service -> notifying files that change in this run
    changed: BTreeMap<String, Vec<String>>,
    /// service -> every notifying file (changed or not): a restart lost to an interrupted run
    /// is still detected from the files' mtimes.
    notifiers: BTreeMap<String, Vec<String>>,
}

impl Handlers {
    fn notify(&mut self, service: &str, path: &str, changed: bool) {
        self.notifiers
            .entry(service.to_string())
            .or_default()
            .push(path.to_string());
        if changed {
            self.changed
                .entry(service.to_string())
                .or_default()
                .push(path.to_string());
        }
    }

    /// Restart reason for `service` at its own step; it is then no longer pending.
    fn take(&mut self, service: &str, facts: &Facts) -> Option<String> {
        let changed = self.changed.remove(service).unwrap_or_default();
        let files = self.notifiers.remove(service).unwrap_or_default();
        steps::restart_reason(service, &changed, &files, facts)
    }

    /// End of phase: restart steps for notified services that had no step of their own.
    fn flush(&mut self, phase: &str, facts: &Facts, out: &mut Vec<Step>) {
        let services: Vec<String> = self.notifiers.keys().cloned().collect();
        for svc in services {
            if let Some(why) = self.take(&svc, facts) {
                out.push(steps::restart(phase, &svc, &why));
            }
        }
    }
}

/// Plan one host.
pub fn plan_host(
    inv: &Inventory,
    host: &Host,
    facts: &Facts,
    books: &Playbooks,
) -> Result<HostPlan, PlanError> {
    let (resolved, _) = resolve(inv, host, Some(facts), books, Mode::Full)?;
    let family = facts.os.family();
    let mut steps: Vec<Step> = Vec::new();
    // Handlers, per phase: a notified service restarts at its own service step, or at the end
    // of the phase when it has none.
    let mut handlers = Handlers::default();
    let mut phase: Option<String> = None;
    for r in resolved {
        if phase.as_deref() != Some(&r.phase) {
            if let Some(p) = &phase {
                handlers.flush(p, facts, &mut steps);
            }
            phase = Some(r.phase.clone());
        }
        let step_err = |reason: String| PlanError::Step {
            host: host.name.clone(),
            file: format!("{}.toml", r.phase),
            step: r.id.clone(),
            reason,
        };
        match &r.kind {
            ResolvedKind::Package { names, hold } => {
                steps.push(steps::package(&r, names, *hold, &family, facts));
            }
            ResolvedKind::File {
                path,
                content,
                mode,
                owner,
                notify,
            } => {
                let st = steps::file(
                    &r.phase,
                    &r.id,
                    r.title.clone(),
                    path,
                    content,
                    mode,
                    owner,
                    facts,
                )
                .map_err(step_err)?;
                for svc in notify {
                    handlers.notify(svc, path, st.change);
                }
                steps.push(st);
            }
            ResolvedKind::Sysctl { values, file } => {
                steps.extend(steps::sysctl(&r, values, file, facts).map_err(step_err)?);
            }
            ResolvedKind::Module { names, file } => {
                steps.extend(steps::module(&r, names, file, facts).map_err(step_err)?);
            }
            ResolvedKind::Service {
                name,
                enabled,
                state,
            } => {
                let restart = handlers.take(name, facts);
                steps.push(steps::service(&r, name, *enabled, *state, restart, facts));
            }
            ResolvedKind::Swap => steps.push(steps::swap(&r, facts)),
            ResolvedKind::Command { run, .. } => {
                steps.push(steps::command(&r, run, facts).map_err(step_err)?)
            }
            // A passing assertion adds no step: it is a guard, not something to do.
            ResolvedKind::Assert { ok, message } => {
                if !ok {
                    return Err(PlanError::Precondition {
                        host: host.name.clone(),
                        step: r.id.clone(),
                        reason: message.clone(),
                    });
                }
            }
            ResolvedKind::PortsFree { ports } => {
                steps.push(steps::ports_free(&r, ports, facts).map_err(|reason| {
                    PlanError::Precondition {
                        host: host.name.clone(),
                        step: r.id.clone(),
                        reason,
                    }
                })?)
            }
        }
    }
    if let Some(p) = &phase {
        handlers.flush(p, facts, &mut steps);
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &steps {
        if !seen.insert(s.id.as_str()) {
            return Err(PlanError::Step {
                host: host.name.clone(),
                file: format!("{}.toml", s.phase),
                step: s.id.clone(),
                reason: "duplicate step id (give the steps distinct `id`s)".into(),
            });
        }
    }
    for s in &mut steps {
        s.host.clone_from(&host.name);
    }
    Ok(HostPlan {
        host: host.name.clone(),
        steps,
    })
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
