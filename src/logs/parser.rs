//! The parsing engine: inventory definitions compiled once, applied to `&str` lines without
//! copying (field values borrow from the line, names from the parser).
//!
//! Built-in regex parsers (cri, klog, syslog, syslog-iso) run as hand-written splitters that
//! produce exactly what their Fluent Bit regexes (in [`LogParser::builtins`]) produce; a test
//! checks the two against each other. Custom regexes run through `regex::Regex::captures_read`
//! with one reused set of capture slots, so a line costs no allocation beyond its field list.

use std::borrow::Cow;
use std::cell::RefCell;

use memchr::memchr;

use crate::inventory::log_parsers::onigmo_classes;
use crate::inventory::{FieldKind, FieldType, LogFormat, LogParser};

use crate::timestamp::{TimeFormat, year_of};

/// A field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Nested JSON (objects, arrays, null) from JSON logs.
    Json(serde_json::Value),
}

impl Val<'_> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
}

pub type Key<'a> = Cow<'a, str>;
pub type Fields<'a> = Vec<(Key<'a>, Val<'a>)>;

/// Result of a parser that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    /// The time read from `time_key`, if the parser has one and it parsed.
    pub ts: Option<i64>,
    /// Whether that time is absolute (its format has a zone); zone-less times are read as UTC.
    pub zoned: bool,
}

#[derive(Debug)]
enum Kind {
    Regex {
        /// For ASCII lines: byte classes keep the NFA small enough for the fast capture
        /// engines (Unicode `\S`, `.` and negated classes are large automata).
        fast: regex::bytes::Regex,
        /// For other lines: `.` and classes match whole characters.
        exact: regex::Regex,
        names: Vec<Option<String>>,
        locs: RefCell<(regex::bytes::CaptureLocations, regex::CaptureLocations)>,
    },
    Json,
    Logfmt,
    Cri,
    Klog,
    Syslog,
    SyslogIso,
}

/// A compiled parser.
#[derive(Debug)]
pub struct Parser {
    pub def: LogParser,
    kind: Kind,
    time: Option<TimeFormat>,
}

#[derive(Debug, thiserror::Error)]
#[error("log parser `{name}`: {reason}")]
pub struct CompileError {
    pub name: String,
    pub reason: String,
}

impl Parser {
    /// Compiles a definition (already validated when it came from the inventory).
    pub fn compile(def: &LogParser) -> Result<Parser, CompileError> {
        let err = |reason: String| CompileError {
            name: def.name.clone(),
            reason,
        };
        let time = match &def.time_format {
            Some(f) => Some(TimeFormat::compile(f).map_err(|e| err(e.message))?),
            None => None,
        };
        let kind = match def.format {
            LogFormat::Json => Kind::Json,
            LogFormat::Logfmt => Kind::Logfmt,
            LogFormat::Regex => {
                let src = def
                    .regex
                    .as_deref()
                    .ok_or_else(|| err("format regex without a regex".into()))?;
                let src = onigmo_classes(src);
                let exact = regex::Regex::new(&src).map_err(|e| err(e.to_string()))?;
                // Patterns that need Unicode (`\p{L}`) keep it.
                let fast = regex::bytes::RegexBuilder::new(&src)
                    .unicode(false)
                    .build()
                    .or_else(|_| regex::bytes::Regex::new(&src))
                    .map_err(|e| err(e.to_string()))?;
                let names = exact
                    .capture_names()
                    .map(|n| n.map(str::to_string))
                    .collect();
                let locs = RefCell::new((fast.capture_locations(), exact.capture_locations()));
                Kind::Regex {
                    fast,
                    exact,
                    names,
                    locs,
                }
            }
        };
        Ok(Parser {
            def: def.clone(),
            kind,
            time,
        })
    }

    /// A built-in by name; its regex form is only used for the hand-written kinds' definition.
    fn builtin(def: &LogParser) -> Parser {
        let mut p = Parser::compile(def).expect("built-in parsers are valid");
        p.kind = match def.name.as_str() {
            "cri" => Kind::Cri,
            "klog" => Kind::Klog,
            "syslog" => Kind::Syslog,
            "syslog-iso" => Kind::SyslogIso,
            _ => p.kind,
        };
        p
    }

    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// Whether this parser's time is absolute.
    pub fn zoned(&self) -> bool {
        self.time.as_ref().is_some_and(TimeFormat::has_zone)
    }

