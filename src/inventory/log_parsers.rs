//! `[[log_parser]]` sections: the operator's log parsers, shared by Fluent Bit (rendered into its
//! `parsers:` section) and `otp-provision logs` (which parses with the same definitions).
//!
//! Validation compiles every regex and time format here, so a definition Fluent Bit would reject
//! or misread is an inventory error with its position, not a crash-looping DaemonSet.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_spanned::Spanned;
use toml::de::DeValue;

use super::checks;
use super::reader::{Diags, Span, TableReader};
use crate::timestamp::{SUPPORTED_DIRECTIVES, TimeFormat};

/// One parser definition, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogParser {
    pub name: String,
    pub format: LogFormat,
    /// Named-capture regex (`format = "regex"` only).
    pub regex: Option<String>,
    /// Field holding the record's time.
    pub time_key: Option<String>,
    /// strptime-style, with Fluent Bit's `%L` for fractional seconds.
    pub time_format: Option<String>,
    /// Keep the time field in the record after reading the time from it (Fluent Bit default: off).
    pub time_keep: bool,
    /// Field conversions (`code:integer`).
    pub types: Vec<FieldType>,
    /// Pod logs of these namespaces (globs with `*` and `?`).
    pub namespaces: Vec<String>,
    /// Pod logs of these container names (globs).
    pub containers: Vec<String>,
    /// Journal units (`kubelet` or `kubelet.service`; globs).
    pub units: Vec<String>,
    /// Absolute file path globs.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    Regex,
    Json,
    Logfmt,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Regex => "regex",
            LogFormat::Json => "json",
            LogFormat::Logfmt => "logfmt",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldType {
    pub field: String,
    pub kind: FieldKind,
}

/// Fluent Bit's `types` conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    String,
    Integer,
    Float,
    Bool,
    Hex,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::String => "string",
            FieldKind::Integer => "integer",
            FieldKind::Float => "float",
            FieldKind::Bool => "bool",
            FieldKind::Hex => "hex",
        }
    }
}

const KINDS: [(&str, FieldKind); 5] = [
    ("string", FieldKind::String),
    ("integer", FieldKind::Integer),
    ("float", FieldKind::Float),
    ("bool", FieldKind::Bool),
    ("hex", FieldKind::Hex),
];

/// Names of the built-in parsers; an inventory parser may not reuse them.
pub const BUILTIN_NAMES: [&str; 8] = [
    "cri",
    "klog",
    "syslog",
    "syslog-iso",
    "containerd",
    "audit",
    "json",
    "logfmt",
];

impl LogParser {
    fn plain(name: &str, format: LogFormat) -> LogParser {
        LogParser {
            name: name.into(),
            format,
            regex: None,
            time_key: None,
            time_format: None,
            time_keep: true,
            types: Vec::new(),
            namespaces: Vec::new(),
            containers: Vec::new(),
            units: Vec::new(),
            files: Vec::new(),
        }
    }

