//! Output formats. Every writer streams (no buffering of the whole output), so `--follow` can
//! use the same writers.
//!
//! - `ndjson`: one JSON object per record: `ts`, `host`, `source`, `parser`, then the fields
//!   flattened (a field named like one of those four is written as `field_<name>`).
//! - `csv`: fixed columns `ts,host,source,parser,level,message,fields`: the header never depends
//!   on the data (a union of field names would need all records before the first line);
//!   `fields` holds the remaining fields as a JSON object.
//! - `logfmt`: `ts=… host=… source=… parser=… key=value…`, values quoted when needed.
//! - `text`: `TS HOST SOURCE [LEVEL] MESSAGE key=value…` for people.

use std::io::{self, Write};

use clap::ValueEnum;

use super::parser::Val;
use super::record::Record;
use crate::timestamp::write_rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum Format {
    Text,
    Ndjson,
    Csv,
    Logfmt,
}

const RESERVED: [&str; 4] = ["ts", "host", "source", "parser"];
const LEVEL_KEYS: [&str; 4] = ["level", "severity", "lvl", "loglevel"];
const MESSAGE_KEYS: [&str; 5] = ["message", "msg", "log", "MESSAGE", "raw"];
const PRIORITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

pub struct Writer<W: Write> {
    format: Format,
    out: W,
    header_done: bool,
    buf: String,
}

