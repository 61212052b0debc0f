//! Parse + validate an inventory file. STUB: the inventory helper replaces this body.

use std::fmt;
use std::path::{Path, PathBuf};

use super::model::Inventory;

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
    })?;
    load_str(path, &text)
}

/// Validate inventory text as if it were read from `path` (used by tests).
pub fn load_str(path: &Path, _text: &str) -> Result<Loaded, InventoryError> {
    Err(InventoryError {
        diagnostics: vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            col: 1,
            message: "inventory loading not implemented yet".into(),
            hint: None,
        }],
    })
}
