//! Declarative node-level steps from playbooks/*.toml (embedded, overridable).
//!
//! A playbook is a phase name plus an ordered list of steps (`[[step]]`, `kind = ...`). Strings in
//! steps are Tera templates rendered with the host's context ([`context::context`]); file contents
//! come from templates/ (embedded too). `--playbooks DIR` replaces an embedded playbook with
//! `DIR/<same name>.toml` and an embedded template with `DIR/templates/<same name>`; other
//! `.toml` files in DIR are added after the embedded ones, in name order.
//!
//! # Format
//!
//! ```toml
//! phase = "prepare"                 # steps get ids `prepare/<id>`
//! description = "..."
//!
//! [[step]]
//! id = "containerd-config"          # optional; default `<kind><n>`; unique per playbook
//! title = "..."                     # optional; default from kind and target
//! roles = ["control-plane", "worker"]   # optional; any of control-plane, worker, load-balancer
//!                                      # (load-balancer: also the control planes when no host has that role)
//! when = 'os.family == "debian"'    # optional Tera expression over the context
//! kind = "file"
//! path = "/etc/containerd/config.toml"
//! template = "containerd-config.toml"   # or content = "inline {{ template }}"
//! mode = "0644"                     # default 0644
//! owner = "root:root"               # default root:root
//! notify = ["containerd"]           # restart these services when the file changes
//! ```
//!
//! | kind | keys | probe (facts) | action |
//! |---|---|---|---|
//! | `package` | `names` (`"kubelet={{ kube_version }}-*"` pins), `hold` | installed version matches, held | one `apt-get install` of what is missing/wrong (+`apt-get update` first), `apt-mark hold`; `dnf install` on RHEL |
//! | `file` | see above | sha256, mode, owner | atomic write (temp file in the same dir, chown/chmod, rename) |
//! | `sysctl` | `values = { key = "v" }`, `file` | /proc/sys value, the file | write the sysctl.d file, write /proc/sys |
//! | `module` | `names`, `file` | /proc/modules, /sys/module | write the modules-load.d file, `modprobe` |
//! | `service` | `name`, `enabled`, `state` (`running`/`stopped`) | systemctl show | enable/disable, start/stop, restart when notified |
//! | `swap` | `off = true` | /proc/swaps, /etc/fstab | swapoff, comment fstab, mask swap units |
//! | `command` | `run`, `unless` | exit code of `unless` | `run` (as root) when `unless` fails |
//! | `ports-free` | `ports` | listening TCP sockets | none: planning fails naming the busy ports |
//! | `assert` | `that` (Tera expression), `message` | the expression | none: planning fails with `message` |
//!
//! Tera's `not` binds loosely and mixes badly with `or`/comparisons: write `x == false`.
//!
//! `unless` probes run as root inside the facts script (no extra round trip), so they must not
//! change anything. They are rendered before facts exist (`os.*` are placeholders then), and
//! `when` is evaluated only at planning: the fact request covers every step of the host's roles.
//! Notified services restart at their own `service` step, or at the end of the phase when the
//! playbook has none; a notifying file newer than the running service's start also restarts it
//! (a previous run stopped between the write and the restart).

pub mod context;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::inventory::Role;

/// Embedded playbooks, in the order they run.
const EMBEDDED_PLAYBOOKS: &[(&str, &str)] = &[
    ("prepare.toml", include_str!("../../playbooks/prepare.toml")),
    (
        "endpoint.toml",
        include_str!("../../playbooks/endpoint.toml"),
    ),
];