    /// The built-in parsers as Fluent Bit definitions. `otp-provision logs` runs hand-written
    /// equivalents of the regex ones (tested to agree with these regexes) for speed.
    pub fn builtins() -> Vec<LogParser> {
        // The record carries the time, so the text copy is dropped (time_keep off) except
        // for audit events, whose several timestamps are all meaningful.
        let regex = |name: &str, re: &str, tk: &str, tf: &str| LogParser {
            regex: Some(re.into()),
            time_key: Some(tk.into()),
            time_format: Some(tf.into()),
            time_keep: false,
            ..LogParser::plain(name, LogFormat::Regex)
        };
        vec![
            // containerd's CRI log file lines (Fluent Bit's own `cri` parser).
            regex(
                "cri",
                r"^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[^ ]*) (?<message>.*)$",
                "time",
                "%Y-%m-%dT%H:%M:%S.%L%z",
            ),
            // Kubernetes components (klog): `I0501 10:00:00.123456    1234 file.go:12] msg`.
            regex(
                "klog",
                r"^(?<level>[IWEF])(?<time>[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+) +(?<pid>[0-9]+) (?<caller>[^ \]]+)\] (?<message>.*)$",
                "time",
                "%m%d %H:%M:%S.%L",
            ),
            // BSD syslog files (Fluent Bit's `syslog-rfc3164-local`, `host` renamed `hostname`).
            regex(
                "syslog",
                r"^(?<time>[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}) (?<hostname>[^ ]*) (?<ident>[a-zA-Z0-9_/.\-]*)(?:\[(?<pid>[0-9]+)\])?(?:[^:]*:)? *(?<message>.*)$",
                "time",
                "%b %d %H:%M:%S",
            ),
            // journalctl -o short-iso(-precise) and rsyslog's RFC 3339 file format.
            regex(
                "syslog-iso",
                r"^(?<time>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+(?:Z|[+-][0-9]{2}:?[0-9]{2})) (?<hostname>[^ ]*) (?<ident>[a-zA-Z0-9_/.\-]*)(?:\[(?<pid>[0-9]+)\])?(?:[^:]*:)? *(?<message>.*)$",
                "time",
                "%Y-%m-%dT%H:%M:%S.%L%z",
            ),
            LogParser {
                time_key: Some("time".into()),
                time_format: Some("%Y-%m-%dT%H:%M:%S.%L%z".into()),
                time_keep: false,
                ..LogParser::plain("containerd", LogFormat::Logfmt)
            },
            LogParser {
                time_key: Some("requestReceivedTimestamp".into()),
                time_format: Some("%Y-%m-%dT%H:%M:%S.%L%z".into()),
                ..LogParser::plain("audit", LogFormat::Json)
            },
            LogParser::plain("json", LogFormat::Json),
            LogParser::plain("logfmt", LogFormat::Logfmt),
        ]
    }

    /// This parser as one entry of Fluent Bit's YAML `parsers:` list (2-space indented item).
    pub fn fluent_bit_yaml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "- name: {}", yaml_quote(&self.name));
        let _ = writeln!(s, "  format: {}", self.format.as_str());
        if let Some(r) = &self.regex {
            let _ = writeln!(s, "  regex: {}", yaml_quote(r));
        }
        if let Some(k) = &self.time_key {
            let _ = writeln!(s, "  time_key: {}", yaml_quote(k));
        }
        if let Some(f) = &self.time_format {
            let _ = writeln!(s, "  time_format: {}", yaml_quote(f));
        }
        if self.time_key.is_some() {
            let _ = writeln!(
                s,
                "  time_keep: {}",
                if self.time_keep { "on" } else { "off" }
            );
        }
        if !self.types.is_empty() {
            let types = self
                .types
                .iter()
                .map(|t| format!("{}:{}", t.field, t.kind.as_str()))
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(s, "  types: {}", yaml_quote(&types));
        }
        s
    }
}

/// Fluent Bit `parsers:` list items for every parser, in order.
pub fn fluent_bit_parsers_yaml(parsers: &[LogParser]) -> String {
    parsers.iter().map(LogParser::fluent_bit_yaml).collect()
}

