//! Everything the user sees goes through [`Reporter`]: it owns quiet/verbose, progress bars on a
//! terminal, plain lines when not a TTY (CI), and JSON output. Commands never print directly.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `--output`. Defined here rather than in `cli` because the reporter is below every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

pub struct Reporter {
    pub format: OutputFormat,
    pub quiet: bool,
    pub verbose: u8,
    /// Progress bars only on an interactive terminal and never with JSON output.
    pub fancy: bool,
    pub color: bool,
    multi: MultiProgress,
    bars: Mutex<Vec<(String, ProgressBar)>>,
}

impl Reporter {
    pub fn new(format: OutputFormat, quiet: bool, verbose: u8) -> Self {
        let tty = std::io::stderr().is_terminal();
        let fancy =
            tty && format == OutputFormat::Text && !quiet && std::env::var_os("CI").is_none();
        let color = tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let multi = MultiProgress::with_draw_target(if fancy {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Reporter {
            format,
            quiet,
            verbose,
            fancy,
            color,
            multi,
            bars: Mutex::new(Vec::new()),
        }
    }

    pub fn json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// The main result of a command, on stdout (text mode).
    pub fn out(&self, line: impl AsRef<str>) {
        if self.json() {
            return;
        }
        self.suspend(|| {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{}", line.as_ref());
        });
    }

    /// The JSON document of a command, on stdout (json mode only).
    pub fn json_doc(&self, value: &serde_json::Value) {
        if !self.json() {
            return;
        }
        let mut o = std::io::stdout().lock();
        let _ = serde_json::to_writer_pretty(&mut o, value);
        let _ = writeln!(o);
    }

    /// Progress information on stderr; hidden with --quiet.
    pub fn info(&self, line: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        self.eprint(line.as_ref());
    }

    pub fn warn(&self, line: impl AsRef<str>) {
        let prefix = self.paint("warning:", "33");
        self.eprint(&format!("{prefix} {}", line.as_ref()));
    }

    pub fn error(&self, line: impl AsRef<str>) {
        let prefix = self.paint("error:", "31");
        self.eprint(&format!("{prefix} {}", line.as_ref()));
    }

    pub fn paint(&self, text: &str, ansi: &str) -> String {
        if self.color {
            format!("\x1b[{ansi}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn eprint(&self, line: &str) {
        self.suspend(|| {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "{line}");
        });
    }

    fn suspend<F: FnOnce()>(&self, f: F) {
        if self.fancy {
            self.multi.suspend(f)
        } else {
            f()
        }
    }

    /// Start (or restart) a per-host progress bar of `len` steps. In plain mode this prints a line.
    pub fn host_start(&self, host: &str, len: u64, what: &str) {
        if !self.fancy {
            if !self.json() && !self.quiet {
                self.eprint(&format!("{host}: {what} ({len} steps)"));
            }
            return;
        }
        let pb = self.multi.add(ProgressBar::new(len));
        pb.set_style(
            ProgressStyle::with_template("{prefix:>12.bold} [{bar:24}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb.set_prefix(host.to_string());
        pb.set_message(what.to_string());
        pb.enable_steady_tick(Duration::from_millis(200));
        self.bars
            .lock()
            .expect("progress bars lock")
            .push((host.to_string(), pb));
    }

    fn with_bar(&self, host: &str, f: impl FnOnce(&ProgressBar)) {
        let bars = self.bars.lock().expect("progress bars lock");
        if let Some((_, pb)) = bars.iter().rev().find(|(h, _)| h == host) {
            f(pb)
        }
    }

    pub fn host_step(&self, host: &str, title: &str) {
        if self.fancy {
            self.with_bar(host, |pb| pb.set_message(title.to_string()));
        } else if self.verbose > 0 && !self.json() {
            self.eprint(&format!("{host}: {title}"));
        }
    }

    pub fn host_step_done(&self, host: &str, title: &str, ok: bool, secs: f64) {
        if self.fancy {
            self.with_bar(host, |pb| pb.inc(1));
            if !ok {
                self.eprint(&format!("{host}: {title} FAILED"));
            }
        } else if !self.json() && !self.quiet {
            let status = if ok { "ok" } else { "FAILED" };
            self.eprint(&format!("{host}: {title} ... {status} ({secs:.1}s)"));
        }
    }

    pub fn host_done(&self, host: &str, ok: bool, msg: &str) {
        if self.fancy {
            self.with_bar(host, |pb| {
                pb.finish_with_message(msg.to_string());
            });
        } else if !self.json() && !self.quiet {
            let status = if ok { "done" } else { "failed" };
            self.eprint(&format!("{host}: {status}: {msg}"));
        }
    }

    /// Ask a yes/no question on the terminal; false when stdin is not a terminal.
    pub fn confirm(&self, question: &str) -> bool {
        if !std::io::stdin().is_terminal() {
            return false;
        }
        let mut answer = String::new();
        self.suspend(|| {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "{question} [y/N] ");
            let _ = e.flush();
        });
        if std::io::stdin().read_line(&mut answer).is_err() {
            return false;
        }
        matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
    }
}
