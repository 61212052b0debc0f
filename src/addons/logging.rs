//! Log parser definitions as the logging addon consumes them, and how Fluent Bit picks one per
//! namespace/container.
//!
//! Selection: container log lines first go through the tail input's `cri` multiline parser (it
//! strips containerd's `<time> <stream> <P|F>` prefix and joins partial lines), then the
//! kubernetes filter, then one `parser` filter per inventory parser whose `match_regex` selects
//! the tag `kube.var.log.containers.<pod>_<namespace>_<container>-<id>.log`. Per-input parsers
//! were rejected: a tail input has one parser, which must be `cri`, and splitting inputs per
//! namespace would need one inotify watch set and offset DB per rule. Pod, namespace and
//! container names cannot contain `_`, so the tag regex is exact. A line the parser does not match
//! keeps its raw `log` field (`reserve_data on`), it is never dropped.

use serde::Serialize;

use crate::inventory::Inventory;

/// One parser: regex with named captures, optional time key/format, and where it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogParser {
    pub name: String,
    /// Onigmo (Ruby) regex with named captures `(?<field>...)`.
    pub regex: String,
    pub time_key: Option<String>,
    /// strptime format of `time_key`, e.g. `%Y-%m-%dT%H:%M:%S.%LZ`.
    pub time_format: Option<String>,
    /// Keep the time field in the record after using it as the timestamp.
    pub time_keep: bool,
    /// Namespaces whose containers use this parser (empty: every namespace).
    pub namespaces: Vec<String>,
    /// Container names that use this parser (empty: every container).
    pub containers: Vec<String>,
}

impl LogParser {
    /// Fluent Bit `match_regex` selecting this parser's containers by tag.
    pub fn match_regex(&self) -> String {
        let alt = |names: &[String], any: &str| match names.len() {
            0 => any.to_string(),
            _ => format!("({})", names.join("|")),
        };
        format!(
            r"^kube\.var\.log\.containers\.[^_]+_{}_{}-[0-9a-f]{{64}}\.log$",
            alt(&self.namespaces, "[^_]+"),
            alt(&self.containers, "[^_]+"),
        )
    }
}

/// The inventory's `[[log_parser]]` definitions that select pods. Parsers meant only for journal
/// units or files are left out: an empty pod selector would otherwise match every container.
/// Globs (`*`, `?`) become regexes for the Fluent Bit tag match.
pub fn log_parsers(inv: &Inventory) -> Vec<LogParser> {
    use crate::inventory::{LogFormat, log_parsers::glob_to_tag_regex};
    inv.log_parsers
        .iter()
        .filter(|p| p.format == LogFormat::Regex)
        .filter(|p| !p.namespaces.is_empty() || !p.containers.is_empty())
        .map(|p| LogParser {
            name: p.name.clone(),
            regex: p.regex.clone().unwrap_or_default(),
            time_key: p.time_key.clone(),
            time_format: p.time_format.clone(),
            time_keep: p.time_keep,
            namespaces: p.namespaces.iter().map(|g| glob_to_tag_regex(g)).collect(),
            containers: p.containers.iter().map(|g| glob_to_tag_regex(g)).collect(),
        })
        .collect()
}
