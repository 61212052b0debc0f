//! Records (a parsed line with its time, host and source), the per-source pipelines that make
//! them (journal entries, pod logs, plain files) and the time-ordered merge of many streams.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use serde::Deserialize;

use super::parser::{Fields, Origin, ParserSet, Plan, Val, default_year};

/// One log line or journal entry, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    /// Nanoseconds since the epoch, UTC; `None` only for lines before the first timed line of
    /// a file.
    pub ts: Option<i64>,
    pub host: &'a str,
    /// Unit (`kubelet`), `namespace/pod/container`, or file path.
    pub source: &'a str,
    /// Parser that read the content; `journal`/`cri` when only the envelope was read; `raw`
    /// when nothing was.
    pub parser: &'a str,
    pub fields: Fields<'a>,
}

impl Record<'_> {
    pub fn get(&self, key: &str) -> Option<&Val<'_>> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// A journal entry as journalctl -o json prints it, decoded (owned: JSON strings with escapes
/// cannot be borrowed, and most kubelet messages contain quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub ts: i64,
    pub unit: String,
    /// The unit without `.service`, the record's source.
    pub source: String,
    pub pid: Option<String>,
    pub priority: Option<u8>,
    pub message: String,
    pub cursor: Option<String>,
}

#[derive(Deserialize)]
struct JsonEntry<'a> {
    #[serde(rename = "__REALTIME_TIMESTAMP", borrow)]
    realtime: Option<Cow<'a, str>>,
    #[serde(rename = "__CURSOR", borrow)]
    cursor: Option<Cow<'a, str>>,
    #[serde(rename = "_SYSTEMD_UNIT", borrow)]
    unit: Option<Cow<'a, str>>,
    #[serde(rename = "SYSLOG_IDENTIFIER", borrow)]
    ident: Option<Cow<'a, str>>,
    #[serde(rename = "_PID", borrow)]
    pid: Option<Cow<'a, str>>,
    #[serde(rename = "PRIORITY", borrow)]
    priority: Option<Cow<'a, str>>,
    /// A string, or an array of bytes when the message is not UTF-8, or null.
    #[serde(rename = "MESSAGE", default)]
    message: serde_json::Value,
}