/// Embedded templates (name under templates/ -> source).
const EMBEDDED_TEMPLATES: &[(&str, &str)] = &[
    (
        "containerd-config.toml",
        include_str!("../../templates/containerd-config.toml"),
    ),
    ("crictl.yaml", include_str!("../../templates/crictl.yaml")),
    (
        "kubernetes.list",
        include_str!("../../templates/kubernetes.list"),
    ),
    (
        "debian-sources.list",
        include_str!("../../templates/debian-sources.list"),
    ),
    ("haproxy.cfg", include_str!("../../templates/haproxy.cfg")),
    (
        "keepalived.conf",
        include_str!("../../templates/keepalived.conf"),
    ),
    (
        "check_apiserver.sh",
        include_str!("../../templates/check_apiserver.sh"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
    #[error("{file}: step {step}: {reason}")]
    Step {
        file: String,
        step: usize,
        reason: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template {name}: {reason}")]
    Template { name: String, reason: String },
}

/// All playbooks and templates of a run.
#[derive(Clone)]
pub struct Playbooks {
    pub books: Vec<Playbook>,
    /// Template sources by name (after overrides), for `render` and tests.
    pub templates: BTreeMap<String, String>,
    tera: tera::Tera,
}

impl std::fmt::Debug for Playbooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playbooks")
            .field("books", &self.books)
            .field("templates", &self.templates.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Playbook {
    /// File name, e.g. `prepare.toml`.
    pub file: String,
    /// Phase the steps belong to, e.g. `prepare`.
    pub phase: String,
    pub description: String,
    pub steps: Vec<StepSpec>,
}

/// One `[[step]]`: common fields plus the kind-specific body.
#[derive(Debug, Clone)]
pub struct StepSpec {
    /// Explicit id (unique within the playbook); otherwise derived from kind and target.
    pub id: Option<String>,
    pub title: Option<String>,
    /// Run only on hosts with at least one of these roles (empty: every host).
    pub roles: BTreeSet<Role>,
    /// Tera expression; the step applies when it is true, e.g.
    /// `os.family == "debian" and endpoint.mode == "haproxy-keepalived"`.
    pub when: Option<String>,
    pub kind: SpecKind,
}

/// What a `[[step]]` of a playbook declares (its `kind` and body). The node planners turn it
/// into [`crate::plan::Step`]s, whose [`crate::plan::StepKind`] is `Node`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SpecKind {
    /// Packages installed in one package-manager call. A name may carry a version pattern:
    /// `kubelet={{ kube_version }}-*` (apt syntax; `*` matches anything).
    Package {
        names: Vec<String>,
        #[serde(default)]
        hold: bool,
    },
    /// A file from a template (or inline `content`), written atomically.
    File {
        path: String,
        #[serde(default)]
        template: Option<String>,
        #[serde(default)]
        content: Option<String>,
        #[serde(default = "default_mode")]
        mode: String,
        #[serde(default = "default_owner")]
        owner: String,
        /// Services to restart when this file changes in the same run.
        #[serde(default)]
        notify: Vec<String>,
    },
    /// Kernel parameters, persisted in `file` and applied live.
    Sysctl {
        values: BTreeMap<String, String>,
        #[serde(default = "default_sysctl_file")]
        file: String,
    },
    /// Kernel modules, persisted in `file` (modules-load.d) and loaded now.
    Module {
        names: Vec<String>,
        #[serde(default = "default_module_file")]
        file: String,
    },
    Service {
        name: String,
        #[serde(default)]
        enabled: Option<bool>,
        #[serde(default)]
        state: Option<ServiceState>,
    },
    /// Swap off now and at boot (swapoff, fstab lines commented, swap units masked).
    Swap { off: bool },
    /// A command that runs unless its probe succeeds (probe runs inside the facts script).
    Command { run: String, unless: String },
    /// TCP ports that must be free (nothing listening); planning fails naming the port if not.
    PortsFree { ports: Vec<String> },
    /// A condition that must hold (Tera expression); planning fails with `message` otherwise.
    Assert { that: String, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    Running,
    Stopped,
}

fn default_mode() -> String {
    "0644".into()
}
fn default_owner() -> String {
    "root:root".into()
}
fn default_sysctl_file() -> String {
    "/etc/sysctl.d/99-kubernetes.conf".into()
}
fn default_module_file() -> String {
    "/etc/modules-load.d/k8s.conf".into()
}

impl SpecKind {
    pub fn kind_name(&self) -> &'static str {
        match self {
            SpecKind::Package { .. } => "package",
            SpecKind::File { .. } => "file",
            SpecKind::Sysctl { .. } => "sysctl",
            SpecKind::Module { .. } => "module",
            SpecKind::Service { .. } => "service",
            SpecKind::Swap { .. } => "swap",
            SpecKind::Command { .. } => "command",
            SpecKind::PortsFree { .. } => "ports-free",
            SpecKind::Assert { .. } => "assert",
        }
    }
}

/// Common step keys; everything else goes to [`SpecKind`] (which rejects unknown keys).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaybookFile {
    phase: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    step: Vec<toml::Table>,
}

/// Parse one playbook file.
pub fn parse_playbook(file: &str, text: &str) -> Result<Playbook, PlaybookError> {
    let invalid = |reason: String| PlaybookError::Invalid {
        file: file.to_string(),
        reason,
    };
    let pf: PlaybookFile = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map_or((1, 1), |sp| line_col(text, sp.start));
        PlaybookError::Invalid {
            file: format!("{file}:{line}:{col}"),
            reason: e.message().to_string(),
        }
    })?;
    if pf.phase.is_empty()
        || !pf
            .phase
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(invalid(format!(
            "phase {:?} must be letters, digits and '-'",
            pf.phase
        )));
    }
    let mut steps = Vec::new();
    let mut ids = BTreeSet::new();
    for (i, mut t) in pf.step.into_iter().enumerate() {
        let n = i + 1;
        let step_err = |reason: String| PlaybookError::Step {
            file: file.to_string(),
            step: n,
            reason,
        };
        let take_str = |t: &mut toml::Table, k: &str| -> Result<Option<String>, PlaybookError> {
            match t.remove(k) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s)),
                Some(v) => Err(step_err(format!(
                    "`{k}` must be a string, got {}",
                    v.type_str()
                ))),
            }
        };
        let id = take_str(&mut t, "id")?;
        let title = take_str(&mut t, "title")?;
        let when = take_str(&mut t, "when")?;
        let roles = match t.remove("roles") {
            None => BTreeSet::new(),
            Some(v) => {
                let names =
                    Vec::<String>::deserialize(v).map_err(|e| step_err(format!("roles: {e}")))?;
                let mut set = BTreeSet::new();
                for n in names {
                    set.insert(role(&n).ok_or_else(|| {
                        step_err(format!(
                            "unknown role {n:?} (expected control-plane, worker or load-balancer)"
                        ))
                    })?);
                }
                set
            }
        };
        let kind =
            SpecKind::deserialize(toml::Value::Table(t)).map_err(|e| step_err(e.to_string()))?;
        validate(&kind).map_err(step_err)?;
        if let Some(id) = &id
            && !ids.insert(id.clone())
        {
            return Err(step_err(format!("duplicate id {id:?}")));
        }
        steps.push(StepSpec {
            id,
            title,
            roles,
            when,
            kind,
        });
    }
    Ok(Playbook {
        file: file.to_string(),
        phase: pf.phase,
        description: pf.description,
        steps,
    })
}

