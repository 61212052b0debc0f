//! Run journal: one JSON line per event (connection, remote command, step result) under
//! `<state_dir>/runs/`. It records what ran where, exit codes and durations — never command
//! input, output or secrets — so operators and the benchmarks can audit a run afterwards.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[error("cannot write run journal {path}: {source}")]
pub struct JournalError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// One journal line.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event<'a> {
    RunStarted {
        command: &'a str,
        inventory: &'a str,
        version: &'a str,
    },
    Connect {
        host: &'a str,
        ok: bool,
        ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
    },
    /// One remote round trip (a command on an open connection).
    Exec {
        host: &'a str,
        /// Why it ran: `facts` or a plan step id.
        step: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<u32>,
        ms: u64,
        /// Whether the command can change the host (probes and facts cannot).
        changes: bool,
        /// Part of `ms` spent waiting for the host lock (then the command ran from
        /// `ts_ms - ms + lock_wait_ms` to `ts_ms`).
        #[serde(skip_serializing_if = "Option::is_none")]
        lock_wait_ms: Option<u64>,
    },
    /// A command found the host lock held by another otp-provision command and waits for it.
    LockWait { host: &'a str, step: &'a str },
    StepFinished {
        host: &'a str,
        step: &'a str,
        ok: bool,
        ms: u64,
    },
    RunFinished {
        ok: bool,
        changes_applied: usize,
        ms: u64,
    },
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

impl Journal {
    /// Create `<state_dir>/runs/<timestamp>-<command>.jsonl`.
    pub fn create(state_dir: &Path, command: &str) -> Result<Journal, JournalError> {
        let dir = state_dir.join("runs");
        let err = |source| JournalError {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(err)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let stamp = time::OffsetDateTime::from_unix_timestamp(now.as_secs() as i64)
            .ok()
            .and_then(|t| {
                t.format(time::macros::format_description!(
                    "[year][month][day]T[hour][minute][second]Z"
                ))
                .ok()
            })
            .unwrap_or_else(|| now.as_secs().to_string());
        let path = dir.join(format!(
            "{stamp}-{:06}-{command}.jsonl",
            now.subsec_micros()
        ));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|source| JournalError {
                path: path.clone(),
                source,
            })?;
        Ok(Journal {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one event; a write failure is reported once through tracing and otherwise ignored,
    /// because losing the journal must not abort a half-applied run.
    pub fn record(&self, event: &Event<'_>) {
        let mut line = match serde_json::to_vec(event) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("journal: cannot serialise event: {e}");
                return;
            }
        };
        line.push(b'\n');
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis();
        // Prefix the timestamp as its own field by splicing it into the object.
        let mut out = format!("{{\"ts_ms\":{ts},").into_bytes();
        out.extend_from_slice(&line[1..]);
        let mut f = self.file.lock().expect("journal lock");
        // Flushed per line (unbuffered File) so a killed run still leaves a complete journal.
        if let Err(e) = f.write_all(&out) {
            tracing::warn!("journal {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_json_object_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::create(dir.path(), "up").unwrap();
        j.record(&Event::Exec {
            host: "cp1",
            step: "facts",
            code: Some(0),
            ms: 12,
            changes: false,
            lock_wait_ms: None,
        });
        j.record(&Event::RunFinished {
            ok: true,
            changes_applied: 0,
            ms: 40,
        });
        let text = std::fs::read_to_string(j.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "exec");
        assert_eq!(lines[0]["host"], "cp1");
        assert_eq!(lines[0]["code"], 0);
        assert!(lines[0]["ts_ms"].as_u64().unwrap() > 0);
        assert_eq!(lines[1]["event"], "run-finished");
    }
}
