//! Thin wrapper over the `docker` CLI. The CLI (not the API socket) keeps the lab usable with
//! whatever engine and context the operator has configured.

use std::io::Write;
use std::process::{Command, Stdio};

use super::LabError;

/// Run `docker ARGS`, return stdout. `step` names what the lab was doing, for the error.
pub fn docker(step: &str, args: &[&str]) -> Result<String, LabError> {
    run_with_input(step, args, None)
}

/// Like [`docker`] with `input` fed to stdin.
pub fn docker_stdin(step: &str, args: &[&str], input: &[u8]) -> Result<String, LabError> {
    run_with_input(step, args, Some(input))
}

fn run_with_input(step: &str, args: &[&str], input: Option<&[u8]>) -> Result<String, LabError> {
    let mut cmd = Command::new("docker");
    cmd.args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| LabError::DockerMissing(e.to_string()))?;
    if let Some(data) = input {
        // Dropping stdin after the write closes it, so the command sees EOF.
        let mut stdin = child.stdin.take().expect("stdin piped");
        stdin.write_all(data).map_err(|e| LabError::Step {
            step: step.to_string(),
            detail: format!("writing to docker {}: {e}", args.first().unwrap_or(&"")),
        })?;
    }
    let out = child.wait_with_output().map_err(|e| LabError::Step {
        step: step.to_string(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(LabError::Step {
            step: step.to_string(),
            detail: format!(
                "`docker {}` failed ({}): {}",
                args.iter().take(3).copied().collect::<Vec<_>>().join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The engine answers (not just the CLI being installed).
pub fn check_available() -> Result<(), LabError> {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::DockerMissing(format!("cannot run docker: {e}")))?;
    if !out.status.success() {
        return Err(LabError::DockerMissing(format!(
            "the Docker engine does not answer: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Whether an image with this tag exists locally.
pub fn image_exists(tag: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", tag])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
