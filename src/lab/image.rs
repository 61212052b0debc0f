//! The node image: a debootstrap root file system imported into Docker, named by a hash of its
//! recipe so a changed recipe builds a new image and an unchanged one is reused.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{LabError, docker, io_err};

/// The recipe is compiled into the binary so `lab up` works from any directory.
pub const BUILD_ROOTFS: &str = include_str!("../../lab/image/build-rootfs.sh");
pub const PACKAGES: &str = include_str!("../../lab/image/packages.txt");
pub const DOWNLOAD_CLOSURE: &str = include_str!("../../lab/image/download-closure.sh");
pub const MAKE_ARCHIVE: &str = include_str!("../../lab/image/make-archive.sh");
pub const REPO_PACKAGES: &str = include_str!("../../lab/image/repo-packages.txt");

pub const IMAGE_REPO: &str = "otp-lab-node";

/// Short content hash: names images and cache directories.
pub fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())[..12].to_string()
}

pub fn recipe_hash() -> String {
    short_hash(&[BUILD_ROOTFS, PACKAGES])
}

pub fn image_tag() -> String {
    format!("{IMAGE_REPO}:{}", recipe_hash())
}

/// Non-comment, non-empty lines of a package list.
pub fn package_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Install `package` with apt-get when `program` is not on PATH (fresh machines).
pub fn ensure_tool(program: &str, package: &str) -> Result<(), LabError> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if found {
        return Ok(());
    }
    eprintln!("lab: {program} not found, installing Debian package {package}");
    run_logged(
        &format!("installing {package}"),
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        None,
    )
}

/// Run a command, keeping its output in `log` (or discarding it) and naming `step` on failure
/// with the output's tail, which is where apt and debootstrap say what went wrong.
pub fn run_logged(step: &str, cmd: &mut Command, log: Option<&Path>) -> Result<(), LabError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::Step {
            step: step.to_string(),
            detail: format!("cannot start {:?}: {e}", cmd.get_program()),
        })?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if let Some(log) = log {
        std::fs::write(log, &text).map_err(|e| io_err(log, e))?;
    }
    if !out.status.success() {
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(LabError::Step {
            step: step.to_string(),
            detail: format!(
                "{} ({}){}:\n{}",
                cmd.get_program().to_string_lossy(),
                out.status,
                log.map(|l| format!(", full log in {}", l.display()))
                    .unwrap_or_default(),
                tail.join("\n")
            ),
        });
    }
    Ok(())
}

/// Write an embedded script into `dir` and return its path.
pub fn write_script(dir: &Path, name: &str, text: &str) -> Result<PathBuf, LabError> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| io_err(&path, e))?;
    Ok(path)
}

/// The node root file system for this recipe, kept in the cache because the package closure
/// is computed against it. Built with debootstrap when missing.
pub fn ensure_rootfs(cache: &Path) -> Result<PathBuf, LabError> {
    let hash = recipe_hash();
    let rootfs = cache.join(format!("rootfs-{hash}"));
    if rootfs.join("etc/os-release").exists() {
        return Ok(rootfs);
    }
    let tag = image_tag();
    let partial = cache.join(format!("rootfs-{hash}.partial"));
    remove_tree(&partial)?;
    if docker::image_exists(&tag) {
        // The image survived but the cache did not (e.g. a fresh checkout): export it rather
        // than bootstrapping again.
        std::fs::create_dir_all(&partial).map_err(|e| io_err(&partial, e))?;
        let id = docker::docker("exporting the node image", &["create", &tag, "/bin/true"])?;
        let id = id.trim().to_string();
        let res = run_logged(
            "exporting the node image",
            Command::new("sh").args([
                "-c",
                &format!("docker export {id} | tar -C '{}' -x", partial.display()),
            ]),
            None,
        );
        let _ = docker::docker("exporting the node image", &["rm", "-f", &id]);
        res?;
    } else {
        ensure_tool("debootstrap", "debootstrap")?;
        let dir = cache.join("recipe");
        let script = write_script(&dir, "build-rootfs.sh", BUILD_ROOTFS)?;
        let packages = write_script(&dir, "packages.txt", PACKAGES)?;
        let started = Instant::now();
        eprintln!(
            "lab: building the node root file system with debootstrap (recipe {hash}, about a minute)"
        );
        run_logged(
            "building the node root file system (lab/image/build-rootfs.sh)",
            Command::new("sh").arg(&script).arg(&partial).arg(&packages),
            Some(&cache.join(format!("rootfs-{hash}.log"))),
        )?;
        eprintln!(
            "lab: root file system built in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    std::fs::rename(&partial, &rootfs).map_err(|e| io_err(&rootfs, e))?;
    Ok(rootfs)
}

/// The node image for this recipe; built (and the root file system with it) when missing.
pub fn ensure_image(cache: &Path) -> Result<String, LabError> {
    let tag = image_tag();
    if docker::image_exists(&tag) {
        return Ok(tag);
    }
    let rootfs = ensure_rootfs(cache)?;
    let started = Instant::now();
    run_logged(
        &format!("importing the node image {tag}"),
        Command::new("sh").args([
            "-c",
            &format!(
                "tar -C '{}' -c . | docker import --change 'CMD [\"/sbin/init\"]' \
                 --change 'LABEL otp-lab.image=1' - '{tag}'",
                rootfs.display()
            ),
        ]),
        None,
    )?;
    eprintln!(
        "lab: imported {tag} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(tag)
}

/// `rm -rf` that refuses to leave mount points behind (the closure chroot bind-mounts /dev).
pub fn remove_tree(path: &Path) -> Result<(), LabError> {
    if !path.exists() {
        return Ok(());
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let p = path.to_string_lossy();
    if mounts.lines().any(|l| {
        l.split_whitespace()
            .nth(1)
            .is_some_and(|m| m.starts_with(&*p))
    }) {
        return Err(LabError::Step {
            step: format!("removing {}", path.display()),
            detail: "something is still mounted below it; unmount it first".into(),
        });
    }
    std::fs::remove_dir_all(path).map_err(|e| io_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_lists_skip_comments() {
        let cases: &[(&str, &[&str])] = &[
            ("# c\nsudo\n\n  curl  \n", &["sudo", "curl"]),
            ("a # trailing\n#x\n", &["a"]),
            ("", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(package_list(text), *want, "{text:?}");
        }
    }

    #[test]
    fn hash_depends_on_every_part() {
        assert_ne!(short_hash(&["ab", "c"]), short_hash(&["a", "bc"]));
        assert_eq!(short_hash(&["x"]), short_hash(&["x"]));
        assert_eq!(recipe_hash().len(), 12);
    }
}
