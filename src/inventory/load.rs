//! Parse + validate an inventory file: TOML syntax, then every section (reader/resolve), all
//! problems collected and reported in file order as `FILE:LINE:COL: message (hint)`.

use std::fmt;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use super::model::Inventory;
use super::reader::{Diags, Issue};
use super::resolve::{self, Env};
/// One problem found in an inventory, with its position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub col: usize,
    pub message: String,
    /// What would be right.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

/// Every error found (validation does not stop at the first).
#[derive(Debug, thiserror::Error)]
pub struct InventoryError {
    pub diagnostics: Vec<Diagnostic>,
    /// Warnings found alongside the errors, so `check` can show both.
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct Loaded {
    pub inventory: Inventory,
    pub warnings: Vec<Diagnostic>,
}

/// Read and validate `path`.
pub fn load(path: &Path) -> Result<Loaded, InventoryError> {
    let text = std::fs::read_to_string(path).map_err(|e| InventoryError {
        diagnostics: vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            col: 1,
            message: format!("cannot read inventory: {e}"),
            hint: Some("pass an existing file with -i/--inventory or OTP_INVENTORY".into()),
        }],
        warnings: Vec::new(),
    })?;
    load_str(path, &text)
}

/// Validate inventory text as if it were read from `path`: relative paths inside it resolve
/// against `path`'s directory, `~` against `$HOME`.
pub fn load_str(path: &Path, text: &str) -> Result<Loaded, InventoryError> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    load_with_home(path, text, home)
}

/// [`load_str`] with an explicit home directory (tests must not depend on the caller's `$HOME`).
pub fn load_with_home(
    path: &Path,
    text: &str,
    home: Option<PathBuf>,
) -> Result<Loaded, InventoryError> {
    let source = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base_dir = source
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let env = Env { home, base_dir };
    let mut d = Diags::new(text);

    let (root, syntax) = DeTable::parse_recoverable(text);
    let inventory = if syntax.is_empty() {
        resolve::resolve(root.get_ref(), source, &env, &mut d)
    } else {
        // A recovered tree misses whatever the broken lines held; validating it would only
        // add follow-on errors, so syntax errors are reported alone.
        for e in &syntax {
            let span = e.span().unwrap_or(0..0);
            d.error(span, e.message().to_string(), syntax_hint(e.message()));
        }
        None
    };

    let errors = to_diagnostics(&d, path, &d.errors);
    let warnings = to_diagnostics(&d, path, &d.warnings);
    match inventory {
        Some(inventory) if errors.is_empty() => Ok(Loaded {
            inventory,
            warnings,
        }),
        _ => Err(InventoryError {
            diagnostics: errors,
            warnings,
        }),
    }
}

/// Sorted by position; the same problem reached through several hosts (a bad `[ssh]` value
/// inherited by all of them) is reported once.
fn to_diagnostics(d: &Diags, file: &Path, issues: &[Issue]) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = issues
        .iter()
        .map(|i| {
            let (line, col) = d.lines.position(i.span.start);
            Diagnostic {
                file: file.to_path_buf(),
                line,
                col,
                message: i.message.clone(),
                hint: i.hint.clone(),
            }
        })
        .collect();
    out.sort_by_key(|x| (x.line, x.col));
    let mut seen = std::collections::HashSet::new();
    out.retain(|x| seen.insert((x.line, x.col, x.message.clone())));
    out
}

/// What would be right, for the TOML parser's messages.
fn syntax_hint(message: &str) -> String {
    let m = message.to_ascii_lowercase();
    if m.contains("duplicate key") {
        "a key or [table] may appear only once; for several hosts use [[host]] (double brackets)"
            .into()
    } else if m.contains("must be quoted") {
        "quote strings: key = \"value\"".into()
    } else if m.contains("unclosed") || m.contains("expected `\"`") || m.contains("expected `'`") {
        "close the string, array or table that starts here".into()
    } else if m.contains("expected `=`") || m.contains("key") {
        "each line is key = value; keys are bare words or quoted".into()
    } else {
        "fix the TOML syntax here (https://toml.io)".into()
    }
}
