//! The lab's package repository: real Debian packages (with their dependency closure relative
//! to the node image) and the Kubernetes stand-in packages, laid out like the Debian archive and
//! pkgs.k8s.io so the inventory's ordinary mirror setting is all that points nodes at it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::image::{self, run_logged, write_script};
use super::{LabError, io_err};

/// Packages the repository serves: the lab's list plus what the stand-ins declare they need.
pub fn wanted_packages(standins: &Path) -> Result<Vec<String>, LabError> {
    let mut pkgs = image::package_list(image::REPO_PACKAGES);
    let depends = standins.join("DEPENDS");
    if depends.exists() {
        let text = std::fs::read_to_string(&depends).map_err(|e| io_err(&depends, e))?;
        pkgs.extend(image::package_list(&text));
    }
    pkgs.sort();
    pkgs.dedup();
    Ok(pkgs)
}

/// The Debian part of the repository for these packages, built once and cached under
/// `cache/debian-<hash>` (the hash covers the node recipe, the package list and the scripts).
pub fn ensure_debian_archive(cache: &Path, packages: &[String]) -> Result<PathBuf, LabError> {
    let joined = packages.join("\n");
    let key = image::short_hash(&[
        &image::recipe_hash(),
        &joined,
        image::DOWNLOAD_CLOSURE,
        image::MAKE_ARCHIVE,
    ]);
    let archive = cache.join(format!("debian-{key}"));
    if archive.join("Release").exists() {
        return Ok(archive);
    }
    image::ensure_tool("dpkg-scanpackages", "dpkg-dev")?;
    let rootfs = image::ensure_rootfs(cache)?;
    let started = Instant::now();
    eprintln!(
        "lab: downloading {} packages and their dependencies into {}",
        packages.len(),
        archive.display()
    );
    let partial = cache.join(format!("debian-{key}.partial"));
    let scratch = cache.join(format!("scratch-{key}"));
    image::remove_tree(&partial)?;
    image::remove_tree(&scratch)?;
    // apt writes its lists into the chroot; a scratch copy keeps the cached root file system
    // identical to the image.
    run_logged(
        "copying the node root file system for the package closure",
        Command::new("cp").arg("-a").arg(&rootfs).arg(&scratch),
        None,
    )?;
    let dir = cache.join("recipe");
    let closure = write_script(&dir, "download-closure.sh", image::DOWNLOAD_CLOSURE)?;
    let make = write_script(&dir, "make-archive.sh", image::MAKE_ARCHIVE)?;
    let res = run_logged(
        "downloading the package closure (lab/image/download-closure.sh)",
        Command::new("sh")
            .arg(&closure)
            .arg(&scratch)
            .arg(partial.join("pool"))
            .args(packages),
        Some(&cache.join(format!("debian-{key}.log"))),
    );
    let cleanup = image::remove_tree(&scratch);
    res?;
    cleanup?;
    run_logged(
        "indexing the Debian repository (lab/image/make-archive.sh)",
        Command::new("sh").arg(&make).arg(&partial).arg("bookworm"),
        None,
    )?;
    std::fs::rename(&partial, &archive).map_err(|e| io_err(&archive, e))?;
    eprintln!(
        "lab: Debian repository ready in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(archive)
}

/// What went into the Kubernetes part of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubernetesRepo {
    Built {
        packages: usize,
    },
    /// lab/standins/build-debs.sh does not exist (yet): the repository is served empty.
    NoStandins,
}

/// Build the stand-in packages into `root/<minor>/deb/` (pkgs.k8s.io layout, flat).
pub fn build_kubernetes(
    standins: &Path,
    root: &Path,
    minor: &str,
    version: &str,
    cache: &Path,
) -> Result<KubernetesRepo, LabError> {
    let deb = root.join(minor).join("deb");
    image::remove_tree(root)?;
    let pool = deb.join("pool");
    std::fs::create_dir_all(&pool).map_err(|e| io_err(&pool, e))?;
    let script = standins.join("build-debs.sh");
    let make = write_script(
        &cache.join("recipe"),
        "make-archive.sh",
        image::MAKE_ARCHIVE,
    )?;
    let status = if script.exists() {
        image::ensure_tool("dpkg-deb", "dpkg")?;
        run_logged(
            &format!(
                "building the Kubernetes stand-in packages ({})",
                script.display()
            ),
            Command::new("sh").arg(&script).arg(&pool).arg(version),
            None,
        )?;
        let n = std::fs::read_dir(&pool)
            .map_err(|e| io_err(&pool, e))?
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "deb"))
            .count();
        if n == 0 {
            return Err(LabError::Step {
                step: format!(
                    "building the Kubernetes stand-in packages ({})",
                    script.display()
                ),
                detail: format!("it produced no .deb in {}", pool.display()),
            });
        }
        KubernetesRepo::Built { packages: n }
    } else {
        KubernetesRepo::NoStandins
    };
    image::ensure_tool("dpkg-scanpackages", "dpkg-dev")?;
    run_logged(
        "indexing the Kubernetes repository (lab/image/make-archive.sh)",
        Command::new("sh").arg(&make).arg(&deb).arg("-"),
        None,
    )?;
    Ok(status)
}
