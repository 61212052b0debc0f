//! `otp-provision logs`: journal entries and log files from every host, parsed with the
//! inventory's `[[log_parser]]` definitions (the ones Fluent Bit gets) or the built-ins, merged
//! in time order across hosts, written as text, NDJSON, CSV or logfmt.
//!
//! One remote command per host and round ([`collect::script`]); hosts are read concurrently.
//! `--follow` polls: each round continues from the journal cursor and the file offsets of the
//! previous one (the SSH layer runs commands to completion, it does not stream).

pub mod collect;
pub mod parser;
pub mod record;
#[cfg(test)]
mod tests;
pub mod write;

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;

use crate::inventory::{Host, Inventory};
use crate::report::Reporter;
use crate::ssh::{Command, Connection, Connector, Output, SshError, Target};

pub use collect::{Cursor, HostOutput, Query};
pub use parser::{Origin, Parser, ParserSet, Val};
pub use record::{JournalEntry, Record, file_records, journal_records, merge};
pub use write::{Format, Writer};

pub const DEFAULT_UNITS: [&str; 2] = ["kubelet", "containerd"];
pub const DEFAULT_FILES: [&str; 2] = [
    "/var/log/kubernetes/audit/audit.log",
    "/var/log/pods/*/*/*.log",
];
/// Lines per source and host when neither --lines nor --since is given.
pub const DEFAULT_LINES: usize = 200;

/// Arguments of `otp-provision logs` (hosts are chosen with the global `--limit`).
#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    /// Entries at or after this time: RFC 3339, `YYYY-MM-DD [HH:MM[:SS]]` (UTC), `@EPOCH`, or
    /// an age such as 15m, 2h, 1d.
    #[arg(long)]
    pub since: Option<String>,
    /// Entries at or before this time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// At most N journal entries per host and N lines per file (default 200 without --since,
    /// no limit with --since). Named -n/--lines because --limit selects hosts.
    #[arg(short = 'n', long = "lines", value_name = "N")]
    pub lines: Option<usize>,
    /// Journal unit (repeatable; globs allowed). Default: kubelet, containerd (when neither
    /// --unit nor --file is given).
    #[arg(short = 'u', long = "unit", value_name = "UNIT")]
    pub units: Vec<String>,
    /// Log file path or glob (repeatable). Default: the API server audit log and all pod logs
    /// (when neither --unit nor --file is given).
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<String>,
    /// Keep polling for new entries until interrupted.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Seconds between polls with --follow.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    pub interval: f64,
    /// Output format (default text; ndjson with the global --output json).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

impl LogsArgs {
    /// The query these arguments describe, times relative to `now`.
    pub fn query(&self, now: i64) -> Result<Query, String> {
        let since = self
            .since
            .as_deref()
            .map(|s| crate::timestamp::parse_when(s, now))
            .transpose()
            .map_err(|e| format!("--since: {e}"))?;
        let until = self
            .until
            .as_deref()
            .map(|s| crate::timestamp::parse_when(s, now))
            .transpose()
            .map_err(|e| format!("--until: {e}"))?;
        if let (Some(s), Some(u)) = (since, until)
            && s > u
        {
            return Err("--since is after --until".into());
        }
        for f in &self.files {
            if !f.starts_with('/') {
                return Err(format!("--file {f:?}: give an absolute path on the hosts"));
            }
        }
        let (units, files) = if self.units.is_empty() && self.files.is_empty() {
            (
                DEFAULT_UNITS.iter().map(|s| s.to_string()).collect(),
                DEFAULT_FILES.iter().map(|s| s.to_string()).collect(),
            )
        } else {
            (self.units.clone(), self.files.clone())
        };
        let lines = match (self.lines, since) {
            (Some(n), _) => Some(n),
            (None, None) => Some(DEFAULT_LINES),
            (None, Some(_)) => None,
        };
        Ok(Query {
            since,
            until,
            lines,
            units,
            files,
        })
    }
}