/// A `namespaces`/`containers` glob as a regex fragment for Fluent Bit's tag
/// `kube.var.log.containers.<pod>_<namespace>_<container>-<id>.log`: `*` becomes `[^_]*`, `?`
/// `[^_]`, the rest is literal. Kubernetes names contain no `_`, so a fragment stays inside its
/// field of the tag.
pub fn glob_to_tag_regex(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() + 8);
    for c in glob.chars() {
        match c {
            '*' => out.push_str("[^_]*"),
            '?' => out.push_str("[^_]"),
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out
}

/// Single-quoted YAML scalar: no escapes inside, `'` doubled. Safe for regexes and `%` formats.
fn yaml_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Onigmo's Ruby syntax (Fluent Bit) reads `\d \w \s \h` as ASCII classes; Rust's regex
/// reads the first three as Unicode and lacks `\h`. Rewrites them (and their negations) as
/// explicit classes, which also work nested inside `[...]`. Used where the inventory is checked
/// and where `logs` compiles the parsers, so it lives here, below both.
pub fn onigmo_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(n) = chars.next() else {
            out.push(c);
            break;
        };
        match n {
            'd' => out.push_str("[0-9]"),
            'D' => out.push_str("[^0-9]"),
            'w' => out.push_str("[0-9A-Za-z_]"),
            'W' => out.push_str("[^0-9A-Za-z_]"),
            's' => out.push_str("[\\t\\n\\x0B\\f\\r ]"),
            'S' => out.push_str("[^\\t\\n\\x0B\\f\\r ]"),
            'h' => out.push_str("[0-9a-fA-F]"),
            'H' => out.push_str("[^0-9a-fA-F]"),
            _ => {
                out.push(c);
                out.push(n);
            }
        }
    }
    out
}

/// The named captures of a regex, or its error as (message, character in the regex).
/// Read with Onigmo's ASCII `\d \w \s \h` (see [`onigmo_classes`]); errors are
/// positioned in the pattern as written.
pub fn regex_captures(re: &str) -> Result<Vec<String>, (String, Option<usize>)> {
    match regex::Regex::new(&onigmo_classes(re)) {
        Ok(r) => Ok(r.capture_names().flatten().map(str::to_string).collect()),
        Err(e) => Err(match regex::Regex::new(re) {
            Err(orig) => regex_error(&orig),
            Ok(_) => regex_error(&e),
        }),
    }
}

/// The one-line cause and the 1-based character of a regex error (regex prints a caret diagram).
fn regex_error(e: &regex::Error) -> (String, Option<usize>) {
    let text = e.to_string();
    let cause = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or(text.lines().last().unwrap_or("invalid regex"))
        .to_string();
    let caret = text
        .lines()
        .find(|l| l.contains('^') && l.chars().all(|c| c == ' ' || c == '^'))
        .and_then(|l| l.find('^'))
        .map(|i| i.saturating_sub(4) + 1);
    (cause, caret)
}

fn glob_ok(s: &str) -> bool {
    !s.is_empty() && !s.contains(['[', ']', '{', '}'])
}

/// Reads every `[[log_parser]]` of the inventory (registering the key with the top table).
pub(crate) fn read(top: &mut TableReader<'_, '_>, d: &mut Diags) -> Vec<LogParser> {
    let tables = top.array_of_tables(d, "log_parser").unwrap_or_default();
    let mut seen: HashMap<String, Span> = HashMap::new();
    let mut out = Vec::new();
    for t in tables {
        if let Some(p) = read_one(t, d, &mut seen) {
            out.push(p);
        }
    }
    out
}