impl<W: Write> Writer<W> {
    pub fn new(format: Format, out: W) -> Self {
        Writer {
            format,
            out,
            header_done: false,
            buf: String::with_capacity(1024),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn write(&mut self, r: &Record<'_>) -> io::Result<()> {
        self.buf.clear();
        match self.format {
            Format::Ndjson => ndjson(&mut self.buf, r),
            Format::Csv => {
                if !self.header_done {
                    self.buf
                        .push_str("ts,host,source,parser,level,message,fields\n");
                    self.header_done = true;
                }
                csv(&mut self.buf, r)
            }
            Format::Logfmt => logfmt(&mut self.buf, r),
            Format::Text => text(&mut self.buf, r),
        }
        self.buf.push('\n');
        self.out.write_all(self.buf.as_bytes())
    }
}

fn ts_string(out: &mut String, ts: Option<i64>, digits: u32) {
    if let Some(t) = ts {
        write_rfc3339(out, t, digits);
    }
}

fn json_str(out: &mut String, s: &str) {
    // serde_json writes valid JSON strings (escapes, control characters).
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn json_val(out: &mut String, v: &Val<'_>) {
    use std::fmt::Write as _;
    match v {
        Val::Str(s) => json_str(out, s),
        Val::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Val::Float(f) if f.is_finite() => {
            let _ = write!(out, "{f}");
        }
        Val::Float(_) => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Json(j) => out.push_str(&j.to_string()),
    }
}

/// A value as plain text (logfmt, text, CSV columns).
fn plain<'v>(v: &'v Val<'_>) -> std::borrow::Cow<'v, str> {
    match v {
        Val::Str(s) => std::borrow::Cow::Borrowed(s),
        Val::Int(i) => i.to_string().into(),
        Val::Float(f) => f.to_string().into(),
        Val::Bool(b) => b.to_string().into(),
        Val::Json(j) => j.to_string().into(),
    }
}

fn ndjson(out: &mut String, r: &Record<'_>) {
    out.push_str("{\"ts\":");
    match r.ts {
        Some(_) => {
            out.push('"');
            ts_string(out, r.ts, 9);
            out.push('"');
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"host\":");
    json_str(out, r.host);
    out.push_str(",\"source\":");
    json_str(out, r.source);
    out.push_str(",\"parser\":");
    json_str(out, r.parser);
    for (k, v) in &r.fields {
        out.push(',');
        if RESERVED.contains(&k.as_ref()) {
            json_str(out, &format!("field_{k}"));
        } else {
            json_str(out, k);
        }
        out.push(':');
        json_val(out, v);
    }
    out.push('}');
}

/// Index of the level and message fields (first of the usual names).
fn level_message(r: &Record<'_>) -> (Option<usize>, Option<usize>) {
    let find = |keys: &[&str]| {
        keys.iter()
            .find_map(|want| r.fields.iter().position(|(k, _)| k == want))
    };
    (find(&LEVEL_KEYS), find(&MESSAGE_KEYS))
}

/// The level to show: the field's value, or the journal priority's name.
fn level_text<'r>(r: &'r Record<'_>, at: Option<usize>) -> Option<std::borrow::Cow<'r, str>> {
    if let Some(i) = at {
        return Some(plain(&r.fields[i].1));
    }
    match r.get("priority") {
        Some(Val::Int(p)) if (0..8).contains(p) => Some(PRIORITIES[*p as usize].into()),
        _ => None,
    }
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn csv(out: &mut String, r: &Record<'_>) {
    let mut ts = String::new();
    ts_string(&mut ts, r.ts, 9);
    out.push_str(&ts);
    for s in [r.host, r.source, r.parser] {
        out.push(',');
        csv_field(out, s);
    }
    let (li, mi) = level_message(r);
    out.push(',');
    if let Some(l) = level_text(r, li) {
        csv_field(out, &l);
    }
    out.push(',');
    if let Some(i) = mi {
        csv_field(out, &plain(&r.fields[i].1));
    }
    out.push(',');
    let mut extra = String::from("{");
    for (i, (k, v)) in r.fields.iter().enumerate() {
        if Some(i) == li || Some(i) == mi {
            continue;
        }
        if extra.len() > 1 {
            extra.push(',');
        }
        json_str(&mut extra, k);
        extra.push(':');
        json_val(&mut extra, v);
    }
    extra.push('}');
    csv_field(out, &extra);
}

fn logfmt_key(out: &mut String, k: &str) {
    if k.is_empty() {
        out.push('_');
    }
    for c in k.chars() {
        out.push(
            if c == '=' || c == '"' || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            },
        );
    }
}

fn logfmt_value(out: &mut String, s: &str) {
    let needs = s.is_empty()
        || s.chars().any(|c| {
            c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control() || c.is_whitespace()
        });
    if !needs {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn logfmt_pair(out: &mut String, k: &str, v: &str) {
    if !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
    logfmt_key(out, k);
    out.push('=');
    logfmt_value(out, v);
}

fn logfmt(out: &mut String, r: &Record<'_>) {
    let mut ts = String::new();
    ts_string(&mut ts, r.ts, 9);
    logfmt_pair(out, "ts", &ts);
    logfmt_pair(out, "host", r.host);
    logfmt_pair(out, "source", r.source);
    logfmt_pair(out, "parser", r.parser);
    for (k, v) in &r.fields {
        let k = if RESERVED.contains(&k.as_ref()) {
            std::borrow::Cow::Owned(format!("field_{k}"))
        } else {
            std::borrow::Cow::Borrowed(k.as_ref())
        };
        logfmt_pair(out, &k, &plain(v));
    }
}

fn text(out: &mut String, r: &Record<'_>) {
    match r.ts {
        Some(_) => ts_string(out, r.ts, 3),
        None => out.push('-'),
    }
    out.push(' ');
    out.push_str(r.host);
    out.push(' ');
    out.push_str(r.source);
    out.push(':');
    let (li, mi) = level_message(r);
    if let Some(l) = level_text(r, li) {
        out.push_str(" [");
        out.push_str(&l);
        out.push(']');
    }
    if let Some(i) = mi {
        out.push(' ');
        // One record, one line: a message's own newlines are shown escaped.
        let m = plain(&r.fields[i].1);
        if m.contains(['\n', '\r']) {
            out.push_str(&m.replace('\n', "\\n").replace('\r', "\\r"));
        } else {
            out.push_str(&m);
        }
    }
    let mut extras = String::new();
    for (i, (k, v)) in r.fields.iter().enumerate() {
        if Some(i) == li || Some(i) == mi || k == "priority" {
            continue;
        }
        logfmt_pair(&mut extras, k, &plain(v));
    }
    if !extras.is_empty() {
        // Two spaces set the fields apart from a message.
        out.push_str(if mi.is_some() { "  " } else { " " });
        out.push_str(&extras);
    }
}
