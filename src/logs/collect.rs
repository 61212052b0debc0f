//! Collection: the one shell script run per host (journal + files, framed by marker lines),
//! and reading its output back into journal entries and file chunks.
//!
//! Markers are lines starting with the ASCII record separator (0x1E), which log text does not
//! contain in practice:
//!
//! ```text
//! \x1eotp-now EPOCH_SECONDS
//! \x1eotp-journal
//! {"__REALTIME_TIMESTAMP": ...}        journalctl -o json, one entry per line
//! \x1eotp-end STATUS
//! \x1eotp-file SIZE OFFSET PATH        OFFSET -1: last N lines of the first SIZE bytes
//! ...bytes...
//! (one newline added by the script)
//! \x1eotp-end STATUS
//! ```

use std::collections::BTreeMap;
use std::ops::Range;

use super::parser::Origin;
use super::record::JournalEntry;
use crate::shell::q;
use crate::timestamp::NANOS_PER_SEC;

/// What to collect from every host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Last N lines per file and N journal entries per host.
    pub lines: Option<usize>,
    pub units: Vec<String>,
    /// Absolute paths or globs (`*`, `?`).
    pub files: Vec<String>,
}

/// Where the previous `--follow` round stopped on one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    pub journal: Option<String>,
    /// The host's clock at the previous round, for when the journal had no entry yet.
    pub host_now: Option<i64>,
    /// Byte offset read up to, per file path.
    pub files: BTreeMap<String, u64>,
}

/// Quotes a glob so only `*` and `?` stay special to the shell.
pub fn glob_word(pattern: &str) -> String {
    let mut out = String::new();
    let mut lit = String::new();
    for c in pattern.chars() {
        if c == '*' || c == '?' {
            if !lit.is_empty() {
                out.push_str(&q(&std::mem::take(&mut lit)));
            }
            out.push(c);
        } else {
            lit.push(c);
        }
    }
    if !lit.is_empty() {
        out.push_str(&q(&lit));
    }
    out
}

/// The script for one round. `cursor` is `None` for a one-shot query or the first round of
/// `--follow`; afterwards it continues where the previous round stopped (journal cursor, file
/// offsets) and ignores `--since/--until/--lines`.
pub fn script(query: &Query, cursor: Option<&Cursor>) -> String {
    let mut s = String::from("export LC_ALL=C\nprintf '\\036otp-now %s\\n' \"$(date +%s)\"\n");
    if !query.units.is_empty() {
        let mut args = vec!["journalctl --no-pager --quiet --output=json".to_string()];
        match cursor {
            Some(c) => match (&c.journal, c.host_now) {
                (Some(cur), _) => args.push(format!("--after-cursor={}", q(cur))),
                (None, Some(now)) => args.push(format!("--since=@{}", now / NANOS_PER_SEC)),
                (None, None) => {}
            },
            None => {
                if let Some(t) = query.since {
                    args.push(format!("--since=@{}", t.div_euclid(NANOS_PER_SEC)));
                }
                if let Some(t) = query.until {
                    // journalctl's --until is inclusive at second resolution; round up.
                    args.push(format!(
                        "--until=@{}",
                        (t + NANOS_PER_SEC - 1).div_euclid(NANOS_PER_SEC)
                    ));
                }
                if let Some(n) = query.lines {
                    args.push(format!("--lines={n}"));
                }
            }
        }
        for u in &query.units {
            args.push(format!("--unit={}", q(u)));
        }
        s.push_str(&format!(
            "if command -v journalctl >/dev/null 2>&1; then\n  \
             printf '\\036otp-journal\\n'\n  {}\n  printf '\\036otp-end %s\\n' \"$?\"\n\
             else\n  printf '\\036otp-skip journalctl is not installed\\n'\nfi\n",
            args.join(" ")
        ));
    }
    if !query.files.is_empty() {
        let words: Vec<String> = query.files.iter().map(|f| glob_word(f)).collect();
        s.push_str(&format!("for f in {}; do\n", words.join(" ")));
        s.push_str("  [ -f \"$f\" ] || continue\n");
        s.push_str("  sz=$(wc -c < \"$f\" 2>/dev/null) || continue\n  sz=$((sz + 0))\n");
        match cursor {
            None => s.push_str("  off=-1\n"),
            Some(c) => {
                // Files first seen in a later round are read from their start.
                s.push_str("  case \"$f\" in\n");
                for (path, off) in &c.files {
                    s.push_str(&format!("    {}) off={off} ;;\n", q(path)));
                }
                s.push_str("    *) off=0 ;;\n  esac\n");
                // Shorter than where we stopped: truncated or rotated; read it again.
                s.push_str("  [ \"$sz\" -lt \"$off\" ] && off=0\n");
            }
        }
        s.push_str("  printf '\\036otp-file %s %s %s\\n' \"$sz\" \"$off\" \"$f\"\n");
        s.push_str("  if [ \"$off\" -lt 0 ]; then\n");
        match (cursor, query.lines) {
            (None, Some(n)) => {
                s.push_str(&format!("    head -c \"$sz\" -- \"$f\" | tail -n {n}\n"))
            }
            _ => s.push_str("    head -c \"$sz\" -- \"$f\"\n"),
        }
        s.push_str("  else\n    tail -c +$((off + 1)) -- \"$f\" | head -c $((sz - off))\n  fi\n");
        s.push_str("  st=$?\n  printf '\\n\\036otp-end %s\\n' \"$st\"\ndone\n");
    }
    s.push_str("exit 0\n");
    s
}