/// 1-based line and column of byte offset `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn role(name: &str) -> Option<Role> {
    [Role::ControlPlane, Role::Worker, Role::LoadBalancer]
        .into_iter()
        .find(|r| r.as_str() == name)
}

fn validate(kind: &SpecKind) -> Result<(), String> {
    match kind {
        SpecKind::Package { names, .. } if names.is_empty() => Err("names is empty".into()),
        SpecKind::File {
            template, content, ..
        } if template.is_some() == content.is_some() => {
            Err("a file step needs exactly one of `template` or `content`".into())
        }
        SpecKind::File { mode, .. } if parse_mode(mode).is_none() => {
            Err(format!("mode {mode:?} is not octal like \"0644\""))
        }
        SpecKind::Swap { off: false } => Err("only `off = true` is supported".into()),
        SpecKind::Service {
            enabled: None,
            state: None,
            ..
        } => Err("a service step needs `enabled` and/or `state`".into()),
        SpecKind::Module { names, .. } if names.is_empty() => Err("names is empty".into()),
        SpecKind::Sysctl { values, .. } if values.is_empty() => Err("values is empty".into()),
        _ => Ok(()),
    }
}

/// `"0644"` / `"644"` -> 0o644.
pub fn parse_mode(mode: &str) -> Option<u32> {
    if mode.is_empty() || mode.len() > 4 {
        return None;
    }
    u32::from_str_radix(mode, 8).ok()
}

