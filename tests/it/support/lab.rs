//! Container-lab helpers shared by the lab tests: skip-or-fail when Docker is missing, a guard
//! that tears the lab down even when an assertion fails, and plain OpenSSH into the nodes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use otp_provision::lab::{self, LabOpts};

fn docker_usable() -> Result<(), String> {
    match Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Options for lab `name` in `dir`; None when the lab cannot run here and that is acceptable
/// (not CI: with CI set a missing Docker fails the test instead; outside CI the skip is recorded
/// for scripts/test's summary, see [`super::skip`]).
pub fn opts(name: &str, dir: &Path) -> Option<LabOpts> {
    if let Err(why) = docker_usable() {
        super::skip(&format!("container lab: Docker is not usable ({why})"));
        return None;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Some(LabOpts {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        // Shared with `otp-provision lab up` so the image and packages are built once.
        cache: root.join("lab/cache"),
        standins: root.join("lab/standins"),
    })
}

/// Removes the test lab even when an assertion fails half-way.
pub struct Guard(pub LabOpts);
impl Drop for Guard {
    fn drop(&mut self) {
        if std::env::var_os("OTP_TEST_KEEP_LAB").is_none() {
            let _ = lab::down(&self.0);
        }
    }
}

/// Plain OpenSSH as the lab user, strict host keys against the lab's known_hosts only.
pub fn ssh(dir: &Path, address: &str, command: &str) -> Output {
    Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=5",
            "-o",
        ])
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.join("known_hosts").display()
        ))
        .arg("-o")
        .arg("GlobalKnownHostsFile=/dev/null")
        .arg("-i")
        .arg(dir.join("state/id_ed25519"))
        .arg(format!("otp@{address}"))
        .arg(command)
        .output()
        .expect("run ssh")
}

/// stdout of a command that must succeed; the whole output in the panic message otherwise.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