/// One file's bytes in a host's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChunk {
    pub path: String,
    pub origin: Origin,
    pub source: String,
    /// File size when read.
    pub size: u64,
    /// Offset the bytes start at; `None` for "last N lines".
    pub offset: Option<u64>,
    /// Content in the host output text (the script's added newline removed).
    pub range: Range<usize>,
    /// Pod logs with partial lines (CRI logtag `P`, lines over 16 KiB): the content with each
    /// run of parts joined to its final line, as Fluent Bit's `cri` multiline parser does.
    pub joined: Option<String>,
}

/// Joins CRI partial lines per stream: `T1 stdout P a` + `T2 stdout F b` becomes
/// `T1 stdout F ab` at the final part's place (with the first part's time, when the line
/// started). `None` when there is nothing to join. A run with no final part yet (still being
/// written) stays as its partial lines.
pub fn join_cri_partials(text: &str) -> Option<String> {
    let is_partial = |l: &str| {
        let mut it = l.splitn(4, ' ');
        let (_, _, tag) = (it.next(), it.next(), it.next());
        tag.is_some_and(|t| t.split(':').next() == Some("P"))
    };
    if !text.lines().any(is_partial) {
        return None;
    }
    struct Run {
        stream: String,
        head: String,
        joined: String,
        raw: String,
    }
    let mut out = String::with_capacity(text.len());
    let mut runs: Vec<Run> = Vec::new();
    for line in text.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        let mut it = bare.splitn(4, ' ');
        let (Some(ts), Some(stream), Some(tag)) = (it.next(), it.next(), it.next()) else {
            out.push_str(line);
            continue;
        };
        let msg = it.next().unwrap_or("");
        let at = runs.iter().position(|r| r.stream == stream);
        if tag.split(':').next() == Some("P") {
            let r = match at {
                Some(i) => &mut runs[i],
                None => {
                    runs.push(Run {
                        stream: stream.to_string(),
                        head: format!("{ts} {stream}"),
                        joined: String::new(),
                        raw: String::new(),
                    });
                    runs.last_mut().expect("just pushed")
                }
            };
            r.joined.push_str(msg);
            r.raw.push_str(line);
        } else if let Some(i) = at {
            let r = runs.remove(i);
            out.push_str(&r.head);
            out.push(' ');
            out.push_str(tag);
            out.push(' ');
            out.push_str(&r.joined);
            out.push_str(msg);
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(line);
        }
    }
    for r in runs {
        out.push_str(&r.raw);
    }
    Some(out)
}

/// A host's output, read back.
#[derive(Debug, Default)]
pub struct HostOutput {
    pub text: String,
    pub host_now: Option<i64>,
    pub journal: Vec<JournalEntry>,
    /// Journal exit status when it ran; a reason when it could not.
    pub journal_status: Option<Result<i32, String>>,
    pub files: Vec<FileChunk>,
}

