//! What every section reader shares: the outside world (`Env`), spans, and the small value
//! readers (a choice among spellings, a required key, a path).

use std::path::{Path, PathBuf};

use serde_spanned::Spanned;

use crate::inventory::checks;
use crate::inventory::reader::{Diags, Span, TableReader};

/// What resolution needs from the outside world (injected so tests do not depend on `$HOME`).
pub(crate) struct Env {
    pub home: Option<PathBuf>,
    /// Absolute directory of the inventory file.
    pub base_dir: PathBuf,
}

pub(super) type Sp<T> = Spanned<T>;

pub(super) fn sp<T>(span: Span, v: T) -> Sp<T> {
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

pub(super) fn warn_missing(d: &mut Diags, p: &Sp<String>, path: &Path, what: &str, hint: &str) {
    if !path.exists() {
        d.warn(
            p.span(),
            format!("{what} `{}` does not exist", path.display()),
            hint,
        );
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
