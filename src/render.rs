//! `render`: every file otp-provision would put on each node, written locally without SSH, so
//! operators can review, diff and keep them in git. Templates are Tera with strict undefined
//! (see [`crate::playbook::Renderer`]); values only facts can give appear as `MISSING(...)`
//! placeholders and are listed in the returned notes.

use std::path::{Path, PathBuf};

use crate::inventory::Inventory;
use crate::phases::{self, Mode, PlanError, ResolvedKind, steps};
use crate::playbook::Playbooks;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Default)]
pub struct RenderReport {
    /// Files written, in host then step order.
    pub files: Vec<PathBuf>,
    /// Values that could not be known without facts, one line each (`host: what (why)`).
    pub notes: Vec<String>,
}

/// One file a host would receive.
#[derive(Debug, Clone, PartialEq)]
pub struct HostFile {
    pub host: String,
    /// Absolute path on the node.
    pub path: String,
    pub mode: String,
    pub content: Vec<u8>,
}

/// The files of every host, without touching the disk (used by tests and [`render_all`]).
pub fn host_files(
    inv: &Inventory,
    books: &Playbooks,
) -> Result<(Vec<HostFile>, Vec<String>), PlanError> {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    for host in &inv.hosts {
        let (resolved, missing) = phases::resolve(inv, host, None, books, Mode::Full)?;
        for r in resolved {
            let (path, mode, content) = match r.kind {
                ResolvedKind::File {
                    path,
                    content,
                    mode,
                    ..
                } => (path, mode, content),
                ResolvedKind::Sysctl { values, file } => (
                    file,
                    "0644".into(),
                    steps::sysctl_content(&values).into_bytes(),
                ),
                ResolvedKind::Module { names, file } => (
                    file,
                    "0644".into(),
                    steps::module_content(&names).into_bytes(),
                ),
                _ => continue,
            };
            // Only placeholders that ended up in a file are worth a note.
            let text = String::from_utf8_lossy(&content);
            for m in &missing {
                if text.contains(&m.placeholder()) {
                    notes.push(format!("{m} in {path}"));
                }
            }
            files.push(HostFile {
                host: host.name.clone(),
                path,
                mode,
                content,
            });
        }
    }
    Ok((files, notes))
}

/// Write `out_dir/hosts/<host>/<remote path>` for every file of every host.
pub fn render_all(
    inv: &Inventory,
    books: &Playbooks,
    out_dir: &Path,
) -> Result<RenderReport, RenderError> {
    let (files, notes) = host_files(inv, books)?;
    let mut report = RenderReport {
        files: Vec::new(),
        notes,
    };
    for f in files {
        let dest = out_dir
            .join("hosts")
            .join(&f.host)
            .join(f.path.trim_start_matches('/'));
        let io = |source| RenderError::Io {
            path: dest.clone(),
            source,
        };
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&dest, &f.content).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Some(m) = crate::playbook::parse_mode(&f.mode) {
                std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(m)).map_err(io)?;
            }
        }
        report.files.push(dest);
    }
    Ok(report)
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