impl HostOutput {
    pub fn parse(stdout: &[u8]) -> HostOutput {
        let text = String::from_utf8_lossy(stdout).into_owned();
        let mut out = HostOutput::default();
        enum Sec {
            None,
            Journal,
            File(String, u64, i64, usize),
        }
        let mut sec = Sec::None;
        let mut pos = 0;
        while pos < text.len() {
            let end = text[pos..]
                .find('\n')
                .map(|i| pos + i)
                .unwrap_or(text.len());
            let line = &text[pos..end];
            let next = (end + 1).min(text.len());
            if let Some(m) = line.strip_prefix("\u{1e}otp-") {
                let (word, rest) = m.split_once(' ').unwrap_or((m, ""));
                match word {
                    "now" => {
                        out.host_now = rest.trim().parse::<i64>().ok().map(|s| s * NANOS_PER_SEC)
                    }
                    "journal" => sec = Sec::Journal,
                    "skip" => out.journal_status = Some(Err(rest.to_string())),
                    "file" => {
                        let mut it = rest.splitn(3, ' ');
                        if let (Some(sz), Some(off), Some(path)) = (it.next(), it.next(), it.next())
                        {
                            sec = Sec::File(
                                path.to_string(),
                                sz.parse().unwrap_or(0),
                                off.parse().unwrap_or(-1),
                                next,
                            );
                        }
                    }
                    "end" => {
                        let status = rest.trim().parse().unwrap_or(-1);
                        match std::mem::replace(&mut sec, Sec::None) {
                            Sec::Journal => out.journal_status = Some(Ok(status)),
                            Sec::File(path, size, off, start) => {
                                // `pos` is just after the script's own newline.
                                let end = pos.saturating_sub(1).max(start);
                                let origin = Origin::of_file(&path);
                                let joined = matches!(origin, Origin::Pod { .. })
                                    .then(|| join_cri_partials(&text[start..end]))
                                    .flatten();
                                out.files.push(FileChunk {
                                    source: origin.source(),
                                    origin,
                                    path,
                                    size,
                                    offset: u64::try_from(off).ok(),
                                    joined,
                                    range: start..end,
                                });
                            }
                            Sec::None => {}
                        }
                    }
                    _ => {}
                }
            } else if let Sec::Journal = sec
                && let Some(e) = JournalEntry::from_json(line)
            {
                out.journal.push(e);
            }
            pos = next;
            if end == text.len() {
                break;
            }
        }
        out.text = text;
        out
    }

    /// The content of a chunk; with `complete_only`, only up to its last newline (a line
    /// still being written is left for the next `--follow` round).
    pub fn content<'s>(&'s self, chunk: &'s FileChunk, complete_only: bool) -> &'s str {
        let raw = &self.text[chunk.range.clone()];
        let c = match &chunk.joined {
            // Joining keeps the last line last: a partial raw line is a partial joined line.
            Some(j) if complete_only && !raw.ends_with('\n') => {
                match j.trim_end_matches('\n').rfind('\n') {
                    Some(i) => return &j[..=i],
                    None => return "",
                }
            }
            Some(j) => j.as_str(),
            None => raw,
        };
        if complete_only {
            match c.rfind('\n') {
                Some(i) => &c[..=i],
                None => "",
            }
        } else {
            c
        }
    }