/// How `logs` reaches hosts: the SSH connector in the binary, a local shell in tests.
pub trait Transport {
    type Conn;
    fn connect(
        &self,
        inv: &Inventory,
        host: &Host,
    ) -> impl Future<Output = Result<Self::Conn, SshError>>;
    fn exec(
        &self,
        conn: &Self::Conn,
        script: String,
    ) -> impl Future<Output = Result<Output, SshError>>;
    fn close(&self, conn: &Self::Conn) -> impl Future<Output = ()>;
}

impl Transport for Connector {
    type Conn = Connection;
    fn connect(
        &self,
        inv: &Inventory,
        host: &Host,
    ) -> impl Future<Output = Result<Connection, SshError>> {
        let target = Target::for_host(inv, host);
        async move { Connector::connect(self, &target).await }
    }
    fn exec(
        &self,
        conn: &Connection,
        script: String,
    ) -> impl Future<Output = Result<Output, SshError>> {
        conn.exec(Command {
            script,
            // The journal of system units and /var/log/pods are root's.
            privileged: true,
            ..Default::default()
        })
    }
    fn close(&self, conn: &Connection) -> impl Future<Output = ()> {
        conn.close()
    }
}

/// Per-host state across rounds.
struct HostState<C> {
    name: String,
    conn: Option<C>,
    cursor: Option<Cursor>,
    failed: bool,
}

/// Records of all hosts' outputs of one round, merged in time order, within the window.
pub fn merged_records<'a>(
    set: &'a ParserSet,
    outputs: &'a [(String, HostOutput)],
    query: &Query,
    complete_lines_only: bool,
) -> Vec<Record<'a>> {
    let mut streams: Vec<Vec<Record<'a>>> = Vec::new();
    let in_window = |r: &Record<'_>| match r.ts {
        None => true,
        Some(t) => query.since.is_none_or(|s| t >= s) && query.until.is_none_or(|u| t <= u),
    };
    for (host, out) in outputs {
        let mut s = Vec::with_capacity(out.journal.len());
        journal_records(set, host, &out.journal, &mut |r| {
            if in_window(r) {
                s.push(r.clone())
            }
        });
        streams.push(s);
        for f in &out.files {
            let mut s = Vec::new();
            let mut prev = None;
            file_records(
                set,
                host,
                &f.origin,
                &f.source,
                out.content(f, complete_lines_only),
                &mut prev,
                &mut |r| {
                    if in_window(r) {
                        s.push(r.clone())
                    }
                },
            );
            streams.push(s);
        }
    }
    merge(streams)
}