impl JournalEntry {
    /// One line of `journalctl -o json`; `None` for anything else (`-- cursor:` lines).
    pub fn from_json(line: &str) -> Option<JournalEntry> {
        if !line.starts_with('{') {
            return None;
        }
        let e: JsonEntry<'_> = serde_json::from_str(line).ok()?;
        let micros: i64 = e.realtime?.parse().ok()?;
        let message = match e.message {
            serde_json::Value::String(s) => s,
            serde_json::Value::Array(a) => {
                let bytes: Vec<u8> = a
                    .iter()
                    .filter_map(|v| v.as_u64())
                    .map(|b| b as u8)
                    .collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            _ => String::new(),
        };
        let unit = e
            .unit
            .or(e.ident)
            .map(Cow::into_owned)
            .unwrap_or_else(|| "journal".into());
        Some(JournalEntry {
            ts: micros * 1000,
            source: Origin::Unit(unit.clone()).source(),
            unit,
            pid: e.pid.map(Cow::into_owned),
            priority: e.priority.and_then(|p| p.parse().ok()),
            message,
            cursor: e.cursor.map(Cow::into_owned),
        })
    }
}

/// Record time from an envelope time and a content time: a content time with a zone wins
/// (Fluent Bit's parser filter does the same); a zone-less one is ambiguous, so the
/// envelope's stays.
fn pick_ts(envelope: Option<i64>, content: Option<(i64, bool)>) -> Option<i64> {
    match (envelope, content) {
        (_, Some((t, true))) => Some(t),
        (Some(e), _) => Some(e),
        (None, Some((t, false))) => Some(t),
        (None, None) => None,
    }
}

/// Records of journal entries, each message parsed by its unit's parser.
pub fn journal_records<'a>(
    set: &'a ParserSet,
    host: &'a str,
    entries: &'a [JournalEntry],
    sink: &mut dyn FnMut(&Record<'a>),
) {
    let mut plans: HashMap<&'a str, Plan<'a>> = HashMap::new();
    for e in entries {
        let plan = plans
            .entry(e.unit.as_str())
            .or_insert_with(|| set.plan(&Origin::Unit(e.unit.clone())));
        let mut rec = Record {
            ts: Some(e.ts),
            host,
            source: &e.source,
            parser: "journal",
            fields: Vec::with_capacity(8),
        };
        if let Some(pid) = &e.pid {
            rec.fields
                .push((Cow::Borrowed("pid"), Val::Str(Cow::Borrowed(pid))));
        }
        if let Some(p) = e.priority {
            rec.fields
                .push((Cow::Borrowed("priority"), Val::Int(p as i64)));
        }
        let before = rec.fields.len();
        match set.parse_content(plan, &e.message, default_year(Some(e.ts)), &mut rec.fields) {
            Some((p, m)) => {
                // The content's own `pid` (klog) is the same process; keep one.
                dedup_key(&mut rec.fields, before, "pid");
                rec.parser = p.name();
                rec.ts = pick_ts(rec.ts, m.ts.map(|t| (t, m.zoned)));
            }
            None => rec.fields.push((
                Cow::Borrowed("message"),
                Val::Str(Cow::Borrowed(&e.message)),
            )),
        }
        sink(&rec);
    }
}

fn dedup_key(fields: &mut Fields<'_>, content_start: usize, key: &str) {
    if fields[content_start..].iter().any(|(k, _)| k == key)
        && let Some(i) = fields[..content_start].iter().position(|(k, _)| k == key)
    {
        fields.remove(i);
    }
}

/// Records of the lines of one file (`text` holds complete lines). `prev_ts` carries the
/// last time across calls, so lines without a time of their own (stack traces) sort with
/// the line before them.
pub fn file_records<'a>(
    set: &'a ParserSet,
    host: &'a str,
    origin: &'a Origin,
    source: &'a str,
    text: &'a str,
    prev_ts: &mut Option<i64>,
    sink: &mut dyn FnMut(&Record<'a>),
) {
    let plan = set.plan(origin);
    let this_year = default_year(None);
    let mut fields: Fields<'a> = Vec::with_capacity(16);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        fields.clear();
        let mut rec = Record {
            ts: None,
            host,
            source,
            parser: "raw",
            fields: std::mem::take(&mut fields),
        };
        if let Some(env) = plan.envelope {
            match env.parse(line, this_year, &mut rec.fields) {
                Some(m) => {
                    rec.parser = env.name();
                    rec.ts = m.ts.or(*prev_ts);
                    if let Origin::Pod {
                        namespace,
                        pod,
                        container,
                        ..
                    } = origin
                    {
                        // Before the envelope's message, which comes last.
                        let msg = rec.fields.pop();
                        rec.fields.extend([
                            (
                                Cow::Borrowed("namespace"),
                                Val::Str(Cow::Borrowed(namespace.as_str())),
                            ),
                            (Cow::Borrowed("pod"), Val::Str(Cow::Borrowed(pod.as_str()))),
                            (
                                Cow::Borrowed("container"),
                                Val::Str(Cow::Borrowed(container.as_str())),
                            ),
                        ]);
                        rec.fields.extend(msg);
                    }
                    // The envelope's message is the content; parse it in place of the field.
                    let msg_at = rec.fields.iter().position(|(k, _)| k == "message");
                    if let Some(i) = msg_at
                        && let (_, Val::Str(Cow::Borrowed(text))) = &rec.fields[i]
                    {
                        let text: &'a str = text;
                        let year = default_year(rec.ts);
                        if let Some((p, m)) = set.parse_content(&plan, text, year, &mut rec.fields)
                        {
                            rec.fields.remove(i);
                            rec.parser = p.name();
                            rec.ts = pick_ts(rec.ts, m.ts.map(|t| (t, m.zoned)));
                        }
                    }
                }
                None => {
                    rec.fields
                        .push((Cow::Borrowed("raw"), Val::Str(Cow::Borrowed(line))));
                    rec.ts = *prev_ts;
                }
            }
        } else {
            match set.parse_content(&plan, line, this_year, &mut rec.fields) {
                Some((p, m)) => {
                    rec.parser = p.name();
                    rec.ts = m.ts.or(*prev_ts);
                }
                None => {
                    rec.fields
                        .push((Cow::Borrowed("raw"), Val::Str(Cow::Borrowed(line))));
                    rec.ts = *prev_ts;
                }
            }
        }
        if rec.ts.is_some() {
            *prev_ts = rec.ts;
        }
        sink(&rec);
        fields = rec.fields;
    }
}

/// Merges streams that are each in time order into one, in time order. Ties keep stream order
/// (hosts in inventory order), then line order. Records without a time sort first.
pub fn merge<'a>(mut streams: Vec<Vec<Record<'a>>>) -> Vec<Record<'a>> {
    let key = |r: &Record<'_>| r.ts.unwrap_or(i64::MIN);
    for s in &mut streams {
        // Streams are ordered by construction except where a file's own times step back
        // (clock changes, parsers disagreeing); a stable sort restores the invariant cheaply.
        if !s.is_sorted_by_key(key) {
            s.sort_by_key(key);
        }
    }
    let total = streams.iter().map(Vec::len).sum();
    let mut iters: Vec<std::vec::IntoIter<Record<'a>>> =
        streams.into_iter().map(Vec::into_iter).collect();
    let mut heads: Vec<Option<Record<'a>>> = iters.iter_mut().map(Iterator::next).collect();
    let mut heap: BinaryHeap<Reverse<(i64, usize)>> = heads
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.as_ref().map(|r| Reverse((key(r), i))))
        .collect();
    let mut out = Vec::with_capacity(total);
    while let Some(Reverse((_, i))) = heap.pop() {
        if let Some(r) = heads[i].take() {
            out.push(r);
        }
        heads[i] = iters[i].next();
        if let Some(r) = &heads[i] {
            heap.push(Reverse((key(r), i)));
        }
    }
    out
}