    /// The cursor after this output: journal cursor, and per file the offset after the last
    /// complete line.
    pub fn advance(&self, prev: &Cursor) -> Cursor {
        let mut next = prev.clone();
        if let Some(c) = self.journal.iter().rev().find_map(|e| e.cursor.clone()) {
            next.journal = Some(c);
        }
        next.host_now = self.host_now.or(prev.host_now);
        for f in &self.files {
            let all = &self.text[f.range.clone()];
            let complete = match all.rfind('\n') {
                Some(i) => i as u64 + 1,
                None => 0,
            };
            let partial = all.len() as u64 - complete;
            // Offsets are bytes of the file; lossy UTF-8 decoding could change lengths, so
            // non-UTF-8 files may re-read a little (never skip).
            let end = match f.offset {
                Some(off) => off + complete,
                None => f.size.saturating_sub(partial),
            };
            next.files.insert(f.path.clone(), end);
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_stay_globs_and_the_rest_is_quoted() {
        assert_eq!(
            glob_word("/var/log/pods/*/*/*.log"),
            "/var/log/pods/*/*/*.log"
        );
        assert_eq!(glob_word("/tmp/a b/*.log"), "'/tmp/a b/'*.log");
        assert_eq!(glob_word("/x/$(reboot)?"), "'/x/$(reboot)'?");
        assert_eq!(glob_word("/x/';reboot;'"), "'/x/'\\'';reboot;'\\'''");
    }

    #[test]
    fn one_shot_script() {
        let qy = Query {
            since: Some(1_714_557_600 * NANOS_PER_SEC),
            until: Some(1_714_561_200 * NANOS_PER_SEC + 1),
            lines: Some(50),
            units: vec!["kubelet".into(), "my unit".into()],
            files: vec![
                "/var/log/kubernetes/audit/audit.log".into(),
                "/var/log/pods/*/*/*.log".into(),
            ],
        };
        insta::assert_snapshot!(script(&qy, None));
    }

    #[test]
    fn follow_script() {
        let qy = Query {
            since: Some(0),
            until: None,
            lines: Some(50),
            units: vec!["kubelet".into()],
            files: vec!["/var/log/app/*.log".into()],
        };
        let mut files = BTreeMap::new();
        files.insert("/var/log/app/a.log".to_string(), 120);
        files.insert("/var/log/app/it's.log".to_string(), 7);
        let c = Cursor {
            journal: Some("s=abc;i=1".into()),
            host_now: None,
            files,
        };
        insta::assert_snapshot!(script(&qy, Some(&c)));
    }

    #[test]
    fn output_is_split_into_sections() {
        let out = concat!(
            "\u{1e}otp-now 1714557600\n",
            "\u{1e}otp-journal\n",
            r#"{"__REALTIME_TIMESTAMP":"1714557600000001","__CURSOR":"c1","_SYSTEMD_UNIT":"kubelet.service","MESSAGE":"hello","PRIORITY":"6","_PID":"9"}"#,
            "\n-- cursor: c1\n",
            "\u{1e}otp-end 0\n",
            "\u{1e}otp-file 30 -1 /var/log/a b.log\n",
            "line one\nline two\n",
            "\n\u{1e}otp-end 0\n",
            "\u{1e}otp-file 25 10 /var/log/pods/ns_pod_uid/c/0.log\n",
            "complete\npart",
            "\n\u{1e}otp-end 0\n",
        );
        let h = HostOutput::parse(out.as_bytes());
        assert_eq!(h.host_now, Some(1_714_557_600 * NANOS_PER_SEC));
        assert_eq!(h.journal_status, Some(Ok(0)));
        assert_eq!(h.journal.len(), 1);
        assert_eq!(h.journal[0].unit, "kubelet.service");
        assert_eq!(h.journal[0].priority, Some(6));
        assert_eq!(h.files.len(), 2);
        assert_eq!(h.files[0].path, "/var/log/a b.log");
        assert_eq!(h.content(&h.files[0], false), "line one\nline two\n");
        assert_eq!(h.files[1].source, "ns/pod/c");
        assert_eq!(h.content(&h.files[1], false), "complete\npart");
        assert_eq!(h.content(&h.files[1], true), "complete\n");
        let c = h.advance(&Cursor::default());
        assert_eq!(c.journal.as_deref(), Some("c1"));
        assert_eq!(c.files["/var/log/a b.log"], 30);
        // 10 + "complete\n"; the partial line is read again next round.
        assert_eq!(c.files["/var/log/pods/ns_pod_uid/c/0.log"], 19);
    }

    #[test]
    fn cri_partial_lines_are_joined() {
        let text = concat!(
            "T1 stdout P {\"a\":\n",
            "T2 stderr F other\n",
            "T3 stdout P 1,\"b\"\n",
            "T4 stdout F :2}\n",
            "T5 stdout P unfinished\n",
        );
        assert_eq!(
            join_cri_partials(text).unwrap(),
            "T2 stderr F other\nT1 stdout F {\"a\":1,\"b\":2}\nT5 stdout P unfinished\n"
        );
        assert_eq!(join_cri_partials("T1 stdout F whole\n"), None);
    }

    #[test]
    fn truncated_output_keeps_what_arrived() {
        let out = "\u{1e}otp-file 5 -1 /x.log\nabc";
        let h = HostOutput::parse(out.as_bytes());
        // No end marker: the section is incomplete and not used.
        assert!(h.files.is_empty());
    }
}