impl Playbooks {
    /// The playbooks and templates built into the binary.
    pub fn embedded() -> Result<Playbooks, PlaybookError> {
        Playbooks::load(None)
    }

    /// Embedded playbooks with `dir`'s files replacing/adding (see module docs).
    pub fn load(dir: Option<&Path>) -> Result<Playbooks, PlaybookError> {
        let mut books: Vec<(String, String)> = EMBEDDED_PLAYBOOKS
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        let mut templates: BTreeMap<String, String> = EMBEDDED_TEMPLATES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        if let Some(dir) = dir {
            let mut extra = Vec::new();
            for (name, text) in read_dir_files(dir, ".toml")? {
                match books.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = text,
                    None => extra.push((name, text)),
                }
            }
            extra.sort();
            books.extend(extra);
            let tdir = dir.join("templates");
            if tdir.is_dir() {
                templates.extend(read_dir_files(&tdir, "")?);
            }
        }
        let books = books
            .iter()
            .map(|(n, t)| parse_playbook(n, t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut tera = crate::template::engine();
        tera.register_filter("q", crate::template::shell_quote);
        tera.add_raw_templates(templates.iter().map(|(n, t)| (n.as_str(), t.as_str())))
            .map_err(|e| PlaybookError::Template {
                name: "(templates)".into(),
                reason: crate::template::error_chain(&e),
            })?;
        // Every template a step names must exist, caught at load instead of mid-plan.
        for b in &books {
            for (i, s) in b.steps.iter().enumerate() {
                if let SpecKind::File {
                    template: Some(t), ..
                } = &s.kind
                    && !templates.contains_key(t)
                {
                    return Err(PlaybookError::Step {
                        file: b.file.clone(),
                        step: i + 1,
                        reason: format!("template {t:?} not found under templates/"),
                    });
                }
            }
        }
        Ok(Playbooks {
            books,
            templates,
            tera,
        })
    }

    /// A renderer bound to one host's context.
    pub fn renderer(&self, ctx: tera::Context) -> Renderer {
        Renderer {
            tera: self.tera.clone(),
            ctx,
        }
    }
}

fn read_dir_files(dir: &Path, suffix: &str) -> Result<Vec<(String, String)>, PlaybookError> {
    let io = |source| PlaybookError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_file() || !name.ends_with(suffix) || name.starts_with('.') {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| PlaybookError::Io {
            path: path.clone(),
            source,
        })?;
        out.push((name, text));
    }
    out.sort();
    Ok(out)
}

/// Renders templates and template strings for one host. Tera 1.x errors on an undefined
/// variable in `{{ }}` (our strict-undefined guarantee); note that `{% if x %}` on an undefined
/// `x` is false rather than an error, so `when` expressions should compare defined keys.
pub struct Renderer {
    tera: tera::Tera,
    pub ctx: tera::Context,
}

impl Renderer {
    /// Render a named template from templates/.
    pub fn template(&self, name: &str) -> Result<String, String> {
        self.tera
            .render(name, &self.ctx)
            .map_err(|e| crate::template::error_chain(&e))
    }

    /// Render a string from a playbook; plain strings pass through untouched.
    pub fn string(&mut self, s: &str) -> Result<String, String> {
        if !s.contains("{{") && !s.contains("{%") {
            return Ok(s.to_string());
        }
        self.tera
            .render_str(s, &self.ctx)
            .map_err(|e| crate::template::error_chain(&e))
    }

    /// Evaluate a `when` expression.
    pub fn condition(&mut self, expr: &str) -> Result<bool, String> {
        let out = self.string(&format!("{{% if {expr} %}}1{{% else %}}0{{% endif %}}"))?;
        Ok(out == "1")
    }
}

#[cfg(test)]
mod tests;
