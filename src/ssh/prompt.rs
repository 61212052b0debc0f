//! Asking the operator for secrets: an askpass program (OpenSSH SSH_ASKPASS convention) or the
//! terminal. One prompt at a time across every host, so two hosts never ask at once.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub(crate) enum PromptError {
    #[error("askpass program {program} could not run: {source}")]
    AskpassSpawn {
        program: String,
        source: std::io::Error,
    },
    #[error("askpass program {program} exited with {status} (prompt cancelled?)")]
    AskpassFailed { program: String, status: String },
    #[error("no terminal to ask for {what} (set `askpass` in the inventory): {source}")]
    NoTerminal {
        what: String,
        source: std::io::Error,
    },
}

/// Wraps every terminal prompt, e.g. `move |ask| multi_progress.suspend(ask)` so progress bars
/// do not draw over the question. Not used for askpass programs.
pub type TerminalGuard = std::sync::Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

/// Shared by every connection of a [`super::Connector`].
#[derive(Default)]
pub(crate) struct Prompter {
    lock: tokio::sync::Mutex<()>,
    guard: std::sync::Mutex<Option<TerminalGuard>>,
}

impl Prompter {
    /// Ask one question. `prompt` is shown verbatim; `echo` false hides typed input.
    pub(crate) async fn ask(
        &self,
        askpass: Option<&Path>,
        prompt: &str,
        echo: bool,
    ) -> Result<Secret, PromptError> {
        let _turn = self.lock.lock().await;
        tracing::debug!(prompt, via = ?askpass, "asking the operator");
        match askpass {
            Some(program) => run_askpass(program, prompt).await,
            None => {
                let prompt = prompt.to_string();
                let guard = self.guard.lock().unwrap_or_else(|p| p.into_inner()).clone();
                tokio::task::spawn_blocking(move || match guard {
                    None => ask_terminal(&prompt, echo),
                    Some(g) => {
                        let mut answer = None;
                        g(&mut || answer = Some(ask_terminal(&prompt, echo)));
                        answer.unwrap_or_else(|| {
                            Err(PromptError::NoTerminal {
                                what: prompt.trim().to_string(),
                                source: std::io::Error::other(
                                    "terminal guard did not run the prompt",
                                ),
                            })
                        })
                    }
                })
                .await
                .map_err(|e| PromptError::NoTerminal {
                    what: "input".into(),
                    source: std::io::Error::other(e),
                })?
            }
        }
    }

    pub(crate) fn set_guard(&self, guard: TerminalGuard) {
        *self.guard.lock().unwrap_or_else(|p| p.into_inner()) = Some(guard);
    }

    /// Show text (keyboard-interactive name/instructions) where the operator will see it.
    pub(crate) async fn inform(&self, askpass: Option<&Path>, text: &str) {
        if askpass.is_none() && !text.trim().is_empty() {
            let _turn = self.lock.lock().await;
            eprintln!("{}", text.trim_end());
        }
    }
}

async fn run_askpass(program: &Path, prompt: &str) -> Result<Secret, PromptError> {
    let name = program.display().to_string();
    let out = tokio::process::Command::new(program)
        .arg(prompt)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| PromptError::AskpassSpawn {
            program: name.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(PromptError::AskpassFailed {
            program: name,
            status: out.status.to_string(),
        });
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    // The convention: the answer is stdout without its trailing newline.
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    let secret = Secret::new(text.as_str());
    // Overwrite our copies before they are freed.
    // SAFETY: zero bytes keep the String valid UTF-8.
    unsafe { text.as_bytes_mut().iter_mut().for_each(|b| *b = 0) };
    Ok(secret)
}

fn ask_terminal(prompt: &str, echo: bool) -> Result<Secret, PromptError> {
    let no_tty = |source| PromptError::NoTerminal {
        what: prompt.trim().trim_end_matches(':').to_string(),
        source,
    };
    if !echo {
        return rpassword::prompt_password(prompt)
            .map(Secret::new)
            .map_err(no_tty);
    }
    let tty = PathBuf::from("/dev/tty");
    let mut w = std::fs::OpenOptions::new()
        .write(true)
        .open(&tty)
        .map_err(no_tty)?;
    w.write_all(prompt.as_bytes()).map_err(no_tty)?;
    w.flush().map_err(no_tty)?;
    let r = std::fs::File::open(&tty).map_err(no_tty)?;
    let mut line = String::new();
    std::io::BufReader::new(r)
        .read_line(&mut line)
        .map_err(no_tty)?;
    Ok(Secret::new(line.trim_end_matches(['\n', '\r'])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[tokio::test]
    async fn terminal_prompts_go_through_the_guard() {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = calls.clone();
        let pr = Prompter::default();
        // A guard that declines to run the prompt: no terminal is touched by this test.
        pr.set_guard(std::sync::Arc::new(move |_ask: &mut dyn FnMut()| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
        let e = pr.ask(None, "Password: ", false).await.unwrap_err();
        assert!(e.to_string().contains("guard did not run"), "{e}");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn askpass_gets_prompt_as_argv1_and_answer_loses_one_newline() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let p = script(
            dir.path(),
            "ap",
            &format!(
                "printf '%s' \"$1\" > {}; printf ' 123456 \\n\\n'",
                log.display()
            ),
        );
        let pr = Prompter::default();
        let a = pr
            .ask(Some(&p), "(u@h) Verification code: ", false)
            .await
            .unwrap();
        assert_eq!(a.expose(), " 123456 \n");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "(u@h) Verification code: "
        );
        let bad = script(dir.path(), "bad", "exit 1");
        let e = pr.ask(Some(&bad), "x", false).await.unwrap_err();
        assert!(e.to_string().contains("exited with"), "{e}");
    }
}