    /// Parses `line`, appending its fields to `out`. `None` (and `out` unchanged) when the line
    /// does not match. `default_year` completes times without a year (klog, syslog).
    pub fn parse<'a>(
        &'a self,
        line: &'a str,
        default_year: i64,
        out: &mut Fields<'a>,
    ) -> Option<Matched> {
        let start = out.len();
        let ok = match &self.kind {
            Kind::Regex {
                fast,
                exact,
                names,
                locs,
            } => {
                let mut guard = locs.borrow_mut();
                let (fl, el) = &mut *guard;
                // On ASCII text both regexes mean the same; the byte one is faster.
                if line.is_ascii() {
                    fast.captures_read(fl, line.as_bytes())
                        .map(|_| push_captures(names, line, |i| fl.get(i), out))
                } else {
                    exact
                        .captures_read(el, line)
                        .map(|_| push_captures(names, line, |i| el.get(i), out))
                }
            }
            Kind::Json => json(line, out),
            Kind::Logfmt => logfmt(line, out),
            Kind::Cri => cri(line, out),
            Kind::Klog => klog(line, out),
            Kind::Syslog => syslog(line, out, false),
            Kind::SyslogIso => syslog(line, out, true),
        };
        if ok.is_none() {
            out.truncate(start);
            return None;
        }
        for t in &self.def.types {
            convert(&mut out[start..], t);
        }
        let mut ts = None;
        if let (Some(key), Some(fmt)) = (&self.def.time_key, &self.time)
            && let Some(i) = out[start..].iter().position(|(k, _)| k == key)
        {
            let i = start + i;
            ts = match &out[i].1 {
                Val::Str(s) => fmt.parse(s.as_bytes(), default_year),
                // JSON logs often carry epoch seconds as numbers.
                Val::Int(n) if fmt.as_str() == "%s" => Some(n * crate::timestamp::NANOS_PER_SEC),
                Val::Float(f) if fmt.as_str() == "%s" || fmt.as_str() == "%s.%L" => {
                    Some((f * 1e9) as i64)
                }
                _ => None,
            };
            if ts.is_some() && !self.def.time_keep {
                out.remove(i);
            }
        }
        Some(Matched {
            ts,
            zoned: self.zoned(),
        })
    }
}

fn push_captures<'a>(
    names: &'a [Option<String>],
    line: &'a str,
    get: impl Fn(usize) -> Option<(usize, usize)>,
    out: &mut Fields<'a>,
) {
    for (i, name) in names.iter().enumerate() {
        if let (Some(name), Some((s, e))) = (name, get(i)) {
            out.push((
                Cow::Borrowed(name.as_str()),
                Val::Str(Cow::Borrowed(&line[s..e])),
            ));
        }
    }
}

fn convert(fields: &mut [(Key<'_>, Val<'_>)], t: &FieldType) {
    for (k, v) in fields.iter_mut() {
        if *k != t.field {
            continue;
        }
        let Val::Str(s) = v else { continue };
        let s = s.trim();
        // A value that does not convert stays a string, as in Fluent Bit.
        let new = match t.kind {
            FieldKind::String => None,
            FieldKind::Integer => s.parse().ok().map(Val::Int),
            FieldKind::Float => s.parse().ok().map(Val::Float),
            FieldKind::Bool => Some(Val::Bool(s.eq_ignore_ascii_case("true"))),
            FieldKind::Hex => {
                let h = s
                    .strip_prefix("0x")
                    .or_else(|| s.strip_prefix("0X"))
                    .unwrap_or(s);
                i64::from_str_radix(h, 16).ok().map(Val::Int)
            }
        };
        if let Some(n) = new {
            *v = n;
        }
    }
}

#[inline]
fn field<'a>(out: &mut Fields<'a>, k: &'static str, v: &'a str) {
    out.push((Cow::Borrowed(k), Val::Str(Cow::Borrowed(v))));
}