fn read_one(
    mut t: TableReader<'_, '_>,
    d: &mut Diags,
    seen: &mut HashMap<String, Span>,
) -> Option<LogParser> {
    let errors_before = d.errors.len();
    let name = t.nonempty(d, "name");
    let who = name
        .as_ref()
        .map(|n| format!("log parser `{}`", n.get_ref()))
        .unwrap_or_else(|| t.path.clone());
    if name.is_none() && t.key_span("name").is_none() && !t.has_misspelling_of("name") {
        d.error(
            t.span.clone(),
            format!("{} has no name", t.path),
            "add name = \"my_app\"; Fluent Bit and pod annotations refer to parsers by name",
        );
    }
    if let Some(n) = &name {
        let s = n.get_ref();
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            d.error(
                n.span(),
                format!("log parser name `{s}` has characters other than letters, digits, `_-.`"),
                "use a name like bank_app",
            );
        } else if BUILTIN_NAMES.contains(&s.as_str()) {
            d.error(
                n.span(),
                format!("log parser name `{s}` is reserved for a built-in parser"),
                format!(
                    "choose another name; built-ins: {}",
                    BUILTIN_NAMES.join(", ")
                ),
            );
        } else if let Some(first) = seen.get(s) {
            d.error(
                n.span(),
                format!("duplicate log parser name `{s}`"),
                format!(
                    "first defined at {}; parser names must be unique",
                    d.line_of(first)
                ),
            );
        } else {
            seen.insert(s.clone(), n.span());
        }
    }

    let format_str = t.string(d, "format");
    if format_str.is_none() && t.key_span("format").is_none() && !t.has_misspelling_of("format") {
        d.error(
            t.span.clone(),
            format!("{who} has no format"),
            "add format = \"regex\" (or \"json\", \"logfmt\")",
        );
    }
    let format = format_str.and_then(|f| {
        let names = ["regex", "json", "logfmt"];
        match f.get_ref().as_str() {
            "regex" => Some(LogFormat::Regex),
            "json" => Some(LogFormat::Json),
            "logfmt" => Some(LogFormat::Logfmt),
            other => {
                d.error(
                    f.span(),
                    format!("unknown log parser format `{other}` in {who}"),
                    checks::one_of_hint(other, &names),
                );
                None
            }
        }
    });

    let regex = t.nonempty(d, "regex");
    let mut captures: Option<Vec<String>> = None;
    match (&format, &regex) {
        (Some(LogFormat::Regex), None) if t.key_span("regex").is_none() => d.error(
            t.span.clone(),
            format!("{who} has format = \"regex\" but no regex"),
            "add regex = '^(?<time>[^ ]+) (?<message>.*)$' with named captures",
        ),
        (Some(f @ (LogFormat::Json | LogFormat::Logfmt)), Some(r)) => d.error(
            r.span(),
            format!(
                "`regex` is only used with format = \"regex\", {who} is {}",
                f.as_str()
            ),
            "remove regex, or set format = \"regex\"",
        ),
        (_, Some(r)) => match regex_captures(r.get_ref()) {
            Ok(names) => {
                if names.is_empty() {
                    d.error(
                        r.span(),
                        format!("the regex of {who} has no named captures"),
                        "name the fields: (?<level>[A-Z]+); unnamed groups produce no fields",
                    );
                }
                // Onigmo (Fluent Bit) rejects other characters in group names.
                for n in &names {
                    if !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        d.error(
                            r.span(),
                            format!("capture name `{n}` in the regex of {who} is not valid in Fluent Bit"),
                            "capture names may contain only letters, digits and `_`",
                        );
                    }
                }
                captures = Some(names);
            }
            Err((cause, at)) => {
                let at = at
                    .map(|c| format!(" at character {c} of the regex"))
                    .unwrap_or_default();
                d.error(
                    r.span(),
                    format!("invalid regex in {who}{at}: {cause}"),
                    "regexes use named captures (?<name>...) and the Rust regex syntax, the part \
                     of Fluent Bit's Onigmo without look-around or backreferences",
                );
            }
        },
        _ => {}
    }

    let time_key = t.nonempty(d, "time_key");
    let time_format = t.nonempty(d, "time_format");
    if let (Some(k), Some(caps)) = (&time_key, &captures)
        && !caps.contains(k.get_ref())
    {
        d.error(
            k.span(),
            format!(
                "time_key `{}` of {who} is not a named capture of its regex",
                k.get_ref()
            ),
            format!(
                "named captures: {}; add (?<{}>...) to the regex or change time_key",
                caps.join(", "),
                k.get_ref()
            ),
        );
    }
    if let Some(f) = &time_format {
        if let Err(e) = TimeFormat::compile(f.get_ref()) {
            d.error(
                f.span(),
                format!("{} in {who}", e.message),
                format!("supported: {SUPPORTED_DIRECTIVES}"),
            );
        }
        if time_key.is_none() && t.key_span("time_key").is_none() {
            d.error(
                f.span(),
                format!("{who} has time_format but no time_key"),
                "add time_key = \"time\" naming the field that holds the time",
            );
        }
    } else if let Some(k) = &time_key
        && t.key_span("time_format").is_none()
    {
        d.error(
            k.span(),
            format!("{who} has time_key but no time_format"),
            "add time_format = \"%Y-%m-%dT%H:%M:%S.%L%z\" (strptime; %L = fraction of a second)",
        );
    }
    let time_keep = t
        .boolean(d, "time_keep")
        .map(Spanned::into_inner)
        .unwrap_or(false);

    let types = read_types(&mut t, d, &who, captures.as_deref());

    let mut selector = |key: &'static str, check: fn(&str) -> Option<&'static str>| {
        let list = t
            .string_list(d, key)
            .map(Spanned::into_inner)
            .unwrap_or_default();
        let mut out = Vec::new();
        for item in list {
            match check(item.get_ref()) {
                None => out.push(item.into_inner()),
                Some(hint) => d.error(
                    item.span(),
                    format!("`{}` in `{key}` of {who} is not valid", item.get_ref()),
                    hint,
                ),
            }
        }
        out
    };
    let name_check = |s: &str| -> Option<&'static str> {
        (!glob_ok(s) || s.contains(['/', ' ']))
            .then_some("a name or a glob with * and ?, e.g. \"payments\" or \"pay-*\"")
    };
    let namespaces = selector("namespaces", name_check);
    let containers = selector("containers", name_check);
    let units = selector("units", |s| {
        (!glob_ok(s) || s.contains(['/', ' ']))
            .then_some("a systemd unit name or glob, e.g. \"kubelet\" or \"kube*.service\"")
    });
    let files = selector("files", |s| {
        (!glob_ok(s) || !s.starts_with('/'))
            .then_some("an absolute path or glob with * and ?, e.g. \"/var/log/app/*.log\"")
    });
    let header = t.span.clone();
    t.finish(d);

    if namespaces.is_empty() && containers.is_empty() && units.is_empty() && files.is_empty() {
        d.warn(
            name.as_ref().map(|n| n.span()).unwrap_or(header),
            format!("{who} is not selected by namespaces, containers, units or files"),
            "Fluent Bit still offers it to pods annotated fluentbit.io/parser; \
             `otp-provision logs` only uses parsers that select a source",
        );
    }
    if d.errors.len() > errors_before {
        return None;
    }
    Some(LogParser {
        name: name?.into_inner(),
        format: format?,
        regex: regex.map(Spanned::into_inner),
        time_key: time_key.map(Spanned::into_inner),
        time_format: time_format.map(Spanned::into_inner),
        time_keep,
        types,
        namespaces,
        containers,
        units,
        files,
    })
}