/// `otp-provision logs`. `limit` is the global `--limit` (host names; empty: all hosts).
/// Returns the exit code: 0, or 1 when a host could not be read (its name is on stderr; the
/// other hosts' logs are still written).
pub async fn run<T: Transport>(
    inv: &Inventory,
    limit: &[String],
    args: &LogsArgs,
    transport: &T,
    format: Format,
    out: &mut dyn Write,
    rep: &Reporter,
) -> anyhow::Result<u8> {
    let now = crate::timestamp::now_nanos();
    let query = args.query(now).map_err(|m| crate::exit::Exit {
        code: crate::exit::INVALID,
        message: m,
    })?;
    let set = ParserSet::new(&inv.log_parsers).context("compiling [[log_parser]] definitions")?;
    let hosts: Vec<&Host> = inv
        .hosts
        .iter()
        .filter(|h| limit.is_empty() || limit.contains(&h.name))
        .collect();
    let mut states: Vec<HostState<T::Conn>> = hosts
        .iter()
        .map(|h| HostState {
            name: h.name.clone(),
            conn: None,
            cursor: None,
            failed: false,
        })
        .collect();
    let parallel = inv.run.parallel_hosts.max(1);
    let mut writer = Writer::new(format, out);
    let mut records_written = 0usize;
    let mut first = true;
    // One Ctrl-C listener for the whole follow: a listener made afresh for each pause would
    // miss a SIGINT that arrives during a round, and the handler, once installed, swallows it.
    let mut interrupted: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
        if args.follow {
            Box::pin(async {
                // No handler (for example, no signal support): never interrupted, as before.
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            })
        } else {
            Box::pin(std::future::pending())
        };
    loop {
        // Connect (first round) and run this round's script on every live host at once.
        let round = futures::stream::iter(states.iter_mut().zip(&hosts))
            .filter(|(st, _)| std::future::ready(!st.failed))
            .map(|(st, host)| {
                let script = collect::script(&query, st.cursor.as_ref());
                async move {
                    if st.conn.is_none() {
                        match transport.connect(inv, host).await {
                            Ok(c) => st.conn = Some(c),
                            Err(e) => return (st, Err(e)),
                        }
                    }
                    let conn = st.conn.as_ref().expect("connected above");
                    let res = transport.exec(conn, script).await;
                    (st, res)
                }
            })
            .buffer_unordered(parallel)
            .collect::<Vec<_>>();
        let round = tokio::select! {
            r = round => r,
            _ = &mut interrupted => break,
        };
        let mut outputs: Vec<(usize, String, HostOutput)> = Vec::new();
        for (st, res) in round {
            let idx = hosts.iter().position(|h| h.name == st.name).unwrap_or(0);
            match res {
                Err(e) => {
                    rep.error(format!("logs: {e}"));
                    st.failed = true;
                    st.conn = None;
                }
                Ok(o) if !o.success() => {
                    rep.error(format!(
                        "logs: {}: the collection script exited {}: {}",
                        st.name,
                        o.code
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| o.signal.clone().unwrap_or_default()),
                        o.stderr_str().trim()
                    ));
                    st.failed = true;
                }
                Ok(o) => {
                    let parsed = HostOutput::parse(&o.stdout);
                    match &parsed.journal_status {
                        Some(Ok(0)) | None => {}
                        Some(Ok(code)) => rep.warn(format!(
                            "logs: {}: journalctl exited {code}: {}",
                            st.name,
                            o.stderr_str().lines().next().unwrap_or("").trim()
                        )),
                        Some(Err(why)) => rep.warn(format!("logs: {}: {why}", st.name)),
                    }
                    st.cursor =
                        Some(parsed.advance(st.cursor.as_ref().unwrap_or(&Cursor::default())));
                    outputs.push((idx, st.name.clone(), parsed));
                }
            }
        }
        // Inventory order, so ties in time resolve the same way every run.
        outputs.sort_by_key(|(i, _, _)| *i);
        let outputs: Vec<(String, HostOutput)> =
            outputs.into_iter().map(|(_, n, o)| (n, o)).collect();
        let window = if first {
            query.clone()
        } else {
            Query {
                since: None,
                until: None,
                ..query.clone()
            }
        };
        for r in merged_records(&set, &outputs, &window, args.follow) {
            writer
                .write(&r)
                .context("writing logs to standard output")?;
            records_written += 1;
        }
        writer.flush().context("writing logs to standard output")?;
        first = false;
        if !args.follow || states.iter().all(|s| s.failed) {
            break;
        }
        let pause = Duration::from_secs_f64(args.interval.max(0.2));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = &mut interrupted => break,
        }
    }
    futures::future::join_all(
        states
            .iter()
            .filter_map(|s| s.conn.as_ref())
            .map(|c| transport.close(c)),
    )
    .await;
    let failed: Vec<&str> = states
        .iter()
        .filter(|s| s.failed)
        .map(|s| s.name.as_str())
        .collect();
    rep.info(format!(
        "logs: {records_written} records from {} of {} hosts",
        states.len() - failed.len(),
        states.len()
    ));
    if failed.is_empty() {
        Ok(crate::exit::OK)
    } else {
        rep.error(format!("logs: no logs from {}", failed.join(", ")));
        Ok(crate::exit::FAILED)
    }
}

/// [`run`] over SSH on its own runtime, writing to stdout: what `commands.rs` calls.
/// `json_output` is the global `--output json` (it makes NDJSON the default format).
pub fn run_blocking(
    inv: &Inventory,
    limit: &[String],
    args: &LogsArgs,
    json_output: bool,
    rep: &Reporter,
) -> anyhow::Result<u8> {
    let format = args.format.unwrap_or(if json_output {
        Format::Ndjson
    } else {
        Format::Text
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let connector = Connector::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    rt.block_on(run(inv, limit, args, &connector, format, &mut out, rep))
}