/// `^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[^ ]*) (?<message>.*)$`
fn cri<'a>(line: &'a str, out: &mut Fields<'a>) -> Option<()> {
    let b = line.as_bytes();
    let sp = memchr(b' ', b)?;
    if sp == 0 {
        return None;
    }
    let rest = &line[sp + 1..];
    let stream = rest.get(..7)?;
    if stream != "stdout " && stream != "stderr " {
        return None;
    }
    let rest = &rest[7..];
    let sp2 = memchr(b' ', rest.as_bytes())?;
    let msg = &rest[sp2 + 1..];
    if msg.contains('\n') {
        return None;
    }
    field(out, "time", &line[..sp]);
    field(out, "stream", &stream[..6]);
    field(out, "logtag", &rest[..sp2]);
    field(out, "message", msg);
    Some(())
}

fn digits_at(b: &[u8], at: usize, n: usize) -> bool {
    b.get(at..at + n)
        .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
}

/// `^(?<level>[IWEF])(?<time>[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+) +(?<pid>[0-9]+)
/// (?<caller>[^ \]]+)\] (?<message>.*)$`
fn klog<'a>(line: &'a str, out: &mut Fields<'a>) -> Option<()> {
    let b = line.as_bytes();
    if b.len() < 24 || !matches!(b[0], b'I' | b'W' | b'E' | b'F') {
        return None;
    }
    // I0501 10:00:00.123456
    if !(digits_at(b, 1, 4)
        && b[5] == b' '
        && digits_at(b, 6, 2)
        && b[8] == b':'
        && digits_at(b, 9, 2)
        && b[11] == b':'
        && digits_at(b, 12, 2)
        && b[14] == b'.')
    {
        return None;
    }
    let mut p = 15;
    while b.get(p).is_some_and(u8::is_ascii_digit) {
        p += 1;
    }
    if p == 15 {
        return None;
    }
    let time_end = p;
    let sp_start = p;
    while b.get(p) == Some(&b' ') {
        p += 1;
    }
    if p == sp_start {
        return None;
    }
    let pid_start = p;
    while b.get(p).is_some_and(u8::is_ascii_digit) {
        p += 1;
    }
    if p == pid_start || b.get(p) != Some(&b' ') {
        return None;
    }
    let pid_end = p;
    p += 1;
    let caller_start = p;
    while b.get(p).is_some_and(|c| *c != b' ' && *c != b']') {
        p += 1;
    }
    if p == caller_start || b.get(p..p + 2) != Some(b"] ") {
        return None;
    }
    let msg = &line[p + 2..];
    if msg.contains('\n') {
        return None;
    }
    field(out, "level", &line[..1]);
    field(out, "time", &line[1..time_end]);
    field(out, "pid", &line[pid_start..pid_end]);
    field(out, "caller", &line[caller_start..p]);
    field(out, "message", msg);
    Some(())
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'/' | b'.' | b'-')
}

/// `syslog`: `^(?<time>[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}) (?<hostname>[^ ]*)
/// (?<ident>[a-zA-Z0-9_/.\-]*)(?:\[(?<pid>[0-9]+)\])?(?:[^:]*:)? *(?<message>.*)$`;
/// `syslog-iso` differs in the time (RFC 3339 with a fraction and a zone).
fn syslog<'a>(line: &'a str, out: &mut Fields<'a>, iso: bool) -> Option<()> {
    let b = line.as_bytes();
    let time_end = if iso {
        iso_time_len(b)?
    } else {
        bsd_time_len(b)?
    };
    if b.get(time_end) != Some(&b' ') {
        return None;
    }
    let mut p = time_end + 1;
    let host_start = p;
    while b.get(p).is_some_and(|c| *c != b' ') {
        p += 1;
    }
    let host_end = p;
    if b.get(p) != Some(&b' ') {
        return None;
    }
    p += 1;
    let ident_start = p;
    while b.get(p).copied().is_some_and(is_ident) {
        p += 1;
    }
    let ident_end = p;
    let mut pid = None;
    if b.get(p) == Some(&b'[') {
        let mut q = p + 1;
        while b.get(q).is_some_and(u8::is_ascii_digit) {
            q += 1;
        }
        if q > p + 1 && b.get(q) == Some(&b']') {
            pid = Some(&line[p + 1..q]);
            p = q + 1;
        }
    }
    // `(?:[^:]*:)?` takes everything up to the first colon, when there is one.
    if let Some(c) = memchr(b':', &b[p..]) {
        p += c + 1;
    }
    while b.get(p) == Some(&b' ') {
        p += 1;
    }
    let msg = &line[p..];
    if msg.contains('\n') {
        return None;
    }
    field(out, "time", &line[..time_end]);
    field(out, "hostname", &line[host_start..host_end]);
    field(out, "ident", &line[ident_start..ident_end]);
    if let Some(pid) = pid {
        field(out, "pid", pid);
    }
    field(out, "message", msg);
    Some(())
}