/// `types = "code:integer size:integer"` (Fluent Bit's form) or `types = ["code:integer"]`.
fn read_types(
    t: &mut TableReader<'_, '_>,
    d: &mut Diags,
    who: &str,
    captures: Option<&[String]>,
) -> Vec<FieldType> {
    let Some((_, v)) = t.raw("types") else {
        return Vec::new();
    };
    let items: Vec<(Span, String)> = match v.get_ref() {
        DeValue::String(s) => s
            .split_whitespace()
            .map(|w| (v.span(), w.to_string()))
            .collect(),
        DeValue::Array(a) => a
            .iter()
            .filter_map(|i| match i.get_ref() {
                DeValue::String(s) => Some((i.span(), s.to_string())),
                other => {
                    d.error(
                        i.span(),
                        format!(
                            "items of `types` in {who} must be strings, found {}",
                            other.type_str()
                        ),
                        "write types = [\"code:integer\", \"took:float\"]",
                    );
                    None
                }
            })
            .collect(),
        other => {
            d.error(
                v.span(),
                format!(
                    "`types` in {who} must be a string or an array of strings, found {}",
                    other.type_str()
                ),
                "write types = [\"code:integer\", \"took:float\"]",
            );
            return Vec::new();
        }
    };
    let names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
    let mut out = Vec::new();
    for (span, item) in items {
        let Some((field, kind)) = item.split_once(':') else {
            d.error(
                span,
                format!("type `{item}` in {who} is not FIELD:TYPE"),
                "write e.g. \"code:integer\"",
            );
            continue;
        };
        let Some((_, kind)) = KINDS.iter().find(|(n, _)| *n == kind) else {
            d.error(
                span,
                format!("unknown type `{kind}` for field `{field}` in {who}"),
                checks::one_of_hint(kind, &names),
            );
            continue;
        };
        if field.is_empty() {
            d.error(
                span,
                format!("type `{item}` in {who} has no field name"),
                "write e.g. \"code:integer\"",
            );
            continue;
        }
        if let Some(caps) = captures
            && !caps.iter().any(|c| c == field)
        {
            d.warn(
                span.clone(),
                format!("`types` of {who} converts `{field}`, which its regex does not capture"),
                format!("named captures: {}", caps.join(", ")),
            );
        }
        out.push(FieldType {
            field: field.to_string(),
            kind: *kind,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::inventory::{Loaded, load_with_home};

    use super::*;

    /// Valid inventory of 7 lines; cases append from line 8.
    const MIN: &str = r#"[cluster]
name = "c"
kubernetes_version = "1.33.4"
[[host]]
name = "cp1"
address = "10.0.0.11"
roles = ["control-plane"]
"#;

    fn load(extra: &str) -> Result<Loaded, crate::inventory::InventoryError> {
        load_with_home(
            Path::new("/inv/cluster.toml"),
            &format!("{MIN}{extra}"),
            Some(PathBuf::from("/home/op")),
        )
    }

    const GOOD: &str = r#"[[log_parser]]
name = "bank_app"
format = "regex"
regex = '^(?<time>\S+) +(?<level>[A-Z]+) +\[(?<thread>[^\]]*)\] (?<code>\d+) (?<message>.*)$'
time_key = "time"
time_format = "%Y-%m-%dT%H:%M:%S.%LZ"
time_keep = true
types = "code:integer"
namespaces = ["payments", "pay-*"]
containers = ["api"]
[[log_parser]]
name = "app_json"
format = "json"
time_key = "ts"
time_format = "%s"
units = ["myapp"]
files = ["/var/log/app/*.log"]
"#;

    #[test]
    fn valid_parsers_are_read() {
        let inv = load(GOOD).unwrap().inventory;
        assert_eq!(inv.log_parsers.len(), 2);
        let p = &inv.log_parsers[0];
        assert_eq!(p.name, "bank_app");
        assert_eq!(p.format, LogFormat::Regex);
        assert_eq!(p.time_key.as_deref(), Some("time"));
        assert!(p.time_keep);
        assert_eq!(
            p.types,
            vec![FieldType {
                field: "code".into(),
                kind: FieldKind::Integer
            }]
        );
        assert_eq!(p.namespaces, ["payments", "pay-*"]);
        let j = &inv.log_parsers[1];
        assert_eq!(j.format, LogFormat::Json);
        assert!(!j.time_keep, "Fluent Bit's default is time_keep off");
        assert_eq!(j.files, ["/var/log/app/*.log"]);
    }

    #[test]
    fn no_parsers_is_fine() {
        assert!(load("").unwrap().inventory.log_parsers.is_empty());
    }

    #[test]
    fn both_capture_syntaxes_are_accepted() {
        let extra = r#"[[log_parser]]
name = "p"
format = "regex"
regex = '^(?P<time>\S+) (?<msg>.*)$'
time_key = "time"
time_format = "%s"
units = ["x"]
"#;
        assert!(load(extra).is_ok());
    }

    struct Case {
        name: &'static str,
        extra: &'static str,
        at: &'static str,
        message: &'static str,
        hint: &'static str,
    }

    #[test]
    fn invalid_definitions_report_positions() {
        let cases = [
            Case {
                name: "bad regex, unclosed group",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"regex\"\nregex = '^(?<time>\\S+ (?<m>.*)$'\nunits = [\"x\"]\n",
                at: "11:9",
                message: "invalid regex in log parser `p` at character 2 of the regex: unclosed group",
                hint: "Onigmo",
            },
            Case {
                name: "look-around is Onigmo only",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"regex\"\nregex = '^(?<a>x)(?=y)'\nunits = [\"x\"]\n",
                at: "11:9",
                message: "look-around",
                hint: "without look-around",
            },
            Case {
                name: "time_key not captured",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"regex\"\nregex = '^(?<ts>\\S+) (?<m>.*)$'\ntime_key = \"time\"\ntime_format = \"%s\"\nunits = [\"x\"]\n",
                at: "12:12",
                message: "time_key `time` of log parser `p` is not a named capture",
                hint: "named captures: ts, m",
            },
            Case {
                name: "unknown format",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"regexp\"\nunits = [\"x\"]\n",
                at: "10:10",
                message: "unknown log parser format `regexp`",
                hint: "did you mean `regex`?",
            },
            Case {
                name: "missing format",
                extra: "[[log_parser]]\nname = \"p\"\nunits = [\"x\"]\n",
                at: "8:1",
                message: "log parser `p` has no format",
                hint: "format = \"regex\"",
            },
            Case {
                name: "regex format without regex",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"regex\"\nunits = [\"x\"]\n",
                at: "8:1",
                message: "has format = \"regex\" but no regex",
                hint: "named captures",
            },
            Case {
                name: "regex with json format",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"json\"\nregex = '(?<a>x)'\nunits = [\"x\"]\n",
                at: "11:9",
                message: "`regex` is only used with format = \"regex\"",
                hint: "remove regex",
            },
            Case {
                name: "bad time_format directive",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"json\"\ntime_key = \"t\"\ntime_format = \"%Y-%m-%dT%H:%M:%S.%N\"\nunits = [\"x\"]\n",
                at: "12:15",
                message: "unsupported time_format directive `%N` at character 19 in log parser `p`",
                hint: "supported: %Y",
            },
            Case {
                name: "time_format without time_key",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"json\"\ntime_format = \"%s\"\nunits = [\"x\"]\n",
                at: "11:15",
                message: "has time_format but no time_key",
                hint: "time_key = \"time\"",
            },
            Case {
                name: "time_key without time_format",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"json\"\ntime_key = \"t\"\nunits = [\"x\"]\n",
                at: "11:12",
                message: "has time_key but no time_format",
                hint: "%L",
            },
            Case {
                name: "duplicate names",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"json\"\nunits = [\"x\"]\n[[log_parser]]\nname = \"p\"\nformat = \"logfmt\"\nunits = [\"y\"]\n",
                at: "13:8",
                message: "duplicate log parser name `p`",
                hint: "first defined at line 9",
            },
            Case {
                name: "reserved built-in name",
                extra: "[[log_parser]]\nname = \"cri\"\nformat = \"json\"\nunits = [\"x\"]\n",
                at: "9:8",
                message: "reserved for a built-in parser",
                hint: "klog",
            },
            Case {
                name: "missing name",
                extra: "[[log_parser]]\nformat = \"json\"\nunits = [\"x\"]\n",
                at: "8:1",
                message: "[[log_parser]] #1 has no name",
                hint: "add name",
            },
            Case {
                name: "bad characters in the name",
                extra: "[[log_parser]]\nname = \"my app\"\nformat = \"json\"\nunits = [\"x\"]\n",
                at: "9:8",
                message: "has characters other than",
                hint: "bank_app",
            },
            Case {
                name: "capture name Fluent Bit rejects",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"regex\"\nregex = '^(?<a.b>x)'\nunits = [\"x\"]\n",
                at: "11:9",
                message: "capture name `a.b`",
                hint: "letters, digits and `_`",
            },
            Case {
                name: "regex without named captures",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"regex\"\nregex = '^(x) (y)$'\nunits = [\"x\"]\n",
                at: "11:9",
                message: "has no named captures",
                hint: "(?<level>",
            },
            Case {
                name: "unknown type",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"json\"\ntypes = [\"code:int\"]\nunits = [\"x\"]\n",
                at: "11:10",
                message: "unknown type `int` for field `code`",
                hint: "valid: `string`, `integer`",
            },
            Case {
                name: "type without colon",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"json\"\ntypes = \"code\"\nunits = [\"x\"]\n",
                at: "11:9",
                message: "type `code` in log parser `p` is not FIELD:TYPE",
                hint: "code:integer",
            },
            Case {
                name: "relative file glob",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"json\"\nfiles = [\"/ok/*.log\", \"app/*.log\"]\n",
                at: "11:23",
                message: "`app/*.log` in `files` of log parser `p` is not valid",
                hint: "absolute path",
            },
            Case {
                name: "unknown key",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"json\"\ntimekey = \"t\"\nunits = [\"x\"]\n",
                at: "11:1",
                message: "unknown key `timekey` in [[log_parser]] #1",
                hint: "did you mean `time_key`?",
            },
            Case {
                name: "single brackets",
                extra: "[log_parser]\nname = \"p\"\n",
                at: "8:1",
                message: "`log_parser` must be an array of tables",
                hint: "[[log_parser]]",
            },
            Case {
                name: "time_keep not a boolean",
                extra: "[[log_parser]]\nname = \"p\"\nformat = \"json\"\ntime_keep = \"on\"\nunits = [\"x\"]\n",
                at: "11:13",
                message: "`time_keep` in [[log_parser]] #1 must be a boolean",
                hint: "time_keep = true",
            },
        ];
        let mut failures = Vec::new();
        for c in &cases {
            let err = match load(c.extra) {
                Ok(_) => {
                    failures.push(format!("{}: accepted", c.name));
                    continue;
                }
                Err(e) => e,
            };
            let hit = err.diagnostics.iter().find(|x| {
                format!("{}:{}", x.line, x.col) == c.at
                    && x.message.contains(c.message)
                    && x.hint.as_deref().unwrap_or("").contains(c.hint)
            });
            if hit.is_none() {
                failures.push(format!(
                    "{}: want {} {:?} ({:?}), got:\n  {}",
                    c.name,
                    c.at,
                    c.message,
                    c.hint,
                    err.diagnostics
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join("\n  ")
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn warnings_for_unselected_parser_and_uncaptured_type() {
        let extra = "[[log_parser]]\nname = \"p\"\nformat = \"regex\"\nregex = '^(?<a>x)'\ntypes = \"b:integer\"\n";
        let loaded = load(extra).unwrap();
        let w: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
        assert!(
            w.iter()
                .any(|w| w.contains(":9:8: log parser `p` is not selected")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|w| w.contains(":12:9: `types` of log parser `p` converts `b`")),
            "{w:?}"
        );
    }

    #[test]
    fn builtins_are_valid_definitions() {
        for p in LogParser::builtins() {
            if let Some(r) = &p.regex {
                let caps = regex_captures(r).unwrap_or_else(|e| panic!("{}: {e:?}", p.name));
                assert!(caps.contains(p.time_key.as_ref().unwrap()), "{}", p.name);
            }
            if let Some(f) = &p.time_format {
                TimeFormat::compile(f).unwrap();
            }
            assert!(BUILTIN_NAMES.contains(&p.name.as_str()));
        }
    }

    #[test]
    fn globs_become_tag_regex_fragments() {
        assert_eq!(glob_to_tag_regex("payments"), "payments");
        assert_eq!(glob_to_tag_regex("pay-*"), "pay\\-[^_]*");
        assert_eq!(glob_to_tag_regex("a.b?"), "a\\.b[^_]");
        let re = regex::Regex::new(&format!("^{}$", glob_to_tag_regex("web-*"))).unwrap();
        assert!(re.is_match("web-api") && !re.is_match("web_api") && !re.is_match("webx"));
    }

    #[test]
    fn fluent_bit_rendering() {
        let inv = load(GOOD).unwrap().inventory;
        insta::assert_snapshot!(fluent_bit_parsers_yaml(&inv.log_parsers));
    }
}