/// `[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}`
fn bsd_time_len(b: &[u8]) -> Option<usize> {
    let ok = b.len() >= 15
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_lowercase()
        && b[2].is_ascii_lowercase()
        && b[3] == b' '
        && (b[4] == b' ' || b[4].is_ascii_digit())
        && b[5].is_ascii_digit()
        && b[6] == b' '
        && digits_at(b, 7, 2)
        && b[9] == b':'
        && digits_at(b, 10, 2)
        && b[12] == b':'
        && digits_at(b, 13, 2);
    ok.then_some(15)
}

/// `[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+(?:Z|[+-][0-9]{2}:?[0-9]{2})`
fn iso_time_len(b: &[u8]) -> Option<usize> {
    let ok = b.len() >= 22
        && digits_at(b, 0, 4)
        && b[4] == b'-'
        && digits_at(b, 5, 2)
        && b[7] == b'-'
        && digits_at(b, 8, 2)
        && b[10] == b'T'
        && digits_at(b, 11, 2)
        && b[13] == b':'
        && digits_at(b, 14, 2)
        && b[16] == b':'
        && digits_at(b, 17, 2)
        && b[19] == b'.';
    if !ok {
        return None;
    }
    let mut p = 20;
    while b.get(p).is_some_and(u8::is_ascii_digit) {
        p += 1;
    }
    if p == 20 {
        return None;
    }
    match b.get(p)? {
        b'Z' => Some(p + 1),
        b'+' | b'-' => {
            if !digits_at(b, p + 1, 2) {
                return None;
            }
            let q = p + 3 + (b.get(p + 3) == Some(&b':')) as usize;
            digits_at(b, q, 2).then_some(q + 2)
        }
        _ => None,
    }
}

/// A JSON object per line; top-level keys become fields in their order, nested values stay
/// JSON. Keys and strings without escapes borrow from the line.
fn json<'a>(line: &'a str, out: &mut Fields<'a>) -> Option<()> {
    use serde::de::DeserializeSeed as _;
    let t = line.trim_start();
    if !t.starts_with('{') {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(t);
    JsonFields { out }.deserialize(&mut de).ok()?;
    de.end().ok()
}

struct JsonFields<'a, 'o> {
    out: &'o mut Fields<'a>,
}

impl<'de> serde::de::DeserializeSeed<'de> for JsonFields<'de, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonFields<'de, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(StrCow(k)) = m.next_key()? {
            let JsonVal(v) = m.next_value()?;
            self.out.push((k, v));
        }
        Ok(())
    }
}

struct StrCow<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for StrCow<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StrCow<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(StrCow(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StrCow(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(StrCow(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

struct JsonVal<'a>(Val<'a>);

impl<'de> serde::Deserialize<'de> for JsonVal<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::Deserialize as _;
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = JsonVal<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JsonVal(Val::Str(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonVal(Val::Str(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(JsonVal(Val::Str(Cow::Owned(v))))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(JsonVal(Val::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(JsonVal(Val::Int(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(JsonVal(match i64::try_from(v) {
                    Ok(i) => Val::Int(i),
                    Err(_) => Val::Float(v as f64),
                }))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(JsonVal(Val::Float(v)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(JsonVal(Val::Json(serde_json::Value::Null)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                m: A,
            ) -> Result<Self::Value, A::Error> {
                serde_json::Value::deserialize(MapAccessDeserializer::new(m))
                    .map(|v| JsonVal(Val::Json(v)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                s: A,
            ) -> Result<Self::Value, A::Error> {
                serde_json::Value::deserialize(SeqAccessDeserializer::new(s))
                    .map(|v| JsonVal(Val::Json(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `key=value key="quoted \" value" flag`: at least one `key=value` pair.
fn logfmt<'a>(line: &'a str, out: &mut Fields<'a>) -> Option<()> {
    let b = line.as_bytes();
    let mut p = 0;
    let mut pairs = 0;
    loop {
        while b.get(p).is_some_and(|c| c.is_ascii_whitespace()) {
            p += 1;
        }
        if p >= b.len() {
            break;
        }
        let ks = p;
        while b
            .get(p)
            .is_some_and(|c| *c != b'=' && !c.is_ascii_whitespace() && *c != b'"')
        {
            p += 1;
        }
        if p == ks {
            return None;
        }
        let key = &line[ks..p];
        if b.get(p) != Some(&b'=') {
            if b.get(p) == Some(&b'"') {
                return None;
            }
            out.push((Cow::Borrowed(key), Val::Bool(true)));
            continue;
        }
        p += 1;
        pairs += 1;
        if b.get(p) == Some(&b'"') {
            p += 1;
            let vs = p;
            let mut escaped = false;
            loop {
                match b.get(p)? {
                    b'\\' => {
                        escaped = true;
                        p += 2;
                    }
                    b'"' => break,
                    _ => p += 1,
                }
            }
            let raw = line.get(vs..p)?;
            p += 1;
            let v = if escaped {
                Cow::Owned(unescape(raw))
            } else {
                Cow::Borrowed(raw)
            };
            out.push((Cow::Borrowed(key), Val::Str(v)));
        } else {
            let vs = p;
            while b.get(p).is_some_and(|c| !c.is_ascii_whitespace()) {
                p += 1;
            }
            out.push((Cow::Borrowed(key), Val::Str(Cow::Borrowed(&line[vs..p]))));
        }
    }
    (pairs > 0).then_some(())
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

/// Glob with `*` (any run, including `/`) and `?` (one character).
pub fn glob_match(pat: &str, s: &str) -> bool {
    let (p, s) = (pat.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
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
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

fn unit_match(pat: &str, unit: &str) -> bool {
    let bare = unit.strip_suffix(".service").unwrap_or(unit);
    glob_match(pat, unit) || glob_match(pat, bare)
}

/// Where a line came from, for choosing its parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A journal unit (`kubelet.service`).
    Unit(String),
    /// A pod log file: CRI lines whose message is the container's output.
    Pod {
        path: String,
        namespace: String,
        pod: String,
        container: String,
    },
    /// Any other file.
    File(String),
}

impl Origin {
    /// Recognises `/var/log/pods/NS_POD_UID/CONTAINER/N.log` and
    /// `/var/log/containers/POD_NS_CONTAINER-ID.log` as pod logs.
    pub fn of_file(path: &str) -> Origin {
        if let Some(rest) = path.strip_prefix("/var/log/pods/") {
            let mut parts = rest.split('/');
            if let (Some(dir), Some(container), Some(_file), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            {
                let mut it = dir.splitn(3, '_');
                if let (Some(ns), Some(pod), Some(_uid)) = (it.next(), it.next(), it.next()) {
                    return Origin::Pod {
                        path: path.into(),
                        namespace: ns.into(),
                        pod: pod.into(),
                        container: container.into(),
                    };
                }
            }
        }
        if let Some(name) = path
            .strip_prefix("/var/log/containers/")
            .and_then(|n| n.strip_suffix(".log"))
        {
            let mut it = name.splitn(3, '_');
            if let (Some(pod), Some(ns), Some(rest)) = (it.next(), it.next(), it.next())
                && let Some((container, _id)) = rest.rsplit_once('-')
            {
                return Origin::Pod {
                    path: path.into(),
                    namespace: ns.into(),
                    pod: pod.into(),
                    container: container.into(),
                };
            }
        }
        Origin::File(path.into())
    }

    /// The `source` of records: unit name, `namespace/pod/container`, or the path.
    pub fn source(&self) -> String {
        match self {
            Origin::Unit(u) => u.strip_suffix(".service").unwrap_or(u).to_string(),
            Origin::Pod {
                namespace,
                pod,
                container,
                ..
            } => format!("{namespace}/{pod}/{container}"),
            Origin::File(p) => p.clone(),
        }
    }
}

/// How the lines of one origin are read: an envelope parser for the whole line (CRI for pod
/// logs; none for journal entries, which come as JSON), then content parsers tried in order on
/// the text (the message). With no content parser matching, the text stays in `message`
/// (enveloped) or `raw` (plain files).
#[derive(Debug, Clone, Copy)]
pub struct Plan<'s> {
    pub envelope: Option<&'s Parser>,
    pub content: [Option<&'s Parser>; 4],
    /// Try JSON first when the text starts with `{` (auto-detection for unknown sources).
    pub sniff_json: bool,
}

/// The operator's parsers plus the built-ins, and the rules that pick them per origin.
#[derive(Debug)]
pub struct ParserSet {
    custom: Vec<Parser>,
    builtin: Vec<Parser>,
}

impl ParserSet {
    pub fn new(defs: &[LogParser]) -> Result<ParserSet, CompileError> {
        Ok(ParserSet {
            custom: defs.iter().map(Parser::compile).collect::<Result<_, _>>()?,
            builtin: LogParser::builtins().iter().map(Parser::builtin).collect(),
        })
    }

    pub fn builtin(&self, name: &str) -> &Parser {
        self.builtin
            .iter()
            .find(|p| p.name() == name)
            .expect("known built-in")
    }

    pub fn custom(&self) -> &[Parser] {
        &self.custom
    }

    fn custom_for(&self, f: impl Fn(&LogParser) -> bool) -> Option<&Parser> {
        self.custom.iter().find(|p| f(&p.def))
    }

    /// Inventory parsers win, first match in inventory order; built-ins otherwise.
    pub fn plan(&self, origin: &Origin) -> Plan<'_> {
        let none = Plan {
            envelope: None,
            content: [None; 4],
            sniff_json: false,
        };
        match origin {
            Origin::Unit(unit) => {
                let bare = unit.strip_suffix(".service").unwrap_or(unit);
                if let Some(p) = self.custom_for(|d| d.units.iter().any(|g| unit_match(g, unit))) {
                    return Plan {
                        content: [Some(p), None, None, None],
                        ..none
                    };
                }
                let content = if bare == "kubelet" || bare.starts_with("kube-") {
                    [Some(self.builtin("klog")), None, None, None]
                } else if bare == "containerd" {
                    [Some(self.builtin("containerd")), None, None, None]
                } else {
                    [None; 4]
                };
                Plan { content, ..none }
            }
            Origin::Pod {
                path,
                namespace,
                container,
                ..
            } => {
                let custom = self
                    .custom_for(|d| d.files.iter().any(|g| glob_match(g, path)))
                    .or_else(|| {
                        self.custom_for(|d| {
                            (!d.namespaces.is_empty() || !d.containers.is_empty())
                                && (d.namespaces.is_empty()
                                    || d.namespaces.iter().any(|g| glob_match(g, namespace)))
                                && (d.containers.is_empty()
                                    || d.containers.iter().any(|g| glob_match(g, container)))
                        })
                    });
                Plan {
                    envelope: Some(self.builtin("cri")),
                    content: match custom {
                        Some(p) => [Some(p), None, None, None],
                        // Control-plane pods log klog; many apps log JSON.
                        None => [Some(self.builtin("klog")), None, None, None],
                    },
                    sniff_json: custom.is_none(),
                }
            }
            Origin::File(path) => {
                if let Some(p) = self.custom_for(|d| d.files.iter().any(|g| glob_match(g, path))) {
                    return Plan {
                        content: [Some(p), None, None, None],
                        ..none
                    };
                }
                if path.ends_with("/audit.log") || path.contains("/audit/") {
                    return Plan {
                        content: [Some(self.builtin("audit")), None, None, None],
                        ..none
                    };
                }
                Plan {
                    content: [
                        Some(self.builtin("syslog-iso")),
                        Some(self.builtin("syslog")),
                        Some(self.builtin("klog")),
                        None,
                    ],
                    sniff_json: true,
                    ..none
                }
            }
        }
    }

    /// Tries the plan's content parsers on `text`: the parser that matched and its result.
    pub fn parse_content<'a>(
        &'a self,
        plan: &Plan<'a>,
        text: &'a str,
        default_year: i64,
        out: &mut Fields<'a>,
    ) -> Option<(&'a Parser, Matched)> {
        if plan.sniff_json && text.as_bytes().first() == Some(&b'{') {
            let j = self.builtin("json");
            if let Some(m) = j.parse(text, default_year, out) {
                return Some((j, m));
            }
        }
        for p in plan.content.iter().flatten() {
            if let Some(m) = p.parse(text, default_year, out) {
                return Some((p, m));
            }
        }
        None
    }
}

/// Year for zone-less, year-less times: the envelope's, else the current one.
pub fn default_year(envelope_ts: Option<i64>) -> i64 {
    year_of(envelope_ts.unwrap_or_else(crate::timestamp::now_nanos))
}
